import { describe, expect, it } from 'vitest';
import type { BuildEvent } from '../../../src/builder/events.js';
import { JsonRenderer } from '../../../cmd/progress/json.js';
import { PlainRenderer } from '../../../cmd/progress/plain.js';
import { QuietRenderer } from '../../../cmd/progress/quiet.js';
import { TtyRenderer } from '../../../cmd/progress/tty.js';
import { createRenderer, parseProgressMode, resolveProgressMode, wantsColor } from '../../../cmd/progress/index.js';
import type { CliIo } from '../../../cmd/io.js';

const T0 = 1_700_000_000_000;
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const LAYER = `sha256:${'cd'.repeat(32)}`;
const loc = (line: number) => ({ file: 'Dockerfile', line });

/** A build of three steps on a registry base: a download, a compression, a warning, a push. */
function script(): BuildEvent[] {
  return [
    { type: 'warning', code: 'UNUSED_ARG', message: 'build-arg FOO was not consumed', location: loc(2), time: T0 },
    { type: 'stage-start', stage: 0, label: undefined, base: 'registry.test/base:1', steps: 3, time: T0 },
    { type: 'step-start', step: 1, stage: 0, label: undefined, index: 1, total: 3, instruction: 'FROM registry.test/base:1', location: loc(1), time: T0 },
    { type: 'step-done', step: 1, durationMs: 10, time: T0 + 10 },
    { type: 'step-start', step: 2, stage: 0, label: undefined, index: 2, total: 3, instruction: 'COPY big /data', location: loc(3), time: T0 + 10 },
    { type: 'transfer', action: 'download', id: DIGEST, current: 1_000_000, total: 5_000_000, status: 'running', time: T0 + 100 },
    { type: 'transfer', action: 'download', id: DIGEST, current: 2_000_000, total: 5_000_000, status: 'running', time: T0 + 600 },
    { type: 'transfer', action: 'download', id: DIGEST, current: 4_000_000, total: 5_000_000, status: 'running', time: T0 + 1200 },
    { type: 'transfer', action: 'download', id: DIGEST, current: 5_000_000, total: 5_000_000, status: 'done', time: T0 + 1500 },
    { type: 'transfer', step: 2, action: 'compress', id: 'step-2', current: 3_000_000, total: 8_000_000, status: 'running', time: T0 + 1600 },
    { type: 'transfer', step: 2, action: 'compress', id: 'step-2', current: 8_000_000, total: 8_000_000, status: 'done', time: T0 + 2900 },
    { type: 'step-done', step: 2, durationMs: 2900, layer: { digest: LAYER, size: 2_500_000 }, time: T0 + 2910 },
    { type: 'step-start', step: 3, stage: 0, label: undefined, index: 3, total: 3, instruction: 'CMD ["/app"]', location: loc(4), time: T0 + 2910 },
    { type: 'step-done', step: 3, durationMs: 1, time: T0 + 2911 },
    { type: 'output-start', output: 1, description: 'pushing registry.test/app:1', time: T0 + 2920 },
    { type: 'transfer', action: 'upload', id: DIGEST, current: 5_000_000, total: 5_000_000, status: 'mounted', time: T0 + 2950 },
    { type: 'transfer', action: 'upload', id: LAYER, current: 1_000_000, total: 2_500_000, status: 'running', time: T0 + 3000 },
    { type: 'transfer', action: 'upload', id: LAYER, current: 2_500_000, total: 2_500_000, status: 'done', time: T0 + 3400 },
    { type: 'output-done', output: 1, durationMs: 500, time: T0 + 3420 },
  ];
}

function plainLines(events: BuildEvent[]): string[] {
  const lines: string[] = [];
  const r = new PlainRenderer((l) => lines.push(l));
  for (const e of events) r.event(e);
  r.end();
  return lines;
}

describe('plain progress', () => {
  it('prints buildx-style numbered lines with no control codes', () => {
    const lines = plainLines(script());
    const text = lines.join('\n');
    expect(text).not.toMatch(/\x1b/);
    expect(text).not.toMatch(/\r/);
    expect(lines).toEqual([
      'warning: Dockerfile:2: build-arg FOO was not consumed',
      '#1 [1/3] FROM registry.test/base:1 (Dockerfile:1)',
      '#1 DONE 0.0s',
      '',
      '#2 [2/3] COPY big /data (Dockerfile:3)',
      // a running transfer prints once it has taken a second, then at most once a second
      '#2 download sha256:abababababab 4.00MB / 5.00MB',
      '#2 download sha256:abababababab 5.00MB / 5.00MB done',
      '#2 compress layer 8.00MB / 8.00MB done',
      '#2 layer sha256:cdcdcdcdcdcd 2.50MB',
      '#2 DONE 2.9s',
      '',
      '#3 [3/3] CMD ["/app"] (Dockerfile:4)',
      '#3 DONE 0.0s',
      '',
      '#4 pushing registry.test/app:1',
      '#4 upload sha256:abababababab mounted',
      '#4 upload sha256:cdcdcdcdcdcd 2.50MB / 2.50MB done',
      '#4 DONE 0.5s',
    ]);
  });

  it('names the stage, marks a failed step, and hides credentials in its message', () => {
    const lines = plainLines([
      { type: 'step-start', step: 7, stage: 1, label: 'builder', index: 2, total: 4, instruction: 'ADD https://u:secret@example.com/x /x', location: loc(9), time: T0 },
      { type: 'step-error', step: 7, durationMs: 50, message: 'GET https://u:secret@example.com/x: 404\nmore', time: T0 + 50 },
    ]);
    expect(lines[0]).toBe('#1 [builder 2/4] ADD https://xxxxx:xxxxx@example.com/x /x (Dockerfile:9)');
    expect(lines[1]).toBe('#1 ERROR: GET https://xxxxx:xxxxx@example.com/x: 404');
  });
  it('a step started again (the build tried again after a cache layer proved lost) gets a number of its own', () => {
    const start = (time: number): BuildEvent => ({ type: 'step-start', step: 2, stage: 0, label: undefined, index: 2, total: 2, instruction: 'COPY a /a', location: loc(2), time });
    const lines = plainLines([
      start(T0),
      { type: 'step-cached', step: 2, time: T0 },
      { type: 'output-start', output: 1, description: 'exporting to oci-layout out', time: T0 + 1 },
      start(T0 + 2),
      { type: 'step-done', step: 2, durationMs: 100, time: T0 + 102 },
      { type: 'output-start', output: 1, description: 'exporting to oci-layout out', time: T0 + 103 },
      { type: 'output-done', output: 1, durationMs: 5, time: T0 + 108 },
    ]);
    expect(lines.filter((l) => l.startsWith('#'))).toEqual([
      '#1 [2/2] COPY a /a (Dockerfile:2)',
      '#1 CACHED',
      '#2 exporting to oci-layout out',
      '#3 [2/2] COPY a /a (Dockerfile:2)',
      '#3 DONE 0.1s',
      '#4 exporting to oci-layout out',
      '#4 DONE 0.0s',
    ]);
  });
});

describe('json progress', () => {
  it('prints each event as one parseable line, unchanged', () => {
    const lines: string[] = [];
    const r = new JsonRenderer((l) => lines.push(l));
    const events = script();
    for (const e of events) r.event(e);
    r.end();
    expect(lines).toHaveLength(events.length);
    expect(lines.every((l) => !l.includes('\n'))).toBe(true);
    expect(lines.map((l) => JSON.parse(l))).toEqual(events);
  });

  it('hides credentials in instructions and errors', () => {
    const lines: string[] = [];
    const r = new JsonRenderer((l) => lines.push(l));
    r.event({ type: 'step-start', step: 1, stage: 0, label: undefined, index: 1, total: 1, instruction: 'ADD https://u:pw@h.test/x /', location: loc(1), time: T0 });
    r.event({ type: 'step-error', step: 1, durationMs: 1, message: 'GET https://u:pw@h.test/x: 500', time: T0 });
    expect(lines.join('\n')).not.toContain('pw');
    expect(JSON.parse(lines[0] as string).instruction).toBe('ADD https://xxxxx:xxxxx@h.test/x /');
  });
});

describe('notes', () => {
  it('plain prints a note as a line of its own, json passes it on as an event', () => {
    const note: BuildEvent = { type: 'note', code: 'RUNNER', message: 'RUN steps use --isolation chroot: root, with a mount namespace', time: T0 };
    expect(plainLines([note])).toEqual(['note: RUN steps use --isolation chroot: root, with a mount namespace']);
    const lines: string[] = [];
    const r = new JsonRenderer((l) => lines.push(l));
    r.event(note);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ type: 'note', code: 'RUNNER' });
  });
});

describe('quiet progress', () => {
  it('prints nothing, not even warnings', () => {
    const printed: string[] = [];
    const io: CliIo = { stdout: (l) => printed.push(l), stderr: (l) => printed.push(l), env: {}, stderrScreen: { isTTY: true, columns: 80, rows: 24, write: (c) => printed.push(c) } };
    const r = createRenderer('quiet', io);
    expect(r).toBeInstanceOf(QuietRenderer);
    for (const e of script()) r.event(e);
    r.end();
    expect(printed).toEqual([]);
  });
});

/** Feeds events to a tty renderer on a clock that follows the events' times. */
function ttyRun(events: BuildEvent[], size: { columns: number; rows: number }, color = false): string {
  let out = '';
  let clock = T0;
  const r = new TtyRenderer({ ...size, write: (c) => (out += c) }, { color, now: () => clock, tick: false });
  for (const e of events) {
    clock = e.time;
    r.event(e);
  }
  clock += 100;
  r.end();
  return out;
}

/** What a terminal shows after `out`: only the moves the renderer uses (up N, erase to line end, erase below). */
function screen(out: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  for (let i = 0; i < out.length; ) {
    const m = /^\x1b\[(\d*)([A-Za-z])/.exec(out.slice(i));
    if (m) {
      if (m[2] === 'A') row = Math.max(0, row - Number(m[1] || 1));
      else if (m[2] === 'K') lines[row] = (lines[row] ?? '').slice(0, col);
      else if (m[2] === 'J') lines.splice(row + 1), (lines[row] = (lines[row] ?? '').slice(0, col));
      else if (m[2] !== 'm') throw new Error(`unexpected control sequence ${JSON.stringify(m[0])}`);
      i += m[0].length;
      continue;
    }
    const ch = out[i] as string;
    if (ch === '\n') {
      row++;
      col = 0;
      lines[row] ??= '';
    } else if (ch === '\r') {
      col = 0;
    } else {
      const line = (lines[row] ?? '').padEnd(col);
      lines[row] = line.slice(0, col) + ch + line.slice(col + 1);
      col++;
    }
    i++;
  }
  return lines.filter((l, i) => i < lines.length - 1 || l !== '');
}

describe('tty progress', () => {
  it('redraws with cursor movement and leaves the final state on screen', () => {
    const out = ttyRun(script(), { columns: 100, rows: 30 });
    expect(out).toMatch(/\r\x1b\[\d+A/); // moved up over the live area to draw it again
    expect(out).not.toMatch(/\x1b\[\d+A\x1b\[J/); // without blanking it first: no empty frame, no flicker
    expect(out).toContain('download sha256:abababababab [========>           ] 2.00MB / 5.00MB'); // a bar while it ran
    const final = screen(out);
    expect(final[0]).toBe('warning: Dockerfile:2: build-arg FOO was not consumed');
    expect(final.slice(1)).toEqual([
      expect.stringMatching(/^ => \[1\/3\] FROM registry.test\/base:1 +0\.0s$/),
      expect.stringMatching(/^ => \[2\/3\] COPY big \/data +2\.50MB {2}2\.9s$/),
      ' => => download sha256:abababababab 5.00MB / 5.00MB done',
      ' => => compress layer 8.00MB / 8.00MB done',
      expect.stringMatching(/^ => \[3\/3\] CMD \["\/app"\] +0\.0s$/),
      expect.stringMatching(/^ => pushing registry.test\/app:1 +0\.5s$/),
      ' => => upload sha256:abababababab mounted',
      ' => => upload sha256:cdcdcdcdcdcd 2.50MB / 2.50MB done',
      '[+] Building 3.5s (3/3) FINISHED',
    ]);
    for (const line of final) expect(line.length).toBeLessThan(100);
  });

  it('never draws more lines than the terminal has, nor wider ones', () => {
    const events: BuildEvent[] = [
      { type: 'step-start', step: 1, stage: 0, label: undefined, index: 1, total: 1, instruction: `COPY ${'x'.repeat(200)} /`, location: loc(1), time: T0 },
      ...Array.from({ length: 20 }, (_, i): BuildEvent => ({
        type: 'transfer', action: 'download', id: `sha256:${String(i).padStart(64, '0')}`, current: 1, total: 10, status: 'running', time: T0 + 200 * (i + 1),
      })),
    ];
    let out = '';
    let clock = T0;
    const r = new TtyRenderer({ columns: 40, rows: 8, write: (c) => (out += c) }, { color: false, now: () => clock, tick: false });
    let tallest = 0;
    for (const e of events) {
      clock = e.time;
      const before = out.length;
      r.event(e);
      const frame = out.slice(before).replace(/^\r\x1b\[\d+A/, '').replace(/\x1b\[[KJ]/g, '');
      tallest = Math.max(tallest, frame.split('\n').length - 1);
      for (const line of frame.split('\n')) expect(line.length).toBeLessThan(40);
    }
    expect(tallest).toBeLessThanOrEqual(7);
    expect(out).toContain('more');
  });

  it('on a narrow terminal drops the bar before the numbers', () => {
    const events: BuildEvent[] = [
      { type: 'step-start', step: 1, stage: 0, label: undefined, index: 1, total: 1, instruction: 'COPY a /', location: loc(1), time: T0 },
      { type: 'transfer', action: 'download', id: DIGEST, current: 1_000_000, total: 5_000_000, status: 'running', time: T0 + 200 },
    ];
    const narrow = ttyRun(events, { columns: 60, rows: 20 });
    expect(narrow).toContain(' => => download sha256:abababababab 1.00MB / 5.00MB');
    expect(narrow).not.toContain('[====');
    expect(ttyRun(events, { columns: 100, rows: 20 })).toContain('[====>               ] 1.00MB / 5.00MB');
  });

  it('prints a warning above the live area, not into it', () => {
    const events: BuildEvent[] = [
      { type: 'step-start', step: 1, stage: 0, label: undefined, index: 1, total: 1, instruction: 'COPY a /', location: loc(1), time: T0 },
      { type: 'transfer', step: 1, action: 'compress', id: 'step-1', current: 1, total: 10, status: 'running', time: T0 + 200 },
      { type: 'warning', code: 'W', message: 'careful', time: T0 + 250 },
      { type: 'step-done', step: 1, durationMs: 400, time: T0 + 400 },
    ];
    const final = screen(ttyRun(events, { columns: 80, rows: 20 }));
    expect(final[0]).toBe('warning: careful');
    expect(final[1]).toMatch(/^ => \[1\/1\] COPY a \/ +0\.4s$/);
    expect(final.filter((l) => l.includes('careful'))).toHaveLength(1);
  });

  it('prints a note (the runner RUN steps use) above the live area, uncoloured, not as a warning', () => {
    const events: BuildEvent[] = [
      { type: 'step-start', step: 1, stage: 0, label: undefined, index: 1, total: 1, instruction: 'RUN true', location: loc(1), time: T0 },
      { type: 'note', code: 'RUNNER', message: 'RUN steps use --isolation userns: user namespaces work', time: T0 + 50 },
      { type: 'step-done', step: 1, durationMs: 400, time: T0 + 400 },
    ];
    const colored = ttyRun(events, { columns: 100, rows: 20 }, true);
    expect(colored).toContain('note: RUN steps use --isolation userns: user namespaces work\x1b[K');
    expect(colored).not.toMatch(/\x1b\[33mnote:/);
    const final = screen(ttyRun(events, { columns: 100, rows: 20 }));
    expect(final[0]).toBe('note: RUN steps use --isolation userns: user namespaces work');
    expect(final.some((l) => l.startsWith('warning:'))).toBe(false);
  });

  it('shows the last lines a running RUN printed under it, as plain text, and drops them when it ends', () => {
    const log = (text: string, at: number): BuildEvent => ({ type: 'step-log', step: 1, stream: 'stdout', text, time: T0 + at });
    const events: BuildEvent[] = [
      { type: 'step-start', step: 1, stage: 0, label: undefined, index: 1, total: 1, instruction: 'RUN make', location: loc(1), time: T0 },
      ...Array.from({ length: 8 }, (_, i) => log(`line ${i + 1}`, 200 * (i + 1))),
      log('\x1b[31mred\x1b[0m\tcol\x07', 1800),
      log('10%\r50%\r100%', 2000),
      log(`long ${'y'.repeat(100)}`, 2200),
    ];
    let out = '';
    let clock = T0;
    const r = new TtyRenderer({ columns: 60, rows: 20, write: (c) => (out += c) }, { color: false, now: () => clock, tick: false });
    for (const e of events) {
      clock = e.time;
      r.event(e);
    }
    const live = screen(out);
    expect(live.filter((l) => l.startsWith(' => => # '))).toEqual([
      ' => => # line 6',
      ' => => # line 7',
      ' => => # line 8',
      ' => => # red    col',
      ' => => # 100%',
      expect.stringMatching(/^ => => # long y+…$/),
    ]);
    for (const line of live) expect(line.length).toBeLessThan(60);
    clock = T0 + 2500;
    r.event({ type: 'step-done', step: 1, durationMs: 2500, time: clock });
    r.end();
    const final = screen(out);
    expect(final.some((l) => l.includes('# '))).toBe(false);
    expect(final[0]).toMatch(/^ => \[1\/1\] RUN make +2\.5s$/);
  });

  it('colours only when asked, and shows a failed step in red', () => {
    const events: BuildEvent[] = [
      { type: 'step-start', step: 1, stage: 0, label: undefined, index: 1, total: 1, instruction: 'COPY a /', location: loc(1), time: T0 },
      { type: 'step-error', step: 1, durationMs: 5, message: 'no such file', time: T0 + 5 },
    ];
    expect(ttyRun(events, { columns: 80, rows: 20 }, false)).not.toMatch(/\x1b\[\d*m/);
    const colored = ttyRun(events, { columns: 80, rows: 20 }, true);
    expect(colored).toMatch(/\x1b\[31m => ERROR \[1\/1\] COPY a \//);
    expect(screen(colored)).toContain(' => ERROR: no such file');
    expect(screen(colored).at(-1)).toBe('[+] Building 0.1s (1/1) FAILED');
  });
});

describe('stages built at once (--jobs)', () => {
  const step = (n: number, label: string, index: number, instruction: string, time: number): BuildEvent => ({
    type: 'step-start',
    step: n,
    stage: label === 'a' ? 1 : 2,
    label,
    index,
    total: 2,
    instruction,
    location: loc(n),
    time,
  });
  const events: BuildEvent[] = [
    step(1, 'a', 1, 'FROM base AS a', T0),
    step(2, 'b', 1, 'FROM base AS b', T0 + 1),
    { type: 'step-done', step: 1, durationMs: 1, time: T0 + 2 },
    { type: 'step-done', step: 2, durationMs: 1, time: T0 + 3 },
    step(3, 'a', 2, 'RUN make a', T0 + 10),
    step(4, 'b', 2, 'RUN make b', T0 + 20),
    { type: 'step-log', step: 4, stream: 'stdout', text: 'from b', time: T0 + 30 },
    { type: 'step-log', step: 3, stream: 'stdout', text: 'from a', time: T0 + 40 },
    { type: 'transfer', step: 4, action: 'compress', id: 'step-4', current: 1_000_000, total: 2_000_000, status: 'running', time: T0 + 1500 },
    { type: 'transfer', step: 3, action: 'compress', id: 'step-3', current: 3_000_000, total: 4_000_000, status: 'running', time: T0 + 1600 },
  ];
  const finish: BuildEvent[] = [
    { type: 'step-done', step: 4, durationMs: 2000, time: T0 + 2020 },
    { type: 'step-done', step: 3, durationMs: 3000, time: T0 + 3010 },
  ];

  it('tty shows every running step, each with its own transfer, and keeps them in the order they started', () => {
    let out = '';
    let clock = T0;
    const r = new TtyRenderer({ columns: 100, rows: 30, write: (c) => (out += c) }, { color: false, now: () => clock, tick: false, intervalMs: 0 });
    for (const e of events) {
      clock = e.time;
      r.event(e);
    }
    const running = screen(out);
    expect(running.filter((l) => l.includes('RUN make'))).toEqual([expect.stringMatching(/^ => \[a 2\/2\] RUN make a +1\.6s$/), expect.stringMatching(/^ => \[b 2\/2\] RUN make b +1\.6s$/)]);
    expect(running).toContain(' => => compress layer [===============>    ] 3.00MB / 4.00MB');
    expect(running).toContain(' => => compress layer [==========>         ] 1.00MB / 2.00MB');
    // b finished first: it waits under a, which still runs, and nothing is printed twice.
    for (const e of finish) {
      clock = e.time;
      r.event(e);
    }
    clock += 100;
    r.end();
    const final = screen(out);
    expect(final.filter((l) => l.includes('RUN make'))).toEqual([expect.stringMatching(/^ => \[a 2\/2\] RUN make a +3\.0s$/), expect.stringMatching(/^ => \[b 2\/2\] RUN make b +2\.0s$/)]);
    expect(final.at(-1)).toBe('[+] Building 3.1s (4/4) FINISHED');
  });

  it('a step stopped because another stage failed is CANCELED, not a second error', () => {
    const failed: BuildEvent[] = [
      ...events,
      { type: 'step-error', step: 4, durationMs: 2000, message: 'Dockerfile:4: RUN make b failed with exit code 2', time: T0 + 2020 },
      { type: 'step-error', step: 3, durationMs: 2010, message: 'Dockerfile:3: canceled: another stage of the build failed', canceled: true, time: T0 + 2030 },
    ];
    const lines = plainLines(failed);
    expect(lines.filter((l) => /ERROR|CANCELED/.test(l))).toEqual(['#4 ERROR: Dockerfile:4: RUN make b failed with exit code 2', '#3 CANCELED']);
    const final = screen(ttyRun(failed, { columns: 100, rows: 30 }));
    expect(final).toContainEqual(expect.stringMatching(/^ => CANCELED \[a 2\/2\] RUN make a +2\.0s$/));
    expect(final).toContainEqual(expect.stringMatching(/^ => ERROR \[b 2\/2\] RUN make b +2\.0s$/));
    expect(final.at(-1)).toMatch(/FAILED$/);
  });

  it('plain puts each line under the number of its own step', () => {
    const lines = plainLines([...events, ...finish]);
    expect(lines).toContain('#4 from b');
    expect(lines).toContain('#3 from a');
    expect(lines.indexOf('#4 from b')).toBeLessThan(lines.indexOf('#3 from a'));
    expect(lines.filter((l) => l.endsWith('DONE 2.0s') || l.endsWith('DONE 3.0s'))).toEqual(['#4 DONE 2.0s', '#3 DONE 3.0s']);
  });
});

describe('the end of a display', () => {
  const step = (time: number): BuildEvent => ({ type: 'step-start', step: 1, stage: 0, label: undefined, index: 1, total: 2, instruction: 'COPY a /', location: loc(1), time });

  it('a build that fails after its steps (a push refused) ends FAILED, not FINISHED', () => {
    let out = '';
    const r = new TtyRenderer({ columns: 80, rows: 20, write: (c) => (out += c) }, { color: false, now: () => T0 + 300, tick: false });
    r.event(step(T0));
    r.event({ type: 'step-done', step: 1, durationMs: 100, time: T0 + 100 });
    r.event({ type: 'output-start', output: 1, description: 'pushing registry.test/app:1', time: T0 + 200 });
    r.end(true);
    r.end(); // a second end changes nothing
    const final = screen(out);
    expect(final.at(-2)).toMatch(/^ => pushing registry.test\/app:1 +0\.1s$/);
    expect(final.at(-1)).toBe('[+] Building 0.3s (1/1) FAILED');
  });

  it('a build that failed before its first step draws nothing (the error says it all)', () => {
    let out = '';
    const r = new TtyRenderer({ columns: 80, rows: 20, write: (c) => (out += c) }, { color: false, tick: false });
    r.end(true);
    expect(out).toBe('');
  });

  it('Ctrl-C takes the live area off the screen at once; what is printed next lands under the finished steps', () => {
    let out = '';
    let clock = T0;
    const r = new TtyRenderer({ columns: 80, rows: 20, write: (c) => (out += c) }, { color: false, now: () => clock, tick: false });
    r.event(step(T0));
    r.event({ type: 'step-done', step: 1, durationMs: 100, time: (clock = T0 + 100) });
    r.event({ type: 'step-start', step: 2, stage: 0, label: undefined, index: 2, total: 2, instruction: 'COPY big /', location: loc(2), time: (clock = T0 + 200) });
    r.event({ type: 'transfer', step: 2, action: 'compress', id: 'step-2', current: 5, total: 10, status: 'running', time: (clock = T0 + 400) });
    r.interrupt();
    out += 'interrupted by SIGINT\n'; // what the CLI prints next
    r.event({ type: 'step-error', step: 2, durationMs: 400, message: 'interrupted by SIGINT', time: (clock = T0 + 600) });
    r.end(true);
    const final = screen(out);
    expect(final[0]).toMatch(/^ => \[1\/2\] COPY a \/ +0\.1s$/);
    expect(final[1]).toBe('interrupted by SIGINT');
    expect(final.slice(2)).toEqual([
      expect.stringMatching(/^ => ERROR \[2\/2\] COPY big \/ +0\.4s$/),
      ' => ERROR: interrupted by SIGINT',
      '[+] Building 0.6s (2/2) FAILED',
    ]);
  });

  it('a layer compressed in a moment leaves no line of its own, in plain or tty (the step gives its size)', () => {
    const events: BuildEvent[] = [
      step(T0),
      { type: 'transfer', step: 1, action: 'compress', id: 'step-1', current: 2, total: 2, status: 'done', time: T0 + 5 },
      { type: 'step-done', step: 1, durationMs: 10, layer: { digest: LAYER, size: 149 }, time: T0 + 10 },
    ];
    expect(plainLines(events)).toEqual(['#1 [1/2] COPY a / (Dockerfile:1)', '#1 layer sha256:cdcdcdcdcdcd 149B', '#1 DONE 0.0s']);
    const final = screen(ttyRun(events, { columns: 80, rows: 20 }));
    expect(final.join('\n')).not.toContain('compress');
    expect(final[0]).toMatch(/^ => \[1\/2\] COPY a \/ +149B {2}0\.0s$/);
  });
});

describe('base images', () => {
  const events: BuildEvent[] = [
    { type: 'base-start', base: 1, ref: 'registry.test/base:1', time: T0 },
    { type: 'transfer', action: 'download', id: DIGEST, current: 1500, total: 1500, status: 'done', time: T0 + 300 },
    { type: 'base-done', base: 1, durationMs: 400, time: T0 + 400 },
    { type: 'stage-start', stage: 0, label: undefined, base: 'registry.test/base:1', steps: 1, time: T0 + 400 },
    { type: 'step-start', step: 1, stage: 0, label: undefined, index: 1, total: 1, instruction: 'FROM registry.test/base:1', location: loc(1), time: T0 + 400 },
    { type: 'step-done', step: 1, durationMs: 0, time: T0 + 400 },
  ];

  it('show while their manifest and config are read, before the first step (nothing is blank at the start)', () => {
    expect(plainLines(events)).toEqual([
      '#1 load metadata for registry.test/base:1',
      '#1 download sha256:abababababab 1.50kB / 1.50kB done',
      '#1 DONE 0.4s',
      '',
      '#2 [1/1] FROM registry.test/base:1 (Dockerfile:1)',
      '#2 DONE 0.0s',
    ]);
    const final = screen(ttyRun(events, { columns: 80, rows: 20 }));
    expect(final[0]).toMatch(/^ => load metadata for registry.test\/base:1 +0\.4s$/);
    expect(final.at(-1)).toBe('[+] Building 0.5s (1/1) FINISHED');
  });
});

describe('choosing a renderer', () => {
  const io = (isTTY: boolean, env: NodeJS.ProcessEnv = {}): CliIo => ({
    stdout: () => undefined,
    stderr: () => undefined,
    env,
    stderrScreen: { isTTY, columns: 80, rows: 24, write: () => undefined },
  });

  it('auto is tty on a terminal and plain otherwise', () => {
    expect(resolveProgressMode('auto', io(true))).toBe('tty');
    expect(resolveProgressMode('auto', io(false))).toBe('plain');
    expect(resolveProgressMode('auto', io(true, { TERM: 'dumb' }))).toBe('plain'); // no cursor movement there
    expect(resolveProgressMode('json', io(true))).toBe('json');
    expect(createRenderer('tty', io(true))).toBeInstanceOf(TtyRenderer);
    expect(createRenderer('plain', io(true))).toBeInstanceOf(PlainRenderer);
  });

  it('refuses an unknown mode with the list of modes', () => {
    expect(parseProgressMode('plain')).toBe('plain');
    expect(() => parseProgressMode('fancy')).toThrow(/--progress "fancy": not a progress mode/);
  });

  it('honours NO_COLOR when it is set to anything', () => {
    expect(wantsColor({})).toBe(true);
    expect(wantsColor({ NO_COLOR: '' })).toBe(true);
    expect(wantsColor({ NO_COLOR: '1' })).toBe(false);
  });
});

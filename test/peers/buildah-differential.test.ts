/**
 * Differential tests against buildah: every offline case of buildah's
 * conformance table, buildah's bud inputs and Kaniko's integration
 * Dockerfiles is built by hoist and by `buildah bud`, and so is every case
 * whose only need of the network is a busybox, Alpine, Debian or Ubuntu base
 * (its FROM is pointed at the test registry's busybox or Debian minbase, the
 * same Dockerfile for both builders: test/helpers/peers/base-images.ts). The
 * two images are compared: merged filesystem (types, modes incl. setuid, owners, symlink
 * targets, hardlink groups, content hashes, xattrs, mtimes) and the config a
 * Dockerfile controls. Cases hoist cannot build yet, known intentional
 * differences and hoist bugs are listed in testdata/peers/*.json, and the
 * suite checks that those lists still describe what happens.
 */
import { lstat, readFile, readlink, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { buildWithBuildah, buildWithHoist, type BuildInput, type BuildOutcome } from '../helpers/peers/builders.js';
import { CONFORMANCE_DIR, conformanceDataPresent, corpusLinks, linksUnder, loadCases, type Corpus, type PeerCase } from '../helpers/peers/corpus.js';
import {
  budSelection,
  expectedFailures,
  explain,
  hoistBugs,
  knownDifferences,
  type ExpectedFailure,
} from '../helpers/peers/expectations.js';
import { diffImages, formatDifference, type ImageView } from '../helpers/peers/image-model.js';
import { baseKindOf, buildableOnTestBases, rewriteBases, testBaseKinds } from '../helpers/peers/base-images.js';
import { rewriteForTestBases, startPeerBases, type PeerBases } from '../helpers/peers/test-bases.js';
import { ensureDebianPackages } from '../helpers/packages.js';

const CASES = loadCases();
const EXPECTED = expectedFailures();
const KNOWN = knownDifferences();
const BUGS = hoistBugs();
const BUD = budSelection();
/** Directory mtimes at or after this are "the time of the build". */
const BUILD_START = Math.floor(Date.now() / 1000) - 2;
const CASE_TIMEOUT = 360_000;
/** One build by either builder: RUN steps on the test bases take a while on a busy machine. */
const BUILD_TIMEOUT = 180_000;
/**
 * Cases the corpus marks as needing the network whose only need is a base
 * the test registry stands in for, and which are compared here. A subset,
 * for time (the whole suite runs on 2 cores in CI):
 * - buildah-conformance and kaniko-integration cases on busybox (alpine
 *   included): all of them but one; upstream's conformance table was written
 *   for exactly this comparison, and each Kaniko Dockerfile is a regression
 *   test. Left out: Kaniko's Dockerfile_test_copy_same_file_many_times (48
 *   layers of the same COPY; alone two minutes of buildah commits here, and
 *   one such COPY is in many cases compared).
 * - Debian and Ubuntu cases: the two in DEBIAN_SAMPLE. Each costs about
 *   ten times a busybox case: both builders pull and unpack the ~170 MB
 *   minbase, buildah's vfs storage copies all of it for every step's layer,
 *   buildah's docker-archive holds it uncompressed, and the comparison
 *   hashes every file of both images; an apt-get install also downloads from
 *   the mirror. The two are a RUN on Debian and config over a real
 *   distribution base's (ENV replacing the base's PATH). Of the eleven
 *   other Kaniko cases without apt or a URL, run once with this mapping when
 *   it was written, nine matched buildah's images exactly (label, metadata,
 *   user, onbuild_base, registry_mirror, whitelist, arg_secret, extract_fs,
 *   testdata/trivial) and two differed where buildah departs from Docker:
 *   Dockerfile_test_expose (EXPOSE $port/$protocol after EXPOSE $port/udp:
 *   buildah loses 83/tcp) and Dockerfile_test_cmd (a # comment after the
 *   JSON form: buildah drops it, Docker's parser makes it the shell form).
 * - buildah-bud: the busybox cases of testdata/peers/bud-selection.json.
 *   Its Dockerfiles are inputs to Bats tests that may pass options the
 *   index does not record (build args, secrets, platforms, files the test
 *   makes), so the list is chosen case by case from the Dockerfile and its
 *   context, and every case left out is listed there with its reason.
 *   `mustFail` names the selected inputs both builders must refuse.
 * The rest stay needs-network: hoist alone must still refuse them.
 */
const DEBIAN_SAMPLE = new Set(
  ['Dockerfile_test_run_2', 'Dockerfile_test_env'].map((f) => `kaniko-integration/dockerfiles/${f}`),
);
const ON_TEST_BASES = new Set(CASES.filter(comparedOnTestBases).map((c) => c.id));

function comparedOnTestBases(c: PeerCase): boolean {
  if (c.corpus === 'buildah-bud') return BUD.compared.includes(c.id);
  if (!c.needsNetwork || c.id === 'kaniko-integration/dockerfiles/Dockerfile_test_copy_same_file_many_times') return false;
  const text = c.dockerfileText();
  if (!buildableOnTestBases(text, c.buildArgs)) return false;
  return !testBaseKinds(text, c.buildArgs).has('debian') || DEBIAN_SAMPLE.has(c.id);
}
let peerBases: PeerBases | undefined;

/** Both builders must refuse it: a deliberately bad input of the corpus, or a selected buildah-bud input that fails by design. */
function mustFail(c: PeerCase): boolean {
  return c.shouldFail || BUD.mustFail[c.id] !== undefined;
}

/** Entry ids that explained at least one difference, and how many comparisons ran. */
const used = new Set<string>();
let compared = 0;
const toCompare = CASES.filter((c) => (!c.needsNetwork || ON_TEST_BASES.has(c.id)) && !mustFail(c) && EXPECTED.cases[c.id] === undefined).length;

beforeAll(async () => {
  await ensureDebianPackages(['buildah', 'attr', 'xz-utils', 'gzip']);
  peerBases = await startPeerBases();
  console.log(`peer test bases: ${peerBases.bases.busybox}, ${peerBases.bases.debian} (${(peerBases.setupMs / 1000).toFixed(1)} s)`);
}, 45 * 60_000);

afterAll(async () => {
  await peerBases?.stop();
});

function describeOutcome(o: BuildOutcome): string {
  return o.ok ? 'built' : `failed: ${o.code}${o.line !== undefined ? ` at line ${o.line}` : ''}: ${o.message.slice(-600)}`;
}

/** The case's context and Dockerfile; for a case on the test bases, its Dockerfile with the bases rewritten. */
async function withContext<T>(c: PeerCase, fn: (input: BuildInput) => Promise<T>): Promise<T> {
  const prepared = await c.prepare();
  let rewritten: Awaited<ReturnType<typeof rewriteForTestBases>> | undefined;
  try {
    if (ON_TEST_BASES.has(c.id)) {
      if (!peerBases) throw new Error('the test bases were not set up');
      rewritten = await rewriteForTestBases(prepared.dockerfile, c.buildArgs, peerBases.bases);
      return await fn({ contextDir: prepared.contextDir, dockerfile: rewritten.dockerfile, buildArgs: rewritten.buildArgs, pullsFromTestRegistry: true });
    }
    return await fn({ contextDir: prepared.contextDir, dockerfile: prepared.dockerfile, buildArgs: c.buildArgs });
  } finally {
    if (rewritten) await rm(rewritten.temp, { recursive: true, force: true });
    if (prepared.temp) await rm(prepared.temp, { recursive: true, force: true });
  }
}

function stripPeerLabels(view: ImageView): void {
  for (const k of KNOWN) {
    if (!k.stripPeerLabel || k.cases !== '*') continue;
    const labels = view.config.Labels;
    if (labels && k.stripPeerLabel in labels) {
      used.add(`known:${k.id}`);
      const { [k.stripPeerLabel]: _gone, ...rest } = labels;
      if (Object.keys(rest).length > 0) view.config.Labels = rest;
      else delete view.config.Labels;
    }
  }
}

describe('peer corpus bookkeeping', () => {
  it('references ../shared/conformance in place', () => {
    const fromHere = fileURLToPath(new URL('../../../shared/conformance/', import.meta.url));
    expect(path.resolve(CONFORMANCE_DIR)).toBe(path.resolve(fromHere));
    expect(path.resolve(CONFORMANCE_DIR)).toBe(path.resolve(REPO_ROOT, '..', 'shared', 'conformance'));
    expect(conformanceDataPresent()).toBe(true);
  });

  it('finds the 11 links of SYMLINKS.tsv in the corpus, kept or lost (a small file holding the target)', async () => {
    const links = corpusLinks();
    expect(links).toHaveLength(11);
    for (const l of links) {
      const st = await lstat(l.path);
      if (st.isSymbolicLink()) expect(await readlink(l.path), l.path).toBe(l.target);
      else expect(await readFile(l.path, 'utf8'), l.path).toBe(l.target);
    }
  });

  it('gives a case whose context holds corpus links a context with real links', async () => {
    for (const id of ['buildah-conformance/160-replace-directory-with-symlink', 'buildah-conformance/45-from-scratch-simple-file']) {
      const c = CASES.find((x) => x.id === id) as PeerCase;
      const source = path.join(CONFORMANCE_DIR, 'buildah-conformance/testdata', id.includes('/160-') ? 'replace/symlink-with-directory' : 'dockerignore/populated');
      const links = linksUnder(source);
      expect(links.length, id).toBeGreaterThan(0);
      await withContext(c, async ({ contextDir }) => {
        for (const l of links) expect(await readlink(path.join(contextDir, l.rel)), `${id}: ${l.rel}`).toBe(l.target);
      });
    }
  });

  it('has unique case ids and finds the documented offline cases', () => {
    expect(new Set(CASES.map((c) => c.id)).size).toBe(CASES.length);
    const offline = (corpus: Corpus): number => CASES.filter((c) => c.corpus === corpus && !c.needsNetwork).length;
    // The counts README.md gives for FROM-scratch cases.
    expect(offline('buildah-conformance')).toBe(100);
    expect(offline('buildah-bud')).toBe(26);
    expect(offline('kaniko-integration')).toBe(5);
  });

  it('lists only real cases, each with a known category and a reason', () => {
    const ids = new Set(CASES.map((c) => c.id));
    for (const [id, e] of Object.entries(EXPECTED.cases)) {
      expect(ids.has(id), `expected-failures.json names unknown case ${id}`).toBe(true);
      expect(Object.keys(EXPECTED.categories), `${id}: category`).toContain(e.category);
      expect(e.reason.length, `${id}: reason`).toBeGreaterThan(10);
      if (e.category === 'hoist-bug') expect(BUGS.map((b) => b.id), `${id}: bug`).toContain(e.bug);
    }
  });

  it('lists every case that needs the network beyond the test bases', () => {
    const missing = CASES.filter((c) => c.needsNetwork && !ON_TEST_BASES.has(c.id) && EXPECTED.cases[c.id] === undefined).map((c) => c.id);
    expect(missing).toEqual([]);
  });

  it('compares the documented cases on the test bases', () => {
    const count = (corpus: Corpus): number => CASES.filter((c) => c.corpus === corpus && ON_TEST_BASES.has(c.id)).length;
    expect(count('buildah-conformance')).toBe(73);
    expect(count('kaniko-integration')).toBe(38);
    expect(count('buildah-bud')).toBe(116);
    expect([...DEBIAN_SAMPLE].filter((id) => !ON_TEST_BASES.has(id))).toEqual([]);
  });

  it('chooses every buildah-bud case the test bases could build: compared, or left out with a reason', () => {
    const candidates = CASES.filter((c) => c.corpus === 'buildah-bud' && c.needsNetwork && buildableOnTestBases(c.dockerfileText(), c.buildArgs)).map((c) => c.id);
    const leftOut = BUD.leftOut.flatMap((g) => g.cases);
    const listed = [...BUD.compared, ...leftOut];
    expect(new Set(listed).size, 'a case listed twice in bud-selection.json').toBe(listed.length);
    expect([...listed].sort()).toEqual([...candidates].sort());
    for (const g of BUD.leftOut) expect(g.reason.length, g.cases.join(', ')).toBeGreaterThan(20);
    for (const [id, why] of Object.entries(BUD.mustFail)) {
      expect(BUD.compared, `mustFail names ${id}, which is not compared`).toContain(id);
      expect(why.length, id).toBeGreaterThan(10);
    }
    // Compared on the busybox stand-in only (a Debian case costs ten busybox ones).
    const onDebian = CASES.filter((c) => BUD.compared.includes(c.id) && testBaseKinds(c.dockerfileText(), c.buildArgs).has('debian')).map((c) => c.id);
    expect(onDebian).toEqual([]);
  });

  it('rewrites FROM, COPY --from, RUN --mount from= and an ARG naming a base, and keeps stage names', () => {
    const bases = { busybox: 'R/busybox:latest', debian: 'R/debian:bookworm' };
    const text = [
      'ARG BASE=ubuntu:22.04',
      'FROM --platform=$BUILDPLATFORM alpine:3.20 AS build',
      'COPY --from=busybox:1.36 /bin/busybox /x',
      'FROM $BASE',
      'COPY --from=build /a /a',
      'RUN --mount=type=bind,from=docker.io/library/busybox,target=/b true',
    ].join('\n');
    const r = rewriteBases(text, {}, bases);
    expect(r.text.split('\n')).toEqual([
      'ARG BASE=R/debian:bookworm',
      'FROM --platform=$BUILDPLATFORM R/busybox:latest AS build',
      'COPY --from=R/busybox:latest /bin/busybox /x',
      'FROM $BASE',
      'COPY --from=build /a /a',
      'RUN --mount=type=bind,from=R/busybox:latest,target=/b true',
    ]);
    expect(r.unmapped).toEqual([]);
    expect(rewriteBases('FROM $B\n', { B: 'debian:12' }, bases).buildArgs).toEqual({ B: 'R/debian:bookworm' });
    expect(rewriteBases('FROM quay.io/libpod/centos:7\nCOPY --from=fedora / /\n', {}, bases).unmapped).toEqual(['quay.io/libpod/centos:7', 'fedora']);
    expect(buildableOnTestBases('FROM busybox\nADD https://example.com/x /x\n', {})).toBe(false);
  });

  it('maps every spelling of busybox, alpine, debian and ubuntu, and nothing else', () => {
    const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;
    for (const ref of ['busybox', 'busybox:latest', 'busybox:1.31', `busybox@${digest}`, 'docker.io/busybox', 'docker.io/library/busybox:latest', 'mirror.gcr.io/busybox', 'quay.io/libpod/busybox', 'alpine:3.20', 'mirror.gcr.io/alpine', `alpine@${digest}`]) {
      expect(baseKindOf(ref), ref).toBe('busybox');
    }
    for (const ref of ['debian', 'debian:10.13', 'docker.io/debian:bullseye-slim', 'library/debian:latest', `debian@${digest}`, 'ubuntu', 'ubuntu:18.04', 'docker.io/ubuntu', `ubuntu@${digest}`]) {
      expect(baseKindOf(ref), ref).toBe('debian');
    }
    for (const ref of ['quay.io/libpod/centos:7', 'fedora', 'busybox2', 'busybox:$VERSION', 'example.com/busybox', 'quay.io/libpod/alpine_labels', 'phusion/baseimage:0.11', 'busybox@sha256:short']) {
      expect(baseKindOf(ref), ref).toBeUndefined();
    }
  });

  it('ties every hoist bug to cases, both ways', () => {
    for (const b of BUGS) {
      expect((b.differs?.cases.length ?? 0) + (b.fails?.length ?? 0), `${b.id} has no case that must show it`).toBeGreaterThan(0);
      for (const id of b.fails ?? []) {
        expect(EXPECTED.cases[id]?.bug, `${b.id}: ${id} must be an expected failure naming the bug`).toBe(b.id);
      }
      for (const id of [...(b.differs?.cases ?? []), ...(b.differs?.mayShowIn ?? [])]) {
        expect(CASES.some((c) => c.id === id), `${b.id}: unknown case ${id}`).toBe(true);
      }
    }
    for (const [id, e] of Object.entries(EXPECTED.cases)) {
      if (e.category === 'hoist-bug') expect(BUGS.find((b) => b.id === e.bug)?.fails, `${e.bug} must list ${id}`).toContain(id);
    }
  });

  it('keeps case-specific known differences tied to real cases', () => {
    for (const k of KNOWN) {
      const ids = [...(k.cases === '*' ? [] : k.cases), ...(k.mayShowIn ?? [])];
      for (const id of ids) expect(CASES.some((c) => c.id === id), `${k.id}: unknown case ${id}`).toBe(true);
    }
  });
});

/** Cases only hoist can be asked about: the peer would need the network too. */
describe.concurrent('hoist still refuses what it cannot build here', () => {
  for (const c of CASES.filter((x) => x.needsNetwork && !ON_TEST_BASES.has(x.id))) {
    const e = EXPECTED.cases[c.id] as ExpectedFailure | undefined;
    it(`${c.id} (${e?.reason ?? 'unlisted'})`, async ({ expect }) => {
      expect(e, 'listed in expected-failures.json').toBeDefined();
      const out = await withContext(c, (input) => buildWithHoist(input, { timeoutMs: 30_000 }));
      expect(out.ok, `hoist built ${c.id}; update expected-failures.json`).toBe(false);
      if (!out.ok) {
        const accepted = EXPECTED.baseImageErrors.includes(e?.hoistError ?? '') ? EXPECTED.baseImageErrors : [e?.hoistError];
        expect(accepted, `${out.code}: ${out.message}`).toContain(out.code);
      }
    }, 60_000);
  }
});

async function differential(c: PeerCase, expect: typeof import('vitest').expect): Promise<void> {
  const e = EXPECTED.cases[c.id];
  const [h, b] = await withContext(c, (input) => Promise.all([buildWithHoist(input, { timeoutMs: BUILD_TIMEOUT }), buildWithBuildah(input, { timeoutMs: BUILD_TIMEOUT })]));
  if (e) {
    // Listed: check that what the list says still happens.
    if (e.category === 'context-tweak') return;
    if (e.hoistError !== undefined) {
      expect(h.ok, `hoist now builds ${c.id} (${e.reason}); update expected-failures.json`).toBe(false);
      if (!h.ok) {
        expect(h.code, h.message).toBe(e.hoistError);
        if (e.hoistLine !== undefined) expect(h.line, h.message).toBe(e.hoistLine);
      }
    } else {
      expect(h.ok, `hoist: ${describeOutcome(h)}`).toBe(true);
    }
    if (e.buildah !== undefined) expect(b.ok ? 'ok' : 'fails', `buildah: ${describeOutcome(b)}`).toBe(e.buildah);
    return;
  }
  if (mustFail(c)) {
    expect(h.ok, `hoist must refuse ${c.id}`).toBe(false);
    expect(b.ok, `buildah must refuse ${c.id}`).toBe(false);
    if (!h.ok && c.failAtLine !== undefined) expect(h.line, `hoist failed at the wrong line: ${h.message}`).toBe(c.failAtLine);
    return;
  }
  expect(h.ok, `hoist: ${describeOutcome(h)}`).toBe(true);
  expect(b.ok, `buildah: ${describeOutcome(b)}`).toBe(true);
  if (!h.ok || !b.ok) return;
  stripPeerLabels(b.view);
  const diffs = diffImages(h.view, b.view);
  const x = explain(c.id, diffs, KNOWN, BUGS, { buildStart: BUILD_START });
  for (const id of x.used) used.add(id);
  compared++;
  const text = x.unexplained.map(formatDifference).join('\n  ');
  expect(x.unexplained.length, `unexplained differences in ${c.id}:\n  ${text}\n`).toBe(0);
  expect(x.unused, `entries listed for ${c.id} that no longer apply (a fixed bug or a stale known difference)`).toEqual([]);
}

for (const corpus of ['buildah-conformance', 'buildah-bud', 'kaniko-integration', 'extra'] as const) {
  describe.concurrent(`hoist vs buildah bud: ${corpus}`, () => {
    for (const c of CASES.filter((x) => x.corpus === corpus && (!x.needsNetwork || ON_TEST_BASES.has(x.id)))) {
      const e = EXPECTED.cases[c.id];
      const name = ON_TEST_BASES.has(c.id) ? `${c.id} (on the test bases)` : c.id;
      const label = e ? `${name} [expected: ${e.category}: ${e.reason}]` : mustFail(c) ? `${name} [both must fail]` : name;
      const test = e?.category === 'context-tweak' ? it.skip : it;
      test(label, async ({ expect }) => differential(c, expect), CASE_TIMEOUT);
    }
  });
}

describe('afterwards', () => {
  it('every rule that applies to all cases was needed', () => {
    // Only meaningful when the whole suite ran (not under -t filtering).
    if (compared < toCompare) return;
    const idle = KNOWN.filter((k) => k.cases === '*' && !used.has(`known:${k.id}`)).map((k) => k.id);
    expect(idle, 'global known differences that explained nothing: remove them').toEqual([]);
  });
});


import { describe, expect, it } from 'vitest';
import { labelsOf, planText } from '../../../helpers/plan.js';

describe('ARG and ENV scoping (Docker semantics)', () => {
  it('global ARGs are visible only in FROM unless the stage redeclares them', () => {
    const plan = planText('ARG V=1.0\nARG IMG=scratch\nFROM $IMG\nLABEL a=$V\nARG V\nLABEL b=$V\n');
    expect(plan.stages[0]?.base).toEqual({ kind: 'scratch' });
    expect(labelsOf(plan)).toEqual(['a=', 'b=1.0']);
  });

  it('an ARG is visible from its line to the end of its stage only', () => {
    const text = 'FROM scratch AS a\nLABEL before=$X\nARG X=1\nLABEL after=$X\nFROM scratch AS b\nLABEL other=$X\n';
    expect(labelsOf(planText(text, { target: 'a' }), 0)).toEqual(['before=', 'after=1']);
    expect(labelsOf(planText(text), 1)).toEqual(['other=']);
  });

  it('a stage built FROM an earlier stage inherits its ARGs and ENV', () => {
    const plan = planText('FROM scratch AS base\nARG X=1\nENV E=e\nFROM base\nLABEL x=$X e=$E\n');
    expect(labelsOf(plan)).toEqual(['x=1', 'e=e']);
    expect(plan.stages[1]?.base).toEqual({ kind: 'stage', index: 0 });
    expect(plan.stages[1]?.env.get('E')).toBe('e');
  });

  it('ENV overrides an ARG of the same name declared before it', () => {
    expect(labelsOf(planText('FROM scratch\nARG A=arg\nENV A=env\nLABEL a=$A\n'))).toEqual(['a=env']);
    expect(labelsOf(planText('FROM scratch\nARG A=arg\nENV A=env\nLABEL a=$A\n', { buildArgs: { A: 'cli' } }))).toEqual(['a=env']);
  });

  it('a valued ARG after an ENV wins, as in BuildKit (dispatchArg adds it to the state env)', () => {
    expect(labelsOf(planText('FROM scratch\nENV A=env\nARG A=arg\nLABEL a=$A\n'))).toEqual(['a=arg']);
    const plan = planText('FROM debian\nARG DEBIAN_FRONTEND=noninteractive\nRUN apt-get update\n', {
      baseImageEnv: () => ['DEBIAN_FRONTEND=teletype'],
    });
    expect(plan.stages[0]?.instructions[1]?.env.get('DEBIAN_FRONTEND')).toBe('noninteractive');
  });

  it('an ARG redeclared without a value keeps the value it had', () => {
    expect(labelsOf(planText('FROM scratch\nARG A=1\nARG A\nLABEL a=$A\n'))).toEqual(['a=1']);
    const plan = planText('FROM scratch AS base\nARG X=1\nFROM base\nARG X\nRUN echo\n');
    expect(plan.stages[1]?.instructions[1]?.env.get('X')).toBe('1');
  });

  it('an ARG default is not expanded when a build arg replaces it', () => {
    const text = 'ARG G=${NOPE:?boom}\nFROM scratch\nARG A=${NOPE:?boom}\nLABEL a=$A\n';
    expect(labelsOf(planText(text, { buildArgs: { G: '1', A: '2' } }))).toEqual(['a=2']);
    expect(() => planText(text, { buildArgs: { G: '1' } })).toThrow('boom');
  });

  it('one value per variable per instruction: ENV a=1 b=$a gives b the old a', () => {
    const plan = planText('FROM scratch\nENV a=0\nENV a=1 b=$a\nLABEL a=$a b=$b\n');
    expect(labelsOf(plan)).toEqual(['a=1', 'b=0']);
    const fresh = planText('FROM scratch\nENV a=1 b=$a\nLABEL b=$b\n');
    expect(labelsOf(fresh)).toEqual(['b=']);
  });

  it('a build arg overrides a default; a default wins over the global value', () => {
    const text = 'ARG G=global\nFROM scratch\nARG G\nARG D=default\nARG G2=own\nLABEL g=$G d=$D\n';
    expect(labelsOf(planText(text))).toEqual(['g=global', 'd=default']);
    expect(labelsOf(planText(text, { buildArgs: { G: 'cli', D: 'cli2' } }))).toEqual(['g=cli', 'd=cli2']);
  });

  it('matches the USER example of the Dockerfile reference', () => {
    const text = 'FROM scratch\nUSER ${username:-some_user}\nARG username\nUSER $username\n';
    const users = planText(text, { buildArgs: { username: 'what_user' } })
      .stages[0]?.instructions.flatMap(({ instr }) => (instr.kind === 'USER' ? [instr.user] : []));
    expect(users).toEqual(['some_user', 'what_user']);
  });

  it('an ARG default sees earlier ARGs and ENV, not global ARGs', () => {
    const plan = planText('ARG G=g\nFROM scratch\nENV E=e\nARG Y=$G-$E\nLABEL y=$Y\n');
    expect(labelsOf(plan)).toEqual(['y=-e']);
  });

  it('global ARG defaults see earlier global ARGs and build args', () => {
    const plan = planText('ARG A=1\nARG B=${A}0\nFROM scratch\nARG B\nLABEL b=$B\n', { buildArgs: { A: '7' } });
    expect(labelsOf(plan)).toEqual(['b=70']);
  });

  it('platform ARGs are predefined for FROM and need ARG inside a stage', () => {
    const plan = planText(
      'FROM --platform=$BUILDPLATFORM scratch\nLABEL before=$TARGETARCH\nARG TARGETARCH\nARG TARGETPLATFORM\nARG BUILDOS\nARG TARGETVARIANT\nLABEL arch=$TARGETARCH p=$TARGETPLATFORM os=$BUILDOS v=$TARGETVARIANT\n',
    );
    expect(plan.stages[0]?.platform).toBe('linux/amd64');
    expect(labelsOf(plan)).toEqual(['before=', 'arch=arm64', 'p=linux/arm64/v8', 'os=linux', 'v=v8']);
  });

  it('automatic ARGs can be overridden by build args, and TARGETSTAGE names the target', () => {
    const plan = planText('FROM --platform=$TARGETPLATFORM scratch AS final\nARG TARGETSTAGE\nLABEL s=$TARGETSTAGE\n', {
      buildArgs: { TARGETPLATFORM: 'linux/s390x' },
    });
    expect(plan.stages[0]?.platform).toBe('linux/s390x');
    expect(labelsOf(plan)).toEqual(['s=final']);
  });

  it('a stage built FROM another stage takes its platform', () => {
    const plan = planText('FROM --platform=linux/arm64 scratch AS a\nFROM a\n');
    expect(plan.stages.map((s) => s.platform)).toEqual(['linux/arm64', 'linux/arm64']);
  });

  it('COPY heredocs are expanded unless the delimiter is quoted', () => {
    const plan = planText('FROM scratch\nENV V=hi\nCOPY <<EOF /a\n$V "q"\nEOF\nCOPY <<\'EOF\' /b\n$V\nEOF\n');
    const contents = plan.stages[0]?.instructions.flatMap(({ instr }) => (instr.kind === 'COPY' ? instr.heredocs.map((h) => h.content) : []));
    expect(contents).toEqual(['hi "q"\n', '$V\n']);
  });

  it('stages the target does not need are neither expanded nor checked', () => {
    const plan = planText('FROM scratch AS dev\nENV X="${PORT:?need}"\nEXPOSE nope\nFROM scratch AS prod\n', { target: 'prod' });
    expect(plan.stages.map((s) => s.needed)).toEqual([false, true]);
    expect(() => planText('FROM scratch AS dev\nENV X="${PORT:?need}"\nFROM scratch AS prod\n')).not.toThrow();
    expect(() => planText('FROM scratch AS dev\nENV X="${PORT:?need}"\nFROM dev AS prod\n')).toThrow('need');
  });

  it('runs the ONBUILD triggers of a parent stage first', () => {
    const plan = planText('FROM scratch AS parent\nONBUILD LABEL from=trigger\nFROM parent\nLABEL own=1\n');
    const child = plan.stages[1];
    expect(child?.instructions.map((p) => [p.instr.kind, p.fromOnbuild])).toEqual([['LABEL', true], ['LABEL', false]]);
    expect(labelsOf(plan)).toEqual(['from=trigger', 'own=1']);
  });

  it('an ONBUILD trigger is typed only when a child runs it', () => {
    expect(() => planText('FROM scratch AS parent\nONBUILD COPY --nope a b\n')).not.toThrow();
    expect(() => planText('FROM scratch AS parent\nONBUILD COPY --nope a b\nFROM parent\n')).toThrow('Dockerfile:2: COPY: unknown flag: --nope');
  });

  it('warns about build args that nothing declares, but not about proxy args', () => {
    const plan = planText('ARG USED\nFROM scratch\nARG INSTAGE\n', {
      buildArgs: { USED: '1', INSTAGE: '2', NOPE: '3', HTTP_PROXY: 'http://proxy:3128' },
    });
    const messages = plan.warnings.map((w) => w.message);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain('[NOPE]');
  });

  it('does not call builder-consumed args unused', () => {
    const plan = planText('FROM scratch\n', { buildArgs: { SOURCE_DATE_EPOCH: '0', BUILDKIT_INLINE_CACHE: '1', TARGETARCH: 'arm64' } });
    expect(plan.warnings).toEqual([]);
  });

  it('an ARG declared only in a stage the target does not need is not consumed', () => {
    const plan = planText('FROM scratch AS a\nARG ONLYA\nFROM scratch AS b\n', { buildArgs: { ONLYA: 'x' }, target: 'b' });
    expect(plan.warnings.map((w) => w.code)).toEqual(['UNUSED_BUILD_ARG']);
  });

  it('proxy build args are kept apart for RUN and stay out of expansion', () => {
    const plan = planText('FROM scratch\nARG A=1\nLABEL p=$HTTP_PROXY\nRUN true\n', { buildArgs: { HTTP_PROXY: 'http://p' } });
    expect(labelsOf(plan)).toEqual(['p=']);
    expect(Object.fromEntries(plan.proxyEnv)).toEqual({ HTTP_PROXY: 'http://p' });
    expect(plan.stages[0]?.instructions[2]?.env.has('HTTP_PROXY')).toBe(false);
  });

  it('RUN sees only ARGs declared so far, and an ARG without any value is unset', () => {
    const plan = planText('FROM scratch\nRUN one\nARG A=1\nARG NOVALUE\nRUN two\n');
    const runs = plan.stages[0]?.instructions.filter((p) => p.instr.kind === 'RUN').map((p) => [...p.env.keys()]);
    expect(runs).toEqual([['PATH'], ['PATH', 'A']]);
  });

  it('SOURCE_DATE_EPOCH declared as an ARG does not enter the environment', () => {
    const plan = planText('FROM scratch\nARG SOURCE_DATE_EPOCH\nRUN x\n', { buildArgs: { SOURCE_DATE_EPOCH: '1' } });
    expect(plan.stages[0]?.instructions[1]?.env.has('SOURCE_DATE_EPOCH')).toBe(false);
  });

  it('FROM scratch starts with BuildKit\'s default PATH', () => {
    const plan = planText('FROM scratch\nLABEL p=$PATH\n');
    expect(labelsOf(plan)).toEqual(['p=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
  });

  it('a remote base image\'s ENV is used when the caller knows it', () => {
    const plan = planText('FROM golang:1.22\nWORKDIR $GOPATH/src\n', {
      baseImageEnv: (ref) => (ref === 'golang:1.22' ? ['GOPATH=/go', 'PATH=/go/bin'] : undefined),
    });
    const workdir = plan.stages[0]?.instructions[0]?.instr;
    expect(workdir?.kind === 'WORKDIR' && workdir.path).toBe('/go/src');
    expect(plan.stages[0]?.baseEnvKnown).toBe(true);
    expect(planText('FROM golang:1.22\n').stages[0]?.baseEnvKnown).toBe(false);
  });

  it('defers errors that depend on an unknown base image ENV to the build, and keeps the rest strict', () => {
    const plan = planText('FROM golang:1.22\nWORKDIR $GOPATH\nEXPOSE 80/tcp\n');
    const [workdir, expose] = plan.stages[0]?.instructions ?? [];
    expect(workdir?.deferred).toContain('WORKDIR');
    expect(workdir?.instr.kind === 'WORKDIR' && workdir.instr.path).toBe('$GOPATH');
    expect(expose?.deferred).toBeUndefined();
    expect(() => planText('FROM scratch\nWORKDIR $GOPATH\n')).toThrow('WORKDIR');
    expect(() => planText('FROM golang\nWORKDIR $GOPATH\n', { baseImageEnv: () => [] })).toThrow('WORKDIR');
  });

  it('expands the words of each instruction kind that Docker expands, and leaves RUN/CMD to the shell', () => {
    const plan = planText(
      [
        'FROM scratch',
        'ENV D=/data P=8080 U=app S=SIGTERM F=a.txt',
        'COPY --chown=$U:$U --chmod=0644 $F ${D}/',
        'ADD --chown=$U $F $D/b',
        'EXPOSE $P ${P}/udp',
        'VOLUME $D',
        'WORKDIR $D',
        'USER $U',
        'STOPSIGNAL $S',
        'RUN echo $D',
        'CMD echo $D',
        'LABEL "k$U"="v $U"',
      ].join('\n'),
    );
    const got = plan.stages[0]?.instructions.map((p) => p.instr) ?? [];
    const [, copy, add, expose, volume, workdir, user, signal, run, cmd, label] = got;
    expect(copy?.kind === 'COPY' && [copy.chown, copy.chmod, copy.sources, copy.dest]).toEqual(['app:app', '0644', ['a.txt'], '/data/']);
    expect(add?.kind === 'ADD' && [add.chown, add.dest]).toEqual(['app', '/data/b']);
    expect(expose?.kind === 'EXPOSE' && expose.ports).toEqual(['8080', '8080/udp']);
    expect(volume?.kind === 'VOLUME' && volume.paths).toEqual(['/data']);
    expect(workdir?.kind === 'WORKDIR' && workdir.path).toBe('/data');
    expect(user?.kind === 'USER' && user.user).toBe('app');
    expect(signal?.kind === 'STOPSIGNAL' && signal.signal).toBe('SIGTERM');
    expect(run?.kind === 'RUN' && run.command).toEqual({ form: 'shell', command: 'echo $D' });
    expect(cmd?.kind === 'CMD' && cmd.command).toEqual({ form: 'shell', command: 'echo $D' });
    expect(label?.kind === 'LABEL' && label.pairs).toEqual([{ key: 'kapp', value: 'v app' }]);
  });
});

import { describe, expect, it } from 'vitest';
import { DockerfileError } from '../../../../src/dockerfile/errors.js';
import { parseStages } from '../../../../src/dockerfile/stages.js';
import { planText } from '../../../helpers/plan.js';

function errorOf(text: string, opts: Parameters<typeof planText>[1] = {}): DockerfileError {
  try {
    planText(text, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(DockerfileError);
    return err as DockerfileError;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be refused`);
}

describe('validation errors are located at PATH:LINE', () => {
  it.each([
    ['unknown instruction, with a suggestion', 'FROM scratch\nFORM x\n', 'Dockerfile:2: unknown instruction: FORM (did you mean FROM?)'],
    ['unknown instruction, lower case', 'FROM scratch\nexpsoe 80\n', 'Dockerfile:2: unknown instruction: expsoe (did you mean EXPOSE?)'],
    ['unknown instruction, no near name', 'FROM scratch\nFROBNICATE x\n', 'Dockerfile:2: unknown instruction: FROBNICATE'],
    ['unknown flag', 'FROM scratch\nCOPY --foo=bar a b\n', 'Dockerfile:2: COPY: unknown flag: --foo'],
    ['flag on a flagless instruction', 'FROM scratch\nWORKDIR --x=1 /a\n', 'Dockerfile:2: WORKDIR: unknown flag: --x (WORKDIR takes no flags)'],
    ['string flag without a value', 'FROM scratch\nCOPY --from a b\n', 'Dockerfile:2: COPY: missing a value on flag: --from'],
    ['duplicate flag', 'FROM scratch\nCOPY --chown=1 --chown=2 a b\n', 'Dockerfile:2: COPY: duplicate flag specified: --chown'],
    ['bad boolean', 'FROM scratch\nCOPY --link=maybe a b\n', 'Dockerfile:2: COPY: expecting boolean value for flag --link, not: maybe'],
    ['chmod not a mode', 'FROM scratch\nCOPY --chmod=abc a b\n', "Dockerfile:2: COPY: invalid chmod parameter: 'abc'. it should be octal string and between 0 and 07777"],
    ['chmod 8', 'FROM scratch\nADD --chmod=0789 a b\n', "Dockerfile:2: ADD: invalid chmod parameter: '0789'"],
    ['chmod too large', 'FROM scratch\nCOPY --chmod=17777 a b\n', "Dockerfile:2: COPY: invalid chmod parameter: '17777'"],
    ['empty boolean', 'FROM scratch\nCOPY --link= a b\n', 'Dockerfile:2: COPY: missing a value on flag: --link'],
    ['boolean 1 is not true/false', 'FROM scratch\nCOPY --link=1 a b\n', 'Dockerfile:2: COPY: expecting boolean value for flag --link, not: 1'],
    ['unknown flag with a suggestion', 'FROM scratch\nCOPY --chmode=755 a b\n', 'Dockerfile:2: COPY: unknown flag: --chmode (did you mean --chmod?)'],
    ['VOLUME empty after expansion', 'FROM scratch\nVOLUME $NOPE\n', 'Dockerfile:2: VOLUME specified can not be an empty string'],
    ['bad STOPSIGNAL', 'FROM scratch\nSTOPSIGNAL SIGFOO\n', 'Dockerfile:2: STOPSIGNAL: invalid signal: SIGFOO'],
    ['heredoc as COPY destination', 'FROM scratch\nCOPY a <<EOF\nx\nEOF\n', 'Dockerfile:2: COPY cannot accept a heredoc as a destination'],
    ['sharing on a bind mount', 'FROM scratch\nRUN --mount=type=bind,target=/a,sharing=locked x\n', 'Dockerfile:2: RUN --mount: sharing is only allowed for cache mounts'],
    ['bare mount field', 'FROM scratch\nRUN --mount=type=cache,target=/a,foo x\n', "Dockerfile:2: RUN --mount: invalid field 'foo' must be a key=value pair"],
    ['checksum with two sources', 'FROM scratch\nADD --checksum=sha256:' + 'a'.repeat(64) + ' https://a/x https://a/y /\n', "Dockerfile:2: ADD: checksum can't be specified for multiple sources"],
    ['bad duration', 'FROM scratch\nHEALTHCHECK --interval=5x CMD true\n', 'Dockerfile:2: HEALTHCHECK --interval: time: unknown unit "x" in duration "5x"'],
    ['duration without unit', 'FROM scratch\nHEALTHCHECK --timeout=5 CMD true\n', 'Dockerfile:2: HEALTHCHECK --timeout: time: missing unit in duration "5"'],
    ['tiny interval', 'FROM scratch\nHEALTHCHECK --interval=1us CMD true\n', 'Dockerfile:2: HEALTHCHECK --interval: interval "1us" cannot be less than 1ms'],
    ['negative retries', 'FROM scratch\nHEALTHCHECK --retries=-1 CMD true\n', 'Dockerfile:2: HEALTHCHECK --retries cannot be negative (-1)'],
    ['healthcheck type', 'FROM scratch\nHEALTHCHECK RUN true\n', 'Dockerfile:2: Unknown type "RUN" in HEALTHCHECK (try CMD)'],
    ['COPY with one argument', 'FROM scratch\nCOPY a\n', 'Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined.'],
    ['FROM with two arguments', 'FROM scratch AS\n', 'Dockerfile:1: FROM requires either one or three arguments'],
    ['bad stage name', 'FROM scratch AS 1st\n', 'Dockerfile:1: invalid name for build stage: "1st", name can\'t start with a number or contain symbols'],
    ['WORKDIR empty after expansion', 'FROM scratch\nWORKDIR $NOPE\n', 'Dockerfile:2: WORKDIR: cannot normalize nothing'],
    ['EXPOSE with no port', 'FROM scratch\nEXPOSE\n', 'Dockerfile:2: EXPOSE requires at least one argument'],
    ['LABEL without a value', 'FROM scratch\nLABEL foo\n', 'Dockerfile:2: LABEL must have two arguments'],
    ['bad EXPOSE protocol', 'FROM scratch\nEXPOSE 80/xyz\n', 'Dockerfile:2: EXPOSE: invalid proto: xyz'],
    ['bad EXPOSE port', 'FROM scratch\nEXPOSE http\n', 'Dockerfile:2: EXPOSE: invalid containerPort: http'],
    ['ONBUILD FROM', 'FROM scratch\nONBUILD FROM x\n', "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"],
    ['ONBUILD MAINTAINER', 'FROM scratch\nONBUILD MAINTAINER me\n', "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger"],
    ['ONBUILD ONBUILD', 'FROM scratch\nONBUILD ONBUILD RUN x\n', "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"],
    ['instruction before FROM', 'ARG A\nRUN x\nFROM scratch\n', 'Dockerfile:2: RUN is not allowed before the first FROM'],
    ['no FROM at all', 'ARG A\n', 'Dockerfile:1: the Dockerfile has no FROM instruction'],
    ['duplicate stage names', 'FROM scratch AS a\nFROM scratch AS A\n', 'Dockerfile:2: duplicate stage name "a"'],
    ['SHELL not JSON', 'FROM scratch\nSHELL /bin/sh -c\n', 'Dockerfile:2: SHELL requires the arguments to be in JSON form'],
    ['bad network mode', 'FROM scratch\nRUN --network=bridge x\n', 'Dockerfile:2: RUN: invalid network mode "bridge"'],
    ['bad mount type', 'FROM scratch\nRUN --mount=type=NFS x\n', 'Dockerfile:2: RUN --mount: unsupported mount type "nfs" (use bind, cache, tmpfs, secret or ssh)'],
    ['bad mount key', 'FROM scratch\nRUN --mount=type=cache,colour=blue x\n', "Dockerfile:2: RUN --mount: unexpected key 'colour' in 'colour=blue'"],
    ['checksum on a local file', 'FROM scratch\nADD --checksum=sha256:' + 'a'.repeat(64) + ' a.txt /\n', 'Dockerfile:2: ADD: checksum requires HTTP(S) or Git sources'],
    ['bad expansion', 'FROM scratch\nENV A="${B:?B is required}"\n', 'Dockerfile:2: ENV: '],
  ])('%s', (_name, text, expected) => {
    expect(errorOf(text).message.startsWith(expected)).toBe(true);
  });

  it.each([
    ['symbolic chmod', 'FROM scratch\nCOPY --chmod=u+x,go-w a b\n'],
    ['long octal chmod', 'FROM scratch\nCOPY --chmod=00755 a b\n'],
    ['git checksum', 'FROM scratch\nADD --checksum=' + 'a'.repeat(40) + ' https://example.com/repo.git /src\n'],
    ['mount type in upper case', 'FROM scratch\nRUN --mount=type=Cache,target=/c x\n'],
    ['realtime STOPSIGNAL', 'FROM scratch\nSTOPSIGNAL SIGRTMIN+3\n'],
    ['numeric STOPSIGNAL', 'FROM scratch\nSTOPSIGNAL 9\n'],
    ['empty --from is ignored', 'FROM scratch\nCOPY --from= a b\n'],
    ['a secret as an ordinary variable', 'FROM scratch\nRUN --mount=type=secret,id=t,env=GITHUB_TOKEN x\n'],
    ['a secret as a lower-case variable', 'FROM scratch\nRUN --mount=type=secret,id=t,env=_npm_token x\n'],

  ])('accepts %s, as BuildKit does', (_name, text) => {
    expect(() => planText(text)).not.toThrow();
  });

  it.each([
    ['a user name for uid', 'RUN --mount=type=cache,target=/c,uid=app x', 'RUN --mount: invalid value for uid: "app"', 'uid is a number (BuildKit takes no names here): write uid=1000, the id the image\'s /etc/passwd gives'],
    ['a group name for gid', 'RUN --mount=type=cache,target=/c,gid=staff x', 'RUN --mount: invalid value for gid: "staff"', 'the id the image\'s /etc/group gives'],
    ['a mode that is not octal', 'RUN --mount=type=cache,target=/c,mode=rwx x', 'RUN --mount: invalid value for mode: "rwx"', 'mode is octal'],
    ['an unknown sharing', 'RUN --mount=type=cache,target=/c,sharing=exclusive x', 'RUN --mount: unsupported sharing value "exclusive"', 'sharing=shared, sharing=private or sharing=locked'],
    [
      'a secret as LD_PRELOAD',
      'RUN --mount=type=secret,id=t,env=LD_PRELOAD x',
      'RUN --mount: a secret cannot be given to the step as the variable "LD_PRELOAD": the dynamic loader and libc read it in the host tools that start the step',
      'RUN --mount=type=secret,id=ID LD_PRELOAD="$(cat /run/secrets/ID)" COMMAND',
    ],
    ['a secret as IFS', 'RUN --mount=type=secret,id=t,env=IFS x', 'RUN --mount: a secret cannot be given to the step as the variable "IFS": the shell that starts the step reads or sets it', 'mount it as a file'],
    ['a secret as PATH', 'RUN --mount=type=secret,id=t,env=PATH x', 'RUN --mount: a secret cannot be given to the step as the variable "PATH": the tools that start the step need their own PATH', 'mount it as a file'],
    ['a secret as libmount\'s', 'RUN --mount=type=secret,id=t,env=LIBMOUNT_FSTAB x', 'RUN --mount: a secret cannot be given to the step as the variable "LIBMOUNT_FSTAB": util-linux reads it in the tools that start the step', 'mount it as a file'],
    [
      'a secret as a name a shell drops',
      'RUN --mount=type=secret,id=t,env=npm_config_//registry.example.com/:_authToken x',
      'RUN --mount: a secret cannot be given to the step as the variable "npm_config_//registry.example.com/:_authToken": only letters, digits and _ (not first) make a name that every runner can pass on: a shell between hoist and the step drops the others',
      'NAME="$(cat /run/secrets/ID)"',
    ],
    ['a secret as proot\'s', 'RUN --mount=type=secret,id=t,env=PROOT_LOADER x', 'RUN --mount: a secret cannot be given to the step as the variable "PROOT_LOADER": proot reads it (PROOT_LOADER names a program it runs)', 'PROOT_LOADER="$(cat /run/secrets/ID)"'],
  ])('a mount option\'s own mistake gets its own hint: %s', (_name, line, message, hint) => {
    const err = errorOf(`FROM scratch\n${line}\n`);
    expect(err.message).toBe(`Dockerfile:2: ${message}`);
    expect(err.hint).toContain(hint);
  });

  it('reports the first line of a multi-line instruction and keeps the range', () => {
    const err = errorOf('FROM scratch\nCOPY \\\n  --bogus \\\n  a b\n');
    expect(err.location).toEqual({ file: 'Dockerfile', line: 2, endLine: 4 });
  });

  it('an expansion error names the variable', () => {
    expect(errorOf('FROM scratch\nENV A="${B:?B is required}"\n').message).toContain('B is required');
  });
});

describe('typed instructions', () => {
  it('types every instruction kind with its flags', () => {
    const df = parseStages(
      [
        'FROM --platform=linux/arm64 scratch AS Build',
        'RUN --mount=type=cache,target=/c --network=none --security=insecure make',
        'CMD ["run", "it"]',
        'ENTRYPOINT exec app',
        'COPY --from=x --chown=1:2 --chmod=755 --link --parents --exclude=*.md --exclude=*.txt a b /dst/',
        'ADD --checksum=sha256:abc --keep-git-dir --unpack=false https://x/y.tgz /',
        'ENV A=1 B="2 3"',
        'LABEL l=1',
        'MAINTAINER me <me@example.com>',
        'EXPOSE 80 443/tcp',
        'VOLUME ["/a", "/b"]',
        'USER app:app',
        'WORKDIR /w',
        'ARG X Y=2',
        'ONBUILD RUN echo hi',
        'STOPSIGNAL SIGKILL',
        'HEALTHCHECK --interval=30s --timeout=1m30s --start-period=5s --start-interval=2s --retries=3 CMD curl -f http://x/',
        'SHELL ["/bin/bash", "-c"]',
      ].join('\n'),
      'Dockerfile',
    );
    const stage = df.stages[0];
    expect(stage?.name).toBe('build');
    expect(stage?.from.platform).toBe('linux/arm64');
    const kinds = stage?.instructions.map((i) => i.kind);
    expect(kinds).toEqual(['RUN', 'CMD', 'ENTRYPOINT', 'COPY', 'ADD', 'ENV', 'LABEL', 'MAINTAINER', 'EXPOSE', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);
    const byKind = Object.fromEntries(stage?.instructions.map((i) => [i.kind, i]) ?? []);
    expect(byKind.RUN).toMatchObject({ mounts: ['type=cache,target=/c'], network: 'none', security: 'insecure', command: { form: 'shell', command: 'make' } });
    expect(byKind.CMD).toMatchObject({ command: { form: 'exec', argv: ['run', 'it'] } });
    expect(byKind.COPY).toMatchObject({ from: 'x', chown: '1:2', chmod: '755', link: true, parents: true, excludes: ['*.md', '*.txt'], sources: ['a', 'b'], dest: '/dst/' });
    expect(byKind.ADD).toMatchObject({ checksum: 'sha256:abc', keepGitDir: true, unpack: false, link: false });
    expect(byKind.ENV).toMatchObject({ pairs: [{ key: 'A', value: '1' }, { key: 'B', value: '"2 3"' }] });
    expect(byKind.ARG).toMatchObject({ args: [{ key: 'X', value: undefined }, { key: 'Y', value: '2' }] });
    expect(byKind.ONBUILD).toMatchObject({ expression: 'RUN echo hi', triggerNode: { keyword: 'run' } });
    expect(byKind.HEALTHCHECK).toMatchObject({
      test: ['CMD-SHELL', 'curl -f http://x/'], intervalNs: 30e9, timeoutNs: 90e9, startPeriodNs: 5e9, startIntervalNs: 2e9, retries: 3,
    });
    expect(byKind.MAINTAINER).toMatchObject({ maintainer: 'me <me@example.com>' });
  });

  it('takes COPY heredocs as sources', () => {
    const df = parseStages('FROM scratch\nCOPY <<A <<B /dst/\nfirst\nA\nsecond\nB\n', 'Dockerfile');
    const copy = df.stages[0]?.instructions[0];
    expect(copy?.kind === 'COPY' && copy.sources).toEqual([]);
    expect(copy?.kind === 'COPY' && copy.heredocs.map((h) => [h.name, h.content])).toEqual([['A', 'first\n'], ['B', 'second\n']]);
  });

  it('HEALTHCHECK NONE and exec form', () => {
    const df = parseStages('FROM scratch\nHEALTHCHECK NONE\nHEALTHCHECK CMD ["/bin/check", "-q"]\n', 'Dockerfile');
    const [none, exec] = df.stages[0]?.instructions ?? [];
    expect(none?.kind === 'HEALTHCHECK' && none.test).toEqual(['NONE']);
    expect(exec?.kind === 'HEALTHCHECK' && exec.test).toEqual(['CMD', '/bin/check', '-q']);
  });
});

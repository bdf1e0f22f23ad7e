import { DockerfileError } from '../../dockerfile/errors.js';
import type { Instruction } from '../../dockerfile/instructions/types.js';
import { parseMountSpec, type MountSpec } from '../../dockerfile/instructions/mount.js';
import { isValidSignal } from './signals.js';
import { isGitSource, isHttpSource } from '../add/source-kind.js';
import { SHELL_VARIABLE_NAME, unsafePrivateVariable } from '../../run/process-spec.js';

const PORT_SPEC = /^(?:(?:[^:]*:)?[^:]*:)?(\d+)(?:-(\d+))?(?:\/(.*))?$/;
const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

/** EXPOSE words as image-config keys (`80/tcp`), ranges expanded. Throws Error with Docker's wording. */
export function parseExposedPorts(ports: readonly string[]): string[] {
  const out: string[] = [];
  for (const spec of ports) {
    const m = PORT_SPEC.exec(spec);
    if (!m) throw new Error(`invalid containerPort: ${spec}`);
    const proto = (m[3] ?? 'tcp').toLowerCase();
    if (!PROTOCOLS.has(proto)) throw new Error(`invalid proto: ${m[3]}`);
    const start = Number(m[1]);
    const end = m[2] === undefined ? start : Number(m[2]);
    if (start > 65535 || end > 65535) throw new Error(`invalid containerPort: ${spec}`);
    if (end < start) throw new Error(`invalid range specified for container port: ${spec}`);
    for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  }
  return out;
}

/** `--chmod`: octal up to 07777, or a symbolic mode such as u+x,go-w (BuildKit accepts both). */
export function isValidChmod(value: string): boolean {
  if (/^[0-7]+$/.test(value)) return Number.parseInt(value, 8) <= 0o7777;
  return value.split(',').every((clause) => /^[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+$/.test(clause));
}

const DIGEST_CHECKSUM = /^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/;
const GIT_CHECKSUM = /^([a-f0-9]{40}|[a-f0-9]{64})$/;
const NETWORK_MODES = new Set(['default', 'none', 'host']);
const SECURITY_MODES = new Set(['sandbox', 'insecure']);
const SHARING_MODES = new Set(['shared', 'private', 'locked']);

/** A broken rule of a mount, with what to write instead when there is more to say than the general form. */
class MountRuleError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** The per-type rules of BuildKit's parseMount that do not need the filesystem. */
function checkMount(spec: MountSpec): void {
  const o = spec.options;
  const sharing = o.get('sharing');
  if (sharing !== undefined) {
    if (spec.type !== 'cache') throw new Error('sharing is only allowed for cache mounts');
    if (!SHARING_MODES.has(sharing.toLowerCase())) throw new MountRuleError(`unsupported sharing value "${sharing}"`, 'write sharing=shared, sharing=private or sharing=locked');
  }
  for (const key of ['uid', 'gid']) {
    const v = o.get(key);
    if (v !== undefined && !/^\d+$/.test(v)) {
      throw new MountRuleError(`invalid value for ${key}: ${JSON.stringify(v)}`, `${key} is a number (BuildKit takes no names here): write ${key}=1000, the id the image's /etc/${key === 'uid' ? 'passwd' : 'group'} gives`);
    }
  }
  const mode = o.get('mode');
  if (mode !== undefined && !/^[0-7]+$/.test(mode)) throw new MountRuleError(`invalid value for mode: ${JSON.stringify(mode)}`, 'mode is octal: write mode=0755, or mode=0700');
  if (o.has('required') && spec.type !== 'secret' && spec.type !== 'ssh') {
    throw new Error('required is only allowed for secret and ssh mounts');
  }
  if (spec.type === 'secret' && spec.from !== undefined) throw new Error('secret mounts cannot have a from');
  const env = o.get('env');
  if (spec.type === 'secret' && env !== undefined && env !== '') {
    const why = unsafePrivateVariable(env);
    if (why !== undefined) {
      throw new MountRuleError(
        `a secret cannot be given to the step as the variable ${JSON.stringify(env)}: ${why}`,
        `mount it as a file and set the variable in the step: RUN --mount=type=secret,id=ID ${SHELL_VARIABLE_NAME.test(env) ? env : 'NAME'}="$(cat /run/secrets/ID)" COMMAND`,
      );
    }
  }
}

/** Checks an expanded instruction's values; throws a located DockerfileError. */
export function validateExpanded(instr: Instruction): void {
  const fail = (message: string, hint?: string): never => {
    throw new DockerfileError('BAD_INSTRUCTION', message, instr.location, hint ? { hint } : {});
  };
  switch (instr.kind) {
    case 'EXPOSE':
      try {
        parseExposedPorts(instr.ports);
      } catch (err) {
        fail(`EXPOSE: ${(err as Error).message}`, 'write PORT[/tcp|udp|sctp], e.g. EXPOSE 80/tcp 53/udp');
      }
      break;
    case 'COPY':
    case 'ADD':
      if (instr.chmod !== undefined && !isValidChmod(instr.chmod)) {
        fail(
          `${instr.kind}: invalid chmod parameter: '${instr.chmod}'. it should be octal string and between 0 and 07777`,
          'give an octal mode such as 0755, or a symbolic one such as u+x',
        );
      }
      if (instr.kind === 'ADD' && instr.checksum !== undefined) {
        if (instr.sources.length + instr.heredocs.length !== 1) fail("ADD: checksum can't be specified for multiple sources");
        const src = instr.sources[0] ?? '';
        if (isGitSource(src)) {
          if (!GIT_CHECKSUM.test(instr.checksum)) fail(`ADD --checksum: invalid commit checksum ${JSON.stringify(instr.checksum)}`, 'give the full commit hash');
        } else if (isHttpSource(src)) {
          if (!DIGEST_CHECKSUM.test(instr.checksum)) {
            fail(`ADD --checksum: invalid digest ${JSON.stringify(instr.checksum)}`, 'write --checksum=sha256:<64 hex digits>');
          }
        } else {
          fail('ADD: checksum requires HTTP(S) or Git sources');
        }
      }
      break;
    case 'RUN':
      if (instr.network !== undefined && !NETWORK_MODES.has(instr.network)) {
        fail(`RUN: invalid network mode ${JSON.stringify(instr.network)}`, 'use default, none or host');
      }
      if (instr.security !== undefined && !SECURITY_MODES.has(instr.security)) {
        fail(`RUN: security ${JSON.stringify(instr.security)} is not valid`, 'use sandbox or insecure');
      }
      for (const m of instr.mounts) {
        try {
          checkMount(parseMountSpec(m));
        } catch (err) {
          fail(`RUN --mount: ${(err as Error).message}`, (err instanceof MountRuleError ? err.hint : undefined) ?? 'write --mount=type=bind|cache|tmpfs|secret|ssh,target=PATH[,option=value...] (BuildKit\'s options)');
        }
      }
      break;
    case 'VOLUME':
      if (instr.paths.some((p) => p.trim() === '')) fail('VOLUME specified can not be an empty string');
      break;
    case 'STOPSIGNAL':
      if (!isValidSignal(instr.signal)) fail(`STOPSIGNAL: invalid signal: ${instr.signal}`, 'use a signal name such as SIGTERM or a number');
      break;
    case 'WORKDIR':
      if (instr.path === '') fail('WORKDIR: cannot normalize nothing (the path is empty after expansion)');
      break;
    default:
      break;
  }
}

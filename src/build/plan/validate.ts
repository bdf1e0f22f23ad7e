import { DockerfileError } from '../../dockerfile/errors.js';
import type { Instruction } from '../../dockerfile/instructions/types.js';
import { parseMountSpec } from '../../dockerfile/instructions/mount.js';

const PORT_SPEC = /^(?:(?:[^:]*:)?[^:]*:)?(\d+)(?:-(\d+))?(?:\/(.*))?$/;
const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

/** EXPOSE words as image-config keys (`80/tcp`), ranges expanded. Throws Error with Docker's wording. */
export function parseExposedPorts(ports: readonly string[]): string[] {
  const out: string[] = [];
  for (const spec of ports) {
    const m = PORT_SPEC.exec(spec);
    if (!m) throw new Error(`invalid port ${JSON.stringify(spec)}`);
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

const OCTAL_MODE = /^[0-7]{1,4}$/;
const CHECKSUM = /^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/;
const NETWORK_MODES = new Set(['default', 'none', 'host']);
const SECURITY_MODES = new Set(['sandbox', 'insecure']);

function isRemoteSource(src: string): boolean {
  return /^(https?:\/\/|git@|git:\/\/)/.test(src) || /\.git(#.*)?$/.test(src);
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
      if (instr.chmod !== undefined && !OCTAL_MODE.test(instr.chmod)) {
        fail(`${instr.kind} --chmod: invalid mode ${JSON.stringify(instr.chmod)}`, 'give an octal mode such as 0755 or 644');
      }
      if (instr.from !== undefined && instr.from === '') fail(`${instr.kind} --from: the value is empty`);
      if (instr.kind === 'ADD' && instr.checksum !== undefined) {
        if (!CHECKSUM.test(instr.checksum)) {
          fail(`ADD --checksum: invalid digest ${JSON.stringify(instr.checksum)}`, 'write --checksum=sha256:<64 hex digits>');
        }
        if (instr.sources.length !== 1 || !isRemoteSource(instr.sources[0] as string)) {
          fail('ADD --checksum can be used only with a single HTTP(S) or Git source');
        }
      }
      break;
    case 'RUN':
      if (instr.network !== undefined && !NETWORK_MODES.has(instr.network)) {
        fail(`RUN --network: unsupported network mode ${JSON.stringify(instr.network)}`, 'use default, none or host');
      }
      if (instr.security !== undefined && !SECURITY_MODES.has(instr.security)) {
        fail(`RUN --security: unsupported security mode ${JSON.stringify(instr.security)}`, 'use sandbox or insecure');
      }
      for (const m of instr.mounts) {
        try {
          parseMountSpec(m);
        } catch (err) {
          fail(`RUN --mount: ${(err as Error).message}`);
        }
      }
      break;
    case 'WORKDIR':
      if (instr.path === '') fail('WORKDIR: the path is empty after expansion');
      break;
    default:
      break;
  }
}

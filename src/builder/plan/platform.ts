import { HoistError } from '../../errors.js';
import { formatPlatform, type Platform } from '../../oci/index.js';

/**
 * An OS/architecture pair as in the OCI image index, e.g. linux/arm64/v8.
 * The same type as the image model's; this module only adds the lenient,
 * containerd-style parsing of what users type (bare `arm64`, `aarch64`, `armhf`).
 */
export type PlatformSpec = Platform;
export { formatPlatform };

const NODE_ARCH: Readonly<Record<string, string>> = {
  x64: 'amd64',
  ia32: '386',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
};

/** The OCI platform of a Node.js `process.platform`/`process.arch` pair. */
export function platformFromNode(nodePlatform: string, nodeArch: string): PlatformSpec {
  const os = nodePlatform === 'win32' ? 'windows' : nodePlatform;
  const architecture = NODE_ARCH[nodeArch] ?? nodeArch;
  return architecture === 'arm' ? { os, architecture, variant: 'v7' } : { os, architecture };
}

/** containerd's normalisation for the spellings people use. */
function normalizeArch(arch: string, variant: string | undefined): { architecture: string; variant?: string } {
  switch (arch) {
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return variant && variant !== 'v1' ? { architecture: 'amd64', variant } : { architecture: 'amd64' };
    case 'aarch64':
    case 'arm64':
      return variant && variant !== 'v8' && variant !== '8' ? { architecture: 'arm64', variant } : { architecture: 'arm64' };
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      return { architecture: 'arm', variant: variant ? (variant.startsWith('v') ? variant : `v${variant}`) : 'v7' };
    case 'i386':
      return { architecture: '386' };
    default:
      return variant ? { architecture: arch, variant } : { architecture: arch };
  }
}

/** Parse `os/arch[/variant]` (or a bare `arch`, meaning linux). */
export function parsePlatform(text: string): PlatformSpec {
  const parts = text.trim().toLowerCase().split('/');
  if (parts.some((p) => p === '') || parts.length > 3) {
    throw new HoistError('BAD_PLATFORM', `invalid platform ${JSON.stringify(text)}`, {
      hint: 'write os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8',
    });
  }
  const [first, second, third] = parts as [string, string | undefined, string | undefined];
  if (second === undefined) return { os: 'linux', ...normalizeArch(first, undefined) };
  return { os: first, ...normalizeArch(second, third) };
}

/**
 * How a program is linked, from its ELF program headers: a dynamically
 * linked executable names its loader (PT_INTERP), a statically linked one
 * (static or static-pie) has none and makes its system calls itself, so
 * nothing preloaded into it (fakeroot) sees them. Only the ELF header and
 * the program header table are read, never the rest of the file; 32- and
 * 64-bit files of either byte order are understood, whatever the host is.
 */
import { open, type FileHandle } from 'node:fs/promises';

export type ElfLinkage =
  /** Not an ELF file (a script, text, a truncated or malformed file): the kernel runs it through an interpreter or not at all. */
  | { kind: 'not-elf' }
  | { kind: 'static' }
  /** `interpreter` is the loader it names, e.g. /lib64/ld-linux-x86-64.so.2. */
  | { kind: 'dynamic'; interpreter: string };

const ELF_MAGIC = 0x7f454c46;
const PT_INTERP = 3;
/** e_phnum's escape value: the real count is in section header 0's sh_info. */
const PN_XNUM = 0xffff;
/** More program headers than any linker writes: a file claiming them is not taken as a program. */
const MAX_TABLE_BYTES = 1 << 20;
const MAX_INTERPRETER = 4096;

/** Field offsets and readers for one ELF class and byte order. */
interface Layout {
  /** Reads an address-sized (Elf32_Off or Elf64_Off) field; undefined past 2^53. */
  offset(buf: Buffer, at: number): number | undefined;
  u16(buf: Buffer, at: number): number;
  u32(buf: Buffer, at: number): number;
  headerSize: number;
  phoff: number;
  phentsize: number;
  phnum: number;
  shoff: number;
  shInfo: number;
  /** p_offset and p_filesz inside a program header. */
  pOffset: number;
  pFilesz: number;
  minPhentsize: number;
}

function layoutOf(ident: Buffer): Layout | undefined {
  const cls = ident[4];
  const data = ident[5];
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) return undefined;
  const le = data === 1;
  const u16 = (b: Buffer, at: number): number => (le ? b.readUInt16LE(at) : b.readUInt16BE(at));
  const u32 = (b: Buffer, at: number): number => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  if (cls === 1) {
    return { offset: u32, u16, u32, headerSize: 52, phoff: 28, phentsize: 42, phnum: 44, shoff: 32, shInfo: 28, pOffset: 4, pFilesz: 16, minPhentsize: 32 };
  }
  const offset = (b: Buffer, at: number): number | undefined => {
    const v = le ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(v);
  };
  return { offset, u16, u32, headerSize: 64, phoff: 32, phentsize: 54, phnum: 56, shoff: 40, shInfo: 44, pOffset: 8, pFilesz: 32, minPhentsize: 56 };
}

/** `length` bytes at `position`, or undefined if the file is shorter. */
async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer | undefined> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return bytesRead === length ? buf : undefined;
}

const NOT_ELF: ElfLinkage = { kind: 'not-elf' };

/** How the program at `file` is linked. A file that cannot be opened is an error of the caller's (it resolved the path). */
export async function elfLinkage(file: string): Promise<ElfLinkage> {
  const fh = await open(file, 'r');
  try {
    return await linkageOf(fh);
  } finally {
    await fh.close();
  }
}

async function linkageOf(fh: FileHandle): Promise<ElfLinkage> {
  const ident = await readAt(fh, 0, 16);
  if (ident === undefined || ident.readUInt32BE(0) !== ELF_MAGIC) return NOT_ELF;
  const l = layoutOf(ident);
  if (l === undefined) return NOT_ELF;
  const header = await readAt(fh, 0, l.headerSize);
  if (header === undefined) return NOT_ELF;
  const phoff = l.offset(header, l.phoff);
  const entsize = l.u16(header, l.phentsize);
  let count = l.u16(header, l.phnum);
  if (count === PN_XNUM) {
    const shoff = l.offset(header, l.shoff);
    const section0 = shoff === undefined || shoff === 0 ? undefined : await readAt(fh, shoff, l.shInfo + 4);
    if (section0 === undefined) return NOT_ELF;
    count = l.u32(section0, l.shInfo);
  }
  if (phoff === undefined || entsize < l.minPhentsize || count * entsize > MAX_TABLE_BYTES) return NOT_ELF;
  // No program headers (a relocatable object): nothing the kernel would run.
  if (count === 0) return NOT_ELF;
  const table = await readAt(fh, phoff, count * entsize);
  if (table === undefined) return NOT_ELF;
  for (let i = 0; i < count; i++) {
    const at = i * entsize;
    if (l.u32(table, at) !== PT_INTERP) continue;
    const offset = l.offset(table, at + l.pOffset);
    const size = l.offset(table, at + l.pFilesz);
    if (offset === undefined || size === undefined || size === 0 || size > MAX_INTERPRETER) return NOT_ELF;
    const name = await readAt(fh, offset, size);
    if (name === undefined) return NOT_ELF;
    const end = name.indexOf(0);
    return { kind: 'dynamic', interpreter: name.subarray(0, end === -1 ? name.length : end).toString('latin1') };
  }
  return { kind: 'static' };
}

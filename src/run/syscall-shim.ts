/**
 * A 1,064-byte static x86-64 program (1,208 with the heap rule below) that
 * proot runs in front of a step in a glibc image: it makes four system
 * calls that proot does not follow fail with ENOSYS for the step and
 * everything it starts (a seccomp filter, inherited), then executes the
 * step. glibc answers ENOSYS with calls proot handles, as it does on older
 * kernels:
 *
 * - faccessat2 and statx (proot before 5.4; Debian 12 and 13 ship 5.1) go
 *   to the kernel with the image's paths untranslated, so they look at this
 *   machine's files: apt's check that _apt may read its keyrings fails in a
 *   container without /etc/apt. glibc then uses faccessat and fstatat.
 * - clone3 (no proot release knows it, 5.4.0 included): glibc 2.34 and
 *   later makes every thread with it, and proot, reading its flags as
 *   clone's, gives the new thread a copy of the process's state instead of
 *   sharing it. Under proot 5.1 a thread's system calls on memory the main
 *   thread allocated later then fail with EFAULT: `npm ci` stops at "EFAULT:
 *   bad address in system call argument, mkdir". glibc then uses clone.
 *   Docker's default seccomp profile answers clone3 with ENOSYS as well.
 * - io_uring_setup: file operations queued through io_uring (libuv 1.45 and
 *   later, in Node.js 20 where enabled) reach the kernel without proot, with
 *   the image's paths, so they open this machine's files. Without it libuv
 *   uses its thread pool. Docker's default profile refuses it too (EPERM).
 *
 * Under proot before 5.2 a second build of the same source also refuses
 * the mmap with which proot emulates a program's heap (ShimOptions.kernelHeap).
 *
 * No native module or compiler is needed at install: the bytes below are
 * what GNU as and ld made of this source (`as [--defsym KERNEL_HEAP=1] -o
 * shim.o shim.s && ld -static -n --build-id=none -s -o shim shim.o`;
 * test/integration/run/syscall-shim.test.ts assembles both again and compares):
 *
 *   _start: prctl(PR_SET_NO_NEW_PRIVS, 1); seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog);
 *           if either failed (a kernel or sandbox without seccomp filters), say so on stderr
 *           and go on without the filter; execve(argv[1], &argv[2], envp) (&argv[1] when no argv[2]: the
 *           program's path, then its argv as the step gives it, argv[0] included); if that failed,
 *           say so as util-linux's setpriv (the chroot runner's) does and exit 127 (not found) or 126
 *   filter: arch != AUDIT_ARCH_X86_64 -> allow (i386 programs; x32 calls, nr | 0x40000000, pass too);
 *           nr 439 (faccessat2), 435 (clone3), 425 (io_uring_setup) or 332 (statx) -> ERRNO(ENOSYS);
 *           with KERNEL_HEAP, mmap(NULL, 0x1001000, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, _) called
 *           from at or above 4 GiB -> ERRNO(ENOMEM); else allow
 */
export const SYSCALL_SHIM_SOURCE = `# hoist's syscall shim for proot: install a seccomp filter that makes faccessat2 (439), clone3 (435), io_uring_setup (425)
# and statx (332) fail with ENOSYS (glibc then uses faccessat, clone and fstatat, which proot follows), then execve(argv[1], argv+2, envp): the path, then the argv from its argv[0].
    .globl _start
    .text
_start:
    mov \$157, %eax          # prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    mov \$38, %edi
    mov \$1, %esi
    xor %edx, %edx
    xor %r10d, %r10d
    xor %r8d, %r8d
    syscall
    test %rax, %rax
    jnz nofilter
    mov \$317, %eax          # seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog)
    mov \$1, %edi
    xor %esi, %esi
    lea prog(%rip), %rdx
    syscall
    test %rax, %rax
    jnz nofilter
exec:
    mov (%rsp), %rcx        # argc
    mov 16(%rsp), %rdi      # argv[1]: the program's path
    lea 24(%rsp), %rsi      # argv + 2: its argv, from the argv[0] it was given
    cmp \$3, %rcx
    jae 1f
    lea 16(%rsp), %rsi      # none given: argv + 1, from its path
1:  lea 16(%rsp,%rcx,8), %rdx  # envp = argv + argc + 1
    mov \$59, %eax           # execve
    syscall
                            # %rax = -errno: say so as util-linux's setpriv does, then exit 127 (not found) or 126
    mov %rsp, %rbx          # argc and argv, as the kernel laid them out
    mov %rax, %r12
    neg %r12                # errno
    lea prefix(%rip), %rsi
    mov \$(prefix_end - prefix), %edx
    call say
    cmpq \$2, (%rbx)         # argv[1], if there is one
    jb reason
    mov 16(%rbx), %rsi
    xor %edx, %edx
strlen:
    cmpb \$0, (%rsi,%rdx)
    je named
    inc %rdx
    jmp strlen
named:
    call say
reason:
    lea enoent(%rip), %rsi
    mov \$(enoent_end - enoent), %edx
    cmp \$2, %r12
    je last
    lea eacces(%rip), %rsi
    mov \$(eacces_end - eacces), %edx
    cmp \$13, %r12
    je last
    lea enoexec(%rip), %rsi
    mov \$(enoexec_end - enoexec), %edx
    cmp \$8, %r12
    je last
    lea errno(%rip), %rsi   # ": errno N"
    mov \$(errno_end - errno), %edx
    call say
    call number
    jmp leave
last:
    call say
leave:
    mov \$126, %edi
    cmp \$2, %r12
    jne quit
    mov \$127, %edi
quit:
    mov \$60, %eax           # exit
    syscall
nofilter:                   # no filter (no seccomp here): say so, and run the step all the same
    mov %rax, %r12
    neg %r12
    lea nofilter_msg(%rip), %rsi
    mov \$(nofilter_end - nofilter_msg), %edx
    call say
    call number
    jmp exec
say:                        # write(2, %rsi, %rdx)
    mov \$1, %eax
    mov \$2, %edi
    syscall
    ret
number:                     # write(2, decimal %r12 and a newline)
    sub \$32, %rsp
    lea 31(%rsp), %rsi
    movb \$10, (%rsi)
    mov %r12, %rax
    mov \$10, %ecx
digit:
    xor %edx, %edx
    div %rcx
    add \$48, %dl
    dec %rsi
    mov %dl, (%rsi)
    test %rax, %rax
    jnz digit
    lea 32(%rsp), %rdx
    sub %rsi, %rdx
    call say
    add \$32, %rsp
    ret

    .section .rodata
    .align 8
prog:
    .short (filter_end - filter) / 8  # filter length
    .short 0,0,0
    .quad filter
    # BPF: each instruction is code (16 bits), jt and jf (8 bits each: instructions to skip when true, when false), k (32 bits)
    .macro LOAD offset      # BPF_LD|BPF_W|BPF_ABS: the word of seccomp_data at offset
    .short 0x20; .byte 0, 0; .long \\offset
    .endm
    .macro JEQ k, target    # BPF_JMP|BPF_JEQ|BPF_K: on to target if the word is k, else to the next instruction
insn\\@: .short 0x15; .byte (\\target - insn\\@ - 8) / 8, 0; .long \\k
    .endm
    .macro JNE k, target    # on to target unless the word is k
insn\\@: .short 0x15; .byte 0, (\\target - insn\\@ - 8) / 8; .long \\k
    .endm
    .macro RET k            # BPF_RET|BPF_K
    .short 0x06; .byte 0, 0; .long \\k
    .endm
filter:
    LOAD 4                  # arch
    JNE 0xc000003e, allow   # AUDIT_ARCH_X86_64 (i386 programs pass; x32 calls, nr | 0x40000000, pass too)
    LOAD 0                  # nr
    JEQ 439, enosys         # faccessat2
    JEQ 435, enosys         # clone3
    JEQ 425, enosys         # io_uring_setup
    JEQ 332, enosys         # statx
.ifdef KERNEL_HEAP
    # mmap(NULL, 16 MiB + 4 KiB, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, _): what proot before 5.2 makes
    # of a program's first brk() to emulate its heap -> ENOMEM, and proot leaves brk to the kernel (kernelHeap below)
    JNE 9, allow            # mmap
    LOAD 24                 # length, low and high words
    JNE 0x1001000, allow
    LOAD 28
    JNE 0, allow
    LOAD 16                 # address
    JNE 0, allow
    LOAD 20
    JNE 0, allow
    LOAD 32                 # prot
    JNE 3, allow
    LOAD 40                 # flags
    JNE 0x22, allow
    LOAD 48                 # fd
    JNE 0xffffffff, allow
    LOAD 12                 # instruction pointer, high word: a brk from below 4 GiB (a non-PIE static program) keeps proot's heap
    JEQ 0, allow
    RET 0x0005000c          # SECCOMP_RET_ERRNO | ENOMEM (12)
.endif
allow:
    RET 0x7fff0000          # SECCOMP_RET_ALLOW
enosys:
    RET 0x00050026          # SECCOMP_RET_ERRNO | ENOSYS (38)
filter_end:

prefix:
    .ascii "hoist-syscall-shim: failed to execute "
prefix_end:
enoent:
    .ascii ": No such file or directory\\n"
enoent_end:
eacces:
    .ascii ": Permission denied\\n"
eacces_end:
enoexec:
    .ascii ": Exec format error\\n"
enoexec_end:
errno:
    .ascii ": errno "
errno_end:
nofilter_msg:
    .ascii "hoist-syscall-shim: cannot install its seccomp filter, so the step runs without it: errno "
nofilter_end:`;

const SHIM_X64 = 'f0VMRgIBAQAAAAAAAAAAAAIAPgABAAAAeABAAAAAAABAAAAAAAAAACgDAAAAAAAAAAAAAEAAOAABAEAABAADAAEAAAAFAAAAeAAAAAAAAAB4AEAAAAAAAHgAQAAAAAAAlAIAAAAAAACUAgAAAAAAAAgAAAAAAAAAuJ0AAAC/JgAAAL4BAAAAMdJFMdJFMcAPBUiFwA+F4wAAALg9AQAAvwEAAAAx9kiNFTsBAAAPBUiFwA+FxQAAAEiLDCRIi3wkEEiNdCQYSIP5A3MFSI10JBBIjVTMELg7AAAADwVIieNJicRJ99xIjTVTAQAAuiYAAADopwAAAEiDOwJyFkiLcxAx0oA8FgB0BUj/wuv16IsAAABIjTVMAQAAuhwAAABJg/wCdDxIjTVWAQAAuhQAAABJg/wNdCpIjTVYAQAAuhQAAABJg/wIdBhIjTVaAQAAuggAAADoRAAAAOhMAAAA6wXoOAAAAL9+AAAASYP8AnUFv38AAAC4PAAAAA8FSYnESffcSI01KAEAALpaAAAA6AoAAADoEgAAAOka////uAEAAAC/AgAAAA8Fw0iD7CBIjXQkH8YGCkyJ4LkKAAAAMdJI9/GAwjBI/86IFkiFwHXuSI1UJCBIKfLowP///0iDxCDDAAAAAAAJAAAAAAAAAPgBQAAAAAAAIAAAAAQAAAAVAAAFPgAAwCAAAAAAAAAAFQAEALcBAAAVAAMAswEAABUAAgCpAQAAFQABAEwBAAAGAAAAAAD/fwYAAAAmAAUAaG9pc3Qtc3lzY2FsbC1zaGltOiBmYWlsZWQgdG8gZXhlY3V0ZSA6IE5vIHN1Y2ggZmlsZSBvciBkaXJlY3RvcnkKOiBQZXJtaXNzaW9uIGRlbmllZAo6IEV4ZWMgZm9ybWF0IGVycm9yCjogZXJybm8gaG9pc3Qtc3lzY2FsbC1zaGltOiBjYW5ub3QgaW5zdGFsbCBpdHMgc2VjY29tcCBmaWx0ZXIsIHNvIHRoZSBzdGVwIHJ1bnMgd2l0aG91dCBpdDogZXJybm8gAC5zaHN0cnRhYgAudGV4dAAucm9kYXRhAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAALAAAAAQAAAAYAAAAAAAAAeABAAAAAAAB4AAAAAAAAAGsBAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAEQAAAAEAAAACAAAAAAAAAOgBQAAAAAAA6AEAAAAAAAAkAQAAAAAAAAAAAAAAAAAACAAAAAAAAAAAAAAAAAAAAAEAAAADAAAAAAAAAAAAAAAAAAAAAAAAAAwDAAAAAAAAGQAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAA=';

/** The same with KERNEL_HEAP defined (`as --defsym KERNEL_HEAP=1`): 1,208 bytes. */
const SHIM_X64_KERNEL_HEAP = 'f0VMRgIBAQAAAAAAAAAAAAIAPgABAAAAeABAAAAAAABAAAAAAAAAALgDAAAAAAAAAAAAAEAAOAABAEAABAADAAEAAAAFAAAAeAAAAAAAAAB4AEAAAAAAAHgAQAAAAAAAJAMAAAAAAAAkAwAAAAAAAAgAAAAAAAAAuJ0AAAC/JgAAAL4BAAAAMdJFMdJFMcAPBUiFwA+F4wAAALg9AQAAvwEAAAAx9kiNFTsBAAAPBUiFwA+FxQAAAEiLDCRIi3wkEEiNdCQYSIP5A3MFSI10JBBIjVTMELg7AAAADwVIieNJicRJ99xIjTXjAQAAuiYAAADopwAAAEiDOwJyFkiLcxAx0oA8FgB0BUj/wuv16IsAAABIjTXcAQAAuhwAAABJg/wCdDxIjTXmAQAAuhQAAABJg/wNdCpIjTXoAQAAuhQAAABJg/wIdBhIjTXqAQAAuggAAADoRAAAAOhMAAAA6wXoOAAAAL9+AAAASYP8AnUFv38AAAC4PAAAAA8FSYnESffcSI01uAEAALpaAAAA6AoAAADoEgAAAOka////uAEAAAC/AgAAAA8Fw0iD7CBIjXQkH8YGCkyJ4LkKAAAAMdJI9/GAwjBI/86IFkiFwHXuSI1UJCBIKfLowP///0iDxCDDAAAAAAAbAAAAAAAAAPgBQAAAAAAAIAAAAAQAAAAVAAAXPgAAwCAAAAAAAAAAFQAWALcBAAAVABUAswEAABUAFACpAQAAFQATAEwBAAAVAAARCQAAACAAAAAYAAAAFQAADwAQAAEgAAAAHAAAABUAAA0AAAAAIAAAABAAAAAVAAALAAAAACAAAAAUAAAAFQAACQAAAAAgAAAAIAAAABUAAAcDAAAAIAAAACgAAAAVAAAFIgAAACAAAAAwAAAAFQAAA/////8gAAAADAAAABUAAQAAAAAABgAAAAwABQAGAAAAAAD/fwYAAAAmAAUAaG9pc3Qtc3lzY2FsbC1zaGltOiBmYWlsZWQgdG8gZXhlY3V0ZSA6IE5vIHN1Y2ggZmlsZSBvciBkaXJlY3RvcnkKOiBQZXJtaXNzaW9uIGRlbmllZAo6IEV4ZWMgZm9ybWF0IGVycm9yCjogZXJybm8gaG9pc3Qtc3lzY2FsbC1zaGltOiBjYW5ub3QgaW5zdGFsbCBpdHMgc2VjY29tcCBmaWx0ZXIsIHNvIHRoZSBzdGVwIHJ1bnMgd2l0aG91dCBpdDogZXJybm8gAC5zaHN0cnRhYgAudGV4dAAucm9kYXRhAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAALAAAAAQAAAAYAAAAAAAAAeABAAAAAAAB4AAAAAAAAAGsBAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAEQAAAAEAAAACAAAAAAAAAOgBQAAAAAAA6AEAAAAAAAC0AQAAAAAAAAAAAAAAAAAACAAAAAAAAAAAAAAAAAAAAAEAAAADAAAAAAAAAAAAAAAAAAAAAAAAAJwDAAAAAAAAGQAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAA=';

export interface ShimOptions {
  /**
   * Also make proot leave the heap (brk) to the kernel: for proot before 5.2.
   * To give each process a heap that can grow, proot turns a program's first
   * brk() into a 16 MiB anonymous mmap and emulates brk in it; a child made
   * with CLONE_VM shares the parent's record of it, and before 5.2 the
   * child's execve clears that record. glibc's posix_spawn (popen, system)
   * makes its child so once clone3 fails: the parent's next brk() then
   * lands in the child's heap and the parent dies of SIGSEGV (`localedef`,
   * which reads the gzipped charmap through `gzip -dc`). With that mmap
   * refused (ENOMEM), proot passes the brk calls to the kernel (it takes a
   * brk the kernel grants as the sign that its emulation is not needed) and
   * glibc's malloc uses mmap until it does. Until then proot also refuses
   * (EFAULT) to read or write the step's memory below 16 MiB, where it
   * would have put the heap: a program whose own code calls brk from there
   * (a static, non-PIE one: busybox-static) keeps proot's heap, as the
   * filter looks at where the call comes from. A non-PIE program linked
   * dynamically (its brk is the C library's, above 4 GiB) would get EFAULT
   * for its own data; Debian and Ubuntu build programs as PIE (GCC's default there). A
   * program that itself maps exactly 16 MiB + 4 KiB so gets ENOMEM (glibc's
   * malloc then grows the heap instead).
   */
  kernelHeap?: boolean;
}

/** The shim for this machine's architecture, or undefined where there is none (only x86-64 has one). */
export function syscallShim(arch: string = process.arch, opts: ShimOptions = {}): Buffer | undefined {
  if (arch !== 'x64') return undefined;
  return Buffer.from(opts.kernelHeap === true ? SHIM_X64_KERNEL_HEAP : SHIM_X64, 'base64');
}

/** Whether this proot (its `--version`; undefined when unknown) clears a parent's heap record at its CLONE_VM child's execve (before 5.2). */
export function prootSharesHeapAcrossExec(version: string | undefined): boolean {
  return prootOlderThan(version, 5, 2);
}

/** Whether a proot of `version` (`proot --version`) is older than major.minor; one whose version is unknown or unreadable counts as older. */
export function prootOlderThan(version: string | undefined, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version ?? '');
  if (m === null) return true;
  const [theirMajor, theirMinor] = [Number(m[1]), Number(m[2])];
  return theirMajor < major || (theirMajor === major && theirMinor < minor);
}

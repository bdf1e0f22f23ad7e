/**
 * A 576-byte static x86-64 program that proot before 5.4 runs in front of
 * a step: it makes the faccessat2 and statx system calls fail with ENOSYS
 * for the step and everything it starts (a seccomp filter, inherited), then
 * executes the step. proot 5.1 (Debian 12 and 13 ship it) passes those two
 * calls to the kernel with the image's paths untranslated, so they look at
 * this machine's files: apt's check that _apt may read its keyrings fails
 * in a container without /etc/apt. glibc answers ENOSYS by using faccessat
 * and fstatat, which proot translates (what glibc does on kernels before
 * 5.8 and 4.11).
 *
 * No native module or compiler is needed at install: the bytes below are
 * what GNU as and ld made of this source (`as -o shim.o shim.s && ld -static
 * -n --build-id=none -s -o shim shim.o`; test/unit/run/syscall-shim.test.ts
 * assembles it again where binutils is installed and compares):
 *
 *   _start: prctl(PR_SET_NO_NEW_PRIVS, 1); seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog);
 *           execve(argv[1], &argv[1], envp); exit(127) if any of them failed
 *   filter: arch != AUDIT_ARCH_X86_64 -> allow; nr 439 (faccessat2) or 332 (statx) -> ERRNO(ENOSYS); else allow
 */
export const SYSCALL_SHIM_SOURCE = `# hoist's syscall shim for proot before 5.4: install a seccomp filter that makes faccessat2 (439) and statx (332)
# fail with ENOSYS (glibc then uses faccessat and fstatat, which proot translates), then execve(argv[1], argv+1, envp).
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
    jnz fail
    mov \$317, %eax          # seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog)
    mov \$1, %edi
    xor %esi, %esi
    lea prog(%rip), %rdx
    syscall
    test %rax, %rax
    jnz fail
    mov (%rsp), %rcx        # argc
    lea 16(%rsp), %rsi      # argv + 1
    mov (%rsi), %rdi        # argv[1]
    lea 16(%rsp,%rcx,8), %rdx  # envp = argv + argc + 1
    mov \$59, %eax           # execve
    syscall
fail:
    mov \$60, %eax           # exit(127)
    mov \$127, %edi
    syscall

    .section .rodata
    .align 8
prog:
    .short 7                # filter length
    .short 0,0,0
    .quad filter
filter:
    # BPF_LD|BPF_W|BPF_ABS arch (offset 4)
    .short 0x20; .byte 0, 0; .long 4
    # BPF_JMP|BPF_JEQ|BPF_K AUDIT_ARCH_X86_64 ? next : allow
    .short 0x15; .byte 0, 3; .long 0xc000003e
    # BPF_LD|BPF_W|BPF_ABS nr (offset 0)
    .short 0x20; .byte 0, 0; .long 0
    # nr == 439 faccessat2 ? enosys : next
    .short 0x15; .byte 2, 0; .long 439
    # nr == 332 statx ? enosys : allow
    .short 0x15; .byte 1, 0; .long 332
    # allow
    .short 0x06; .byte 0, 0; .long 0x7fff0000
    # SECCOMP_RET_ERRNO | ENOSYS (38)
    .short 0x06; .byte 0, 0; .long 0x00050026`;

const SHIM_X64 = 'f0VMRgIBAQAAAAAAAAAAAAIAPgABAAAAeABAAAAAAABAAAAAAAAAAEABAAAAAAAAAAAAAEAAOAABAEAABAADAAEAAAAFAAAAeAAAAAAAAAB4AEAAAAAAAHgAQAAAAAAAqAAAAAAAAACoAAAAAAAAAAgAAAAAAAAAuJ0AAAC/JgAAAL4BAAAAMdJFMdJFMcAPBUiFwHUyuD0BAAC/AQAAADH2SI0VLwAAAA8FSIXAdRhIiwwkSI10JBBIiz5IjVTMELg7AAAADwW4PAAAAL9/AAAADwUAAAAABwAAAAAAAADoAEAAAAAAACAAAAAEAAAAFQAAAz4AAMAgAAAAAAAAABUAAgC3AQAAFQABAEwBAAAGAAAAAAD/fwYAAAAmAAUAAC5zaHN0cnRhYgAudGV4dAAucm9kYXRhAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACwAAAAEAAAAGAAAAAAAAAHgAQAAAAAAAeAAAAAAAAABcAAAAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAABEAAAABAAAAAgAAAAAAAADYAEAAAAAAANgAAAAAAAAASAAAAAAAAAAAAAAAAAAAAAgAAAAAAAAAAAAAAAAAAAABAAAAAwAAAAAAAAAAAAAAAAAAAAAAAAAgAQAAAAAAABkAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAA';

/** The shim for this machine's architecture, or undefined where there is none (only x86-64 has one). */
export function syscallShim(arch: string = process.arch): Buffer | undefined {
  return arch === 'x64' ? Buffer.from(SHIM_X64, 'base64') : undefined;
}

/**
 * A 592-byte static x86-64 program that proot runs in front of a step in a
 * glibc image: it makes four system calls that proot does not follow fail
 * with ENOSYS for the step and everything it starts (a seccomp filter,
 * inherited), then executes the step. glibc answers ENOSYS with calls
 * proot handles, as it does on older kernels:
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
 *   uses its thread pool. Docker's default profile refuses it too.
 *
 * No native module or compiler is needed at install: the bytes below are
 * what GNU as and ld made of this source (`as -o shim.o shim.s && ld -static
 * -n --build-id=none -s -o shim shim.o`; test/integration/run/syscall-shim.test.ts
 * assembles it again and compares):
 *
 *   _start: prctl(PR_SET_NO_NEW_PRIVS, 1); seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog);
 *           execve(argv[1], &argv[1], envp); exit(127) if any of them failed
 *   filter: arch != AUDIT_ARCH_X86_64 -> allow;
 *           nr 439 (faccessat2), 435 (clone3), 425 (io_uring_setup) or 332 (statx) -> ERRNO(ENOSYS); else allow
 */
export const SYSCALL_SHIM_SOURCE = `# hoist's syscall shim for proot: install a seccomp filter that makes faccessat2 (439), clone3 (435), io_uring_setup (425)
# and statx (332) fail with ENOSYS (glibc then uses faccessat, clone and fstatat, which proot follows), then execve(argv[1], argv+1, envp).
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
    .short 9                # filter length
    .short 0,0,0
    .quad filter
filter:
    # BPF_LD|BPF_W|BPF_ABS arch (offset 4)
    .short 0x20; .byte 0, 0; .long 4
    # BPF_JMP|BPF_JEQ|BPF_K AUDIT_ARCH_X86_64 ? next : allow
    .short 0x15; .byte 0, 5; .long 0xc000003e
    # BPF_LD|BPF_W|BPF_ABS nr (offset 0)
    .short 0x20; .byte 0, 0; .long 0
    # nr == 439 faccessat2 ? enosys : next
    .short 0x15; .byte 4, 0; .long 439
    # nr == 435 clone3 ? enosys : next
    .short 0x15; .byte 3, 0; .long 435
    # nr == 425 io_uring_setup ? enosys : next
    .short 0x15; .byte 2, 0; .long 425
    # nr == 332 statx ? enosys : allow
    .short 0x15; .byte 1, 0; .long 332
    # allow
    .short 0x06; .byte 0, 0; .long 0x7fff0000
    # SECCOMP_RET_ERRNO | ENOSYS (38)
    .short 0x06; .byte 0, 0; .long 0x00050026`;

const SHIM_X64 = 'f0VMRgIBAQAAAAAAAAAAAAIAPgABAAAAeABAAAAAAABAAAAAAAAAAFABAAAAAAAAAAAAAEAAOAABAEAABAADAAEAAAAFAAAAeAAAAAAAAAB4AEAAAAAAAHgAQAAAAAAAuAAAAAAAAAC4AAAAAAAAAAgAAAAAAAAAuJ0AAAC/JgAAAL4BAAAAMdJFMdJFMcAPBUiFwHUyuD0BAAC/AQAAADH2SI0VLwAAAA8FSIXAdRhIiwwkSI10JBBIiz5IjVTMELg7AAAADwW4PAAAAL9/AAAADwUAAAAACQAAAAAAAADoAEAAAAAAACAAAAAEAAAAFQAABT4AAMAgAAAAAAAAABUABAC3AQAAFQADALMBAAAVAAIAqQEAABUAAQBMAQAABgAAAAAA/38GAAAAJgAFAAAuc2hzdHJ0YWIALnRleHQALnJvZGF0YQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAsAAAABAAAABgAAAAAAAAB4AEAAAAAAAHgAAAAAAAAAXAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAARAAAAAQAAAAIAAAAAAAAA2ABAAAAAAADYAAAAAAAAAFgAAAAAAAAAAAAAAAAAAAAIAAAAAAAAAAAAAAAAAAAAAQAAAAMAAAAAAAAAAAAAAAAAAAAAAAAAMAEAAAAAAAAZAAAAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAA==';

/** The shim for this machine's architecture, or undefined where there is none (only x86-64 has one). */
export function syscallShim(arch: string = process.arch): Buffer | undefined {
  return arch === 'x64' ? Buffer.from(SHIM_X64, 'base64') : undefined;
}

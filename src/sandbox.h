/*
 * The parser worker's seccomp sandbox: a classic BPF allow-list that the
 * worker installs on itself once libavformat and libhdf5 are initialised.
 * From then on, the worker can only use the descriptors it already has
 * or receives over its socket, so a hostile file that takes over a parser
 * cannot open files, reach the network, start programs or touch other
 * processes.
 *
 * Allowed, with the argument checks the filter makes:
 *
 *   read, readv, pread64, preadv, lseek    reads of the descriptors it has
 *   fstat; newfstatat with flags equal to AT_EMPTY_PATH only
 *                                          glibc 2.36 implements fstat()
 *                                          with newfstatat(fd, "")
 *   write, writev                          the socket, and stderr for
 *                                          library and sanitizer messages
 *   recvmsg, recvfrom                      requests and SCM_RIGHTS
 *                                          descriptors from the loop
 *   sendto only with a NULL address, sendmsg
 *                                          responses (send() is sendto)
 *   close
 *   fcntl with F_GETFD, F_SETFD, F_GETFL or F_SETFL only
 *   brk, munmap, mremap, madvise           malloc, mimalloc, ASan
 *   mmap, mprotect without PROT_EXEC       no new executable memory
 *   futex without the priority-inheritance operations
 *                                          locks inside the libraries
 *   clock_gettime, clock_getres, gettimeofday, time, nanosleep,
 *   clock_nanosleep                        used where the vDSO cannot serve
 *   getrandom
 *   rt_sigaction, rt_sigprocmask, rt_sigreturn, sigaltstack,
 *   restart_syscall                        signal handling
 *   getpid, gettid, sched_yield
 *   tgkill to its own process only         raise() and abort()
 *   prlimit64 reading its own limits only  getrlimit()
 *   exit, exit_group
 *   personality(0xffffffff), prctl(PR_SET_NO_NEW_PRIVS) and
 *   seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC)
 *                                          a later sandbox_enter() call,
 *                                          which stacks a second filter
 *                                          that can only narrow the first
 *
 * Every other system call fails with EPERM, so a library that tries one
 * gets an error it can report instead of dying. That includes openat,
 * open, socket, connect, bind, execve, execveat, clone, clone3, fork,
 * vfork, ptrace, process_vm_readv, process_vm_writev, kill, setrlimit,
 * prlimit64 with a new limit, setuid and the other credential calls,
 * ioctl, flock, io_uring_setup, io_uring_enter and io_uring_register.
 * Libraries that fall back to an older call only on ENOSYS (glibc's
 * clone3 to clone, for example) get EPERM here and do not fall back.
 *
 * The filter kills the process (SECCOMP_RET_KILL_PROCESS) instead of
 * returning EPERM in three cases. The parsers and the C library made no
 * such call under strace, and each is a step of an attack:
 *   - a system call of another architecture than the build's (int 0x80 in
 *     an x86_64 process), because the filter's numbers would not apply;
 *   - on x86_64, an x32 system call (number with bit 0x40000000), for the
 *     same reason;
 *   - userfaultfd, bpf, perf_event_open, add_key, keyctl, request_key,
 *     unshare, msgget and msgsnd. Published kernel exploits use them to
 *     widen race windows, spray kernel memory or reach code behind user
 *     namespaces.
 * waitpid() in the loop then reports SIGSYS as the worker's fatal signal.
 *
 * sendmsg is allowed without a check of msg_name, because the address
 * sits in user memory that a seccomp filter cannot read. The worker's
 * socket must therefore be a connected SOCK_STREAM or SOCK_SEQPACKET
 * socket, on which Linux rejects or ignores a destination address. A
 * SOCK_DGRAM socket would let the worker send to any Unix socket.
 *
 * What it does not protect against:
 *   - Memory that was writable and executable before the call (an
 *     executable stack, a JIT buffer) stays so. The filter rejects
 *     PROT_EXEC on mmap and mprotect only from then on. sandbox_enter()
 *     clears READ_IMPLIES_EXEC, which would add PROT_EXEC after the filter
 *     has checked the arguments.
 *   - newfstatat with AT_EMPTY_PATH still accepts a path, which the
 *     filter cannot read, so the worker can learn the size, owner and
 *     times of any file it can reach by path. It cannot read the file.
 *   - Every descriptor the worker has or receives stays usable with the
 *     calls above: a writable one can be written, and the worker can send
 *     its descriptors back over the socket. The loop must pass read-only
 *     descriptors and close any it does not expect.
 *   - Resource use: the worker can allocate memory up to its limits and
 *     spin the CPU. RLIMIT_DATA and the loop's timeout bound those.
 *   - Bugs in the allowed system calls themselves, and side channels.
 * Threads are covered: the filter applies to every thread that exists
 * when it is installed (SECCOMP_FILTER_FLAG_TSYNC), and clone is denied
 * afterwards.
 *
 * Libraries see EPERM where they would open a file after the call. With
 * libavformat 5.1, libhdf5 1.10.8 (through fmt_hdf5.c's driver) and
 * mimalloc 2.0 on Debian 12, that happens only for /etc/localtime, which
 * sandbox_enter() loads beforehand, and in AddressSanitizer builds for
 * mimalloc's count of NUMA nodes, which then falls back to one node.
 *
 * AddressSanitizer builds: LeakSanitizer's check at exit needs
 * prctl(PR_GET_DUMPABLE), clone, ptrace and files under /proc, so after
 * sandbox_enter() a normal exit() prints "LeakSanitizer has encountered a
 * fatal error" and the exit status becomes 1, leaks or not. The filter
 * does not allow those calls in any build, because they are what it
 * exists to deny. A sandboxed process should end with _exit(), or run
 * with ASAN_OPTIONS=detect_leaks=0. Reports of memory errors still reach
 * stderr, with frames as module and offset but without symbols, because
 * the symbolizer cannot start and /proc/self/maps cannot be opened.
 */
#ifndef MX_SANDBOX_H
#define MX_SANDBOX_H

#include <stddef.h>

/*
 * Loads the time zone, sets no_new_privs and installs the filter above on
 * every thread of the process. It cannot be undone. Call it after the
 * format libraries are initialised and every descriptor the worker needs
 * is open. A second call stacks another copy of the filter.
 *
 * Returns 0, or a negative errno with a sentence in message.
 * -EOPNOTSUPP: the build's architecture has no filter (only x86_64 and
 * aarch64 have one).
 * -ENOSYS or -EINVAL: the kernel lacks seccomp filters or thread
 * synchronisation, which need Linux 3.17.
 * -EBUSY: another thread runs under a filter that this one cannot join.
 * Any other: the errno of personality(), prctl() or seccomp().
 */
int sandbox_enter(char *message, size_t len);

#endif

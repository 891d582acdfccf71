/*
 * The worker sandbox: each test forks a child that enters the sandbox and
 * tries system calls, then writes one outcome per call into a pipe that
 * was opened before the sandbox. The parent checks the outcomes and how
 * the child ended, because a call the filter kills leaves no outcome.
 *
 * Children end with _exit(), so neither Criterion's exit handlers nor
 * LeakSanitizer's exit-time check (which needs clone and ptrace) run in
 * the sandbox.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/futex.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox.h"

#define CONTENT "sandbox test file\n"
#define MAX_OUTCOMES 32
#define UNPRIVILEGED_ID 65534	/* nobody and nogroup on Debian */

/* The result of one call made in the sandboxed child. */
struct outcome {
	char op[64];
	long ret;
	int err;
	char detail[160];
};

struct child_run {
	struct outcome outcomes[MAX_OUTCOMES];
	unsigned count;
	int status;		/* from waitpid */
};

/* Runs in the child before sandbox_enter(), for setup it would deny. */
typedef void (*setup_fn)(void);
/* Runs in the child inside the sandbox. */
typedef void (*body_fn)(void);

static char dir_path[] = "/tmp/mx-test-sandbox-XXXXXX";
static char file_path[sizeof(dir_path) + 16];
static int report_fd = -1;	/* the pipe's write end, in the child */
static int file_fd = -1;	/* file_path, opened before the sandbox */
static int pair[2] = { -1, -1 };	/* a socketpair from before */

static void create_fixture(void)
{
	int fd;

	cr_assert_not_null(mkdtemp(dir_path), "mkdtemp(%s) failed: %s",
			   dir_path, strerror(errno));
	snprintf(file_path, sizeof(file_path), "%s/file", dir_path);
	fd = open(file_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	cr_assert_geq(fd, 0, "open(%s) failed: %s", file_path,
		      strerror(errno));
	cr_assert_eq(write(fd, CONTENT, strlen(CONTENT)),
		     (ssize_t)strlen(CONTENT), "write(%s) failed", file_path);
	close(fd);
	file_fd = open(file_path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(file_fd, 0, "open(%s) failed: %s", file_path,
		      strerror(errno));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair),
		     0, "socketpair failed: %s", strerror(errno));
}

static void remove_fixture(void)
{
	char created[sizeof(dir_path) + 16];

	snprintf(created, sizeof(created), "%s/created", dir_path);
	unlink(created);
	unlink(file_path);
	rmdir(dir_path);
	close(file_fd);
	close(pair[0]);
	close(pair[1]);
}

TestSuite(sandbox, .init = create_fixture, .fini = remove_fixture,
	  .timeout = 60);

/* Sends one outcome to the parent. err is the errno of the call. */
static void report_detail(const char *op, long ret, int err,
			  const char *detail)
{
	struct outcome o = { .ret = ret, .err = err };

	snprintf(o.op, sizeof(o.op), "%s", op);
	snprintf(o.detail, sizeof(o.detail), "%s", detail ? detail : "");
	if (write(report_fd, &o, sizeof(o)) != (ssize_t)sizeof(o))
		_exit(120);
}

static void report(const char *op, long ret)
{
	report_detail(op, ret, ret < 0 ? errno : 0, NULL);
}

static pid_t start_child(setup_fn setup, body_fn body, int *read_end)
{
	char message[256];
	int fds[2], ret;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0, "pipe failed: %s", strerror(errno));
	pid = fork();
	cr_assert_geq(pid, 0, "fork failed: %s", strerror(errno));
	if (pid > 0) {
		close(fds[1]);
		*read_end = fds[0];
		return pid;
	}
	close(fds[0]);
	report_fd = fds[1];
	if (setup)
		setup();
	ret = sandbox_enter(message, sizeof(message));
	report_detail("sandbox_enter", ret, ret < 0 ? -ret : 0, message);
	if (ret < 0)
		_exit(1);
	body();
	_exit(0);
}

/* Runs body in a sandboxed child and collects its outcomes and status. */
static void run_child(setup_fn setup, body_fn body, struct child_run *run)
{
	struct outcome o;
	int read_end;
	ssize_t n;
	pid_t pid;

	memset(run, 0, sizeof(*run));
	pid = start_child(setup, body, &read_end);
	while ((n = read(read_end, &o, sizeof(o))) == (ssize_t)sizeof(o)) {
		cr_assert_lt(run->count, MAX_OUTCOMES,
			     "child: expected at most %d outcomes",
			     MAX_OUTCOMES);
		run->outcomes[run->count++] = o;
	}
	close(read_end);
	cr_assert_eq(n, 0, "read of outcomes: expected whole records, "
		     "got %zd bytes", n);
	cr_assert_eq(waitpid(pid, &run->status, 0), pid,
		     "waitpid failed: %s", strerror(errno));
}

static const char *describe_status(int status)
{
	static char text[64];

	if (WIFEXITED(status))
		snprintf(text, sizeof(text), "exit status %d",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(text, sizeof(text), "signal %s",
			 sigabbrev_np(WTERMSIG(status)));
	else
		snprintf(text, sizeof(text), "wait status %#x", status);
	return text;
}

static const struct outcome *find(const struct child_run *run,
				  const char *op)
{
	unsigned i;

	for (i = 0; i < run->count; i++)
		if (strcmp(run->outcomes[i].op, op) == 0)
			return &run->outcomes[i];
	cr_assert_fail("%s: no outcome from the child, which ended with %s",
		       op, describe_status(run->status));
	return NULL;
}

static void expect_entered(const struct child_run *run)
{
	const struct outcome *o = find(run, "sandbox_enter");

	cr_assert_eq(o->ret, 0, "sandbox_enter: expected 0, got %ld (%s)",
		     o->ret, o->detail);
}

static void expect_denied(const struct child_run *run, const char *op)
{
	const struct outcome *o = find(run, op);

	cr_expect_eq(o->ret, -1, "%s: expected -1, got %ld", op, o->ret);
	cr_expect_eq(o->err, EPERM, "%s: expected EPERM, got %s", op,
		     strerrorname_np(o->err) ? strerrorname_np(o->err) : "0");
}

static void expect_value(const struct child_run *run, const char *op,
			 long expected)
{
	const struct outcome *o = find(run, op);

	cr_expect_eq(o->ret, expected, "%s: expected %ld, got %ld (%s)", op,
		     expected, o->ret, strerror(o->err));
}

static void expect_exit_zero(const struct child_run *run)
{
	cr_expect(WIFEXITED(run->status) && WEXITSTATUS(run->status) == 0,
		  "child: expected exit status 0, got %s",
		  describe_status(run->status));
}

static void expect_signal(const struct child_run *run, int sig)
{
	cr_expect(WIFSIGNALED(run->status) && WTERMSIG(run->status) == sig,
		  "child: expected signal %s, got %s", sigabbrev_np(sig),
		  describe_status(run->status));
}

/* Denied operations */

static void try_open(void)
{
	char created[sizeof(dir_path) + 16];

	report("openat existing file",
	       syscall(SYS_openat, AT_FDCWD, file_path, O_RDONLY));
	report("open existing file", open(file_path, O_RDONLY));
#ifdef SYS_open
	report("SYS_open existing file", syscall(SYS_open, file_path,
						 O_RDONLY));
#endif
	snprintf(created, sizeof(created), "%s/created", dir_path);
	report("open O_CREAT", open(created, O_WRONLY | O_CREAT, 0644));
	report("openat2", syscall(SYS_openat2, AT_FDCWD, file_path, NULL, 0));
}

Test(sandbox, open_of_files_denied)
{
	char created[sizeof(dir_path) + 16];
	struct child_run run;

	run_child(NULL, try_open, &run);
	expect_entered(&run);
	expect_denied(&run, "openat existing file");
	expect_denied(&run, "open existing file");
#ifdef SYS_open
	expect_denied(&run, "SYS_open existing file");
#endif
	expect_denied(&run, "open O_CREAT");
	expect_denied(&run, "openat2");
	expect_exit_zero(&run);

	snprintf(created, sizeof(created), "%s/created", dir_path);
	cr_expect_neq(access(created, F_OK), 0,
		      "access(%s): expected no file, found one", created);
}

static void try_stat_path(void)
{
	struct stat st;

	report("stat by path", stat(file_path, &st));
	report("fstatat by path", fstatat(AT_FDCWD, file_path, &st, 0));
	report("fstat", fstat(file_fd, &st));
	report_detail("fstat size", (long)st.st_size, 0, NULL);
	report("statx", syscall(SYS_statx, file_fd, "", AT_EMPTY_PATH,
				STATX_SIZE, NULL));
}

Test(sandbox, stat_by_path_denied)
{
	struct child_run run;

	run_child(NULL, try_stat_path, &run);
	expect_entered(&run);
	expect_denied(&run, "stat by path");
	expect_denied(&run, "fstatat by path");
	expect_value(&run, "fstat", 0);
	expect_value(&run, "fstat size", (long)strlen(CONTENT));
	expect_denied(&run, "statx");
	expect_exit_zero(&run);
}

static void try_socket(void)
{
	int sv[2];

	report("socket AF_INET", socket(AF_INET, SOCK_STREAM, 0));
	report("socket AF_INET6", socket(AF_INET6, SOCK_DGRAM, 0));
	report("socket AF_UNIX", socket(AF_UNIX, SOCK_STREAM, 0));
	report("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
}

Test(sandbox, socket_creation_denied)
{
	struct child_run run;

	run_child(NULL, try_socket, &run);
	expect_entered(&run);
	expect_denied(&run, "socket AF_INET");
	expect_denied(&run, "socket AF_INET6");
	expect_denied(&run, "socket AF_UNIX");
	expect_denied(&run, "socketpair");
	expect_exit_zero(&run);
}

static void try_exec(void)
{
	char *const argv[] = { "true", NULL };
	char *const envp[] = { NULL };

	report("execve", execve("/bin/true", argv, envp));
	report("execveat", syscall(SYS_execveat, AT_FDCWD, "/bin/true", argv,
				   envp, 0));
}

Test(sandbox, exec_denied)
{
	struct child_run run;

	run_child(NULL, try_exec, &run);
	expect_entered(&run);
	expect_denied(&run, "execve");
	expect_denied(&run, "execveat");
	expect_exit_zero(&run);
}

static void *thread_main(void *arg)
{
	return arg;
}

static void try_new_process(void)
{
	struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal,
		 stack, stack_size, tls; } clone3_args = {
		.exit_signal = SIGCHLD,
	};
	pthread_t thread;
	long ret;
	int err;

	ret = fork();
	if (ret == 0)
		_exit(0);
	report("fork", ret);
	ret = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (ret == 0)
		_exit(0);
	report("clone", ret);
	ret = syscall(SYS_clone3, &clone3_args, sizeof(clone3_args));
	if (ret == 0)
		_exit(0);
	report("clone3", ret);
#ifdef SYS_vfork
	ret = syscall(SYS_vfork);
	if (ret == 0)
		_exit(0);
	report("vfork", ret);
#endif
	err = pthread_create(&thread, NULL, thread_main, NULL);
	report_detail("pthread_create", err, err, NULL);
}

Test(sandbox, process_and_thread_creation_denied)
{
	struct child_run run;

	run_child(NULL, try_new_process, &run);
	expect_entered(&run);
	expect_denied(&run, "fork");
	expect_denied(&run, "clone");
	expect_denied(&run, "clone3");
#ifdef SYS_vfork
	expect_denied(&run, "vfork");
#endif
	/* pthread_create returns the error instead of setting errno. */
	expect_value(&run, "pthread_create", EPERM);
	expect_exit_zero(&run);
}

static void try_other_processes(void)
{
	char buf[8];
	struct iovec local = { buf, sizeof(buf) };
	struct iovec remote = { buf, sizeof(buf) };

	report("ptrace TRACEME", ptrace(PTRACE_TRACEME, 0, NULL, NULL));
	report("ptrace ATTACH parent", ptrace(PTRACE_ATTACH, getppid(), NULL,
					      NULL));
	report("process_vm_readv parent",
	       process_vm_readv(getppid(), &local, 1, &remote, 1, 0));
	report("kill parent", kill(getppid(), 0));
	report("tgkill parent", syscall(SYS_tgkill, getppid(), getppid(), 0));
	report("tgkill self", syscall(SYS_tgkill, getpid(), gettid(), 0));
}

Test(sandbox, ptrace_and_signals_to_others_denied)
{
	struct child_run run;

	run_child(NULL, try_other_processes, &run);
	expect_entered(&run);
	expect_denied(&run, "ptrace TRACEME");
	expect_denied(&run, "ptrace ATTACH parent");
	expect_denied(&run, "process_vm_readv parent");
	expect_denied(&run, "kill parent");
	expect_denied(&run, "tgkill parent");
	expect_value(&run, "tgkill self", 0);
	expect_exit_zero(&run);
}

static void try_io_uring(void)
{
	struct io_uring_params params = { 0 };

	report("io_uring_setup", syscall(SYS_io_uring_setup, 8, &params));
	report("io_uring_enter", syscall(SYS_io_uring_enter, 0, 1, 0, 0,
					 NULL, 0));
	report("io_uring_register", syscall(SYS_io_uring_register, 0, 0,
					    NULL, 0));
}

Test(sandbox, io_uring_denied)
{
	struct child_run run;

	run_child(NULL, try_io_uring, &run);
	expect_entered(&run);
	expect_denied(&run, "io_uring_setup");
	expect_denied(&run, "io_uring_enter");
	expect_denied(&run, "io_uring_register");
	expect_exit_zero(&run);
}

static void try_limits_and_credentials(void)
{
	struct rlimit limit = { 0 };

	report("getrlimit", getrlimit(RLIMIT_NOFILE, &limit));
	report("setrlimit same value", setrlimit(RLIMIT_NOFILE, &limit));
	report("prlimit64 set", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE,
					&limit, NULL));
	report("prlimit64 read parent", syscall(SYS_prlimit64, getppid(),
						RLIMIT_NOFILE, NULL, &limit));
#ifdef SYS_setrlimit
	report("SYS_setrlimit", syscall(SYS_setrlimit, RLIMIT_NOFILE, &limit));
#endif
	report("setuid", syscall(SYS_setuid, getuid()));
	report("prctl PR_SET_DUMPABLE", prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
	report("personality READ_IMPLIES_EXEC",
	       personality(READ_IMPLIES_EXEC));
}

Test(sandbox, limit_and_privilege_changes_denied)
{
	struct child_run run;

	run_child(NULL, try_limits_and_credentials, &run);
	expect_entered(&run);
	expect_value(&run, "getrlimit", 0);
	expect_denied(&run, "setrlimit same value");
	expect_denied(&run, "prlimit64 set");
	expect_denied(&run, "prlimit64 read parent");
#ifdef SYS_setrlimit
	expect_denied(&run, "SYS_setrlimit");
#endif
	expect_denied(&run, "setuid");
	expect_denied(&run, "prctl PR_SET_DUMPABLE");
	expect_denied(&run, "personality READ_IMPLIES_EXEC");
	expect_exit_zero(&run);
}

static void try_executable_memory(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *p;

	p = mmap(NULL, page, PROT_READ | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	report("mmap PROT_EXEC", p == MAP_FAILED ? -1 : 0);
	p = mmap(NULL, page, PROT_READ | PROT_EXEC, MAP_PRIVATE, file_fd, 0);
	report("mmap file PROT_EXEC", p == MAP_FAILED ? -1 : 0);
	p = mmap(NULL, page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	report("mmap PROT_READ|PROT_WRITE", p == MAP_FAILED ? -1 : 0);
	if (p == MAP_FAILED)
		return;
	report("mprotect PROT_EXEC", mprotect(p, page, PROT_READ | PROT_EXEC));
	report("mprotect PROT_READ", mprotect(p, page, PROT_READ));
	report("pkey_mprotect PROT_EXEC",
	       syscall(SYS_pkey_mprotect, p, page, PROT_READ | PROT_EXEC, -1));
	report("munmap", munmap(p, page));
}

Test(sandbox, executable_memory_denied)
{
	struct child_run run;

	run_child(NULL, try_executable_memory, &run);
	expect_entered(&run);
	expect_denied(&run, "mmap PROT_EXEC");
	expect_denied(&run, "mmap file PROT_EXEC");
	expect_value(&run, "mmap PROT_READ|PROT_WRITE", 0);
	expect_denied(&run, "mprotect PROT_EXEC");
	expect_value(&run, "mprotect PROT_READ", 0);
	expect_denied(&run, "pkey_mprotect PROT_EXEC");
	expect_value(&run, "munmap", 0);
	expect_exit_zero(&run);
}

static void try_fcntl(void)
{
	struct flock lock = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	int flags = fcntl(file_fd, F_GETFL);

	report("F_GETFL", flags < 0 ? flags : flags & O_ACCMODE);
	report("F_SETFL", fcntl(file_fd, F_SETFL, flags | O_NONBLOCK));
	report("F_GETFD", fcntl(file_fd, F_GETFD));
	report("F_SETFD", fcntl(file_fd, F_SETFD, FD_CLOEXEC));
	report("F_DUPFD", fcntl(file_fd, F_DUPFD, 0));
	report("F_DUPFD_CLOEXEC", fcntl(file_fd, F_DUPFD_CLOEXEC, 0));
	report("F_SETLK", fcntl(file_fd, F_SETLK, &lock));
	report("dup", dup(file_fd));
	report("flock", flock(file_fd, LOCK_SH));
	report("ioctl FIONREAD", ioctl(file_fd, FIONREAD, &flags));
}

Test(sandbox, fcntl_limited_to_flags)
{
	struct child_run run;

	run_child(NULL, try_fcntl, &run);
	expect_entered(&run);
	expect_value(&run, "F_GETFL", O_RDONLY);
	expect_value(&run, "F_SETFL", 0);
	expect_value(&run, "F_GETFD", FD_CLOEXEC);
	expect_value(&run, "F_SETFD", 0);
	expect_denied(&run, "F_DUPFD");
	expect_denied(&run, "F_DUPFD_CLOEXEC");
	expect_denied(&run, "F_SETLK");
	expect_denied(&run, "dup");
	expect_denied(&run, "flock");
	expect_denied(&run, "ioctl FIONREAD");
	expect_exit_zero(&run);
}

static void try_futex(void)
{
	uint32_t word = 0, other = 0;

	report("FUTEX_WAKE_PRIVATE", syscall(SYS_futex, &word,
					     FUTEX_WAKE_PRIVATE, 1, NULL,
					     NULL, 0));
	report("FUTEX_WAIT_PRIVATE other value",
	       syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0));
	report("FUTEX_LOCK_PI", syscall(SYS_futex, &word, FUTEX_LOCK_PI, 0,
					NULL, NULL, 0));
	report("FUTEX_CMP_REQUEUE_PI_PRIVATE",
	       syscall(SYS_futex, &word, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1,
		       NULL, &other, 0));
}

Test(sandbox, futex_without_priority_inheritance)
{
	const struct outcome *o;
	struct child_run run;

	run_child(NULL, try_futex, &run);
	expect_entered(&run);
	expect_value(&run, "FUTEX_WAKE_PRIVATE", 0);
	o = find(&run, "FUTEX_WAIT_PRIVATE other value");
	cr_expect_eq(o->err, EAGAIN, "FUTEX_WAIT_PRIVATE on a word that "
		     "differs: expected EAGAIN, got %s", strerror(o->err));
	expect_denied(&run, "FUTEX_LOCK_PI");
	expect_denied(&run, "FUTEX_CMP_REQUEUE_PI_PRIVATE");
	expect_exit_zero(&run);
}

/* Allowed operations */

static void try_reads(void)
{
	char buf[64] = { 0 };
	ssize_t n;

	n = pread(file_fd, buf, sizeof(buf), 0);
	report_detail("pread", n, n < 0 ? errno : 0, buf);
	report("lseek", lseek(file_fd, 8, SEEK_SET));
	memset(buf, 0, sizeof(buf));
	n = read(file_fd, buf, sizeof(buf));
	report_detail("read", n, n < 0 ? errno : 0, buf);
	report("close", close(file_fd));
	report("pread after close", pread(file_fd, buf, 1, 0));
}

Test(sandbox, reads_descriptor_opened_before)
{
	const struct outcome *o;
	struct child_run run;
	long len = (long)strlen(CONTENT);

	run_child(NULL, try_reads, &run);
	expect_entered(&run);
	expect_value(&run, "pread", len);
	o = find(&run, "pread");
	cr_expect_str_eq(o->detail, CONTENT, "pread: expected \"%s\", got "
			 "\"%s\"", CONTENT, o->detail);
	expect_value(&run, "lseek", 8);
	expect_value(&run, "read", len - 8);
	o = find(&run, "read");
	cr_expect_str_eq(o->detail, CONTENT + 8, "read: expected \"%s\", got "
			 "\"%s\"", CONTENT + 8, o->detail);
	expect_value(&run, "close", 0);
	o = find(&run, "pread after close");
	cr_expect_eq(o->err, EBADF, "pread after close: expected EBADF, "
		     "got %s", strerror(o->err));
	expect_exit_zero(&run);
}

static void try_memory(void)
{
	size_t size = 100u << 20;
	unsigned char *p = malloc(size);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *bigger;
	void *q;

	report("malloc 100 MiB", p ? 0 : -1);
	if (!p)
		return;
	memset(p, 0xa5, size);
	bigger = realloc(p, 2 * size);
	report("realloc 200 MiB", bigger ? 0 : -1);
	if (bigger) {
		report("content kept", bigger[size - 1] == 0xa5 ? 0 : -1);
		p = bigger;
	}
	free(p);

	q = mmap(NULL, page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	report("mmap", q == MAP_FAILED ? -1 : 0);
	if (q == MAP_FAILED)
		return;
	report("madvise", madvise(q, page, MADV_DONTNEED));
	q = mremap(q, page, 4 * page, MREMAP_MAYMOVE);
	report("mremap", q == MAP_FAILED ? -1 : 0);
	if (q != MAP_FAILED)
		report("munmap", munmap(q, 4 * page));
	report("brk query", sbrk(0) == (void *)-1 ? -1 : 0);
}

Test(sandbox, large_allocation_works)
{
	struct child_run run;

	run_child(NULL, try_memory, &run);
	expect_entered(&run);
	expect_value(&run, "malloc 100 MiB", 0);
	expect_value(&run, "realloc 200 MiB", 0);
	expect_value(&run, "content kept", 0);
	expect_value(&run, "mmap", 0);
	expect_value(&run, "madvise", 0);
	expect_value(&run, "mremap", 0);
	expect_value(&run, "munmap", 0);
	expect_value(&run, "brk query", 0);
	expect_exit_zero(&run);
}

static void try_time_and_random(void)
{
	static const clockid_t clocks[] = {
		CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME,
		CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
	};
	static const char *const names[] = {
		"CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_BOOTTIME",
		"CLOCK_PROCESS_CPUTIME_ID", "CLOCK_THREAD_CPUTIME_ID",
	};
	struct timespec ts = { .tv_nsec = 1000 };
	unsigned char bytes[32];
	unsigned i;

	for (i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++)
		report(names[i], clock_gettime(clocks[i], &ts));
	report("SYS_clock_gettime", syscall(SYS_clock_gettime,
					    CLOCK_MONOTONIC, &ts));
	ts.tv_sec = 0;
	ts.tv_nsec = 1000;
	report("nanosleep", nanosleep(&ts, NULL));
	report("getrandom", getrandom(bytes, sizeof(bytes), 0));
}

Test(sandbox, clock_and_random_work)
{
	struct child_run run;

	run_child(NULL, try_time_and_random, &run);
	expect_entered(&run);
	expect_value(&run, "CLOCK_REALTIME", 0);
	expect_value(&run, "CLOCK_MONOTONIC", 0);
	expect_value(&run, "CLOCK_BOOTTIME", 0);
	expect_value(&run, "CLOCK_PROCESS_CPUTIME_ID", 0);
	expect_value(&run, "CLOCK_THREAD_CPUTIME_ID", 0);
	expect_value(&run, "SYS_clock_gettime", 0);
	expect_value(&run, "nanosleep", 0);
	expect_value(&run, "getrandom", 32);
	expect_exit_zero(&run);
}

/* Sends file_fd over pair[0] and reads it back from pair[1]. */
static void try_descriptor_passing(void)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	char byte = 'x', buf[64] = { 0 };
	struct iovec iov = { &byte, 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int received = -1;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/socket", dir_path);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &file_fd, sizeof(int));
	report("sendmsg SCM_RIGHTS", sendmsg(pair[0], &msg, 0));

	memset(&control, 0, sizeof(control));
	msg.msg_controllen = sizeof(control.buf);
	report("recvmsg SCM_RIGHTS", recvmsg(pair[1], &msg, MSG_CMSG_CLOEXEC));
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&received, CMSG_DATA(cm), sizeof(int));
	report_detail("received descriptor", received >= 0 && received !=
		      file_fd ? 0 : -1, 0, NULL);
	report_detail("pread received", pread(received, buf, sizeof(buf), 0),
		      errno, buf);

	report("send", send(pair[0], "ab", 2, MSG_NOSIGNAL));
	report("recv", recv(pair[1], buf, sizeof(buf), 0));
	report("sendto address", sendto(pair[0], "ab", 2, 0,
					 (struct sockaddr *)&addr,
					 sizeof(addr)));
	report("connect", connect(pair[0], (struct sockaddr *)&addr,
				  sizeof(addr)));
	report("write to pipe", write(report_fd, NULL, 0));
}

Test(sandbox, descriptor_passing_works)
{
	const struct outcome *o;
	struct child_run run;

	run_child(NULL, try_descriptor_passing, &run);
	expect_entered(&run);
	expect_value(&run, "sendmsg SCM_RIGHTS", 1);
	expect_value(&run, "recvmsg SCM_RIGHTS", 1);
	expect_value(&run, "received descriptor", 0);
	expect_value(&run, "pread received", (long)strlen(CONTENT));
	o = find(&run, "pread received");
	cr_expect_str_eq(o->detail, CONTENT, "pread of received descriptor: "
			 "expected \"%s\", got \"%s\"", CONTENT, o->detail);
	expect_value(&run, "send", 2);
	expect_value(&run, "recv", 2);
	expect_denied(&run, "sendto address");
	expect_denied(&run, "connect");
	expect_value(&run, "write to pipe", 0);
	expect_exit_zero(&run);
}

static void exit_with_status(void)
{
	report("getpid", getpid() > 0 ? 0 : -1);
	syscall(SYS_exit_group, 3);
}

Test(sandbox, exit_status_reaches_parent)
{
	struct child_run run;

	run_child(NULL, exit_with_status, &run);
	expect_entered(&run);
	expect_value(&run, "getpid", 0);
	cr_expect(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 3,
		  "child: expected exit status 3, got %s",
		  describe_status(run.status));
}

static void call_abort(void)
{
	abort();
}

Test(sandbox, abort_raises_sigabrt)
{
	struct child_run run;

	run_child(NULL, call_abort, &run);
	expect_entered(&run);
	expect_signal(&run, SIGABRT);
}

/* Attacks that kill the process */

static void call_userfaultfd(void)
{
	syscall(SYS_userfaultfd, 0);
	report("survived userfaultfd", 0);
}

Test(sandbox, userfaultfd_kills_process)
{
	struct child_run run;

	run_child(NULL, call_userfaultfd, &run);
	expect_entered(&run);
	expect_signal(&run, SIGSYS);
	cr_expect_eq(run.count, 1, "outcomes: expected 1, got %u", run.count);
}

#ifdef __x86_64__
static void call_x32_getpid(void)
{
	syscall(__X32_SYSCALL_BIT | SYS_getpid);
	report("survived x32 getpid", 0);
}

Test(sandbox, x32_call_kills_process)
{
	struct child_run run;

	run_child(NULL, call_x32_getpid, &run);
	expect_entered(&run);
	expect_signal(&run, SIGSYS);
	cr_expect_eq(run.count, 1, "outcomes: expected 1, got %u", run.count);
}

/* getpid through int 0x80 is the i386 ABI, number 20. */
static void call_i386_getpid(void)
{
	long ret = 20;

	__asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
	report("survived i386 getpid", 0);
}

/* Returns whether the kernel runs i386 system calls (IA32_EMULATION). */
static bool kernel_runs_i386_calls(void)
{
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0, "fork failed: %s", strerror(errno));
	if (pid == 0) {
		long ret = 20;

		__asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
		_exit(ret == getpid() ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid, "waitpid failed: %s",
		     strerror(errno));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

Test(sandbox, i386_call_kills_process)
{
	struct child_run run;

	if (!kernel_runs_i386_calls())
		cr_skip_test("the kernel runs no i386 system calls "
			     "(IA32_EMULATION is off)");
	run_child(NULL, call_i386_getpid, &run);
	expect_entered(&run);
	expect_signal(&run, SIGSYS);
	cr_expect_eq(run.count, 1, "outcomes: expected 1, got %u", run.count);
}
#endif

/* Entering twice, and as an unprivileged user */

static void enter_again(void)
{
	char message[256];
	char buf[64] = { 0 };
	int ret = sandbox_enter(message, sizeof(message));

	report_detail("second sandbox_enter", ret, ret < 0 ? -ret : 0,
		      message);
	report("openat after second", open(file_path, O_RDONLY));
	report("socket after second", socket(AF_UNIX, SOCK_STREAM, 0));
	report_detail("pread after second", pread(file_fd, buf, sizeof(buf), 0),
		      errno, buf);
	report("getrandom after second", getrandom(buf, 16, 0));
}

Test(sandbox, second_enter_keeps_filter)
{
	struct child_run run;

	run_child(NULL, enter_again, &run);
	expect_entered(&run);
	expect_value(&run, "second sandbox_enter", 0);
	expect_denied(&run, "openat after second");
	expect_denied(&run, "socket after second");
	expect_value(&run, "pread after second", (long)strlen(CONTENT));
	expect_value(&run, "getrandom after second", 16);
	expect_exit_zero(&run);
}

static void drop_privileges(void)
{
	if (getuid() != 0)
		return;
	report("setgroups", setgroups(0, NULL));
	report("setresgid", setresgid(UNPRIVILEGED_ID, UNPRIVILEGED_ID,
				      UNPRIVILEGED_ID));
	report("setresuid", setresuid(UNPRIVILEGED_ID, UNPRIVILEGED_ID,
				      UNPRIVILEGED_ID));
}

static void check_unprivileged(void)
{
	char buf[64] = { 0 };

	report_detail("euid", (long)geteuid(), 0, NULL);
	report("openat as unprivileged", open(file_path, O_RDONLY));
	report_detail("pread as unprivileged",
		      pread(file_fd, buf, sizeof(buf), 0), errno, buf);
}

Test(sandbox, unprivileged_user_can_enter)
{
	const struct outcome *o;
	struct child_run run;
	bool root = getuid() == 0;

	run_child(drop_privileges, check_unprivileged, &run);
	if (root) {
		expect_value(&run, "setgroups", 0);
		expect_value(&run, "setresgid", 0);
		expect_value(&run, "setresuid", 0);
	}
	expect_entered(&run);
	o = find(&run, "euid");
	cr_expect_neq(o->ret, 0, "geteuid: expected a user other than root, "
		      "got 0");
	expect_denied(&run, "openat as unprivileged");
	expect_value(&run, "pread as unprivileged", (long)strlen(CONTENT));
	expect_exit_zero(&run);
}

/*
 * Builds and installs the worker's seccomp filter. sandbox.h lists what
 * it allows and why.
 *
 * The program is a flat list of entries, each one a jump on the system
 * call number over a block that ends in a return, so the accumulator
 * contains the number again wherever the next entry starts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>

#include "sandbox.h"

#if defined(__x86_64__) && !defined(__ILP32__)
#define FILTER_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FILTER_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef FILTER_ARCH

/*
 * Linux 4.14 added SECCOMP_RET_KILL_PROCESS. Older kernels read it as
 * SECCOMP_RET_KILL, which kills the calling thread, in the worker the
 * only one.
 */
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif

/* Offsets of the low and high 32 bits of system call argument i. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LOW(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#define ARG_HIGH(i) (ARG_LOW(i) + 4)
#else
#define ARG_HIGH(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#define ARG_LOW(i) (ARG_HIGH(i) + 4)
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define RET_DENY (SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))

/* The program has 164 instructions on x86_64. */
#define MAX_INSNS 256

struct program {
	struct sock_filter insns[MAX_INSNS];
	unsigned len;
	bool overflow;
};

enum arg_test {
	ARG_EQUALS,		/* the 32-bit word equals value */
	ARG_BITS_CLEAR,		/* no bit of value is set in the word */
};

/* One test on one 32-bit word of an argument. */
struct arg_check {
	uint32_t offset;	/* ARG_LOW(i) or ARG_HIGH(i) */
	enum arg_test test;
	uint32_t value;
};

/* System calls allowed whatever their arguments. */
static const int allowed[] = {
	SYS_read,
	SYS_pread64,
	SYS_readv,
	SYS_preadv,
	SYS_lseek,
	SYS_fstat,
	SYS_write,
	SYS_writev,
	SYS_recvmsg,
	SYS_recvfrom,
	SYS_sendmsg,
	SYS_close,
	SYS_brk,
	SYS_munmap,
	SYS_mremap,
	SYS_madvise,
	SYS_clock_gettime,
	SYS_clock_getres,
	SYS_gettimeofday,
#ifdef SYS_time
	SYS_time,
#endif
	SYS_nanosleep,
	SYS_clock_nanosleep,
	SYS_getrandom,
	SYS_rt_sigaction,
	SYS_rt_sigprocmask,
	SYS_rt_sigreturn,
	SYS_sigaltstack,
	SYS_restart_syscall,
	SYS_getpid,
	SYS_gettid,
	SYS_sched_yield,
	SYS_exit,
	SYS_exit_group,
};

/* System calls that kill the process. sandbox.h gives the reasons. */
static const int fatal[] = {
	SYS_userfaultfd,
	SYS_bpf,
	SYS_perf_event_open,
	SYS_add_key,
	SYS_keyctl,
	SYS_request_key,
	SYS_unshare,
	SYS_msgget,
	SYS_msgsnd,
};

static const uint32_t fcntl_commands[] = {
	F_GETFD, F_SETFD, F_GETFL, F_SETFL,
};

/*
 * Futex operations of ordinary locks, condition variables and
 * pthread_once. The priority-inheritance operations are left out, because
 * glibc uses them only for PTHREAD_PRIO_INHERIT mutexes and their kernel
 * code has needed repeated security fixes.
 */
static const uint32_t futex_operations[] = {
	FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE,
	FUTEX_WAKE_OP, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET,
};

static void emit(struct program *p, struct sock_filter insn)
{
	if (p->len == MAX_INSNS) {
		p->overflow = true;
		return;
	}
	p->insns[p->len++] = insn;
}

/* Jumps over the next skip instructions unless the number is nr. */
static void match_nr(struct program *p, int nr, unsigned skip)
{
	emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
					     (uint32_t)nr, 0, (uint8_t)skip));
}

static void ret(struct program *p, uint32_t action)
{
	emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, action));
}

static void load(struct program *p, uint32_t offset)
{
	emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset));
}

static void return_for_nr(struct program *p, int nr, uint32_t action)
{
	match_nr(p, nr, 1);
	ret(p, action);
}

/*
 * Allows nr when every check passes, and denies it otherwise. Each failed
 * check jumps to the final deny, past the remaining checks and the allow.
 */
static void allow_if(struct program *p, int nr,
		     const struct arg_check *checks, unsigned count)
{
	unsigned i;

	match_nr(p, nr, 2 * count + 2);
	for (i = 0; i < count; i++) {
		uint8_t to_deny = (uint8_t)(2 * (count - 1 - i) + 1);
		const struct sock_filter equals = BPF_JUMP(BPF_JMP | BPF_JEQ |
			BPF_K, checks[i].value, 0, to_deny);
		const struct sock_filter bits_clear = BPF_JUMP(BPF_JMP |
			BPF_JSET | BPF_K, checks[i].value, to_deny, 0);

		load(p, checks[i].offset);
		emit(p, checks[i].test == ARG_EQUALS ? equals : bits_clear);
	}
	ret(p, SECCOMP_RET_ALLOW);
	ret(p, RET_DENY);
}

/*
 * Allows nr when the low word of an argument, masked with mask, is one of
 * values.
 */
static void allow_if_one_of(struct program *p, int nr, unsigned arg,
			    uint32_t mask, const uint32_t *values,
			    unsigned count)
{
	bool masked = mask != UINT32_MAX;
	unsigned i;

	match_nr(p, nr, count + 3 + masked);
	load(p, ARG_LOW(arg));
	if (masked)
		emit(p, (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K,
						     mask));
	for (i = 0; i < count; i++)
		emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			values[i], (uint8_t)(count - i), 0));
	ret(p, RET_DENY);
	ret(p, SECCOMP_RET_ALLOW);
}

/*
 * Adds the calls whose arguments matter. Arguments that the kernel takes
 * as int or unsigned int are checked on their low word only, because the
 * kernel ignores the high one. Pointers are checked on both words.
 */
static void add_argument_checks(struct program *p, pid_t pid)
{
	const struct arg_check no_exec[] = {
		{ ARG_LOW(2), ARG_BITS_CLEAR, PROT_EXEC },
	};
	const struct arg_check no_address[] = {
		{ ARG_LOW(4), ARG_EQUALS, 0 },
		{ ARG_HIGH(4), ARG_EQUALS, 0 },
	};
	const struct arg_check empty_path[] = {
		{ ARG_LOW(3), ARG_EQUALS, AT_EMPTY_PATH },
	};
	const struct arg_check own_process[] = {
		{ ARG_LOW(0), ARG_EQUALS, (uint32_t)pid },
	};
	const struct arg_check read_limits[] = {
		{ ARG_LOW(0), ARG_EQUALS, 0 },
		{ ARG_LOW(2), ARG_EQUALS, 0 },
		{ ARG_HIGH(2), ARG_EQUALS, 0 },
	};
	const struct arg_check query_personality[] = {
		{ ARG_LOW(0), ARG_EQUALS, 0xffffffffu },
	};
	const struct arg_check set_no_new_privs[] = {
		{ ARG_LOW(0), ARG_EQUALS, PR_SET_NO_NEW_PRIVS },
	};
	const struct arg_check add_filter[] = {
		{ ARG_LOW(0), ARG_EQUALS, SECCOMP_SET_MODE_FILTER },
		{ ARG_LOW(1), ARG_EQUALS, SECCOMP_FILTER_FLAG_TSYNC },
	};

	allow_if(p, SYS_mmap, no_exec, 1);
	allow_if(p, SYS_mprotect, no_exec, 1);
	allow_if(p, SYS_sendto, no_address, 2);
	allow_if(p, SYS_newfstatat, empty_path, 1);
	allow_if_one_of(p, SYS_fcntl, 1, UINT32_MAX, fcntl_commands,
			ARRAY_SIZE(fcntl_commands));
	allow_if_one_of(p, SYS_futex, 1, (uint32_t)FUTEX_CMD_MASK,
			futex_operations, ARRAY_SIZE(futex_operations));
	allow_if(p, SYS_tgkill, own_process, 1);
	allow_if(p, SYS_prlimit64, read_limits, 3);
	allow_if(p, SYS_personality, query_personality, 1);
	allow_if(p, SYS_prctl, set_no_new_privs, 1);
	allow_if(p, SYS_seccomp, add_filter, 2);
}

static void build_program(struct program *p)
{
	size_t i;

	load(p, offsetof(struct seccomp_data, arch));
	emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
					     FILTER_ARCH, 1, 0));
	ret(p, SECCOMP_RET_KILL_PROCESS);
	load(p, offsetof(struct seccomp_data, nr));
#ifdef __x86_64__
	emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K,
					     __X32_SYSCALL_BIT, 0, 1));
	ret(p, SECCOMP_RET_KILL_PROCESS);
#endif
	for (i = 0; i < ARRAY_SIZE(allowed); i++)
		return_for_nr(p, allowed[i], SECCOMP_RET_ALLOW);
	add_argument_checks(p, getpid());
	for (i = 0; i < ARRAY_SIZE(fatal); i++)
		return_for_nr(p, fatal[i], SECCOMP_RET_KILL_PROCESS);
	ret(p, RET_DENY);
}

/*
 * Clears READ_IMPLIES_EXEC, under which the kernel adds PROT_EXEC to
 * readable mappings after the filter has checked mmap's arguments.
 */
static int clear_read_implies_exec(char *message, size_t len)
{
	int persona = personality(0xffffffff);
	int err;

	if (persona == -1) {
		err = errno;
		snprintf(message, len, "personality() failed: %s",
			 strerror(err));
		return -err;
	}
	if (!(persona & READ_IMPLIES_EXEC))
		return 0;
	if (personality((unsigned long)persona & ~READ_IMPLIES_EXEC) == -1) {
		err = errno;
		snprintf(message, len, "cannot clear READ_IMPLIES_EXEC: "
			 "personality() failed: %s", strerror(err));
		return -err;
	}
	return 0;
}

static int install_filter(struct program *p, char *message, size_t len)
{
	struct sock_fprog fprog = {
		.len = (unsigned short)p->len,
		.filter = p->insns,
	};
	long ret;
	int err;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		err = errno;
		snprintf(message, len, "prctl(PR_SET_NO_NEW_PRIVS) failed: %s",
			 strerror(err));
		return -err;
	}
	ret = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		      SECCOMP_FILTER_FLAG_TSYNC, &fprog);
	err = errno;
	if (ret > 0) {
		snprintf(message, len, "seccomp() could not apply the filter "
			 "to thread %ld, which runs under an unrelated filter",
			 ret);
		return -EBUSY;
	}
	if (ret < 0 && (err == ENOSYS || err == EINVAL)) {
		snprintf(message, len, "seccomp() failed: %s. The kernel lacks "
			 "seccomp filters or SECCOMP_FILTER_FLAG_TSYNC, which "
			 "need Linux 3.17", strerror(err));
		return -err;
	}
	if (ret < 0) {
		snprintf(message, len, "seccomp() failed: %s", strerror(err));
		return -err;
	}
	return 0;
}

int sandbox_enter(char *message, size_t len)
{
	struct program prog = { .len = 0 };
	int err;

	if (len)
		message[0] = '\0';
	/*
	 * Loads the time zone now. libavutil 57 formats creation times with
	 * avpriv_dict_set_timestamp(), which reaches tzset(), and that would
	 * otherwise fail to open /etc/localtime inside the sandbox.
	 */
	tzset();
	err = clear_read_implies_exec(message, len);
	if (err < 0)
		return err;

	build_program(&prog);
	if (prog.overflow) {
		snprintf(message, len, "the seccomp filter has more than %d "
			 "instructions. Raise MAX_INSNS in sandbox.c",
			 MAX_INSNS);
		return -E2BIG;
	}
	return install_filter(&prog, message, len);
}

#else

int sandbox_enter(char *message, size_t len)
{
	snprintf(message, len, "no seccomp filter is defined for this "
		 "architecture, only for x86_64 and aarch64");
	return -EOPNOTSUPP;
}

#endif

/*
 * The parser worker process (the metaextract-parser helper). It loads the
 * format libraries, limits its memory, enters the sandbox, then serves
 * one request at a time until the loop closes the socket. Each request
 * brings an open descriptor; the worker reads it with pread, runs the
 * chosen backend's parse() and sends the results back.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "loop.h"
#include "parser_proto.h"
#include "sandbox.h"
#include "strbuf.h"
#include "wire.h"

#if defined(__SANITIZE_ADDRESS__)
#define MEMORY_LIMIT_WORKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMORY_LIMIT_WORKS 0
#endif
#endif
#ifndef MEMORY_LIMIT_WORKS
#define MEMORY_LIMIT_WORKS 1
#endif

/*
 * Ends the worker with _exit: after the sandbox, exit handlers such as
 * LeakSanitizer's would need calls the filter refuses.
 */
static void die(const char *what)
{
	fprintf(stderr, "metaextract-parser: %s\n", what);
	_exit(2);
}

static int read_full(int fd, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n == 0)
			return -EPIPE;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Receives a request and its descriptor. Returns 0, -EPIPE when the loop
 * closed the socket, or another negative errno for a broken request.
 */
static int receive_request(struct parse_request *req, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = req, .iov_len = sizeof(*req) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	do {
		n = recvmsg(WORKER_SOCKET_FD, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		return -EPIPE;
	if (n < 0)
		return -errno;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	if ((size_t)n < sizeof(*req))
		return read_full(WORKER_SOCKET_FD, (char *)req + n,
				 sizeof(*req) - (size_t)n);
	return 0;
}

static int send_response(int ret, const struct source *src,
			 const struct parse_ctx *ctx, struct arena *a)
{
	struct mx_value *all = val_array(a);
	struct parse_response resp = {
		.magic = PARSE_RESPONSE_MAGIC,
		.ret = ret,
		.bytes = src->bytes,
		.reads = src->reads,
	};
	struct arena small;
	struct strbuf sb;
	int err;

	val_push(a, all, ctx->out);
	val_push(a, all, ctx->warnings);
	val_push(a, all, val_cstring(a, ctx->message));
	strbuf_init(&sb);
	arena_init(&small, 0);
	if (a->failed || wire_encode(all, &sb) < 0 || sb.failed) {
		/*
		 * The results outgrew the record limit, and their arena is
		 * spent: the message goes in a fresh one.
		 */
		strbuf_reset(&sb);
		resp.ret = -E2BIG;
		all = val_array(&small);
		val_push(&small, all, val_object(&small));
		val_push(&small, all, val_array(&small));
		val_push(&small, all, val_cstring(&small, "the parser's results "
			 "passed the record size limit of 64 MiB; lower "
			 "--max-objects"));
		if (small.failed || wire_encode(all, &sb) < 0 || sb.failed) {
			arena_free(&small);
			strbuf_free(&sb);
			return -ENOMEM;
		}
	}
	arena_free(&small);
	resp.payload_len = (uint32_t)sb.len;
	err = write_full(WORKER_SOCKET_FD, &resp, sizeof(resp));
	if (err == 0)
		err = write_full(WORKER_SOCKET_FD, sb.data, sb.len);
	strbuf_free(&sb);
	return err;
}

/* A worker started by root keeps no capability: it needs none. */
static void drop_capabilities(void)
{
	struct __user_cap_header_struct head = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];

	memset(none, 0, sizeof(none));
	if (syscall(SYS_capset, &head, none) < 0)
		die("cannot drop capabilities");
}

static unsigned backend_count(void)
{
	unsigned n = 0;

	while (fmt_backends[n])
		n++;
	return n;
}

static int serve(struct worker_shared *shared, unsigned char *cache,
		 char *path)
{
	struct parse_request req;
	struct mx_config cfg;
	struct arena arena;
	int fd, ret;

	ret = receive_request(&req, &fd);
	if (ret < 0)
		return ret;
	if (req.magic != PARSE_REQUEST_MAGIC || req.backend >= backend_count() ||
	    req.path_len > PARSE_PATH_MAX || fd < 0)
		die("malformed request");
	ret = read_full(WORKER_SOCKET_FD, path, req.path_len);
	if (ret < 0)
		return ret;
	path[req.path_len] = '\0';

	mx_config_init(&cfg);
	cfg.max_objects = req.max_objects;
	cfg.max_tags = req.max_tags;
	cfg.max_depth = req.max_depth;
	cfg.probe_size = req.probe_size;
	cfg.analyze_duration = req.analyze_duration;
	arena_init(&arena, RECORD_MAX_BYTES);
	struct source src = {
		.fd = fd,
		.size = req.size,
		.path = path,
		.cache = cache,
		.shared = shared,
	};
	struct parse_ctx ctx = {
		.src = &src,
		.cfg = &cfg,
		.arena = &arena,
		.out = val_object(&arena),
		.warnings = val_array(&arena),
	};
	ret = fmt_backends[req.backend]->parse(&ctx);
	close(fd);
	ret = send_response(ret, &src, &ctx, &arena);
	arena_free(&arena);
	return ret;
}

int mx_parser_worker_main(int argc, char **argv)
{
	unsigned long long memory = 0;
	struct worker_shared *shared;
	unsigned char *cache;
	char message[256], *path;
	bool sandbox = true;
	pid_t parent = 0;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--memory") == 0 && i + 1 < argc)
			memory = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--parent") == 0 && i + 1 < argc)
			parent = (pid_t)strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--no-sandbox") == 0)
			sandbox = false;
		else
			die("usage: metaextract-parser [--memory BYTES] "
			    "[--no-sandbox]; started by libmetaextract only");
	}
	/* Stops are the loop's business; it ends this process itself. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Dies with the loop that started it, even in an endless parse. The
	 * check after catches a parent that died before the prctl.
	 */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (parent && getppid() != parent)
		_exit(0);
	/* Only the socket and the shared page are for the worker. */
	close_range(WORKER_SHARED_FD + 1, ~0u, 0);

	/*
	 * Memory from malloc starts as 0x5a bytes and freed memory is
	 * overwritten, so a format library that reads bytes it never wrote
	 * puts a constant in a record rather than leftovers of another file.
	 */
	mallopt(M_PERTURB, 0xa5);
	if (fmt_init_all(message, sizeof(message)) < 0)
		die(message);
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED, WORKER_SHARED_FD, 0);
	cache = alloc_malloc(PARSER_CACHE);
	path = alloc_malloc(PARSE_PATH_MAX + 1);
	if (shared == MAP_FAILED || !cache || !path)
		die("cannot set up: out of memory or no shared page");
	if (memory && MEMORY_LIMIT_WORKS) {
		struct rlimit rl = { memory, memory };

		if (setrlimit(RLIMIT_DATA, &rl) < 0)
			die("cannot set RLIMIT_DATA");
	}
	drop_capabilities();
	if (sandbox && sandbox_enter(message, sizeof(message)) < 0)
		die(message);
	do {
		ret = serve(shared, cache, path);
	} while (ret == 0);
	_exit(ret == -EPIPE ? 0 : 1);
}

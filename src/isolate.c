/* Parent side of the parser workers: start, ask, time out, replace. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "isolate.h"
#include "log.h"
#include "loop.h"
#include "parser_proto.h"
#include "wire.h"

extern char **environ;

#ifndef MX_LIBEXECDIR
#define MX_LIBEXECDIR "/usr/local/libexec"
#endif

/* Poll period while waiting for a worker, for the stall check. */
#define WAIT_TICK_MS 100

void isolate_setup(struct mx_batch *b)
{
	const char *path = getenv("MX_PARSER_HELPER");

	b->isolate = false;
	if (!b->cfg.parse || !b->cfg.isolate_parsers || !fmt_backends[0])
		return;
	if (!path || !*path)
		path = b->cfg.parser_helper;
	if (!path || !*path)
		path = MX_LIBEXECDIR "/metaextract-parser";
	if (access(path, X_OK) != 0) {
		mx_log(MX_LOG_WARN, "parser", "parser helper '%s' is not "
		       "executable (%s), so parsers run inside this process "
		       "and a crash in a format library ends the batch; set "
		       "MX_PARSER_HELPER to the metaextract-parser program",
		       path, strerror(errno));
		return;
	}
	snprintf(b->parser_helper, sizeof(b->parser_helper), "%s", path);
	b->isolate = true;
}

static int start_worker(struct loop *l, struct parser_worker *w)
{
	const struct mx_config *cfg = &l->batch->cfg;
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	char memory[32], parent[32];
	char *argv[] = { "metaextract-parser", "--memory", memory, "--parent",
			 parent, NULL };
	sigset_t none;
	int sv[2], shm, ret;
	void *page;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	shm = memfd_create("mx-parser", MFD_CLOEXEC);
	if (shm < 0 || ftruncate(shm, sizeof(struct worker_shared)) < 0) {
		ret = -errno;
		goto fail;
	}
	page = mmap(NULL, sizeof(struct worker_shared), PROT_READ | PROT_WRITE,
		    MAP_SHARED, shm, 0);
	if (page == MAP_FAILED) {
		ret = -errno;
		goto fail;
	}
	snprintf(memory, sizeof(memory), "%llu",
		 (unsigned long long)cfg->parser_memory);
	snprintf(parent, sizeof(parent), "%d", (int)getpid());
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, sv[1], WORKER_SOCKET_FD);
	posix_spawn_file_actions_adddup2(&actions, shm, WORKER_SHARED_FD);
	posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
					 O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null",
					 O_WRONLY, 0);
	/* Its own process group: a Ctrl-C on the terminal is for the parent,
	   which stops cleanly and ends its workers itself. */
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETPGROUP);
	ret = -posix_spawn(&w->pid, l->batch->parser_helper, &actions, &attr,
			   argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	if (ret < 0) {
		munmap(page, sizeof(struct worker_shared));
		w->pid = 0;
		goto fail;
	}
	close(sv[1]);
	close(shm);
	w->sock = sv[0];
	w->shared = page;
	w->files = 0;
	mx_log(MX_LOG_DEBUG, "parser", "loop %u started parser worker %d",
	       l->id, (int)w->pid);
	return 0;
fail:
	close(sv[0]);
	close(sv[1]);
	if (shm >= 0)
		close(shm);
	return ret;
}

/* Kills the worker and returns the signal that ended it, or 0. */
/* Frees the loop's side of a worker whose process is already reaped. */
static void release_worker(struct parser_worker *w)
{
	close(w->sock);
	munmap(w->shared, sizeof(struct worker_shared));
	w->pid = 0;
	w->shared = NULL;
}

static int reap_worker(struct parser_worker *w, bool kill_it)
{
	int status = 0;

	if (!w->pid)
		return 0;
	if (kill_it)
		kill(w->pid, SIGKILL);
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	release_worker(w);
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

void isolate_stop(struct parser_worker *w)
{
	reap_worker(w, true);
}

static int send_request(struct parser_worker *w, struct file *f,
			unsigned backend, const struct mx_config *cfg)
{
	size_t path_len = strlen(f->task.path);
	struct parse_request req = {
		.magic = PARSE_REQUEST_MAGIC,
		.backend = backend,
		.size = f->size,
		.max_objects = cfg->max_objects,
		.max_tags = cfg->max_tags,
		.max_depth = cfg->max_depth,
		.probe_size = cfg->probe_size,
		.analyze_duration = cfg->analyze_duration,
		.path_len = (uint32_t)path_len,
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov[2] = {
		{ .iov_base = &req, .iov_len = sizeof(req) },
		{ .iov_base = f->task.path, .iov_len = path_len },
	};
	struct msghdr msg = {
		.msg_iov = iov,
		.msg_iovlen = 2,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	size_t total = sizeof(req) + path_len, sent = 0;
	ssize_t n;

	if (path_len > PARSE_PATH_MAX)
		return -ENAMETOOLONG;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &f->fd, sizeof(int));
	n = sendmsg(w->sock, &msg, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	/* Sends the rest when the socket took only part. The descriptor
	   went with the first part. */
	for (sent = (size_t)n; sent < total; sent += (size_t)n) {
		const char *p = sent < sizeof(req) ?
				(const char *)&req + sent :
				f->task.path + (sent - sizeof(req));
		size_t len = sent < sizeof(req) ? sizeof(req) - sent :
			     total - sent;

		n = send(w->sock, p, len, MSG_NOSIGNAL);
		if (n < 0)
			return -errno;
	}
	return 0;
}

static uint64_t ms_since(uint64_t start_ns)
{
	return (now_ns() - start_ns) / 1000000u;
}

/*
 * Reads len bytes of the response, waiting at most until the worker has
 * run cfg.parse_timeout seconds in all, or parse_stall_timeout seconds
 * without a read. Returns 0, -ETIMEDOUT, -ECANCELED once the batch is
 * cancelled, or -ECHILD when the worker closed the socket (it died).
 */
static int read_response(struct parser_worker *w, struct mx_batch *batch,
		       void *buf, size_t len, uint64_t start_ns,
		       uint64_t *progress_ns, uint64_t *last_reads,
		       char *detail, size_t detail_len)
{
	const struct mx_config *cfg = &batch->cfg;
	const uint64_t total_ms = (uint64_t)(cfg->parse_timeout * 1000);
	const uint64_t stall_ms = (uint64_t)(cfg->parse_stall_timeout * 1000);
	unsigned char *p = buf;
	size_t done = 0;

	while (done < len) {
		struct pollfd pfd = { .fd = w->sock, .events = POLLIN };
		uint64_t reads = atomic_load(&w->shared->calls);
		ssize_t n;

		if (atomic_load_explicit(&batch->cancelled,
					 memory_order_relaxed))
			return -ECANCELED;
		if (reads != *last_reads) {
			*last_reads = reads;
			*progress_ns = now_ns();
		}
		if (total_ms && ms_since(start_ns) >= total_ms) {
			snprintf(detail, detail_len, "the parser ran longer than "
				 "the %g s limit (--parse-timeout)",
				 cfg->parse_timeout);
			return -ETIMEDOUT;
		}
		if (stall_ms && ms_since(*progress_ns) >= stall_ms) {
			snprintf(detail, detail_len, "the parser read nothing for "
				 "%g s (--parse-stall-timeout)",
				 cfg->parse_stall_timeout);
			return -ETIMEDOUT;
		}
		if (poll(&pfd, 1, WAIT_TICK_MS) <= 0)
			continue;
		n = recv(w->sock, p + done, len - done, 0);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return -ECHILD;
		if (n > 0)
			done += (size_t)n;
	}
	return 0;
}

/* Rebuilds [out, warnings, message] from the worker in the record. */
static int take_payload(struct file *f, struct parse_ctx *ctx,
			const void *payload, size_t len, char *detail,
			size_t detail_len)
{
	const char *why = NULL;
	struct mx_value *v = wire_decode(&f->rec->arena, payload, len, &why);
	const struct mx_value *out = mx_value_item(v, 0, NULL);
	const struct mx_value *warnings = mx_value_item(v, 1, NULL);
	const char *message = mx_value_string(mx_value_item(v, 2, NULL), NULL);
	size_t i;

	if (!v || mx_value_type(v) != MX_ARRAY || mx_value_count(v) != 3 ||
	    mx_value_type(out) != MX_OBJECT ||
	    mx_value_type(warnings) != MX_ARRAY) {
		snprintf(detail, detail_len, "the parser worker sent a "
			 "malformed response (%s)", why ? why : "wrong layout");
		return -EPROTO;
	}
	ctx->out = (struct mx_value *)out;
	for (i = 0; i < mx_value_count(warnings); i++)
		val_push(ctx->arena, ctx->warnings,
			 (struct mx_value *)mx_value_item(warnings, i, NULL));
	snprintf(ctx->message, sizeof(ctx->message), "%s",
		 message ? message : "");
	return 0;
}

static unsigned backend_index(const struct fmt_ops *fmt)
{
	unsigned i;

	for (i = 0; fmt_backends[i] && fmt_backends[i] != fmt; i++)
		;
	return i;
}

/*
 * Parsers read the descriptor with plain preads at any offset and
 * length, which O_DIRECT rejects; the content pass is over by now.
 */
static void clear_direct(struct file *f)
{
	int flags;

	if (!f->direct)
		return;
	flags = fcntl(f->fd, F_GETFL);
	if (flags >= 0)
		fcntl(f->fd, F_SETFL, flags & ~O_DIRECT);
}

/* True when the worker exited while idle, as after a kill from outside. */
static bool worker_gone(struct parser_worker *w)
{
	int status;

	return w->pid && waitpid(w->pid, &status, WNOHANG) == w->pid;
}

/* Sends the request, starting a worker first when none runs. */
static int ask_worker(struct loop *l, struct file *f, struct parse_result *res)
{
	struct parser_worker *w = &l->worker;
	int ret, attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		/* worker_gone() reaped it already. */
		if (worker_gone(w))
			release_worker(w);
		if (!w->pid && (ret = start_worker(l, w)) < 0) {
			res->outcome = PARSE_UNAVAILABLE;
			snprintf(res->detail, sizeof(res->detail), "cannot "
				 "start the parser worker '%.100s': %s",
				 l->batch->parser_helper, strerror(-ret));
			return ret;
		}
		atomic_store(&w->shared->calls, 0);
		atomic_store(&w->shared->reads, 0);
		atomic_store(&w->shared->bytes, 0);
		ret = send_request(w, f, backend_index(f->fmt),
				   &l->batch->cfg);
		/* A worker that died idle fails the send: start another. */
		if (ret != -EPIPE && ret != -ECONNRESET)
			return ret;
		reap_worker(w, true);
	}
	return ret;
}

/*
 * Checks the fixed part of a response. The worker may be compromised, so
 * its counts are bounded by what a parse of this file can plausibly read
 * (every byte many times over) and its result by the errno range.
 */
static int check_response(const struct parse_response *resp,
			  const struct file *f, char *detail, size_t len)
{
	if (resp->magic == PARSE_RESPONSE_MAGIC &&
	    resp->payload_len <= RECORD_MAX_BYTES && resp->ret <= 0 &&
	    resp->ret >= -4095 && resp->bytes <= 1024 * (f->size + 65536))
		return 0;
	snprintf(detail, len, "the parser worker sent a malformed response");
	return -EPROTO;
}

/* True when the worker sent bytes past its response, against the protocol. */
static bool extra_bytes(const struct parser_worker *w)
{
	char byte;

	return recv(w->sock, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/*
 * Warns once when workers keep exiting without a signal and without an
 * response: the helper is likely not metaextract-parser.
 */
static void note_silent_exit(struct loop *l, bool silent)
{
	struct parser_worker *w = &l->worker;

	if (!silent) {
		w->silent_exits = 0;
		return;
	}
	if (++w->silent_exits == 3)
		mx_log(MX_LOG_WARN, "parser", "loop %u: three parser workers "
		       "in a row exited without a response; is '%s' the "
		       "metaextract-parser program of this version?", l->id,
		       l->batch->parser_helper);
}

int isolate_parse(struct loop *l, struct file *f, struct parse_ctx *ctx,
		  struct parse_result *res)
{
	const struct mx_config *cfg = &l->batch->cfg;
	struct parser_worker *w = &l->worker;
	struct parse_response resp;
	uint64_t start = now_ns(), progress = start, reads = 0;
	void *payload = NULL;
	int ret;

	res->outcome = PARSE_RETURNED;
	res->signal = 0;
	res->detail[0] = '\0';
	clear_direct(f);
	ret = ask_worker(l, f, res);
	if (res->outcome == PARSE_UNAVAILABLE)
		return ret;
	if (ret == 0)
		ret = read_response(w, l->batch, &resp, sizeof(resp), start,
				  &progress, &reads, res->detail,
				  sizeof(res->detail));
	if (ret == 0)
		ret = check_response(&resp, f, res->detail,
				     sizeof(res->detail));
	if (ret == 0 && !(payload = alloc_malloc(resp.payload_len + 1)))
		ret = -ENOMEM;
	if (ret == 0)
		ret = read_response(w, l->batch, payload, resp.payload_len, start,
				  &progress, &reads, res->detail,
				  sizeof(res->detail));
	if (ret == 0 && extra_bytes(w)) {
		snprintf(res->detail, sizeof(res->detail), "the parser worker "
			 "sent more than its response");
		ret = -EPROTO;
	}
	if (ret == 0)
		ret = take_payload(f, ctx, payload, resp.payload_len,
				   res->detail, sizeof(res->detail));
	alloc_free(payload);
	if (ret == 0) {
		note_silent_exit(l, false);
		f->parser_bytes += resp.bytes;
		f->parser_reads += resp.reads;
		atomic_fetch_add_explicit(&l->batch->bytes_done, resp.bytes,
					  memory_order_relaxed);
		if (++w->files >= cfg->parser_recycle)
			reap_worker(w, true);
		return resp.ret;
	}
	f->parser_bytes += atomic_load(&w->shared->bytes);
	f->parser_reads += (unsigned)atomic_load(&w->shared->reads);
	if (ret == -ETIMEDOUT || ret == -ECANCELED) {
		res->outcome = ret == -ETIMEDOUT ? PARSE_TIMED_OUT :
			       PARSE_CANCELLED;
		if (ret == -ECANCELED)
			snprintf(res->detail, sizeof(res->detail), "the run "
				 "was cancelled during the parse");
		reap_worker(w, true);
		return ret;
	}
	/* The worker died, or broke the protocol: either way it goes. */
	if (ret == -EPIPE || ret == -ECONNRESET)
		ret = -ECHILD;
	res->signal = reap_worker(w, true);
	if (ret == -ECHILD) {
		res->outcome = PARSE_CRASHED;
		note_silent_exit(l, res->signal == 0);
		if (res->signal)
			snprintf(res->detail, sizeof(res->detail), "the parser "
				 "crashed with SIG%s",
				 sigabbrev_np(res->signal));
		else
			snprintf(res->detail, sizeof(res->detail), "the parser "
				 "worker exited in the middle of a parse");
	}
	return ret;
}

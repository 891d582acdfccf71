/*
 * Parsers that misbehave on purpose, for the isolation tests; built with
 * -Dtesting=true only. A file whose first bytes are "MXTEST:" and a
 * command goes to this backend:
 *   MXTEST:crash    writes through a null pointer (SIGSEGV)
 *   MXTEST:abort    calls abort()
 *   MXTEST:loop     spins forever without reading
 *   MXTEST:slow     reads one byte every 50 ms, forever
 *   MXTEST:memory   allocates until malloc fails, then returns -ENOMEM
 *   MXTEST:escape   tries to open a file and a socket, and reports the
 *                   errno names in its results ("open", "socket")
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fmt.h"

#define PREFIX "MXTEST:"

static bool test_probe(const unsigned char *head, size_t head_len,
		       uint64_t file_size, const char *mime)
{
	(void)file_size;
	(void)mime;
	return head_len >= sizeof(PREFIX) - 1 &&
	       memcmp(head, PREFIX, sizeof(PREFIX) - 1) == 0;
}

static const char *errno_name(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "unknown";
}

static void try_escape(struct parse_ctx *ctx)
{
	int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
	int sock;

	val_put_cstring(ctx->arena, ctx->out, "open",
			fd >= 0 ? "opened" : errno_name(errno));
	if (fd >= 0)
		close(fd);
	sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	val_put_cstring(ctx->arena, ctx->out, "socket",
			sock >= 0 ? "created" : errno_name(errno));
	if (sock >= 0)
		close(sock);
}

/* Returns -ENOMEM once malloc fails, or -EOPNOTSUPP without a limit. */
static int exhaust_memory(struct parse_ctx *ctx)
{
	struct rlimit rl;
	size_t total = 0;
	void **blocks = NULL;
	size_t count = 0, i;

	if (getrlimit(RLIMIT_DATA, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) {
		strcpy(ctx->message, "no memory limit is in effect");
		return -EOPNOTSUPP;
	}
	for (;;) {
		void **grown = realloc(blocks, (count + 1) * sizeof(*blocks));
		void *p;

		if (!grown)
			break;
		blocks = grown;
		p = malloc(16 << 20);
		if (!p)
			break;
		memset(p, 1, 16 << 20);
		blocks[count++] = p;
		total += 16 << 20;
	}
	for (i = 0; i < count; i++)
		free(blocks[i]);
	free(blocks);
	strcpy(ctx->message, "allocation failed at the memory limit");
	return -ENOMEM;
}

static int test_parse(struct parse_ctx *ctx)
{
	char head[32] = { 0 };
	const char *cmd = head + sizeof(PREFIX) - 1;
	volatile unsigned spin = 0;
	ssize_t n = source_read(ctx->src, head, sizeof(head) - 1, 0);

	if (n < (ssize_t)sizeof(PREFIX) - 1)
		return n < 0 ? (int)n : -EBADMSG;
	head[strcspn(head, "\n")] = '\0';
	if (strcmp(cmd, "crash") == 0)
		*(volatile int *)(uintptr_t)spin = 1;
	if (strcmp(cmd, "abort") == 0)
		abort();
	if (strcmp(cmd, "loop") == 0)
		for (;;)
			spin++;
	if (strcmp(cmd, "slow") == 0) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		char byte;

		for (;;) {
			source_read(ctx->src, &byte, 1, 0);
			nanosleep(&ts, NULL);
		}
	}
	if (strcmp(cmd, "memory") == 0)
		return exhaust_memory(ctx);
	if (strcmp(cmd, "escape") == 0) {
		try_escape(ctx);
		return 0;
	}
	strcpy(ctx->message, "unknown test command");
	return -EOPNOTSUPP;
}

static void test_version(char *buf, size_t len)
{
	snprintf(buf, len, "test parsers");
}

const struct fmt_ops fmt_test_ops = {
	.name = "test",
	.probe = test_probe,
	.parse = test_parse,
	.version = test_version,
};

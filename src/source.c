/*
 * Parser reads: synchronous reads through the loop's second ring, served
 * from a 64 KiB cache so that the many small reads of format libraries
 * cost few system calls.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"

static int parser_read_once(struct loop *l, int fd, void *buf, unsigned len,
			    uint64_t offset, int index)
{
	struct ring_completion c;
	unsigned attempt;
	int ret;

	for (attempt = 0; attempt < READ_ATTEMPTS_MAX; attempt++) {
		ret = ring_read(&l->parser_ring, fd, buf, len, offset, index,
				0);
		if (ret < 0)
			return ret;
		ret = ring_submit_wait(&l->parser_ring, 1);
		if (ret < 0)
			return ret;
		if (ring_reap(&l->parser_ring, &c, 1) != 1)
			return -EIO;
		if (c.res != -EAGAIN && c.res != -EINTR)
			return c.res;
	}
	return -EAGAIN;
}

/* One read of a worker's source, retried on EINTR and EAGAIN. */
static ssize_t worker_read_once(struct source *src, void *buf, size_t len,
				uint64_t offset)
{
	unsigned attempt;
	ssize_t n = -EAGAIN;

	for (attempt = 0; attempt < READ_ATTEMPTS_MAX; attempt++) {
		n = pread(src->fd, buf, len, (off_t)offset);
		if (n >= 0)
			break;
		n = -errno;
		if (n != -EINTR && n != -EAGAIN)
			break;
	}
	if (n > 0 && src->shared) {
		atomic_fetch_add_explicit(&src->shared->reads, 1,
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&src->shared->bytes, (uint64_t)n,
					  memory_order_relaxed);
	}
	return n;
}

/* Reads into buf, or into the cache when index is 0. */
static ssize_t read_block(struct source *src, void *buf, unsigned len,
			  uint64_t offset, int index)
{
	if (!src->loop)
		return worker_read_once(src, buf, len, offset);
	return parser_read_once(src->loop, src->file->fd, buf, len, offset,
				index);
}

static bool source_direct(const struct source *src)
{
	return src->loop && src->file->direct;
}

ssize_t source_read(struct source *src, void *buf, size_t len,
		    uint64_t offset)
{
	unsigned char *cache = src->loop ? src->loop->parser_cache : src->cache;
	const uint64_t size = source_size(src);
	unsigned char *out = buf;
	size_t done = 0;

	/* Any call shows the parser is alive, even one the cache serves. */
	if (src->shared)
		atomic_fetch_add_explicit(&src->shared->calls, 1,
					  memory_order_relaxed);
	while (done < len && offset < size) {
		uint64_t want = len - done;
		ssize_t ret;

		if (offset >= src->cache_offset &&
		    offset < src->cache_offset + src->cache_len) {
			uint64_t skip = offset - src->cache_offset;
			uint64_t n = src->cache_len - skip;

			if (n > want)
				n = want;
			memcpy(out + done, cache + skip, n);
			done += n;
			offset += n;
			continue;
		}
		if (want > size - offset)
			want = size - offset;
		if (want >= PARSER_CACHE && !source_direct(src)) {
			/*
			 * Large reads bypass the cache, straight into buf;
			 * with O_DIRECT buf may be unaligned, so they may not.
			 */
			if (want > 1u << 30)
				want = 1u << 30;
			ret = read_block(src, out + done, (unsigned)want, offset,
					 -1);
		} else {
			src->cache_offset = offset & ~(uint64_t)4095;
			src->cache_len = 0;
			ret = read_block(src, cache, PARSER_CACHE,
					 src->cache_offset, 0);
			if (ret > 0)
				src->cache_len = (uint32_t)ret;
		}
		if (ret < 0)
			return done ? (ssize_t)done : ret;
		if (src->loop) {
			src->file->parser_bytes += (uint64_t)ret;
			src->file->parser_reads++;
			atomic_fetch_add_explicit(&src->loop->batch->bytes_done,
						  (uint64_t)ret,
						  memory_order_relaxed);
		} else {
			src->bytes += (uint64_t)ret;
			src->reads++;
		}
		if (want >= PARSER_CACHE && !source_direct(src)) {
			done += (size_t)ret;
			offset += (uint64_t)ret;
		} else if (offset >= src->cache_offset + src->cache_len) {
			break;	/* the file ended before offset: it shrank */
		}
		if (ret == 0)
			break;
	}
	return (ssize_t)done;
}

uint64_t source_size(const struct source *src)
{
	return src->loop ? src->file->size : src->size;
}

const char *source_path(const struct source *src)
{
	return src->loop ? src->file->task.path : src->path;
}

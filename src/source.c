/*
 * Parser reads: synchronous reads through the loop's second ring, served
 * from a 64 KiB cache so that the many small reads of format libraries
 * cost few system calls.
 */
#include <errno.h>
#include <string.h>

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

ssize_t source_read(struct source *src, void *buf, size_t len,
		    uint64_t offset)
{
	struct file *f = src->file;
	struct loop *l = src->loop;
	unsigned char *out = buf;
	size_t done = 0;

	while (done < len && offset < f->size) {
		uint64_t want = len - done;
		int ret;

		if (offset >= src->cache_offset &&
		    offset < src->cache_offset + src->cache_len) {
			uint64_t skip = offset - src->cache_offset;
			uint64_t n = src->cache_len - skip;

			if (n > want)
				n = want;
			memcpy(out + done, l->parser_cache + skip, n);
			done += n;
			offset += n;
			continue;
		}
		if (want > f->size - offset)
			want = f->size - offset;
		if (want >= PARSER_CACHE && !f->direct) {
			/*
			 * Large reads bypass the cache, straight into buf;
			 * with O_DIRECT buf may be unaligned, so they may not.
			 */
			if (want > 1u << 30)
				want = 1u << 30;
			ret = parser_read_once(l, f->fd, out + done,
					       (unsigned)want, offset, -1);
		} else {
			src->cache_offset = offset & ~(uint64_t)4095;
			src->cache_len = 0;
			ret = parser_read_once(l, f->fd, l->parser_cache,
					       PARSER_CACHE, src->cache_offset,
					       0);
			if (ret > 0)
				src->cache_len = (uint32_t)ret;
		}
		if (ret < 0)
			return done ? (ssize_t)done : ret;
		f->parser_bytes += (uint64_t)ret;
		f->parser_reads++;
		atomic_fetch_add_explicit(&l->batch->bytes_done, (uint64_t)ret,
					  memory_order_relaxed);
		if (want >= PARSER_CACHE && !f->direct) {
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
	return src->file->size;
}

const char *source_path(const struct source *src)
{
	return src->file->task.path;
}

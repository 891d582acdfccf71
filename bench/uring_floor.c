/*
 * The minimum work io_uring needs to read a list of files: open, read
 * every byte into a reused buffer, close. No statx, no digests, no records. The
 * small-file benchmark (bench/small_files.sh) compares metaextract with
 * digests, type and parsers off against this floor.
 *
 * Built with the project; run from the build directory:
 *
 *   build/bench/uring_floor [-n FILES] [-c CHUNK_KIB] [-0] [DIR]
 *
 * With DIR, the tree under DIR is walked first (regular files only,
 * symbolic links not followed) and the walk is timed apart from the reads.
 * Without DIR, paths come from standard input, one per line, or ending
 * with NUL under -0.
 *
 * One thread and one ring keep FILES files in flight (default 32). Each
 * slot of the ring's fixed-file table belongs to one file in flight, and
 * each slot has its own registered buffer of CHUNK_KIB KiB (default 256,
 * metaextract's default chunk). A file costs one submission of three
 * linked entries: close of the slot's previous file, open into the slot,
 * and the first read. A file larger than the chunk gets further reads,
 * each from the previous read's end.
 *
 * Prints one line of key=value pairs. Exit status: 0 when every file was
 * read, 1 when some failed, 2 for invalid arguments or a failed setup.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES_IN_FLIGHT 4096

enum op {
	OP_CLOSE,		/* a close chained before the slot's next open */
	OP_LAST_CLOSE,		/* the close of the slot's last file */
	OP_OPEN,
	OP_READ,
};

struct path_list {
	char **paths;
	size_t count;
	size_t capacity;
};

struct slot {
	void *buffer;
	uint64_t offset;	/* where the next read starts */
	bool has_file;		/* the fixed-file slot holds an open file */
};

struct reader {
	struct io_uring ring;
	struct slot *slots;
	unsigned slot_count;
	size_t chunk_size;
	bool registered_buffers;
	const struct path_list *list;
	size_t next_path;
	unsigned busy_slots;
	uint64_t files_read;
	uint64_t files_failed;
	uint64_t bytes_read;
};

static struct path_list walk_result;

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void add_path(struct path_list *list, const char *path)
{
	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? list->capacity * 2 : 1024;
		char **paths = realloc(list->paths, capacity * sizeof(*paths));

		if (!paths) {
			fprintf(stderr, "uring_floor: out of memory for paths\n");
			exit(2);
		}
		list->paths = paths;
		list->capacity = capacity;
	}
	list->paths[list->count] = strdup(path);
	if (!list->paths[list->count]) {
		fprintf(stderr, "uring_floor: out of memory for paths\n");
		exit(2);
	}
	list->count++;
}

static int add_walked_file(const char *path, const struct stat *st,
			   int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_F && S_ISREG(st->st_mode))
		add_path(&walk_result, path);
	else if (type == FTW_DNR || type == FTW_NS)
		fprintf(stderr, "uring_floor: skipping %s: %s\n", path,
			strerror(errno));
	return 0;
}

static void read_path_list(FILE *in, int separator, struct path_list *list)
{
	char *line = NULL;
	size_t size = 0;
	ssize_t length;

	while ((length = getdelim(&line, &size, separator, in)) > 0) {
		if (line[length - 1] == separator)
			line[--length] = '\0';
		if (length > 0)
			add_path(list, line);
	}
	free(line);
}

static struct io_uring_sqe *get_sqe(struct reader *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	if (!sqe) {
		/* The ring is sized for three entries per slot, so this
		 * only happens when the kernel has not consumed a batch. */
		io_uring_submit(&r->ring);
		sqe = io_uring_get_sqe(&r->ring);
	}
	if (!sqe) {
		fprintf(stderr, "uring_floor: no free submission queue "
			"entry after a submit\n");
		exit(2);
	}
	return sqe;
}

static uint64_t pack_user_data(unsigned slot, enum op op)
{
	return (uint64_t)slot << 8 | (uint64_t)op;
}

static void queue_read(struct reader *r, unsigned index)
{
	struct slot *s = &r->slots[index];
	struct io_uring_sqe *sqe = get_sqe(r);

	if (r->registered_buffers)
		io_uring_prep_read_fixed(sqe, (int)index, s->buffer,
					 (unsigned)r->chunk_size, s->offset,
					 (int)index);
	else
		io_uring_prep_read(sqe, (int)index, s->buffer,
				   (unsigned)r->chunk_size, s->offset);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, pack_user_data(index, OP_READ));
}

/*
 * Queues the slot's next file, closing its previous one first in the same
 * chain. A hard link lets the open run even if the close fails. The open's
 * success posts no completion, and its failure cancels the linked read
 * without a completion for the read.
 */
static void start_next_file(struct reader *r, unsigned index)
{
	struct slot *s = &r->slots[index];
	struct io_uring_sqe *sqe;

	if (r->next_path == r->list->count) {
		if (s->has_file) {
			sqe = get_sqe(r);
			io_uring_prep_close_direct(sqe, index);
			io_uring_sqe_set_data64(sqe, pack_user_data(index,
							OP_LAST_CLOSE));
			s->has_file = false;
			return;
		}
		r->busy_slots--;
		return;
	}
	if (s->has_file) {
		sqe = get_sqe(r);
		io_uring_prep_close_direct(sqe, index);
		sqe->flags |= IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS;
		io_uring_sqe_set_data64(sqe, pack_user_data(index, OP_CLOSE));
	}
	sqe = get_sqe(r);
	io_uring_prep_openat_direct(sqe, AT_FDCWD,
				    r->list->paths[r->next_path++], O_RDONLY,
				    0, index);
	sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(sqe, pack_user_data(index, OP_OPEN));
	s->has_file = true;
	s->offset = 0;
	queue_read(r, index);
}

static void handle_completion(struct reader *r, const struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	unsigned index = (unsigned)(data >> 8);
	enum op op = (enum op)(data & 0xff);
	struct slot *s = &r->slots[index];

	switch (op) {
	case OP_OPEN:
		/* Only a failed open posts a completion, and the linked
		 * read then posts none (io_uring_enter(2), under
		 * IOSQE_CQE_SKIP_SUCCESS), so the slot moves on here. */
		r->files_failed++;
		s->has_file = false;
		start_next_file(r, index);
		break;
	case OP_CLOSE:
		/* Only a failed close posts a completion. */
		fprintf(stderr, "uring_floor: close failed: %s\n",
			strerror(-cqe->res));
		break;
	case OP_LAST_CLOSE:
		if (cqe->res < 0)
			fprintf(stderr, "uring_floor: close failed: %s\n",
				strerror(-cqe->res));
		r->busy_slots--;
		break;
	case OP_READ:
		if (cqe->res < 0) {
			r->files_failed++;
			start_next_file(r, index);
		} else if ((size_t)cqe->res == r->chunk_size) {
			s->offset += (uint64_t)cqe->res;
			r->bytes_read += (uint64_t)cqe->res;
			queue_read(r, index);
		} else {
			/* NOTE: a short read is taken as the end of the
			 * file, which holds for regular files on local file
			 * systems; a file that grows during the run is read
			 * only up to that point. */
			r->bytes_read += (uint64_t)cqe->res;
			r->files_read++;
			start_next_file(r, index);
		}
		break;
	}
}

static int setup_reader(struct reader *r, unsigned slot_count,
			size_t chunk_size)
{
	struct io_uring_params params;
	struct iovec *iovecs;
	unsigned i;
	int ret;

	memset(&params, 0, sizeof(params));
	params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init_params(slot_count * 4, &r->ring, &params);
	if (ret == -EINVAL) {
		memset(&params, 0, sizeof(params));
		ret = io_uring_queue_init_params(slot_count * 4, &r->ring,
						 &params);
	}
	if (ret < 0) {
		fprintf(stderr, "uring_floor: io_uring setup failed: %s\n",
			strerror(-ret));
		return -1;
	}
	ret = io_uring_register_files_sparse(&r->ring, slot_count);
	if (ret < 0) {
		fprintf(stderr, "uring_floor: registering %u file slots "
			"failed: %s\n", slot_count, strerror(-ret));
		return -1;
	}

	r->slots = calloc(slot_count, sizeof(*r->slots));
	iovecs = calloc(slot_count, sizeof(*iovecs));
	if (!r->slots || !iovecs) {
		fprintf(stderr, "uring_floor: out of memory for slots\n");
		return -1;
	}
	for (i = 0; i < slot_count; i++) {
		if (posix_memalign(&r->slots[i].buffer, 4096, chunk_size)) {
			fprintf(stderr, "uring_floor: out of memory for "
				"buffers\n");
			return -1;
		}
		/* Touch every page now, so that page faults stay out of
		 * the timed reads. */
		memset(r->slots[i].buffer, 0, chunk_size);
		iovecs[i].iov_base = r->slots[i].buffer;
		iovecs[i].iov_len = chunk_size;
	}
	ret = io_uring_register_buffers(&r->ring, iovecs, slot_count);
	r->registered_buffers = ret == 0;
	if (ret < 0)
		fprintf(stderr, "uring_floor: registering buffers failed "
			"(%s); reading into unregistered buffers\n",
			strerror(-ret));
	free(iovecs);
	r->slot_count = slot_count;
	r->chunk_size = chunk_size;
	return 0;
}

static int read_all(struct reader *r, const struct path_list *list)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen, i;
	int ret;

	r->list = list;
	r->next_path = 0;
	r->busy_slots = r->slot_count;
	for (i = 0; i < r->slot_count; i++)
		start_next_file(r, i);

	while (r->busy_slots > 0) {
		ret = io_uring_submit_and_wait(&r->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN &&
		    ret != -EBUSY) {
			fprintf(stderr, "uring_floor: io_uring_submit_and_wait "
				"failed: %s\n", strerror(-ret));
			return -1;
		}
		seen = 0;
		io_uring_for_each_cqe(&r->ring, head, cqe) {
			handle_completion(r, cqe);
			seen++;
		}
		io_uring_cq_advance(&r->ring, seen);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: uring_floor [-n FILES] [-c CHUNK_KIB] [-0] [DIR]\n"
		"  -n FILES      files in flight, 1 to %d (default 32)\n"
		"  -c CHUNK_KIB  bytes per read in KiB, a multiple of 4 "
		"(default 256)\n"
		"  -0            paths on standard input end with NUL\n"
		"Without DIR, paths are read from standard input.\n",
		MAX_FILES_IN_FLIGHT);
}

int main(int argc, char **argv)
{
	struct reader reader;
	struct path_list stdin_list = { 0 };
	const struct path_list *list;
	unsigned long slot_count = 32, chunk_kib = 256;
	int separator = '\n';
	double walk_start, read_start, end;
	char *end_ptr;
	int opt;

	while ((opt = getopt(argc, argv, "n:c:0h")) != -1) {
		switch (opt) {
		case 'n':
			errno = 0;
			slot_count = strtoul(optarg, &end_ptr, 10);
			if (errno || *end_ptr || slot_count < 1 ||
			    slot_count > MAX_FILES_IN_FLIGHT) {
				fprintf(stderr, "uring_floor: invalid -n '%s': "
					"expected 1 to %d\n", optarg,
					MAX_FILES_IN_FLIGHT);
				return 2;
			}
			break;
		case 'c':
			errno = 0;
			chunk_kib = strtoul(optarg, &end_ptr, 10);
			if (errno || *end_ptr || chunk_kib < 4 ||
			    chunk_kib % 4 || chunk_kib > 65536) {
				fprintf(stderr, "uring_floor: invalid -c '%s': "
					"expected a multiple of 4 from 4 to "
					"65536\n", optarg);
				return 2;
			}
			break;
		case '0':
			separator = '\0';
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (argc - optind > 1) {
		usage();
		return 2;
	}

	memset(&reader, 0, sizeof(reader));
	if (setup_reader(&reader, (unsigned)slot_count,
			 (size_t)chunk_kib * 1024) < 0)
		return 2;

	walk_start = now_seconds();
	if (optind < argc) {
		if (nftw(argv[optind], add_walked_file, 64, FTW_PHYS) != 0) {
			fprintf(stderr, "uring_floor: walking %s failed: %s\n",
				argv[optind], strerror(errno));
			return 2;
		}
		list = &walk_result;
	} else {
		read_path_list(stdin, separator, &stdin_list);
		list = &stdin_list;
	}

	read_start = now_seconds();
	if (read_all(&reader, list) < 0)
		return 2;
	end = now_seconds();

	printf("files=%llu failed=%llu bytes=%llu walk_seconds=%.3f "
	       "read_seconds=%.3f files_per_second=%.0f "
	       "files_per_second_with_walk=%.0f registered_buffers=%s\n",
	       (unsigned long long)reader.files_read,
	       (unsigned long long)reader.files_failed,
	       (unsigned long long)reader.bytes_read,
	       read_start - walk_start, end - read_start,
	       (double)reader.files_read / (end - read_start),
	       (double)reader.files_read / (end - walk_start),
	       reader.registered_buffers ? "yes" : "no");
	return reader.files_failed ? 1 : 0;
}

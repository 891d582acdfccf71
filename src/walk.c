/*
 * The walker: turns command-line paths into tasks for the loops, and into
 * records for what is not read.
 *
 * Rules:
 * - A path named by the caller is followed when it is a symbolic link,
 *   as find -H does. Links met inside a tree are followed only with
 *   follow_symlinks, and otherwise get a skipped record with their target.
 * - FIFOs, sockets and devices are never opened: they get a skipped
 *   record with their kind.
 * - With follow_symlinks, a directory that is its own ancestor gets an
 *   error record (ELOOP) instead of a second visit.
 * - With one_file_system, directories on another device than the path
 *   named by the caller are not entered, and get no record.
 * - A directory that cannot be opened or read gets an error record,
 *   because files in it may be missing from the output.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "alloc.h"
#include "engine.h"
#include "log.h"

/* Directories on the current path, for loop detection with -L. */
struct ancestor {
	dev_t dev;
	ino_t ino;
	const struct ancestor *up;
};

struct walk {
	struct mx_batch *b;
	dev_t root_dev;
	int stop;		/* negative errno once the queue is closed */
};

/* Offers an entry to the batch's walk hook: true to go on with it here. */
static bool hook_keeps(struct walk *w, const struct mx_walk_entry *e)
{
	return !w->b->walk_hook || w->b->walk_hook(e, w->b->walk_hook_arg);
}

static bool hook_keeps_record(struct walk *w, const char *path, int err)
{
	const struct mx_walk_entry e = {
		.kind = MX_WALK_RECORD,
		.path = path,
		.error = err,
	};

	return hook_keeps(w, &e);
}

static void emit_error(struct walk *w, const char *path,
		       enum record_stage stage, int err, const char *what)
{
	struct mx_record *rec;

	if (!hook_keeps_record(w, path, err))
		return;
	rec = record_new(path);
	if (!rec)
		return;
	record_fail(rec, stage, err, "%s: %s", what, strerror(err));
	atomic_fetch_add(&w->b->files_found, 1);
	batch_emit(w->b, rec);
}

static void put_lstat_identity(struct mx_record *rec, const struct stat *st)
{
	struct statx stx;

	memset(&stx, 0, sizeof(stx));
	stx.stx_mask = STATX_BASIC_STATS;
	stx.stx_mode = (uint16_t)st->st_mode;
	stx.stx_size = (uint64_t)st->st_size;
	stx.stx_blocks = (uint64_t)st->st_blocks;
	stx.stx_uid = st->st_uid;
	stx.stx_gid = st->st_gid;
	stx.stx_nlink = (uint32_t)st->st_nlink;
	stx.stx_ino = st->st_ino;
	stx.stx_dev_major = major(st->st_dev);
	stx.stx_dev_minor = minor(st->st_dev);
	stx.stx_mtime.tv_sec = st->st_mtim.tv_sec;
	stx.stx_mtime.tv_nsec = (uint32_t)st->st_mtim.tv_nsec;
	stx.stx_ctime.tv_sec = st->st_ctim.tv_sec;
	stx.stx_ctime.tv_nsec = (uint32_t)st->st_ctim.tv_nsec;
	record_put_identity(rec, &stx);
}

/* A skipped record for a symlink (with its target) or a special file. */
static void emit_skipped(struct walk *w, int dirfd, const char *name,
			 const char *path, const struct stat *st)
{
	struct mx_record *rec;
	char target[4096];
	ssize_t n;

	if (!hook_keeps_record(w, path, 0))
		return;
	rec = record_new(path);
	if (!rec)
		return;
	put_lstat_identity(rec, st);
	if (S_ISLNK(st->st_mode)) {
		n = readlinkat(dirfd, name, target, sizeof(target));
		if (n >= 0)
			val_put(&rec->arena, rec->root, "link_target",
				val_string(&rec->arena, target, (size_t)n));
		record_skip(rec, "symbolic link, not followed without -L");
	} else {
		record_skip(rec, "not a regular file");
	}
	atomic_fetch_add(&w->b->files_found, 1);
	batch_emit(w->b, rec);
}

static char *join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	bool slash = dl && dir[dl - 1] != '/';
	char *p = alloc_malloc(dl + slash + nl + 1);

	if (!p)
		return NULL;
	memcpy(p, dir, dl);
	if (slash)
		p[dl] = '/';
	memcpy(p + dl + slash, name, nl + 1);
	return p;
}

static bool is_ancestor(const struct ancestor *a, const struct stat *st)
{
	for (; a; a = a->up)
		if (a->dev == st->st_dev && a->ino == st->st_ino)
			return true;
	return false;
}

static void walk_dir(struct walk *w, int dirfd, const char *name,
		     const char *path, const struct stat *st,
		     const struct ancestor *up);

/*
 * Queues a regular file, unless the walk hook takes it. Takes ownership
 * of path.
 */
static int offer_file(struct walk *w, char *path, bool follow,
		      const struct stat *st)
{
	struct mx_file_id id;
	struct mx_walk_entry e = {
		.kind = MX_WALK_FILE,
		.path = path,
		.file = &id,
		.follow = follow,
	};

	if (w->b->walk_hook) {
		batch_file_id(path, st, &id);
		if (!hook_keeps(w, &e)) {
			alloc_free(path);
			return 0;
		}
	}
	return batch_enqueue(w->b, path, follow, st);
}

/*
 * Offers a directory below a PATH to the walk hook, with the chain of
 * directories above it flattened; false when the hook took it.
 */
static bool hook_keeps_dir(struct walk *w, const char *path,
			   const struct stat *st, const struct ancestor *up)
{
	struct mx_walk_dir d = { .path = path, .root_dev = w->root_dev };
	struct mx_walk_entry e = {
		.kind = MX_WALK_DIRECTORY,
		.path = path,
		.dir = &d,
	};
	const struct ancestor *a;
	uint64_t *pairs;
	size_t i;
	bool keep;

	if (!w->b->walk_hook)
		return true;
	for (a = up; a; a = a->up)
		d.depth++;
	d.depth++;
	pairs = alloc_malloc(d.depth * 2 * sizeof(*pairs));
	if (!pairs) {
		w->stop = -ENOMEM;
		return false;
	}
	i = d.depth - 1;
	pairs[2 * i] = (uint64_t)st->st_dev;
	pairs[2 * i + 1] = (uint64_t)st->st_ino;
	for (a = up; a; a = a->up) {
		i--;
		pairs[2 * i] = (uint64_t)a->dev;
		pairs[2 * i + 1] = (uint64_t)a->ino;
	}
	d.ancestors = pairs;
	keep = hook_keeps(w, &e);
	alloc_free(pairs);
	return keep;
}

/* Handles one entry of a directory; path is owned and consumed. */
static void walk_entry(struct walk *w, int dirfd, const char *name,
		       char *path, const struct ancestor *up)
{
	const bool follow = w->b->cfg.follow_symlinks;
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		emit_error(w, path, STAGE_STAT, errno, "stat failed");
		goto out;
	}
	if (S_ISLNK(st.st_mode) && follow) {
		if (fstatat(dirfd, name, &st, 0) < 0) {
			emit_error(w, path, STAGE_STAT, errno,
				   "the symbolic link cannot be followed");
			goto out;
		}
	}
	if (S_ISREG(st.st_mode)) {
		if (offer_file(w, path, follow, &st) < 0)
			w->stop = -EPIPE;
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		if (w->b->cfg.one_file_system && st.st_dev != w->root_dev)
			goto out;
		/* A loop is an error record here, never a directory taken. */
		if (is_ancestor(up, &st) || hook_keeps_dir(w, path, &st, up))
			walk_dir(w, dirfd, name, path, &st, up);
		goto out;
	}
	emit_skipped(w, dirfd, name, path, &st);
out:
	alloc_free(path);
}

static void list_dir(struct walk *w, int dirfd, const char *name,
		     const char *path, const struct ancestor *self,
		     bool inside_tree);

/* Walks the directory name, relative to dirfd, that the output calls path. */
static void walk_dir(struct walk *w, int dirfd, const char *name,
		     const char *path, const struct stat *st,
		     const struct ancestor *up)
{
	const struct ancestor self = { st->st_dev, st->st_ino, up };

	if (is_ancestor(up, st)) {
		emit_error(w, path, STAGE_WALK, ELOOP,
			   "directory loop: this directory is also one of its "
			   "own parents");
		return;
	}
	list_dir(w, dirfd, name, path, &self, up != NULL);
}

/*
 * Opens the directory and walks its entries. inside_tree is false for a
 * PATH named by the caller, which is followed when it is a link.
 */
static void list_dir(struct walk *w, int dirfd, const char *name,
		     const char *path, const struct ancestor *self,
		     bool inside_tree)
{
	int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY;
	struct dirent *de;
	DIR *dir;
	int fd;

	/* The entry was statted without following; open the same thing. */
	if (!w->b->cfg.follow_symlinks && inside_tree)
		flags |= O_NOFOLLOW;
	fd = openat(dirfd, name, flags);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		emit_error(w, path, STAGE_OPEN, errno,
			   "cannot open the directory");
		if (fd >= 0)
			close(fd);
		return;
	}
	for (;;) {
		char *child;

		errno = 0;
		de = readdir(dir);
		if (!de)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		child = join(path, de->d_name);
		if (!child) {
			w->stop = -ENOMEM;
			break;
		}
		walk_entry(w, fd, de->d_name, child, self);
		if (!w->stop && atomic_load(&w->b->cancelled))
			w->stop = -ECANCELED;
		if (w->stop)
			break;
	}
	if (errno && !w->stop)
		emit_error(w, path, STAGE_READ, errno,
			   "cannot read the directory");
	closedir(dir);
}

static int walk_normalized(struct mx_batch *b, const char *path)
{
	struct walk w = { .b = b };
	struct stat st;
	char *copy;

	if (stat(path, &st) < 0) {
		int err = errno;
		struct stat lst;

		if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
			emit_error(&w, path, STAGE_STAT, err,
				   "the symbolic link cannot be followed");
		else
			emit_error(&w, path, STAGE_STAT, err, "stat failed");
		return 0;
	}
	w.root_dev = st.st_dev;
	if (S_ISDIR(st.st_mode)) {
		walk_dir(&w, AT_FDCWD, path, path, &st, NULL);
		return w.stop;
	}
	if (!S_ISREG(st.st_mode)) {
		emit_skipped(&w, AT_FDCWD, path, path, &st);
		return 0;
	}
	copy = alloc_strdup(path);
	if (!copy)
		return -ENOMEM;
	return offer_file(&w, copy, true, &st);
}

/*
 * Copies path with repeated slashes folded and trailing ones dropped, so
 * that "data", "data/" and "data//" name their files alike in records
 * (and in an index keyed by path).
 */
static char *normalize(const char *path)
{
	size_t len = strlen(path), i, n = 0;
	char *out = alloc_malloc(len + 1);

	if (!out)
		return NULL;
	for (i = 0; i < len; i++)
		if (path[i] != '/' || n == 0 || out[n - 1] != '/')
			out[n++] = path[i];
	while (n > 1 && out[n - 1] == '/')
		n--;
	out[n] = '\0';
	return out;
}

int walk_path(struct mx_batch *b, const char *given)
{
	char *path = normalize(given);
	int ret;

	if (!path)
		return -ENOMEM;
	ret = walk_normalized(b, path);
	alloc_free(path);
	return ret;
}

int walk_taken_dir(struct mx_batch *b, const struct mx_walk_dir *d)
{
	struct walk w = { .b = b, .root_dev = (dev_t)d->root_dev };
	struct ancestor *chain;
	size_t i;

	if (d->depth == 0)
		return -EINVAL;
	chain = alloc_calloc(d->depth, sizeof(*chain));
	if (!chain)
		return -ENOMEM;
	for (i = 0; i < d->depth; i++) {
		chain[i].dev = (dev_t)d->ancestors[2 * i];
		chain[i].ino = (ino_t)d->ancestors[2 * i + 1];
		chain[i].up = i ? &chain[i - 1] : NULL;
	}
	/* Found inside a tree: no final link is followed without -L. */
	list_dir(&w, AT_FDCWD, d->path, d->path, &chain[d->depth - 1], true);
	alloc_free(chain);
	return w.stop;
}

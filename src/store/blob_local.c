/*
 * blob_local.c - blobs in a local directory: <root>/objects/ab/cdef...,
 * written through <root>/tmp/ (same filesystem, so the rename is atomic)
 * with fsync of the file and of its directory. Readers never see a partial
 * blob; a crash leaves at most a stray temporary file in <root>/tmp/.
 * Files by path may be reflinked or hard-linked in (blob__local_put_path).
 */
#include "store/blob_internal.h"

#include "base/buf.h"
#include "base/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK  65536
#define PUT_CHUNK   (1u << 20)	/* a whole 100 KB file in one read */
#define TMP_MAX_AGE (24 * 3600) /* seconds */

struct local {
	char *root;
	int defer_sync;
	int no_reflink;		     /* FICLONE failed once: this filesystem cannot */
	unsigned char made[256 / 8]; /* objects/ab directories known to exist */
	unsigned char *chunk;	     /* PUT_CHUNK bytes, for puts; NULL until the first */
};

static int mkdir_ok(const char *path, struct err *err)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return err_set(err, ERR_IO, "cannot create directory '%s': %s", path,
			       strerror(errno));
	return 0;
}

static int fsync_dir(const char *dir, struct err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;
	if (fd < 0)
		return err_set(err, ERR_IO, "cannot open directory '%s': %s", dir, strerror(errno));
	rc = fsync(fd);
	close(fd);
	if (rc < 0)
		return err_set(err, ERR_IO, "cannot sync directory '%s': %s", dir, strerror(errno));
	return 0;
}

/* <root>/objects/ab and <root>/objects/ab/cdef... for a key. */
static int object_path(struct local *l, const char *sha, struct buf *dir, struct buf *file,
		       struct err *err)
{
	if (buf_addf(dir, "%s/objects/%.2s", l->root, sha) < 0 ||
	    (file && buf_addf(file, "%s/%s", dir->ptr, sha + 2) < 0))
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

/* Creates the objects/ab directory of sha once per store. */
static int fanout_dir(struct local *l, const char *sha, const char *dir, struct err *err)
{
	unsigned v = (unsigned)strtoul((char[3]){sha[0], sha[1], '\0'}, NULL, 16);
	if (l->made[v / 8] & (1u << (v % 8)))
		return 0;
	if (mkdir_ok(dir, err) < 0)
		return -1;
	l->made[v / 8] |= (unsigned char)(1u << (v % 8));
	return 0;
}

static void local_close(struct blob_store *bs)
{
	struct local *l = bs->impl;
	if (!l)
		return;
	mem_free(l->chunk);
	mem_free(l->root);
	mem_free(l);
	bs->impl = NULL;
}

/*
 * Reads fd to its end, hashing, and writes the same bytes to out (-1: only
 * hash). What is stored is what was hashed, even if the file changes.
 */
static int hash_copy(struct local *l, int fd, int out, const char *what, char sha[HASH_SHA256_HEX],
		     uint64_t *size, struct err *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char digest[HASH_SHA256_LEN];
	unsigned int dlen = 0;
	int ret = -1;
	*size = 0;
	if (!l->chunk)
		l->chunk = mem_malloc(PUT_CHUNK);
	if (!md || !l->chunk || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, l->chunk, PUT_CHUNK), w;
		size_t done = 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_set(err, ERR_IO, "cannot read blob input: %s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		EVP_DigestUpdate(md, l->chunk, (size_t)r);
		*size += (uint64_t)r;
		while (out >= 0 && done < (size_t)r) {
			w = write(out, l->chunk + done, (size_t)r - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				err_set(err, ERR_IO, "cannot write '%s': %s", what,
					strerror(errno));
				goto out;
			}
			done += (size_t)w;
		}
	}
	EVP_DigestFinal_ex(md, digest, &dlen);
	hash_hex(digest, HASH_SHA256_LEN, sha);
	ret = 0;
out:
	EVP_MD_CTX_free(md);
	return ret;
}

/*
 * Stores fd's bytes through a temporary file: a reflink of fd when clone
 * is set and the filesystem shares blocks (then the clone is hashed), else
 * a copy.
 */
static int put_copy(struct local *l, int fd, int clone, char sha[HASH_SHA256_HEX], uint64_t *size,
		    struct err *err)
{
	struct buf tmp = BUF_INIT, dir = BUF_INIT, file = BUF_INIT;
	int tfd = -1, ret = -1, cloned = 0;
	uint64_t n = 0;
	struct stat st;
	if (buf_addf(&tmp, "%s/tmp/put.XXXXXX", l->root) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	tfd = mkostemp(tmp.ptr, O_CLOEXEC);
	if (tfd < 0) {
		err_set(err, ERR_IO, "cannot create '%s': %s", tmp.ptr, strerror(errno));
		buf_reset(&tmp);
		goto out;
	}
	if (clone && !l->no_reflink) {
		if (ioctl(tfd, FICLONE, fd) == 0)
			cloned = 1;
		else if (errno == EOPNOTSUPP || errno == EXDEV || errno == EINVAL ||
			 errno == ENOTTY || errno == EPERM)
			l->no_reflink = 1; /* ext4, tmpfs, another filesystem: copy from now on */
	}
	if (cloned ? hash_copy(l, tfd, -1, tmp.ptr, sha, &n, err)
		   : hash_copy(l, fd, tfd, tmp.ptr, sha, &n, err))
		goto out;
	if (size)
		*size = n;
	if (!l->defer_sync && fsync(tfd) < 0) {
		err_set(err, ERR_IO, "cannot sync '%s': %s", tmp.ptr, strerror(errno));
		goto out;
	}
	if (close(tfd) < 0) {
		tfd = -1;
		err_set(err, ERR_IO, "cannot write '%s': %s", tmp.ptr, strerror(errno));
		goto out;
	}
	tfd = -1;
	if (object_path(l, sha, &dir, &file, err) < 0 || fanout_dir(l, sha, dir.ptr, err) < 0)
		goto out;
	/*
	 * Already stored: content addressing makes it the same bytes. A stored
	 * object of another size is damaged; the rename below replaces it.
	 */
	if (stat(file.ptr, &st) == 0 && (uint64_t)st.st_size == n) {
		ret = 0;
		goto out;
	}
	if (rename(tmp.ptr, file.ptr) < 0) {
		err_set(err, ERR_IO, "cannot rename '%s' to '%s': %s", tmp.ptr, file.ptr,
			strerror(errno));
		goto out;
	}
	buf_reset(&tmp); /* nothing left to remove */
	if (!l->defer_sync && fsync_dir(dir.ptr, err) < 0)
		goto out;
	ret = 0;
out:
	if (tfd >= 0)
		close(tfd);
	if (tmp.len)
		unlink(tmp.ptr);
	buf_release(&tmp);
	buf_release(&dir);
	buf_release(&file);
	return ret;
}

static int local_put_fd(struct blob_store *bs, int fd, char sha[HASH_SHA256_HEX], uint64_t *size,
			struct err *err)
{
	return put_copy(bs->impl, fd, 0, sha, size, err);
}

/*
 * Hard-links path in as the blob of its bytes: read-only first, so the
 * store's copy is not edited through the workspace by accident; then
 * hashed. *linked is 0 when the caller must copy instead (another
 * filesystem, no links there).
 */
static int put_link(struct local *l, const char *path, int fd, char sha[HASH_SHA256_HEX],
		    uint64_t *size, int *linked, struct err *err)
{
	struct buf dir = BUF_INIT, file = BUF_INIT;
	struct stat st;
	int ret = -1;
	*linked = 0;
	if (fstat(fd, &st) < 0) {
		err_set(err, ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
		goto out;
	}
	if ((st.st_mode & 0222) && fchmod(fd, st.st_mode & 07555) < 0) {
		err_set(err, ERR_IO, "cannot make '%s' read-only: %s", path, strerror(errno));
		goto out;
	}
	if (hash_copy(l, fd, -1, path, sha, size, err) < 0 ||
	    object_path(l, sha, &dir, &file, err) < 0 || fanout_dir(l, sha, dir.ptr, err) < 0)
		goto out;
	*linked = 1;
	if (stat(file.ptr, &st) == 0 && (uint64_t)st.st_size == *size) {
		ret = 0; /* already stored */
		goto out;
	}
	if (link(path, file.ptr) < 0) {
		*linked = 0;
		if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == EEXIST) {
			ret = 0; /* a damaged object (EEXIST) is replaced by the copy */
			goto out;
		}
		err_set(err, ERR_IO, "cannot link '%s' to '%s': %s", path, file.ptr,
			strerror(errno));
		goto out;
	}
	if (!l->defer_sync && (fsync(fd) < 0 || fsync_dir(dir.ptr, err) < 0)) {
		err_set(err, ERR_IO, "cannot sync '%s': %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	buf_release(&dir);
	buf_release(&file);
	return ret;
}

static int local_stat(struct blob_store *bs, const char *sha, int *exists, uint64_t *size,
		      struct err *err)
{
	struct buf dir = BUF_INIT, file = BUF_INIT;
	struct stat st;
	int ret = -1;
	if (object_path(bs->impl, sha, &dir, &file, err) < 0)
		goto out;
	if (stat(file.ptr, &st) < 0) {
		if (errno != ENOENT) {
			err_set(err, ERR_IO, "cannot stat '%s': %s", file.ptr, strerror(errno));
			goto out;
		}
		*exists = 0;
	} else {
		*exists = 1;
		if (size)
			*size = (uint64_t)st.st_size;
	}
	ret = 0;
out:
	buf_release(&dir);
	buf_release(&file);
	return ret;
}

static int local_get(struct blob_store *bs, const char *sha, struct blob__sink *sink,
		     struct err *err)
{
	struct buf dir = BUF_INIT, file = BUF_INIT;
	unsigned char *chunk = NULL;
	int fd = -1, ret = -1;
	if (object_path(bs->impl, sha, &dir, &file, err) < 0)
		goto out;
	fd = open(file.ptr, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			err_set(err, ERR_NOTFOUND, "blob %s not found", sha);
		else
			err_set(err, ERR_IO, "cannot open '%s': %s", file.ptr, strerror(errno));
		goto out;
	}
	chunk = mem_malloc(READ_CHUNK);
	if (!chunk) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, chunk, READ_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_set(err, ERR_IO, "cannot read '%s': %s", file.ptr, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		if (blob__sink_write(sink, chunk, (size_t)r, err) < 0)
			goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	mem_free(chunk);
	buf_release(&dir);
	buf_release(&file);
	return ret;
}

static int local_remove(struct blob_store *bs, const char *sha, struct err *err)
{
	struct buf dir = BUF_INIT, file = BUF_INIT;
	int ret = -1;
	if (object_path(bs->impl, sha, &dir, &file, err) < 0)
		goto out;
	if (unlink(file.ptr) < 0) {
		if (errno == ENOENT)
			err_set(err, ERR_NOTFOUND, "blob %s not found", sha);
		else
			err_set(err, ERR_IO, "cannot remove '%s': %s", file.ptr, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	buf_release(&dir);
	buf_release(&file);
	return ret;
}

static int local_sync(struct blob_store *bs, struct err *err)
{
	struct local *l = bs->impl;
	int fd, rc;
	if (!l->defer_sync)
		return 0;
	fd = open(l->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, ERR_IO, "cannot open '%s': %s", l->root, strerror(errno));
	/* One syncfs for a whole batch instead of two fsyncs per blob. */
	rc = syncfs(fd);
	close(fd);
	if (rc < 0)
		return err_set(err, ERR_IO, "cannot sync '%s': %s", l->root, strerror(errno));
	return 0;
}

/*
 * Removes temporary files a killed writer left in tmp/: only those older
 * than a day, so a concurrent writer's file is never taken from under it.
 * Best effort: a failure here costs disk space, not correctness.
 */
static void sweep_tmp(const char *tmpdir)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	time_t now = time(NULL);
	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (strncmp(e->d_name, "put.", 4) != 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && now - st.st_mtime > TMP_MAX_AGE)
			(void)unlinkat(dirfd(d), e->d_name, 0); /* best effort, see above */
	}
	closedir(d);
}

static const struct blob__ops local_ops = {
	.name = "local",
	.close = local_close,
	.put_fd = local_put_fd,
	.stat = local_stat,
	.get = local_get,
	.remove = local_remove,
	.sync = local_sync,
};

int blob__local_open(struct blob_store *bs, const char *root, int defer_sync, struct err *err)
{
	struct local *l = mem_calloc(1, sizeof(*l));
	struct buf sub = BUF_INIT;
	size_t i;
	int ret = -1;
	if (!l)
		return err_set(err, ERR_NOMEM, "out of memory");
	bs->ops = &local_ops;
	bs->impl = l;
	l->defer_sync = defer_sync;
	l->root = mem_strdup(root);
	if (!l->root) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	/* mkdir -p of the root, then its objects/ and tmp/. */
	if (buf_adds(&sub, root) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 1; i < sub.len; i++) {
		if (sub.ptr[i] != '/')
			continue;
		sub.ptr[i] = '\0';
		if (mkdir_ok(sub.ptr, err) < 0)
			goto out;
		sub.ptr[i] = '/';
	}
	if (mkdir_ok(root, err) < 0)
		goto out;
	buf_reset(&sub);
	if (buf_addf(&sub, "%s/objects", root) < 0 || mkdir_ok(sub.ptr, err) < 0)
		goto out;
	buf_reset(&sub);
	if (buf_addf(&sub, "%s/tmp", root) < 0 || mkdir_ok(sub.ptr, err) < 0)
		goto out;
	sweep_tmp(sub.ptr);
	ret = 0;
out:
	buf_release(&sub);
	if (ret < 0) {
		if (err && err->code == ERR_OK)
			err_set(err, ERR_NOMEM, "out of memory");
		local_close(bs);
		bs->ops = NULL;
	}
	return ret;
}

int blob__local_put_path(struct blob_store *bs, const char *path, int mode,
			 char sha[HASH_SHA256_HEX], uint64_t *size, struct err *err)
{
	uint64_t n = 0;
	int fd, rc = 0, linked = 0;
	if (bs->ops != &local_ops)
		return 1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
	if (mode == BLOB__PUT_HARDLINK) {
		rc = put_link(bs->impl, path, fd, sha, &n, &linked, err);
		if (rc == 0 && !linked && lseek(fd, 0, SEEK_SET) < 0)
			rc = err_set(err, ERR_IO, "cannot rewind '%s': %s", path, strerror(errno));
	}
	if (mode != BLOB__PUT_HARDLINK || (rc == 0 && !linked))
		rc = put_copy(bs->impl, fd, 1, sha, &n, err);
	close(fd);
	if (rc == 0 && size)
		*size = n;
	return rc;
}

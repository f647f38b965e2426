/*
 * track.c - pointer files (FILE.kiln) and `kiln data add|status` logic:
 * store the bytes, write the pointer, keep the .gitignore entry, compare a
 * file with its pointer. No argv, no stdout: src/cli/data_store.c does that.
 */
#include "store/track.h"

#include "base/mem.h"
#include "store/blob_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GITIGNORE_MAX (16u << 20)

void blob_pointer_release(struct blob_pointer *p)
{
	if (!p)
		return;
	mem_free(p->path);
	p->path = NULL;
}

static int name_ok(const char *s, size_t n)
{
	size_t i;
	if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == '\n' || s[i] == '\r' || s[i] == '\0')
			return 0;
	return 1;
}

/* One "key: value" line into the pointer; seen tracks repeated keys. */
static int pointer_line(const char *k, size_t kn, const char *v, size_t vn, const char *name,
			size_t line, struct blob_pointer *p, unsigned *seen, struct err *err)
{
	static const char *const keys[] = {"sha256", "size", "path"};
	unsigned i;
	for (i = 0; i < 3; i++)
		if (strlen(keys[i]) == kn && memcmp(keys[i], k, kn) == 0)
			break;
	if (i == 3)
		return err_set(err, ERR_PARSE, "%s:%zu: unknown key '%.*s'", name, line,
			       (int)(kn > 40 ? 40 : kn), k);
	if (*seen & (1u << i))
		return err_set(err, ERR_PARSE, "%s:%zu: repeated key '%s'", name, line, keys[i]);
	*seen |= 1u << i;
	if (i == 0) {
		if (vn != HASH_SHA256_HEX - 1)
			goto bad;
		memcpy(p->sha256, v, vn);
		p->sha256[vn] = '\0';
		if (!blob_key_ok(p->sha256))
			goto bad;
	} else if (i == 1) {
		uint64_t n = 0;
		size_t j;
		if (vn == 0 || vn > 19)
			goto bad;
		for (j = 0; j < vn; j++) {
			if (v[j] < '0' || v[j] > '9')
				goto bad;
			n = n * 10 + (uint64_t)(v[j] - '0');
		}
		p->size = n;
	} else {
		if (!name_ok(v, vn))
			goto bad;
		p->path = mem_strndup(v, vn);
		if (!p->path)
			return err_set(err, ERR_NOMEM, "out of memory");
	}
	return 0;
bad:
	return err_set(err, ERR_PARSE, "%s:%zu: invalid value for '%s'", name, line, keys[i]);
}

int blob_pointer_parse(const char *text, size_t len, const char *name, struct blob_pointer *out,
		       struct err *err)
{
	struct blob_pointer p = {{0}, 0, NULL};
	const char *s = text, *end = text + len;
	unsigned seen = 0;
	size_t line = 0;
	if (len > BLOB_POINTER_MAX)
		return err_set(err, ERR_PARSE, "%s: too large for a pointer file", name);
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s)), *e = nl ? nl : end, *colon;
		const char *k = s, *v;
		size_t kn, vn;
		line++;
		s = nl ? nl + 1 : end;
		while (e > k && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			e--;
		while (k < e && (*k == ' ' || *k == '\t'))
			k++;
		if (k == e || *k == '#')
			continue;
		colon = memchr(k, ':', (size_t)(e - k));
		if (!colon) {
			err_set(err, ERR_PARSE, "%s:%zu: expected 'key: value'", name, line);
			goto fail;
		}
		kn = (size_t)(colon - k);
		v = colon + 1;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		vn = (size_t)(e - v);
		if (memchr(k, '\0', (size_t)(e - k))) {
			err_set(err, ERR_PARSE, "%s:%zu: NUL byte", name, line);
			goto fail;
		}
		if (pointer_line(k, kn, v, vn, name, line, &p, &seen, err) < 0)
			goto fail;
	}
	if (seen != 7) {
		err_set(err, ERR_PARSE, "%s: missing '%s'", name,
			!(seen & 1)   ? "sha256"
			: !(seen & 2) ? "size"
				      : "path");
		goto fail;
	}
	*out = p;
	return 0;
fail:
	blob_pointer_release(&p);
	return -1;
}

int blob_pointer_format(const struct blob_pointer *p, struct buf *out, struct err *err)
{
	if (buf_addf(out,
		     "# kiln data pointer: the bytes are in the blob store under sha256\n"
		     "sha256: %s\nsize: %llu\npath: %s\n",
		     p->sha256, (unsigned long long)p->size, p->path) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

/*
 * Writes data to a new temporary file next to path, without fsync; its
 * name goes to tmp. On error nothing is left behind and tmp is empty.
 */
static int write_tmp(const char *path, const char *data, size_t len, struct buf *tmp,
		     struct err *err)
{
	int fd = -1, ret = -1;
	size_t done = 0;
	buf_reset(tmp);
	if (buf_addf(tmp, "%s.tmp.XXXXXX", path) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	fd = mkostemp(tmp->ptr, O_CLOEXEC);
	if (fd < 0) {
		err_set(err, ERR_IO, "cannot create '%s': %s", tmp->ptr, strerror(errno));
		buf_reset(tmp);
		goto out;
	}
	while (done < len) {
		ssize_t w = write(fd, data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err_set(err, ERR_IO, "cannot write '%s': %s", tmp->ptr, strerror(errno));
			goto out;
		}
		done += (size_t)w;
	}
	(void)fchmod(fd, 0644); /* mkostemp's 0600 is not what a checked-in file wants */
	if (close(fd) < 0) {
		fd = -1;
		err_set(err, ERR_IO, "cannot write '%s': %s", tmp->ptr, strerror(errno));
		goto out;
	}
	fd = -1;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0 && tmp->len) {
		unlink(tmp->ptr);
		buf_reset(tmp);
	}
	return ret;
}

static int rename_tmp(const char *tmp, const char *path, struct err *err)
{
	if (rename(tmp, path) < 0)
		return err_set(err, ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path,
			       strerror(errno));
	return 0;
}

/* Writes data to path through a temporary file and a rename, without fsync. */
static int write_replace(const char *path, const char *data, size_t len, struct err *err)
{
	struct buf tmp = BUF_INIT;
	int ret = -1;
	if (write_tmp(path, data, len, &tmp, err) < 0)
		goto out;
	if (rename_tmp(tmp.ptr, path, err) < 0) {
		unlink(tmp.ptr);
		goto out;
	}
	ret = 0;
out:
	buf_release(&tmp);
	return ret;
}

/* A file name as a .gitignore pattern anchored to its directory. */
static int gitignore_pattern(const char *name, struct buf *out)
{
	size_t i, n = strlen(name);
	if (buf_addch(out, '/') < 0)
		return -1;
	for (i = 0; i < n; i++) {
		char c = name[i];
		if ((c == '\\' || c == '*' || c == '?' || c == '[') || (c == ' ' && i == n - 1)) {
			if (buf_addch(out, '\\') < 0)
				return -1;
		}
		if (buf_addch(out, c) < 0)
			return -1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Adds the names (all in dir; sorted, no duplicates) to dir/.gitignore,
 * skipping those already listed: one read and at most one write.
 */
static int gitignore_add(const char *dir, char *const *names, size_t n, struct err *err)
{
	struct buf path = BUF_INIT, text = BUF_INIT, copy = BUF_INIT, pat = BUF_INIT;
	char **lines = NULL, *s, *e;
	size_t nlines = 0, i, len;
	int ret = -1;
	if (buf_addf(&path, "%s/.gitignore", dir) < 0)
		goto oom;
	if (buf_read_file(&text, path.ptr, GITIGNORE_MAX) < 0 && errno != ENOENT) {
		err_set(err, ERR_IO, "cannot read '%s': %s", path.ptr, strerror(errno));
		goto out;
	}
	len = text.len;
	/* The existing lines, cut out of a copy and sorted for lookup. */
	if (buf_add(&copy, text.ptr, text.len) < 0)
		goto oom;
	lines = mem_calloc(len / 2 + 2, sizeof(*lines));
	if (!lines)
		goto oom;
	for (s = copy.ptr, e = copy.ptr + copy.len; s < e;) {
		char *nl = memchr(s, '\n', (size_t)(e - s));
		if (nl)
			*nl = '\0';
		lines[nlines++] = s;
		s = nl ? nl + 1 : e;
	}
	qsort(lines, nlines, sizeof(*lines), cmp_str);
	if (text.len && text.ptr[text.len - 1] != '\n' && buf_addch(&text, '\n') < 0)
		goto oom;
	for (i = 0; i < n; i++) {
		const char *p;
		buf_reset(&pat);
		if (gitignore_pattern(names[i], &pat) < 0)
			goto oom;
		p = pat.ptr;
		if (bsearch(&p, lines, nlines, sizeof(*lines), cmp_str))
			continue;
		if (buf_add(&text, pat.ptr, pat.len) < 0 || buf_addch(&text, '\n') < 0)
			goto oom;
	}
	if (text.len != len && write_replace(path.ptr, text.ptr, text.len, err) < 0)
		goto out;
	ret = 0;
	goto out;
oom:
	err_set(err, ERR_NOMEM, "out of memory");
out:
	mem_free(lines);
	buf_release(&path);
	buf_release(&text);
	buf_release(&copy);
	buf_release(&pat);
	return ret;
}

/*
 * One file of an add: its directory and name (for the .gitignore pass) and,
 * once its bytes are stored, its pointer in a temporary file that the
 * in-order commit renames into place.
 */
struct tracked {
	char *dir;
	char *name;
	struct buf tmp; /* the pointer's temporary file; empty: none */
	int state;	/* TRACK_TODO, TRACK_READY, TRACK_FAILED */
};

enum { TRACK_TODO = 0, TRACK_READY, TRACK_FAILED };

static int cmp_tracked(const void *a, const void *b)
{
	const struct tracked *x = a, *y = b;
	int c = strcmp(x->dir, y->dir);
	return c ? c : strcmp(x->name, y->name);
}

static int split_path(const char *path, struct tracked *t, struct err *err)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		t->dir = mem_strdup(".");
	else if (slash == path)
		t->dir = mem_strdup("/");
	else
		t->dir = mem_strndup(path, (size_t)(slash - path));
	t->name = mem_strdup(slash ? slash + 1 : path);
	if (!t->dir || !t->name)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

/* Stores one file and writes its pointer to t->tmp (not yet in place). */
static int track_one(struct blob_store *bs, int mode, const char *path, struct tracked *t,
		     struct err *err)
{
	struct blob_pointer p = {{0}, 0, NULL};
	struct buf text = BUF_INIT, ptr_path = BUF_INIT;
	size_t n = strlen(path), k = strlen(BLOB_POINTER_SUFFIX);
	struct stat st;
	int ret = -1, rc;
	if (stat(path, &st) < 0)
		return err_set(err, ERR_IO, "cannot add '%s': %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return err_set(err, ERR_INVALID, "cannot add '%s': is a directory (add its files)",
			       path);
	if (!S_ISREG(st.st_mode))
		return err_set(err, ERR_INVALID, "cannot add '%s': not a regular file", path);
	if (n >= k && strcmp(path + n - k, BLOB_POINTER_SUFFIX) == 0)
		return err_set(err, ERR_INVALID, "cannot add '%s': it is a pointer file", path);
	if (split_path(path, t, err) < 0)
		return -1;
	if (!name_ok(t->name, strlen(t->name)))
		return err_set(err, ERR_INVALID, "cannot add '%s': unsupported file name", path);
	rc = blob__local_put_path(bs, path, mode, p.sha256, &p.size, err);
	if (rc == 1) /* not a local store: the plain, streaming put */
		rc = blob_put_file(bs, path, p.sha256, &p.size, err);
	if (rc < 0)
		return -1;
	p.path = t->name;
	if (blob_pointer_format(&p, &text, err) < 0)
		goto out;
	if (buf_addf(&ptr_path, "%s%s", path, BLOB_POINTER_SUFFIX) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = write_tmp(ptr_path.ptr, text.ptr, text.len, &t->tmp, err);
out:
	buf_release(&text);
	buf_release(&ptr_path);
	return ret;
}

/* One syncfs per distinct directory (they may be on different filesystems). */
static int sync_dirs(const struct tracked *t, size_t n, struct err *err)
{
	size_t i;
	for (i = 0; i < n; i++) {
		int fd, rc;
		if (i > 0 && strcmp(t[i].dir, t[i - 1].dir) == 0)
			continue;
		fd = open(t[i].dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return err_set(err, ERR_IO, "cannot open '%s': %s", t[i].dir,
				       strerror(errno));
		rc = syncfs(fd);
		close(fd);
		if (rc < 0)
			return err_set(err, ERR_IO, "cannot sync '%s': %s", t[i].dir,
				       strerror(errno));
	}
	return 0;
}

/*
 * The shared state of one add. Workers claim files in order (next), store
 * them and write their pointers to temporary files; whoever finishes a
 * file commits, in order, every ready file from committed on: a rename
 * each, so a pointer appears only when all files before it have theirs.
 * The first failure in file order stops the claims and the commits.
 */
struct add_job {
	pthread_mutex_t lock; /* guards everything below */
	const char *const *paths;
	struct tracked *t;
	size_t n, next, committed;
	size_t failed_at; /* the lowest failed index; n: none */
	int mode;
	struct err err; /* the error of failed_at */
};

/* Under the lock: renames the ready pointers that have all before them in place. */
static void commit_ready(struct add_job *j)
{
	struct buf ptr_path = BUF_INIT;
	while (j->committed < j->n && j->committed < j->failed_at &&
	       j->t[j->committed].state == TRACK_READY) {
		struct tracked *t = &j->t[j->committed];
		struct err e = ERR_INIT;
		buf_reset(&ptr_path);
		if (buf_addf(&ptr_path, "%s%s", j->paths[j->committed], BLOB_POINTER_SUFFIX) < 0)
			err_set(&e, ERR_NOMEM, "out of memory");
		else if (rename_tmp(t->tmp.ptr, ptr_path.ptr, &e) == 0)
			buf_reset(&t->tmp); /* in place: nothing left to remove */
		if (e.code != ERR_OK) {
			j->failed_at = j->committed;
			j->err = e;
			break;
		}
		j->committed++;
	}
	buf_release(&ptr_path);
}

struct add_worker {
	struct add_job *job;
	struct blob_store *bs;
	pthread_t thread;
	int started;
};

static void *add_work(void *arg)
{
	struct add_worker *w = arg;
	struct add_job *j = w->job;
	for (;;) {
		struct err e = ERR_INIT;
		size_t i;
		int rc;
		pthread_mutex_lock(&j->lock);
		if (j->next >= j->n || j->failed_at < j->n) {
			pthread_mutex_unlock(&j->lock);
			return NULL;
		}
		i = j->next++;
		pthread_mutex_unlock(&j->lock);
		rc = track_one(w->bs, j->mode, j->paths[i], &j->t[i], &e);
		pthread_mutex_lock(&j->lock);
		j->t[i].state = rc < 0 ? TRACK_FAILED : TRACK_READY;
		if (rc < 0 && i < j->failed_at) {
			j->failed_at = i;
			j->err = e;
		}
		commit_ready(j);
		pthread_mutex_unlock(&j->lock);
	}
}

/*
 * The flusher: while the workers copy, it makes the store durable every
 * FLUSH_MS (blob_sync: one syncfs), so the disk writes what the workers
 * copied meanwhile instead of all of it in the caller's final sync. Its
 * errors are not reported: the caller's final sync repeats the work and
 * reports.
 */
#define FLUSH_MS 250

struct flusher {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
	struct blob_store *bs;
};

static void *flush_work(void *arg)
{
	struct flusher *f = arg;
	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		struct timespec ts;
		struct err ignored = ERR_INIT;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += FLUSH_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		if (pthread_cond_timedwait(&f->cond, &f->lock, &ts) != ETIMEDOUT || f->stop)
			continue;
		pthread_mutex_unlock(&f->lock);
		(void)blob_sync(f->bs, &ignored);
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

/* Runs the workers, one per store (the caller's thread is the first). */
static int run_workers(struct add_job *j, const struct blob_track_opts *o, struct err *err)
{
	struct flusher fl = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, o->stores[0]};
	pthread_t flt;
	struct add_worker *w = mem_calloc(o->nstores, sizeof(*w));
	size_t i, nw = o->nstores < j->n ? o->nstores : j->n;
	int flushing;
	if (!w)
		return err_set(err, ERR_NOMEM, "out of memory");
	/* Without the flusher the final sync does all of the work: slower, as correct. */
	flushing = pthread_create(&flt, NULL, flush_work, &fl) == 0;
	for (i = 0; i < nw; i++) {
		w[i].job = j;
		w[i].bs = o->stores[i];
	}
	/* A thread that cannot start leaves its share to the others. */
	for (i = 1; i < nw; i++)
		w[i].started = pthread_create(&w[i].thread, NULL, add_work, &w[i]) == 0;
	if (nw > 0)
		add_work(&w[0]);
	for (i = 1; i < nw; i++)
		if (w[i].started)
			pthread_join(w[i].thread, NULL);
	if (flushing) {
		pthread_mutex_lock(&fl.lock);
		fl.stop = 1;
		pthread_cond_signal(&fl.cond);
		pthread_mutex_unlock(&fl.lock);
		pthread_join(flt, NULL);
	}
	mem_free(w);
	return 0;
}

int blob_track_add(struct blob_store *bs, const char *const *paths, size_t n, size_t *done,
		   struct err *err)
{
	const struct blob_track_opts o = {&bs, 1, BLOB_TRACK_COPY};
	return blob_track_add_opts(&o, paths, n, done, err);
}

int blob_track_add_opts(const struct blob_track_opts *o, const char *const *paths, size_t n,
			size_t *done, struct err *err)
{
	struct add_job j = {.paths = paths, .n = n, .failed_at = n, .err = ERR_INIT};
	char **names = NULL;
	size_t i, k, m, count = 0;
	int ret = -1, locked = 0;
	if (done)
		*done = 0;
	if (o->nstores == 0)
		return err_set(err, ERR_USAGE, "no blob store");
	j.mode = o->link == BLOB_TRACK_HARDLINK ? BLOB__PUT_HARDLINK : BLOB__PUT_COPY;
	j.t = mem_calloc(n ? n : 1, sizeof(*j.t));
	if (!j.t)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++)
		buf_init(&j.t[i].tmp, 0);
	if (pthread_mutex_init(&j.lock, NULL) != 0) {
		err_set(err, ERR_INTERNAL, "cannot create a mutex");
		goto out;
	}
	locked = 1;
	if (run_workers(&j, o, err) < 0)
		goto out;
	count = j.committed;
	if (count < n)
		err_set(err, j.err.code, "%s", j.err.msg);
	/* Whatever was tracked keeps its .gitignore line, even after a failure. */
	qsort(j.t, count, sizeof(*j.t), cmp_tracked);
	names = mem_calloc(count ? count : 1, sizeof(*names));
	if (!names) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < count; i = m) {
		for (m = i, k = 0; m < count && strcmp(j.t[m].dir, j.t[i].dir) == 0; m++)
			if (k == 0 || strcmp(names[k - 1], j.t[m].name) != 0)
				names[k++] = j.t[m].name;
		if (gitignore_add(j.t[i].dir, names, k, err) < 0)
			goto out;
	}
	for (i = 0; i < o->nstores; i++)
		if (blob_sync(o->stores[i], err) < 0)
			goto out;
	if (sync_dirs(j.t, count, err) < 0)
		goto out;
	if (done)
		*done = count;
	ret = count == n ? 0 : -1;
out:
	for (i = 0; i < n; i++) {
		/* Pointers written past a failure never go in place. */
		if (j.t[i].tmp.len)
			unlink(j.t[i].tmp.ptr);
		buf_release(&j.t[i].tmp);
		mem_free(j.t[i].dir);
		mem_free(j.t[i].name);
	}
	if (locked)
		pthread_mutex_destroy(&j.lock);
	mem_free(j.t);
	mem_free(names);
	return ret;
}

const char *blob_track_state_name(int state)
{
	static const char *const names[] = {"ok", "modified", "missing", "not stored"};
	if (state < BLOB_TRACK_OK || state > BLOB_TRACK_NOT_STORED)
		return "unknown";
	return names[state];
}

int blob_track_status(struct blob_store *bs, const char *pointer_path, int *state, char **data_path,
		      struct err *err)
{
	struct blob_pointer p = {{0}, 0, NULL};
	struct buf text = BUF_INIT, data = BUF_INIT;
	struct tracked where = {NULL, NULL, BUF_INIT, 0};
	char sha[HASH_SHA256_HEX];
	struct stat st;
	int exists = 0, ret = -1;
	if (data_path)
		*data_path = NULL;
	if (buf_read_file(&text, pointer_path, BLOB_POINTER_MAX) < 0) {
		err_set(err, ERR_IO, "cannot read '%s': %s", pointer_path,
			errno == E2BIG ? "too large for a pointer file" : strerror(errno));
		goto out;
	}
	if (blob_pointer_parse(text.ptr, text.len, pointer_path, &p, err) < 0 ||
	    split_path(pointer_path, &where, err) < 0)
		goto out;
	if (buf_addf(&data, "%s/%s", where.dir, p.path) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (stat(data.ptr, &st) < 0) {
		if (errno != ENOENT) {
			err_set(err, ERR_IO, "cannot stat '%s': %s", data.ptr, strerror(errno));
			goto out;
		}
		*state = BLOB_TRACK_MISSING;
	} else if ((uint64_t)st.st_size != p.size) {
		*state = BLOB_TRACK_MODIFIED;
	} else {
		if (hash_sha256_file(data.ptr, sha, err) < 0)
			goto out;
		*state = strcmp(sha, p.sha256) == 0 ? BLOB_TRACK_OK : BLOB_TRACK_MODIFIED;
	}
	if (*state == BLOB_TRACK_OK) {
		if (blob_stat(bs, p.sha256, &exists, NULL, err) < 0)
			goto out;
		if (!exists)
			*state = BLOB_TRACK_NOT_STORED;
	}
	if (data_path) {
		*data_path = buf_take(&data, NULL);
		if (!*data_path) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	ret = 0;
out:
	blob_pointer_release(&p);
	mem_free(where.dir);
	mem_free(where.name);
	buf_release(&text);
	buf_release(&data);
	return ret;
}

/*
 * db_artifact.c - artifact paths of the tracking store: each relative path
 * under the artifact root maps to a blob (sha256, size). Listing a
 * directory is a key range over the bytewise-ordered paths. The bytes
 * themselves live in the blob store (blob.h), not here.
 */
#include "store/internal.h"

#include "base/buf.h"
#include "base/mem.h"

#include <stdio.h>
#include <string.h>

void db_artifact_release(struct db_artifact *a)
{
	if (!a)
		return;
	mem_free(a->path);
	memset(a, 0, sizeof(*a));
}

void db_artifact_list_release(struct db_artifact_list *l)
{
	size_t i;
	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		db_artifact_release(&l->v[i]);
	mem_free(l->v);
	memset(l, 0, sizeof(*l));
}

int db_artifact_path_ok(const char *path)
{
	const char *seg;
	size_t n;
	if (!path || !*path || strlen(path) > DB_MAX_ARTIFACT_PATH)
		return 0;
	for (seg = path;;) {
		const char *end = strchr(seg, '/');
		n = end ? (size_t)(end - seg) : strlen(seg);
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		if (!end)
			break;
		seg = end + 1;
	}
	for (; *path; path++)
		if ((unsigned char)*path < 0x20 || *path == 0x7f || *path == '\\')
			return 0;
	return 1;
}

static int path_check(const char *path, struct err *err)
{
	if (!db_artifact_path_ok(path))
		return err_set(err, ERR_INVALID, "invalid path '%.80s'", path ? path : "");
	return 0;
}

int db_artifact_put(struct db *db, const char *path, const char *sha256, int64_t size,
		    struct err *err)
{
	size_t i;
	if (path_check(path, err) < 0)
		return -1;
	for (i = 0; sha256 && i < 64; i++)
		if (!((sha256[i] >= '0' && sha256[i] <= '9') ||
		      (sha256[i] >= 'a' && sha256[i] <= 'f')))
			break;
	if (!sha256 || i != 64 || sha256[64] != '\0')
		return err_set(err, ERR_INVALID, "invalid sha256 for '%s'", path);
	if (size < 0)
		return err_set(err, ERR_INVALID, "invalid size for '%s'", path);
	return db__run(db,
		       "INSERT INTO artifacts (path, sha256, size, updated_time) VALUES ($1, $2, "
		       "$3,"
		       " $4) ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256,"
		       " size = excluded.size, updated_time = excluded.updated_time",
		       DB__ARGS(DB__T(path), DB__T(sha256), DB__I(size), DB__I(db_now_ms())),
		       err) < 0
		       ? -1
		       : 0;
}

static int artifact_from_row(struct db *db, struct db__stmt *st, const char *name,
			     struct db_artifact *a, struct err *err)
{
	const char *sha = db->ops->col_text(st, 1);
	memset(a, 0, sizeof(*a));
	a->path = mem_strdup(name);
	if (!a->path)
		return err_set(err, ERR_NOMEM, "out of memory");
	snprintf(a->sha256, sizeof(a->sha256), "%s", sha ? sha : "");
	a->size = db->ops->col_int(st, 2);
	a->updated_time = db->ops->col_int(st, 3);
	return 0;
}

int db_artifact_get(struct db *db, const char *path, struct db_artifact *out, struct err *err)
{
	struct db__stmt *st;
	int rc, found = 0;
	memset(out, 0, sizeof(*out));
	if (path_check(path, err) < 0)
		return -1;
	st = db__query(db, "SELECT path, sha256, size, updated_time FROM artifacts WHERE path = $1",
		       DB__ARGS(DB__T(path)), err);
	if (!st)
		return -1;
	rc = db->ops->step(st, err);
	if (rc == DB__ROW) {
		found = 1;
		if (artifact_from_row(db, st, path, out, err) < 0)
			rc = DB__FAIL;
	}
	db->ops->finish(st);
	if (rc < 0) {
		db_artifact_release(out);
		return -1;
	}
	if (!found)
		return err_set(err, ERR_NOTFOUND, "artifact '%s' not found", path);
	return 0;
}

int db_artifact_delete(struct db *db, const char *path, struct err *err)
{
	int64_t n;
	if (path_check(path, err) < 0)
		return -1;
	n = db__run(db, "DELETE FROM artifacts WHERE path = $1", DB__ARGS(DB__T(path)), err);
	if (n < 0)
		return -1;
	return n ? 0 : err_set(err, ERR_NOTFOUND, "artifact '%s' not found", path);
}

/* Appends an entry named name[0..n) (a directory when dir) unless it repeats the last. */
static int list_push(struct db *db, struct db__stmt *st, const char *name, size_t n, int dir,
		     struct db_artifact_list *out, struct err *err)
{
	struct db_artifact *v;
	char *copy;
	if (dir && out->n && out->v[out->n - 1].is_dir && strlen(out->v[out->n - 1].path) == n &&
	    memcmp(out->v[out->n - 1].path, name, n) == 0)
		return 0; /* more files in the same subdirectory */
	copy = mem_strndup(name, n);
	v = copy ? db__grow(out->v, out->n, sizeof(*v)) : NULL;
	if (!v) {
		mem_free(copy);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	out->v = v;
	v += out->n;
	if (artifact_from_row(db, st, "", v, err) < 0) {
		mem_free(copy);
		return -1;
	}
	mem_free(v->path);
	v->path = copy;
	if (dir) {
		v->is_dir = 1;
		v->size = 0;
		v->sha256[0] = '\0';
	}
	out->n++;
	return 0;
}

int db_artifact_list(struct db *db, const char *dir, struct db_artifact_list *out, struct err *err)
{
	struct buf lo = BUF_INIT, hi = BUF_INIT;
	struct db__stmt *st = NULL;
	int rc = DB__FAIL;
	memset(out, 0, sizeof(*out));
	if (dir && *dir && path_check(dir, err) < 0)
		return -1;
	if (dir && *dir) {
		/* Everything under "dir/" sorts in ["dir/", "dir0"): '0' follows '/'. */
		if (buf_addf(&lo, "%s/", dir) < 0 || buf_addf(&hi, "%s0", dir) < 0) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		st = db__query(
			db,
			"SELECT path, sha256, size, updated_time FROM artifacts WHERE path >= $1"
			" AND path < $2 ORDER BY path",
			DB__ARGS(DB__T(lo.ptr), DB__T(hi.ptr)), err);
	} else {
		st = db__query(
			db, "SELECT path, sha256, size, updated_time FROM artifacts ORDER BY path",
			NULL, 0, err);
	}
	if (!st)
		goto out;
	while ((rc = db->ops->step(st, err)) == DB__ROW) {
		const char *path = db->ops->col_text(st, 0), *rest, *slash;
		if (!path || strlen(path) < lo.len)
			continue;
		rest = path + lo.len;
		slash = strchr(rest, '/');
		if (list_push(db, st, rest, slash ? (size_t)(slash - rest) : strlen(rest), !!slash,
			      out, err) < 0) {
			rc = DB__FAIL;
			break;
		}
	}
	db->ops->finish(st);
out:
	buf_release(&lo);
	buf_release(&hi);
	if (rc < 0) {
		db_artifact_list_release(out);
		return -1;
	}
	return 0;
}

/*
 * db.c - the store's front: picks a backend from the URL, runs the
 * migrations, holds the SQL helpers shared by db_run.c and db_registry.c,
 * and implements experiments. No backend-specific code lives here.
 */
#include "store/internal.h"

#include "base/buf.h"
#include "base/mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PAGE_PREFIX "kp1."

int64_t db_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int db_err_is_exists(const struct err *err)
{
	size_t n, k = strlen("already exists");
	if (!err || err->code != ERR_INVALID)
		return 0;
	n = strlen(err->msg);
	return n >= k && strcmp(err->msg + n - k, "already exists") == 0;
}

/* ---- helpers ---- */

struct db__stmt *db__query(struct db *db, const char *sql, const struct db__val *v, size_t n,
			   struct err *err)
{
	struct db__stmt *st = db->ops->prepare(db, sql, err);
	size_t i;
	int rc = 0;
	if (!st)
		return NULL;
	for (i = 0; i < n && rc == 0; i++) {
		int idx = (int)i + 1;
		switch (v[i].type) {
		case 't':
			rc = db->ops->bind_text(st, idx, v[i].s, err);
			break;
		case 'i':
			rc = db->ops->bind_int(st, idx, v[i].i, err);
			break;
		case 'd':
			rc = db->ops->bind_double(st, idx, v[i].d, err);
			break;
		default:
			rc = db->ops->bind_null(st, idx, err);
			break;
		}
	}
	if (rc < 0) {
		db->ops->finish(st);
		return NULL;
	}
	return st;
}

int64_t db__run(struct db *db, const char *sql, const struct db__val *v, size_t n, struct err *err)
{
	struct db__stmt *st = db__query(db, sql, v, n, err);
	int rc;
	int64_t changes;
	if (!st)
		return DB__FAIL;
	while ((rc = db->ops->step(st, err)) == DB__ROW)
		;
	changes = db->ops->changes(st);
	db->ops->finish(st);
	if (rc < 0) {
		if (db->in_tx)
			db->tx_failed = 1;
		return rc;
	}
	return changes;
}

int db__one_int(struct db *db, const char *sql, const struct db__val *v, size_t n, int64_t *out,
		struct err *err)
{
	struct db__stmt *st = db__query(db, sql, v, n, err);
	int rc;
	if (!st)
		return -1;
	rc = db->ops->step(st, err);
	if (rc == DB__ROW)
		*out = db->ops->col_int(st, 0);
	db->ops->finish(st);
	if (rc < 0) {
		if (db->in_tx)
			db->tx_failed = 1;
		return rc;
	}
	return rc == DB__ROW;
}

int db__col_dup(struct db *db, struct db__stmt *st, int col, char **out, struct err *err)
{
	const char *s = db->ops->col_text(st, col);
	*out = mem_strdup(s ? s : "");
	if (!*out)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

int db__tx_begin(struct db *db, struct err *err)
{
	if (db->in_tx++ > 0)
		return 0;
	db->tx_failed = 0;
	if (db->ops->exec(db, db->ops->begin_sql, err) < 0) {
		db->in_tx = 0;
		return -1;
	}
	return 0;
}

int db__tx_end(struct db *db, int ok, struct err *err)
{
	struct err ignored = ERR_INIT;
	if (!ok)
		db->tx_failed = 1;
	if (--db->in_tx > 0)
		return ok ? 0 : -1;
	if (db->tx_failed) {
		/* The rollback's own failure matters less than the error that caused it. */
		(void)db->ops->exec(db, "ROLLBACK", &ignored);
		db->tx_failed = 0;
		return err_set(err, ERR_INTERNAL, "transaction rolled back");
	}
	if (db->ops->exec(db, "COMMIT", err) < 0) {
		(void)db->ops->exec(db, "ROLLBACK", &ignored);
		return -1;
	}
	return 0;
}

void *db__grow(void *ptr, size_t n, size_t size)
{
	if (n != 0 && (n & (n - 1)) != 0)
		return ptr; /* not a power of two: there is room */
	return mem_reallocarray(ptr, n ? n * 2 : 1, size);
}

int db__kv_push(struct db_kv_list *l, const char *key, const char *value, struct err *err)
{
	struct db_kv *v = db__grow(l->v, l->n, sizeof(*v));
	if (!v)
		return err_set(err, ERR_NOMEM, "out of memory");
	l->v = v;
	v[l->n].key = mem_strdup(key ? key : "");
	v[l->n].value = mem_strdup(value ? value : "");
	if (!v[l->n].key || !v[l->n].value) {
		mem_free(v[l->n].key);
		mem_free(v[l->n].value);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	l->n++;
	return 0;
}

int db__load_kv(struct db *db, const char *sql, const struct db__val *v, size_t n,
		struct db_kv_list *out, struct err *err)
{
	struct db__stmt *st = db__query(db, sql, v, n, err);
	int rc;
	if (!st)
		return -1;
	while ((rc = db->ops->step(st, err)) == DB__ROW) {
		if (db__kv_push(out, db->ops->col_text(st, 0), db->ops->col_text(st, 1), err) < 0) {
			rc = DB__FAIL;
			break;
		}
	}
	db->ops->finish(st);
	return rc < 0 ? -1 : 0;
}

void db_kv_list_release(struct db_kv_list *l)
{
	size_t i;
	if (!l)
		return;
	for (i = 0; i < l->n; i++) {
		mem_free(l->v[i].key);
		mem_free(l->v[i].value);
	}
	mem_free(l->v);
	l->v = NULL;
	l->n = 0;
}

int db__check_key(const char *what, const char *key, struct err *err)
{
	if (!key || !*key)
		return err_set(err, ERR_INVALID, "missing value for %s", what);
	if (strlen(key) > DB_MAX_KEY)
		return err_set(err, ERR_INVALID, "%s '%.40s...' is longer than %d characters", what,
			       key, DB_MAX_KEY);
	return 0;
}

int db__check_value(const char *what, const char *value, size_t max, struct err *err)
{
	if (value && strlen(value) > max)
		return err_set(err, ERR_INVALID, "%s is longer than %zu characters", what, max);
	return 0;
}

int db__page_offset(const struct db_page *page, size_t def, size_t *offset, size_t *limit,
		    struct err *err)
{
	const char *t = page ? page->token : NULL;
	char *end = NULL;
	unsigned long long v;
	*offset = 0;
	*limit = page && page->max_results ? page->max_results : def;
	if (*limit > DB_MAX_RESULTS)
		return err_set(err, ERR_INVALID, "max_results %zu is more than %d", *limit,
			       DB_MAX_RESULTS);
	*offset = 0;
	if (!t || !*t)
		return 0;
	if (strncmp(t, PAGE_PREFIX, strlen(PAGE_PREFIX)) != 0)
		goto bad;
	t += strlen(PAGE_PREFIX);
	if (*t < '0' || *t > '9')
		goto bad;
	errno = 0;
	v = strtoull(t, &end, 10);
	if (errno || *end || v > 1000000000ULL)
		goto bad;
	*offset = (size_t)v;
	return 0;
bad:
	return err_set(err, ERR_INVALID, "invalid page token '%.60s'", page->token);
}

int db__page_next(size_t offset, size_t limit, char **token, struct err *err)
{
	struct buf b = BUF_INIT;
	if (buf_addf(&b, PAGE_PREFIX "%zu", offset + limit) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	*token = buf_take(&b, NULL);
	if (!*token)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

int db__collect(struct db *db, struct db__stmt *st, size_t limit, size_t offset, void **items,
		size_t *n, size_t elem,
		int (*from_row)(struct db *db, struct db__stmt *st, void *item, struct err *err),
		char **next_token, struct err *err)
{
	size_t first = *n;
	int rc;
	while ((rc = db->ops->step(st, err)) == DB__ROW) {
		char *v;
		if (*n - first == limit) {
			if (db__page_next(offset, limit, next_token, err) < 0)
				rc = DB__FAIL;
			break;
		}
		v = db__grow(*items, *n, elem);
		if (!v) {
			err_set(err, ERR_NOMEM, "out of memory");
			rc = DB__FAIL;
			break;
		}
		*items = v;
		(*n)++;
		if (from_row(db, st, v + (*n - 1) * elem, err) < 0) {
			rc = DB__FAIL;
			break;
		}
	}
	db->ops->finish(st);
	return rc < 0 ? -1 : 0;
}

void db__qb_release(struct db__qb *q)
{
	buf_release(&q->sql);
	mem_free(q->v);
	q->v = NULL;
	q->n = 0;
}

int db__qb_val(struct db__qb *q, struct db__val val)
{
	struct db__val *v = db__grow(q->v, q->n, sizeof(*v));
	if (!v) {
		q->oom = 1;
		return 1;
	}
	q->v = v;
	v[q->n++] = val;
	return (int)q->n;
}

void db__qb_addf(struct db__qb *q, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (buf_vaddf(&q->sql, fmt, ap) < 0)
		q->oom = 1;
	va_end(ap);
}

const char *db__op_sql(enum db_op op)
{
	static const char *const ops[] = {"=", "!=", ">", ">=", "<", "<=", "LIKE", "LIKE"};
	if ((int)op < 0 || op > DB_OP_ILIKE)
		return NULL;
	return ops[op];
}

void db__qb_str_cmp(struct db__qb *q, const char *col, enum db_op op, const char *s)
{
	int n = db__qb_val(q, DB__T(s ? s : ""));
	if (op == DB_OP_ILIKE)
		db__qb_addf(q, "LOWER(%s) LIKE LOWER($%d)", col, n);
	else
		db__qb_addf(q, "%s %s $%d", col, db__op_sql(op), n);
}

/* ---- open, migrate, close ---- */

static int db_migrate(struct db *db, struct err *err)
{
	int64_t have = 0;
	size_t i;
	if (db->ops->exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)",
			  err) < 0)
		return -1;
	for (;;) {
		int ok = 0;
		if (db__tx_begin(db, err) < 0)
			return -1;
		if (db->ops->migrate_lock_sql &&
		    db->ops->exec(db, db->ops->migrate_lock_sql, err) < 0)
			goto end;
		if (db__one_int(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", NULL, 0,
				&have, err) < 0)
			goto end;
		if (have > (int64_t)db->ops->n_migrations) {
			err_set(err, ERR_VERSION,
				"database schema version %lld is newer than this kiln (%zu)",
				(long long)have, db->ops->n_migrations);
			goto end;
		}
		if (have == (int64_t)db->ops->n_migrations) {
			ok = 1;
			goto end;
		}
		i = (size_t)have;
		if (db->ops->exec(db, db->ops->migrations[i], err) < 0) {
			err_set(err, ERR_IO, "migration %zu failed", i + 1);
			goto end;
		}
		if (db__run(db, "INSERT INTO schema_version (version) VALUES ($1)",
			    DB__ARGS(DB__I(have + 1)), err) < 0)
			goto end;
		ok = 1;
	end:
		if (db__tx_end(db, ok, err) < 0)
			return -1;
		if (have == (int64_t)db->ops->n_migrations)
			return 0;
	}
}

static int db_mkdir_p(const char *dir, struct err *err)
{
	struct buf b = BUF_INIT;
	size_t i;
	int ret = -1;
	if (buf_adds(&b, dir) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 1; i <= b.len; i++) {
		if (b.ptr[i] != '/' && b.ptr[i] != '\0')
			continue;
		b.ptr[i] = '\0';
		if (mkdir(b.ptr, 0700) < 0 && errno != EEXIST) {
			err_set(err, ERR_IO, "cannot create directory '%s': %s", b.ptr,
				strerror(errno));
			goto out;
		}
		if (i < b.len)
			b.ptr[i] = '/';
	}
	ret = 0;
out:
	buf_release(&b);
	return ret;
}

/* The SQLite file a URL names, into path; an error for a URL of no known kind. */
static int sqlite_path(const char *url, const char *home, struct buf *path, struct err *err)
{
	const char *p = url;
	if (!url || !*url) {
		if (!home || !*home)
			return err_set(err, ERR_USAGE, "no database: give a URL or a home");
		if (db_mkdir_p(home, err) < 0)
			return -1;
		if (buf_addf(path, "%s/kiln.db", home) < 0)
			return err_set(err, ERR_NOMEM, "out of memory");
		return 0;
	}
	if (strncmp(url, "sqlite://", 9) == 0)
		p = url + 9;
	else if (strncmp(url, "sqlite:", 7) == 0)
		p = url + 7;
	else if (strstr(url, "://"))
		return err_set(err, ERR_USAGE,
			       "unknown database URL '%s' (sqlite:PATH or postgres://...)", url);
	if (!*p)
		return err_set(err, ERR_USAGE, "empty database path in '%s'", url);
	if (buf_adds(path, p) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

int db_open(struct db **out, const char *url, const char *home, struct err *err)
{
	struct db *db = mem_calloc(1, sizeof(*db));
	struct buf path = BUF_INIT;
	int rc;
	*out = NULL;
	if (!db)
		return err_set(err, ERR_NOMEM, "out of memory");
	if (url && (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0))
		rc = db__pg_open(db, url, err);
	else if ((rc = sqlite_path(url, home, &path, err)) == 0)
		rc = db__sqlite_open(db, path.ptr, err);
	buf_release(&path);
	if (rc < 0) {
		mem_free(db);
		return -1;
	}
	if (db_migrate(db, err) < 0) {
		db_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	if (db->ops)
		db->ops->close(db);
	mem_free(db);
}

const char *db_backend(const struct db *db)
{
	return db->ops->name;
}

int db_schema_version(struct db *db, int64_t *version, struct err *err)
{
	*version = 0;
	return db__one_int(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", NULL, 0,
			   version, err) < 0
		       ? -1
		       : 0;
}

/* ---- experiments ---- */

#define EXP_COLS "id, name, artifact_location, deleted, creation_time, last_update_time"

void db_experiment_release(struct db_experiment *e)
{
	if (!e)
		return;
	mem_free(e->name);
	mem_free(e->artifact_location);
	db_kv_list_release(&e->tags);
	memset(e, 0, sizeof(*e));
}

void db_experiment_list_release(struct db_experiment_list *l)
{
	size_t i;
	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		db_experiment_release(&l->v[i]);
	mem_free(l->v);
	mem_free(l->next_token);
	memset(l, 0, sizeof(*l));
}

static int exp_from_row(struct db *db, struct db__stmt *st, void *item, struct err *err)
{
	struct db_experiment *e = item;
	memset(e, 0, sizeof(*e));
	e->id = db->ops->col_int(st, 0);
	e->deleted = (int)db->ops->col_int(st, 3);
	e->creation_time = db->ops->col_int(st, 4);
	e->last_update_time = db->ops->col_int(st, 5);
	if (db__col_dup(db, st, 1, &e->name, err) < 0 ||
	    db__col_dup(db, st, 2, &e->artifact_location, err) < 0)
		return -1;
	return 0;
}

static int exp_tags(struct db *db, struct db_experiment *e, struct err *err)
{
	return db__load_kv(db,
			   "SELECT key, value FROM experiment_tags WHERE experiment_id = $1"
			   " ORDER BY key",
			   DB__ARGS(DB__I(e->id)), &e->tags, err);
}

/* Loads one experiment by a query with one row; *found says whether it was there. */
static int exp_load(struct db *db, const char *sql, const struct db__val *v, size_t n,
		    struct db_experiment *out, int *found, struct err *err)
{
	struct db__stmt *st = db__query(db, sql, v, n, err);
	int rc;
	*found = 0;
	memset(out, 0, sizeof(*out));
	if (!st)
		return -1;
	rc = db->ops->step(st, err);
	if (rc == DB__ROW) {
		*found = 1;
		if (exp_from_row(db, st, out, err) < 0)
			rc = DB__FAIL;
	}
	db->ops->finish(st);
	if (rc < 0 || (*found && exp_tags(db, out, err) < 0)) {
		db_experiment_release(out);
		return -1;
	}
	return 0;
}

int db_experiment_create(struct db *db, const char *name, const char *artifact_location,
			 const struct db_kv_ref *tags, size_t ntags, int64_t *id, struct err *err)
{
	int64_t now = db_now_ms(), rc;
	struct buf loc = BUF_INIT;
	size_t i;
	int ok = 0;
	if (db__check_key("experiment name", name, err) < 0)
		return -1;
	for (i = 0; i < ntags; i++)
		if (db__check_key("tag key", tags[i].key, err) < 0 ||
		    db__check_value("tag value", tags[i].value, DB_MAX_TAG_VALUE, err) < 0)
			return -1;
	if (db__tx_begin(db, err) < 0)
		return -1;
	rc = db__one_int(db,
			 "INSERT INTO experiments (name, artifact_location, creation_time,"
			 " last_update_time) VALUES ($1, $2, $3, $3) RETURNING id",
			 DB__ARGS(DB__T(name), DB__T(artifact_location ? artifact_location : ""),
				  DB__I(now)),
			 id, err);
	if (rc < 0) {
		if (rc == DB__CONFLICT) {
			err_clear(err);
			err_set(err, ERR_INVALID, "Experiment(name=%s) already exists", name);
		}
		goto out;
	}
	if (!artifact_location || !*artifact_location) {
		if (buf_addf(&loc, "mlflow-artifacts:/%lld", (long long)*id) < 0) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		if (db__run(db, "UPDATE experiments SET artifact_location = $1 WHERE id = $2",
			    DB__ARGS(DB__T(loc.ptr), DB__I(*id)), err) < 0)
			goto out;
	}
	for (i = 0; i < ntags; i++)
		if (db__run(db,
			    "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, "
			    "$2,"
			    " $3) ON CONFLICT (experiment_id, key) DO UPDATE SET value = "
			    "excluded.value",
			    DB__ARGS(DB__I(*id), DB__T(tags[i].key),
				     DB__T(tags[i].value ? tags[i].value : "")),
			    err) < 0)
			goto out;
	ok = 1;
out:
	buf_release(&loc);
	return db__tx_end(db, ok, err);
}

int db_experiment_get(struct db *db, int64_t id, struct db_experiment *out, struct err *err)
{
	int found;
	if (exp_load(db, "SELECT " EXP_COLS " FROM experiments WHERE id = $1", DB__ARGS(DB__I(id)),
		     out, &found, err) < 0)
		return -1;
	if (!found)
		return err_set(err, ERR_NOTFOUND, "No Experiment with id=%lld exists",
			       (long long)id);
	return 0;
}

int db_experiment_get_by_name(struct db *db, const char *name, struct db_experiment *out,
			      struct err *err)
{
	int found;
	if (exp_load(db, "SELECT " EXP_COLS " FROM experiments WHERE name = $1",
		     DB__ARGS(DB__T(name ? name : "")), out, &found, err) < 0)
		return -1;
	if (!found)
		return err_set(err, ERR_NOTFOUND, "Could not find experiment with name '%s'",
			       name ? name : "");
	return 0;
}

static int exp_must_exist(struct db *db, int64_t id, struct err *err)
{
	int64_t dummy;
	int rc = db__one_int(db, "SELECT id FROM experiments WHERE id = $1", DB__ARGS(DB__I(id)),
			     &dummy, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return err_set(err, ERR_NOTFOUND, "No Experiment with id=%lld exists",
			       (long long)id);
	return 0;
}

int db_experiment_rename(struct db *db, int64_t id, const char *new_name, struct err *err)
{
	int64_t rc;
	if (db__check_key("new_name", new_name, err) < 0 || exp_must_exist(db, id, err) < 0)
		return -1;
	rc = db__run(db, "UPDATE experiments SET name = $1, last_update_time = $2 WHERE id = $3",
		     DB__ARGS(DB__T(new_name), DB__I(db_now_ms()), DB__I(id)), err);
	if (rc == DB__CONFLICT) {
		err_clear(err);
		return err_set(err, ERR_INVALID, "Experiment(name=%s) already exists", new_name);
	}
	return rc < 0 ? -1 : 0;
}

int db_experiment_set_deleted(struct db *db, int64_t id, int deleted, struct err *err)
{
	if (exp_must_exist(db, id, err) < 0)
		return -1;
	if (id == 0 && deleted)
		return err_set(err, ERR_INVALID, "cannot delete the default experiment");
	return db__run(db,
		       "UPDATE experiments SET deleted = $1, last_update_time = $2 WHERE id = $3",
		       DB__ARGS(DB__I(deleted ? 1 : 0), DB__I(db_now_ms()), DB__I(id)), err) < 0
		       ? -1
		       : 0;
}

int db_experiment_set_tag(struct db *db, int64_t id, const char *key, const char *value,
			  struct err *err)
{
	if (db__check_key("tag key", key, err) < 0 ||
	    db__check_value("tag value", value, DB_MAX_TAG_VALUE, err) < 0 ||
	    exp_must_exist(db, id, err) < 0)
		return -1;
	return db__run(db,
		       "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3)"
		       " ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
		       DB__ARGS(DB__I(id), DB__T(key), DB__T(value ? value : "")), err) < 0
		       ? -1
		       : 0;
}

/* The experiment search's WHERE conditions: attributes and tags. */
static int exp_cond(struct db__qb *q, const struct db_cond *c, struct err *err)
{
	static const char *const num_attrs[] = {"creation_time", "last_update_time"};
	size_t i;
	if (!db__op_sql(c->op))
		return err_set(err, ERR_INVALID, "invalid comparison operator");
	if (!c->key || !*c->key)
		return err_set(err, ERR_INVALID, "filter condition without a key");
	db__qb_addf(q, " AND ");
	if (c->field == DB_FIELD_TAG) {
		int nk = db__qb_val(q, DB__T(c->key));
		db__qb_addf(q,
			    "EXISTS (SELECT 1 FROM experiment_tags x WHERE x.experiment_id ="
			    " experiments.id AND x.key = $%d AND ",
			    nk);
		db__qb_str_cmp(q, "x.value", c->op, c->str);
		db__qb_addf(q, ")");
		return 0;
	}
	if (c->field != DB_FIELD_ATTR)
		return err_set(err, ERR_INVALID, "experiments have only attributes and tags");
	if (strcmp(c->key, "name") == 0) {
		db__qb_str_cmp(q, "name", c->op, c->str);
		return 0;
	}
	for (i = 0; i < sizeof(num_attrs) / sizeof(num_attrs[0]); i++)
		if (strcmp(c->key, num_attrs[i]) == 0) {
			if (c->op >= DB_OP_LIKE)
				return err_set(err, ERR_INVALID,
					       "attribute '%s' is a number: LIKE does not apply",
					       c->key);
			db__qb_addf(q, "%s %s $%d", c->key, db__op_sql(c->op),
				    db__qb_val(q, DB__I((int64_t)c->num)));
			return 0;
		}
	return err_set(err, ERR_INVALID, "invalid experiment attribute '%s'", c->key);
}

static int exp_order(struct db__qb *q, const struct db_order *o, struct err *err)
{
	static const char *const keys[] = {"name", "creation_time", "last_update_time",
					   "experiment_id"};
	size_t i;
	for (i = 0; o->field == DB_FIELD_ATTR && o->key && i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(o->key, keys[i]) == 0) {
			db__qb_addf(q, "%s %s, ", i == 3 ? "id" : keys[i],
				    o->desc ? "DESC" : "ASC");
			return 0;
		}
	return err_set(err, ERR_INVALID, "invalid order_by key '%s'", o->key ? o->key : "");
}

int db_experiment_search(struct db *db, const struct db_experiment_query *in,
			 struct db_experiment_list *out, struct err *err)
{
	static const char *const views[] = {"deleted = 0", "deleted = 1", "1 = 1"};
	struct db__qb q = DB__QB_INIT;
	struct db__stmt *st = NULL;
	size_t offset, limit, i;
	int rc = DB__FAIL, ret = -1;
	memset(out, 0, sizeof(*out));
	if (db__page_offset(&in->page, 1000, &offset, &limit, err) < 0)
		return -1;
	if ((int)in->view < 0 || in->view > DB_VIEW_ALL)
		return err_set(err, ERR_INVALID, "invalid view type");
	db__qb_addf(&q, "SELECT " EXP_COLS " FROM experiments WHERE %s", views[in->view]);
	for (i = 0; i < in->n_conds; i++)
		if (exp_cond(&q, &in->conds[i], err) < 0)
			goto out;
	db__qb_addf(&q, " ORDER BY ");
	for (i = 0; i < in->n_order; i++)
		if (exp_order(&q, &in->order[i], err) < 0)
			goto out;
	db__qb_addf(&q, "id LIMIT $%d", db__qb_val(&q, DB__I(limit + 1)));
	db__qb_addf(&q, " OFFSET $%d", db__qb_val(&q, DB__I(offset)));
	if (q.oom) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	st = db__query(db, q.sql.ptr, q.v, q.n, err);
	if (!st)
		goto out;
	{
		void *items = out->v;
		rc = db__collect(db, st, limit, offset, &items, &out->n, sizeof(*out->v),
				 exp_from_row, &out->next_token, err);
		out->v = items;
	}
	if (rc < 0)
		goto out;
	for (i = 0; i < out->n; i++)
		if (exp_tags(db, &out->v[i], err) < 0)
			goto out;
	ret = 0;
out:
	db__qb_release(&q);
	if (ret < 0)
		db_experiment_list_release(out);
	return ret;
}

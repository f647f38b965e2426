/*
 * db_sqlite.c - the SQLite backend of the metadata store: one file, WAL
 * mode, foreign keys on, synchronous=FULL so an acknowledged write survives
 * a crash, and a cache of prepared statements. Knows nothing about runs or
 * models: db.c speaks SQL through the ops table below.
 */
#include "store/internal.h"

#include "base/mem.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define SQ_CACHE      128
#define SQ_BUSY_MS    10000
#define SQ_MAX_PARAMS 256

struct sq_stmt {
	sqlite3_stmt *s;
	struct sq *conn;
	int cached; /* owned by the cache: reset instead of finalize */
	int busy;
	int64_t changes;
	int pidx[SQ_MAX_PARAMS + 1]; /* "$N" -> SQLite's parameter index; 0 unknown */
};

struct sq_entry {
	char *sql;
	unsigned long hash;
	struct sq_stmt *st;
};

struct sq {
	sqlite3 *h;
	struct sq_entry cache[SQ_CACHE];
	size_t ncache;
};

static unsigned long sq_hash(const char *s)
{
	unsigned long h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

static int sq_fail(struct sq *c, struct err *err, const char *what)
{
	return err_set(err, ERR_IO, "sqlite: %s: %s", what, sqlite3_errmsg(c->h));
}

static void sq_close(struct db *db)
{
	struct sq *c = db->impl;
	size_t i;
	if (!c)
		return;
	for (i = 0; i < c->ncache; i++) {
		sqlite3_finalize(c->cache[i].st->s);
		mem_free(c->cache[i].st);
		mem_free(c->cache[i].sql);
	}
	sqlite3_close(c->h);
	mem_free(c);
	db->impl = NULL;
}

static int sq_exec(struct db *db, const char *sql, struct err *err)
{
	struct sq *c = db->impl;
	char *msg = NULL;
	if (sqlite3_exec(c->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		err_set(err, ERR_IO, "sqlite: %s", msg ? msg : sqlite3_errmsg(c->h));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static struct sq_stmt *sq_new_stmt(struct sq *c, const char *sql, int persistent, struct err *err)
{
	struct sq_stmt *st = mem_calloc(1, sizeof(*st));
	if (!st) {
		err_set(err, ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (sqlite3_prepare_v3(c->h, sql, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0, &st->s,
			       NULL) != SQLITE_OK) {
		sq_fail(c, err, "prepare");
		mem_free(st);
		return NULL;
	}
	st->conn = c;
	return st;
}

static struct db__stmt *sq_prepare(struct db *db, const char *sql, struct err *err)
{
	struct sq *c = db->impl;
	unsigned long h = sq_hash(sql);
	struct sq_stmt *st;
	char *copy;
	size_t i;
	for (i = 0; i < c->ncache; i++) {
		struct sq_entry *e = &c->cache[i];
		if (e->hash == h && !e->st->busy && strcmp(e->sql, sql) == 0) {
			e->st->busy = 1;
			e->st->changes = 0;
			return (struct db__stmt *)e->st;
		}
	}
	st = sq_new_stmt(c, sql, c->ncache < SQ_CACHE, err);
	if (!st)
		return NULL;
	st->busy = 1;
	if (c->ncache < SQ_CACHE && (copy = mem_strdup(sql)) != NULL) {
		c->cache[c->ncache].sql = copy;
		c->cache[c->ncache].hash = h;
		c->cache[c->ncache].st = st;
		c->ncache++;
		st->cached = 1;
	}
	return (struct db__stmt *)st;
}

static int sq_index(struct sq_stmt *st, int idx, struct err *err)
{
	char name[16];
	int i;
	if (idx < 1 || idx > SQ_MAX_PARAMS)
		return err_set(err, ERR_INTERNAL, "sqlite: parameter $%d out of range", idx);
	if (st->pidx[idx])
		return st->pidx[idx];
	snprintf(name, sizeof(name), "$%d", idx);
	i = sqlite3_bind_parameter_index(st->s, name);
	if (i == 0)
		return err_set(err, ERR_INTERNAL, "sqlite: statement has no parameter %s", name);
	st->pidx[idx] = i;
	return i;
}

static int sq_bound(struct sq_stmt *st, int rc, struct err *err)
{
	if (rc != SQLITE_OK)
		return sq_fail(st->conn, err, "bind");
	return 0;
}

static int sq_bind_text(struct db__stmt *s, int idx, const char *v, struct err *err)
{
	struct sq_stmt *st = (struct sq_stmt *)s;
	int i = sq_index(st, idx, err);
	if (i < 0)
		return -1;
	if (!v)
		return sq_bound(st, sqlite3_bind_null(st->s, i), err);
	return sq_bound(st, sqlite3_bind_text(st->s, i, v, -1, SQLITE_TRANSIENT), err);
}

static int sq_bind_int(struct db__stmt *s, int idx, int64_t v, struct err *err)
{
	struct sq_stmt *st = (struct sq_stmt *)s;
	int i = sq_index(st, idx, err);
	if (i < 0)
		return -1;
	return sq_bound(st, sqlite3_bind_int64(st->s, i, v), err);
}

static int sq_bind_double(struct db__stmt *s, int idx, double v, struct err *err)
{
	struct sq_stmt *st = (struct sq_stmt *)s;
	int i = sq_index(st, idx, err);
	if (i < 0)
		return -1;
	return sq_bound(st, sqlite3_bind_double(st->s, i, v), err);
}

static int sq_bind_null(struct db__stmt *s, int idx, struct err *err)
{
	struct sq_stmt *st = (struct sq_stmt *)s;
	int i = sq_index(st, idx, err);
	if (i < 0)
		return -1;
	return sq_bound(st, sqlite3_bind_null(st->s, i), err);
}

static int sq_step(struct db__stmt *s, struct err *err)
{
	struct sq_stmt *st = (struct sq_stmt *)s;
	int rc = sqlite3_step(st->s);
	if (rc == SQLITE_ROW)
		return DB__ROW;
	if (rc == SQLITE_DONE) {
		st->changes = sqlite3_changes(st->conn->h);
		return DB__DONE;
	}
	if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
		sq_fail(st->conn, err, "step");
		return DB__CONFLICT;
	}
	sq_fail(st->conn, err, "step");
	return DB__FAIL;
}

static const char *sq_col_text(struct db__stmt *s, int col)
{
	struct sq_stmt *st = (struct sq_stmt *)s;
	return (const char *)sqlite3_column_text(st->s, col);
}

static int64_t sq_col_int(struct db__stmt *s, int col)
{
	return sqlite3_column_int64(((struct sq_stmt *)s)->s, col);
}

static double sq_col_double(struct db__stmt *s, int col)
{
	return sqlite3_column_double(((struct sq_stmt *)s)->s, col);
}

static int sq_col_is_null(struct db__stmt *s, int col)
{
	return sqlite3_column_type(((struct sq_stmt *)s)->s, col) == SQLITE_NULL;
}

static int64_t sq_changes(struct db__stmt *s)
{
	return ((struct sq_stmt *)s)->changes;
}

static void sq_finish(struct db__stmt *s)
{
	struct sq_stmt *st = (struct sq_stmt *)s;
	if (!st)
		return;
	if (st->cached) {
		sqlite3_reset(st->s);
		sqlite3_clear_bindings(st->s);
		st->busy = 0;
		return;
	}
	sqlite3_finalize(st->s);
	mem_free(st);
}

/*
 * Migrations. Append only: a released migration is never edited. Metrics
 * are a WITHOUT ROWID table clustered on (run, key, step, timestamp, value)
 * so a history read is one range scan; latest_metrics keeps the newest
 * point per key for search and run reads.
 */
static const char *const sq_migrations[] = {
	"CREATE TABLE experiments (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" artifact_location TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,"
	" creation_time INTEGER NOT NULL, last_update_time INTEGER NOT NULL);"
	"CREATE TABLE experiment_tags (experiment_id INTEGER NOT NULL REFERENCES experiments(id)"
	" ON DELETE CASCADE, key TEXT NOT NULL, value TEXT NOT NULL,"
	" PRIMARY KEY (experiment_id, key)) WITHOUT ROWID;"
	"CREATE TABLE runs (run_id TEXT PRIMARY KEY, experiment_id INTEGER NOT NULL"
	" REFERENCES experiments(id), run_name TEXT NOT NULL, user_id TEXT NOT NULL,"
	" status TEXT NOT NULL, start_time INTEGER NOT NULL, end_time INTEGER,"
	" deleted INTEGER NOT NULL DEFAULT 0, artifact_uri TEXT NOT NULL);"
	"CREATE INDEX runs_by_start ON runs (experiment_id, deleted, start_time DESC, run_id);"
	"CREATE TABLE params (run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"
	" key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key)) WITHOUT ROWID;"
	"CREATE TABLE run_tags (run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"
	" key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key)) WITHOUT ROWID;"
	"CREATE TABLE metrics (run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"
	" key TEXT NOT NULL, step INTEGER NOT NULL, timestamp INTEGER NOT NULL,"
	" value REAL NOT NULL, is_nan INTEGER NOT NULL,"
	" PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)) WITHOUT ROWID;"
	"CREATE TABLE latest_metrics (run_id TEXT NOT NULL REFERENCES runs(run_id)"
	" ON DELETE CASCADE, key TEXT NOT NULL, step INTEGER NOT NULL,"
	" timestamp INTEGER NOT NULL, value REAL NOT NULL, is_nan INTEGER NOT NULL,"
	" PRIMARY KEY (run_id, key)) WITHOUT ROWID;"
	"CREATE INDEX latest_metrics_by_key ON latest_metrics (key, value);"
	"CREATE TABLE models (name TEXT PRIMARY KEY, description TEXT NOT NULL,"
	" creation_time INTEGER NOT NULL, last_updated_time INTEGER NOT NULL,"
	" next_version INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE model_tags (name TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE"
	" ON UPDATE CASCADE, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (name, key));"
	"CREATE TABLE model_versions (name TEXT NOT NULL REFERENCES models(name)"
	" ON DELETE CASCADE ON UPDATE CASCADE, version INTEGER NOT NULL,"
	" creation_time INTEGER NOT NULL, last_updated_time INTEGER NOT NULL,"
	" user_id TEXT NOT NULL, stage TEXT NOT NULL, description TEXT NOT NULL,"
	" source TEXT NOT NULL, run_id TEXT NOT NULL, status TEXT NOT NULL,"
	" run_link TEXT NOT NULL, bundle_sha256 TEXT NOT NULL, git_commit TEXT NOT NULL,"
	" data_sha256 TEXT NOT NULL, workflow_run TEXT NOT NULL, PRIMARY KEY (name, version));"
	"CREATE INDEX model_versions_by_run ON model_versions (run_id);"
	"CREATE INDEX model_versions_by_stage ON model_versions (name, stage, version);"
	"CREATE TABLE model_version_tags (name TEXT NOT NULL, version INTEGER NOT NULL,"
	" key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (name, version, key),"
	" FOREIGN KEY (name, version) REFERENCES model_versions(name, version)"
	" ON DELETE CASCADE ON UPDATE CASCADE);"
	"CREATE TABLE model_aliases (name TEXT NOT NULL, alias TEXT NOT NULL,"
	" version INTEGER NOT NULL, PRIMARY KEY (name, alias),"
	" FOREIGN KEY (name, version) REFERENCES model_versions(name, version)"
	" ON DELETE CASCADE ON UPDATE CASCADE);"
	"CREATE INDEX model_aliases_by_version ON model_aliases (name, version);"
	"INSERT INTO experiments (id, name, artifact_location, creation_time, last_update_time)"
	" VALUES (0, 'Default', 'mlflow-artifacts:/0', CAST(strftime('%s','now') AS INTEGER) * "
	"1000,"
	" CAST(strftime('%s','now') AS INTEGER) * 1000);",
	/* 2: artifacts, path -> blob. BINARY collation: a directory is a key range. */
	"CREATE TABLE artifacts (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL,"
	" size INTEGER NOT NULL, updated_time INTEGER NOT NULL) WITHOUT ROWID;",
	/* 3: alias moves, the history behind rollback (from_version 0: the alias was new). */
	"CREATE TABLE model_alias_moves (id INTEGER PRIMARY KEY, name TEXT NOT NULL"
	" REFERENCES models(name) ON DELETE CASCADE ON UPDATE CASCADE, alias TEXT NOT NULL,"
	" from_version INTEGER NOT NULL, to_version INTEGER NOT NULL, time INTEGER NOT NULL,"
	" kind TEXT NOT NULL, undone INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX model_alias_moves_by_alias ON model_alias_moves (name, alias, id);",
};

static const struct db__ops sq_ops = {
	.name = "sqlite",
	.close = sq_close,
	.exec = sq_exec,
	.prepare = sq_prepare,
	.bind_text = sq_bind_text,
	.bind_int = sq_bind_int,
	.bind_double = sq_bind_double,
	.bind_null = sq_bind_null,
	.step = sq_step,
	.col_text = sq_col_text,
	.col_int = sq_col_int,
	.col_double = sq_col_double,
	.col_is_null = sq_col_is_null,
	.changes = sq_changes,
	.finish = sq_finish,
	/* IMMEDIATE takes the write lock up front: no deadlock on upgrade. */
	.begin_sql = "BEGIN IMMEDIATE",
	.migrate_lock_sql = NULL,
	.migrations = sq_migrations,
	.n_migrations = sizeof(sq_migrations) / sizeof(sq_migrations[0]),
};

int db__sqlite_open(struct db *db, const char *path, struct err *err)
{
	struct sq *c = mem_calloc(1, sizeof(*c));
	if (!c)
		return err_set(err, ERR_NOMEM, "out of memory");
	db->ops = &sq_ops;
	db->impl = c;
	if (sqlite3_open_v2(path, &c->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		err_set(err, ERR_IO, "cannot open database '%s': %s", path,
			c->h ? sqlite3_errmsg(c->h) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(c->h, 1);
	sqlite3_busy_timeout(c->h, SQ_BUSY_MS);
	if (sq_exec(db,
		    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
		    " PRAGMA case_sensitive_like=ON;",
		    err) < 0) {
		err_set(err, ERR_IO, "cannot set up database '%s'", path);
		goto fail;
	}
	return 0;
fail:
	sq_close(db);
	db->ops = NULL;
	return -1;
}

/*
 * db_pg.c - the PostgreSQL backend of the metadata store, through libpq.
 * Parameters travel as text (PQexecParams); the server infers their types
 * from the SQL, which db.c writes in a dialect both backends accept. Knows
 * nothing about runs or models.
 */
#include "store/internal.h"

#include "base/mem.h"

#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_MAX_PARAMS 256
#define PG_CACHE      128
#define PG_NAME_MAX   24 /* "k" and a size_t in decimal */

/*
 * The connection and its named prepared statements (session-wide on the
 * server), one per distinct SQL text up to PG_CACHE; others run unprepared.
 */
struct pg {
	PGconn *conn;
	struct {
		char *sql;
		unsigned long hash;
	} cache[PG_CACHE];
	size_t ncache;
};

struct pg_stmt {
	PGconn *conn;
	char name[PG_NAME_MAX]; /* a prepared statement, or "" */
	const char *sql;	/* borrowed: valid until finish, as db.c guarantees */
	int nparams;
	char *vals[PG_MAX_PARAMS]; /* owned; NULL binds SQL NULL */
	PGresult *res;
	int executed, row, nrows;
	int64_t changes;
};

static void pg_notice(void *arg, const char *msg)
{
	/* "relation already exists, skipping" and the like are not news. */
	(void)arg;
	(void)msg;
}

static int pg_fail(PGconn *c, struct err *err, const char *what)
{
	const char *m = PQerrorMessage(c);
	size_t n = strlen(m);
	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	return err_set(err, ERR_IO, "postgres: %s: %.*s", what, (int)n, m);
}

static void pg_close(struct db *db)
{
	struct pg *p = db->impl;
	size_t i;
	if (!p)
		return;
	for (i = 0; i < p->ncache; i++)
		mem_free(p->cache[i].sql);
	PQfinish(p->conn);
	mem_free(p);
	db->impl = NULL;
}

static int pg_exec(struct db *db, const char *sql, struct err *err)
{
	struct pg *p = db->impl;
	PGresult *r = PQexec(p->conn, sql);
	ExecStatusType s = PQresultStatus(r);
	int ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
	if (!ok)
		pg_fail(p->conn, err, "exec");
	PQclear(r);
	return ok ? 0 : -1;
}

static unsigned long pg_hash(const char *s)
{
	unsigned long h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

/*
 * Names the prepared statement for sql in name (preparing it on first use),
 * or leaves name empty when the cache is full. -1 when PREPARE fails.
 */
static int pg_prepared(struct pg *p, const char *sql, char name[PG_NAME_MAX], struct err *err)
{
	unsigned long h = pg_hash(sql);
	PGresult *r;
	char *copy;
	size_t i;
	int ok;
	name[0] = '\0';
	for (i = 0; i < p->ncache; i++)
		if (p->cache[i].hash == h && strcmp(p->cache[i].sql, sql) == 0) {
			snprintf(name, PG_NAME_MAX, "k%zu", i);
			return 0;
		}
	if (p->ncache == PG_CACHE)
		return 0;
	copy = mem_strdup(sql);
	if (!copy)
		return err_set(err, ERR_NOMEM, "out of memory");
	snprintf(name, PG_NAME_MAX, "k%zu", p->ncache);
	r = PQprepare(p->conn, name, sql, 0, NULL);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok) {
		mem_free(copy);
		name[0] = '\0';
		return pg_fail(p->conn, err, "prepare");
	}
	p->cache[p->ncache].sql = copy;
	p->cache[p->ncache].hash = h;
	p->ncache++;
	return 0;
}

static struct db__stmt *pg_prepare(struct db *db, const char *sql, struct err *err)
{
	struct pg_stmt *st = mem_calloc(1, sizeof(*st));
	if (!st) {
		err_set(err, ERR_NOMEM, "out of memory");
		return NULL;
	}
	st->conn = ((struct pg *)db->impl)->conn;
	st->sql = sql;
	if (pg_prepared(db->impl, sql, st->name, err) < 0) {
		mem_free(st);
		return NULL;
	}
	st->row = -1;
	return (struct db__stmt *)st;
}

static int pg_set(struct pg_stmt *st, int idx, char *v, int is_null, struct err *err)
{
	if (idx < 1 || idx > PG_MAX_PARAMS) {
		mem_free(v);
		return err_set(err, ERR_INTERNAL, "postgres: parameter $%d out of range", idx);
	}
	if (!v && !is_null)
		return err_set(err, ERR_NOMEM, "out of memory");
	mem_free(st->vals[idx - 1]);
	st->vals[idx - 1] = v;
	if (idx > st->nparams)
		st->nparams = idx;
	return 0;
}

static int pg_bind_text(struct db__stmt *s, int idx, const char *v, struct err *err)
{
	return pg_set((struct pg_stmt *)s, idx, v ? mem_strdup(v) : NULL, v == NULL, err);
}

static int pg_bind_int(struct db__stmt *s, int idx, int64_t v, struct err *err)
{
	char b[32];
	snprintf(b, sizeof(b), "%lld", (long long)v);
	return pg_set((struct pg_stmt *)s, idx, mem_strdup(b), 0, err);
}

static int pg_bind_double(struct db__stmt *s, int idx, double v, struct err *err)
{
	char b[40];
	if (isnan(v))
		snprintf(b, sizeof(b), "NaN");
	else if (isinf(v))
		snprintf(b, sizeof(b), "%sInfinity", v < 0 ? "-" : "");
	else
		snprintf(b, sizeof(b), "%.17g", v);
	return pg_set((struct pg_stmt *)s, idx, mem_strdup(b), 0, err);
}

static int pg_bind_null(struct db__stmt *s, int idx, struct err *err)
{
	return pg_set((struct pg_stmt *)s, idx, NULL, 1, err);
}

static int pg_run(struct pg_stmt *st, struct err *err)
{
	ExecStatusType s;
	const char *state;
	st->executed = 1;
	if (st->name[0])
		st->res = PQexecPrepared(st->conn, st->name, st->nparams,
					 (const char *const *)st->vals, NULL, NULL, 0);
	else
		st->res = PQexecParams(st->conn, st->sql, st->nparams, NULL,
				       (const char *const *)st->vals, NULL, NULL, 0);
	s = PQresultStatus(st->res);
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
		st->nrows = PQntuples(st->res);
		st->changes = strtoll(PQcmdTuples(st->res), NULL, 10);
		return 0;
	}
	state = PQresultErrorField(st->res, PG_DIAG_SQLSTATE);
	pg_fail(st->conn, err, "query");
	/* 23505: unique_violation */
	return state && strcmp(state, "23505") == 0 ? DB__CONFLICT : DB__FAIL;
}

static int pg_step(struct db__stmt *s, struct err *err)
{
	struct pg_stmt *st = (struct pg_stmt *)s;
	if (!st->executed) {
		int rc = pg_run(st, err);
		if (rc < 0)
			return rc;
	}
	if (!st->res)
		return DB__DONE;
	if (st->row + 1 < st->nrows) {
		st->row++;
		return DB__ROW;
	}
	st->row = st->nrows;
	return DB__DONE;
}

static const char *pg_col_text(struct db__stmt *s, int col)
{
	struct pg_stmt *st = (struct pg_stmt *)s;
	if (PQgetisnull(st->res, st->row, col))
		return NULL;
	return PQgetvalue(st->res, st->row, col);
}

static int64_t pg_col_int(struct db__stmt *s, int col)
{
	const char *t = pg_col_text(s, col);
	return t ? strtoll(t, NULL, 10) : 0;
}

static double pg_col_double(struct db__stmt *s, int col)
{
	const char *t = pg_col_text(s, col);
	return t ? strtod(t, NULL) : 0.0;
}

static int pg_col_is_null(struct db__stmt *s, int col)
{
	struct pg_stmt *st = (struct pg_stmt *)s;
	return PQgetisnull(st->res, st->row, col);
}

static int64_t pg_changes(struct db__stmt *s)
{
	return ((struct pg_stmt *)s)->changes;
}

static void pg_finish(struct db__stmt *s)
{
	struct pg_stmt *st = (struct pg_stmt *)s;
	int i;
	if (!st)
		return;
	for (i = 0; i < st->nparams; i++)
		mem_free(st->vals[i]);
	PQclear(st->res);
	mem_free(st);
}

/* Append only, like the SQLite list; the same tables and keys. */
static const char *const pg_migrations[] = {
	"CREATE TABLE experiments (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE, artifact_location TEXT NOT NULL,"
	" deleted INTEGER NOT NULL DEFAULT 0, creation_time BIGINT NOT NULL,"
	" last_update_time BIGINT NOT NULL);"
	"CREATE TABLE experiment_tags (experiment_id BIGINT NOT NULL REFERENCES experiments(id)"
	" ON DELETE CASCADE, key TEXT NOT NULL, value TEXT NOT NULL,"
	" PRIMARY KEY (experiment_id, key));"
	"CREATE TABLE runs (run_id TEXT PRIMARY KEY, experiment_id BIGINT NOT NULL"
	" REFERENCES experiments(id), run_name TEXT NOT NULL, user_id TEXT NOT NULL,"
	" status TEXT NOT NULL, start_time BIGINT NOT NULL, end_time BIGINT,"
	" deleted INTEGER NOT NULL DEFAULT 0, artifact_uri TEXT NOT NULL);"
	"CREATE INDEX runs_by_start ON runs (experiment_id, deleted, start_time DESC, run_id);"
	"CREATE TABLE params (run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"
	" key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key));"
	"CREATE TABLE run_tags (run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"
	" key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key));"
	"CREATE TABLE metrics (run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"
	" key TEXT NOT NULL, step BIGINT NOT NULL, timestamp BIGINT NOT NULL,"
	" value DOUBLE PRECISION NOT NULL, is_nan INTEGER NOT NULL,"
	" PRIMARY KEY (run_id, key, step, timestamp, value, is_nan));"
	"CREATE TABLE latest_metrics (run_id TEXT NOT NULL REFERENCES runs(run_id)"
	" ON DELETE CASCADE, key TEXT NOT NULL, step BIGINT NOT NULL,"
	" timestamp BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL, is_nan INTEGER NOT NULL,"
	" PRIMARY KEY (run_id, key));"
	"CREATE INDEX latest_metrics_by_key ON latest_metrics (key, value);"
	"CREATE TABLE models (name TEXT PRIMARY KEY, description TEXT NOT NULL,"
	" creation_time BIGINT NOT NULL, last_updated_time BIGINT NOT NULL,"
	" next_version BIGINT NOT NULL DEFAULT 0);"
	"CREATE TABLE model_tags (name TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE"
	" ON UPDATE CASCADE, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (name, key));"
	"CREATE TABLE model_versions (name TEXT NOT NULL REFERENCES models(name)"
	" ON DELETE CASCADE ON UPDATE CASCADE, version BIGINT NOT NULL,"
	" creation_time BIGINT NOT NULL, last_updated_time BIGINT NOT NULL,"
	" user_id TEXT NOT NULL, stage TEXT NOT NULL, description TEXT NOT NULL,"
	" source TEXT NOT NULL, run_id TEXT NOT NULL, status TEXT NOT NULL,"
	" run_link TEXT NOT NULL, bundle_sha256 TEXT NOT NULL, git_commit TEXT NOT NULL,"
	" data_sha256 TEXT NOT NULL, workflow_run TEXT NOT NULL, PRIMARY KEY (name, version));"
	"CREATE INDEX model_versions_by_run ON model_versions (run_id);"
	"CREATE INDEX model_versions_by_stage ON model_versions (name, stage, version);"
	"CREATE TABLE model_version_tags (name TEXT NOT NULL, version BIGINT NOT NULL,"
	" key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (name, version, key),"
	" FOREIGN KEY (name, version) REFERENCES model_versions(name, version)"
	" ON DELETE CASCADE ON UPDATE CASCADE);"
	"CREATE TABLE model_aliases (name TEXT NOT NULL, alias TEXT NOT NULL,"
	" version BIGINT NOT NULL, PRIMARY KEY (name, alias),"
	" FOREIGN KEY (name, version) REFERENCES model_versions(name, version)"
	" ON DELETE CASCADE ON UPDATE CASCADE);"
	"CREATE INDEX model_aliases_by_version ON model_aliases (name, version);"
	"INSERT INTO experiments (id, name, artifact_location, creation_time, last_update_time)"
	" VALUES (0, 'Default', 'mlflow-artifacts:/0',"
	" (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT, (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT);",
	/* 2: artifacts, path -> blob. Collation "C": bytewise, so a directory is a key range. */
	"CREATE TABLE artifacts (path TEXT COLLATE \"C\" PRIMARY KEY, sha256 TEXT NOT NULL,"
	" size BIGINT NOT NULL, updated_time BIGINT NOT NULL);",
	/* 3: alias moves, the history behind rollback (from_version 0: the alias was new). */
	"CREATE TABLE model_alias_moves (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	" name TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE ON UPDATE CASCADE,"
	" alias TEXT NOT NULL, from_version BIGINT NOT NULL, to_version BIGINT NOT NULL,"
	" time BIGINT NOT NULL, kind TEXT NOT NULL, undone INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX model_alias_moves_by_alias ON model_alias_moves (name, alias, id);",
};

static const struct db__ops pg_ops = {
	.name = "postgres",
	.close = pg_close,
	.exec = pg_exec,
	.prepare = pg_prepare,
	.bind_text = pg_bind_text,
	.bind_int = pg_bind_int,
	.bind_double = pg_bind_double,
	.bind_null = pg_bind_null,
	.step = pg_step,
	.col_text = pg_col_text,
	.col_int = pg_col_int,
	.col_double = pg_col_double,
	.col_is_null = pg_col_is_null,
	.changes = pg_changes,
	.finish = pg_finish,
	.begin_sql = "BEGIN",
	/* Two servers starting at once must not both run migration N. */
	.migrate_lock_sql = "SELECT pg_advisory_xact_lock(74051)",
	.migrations = pg_migrations,
	.n_migrations = sizeof(pg_migrations) / sizeof(pg_migrations[0]),
};

int db__pg_open(struct db *db, const char *conninfo, struct err *err)
{
	PGconn *c = PQconnectdb(conninfo);
	struct pg *p;
	if (!c)
		return err_set(err, ERR_NOMEM, "out of memory");
	if (PQstatus(c) != CONNECTION_OK) {
		pg_fail(c, err, "cannot connect");
		PQfinish(c);
		return -1;
	}
	PQsetNoticeProcessor(c, pg_notice, NULL);
	p = mem_calloc(1, sizeof(*p));
	if (!p) {
		PQfinish(c);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	p->conn = c;
	db->ops = &pg_ops;
	db->impl = p;
	return 0;
}

/*
 * internal.h - what the generic store (db.c) needs from a SQL backend
 * (db_sqlite.c, db_pg.c): a small statement API and the backend's
 * migrations. Only for src/store/; everyone else uses db.h.
 *
 * SQL is written once, in a dialect both backends accept, with numbered
 * placeholders $1, $2, ... (SQLite treats "$N" as a named parameter).
 */
#ifndef KILN_STORE_INTERNAL_H
#define KILN_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "store/db.h"

struct db__stmt;

/* step() results. */
enum { DB__DONE = 0, DB__ROW = 1, DB__FAIL = -1, DB__CONFLICT = -2 };

struct db__ops {
	const char *name;
	void (*close)(struct db *db);
	/* Runs SQL without parameters or results (may hold several statements). */
	int (*exec)(struct db *db, const char *sql, struct err *err);
	/*
	 * A statement for sql (cached when the backend can). Parameters are
	 * 1-based. The statement is valid until finish().
	 */
	struct db__stmt *(*prepare)(struct db *db, const char *sql, struct err *err);
	int (*bind_text)(struct db__stmt *st, int idx, const char *s, struct err *err);
	int (*bind_int)(struct db__stmt *st, int idx, int64_t v, struct err *err);
	int (*bind_double)(struct db__stmt *st, int idx, double v, struct err *err);
	int (*bind_null)(struct db__stmt *st, int idx, struct err *err);
	/*
	 * Runs the statement (first call) and moves to the next row: DB__ROW,
	 * DB__DONE, DB__FAIL (err set) or DB__CONFLICT (a unique or primary
	 * key violation; err set).
	 */
	int (*step)(struct db__stmt *st, struct err *err);
	/* Column values of the current row; text is NULL for SQL NULL and is
	 * valid until the next step or finish. */
	const char *(*col_text)(struct db__stmt *st, int col);
	int64_t (*col_int)(struct db__stmt *st, int col);
	double (*col_double)(struct db__stmt *st, int col);
	int (*col_is_null)(struct db__stmt *st, int col);
	/* Rows changed by the last INSERT/UPDATE/DELETE that was stepped. */
	int64_t (*changes)(struct db__stmt *st);
	void (*finish)(struct db__stmt *st);
	/* SQL for BEGIN of a write transaction, and for taking the migration lock in it. */
	const char *begin_sql;
	const char *migrate_lock_sql;
	/* The migrations: migrations[i] brings the schema from version i to i + 1. */
	const char *const *migrations;
	size_t n_migrations;
};

struct db {
	const struct db__ops *ops;
	void *impl;    /* the backend's connection state */
	int in_tx;     /* nesting depth of db__begin */
	int tx_failed; /* an inner failure dooms the outer transaction */
};

/* Backend constructors: fill db->ops and db->impl. */
int db__sqlite_open(struct db *db, const char *path, struct err *err);
int db__pg_open(struct db *db, const char *conninfo, struct err *err);

/* ---- helpers shared by db.c, db_run.c, db_registry.c ---- */

/* A value to bind: type 't' text (NULL binds SQL NULL), 'i' int64, 'd' double. */
struct db__val {
	char type;
	const char *s;
	int64_t i;
	double d;
};
#define DB__T(x) ((struct db__val){'t', (x), 0, 0})
#define DB__I(x) ((struct db__val){'i', NULL, (int64_t)(x), 0})
#define DB__D(x) ((struct db__val){'d', NULL, 0, (double)(x)})
/* ARGS(DB__T(a), DB__I(b)) expands to an array and its length. */
#define DB__ARGS(...)                                                                              \
	(const struct db__val[]){__VA_ARGS__},                                                     \
		sizeof((const struct db__val[]){__VA_ARGS__}) / sizeof(struct db__val)

/* Prepares sql and binds v[0..n) to $1..$n. Finish with db->ops->finish. */
struct db__stmt *db__query(struct db *db, const char *sql, const struct db__val *v, size_t n,
			   struct err *err);
/*
 * Runs a statement to completion: returns the number of rows changed, or
 * DB__FAIL / DB__CONFLICT with err set.
 */
int64_t db__run(struct db *db, const char *sql, const struct db__val *v, size_t n, struct err *err);
/*
 * Steps a query for one int64 column of one row: 1 found, 0 no row,
 * DB__FAIL or DB__CONFLICT on error.
 */
int db__one_int(struct db *db, const char *sql, const struct db__val *v, size_t n, int64_t *out,
		struct err *err);
/* A copy of a text column ("" for NULL) into *out; -1 on ENOMEM. */
int db__col_dup(struct db *db, struct db__stmt *st, int col, char **out, struct err *err);

/*
 * Transactions nest: only the outermost begin/end talks to the database.
 * db__tx_end commits when ok and nothing inside failed, else rolls back;
 * it returns 0 when committed, -1 otherwise (err set).
 */
int db__tx_begin(struct db *db, struct err *err);
int db__tx_end(struct db *db, int ok, struct err *err);

/* Key/value lists loaded by a query whose columns are (key, value). */
int db__load_kv(struct db *db, const char *sql, const struct db__val *v, size_t n,
		struct db_kv_list *out, struct err *err);
/*
 * Room for one more element in an array of n that only ever grew through
 * here: capacity doubles at powers of two, so n pushes cost O(n). Returns
 * the (maybe moved) array, or NULL with ptr untouched.
 */
void *db__grow(void *ptr, size_t n, size_t size);

/*
 * Appends the rows of a query (st, from db__query) to an array of
 * elem-sized items (*items, *n), filling each new item with from_row, then
 * finishes st. At most limit rows of this query are kept; one more means
 * another page, and *next_token gets its token (offset + limit). Returns 0,
 * or -1 with err set; items appended so far stay for the caller to release.
 */
int db__collect(struct db *db, struct db__stmt *st, size_t limit, size_t offset, void **items,
		size_t *n, size_t elem,
		int (*from_row)(struct db *db, struct db__stmt *st, void *item, struct err *err),
		char **next_token, struct err *err);

/* Appends one key/value pair (copies). */
int db__kv_push(struct db_kv_list *l, const char *key, const char *value, struct err *err);

/* Checks a key and a value against the limits; what names the field. */
int db__check_key(const char *what, const char *key, struct err *err);
int db__check_value(const char *what, const char *value, size_t max, struct err *err);

/*
 * Page tokens: decode (NULL/"" is offset 0) and encode an offset; the
 * encoded token is owned by the caller. Page size: max_results, or def
 * when 0; more than DB_MAX_RESULTS is ERR_INVALID.
 */
int db__page_offset(const struct db_page *page, size_t def, size_t *offset, size_t *limit,
		    struct err *err);
int db__page_next(size_t offset, size_t limit, char **token, struct err *err);

/*
 * A query being built: SQL text plus the values its $N placeholders bind.
 * Appends never fail outright: oom is set and checked once at the end.
 */
struct db__qb {
	struct buf sql;
	struct db__val *v;
	size_t n;
	int oom;
};
#define DB__QB_INIT                                                                                \
	{                                                                                          \
		BUF_INIT, NULL, 0, 0                                                               \
	}

void db__qb_release(struct db__qb *q);
/* Appends a value to bind and returns its placeholder number. */
int db__qb_val(struct db__qb *q, struct db__val val);
void db__qb_addf(struct db__qb *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "col OP $n" for a string comparison; ILIKE made portable with LOWER(). */
void db__qb_str_cmp(struct db__qb *q, const char *col, enum db_op op, const char *s);
/* The SQL of a comparison operator; NULL for an unknown one. */
const char *db__op_sql(enum db_op op);

#endif

/*
 * db.h - the metadata store of tracking and registry: experiments, runs
 * (params, metrics with history, tags), registered models, versions with
 * lineage, aliases. One interface, two backends (SQLite, PostgreSQL) chosen
 * by URL. Not for bytes: those go to the blob store (store/blob.h).
 *
 * Invariants and conventions:
 * - Every function returns 0 on success or -1 with err filled (first error
 *   wins). Unknown ids/names fail with ERR_NOTFOUND; bad arguments (empty
 *   names, bad page tokens, changed params, unknown filter keys) with
 *   ERR_INVALID; a name already taken fails with ERR_INVALID and a message
 *   ending "already exists" (see db_err_is_exists).
 * - Times are Unix epoch milliseconds. A time argument of 0 means "now".
 * - Strings in result structs are owned by the struct; release them with the
 *   matching _release function (safe on a zeroed struct, and twice).
 * - A struct db is one connection: use it from one thread at a time. Open one
 *   per thread; the backends serialize writers (SQLite WAL + busy timeout,
 *   PostgreSQL row locks), and every multi-row write is one transaction, so a
 *   batch is either all there or not there at all.
 */
#ifndef KILN_STORE_DB_H
#define KILN_STORE_DB_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Limits (MLflow's, with kiln's larger values for params and tags). */
#define DB_MAX_KEY	     250
#define DB_MAX_PARAM_VALUE   6000
#define DB_MAX_TAG_VALUE     5000
#define DB_MAX_BATCH_METRICS 1000
#define DB_MAX_BATCH_PARAMS  100
#define DB_MAX_BATCH_TAGS    100
#define DB_MAX_RESULTS	     50000
#define DB_RUN_ID_LEN	     32

struct db;

/*
 * Opens (creating when needed) the store at url and brings its schema up to
 * date (versioned migrations, each in a transaction):
 *   NULL or ""                 sqlite at $home/kiln.db (home must be given)
 *   sqlite:PATH, sqlite://PATH, a plain path    SQLite file PATH
 *   postgres://..., postgresql://...            PostgreSQL (libpq conninfo URI)
 * Returns the handle in *out (free with db_close).
 */
int db_open(struct db **out, const char *url, const char *home, struct err *err);
void db_close(struct db *db);
/* "sqlite" or "postgres". */
const char *db_backend(const struct db *db);
/* The schema version the store is at (the number of migrations applied). */
int db_schema_version(struct db *db, int64_t *version, struct err *err);
/* True when err says a name or id is already taken. */
int db_err_is_exists(const struct err *err);
/* Milliseconds since the epoch. */
int64_t db_now_ms(void);

/* ---- common pieces ---- */

struct db_kv {
	char *key;
	char *value;
};

struct db_kv_list {
	struct db_kv *v;
	size_t n;
};

void db_kv_list_release(struct db_kv_list *l);

/* Inputs borrow their strings: a key/value pair and a metric point to store. */
struct db_kv_ref {
	const char *key;
	const char *value; /* NULL stores "" */
};

/* Which deleted/active entities a search returns. */
enum db_view { DB_VIEW_ACTIVE = 0, DB_VIEW_DELETED, DB_VIEW_ALL };

/*
 * Pagination: max_results 0 means the endpoint's default; a page token is
 * opaque (NULL or "" for the first page). A result has next_token set
 * (owned) when more results exist, NULL otherwise. Bad tokens: ERR_INVALID.
 */
struct db_page {
	size_t max_results;
	const char *token;
};

/* ---- experiments ---- */

struct db_experiment {
	int64_t id; /* 0 is the pre-created "Default" */
	char *name;
	char *artifact_location;
	int deleted;
	int64_t creation_time, last_update_time;
	struct db_kv_list tags;
};

struct db_experiment_list {
	struct db_experiment *v;
	size_t n;
	char *next_token;
};

void db_experiment_release(struct db_experiment *e);
void db_experiment_list_release(struct db_experiment_list *l);

/*
 * Creates an experiment; artifact_location NULL or "" means
 * "mlflow-artifacts:/<id>". The new id goes to *id.
 */
int db_experiment_create(struct db *db, const char *name, const char *artifact_location,
			 const struct db_kv_ref *tags, size_t ntags, int64_t *id, struct err *err);
/* Finds deleted experiments too. */
int db_experiment_get(struct db *db, int64_t id, struct db_experiment *out, struct err *err);
int db_experiment_get_by_name(struct db *db, const char *name, struct db_experiment *out,
			      struct err *err);
int db_experiment_rename(struct db *db, int64_t id, const char *new_name, struct err *err);
/* deleted 1 deletes, 0 restores. Runs keep their own state. */
int db_experiment_set_deleted(struct db *db, int64_t id, int deleted, struct err *err);
int db_experiment_set_tag(struct db *db, int64_t id, const char *key, const char *value,
			  struct err *err);
/* Searches: a conjunction of conditions and an ordering. */
enum db_field { DB_FIELD_ATTR = 0, DB_FIELD_METRIC, DB_FIELD_PARAM, DB_FIELD_TAG };
enum db_op {
	DB_OP_EQ = 0,
	DB_OP_NE,
	DB_OP_GT,
	DB_OP_GE,
	DB_OP_LT,
	DB_OP_LE,
	DB_OP_LIKE,
	DB_OP_ILIKE
};

/*
 * One condition of a search (a conjunction of them). Numbers compare num
 * with = != > >= < <=; strings compare str with any op (LIKE is
 * case-sensitive, ILIKE not). What field and key may name depends on the
 * search: see db_experiment_search and db_run_search. An entity without
 * the metric, param or tag never matches.
 */
struct db_cond {
	enum db_field field;
	const char *key;
	enum db_op op;
	const char *str;
	double num;
};

/* An ordering key: an attribute (DB_FIELD_ATTR) or, for runs, a metric. */
struct db_order {
	enum db_field field;
	const char *key;
	int desc;
};

struct db_experiment_query {
	enum db_view view;
	/* attribute name (string), creation_time, last_update_time (numbers); tags */
	const struct db_cond *conds;
	size_t n_conds;
	/* name, creation_time, last_update_time, experiment_id; id breaks ties */
	const struct db_order *order;
	size_t n_order;
	struct db_page page; /* default page size 1000 */
};

int db_experiment_search(struct db *db, const struct db_experiment_query *q,
			 struct db_experiment_list *out, struct err *err);

/* ---- runs ---- */

enum db_run_status {
	DB_RUN_RUNNING = 1,
	DB_RUN_SCHEDULED,
	DB_RUN_FINISHED,
	DB_RUN_FAILED,
	DB_RUN_KILLED
};
/* "RUNNING", ... ; NULL for an unknown value. */
const char *db_run_status_name(int status);
/* 0 for an unknown name (matched exactly). */
int db_run_status_parse(const char *name);

struct db_metric {
	char *key;
	double value; /* NaN and infinities are kept */
	int64_t timestamp;
	int64_t step;
};

struct db_metric_list {
	struct db_metric *v;
	size_t n;
	char *next_token;
	char *key; /* db_metric_history: the one key every v[i].key points at (owned) */
};

void db_metric_list_release(struct db_metric_list *l);

struct db_metric_ref {
	const char *key;
	double value;
	int64_t timestamp;
	int64_t step;
};

struct db_run {
	char run_id[DB_RUN_ID_LEN + 1]; /* 32 lowercase hex digits */
	int64_t experiment_id;
	char *run_name;
	char *user_id;
	int status; /* enum db_run_status */
	int64_t start_time;
	int64_t end_time; /* 0 while unset */
	int deleted;
	char *artifact_uri;
	struct db_metric *metrics; /* latest value per key (max step, timestamp, value) */
	size_t n_metrics;
	struct db_kv_list params, tags;
};

struct db_run_list {
	struct db_run *v;
	size_t n;
	char *next_token;
};

void db_run_release(struct db_run *r);
void db_run_list_release(struct db_run_list *l);

struct db_run_create {
	int64_t experiment_id;
	const char *run_name; /* NULL: generated ("adjective-noun-NNN") */
	const char *user_id;  /* NULL: "" */
	int64_t start_time;   /* 0: now */
	const struct db_kv_ref *tags;
	size_t ntags;
};

/*
 * Creates a RUNNING run in an existing, active experiment with a fresh
 * random run id; the run name is also stored as tag mlflow.runName. The
 * whole run (with its tags) goes to *out.
 */
int db_run_create(struct db *db, const struct db_run_create *in, struct db_run *out,
		  struct err *err);
/* Finds deleted runs too. */
int db_run_get(struct db *db, const char *run_id, struct db_run *out, struct err *err);
/*
 * Updates what is given: status 0, end_time 0 and run_name NULL leave the
 * field alone. A new run name also updates tag mlflow.runName.
 */
int db_run_update(struct db *db, const char *run_id, int status, int64_t end_time,
		  const char *run_name, struct err *err);
int db_run_set_deleted(struct db *db, const char *run_id, int deleted, struct err *err);

/*
 * Logs metrics, params and tags to an active run in one transaction: on any
 * error nothing of the batch is stored. Metrics append (an identical
 * (key, step, timestamp, value) point is stored once); params are
 * write-once (the same value again is fine, another value is ERR_INVALID);
 * tags overwrite. Limits: DB_MAX_BATCH_*, DB_MAX_KEY, DB_MAX_*_VALUE.
 */
int db_run_log_batch(struct db *db, const char *run_id, const struct db_metric_ref *metrics,
		     size_t nmetrics, const struct db_kv_ref *params, size_t nparams,
		     const struct db_kv_ref *tags, size_t ntags, struct err *err);
int db_run_log_metric(struct db *db, const char *run_id, const char *key, double value,
		      int64_t timestamp, int64_t step, struct err *err);
int db_run_log_param(struct db *db, const char *run_id, const char *key, const char *value,
		     struct err *err);
int db_run_set_tag(struct db *db, const char *run_id, const char *key, const char *value,
		   struct err *err);
/* ERR_NOTFOUND when the run has no such tag. */
int db_run_delete_tag(struct db *db, const char *run_id, const char *key, struct err *err);

/*
 * The whole series of one metric of a run, ordered by step, timestamp,
 * value. Default page size: all points. An unknown run is ERR_NOTFOUND; an
 * unknown key is an empty list.
 */
int db_metric_history(struct db *db, const char *run_id, const char *key,
		      const struct db_page *page, struct db_metric_list *out, struct err *err);

/*
 * Run search conditions: metrics (latest value) and the attributes
 * start_time and end_time are numbers; params, tags and the attributes
 * run_id, run_name, status, user_id, artifact_uri are strings. Orders:
 * those attributes, or a metric (runs without it sort last).
 */
struct db_run_query {
	const int64_t *experiment_ids; /* required, at least one */
	size_t n_experiment_ids;
	enum db_view view;
	const struct db_cond *conds;
	size_t n_conds;
	const struct db_order *order; /* none: start_time DESC; run_id breaks ties */
	size_t n_order;
	struct db_page page; /* default page size 1000, at most DB_MAX_RESULTS */
};

int db_run_search(struct db *db, const struct db_run_query *q, struct db_run_list *out,
		  struct err *err);

/* ---- artifacts ---- */

/*
 * Artifacts are files under the artifact root, by relative path
 * ("1/<run_id>/artifacts/model/MLmodel"), whose bytes are blobs: the store
 * maps each path to a sha256 and a size. Paths are validated (see
 * db_artifact_path_ok): a bad path is ERR_INVALID "invalid path".
 */
#define DB_MAX_ARTIFACT_PATH 1024

struct db_artifact {
	char *path; /* db_artifact_get: the full path; db_artifact_list: the name in dir */
	char sha256[65];
	int64_t size;
	int is_dir; /* lists only; directories have no sha256 or size */
	int64_t updated_time;
};

struct db_artifact_list {
	struct db_artifact *v;
	size_t n;
};

void db_artifact_release(struct db_artifact *a);
void db_artifact_list_release(struct db_artifact_list *l);
/*
 * True for a relative path of non-empty segments, none "." or "..", no
 * backslash or control character, at most DB_MAX_ARTIFACT_PATH bytes.
 */
int db_artifact_path_ok(const char *path);
/* Points path at a blob (creating or replacing the entry). */
int db_artifact_put(struct db *db, const char *path, const char *sha256, int64_t size,
		    struct err *err);
int db_artifact_get(struct db *db, const char *path, struct db_artifact *out, struct err *err);
int db_artifact_delete(struct db *db, const char *path, struct err *err);
/*
 * The entries directly in dir ("" or NULL: the root), files and
 * directories, ordered by name. An empty or unknown dir is an empty list.
 */
int db_artifact_list(struct db *db, const char *dir, struct db_artifact_list *out, struct err *err);

/* ---- model registry ---- */

struct db_alias {
	char *alias;
	int64_t version;
};

struct db_model {
	char *name;
	char *description;
	int64_t creation_time, last_updated_time;
	struct db_kv_list tags;
	struct db_alias *aliases; /* ordered by alias */
	size_t n_aliases;
};

struct db_model_list {
	struct db_model *v;
	size_t n;
	char *next_token;
};

void db_model_release(struct db_model *m);
void db_model_list_release(struct db_model_list *l);

int db_model_create(struct db *db, const char *name, const char *description,
		    const struct db_kv_ref *tags, size_t ntags, struct err *err);
int db_model_get(struct db *db, const char *name, struct db_model *out, struct err *err);
/* Versions, their tags and aliases move with the model. */
int db_model_rename(struct db *db, const char *name, const char *new_name, struct err *err);
int db_model_set_description(struct db *db, const char *name, const char *description,
			     struct err *err);
/* Deletes the model with all its versions and aliases. */
int db_model_delete(struct db *db, const char *name, struct err *err);
int db_model_set_tag(struct db *db, const char *name, const char *key, const char *value,
		     struct err *err);
int db_model_delete_tag(struct db *db, const char *name, const char *key, struct err *err);
struct db_model_query {
	/* attribute name (string); tags */
	const struct db_cond *conds;
	size_t n_conds;
	/* name, creation_time, last_updated_time; name breaks ties */
	const struct db_order *order;
	size_t n_order;
	struct db_page page; /* default page size 100 */
};

int db_model_search(struct db *db, const struct db_model_query *q, struct db_model_list *out,
		    struct err *err);

/* Stages, canonical spelling. */
#define DB_STAGE_NONE	    "None"
#define DB_STAGE_STAGING    "Staging"
#define DB_STAGE_PRODUCTION "Production"
#define DB_STAGE_ARCHIVED   "Archived"
/* The canonical spelling of a stage matched case-insensitively; NULL if unknown. */
const char *db_stage_canonical(const char *stage);

/* Where a version comes from: kiln's lineage anchors. All optional. */
struct db_lineage {
	char *bundle_sha256;
	char *git_commit;
	char *data_sha256;
	char *workflow_run;
};

struct db_version {
	char *name;
	int64_t version; /* 1, 2, ... per model, never reused */
	int64_t creation_time, last_updated_time;
	char *user_id;
	char *stage; /* canonical stage */
	char *description;
	char *source;
	char *run_id;
	char *status; /* "READY" */
	char *run_link;
	struct db_lineage lineage;
	struct db_kv_list tags;
	char **aliases; /* ordered */
	size_t n_aliases;
};

struct db_version_list {
	struct db_version *v;
	size_t n;
	char *next_token;
};

void db_version_release(struct db_version *v);
void db_version_list_release(struct db_version_list *l);

struct db_version_create {
	const char *name;   /* an existing model */
	const char *source; /* required */
	const char *run_id; /* optional */
	const char *run_link;
	const char *description;
	const char *user_id;
	const char *bundle_sha256, *git_commit, *data_sha256, *workflow_run;
	const struct db_kv_ref *tags;
	size_t ntags;
};

/* Creates the next version, status READY, stage None; the whole version goes to *out. */
int db_version_create(struct db *db, const struct db_version_create *in, struct db_version *out,
		      struct err *err);
int db_version_get(struct db *db, const char *name, int64_t version, struct db_version *out,
		   struct err *err);
int db_version_set_description(struct db *db, const char *name, int64_t version,
			       const char *description, struct err *err);
/* Also drops the aliases that point at it. */
int db_version_delete(struct db *db, const char *name, int64_t version, struct err *err);
int db_version_set_tag(struct db *db, const char *name, int64_t version, const char *key,
		       const char *value, struct err *err);
int db_version_delete_tag(struct db *db, const char *name, int64_t version, const char *key,
			  struct err *err);
/*
 * Moves a version to a stage (matched case-insensitively); with
 * archive_existing, other versions of the model in that stage go to Archived.
 */
int db_version_set_stage(struct db *db, const char *name, int64_t version, const char *stage,
			 int archive_existing, struct err *err);
/*
 * Versions ordered by name, then version descending; name and run_id filter
 * (exact match) when non-NULL. Default page size 1000.
 */
int db_version_search(struct db *db, const char *name, const char *run_id,
		      const struct db_page *page, struct db_version_list *out, struct err *err);
/* The newest version of each given stage (all stages when nstages is 0). */
int db_version_latest(struct db *db, const char *name, const char *const *stages, size_t nstages,
		      struct db_version_list *out, struct err *err);

/*
 * Points alias at version (creating or moving it). A move to another version
 * is recorded in the alias's history (model_alias_moves, kind "set"), which
 * db_alias_rollback pops.
 */
int db_alias_set(struct db *db, const char *name, const char *alias, int64_t version,
		 struct err *err);
/*
 * Moves alias back to where it pointed before its last move that is not
 * undone yet: the history is a stack of moves, a rollback pops one, so a
 * second rollback goes further back. Moves back to a version deleted since,
 * or to the version the alias is at now, are popped and skipped. Reaching
 * the move that created the alias (or an empty history) is ERR_INVALID
 * "alias ... has no earlier version to roll back to", and nothing changes.
 * The rollback itself is recorded (kind "rollback") but is never popped.
 * Works on an alias that was dropped (its version deleted): *from is 0.
 * Sets *from (the version before, 0: none) and *to (the version now).
 */
int db_alias_rollback(struct db *db, const char *name, const char *alias, int64_t *from,
		      int64_t *to, struct err *err);

/* One move of an alias (db_alias_history). */
struct db_alias_move {
	int64_t from_version; /* 0: the alias was created */
	int64_t to_version;
	int64_t time;  /* ms */
	char kind[16]; /* "set" or "rollback" */
	int undone;    /* a "set" popped by a rollback */
};
struct db_alias_move_list {
	struct db_alias_move *v;
	size_t n;
};
void db_alias_move_list_release(struct db_alias_move_list *l);
/*
 * The moves of alias, newest first (at most 1000). ERR_NOTFOUND for an
 * unknown model; an alias never set has an empty history.
 */
int db_alias_history(struct db *db, const char *name, const char *alias,
		     struct db_alias_move_list *out, struct err *err);
int db_alias_delete(struct db *db, const char *name, const char *alias, struct err *err);
/* The version an alias points at; ERR_NOTFOUND when the alias is unknown. */
int db_alias_resolve(struct db *db, const char *name, const char *alias, struct db_version *out,
		     struct err *err);

#endif

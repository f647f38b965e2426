/*
 * db_run.c - runs of the tracking store: create, read, update, log batches
 * of metrics/params/tags atomically, metric history, and search. SQL only;
 * the backend behind db->ops does the talking.
 */
#include "store/internal.h"

#include "base/buf.h"
#include "base/hash.h"
#include "base/mem.h"

#include <math.h>
#include <stdarg.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUN_COLS                                                                                   \
	"run_id, experiment_id, run_name, user_id, status, start_time, end_time, deleted,"         \
	" artifact_uri"

static const char *const status_names[] = {NULL,       "RUNNING", "SCHEDULED",
					   "FINISHED", "FAILED",  "KILLED"};

const char *db_run_status_name(int status)
{
	if (status < DB_RUN_RUNNING || status > DB_RUN_KILLED)
		return NULL;
	return status_names[status];
}

int db_run_status_parse(const char *name)
{
	int i;
	for (i = DB_RUN_RUNNING; name && i <= DB_RUN_KILLED; i++)
		if (strcmp(name, status_names[i]) == 0)
			return i;
	return 0;
}

void db_metric_list_release(struct db_metric_list *l)
{
	size_t i;
	if (!l)
		return;
	for (i = 0; !l->key && i < l->n; i++)
		mem_free(l->v[i].key);
	mem_free(l->key);
	mem_free(l->v);
	mem_free(l->next_token);
	memset(l, 0, sizeof(*l));
}

void db_run_release(struct db_run *r)
{
	size_t i;
	if (!r)
		return;
	mem_free(r->run_name);
	mem_free(r->user_id);
	mem_free(r->artifact_uri);
	for (i = 0; i < r->n_metrics; i++)
		mem_free(r->metrics[i].key);
	mem_free(r->metrics);
	db_kv_list_release(&r->params);
	db_kv_list_release(&r->tags);
	memset(r, 0, sizeof(*r));
}

void db_run_list_release(struct db_run_list *l)
{
	size_t i;
	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		db_run_release(&l->v[i]);
	mem_free(l->v);
	mem_free(l->next_token);
	memset(l, 0, sizeof(*l));
}

static int run_id_ok(const char *id)
{
	size_t i;
	if (!id)
		return 0;
	for (i = 0; i < DB_RUN_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return id[DB_RUN_ID_LEN] == '\0';
}

static int run_not_found(const char *id, struct err *err)
{
	return err_set(err, ERR_NOTFOUND, "Run with id=%.64s not found", id ? id : "");
}

static int run_from_row(struct db *db, struct db__stmt *st, void *item, struct err *err)
{
	struct db_run *r = item;
	const char *id = db->ops->col_text(st, 0);
	memset(r, 0, sizeof(*r));
	snprintf(r->run_id, sizeof(r->run_id), "%s", id ? id : "");
	r->experiment_id = db->ops->col_int(st, 1);
	r->status = db_run_status_parse(db->ops->col_text(st, 4));
	r->start_time = db->ops->col_int(st, 5);
	r->end_time = db->ops->col_is_null(st, 6) ? 0 : db->ops->col_int(st, 6);
	r->deleted = (int)db->ops->col_int(st, 7);
	if (db__col_dup(db, st, 2, &r->run_name, err) < 0 ||
	    db__col_dup(db, st, 3, &r->user_id, err) < 0 ||
	    db__col_dup(db, st, 8, &r->artifact_uri, err) < 0)
		return -1;
	return 0;
}

/* Appends the metric in columns c..c+4 (key, value, timestamp, step, is_nan). */
static int metric_push(struct db *db, struct db__stmt *st, int c, struct db_metric **v, size_t *n,
		       struct err *err)
{
	struct db_metric *m = db__grow(*v, *n, sizeof(**v));
	const char *key = db->ops->col_text(st, c);
	if (!m)
		return err_set(err, ERR_NOMEM, "out of memory");
	*v = m;
	m += *n;
	m->key = mem_strdup(key ? key : "");
	if (!m->key)
		return err_set(err, ERR_NOMEM, "out of memory");
	m->value = db->ops->col_int(st, c + 4) ? NAN : db->ops->col_double(st, c + 1);
	m->timestamp = db->ops->col_int(st, c + 2);
	m->step = db->ops->col_int(st, c + 3);
	(*n)++;
	return 0;
}

/* Params, tags and latest metrics of a run already read. */
static int run_children(struct db *db, struct db_run *r, struct err *err)
{
	struct db__stmt *st;
	int rc;
	if (db__load_kv(db, "SELECT key, value FROM params WHERE run_id = $1 ORDER BY key",
			DB__ARGS(DB__T(r->run_id)), &r->params, err) < 0 ||
	    db__load_kv(db, "SELECT key, value FROM run_tags WHERE run_id = $1 ORDER BY key",
			DB__ARGS(DB__T(r->run_id)), &r->tags, err) < 0)
		return -1;
	st = db__query(db,
		       "SELECT key, value, timestamp, step, is_nan FROM latest_metrics"
		       " WHERE run_id = $1 ORDER BY key",
		       DB__ARGS(DB__T(r->run_id)), err);
	if (!st)
		return -1;
	while ((rc = db->ops->step(st, err)) == DB__ROW)
		if (metric_push(db, st, 0, &r->metrics, &r->n_metrics, err) < 0) {
			rc = DB__FAIL;
			break;
		}
	db->ops->finish(st);
	return rc < 0 ? -1 : 0;
}

int db_run_get(struct db *db, const char *run_id, struct db_run *out, struct err *err)
{
	struct db__stmt *st;
	int rc, found = 0;
	memset(out, 0, sizeof(*out));
	if (!run_id_ok(run_id))
		return run_not_found(run_id, err);
	st = db__query(db, "SELECT " RUN_COLS " FROM runs WHERE run_id = $1",
		       DB__ARGS(DB__T(run_id)), err);
	if (!st)
		return -1;
	rc = db->ops->step(st, err);
	if (rc == DB__ROW) {
		found = 1;
		if (run_from_row(db, st, out, err) < 0)
			rc = DB__FAIL;
	}
	db->ops->finish(st);
	if (rc >= 0 && !found)
		return run_not_found(run_id, err);
	if (rc < 0 || run_children(db, out, err) < 0) {
		db_run_release(out);
		return -1;
	}
	return 0;
}

static const char *const adjectives[] = {"bright", "calm",  "eager", "gentle", "brave",
					 "clever", "quiet", "swift", "bold",   "amber",
					 "silver", "lucky", "merry", "noble",  "vivid"};
static const char *const nouns[] = {"fox",  "owl",   "kiln",  "river", "pine",
				    "hawk", "moth",  "otter", "stone", "cloud",
				    "wolf", "finch", "bear",  "lark",  "reed"};

static int random_bytes(unsigned char *p, size_t n, struct err *err)
{
	if (RAND_bytes(p, (int)n) != 1)
		return err_set(err, ERR_INTERNAL, "cannot get random bytes");
	return 0;
}

static int run_tag_upsert(struct db *db, const char *run_id, const char *key, const char *value,
			  struct err *err)
{
	return db__run(db,
		       "INSERT INTO run_tags (run_id, key, value) VALUES ($1, $2, $3)"
		       " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
		       DB__ARGS(DB__T(run_id), DB__T(key), DB__T(value ? value : "")), err) < 0
		       ? -1
		       : 0;
}

static int check_kvs(const char *what, const struct db_kv_ref *kv, size_t n, size_t max,
		     struct err *err)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (db__check_key(what, kv[i].key, err) < 0 ||
		    db__check_value(what, kv[i].value, max, err) < 0)
			return -1;
	return 0;
}

int db_run_create(struct db *db, const struct db_run_create *in, struct db_run *out,
		  struct err *err)
{
	struct db_experiment exp = {0};
	unsigned char rnd[DB_RUN_ID_LEN / 2 + 3];
	char id[DB_RUN_ID_LEN + 1], name[64];
	const char *run_name = in->run_name;
	struct buf uri = BUF_INIT;
	size_t i;
	int ok = 0, ret = -1;
	memset(out, 0, sizeof(*out));
	if (check_kvs("tag", in->tags, in->ntags, DB_MAX_TAG_VALUE, err) < 0 ||
	    db__check_value("run_name", run_name, DB_MAX_KEY, err) < 0)
		return -1;
	if (db_experiment_get(db, in->experiment_id, &exp, err) < 0)
		return -1;
	if (exp.deleted) {
		err_set(err, ERR_INVALID, "experiment %lld is deleted", (long long)exp.id);
		goto out;
	}
	if (random_bytes(rnd, sizeof(rnd), err) < 0)
		goto out;
	hash_hex(rnd, DB_RUN_ID_LEN / 2, id);
	if (!run_name || !*run_name) {
		snprintf(name, sizeof(name), "%s-%s-%u",
			 adjectives[rnd[16] % (sizeof(adjectives) / sizeof(adjectives[0]))],
			 nouns[rnd[17] % (sizeof(nouns) / sizeof(nouns[0]))], rnd[18] % 1000u);
		run_name = name;
	}
	if (buf_addf(&uri, "%s/%s/artifacts", exp.artifact_location, id) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (db__tx_begin(db, err) < 0)
		goto out;
	if (db__run(db,
		    "INSERT INTO runs (" RUN_COLS ") VALUES ($1, $2, $3, $4, 'RUNNING', $5, NULL,"
		    " 0, $6)",
		    DB__ARGS(DB__T(id), DB__I(exp.id), DB__T(run_name),
			     DB__T(in->user_id ? in->user_id : ""),
			     DB__I(in->start_time ? in->start_time : db_now_ms()), DB__T(uri.ptr)),
		    err) < 0)
		goto end;
	for (i = 0; i < in->ntags; i++)
		if (run_tag_upsert(db, id, in->tags[i].key, in->tags[i].value, err) < 0)
			goto end;
	if (run_tag_upsert(db, id, "mlflow.runName", run_name, err) < 0)
		goto end;
	ok = 1;
end:
	if (db__tx_end(db, ok, err) < 0)
		goto out;
	ret = db_run_get(db, id, out, err);
out:
	buf_release(&uri);
	db_experiment_release(&exp);
	return ret;
}

/* 1 active, 0 deleted; -1 unknown (err set). */
static int run_active(struct db *db, const char *run_id, struct err *err)
{
	int64_t deleted = 0;
	int rc;
	if (!run_id_ok(run_id))
		return run_not_found(run_id, err);
	rc = db__one_int(db, "SELECT deleted FROM runs WHERE run_id = $1", DB__ARGS(DB__T(run_id)),
			 &deleted, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return run_not_found(run_id, err);
	return deleted ? 0 : 1;
}

int db_run_update(struct db *db, const char *run_id, int status, int64_t end_time,
		  const char *run_name, struct err *err)
{
	int ok = 0;
	if (status && !db_run_status_name(status))
		return err_set(err, ERR_INVALID, "invalid run status %d", status);
	if (db__check_value("run_name", run_name, DB_MAX_KEY, err) < 0 ||
	    run_active(db, run_id, err) < 0 || db__tx_begin(db, err) < 0)
		return -1;
	if (status && db__run(db, "UPDATE runs SET status = $1 WHERE run_id = $2",
			      DB__ARGS(DB__T(db_run_status_name(status)), DB__T(run_id)), err) < 0)
		goto end;
	if (end_time && db__run(db, "UPDATE runs SET end_time = $1 WHERE run_id = $2",
				DB__ARGS(DB__I(end_time), DB__T(run_id)), err) < 0)
		goto end;
	if (run_name && *run_name &&
	    (db__run(db, "UPDATE runs SET run_name = $1 WHERE run_id = $2",
		     DB__ARGS(DB__T(run_name), DB__T(run_id)), err) < 0 ||
	     run_tag_upsert(db, run_id, "mlflow.runName", run_name, err) < 0))
		goto end;
	ok = 1;
end:
	return db__tx_end(db, ok, err);
}

int db_run_set_deleted(struct db *db, const char *run_id, int deleted, struct err *err)
{
	if (run_active(db, run_id, err) < 0)
		return -1;
	return db__run(db, "UPDATE runs SET deleted = $1 WHERE run_id = $2",
		       DB__ARGS(DB__I(deleted ? 1 : 0), DB__T(run_id)), err) < 0
		       ? -1
		       : 0;
}

/* Rows per multi-row INSERT: 6 values a row keeps a statement within 256 placeholders. */
#define METRIC_ROWS 40

/* The stored value: NaN is kept as 0 with is_nan set (SQLite has no NaN). */
static double stored_value(double v)
{
	return isnan(v) ? 0.0 : v;
}

/* Appends the metric points in multi-row INSERTs; identical points are kept once. */
static int insert_metric_rows(struct db *db, const char *run_id, const struct db_metric_ref *m,
			      size_t n, struct err *err)
{
	struct db__val *v = mem_calloc(METRIC_ROWS * 6, sizeof(*v));
	struct buf sql = BUF_INIT;
	size_t done = 0, built = 0;
	int ret = -1;
	if (!v)
		return err_set(err, ERR_NOMEM, "out of memory");
	while (done < n) {
		size_t k = n - done < METRIC_ROWS ? n - done : METRIC_ROWS, i;
		if (k != built) {
			buf_reset(&sql);
			if (buf_adds(&sql,
				     "INSERT INTO metrics (run_id, key, step, timestamp, value,"
				     " is_nan) VALUES ") < 0)
				goto oom;
			for (i = 0; i < k; i++)
				if (buf_addf(&sql, "%s($%zu, $%zu, $%zu, $%zu, $%zu, $%zu)",
					     i ? ", " : "", 6 * i + 1, 6 * i + 2, 6 * i + 3,
					     6 * i + 4, 6 * i + 5, 6 * i + 6) < 0)
					goto oom;
			if (buf_adds(&sql, " ON CONFLICT DO NOTHING") < 0)
				goto oom;
			built = k;
		}
		for (i = 0; i < k; i++) {
			const struct db_metric_ref *p = &m[done + i];
			v[6 * i] = DB__T(run_id);
			v[6 * i + 1] = DB__T(p->key);
			v[6 * i + 2] = DB__I(p->step);
			v[6 * i + 3] = DB__I(p->timestamp);
			v[6 * i + 4] = DB__D(stored_value(p->value));
			v[6 * i + 5] = DB__I(isnan(p->value) ? 1 : 0);
		}
		if (db__run(db, sql.ptr, v, 6 * k, err) < 0)
			goto out;
		done += k;
	}
	ret = 0;
	goto out;
oom:
	err_set(err, ERR_NOMEM, "out of memory");
out:
	buf_release(&sql);
	mem_free(v);
	return ret;
}

/* A point of a batch, for sorting without moving the caller's array. */
struct point_ref {
	const struct db_metric_ref *p;
};

/* Orders points by key, then by MLflow's "latest" rule: (step, timestamp, value). */
static int cmp_point(const void *a, const void *b)
{
	const struct db_metric_ref *x = ((const struct point_ref *)a)->p;
	const struct db_metric_ref *y = ((const struct point_ref *)b)->p;
	double vx = stored_value(x->value), vy = stored_value(y->value);
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	if (x->step != y->step)
		return x->step < y->step ? -1 : 1;
	if (x->timestamp != y->timestamp)
		return x->timestamp < y->timestamp ? -1 : 1;
	return vx < vy ? -1 : vx > vy;
}

/* One upsert per distinct key of the batch, with the batch's latest point for it. */
static int upsert_latest(struct db *db, const char *run_id, const struct db_metric_ref *m, size_t n,
			 struct err *err)
{
	struct point_ref *idx = mem_calloc(n ? n : 1, sizeof(*idx));
	size_t i;
	int ret = -1;
	if (!idx)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++)
		idx[i].p = &m[i];
	qsort(idx, n, sizeof(*idx), cmp_point);
	for (i = 0; i < n; i++) {
		const struct db_metric_ref *p = idx[i].p;
		if (i + 1 < n && strcmp(idx[i + 1].p->key, p->key) == 0)
			continue; /* not the last, so not the max, of its key */
		if (db__run(db,
			    "INSERT INTO latest_metrics (run_id, key, step, timestamp, value, "
			    "is_nan)"
			    " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id, key) DO UPDATE "
			    "SET"
			    " step = excluded.step, timestamp = excluded.timestamp,"
			    " value = excluded.value, is_nan = excluded.is_nan"
			    " WHERE excluded.step > latest_metrics.step OR (excluded.step ="
			    " latest_metrics.step AND (excluded.timestamp > "
			    "latest_metrics.timestamp"
			    " OR (excluded.timestamp = latest_metrics.timestamp AND excluded.value "
			    ">"
			    " latest_metrics.value)))",
			    DB__ARGS(DB__T(run_id), DB__T(p->key), DB__I(p->step),
				     DB__I(p->timestamp), DB__D(stored_value(p->value)),
				     DB__I(isnan(p->value) ? 1 : 0)),
			    err) < 0)
			goto out;
	}
	ret = 0;
out:
	mem_free(idx);
	return ret;
}

static int log_param_row(struct db *db, const char *run_id, const struct db_kv_ref *p,
			 struct err *err)
{
	struct db__stmt *st;
	const char *value = p->value ? p->value : "";
	int rc, same = 1;
	st = db__query(db, "SELECT value FROM params WHERE run_id = $1 AND key = $2",
		       DB__ARGS(DB__T(run_id), DB__T(p->key)), err);
	if (!st)
		return -1;
	rc = db->ops->step(st, err);
	if (rc == DB__ROW) {
		const char *old = db->ops->col_text(st, 0);
		same = strcmp(old ? old : "", value) == 0;
	}
	db->ops->finish(st);
	if (rc < 0)
		return -1;
	if (!same) {
		db->tx_failed = 1;
		return err_set(err, ERR_INVALID,
			       "Changing param values is not allowed. Param with key='%s' was "
			       "already logged with another value for run ID='%s'",
			       p->key, run_id);
	}
	if (rc == DB__ROW)
		return 0;
	return db__run(db, "INSERT INTO params (run_id, key, value) VALUES ($1, $2, $3)",
		       DB__ARGS(DB__T(run_id), DB__T(p->key), DB__T(value)), err) < 0
		       ? -1
		       : 0;
}

int db_run_log_batch(struct db *db, const char *run_id, const struct db_metric_ref *metrics,
		     size_t nmetrics, const struct db_kv_ref *params, size_t nparams,
		     const struct db_kv_ref *tags, size_t ntags, struct err *err)
{
	size_t i;
	int ok = 0, active;
	if (nmetrics > DB_MAX_BATCH_METRICS || nparams > DB_MAX_BATCH_PARAMS ||
	    ntags > DB_MAX_BATCH_TAGS)
		return err_set(err, ERR_INVALID,
			       "batch too large: %zu metrics, %zu params, %zu tags (at most %d, %d,"
			       " %d)",
			       nmetrics, nparams, ntags, DB_MAX_BATCH_METRICS, DB_MAX_BATCH_PARAMS,
			       DB_MAX_BATCH_TAGS);
	for (i = 0; i < nmetrics; i++)
		if (db__check_key("metric key", metrics[i].key, err) < 0)
			return -1;
	if (check_kvs("param", params, nparams, DB_MAX_PARAM_VALUE, err) < 0 ||
	    check_kvs("tag", tags, ntags, DB_MAX_TAG_VALUE, err) < 0)
		return -1;
	if (db__tx_begin(db, err) < 0)
		return -1;
	active = run_active(db, run_id, err);
	if (active < 0)
		goto end;
	if (!active) {
		err_set(err, ERR_INVALID, "The run %s must be in the 'active' state", run_id);
		goto end;
	}
	for (i = 0; i < nparams; i++)
		if (log_param_row(db, run_id, &params[i], err) < 0)
			goto end;
	if (nmetrics && (insert_metric_rows(db, run_id, metrics, nmetrics, err) < 0 ||
			 upsert_latest(db, run_id, metrics, nmetrics, err) < 0))
		goto end;
	for (i = 0; i < ntags; i++) {
		if (run_tag_upsert(db, run_id, tags[i].key, tags[i].value, err) < 0)
			goto end;
		if (strcmp(tags[i].key, "mlflow.runName") == 0 &&
		    db__run(db, "UPDATE runs SET run_name = $1 WHERE run_id = $2",
			    DB__ARGS(DB__T(tags[i].value ? tags[i].value : ""), DB__T(run_id)),
			    err) < 0)
			goto end;
	}
	ok = 1;
end:
	return db__tx_end(db, ok, err);
}

int db_run_log_metric(struct db *db, const char *run_id, const char *key, double value,
		      int64_t timestamp, int64_t step, struct err *err)
{
	struct db_metric_ref m = {key, value, timestamp, step};
	return db_run_log_batch(db, run_id, &m, 1, NULL, 0, NULL, 0, err);
}

int db_run_log_param(struct db *db, const char *run_id, const char *key, const char *value,
		     struct err *err)
{
	struct db_kv_ref p = {key, value};
	return db_run_log_batch(db, run_id, NULL, 0, &p, 1, NULL, 0, err);
}

int db_run_set_tag(struct db *db, const char *run_id, const char *key, const char *value,
		   struct err *err)
{
	struct db_kv_ref t = {key, value};
	return db_run_log_batch(db, run_id, NULL, 0, NULL, 0, &t, 1, err);
}

int db_run_delete_tag(struct db *db, const char *run_id, const char *key, struct err *err)
{
	int64_t n;
	int active = run_active(db, run_id, err);
	if (active < 0)
		return -1;
	if (!active)
		return err_set(err, ERR_INVALID, "The run %s must be in the 'active' state",
			       run_id);
	n = db__run(db, "DELETE FROM run_tags WHERE run_id = $1 AND key = $2",
		    DB__ARGS(DB__T(run_id), DB__T(key ? key : "")), err);
	if (n < 0)
		return -1;
	if (n == 0)
		return err_set(err, ERR_NOTFOUND, "No tag with name: %s in run with id %s",
			       key ? key : "", run_id);
	return 0;
}

/* Appends a history point; all points share out->key (one allocation, not one per point). */
static int history_push(struct db *db, struct db__stmt *st, struct db_metric_list *out,
			struct err *err)
{
	struct db_metric *m = db__grow(out->v, out->n, sizeof(*out->v));
	if (!m)
		return err_set(err, ERR_NOMEM, "out of memory");
	out->v = m;
	m += out->n;
	m->key = out->key;
	m->value = db->ops->col_int(st, 4) ? NAN : db->ops->col_double(st, 1);
	m->timestamp = db->ops->col_int(st, 2);
	m->step = db->ops->col_int(st, 3);
	out->n++;
	return 0;
}

int db_metric_history(struct db *db, const char *run_id, const char *key,
		      const struct db_page *page, struct db_metric_list *out, struct err *err)
{
	struct db__stmt *st;
	size_t offset, limit;
	int rc;
	memset(out, 0, sizeof(*out));
	if (db__page_offset(page, DB_MAX_RESULTS, &offset, &limit, err) < 0)
		return -1;
	if (!page || !page->max_results)
		limit = (size_t)1 << 40; /* the whole series */
	if (run_active(db, run_id, err) < 0)
		return -1;
	out->key = mem_strdup(key ? key : "");
	if (!out->key)
		return err_set(err, ERR_NOMEM, "out of memory");
	/* The key column is not read: every point has out->key. */
	st = db__query(db,
		       "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_id = $1"
		       " AND key = $2 ORDER BY step, timestamp, value LIMIT $3 OFFSET $4",
		       DB__ARGS(DB__T(run_id), DB__T(out->key), DB__I(limit + 1), DB__I(offset)),
		       err);
	if (!st) {
		db_metric_list_release(out);
		return -1;
	}
	while ((rc = db->ops->step(st, err)) == DB__ROW) {
		if (out->n == limit) {
			if (db__page_next(offset, limit, &out->next_token, err) < 0)
				rc = DB__FAIL;
			break;
		}
		if (history_push(db, st, out, err) < 0) {
			rc = DB__FAIL;
			break;
		}
	}
	db->ops->finish(st);
	if (rc < 0) {
		db_metric_list_release(out);
		return -1;
	}
	return 0;
}

/* ---- search ---- */

static const char *const str_attrs[] = {"run_id", "run_name", "status", "user_id", "artifact_uri"};

static int is_str_attr(const char *key)
{
	size_t i;
	for (i = 0; key && i < sizeof(str_attrs) / sizeof(str_attrs[0]); i++)
		if (strcmp(key, str_attrs[i]) == 0)
			return 1;
	return 0;
}

static int is_num_attr(const char *key)
{
	return key && (strcmp(key, "start_time") == 0 || strcmp(key, "end_time") == 0);
}

static int qb_cond(struct db__qb *q, const struct db_cond *c, struct err *err)
{
	static const char *const tables[] = {NULL, "latest_metrics", "params", "run_tags"};
	int nk;
	if (!db__op_sql(c->op))
		return err_set(err, ERR_INVALID, "invalid comparison operator");
	if (!c->key || !*c->key)
		return err_set(err, ERR_INVALID, "filter condition without a key");
	db__qb_addf(q, " AND ");
	switch (c->field) {
	case DB_FIELD_ATTR:
		if (is_num_attr(c->key)) {
			if (c->op >= DB_OP_LIKE)
				return err_set(err, ERR_INVALID,
					       "attribute '%s' is a number: LIKE does not apply",
					       c->key);
			db__qb_addf(q, "%s %s $%d", c->key, db__op_sql(c->op),
				    db__qb_val(q, DB__I((int64_t)c->num)));
		} else if (is_str_attr(c->key)) {
			db__qb_str_cmp(q, c->key, c->op, c->str);
		} else {
			return err_set(err, ERR_INVALID, "invalid attribute key '%s'", c->key);
		}
		return 0;
	case DB_FIELD_METRIC:
		if (c->op >= DB_OP_LIKE)
			return err_set(err, ERR_INVALID,
				       "metric '%s' is a number: LIKE does not apply", c->key);
		nk = db__qb_val(q, DB__T(c->key));
		db__qb_addf(
			q,
			"EXISTS (SELECT 1 FROM latest_metrics x WHERE x.run_id = runs.run_id AND"
			" x.key = $%d AND x.is_nan = 0 AND x.value %s $%d)",
			nk, db__op_sql(c->op), db__qb_val(q, DB__D(c->num)));
		return 0;
	case DB_FIELD_PARAM:
	case DB_FIELD_TAG:
		nk = db__qb_val(q, DB__T(c->key));
		db__qb_addf(
			q,
			"EXISTS (SELECT 1 FROM %s x WHERE x.run_id = runs.run_id AND x.key = $%d "
			"AND ",
			tables[c->field], nk);
		db__qb_str_cmp(q, "x.value", c->op, c->str);
		db__qb_addf(q, ")");
		return 0;
	}
	return err_set(err, ERR_INVALID, "invalid filter field");
}

static int qb_order(struct db__qb *q, const struct db_order *o, struct err *err)
{
	const char *dir = o->desc ? "DESC" : "ASC";
	if (o->field == DB_FIELD_METRIC && o->key && *o->key) {
		int nk = db__qb_val(q, DB__T(o->key));
		/* Runs without the metric sort last either way. */
		db__qb_addf(q,
			    "(SELECT x.value FROM latest_metrics x WHERE x.run_id = runs.run_id AND"
			    " x.key = $%d) IS NULL, (SELECT x.value FROM latest_metrics x WHERE"
			    " x.run_id = runs.run_id AND x.key = $%d) %s, ",
			    nk, nk, dir);
		return 0;
	}
	if (o->field == DB_FIELD_ATTR && (is_num_attr(o->key) || is_str_attr(o->key))) {
		db__qb_addf(q, "%s IS NULL, %s %s, ", o->key, o->key, dir);
		return 0;
	}
	return err_set(err, ERR_INVALID, "invalid order_by key '%s'", o->key ? o->key : "");
}

/* The search as SQL selecting cols, with its values to bind in q. */
static int search_sql(struct db__qb *q, const struct db_run_query *in, size_t limit, size_t offset,
		      const char *cols, struct err *err)
{
	static const char *const views[] = {"deleted = 0", "deleted = 1", "1 = 1"};
	size_t i;
	if (in->n_experiment_ids == 0)
		return err_set(err, ERR_INVALID,
			       "experiment_ids must name at least one experiment");
	if ((int)in->view < 0 || in->view > DB_VIEW_ALL)
		return err_set(err, ERR_INVALID, "invalid view type");
	db__qb_addf(q, "SELECT %s FROM runs WHERE experiment_id IN (", cols);
	for (i = 0; i < in->n_experiment_ids; i++)
		db__qb_addf(q, "%s$%d", i ? ", " : "", db__qb_val(q, DB__I(in->experiment_ids[i])));
	db__qb_addf(q, ") AND %s", views[in->view]);
	for (i = 0; i < in->n_conds; i++)
		if (qb_cond(q, &in->conds[i], err) < 0)
			return -1;
	db__qb_addf(q, " ORDER BY ");
	for (i = 0; i < in->n_order; i++)
		if (qb_order(q, &in->order[i], err) < 0)
			return -1;
	db__qb_addf(q, "start_time DESC, run_id LIMIT $%d", db__qb_val(q, DB__I(limit + 1)));
	db__qb_addf(q, " OFFSET $%d", db__qb_val(q, DB__I(offset)));
	if (q->oom)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

/* A run of a page, for an index sorted by run id. */
struct run_ref {
	struct db_run *r;
};

static int cmp_run_id(const void *a, const void *b)
{
	return strcmp(((const struct run_ref *)a)->r->run_id,
		      ((const struct run_ref *)b)->r->run_id);
}

/* The run of a page with this id, through the sorted index; NULL if not in the page. */
static struct db_run *page_find(struct run_ref *index, size_t n, const char *id)
{
	struct db_run key;
	struct run_ref k = {&key}, *hit;
	if (!id || strlen(id) != DB_RUN_ID_LEN)
		return NULL;
	memcpy(key.run_id, id, DB_RUN_ID_LEN + 1);
	hit = bsearch(&k, index, n, sizeof(*index), cmp_run_id);
	return hit ? hit->r : NULL;
}

/*
 * Params, tags and latest metrics of every run of a page: three queries
 * whose run_id IN (...) is the page's own search, instead of three per run.
 */
static int page_children(struct db *db, const struct db_run_query *in, size_t limit, size_t offset,
			 struct db_run_list *out, struct err *err)
{
	static const char *const heads[] = {
		"SELECT run_id, key, value FROM params WHERE run_id IN (",
		"SELECT run_id, key, value FROM run_tags WHERE run_id IN (",
		"SELECT run_id, key, value, timestamp, step, is_nan FROM latest_metrics"
		" WHERE run_id IN ("};
	struct run_ref *index = NULL;
	size_t i, t;
	int ret = -1;
	if (out->n == 0)
		return 0;
	index = mem_calloc(out->n, sizeof(*index));
	if (!index)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (i = 0; i < out->n; i++)
		index[i].r = &out->v[i];
	qsort(index, out->n, sizeof(*index), cmp_run_id);
	for (t = 0; t < 3; t++) {
		struct db__qb q = {BUF_INIT, NULL, 0, 0};
		struct db__stmt *st = NULL;
		int rc = DB__FAIL;
		db__qb_addf(&q, "%s", heads[t]);
		if (search_sql(&q, in, limit, offset, "run_id", err) < 0)
			goto next;
		db__qb_addf(&q, ") ORDER BY run_id, key");
		if (q.oom) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto next;
		}
		st = db__query(db, q.sql.ptr, q.v, q.n, err);
		if (!st)
			goto next;
		while ((rc = db->ops->step(st, err)) == DB__ROW) {
			struct db_run *r = page_find(index, out->n, db->ops->col_text(st, 0));
			if (!r)
				continue; /* the extra row that only told whether a next page exists
					   */
			if (t == 2)
				rc = metric_push(db, st, 1, &r->metrics, &r->n_metrics, err);
			else
				rc = db__kv_push(t ? &r->tags : &r->params,
						 db->ops->col_text(st, 1), db->ops->col_text(st, 2),
						 err);
			if (rc < 0) {
				rc = DB__FAIL;
				break;
			}
		}
		db->ops->finish(st);
	next:
		buf_release(&q.sql);
		mem_free(q.v);
		if (rc < 0)
			goto out;
	}
	ret = 0;
out:
	mem_free(index);
	return ret;
}

int db_run_search(struct db *db, const struct db_run_query *in, struct db_run_list *out,
		  struct err *err)
{
	struct db__qb q = {BUF_INIT, NULL, 0, 0};
	struct db__stmt *st = NULL;
	size_t offset, limit;
	int rc = DB__FAIL, ret = -1;
	memset(out, 0, sizeof(*out));
	if (db__page_offset(&in->page, 1000, &offset, &limit, err) < 0 ||
	    search_sql(&q, in, limit, offset, RUN_COLS, err) < 0)
		goto out;
	st = db__query(db, q.sql.ptr, q.v, q.n, err);
	if (!st)
		goto out;
	{
		void *items = out->v;
		rc = db__collect(db, st, limit, offset, &items, &out->n, sizeof(*out->v),
				 run_from_row, &out->next_token, err);
		out->v = items;
	}
	if (rc < 0 || page_children(db, in, limit, offset, out, err) < 0)
		goto out;
	ret = 0;
out:
	buf_release(&q.sql);
	mem_free(q.v);
	if (ret < 0)
		db_run_list_release(out);
	return ret;
}

/*
 * track.c - the tracking endpoints of the MLflow REST subset: experiments,
 * runs, log-metric / log-parameter / set-tag / log-batch, metric history,
 * search with pagination, artifacts/list. Decoding and JSON shapes only;
 * the store does the work and the checks (store/db.h).
 */
#include "ctl/internal.h"

#include "base/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON shapes ---- */

/* A metric value: protobuf JSON writes non-finite doubles as strings. */
static json_t *num_json(double v)
{
	if (isnan(v))
		return json_string("NaN");
	if (isinf(v))
		return json_string(v > 0 ? "Infinity" : "-Infinity");
	return json_real(v);
}

static json_t *id_json(int64_t id)
{
	char s[32];
	snprintf(s, sizeof(s), "%" PRId64, id);
	return json_string(s);
}

static json_t *experiment_json(const struct db_experiment *e)
{
	return json_pack("{s:o,s:o,s:o,s:s,s:I,s:I,s:o}", "experiment_id", id_json(e->id), "name",
			 ctl__str(e->name), "artifact_location", ctl__str(e->artifact_location),
			 "lifecycle_stage", e->deleted ? "deleted" : "active", "last_update_time",
			 (json_int_t)e->last_update_time, "creation_time",
			 (json_int_t)e->creation_time, "tags", ctl__kv_json(&e->tags));
}

static json_t *metric_json(const struct db_metric *m)
{
	return json_pack("{s:o,s:o,s:I,s:I}", "key", ctl__str(m->key), "value", num_json(m->value),
			 "timestamp", (json_int_t)m->timestamp, "step", (json_int_t)m->step);
}

static json_t *run_info_json(const struct db_run *r)
{
	const char *status = db_run_status_name(r->status);
	json_t *o = json_pack(
		"{s:s,s:s,s:o,s:o,s:o,s:s,s:I,s:o,s:s}", "run_id", r->run_id, "run_uuid", r->run_id,
		"run_name", ctl__str(r->run_name), "experiment_id", id_json(r->experiment_id),
		"user_id", ctl__str(r->user_id), "status", status ? status : "RUNNING",
		"start_time", (json_int_t)r->start_time, "artifact_uri", ctl__str(r->artifact_uri),
		"lifecycle_stage", r->deleted ? "deleted" : "active");
	if (o && r->end_time &&
	    json_object_set_new(o, "end_time", json_integer((json_int_t)r->end_time)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *run_json(const struct db_run *r)
{
	json_t *metrics = json_array();
	for (size_t i = 0; metrics && i < r->n_metrics; i++)
		if (json_array_append_new(metrics, metric_json(&r->metrics[i])) < 0) {
			json_decref(metrics);
			metrics = NULL;
		}
	return json_pack("{s:o,s:{s:o,s:o,s:o},s:{}}", "info", run_info_json(r), "data", "metrics",
			 metrics, "params", ctl__kv_json(&r->params), "tags",
			 ctl__kv_json(&r->tags), "inputs");
}

/* Appends item to out[key] (an array made on first use); steals item. */
static int push(json_t *out, const char *key, json_t *item, struct err *err)
{
	json_t *a = json_object_get(out, key);
	if (!item)
		return err_set(err, ERR_NOMEM, "out of memory");
	if (!a) {
		a = json_array();
		if (!a || json_object_set_new(out, key, a) < 0) {
			json_decref(item);
			return err_set(err, ERR_NOMEM, "out of memory");
		}
	}
	if (json_array_append_new(a, item) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

static int set_token(json_t *out, const char *token, struct err *err)
{
	return token ? ctl__set(out, "next_page_token", json_string(token), err) : 0;
}

static int view_arg(struct ctl__call *call, const char *name, enum db_view *out, struct err *err)
{
	const char *s = ctl__arg(call, name);
	if (!s || !*s || strcmp(s, "ACTIVE_ONLY") == 0 || strcmp(s, "1") == 0)
		*out = DB_VIEW_ACTIVE;
	else if (strcmp(s, "DELETED_ONLY") == 0 || strcmp(s, "2") == 0)
		*out = DB_VIEW_DELETED;
	else if (strcmp(s, "ALL") == 0 || strcmp(s, "3") == 0)
		*out = DB_VIEW_ALL;
	else
		return err_set(err, ERR_INVALID, "Invalid value '%.64s' for parameter '%s'", s,
			       name);
	return 0;
}

/* A double argument: a JSON number or a numeric string ("NaN" and "Infinity" too). */
static int double_arg(struct ctl__call *call, const char *name, double *out, struct err *err)
{
	const char *s;
	char *end;
	if (ctl__need(call, name, &s, err) < 0)
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	if (*end || end == s)
		return err_set(err, ERR_INVALID, "Invalid value '%.64s' for parameter '%s'", s,
			       name);
	return 0;
}

/* ---- experiments ---- */

static int exp_create(struct ctl__call *call, struct err *err)
{
	const char *name;
	struct db_kv_ref tags[DB_MAX_BATCH_TAGS];
	size_t ntags;
	int64_t id;
	if (ctl__need(call, "name", &name, err) < 0 ||
	    ctl__kv(call, "tags", tags, DB_MAX_BATCH_TAGS, &ntags, err) < 0 ||
	    db_experiment_create(call->c->db, name, ctl__arg(call, "artifact_location"), tags,
				 ntags, &id, err) < 0)
		return -1;
	return ctl__set(call->out, "experiment_id", id_json(id), err);
}

static int exp_reply(struct ctl__call *call, struct db_experiment *e, int rc, struct err *err)
{
	if (rc == 0)
		rc = ctl__set(call->out, "experiment", experiment_json(e), err);
	db_experiment_release(e);
	return rc;
}

static int exp_get(struct ctl__call *call, struct err *err)
{
	struct db_experiment e = {0};
	int64_t id;
	if (ctl__id(call, "experiment_id", &id, err) < 0)
		return -1;
	return exp_reply(call, &e, db_experiment_get(call->c->db, id, &e, err), err);
}

static int exp_get_by_name(struct ctl__call *call, struct err *err)
{
	struct db_experiment e = {0};
	const char *name;
	if (ctl__need(call, "experiment_name", &name, err) < 0)
		return -1;
	return exp_reply(call, &e, db_experiment_get_by_name(call->c->db, name, &e, err), err);
}

static int exp_search(struct ctl__call *call, struct err *err)
{
	struct db_experiment_query q = {0};
	struct db_experiment_list l = {0};
	struct ctl__filter f = {0};
	int rc = -1;

	if (view_arg(call, "view_type", &q.view, err) < 0 ||
	    ctl__page(call, DB_MAX_RESULTS, &q.page, err) < 0 ||
	    ctl__search_parse(call, &f, err) < 0)
		goto out;
	q.conds = f.cond;
	q.n_conds = f.n;
	q.order = f.order;
	q.n_order = f.n_order;
	if (db_experiment_search(call->c->db, &q, &l, err) < 0)
		goto out;
	if (ctl__set(call->out, "experiments", json_array(), err) < 0)
		goto out;
	for (size_t i = 0; i < l.n; i++)
		if (push(call->out, "experiments", experiment_json(&l.v[i]), err) < 0)
			goto out;
	rc = set_token(call->out, l.next_token, err);
out:
	db_experiment_list_release(&l);
	ctl__filter_release(&f);
	return rc;
}

static int exp_update(struct ctl__call *call, struct err *err)
{
	const char *name;
	int64_t id;
	if (ctl__id(call, "experiment_id", &id, err) < 0 ||
	    ctl__need(call, "new_name", &name, err) < 0)
		return -1;
	return db_experiment_rename(call->c->db, id, name, err);
}

static int exp_set_deleted(struct ctl__call *call, int deleted, struct err *err)
{
	int64_t id;
	if (ctl__id(call, "experiment_id", &id, err) < 0)
		return -1;
	if (deleted && id == 0)
		return err_set(err, ERR_INVALID, "Cannot delete the default experiment '0'");
	return db_experiment_set_deleted(call->c->db, id, deleted, err);
}

static int exp_delete(struct ctl__call *call, struct err *err)
{
	return exp_set_deleted(call, 1, err);
}

static int exp_restore(struct ctl__call *call, struct err *err)
{
	return exp_set_deleted(call, 0, err);
}

static int exp_set_tag(struct ctl__call *call, struct err *err)
{
	const char *key;
	int64_t id;
	if (ctl__id(call, "experiment_id", &id, err) < 0 || ctl__need(call, "key", &key, err) < 0)
		return -1;
	return db_experiment_set_tag(call->c->db, id, key, ctl__arg(call, "value"), err);
}

/* ---- runs ---- */

static int run_create(struct ctl__call *call, struct err *err)
{
	struct db_kv_ref tags[DB_MAX_BATCH_TAGS];
	struct db_run_create in = {0};
	struct db_run r = {0};
	size_t ntags, keep = 0;
	int rc = -1;

	if (ctl__int(call, "experiment_id", 0, &in.experiment_id, err) < 0 ||
	    ctl__int(call, "start_time", 0, &in.start_time, err) < 0 ||
	    ctl__kv(call, "tags", tags, DB_MAX_BATCH_TAGS, &ntags, err) < 0)
		return -1;
	in.run_name = ctl__arg(call, "run_name");
	in.user_id = ctl__arg(call, "user_id");
	/* The name may come as tag mlflow.runName; both must agree (MLflow). */
	for (size_t i = 0; i < ntags; i++) {
		if (strcmp(tags[i].key, "mlflow.runName") != 0) {
			tags[keep++] = tags[i];
			continue;
		}
		if (in.run_name && *in.run_name &&
		    strcmp(in.run_name, tags[i].value ? tags[i].value : "") != 0)
			return err_set(err, ERR_INVALID,
				       "Both 'run_name' argument and 'mlflow.runName' tag are "
				       "specified, but with different values");
		in.run_name = tags[i].value;
	}
	if (in.run_name && !*in.run_name)
		in.run_name = NULL;
	in.tags = tags;
	in.ntags = keep;
	if (db_run_create(call->c->db, &in, &r, err) == 0)
		rc = ctl__set(call->out, "run", run_json(&r), err);
	db_run_release(&r);
	return rc;
}

static int run_get(struct ctl__call *call, struct err *err)
{
	struct db_run r = {0};
	const char *id;
	int rc = -1;
	if (ctl__run_id(call, &id, err) < 0)
		return -1;
	if (db_run_get(call->c->db, id, &r, err) == 0)
		rc = ctl__set(call->out, "run", run_json(&r), err);
	db_run_release(&r);
	return rc;
}

static int run_update(struct ctl__call *call, struct err *err)
{
	struct db_run r = {0};
	const char *id, *status_s;
	int64_t end_time;
	int status = 0, rc = -1;

	if (ctl__run_id(call, &id, err) < 0 || ctl__int(call, "end_time", 0, &end_time, err) < 0)
		return -1;
	status_s = ctl__arg(call, "status");
	if (status_s && *status_s) {
		int64_t n;
		status = db_run_status_parse(status_s);
		if (!status && sscanf(status_s, "%" SCNd64, &n) == 1 && n >= DB_RUN_RUNNING &&
		    n <= DB_RUN_KILLED)
			status = (int)n;
		if (!status)
			return err_set(err, ERR_INVALID,
				       "Invalid value '%.64s' for parameter 'status'", status_s);
	}
	if (db_run_update(call->c->db, id, status, end_time, ctl__arg(call, "run_name"), err) ==
		    0 &&
	    db_run_get(call->c->db, id, &r, err) == 0)
		rc = ctl__set(call->out, "run_info", run_info_json(&r), err);
	db_run_release(&r);
	return rc;
}

static int run_set_deleted(struct ctl__call *call, int deleted, struct err *err)
{
	const char *id;
	if (ctl__run_id(call, &id, err) < 0)
		return -1;
	return db_run_set_deleted(call->c->db, id, deleted, err);
}

static int run_delete(struct ctl__call *call, struct err *err)
{
	return run_set_deleted(call, 1, err);
}

static int run_restore(struct ctl__call *call, struct err *err)
{
	return run_set_deleted(call, 0, err);
}

static int run_log_metric(struct ctl__call *call, struct err *err)
{
	const char *id, *key, *ts;
	double value;
	int64_t timestamp, step;
	if (ctl__run_id(call, &id, err) < 0 || ctl__need(call, "key", &key, err) < 0 ||
	    double_arg(call, "value", &value, err) < 0 ||
	    ctl__need(call, "timestamp", &ts, err) < 0 ||
	    ctl__int(call, "timestamp", 0, &timestamp, err) < 0 ||
	    ctl__int(call, "step", 0, &step, err) < 0)
		return -1;
	return db_run_log_metric(call->c->db, id, key, value, timestamp, step, err);
}

static int run_log_param(struct ctl__call *call, struct err *err)
{
	const char *id, *key;
	if (ctl__run_id(call, &id, err) < 0 || ctl__need(call, "key", &key, err) < 0)
		return -1;
	return db_run_log_param(call->c->db, id, key, ctl__arg(call, "value"), err);
}

static int run_set_tag(struct ctl__call *call, struct err *err)
{
	const char *id, *key;
	if (ctl__run_id(call, &id, err) < 0 || ctl__need(call, "key", &key, err) < 0)
		return -1;
	return db_run_set_tag(call->c->db, id, key, ctl__arg(call, "value"), err);
}

static int run_delete_tag(struct ctl__call *call, struct err *err)
{
	const char *id, *key;
	if (ctl__run_id(call, &id, err) < 0 || ctl__need(call, "key", &key, err) < 0)
		return -1;
	return db_run_delete_tag(call->c->db, id, key, err);
}

/* The metrics of a log-batch body; refs borrow from the body. */
static int batch_metrics(json_t *a, struct db_metric_ref *out, size_t *n, struct err *err)
{
	*n = 0;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return err_set(err, ERR_INVALID,
			       "Invalid value for parameter 'metrics': not a list");
	if (json_array_size(a) > DB_MAX_BATCH_METRICS)
		return err_set(err, ERR_INVALID,
			       "A batch logging request can contain at most %d metrics. Got %zu",
			       DB_MAX_BATCH_METRICS, json_array_size(a));
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *m = json_array_get(a, i), *k = json_object_get(m, "key"),
		       *v = json_object_get(m, "value"), *t = json_object_get(m, "timestamp"),
		       *s = json_object_get(m, "step");
		const char *vs;
		if (!json_is_string(k) || !*json_string_value(k))
			return err_set(err, ERR_INVALID,
				       "Missing value for required parameter 'metrics[%zu].key'",
				       i);
		if (json_is_number(v)) {
			out[i].value = json_number_value(v);
		} else if (json_is_string(v)) {
			char *end;
			vs = json_string_value(v);
			out[i].value = strtod(vs, &end);
			if (end == vs || *end)
				return err_set(err, ERR_INVALID,
					       "Invalid value for parameter 'metrics[%zu].value'",
					       i);
		} else {
			return err_set(err, ERR_INVALID,
				       "Missing value for required parameter 'metrics[%zu].value'",
				       i);
		}
		if (!json_is_integer(t))
			return err_set(
				err, ERR_INVALID,
				"Missing value for required parameter 'metrics[%zu].timestamp'", i);
		if (s && !json_is_null(s) && !json_is_integer(s))
			return err_set(err, ERR_INVALID,
				       "Invalid value for parameter 'metrics[%zu].step'", i);
		out[i].key = json_string_value(k);
		out[i].timestamp = json_integer_value(t);
		out[i].step = json_is_integer(s) ? json_integer_value(s) : 0;
		(*n)++;
	}
	return 0;
}

static int run_log_batch(struct ctl__call *call, struct err *err)
{
	struct db_metric_ref *metrics = NULL;
	struct db_kv_ref params[DB_MAX_BATCH_PARAMS], tags[DB_MAX_BATCH_TAGS];
	size_t nm = 0, np = 0, nt = 0;
	const char *id;
	int rc = -1;

	metrics = mem_calloc(DB_MAX_BATCH_METRICS, sizeof(*metrics));
	if (!metrics)
		return err_set(err, ERR_NOMEM, "out of memory");
	if (ctl__run_id(call, &id, err) < 0 ||
	    batch_metrics(json_object_get(call->in, "metrics"), metrics, &nm, err) < 0 ||
	    ctl__kv(call, "params", params, DB_MAX_BATCH_PARAMS, &np, err) < 0 ||
	    ctl__kv(call, "tags", tags, DB_MAX_BATCH_TAGS, &nt, err) < 0)
		goto out;
	if (nm + np + nt > DB_MAX_BATCH_METRICS) {
		err_set(err, ERR_INVALID,
			"A batch logging request can contain at most %d items. Got %zu",
			DB_MAX_BATCH_METRICS, nm + np + nt);
		goto out;
	}
	rc = db_run_log_batch(call->c->db, id, metrics, nm, params, np, tags, nt, err);
out:
	mem_free(metrics);
	return rc;
}

static int run_search(struct ctl__call *call, struct err *err)
{
	struct db_run_query q = {0};
	struct db_run_list l = {0};
	struct ctl__filter f = {0};
	const char *ids_s[CTL_MAX_LIST];
	int64_t ids[CTL_MAX_LIST];
	size_t nids = 0;
	int rc = -1;

	if (ctl__list(call, "experiment_ids", ids_s, CTL_MAX_LIST, &nids, err) < 0 ||
	    view_arg(call, "run_view_type", &q.view, err) < 0 ||
	    ctl__page(call, DB_MAX_RESULTS, &q.page, err) < 0 ||
	    ctl__search_parse(call, &f, err) < 0)
		goto out;
	if (nids == 0) {
		err_set(err, ERR_INVALID,
			"Missing value for required parameter 'experiment_ids'. See the API docs "
			"for more information about request parameters.");
		goto out;
	}
	for (size_t i = 0; i < nids; i++) {
		char *end;
		errno = 0;
		ids[i] = strtoll(ids_s[i], &end, 10);
		if (errno || end == ids_s[i] || *end || ids[i] < 0) {
			err_set(err, ERR_INVALID, "Invalid experiment id '%.64s'", ids_s[i]);
			goto out;
		}
	}
	q.experiment_ids = ids;
	q.n_experiment_ids = nids;
	q.conds = f.cond;
	q.n_conds = f.n;
	q.order = f.order;
	q.n_order = f.n_order;
	if (db_run_search(call->c->db, &q, &l, err) < 0)
		goto out;
	if (ctl__set(call->out, "runs", json_array(), err) < 0)
		goto out;
	for (size_t i = 0; i < l.n; i++)
		if (push(call->out, "runs", run_json(&l.v[i]), err) < 0)
			goto out;
	rc = set_token(call->out, l.next_token, err);
out:
	db_run_list_release(&l);
	ctl__filter_release(&f);
	return rc;
}

/* Appends n in decimal (printf's %lld without printf: histories have 100,000 points). */
static int add_i64(struct buf *b, int64_t n)
{
	char d[24], *p = d + sizeof(d);
	uint64_t u = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (n < 0)
		*--p = '-';
	return buf_add(b, p, (size_t)(d + sizeof(d) - p));
}

/*
 * Appends one metric value as jansson prints a real ("%.17g"; ".0" when that
 * reads as an integer; the exponent without '+' or leading zeros), or
 * MLflow's strings for NaN and the infinities (as num_json).
 */
static int add_num(struct buf *b, double v)
{
	char s[40], *e;
	int n;
	if (v == (double)(int64_t)v && fabs(v) < 1e15 && !(v == 0 && signbit(v)))
		return add_i64(b, (int64_t)v) < 0 ? -1 : buf_add(b, ".0", 2);
	if (isnan(v))
		return buf_adds(b, "\"NaN\"");
	if (isinf(v))
		return buf_adds(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	n = snprintf(s, sizeof(s), "%.17g", v);
	if (n <= 0 || (size_t)n >= sizeof(s) - 2)
		return -1;
	e = strchr(s, 'e');
	if (!e && !strchr(s, '.'))
		memcpy(s + n, ".0", 3);
	if (e) {
		char *digits = e + 1 + (e[1] == '-' || e[1] == '+'), *to = e + 1 + (e[1] == '-');
		while (*digits == '0' && digits[1])
			digits++;
		memmove(to, digits, strlen(digits) + 1);
	}
	return buf_adds(b, s);
}

/*
 * metrics/get-history. A history can hold 100,000 points: the reply is
 * written straight into the body (the key, the same for every point, is
 * escaped once) rather than built as that many jansson objects, which took
 * 2.5x the store's own time. The bytes are those json_dumps(JSON_COMPACT)
 * gives for the same object (t4106 compares them).
 */
static int metric_history(struct ctl__call *call, struct err *err)
{
	struct db_metric_list l = {0};
	struct db_page page;
	struct buf *b = &call->resp->body;
	const char *id, *key;
	char *qkey = NULL, *qtok = NULL;
	json_t *jk = NULL;
	int rc = -1, bad = 0;
	if (ctl__run_id(call, &id, err) < 0 || ctl__need(call, "metric_key", &key, err) < 0 ||
	    ctl__page(call, SIZE_MAX / 2, &page, err) < 0 ||
	    db_metric_history(call->c->db, id, key, &page, &l, err) < 0)
		goto out;
	/* A key that is not UTF-8 has no points (log calls are JSON): only used when l.n > 0. */
	jk = json_string(key);
	qkey = jk ? json_dumps(jk, JSON_ENCODE_ANY) : NULL;
	json_decref(jk);
	jk = l.next_token ? json_string(l.next_token) : NULL;
	qtok = jk ? json_dumps(jk, JSON_ENCODE_ANY) : NULL;
	if ((l.n && !qkey) || (l.next_token && !qtok)) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	buf_reset(b);
	bad |= buf_grow(b, l.n * ((qkey ? strlen(qkey) : 0) + 72) + 64); /* ~ a point's text each */
	bad |= buf_adds(b, "{\"metrics\":[");
	for (size_t i = 0; i < l.n && !bad; i++) {
		const struct db_metric *m = &l.v[i];
		bad |= buf_adds(b, i ? ",{\"key\":" : "{\"key\":");
		bad |= buf_adds(b, qkey);
		bad |= buf_adds(b, ",\"value\":");
		bad |= add_num(b, m->value);
		bad |= buf_adds(b, ",\"timestamp\":");
		bad |= add_i64(b, m->timestamp);
		bad |= buf_adds(b, ",\"step\":");
		bad |= add_i64(b, m->step);
		bad |= buf_addch(b, '}');
	}
	bad |= buf_adds(b, "]");
	if (qtok)
		bad |= buf_addf(b, ",\"next_page_token\":%s", qtok);
	bad |= buf_adds(b, "}");
	if (bad) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	call->raw = 1;
	rc = 0;
out:
	json_decref(jk);
	free(qkey); /* jansson's allocator */
	free(qtok);
	db_metric_list_release(&l);
	return rc;
}

/* artifacts/list: paths relative to the run's artifact root. */
static int artifact_list(struct ctl__call *call, struct err *err)
{
	static const char scheme[] = "mlflow-artifacts:/";
	struct db_run r = {0};
	struct db_artifact_list l = {0};
	struct buf dir = BUF_INIT, rel = BUF_INIT;
	const char *id, *path;
	int rc = -1;

	if (ctl__run_id(call, &id, err) < 0 || db_run_get(call->c->db, id, &r, err) < 0)
		goto out;
	path = ctl__arg(call, "path");
	if (path && *path && !db_artifact_path_ok(path)) {
		err_set(err, ERR_INVALID, "Invalid path");
		goto out;
	}
	if (ctl__set(call->out, "root_uri", ctl__str(r.artifact_uri), err) < 0)
		goto out;
	if (!r.artifact_uri || strncmp(r.artifact_uri, scheme, sizeof(scheme) - 1) != 0) {
		rc = 0; /* not stored here: nothing to list */
		goto out;
	}
	if (buf_adds(&dir, r.artifact_uri + sizeof(scheme) - 1) < 0 ||
	    (path && *path && buf_addf(&dir, "/%s", path) < 0)) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (db_artifact_list(call->c->db, dir.ptr, &l, err) < 0 ||
	    ctl__set(call->out, "files", json_array(), err) < 0)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		json_t *o;
		buf_reset(&rel);
		if ((path && *path && buf_addf(&rel, "%s/", path) < 0) ||
		    buf_adds(&rel, l.v[i].path) < 0) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		o = json_pack("{s:s,s:b}", "path", rel.ptr, "is_dir", l.v[i].is_dir);
		if (o && !l.v[i].is_dir &&
		    json_object_set_new(o, "file_size", json_integer(l.v[i].size)) < 0) {
			json_decref(o);
			o = NULL;
		}
		if (push(call->out, "files", o, err) < 0)
			goto out;
	}
	rc = 0;
out:
	db_run_release(&r);
	db_artifact_list_release(&l);
	buf_release(&dir);
	buf_release(&rel);
	return rc;
}

const struct ctl__endpoint ctl__track_endpoints[] = {
	{HTTP_POST, "experiments/create", exp_create},
	{HTTP_GET, "experiments/get", exp_get},
	{HTTP_GET, "experiments/get-by-name", exp_get_by_name},
	{HTTP_GET | HTTP_POST, "experiments/search", exp_search},
	{HTTP_GET, "experiments/list", exp_search}, /* npm mlflow client (MLflow 1.x) */
	{HTTP_POST, "experiments/update", exp_update},
	{HTTP_POST, "experiments/delete", exp_delete},
	{HTTP_POST, "experiments/restore", exp_restore},
	{HTTP_POST, "experiments/set-experiment-tag", exp_set_tag},
	{HTTP_POST, "runs/create", run_create},
	{HTTP_GET, "runs/get", run_get},
	{HTTP_POST, "runs/update", run_update},
	{HTTP_POST, "runs/delete", run_delete},
	{HTTP_POST, "runs/restore", run_restore},
	{HTTP_POST, "runs/log-metric", run_log_metric},
	{HTTP_POST, "runs/log-parameter", run_log_param},
	{HTTP_POST, "runs/set-tag", run_set_tag},
	{HTTP_POST, "runs/delete-tag", run_delete_tag},
	{HTTP_POST, "runs/log-batch", run_log_batch},
	{HTTP_POST, "runs/search", run_search},
	{HTTP_GET, "metrics/get-history", metric_history},
	{HTTP_GET, "artifacts/list", artifact_list},
	{0, NULL, NULL},
};

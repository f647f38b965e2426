/*
 * register.c - `kiln train --register NAME`: after the bundle is written,
 * log a run on the kiln server (params, metrics, lineage tags, the bundle as
 * artifact model/model.kiln) and register it as a new model version with
 * its lineage, optionally moving an alias. MLflow REST calls only
 * (ctl/client.h); the lineage comes from the bundle's manifest.
 */
#include "cli/cli.h"

#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "ctl/client.h"
#include "http/http.h"

#define API		 "/api/2.0/mlflow/"
#define REG_MAX_PARAMS	 100 /* MLflow's log-batch limits */
#define REG_MAX_METRICS	 1000
#define REG_MAX_KEY_PATH 250

/* Everything one registration needs and finds out. */
struct reg {
	struct ctl_client *c;
	const struct cli_register *r;
	const char *bundle, *sha256;
	const json_t *lineage; /* the manifest's "lineage" (borrowed) */
	char exp_id[32];
	char run_id[64];
	struct buf source, workflow_run;
	long long version;
};

static long long now_ms(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_REALTIME, &ts); /* cannot fail for CLOCK_REALTIME */
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *lin_str(const struct reg *g, const char *key)
{
	const char *s = json_string_value(json_object_get(g->lineage, key));
	return s ? s : "";
}

/* The user recorded as mlflow.user: $USER, else the passwd entry, else "". */
static const char *user_name(void)
{
	const char *u = getenv("USER");
	const struct passwd *pw;
	if (u && *u)
		return u;
	pw = getpwuid(getuid());
	return pw && pw->pw_name ? pw->pw_name : "";
}

/* "repository=o/r workflow=ci run_id=7 run_number=3" from the GITHUB_* kiln run sets. */
static int workflow_run(struct buf *b)
{
	static const char *const vars[][2] = {{"repository", "GITHUB_REPOSITORY"},
					      {"workflow", "GITHUB_WORKFLOW"},
					      {"run_id", "GITHUB_RUN_ID"},
					      {"run_number", "GITHUB_RUN_NUMBER"}};
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i][1]);
		if (v && *v && buf_addf(b, "%s%s=%s", b->len ? " " : "", vars[i][0], v) < 0)
			return -1;
	}
	return 0;
}

/* The experiment's id into g->exp_id, creating the experiment when missing. */
static int get_experiment(struct reg *g, struct err *err)
{
	const char *env = getenv("MLFLOW_EXPERIMENT_NAME");
	const char *name = g->r->experiment ? g->r->experiment : env && *env ? env : "Default";
	const char *q[] = {"experiment_name", name, NULL};
	json_t *r = NULL, *body;
	struct err e2 = ERR_INIT;
	const char *id;
	int rc;
	rc = ctl_client_call(g->c, HTTP_GET, API "experiments/get-by-name", q, NULL, &r, &e2);
	if (rc == 0) {
		id = json_string_value(
			json_object_get(json_object_get(r, "experiment"), "experiment_id"));
	} else if (e2.code == ERR_NOTFOUND) {
		body = json_pack("{s:s}", "name", name);
		rc = body ? ctl_client_call(g->c, HTTP_POST, API "experiments/create", NULL, body,
					    &r, err)
			  : err_set(err, ERR_INVALID, "experiment name '%s' is not UTF-8", name);
		json_decref(body);
		if (rc < 0)
			return -1;
		id = json_string_value(json_object_get(r, "experiment_id"));
	} else {
		return err_set(err, e2.code, "%s", e2.msg);
	}
	if (!id || snprintf(g->exp_id, sizeof(g->exp_id), "%s", id) >= (int)sizeof(g->exp_id))
		rc = err_set(err, ERR_FORMAT, "experiment '%s': reply lacks experiment_id", name);
	json_decref(r);
	return rc;
}

/* Appends {"key": k, "value": v} to arr; -1 on ENOMEM. */
static int add_kv(json_t *arr, const char *k, const char *v)
{
	return json_array_append_new(arr, json_pack("{s:s,s:s}", "key", k, "value", v));
}

static int create_run(struct reg *g, long long start, struct err *err)
{
	json_t *tags = json_array(), *body = NULL, *r = NULL;
	const char *id, *commit = lin_str(g, "git_commit");
	const json_t *dirty = json_object_get(g->lineage, "git_dirty");
	char run_name[300];
	int rc = -1;
	snprintf(run_name, sizeof(run_name), "%.200s-%.8s", g->r->name, g->sha256);
	if (!tags || add_kv(tags, "mlflow.user", user_name()) < 0 ||
	    add_kv(tags, "mlflow.source.name", lin_str(g, "data_path")) < 0 ||
	    add_kv(tags, "kiln.data_sha256", lin_str(g, "data_sha256")) < 0 ||
	    add_kv(tags, "kiln.bundle_sha256", g->sha256) < 0 ||
	    (*commit && add_kv(tags, "mlflow.source.git.commit", commit) < 0) ||
	    (dirty && add_kv(tags, "kiln.git_dirty", json_is_true(dirty) ? "true" : "false") < 0) ||
	    (g->workflow_run.len && add_kv(tags, "kiln.workflow_run", g->workflow_run.ptr) < 0))
		goto nomem;
	body = json_pack("{s:s,s:s,s:I,s:s,s:O}", "experiment_id", g->exp_id, "run_name", run_name,
			 "start_time", (json_int_t)start, "user_id", user_name(), "tags", tags);
	if (!body)
		goto nomem;
	if (ctl_client_call(g->c, HTTP_POST, API "runs/create", NULL, body, &r, err) < 0)
		goto out;
	id = json_string_value(
		json_object_get(json_object_get(json_object_get(r, "run"), "info"), "run_id"));
	if (!id || snprintf(g->run_id, sizeof(g->run_id), "%s", id) >= (int)sizeof(g->run_id)) {
		err_set(err, ERR_FORMAT, "runs/create: reply lacks run_id");
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	err_set(err, ERR_NOMEM, "out of memory");
out:
	json_decref(tags);
	json_decref(body);
	json_decref(r);
	return rc;
}

/* Metrics: numbers of the manifest's metrics, nested objects as "per_class.pos.f1". */
static int flatten_metrics(const json_t *o, const char *prefix, json_t *out, long long ts)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v)
	{
		char key[REG_MAX_KEY_PATH + 1];
		if (snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", k) >=
		    (int)sizeof(key))
			continue; /* too long for a metric key: left out */
		if (json_is_object(v)) {
			if (flatten_metrics(v, key, out, ts) < 0)
				return -1;
		} else if (json_is_number(v) && json_array_size(out) < REG_MAX_METRICS) {
			if (json_array_append_new(out, json_pack("{s:s,s:f,s:I,s:i}", "key", key,
								 "value", json_number_value(v),
								 "timestamp", (json_int_t)ts,
								 "step", 0)) < 0)
				return -1;
		}
	}
	return 0;
}

/* Params: the hyperparameters as strings, plus task and algorithm. */
static int params_json(const json_t *man, json_t *out)
{
	const json_t *hp = json_object_get(man, "hyperparameters");
	const char *k;
	json_t *v;
	const char *task = json_string_value(json_object_get(man, "task"));
	const char *algo = json_string_value(json_object_get(man, "algorithm"));
	if (add_kv(out, "task", task ? task : "") < 0 ||
	    add_kv(out, "algorithm", algo ? algo : "") < 0)
		return -1;
	json_object_foreach((json_t *)hp, k, v)
	{
		char num[32], *text = NULL;
		const char *val = num;
		int rc;
		if (json_array_size(out) >= REG_MAX_PARAMS)
			break;
		if (json_is_real(v)) /* as typed (0.3), not its binary expansion */
			snprintf(num, sizeof(num), "%.15g", json_real_value(v));
		else if (json_is_string(v))
			val = json_string_value(v);
		else if (!(val = text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)))
			return -1;
		rc = add_kv(out, k, val);
		free(text); /* jansson's allocator */
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int log_batch(struct reg *g, const json_t *man, struct err *err)
{
	json_t *metrics = json_array(), *params = json_array(), *body = NULL;
	int rc = -1;
	if (!metrics || !params || params_json(man, params) < 0 ||
	    flatten_metrics(json_object_get(man, "metrics"), "", metrics, now_ms()) < 0)
		goto nomem;
	body = json_pack("{s:s,s:O,s:O}", "run_id", g->run_id, "params", params, "metrics",
			 metrics);
	if (!body)
		goto nomem;
	rc = ctl_client_call(g->c, HTTP_POST, API "runs/log-batch", NULL, body, NULL, err);
	goto out;
nomem:
	err_set(err, ERR_NOMEM, "out of memory");
out:
	json_decref(metrics);
	json_decref(params);
	json_decref(body);
	return rc;
}

/* The bundle as the run's artifact model/model.kiln; g->source gets its URI. */
static int upload(struct reg *g, struct err *err)
{
	struct buf path = BUF_INIT;
	int rc;
	if (buf_addf(&path, "/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/model/model.kiln",
		     g->exp_id, g->run_id) < 0 ||
	    buf_addf(&g->source, "mlflow-artifacts:/%s/%s/artifacts/model/model.kiln", g->exp_id,
		     g->run_id) < 0) {
		buf_release(&path);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	rc = ctl_client_put_file(g->c, path.ptr, g->bundle, err);
	buf_release(&path);
	return rc;
}

static int ensure_model(struct reg *g, struct err *err)
{
	const char *q[] = {"name", g->r->name, NULL};
	json_t *body;
	struct err e2 = ERR_INIT;
	int rc;
	if (ctl_client_call(g->c, HTTP_GET, API "registered-models/get", q, NULL, NULL, &e2) == 0)
		return 0;
	if (e2.code != ERR_NOTFOUND)
		return err_set(err, e2.code, "%s", e2.msg);
	body = json_pack("{s:s}", "name", g->r->name);
	if (!body)
		return err_set(err, ERR_INVALID, "model name '%s' is not UTF-8", g->r->name);
	err_clear(&e2);
	rc = ctl_client_call(g->c, HTTP_POST, API "registered-models/create", NULL, body, NULL,
			     &e2);
	json_decref(body);
	/* Created meanwhile by another registration: fine. */
	if (rc < 0 && !(e2.code == ERR_INVALID && strstr(e2.msg, "already exists")))
		return err_set(err, e2.code, "%s", e2.msg);
	return 0;
}

static int create_version(struct reg *g, struct err *err)
{
	json_t *body, *r = NULL, *tags = json_array();
	const json_t *dirty = json_object_get(g->lineage, "git_dirty");
	const char *v;
	int rc = -1;
	if (!tags ||
	    (dirty && add_kv(tags, "kiln.git_dirty", json_is_true(dirty) ? "true" : "false") < 0)) {
		json_decref(tags);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "name", g->r->name, "source",
			 g->source.ptr, "run_id", g->run_id, "user_id", user_name(),
			 "bundle_sha256", g->sha256, "git_commit", lin_str(g, "git_commit"),
			 "data_sha256", lin_str(g, "data_sha256"), "workflow_run",
			 g->workflow_run.ptr, "tags", tags);
	if (!body)
		return err_set(err, ERR_NOMEM, "out of memory");
	if (ctl_client_call(g->c, HTTP_POST, API "model-versions/create", NULL, body, &r, err) < 0)
		goto out;
	v = json_string_value(json_object_get(json_object_get(r, "model_version"), "version"));
	g->version = v ? strtoll(v, NULL, 10) : 0;
	if (g->version <= 0) {
		err_set(err, ERR_FORMAT, "model-versions/create: reply lacks the version");
		goto out;
	}
	rc = 0;
out:
	json_decref(body);
	json_decref(r);
	return rc;
}

static int set_alias(struct reg *g, struct err *err)
{
	char ver[32];
	json_t *body;
	int rc;
	snprintf(ver, sizeof(ver), "%lld", g->version);
	body = json_pack("{s:s,s:s,s:s}", "name", g->r->name, "alias", g->r->alias, "version", ver);
	if (!body)
		return err_set(err, ERR_INVALID, "alias '%s' is not UTF-8", g->r->alias);
	rc = ctl_client_call(g->c, HTTP_POST, API "registered-models/alias", NULL, body, NULL, err);
	json_decref(body);
	return rc;
}

/* Ends the run; a failure here is reported only when nothing failed before. */
static int end_run(struct reg *g, const char *status, struct err *err)
{
	json_t *body = json_pack("{s:s,s:s,s:I}", "run_id", g->run_id, "status", status, "end_time",
				 (json_int_t)now_ms());
	int rc = body ? ctl_client_call(g->c, HTTP_POST, API "runs/update", NULL, body, NULL, err)
		      : err_set(err, ERR_NOMEM, "out of memory");
	json_decref(body);
	return rc;
}

json_t *cli_train_register(struct ctl_client *c, const struct cli_register *r, const char *bundle,
			   const char *sha256, const json_t *manifest, struct err *err)
{
	struct reg g = {c,  r,	bundle,	  sha256,   json_object_get(manifest, "lineage"),
			"", "", BUF_INIT, BUF_INIT, 0};
	json_t *out = NULL;
	int ok;
	if (workflow_run(&g.workflow_run) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (get_experiment(&g, err) < 0 || create_run(&g, now_ms(), err) < 0)
		goto out;
	ok = log_batch(&g, manifest, err) == 0 && upload(&g, err) == 0 &&
	     ensure_model(&g, err) == 0 && create_version(&g, err) == 0 &&
	     (!r->alias || set_alias(&g, err) == 0);
	if (end_run(&g, ok ? "FINISHED" : "FAILED", err) < 0 || !ok)
		goto out;
	out = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s?}", "name", r->name, "version",
			(json_int_t)g.version, "run_id", g.run_id, "experiment_id", g.exp_id,
			"source", g.source.ptr, "alias", r->alias);
	if (!out)
		err_set(err, ERR_NOMEM, "out of memory");
out:
	if (err->code != ERR_OK) {
		char msg[sizeof(err->msg)];
		snprintf(msg, sizeof(msg), "%s", err->msg);
		err_clear(err);
		err_set(err, ERR_IO, "registering '%s' failed%s%s: %s (the bundle stays at '%s')",
			r->name, g.run_id[0] ? ", run " : "", g.run_id, msg, bundle);
	}
	buf_release(&g.source);
	buf_release(&g.workflow_run);
	return out;
}

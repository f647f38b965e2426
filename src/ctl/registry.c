/*
 * registry.c - the model registry endpoints of the MLflow REST subset:
 * registered models, versions (with kiln's lineage as extra fields),
 * stages, tags and aliases. Decoding and JSON shapes only; the store does
 * the work (store/db.h).
 */
#include "ctl/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static json_t *version_str(int64_t v)
{
	char s[32];
	snprintf(s, sizeof(s), "%" PRId64, v);
	return json_string(s);
}

static json_t *version_json(const struct db_version *v)
{
	json_t *aliases = json_array();
	const struct db_lineage *l = &v->lineage;
	for (size_t i = 0; aliases && i < v->n_aliases; i++)
		if (json_array_append_new(aliases, ctl__str(v->aliases[i])) < 0) {
			json_decref(aliases);
			aliases = NULL;
		}
	return json_pack("{s:o,s:o,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,"
			 "s:{s:o,s:o,s:o,s:o}}",
			 "name", ctl__str(v->name), "version", version_str(v->version),
			 "creation_timestamp", (json_int_t)v->creation_time,
			 "last_updated_timestamp", (json_int_t)v->last_updated_time, "user_id",
			 ctl__str(v->user_id), "current_stage", ctl__str(v->stage), "description",
			 ctl__str(v->description), "source", ctl__str(v->source), "run_id",
			 ctl__str(v->run_id), "status", ctl__str(v->status), "run_link",
			 ctl__str(v->run_link), "tags", ctl__kv_json(&v->tags), "aliases", aliases,
			 "kiln_lineage", "bundle_sha256", ctl__str(l->bundle_sha256), "git_commit",
			 ctl__str(l->git_commit), "data_sha256", ctl__str(l->data_sha256),
			 "workflow_run", ctl__str(l->workflow_run));
}

static json_t *model_json(struct db *db, const struct db_model *m, struct err *err)
{
	struct db_version_list latest = {0};
	json_t *o, *aliases = json_array(), *versions = json_array();
	for (size_t i = 0; aliases && i < m->n_aliases; i++) {
		json_t *a = json_pack("{s:o,s:o}", "alias", ctl__str(m->aliases[i].alias),
				      "version", version_str(m->aliases[i].version));
		if (!a || json_array_append_new(aliases, a) < 0) {
			json_decref(aliases);
			aliases = NULL;
		}
	}
	if (db_version_latest(db, m->name, NULL, 0, &latest, err) < 0) {
		json_decref(aliases);
		json_decref(versions);
		return NULL;
	}
	for (size_t i = 0; versions && i < latest.n; i++)
		if (json_array_append_new(versions, version_json(&latest.v[i])) < 0) {
			json_decref(versions);
			versions = NULL;
		}
	db_version_list_release(&latest);
	o = json_pack("{s:o,s:I,s:I,s:o,s:o,s:o,s:o}", "name", ctl__str(m->name),
		      "creation_timestamp", (json_int_t)m->creation_time, "last_updated_timestamp",
		      (json_int_t)m->last_updated_time, "description", ctl__str(m->description),
		      "latest_versions", versions, "tags", ctl__kv_json(&m->tags), "aliases",
		      aliases);
	if (!o)
		err_set(err, ERR_NOMEM, "out of memory");
	return o;
}

/* Replies {"registered_model": ...} for the model called name. */
static int reply_model(struct ctl__call *call, const char *name, struct err *err)
{
	struct db_model m = {0};
	json_t *o;
	int rc = -1;
	if (db_model_get(call->c->db, name, &m, err) == 0 &&
	    (o = model_json(call->c->db, &m, err)) != NULL)
		rc = ctl__set(call->out, "registered_model", o, err);
	db_model_release(&m);
	return rc;
}

static int reply_version(struct ctl__call *call, const char *name, int64_t version, struct err *err)
{
	struct db_version v = {0};
	int rc = -1;
	if (db_version_get(call->c->db, name, version, &v, err) == 0)
		rc = ctl__set(call->out, "model_version", version_json(&v), err);
	db_version_release(&v);
	return rc;
}

/* ---- registered models ---- */

static int model_create(struct ctl__call *call, struct err *err)
{
	struct db_kv_ref tags[DB_MAX_BATCH_TAGS];
	const char *name;
	size_t ntags;
	if (ctl__need(call, "name", &name, err) < 0 ||
	    ctl__kv(call, "tags", tags, DB_MAX_BATCH_TAGS, &ntags, err) < 0 ||
	    db_model_create(call->c->db, name, ctl__arg(call, "description"), tags, ntags, err) < 0)
		return -1;
	return reply_model(call, name, err);
}

static int model_get(struct ctl__call *call, struct err *err)
{
	const char *name;
	if (ctl__need(call, "name", &name, err) < 0)
		return -1;
	return reply_model(call, name, err);
}

static int model_rename(struct ctl__call *call, struct err *err)
{
	const char *name, *new_name;
	if (ctl__need(call, "name", &name, err) < 0 ||
	    ctl__need(call, "new_name", &new_name, err) < 0 ||
	    db_model_rename(call->c->db, name, new_name, err) < 0)
		return -1;
	return reply_model(call, new_name, err);
}

static int model_update(struct ctl__call *call, struct err *err)
{
	const char *name, *d;
	if (ctl__need(call, "name", &name, err) < 0)
		return -1;
	d = ctl__arg(call, "description");
	if (d && db_model_set_description(call->c->db, name, d, err) < 0)
		return -1;
	return reply_model(call, name, err);
}

static int model_delete(struct ctl__call *call, struct err *err)
{
	const char *name;
	if (ctl__need(call, "name", &name, err) < 0)
		return -1;
	return db_model_delete(call->c->db, name, err);
}

static int model_search(struct ctl__call *call, struct err *err)
{
	struct db_model_query q = {0};
	struct db_model_list l = {0};
	struct ctl__filter f = {0};
	int rc = -1;
	json_t *a;

	if (ctl__page(call, 1000, &q.page, err) < 0 || ctl__search_parse(call, &f, err) < 0)
		goto out;
	q.conds = f.cond;
	q.n_conds = f.n;
	q.order = f.order;
	q.n_order = f.n_order;
	if (db_model_search(call->c->db, &q, &l, err) < 0)
		goto out;
	a = json_array();
	if (ctl__set(call->out, "registered_models", a, err) < 0)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		json_t *o = model_json(call->c->db, &l.v[i], err);
		if (!o)
			goto out;
		if (json_array_append_new(a, o) < 0) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	rc = l.next_token ? ctl__set(call->out, "next_page_token", json_string(l.next_token), err)
			  : 0;
out:
	db_model_list_release(&l);
	ctl__filter_release(&f);
	return rc;
}

static int reply_versions(struct ctl__call *call, struct db_version_list *l, struct err *err)
{
	json_t *a = json_array();
	if (ctl__set(call->out, "model_versions", a, err) < 0)
		return -1;
	for (size_t i = 0; i < l->n; i++)
		if (json_array_append_new(a, version_json(&l->v[i])) < 0)
			return err_set(err, ERR_NOMEM, "out of memory");
	if (l->next_token)
		return ctl__set(call->out, "next_page_token", json_string(l->next_token), err);
	return 0;
}

static int model_latest(struct ctl__call *call, struct err *err)
{
	struct db_version_list l = {0};
	const char *name, *stages[CTL_MAX_LIST];
	size_t n = 0;
	int rc = -1;
	if (ctl__need(call, "name", &name, err) < 0 ||
	    ctl__list(call, "stages", stages, CTL_MAX_LIST, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!db_stage_canonical(stages[i]))
			return err_set(err, ERR_INVALID, "Invalid Model Version stage: %.64s",
				       stages[i]);
	/* An unknown model is a 404, not an empty list. */
	if (reply_model(call, name, err) < 0)
		return -1;
	json_object_clear(call->out);
	if (db_version_latest(call->c->db, name, stages, n, &l, err) == 0)
		rc = reply_versions(call, &l, err);
	db_version_list_release(&l);
	return rc;
}

static int model_set_tag(struct ctl__call *call, struct err *err)
{
	const char *name, *key;
	if (ctl__need(call, "name", &name, err) < 0 || ctl__need(call, "key", &key, err) < 0)
		return -1;
	return db_model_set_tag(call->c->db, name, key, ctl__arg(call, "value"), err);
}

static int model_delete_tag(struct ctl__call *call, struct err *err)
{
	const char *name, *key;
	if (ctl__need(call, "name", &name, err) < 0 || ctl__need(call, "key", &key, err) < 0)
		return -1;
	return db_model_delete_tag(call->c->db, name, key, err);
}

/* registered-models/alias: POST sets, DELETE drops, GET resolves. */
static int model_alias(struct ctl__call *call, struct err *err)
{
	struct db_version v = {0};
	struct err e2 = ERR_INIT;
	const char *name, *alias;
	int64_t version;
	int rc = -1;

	if (ctl__need(call, "name", &name, err) < 0 || ctl__need(call, "alias", &alias, err) < 0)
		return -1;
	if (call->req->method == HTTP_POST) {
		if (ctl__id(call, "version", &version, err) < 0)
			return -1;
		return db_alias_set(call->c->db, name, alias, version, err);
	}
	if (call->req->method == HTTP_DELETE)
		return db_alias_delete(call->c->db, name, alias, err);
	if (db_alias_resolve(call->c->db, name, alias, &v, &e2) == 0) {
		rc = ctl__set(call->out, "model_version", version_json(&v), err);
	} else if (e2.code == ERR_NOTFOUND) {
		struct db_model m = {0};
		/* MLflow: an unknown model is a 404, an unknown alias a 400. */
		if (db_model_get(call->c->db, name, &m, err) == 0)
			err_set(err, ERR_INVALID, "Registered model alias %s not found.", alias);
		db_model_release(&m);
	} else {
		err_set(err, e2.code, "%s", e2.msg);
	}
	db_version_release(&v);
	return rc;
}

/* ---- model versions ---- */

/* MLflow refuses relative-path tricks and local files in a version's source. */
static int source_ok(const char *s)
{
	const char *p = s;
	if (strncmp(s, "file:", 5) == 0 || s[0] == '/' || s[0] == '.')
		return 0;
	while ((p = strstr(p, "..")) != NULL) {
		int start = p == s || p[-1] == '/' || p[-1] == ':';
		int end = p[2] == '\0' || p[2] == '/';
		if (start && end)
			return 0;
		p += 2;
	}
	return strstr(s, "%2e") == NULL && strstr(s, "%2E") == NULL;
}

static int version_create(struct ctl__call *call, struct err *err)
{
	struct db_kv_ref tags[DB_MAX_BATCH_TAGS];
	struct db_version_create in = {0};
	struct db_version v = {0};
	int rc = -1;

	if (ctl__need(call, "name", &in.name, err) < 0 ||
	    ctl__need(call, "source", &in.source, err) < 0 ||
	    ctl__kv(call, "tags", tags, DB_MAX_BATCH_TAGS, &in.ntags, err) < 0)
		return -1;
	if (!source_ok(in.source))
		return err_set(err, ERR_INVALID, "Invalid model version source: '%.200s'",
			       in.source);
	in.tags = tags;
	in.run_id = ctl__arg(call, "run_id");
	in.run_link = ctl__arg(call, "run_link");
	in.description = ctl__arg(call, "description");
	in.user_id = ctl__arg(call, "user_id");
	/* kiln's lineage anchors: extension fields, ignored by MLflow clients. */
	in.bundle_sha256 = ctl__arg(call, "bundle_sha256");
	in.git_commit = ctl__arg(call, "git_commit");
	in.data_sha256 = ctl__arg(call, "data_sha256");
	in.workflow_run = ctl__arg(call, "workflow_run");
	if (in.bundle_sha256 && !blob_key_ok(in.bundle_sha256))
		return err_set(err, ERR_INVALID, "Invalid bundle_sha256: 64 lowercase hex digits");
	if (db_version_create(call->c->db, &in, &v, err) == 0)
		rc = ctl__set(call->out, "model_version", version_json(&v), err);
	db_version_release(&v);
	return rc;
}

static int name_version(struct ctl__call *call, const char **name, int64_t *version,
			struct err *err)
{
	if (ctl__need(call, "name", name, err) < 0 || ctl__id(call, "version", version, err) < 0)
		return -1;
	return 0;
}

static int version_get(struct ctl__call *call, struct err *err)
{
	const char *name;
	int64_t version;
	if (name_version(call, &name, &version, err) < 0)
		return -1;
	return reply_version(call, name, version, err);
}

static int version_update(struct ctl__call *call, struct err *err)
{
	const char *name, *d;
	int64_t version;
	if (name_version(call, &name, &version, err) < 0)
		return -1;
	d = ctl__arg(call, "description");
	if (d && db_version_set_description(call->c->db, name, version, d, err) < 0)
		return -1;
	return reply_version(call, name, version, err);
}

static int version_delete(struct ctl__call *call, struct err *err)
{
	const char *name;
	int64_t version;
	if (name_version(call, &name, &version, err) < 0)
		return -1;
	return db_version_delete(call->c->db, name, version, err);
}

/* model-versions/search: filter name='x' and/or run_id='y' (exact). */
static int version_search(struct ctl__call *call, struct err *err)
{
	struct db_version_list l = {0};
	struct ctl__filter f = {0};
	struct db_page page;
	const char *name = NULL, *run_id = NULL;
	int rc = -1;

	if (ctl__page(call, 200000, &page, err) < 0 ||
	    ctl__filter_parse(&f, ctl__arg(call, "filter"), err) < 0)
		goto out;
	for (size_t i = 0; i < f.n; i++) {
		const struct db_cond *c = &f.cond[i];
		if (c->field != DB_FIELD_ATTR || c->op != DB_OP_EQ ||
		    (strcmp(c->key, "name") != 0 && strcmp(c->key, "run_id") != 0)) {
			err_set(err, ERR_INVALID,
				"Invalid filter: model-versions/search supports name = '...' and "
				"run_id = '...'");
			goto out;
		}
		if (strcmp(c->key, "name") == 0)
			name = c->str;
		else
			run_id = c->str;
	}
	if (db_version_search(call->c->db, name, run_id, &page, &l, err) == 0)
		rc = reply_versions(call, &l, err);
out:
	db_version_list_release(&l);
	ctl__filter_release(&f);
	return rc;
}

static int version_stage(struct ctl__call *call, struct err *err)
{
	const char *name, *stage, *arch;
	int64_t version;
	if (name_version(call, &name, &version, err) < 0 ||
	    ctl__need(call, "stage", &stage, err) < 0)
		return -1;
	if (!db_stage_canonical(stage))
		return err_set(err, ERR_INVALID, "Invalid Model Version stage: %.64s", stage);
	arch = ctl__arg(call, "archive_existing_versions");
	if (db_version_set_stage(call->c->db, name, version, stage,
				 arch && strcmp(arch, "true") == 0, err) < 0)
		return -1;
	return reply_version(call, name, version, err);
}

static int version_download_uri(struct ctl__call *call, struct err *err)
{
	struct db_version v = {0};
	const char *name;
	int64_t version;
	int rc = -1;
	if (name_version(call, &name, &version, err) < 0)
		return -1;
	if (db_version_get(call->c->db, name, version, &v, err) == 0)
		rc = ctl__set(call->out, "artifact_uri", ctl__str(v.source), err);
	db_version_release(&v);
	return rc;
}

static int version_set_tag(struct ctl__call *call, struct err *err)
{
	const char *name, *key;
	int64_t version;
	if (name_version(call, &name, &version, err) < 0 || ctl__need(call, "key", &key, err) < 0)
		return -1;
	return db_version_set_tag(call->c->db, name, version, key, ctl__arg(call, "value"), err);
}

static int version_delete_tag(struct ctl__call *call, struct err *err)
{
	const char *name, *key;
	int64_t version;
	if (name_version(call, &name, &version, err) < 0 || ctl__need(call, "key", &key, err) < 0)
		return -1;
	return db_version_delete_tag(call->c->db, name, version, key, err);
}

const struct ctl__endpoint ctl__registry_endpoints[] = {
	{HTTP_POST, "registered-models/create", model_create},
	{HTTP_GET, "registered-models/get", model_get},
	{HTTP_POST, "registered-models/rename", model_rename},
	{HTTP_PATCH | HTTP_POST, "registered-models/update", model_update},
	{HTTP_DELETE, "registered-models/delete", model_delete},
	{HTTP_GET | HTTP_POST, "registered-models/search", model_search},
	{HTTP_GET | HTTP_POST, "registered-models/get-latest-versions", model_latest},
	{HTTP_POST, "registered-models/set-tag", model_set_tag},
	{HTTP_DELETE, "registered-models/delete-tag", model_delete_tag},
	{HTTP_GET | HTTP_POST | HTTP_DELETE, "registered-models/alias", model_alias},
	{HTTP_POST, "model-versions/create", version_create},
	{HTTP_GET, "model-versions/get", version_get},
	{HTTP_PATCH | HTTP_POST, "model-versions/update", version_update},
	{HTTP_DELETE, "model-versions/delete", version_delete},
	{HTTP_GET | HTTP_POST, "model-versions/search", version_search},
	{HTTP_POST, "model-versions/transition-stage", version_stage},
	{HTTP_GET, "model-versions/get-download-uri", version_download_uri},
	{HTTP_POST, "model-versions/set-tag", version_set_tag},
	{HTTP_DELETE, "model-versions/delete-tag", version_delete_tag},
	{0, NULL, NULL},
};

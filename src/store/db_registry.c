/*
 * db_registry.c - the model registry of the store: registered models,
 * versions with lineage (bundle sha256, git commit, data sha256, workflow
 * run), stages, tags and aliases. SQL only, through db->ops.
 */
#include "store/internal.h"

#include "base/mem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MODEL_COLS "name, description, creation_time, last_updated_time"
#define VERSION_COLS                                                                               \
	"name, version, creation_time, last_updated_time, user_id, stage, description, source,"    \
	" run_id, status, run_link, bundle_sha256, git_commit, data_sha256, workflow_run"

/* ---- release ---- */

void db_model_release(struct db_model *m)
{
	size_t i;
	if (!m)
		return;
	mem_free(m->name);
	mem_free(m->description);
	db_kv_list_release(&m->tags);
	for (i = 0; i < m->n_aliases; i++)
		mem_free(m->aliases[i].alias);
	mem_free(m->aliases);
	memset(m, 0, sizeof(*m));
}

void db_model_list_release(struct db_model_list *l)
{
	size_t i;
	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		db_model_release(&l->v[i]);
	mem_free(l->v);
	mem_free(l->next_token);
	memset(l, 0, sizeof(*l));
}

void db_version_release(struct db_version *v)
{
	size_t i;
	if (!v)
		return;
	mem_free(v->name);
	mem_free(v->user_id);
	mem_free(v->stage);
	mem_free(v->description);
	mem_free(v->source);
	mem_free(v->run_id);
	mem_free(v->status);
	mem_free(v->run_link);
	mem_free(v->lineage.bundle_sha256);
	mem_free(v->lineage.git_commit);
	mem_free(v->lineage.data_sha256);
	mem_free(v->lineage.workflow_run);
	db_kv_list_release(&v->tags);
	for (i = 0; i < v->n_aliases; i++)
		mem_free(v->aliases[i]);
	mem_free(v->aliases);
	memset(v, 0, sizeof(*v));
}

void db_version_list_release(struct db_version_list *l)
{
	size_t i;
	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		db_version_release(&l->v[i]);
	mem_free(l->v);
	mem_free(l->next_token);
	memset(l, 0, sizeof(*l));
}

const char *db_stage_canonical(const char *stage)
{
	static const char *const stages[] = {DB_STAGE_NONE, DB_STAGE_STAGING, DB_STAGE_PRODUCTION,
					     DB_STAGE_ARCHIVED};
	size_t i;
	for (i = 0; stage && i < sizeof(stages) / sizeof(stages[0]); i++)
		if (strcasecmp(stage, stages[i]) == 0)
			return stages[i];
	return NULL;
}

/* ---- models ---- */

static int model_not_found(const char *name, struct err *err)
{
	return err_set(err, ERR_NOTFOUND, "Registered Model with name=%s not found",
		       name ? name : "");
}

static int model_must_exist(struct db *db, const char *name, struct err *err)
{
	int64_t t;
	int rc = db__one_int(db, "SELECT creation_time FROM models WHERE name = $1",
			     DB__ARGS(DB__T(name ? name : "")), &t, err);
	if (rc < 0)
		return -1;
	return rc ? 0 : model_not_found(name, err);
}

static int model_touch(struct db *db, const char *name, struct err *err)
{
	return db__run(db, "UPDATE models SET last_updated_time = $1 WHERE name = $2",
		       DB__ARGS(DB__I(db_now_ms()), DB__T(name)), err) < 0
		       ? -1
		       : 0;
}

static int model_children(struct db *db, struct db_model *m, struct err *err)
{
	struct db__stmt *st;
	int rc;
	if (db__load_kv(db, "SELECT key, value FROM model_tags WHERE name = $1 ORDER BY key",
			DB__ARGS(DB__T(m->name)), &m->tags, err) < 0)
		return -1;
	st = db__query(db,
		       "SELECT alias, version FROM model_aliases WHERE name = $1 ORDER BY alias",
		       DB__ARGS(DB__T(m->name)), err);
	if (!st)
		return -1;
	while ((rc = db->ops->step(st, err)) == DB__ROW) {
		struct db_alias *a = db__grow(m->aliases, m->n_aliases, sizeof(*a));
		if (!a) {
			err_set(err, ERR_NOMEM, "out of memory");
			rc = DB__FAIL;
			break;
		}
		m->aliases = a;
		a += m->n_aliases;
		a->version = db->ops->col_int(st, 1);
		if (db__col_dup(db, st, 0, &a->alias, err) < 0) {
			rc = DB__FAIL;
			break;
		}
		m->n_aliases++;
	}
	db->ops->finish(st);
	return rc < 0 ? -1 : 0;
}

static int model_from_row(struct db *db, struct db__stmt *st, void *item, struct err *err)
{
	struct db_model *m = item;
	memset(m, 0, sizeof(*m));
	m->creation_time = db->ops->col_int(st, 2);
	m->last_updated_time = db->ops->col_int(st, 3);
	if (db__col_dup(db, st, 0, &m->name, err) < 0 ||
	    db__col_dup(db, st, 1, &m->description, err) < 0)
		return -1;
	return 0;
}

int db_model_create(struct db *db, const char *name, const char *description,
		    const struct db_kv_ref *tags, size_t ntags, struct err *err)
{
	int64_t now = db_now_ms(), rc;
	size_t i;
	int ok = 0;
	if (db__check_key("name", name, err) < 0)
		return -1;
	for (i = 0; i < ntags; i++)
		if (db__check_key("tag key", tags[i].key, err) < 0 ||
		    db__check_value("tag value", tags[i].value, DB_MAX_TAG_VALUE, err) < 0)
			return -1;
	if (db__tx_begin(db, err) < 0)
		return -1;
	rc = db__run(db,
		     "INSERT INTO models (" MODEL_COLS ", next_version) VALUES ($1, $2, $3, $3, 0)",
		     DB__ARGS(DB__T(name), DB__T(description ? description : ""), DB__I(now)), err);
	if (rc == DB__CONFLICT) {
		err_clear(err);
		err_set(err, ERR_INVALID, "Registered Model (name=%s) already exists", name);
	}
	if (rc < 0)
		goto end;
	for (i = 0; i < ntags; i++)
		if (db__run(db,
			    "INSERT INTO model_tags (name, key, value) VALUES ($1, $2, $3)"
			    " ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
			    DB__ARGS(DB__T(name), DB__T(tags[i].key),
				     DB__T(tags[i].value ? tags[i].value : "")),
			    err) < 0)
			goto end;
	ok = 1;
end:
	return db__tx_end(db, ok, err);
}

int db_model_get(struct db *db, const char *name, struct db_model *out, struct err *err)
{
	struct db__stmt *st;
	int rc, found = 0;
	memset(out, 0, sizeof(*out));
	st = db__query(db, "SELECT " MODEL_COLS " FROM models WHERE name = $1",
		       DB__ARGS(DB__T(name ? name : "")), err);
	if (!st)
		return -1;
	rc = db->ops->step(st, err);
	if (rc == DB__ROW) {
		found = 1;
		if (model_from_row(db, st, out, err) < 0)
			rc = DB__FAIL;
	}
	db->ops->finish(st);
	if (rc >= 0 && !found)
		return model_not_found(name, err);
	if (rc < 0 || model_children(db, out, err) < 0) {
		db_model_release(out);
		return -1;
	}
	return 0;
}

int db_model_rename(struct db *db, const char *name, const char *new_name, struct err *err)
{
	int64_t rc;
	if (db__check_key("new_name", new_name, err) < 0 || model_must_exist(db, name, err) < 0)
		return -1;
	rc = db__run(db, "UPDATE models SET name = $1, last_updated_time = $2 WHERE name = $3",
		     DB__ARGS(DB__T(new_name), DB__I(db_now_ms()), DB__T(name)), err);
	if (rc == DB__CONFLICT) {
		err_clear(err);
		return err_set(err, ERR_INVALID, "Registered Model (name=%s) already exists",
			       new_name);
	}
	return rc < 0 ? -1 : 0;
}

int db_model_set_description(struct db *db, const char *name, const char *description,
			     struct err *err)
{
	if (model_must_exist(db, name, err) < 0)
		return -1;
	return db__run(db,
		       "UPDATE models SET description = $1, last_updated_time = $2 WHERE name = $3",
		       DB__ARGS(DB__T(description ? description : ""), DB__I(db_now_ms()),
				DB__T(name)),
		       err) < 0
		       ? -1
		       : 0;
}

int db_model_delete(struct db *db, const char *name, struct err *err)
{
	int64_t n = db__run(db, "DELETE FROM models WHERE name = $1",
			    DB__ARGS(DB__T(name ? name : "")), err);
	if (n < 0)
		return -1;
	return n ? 0 : model_not_found(name, err);
}

int db_model_set_tag(struct db *db, const char *name, const char *key, const char *value,
		     struct err *err)
{
	if (db__check_key("tag key", key, err) < 0 ||
	    db__check_value("tag value", value, DB_MAX_TAG_VALUE, err) < 0 ||
	    model_must_exist(db, name, err) < 0)
		return -1;
	return db__run(db,
		       "INSERT INTO model_tags (name, key, value) VALUES ($1, $2, $3)"
		       " ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
		       DB__ARGS(DB__T(name), DB__T(key), DB__T(value ? value : "")), err) < 0
		       ? -1
		       : 0;
}

int db_model_delete_tag(struct db *db, const char *name, const char *key, struct err *err)
{
	int64_t n;
	if (model_must_exist(db, name, err) < 0)
		return -1;
	n = db__run(db, "DELETE FROM model_tags WHERE name = $1 AND key = $2",
		    DB__ARGS(DB__T(name), DB__T(key ? key : "")), err);
	if (n < 0)
		return -1;
	return n ? 0
		 : err_set(err, ERR_NOTFOUND, "no tag '%s' on model '%s'", key ? key : "", name);
}

static int model_cond(struct db__qb *q, const struct db_cond *c, struct err *err)
{
	if (!db__op_sql(c->op))
		return err_set(err, ERR_INVALID, "invalid comparison operator");
	if (!c->key || !*c->key)
		return err_set(err, ERR_INVALID, "filter condition without a key");
	db__qb_addf(q, " AND ");
	if (c->field == DB_FIELD_TAG) {
		int nk = db__qb_val(q, DB__T(c->key));
		db__qb_addf(q,
			    "EXISTS (SELECT 1 FROM model_tags x WHERE x.name = models.name AND"
			    " x.key = $%d AND ",
			    nk);
		db__qb_str_cmp(q, "x.value", c->op, c->str);
		db__qb_addf(q, ")");
		return 0;
	}
	if (c->field == DB_FIELD_ATTR && strcmp(c->key, "name") == 0) {
		db__qb_str_cmp(q, "name", c->op, c->str);
		return 0;
	}
	return err_set(err, ERR_INVALID, "invalid registered model filter key '%s'", c->key);
}

static int model_order(struct db__qb *q, const struct db_order *o, struct err *err)
{
	static const char *const keys[] = {"name", "creation_time", "last_updated_time"};
	size_t i;
	for (i = 0; o->field == DB_FIELD_ATTR && o->key && i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(o->key, keys[i]) == 0) {
			db__qb_addf(q, "%s %s, ", keys[i], o->desc ? "DESC" : "ASC");
			return 0;
		}
	return err_set(err, ERR_INVALID, "invalid order_by key '%s'", o->key ? o->key : "");
}

int db_model_search(struct db *db, const struct db_model_query *in, struct db_model_list *out,
		    struct err *err)
{
	struct db__qb q = DB__QB_INIT;
	struct db__stmt *st = NULL;
	size_t offset, limit, i;
	int rc = DB__FAIL;
	memset(out, 0, sizeof(*out));
	if (db__page_offset(&in->page, 100, &offset, &limit, err) < 0)
		return -1;
	db__qb_addf(&q, "SELECT " MODEL_COLS " FROM models WHERE 1 = 1");
	for (i = 0; i < in->n_conds; i++)
		if (model_cond(&q, &in->conds[i], err) < 0)
			goto out;
	db__qb_addf(&q, " ORDER BY ");
	for (i = 0; i < in->n_order; i++)
		if (model_order(&q, &in->order[i], err) < 0)
			goto out;
	db__qb_addf(&q, "name LIMIT $%d", db__qb_val(&q, DB__I(limit + 1)));
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
				 model_from_row, &out->next_token, err);
		out->v = items;
	}
	for (i = 0; rc >= 0 && i < out->n; i++)
		if (model_children(db, &out->v[i], err) < 0)
			rc = DB__FAIL;
out:
	db__qb_release(&q);
	if (rc < 0) {
		db_model_list_release(out);
		return -1;
	}
	return 0;
}

/* ---- versions ---- */

static int version_not_found(const char *name, int64_t version, struct err *err)
{
	return err_set(err, ERR_NOTFOUND, "Model Version (name=%s, version=%lld) not found",
		       name ? name : "", (long long)version);
}

static int version_from_row(struct db *db, struct db__stmt *st, void *item, struct err *err)
{
	struct db_version *v = item;
	char **dst[] = {&v->name,
			&v->user_id,
			&v->stage,
			&v->description,
			&v->source,
			&v->run_id,
			&v->status,
			&v->run_link,
			&v->lineage.bundle_sha256,
			&v->lineage.git_commit,
			&v->lineage.data_sha256,
			&v->lineage.workflow_run};
	static const int cols[] = {0, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
	size_t i;
	memset(v, 0, sizeof(*v));
	v->version = db->ops->col_int(st, 1);
	v->creation_time = db->ops->col_int(st, 2);
	v->last_updated_time = db->ops->col_int(st, 3);
	for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		if (db__col_dup(db, st, cols[i], dst[i], err) < 0)
			return -1;
	return 0;
}

static int version_children(struct db *db, struct db_version *v, struct err *err)
{
	struct db__stmt *st;
	int rc;
	if (db__load_kv(db,
			"SELECT key, value FROM model_version_tags WHERE name = $1 AND version = $2"
			" ORDER BY key",
			DB__ARGS(DB__T(v->name), DB__I(v->version)), &v->tags, err) < 0)
		return -1;
	st = db__query(db,
		       "SELECT alias FROM model_aliases WHERE name = $1 AND version = $2"
		       " ORDER BY alias",
		       DB__ARGS(DB__T(v->name), DB__I(v->version)), err);
	if (!st)
		return -1;
	while ((rc = db->ops->step(st, err)) == DB__ROW) {
		char **a = db__grow(v->aliases, v->n_aliases, sizeof(*a));
		if (!a) {
			err_set(err, ERR_NOMEM, "out of memory");
			rc = DB__FAIL;
			break;
		}
		v->aliases = a;
		if (db__col_dup(db, st, 0, &a[v->n_aliases], err) < 0) {
			rc = DB__FAIL;
			break;
		}
		v->n_aliases++;
	}
	db->ops->finish(st);
	return rc < 0 ? -1 : 0;
}

/* Runs a query for versions and appends every row, with children, to out. */
static int version_rows(struct db *db, const char *sql, const struct db__val *args, size_t nargs,
			size_t limit, size_t offset, struct db_version_list *out, struct err *err)
{
	struct db__stmt *st = db__query(db, sql, args, nargs, err);
	size_t i, first = out->n;
	int rc;
	if (!st)
		return -1;
	{
		void *items = out->v;
		rc = db__collect(db, st, limit, offset, &items, &out->n, sizeof(*out->v),
				 version_from_row, &out->next_token, err);
		out->v = items;
	}
	for (i = first; rc >= 0 && i < out->n; i++)
		if (version_children(db, &out->v[i], err) < 0)
			rc = DB__FAIL;
	return rc < 0 ? -1 : 0;
}

int db_version_get(struct db *db, const char *name, int64_t version, struct db_version *out,
		   struct err *err)
{
	struct db_version_list l = {0};
	memset(out, 0, sizeof(*out));
	if (version_rows(db,
			 "SELECT " VERSION_COLS " FROM model_versions WHERE name = $1 AND"
			 " version = $2",
			 DB__ARGS(DB__T(name ? name : ""), DB__I(version)), 1, 0, &l, err) < 0) {
		db_version_list_release(&l);
		return -1;
	}
	if (l.n == 0) {
		db_version_list_release(&l);
		return version_not_found(name, version, err);
	}
	*out = l.v[0];
	memset(&l.v[0], 0, sizeof(l.v[0]));
	db_version_list_release(&l);
	return 0;
}

static int version_must_exist(struct db *db, const char *name, int64_t version, struct err *err)
{
	int64_t t;
	int rc = db__one_int(
		db, "SELECT creation_time FROM model_versions WHERE name = $1 AND version = $2",
		DB__ARGS(DB__T(name ? name : ""), DB__I(version)), &t, err);
	if (rc < 0)
		return -1;
	return rc ? 0 : version_not_found(name, version, err);
}

static int version_tag_upsert(struct db *db, const char *name, int64_t version, const char *key,
			      const char *value, struct err *err)
{
	return db__run(db,
		       "INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2,"
		       " $3, $4) ON CONFLICT (name, version, key) DO UPDATE SET value ="
		       " excluded.value",
		       DB__ARGS(DB__T(name), DB__I(version), DB__T(key), DB__T(value ? value : "")),
		       err) < 0
		       ? -1
		       : 0;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

int db_version_create(struct db *db, const struct db_version_create *in, struct db_version *out,
		      struct err *err)
{
	int64_t now = db_now_ms(), version = 0;
	size_t i;
	int ok = 0, rc;
	memset(out, 0, sizeof(*out));
	if (!in->source || !*in->source)
		return err_set(err, ERR_INVALID, "missing value for source");
	for (i = 0; i < in->ntags; i++)
		if (db__check_key("tag key", in->tags[i].key, err) < 0 ||
		    db__check_value("tag value", in->tags[i].value, DB_MAX_TAG_VALUE, err) < 0)
			return -1;
	if (db__tx_begin(db, err) < 0)
		return -1;
	/* The counter row is locked by this UPDATE: concurrent creates get distinct numbers. */
	rc = db__one_int(db,
			 "UPDATE models SET next_version = next_version + 1, last_updated_time = $1"
			 " WHERE name = $2 RETURNING next_version",
			 DB__ARGS(DB__I(now), DB__T(nz(in->name))), &version, err);
	if (rc < 0)
		goto end;
	if (rc == 0) {
		model_not_found(in->name, err);
		goto end;
	}
	if (db__run(db,
		    "INSERT INTO model_versions (" VERSION_COLS ") VALUES ($1, $2, $3, $3, $4,"
		    " 'None', $5, $6, $7, 'READY', $8, $9, $10, $11, $12)",
		    DB__ARGS(DB__T(in->name), DB__I(version), DB__I(now), DB__T(nz(in->user_id)),
			     DB__T(nz(in->description)), DB__T(in->source), DB__T(nz(in->run_id)),
			     DB__T(nz(in->run_link)), DB__T(nz(in->bundle_sha256)),
			     DB__T(nz(in->git_commit)), DB__T(nz(in->data_sha256)),
			     DB__T(nz(in->workflow_run))),
		    err) < 0)
		goto end;
	for (i = 0; i < in->ntags; i++)
		if (version_tag_upsert(db, in->name, version, in->tags[i].key, in->tags[i].value,
				       err) < 0)
			goto end;
	ok = 1;
end:
	if (db__tx_end(db, ok, err) < 0)
		return -1;
	return db_version_get(db, in->name, version, out, err);
}

int db_version_set_description(struct db *db, const char *name, int64_t version,
			       const char *description, struct err *err)
{
	if (version_must_exist(db, name, version, err) < 0)
		return -1;
	return db__run(db,
		       "UPDATE model_versions SET description = $1, last_updated_time = $2"
		       " WHERE name = $3 AND version = $4",
		       DB__ARGS(DB__T(nz(description)), DB__I(db_now_ms()), DB__T(name),
				DB__I(version)),
		       err) < 0
		       ? -1
		       : 0;
}

int db_version_delete(struct db *db, const char *name, int64_t version, struct err *err)
{
	int ok = 0;
	int64_t n;
	if (db__tx_begin(db, err) < 0)
		return -1;
	n = db__run(db, "DELETE FROM model_versions WHERE name = $1 AND version = $2",
		    DB__ARGS(DB__T(nz(name)), DB__I(version)), err);
	if (n < 0)
		goto end;
	if (n == 0) {
		version_not_found(name, version, err);
		goto end;
	}
	ok = model_touch(db, name, err) == 0;
end:
	return db__tx_end(db, ok, err);
}

int db_version_set_tag(struct db *db, const char *name, int64_t version, const char *key,
		       const char *value, struct err *err)
{
	if (db__check_key("tag key", key, err) < 0 ||
	    db__check_value("tag value", value, DB_MAX_TAG_VALUE, err) < 0 ||
	    version_must_exist(db, name, version, err) < 0)
		return -1;
	return version_tag_upsert(db, name, version, key, value, err);
}

int db_version_delete_tag(struct db *db, const char *name, int64_t version, const char *key,
			  struct err *err)
{
	int64_t n;
	if (version_must_exist(db, name, version, err) < 0)
		return -1;
	n = db__run(db,
		    "DELETE FROM model_version_tags WHERE name = $1 AND version = $2 AND key = $3",
		    DB__ARGS(DB__T(name), DB__I(version), DB__T(nz(key))), err);
	if (n < 0)
		return -1;
	return n ? 0
		 : err_set(err, ERR_NOTFOUND, "no tag '%s' on version %lld of model '%s'", nz(key),
			   (long long)version, name);
}

int db_version_set_stage(struct db *db, const char *name, int64_t version, const char *stage,
			 int archive_existing, struct err *err)
{
	const char *canon = db_stage_canonical(stage);
	int64_t now = db_now_ms();
	int ok = 0;
	if (!canon)
		return err_set(err, ERR_INVALID,
			       "invalid stage '%s' (None, Staging, Production, Archived)",
			       nz(stage));
	if (db__tx_begin(db, err) < 0)
		return -1;
	if (version_must_exist(db, name, version, err) < 0)
		goto end;
	if (archive_existing && strcmp(canon, DB_STAGE_NONE) != 0 &&
	    strcmp(canon, DB_STAGE_ARCHIVED) != 0 &&
	    db__run(db,
		    "UPDATE model_versions SET stage = 'Archived', last_updated_time = $1"
		    " WHERE name = $2 AND stage = $3 AND version != $4",
		    DB__ARGS(DB__I(now), DB__T(name), DB__T(canon), DB__I(version)), err) < 0)
		goto end;
	if (db__run(db,
		    "UPDATE model_versions SET stage = $1, last_updated_time = $2"
		    " WHERE name = $3 AND version = $4",
		    DB__ARGS(DB__T(canon), DB__I(now), DB__T(name), DB__I(version)), err) < 0)
		goto end;
	ok = model_touch(db, name, err) == 0;
end:
	return db__tx_end(db, ok, err);
}

int db_version_search(struct db *db, const char *name, const char *run_id,
		      const struct db_page *page, struct db_version_list *out, struct err *err)
{
	size_t offset, limit;
	memset(out, 0, sizeof(*out));
	if (db__page_offset(page, 1000, &offset, &limit, err) < 0)
		return -1;
	if (version_rows(db,
			 "SELECT " VERSION_COLS " FROM model_versions WHERE ($1 = 0 OR name = $2)"
			 " AND ($3 = 0 OR run_id = $4) ORDER BY name, version DESC"
			 " LIMIT $5 OFFSET $6",
			 DB__ARGS(DB__I(name ? 1 : 0), DB__T(nz(name)), DB__I(run_id ? 1 : 0),
				  DB__T(nz(run_id)), DB__I(limit + 1), DB__I(offset)),
			 limit, offset, out, err) < 0) {
		db_version_list_release(out);
		return -1;
	}
	return 0;
}

int db_version_latest(struct db *db, const char *name, const char *const *stages, size_t nstages,
		      struct db_version_list *out, struct err *err)
{
	static const char *const all[] = {DB_STAGE_NONE, DB_STAGE_STAGING, DB_STAGE_PRODUCTION,
					  DB_STAGE_ARCHIVED};
	size_t i;
	memset(out, 0, sizeof(*out));
	if (model_must_exist(db, name, err) < 0)
		return -1;
	if (nstages == 0) {
		stages = all;
		nstages = sizeof(all) / sizeof(all[0]);
	}
	for (i = 0; i < nstages; i++) {
		const char *canon = db_stage_canonical(stages[i]);
		if (!canon) {
			err_set(err, ERR_INVALID, "invalid stage '%s'", nz(stages[i]));
			goto fail;
		}
		if (version_rows(db,
				 "SELECT " VERSION_COLS " FROM model_versions WHERE name = $1 AND"
				 " stage = $2 ORDER BY version DESC LIMIT 1",
				 DB__ARGS(DB__T(name), DB__T(canon)), 1, 0, out, err) < 0)
			goto fail;
	}
	return 0;
fail:
	db_version_list_release(out);
	return -1;
}

/* ---- aliases ---- */

/* The version alias points at now into *cur (0: unset). */
static int alias_current(struct db *db, const char *name, const char *alias, int64_t *cur,
			 struct err *err)
{
	int rc = db__one_int(db, "SELECT version FROM model_aliases WHERE name = $1 AND alias = $2",
			     DB__ARGS(DB__T(name), DB__T(alias)), cur, err);
	if (rc == 0)
		*cur = 0;
	return rc < 0 ? -1 : 0;
}

/* Points alias at version and records the move (inside a transaction). */
static int alias_move(struct db *db, const char *name, const char *alias, int64_t version,
		      const char *kind, struct err *err)
{
	int64_t cur = 0;
	if (alias_current(db, name, alias, &cur, err) < 0)
		return -1;
	if (db__run(db,
		    "INSERT INTO model_aliases (name, alias, version) VALUES ($1, $2, $3)"
		    " ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
		    DB__ARGS(DB__T(name), DB__T(alias), DB__I(version)), err) < 0)
		return -1;
	if (cur != version &&
	    db__run(db,
		    "INSERT INTO model_alias_moves (name, alias, from_version, to_version, time,"
		    " kind) VALUES ($1, $2, $3, $4, $5, $6)",
		    DB__ARGS(DB__T(name), DB__T(alias), DB__I(cur), DB__I(version),
			     DB__I(db_now_ms()), DB__T(kind)),
		    err) < 0)
		return -1;
	return model_touch(db, name, err);
}

/*
 * Pops the newest "set" move not undone yet: *id and *back (where the alias
 * was before it). Returns 1 popped, 0 nothing left to pop (the bottom of
 * the stack is the move that created the alias), -1 on error.
 */
static int alias_pop(struct db *db, const char *name, const char *alias, int64_t *back,
		     struct err *err)
{
	int64_t id = 0;
	int rc = db__one_int(db,
			     "SELECT MAX(id) FROM model_alias_moves WHERE name = $1 AND alias = $2"
			     " AND kind = 'set' AND undone = 0",
			     DB__ARGS(DB__T(name), DB__T(alias)), &id, err);
	if (rc < 0)
		return -1;
	if (rc == 0 || id <= 0) /* MAX of no rows is NULL: read as 0 */
		return 0;
	if (db__one_int(db, "SELECT from_version FROM model_alias_moves WHERE id = $1",
			DB__ARGS(DB__I(id)), back, err) < 0)
		return -1;
	if (*back <= 0)
		return 0;
	return db__run(db, "UPDATE model_alias_moves SET undone = 1 WHERE id = $1",
		       DB__ARGS(DB__I(id)), err) < 0
		       ? -1
		       : 1;
}

int db_alias_rollback(struct db *db, const char *name, const char *alias, int64_t *from,
		      int64_t *to, struct err *err)
{
	int64_t back = 0, t;
	int ok = 0, rc;
	*from = *to = 0;
	if (db__check_key("alias", alias, err) < 0)
		return -1;
	if (db__tx_begin(db, err) < 0)
		return -1;
	if (model_must_exist(db, name, err) < 0 || alias_current(db, name, alias, from, err) < 0)
		goto end;
	for (;;) {
		rc = alias_pop(db, name, alias, &back, err);
		if (rc < 0)
			goto end;
		if (rc == 0) {
			err_set(err, ERR_INVALID,
				"alias '%s' of model '%s' has no earlier version to roll back to",
				alias, name);
			goto end;
		}
		if (back == *from)
			continue;
		rc = db__one_int(
			db,
			"SELECT creation_time FROM model_versions WHERE name = $1 AND version = $2",
			DB__ARGS(DB__T(name), DB__I(back)), &t, err);
		if (rc < 0)
			goto end;
		if (rc == 1)
			break; /* else deleted since: skip it */
	}
	if (alias_move(db, name, alias, back, "rollback", err) < 0)
		goto end;
	*to = back;
	ok = 1;
end:
	return db__tx_end(db, ok, err);
}

void db_alias_move_list_release(struct db_alias_move_list *l)
{
	mem_free(l->v);
	l->v = NULL;
	l->n = 0;
}

int db_alias_history(struct db *db, const char *name, const char *alias,
		     struct db_alias_move_list *out, struct err *err)
{
	struct db__stmt *st;
	int rc;
	memset(out, 0, sizeof(*out));
	if (model_must_exist(db, name, err) < 0)
		return -1;
	st = db__query(db,
		       "SELECT from_version, to_version, time, kind, undone FROM model_alias_moves"
		       " WHERE name = $1 AND alias = $2 ORDER BY id DESC LIMIT 1000",
		       DB__ARGS(DB__T(name), DB__T(nz(alias))), err);
	if (!st)
		return -1;
	while ((rc = db->ops->step(st, err)) == DB__ROW) {
		struct db_alias_move *m = db__grow(out->v, out->n, sizeof(*m));
		const char *kind = db->ops->col_text(st, 3);
		if (!m) {
			err_set(err, ERR_NOMEM, "out of memory");
			rc = DB__FAIL;
			break;
		}
		out->v = m;
		m += out->n++;
		m->from_version = db->ops->col_int(st, 0);
		m->to_version = db->ops->col_int(st, 1);
		m->time = db->ops->col_int(st, 2);
		snprintf(m->kind, sizeof(m->kind), "%s", kind ? kind : "");
		m->undone = (int)db->ops->col_int(st, 4);
	}
	db->ops->finish(st);
	if (rc < 0) {
		db_alias_move_list_release(out);
		return -1;
	}
	return 0;
}

int db_alias_set(struct db *db, const char *name, const char *alias, int64_t version,
		 struct err *err)
{
	int ok = 0;
	if (db__check_key("alias", alias, err) < 0)
		return -1;
	if (db__tx_begin(db, err) < 0)
		return -1;
	if (version_must_exist(db, name, version, err) < 0)
		goto end;
	ok = alias_move(db, name, alias, version, "set", err) == 0;
end:
	return db__tx_end(db, ok, err);
}

int db_alias_delete(struct db *db, const char *name, const char *alias, struct err *err)
{
	int64_t n;
	if (model_must_exist(db, name, err) < 0)
		return -1;
	n = db__run(db, "DELETE FROM model_aliases WHERE name = $1 AND alias = $2",
		    DB__ARGS(DB__T(name), DB__T(nz(alias))), err);
	if (n < 0)
		return -1;
	return n ? 0
		 : err_set(err, ERR_NOTFOUND, "Registered model alias %s not found.", nz(alias));
}

int db_alias_resolve(struct db *db, const char *name, const char *alias, struct db_version *out,
		     struct err *err)
{
	int64_t version = 0;
	int rc;
	memset(out, 0, sizeof(*out));
	rc = db__one_int(db, "SELECT version FROM model_aliases WHERE name = $1 AND alias = $2",
			 DB__ARGS(DB__T(nz(name)), DB__T(nz(alias))), &version, err);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		if (model_must_exist(db, name, err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "Registered model alias %s not found.",
			       nz(alias));
	}
	return db_version_get(db, name, version, out, err);
}

/*
 * db_test.c - the store's test suite, one suite for every backend: SQLite in
 * a temporary directory by default, PostgreSQL when KILN_TEST_PG holds a
 * postgres:// URL (each test then starts from an empty public schema).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "base/buf.h"
#include "base/mem.h"
#include "store/db.h"
#include "store/internal.h"

struct fixture {
	char dir[64];
	char url[128];
	struct db *db;
};

static const char *pg_url(void)
{
	const char *u = getenv("KILN_TEST_PG");
	return u && *u ? u : NULL;
}

static void pg_reset(const char *url)
{
	PGconn *c = PQconnectdb(url);
	PGresult *r;
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	r = PQexec(c, "SET client_min_messages = warning;"
		      " DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	PQfinish(c);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct err err = ERR_INIT;
	assert_non_null(f);
	if (pg_url()) {
		pg_reset(pg_url());
		snprintf(f->url, sizeof(f->url), "%s", pg_url());
	} else {
		snprintf(f->dir, sizeof(f->dir), "/tmp/kiln-db-test.XXXXXX");
		assert_non_null(mkdtemp(f->dir));
		snprintf(f->url, sizeof(f->url), "sqlite:%s/kiln.db", f->dir);
	}
	if (db_open(&f->db, f->url, NULL, &err) < 0)
		fail_msg("db_open: %s", err.msg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	db_close(f->db);
	if (f->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
		assert_int_equal(system(cmd), 0);
	}
	free(f);
	return 0;
}

#define OK(call)                                                                                   \
	do {                                                                                       \
		struct err e_ = ERR_INIT;                                                          \
		struct err *err = &e_;                                                             \
		if ((call) < 0)                                                                    \
			fail_msg("%s: %s", #call, e_.msg);                                         \
	} while (0)

/* The call must fail with code; its message goes to msg (if non-NULL). */
#define FAILS(want_code, want_msg, call)                                                           \
	do {                                                                                       \
		struct err e_ = ERR_INIT;                                                          \
		struct err *err = &e_;                                                             \
		const char *w_ = (want_msg);                                                       \
		if ((call) == 0)                                                                   \
			fail_msg("%s succeeded", #call);                                           \
		if (e_.code != (want_code))                                                        \
			fail_msg("%s: code %s, want %s (%s)", #call, err_name(e_.code),            \
				 err_name(want_code), e_.msg);                                     \
		if (w_ && !strstr(e_.msg, w_))                                                     \
			fail_msg("%s: message '%s' lacks '%s'", #call, e_.msg, w_);                \
	} while (0)

static int64_t new_experiment(struct db *db, const char *name)
{
	int64_t id = -1;
	OK(db_experiment_create(db, name, NULL, NULL, 0, &id, err));
	return id;
}

static void new_run(struct db *db, int64_t exp, int64_t start, struct db_run *r)
{
	struct db_run_create in = {exp, NULL, "ci", start, NULL, 0};
	OK(db_run_create(db, &in, r, err));
}

/* ---- open and migrations ---- */

static void test_open_migrates_and_has_default_experiment(void **state)
{
	struct fixture *f = *state;
	struct db *again = NULL;
	struct db_experiment e = {0};
	int64_t v = 0;
	OK(db_schema_version(f->db, &v, err));
	assert_true(v >= 1);
	OK(db_experiment_get(f->db, 0, &e, err));
	assert_string_equal(e.name, "Default");
	assert_string_equal(e.artifact_location, "mlflow-artifacts:/0");
	db_experiment_release(&e);
	/* Opening again migrates nothing and keeps the data. */
	OK(db_open(&again, f->url, NULL, err));
	OK(db_schema_version(again, &v, err));
	assert_true(v >= 1);
	db_close(again);
	assert_string_equal(db_backend(f->db), pg_url() ? "postgres" : "sqlite");
}

static void test_open_refuses_newer_schema(void **state)
{
	struct fixture *f = *state;
	struct db *again = NULL;
	struct err e = ERR_INIT;
	assert_true(db__run(f->db, "INSERT INTO schema_version (version) VALUES ($1)",
			    DB__ARGS(DB__I(999)), &e) >= 0);
	assert_int_equal(db_open(&again, f->url, NULL, &e), -1);
	assert_int_equal(e.code, ERR_VERSION);
	assert_non_null(strstr(e.msg, "newer than this kiln"));
	assert_null(again);
}

static void test_open_rejects_unknown_url(void **state)
{
	struct db *db = NULL;
	FAILS(ERR_USAGE, "unknown database URL", db_open(&db, "mysql://x/y", NULL, err));
	FAILS(ERR_USAGE, "no database", db_open(&db, NULL, NULL, err));
	FAILS(ERR_IO, "cannot open database",
	      db_open(&db, "sqlite:/nonexistent/dir/x.db", NULL, err));
	FAILS(ERR_IO, "postgres: cannot connect",
	      db_open(&db, "postgresql:///x?host=/nonexistent&port=1&connect_timeout=2", NULL,
		      err));
	assert_null(db);
}

static void test_open_home_creates_directory(void **state)
{
	char dir[64] = "/tmp/kiln-db-home.XXXXXX", home[128], cmd[160];
	struct db *db = NULL;
	assert_non_null(mkdtemp(dir));
	snprintf(home, sizeof(home), "%s/a/b", dir);
	OK(db_open(&db, NULL, home, err));
	db_close(db);
	snprintf(cmd, sizeof(cmd), "test -f '%s/kiln.db' && rm -rf '%s'", home, dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- experiments ---- */

static void test_experiment_create_get_and_duplicate(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_kv_ref tags[] = {{"team", "ml"}};
	struct db_experiment e = {0};
	int64_t id = -1;
	OK(db_experiment_create(db, "spam", NULL, tags, 1, &id, err));
	assert_true(id > 0);
	OK(db_experiment_get_by_name(db, "spam", &e, err));
	assert_int_equal(e.id, id);
	assert_int_equal(e.deleted, 0);
	assert_true(e.creation_time > 1600000000000LL);
	assert_int_equal(e.tags.n, 1);
	assert_string_equal(e.tags.v[0].key, "team");
	assert_string_equal(e.tags.v[0].value, "ml");
	db_experiment_release(&e);
	{
		struct err x = ERR_INIT;
		assert_int_equal(db_experiment_create(db, "spam", NULL, NULL, 0, &id, &x), -1);
		assert_int_equal(x.code, ERR_INVALID);
		assert_true(db_err_is_exists(&x));
	}
	FAILS(ERR_INVALID, "missing value", db_experiment_create(db, "", NULL, NULL, 0, &id, err));
	FAILS(ERR_NOTFOUND, "No Experiment with id=12345", db_experiment_get(db, 12345, &e, err));
	FAILS(ERR_NOTFOUND, "Could not find experiment",
	      db_experiment_get_by_name(db, "x", &e, err));
	/* A failed create leaves the store usable. */
	assert_true(new_experiment(db, "ham") > id);
}

static void test_experiment_rename_delete_restore_tag(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	int64_t a = new_experiment(db, "a"), b = new_experiment(db, "b");
	struct db_experiment e = {0};
	OK(db_experiment_rename(db, a, "a2", err));
	FAILS(ERR_INVALID, "already exists", db_experiment_rename(db, a, "b", err));
	FAILS(ERR_NOTFOUND, NULL, db_experiment_rename(db, 999, "z", err));
	OK(db_experiment_set_deleted(db, b, 1, err));
	OK(db_experiment_set_tag(db, a, "k", "v1", err));
	OK(db_experiment_set_tag(db, a, "k", "v2", err));
	OK(db_experiment_get(db, b, &e, err));
	assert_int_equal(e.deleted, 1);
	db_experiment_release(&e);
	OK(db_experiment_get(db, a, &e, err));
	assert_string_equal(e.name, "a2");
	assert_int_equal(e.tags.n, 1);
	assert_string_equal(e.tags.v[0].value, "v2");
	db_experiment_release(&e);
	OK(db_experiment_set_deleted(db, b, 0, err));
	FAILS(ERR_INVALID, "default", db_experiment_set_deleted(db, 0, 1, err));
}

static void test_experiment_search_views_filters_and_pages(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_experiment_list l = {0};
	struct db_cond like = {DB_FIELD_ATTR, "name", DB_OP_LIKE, "exp-%", 0};
	struct db_cond tag = {DB_FIELD_TAG, "team", DB_OP_EQ, "ml", 0};
	struct db_cond bad = {DB_FIELD_ATTR, "owner", DB_OP_EQ, "x", 0};
	struct db_order by_name_desc = {DB_FIELD_ATTR, "name", 1};
	struct db_experiment_query q = {DB_VIEW_DELETED, NULL, 0, NULL, 0, {0, NULL}};
	char name[32], *token = NULL;
	size_t seen = 0;
	int i;
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "exp-%d", i);
		new_experiment(db, name);
	}
	OK(db_experiment_set_tag(db, 2, "team", "ml", err));
	OK(db_experiment_set_deleted(db, 1, 1, err));
	OK(db_experiment_search(db, &q, &l, err));
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].id, 1);
	db_experiment_list_release(&l);
	q.view = DB_VIEW_ALL;
	q.conds = &like;
	q.n_conds = 1;
	q.order = &by_name_desc;
	q.n_order = 1;
	OK(db_experiment_search(db, &q, &l, err));
	assert_int_equal(l.n, 5);
	assert_string_equal(l.v[0].name, "exp-4");
	db_experiment_list_release(&l);
	q.conds = &tag;
	OK(db_experiment_search(db, &q, &l, err));
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].id, 2);
	assert_int_equal(l.v[0].tags.n, 1);
	db_experiment_list_release(&l);
	q.conds = &bad;
	FAILS(ERR_INVALID, "invalid experiment attribute 'owner'",
	      db_experiment_search(db, &q, &l, err));
	q.conds = NULL;
	q.n_conds = 0;
	q.order = NULL;
	q.n_order = 0;
	/* Active: Default + 4; pages of 2 cover them once, the last has no token. */
	q.view = DB_VIEW_ACTIVE;
	q.page.max_results = 2;
	do {
		q.page.token = token;
		OK(db_experiment_search(db, &q, &l, err));
		seen += l.n;
		free(token);
		token = l.next_token ? strdup(l.next_token) : NULL;
		db_experiment_list_release(&l);
	} while (token);
	assert_int_equal(seen, 5);
	q.page.token = "garbage";
	FAILS(ERR_INVALID, "invalid page token", db_experiment_search(db, &q, &l, err));
	q.page.token = "kp1.-5";
	FAILS(ERR_INVALID, "invalid page token", db_experiment_search(db, &q, &l, err));
	q.page.token = NULL;
	q.page.max_results = DB_MAX_RESULTS + 1;
	FAILS(ERR_INVALID, "max_results", db_experiment_search(db, &q, &l, err));
}

/* ---- runs ---- */

static void test_run_create_defaults(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_run r = {0}, g = {0};
	struct db_run_create in = {0, "my-run", "ci", 1700000000000LL, NULL, 0};
	size_t i;
	new_run(db, 0, 0, &r);
	assert_int_equal(strlen(r.run_id), 32);
	assert_int_equal(strspn(r.run_id, "0123456789abcdef"), 32);
	assert_int_equal(r.status, DB_RUN_RUNNING);
	assert_int_equal(r.end_time, 0);
	assert_true(r.start_time > 1600000000000LL);
	assert_true(strlen(r.run_name) > 4);
	assert_non_null(strstr(r.artifact_uri, "mlflow-artifacts:/0/"));
	assert_non_null(strstr(r.artifact_uri, r.run_id));
	assert_int_equal(r.tags.n, 1);
	assert_string_equal(r.tags.v[0].key, "mlflow.runName");
	assert_string_equal(r.tags.v[0].value, r.run_name);
	OK(db_run_create(db, &in, &g, err));
	assert_string_equal(g.run_name, "my-run");
	assert_int_equal(g.start_time, 1700000000000LL);
	assert_string_equal(g.user_id, "ci");
	assert_string_not_equal(g.run_id, r.run_id);
	for (i = 0; i < 2; i++)
		db_run_release(i ? &g : &r);
	in.experiment_id = 77;
	FAILS(ERR_NOTFOUND, "No Experiment", db_run_create(db, &in, &r, err));
	FAILS(ERR_NOTFOUND, "Run with id=nope not found", db_run_get(db, "nope", &r, err));
	FAILS(ERR_NOTFOUND, "not found",
	      db_run_get(db, "0123456789abcdef0123456789abcdef", &r, err));
	in.experiment_id = new_experiment(db, "gone");
	OK(db_experiment_set_deleted(db, in.experiment_id, 1, err));
	FAILS(ERR_INVALID, "deleted", db_run_create(db, &in, &r, err));
}

static void test_log_batch_stores_everything(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_run r = {0}, g = {0};
	struct db_metric_ref m[] = {{"acc", 0.5, 1000, 0},
				    {"acc", 0.9, 1001, 2},
				    {"acc", 0.7, 1002, 1},
				    {"loss", 1.5, 1000, 0}};
	struct db_kv_ref p[] = {{"C", "1.0"}, {"solver", "liblinear"}};
	struct db_kv_ref t[] = {{"team", "ml"}};
	new_run(db, 0, 0, &r);
	OK(db_run_log_batch(db, r.run_id, m, 4, p, 2, t, 1, err));
	OK(db_run_get(db, r.run_id, &g, err));
	assert_int_equal(g.n_metrics, 2);
	assert_string_equal(g.metrics[0].key, "acc");
	/* The latest is the max by step, not the last logged. */
	assert_true(g.metrics[0].value == 0.9);
	assert_int_equal(g.metrics[0].step, 2);
	assert_int_equal(g.metrics[0].timestamp, 1001);
	assert_string_equal(g.metrics[1].key, "loss");
	assert_int_equal(g.params.n, 2);
	assert_string_equal(g.params.v[0].key, "C");
	assert_string_equal(g.params.v[0].value, "1.0");
	assert_int_equal(g.tags.n, 2);
	db_run_release(&g);
	db_run_release(&r);
}

static void test_log_batch_is_all_or_nothing(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_run r = {0}, g = {0};
	struct db_metric_ref m[] = {{"acc", 0.5, 1000, 0}};
	struct db_kv_ref p1[] = {{"C", "1.0"}};
	struct db_kv_ref p2[] = {{"D", "x"}, {"C", "2.0"}};
	struct db_metric_ref *many;
	size_t i;
	new_run(db, 0, 0, &r);
	OK(db_run_log_param(db, r.run_id, "C", "1.0", err));
	/* The same value again is fine, another is not, and the batch leaves nothing. */
	OK(db_run_log_batch(db, r.run_id, NULL, 0, p1, 1, NULL, 0, err));
	FAILS(ERR_INVALID, "Changing param values is not allowed",
	      db_run_log_batch(db, r.run_id, m, 1, p2, 2, NULL, 0, err));
	OK(db_run_get(db, r.run_id, &g, err));
	assert_int_equal(g.n_metrics, 0);
	assert_int_equal(g.params.n, 1);
	db_run_release(&g);
	many = calloc(DB_MAX_BATCH_METRICS + 1, sizeof(*many));
	assert_non_null(many);
	for (i = 0; i <= DB_MAX_BATCH_METRICS; i++)
		many[i] = (struct db_metric_ref){"k", (double)i, 1, (int64_t)i};
	FAILS(ERR_INVALID, "batch too large",
	      db_run_log_batch(db, r.run_id, many, DB_MAX_BATCH_METRICS + 1, NULL, 0, NULL, 0,
			       err));
	many[3].key = "";
	FAILS(ERR_INVALID, "metric key",
	      db_run_log_batch(db, r.run_id, many, 10, NULL, 0, NULL, 0, err));
	free(many);
	FAILS(ERR_NOTFOUND, "not found",
	      db_run_log_metric(db, "ffffffffffffffffffffffffffffffff", "a", 1, 1, 0, err));
	OK(db_run_set_deleted(db, r.run_id, 1, err));
	FAILS(ERR_INVALID, "active", db_run_log_metric(db, r.run_id, "a", 1, 1, 0, err));
	db_run_release(&r);
}

static void test_log_batch_limits_on_values(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_run r = {0};
	char *big = malloc(DB_MAX_PARAM_VALUE + 2);
	char key[DB_MAX_KEY + 2];
	assert_non_null(big);
	memset(big, 'x', DB_MAX_PARAM_VALUE + 1);
	big[DB_MAX_PARAM_VALUE + 1] = '\0';
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	new_run(db, 0, 0, &r);
	FAILS(ERR_INVALID, "longer than", db_run_log_param(db, r.run_id, "p", big, err));
	FAILS(ERR_INVALID, "longer than", db_run_set_tag(db, r.run_id, key, "v", err));
	big[DB_MAX_PARAM_VALUE] = '\0';
	OK(db_run_log_param(db, r.run_id, "p", big, err));
	free(big);
	db_run_release(&r);
}

static void test_metric_special_values_round_trip(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_run r = {0};
	struct db_metric_list h = {0};
	struct db_metric_ref m[] = {{"x", NAN, 1, 0},	    {"x", INFINITY, 2, 1},
				    {"x", -INFINITY, 3, 2}, {"x", 0.1 + 0.2, 4, 3},
				    {"x", -1e-300, 5, 4},   {"x", 0.1 + 0.2, 4, 3}};
	new_run(db, 0, 0, &r);
	OK(db_run_log_batch(db, r.run_id, m, 6, NULL, 0, NULL, 0, err));
	OK(db_metric_history(db, r.run_id, "x", NULL, &h, err));
	/* The identical last point is stored once. */
	assert_int_equal(h.n, 5);
	assert_true(isnan(h.v[0].value));
	assert_true(isinf(h.v[1].value) && h.v[1].value > 0);
	assert_true(isinf(h.v[2].value) && h.v[2].value < 0);
	assert_true(h.v[3].value == 0.1 + 0.2);
	assert_true(h.v[4].value == -1e-300);
	assert_null(h.next_token);
	db_metric_list_release(&h);
	OK(db_metric_history(db, r.run_id, "nope", NULL, &h, err));
	assert_int_equal(h.n, 0);
	db_metric_list_release(&h);
	db_run_release(&r);
}

static void test_metric_history_pages(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_run r = {0};
	struct db_metric_list h = {0};
	struct db_page page = {3, NULL};
	struct db_metric_ref m[10];
	char *token = NULL;
	int64_t want = 0;
	size_t i;
	new_run(db, 0, 0, &r);
	for (i = 0; i < 10; i++)
		m[i] = (struct db_metric_ref){"loss", 1.0 / (double)(i + 1), 100, (int64_t)(9 - i)};
	OK(db_run_log_batch(db, r.run_id, m, 10, NULL, 0, NULL, 0, err));
	do {
		page.token = token;
		OK(db_metric_history(db, r.run_id, "loss", &page, &h, err));
		for (i = 0; i < h.n; i++)
			assert_int_equal(h.v[i].step, want++);
		free(token);
		token = h.next_token ? strdup(h.next_token) : NULL;
		db_metric_list_release(&h);
	} while (token);
	assert_int_equal(want, 10);
	FAILS(ERR_NOTFOUND, NULL, db_metric_history(db, "x", "loss", NULL, &h, err));
	db_run_release(&r);
}

static void test_run_update_delete_and_tags(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_run r = {0}, g = {0};
	size_t i;
	new_run(db, 0, 0, &r);
	OK(db_run_update(db, r.run_id, DB_RUN_FINISHED, 1700000060000LL, "renamed", err));
	OK(db_run_set_tag(db, r.run_id, "t", "1", err));
	OK(db_run_set_tag(db, r.run_id, "t", "2", err));
	OK(db_run_get(db, r.run_id, &g, err));
	assert_int_equal(g.status, DB_RUN_FINISHED);
	assert_int_equal(g.end_time, 1700000060000LL);
	assert_string_equal(g.run_name, "renamed");
	for (i = 0; i < g.tags.n; i++)
		if (strcmp(g.tags.v[i].key, "mlflow.runName") == 0)
			assert_string_equal(g.tags.v[i].value, "renamed");
		else
			assert_string_equal(g.tags.v[i].value, "2");
	db_run_release(&g);
	OK(db_run_delete_tag(db, r.run_id, "t", err));
	FAILS(ERR_NOTFOUND, "No tag", db_run_delete_tag(db, r.run_id, "t", err));
	FAILS(ERR_INVALID, "status", db_run_update(db, r.run_id, 42, 0, NULL, err));
	OK(db_run_set_deleted(db, r.run_id, 1, err));
	OK(db_run_get(db, r.run_id, &g, err));
	assert_int_equal(g.deleted, 1);
	db_run_release(&g);
	OK(db_run_set_deleted(db, r.run_id, 0, err));
	assert_string_equal(db_run_status_name(DB_RUN_KILLED), "KILLED");
	assert_int_equal(db_run_status_parse("SCHEDULED"), DB_RUN_SCHEDULED);
	assert_int_equal(db_run_status_parse("running"), 0);
	assert_null(db_run_status_name(0));
	db_run_release(&r);
}

/* Ten runs in a new experiment: acc = i/10, param C = i % 2, tag even on evens. */
static int64_t search_fixture(struct db *db, char ids[10][DB_RUN_ID_LEN + 1])
{
	int64_t exp = new_experiment(db, "search");
	char v[16];
	int i;
	for (i = 0; i < 10; i++) {
		struct db_run r = {0};
		new_run(db, exp, 1700000000000LL + i, &r);
		snprintf(ids[i], DB_RUN_ID_LEN + 1, "%s", r.run_id);
		OK(db_run_log_metric(db, r.run_id, "acc", i / 10.0, 1, 0, err));
		snprintf(v, sizeof(v), "%d", i % 2);
		OK(db_run_log_param(db, r.run_id, "C", v, err));
		if (i % 2 == 0)
			OK(db_run_set_tag(db, r.run_id, "parity", "even", err));
		if (i >= 8)
			OK(db_run_update(db, r.run_id, DB_RUN_FINISHED, 0, NULL, err));
		db_run_release(&r);
	}
	return exp;
}

static size_t search_count(struct db *db, int64_t exp, const struct db_cond *c, size_t n)
{
	struct db_run_query q = {&exp, 1, DB_VIEW_ACTIVE, c, n, NULL, 0, {0, NULL}};
	struct db_run_list l = {0};
	size_t count;
	OK(db_run_search(db, &q, &l, err));
	count = l.n;
	db_run_list_release(&l);
	return count;
}

static void test_run_search_filters(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	char ids[10][DB_RUN_ID_LEN + 1];
	int64_t exp = search_fixture(db, ids);
	struct db_cond c[] = {
		{DB_FIELD_METRIC, "acc", DB_OP_GE, NULL, 0.5},
		{DB_FIELD_PARAM, "C", DB_OP_EQ, "1", 0},
		{DB_FIELD_TAG, "parity", DB_OP_EQ, "even", 0},
		{DB_FIELD_ATTR, "status", DB_OP_EQ, "FINISHED", 0},
		{DB_FIELD_ATTR, "start_time", DB_OP_LT, NULL, 1700000000003.0},
		{DB_FIELD_ATTR, "run_name", DB_OP_ILIKE, "%", 0},
		{DB_FIELD_PARAM, "C", DB_OP_LIKE, "1%", 0},
	};
	struct db_cond bad[] = {{DB_FIELD_ATTR, "nope", DB_OP_EQ, "x", 0},
				{DB_FIELD_METRIC, "acc", DB_OP_LIKE, "x", 0}};
	struct db_run_query q = {&exp, 1, DB_VIEW_ACTIVE, bad, 1, NULL, 0, {0, NULL}};
	struct db_run_list l = {0};
	assert_int_equal(search_count(db, exp, NULL, 0), 10);
	assert_int_equal(search_count(db, exp, &c[0], 1), 5);
	assert_int_equal(search_count(db, exp, &c[0], 2), 3); /* 5, 7, 9 */
	assert_int_equal(search_count(db, exp, &c[2], 1), 5);
	assert_int_equal(search_count(db, exp, &c[1], 2), 0); /* odd C and even tag */
	assert_int_equal(search_count(db, exp, &c[3], 1), 2);
	assert_int_equal(search_count(db, exp, &c[4], 1), 3);
	assert_int_equal(search_count(db, exp, &c[5], 1), 10);
	assert_int_equal(search_count(db, exp, &c[6], 1), 5);
	FAILS(ERR_INVALID, "invalid attribute key", db_run_search(db, &q, &l, err));
	q.conds = &bad[1];
	FAILS(ERR_INVALID, "LIKE", db_run_search(db, &q, &l, err));
	q.n_experiment_ids = 0;
	FAILS(ERR_INVALID, "experiment_ids", db_run_search(db, &q, &l, err));
	OK(db_run_set_deleted(db, ids[0], 1, err));
	assert_int_equal(search_count(db, exp, NULL, 0), 9);
}

static void test_run_search_order_and_pages(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	char ids[10][DB_RUN_ID_LEN + 1], *token = NULL;
	int64_t exp = search_fixture(db, ids);
	struct db_order by_acc = {DB_FIELD_METRIC, "acc", 0};
	struct db_order bad = {DB_FIELD_ATTR, "evil; DROP TABLE runs", 1};
	struct db_run_query q = {&exp, 1, DB_VIEW_ALL, NULL, 0, NULL, 0, {4, NULL}};
	struct db_run_list l = {0};
	int want = 9, pages = 0;
	size_t i;
	/* Default order: newest start first. */
	do {
		q.page.token = token;
		OK(db_run_search(db, &q, &l, err));
		for (i = 0; i < l.n; i++)
			assert_string_equal(l.v[i].run_id, ids[want--]);
		free(token);
		token = l.next_token ? strdup(l.next_token) : NULL;
		db_run_list_release(&l);
		pages++;
	} while (token);
	assert_int_equal(want, -1);
	assert_int_equal(pages, 3);
	q.order = &by_acc;
	q.n_order = 1;
	q.page.max_results = 0;
	q.page.token = NULL;
	OK(db_run_search(db, &q, &l, err));
	assert_int_equal(l.n, 10);
	for (i = 0; i < l.n; i++)
		assert_string_equal(l.v[i].run_id, ids[i]);
	assert_int_equal(l.v[3].n_metrics, 1);
	assert_int_equal(l.v[3].params.n, 1);
	db_run_list_release(&l);
	q.order = &bad;
	FAILS(ERR_INVALID, "invalid order_by", db_run_search(db, &q, &l, err));
}

/* ---- artifacts ---- */

#define SHA_X "c8714057f78790d434a91513f7f07187f8fae8a476f031c17bd97f63129adf94"
#define SHA_Y "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void test_artifact_put_get_list_delete(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	static const char *const files[] = {
		"1/r/artifacts/model/MLmodel", "1/r/artifacts/model/data/model.bin",
		"1/r/artifacts/model.txt",     "1/r/artifacts/metrics.json",
		"1/r/artifacts/model0",	       "1/r/artifactsX/other"};
	struct db_artifact_list l = {0};
	struct db_artifact a = {0};
	size_t i;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		OK(db_artifact_put(db, files[i], SHA_X, (int64_t)i + 10, err));
	OK(db_artifact_put(db, files[0], SHA_Y, 0, err)); /* replaces */
	OK(db_artifact_get(db, files[0], &a, err));
	assert_string_equal(a.sha256, SHA_Y);
	assert_int_equal(a.size, 0);
	assert_string_equal(a.path, files[0]);
	db_artifact_release(&a);
	/* Direct children only, in path order: metrics.json, model/, model.txt, model0. */
	OK(db_artifact_list(db, "1/r/artifacts", &l, err));
	assert_int_equal(l.n, 4);
	assert_string_equal(l.v[0].path, "metrics.json");
	assert_int_equal(l.v[0].is_dir, 0);
	assert_int_equal(l.v[0].size, 13);
	assert_string_equal(l.v[1].path, "model.txt");
	assert_string_equal(l.v[2].path, "model");
	assert_int_equal(l.v[2].is_dir, 1);
	assert_string_equal(l.v[3].path, "model0");
	db_artifact_list_release(&l);
	OK(db_artifact_list(db, "1/r/artifacts/model", &l, err));
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].path, "MLmodel");
	assert_string_equal(l.v[1].path, "data");
	assert_int_equal(l.v[1].is_dir, 1);
	db_artifact_list_release(&l);
	OK(db_artifact_list(db, NULL, &l, err));
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].path, "1");
	db_artifact_list_release(&l);
	OK(db_artifact_list(db, "nope", &l, err));
	assert_int_equal(l.n, 0);
	db_artifact_list_release(&l);
	OK(db_artifact_delete(db, files[1], err));
	FAILS(ERR_NOTFOUND, "not found", db_artifact_delete(db, files[1], err));
	FAILS(ERR_NOTFOUND, "not found", db_artifact_get(db, files[1], &a, err));
}

static void test_artifact_paths_are_checked(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	static const char *const bad[] = {"",	   "/etc/passwd", "a/../b", "..",   "a//b",
					  "a/./b", "a/",	  "a\\b",   "a\nb", NULL};
	struct db_artifact_list l = {0};
	struct db_artifact a = {0};
	size_t i;
	char *big = malloc(DB_MAX_ARTIFACT_PATH + 2);
	assert_non_null(big);
	memset(big, 'a', DB_MAX_ARTIFACT_PATH + 1);
	big[DB_MAX_ARTIFACT_PATH + 1] = '\0';
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(db_artifact_path_ok(bad[i]));
		FAILS(ERR_INVALID, "invalid path", db_artifact_put(db, bad[i], SHA_X, 1, err));
	}
	assert_false(db_artifact_path_ok(big));
	free(big);
	assert_true(db_artifact_path_ok("1/r/artifacts/..data/x"));
	FAILS(ERR_INVALID, "invalid path", db_artifact_get(db, "../x", &a, err));
	FAILS(ERR_INVALID, "invalid path", db_artifact_list(db, "a/../..", &l, err));
	FAILS(ERR_INVALID, "invalid sha256", db_artifact_put(db, "a", "abc", 1, err));
	FAILS(ERR_INVALID, "invalid size", db_artifact_put(db, "a", SHA_X, -1, err));
}

/* A store at schema version 1 (before artifacts) migrates to the current one. */
static void test_old_schema_migrates(void **state)
{
	struct fixture *f = *state;
	struct db *again = NULL;
	struct err e = ERR_INIT;
	int64_t v = 0;
	assert_true(db__run(f->db, "DROP TABLE artifacts", NULL, 0, &e) >= 0);
	assert_true(db__run(f->db, "DROP TABLE model_alias_moves", NULL, 0, &e) >= 0);
	assert_true(db__run(f->db, "DELETE FROM schema_version WHERE version > 1", NULL, 0, &e) >=
		    0);
	OK(db_schema_version(f->db, &v, err));
	assert_int_equal(v, 1);
	OK(db_open(&again, f->url, NULL, err));
	OK(db_schema_version(again, &v, err));
	assert_int_equal(v, 3);
	OK(db_artifact_put(again, "x/y", SHA_X, 1, err));
	OK(db_model_create(again, "m", NULL, NULL, 0, err));
	db_close(again);
}

/* ---- registry ---- */

static void test_model_create_get_rename_delete(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_kv_ref tags[] = {{"owner", "ml"}};
	struct db_version_create vc = {.name = "clf", .source = "runs:/r/model"};
	struct db_version v = {0};
	struct db_model m = {0};
	OK(db_model_create(db, "clf", "first", tags, 1, err));
	FAILS(ERR_INVALID, "already exists", db_model_create(db, "clf", NULL, NULL, 0, err));
	OK(db_version_create(db, &vc, &v, err));
	db_version_release(&v);
	OK(db_alias_set(db, "clf", "production", 1, err));
	OK(db_model_rename(db, "clf", "clf2", err));
	FAILS(ERR_NOTFOUND, "Registered Model with name=clf not found",
	      db_model_get(db, "clf", &m, err));
	OK(db_model_get(db, "clf2", &m, err));
	assert_string_equal(m.description, "first");
	assert_int_equal(m.tags.n, 1);
	assert_int_equal(m.n_aliases, 1);
	assert_string_equal(m.aliases[0].alias, "production");
	assert_int_equal(m.aliases[0].version, 1);
	db_model_release(&m);
	OK(db_version_get(db, "clf2", 1, &v, err));
	assert_string_equal(v.source, "runs:/r/model");
	db_version_release(&v);
	OK(db_model_create(db, "other", NULL, NULL, 0, err));
	FAILS(ERR_INVALID, "already exists", db_model_rename(db, "clf2", "other", err));
	OK(db_model_set_description(db, "clf2", "second", err));
	OK(db_model_set_tag(db, "clf2", "owner", "ops", err));
	OK(db_model_delete_tag(db, "clf2", "owner", err));
	FAILS(ERR_NOTFOUND, "no tag", db_model_delete_tag(db, "clf2", "owner", err));
	OK(db_model_delete(db, "clf2", err));
	FAILS(ERR_NOTFOUND, NULL, db_model_delete(db, "clf2", err));
	FAILS(ERR_NOTFOUND, NULL, db_version_get(db, "clf2", 1, &v, err));
	FAILS(ERR_NOTFOUND, NULL, db_model_set_tag(db, "nope", "k", "v", err));
}

static void test_model_search(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_kv_ref tags[] = {{"owner", "ops"}};
	struct db_cond like = {DB_FIELD_ATTR, "name", DB_OP_LIKE, "spam%", 0};
	struct db_cond tag = {DB_FIELD_TAG, "owner", DB_OP_EQ, "ops", 0};
	struct db_cond bad = {DB_FIELD_METRIC, "acc", DB_OP_GT, NULL, 1};
	struct db_order newest = {DB_FIELD_ATTR, "last_updated_time", 1};
	struct db_model_query q = {&like, 1, NULL, 0, {0, NULL}};
	struct db_model_list l = {0};
	OK(db_model_create(db, "spam-a", NULL, NULL, 0, err));
	OK(db_model_create(db, "spam-b", NULL, tags, 1, err));
	OK(db_model_create(db, "ham", NULL, NULL, 0, err));
	OK(db_model_set_description(db, "spam-a", "touched last", err));
	OK(db_model_search(db, &q, &l, err));
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].name, "spam-a");
	db_model_list_release(&l);
	q.conds = &tag;
	OK(db_model_search(db, &q, &l, err));
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].name, "spam-b");
	db_model_list_release(&l);
	q.conds = &bad;
	FAILS(ERR_INVALID, "invalid registered model filter key", db_model_search(db, &q, &l, err));
	q.conds = NULL;
	q.n_conds = 0;
	q.order = &newest;
	q.n_order = 1;
	OK(db_model_search(db, &q, &l, err));
	assert_int_equal(l.n, 3);
	if (l.v[0].last_updated_time > l.v[1].last_updated_time)
		assert_string_equal(l.v[0].name, "spam-a");
	db_model_list_release(&l);
	q.order = NULL;
	q.n_order = 0;
	q.page.max_results = 2;
	OK(db_model_search(db, &q, &l, err));
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].name, "ham");
	assert_non_null(l.next_token);
	q.page.token = l.next_token;
	l.next_token = NULL;
	db_model_list_release(&l);
	OK(db_model_search(db, &q, &l, err));
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].name, "spam-b");
	assert_null(l.next_token);
	free((char *)q.page.token);
	db_model_list_release(&l);
}

static void test_version_numbers_lineage_and_tags(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_kv_ref tags[] = {{"k", "v"}};
	struct db_version_create vc = {"clf",
				       "mlflow-artifacts:/1/r/artifacts/model",
				       "0123456789abcdef0123456789abcdef",
				       "",
				       "d",
				       "ci",
				       "aa11",
				       "c0ffee",
				       "dd22",
				       "wf-7",
				       tags,
				       1};
	struct db_version v = {0};
	int i;
	FAILS(ERR_NOTFOUND, "Registered Model with name=clf", db_version_create(db, &vc, &v, err));
	OK(db_model_create(db, "clf", NULL, NULL, 0, err));
	for (i = 1; i <= 3; i++) {
		OK(db_version_create(db, &vc, &v, err));
		assert_int_equal(v.version, i);
		db_version_release(&v);
	}
	OK(db_version_delete(db, "clf", 3, err));
	FAILS(ERR_NOTFOUND, "Model Version (name=clf, version=3) not found",
	      db_version_delete(db, "clf", 3, err));
	OK(db_version_create(db, &vc, &v, err));
	assert_int_equal(v.version, 4); /* never reused */
	assert_string_equal(v.status, "READY");
	assert_string_equal(v.stage, "None");
	assert_string_equal(v.lineage.bundle_sha256, "aa11");
	assert_string_equal(v.lineage.git_commit, "c0ffee");
	assert_string_equal(v.lineage.data_sha256, "dd22");
	assert_string_equal(v.lineage.workflow_run, "wf-7");
	assert_string_equal(v.run_id, vc.run_id);
	assert_string_equal(v.user_id, "ci");
	assert_int_equal(v.tags.n, 1);
	db_version_release(&v);
	OK(db_version_set_tag(db, "clf", 4, "k", "w", err));
	OK(db_version_set_description(db, "clf", 4, "best", err));
	OK(db_version_get(db, "clf", 4, &v, err));
	assert_string_equal(v.tags.v[0].value, "w");
	assert_string_equal(v.description, "best");
	db_version_release(&v);
	OK(db_version_delete_tag(db, "clf", 4, "k", err));
	FAILS(ERR_NOTFOUND, "no tag", db_version_delete_tag(db, "clf", 4, "k", err));
	vc.source = "";
	FAILS(ERR_INVALID, "source", db_version_create(db, &vc, &v, err));
}

static void test_version_stages_latest_and_search(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_version_create vc = {
		.name = "clf", .source = "s", .run_id = "0123456789abcdef0123456789abcdef"};
	const char *prod[] = {"production"};
	struct db_version_list l = {0};
	struct db_version v = {0};
	int i;
	OK(db_model_create(db, "clf", NULL, NULL, 0, err));
	for (i = 0; i < 3; i++) {
		OK(db_version_create(db, &vc, &v, err));
		db_version_release(&v);
	}
	OK(db_version_set_stage(db, "clf", 1, "production", 0, err));
	OK(db_version_set_stage(db, "clf", 2, "Production", 0, err));
	OK(db_version_set_stage(db, "clf", 3, "PRODUCTION", 1, err));
	FAILS(ERR_INVALID, "invalid stage", db_version_set_stage(db, "clf", 3, "prod", 0, err));
	FAILS(ERR_NOTFOUND, NULL, db_version_set_stage(db, "clf", 9, "None", 0, err));
	OK(db_version_get(db, "clf", 1, &v, err));
	assert_string_equal(v.stage, "Archived");
	db_version_release(&v);
	OK(db_version_latest(db, "clf", prod, 1, &l, err));
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].version, 3);
	db_version_list_release(&l);
	OK(db_version_latest(db, "clf", NULL, 0, &l, err));
	assert_int_equal(l.n, 2); /* Production 3, Archived 2 */
	db_version_list_release(&l);
	FAILS(ERR_NOTFOUND, NULL, db_version_latest(db, "nope", NULL, 0, &l, err));
	OK(db_version_search(db, "clf", NULL, NULL, &l, err));
	assert_int_equal(l.n, 3);
	assert_int_equal(l.v[0].version, 3);
	db_version_list_release(&l);
	OK(db_version_search(db, NULL, vc.run_id, NULL, &l, err));
	assert_int_equal(l.n, 3);
	db_version_list_release(&l);
	OK(db_version_search(db, NULL, "ffffffffffffffffffffffffffffffff", NULL, &l, err));
	assert_int_equal(l.n, 0);
	db_version_list_release(&l);
	assert_string_equal(db_stage_canonical("staging"), "Staging");
	assert_null(db_stage_canonical("live"));
}

static void test_alias_set_move_resolve_delete(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_version_create vc = {.name = "clf", .source = "s"};
	struct db_version v = {0};
	int i;
	OK(db_model_create(db, "clf", NULL, NULL, 0, err));
	for (i = 0; i < 2; i++) {
		OK(db_version_create(db, &vc, &v, err));
		db_version_release(&v);
	}
	FAILS(ERR_NOTFOUND, "version=5", db_alias_set(db, "clf", "production", 5, err));
	OK(db_alias_set(db, "clf", "production", 1, err));
	OK(db_alias_set(db, "clf", "staging", 2, err));
	OK(db_alias_resolve(db, "clf", "production", &v, err));
	assert_int_equal(v.version, 1);
	assert_int_equal(v.n_aliases, 1);
	assert_string_equal(v.aliases[0], "production");
	db_version_release(&v);
	OK(db_alias_set(db, "clf", "production", 2, err)); /* deploy */
	OK(db_alias_resolve(db, "clf", "production", &v, err));
	assert_int_equal(v.version, 2);
	assert_int_equal(v.n_aliases, 2);
	db_version_release(&v);
	OK(db_alias_set(db, "clf", "production", 1, err)); /* roll back */
	OK(db_alias_resolve(db, "clf", "production", &v, err));
	assert_int_equal(v.version, 1);
	db_version_release(&v);
	FAILS(ERR_NOTFOUND, "alias canary not found",
	      db_alias_resolve(db, "clf", "canary", &v, err));
	FAILS(ERR_NOTFOUND, "Registered Model",
	      db_alias_resolve(db, "nope", "production", &v, err));
	OK(db_version_delete(db, "clf", 1, err)); /* drops "production" */
	FAILS(ERR_NOTFOUND, "alias", db_alias_resolve(db, "clf", "production", &v, err));
	OK(db_alias_delete(db, "clf", "staging", err));
	FAILS(ERR_NOTFOUND, "alias", db_alias_delete(db, "clf", "staging", err));
}

static void test_alias_rollback_pops_the_history(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_version_create vc = {.name = "clf", .source = "s"};
	struct db_version v = {0};
	struct db_alias_move_list h = {0};
	int64_t from = -1, to = -1;
	int i;
	OK(db_model_create(db, "clf", NULL, NULL, 0, err));
	for (i = 0; i < 4; i++) {
		OK(db_version_create(db, &vc, &v, err));
		db_version_release(&v);
	}
	FAILS(ERR_INVALID, "no earlier version",
	      db_alias_rollback(db, "clf", "prod", &from, &to, err)); /* never set */
	OK(db_alias_set(db, "clf", "prod", 1, err));
	FAILS(ERR_INVALID, "alias 'prod' of model 'clf' has no earlier version",
	      db_alias_rollback(db, "clf", "prod", &from, &to, err));
	OK(db_alias_set(db, "clf", "prod", 2, err));
	OK(db_alias_set(db, "clf", "prod", 2, err)); /* not a move */
	OK(db_alias_set(db, "clf", "prod", 3, err));
	OK(db_alias_set(db, "clf", "prod", 4, err));
	OK(db_alias_set(db, "clf", "other", 4, err)); /* another alias: its own history */

	OK(db_alias_rollback(db, "clf", "prod", &from, &to, err));
	assert_int_equal(from, 4);
	assert_int_equal(to, 3);
	OK(db_alias_resolve(db, "clf", "prod", &v, err));
	assert_int_equal(v.version, 3);
	db_version_release(&v);

	/* Twice goes further back; version 2, deleted since, is skipped. */
	OK(db_version_delete(db, "clf", 2, err));
	OK(db_alias_rollback(db, "clf", "prod", &from, &to, err));
	assert_int_equal(from, 3);
	assert_int_equal(to, 1);
	FAILS(ERR_INVALID, "no earlier version",
	      db_alias_rollback(db, "clf", "prod", &from, &to, err));
	OK(db_alias_resolve(db, "clf", "prod", &v, err)); /* a failed rollback changes nothing */
	assert_int_equal(v.version, 1);
	db_version_release(&v);

	/* A new move after rollbacks is pushed on what is left. */
	OK(db_alias_set(db, "clf", "prod", 4, err));
	OK(db_alias_rollback(db, "clf", "prod", &from, &to, err));
	assert_int_equal(to, 1);

	/* An alias dropped with its version rolls back to the one before. */
	OK(db_alias_set(db, "clf", "prod", 3, err));
	OK(db_version_delete(db, "clf", 3, err));
	FAILS(ERR_NOTFOUND, "alias", db_alias_resolve(db, "clf", "prod", &v, err));
	OK(db_alias_rollback(db, "clf", "prod", &from, &to, err));
	assert_int_equal(from, 0);
	assert_int_equal(to, 1);

	OK(db_alias_history(db, "clf", "prod", &h, err));
	/* set 0->1, set 1->2, set 2->3, set 3->4, rollback 4->3, rollback 3->1,
	   set 1->4, rollback 4->1, set 1->3, rollback 0->1; newest first */
	assert_int_equal(h.n, 10);
	assert_string_equal(h.v[0].kind, "rollback");
	assert_int_equal(h.v[0].from_version, 0);
	assert_int_equal(h.v[0].to_version, 1);
	assert_string_equal(h.v[1].kind, "set");
	assert_int_equal(h.v[1].undone, 1);
	assert_int_equal(h.v[9].from_version, 0);
	assert_int_equal(h.v[9].undone, 0);
	assert_true(h.v[9].time > 0);
	db_alias_move_list_release(&h);
	OK(db_alias_history(db, "clf", "never", &h, err));
	assert_int_equal(h.n, 0);
	FAILS(ERR_NOTFOUND, "Registered Model", db_alias_history(db, "nope", "prod", &h, err));
	FAILS(ERR_NOTFOUND, "Registered Model",
	      db_alias_rollback(db, "nope", "prod", &from, &to, err));

	/* The history follows a rename and goes with the model. */
	OK(db_model_rename(db, "clf", "clf2", err));
	OK(db_alias_history(db, "clf2", "prod", &h, err));
	assert_int_equal(h.n, 10);
	db_alias_move_list_release(&h);
	OK(db_model_delete(db, "clf2", err));
	OK(db_model_create(db, "clf2", NULL, NULL, 0, err));
	OK(db_alias_history(db, "clf2", "prod", &h, err));
	assert_int_equal(h.n, 0);
}

/* ---- robustness ---- */

static void test_allocation_failures_never_crash(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	struct db_version_create vc = {.name = "clf", .source = "s"};
	struct db_run r = {0};
	struct db_version v = {0};
	long n;
	OK(db_model_create(db, "clf", NULL, NULL, 0, err));
	OK(db_version_create(db, &vc, &v, err));
	db_version_release(&v);
	OK(db_alias_set(db, "clf", "prod", 1, err));
	new_run(db, 0, 0, &r);
	OK(db_run_log_metric(db, r.run_id, "a", 1, 1, 0, err));
	OK(db_run_log_param(db, r.run_id, "p", "v", err));
	for (n = 0; n < 40; n++) {
		struct err e = ERR_INIT;
		struct db_run g = {0};
		struct db_version a = {0};
		int rc1, rc2;
		mem_set_fail_after(n);
		rc1 = db_run_get(db, r.run_id, &g, &e);
		mem_set_fail_after(-1);
		if (rc1 < 0)
			assert_int_equal(e.code, ERR_NOMEM);
		db_run_release(&g);
		err_clear(&e);
		mem_set_fail_after(n);
		rc2 = db_alias_resolve(db, "clf", "prod", &a, &e);
		mem_set_fail_after(-1);
		if (rc2 < 0)
			assert_int_equal(e.code, ERR_NOMEM);
		db_version_release(&a);
	}
	db_run_release(&r);
}

/* Logs batch b of n points of key to run_id: steps b*n .. b*n+n-1. */
static int log_numbered_batch(struct db *db, const char *run_id, const char *key, int64_t b,
			      size_t n, struct err *err)
{
	struct db_metric_ref m[500];
	size_t i;
	assert_true(n <= 500);
	for (i = 0; i < n; i++)
		m[i] = (struct db_metric_ref){key, (double)i, 1700000000000LL + b,
					      b * (int64_t)n + (int64_t)i};
	return db_run_log_batch(db, run_id, m, n, NULL, 0, NULL, 0, err);
}

/*
 * kill -9 in the middle of a stream of log-batch calls: after reopening,
 * every acknowledged batch is there, no batch is there in part, and
 * SQLite's integrity check passes.
 */
static void test_kill9_keeps_every_acknowledged_batch(void **state)
{
	struct fixture *f = *state;
	struct db_metric_list h = {0};
	struct db_run r = {0};
	struct db *db2 = NULL;
	int p[2], status = 0;
	int64_t acked = -1, b;
	size_t i, got = 0;
	pid_t pid;
	new_run(f->db, 0, 0, &r);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct err e = ERR_INIT;
		struct db *c = NULL;
		close(p[0]);
		if (db_open(&c, f->url, NULL, &e) < 0)
			_exit(3);
		for (b = 0;; b++) {
			if (log_numbered_batch(c, r.run_id, "k", b, 500, &e) < 0)
				_exit(4);
			if (write(p[1], &b, sizeof(b)) != (ssize_t)sizeof(b))
				_exit(5);
		}
	}
	close(p[1]);
	while (read(p[0], &b, sizeof(b)) == (ssize_t)sizeof(b)) {
		acked = b;
		if (++got == 15)
			assert_int_equal(kill(pid, SIGKILL), 0);
	}
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_true(acked >= 14);
	OK(db_open(&db2, f->url, NULL, err));
	OK(db_metric_history(db2, r.run_id, "k", NULL, &h, err));
	/* Whole batches only: the acknowledged ones, maybe one more not yet acknowledged. */
	assert_int_equal(h.n % 500, 0);
	assert_true(h.n >= (size_t)(acked + 1) * 500);
	assert_true(h.n <= (size_t)(acked + 2) * 500);
	for (i = 0; i < h.n; i++)
		assert_int_equal(h.v[i].step, (int64_t)i);
	db_metric_list_release(&h);
	if (!pg_url()) {
		struct err e = ERR_INIT;
		struct db__stmt *st = db__query(db2, "PRAGMA integrity_check", NULL, 0, &e);
		assert_non_null(st);
		assert_int_equal(db2->ops->step(st, &e), DB__ROW);
		assert_string_equal(db2->ops->col_text(st, 0), "ok");
		db2->ops->finish(st);
	}
	db_close(db2);
	db_run_release(&r);
}

/* 16 processes log at once, each through its own connection: nothing is lost. */
static void test_concurrent_writers_lose_nothing(void **state)
{
	struct fixture *f = *state;
	enum { WRITERS = 16, BATCHES = 10, POINTS = 50 };
	pid_t pids[WRITERS];
	struct db_run r = {0};
	int w;
	new_run(f->db, 0, 0, &r);
	for (w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0) {
			struct err e = ERR_INIT;
			struct db *c = NULL;
			char key[16];
			int64_t b;
			snprintf(key, sizeof(key), "w%d", w);
			if (db_open(&c, f->url, NULL, &e) < 0)
				_exit(3);
			for (b = 0; b < BATCHES; b++)
				if (log_numbered_batch(c, r.run_id, key, b, POINTS, &e) < 0) {
					fprintf(stderr, "writer %d: %s\n", w, e.msg);
					_exit(4);
				}
			db_close(c);
			_exit(0);
		}
	}
	for (w = 0; w < WRITERS; w++) {
		int status = 0;
		assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	for (w = 0; w < WRITERS; w++) {
		struct db_metric_list h = {0};
		char key[16];
		snprintf(key, sizeof(key), "w%d", w);
		OK(db_metric_history(f->db, r.run_id, key, NULL, &h, err));
		assert_int_equal(h.n, BATCHES * POINTS);
		db_metric_list_release(&h);
	}
	db_run_release(&r);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median of v[0..n) (sorts v); n > 0. */
static double median_ms(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Timings, printed (not asserted: sanitizers and shared CI machines make
 * wall clocks noisy). Small by default; KILN_STORE_BENCH=1 runs the sizes of
 * the targets: 10,000 runs to search, 100,000 history points. Lines
 * "BENCH <name> <ms> ms" are for bench/store.sh.
 */
static void test_timings_are_reported(void **state)
{
	struct db *db = ((struct fixture *)*state)->db;
	const char *big = getenv("KILN_STORE_BENCH");
	size_t nruns = big && *big == '1' ? 10000 : 200, batches = big && *big == '1' ? 100 : 2;
	struct db_metric_ref *m = calloc(DB_MAX_BATCH_METRICS, sizeof(*m));
	struct db_version_create vc = {.name = "clf", .source = "s"};
	struct db_kv_ref params[] = {{"C", "1.0"}, {"solver", "liblinear"}};
	struct db_metric_ref acc = {"acc", 0.5, 1700000000000LL, 0};
	struct db_metric_list h = {0};
	struct db_run_list l = {0};
	struct db_version v = {0};
	struct db_run r = {0};
	struct timespec t0;
	double best = 1e9, times[1000];
	int64_t exp = new_experiment(db, "bench");
	struct db_run_query q = {&exp, 1, DB_VIEW_ACTIVE, NULL, 0, NULL, 0, {100, NULL}};
	size_t i, b;
	assert_non_null(m);
	for (i = 0; i < nruns; i++) {
		new_run(db, exp, 1700000000000LL + (int64_t)i, &r);
		acc.value = (double)i / (double)nruns;
		OK(db_run_log_batch(db, r.run_id, &acc, 1, params, 2, NULL, 0, err));
		db_run_release(&r);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	OK(db_run_search(db, &q, &l, err));
	printf("store timing: first page (100) of a search over %zu runs: %.2f ms\n", nruns,
	       ms_since(&t0));
	db_run_list_release(&l);
	for (i = 0; i < 20; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		OK(db_run_search(db, &q, &l, err));
		times[i] = ms_since(&t0);
		db_run_list_release(&l);
	}
	printf("BENCH inproc.search_first_page_%zu_runs %.3f ms\n", nruns, median_ms(times, 20));
	q.page.max_results = 1000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	OK(db_run_search(db, &q, &l, err));
	printf("store timing: first page (1000) of a search over %zu runs: %.2f ms\n", nruns,
	       ms_since(&t0));
	db_run_list_release(&l);
	new_run(db, 0, 0, &r);
	for (b = 0; b < batches; b++) {
		double ms;
		for (i = 0; i < DB_MAX_BATCH_METRICS; i++)
			m[i] = (struct db_metric_ref){"loss", 1.0 / (double)(i + 1),
						      1700000000000LL + (int64_t)b,
						      (int64_t)(b * DB_MAX_BATCH_METRICS + i)};
		clock_gettime(CLOCK_MONOTONIC, &t0);
		OK(db_run_log_batch(db, r.run_id, m, DB_MAX_BATCH_METRICS, NULL, 0, NULL, 0, err));
		ms = ms_since(&t0);
		best = ms < best ? ms : best;
		times[b] = ms;
		if (b == 0)
			printf("store timing: log-batch of %d metrics: %.2f ms (first)\n",
			       DB_MAX_BATCH_METRICS, ms);
	}
	printf("store timing: log-batch of %d metrics: %.2f ms (best of %zu)\n",
	       DB_MAX_BATCH_METRICS, best, batches);
	printf("BENCH inproc.log_batch_%d %.3f ms\n", DB_MAX_BATCH_METRICS,
	       median_ms(times, batches));
	for (i = 0; i < 5; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		OK(db_metric_history(db, r.run_id, "loss", NULL, &h, err));
		times[i] = ms_since(&t0);
		if (i == 0)
			printf("store timing: history of %zu points: %.2f ms\n", h.n, times[i]);
		assert_int_equal(h.n, batches * DB_MAX_BATCH_METRICS);
		db_metric_list_release(&h);
	}
	printf("BENCH inproc.history_%zu_points %.3f ms\n", batches * DB_MAX_BATCH_METRICS,
	       median_ms(times, 5));
	OK(db_model_create(db, "clf", NULL, NULL, 0, err));
	OK(db_version_create(db, &vc, &v, err));
	db_version_release(&v);
	OK(db_alias_set(db, "clf", "production", 1, err));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	OK(db_alias_resolve(db, "clf", "production", &v, err));
	printf("store timing: alias resolution: %.3f ms\n", ms_since(&t0));
	db_version_release(&v);
	for (i = 0; i < 1000; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		OK(db_alias_resolve(db, "clf", "production", &v, err));
		times[i] = ms_since(&t0);
		db_version_release(&v);
	}
	printf("BENCH inproc.alias_resolve %.4f ms\n", median_ms(times, 1000));
	db_run_release(&r);
	free(m);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_migrates_and_has_default_experiment),
		T(test_open_refuses_newer_schema),
		cmocka_unit_test(test_open_rejects_unknown_url),
		cmocka_unit_test(test_open_home_creates_directory),
		T(test_experiment_create_get_and_duplicate),
		T(test_experiment_rename_delete_restore_tag),
		T(test_experiment_search_views_filters_and_pages),
		T(test_run_create_defaults),
		T(test_log_batch_stores_everything),
		T(test_log_batch_is_all_or_nothing),
		T(test_log_batch_limits_on_values),
		T(test_metric_special_values_round_trip),
		T(test_metric_history_pages),
		T(test_run_update_delete_and_tags),
		T(test_run_search_filters),
		T(test_run_search_order_and_pages),
		T(test_artifact_put_get_list_delete),
		T(test_artifact_paths_are_checked),
		T(test_old_schema_migrates),
		T(test_model_create_get_rename_delete),
		T(test_model_search),
		T(test_version_numbers_lineage_and_tags),
		T(test_version_stages_latest_and_search),
		T(test_alias_set_move_resolve_delete),
		T(test_alias_rollback_pops_the_history),
		T(test_allocation_failures_never_crash),
		T(test_kill9_keeps_every_acknowledged_batch),
		T(test_concurrent_writers_lose_nothing),
		T(test_timings_are_reported),
	};
	printf("store backend: %s\n", pg_url() ? "postgres (KILN_TEST_PG)" : "sqlite");
	return cmocka_run_group_tests(tests, NULL, NULL);
}

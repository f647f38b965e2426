/*
 * client_test.c - ctl/client.h against a real control plane on 127.0.0.1:0
 * in this process (ctl_new + ctl_listen on a temporary SQLite store):
 * calls, MLflow errors, uploads, resolve with ETag/304, tokens, no server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl/client.h"
#include "ctl/ctl.h"

struct fixture {
	char dir[64];
	struct ctl *ctl;
	struct http_server *hs;
	struct ctl_client *cl;
	char url[64];
};

static struct fixture *start(const char *token)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ctl_config cfg = {0};
	struct ctl_client_config cc = {0};
	struct http_config hc;
	struct err err = ERR_INIT;
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/kiln-client-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	cfg.home = f->dir;
	cfg.blobs.home = f->dir;
	cfg.token = token;
	f->ctl = ctl_new(&cfg, &err);
	assert_non_null(f->ctl);
	http_config_default(&hc);
	hc.port = 0;
	hc.threads = 2;
	f->hs = ctl_listen(f->ctl, &hc, &err);
	assert_non_null(f->hs);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u/", http_port(f->hs));
	cc.url = f->url;
	cc.token = token;
	f->cl = ctl_client_new(&cc, &err);
	assert_non_null(f->cl);
	return f;
}

static void stop(struct fixture *f)
{
	char cmd[128];
	ctl_client_free(f->cl);
	http_free(f->hs);
	ctl_free(f->ctl);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
}

static void test_url_is_checked(void **state)
{
	struct ctl_client_config cc = {0};
	struct err err = ERR_INIT;
	cc.url = "ftp://x";
	assert_null(ctl_client_new(&cc, &err));
	assert_non_null(strstr(err.msg, "expected http://HOST:PORT"));
}

static void test_call_roundtrip_and_errors(void **state)
{
	struct fixture *f = start(NULL);
	struct err err = ERR_INIT;
	json_t *body = json_pack("{s:s}", "name", "spam"), *reply = NULL;
	const char *q[] = {"experiment_name", "spam", NULL};
	const char *q2[] = {"experiment_name", "a b&c=d", NULL};

	/* The final '/' of the configured URL is dropped. */
	assert_int_equal(strlen(ctl_client_url(f->cl)), strlen(f->url) - 1);
	assert_memory_equal(ctl_client_url(f->cl), f->url, strlen(f->url) - 1);
	assert_int_equal(ctl_client_call(f->cl, HTTP_POST, "/api/2.0/mlflow/experiments/create",
					 NULL, body, &reply, &err),
			 0);
	assert_string_equal(json_string_value(json_object_get(reply, "experiment_id")), "1");
	json_decref(reply);
	assert_int_equal(ctl_client_call(f->cl, HTTP_GET, "/api/2.0/mlflow/experiments/get-by-name",
					 q, NULL, &reply, &err),
			 0);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(reply, "experiment"), "name")),
		"spam");
	json_decref(reply);

	/* A name taken: 400 with MLflow's message. */
	assert_int_equal(ctl_client_call(f->cl, HTTP_POST, "/api/2.0/mlflow/experiments/create",
					 NULL, body, &reply, &err),
			 -1);
	assert_int_equal(err.code, ERR_INVALID);
	assert_non_null(strstr(err.msg, "already exists"));
	assert_null(reply);
	err_clear(&err);

	/* Unknown: 404; the query value was escaped, so the server saw it whole. */
	assert_int_equal(ctl_client_call(f->cl, HTTP_GET, "/api/2.0/mlflow/experiments/get-by-name",
					 q2, NULL, &reply, &err),
			 -1);
	assert_int_equal(err.code, ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, "'a b&c=d'"));
	err_clear(&err);
	json_decref(body);
	stop(f);
}

static void test_put_file_then_resolve_with_etag(void **state)
{
	struct fixture *f = start(NULL);
	struct err err = ERR_INIT;
	struct ctl_client_ref ref = {0}, ref2 = {0};
	char path[128], file[128];
	json_t *reply = NULL;
	FILE *fp;

	snprintf(file, sizeof(file), "%s/model.bin", f->dir);
	fp = fopen(file, "w");
	assert_non_null(fp);
	fputs("model bytes", fp);
	assert_int_equal(fclose(fp), 0);
	snprintf(path, sizeof(path), "/api/2.0/mlflow-artifacts/artifacts/0/r/model.bin");
	assert_int_equal(ctl_client_put_file(f->cl, path, file, &err), 0);
	assert_int_equal(ctl_client_put_file(f->cl, path, "/nonexistent/x", &err), -1);
	assert_non_null(strstr(err.msg, "cannot open '/nonexistent/x'"));
	err_clear(&err);

	json_t *m = json_pack("{s:s}", "name", "clf");
	json_t *v = json_pack("{s:s,s:s,s:s}", "name", "clf", "source", "mlflow-artifacts:/0/r",
			      "bundle_sha256",
			      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	json_t *a = json_pack("{s:s,s:s,s:s}", "name", "clf", "alias", "prod", "version", "1");
	assert_int_equal(ctl_client_call(f->cl, HTTP_POST,
					 "/api/2.0/mlflow/registered-models/create", NULL, m, NULL,
					 &err),
			 0);
	assert_int_equal(ctl_client_call(f->cl, HTTP_POST, "/api/2.0/mlflow/model-versions/create",
					 NULL, v, NULL, &err),
			 0);
	/* Not set yet: the server's 404 and its message. */
	assert_int_equal(ctl_client_resolve(f->cl, "clf", "prod", NULL, &ref, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, "prod"));
	err_clear(&err);
	assert_int_equal(ctl_client_call(f->cl, HTTP_POST,
					 "/api/2.0/mlflow/registered-models/alias", NULL, a, &reply,
					 &err),
			 0);
	assert_true(json_is_object(reply)); /* an ack: {} */
	json_decref(reply);

	assert_int_equal(ctl_client_resolve(f->cl, "clf", "prod", NULL, &ref, &err), 0);
	assert_int_equal(ref.version, 1);
	assert_string_equal(ref.sha256,
			    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_string_equal(ref.source, "mlflow-artifacts:/0/r");
	assert_true(ref.etag[0] == '"');
	/* Unchanged: 304, out untouched. */
	assert_int_equal(ctl_client_resolve(f->cl, "clf", "prod", ref.etag, &ref2, &err), 1);
	assert_int_equal(ref2.version, 0);
	/* A stale ETag: a full answer. */
	assert_int_equal(ctl_client_resolve(f->cl, "clf", "prod", "\"0-x\"", &ref2, &err), 0);
	assert_string_equal(ref2.etag, ref.etag);
	ctl_client_ref_release(&ref);
	ctl_client_ref_release(&ref2);
	assert_int_equal(ctl_client_resolve(f->cl, "nope", "prod", NULL, &ref, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);
	json_decref(m);
	json_decref(v);
	json_decref(a);
	stop(f);
}

static void test_token_is_sent(void **state)
{
	struct fixture *f = start("s3cret");
	struct ctl_client_config cc = {0};
	struct ctl_client *anon;
	struct err err = ERR_INIT;
	json_t *body = json_pack("{s:s}", "name", "x");
	assert_int_equal(ctl_client_call(f->cl, HTTP_POST, "/api/2.0/mlflow/experiments/create",
					 NULL, body, NULL, &err),
			 0);
	cc.url = f->url;
	anon = ctl_client_new(&cc, &err);
	assert_non_null(anon);
	assert_int_equal(ctl_client_call(anon, HTTP_POST, "/api/2.0/mlflow/experiments/create",
					 NULL, body, NULL, &err),
			 -1);
	assert_non_null(strstr(err.msg, "permission denied: set KILN_TOKEN"));
	ctl_client_free(anon);
	json_decref(body);
	stop(f);
}

static void test_no_server_is_one_line(void **state)
{
	struct fixture *f = start(NULL);
	struct ctl_client_config cc = {0};
	struct ctl_client *c;
	struct err err = ERR_INIT;
	char url[64];
	snprintf(url, sizeof(url), "%s", f->url);
	stop(f); /* the port is closed now */
	cc.url = url;
	cc.timeout_ms = 2000;
	c = ctl_client_new(&cc, &err);
	assert_non_null(c);
	assert_int_equal(ctl_client_call(c, HTTP_GET, "/api/2.0/mlflow/experiments/search", NULL,
					 NULL, NULL, &err),
			 -1);
	assert_int_equal(err.code, ERR_IO);
	assert_non_null(strstr(err.msg, "cannot reach kiln server at http://127.0.0.1:"));
	assert_null(strchr(err.msg, '\n'));
	ctl_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_is_checked),
		cmocka_unit_test(test_call_roundtrip_and_errors),
		cmocka_unit_test(test_put_file_then_resolve_with_etag),
		cmocka_unit_test(test_token_is_sent),
		cmocka_unit_test(test_no_server_is_one_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

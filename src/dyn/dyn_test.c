/*
 * dyn_test.c - unit tests for src/dyn: the loader's two failures (no such
 * library, a missing symbol) and, through the real libraries, the shims'
 * first use from many threads at once and the variadic forwarders
 * (curl_easy_setopt for every option type, curl_easy_getinfo,
 * MHD_start_daemon's options).
 */
#define CURL_DISABLE_TYPECHECK /* pass arguments exactly as kiln's callers do */
#include <curl/curl.h>
#include <git2.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "dyn/dyn.h"

#define THREADS 8

static void *init_curl(void *arg)
{
	CURL **out = arg;
	*out = curl_easy_init();
	return NULL;
}

/* First: nothing has loaded libcurl yet, so every thread races to load it. */
static void test_first_use_on_many_threads(void **state)
{
	pthread_t th[THREADS];
	CURL *h[THREADS] = {0};
	int i;
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, init_curl, &h[i]), 0);
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_non_null(h[i]);
		curl_easy_cleanup(h[i]);
	}
}

static void test_open_reports_missing_library(void **state)
{
	static const char *const names[] = {"strlen"};
	void *table[1] = {0};
	struct dyn_lib lib = {"libkiln-no-such.so.7", "kiln-test", names, 1, table, 0, {0}, {0}};
	assert_int_equal(dyn_open(&lib), -1);
	assert_int_equal(lib.loaded, 0);
	assert_non_null(strstr(lib.error, "cannot load libkiln-no-such.so.7 (Debian package "
					  "kiln-test): "));
	assert_non_null(strstr(lib.error, "cannot open shared object file"));
	assert_string_equal(lib.brief, "libkiln-no-such.so.7 could not be loaded");
}

static void test_open_reports_missing_symbol(void **state)
{
	static const char *const names[] = {"strlen", "kiln_no_such_function"};
	void *table[2] = {0};
	struct dyn_lib lib = {"libc.so.6", "libc6", names, 2, table, 0, {0}, {0}};
	assert_int_equal(dyn_open(&lib), -1);
	assert_int_equal(lib.loaded, 0);
	assert_string_equal(lib.error, "cannot load libc.so.6 (Debian package libc6): it lacks "
				       "kiln_no_such_function");
}

static void test_open_fills_the_table(void **state)
{
	static const char *const names[] = {"strlen", "strchr"};
	struct {
		size_t (*strlen)(const char *);
		char *(*strchr)(const char *, int);
	} t = {0};
	struct dyn_lib lib = {"libc.so.6", "libc6", names, 2, &t, 0, {0}, {0}};
	assert_int_equal(dyn_open(&lib), 0);
	assert_int_equal(lib.loaded, 1);
	assert_int_equal(t.strlen("kiln"), 4);
	assert_string_equal(t.strchr("kiln", 'l'), "ln");
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	return buf_add(arg, p, size * n) < 0 ? 0 : size * n;
}

/* One option of each CURLOPTTYPE, read back through a real transfer. */
static void test_curl_setopt_passes_every_type(void **state)
{
	char path[] = "/tmp/kiln-dyn-test.XXXXXX", url[64];
	struct buf body = BUF_INIT;
	struct curl_blob blob = {(void *)"not a certificate", 17, CURL_BLOB_COPY};
	curl_off_t size = 0;
	long code = -1;
	CURL *h = curl_easy_init();
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	close(fd);
	snprintf(url, sizeof(url), "file://%s", path);
	assert_non_null(h);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_URL, url), CURLE_OK);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_NOPROGRESS, 1L), CURLE_OK);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body), CURLE_OK);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_WRITEDATA, &body), CURLE_OK);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)100), CURLE_OK);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &blob), CURLE_OK);
	assert_int_equal(curl_easy_setopt(h, (CURLoption)60000, 1L), CURLE_UNKNOWN_OPTION);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	assert_string_equal(body.ptr, "0123456789");
	assert_int_equal(curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &size), CURLE_OK);
	assert_int_equal(size, 10);
	assert_int_equal(curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code), CURLE_OK);
	assert_int_equal(code, 0);
	/* An off_t read as anything else would not start the body at "3". */
	buf_reset(&body);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)3), CURLE_OK);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	assert_string_equal(body.ptr, "3456789");
	assert_string_equal(curl_easy_strerror(CURLE_OK), "No error");
	curl_easy_cleanup(h);
	buf_release(&body);
	unlink(path);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **ctx)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
			 enum MHD_RequestTerminationCode why)
{
	++*(int *)cls;
}

/* MHD_start_daemon's options travel as a va_list: the callback must arrive. */
static void test_mhd_start_daemon_forwards_options(void **state)
{
	struct buf body = BUF_INIT;
	char url[64];
	int completed = 0;
	const union MHD_DaemonInfo *info;
	CURL *h;
	struct MHD_Daemon *d =
		MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, NULL,
				 MHD_OPTION_NOTIFY_COMPLETED, on_completed, &completed,
				 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)5, MHD_OPTION_END);
	assert_non_null(d);
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	assert_true(info->port > 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", info->port);
	h = curl_easy_init();
	assert_non_null(h);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_URL, url), CURLE_OK);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body), CURLE_OK);
	assert_int_equal(curl_easy_setopt(h, CURLOPT_WRITEDATA, &body), CURLE_OK);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	assert_string_equal(body.ptr, "ok");
	curl_easy_cleanup(h);
	MHD_stop_daemon(d); /* runs the completion callback of the closed connection */
	assert_int_equal(completed, 1);
	buf_release(&body);
}

/* libpq's own failure: a CONNECTION_BAD connection that says why. */
static void test_pq_failed_connection_reports(void **state)
{
	PGconn *c = PQconnectdb("host=/nonexistent-kiln-dir port=1 connect_timeout=1");
	assert_non_null(c);
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(c), "nonexistent-kiln-dir"));
	PQfinish(c);
}

static void test_git2_init_and_errors(void **state)
{
	char dir[] = "/tmp/kiln-dyn-git.XXXXXX", rm[64];
	git_repository *repo = NULL;
	assert_true(git_libgit2_init() > 0);
	assert_non_null(mkdtemp(dir));
	assert_true(git_repository_open_ext(&repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0);
	assert_non_null(git_error_last());
	assert_non_null(strstr(git_error_last()->message, "kiln-dyn-git"));
	assert_int_equal(git_repository_init(&repo, dir, 0), 0);
	assert_non_null(strstr(git_repository_path(repo), "/.git/"));
	git_repository_free(repo);
	assert_true(git_libgit2_shutdown() >= 0);
	snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
	assert_int_equal(system(rm), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_use_on_many_threads),
		cmocka_unit_test(test_open_reports_missing_library),
		cmocka_unit_test(test_open_reports_missing_symbol),
		cmocka_unit_test(test_open_fills_the_table),
		cmocka_unit_test(test_curl_setopt_passes_every_type),
		cmocka_unit_test(test_mhd_start_daemon_forwards_options),
		cmocka_unit_test(test_pq_failed_connection_reports),
		cmocka_unit_test(test_git2_init_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

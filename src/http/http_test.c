/*
 * http_test.c - unit tests for src/http: route patterns, and a real server on
 * a loopback port driven through a plain socket (routing, 404, 405 with
 * Allow, 413, the request counters).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/http.h"

static int match(const char *pattern, const char *path, const char **cap, size_t *ncap,
		 char *scratch)
{
	return http_match(pattern, path, scratch, cap, ncap);
}

static void test_match_literal_and_captures(void **state)
{
	char scratch[256];
	const char *cap[HTTP_MAX_CAPTURES];
	size_t n = 0;
	assert_true(match("/v2", "/v2", cap, &n, scratch));
	assert_int_equal(n, 0);
	assert_false(match("/v2", "/v2/", cap, &n, scratch));
	assert_true(match("/v2/models/{name}/versions/{v}/infer", "/v2/models/s/versions/3/infer",
			  cap, &n, scratch));
	assert_int_equal(n, 2);
	assert_string_equal(cap[0], "s");
	assert_string_equal(cap[1], "3");
}

static void test_match_rejects_empty_segment(void **state)
{
	char scratch[256];
	const char *cap[HTTP_MAX_CAPTURES];
	size_t n = 0;
	assert_false(match("/v2/models/{name}/ready", "/v2/models//ready", cap, &n, scratch));
	assert_false(match("/v2/models/{name}", "/v2/models/", cap, &n, scratch));
}

static void test_match_suffix_splits_at_colon(void **state)
{
	char scratch[256];
	const char *cap[HTTP_MAX_CAPTURES];
	size_t n = 0;
	assert_true(
		match("/v1/models/{name}:predict", "/v1/models/sent:predict", cap, &n, scratch));
	assert_string_equal(cap[0], "sent");
	assert_false(match("/v1/models/{name}:predict", "/v1/models/:predict", cap, &n, scratch));
	assert_false(
		match("/v1/models/{name}:predict", "/v1/models/a:b:predict", cap, &n, scratch));
	/* A plain capture never swallows a colon, so GET ...:predict is not a model name. */
	assert_false(match("/v1/models/{name}", "/v1/models/a:predict", cap, &n, scratch));
}

static void echo(void *ctx, const struct http_req *req, struct http_resp *resp)
{
	(void)buf_addf(&resp->body, "{\"len\": %zu, \"cap\": \"%s\"}", req->body_len,
		       req->ncap ? req->cap[0] : "");
}

/* Sends raw and reads the whole reply (the server closes: Connection: close). */
static void roundtrip(unsigned port, const char *raw, char *out, size_t outsz)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;
	ssize_t n;
	assert_true(fd >= 0);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, raw, strlen(raw)), (ssize_t)strlen(raw));
	while (got < outsz - 1 && (n = read(fd, out + got, outsz - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
}

static void test_match_tail_takes_rest(void **state)
{
	char scratch[64];
	const char *cap[HTTP_MAX_CAPTURES];
	size_t n = 0;
	(void)state;
	assert_int_equal(http_match("/a/{*p}", "/a/x/y/z", scratch, cap, &n), 1);
	assert_int_equal(n, 1);
	assert_string_equal(cap[0], "x/y/z");
	assert_int_equal(http_match("/a/{*p}", "/a/", scratch, cap, &n), 1);
	assert_string_equal(cap[0], "");
	assert_int_equal(http_match("/a/{*p}", "/b/x", scratch, cap, &n), 0);
	assert_int_equal(http_match("/a/{*p}/b", "/a/x/b", scratch, cap, &n), 0);
}

static void test_server_routes_and_errors(void **state)
{
	static const struct http_route routes[] = {
		{HTTP_POST, "/echo/{x}", echo},
		{HTTP_GET, "/get", echo},
	};
	struct http_config cfg;
	struct err err = ERR_INIT;
	struct http_server *s;
	struct buf m = BUF_INIT;
	char out[4096];

	http_config_default(&cfg);
	cfg.port = 0;
	cfg.threads = 2;
	cfg.max_body = 16;
	s = http_start(&cfg, routes, 2, NULL, &err);
	assert_non_null(s);
	assert_true(http_port(s) > 0);

	roundtrip(http_port(s),
		  "POST /echo/abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		  "Content-Length: 5\r\n\r\nhello",
		  out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 200"));
	assert_non_null(strstr(out, "{\"len\": 5, \"cap\": \"abc\"}"));

	roundtrip(http_port(s), "GET /echo/abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		  out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 405"));
	assert_non_null(strstr(out, "Allow: POST"));
	assert_non_null(strstr(out, "{\"error\": "));

	roundtrip(http_port(s), "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out,
		  sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 404"));
	assert_non_null(strstr(out, "no route for '/nope'"));

	roundtrip(http_port(s),
		  "POST /echo/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		  "Content-Length: 20\r\n\r\n01234567890123456789",
		  out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 413"));

	/* A chunked body has no length up front: it is cut off while read. */
	roundtrip(http_port(s),
		  "POST /echo/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n14\r\n01234567890123456789\r\n0\r\n\r\n",
		  out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 413"));

	assert_int_equal(http_write_metrics(s, &m), 0);
	assert_non_null(strstr(m.ptr, "kiln_http_requests_total{code=\"200\",handler=\"/echo/{x}\","
				      "method=\"POST\"} 1\n"));
	assert_non_null(strstr(m.ptr, "kiln_http_requests_total{code=\"405\",handler=\"/echo/{x}\","
				      "method=\"GET\"} 1\n"));
	assert_non_null(strstr(m.ptr, "handler=\"unmatched\",method=\"GET\"} 1\n"));
	/* Each 413 is counted once, whether refused up front or cut off while read. */
	assert_non_null(strstr(m.ptr, "kiln_http_requests_total{code=\"413\",handler=\"/echo/{x}\","
				      "method=\"POST\"} 2\n"));
	assert_non_null(strstr(
		m.ptr, "kiln_http_request_duration_seconds_count{handler=\"/echo/{x}\"} 4\n"));
	assert_int_equal(http_drain(s, 1000), 0);
	http_free(s);
	buf_release(&m);
}

static void test_start_rejects_bad_host(void **state)
{
	struct http_config cfg;
	struct err err = ERR_INIT;
	http_config_default(&cfg);
	cfg.host = "localhost:80";
	assert_null(http_start(&cfg, NULL, 0, NULL, &err));
	assert_non_null(strstr(err.msg, "not a numeric IPv4 or IPv6 address"));
}

static void test_prom_label_escapes(void **state)
{
	struct buf b = BUF_INIT;
	assert_int_equal(http_prom_label(&b, "a\\b\"c\nd"), 0);
	assert_string_equal(b.ptr, "a\\\\b\\\"c\\nd");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_literal_and_captures),
		cmocka_unit_test(test_match_rejects_empty_segment),
		cmocka_unit_test(test_match_suffix_splits_at_colon),
		cmocka_unit_test(test_match_tail_takes_rest),
		cmocka_unit_test(test_server_routes_and_errors),
		cmocka_unit_test(test_start_rejects_bad_host),
		cmocka_unit_test(test_prom_label_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

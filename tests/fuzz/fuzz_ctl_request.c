/*
 * fuzz_ctl_request.c - libFuzzer target for the REST request decoding of
 * kiln server: routing, JSON bodies, query arguments, filters, order_by,
 * page tokens, artifact paths, through ctl_handle on a real SQLite store
 * and blob directory (in a temporary directory made once).
 * Input: byte 0 picks the method and the content type; then
 * "PATH[?QUERY]\n" and the body.
 */
#include <stddef.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "ctl/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 16

struct query {
	const char *key[MAX_ARGS], *val[MAX_ARGS];
	size_t n;
};

static const char *q_arg(void *actx, const char *name)
{
	struct query *q = actx;
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->key[i], name) == 0)
			return q->val[i];
	return NULL;
}

static size_t q_args(void *actx, const char *name, const char **out, size_t max)
{
	struct query *q = actx;
	size_t n = 0;
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->key[i], name) == 0) {
			if (n < max)
				out[n] = q->val[i];
			n++;
		}
	return n;
}

/* Splits "a=1&b=2" in place. */
static void parse_query(char *s, struct query *q)
{
	q->n = 0;
	while (s && *s && q->n < MAX_ARGS) {
		char *amp = strchr(s, '&'), *eq;
		if (amp)
			*amp = '\0';
		eq = strchr(s, '=');
		if (eq)
			*eq = '\0';
		q->key[q->n] = s;
		q->val[q->n] = eq ? eq + 1 : "";
		q->n++;
		s = amp ? amp + 1 : NULL;
	}
}

static char dir[] = "/tmp/kiln-fuzz-ctl.XXXXXX";

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* At the end of a run, the store goes (left behind after a crash, to look at). */
static void remove_dir(void)
{
	(void)nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct ctl *open_ctl(void)
{
	struct ctl_config cfg = {0};
	struct err err = ERR_INIT;
	struct ctl *c;
	if (!mkdtemp(dir))
		abort();
	(void)atexit(remove_dir);
	cfg.home = dir;
	cfg.blobs.home = dir;
	c = ctl_new(&cfg, &err);
	if (!c) {
		fprintf(stderr, "fuzz_ctl_request: %s\n", err.msg);
		abort();
	}
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int methods[] = {HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_PATCH};
	static struct ctl *c; /* one store for the whole run: state carries over */
	struct http_resp resp = HTTP_RESP_INIT;
	struct ctl_req req = {0};
	struct query q;
	char *text, *nl, *qm;

	if (size < 1)
		return 0;
	if (!c)
		c = open_ctl();
	text = mem_malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	nl = memchr(text, '\n', size - 1);
	req.method = methods[data[0] % 5];
	req.content_type = data[0] & 0x80 ? "text/plain" : "application/json; charset=utf-8";
	req.if_none_match = data[0] & 0x40 ? "\"1-\"" : NULL;
	req.path = text;
	req.body = nl ? nl + 1 : "";
	req.body_len = nl ? size - 1 - (size_t)(nl + 1 - text) : 0;
	if (nl)
		*nl = '\0';
	qm = strchr(text, '?');
	if (qm)
		*qm++ = '\0';
	parse_query(qm, &q);
	req.arg = q_arg;
	req.args = q_args;
	req.actx = &q;
	ctl_handle(c, &req, &resp);
	/* Every reply has a status a client understands; errors are JSON objects. */
	if (resp.status < 200 || resp.status > 599)
		__builtin_trap();
	if (resp.status >= 400 && strncmp(resp.body.ptr, "{\"error_code\": ", 15) != 0)
		__builtin_trap();
	buf_release(&resp.body);
	mem_free(text);
	return 0;
}

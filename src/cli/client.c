/*
 * client.c - cli_client_open: which kiln server a command talks to, and
 * with which token, from the --server/--registry flag and the environment
 * (KILN_SERVER, KILN_TOKEN, KILN_TOKEN_FILE); the argument parsing and
 * output helpers `kiln models` and `kiln exp` share. The calls are in ctl/client.c.
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/mem.h"
#include "ctl/client.h"
#include "http/http.h"

#define CLI_MAX_TOKEN_FILE 4096

/* Drops blanks and line ends around the buffer's text. */
static void trim(struct buf *tok)
{
	size_t start = 0, end = tok->len;
	while (start < end && strchr(" \t\r\n", tok->ptr[start]))
		start++;
	while (end > start && strchr(" \t\r\n", tok->ptr[end - 1]))
		end--;
	memmove(tok->ptr, tok->ptr + start, end - start);
	buf_setlen(tok, end - start);
}

int cli_read_token_file(const char *path, struct buf *tok, struct err *err)
{
	if (buf_read_file(tok, path, CLI_MAX_TOKEN_FILE) < 0)
		return err_set(err, ERR_IO, "cannot read token file '%s': %s", path,
			       errno == E2BIG ? "larger than 4096 bytes" : strerror(errno));
	buf_setlen(tok, strcspn(tok->ptr, "\r\n"));
	trim(tok);
	return 0;
}

int cli_token(struct buf *tok, struct err *err)
{
	const char *env = getenv("KILN_TOKEN"), *file = getenv("KILN_TOKEN_FILE");
	buf_reset(tok);
	if (env && *env) {
		if (buf_adds(tok, env) < 0)
			return err_set(err, ERR_NOMEM, "out of memory");
		trim(tok);
		return 0;
	}
	if (!file || !*file)
		return 0;
	if (cli_read_token_file(file, tok, err) < 0)
		return -1;
	if (!tok->len)
		return err_set(err, ERR_INVALID, "KILN_TOKEN_FILE '%s' is empty", file);
	return 0;
}

int cli_client_open(const char *url_flag, struct ctl_client **out, struct err *err)
{
	struct ctl_client_config cfg = {0};
	struct buf tok = BUF_INIT;
	const char *url = url_flag && *url_flag ? url_flag : getenv("KILN_SERVER");
	int ret = -1;
	*out = NULL;
	if (!url || !*url)
		return err_set(err, ERR_USAGE,
			       "no kiln server: set KILN_SERVER or pass --server URL");
	if (cli_token(&tok, err) < 0)
		goto out;
	cfg.url = url;
	cfg.token = tok.len ? tok.ptr : NULL;
	*out = ctl_client_new(&cfg, err);
	if (*out)
		ret = 0;
	else if (err->code == ERR_INVALID)
		err->code = ERR_USAGE; /* a bad URL or token is the caller's setting: exit 2 */
out:
	buf_release(&tok);
	return ret;
}

int cli_remote_parse(const char *cmd, int argc, char **argv, int min, int max,
		     struct cli_remote_args *a)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"server", required_argument, NULL, 's'},
		{"registry", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	int c;
	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			a->json = 1;
			break;
		case 's':
			a->server = optarg;
			break;
		case ':':
			return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	for (; optind < argc; optind++) {
		if (a->npos >= max || a->npos >= CLI_REMOTE_MAX_POS)
			return cli_usage_error(cmd, "%s: unexpected argument '%s'", argv[0],
					       argv[optind]);
		a->pos[a->npos++] = argv[optind];
	}
	if (a->npos < min)
		return cli_usage_error(cmd, "%s: missing argument (%d needed)", argv[0], min);
	return 0;
}

void cli_print_json(struct json_t *j)
{
	if (json_dumpf(j, stdout, JSON_INDENT(2)) == 0)
		putchar('\n'); /* a failed write shows in ferror(stdout), checked by main */
}

void cli_format_ms(long long ms, char *out, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (ms <= 0 || !gmtime_r(&t, &tm) || strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, n, "-");
}

int cli_fetch_pages(struct ctl_client *c, const char *path, const char *const *query,
		    const char *key, struct json_t **out, struct err *err)
{
	const char *q[2 * CLI_FETCH_MAX_ARGS + 3] = {0};
	json_t *all = json_array(), *r = NULL;
	char *token = NULL;
	size_t n = 0;
	int ret = -1;
	*out = NULL;
	while (query && query[n] && query[n + 1] && n < 2 * CLI_FETCH_MAX_ARGS) {
		q[n] = query[n];
		q[n + 1] = query[n + 1];
		n += 2;
	}
	if (!all)
		return err_set(err, ERR_NOMEM, "out of memory");
	do {
		const char *next;
		if (ctl_client_call(c, HTTP_GET, path, q, NULL, &r, err) < 0)
			goto out;
		if (json_array_extend(all, json_object_get(r, key)) < 0 &&
		    json_object_get(r, key)) {
			err_set(err, ERR_FORMAT, "reply of %s: '%s' is not a list", path, key);
			goto out;
		}
		next = json_string_value(json_object_get(r, "next_page_token"));
		mem_free(token);
		token = next ? mem_strdup(next) : NULL;
		if (next && !token) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		q[n] = token ? "page_token" : NULL;
		q[n + 1] = token;
		json_decref(r);
		r = NULL;
	} while (token);
	*out = all;
	all = NULL;
	ret = 0;
out:
	mem_free(token);
	json_decref(r);
	json_decref(all);
	return ret;
}

/*
 * client.c - cli_client_open: which kiln server a command talks to, and
 * with which token, from the --server/--registry flag and the environment
 * (KILN_SERVER, KILN_TOKEN, KILN_TOKEN_FILE). The calls are in ctl/client.c.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "ctl/client.h"

#define CLI_MAX_TOKEN_FILE 4096

/* The token: $KILN_TOKEN, else the first line of $KILN_TOKEN_FILE, trimmed. */
static int read_token(struct buf *tok, struct err *err)
{
	const char *env = getenv("KILN_TOKEN"), *file = getenv("KILN_TOKEN_FILE");
	size_t start = 0, end;
	if (env && *env) {
		if (buf_adds(tok, env) < 0)
			return err_set(err, ERR_NOMEM, "out of memory");
	} else if (file && *file) {
		if (buf_read_file(tok, file, CLI_MAX_TOKEN_FILE) < 0)
			return err_set(err, ERR_IO, "KILN_TOKEN_FILE '%s': %s", file,
				       errno == E2BIG ? "larger than 4096 bytes" : strerror(errno));
		buf_setlen(tok, strcspn(tok->ptr, "\r\n"));
	} else {
		return 0;
	}
	end = tok->len;
	while (start < end && strchr(" \t\r\n", tok->ptr[start]))
		start++;
	while (end > start && strchr(" \t\r\n", tok->ptr[end - 1]))
		end--;
	memmove(tok->ptr, tok->ptr + start, end - start);
	buf_setlen(tok, end - start);
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
	if (read_token(&tok, err) < 0)
		goto out;
	cfg.url = url;
	cfg.token = tok.len ? tok.ptr : NULL;
	*out = ctl_client_new(&cfg, err);
	if (*out)
		ret = 0;
out:
	buf_release(&tok);
	return ret;
}

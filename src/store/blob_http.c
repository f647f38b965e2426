/*
 * blob_http.c - blobs kept by a kiln server, through its routes
 * PUT/GET/HEAD /api/2.0/kiln/blobs/<sha256> (ctl/artifact.c), with a bearer
 * token for writes. The server hashes every PUT body against its key; reads
 * are verified here (blob.c). Requests are blob_remote.c's, shared with S3.
 */
#include "store/blob_internal.h"

#include "base/buf.h"
#include "base/mem.h"

#include <jansson.h>
#include <string.h>

#define BLOBS_ROUTE "/api/2.0/kiln/blobs/"

void blob__http_detail(const struct buf *body, char *out, size_t n)
{
	json_t *j = json_loadb(body->ptr, body->len, 0, NULL);
	const char *m = json_string_value(json_object_get(j, "message"));
	const char *code = json_string_value(json_object_get(j, "error_code"));
	out[0] = '\0';
	if (m || code)
		snprintf(out, n, "%s%s%s", code ? code : "", code && m ? ": " : "", m ? m : "");
	json_decref(j);
}

static const struct blob__ops http_ops = BLOB__REMOTE_OPS("kiln");

/* http(s)://HOST[:PORT][/PATH] with no query, fragment, spaces or control characters. */
static int url_ok(const char *url)
{
	const char *host = strstr(url, "://") + 3;
	if (!*host || *host == '/')
		return 0;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#' || *p == 0x7f)
			return 0;
	return 1;
}

int blob__http_open(struct blob_store *bs, const struct blob_config *cfg, struct err *err)
{
	struct blob__remote *r;
	struct buf b = BUF_INIT;
	size_t len = strlen(cfg->url);
	if (!url_ok(cfg->url))
		return err_set(err, ERR_USAGE, "invalid kiln server URL '%.200s'", cfg->url);
	if (cfg->token && strpbrk(cfg->token, "\r\n"))
		return err_set(err, ERR_USAGE, "invalid kiln server token: it has a line break");
	if (blob__remote_new(bs, &http_ops, "kiln server", err) < 0)
		return -1;
	r = bs->impl;
	r->no_delete = 1;
	r->detail = blob__http_detail;
	while (len > 0 && cfg->url[len - 1] == '/')
		len--;
	if (buf_addf(&b, "%.*s" BLOBS_ROUTE, (int)len, cfg->url) < 0 ||
	    !(r->base = buf_take(&b, NULL)) ||
	    (cfg->token && *cfg->token &&
	     (buf_addf(&b, "Authorization: Bearer %s", cfg->token) < 0 ||
	      !(r->auth = buf_take(&b, NULL))))) {
		buf_release(&b);
		blob__remote_close(bs);
		bs->ops = NULL;
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	return 0;
}

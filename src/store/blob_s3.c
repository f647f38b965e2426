/*
 * blob_s3.c - blobs in an S3-compatible bucket through libcurl, signed
 * with curl's built-in SigV4 (CURLOPT_AWS_SIGV4). Path-style URLs when an
 * endpoint is given (MinIO, moto, Ceph), virtual-host style on AWS. Every
 * PUT carries the blob's sha256 as x-amz-content-sha256, so the server can
 * refuse bytes that do not match. Credentials come from the caller; the
 * requests themselves are blob_remote.c's, shared with blob_http.c.
 */
#include "store/blob_internal.h"

#include "base/buf.h"
#include "base/mem.h"

#include <stdio.h>
#include <string.h>

/* The S3 error code in an XML error body, for the message. */
static void s3_error_code(const struct buf *body, char *out, size_t n)
{
	const char *a = strstr(body->ptr, "<Code>"), *b;
	out[0] = '\0';
	if (!a)
		return;
	a += 6;
	b = strstr(a, "</Code>");
	if (b && (size_t)(b - a) < n)
		snprintf(out, n, "%.*s", (int)(b - a), a);
}

static const struct blob__ops s3_ops = BLOB__REMOTE_OPS("s3");

/* Bucket names and prefixes are kept to characters that need no escaping. */
static int s3_name_ok(const char *s, int allow_slash)
{
	const char *seg = s;
	for (; *s; s++) {
		int c = (unsigned char)*s;
		if (c == '/' && allow_slash) {
			if (s - seg == 2 && seg[0] == '.' && seg[1] == '.')
				return 0;
			seg = s + 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return !(s - seg == 2 && seg[0] == '.' && seg[1] == '.');
}

static int s3_setup(struct blob__remote *s, const struct blob_config *cfg, const char *bucket,
		    const char *prefix, struct err *err)
{
	const char *region = cfg->s3_region && *cfg->s3_region ? cfg->s3_region : "us-east-1";
	struct buf b = BUF_INIT;
	size_t plen = strlen(prefix);
	char *endpoint = NULL;
	int ret = -1;
	while (plen > 0 && prefix[plen - 1] == '/')
		plen--;
	if (cfg->s3_endpoint && *cfg->s3_endpoint) {
		endpoint = mem_strdup(cfg->s3_endpoint);
		if (!endpoint)
			goto oom;
		while (*endpoint && endpoint[strlen(endpoint) - 1] == '/')
			endpoint[strlen(endpoint) - 1] = '\0';
		if (buf_addf(&b, "%s/%s", endpoint, bucket) < 0)
			goto oom;
	} else if (buf_addf(&b, "https://%s.s3.%s.amazonaws.com", bucket, region) < 0) {
		goto oom;
	}
	if ((plen && buf_addf(&b, "/%.*s", (int)plen, prefix) < 0) || buf_adds(&b, "/objects/") < 0)
		goto oom;
	s->base = buf_take(&b, NULL);
	if (!s->base || buf_addf(&b, "aws:amz:%s:s3", region) < 0)
		goto oom;
	s->sigv4 = buf_take(&b, NULL);
	if (!s->sigv4 || buf_addf(&b, "%s:%s", cfg->s3_access_key, cfg->s3_secret_key) < 0)
		goto oom;
	s->userpwd = buf_take(&b, NULL);
	if (!s->userpwd)
		goto oom;
	if (cfg->s3_session_token && *cfg->s3_session_token) {
		if (buf_addf(&b, "x-amz-security-token: %s", cfg->s3_session_token) < 0)
			goto oom;
		s->auth = buf_take(&b, NULL);
		if (!s->auth)
			goto oom;
	}
	ret = 0;
	goto out;
oom:
	err_set(err, ERR_NOMEM, "out of memory");
out:
	mem_free(endpoint);
	buf_release(&b);
	return ret;
}

int blob__s3_open(struct blob_store *bs, const struct blob_config *cfg, const char *bucket,
		  const char *prefix, struct err *err)
{
	struct blob__remote *s;
	if (!*bucket || !s3_name_ok(bucket, 0))
		return err_set(err, ERR_USAGE, "invalid S3 bucket name '%s'", bucket);
	if (!s3_name_ok(prefix, 1))
		return err_set(err, ERR_USAGE,
			       "invalid S3 prefix '%s' (letters, digits, - _ . and /; no ..)",
			       prefix);
	if (!cfg->s3_access_key || !*cfg->s3_access_key || !cfg->s3_secret_key ||
	    !*cfg->s3_secret_key)
		return err_set(err, ERR_USAGE,
			       "s3: no credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
	if (blob__remote_new(bs, &s3_ops, "s3", err) < 0)
		return -1;
	s = bs->impl;
	s->split_key = 1;
	s->amz_sha = 1;
	s->detail = s3_error_code;
	if (s3_setup(s, cfg, bucket, prefix, err) < 0) {
		blob__remote_close(bs);
		bs->ops = NULL;
		return -1;
	}
	return 0;
}

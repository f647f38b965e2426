/*
 * blob_s3.c - blobs in an S3-compatible bucket through libcurl, signed
 * with curl's built-in SigV4 (CURLOPT_AWS_SIGV4). Path-style URLs when an
 * endpoint is given (MinIO, moto, Ceph), virtual-host style on AWS. Every
 * PUT carries the blob's sha256 as x-amz-content-sha256, so the server can
 * refuse bytes that do not match. Credentials come from the caller.
 */
#include "store/blob_internal.h"

#include "base/buf.h"
#include "base/mem.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define S3_ERR_BODY_MAX	   4096
#define S3_CONNECT_TIMEOUT 10L
#define EMPTY_SHA256	   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3 {
	CURL *curl;
	char *base;   /* up to and including the bucket, no trailing slash */
	char *prefix; /* "" or "a/b/" */
	char *sigv4;  /* "aws:amz:REGION:s3" */
	char *userpwd;
	char *token; /* "x-amz-security-token: ..." or NULL */
};

/* What one request sends and receives. */
struct s3_req {
	const char *method; /* GET PUT HEAD DELETE */
	const char *sha;
	FILE *upload;
	uint64_t upload_size;
	struct blob__sink *sink; /* GET body on 2xx */
	struct buf body;	 /* error body */
	long status;
	curl_off_t length;
	struct err *err;
	int sink_failed;
};

static void s3_close(struct blob_store *bs)
{
	struct s3 *s = bs->impl;
	if (!s)
		return;
	if (s->curl)
		curl_easy_cleanup(s->curl);
	mem_free(s->base);
	mem_free(s->prefix);
	mem_free(s->sigv4);
	mem_free(s->userpwd);
	mem_free(s->token);
	mem_free(s);
	bs->impl = NULL;
}

static size_t s3_write(char *p, size_t size, size_t n, void *arg)
{
	struct s3_req *r = arg;
	size_t len = size * n;
	if (r->sink && r->status == 0) {
		if (blob__sink_write(r->sink, p, len, r->err) < 0) {
			r->sink_failed = 1;
			return 0; /* makes curl stop with CURLE_WRITE_ERROR */
		}
		return len;
	}
	if (r->body.len < S3_ERR_BODY_MAX)
		(void)buf_add(&r->body, p, len); /* a truncated error body is still useful */
	return len;
}

static size_t s3_header(char *p, size_t size, size_t n, void *arg)
{
	struct s3_req *r = arg;
	/* A status line starts a response: bodies of non-2xx replies are errors, not blobs. */
	if (n * size > 5 && strncmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', n * size);
		r->status = sp && sp[1] == '2' ? 0 : 1;
	}
	return size * n;
}

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

static int s3_url(struct s3 *s, const char *sha, struct buf *url, struct err *err)
{
	if (buf_addf(url, "%s/%sobjects/%.2s/%s", s->base, s->prefix, sha, sha + 2) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

/* Sends one request; r->status holds the HTTP status. -1 only for transport errors. */
static int s3_send(struct s3 *s, struct s3_req *r)
{
	struct curl_slist *h = NULL, *h2;
	struct buf url = BUF_INIT, sha_h = BUF_INIT;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	int ret = -1;
	if (s3_url(s, r->sha, &url, r->err) < 0)
		goto out;
	if (buf_addf(&sha_h, "x-amz-content-sha256: %s", r->upload ? r->sha : EMPTY_SHA256) < 0) {
		err_set(r->err, ERR_NOMEM, "out of memory");
		goto out;
	}
	/*
	 * No "Expect:" override here: curl would sign an empty expect header it
	 * then does not send, and S3 would refuse the signature.
	 */
	h = curl_slist_append(NULL, sha_h.ptr);
	if (h && s->token && (h2 = curl_slist_append(h, s->token)) != NULL)
		h = h2;
	if (!h) {
		err_set(r->err, ERR_NOMEM, "out of memory");
		goto out;
	}
	curl_easy_reset(s->curl);
	curl_easy_setopt(s->curl, CURLOPT_URL, url.ptr);
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT, S3_CONNECT_TIMEOUT);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(s->curl, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(s->curl, CURLOPT_USERPWD, s->userpwd);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, s3_write);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, r);
	if (strcmp(r->method, "HEAD") == 0) {
		curl_easy_setopt(s->curl, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "PUT") == 0) {
		curl_easy_setopt(s->curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(s->curl, CURLOPT_READDATA, r->upload);
		curl_easy_setopt(s->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->upload_size);
	} else if (strcmp(r->method, "DELETE") == 0) {
		curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, "DELETE");
	}
	if (r->sink) {
		/* GET bodies go to the sink only on success: the header callback tells. */
		curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, s3_header);
		curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, r);
	}
	rc = curl_easy_perform(s->curl);
	if (r->sink_failed)
		goto out;
	if (rc != CURLE_OK) {
		err_set(r->err, ERR_IO, "s3: %s %s: %s", r->method, url.ptr,
			errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(s->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &r->length);
	ret = 0;
out:
	curl_slist_free_all(h);
	buf_release(&url);
	buf_release(&sha_h);
	return ret;
}

static int s3_status_error(struct s3_req *r, const char *what)
{
	char code[64];
	s3_error_code(&r->body, code, sizeof(code));
	if (r->status == 404)
		return err_set(r->err, ERR_NOTFOUND, "blob %s not found", r->sha);
	return err_set(r->err, ERR_IO, "s3: %s of blob %s failed: HTTP %ld%s%s", what, r->sha,
		       r->status, code[0] ? " " : "", code);
}

static int s3_stat(struct blob_store *bs, const char *sha, int *exists, uint64_t *size,
		   struct err *err)
{
	struct s3_req r = {"HEAD", sha, NULL, 0, NULL, BUF_INIT, 0, -1, err, 0};
	int ret = -1;
	if (s3_send(bs->impl, &r) < 0)
		goto out;
	if (r.status == 404) {
		*exists = 0;
	} else if (r.status / 100 == 2) {
		*exists = 1;
		if (size)
			*size = r.length >= 0 ? (uint64_t)r.length : 0;
	} else {
		s3_status_error(&r, "stat");
		goto out;
	}
	ret = 0;
out:
	buf_release(&r.body);
	return ret;
}

static int s3_put_fd(struct blob_store *bs, int fd, char sha[HASH_SHA256_HEX], uint64_t *size,
		     struct err *err)
{
	struct s3_req r = {"PUT", sha, NULL, 0, NULL, BUF_INIT, 0, -1, err, 0};
	FILE *spool = tmpfile();
	uint64_t n = 0, have = 0;
	int exists = 0, ret = -1;
	/* The key is the hash, known only at the end: spool first, then upload. */
	if (!spool)
		return err_set(err, ERR_IO, "cannot create a temporary file: %s", strerror(errno));
	if (blob__copy_hash(fd, spool, sha, &n, err) < 0)
		goto out;
	if (size)
		*size = n;
	/* Already there with the right size: skip the upload (another size is damage: replace). */
	if (s3_stat(bs, sha, &exists, &have, err) < 0)
		goto out;
	if (exists && have == n) {
		ret = 0;
		goto out;
	}
	rewind(spool);
	r.upload = spool;
	r.upload_size = n;
	if (s3_send(bs->impl, &r) < 0)
		goto out;
	if (r.status / 100 != 2) {
		s3_status_error(&r, "upload");
		goto out;
	}
	ret = 0;
out:
	fclose(spool);
	buf_release(&r.body);
	return ret;
}

static int s3_get(struct blob_store *bs, const char *sha, struct blob__sink *sink, struct err *err)
{
	struct s3_req r = {"GET", sha, NULL, 0, sink, BUF_INIT, 0, -1, err, 0};
	int ret = -1;
	if (s3_send(bs->impl, &r) < 0)
		goto out;
	if (r.status / 100 != 2) {
		s3_status_error(&r, "download");
		goto out;
	}
	ret = 0;
out:
	buf_release(&r.body);
	return ret;
}

static int s3_remove(struct blob_store *bs, const char *sha, struct err *err)
{
	int exists = 0;
	struct s3_req r = {"DELETE", sha, NULL, 0, NULL, BUF_INIT, 0, -1, err, 0};
	int ret = -1;
	/* S3 answers 204 to a DELETE of a missing key: ask first to report it. */
	if (s3_stat(bs, sha, &exists, NULL, err) < 0)
		return -1;
	if (!exists)
		return err_set(err, ERR_NOTFOUND, "blob %s not found", sha);
	if (s3_send(bs->impl, &r) < 0)
		goto out;
	if (r.status / 100 != 2) {
		s3_status_error(&r, "delete");
		goto out;
	}
	ret = 0;
out:
	buf_release(&r.body);
	return ret;
}

static const struct blob__ops s3_ops = {
	.name = "s3",
	.close = s3_close,
	.put_fd = s3_put_fd,
	.stat = s3_stat,
	.get = s3_get,
	.remove = s3_remove,
	.sync = NULL,
};

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

static int s3_setup(struct s3 *s, const struct blob_config *cfg, const char *bucket,
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
	s->base = buf_take(&b, NULL);
	if (!s->base || (plen && buf_addf(&b, "%.*s/", (int)plen, prefix) < 0))
		goto oom;
	s->prefix = buf_take(&b, NULL);
	if (!s->prefix || buf_addf(&b, "aws:amz:%s:s3", region) < 0)
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
		s->token = buf_take(&b, NULL);
		if (!s->token)
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
	struct s3 *s;
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
	s = mem_calloc(1, sizeof(*s));
	if (!s)
		return err_set(err, ERR_NOMEM, "out of memory");
	bs->ops = &s3_ops;
	bs->impl = s;
	s->curl = curl_easy_init();
	if (!s->curl) {
		err_set(err, ERR_NOMEM, "cannot start libcurl");
		goto fail;
	}
	if (s3_setup(s, cfg, bucket, prefix, err) < 0)
		goto fail;
	return 0;
fail:
	s3_close(bs);
	bs->ops = NULL;
	return -1;
}

/*
 * blob_remote.c - the libcurl request code of the two HTTP blob backends, S3
 * (blob_s3.c) and kiln server (blob_http.c): one request function and the
 * stat, put, get and remove built on it. The backends only say where a blob
 * lives, how requests are signed and how to read an error reply.
 */
#include "store/blob_internal.h"

#include "base/buf.h"
#include "base/mem.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REMOTE_ERR_BODY_MAX    4096
#define REMOTE_CONNECT_TIMEOUT 10L
/* A transfer slower than 1 byte/s for this long is given up (a hung server). */
#define REMOTE_LOW_SPEED_TIME 60L
#define EMPTY_SHA256	      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* What one request sends and receives. */
struct req {
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
	int not_2xx; /* set by the header callback: the body is an error, not the blob */
};

int blob__remote_new(struct blob_store *bs, const struct blob__ops *ops, const char *label,
		     struct err *err)
{
	struct blob__remote *r = mem_calloc(1, sizeof(*r));
	if (!r)
		return err_set(err, ERR_NOMEM, "out of memory");
	bs->ops = ops;
	bs->impl = r;
	r->label = label;
	r->curl = curl_easy_init();
	if (!r->curl) {
		blob__remote_close(bs);
		bs->ops = NULL;
		return err_set(err, ERR_NOMEM, "cannot start libcurl");
	}
	return 0;
}

void blob__remote_close(struct blob_store *bs)
{
	struct blob__remote *r = bs->impl;
	if (!r)
		return;
	if (r->curl)
		curl_easy_cleanup(r->curl);
	mem_free(r->base);
	mem_free(r->sigv4);
	mem_free(r->userpwd);
	mem_free(r->auth);
	mem_free(r);
	bs->impl = NULL;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct req *q = arg;
	size_t len = size * n;
	if (q->sink && !q->not_2xx) {
		if (blob__sink_write(q->sink, p, len, q->err) < 0) {
			q->sink_failed = 1;
			return 0; /* makes curl stop with CURLE_WRITE_ERROR */
		}
		return len;
	}
	if (q->body.len < REMOTE_ERR_BODY_MAX)
		(void)buf_add(&q->body, p, len); /* a truncated error body is still useful */
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct req *q = arg;
	/* A status line starts a response: bodies of non-2xx replies are errors, not blobs. */
	if (n * size > 5 && strncmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', n * size);
		q->not_2xx = !(sp && sp[1] == '2');
	}
	return size * n;
}

/* The headers of a request; NULL on allocation failure. */
static struct curl_slist *headers(const struct blob__remote *r, const struct req *q)
{
	struct curl_slist *h = NULL, *next;
	char line[128];
	if (r->amz_sha) {
		/*
		 * No "Expect:" override here: curl would sign an empty expect header
		 * it then does not send, and S3 would refuse the signature.
		 */
		snprintf(line, sizeof(line), "x-amz-content-sha256: %s",
			 q->upload ? q->sha : EMPTY_SHA256);
		if (!(h = curl_slist_append(NULL, line)))
			return NULL;
	}
	if (q->upload && !r->amz_sha) {
		if (!(next = curl_slist_append(h, "Content-Type: application/octet-stream")))
			goto oom;
		h = next;
	}
	if (r->auth) {
		if (!(next = curl_slist_append(h, r->auth)))
			goto oom;
		h = next;
	}
	if (!h && !(h = curl_slist_append(NULL, "Accept: */*")))
		return NULL;
	return h;
oom:
	curl_slist_free_all(h);
	return NULL;
}

static void set_method(CURL *c, struct req *q)
{
	if (strcmp(q->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(q->method, "PUT") == 0) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READDATA, q->upload);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->upload_size);
	} else if (strcmp(q->method, "DELETE") == 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
	}
}

/* Sends one request; q->status holds the HTTP status. -1 only for transport errors. */
static int send_req(struct blob__remote *r, struct req *q)
{
	struct curl_slist *h = NULL;
	struct buf url = BUF_INIT;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = r->curl;
	CURLcode rc;
	int ret = -1;
	if ((r->split_key ? buf_addf(&url, "%s%.2s/%s", r->base, q->sha, q->sha + 2)
			  : buf_addf(&url, "%s%s", r->base, q->sha)) < 0 ||
	    !(h = headers(r, q))) {
		err_set(q->err, ERR_NOMEM, "out of memory");
		goto out;
	}
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url.ptr);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, REMOTE_CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, REMOTE_LOW_SPEED_TIME);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (r->sigv4) {
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, r->sigv4);
		curl_easy_setopt(c, CURLOPT_USERPWD, r->userpwd);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, q);
	/* GET bodies go to the sink only on success: the header callback tells. */
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, q);
	set_method(c, q);
	rc = curl_easy_perform(c);
	if (q->sink_failed)
		goto out;
	if (rc != CURLE_OK) {
		err_set(q->err, ERR_IO, "%s: %s %s: %s", r->label, q->method, url.ptr,
			errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &q->status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &q->length);
	ret = 0;
out:
	curl_slist_free_all(h);
	buf_release(&url);
	return ret;
}

static int status_error(struct blob__remote *r, struct req *q, const char *what)
{
	char detail[200] = "";
	if (r->detail)
		r->detail(&q->body, detail, sizeof(detail));
	if (q->status == 404)
		return err_set(q->err, ERR_NOTFOUND, "blob %s not found", q->sha);
	return err_set(q->err, q->status == 401 || q->status == 403 ? ERR_INVALID : ERR_IO,
		       "%s: %s of blob %s failed: HTTP %ld%s%s", r->label, what, q->sha, q->status,
		       detail[0] ? " " : "", detail);
}

/* Sends q and turns a non-2xx status into an error named by what. */
static int send_ok(struct blob__remote *r, struct req *q, const char *what)
{
	int rc = send_req(r, q);
	if (rc == 0 && q->status / 100 != 2)
		rc = status_error(r, q, what);
	buf_release(&q->body);
	return rc;
}

int blob__remote_stat(struct blob_store *bs, const char *sha, int *exists, uint64_t *size,
		      struct err *err)
{
	struct req q = {"HEAD", sha, NULL, 0, NULL, BUF_INIT, 0, -1, err, 0, 0};
	int ret = -1;
	if (send_req(bs->impl, &q) < 0)
		goto out;
	if (q.status == 404) {
		*exists = 0;
	} else if (q.status / 100 == 2) {
		*exists = 1;
		if (size)
			*size = q.length >= 0 ? (uint64_t)q.length : 0;
	} else {
		status_error(bs->impl, &q, "stat");
		goto out;
	}
	ret = 0;
out:
	buf_release(&q.body);
	return ret;
}

/*
 * The bytes to upload, hashed: a regular file at its start is read twice
 * (hashed here, then sent) rather than copied; anything else is spooled to a
 * temporary file. Either way the service checks the body against the key,
 * so a file changed in between is refused, never stored under a wrong key.
 */
static FILE *upload_source(int fd, char sha[HASH_SHA256_HEX], uint64_t *n, struct err *err)
{
	struct stat st;
	FILE *f = NULL;
	int dup_fd;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && lseek(fd, 0, SEEK_CUR) == 0) {
		if (hash_sha256_fd(fd, "blob input", sha, n, err) < 0)
			return NULL;
		dup_fd = dup(fd);
		if (dup_fd < 0 || !(f = fdopen(dup_fd, "rb"))) {
			err_set(err, ERR_IO, "cannot reopen blob input: %s", strerror(errno));
			if (dup_fd >= 0)
				close(dup_fd);
			return NULL;
		}
	} else {
		if (!(f = tmpfile())) {
			err_set(err, ERR_IO, "cannot create a temporary file: %s", strerror(errno));
			return NULL;
		}
		if (blob__copy_hash(fd, f, sha, n, err) < 0) {
			fclose(f);
			return NULL;
		}
	}
	/* dup'ed descriptors share the offset: rewinding f rewinds fd, which is fine. */
	rewind(f);
	return f;
}

int blob__remote_put_fd(struct blob_store *bs, int fd, char sha[HASH_SHA256_HEX], uint64_t *size,
			struct err *err)
{
	struct req q = {"PUT", sha, NULL, 0, NULL, BUF_INIT, 0, -1, err, 0, 0};
	uint64_t n = 0, have = 0;
	int exists = 0, ret = -1;
	/* The key is the hash, known only at the end: hash first, then upload. */
	FILE *src = upload_source(fd, sha, &n, err);
	if (!src)
		return -1;
	if (size)
		*size = n;
	/* Already there with the right size: skip the upload (another size is damage: replace). */
	if (blob__remote_stat(bs, sha, &exists, &have, err) < 0)
		goto out;
	if (exists && have == n) {
		ret = 0;
		goto out;
	}
	q.upload = src;
	q.upload_size = n;
	ret = send_ok(bs->impl, &q, "upload");
out:
	fclose(src);
	return ret;
}

int blob__remote_get(struct blob_store *bs, const char *sha, struct blob__sink *sink,
		     struct err *err)
{
	struct req q = {"GET", sha, NULL, 0, sink, BUF_INIT, 0, -1, err, 0, 0};
	return send_ok(bs->impl, &q, "download");
}

int blob__remote_remove(struct blob_store *bs, const char *sha, struct err *err)
{
	struct blob__remote *r = bs->impl;
	struct req q = {"DELETE", sha, NULL, 0, NULL, BUF_INIT, 0, -1, err, 0, 0};
	int exists = 0;
	if (r->no_delete)
		return err_set(err, ERR_INVALID, "%s: blobs cannot be deleted remotely", r->label);
	/* S3 answers 204 to a DELETE of a missing key: ask first to report it. */
	if (blob__remote_stat(bs, sha, &exists, NULL, err) < 0)
		return -1;
	if (!exists)
		return err_set(err, ERR_NOTFOUND, "blob %s not found", sha);
	return send_ok(r, &q, "delete");
}

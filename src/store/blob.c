/*
 * blob.c - the blob store's front: picks a backend from the URL, validates
 * keys, and verifies every read against its key. The backends only move
 * bytes (blob_local.c, blob_s3.c, blob_http.c).
 */
#include "store/blob_internal.h"

#include "base/file.h"
#include "base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define COPY_CHUNK 65536

int blob_key_ok(const char *s)
{
	size_t i;
	if (!s)
		return 0;
	for (i = 0; i < HASH_SHA256_HEX - 1; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[HASH_SHA256_HEX - 1] == '\0';
}

static int key_check(const char *sha, struct err *err)
{
	if (!blob_key_ok(sha))
		return err_set(err, ERR_INVALID, "invalid blob key '%.80s' (64 hex digits)",
			       sha ? sha : "");
	return 0;
}

int blob__sink_write(struct blob__sink *s, const void *p, size_t len, struct err *err)
{
	if (len == 0)
		return 0;
	if (s->b) {
		if (s->max && s->b->len + len > s->max)
			return err_set(err, ERR_TOOBIG, "blob is larger than %zu bytes", s->max);
		if (buf_add(s->b, p, len) < 0)
			return err_set(err, ERR_NOMEM, "out of memory");
	} else if (fwrite(p, 1, len, s->f) != len) {
		return err_set(err, ERR_IO, "cannot write blob: %s", strerror(errno));
	}
	EVP_DigestUpdate(s->md, p, len);
	s->n += len;
	return 0;
}

int blob__copy_hash(int fd, FILE *tmp, char sha[HASH_SHA256_HEX], uint64_t *size, struct err *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *chunk = mem_malloc(COPY_CHUNK), digest[HASH_SHA256_LEN];
	unsigned int dlen = 0;
	uint64_t n = 0;
	int ret = -1;
	if (!md || !chunk || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, chunk, COPY_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_set(err, ERR_IO, "cannot read blob input: %s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		if (fwrite(chunk, 1, (size_t)r, tmp) != (size_t)r) {
			err_set(err, ERR_IO, "cannot write blob: %s", strerror(errno));
			goto out;
		}
		EVP_DigestUpdate(md, chunk, (size_t)r);
		n += (uint64_t)r;
	}
	if (tmp && fflush(tmp) != 0) {
		err_set(err, ERR_IO, "cannot write blob: %s", strerror(errno));
		goto out;
	}
	EVP_DigestFinal_ex(md, digest, &dlen);
	hash_hex(digest, HASH_SHA256_LEN, sha);
	if (size)
		*size = n;
	ret = 0;
out:
	EVP_MD_CTX_free(md);
	mem_free(chunk);
	return ret;
}

/* Splits "s3://bucket/prefix" and opens the S3 backend. */
static int open_s3(struct blob_store *bs, const struct blob_config *cfg, struct err *err)
{
	const char *b = cfg->url + 5, *slash = strchr(b, '/');
	size_t blen = slash ? (size_t)(slash - b) : strlen(b);
	char *bucket = mem_strndup(b, blen);
	const char *prefix = slash ? slash + 1 : "";
	int rc;
	if (!bucket)
		return err_set(err, ERR_NOMEM, "out of memory");
	rc = blob__s3_open(bs, cfg, bucket, prefix, err);
	mem_free(bucket);
	return rc;
}

/* The directory of a local store named by cfg->url (or <home>/blobs). */
static int local_root(const struct blob_config *cfg, struct buf *root, struct err *err)
{
	const char *url = cfg->url, *p = url;
	if (!url || !*url) {
		if (!cfg->home || !*cfg->home)
			return err_set(err, ERR_USAGE, "no blob store: give a URL or a home");
		if (buf_addf(root, "%s/blobs", cfg->home) < 0)
			return err_set(err, ERR_NOMEM, "out of memory");
		return 0;
	}
	if (strncmp(url, "file://", 7) == 0)
		p = url + 7;
	else if (strncmp(url, "file:", 5) == 0)
		p = url + 5;
	else if (strstr(url, "://"))
		return err_set(
			err, ERR_USAGE,
			"unknown blob store URL '%s' (a path, file:PATH, s3://BUCKET/PREFIX or "
			"http(s)://HOST:PORT of a kiln server)",
			url);
	if (!*p)
		return err_set(err, ERR_USAGE, "empty blob store path in '%s'", url);
	if (buf_adds(root, p) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

int blob_open(struct blob_store **out, const struct blob_config *cfg, struct err *err)
{
	struct blob_store *bs = mem_calloc(1, sizeof(*bs));
	struct buf root = BUF_INIT;
	const char *url = cfg->url;
	int rc;
	*out = NULL;
	if (!bs)
		return err_set(err, ERR_NOMEM, "out of memory");
	if (url && strncmp(url, "s3://", 5) == 0)
		rc = open_s3(bs, cfg, err);
	else if (url && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0))
		rc = blob__http_open(bs, cfg, err);
	else if ((rc = local_root(cfg, &root, err)) == 0)
		rc = blob__local_open(bs, root.ptr, cfg->defer_sync, err);
	buf_release(&root);
	if (rc < 0) {
		mem_free(bs);
		return -1;
	}
	*out = bs;
	return 0;
}

void blob_close(struct blob_store *bs)
{
	if (!bs)
		return;
	if (bs->ops)
		bs->ops->close(bs);
	mem_free(bs);
}

const char *blob_backend(const struct blob_store *bs)
{
	return bs->ops->name;
}

int blob_put_fd(struct blob_store *bs, int fd, char sha[HASH_SHA256_HEX], uint64_t *size,
		struct err *err)
{
	return bs->ops->put_fd(bs, fd, sha, size, err);
}

int blob_put_file(struct blob_store *bs, const char *path, char sha[HASH_SHA256_HEX],
		  uint64_t *size, struct err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
	if (fd < 0)
		return err_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
	rc = bs->ops->put_fd(bs, fd, sha, size, err);
	close(fd);
	return rc;
}

int blob_put_mem(struct blob_store *bs, const void *data, size_t len, char sha[HASH_SHA256_HEX],
		 struct err *err)
{
	const char *p = data;
	size_t done = 0;
	int fd = memfd_create("kiln-blob", MFD_CLOEXEC), rc = -1;
	if (fd < 0)
		return err_set(err, ERR_IO, "cannot create a memory file: %s", strerror(errno));
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err_set(err, ERR_IO, "cannot write a memory file: %s", strerror(errno));
			goto out;
		}
		done += (size_t)w;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		err_set(err, ERR_IO, "cannot rewind a memory file: %s", strerror(errno));
		goto out;
	}
	rc = bs->ops->put_fd(bs, fd, sha, NULL, err);
out:
	close(fd);
	return rc;
}

int blob_stat(struct blob_store *bs, const char *sha, int *exists, uint64_t *size, struct err *err)
{
	*exists = 0;
	if (key_check(sha, err) < 0)
		return -1;
	return bs->ops->stat(bs, sha, exists, size, err);
}

/* Runs a get into the sink and compares the digest with the key. */
static int get_verified(struct blob_store *bs, const char *sha, struct blob__sink *s,
			struct err *err)
{
	unsigned char digest[HASH_SHA256_LEN];
	char hex[HASH_SHA256_HEX];
	unsigned int dlen = 0;
	int ret = -1;
	if (key_check(sha, err) < 0)
		return -1;
	s->md = EVP_MD_CTX_new();
	if (!s->md || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (bs->ops->get(bs, sha, s, err) < 0)
		goto out;
	EVP_DigestFinal_ex(s->md, digest, &dlen);
	hash_hex(digest, HASH_SHA256_LEN, hex);
	if (strcmp(hex, sha) != 0) {
		err_set(err, ERR_CHECKSUM, "blob %s is corrupt: its bytes hash to %s", sha, hex);
		goto out;
	}
	ret = 0;
out:
	EVP_MD_CTX_free(s->md);
	s->md = NULL;
	return ret;
}

int blob_get_file(struct blob_store *bs, const char *sha, const char *path, struct err *err)
{
	struct file_out o = {0};
	struct blob__sink s = {0};
	if (key_check(sha, err) < 0)
		return -1;
	/* Bytes on stdout could not be taken back if they fail verification. */
	if (strcmp(path, "-") == 0)
		return err_set(err, ERR_INVALID, "cannot write blob %s to stdout: give a file",
			       sha);
	if (file_out_open(&o, path, err) < 0)
		return -1;
	s.f = o.f;
	if (get_verified(bs, sha, &s, err) < 0 || file_out_commit(&o, err) < 0) {
		file_out_abort(&o);
		return -1;
	}
	file_out_abort(&o);
	return 0;
}

int blob_get_stream(struct blob_store *bs, const char *sha, FILE *f, uint64_t *size,
		    struct err *err)
{
	struct blob__sink s = {0};
	if (key_check(sha, err) < 0)
		return -1;
	s.f = f;
	if (get_verified(bs, sha, &s, err) < 0)
		return -1;
	if (fflush(f) != 0)
		return err_set(err, ERR_IO, "cannot write blob %s: %s", sha, strerror(errno));
	if (size)
		*size = s.n;
	return 0;
}

int blob_get_buf(struct blob_store *bs, const char *sha, struct buf *out, size_t max,
		 struct err *err)
{
	struct blob__sink s = {0};
	size_t len = out->len;
	s.b = out;
	s.max = max ? len + max : 0;
	if (get_verified(bs, sha, &s, err) < 0) {
		buf_setlen(out, len);
		return -1;
	}
	return 0;
}

int blob_delete(struct blob_store *bs, const char *sha, struct err *err)
{
	if (key_check(sha, err) < 0)
		return -1;
	return bs->ops->remove(bs, sha, err);
}

int blob_sync(struct blob_store *bs, struct err *err)
{
	return bs->ops->sync ? bs->ops->sync(bs, err) : 0;
}

/*
 * blob_internal.h - what blob.c needs from a blob backend (blob_local.c,
 * blob_s3.c, blob_http.c): put from a file descriptor, stat, get into a
 * verifying sink, remove; and the libcurl request code the two HTTP backends
 * share (blob_remote.c). Only for src/store/; everyone else uses blob.h.
 */
#ifndef KILN_STORE_BLOB_INTERNAL_H
#define KILN_STORE_BLOB_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "store/blob.h"

/*
 * Where a get writes: a FILE or a buf (one of them), hashing as it goes.
 * blob.c checks the digest once the backend is done.
 */
struct blob__sink {
	FILE *f;
	struct buf *b;
	size_t max; /* for b; 0: no limit */
	void *md;   /* EVP_MD_CTX * */
	uint64_t n;
};

/* Writes and hashes len bytes; -1 with err on a write error or past max. */
int blob__sink_write(struct blob__sink *s, const void *p, size_t len, struct err *err);

/*
 * Streams fd into the already-open FILE tmp while hashing: sha and size are
 * filled. Shared by the backends that spool before storing. (To hash only:
 * hash_sha256_fd.)
 */
int blob__copy_hash(int fd, FILE *tmp, char sha[HASH_SHA256_HEX], uint64_t *size, struct err *err);

struct blob__ops {
	const char *name;
	void (*close)(struct blob_store *bs);
	int (*put_fd)(struct blob_store *bs, int fd, char sha[HASH_SHA256_HEX], uint64_t *size,
		      struct err *err);
	int (*stat)(struct blob_store *bs, const char *sha, int *exists, uint64_t *size,
		    struct err *err);
	/* Writes the stored bytes to the sink; ERR_NOTFOUND when absent. */
	int (*get)(struct blob_store *bs, const char *sha, struct blob__sink *sink,
		   struct err *err);
	int (*remove)(struct blob_store *bs, const char *sha, struct err *err);
	int (*sync)(struct blob_store *bs, struct err *err);
};

struct blob_store {
	const struct blob__ops *ops;
	void *impl;
};

/*
 * A blob service over HTTP (S3, kiln server), for blob_remote.c: the
 * backend's open fills it, blob_remote.c sends the requests. A blob's URL is
 * base + key, with "ab/" between the key's first two digits and the rest
 * when split_key is set. All strings are owned (mem_free'd by close).
 */
struct blob__remote {
	void *curl;	       /* CURL * */
	const char *label;     /* "s3", "kiln server": starts error messages */
	char *base;	       /* ".../objects/" or ".../api/2.0/kiln/blobs/" */
	int split_key;	       /* S3 layout objects/ab/cdef... */
	int amz_sha;	       /* send x-amz-content-sha256 (S3) */
	int no_delete;	       /* the service has no DELETE (kiln server) */
	char *sigv4, *userpwd; /* S3: curl's CURLOPT_AWS_SIGV4 and the key pair; else NULL */
	char *auth;	       /* one more header line ("Authorization: Bearer T"), or NULL */
	/* Writes a short reason found in an error reply's body to out ("" when none). */
	void (*detail)(const struct buf *body, char *out, size_t n);
};

/*
 * Allocates bs->impl as a struct blob__remote with a curl handle and sets
 * bs->ops; the caller fills the rest. On error bs is left closed.
 */
int blob__remote_new(struct blob_store *bs, const struct blob__ops *ops, const char *label,
		     struct err *err);
/* The shared backend operations, for a backend's struct blob__ops. */
void blob__remote_close(struct blob_store *bs);
int blob__remote_put_fd(struct blob_store *bs, int fd, char sha[HASH_SHA256_HEX], uint64_t *size,
			struct err *err);
int blob__remote_stat(struct blob_store *bs, const char *sha, int *exists, uint64_t *size,
		      struct err *err);
int blob__remote_get(struct blob_store *bs, const char *sha, struct blob__sink *sink,
		     struct err *err);
int blob__remote_remove(struct blob_store *bs, const char *sha, struct err *err);
/* The struct blob__ops of an HTTP backend named label. */
#define BLOB__REMOTE_OPS(label)                                                                    \
	{                                                                                          \
		.name = (label), .close = blob__remote_close, .put_fd = blob__remote_put_fd,       \
		.stat = blob__remote_stat, .get = blob__remote_get, .remove = blob__remote_remove, \
		.sync = NULL,                                                                      \
	}

int blob__local_open(struct blob_store *bs, const char *root, int defer_sync, struct err *err);
/*
 * How blob__local_put_path stores a file: a copy (a reflink when the
 * filesystem can, which shares blocks copy-on-write), or a hard link to the
 * file itself, which is made read-only (others' write bits cleared) first.
 */
enum blob__put_mode { BLOB__PUT_COPY = 0, BLOB__PUT_HARDLINK };
/*
 * Stores the regular file at path like blob_put_file, faster for a local
 * store (one read for the hash, reflink or link where possible). Falls
 * back to a copy where a link cannot be made (another filesystem). Returns
 * 1 when bs is not a local store (nothing done), else 0 or -1 with err.
 */
int blob__local_put_path(struct blob_store *bs, const char *path, int mode,
			 char sha[HASH_SHA256_HEX], uint64_t *size, struct err *err);
int blob__s3_open(struct blob_store *bs, const struct blob_config *cfg, const char *bucket,
		  const char *prefix, struct err *err);
/* cfg->url is http:// or https://: a kiln server's /api/2.0/kiln/blobs/. */
int blob__http_open(struct blob_store *bs, const struct blob_config *cfg, struct err *err);
/*
 * A kiln server's error reply (MLflow's shape {"error_code", "message"}) as
 * "CODE: message" in out (always NUL-terminated; "" when the body is not
 * that shape). Untrusted input: fuzzed by tests/fuzz/fuzz_store_remote.c.
 */
void blob__http_detail(const struct buf *body, char *out, size_t n);

#endif

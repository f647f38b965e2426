/*
 * blob_internal.h - what blob.c needs from a blob backend (blob_local.c,
 * blob_s3.c): put from a file descriptor, stat, get into a verifying sink,
 * remove. Only for src/store/; everyone else uses blob.h.
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
 * filled. Shared by the backends that spool before storing.
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

#endif

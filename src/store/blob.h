/*
 * blob.h - the content-addressed blob store: bytes (datasets, bundles,
 * artifacts) keyed by their sha256, in a local directory, an S3-compatible
 * bucket or a kiln server. Not for metadata: that is store/db.h.
 *
 * Invariants:
 * - A blob's key is the lowercase hex sha256 of its bytes. Keys are
 *   validated (64 hex digits) before any I/O: a bad key is ERR_INVALID.
 * - Writes are atomic: a blob is either absent or complete under its key
 *   (local: temporary file, fsync, rename, fsync of the directory; S3: one
 *   PUT whose x-amz-content-sha256 is the key). Putting a blob that is there
 *   already (same size) is a cheap no-op; one of another size is replaced.
 *   kiln server: one PUT to /api/2.0/kiln/blobs/<key>; the server hashes
 *   the body and refuses it unless it matches the key.
 * - Reads verify: every get hashes what it reads and fails with
 *   ERR_CHECKSUM, leaving nothing behind, when the bytes do not match.
 * - Layout: local <root>/objects/ab/cdef... (the first two hex digits name a
 *   directory), S3 <prefix>/objects/ab/cdef..., kiln server
 *   <url>/api/2.0/kiln/blobs/abcdef... (the server's own store decides).
 * - A struct blob_store is used from one thread at a time.
 */
#ifndef KILN_STORE_BLOB_H
#define KILN_STORE_BLOB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/hash.h"

struct blob_store;

/*
 * Where blobs live. The S3 settings come from the caller's config (the
 * usual AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); this module never reads the
 * environment.
 */
struct blob_config {
	/*
	 * NULL or "": <home>/blobs; "file:PATH" or a path: local;
	 * "s3://bucket[/prefix]": S3; "http://HOST:PORT" or "https://...": a
	 * kiln server (which cannot delete blobs: blob_delete is ERR_INVALID).
	 */
	const char *url;
	const char *home;
	const char *s3_endpoint; /* "http://127.0.0.1:9000"; NULL:
				    https://BUCKET.s3.REGION.amazonaws.com */
	const char *s3_region;	 /* NULL: "us-east-1" */
	const char *s3_access_key;
	const char *s3_secret_key;
	const char *s3_session_token; /* optional */
	/* Local only: skip the fsync per blob; the caller calls blob_sync once after a batch. */
	int defer_sync;
	/* kiln server (url http:// or https://): the bearer token for writes; NULL: none. */
	const char *token;
};

/* Opens the store (creating a local root as needed); *out is freed with blob_close. */
int blob_open(struct blob_store **out, const struct blob_config *cfg, struct err *err);
void blob_close(struct blob_store *bs);
/* "local", "s3" or "kiln". */
const char *blob_backend(const struct blob_store *bs);

/*
 * Stores the bytes read from fd until end of file, streaming (never whole in
 * memory). The key goes to sha (HASH_SHA256_HEX bytes) and the byte count
 * to *size (may be NULL). fd is not closed.
 */
int blob_put_fd(struct blob_store *bs, int fd, char sha[HASH_SHA256_HEX], uint64_t *size,
		struct err *err);
/* The same for a file by path. */
int blob_put_file(struct blob_store *bs, const char *path, char sha[HASH_SHA256_HEX],
		  uint64_t *size, struct err *err);
/* The same for bytes in memory. */
int blob_put_mem(struct blob_store *bs, const void *data, size_t len, char sha[HASH_SHA256_HEX],
		 struct err *err);

/* *exists says whether the blob is there; *size (may be NULL) its length when it is. */
int blob_stat(struct blob_store *bs, const char *sha, int *exists, uint64_t *size, struct err *err);
/*
 * Writes the blob to path atomically (temporary file + rename), after
 * verifying its hash. ERR_NOTFOUND when the blob is not there. Path "-"
 * (stdout) is refused: use blob_get_buf to verify before writing.
 */
int blob_get_file(struct blob_store *bs, const char *sha, const char *path, struct err *err);
/*
 * Writes the blob to f from where f is, verifying as it goes; *size (may be
 * NULL) gets its length. On an error f holds a partial or unverified copy:
 * the caller discards it (f is a temporary file).
 */
int blob_get_stream(struct blob_store *bs, const char *sha, FILE *f, uint64_t *size,
		    struct err *err);
/* Appends the verified blob to out; more than max bytes (0: no limit) is ERR_TOOBIG. */
int blob_get_buf(struct blob_store *bs, const char *sha, struct buf *out, size_t max,
		 struct err *err);
/* Removes a blob; ERR_NOTFOUND when it is not there. */
int blob_delete(struct blob_store *bs, const char *sha, struct err *err);
/*
 * Local with defer_sync: makes every blob put so far durable. Otherwise a
 * no-op. Unlike the other calls it may run on another thread while this
 * store's owner puts (it reads only the immutable root): kiln data add
 * flushes in the background this way.
 */
int blob_sync(struct blob_store *bs, struct err *err);

/* True when s is a valid key: 64 lowercase hex digits. */
int blob_key_ok(const char *s);

#endif

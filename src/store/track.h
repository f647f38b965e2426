/*
 * track.h - data versioning in the manner of DVC: a tracked file FILE has a
 * small pointer FILE.kiln (sha256, size, name) that goes into git, while its
 * bytes go to the blob store and FILE itself into .gitignore. This module
 * reads and writes pointers and compares files with them; the CLI is
 * src/cli/data_store.c. Not for metadata (db.h) or byte storage (blob.h).
 *
 * Pointer format (line based, YAML-compatible, '#' comments):
 *   # kiln data pointer: the bytes are in the blob store under sha256
 *   sha256: <64 lowercase hex digits>
 *   size: <bytes>
 *   path: <the file's name, no directory>
 */
#ifndef KILN_STORE_TRACK_H
#define KILN_STORE_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/hash.h"
#include "store/blob.h"

#define BLOB_POINTER_SUFFIX ".kiln"
#define BLOB_POINTER_MAX    4096 /* a pointer file larger than this is not one */

struct blob_pointer {
	char sha256[HASH_SHA256_HEX];
	uint64_t size;
	char *path; /* owned; a plain file name */
};

void blob_pointer_release(struct blob_pointer *p);
/*
 * Parses a pointer; errors name the place as "NAME:LINE: ..." (unknown or
 * repeated keys, bad values) or "NAME: missing 'KEY'". out is filled only
 * on success.
 */
int blob_pointer_parse(const char *text, size_t len, const char *name, struct blob_pointer *out,
		       struct err *err);
/* Appends the pointer's text to out. */
int blob_pointer_format(const struct blob_pointer *p, struct buf *out, struct err *err);

/*
 * Tracks files: stores each file's bytes (streaming), writes PATH.kiln next
 * to it (atomic rename), and adds "/NAME" to the .gitignore of its
 * directory unless an identical line is there (one rewrite per directory).
 * Refuses directories, pointer files themselves and names with newlines.
 * For speed the writes are not fsynced one by one: one sync at the end
 * covers the blobs and pointers. On error, files before the failing one
 * stay tracked. *done counts the files tracked (may be NULL).
 */
int blob_track_add(struct blob_store *bs, const char *const *paths, size_t n, size_t *done,
		   struct err *err);

enum blob_track_link {
	BLOB_TRACK_COPY = 0, /* copy the bytes (reflink them where the filesystem can) */
	/*
	 * Hard-link the file into a local store (no copy; a copy where a link
	 * cannot be made). The file is made read-only, as DVC does, because
	 * it and the stored blob are then one file: editing it in place would
	 * change the blob (reads verify, so that shows as a checksum error,
	 * and the old bytes are lost). Editors that save through a new file
	 * and a rename break the link instead, which is safe.
	 */
	BLOB_TRACK_HARDLINK,
};

struct blob_track_opts {
	struct blob_store *const *stores; /* one per worker thread (a store is one thread's) */
	size_t nstores;			  /* >= 1 */
	int link;			  /* enum blob_track_link */
};

/*
 * blob_track_add with options: the files are hashed and stored on nstores
 * threads at once, each with its own store, while pointers go in place in
 * the order of paths. Errors are those of the sequential add: the first
 * failing file in path order is reported, every file before it is tracked
 * and none after it gets a pointer (their bytes may be in the store).
 */
int blob_track_add_opts(const struct blob_track_opts *o, const char *const *paths, size_t n,
			size_t *done, struct err *err);

enum blob_track_state {
	BLOB_TRACK_OK = 0,     /* the file matches its pointer and the store has its bytes */
	BLOB_TRACK_MODIFIED,   /* the file's bytes differ from the pointer */
	BLOB_TRACK_MISSING,    /* the file is absent (its bytes may still be in the store) */
	BLOB_TRACK_NOT_STORED, /* the file matches, but the store lacks its bytes */
};
/* "ok", "modified", "missing", "not stored". */
const char *blob_track_state_name(int state);

/*
 * Compares the file a pointer names (in the pointer's directory) with the
 * pointer. pointer_path is the .kiln file. *state is an enum
 * blob_track_state; *data_path (may be NULL) gets the file's path (owned).
 */
int blob_track_status(struct blob_store *bs, const char *pointer_path, int *state, char **data_path,
		      struct err *err);

#endif

/*
 * bundle.h - the model bundle container: one file holding a JSON manifest
 * and an opaque payload, with a checksum over the whole (docs/model-format.md).
 * Knows nothing about what the manifest means: model.h does.
 *
 * Layout (little-endian):
 *   "KILNMDL\0"  8 bytes magic
 *   u32          format version (ML_BUNDLE_VERSION)
 *   u32          flags (0)
 *   u64          manifest length M
 *   M bytes      manifest, UTF-8 JSON object
 *   u64          payload length P
 *   P bytes      payload
 *   32 bytes     sha256 of every byte before it
 */
#ifndef KILN_ML_BUNDLE_H
#define KILN_ML_BUNDLE_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"

#define ML_BUNDLE_MAGIC	  "KILNMDL"
#define ML_BUNDLE_VERSION 1
#define ML_BUNDLE_MAX	  (1UL << 31) /* 2 GiB: larger files are refused */

struct ml_bundle {
	json_t *manifest;	/* owned reference */
	unsigned char *payload; /* owned, payload_len bytes */
	size_t payload_len;
	char sha256[65]; /* hex sha256 of the whole file as read or written */
};

/* Writes the bundle atomically (temporary file + rename); fills b->sha256. */
int ml_bundle_write(struct ml_bundle *b, const char *path, struct err *err);
/*
 * The bytes ml_bundle_write would write, appended to out (a struct buf of
 * base/buf.h; for tests and fuzzing). The manifest's text is exactly
 * json_dumps(manifest, JSON_COMPACT | JSON_ENSURE_ASCII). 0, or -1 with
 * ERR_NOMEM, ERR_TOOBIG or ERR_INTERNAL (the manifest is not an object).
 */
struct buf;
int ml_bundle_encode(const struct ml_bundle *b, struct buf *out, struct err *err);
/*
 * Reads and checks a bundle: ERR_FORMAT for a foreign file, ERR_VERSION for
 * a newer format, ERR_CHECKSUM for corruption or truncation, with the path
 * in the message. On failure b is empty.
 */
int ml_bundle_read(struct ml_bundle *b, const char *path, struct err *err);
/* The same from memory (for fuzzing and for bundles fetched over HTTP). */
int ml_bundle_parse(struct ml_bundle *b, const void *data, size_t len, const char *name,
		    struct err *err);
void ml_bundle_release(struct ml_bundle *b);

#endif

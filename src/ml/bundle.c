/*
 * bundle.c - read and write the model bundle container of bundle.h: magic,
 * version, JSON manifest, payload, sha256 trailer. Checks every length and
 * the checksum before trusting a byte; knows nothing of what the manifest
 * says (model.c does).
 */
#include "ml/bundle.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/hash.h"
#include "base/mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BUNDLE_MAGIC_LEN 8
#define BUNDLE_HEAD_LEN	 24 /* magic, version, flags, manifest length */
#define BUNDLE_MIN_LEN	 (BUNDLE_HEAD_LEN + 8 + HASH_SHA256_LEN)

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void ml_bundle_release(struct ml_bundle *b)
{
	if (b->manifest)
		json_decref(b->manifest);
	mem_free(b->payload);
	memset(b, 0, sizeof(*b));
}

/* Lays the whole file out in out (header, manifest, payload, checksum). */
static int bundle_encode(struct ml_bundle *b, struct buf *out, struct err *err)
{
	unsigned char head[BUNDLE_HEAD_LEN], len8[8], sum[HASH_SHA256_LEN];
	char *manifest = NULL;
	size_t mlen;
	int ret = -1;

	if (!json_is_object(b->manifest))
		return err_set(err, ERR_INTERNAL, "bundle manifest is not a JSON object");
	manifest = json_dumps(b->manifest, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!manifest) {
		err_set(err, ERR_NOMEM, "cannot serialize the bundle manifest");
		goto out;
	}
	mlen = strlen(manifest);
	if (mlen + b->payload_len + BUNDLE_MIN_LEN > ML_BUNDLE_MAX) {
		err_set(err, ERR_TOOBIG, "bundle would exceed %lu bytes", ML_BUNDLE_MAX);
		goto out;
	}
	memcpy(head, ML_BUNDLE_MAGIC, BUNDLE_MAGIC_LEN); /* the NUL is the 8th byte */
	put_u32(head + 8, ML_BUNDLE_VERSION);
	put_u32(head + 12, 0);
	put_u64(head + 16, mlen);
	put_u64(len8, b->payload_len);
	if (buf_grow(out, mlen + b->payload_len + BUNDLE_MIN_LEN) < 0 ||
	    buf_add(out, head, sizeof(head)) < 0 || buf_add(out, manifest, mlen) < 0 ||
	    buf_add(out, len8, sizeof(len8)) < 0 ||
	    (b->payload_len && buf_add(out, b->payload, b->payload_len) < 0)) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	hash_sha256(out->ptr, out->len, sum);
	if (buf_add(out, sum, sizeof(sum)) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = 0;
out:
	free(manifest); /* jansson's allocator is malloc */
	return ret;
}

int ml_bundle_write(struct ml_bundle *b, const char *path, struct err *err)
{
	struct buf out = BUF_INIT;
	unsigned char sum[HASH_SHA256_LEN];
	int ret = -1;
	if (bundle_encode(b, &out, err) < 0)
		goto out;
	if (file_write_atomic(path, out.ptr, out.len, err) < 0)
		goto out;
	hash_sha256(out.ptr, out.len, sum);
	hash_hex(sum, sizeof(sum), b->sha256);
	ret = 0;
out:
	buf_release(&out);
	return ret;
}

/* Magic and version: is this a bundle this kiln can read at all? */
static int bundle_check_head(const unsigned char *p, size_t len, const char *name, struct err *err)
{
	uint32_t version;
	if (len < BUNDLE_MAGIC_LEN || memcmp(p, ML_BUNDLE_MAGIC, BUNDLE_MAGIC_LEN) != 0)
		return err_set(err, ERR_FORMAT, "'%s' is not a kiln model bundle (bad magic)",
			       name);
	if (len < BUNDLE_MIN_LEN)
		return err_set(err, ERR_CHECKSUM, "'%s' is truncated (%zu bytes)", name, len);
	version = get_u32(p + 8);
	if (version > ML_BUNDLE_VERSION)
		return err_set(err, ERR_VERSION,
			       "'%s' has bundle format version %u; this kiln reads up to %d "
			       "(upgrade kiln)",
			       name, version, ML_BUNDLE_VERSION);
	if (version == 0)
		return err_set(err, ERR_FORMAT, "'%s' has bundle format version 0", name);
	return 0;
}

/* Lengths and flags, once the checksum has vouched for the bytes. */
static int bundle_check_layout(const unsigned char *p, size_t len, const char *name, uint64_t *mlen,
			       uint64_t *plen, struct err *err)
{
	uint32_t flags = get_u32(p + 12);
	size_t room = len - BUNDLE_MIN_LEN; /* bytes for manifest and payload */
	if (flags != 0)
		return err_set(err, ERR_FORMAT, "'%s': unknown bundle flags 0x%x", name, flags);
	*mlen = get_u64(p + 16);
	if (*mlen > room)
		return err_set(err, ERR_FORMAT, "'%s': manifest length %llu past the end", name,
			       (unsigned long long)*mlen);
	*plen = get_u64(p + BUNDLE_HEAD_LEN + *mlen);
	if (*plen != room - *mlen)
		return err_set(err, ERR_FORMAT,
			       "'%s': payload length %llu does not match the file size", name,
			       (unsigned long long)*plen);
	return 0;
}

static int bundle_load_manifest(struct ml_bundle *b, const unsigned char *p, size_t mlen,
				const char *name, struct err *err)
{
	json_error_t jerr;
	b->manifest = json_loadb((const char *)p, mlen, JSON_REJECT_DUPLICATES, &jerr);
	if (!b->manifest)
		return err_set(err, ERR_FORMAT, "'%s': bad manifest: %s (manifest line %d)", name,
			       jerr.text, jerr.line);
	if (!json_is_object(b->manifest))
		return err_set(err, ERR_FORMAT, "'%s': manifest is not a JSON object", name);
	return 0;
}

int ml_bundle_parse(struct ml_bundle *b, const void *data, size_t len, const char *name,
		    struct err *err)
{
	const unsigned char *p = data;
	unsigned char sum[HASH_SHA256_LEN];
	uint64_t mlen = 0, plen = 0;
	int ret = -1;

	memset(b, 0, sizeof(*b));
	if (bundle_check_head(p, len, name, err) < 0)
		goto out;
	if (len > ML_BUNDLE_MAX) {
		err_set(err, ERR_TOOBIG, "'%s' is larger than %lu bytes", name, ML_BUNDLE_MAX);
		goto out;
	}
	hash_sha256(p, len - HASH_SHA256_LEN, sum);
	if (memcmp(sum, p + len - HASH_SHA256_LEN, HASH_SHA256_LEN) != 0) {
		err_set(err, ERR_CHECKSUM, "'%s' is corrupt or truncated (checksum mismatch)",
			name);
		goto out;
	}
	if (bundle_check_layout(p, len, name, &mlen, &plen, err) < 0 ||
	    bundle_load_manifest(b, p + BUNDLE_HEAD_LEN, (size_t)mlen, name, err) < 0)
		goto out;
	b->payload = mem_malloc(plen ? (size_t)plen : 1);
	if (!b->payload) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(b->payload, p + BUNDLE_HEAD_LEN + mlen + 8, (size_t)plen);
	b->payload_len = (size_t)plen;
	hash_sha256(p, len, sum);
	hash_hex(sum, sizeof(sum), b->sha256);
	ret = 0;
out:
	if (ret < 0)
		ml_bundle_release(b);
	return ret;
}

int ml_bundle_read(struct ml_bundle *b, const char *path, struct err *err)
{
	struct buf in = BUF_INIT;
	int ret = -1;
	memset(b, 0, sizeof(*b));
	if (buf_read_file(&in, path, ML_BUNDLE_MAX) < 0) {
		if (errno == E2BIG)
			err_set(err, ERR_TOOBIG, "'%s' is larger than %lu bytes", path,
				ML_BUNDLE_MAX);
		else
			err_set(err, errno == ENOMEM ? ERR_NOMEM : ERR_IO, "cannot read '%s': %s",
				path, strerror(errno));
		goto out;
	}
	ret = ml_bundle_parse(b, in.ptr, in.len, path, err);
out:
	buf_release(&in);
	return ret;
}

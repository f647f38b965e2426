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

/* --- the manifest's JSON text -------------------------------------------------- */

/* Nesting deeper than this is not a manifest kiln wrote (and could be a cycle). */
#define MANIFEST_MAX_DEPTH 64

/* Flags of the manifest's text: the bytes every kiln has written. */
#define MANIFEST_JSON_FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII)

/* v as jansson writes it with MANIFEST_JSON_FLAGS, appended to out. */
static int emit_by_jansson(struct buf *out, const json_t *v)
{
	char *text = json_dumps(v, MANIFEST_JSON_FLAGS | JSON_ENCODE_ANY);
	int rc = text && buf_adds(out, text) == 0 ? 0 : -1;
	free(text); /* jansson's allocator is malloc */
	return rc;
}

/* s[0..len) as a JSON string; only printable ASCII without '"' or '\\' here. */
static int emit_string(struct buf *out, const char *s, size_t len)
{
	size_t i;
	json_t *tmp;
	int rc;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e || s[i] == '"' ||
		    s[i] == '\\')
			break;
	if (i == len)
		return buf_addch(out, '"') < 0 || buf_add(out, s, len) < 0 ? -1
									   : buf_addch(out, '"');
	/* escapes: jansson's own (\uXXXX for non-ASCII, short forms for controls) */
	tmp = json_stringn_nocheck(s, len);
	rc = tmp ? emit_by_jansson(out, tmp) : -1;
	json_decref(tmp);
	return rc;
}

/* An integer as "%lld" prints it. */
static int emit_integer(struct buf *out, json_int_t v)
{
	char tmp[24];
	size_t n = sizeof(tmp);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		tmp[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[--n] = '-';
	return buf_add(out, tmp + n, sizeof(tmp) - n);
}

/*
 * Appends the text json_dumps(v, MANIFEST_JSON_FLAGS) would return, byte for
 * byte, without its per-value printf and the copies of the whole text: a
 * manifest with text features holds tens of thousands of integers (the idf
 * buckets), and jansson took 3 ms for sentiment's. Objects keep jansson's
 * iteration order; reals and strings that need escapes are formatted by
 * jansson itself, value by value.
 */
static int emit_json(struct buf *out, const json_t *v, int depth)
{
	size_t i, n, klen;
	const char *key;
	json_t *x;
	if (depth > MANIFEST_MAX_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *sep = "{";
		json_object_keylen_foreach((json_t *)v, key, klen, x)
		{
			if (buf_adds(out, sep) < 0 || emit_string(out, key, klen) < 0 ||
			    buf_addch(out, ':') < 0 || emit_json(out, x, depth + 1) < 0)
				return -1;
			sep = ",";
		}
		return *sep == '{' ? buf_adds(out, "{}") : buf_addch(out, '}');
	}
	case JSON_ARRAY:
		n = json_array_size(v);
		if (buf_addch(out, '[') < 0)
			return -1;
		for (i = 0; i < n; i++)
			if ((i && buf_addch(out, ',') < 0) ||
			    emit_json(out, json_array_get(v, i), depth + 1) < 0)
				return -1;
		return buf_addch(out, ']');
	case JSON_STRING:
		return emit_string(out, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return emit_integer(out, json_integer_value(v));
	case JSON_TRUE:
		return buf_adds(out, "true");
	case JSON_FALSE:
		return buf_adds(out, "false");
	case JSON_NULL:
		return buf_adds(out, "null");
	default:
		return emit_by_jansson(out, v);
	}
}

int ml_bundle_encode(const struct ml_bundle *b, struct buf *out, struct err *err)
{
	unsigned char head[BUNDLE_HEAD_LEN], len8[8], sum[HASH_SHA256_LEN], *at;
	size_t start = out->len, mlen;

	if (!json_is_object(b->manifest))
		return err_set(err, ERR_INTERNAL, "bundle manifest is not a JSON object");
	/* The header's manifest length is filled in once the text is written. */
	memset(head, 0, sizeof(head));
	if (buf_grow(out, BUNDLE_MIN_LEN + b->payload_len + (1 << 16)) < 0 ||
	    buf_add(out, head, sizeof(head)) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	if (emit_json(out, b->manifest, 0) < 0)
		return err_set(err, ERR_NOMEM, "cannot serialize the bundle manifest");
	mlen = out->len - start - sizeof(head);
	if (mlen + b->payload_len + BUNDLE_MIN_LEN > ML_BUNDLE_MAX)
		return err_set(err, ERR_TOOBIG, "bundle would exceed %lu bytes", ML_BUNDLE_MAX);
	at = (unsigned char *)out->ptr + start;
	memcpy(at, ML_BUNDLE_MAGIC, BUNDLE_MAGIC_LEN); /* the NUL is the 8th byte */
	put_u32(at + 8, ML_BUNDLE_VERSION);
	put_u32(at + 12, 0);
	put_u64(at + 16, mlen);
	put_u64(len8, b->payload_len);
	if (buf_add(out, len8, sizeof(len8)) < 0 ||
	    (b->payload_len && buf_add(out, b->payload, b->payload_len) < 0))
		return err_set(err, ERR_NOMEM, "out of memory");
	hash_sha256(out->ptr + start, out->len - start, sum);
	if (buf_add(out, sum, sizeof(sum)) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

int ml_bundle_write(struct ml_bundle *b, const char *path, struct err *err)
{
	struct buf out = BUF_INIT;
	unsigned char sum[HASH_SHA256_LEN];
	int ret = -1;
	if (ml_bundle_encode(b, &out, err) < 0)
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

/*
 * fuzz_bundle.c - libFuzzer target for the bundle container parser. Each
 * input is parsed as is, and again with a correct checksum trailer, so the
 * fuzzer also reaches the length checks and the manifest parser. A bundle
 * that parses is encoded again: its manifest text must be jansson's
 * json_dumps text, and the bytes must parse back to the same manifest.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/hash.h"
#include "ml/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encodes b and checks the text against json_dumps and a second parse. */
static void encode_one(const struct ml_bundle *b)
{
	struct buf out = BUF_INIT;
	struct ml_bundle again;
	struct err err = ERR_INIT;
	char *want = json_dumps(b->manifest, JSON_COMPACT | JSON_ENSURE_ASCII);
	size_t mlen = 0;
	if (ml_bundle_encode(b, &out, &err) < 0) {
		if (want || err.msg[0] == '\0')
			__builtin_trap(); /* only what jansson cannot write may fail */
		buf_release(&out);
		return;
	}
	if (!want || out.len < 24)
		__builtin_trap();
	for (int i = 0; i < 8; i++)
		mlen |= (size_t)(unsigned char)out.ptr[16 + i] << (8 * i);
	if (mlen != strlen(want) || memcmp(out.ptr + 24, want, mlen) != 0)
		__builtin_trap();
	if (ml_bundle_parse(&again, out.ptr, out.len, "again.kiln", &err) < 0 ||
	    !json_equal(again.manifest, b->manifest) || again.payload_len != b->payload_len)
		__builtin_trap();
	ml_bundle_release(&again);
	free(want); /* jansson's allocator is malloc */
	buf_release(&out);
}

static void parse_one(const uint8_t *data, size_t size)
{
	struct ml_bundle b;
	struct err err = ERR_INIT;
	if (ml_bundle_parse(&b, data, size, "fuzz.kiln", &err) == 0) {
		if (!json_is_object(b.manifest) || strlen(b.sha256) != 64)
			__builtin_trap();
		encode_one(&b);
		ml_bundle_release(&b);
	} else if (err.msg[0] == '\0' || b.manifest || b.payload) {
		__builtin_trap(); /* a failure says why and leaves b empty */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	parse_one(data, size);
	if (size < HASH_SHA256_LEN)
		return 0;
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	hash_sha256(copy, size - HASH_SHA256_LEN, copy + size - HASH_SHA256_LEN);
	parse_one(copy, size);
	free(copy);
	return 0;
}

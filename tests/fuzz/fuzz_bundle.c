/*
 * fuzz_bundle.c - libFuzzer target for the bundle container parser. Each
 * input is parsed as is, and again with a correct checksum trailer, so the
 * fuzzer also reaches the length checks and the manifest parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/hash.h"
#include "ml/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_one(const uint8_t *data, size_t size)
{
	struct ml_bundle b;
	struct err err = ERR_INIT;
	if (ml_bundle_parse(&b, data, size, "fuzz.kiln", &err) == 0) {
		if (!json_is_object(b.manifest) || strlen(b.sha256) != 64)
			__builtin_trap();
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

/*
 * fuzz_model.c - libFuzzer target for loading model bundles
 * (ml_model_load_mem): manifest interpretation, feature pipeline, liblinear
 * weights and XGBoost trees (UBJSON, or JSON in formats 1-2). An input
 * starting with the bundle magic is loaded as is and again with a correct
 * checksum; any other input is split at its first NUL into manifest and
 * payload and sealed into a bundle, so the fuzzer works on the manifest
 * and payload rather than the container.
 * A model that loads must predict a row of missing values without failing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/hash.h"
#include "ml/bundle.h"
#include "ml/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load_one(const uint8_t *data, size_t size)
{
	struct err err = ERR_INIT;
	struct ml_model *m = ml_model_load_mem(data, size, "fuzz.kiln", &err);
	struct ml_cell *cells;
	struct ml_pred pred;
	size_t n;
	if (!m) {
		if (err.msg[0] == '\0')
			__builtin_trap(); /* a failure says why */
		return;
	}
	n = ml_model_schema(m)->ncols;
	cells = calloc(n + 1, sizeof(*cells));
	if (cells && ml_model_predict(m, cells, &pred, &err) < 0)
		__builtin_trap(); /* missing values are always accepted */
	free(cells);
	ml_model_free(m);
}

static void put_u64(uint8_t *p, uint64_t v)
{
	int i;
	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* magic, version 1, flags 0, manifest, payload, sha256 */
static uint8_t *seal(const uint8_t *man, size_t mlen, const uint8_t *pay, size_t plen, size_t *len)
{
	uint8_t *b = malloc(64 + mlen + plen);
	if (!b)
		return NULL;
	memcpy(b, ML_BUNDLE_MAGIC, 8);
	memset(b + 8, 0, 8);
	b[8] = 1;
	put_u64(b + 16, mlen);
	memcpy(b + 24, man, mlen);
	put_u64(b + 24 + mlen, plen);
	memcpy(b + 32 + mlen, pay, plen);
	hash_sha256(b, 32 + mlen + plen, b + 32 + mlen + plen);
	*len = 64 + mlen + plen;
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul;
	uint8_t *copy;
	size_t len = 0;

	if (size >= 8 && memcmp(data, ML_BUNDLE_MAGIC, 8) == 0) {
		load_one(data, size);
		if (size < HASH_SHA256_LEN)
			return 0;
		copy = malloc(size);
		if (!copy)
			return 0;
		memcpy(copy, data, size);
		hash_sha256(copy, size - HASH_SHA256_LEN, copy + size - HASH_SHA256_LEN);
		load_one(copy, size);
		free(copy);
		return 0;
	}
	nul = memchr(data, '\0', size);
	copy = nul ? seal(data, (size_t)(nul - data), nul + 1, size - (size_t)(nul - data) - 1,
			  &len)
		   : seal(data, size, (const uint8_t *)"", 0, &len);
	if (copy)
		load_one(copy, len);
	free(copy);
	return 0;
}

/*
 * fuzz_schema.c - libFuzzer target for the schema JSON reader (the "schema"
 * key of a bundle manifest, or a `kiln data schema --json` file): any JSON
 * gives a schema or one error; a schema read is written back unchanged.
 */
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ml/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ml_schema s, t;
	struct err err = ERR_INIT;
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL), *out;
	if (!j)
		return 0;
	if (ml_schema_from_json(&s, j, &err) < 0) {
		if (err.msg[0] == '\0' || s.cols)
			__builtin_trap();
		json_decref(j);
		return 0;
	}
	out = ml_schema_to_json(&s);
	if (out) { /* NULL only for values JSON cannot hold (none come from JSON) */
		if (ml_schema_from_json(&t, out, &err) < 0)
			__builtin_trap();
		ml_schema_release(&t);
		json_decref(out);
	}
	ml_schema_release(&s);
	json_decref(j);
	return 0;
}

/*
 * fuzz_gate.c - libFuzzer target for the METRIC=VALUE gate specs of
 * `kiln eval` (ml_gate_parse), checked against a fixed metrics object.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/mem.h"
#include "ml/gate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char doc[] = "{\"accuracy\": 0.9, \"auc\": 0.8, \"rmse\": 3, "
				  "\"per_class\": {\"yes\": {\"f1\": 0.7}}}";
	json_t *m, *r = NULL;
	struct ml_gate g;
	char msg[256];
	char *spec;

	if (size < 1)
		return 0;
	spec = mem_strndup((const char *)data + 1, size - 1);
	m = json_loads(doc, 0, NULL);
	if (spec && m) {
		struct err err = ERR_INIT;
		enum ml_gate_op op = (enum ml_gate_op)(data[0] % 3);
		if (ml_gate_parse(&g, op, spec, &err) == 0) {
			(void)ml_gate_check(&g, m, m, &r, msg, sizeof(msg), &err);
			json_decref(r);
		}
	}
	json_decref(m);
	mem_free(spec);
	return 0;
}

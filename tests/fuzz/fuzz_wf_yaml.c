/*
 * fuzz_wf_yaml.c - libFuzzer target for workflow files: YAML parsing into
 * the node tree and every validation rule (wf_load_mem). Any input must give
 * a workflow or a clean error, never a crash, a leak or a hang.
 */
#include <stddef.h>
#include <stdint.h>

#include "wf/wf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err err = ERR_INIT;
	struct wf *wf = wf_load_mem((const char *)data, size, "fuzz.yml", &err);
	wf_free(wf);
	return 0;
}

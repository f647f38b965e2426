/*
 * fuzz_http_route.c - libFuzzer target for http_match: the input is a path,
 * matched against every pattern kiln serve routes (captures, ":predict"
 * suffixes, versions). Checks that captures stay inside the scratch space.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/mem.h"
#include "http/http.h"

static const char *patterns[] = {
	"/predict",
	"/v1/models/{name}:predict",
	"/v1/models/{name}",
	"/v2/models/{name}/versions/{version}/infer",
	"/v2/models/{name}/ready",
	"/v2/health/live",
	"/{a}/{b}/{c}/{d}",
	"/{a}/{b}/{c}/{d}/{e}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = mem_strndup((const char *)data, size);
	char *scratch;
	const char *cap[HTTP_MAX_CAPTURES];
	size_t ncap;
	if (!path)
		return 0;
	scratch = mem_malloc(strlen(path) + 1);
	if (scratch) {
		for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
			if (http_match(patterns[i], path, scratch, cap, &ncap))
				for (size_t k = 0; k < ncap; k++)
					if (strlen(cap[k]) > strlen(path))
						__builtin_trap();
	}
	mem_free(scratch);
	mem_free(path);
	return 0;
}

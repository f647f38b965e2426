/*
 * fuzz_store_token.c - the store's small parsers on untrusted input: page
 * tokens (they come back from REST clients), blob keys and artifact paths
 * (from URLs) and s3:// URLs (from flags). No I/O: opening an S3 store
 * only parses.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/mem.h"
#include "store/blob.h"
#include "store/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = mem_strndup((const char *)data, size), *url = NULL;
	struct db_page page = {0, NULL};
	struct blob_config cfg = {0};
	struct blob_store *bs = NULL;
	struct err err = ERR_INIT;
	size_t offset = 0, limit = 0;
	char *next = NULL;
	if (!s)
		return 0;
	page.token = s;
	if (db__page_offset(&page, 100, &offset, &limit, &err) == 0) {
		/* A token that parses encodes back to a token that parses the same. */
		if (db__page_next(offset, 0, &next, &err) == 0) {
			size_t o2 = 1, l2;
			page.token = next;
			if (db__page_offset(&page, 100, &o2, &l2, &err) < 0 || o2 != offset)
				__builtin_trap();
		}
		mem_free(next);
	}
	(void)blob_key_ok(s);
	/* A valid artifact path never climbs out of the root or starts at "/". */
	if (db_artifact_path_ok(s) &&
	    (s[0] == '/' || strstr(s, "/../") || strncmp(s, "../", 3) == 0))
		__builtin_trap();
	url = mem_malloc(size + 6);
	if (url) {
		memcpy(url, "s3://", 5);
		memcpy(url + 5, s, strlen(s) + 1);
		cfg.url = url;
		cfg.s3_access_key = "a";
		cfg.s3_secret_key = "b";
		cfg.s3_endpoint = "http://127.0.0.1:1";
		err_clear(&err);
		if (blob_open(&bs, &cfg, &err) == 0)
			blob_close(bs);
	}
	mem_free(url);
	mem_free(s);
	return 0;
}

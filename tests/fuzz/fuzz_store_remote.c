/*
 * fuzz_store_remote.c - the kiln server blob backend's parsers on untrusted
 * input: the error bodies a server sends back (blob__http_detail) and
 * http(s):// URLs and tokens from flags and the environment (blob_open
 * only parses them: no request is made).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "store/blob_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf body = BUF_INIT, url = BUF_INIT;
	struct blob_config cfg = {0};
	struct blob_store *bs = NULL;
	struct err err = ERR_INIT;
	char detail[64];
	const char *nl;
	if (buf_add(&body, data, size) < 0)
		return 0;
	blob__http_detail(&body, detail, sizeof(detail));
	if (strlen(detail) >= sizeof(detail))
		__builtin_trap();
	/* First line: the URL after http://; the rest: the token. */
	nl = memchr(body.ptr, '\n', body.len);
	if (buf_adds(&url, "http://") == 0 &&
	    buf_add(&url, body.ptr, nl ? (size_t)(nl - body.ptr) : body.len) == 0 &&
	    !memchr(url.ptr, '\0', url.len)) {
		cfg.url = url.ptr;
		cfg.token = nl ? nl + 1 : NULL;
		if (blob_open(&bs, &cfg, &err) == 0) {
			if (strcmp(blob_backend(bs), "kiln") != 0)
				__builtin_trap();
			blob_close(bs);
		}
	}
	buf_release(&url);
	buf_release(&body);
	return 0;
}

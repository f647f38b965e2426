/*
 * fuzz_store_pointer.c - the FILE.kiln pointer parser on untrusted bytes
 * (pointer files come from git checkouts). A pointer that parses must
 * format back to text that parses to the same pointer.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "store/track.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blob_pointer p = {{0}, 0, NULL}, q = {{0}, 0, NULL};
	struct err err = ERR_INIT;
	struct buf text = BUF_INIT;
	if (blob_pointer_parse((const char *)data, size, "fuzz.kiln", &p, &err) < 0)
		return 0;
	if (blob_pointer_format(&p, &text, &err) == 0) {
		if (blob_pointer_parse(text.ptr, text.len, "again.kiln", &q, &err) < 0 ||
		    strcmp(p.sha256, q.sha256) != 0 || p.size != q.size ||
		    strcmp(p.path, q.path) != 0)
			__builtin_trap();
	}
	blob_pointer_release(&p);
	blob_pointer_release(&q);
	buf_release(&text);
	return 0;
}

/*
 * buf.h - growable byte buffer (git's strbuf with curl's size cap).
 * Invariants: ptr is never NULL and always NUL-terminated (contents may hold
 * binary data, len counts them); len < cap unless cap == 0 (then ptr points
 * at a static empty string). max == 0 means no cap; otherwise len never
 * exceeds max. Every adder returns 0, or -1 with errno ENOMEM or E2BIG, and
 * a failed add leaves the buffer as it was.
 */
#ifndef KILN_BASE_BUF_H
#define KILN_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *ptr;
	size_t len, cap, max;
};

extern char buf_empty[];
#define BUF_INIT                                                                                   \
	{                                                                                          \
		buf_empty, 0, 0, 0                                                                 \
	}

/* An empty buffer that will never hold more than max bytes (0: no cap). */
void buf_init(struct buf *b, size_t max);
/* Frees the memory; the buffer is BUF_INIT again (its cap is kept). */
void buf_release(struct buf *b);
/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);
/* Makes room for extra more bytes. */
int buf_grow(struct buf *b, size_t extra);
int buf_add(struct buf *b, const void *data, size_t len);
int buf_adds(struct buf *b, const char *s);
int buf_addch(struct buf *b, int c);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included. */
int buf_add_json_str(struct buf *b, const char *s, size_t len);
/* Shortens to len (<= b->len). */
void buf_setlen(struct buf *b, size_t len);
/*
 * Hands the memory to the caller (free with mem_free) and leaves the buffer
 * empty. Returns NULL only if the allocation of an empty string fails.
 */
char *buf_take(struct buf *b, size_t *len);
/*
 * Reads a whole file (path "-" is stdin). Fails with E2BIG past max bytes
 * (0: no limit). Appends to b.
 */
int buf_read_file(struct buf *b, const char *path, size_t max);

#endif

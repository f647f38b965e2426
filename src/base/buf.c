/*
 * buf.c - growable byte buffer.
 */
#include "base/buf.h"
#include "base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

char buf_empty[1];

void buf_init(struct buf *b, size_t max)
{
	b->ptr = buf_empty;
	b->len = b->cap = 0;
	b->max = max;
}

void buf_release(struct buf *b)
{
	if (b->cap)
		mem_free(b->ptr);
	buf_init(b, b->max);
}

void buf_reset(struct buf *b)
{
	buf_setlen(b, 0);
}

void buf_setlen(struct buf *b, size_t len)
{
	if (len > b->len)
		return;
	b->len = len;
	if (b->cap)
		b->ptr[len] = '\0';
}

int buf_grow(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;
	if (extra > SIZE_MAX - b->len - 1) {
		errno = ENOMEM;
		return -1;
	}
	need = b->len + extra + 1;
	if (b->max && need - 1 > b->max) {
		errno = E2BIG;
		return -1;
	}
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = mem_realloc(b->cap ? b->ptr : NULL, cap);
	if (!p)
		return -1;
	if (!b->cap)
		p[0] = '\0';
	b->ptr = p;
	b->cap = cap;
	return 0;
}

int buf_add(struct buf *b, const void *data, size_t len)
{
	if (buf_grow(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
	return 0;
}

int buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_addch(struct buf *b, int c)
{
	char ch = (char)c;
	return buf_add(b, &ch, 1);
}

int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;
	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0) {
		errno = EINVAL;
		return -1;
	}
	if (buf_grow(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

int buf_add_json_str(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = b->len, i;
	if (buf_addch(b, '"') < 0)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];
		const char *out = NULL;
		size_t n = 0;
		switch (c) {
		case '"':
			out = "\\\"";
			n = 2;
			break;
		case '\\':
			out = "\\\\";
			n = 2;
			break;
		case '\n':
			out = "\\n";
			n = 2;
			break;
		case '\r':
			out = "\\r";
			n = 2;
			break;
		case '\t':
			out = "\\t";
			n = 2;
			break;
		default:
			if (c < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				out = esc;
				n = 6;
			}
		}
		if (out ? buf_add(b, out, n) : buf_addch(b, c)) {
			buf_setlen(b, start);
			return -1;
		}
	}
	if (buf_addch(b, '"') < 0) {
		buf_setlen(b, start);
		return -1;
	}
	return 0;
}

char *buf_take(struct buf *b, size_t *len)
{
	char *p;
	if (len)
		*len = b->len;
	if (!b->cap) {
		p = mem_strdup("");
	} else {
		p = b->ptr;
	}
	buf_init(b, b->max);
	return p;
}

int buf_read_file(struct buf *b, const char *path, size_t max)
{
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	size_t start = b->len;
	int saved;
	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t n;
		if (buf_grow(b, 8192) < 0)
			goto fail;
		n = read(fd, b->ptr + b->len, b->cap - b->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
		b->ptr[b->len] = '\0';
		if (max && b->len - start > max) {
			errno = E2BIG;
			goto fail;
		}
	}
	if (fd != 0)
		close(fd);
	return 0;
fail:
	saved = errno;
	if (fd != 0)
		close(fd);
	buf_setlen(b, start);
	errno = saved;
	return -1;
}

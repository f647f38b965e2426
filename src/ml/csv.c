/*
 * csv.c - the streaming CSV tokenizer of csv.h: a byte state machine over a
 * bounded read buffer, and a fast path that reads common lines 64 bytes at
 * a time (csv_plain_row). Field bytes of one row go into one reused buffer,
 * so reading allocates nothing per field once the buffers have grown.
 * ml_csv_read_parts runs the same machine on two threads over parts of a
 * block of the input.
 */
#include "ml/csv.h"
#include "base/mem.h"

#include <errno.h>
#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum csv_state { ST_START, ST_PLAIN, ST_QUOTED, ST_QUOTE_SEEN };

static int csv_init(struct ml_csv *r, const char *name, struct err *err)
{
	memset(r, 0, sizeof(*r));
	r->line = 1;
	r->name = mem_strdup(name);
	if (!r->name)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

int ml_csv_open_fp(struct ml_csv *r, FILE *fp, const char *name, struct err *err)
{
	if (csv_init(r, name, err) < 0)
		return -1;
	r->fp = fp;
	r->rbuf = mem_malloc(ML_CSV_BUFSIZE);
	if (!r->rbuf)
		return err_set(err, ERR_NOMEM, "out of memory");
	r->in = r->rbuf;
	r->bufsize = ML_CSV_BUFSIZE;
	return 0;
}

int ml_csv_open(struct ml_csv *r, const char *path, struct err *err)
{
	FILE *fp;
	if (strcmp(path, "-") == 0)
		return ml_csv_open_fp(r, stdin, path, err);
	fp = fopen(path, "rb");
	if (!fp) {
		memset(r, 0, sizeof(*r));
		return err_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
	}
	if (ml_csv_open_fp(r, fp, path, err) < 0) {
		fclose(fp);
		r->fp = NULL;
		return -1;
	}
	r->own_fp = 1;
	return 0;
}

int ml_csv_open_mem(struct ml_csv *r, const void *data, size_t len, const char *name,
		    struct err *err)
{
	if (csv_init(r, name, err) < 0)
		return -1;
	r->in = data;
	r->avail = len;
	r->eof = 1;
	return 0;
}

const char *ml_csv_name(const struct ml_csv *r)
{
	return r->name ? r->name : "";
}

void ml_csv_close(struct ml_csv *r)
{
	if (r->map)
		(void)munmap(r->map, r->map_len);
	if (r->own_fp && r->fp)
		fclose(r->fp);
	mem_free(r->name);
	mem_free(r->rbuf);
	mem_free(r->data);
	mem_free(r->off);
	mem_free(r->field);
	mem_free(r->len);
	mem_free(r->quoted);
	memset(r, 0, sizeof(*r));
}

/* Refills the read buffer. Returns 1 with bytes, 0 at end, -1 on error. */
static int csv_fill(struct ml_csv *r, struct err *err)
{
	size_t n;
	if (r->pos < r->avail)
		return 1;
	if (r->eof || !r->fp)
		return 0;
	n = fread(r->rbuf, 1, r->bufsize, r->fp);
	if (n == 0) {
		if (ferror(r->fp))
			return err_set(err, ERR_IO, "%s:%zu: read error: %s", r->name, r->line,
				       strerror(errno));
		r->eof = 1;
		return 0;
	}
	r->pos = 0;
	r->avail = n;
	return 1;
}

/* The next byte, or -1 at the end (-2 on a read error). */
static int csv_getc(struct ml_csv *r, struct err *err)
{
	if (r->pos >= r->avail) {
		int rc = csv_fill(r, err);
		if (rc <= 0)
			return rc < 0 ? -2 : -1;
	}
	return r->in[r->pos++];
}

/* The slow paths below are kept out of line so the per-byte loop stays small. */
static __attribute__((noinline)) int csv_grow_data_slow(struct ml_csv *r, size_t extra,
							struct err *err)
{
	size_t need = r->dlen + extra, cap;
	char *p;
	cap = r->dcap ? r->dcap : 4096;
	while (cap < need)
		cap *= 2;
	p = mem_realloc(r->data, cap);
	if (!p)
		return err_set(err, ERR_NOMEM, "out of memory");
	r->data = p;
	r->dcap = cap;
	return 0;
}

static inline int csv_grow_data(struct ml_csv *r, size_t extra, struct err *err)
{
	if (r->dlen + extra <= r->dcap)
		return 0;
	return csv_grow_data_slow(r, extra, err);
}

/*
 * Called when the field arrays are full. Caps double from 64, so they are
 * full at exactly ML_CSV_MAX_FIELDS (a power of two), where the row is refused.
 */
static __attribute__((noinline)) int csv_grow_fields(struct ml_csv *r, struct err *err)
{
	size_t cap = r->fcap ? r->fcap * 2 : 64;
	void *p;
	if (r->nfields >= ML_CSV_MAX_FIELDS)
		return err_set(err, ERR_PARSE, "%s:%zu: more than %d fields in a row", r->name,
			       r->row_line, ML_CSV_MAX_FIELDS);
	/* Each array is replaced as soon as it is grown, so a failure leaks nothing. */
	if (!(p = mem_reallocarray(r->off, cap, sizeof(*r->off))))
		return err_set(err, ERR_NOMEM, "out of memory");
	r->off = p;
	if (!(p = mem_reallocarray(r->len, cap, sizeof(*r->len))))
		return err_set(err, ERR_NOMEM, "out of memory");
	r->len = p;
	if (!(p = mem_reallocarray(r->quoted, cap, 1)))
		return err_set(err, ERR_NOMEM, "out of memory");
	r->quoted = p;
	if (!(p = mem_reallocarray(r->field, cap, sizeof(*r->field))))
		return err_set(err, ERR_NOMEM, "out of memory");
	r->field = p;
	r->fcap = cap;
	return 0;
}

/* Starts a new field at the end of data. */
static inline int csv_begin_field(struct ml_csv *r, int quoted, struct err *err)
{
	if (r->nfields >= r->fcap && csv_grow_fields(r, err) < 0)
		return -1;
	r->off[r->nfields] = r->dlen;
	r->quoted[r->nfields] = (unsigned char)quoted;
	r->fline = r->line;
	r->nfields++;
	return 0;
}

static size_t csv_field_len(const struct ml_csv *r)
{
	return r->dlen - r->off[r->nfields - 1];
}

static __attribute__((noinline)) int csv_too_long(struct ml_csv *r, struct err *err)
{
	return err_set(err, ERR_PARSE, "%s:%zu: field %zu is longer than %lu bytes", r->name,
		       r->line, r->nfields, ML_CSV_MAX_FIELD);
}

static inline int csv_add(struct ml_csv *r, const unsigned char *p, size_t n, struct err *err)
{
	if (csv_field_len(r) + n > ML_CSV_MAX_FIELD)
		return csv_too_long(r, err);
	if (csv_grow_data(r, n + 1, err) < 0)
		return -1;
	memcpy(r->data + r->dlen, p, n);
	r->dlen += n;
	return 0;
}

size_t ml_utf8_valid_prefix(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i], need, cp, min;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return i;
		}
		if (len - i <= need)
			return i;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += need + 1;
	}
	return len;
}

/* Closes the current field: NUL-terminates it and checks its encoding. */
static __attribute__((noinline)) int csv_check_utf8(struct ml_csv *r, size_t off, size_t n,
						    struct err *err)
{
	if (ml_utf8_valid_prefix(r->data + off, n) != n)
		return err_set(err, ERR_PARSE, "%s:%zu: invalid UTF-8 in field %zu", r->name,
			       r->fline, r->nfields);
	return 0;
}

static inline int csv_end_field(struct ml_csv *r, struct err *err)
{
	size_t off = r->off[r->nfields - 1], n = r->dlen - off;
	const unsigned char *p;
	unsigned char high = 0;
	if (csv_grow_data(r, 1, err) < 0)
		return -1;
	r->data[r->dlen++] = '\0';
	r->len[r->nfields - 1] = n;
	/* Most fields are ASCII: only those with a high bit set need decoding. */
	p = (const unsigned char *)r->data + off;
	for (size_t i = 0; i < n; i++)
		high |= p[i];
	return high & 0x80 ? csv_check_utf8(r, off, n, err) : 0;
}

static void csv_finish_row(struct ml_csv *r)
{
	for (size_t i = 0; i < r->nfields; i++)
		r->field[i] = r->data + r->off[i];
}

/* Skips a UTF-8 byte order mark at the very start of the input. */
static int csv_skip_bom(struct ml_csv *r, struct err *err)
{
	static const unsigned char bom[3] = {0xef, 0xbb, 0xbf};
	r->started = 1;
	if (csv_fill(r, err) < 0)
		return -1;
	/* A read may return fewer than 3 bytes only at the end of a tiny file. */
	if (r->avail - r->pos >= 3 && memcmp(r->in + r->pos, bom, 3) == 0)
		r->pos += 3;
	return 0;
}

/*
 * Copies a run of ordinary bytes of a field straight from the buffer: in an
 * unquoted field everything but , CR LF " NUL; in a quoted one everything
 * but " LF NUL (LF stops the run only so that lines are counted).
 */
static int csv_scan(struct ml_csv *r, int quoted, struct err *err)
{
	const unsigned char *p = r->in + r->pos, *end = r->in + r->avail, *q = p;
	if (quoted)
		while (q < end && *q != '"' && *q != '\n' && *q != '\0')
			q++;
	else
		while (q < end && *q != ',' && *q != '\n' && *q != '\r' && *q != '"' && *q != '\0')
			q++;
	if (q > p && csv_add(r, p, (size_t)(q - p), err) < 0)
		return -1;
	r->pos += (size_t)(q - p);
	return 0;
}

/* Handles a CR outside quotes: it must start a CRLF. Returns 0 or -1. */
static int csv_expect_lf(struct ml_csv *r, struct err *err)
{
	int c = csv_getc(r, err);
	if (c == -2)
		return -1;
	if (c != '\n')
		return err_set(err, ERR_PARSE,
			       "%s:%zu: carriage return not followed by a line feed", r->name,
			       r->line);
	return 0;
}

static int csv_row_done(struct ml_csv *r, struct err *err)
{
	if (csv_end_field(r, err) < 0)
		return -1;
	csv_finish_row(r);
	return 1;
}

/* A field of the plain row: len bytes at data + off, NUL-terminated there. */
static inline int csv_plain_field(struct ml_csv *r, size_t k, size_t off, size_t len, int quoted,
				  struct err *err)
{
	if (k >= r->fcap) {
		if (k >= ML_CSV_MAX_FIELDS)
			return 1; /* too many: the state machine says so */
		r->nfields = k;
		if (csv_grow_fields(r, err) < 0)
			return -1;
	}
	r->off[k] = off;
	r->len[k] = len;
	r->quoted[k] = (unsigned char)quoted;
	r->field[k] = r->data + off;
	return 0;
}

/* Bit i of x ^ bit i of every lower bit: 1 from an odd quote to the next. */
static inline uint64_t csv_prefix_xor(uint64_t x)
{
	x ^= x << 1;
	x ^= x << 2;
	x ^= x << 4;
	x ^= x << 8;
	x ^= x << 16;
	return x ^ (x << 32);
}

/* Bit masks of 64 bytes at q: commas, quotes, CR or NUL, and high-bit bytes. */
struct csv_masks {
	uint64_t comma, quote, bad, high;
};

static inline void csv_masks64(const unsigned char *q, struct csv_masks *m)
{
#ifdef __SSE2__
	m->comma = m->quote = m->bad = m->high = 0;
	for (int j = 0; j < 4; j++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(q + 16 * j));
		__m128i bad = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r')),
					   _mm_cmpeq_epi8(v, _mm_setzero_si128()));
		m->comma |=
			(uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')))
			<< (16 * j);
		m->quote |=
			(uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')))
			<< (16 * j);
		m->bad |= (uint64_t)(unsigned)_mm_movemask_epi8(bad) << (16 * j);
		m->high |= (uint64_t)(unsigned)_mm_movemask_epi8(v) << (16 * j);
	}
#else
	m->comma = m->quote = m->bad = m->high = 0;
	for (int j = 0; j < 64; j++) {
		m->comma |= (uint64_t)(q[j] == ',') << j;
		m->quote |= (uint64_t)(q[j] == '"') << j;
		m->bad |= (uint64_t)(q[j] == '\r' || q[j] == '\0') << j;
		m->high |= (uint64_t)(q[j] >> 7) << j;
	}
#endif
}

#define CSV_PLAIN_MAX                                                                              \
	16384 /* bytes of a line csv_plain_row reads; longer ones: the state machine */

/*
 * The common line, read a block of 64 bytes at a time: fields unquoted, or
 * quoted with no quote, CR or line break inside; no CR but a CRLF's, no
 * NUL. p[0..len) is the line without its line end; the input's bytes go on
 * to limit. Separators are the commas outside quotes (the quotes' prefix
 * parity); every quote must then open a field or close one, which also
 * leaves "" inside a field to the state machine. Returns 1 with the row, 0
 * when the line is not that simple, longer than CSV_PLAIN_MAX or not valid
 * UTF-8 (the state machine then reads it and reports what is wrong), -1 out
 * of memory.
 */
static int csv_plain_row(struct ml_csv *r, const unsigned char *p, size_t len,
			 const unsigned char *limit, struct err *err)
{
	uint64_t sep[CSV_PLAIN_MAX / 64], quote[CSV_PLAIN_MAX / 64];
	uint64_t inside = 0, high = 0, anyq = 0;
	size_t nb = (len + 63) / 64, b, k = 0, start = 0, dst = 0;
	unsigned char tail[64];
	char *d;
	int rc;

	if (len == 0 || len > CSV_PLAIN_MAX)
		return 0;
	for (b = 0; b < nb; b++) {
		const unsigned char *q = p + 64 * b;
		size_t left = len - 64 * b;
		uint64_t valid = left >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << left) - 1, x;
		struct csv_masks m;
		if (left < 64 && (size_t)(limit - q) < 64) {
			memcpy(tail, q, left); /* do not read past the input */
			memset(tail + left, 0, 64 - left);
			q = tail;
		}
		csv_masks64(q, &m);
		if (m.bad & valid)
			return 0;
		m.quote &= valid;
		high |= m.high & valid;
		quote[b] = m.quote;
		anyq |= m.quote;
		x = csv_prefix_xor(m.quote) ^ inside;
		sep[b] = m.comma & valid & ~x;
		inside = (uint64_t)0 - (x >> 63);
	}
	if (anyq) {
		/* the quotes must pair up, each a field's first or last byte */
		if (inside)
			return 0;
		for (b = 0; b < nb; b++) {
			uint64_t starts = sep[b] << 1 | (b ? sep[b - 1] >> 63 : 1);
			uint64_t ends = sep[b] >> 1 | (b + 1 < nb ? sep[b + 1] << 63 : 0);
			if (b + 1 == nb)
				ends |= (uint64_t)1 << ((len - 1) % 64);
			if (quote[b] & ~(starts | ends))
				return 0;
		}
	}
	/* room for the bytes, a NUL each field, and 16-byte stores past the end */
	if (csv_grow_data(r, len + 17, err) < 0)
		return -1;
	d = r->data;
	for (b = 0; b <= nb; b++) {
		uint64_t m = b < nb ? sep[b] : 1;
		for (; m; m &= m - 1) {
			size_t at = b < nb ? 64 * b + (size_t)__builtin_ctzll(m) : len;
			size_t from = start, n = at - start;
			int quoted = n > 0 && p[from] == '"';
			if (quoted) {
				if (n < 2 || p[at - 1] != '"')
					goto decline;
				from++;
				n -= 2;
			} else if (n > 0 && p[at - 1] == '"') {
				goto decline;
			}
#ifdef __SSE2__
			if (n <= 16 && (size_t)(limit - (p + from)) >= 16)
				_mm_storeu_si128(
					(__m128i *)(void *)(d + dst),
					_mm_loadu_si128((const __m128i *)(const void *)(p + from)));
			else
#endif
				memcpy(d + dst, p + from, n);
			d[dst + n] = '\0';
			if ((rc = csv_plain_field(r, k++, dst, n, quoted, err)) < 0)
				return -1;
			if (rc > 0)
				goto decline;
			dst += n + 1;
			start = at + 1;
		}
	}
	/* quotes and commas are ASCII: the fields are valid when the line is */
	if (high && ml_utf8_valid_prefix((const char *)p, len) != len)
		goto decline;
	r->nfields = k;
	r->dlen = dst;
	return 1;
decline:
	r->nfields = 0;
	return 0;
}

/*
 * The common row, read without the state machine: one whole line in the
 * buffer that csv_plain_row takes. Returns 1 with the row, -1 out of
 * memory, or 0 when the row is not that simple: then nothing is consumed
 * and the state machine reads it, errors included.
 */
static int csv_fast_row(struct ml_csv *r, struct err *err)
{
	const unsigned char *p = r->in + r->pos, *nl, *end;
	size_t n = r->avail - r->pos;
	int rc;

	nl = n ? memchr(p, '\n', n) : NULL;
	if (!nl)
		return 0;
	end = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
	rc = csv_plain_row(r, p, (size_t)(end - p), r->in + r->avail, err);
	if (rc == 1) {
		r->pos = (size_t)(nl + 1 - r->in);
		r->line++;
	}
	return rc;
}

int ml_csv_next(struct ml_csv *r, struct err *err)
{
	enum csv_state st = ST_START;
	size_t qline = 0;
	unsigned char ch;
	int c;

	if (r->one_row) {
		if (r->one_row == 2)
			return 0;
		r->one_row = 2;
	}
	r->nfields = 0;
	r->dlen = 0;
	if (!r->started && csv_skip_bom(r, err) < 0)
		return -1;
	r->row_line = r->line;
	c = r->slow_only ? 0 : csv_fast_row(r, err);
	if (c != 0)
		return c;
	for (;;) {
		if (st == ST_PLAIN && csv_scan(r, 0, err) < 0)
			return -1;
		if (st == ST_QUOTED && csv_scan(r, 1, err) < 0)
			return -1;
		c = csv_getc(r, err);
		if (c == -2)
			return -1;
		if (c == -1) {
			if (st == ST_QUOTED)
				return err_set(err, ERR_PARSE,
					       "%s:%zu: unterminated quoted field (opened here)",
					       r->name, qline);
			if (r->nfields == 0)
				return 0;
			/* after a final comma, the row ends with an empty field */
			if (st == ST_START && csv_begin_field(r, 0, err) < 0)
				return -1;
			return csv_row_done(r, err);
		}
		if (c == '\0')
			return err_set(err, ERR_PARSE, "%s:%zu: NUL byte in the data", r->name,
				       r->line);
		if (st != ST_QUOTED && c == '\r') {
			if (csv_expect_lf(r, err) < 0)
				return -1;
			c = '\n';
		}
		ch = (unsigned char)c;
		switch (st) {
		case ST_START:
			if (c == '\n' && r->nfields == 0) {
				r->line++; /* blank line: skip */
				r->row_line = r->line;
				continue;
			}
			if (csv_begin_field(r, c == '"', err) < 0)
				return -1;
			if (c == '"') {
				qline = r->line;
				st = ST_QUOTED;
			} else if (c == ',') {
				if (csv_end_field(r, err) < 0)
					return -1;
			} else if (c == '\n') {
				r->line++;
				return csv_row_done(r, err);
			} else {
				if (csv_add(r, &ch, 1, err) < 0)
					return -1;
				st = ST_PLAIN;
			}
			break;
		case ST_PLAIN:
			if (c == ',') {
				if (csv_end_field(r, err) < 0)
					return -1;
				st = ST_START;
			} else if (c == '\n') {
				r->line++;
				return csv_row_done(r, err);
			} else if (c == '"') {
				return err_set(err, ERR_PARSE,
					       "%s:%zu: quote inside unquoted field %zu", r->name,
					       r->line, r->nfields);
			} else if (csv_add(r, &ch, 1, err) < 0) {
				/* csv_scan stopped at the end of the read buffer */
				return -1;
			}
			break;
		case ST_QUOTED:
			if (c == '"') {
				st = ST_QUOTE_SEEN;
				break;
			}
			if (c == '\n')
				r->line++;
			if (csv_add(r, &ch, 1, err) < 0)
				return -1;
			break;
		case ST_QUOTE_SEEN:
			if (c == '"') {
				if (csv_add(r, &ch, 1, err) < 0)
					return -1;
				st = ST_QUOTED;
			} else if (c == ',') {
				if (csv_end_field(r, err) < 0)
					return -1;
				st = ST_START;
			} else if (c == '\n') {
				r->line++;
				return csv_row_done(r, err);
			} else {
				return err_set(err, ERR_PARSE,
					       "%s:%zu: unexpected character after closing quote "
					       "in field %zu",
					       r->name, r->line, r->nfields);
			}
			break;
		}
	}
}

/*
 * Moves the unread bytes to the start of the read buffer, grown to at least
 * size, and reads until it is full or the input ends. A reader over memory
 * has all its input already.
 */
static int csv_top_up(struct ml_csv *r, size_t size, struct err *err)
{
	size_t n;
	if (!r->fp || r->map)
		return 0;
	if (size > r->bufsize) {
		unsigned char *p = mem_realloc(r->rbuf, size);
		if (!p)
			return err_set(err, ERR_NOMEM, "out of memory");
		r->rbuf = p;
		r->in = p;
		r->bufsize = size;
	}
	if (r->pos) {
		memmove(r->rbuf, r->rbuf + r->pos, r->avail - r->pos);
		r->avail -= r->pos;
		r->pos = 0;
	}
	while (!r->eof && r->avail < r->bufsize) {
		n = fread(r->rbuf + r->avail, 1, r->bufsize - r->avail, r->fp);
		if (n == 0) {
			if (ferror(r->fp))
				return err_set(err, ERR_IO, "%s:%zu: read error: %s", r->name,
					       r->line, strerror(errno));
			r->eof = 1;
		}
		r->avail += n;
	}
	return 0;
}

/*
 * How many bytes of p[0..n) are c. The inner loop has a fixed count, so
 * the compiler turns it into vector compares (a byte sum of at most 128).
 */
static size_t csv_count(const unsigned char *p, size_t n, unsigned char c)
{
	size_t k = 0, i = 0;
	for (; i + 128 <= n; i += 128) {
		unsigned char m = 0;
		for (int j = 0; j < 128; j++)
			m += p[i + j] == c;
		k += m;
	}
	for (; i < n; i++)
		k += p[i] == c;
	return k;
}

static unsigned csv_quotes_odd(const unsigned char *p, size_t n)
{
	return (unsigned)(csv_count(p, n, '"') & 1);
}

/*
 * Row ends in p[0..n), which starts at a row start: the offset after a line
 * feed with an even number of quotes before it (outside quotes, as the
 * state machine sees it, unless a row before it is malformed: and then its
 * reader reports that row first).
 */

/*
 * The first row end at or after at, or n when there is none. *odd is the
 * parity of the quotes in p[0..from), from <= at, and becomes that of the
 * quotes before the offset returned.
 */
static size_t csv_row_end_after(const unsigned char *p, size_t n, size_t from, size_t at,
				unsigned *odd)
{
	const unsigned char *nl;
	size_t i = at;
	*odd ^= csv_quotes_odd(p + from, at - from);
	while (i < n && (nl = memchr(p + i, '\n', n - i)) != NULL) {
		size_t e = (size_t)(nl - p);
		*odd ^= csv_quotes_odd(p + i, e + 1 - i);
		if (!*odd)
			return e + 1;
		i = e + 1;
	}
	return n;
}

/* The last row end, or 0 when there is none. */
static size_t csv_last_row_end(const unsigned char *p, size_t n)
{
	unsigned odd = csv_quotes_odd(p, n); /* of p[0..i) */
	const unsigned char *nl;
	size_t i = n;
	while (i > 0 && (nl = memrchr(p, '\n', i)) != NULL) {
		size_t e = (size_t)(nl - p);
		odd ^= csv_quotes_odd(p + e, i - e);
		if (!odd)
			return e + 1;
		i = e;
	}
	return 0;
}

/*
 * One block being read: its parts, claimed in order by the threads (so a
 * thread that is not scheduled holds up no more than one part), each read
 * to its end once claimed, so that every part before a failed one is done.
 */
struct csv_block_run {
	const struct ml_csv_parts *ops;
	size_t nparts;
	const unsigned char *ptr[ML_CSV_PARTS];
	size_t len[ML_CSV_PARTS], line[ML_CSV_PARTS];
	int rc[ML_CSV_PARTS];
	struct err err[ML_CSV_PARTS];
	atomic_size_t next;
	atomic_int stop; /* a part failed: claim no more */
};

/* A thread's share of a block, read with its own reader. */
struct csv_worker {
	struct csv_block_run *run;
	struct ml_csv rd;
};

static void csv_work(struct csv_worker *w)
{
	struct csv_block_run *run = w->run;
	struct ml_csv *rd = &w->rd;
	size_t i;
	while (!atomic_load(&run->stop) && (i = atomic_fetch_add(&run->next, 1)) < run->nparts) {
		rd->in = run->ptr[i];
		rd->pos = 0;
		rd->avail = run->len[i];
		rd->eof = 1;
		rd->started = 1; /* a BOM is only skipped at the start of the input */
		rd->line = run->line[i];
		run->rc[i] = run->ops->part(run->ops->ctx, (int)i, rd, &run->err[i]);
		if (run->rc[i] < 0)
			atomic_store(&run->stop, 1);
	}
}

/*
 * The second thread, made once per ml_csv_read_parts (when a block first
 * has two parts) and handed each block in turn: run is the block to help
 * with, NULL when there is none; taken says the thread has started on it
 * (until then the caller may take it back, so a thread that is not
 * scheduled holds nothing up).
 */
struct csv_pool {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* run, taken or quit changed */
	struct csv_worker *w;
	struct csv_block_run *run;
	int taken, quit, threaded, tried;
};

static void *csv_pool_main(void *arg)
{
	struct csv_pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->quit && (!p->run || p->taken))
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->quit)
			break;
		p->taken = 1;
		p->w->run = p->run;
		pthread_mutex_unlock(&p->mu);
		csv_work(p->w);
		pthread_mutex_lock(&p->mu);
		p->run = NULL;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Makes the thread, on the first block worth sharing; without it all runs here. */
static void csv_pool_start(struct csv_pool *p)
{
	p->tried = 1;
	if (pthread_mutex_init(&p->mu, NULL) != 0)
		return;
	if (pthread_cond_init(&p->cv, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		return;
	}
	p->threaded = pthread_create(&p->th, NULL, csv_pool_main, p) == 0;
	if (!p->threaded) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
	}
}

static void csv_pool_stop(struct csv_pool *p)
{
	if (!p->threaded)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	(void)pthread_join(p->th, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
}

static void csv_run_reset(struct csv_block_run *run)
{
	atomic_store(&run->next, 0);
	atomic_store(&run->stop, 0);
	for (size_t i = 0; i < run->nparts; i++) {
		err_clear(&run->err[i]);
		run->rc[i] = 1; /* not run */
	}
}

/* Offers run to the second thread (when there is one and run has parts to share). */
static void csv_pool_offer(struct csv_pool *p, struct csv_block_run *run)
{
	if (run->nparts < 2)
		return;
	if (!p->tried)
		csv_pool_start(p);
	if (!p->threaded)
		return;
	pthread_mutex_lock(&p->mu);
	p->run = run;
	p->taken = 0;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Waits until the second thread is done with the block offered, if it took it. */
static void csv_pool_wait(struct csv_pool *p)
{
	if (!p->threaded)
		return;
	pthread_mutex_lock(&p->mu);
	if (!p->taken)
		p->run = NULL; /* not started: nothing left for it to do */
	while (p->run)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

/* The first part of run that failed, as err; 0 when none did. */
static int csv_run_result(const struct csv_block_run *run, struct err *err)
{
	/* parts are claimed in order: all before the first failure ran */
	for (size_t i = 0; i < run->nparts; i++)
		if (run->rc[i] < 0)
			return err_set(err, run->err[i].code, "%s", run->err[i].msg);
	return 0;
}

/* A row longer than the block: read alone through r, with bounded memory. */
static int csv_long_row(struct ml_csv *r, const struct ml_csv_parts *ops, struct err *err)
{
	int rc;
	r->one_row = 1;
	rc = ops->part(ops->ctx, 0, r, err);
	r->one_row = 0;
	if (rc < 0)
		return -1;
	return ops->commit(ops->ctx, 1, err) < 0 ? -1 : 1;
}

/*
 * Cuts p[0..end) (whole rows) into parts at row ends near equal shares,
 * with the line each part starts on. Returns the line after the block.
 */
static size_t csv_cut(struct csv_block_run *run, const unsigned char *p, size_t end, size_t line)
{
	size_t from = 0, k;
	unsigned odd = 0;
	run->nparts = 0;
	for (k = 1; from < end; k++) {
		size_t at = k < ML_CSV_PARTS ? end / ML_CSV_PARTS * k : end;
		size_t cut = at <= from ? from : csv_row_end_after(p, end, from, at, &odd);
		if (cut == from)
			continue;
		run->ptr[run->nparts] = p + from;
		run->len[run->nparts] = cut - from;
		run->line[run->nparts++] = line;
		line += csv_count(p + from, cut - from, '\n');
		from = cut;
	}
	return line;
}

/*
 * Takes the next block of whole rows from r (up to block bytes) and cuts
 * it into run's parts; r moves past it. Returns 1, 0 at the end of the
 * input, 2 when the next row is longer than block (r is left on it: read
 * it with csv_long_row), -1 on a read error.
 */
static int csv_take_block(struct ml_csv *r, size_t block, struct csv_block_run *run,
			  struct err *err)
{
	const unsigned char *p;
	size_t n, end;

	if (csv_top_up(r, block, err) < 0)
		return -1;
	n = r->avail - r->pos;
	if (n == 0)
		return 0;
	p = r->in + r->pos;
	end = r->eof && n <= block ? n : csv_last_row_end(p, n < block ? n : block);
	if (end == 0)
		return 2;
	r->line = csv_cut(run, p, end, r->line);
	csv_run_reset(run);
	r->pos += end;
	return 1;
}

/*
 * A regular file is mapped from r's position to its end and r then reads
 * it as memory: blocks are read in place, with no copy into the read
 * buffer, and the next block can be cut while the parts of one are read.
 * Pages are dropped once their rows are committed (csv_drop_read), so the
 * process keeps at most two blocks of the file resident. Anything else (a
 * pipe, a failed mmap) is read through the buffer as before.
 */
static void csv_map_rest(struct ml_csv *r)
{
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	off_t at, base;
	void *m;
	int fd;

	if (!r->fp || r->eof || page <= 0 || (fd = fileno(r->fp)) < 0 || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode) || (at = ftello(r->fp)) < 0)
		return;
	/* the bytes of the read buffer not read yet start at offset at */
	if ((size_t)at < r->avail - r->pos || st.st_size <= at)
		return;
	at -= (off_t)(r->avail - r->pos);
	base = at / page * page;
	m = mmap(NULL, (size_t)(st.st_size - base), PROT_READ, MAP_PRIVATE, fd, base);
	if (m == MAP_FAILED)
		return;
	r->map = m;
	r->map_len = (size_t)(st.st_size - base);
	r->in = m;
	r->pos = (size_t)(at - base);
	r->avail = r->map_len;
	r->eof = 1;
}

/* Drops the mapped pages wholly before end, whose rows are done. */
static void csv_drop_read(struct ml_csv *r, const unsigned char *end)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t upto;
	if (!r->map || page <= 0)
		return;
	upto = (size_t)(end - (const unsigned char *)r->map) / (size_t)page * (size_t)page;
	if (upto > r->map_dropped &&
	    madvise((char *)r->map + r->map_dropped, upto - r->map_dropped, MADV_DONTNEED) == 0)
		r->map_dropped = upto;
}

int ml_csv_read_parts(struct ml_csv *r, size_t block, const struct ml_csv_parts *ops,
		      struct err *err)
{
	struct csv_block_run *runs = mem_calloc(2, sizeof(*runs)), *cur, *nxt, *t;
	struct csv_worker w[2];
	struct csv_pool pool;
	struct err e2 = ERR_INIT;
	int rc = -1, rc2;

	memset(w, 0, sizeof(w));
	memset(&pool, 0, sizeof(pool));
	if (!runs)
		return err_set(err, ERR_NOMEM, "out of memory");
	runs[0].ops = runs[1].ops = ops;
	cur = &runs[0];
	nxt = &runs[1];
	for (int i = 0; i < 2; i++) {
		atomic_init(&runs[i].next, 0);
		atomic_init(&runs[i].stop, 0);
		if (csv_init(&w[i].rd, ml_csv_name(r), err) < 0)
			goto out;
		w[i].rd.slow_only = r->slow_only;
	}
	if (!r->started && csv_skip_bom(r, err) < 0)
		goto out;
	csv_map_rest(r);
	block = block ? block : 1;
	pool.w = &w[1];
	rc = csv_take_block(r, block, cur, err);
	while (rc > 0) {
		if (rc == 2) {
			if ((rc = csv_long_row(r, ops, err)) > 0)
				rc = csv_take_block(r, block, cur, err);
			continue;
		}
		csv_pool_offer(&pool, cur);
		w[0].run = cur;
		csv_work(&w[0]);
		/* In memory, the next block is cut while the other thread ends
		 * its last part; from a FILE it is read into the same buffer, so
		 * only once this block is done. */
		rc2 = r->fp && !r->map ? -2 : csv_take_block(r, block, nxt, &e2);
		csv_pool_wait(&pool);
		if (csv_run_result(cur, err) < 0 || ops->commit(ops->ctx, cur->nparts, err) < 0) {
			rc = -1;
			break;
		}
		if (rc2 == -2)
			rc2 = csv_take_block(r, block, nxt, &e2);
		csv_drop_read(r, cur->ptr[cur->nparts - 1] + cur->len[cur->nparts - 1]);
		if (rc2 < 0) {
			err_set(err, e2.code, "%s", e2.msg);
			rc = -1;
			break;
		}
		t = cur;
		cur = nxt;
		nxt = t;
		rc = rc2;
	}
out:
	csv_pool_stop(&pool);
	ml_csv_close(&w[0].rd);
	ml_csv_close(&w[1].rd);
	mem_free(runs);
	return rc;
}

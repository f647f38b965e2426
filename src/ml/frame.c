/*
 * frame.c - whole CSV files in memory as columns of strings (frame.h), read
 * through the streaming tokenizer of csv.h. Field bytes live in an arena of
 * large chunks, a row copied at once, so a file costs a few allocations, not
 * one per field.
 */
#include "ml/frame.h"
#include "base/mem.h"
#include "ml/csv.h"

#include <stdlib.h>
#include <string.h>

#define FRAME_CHUNK (1UL << 20)

/* One arena chunk; fields are packed into data. */
struct frame_chunk {
	struct frame_chunk *next;
	size_t used, cap;
	char data[];
};

struct frame_store {
	struct frame_chunk *chunks; /* newest first */
	size_t rcap;		    /* allocated rows of every cells[c] and line */
};

/* Copies s[0..len) and a NUL into the arena; NULL when out of memory. */
static char *frame_strdup(struct frame_store *st, const char *s, size_t len)
{
	struct frame_chunk *c = st->chunks;
	char *p;
	if (!c || c->cap - c->used < len + 1) {
		size_t cap = len + 1 > FRAME_CHUNK ? len + 1 : FRAME_CHUNK;
		c = mem_malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = st->chunks;
		st->chunks = c;
	}
	p = c->data + c->used;
	memcpy(p, s, len);
	p[len] = '\0';
	c->used += len + 1;
	return p;
}

void ml_frame_release(struct ml_frame *f)
{
	struct frame_store *st = f->internal;
	if (st) {
		while (st->chunks) {
			struct frame_chunk *c = st->chunks;
			st->chunks = c->next;
			mem_free(c);
		}
		mem_free(st);
	}
	if (f->cells)
		for (size_t c = 0; c < f->ncols; c++)
			mem_free(f->cells[c]);
	mem_free(f->cells);
	mem_free(f->names);
	mem_free(f->line);
	mem_free(f->path);
	memset(f, 0, sizeof(*f));
}

int ml_frame_col(const struct ml_frame *f, const char *name)
{
	for (size_t c = 0; c < f->ncols; c++)
		if (strcmp(f->names[c], name) == 0)
			return (int)c;
	return -1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Takes the header row: names must be non-empty and unique. */
static int frame_header(struct ml_frame *f, struct ml_csv *r, struct err *err)
{
	struct frame_store *st = f->internal;
	char **sorted = NULL;
	int ret = -1;

	f->ncols = r->nfields;
	f->names = mem_calloc(f->ncols, sizeof(*f->names));
	f->cells = mem_calloc(f->ncols, sizeof(*f->cells));
	sorted = mem_calloc(f->ncols, sizeof(*sorted));
	if (!f->names || !f->cells || !sorted) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t c = 0; c < f->ncols; c++) {
		if (r->len[c] == 0) {
			err_set(err, ERR_PARSE, "%s:%zu: empty column name (column %zu)", f->path,
				r->row_line, c + 1);
			goto out;
		}
		f->names[c] = frame_strdup(st, r->field[c], r->len[c]);
		if (!f->names[c]) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		sorted[c] = f->names[c];
	}
	qsort(sorted, f->ncols, sizeof(*sorted), cmp_names);
	for (size_t c = 1; c < f->ncols; c++) {
		if (strcmp(sorted[c - 1], sorted[c]) == 0) {
			err_set(err, ERR_PARSE, "%s:%zu: duplicate column name '%s'", f->path,
				r->row_line, sorted[c]);
			goto out;
		}
	}
	ret = 0;
out:
	mem_free(sorted);
	return ret;
}

static int frame_grow_rows(struct ml_frame *f, struct err *err)
{
	struct frame_store *st = f->internal;
	size_t cap = st->rcap ? st->rcap * 2 : 1024;
	void *p;
	if (f->nrows < st->rcap)
		return 0;
	p = mem_reallocarray(f->line, cap, sizeof(*f->line));
	if (!p)
		return err_set(err, ERR_NOMEM, "out of memory");
	f->line = p;
	for (size_t c = 0; c < f->ncols; c++) {
		p = mem_reallocarray(f->cells[c], cap, sizeof(*f->cells[c]));
		if (!p)
			return err_set(err, ERR_NOMEM, "out of memory");
		f->cells[c] = p;
	}
	st->rcap = cap;
	return 0;
}

/*
 * Adds the current row of r: its fields lie one after the other in one
 * block, each with its NUL (csv.h), so the block is copied at once and the
 * cells point into the copy; an empty field is NULL.
 */
static int frame_add_row(struct ml_frame *f, struct ml_csv *r, struct err *err)
{
	size_t row = f->nrows, n = r->nfields, size;
	char *base;
	if (n != f->ncols)
		return err_set(err, ERR_PARSE, "%s:%zu: expected %zu fields, found %zu", f->path,
			       r->row_line, f->ncols, n);
	if (frame_grow_rows(f, err) < 0)
		return -1;
	size = (size_t)(r->field[n - 1] - r->field[0]) + r->len[n - 1];
	if (!(base = frame_strdup(f->internal, r->field[0], size)))
		return err_set(err, ERR_NOMEM, "out of memory");
	for (size_t c = 0; c < n; c++)
		f->cells[c][row] = r->len[c] ? base + (r->field[c] - r->field[0]) : NULL;
	f->line[row] = r->row_line;
	f->nrows++;
	return 0;
}

static int frame_load(struct ml_frame *f, struct ml_csv *r, struct err *err)
{
	int rc = ml_csv_next(r, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return err_set(err, ERR_PARSE, "%s:1: empty file (no header row)", f->path);
	if (frame_header(f, r, err) < 0)
		return -1;
	while ((rc = ml_csv_next(r, err)) > 0)
		if (frame_add_row(f, r, err) < 0)
			return -1;
	if (rc < 0)
		return -1;
	if (f->nrows == 0)
		return err_set(err, ERR_PARSE, "%s:%zu: header row without data rows", f->path,
			       r->line);
	return 0;
}

static int frame_start(struct ml_frame *f, const char *name, struct err *err)
{
	memset(f, 0, sizeof(*f));
	f->path = mem_strdup(name);
	f->internal = mem_calloc(1, sizeof(struct frame_store));
	if (!f->path || !f->internal)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

int ml_frame_read_csv(struct ml_frame *f, const char *path, struct err *err)
{
	struct ml_csv r;
	int ret = -1;
	memset(&r, 0, sizeof(r));
	if (frame_start(f, path, err) < 0 || ml_csv_open(&r, path, err) < 0)
		goto out;
	if (frame_load(f, &r, err) < 0)
		goto out;
	ret = 0;
out:
	ml_csv_close(&r);
	if (ret < 0)
		ml_frame_release(f);
	return ret;
}

int ml_frame_parse_csv(struct ml_frame *f, const void *data, size_t len, const char *name,
		       struct err *err)
{
	struct ml_csv r;
	int ret = -1;
	memset(&r, 0, sizeof(r));
	if (frame_start(f, name, err) < 0 || ml_csv_open_mem(&r, data, len, name, err) < 0)
		goto out;
	if (frame_load(f, &r, err) < 0)
		goto out;
	ret = 0;
out:
	ml_csv_close(&r);
	if (ret < 0)
		ml_frame_release(f);
	return ret;
}

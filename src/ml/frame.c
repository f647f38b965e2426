/*
 * frame.c - whole CSV files in memory as columns of strings (frame.h), read
 * through the tokenizer of csv.h in parts on two threads (ml_csv_read_parts).
 * Field bytes live in arenas of large chunks, a row copied at once, so a
 * file costs a few allocations, not one per field.
 */
#include "ml/frame.h"
#include "base/mem.h"
#include "ml/csv.h"

#include <stdlib.h>
#include <string.h>

#define FRAME_CHUNK	 (1UL << 20)
#define FRAME_PART_CHUNK (64UL << 10) /* a part's arena: parts are ML_CSV_BLOCK / 32 */

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

/*
 * Copies s[0..len) and a NUL into the arena *chunks (new chunks of at least
 * chunk bytes); NULL when out of memory.
 */
static char *arena_strdup(struct frame_chunk **chunks, size_t chunk, const char *s, size_t len)
{
	struct frame_chunk *c = *chunks;
	char *p;
	if (!c || c->cap - c->used < len + 1) {
		size_t cap = len + 1 > chunk ? len + 1 : chunk;
		c = mem_malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = *chunks;
		*chunks = c;
	}
	p = c->data + c->used;
	memcpy(p, s, len);
	p[len] = '\0';
	c->used += len + 1;
	return p;
}

static char *frame_strdup(struct frame_store *st, const char *s, size_t len)
{
	return arena_strdup(&st->chunks, FRAME_CHUNK, s, len);
}

static void arena_free(struct frame_chunk **chunks)
{
	while (*chunks) {
		struct frame_chunk *c = *chunks;
		*chunks = c->next;
		mem_free(c);
	}
}

void ml_frame_release(struct ml_frame *f)
{
	struct frame_store *st = f->internal;
	if (st) {
		arena_free(&st->chunks);
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

/* Room for nrows rows in every cells[c] and line (doubling). */
static int frame_grow_rows(struct ml_frame *f, size_t nrows, struct err *err)
{
	struct frame_store *st = f->internal;
	size_t cap = st->rcap ? st->rcap : 1024;
	void *p;
	if (nrows <= st->rcap)
		return 0;
	while (cap < nrows)
		cap *= 2;
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
 * The rows of one part of the input (ml_csv_read_parts), read on either
 * thread: fields in the part's own arena, cells[c][r] as in a frame. A
 * commit moves them into the frame, in input order.
 */
struct frame_part {
	struct frame_chunk *chunks;
	char ***cells; /* ncols arrays of cap rows */
	size_t *line;
	size_t nrows, cap;
};

struct frame_parts {
	struct ml_frame *f;
	struct frame_part part[ML_CSV_PARTS];
};

static int part_grow(struct frame_part *pt, size_t ncols, struct err *err)
{
	size_t cap = pt->cap ? pt->cap * 2 : 256;
	void *p;
	if (!pt->cells && !(pt->cells = mem_calloc(ncols, sizeof(*pt->cells))))
		return err_set(err, ERR_NOMEM, "out of memory");
	if (!(p = mem_reallocarray(pt->line, cap, sizeof(*pt->line))))
		return err_set(err, ERR_NOMEM, "out of memory");
	pt->line = p;
	for (size_t c = 0; c < ncols; c++) {
		if (!(p = mem_reallocarray(pt->cells[c], cap, sizeof(*pt->cells[c]))))
			return err_set(err, ERR_NOMEM, "out of memory");
		pt->cells[c] = p;
	}
	pt->cap = cap;
	return 0;
}

/*
 * Copies the current row of r into part pt: its fields lie one after the
 * other in one block, each with its NUL (csv.h), so the block is copied at
 * once and the cells point into the copy; an empty field is NULL.
 */
static int part_add_row(struct frame_part *pt, const struct ml_frame *f, const struct ml_csv *r,
			struct err *err)
{
	size_t n = r->nfields, size;
	char *base;
	if (n != f->ncols)
		return err_set(err, ERR_PARSE, "%s:%zu: expected %zu fields, found %zu", f->path,
			       r->row_line, f->ncols, n);
	if (pt->nrows == pt->cap && part_grow(pt, n, err) < 0)
		return -1;
	size = (size_t)(r->field[n - 1] - r->field[0]) + r->len[n - 1];
	if (!(base = arena_strdup(&pt->chunks, FRAME_PART_CHUNK, r->field[0], size)))
		return err_set(err, ERR_NOMEM, "out of memory");
	for (size_t c = 0; c < n; c++)
		pt->cells[c][pt->nrows] = r->len[c] ? base + (r->field[c] - r->field[0]) : NULL;
	pt->line[pt->nrows++] = r->row_line;
	return 0;
}

static int part_read(void *ctx, int i, struct ml_csv *rows, struct err *err)
{
	struct frame_parts *fp = ctx;
	struct frame_part *pt = &fp->part[i];
	int rc;
	while ((rc = ml_csv_next(rows, err)) > 0)
		if (part_add_row(pt, fp->f, rows, err) < 0)
			return -1;
	return rc;
}

/* Appends parts 0..n-1 to the frame, which takes their arenas. */
static int parts_commit(void *ctx, size_t n, struct err *err)
{
	struct frame_parts *fp = ctx;
	struct ml_frame *f = fp->f;
	struct frame_store *st = f->internal;
	for (size_t i = 0; i < n; i++) {
		struct frame_part *pt = &fp->part[i];
		struct frame_chunk *last = pt->chunks;
		if (frame_grow_rows(f, f->nrows + pt->nrows, err) < 0)
			return -1;
		for (size_t c = 0; pt->nrows && c < f->ncols; c++)
			memcpy(f->cells[c] + f->nrows, pt->cells[c],
			       pt->nrows * sizeof(*pt->cells[c]));
		if (pt->nrows)
			memcpy(f->line + f->nrows, pt->line, pt->nrows * sizeof(*pt->line));
		f->nrows += pt->nrows;
		pt->nrows = 0;
		while (last && last->next)
			last = last->next;
		if (last) {
			last->next = st->chunks;
			st->chunks = pt->chunks;
			pt->chunks = NULL;
		}
	}
	return 0;
}

static void parts_release(struct frame_parts *fp, size_t ncols)
{
	for (size_t i = 0; i < ML_CSV_PARTS; i++) {
		struct frame_part *pt = &fp->part[i];
		arena_free(&pt->chunks);
		for (size_t c = 0; pt->cells && c < ncols; c++)
			mem_free(pt->cells[c]);
		mem_free(pt->cells);
		mem_free(pt->line);
	}
	mem_free(fp);
}

static int frame_load(struct ml_frame *f, struct ml_csv *r, struct err *err)
{
	struct ml_csv_parts ops = {part_read, parts_commit, NULL};
	struct frame_parts *fp = NULL;
	int rc = ml_csv_next(r, err), ret = -1;
	if (rc < 0)
		return -1;
	if (rc == 0)
		return err_set(err, ERR_PARSE, "%s:1: empty file (no header row)", f->path);
	if (frame_header(f, r, err) < 0)
		return -1;
	if (!(fp = mem_calloc(1, sizeof(*fp)))) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	fp->f = f;
	ops.ctx = fp;
	if (ml_csv_read_parts(r, ML_CSV_BLOCK, &ops, err) < 0)
		goto out;
	if (f->nrows == 0) {
		err_set(err, ERR_PARSE, "%s:%zu: header row without data rows", f->path, r->line);
		goto out;
	}
	ret = 0;
out:
	if (fp)
		parts_release(fp, f->ncols);
	return ret;
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

/*
 * predict.c - `kiln predict`: run a model bundle over CSV rows or JSON
 * lines, streamed in chunks (constant memory; for CSV one thread reads the
 * next chunk while two predict the current one). Output
 * goes to a temporary file, renamed (-o) or copied to stdout only when every
 * row is predicted, so a bad input line leaves no partial output. Not a
 * server: serve.c.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/file.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "ml/csv.h"
#include "ml/model.h"
#include "ml/numfmt.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_predict_usage[] =
	"usage: kiln predict MODEL.kiln [FILE] [-o OUT]\n"
	"\n"
	"Predicts every row of FILE (default: stdin) with a model bundle.\n"
	"Input is CSV with a header row, or JSON lines when its first non-space\n"
	"byte is '{' (one object per line, keys = column names; a missing key or\n"
	"null is a missing value). Output has the same form:\n"
	"  CSV:        a column named after the label, then p_CLASS per class\n"
	"              (classification)\n"
	"  JSON lines: {\"LABEL\": \"positive\", \"probability\": 0.97} or, for\n"
	"              regression, {\"LABEL\": 123.4}\n"
	"\n"
	"  -o, --output PATH   write to PATH (atomically) instead of stdout\n";

static const struct option predict_options[] = {
	{"output", required_argument, NULL, 'o'},
	{NULL, 0, NULL, 0},
};

static int add_csv_field(struct buf *b, const char *s)
{
	const char *p;
	if (!strpbrk(s, ",\"\r\n"))
		return buf_adds(b, s);
	if (buf_addch(b, '"') < 0)
		return -1;
	for (p = s; *p; p++)
		if ((*p == '"' && buf_addch(b, '"') < 0) || buf_addch(b, *p) < 0)
			return -1;
	return buf_addch(b, '"');
}

/* Appends "," and printf's "%.6f" of p. */
static int add_prob(struct buf *b, double p)
{
	char tmp[ML_NUMFMT_MAX + 1];
	tmp[0] = ',';
	return buf_add(b, tmp, 1 + ml_fmt_f6(tmp + 1, p));
}

/* Appends printf's "%.10g\n" of v. */
static int add_value(struct buf *b, double v)
{
	char tmp[ML_NUMFMT_MAX + 1];
	size_t n = ml_fmt_g10(tmp, v);
	tmp[n] = '\n';
	return buf_add(b, tmp, n + 1);
}

/* Rows of the input held for one round of prediction (constant memory). */
#define PREDICT_CHUNK 4096
/* A chunk also ends once its rows hold this many bytes (wide rows, long texts). */
#define PREDICT_CHUNK_BYTES (32u << 20)
/* Rows a thread claims at a time from a chunk being predicted. */
#define PREDICT_BLOCK 64

/*
 * A chunk of CSV rows copied out of the reader (whose row memory is reused)
 * into data, with where the model's columns are in it; the cells of a row
 * are made from that when it is predicted. Only offsets and lengths are
 * kept per cell: data may move while the chunk fills, and the chunk's
 * memory stays small enough to stay in the caches.
 */
struct chunk {
	size_t ncols, n;
	const int *map; /* schema column -> CSV column, or -1 */
	size_t *off;	/* PREDICT_CHUNK * ncols: where a cell's string is in data */
	uint32_t *len;	/* PREDICT_CHUNK * ncols: its length, 0 for a missing value */
	size_t line[PREDICT_CHUNK];
	struct buf data;
	/* the output text of each block of PREDICT_BLOCK rows, in order */
	struct buf out[PREDICT_CHUNK / PREDICT_BLOCK];
	atomic_size_t next; /* first row no thread has claimed yet */
};

/* What one thread found predicting a chunk: the first row that failed. */
struct share {
	const struct ml_model *m;
	struct chunk *c;
	struct ml_cell *cells; /* ncols: the row being predicted */
	size_t bad;	       /* SIZE_MAX: none */
	struct err err;
};

/* Appends the prediction of one row to out; nonzero when out of memory. */
static int format_row(const struct ml_model *m, const struct ml_pred *p, struct buf *out)
{
	const struct ml_schema *s = ml_model_schema(m);
	size_t k;
	int fail;
	if (ml_model_task(m) == ML_TASK_REGRESSION)
		return add_value(out, p->value);
	fail = add_csv_field(out, s->classes[p->klass]);
	for (k = 0; k < s->nclasses; k++)
		fail |= add_prob(out, p->prob[k]);
	return fail | buf_addch(out, '\n');
}

/* The cells of row r of chunk c, made in cells (ncols of them). */
static const struct ml_cell *row_cells(const struct chunk *c, size_t r, struct ml_cell *cells)
{
	const size_t *off = c->off + r * c->ncols;
	const uint32_t *len = c->len + r * c->ncols;
	for (size_t i = 0; i < c->ncols; i++) {
		cells[i].kind = len[i] ? ML_CELL_STR : ML_CELL_MISSING;
		cells[i].str = c->data.ptr + off[i];
		cells[i].len = len[i];
	}
	return cells;
}

/*
 * Predicts and formats blocks of rows claimed from c->next until none are
 * left or a row fails. Any number of threads may run this on one chunk:
 * each row is claimed once and its text written to its block's buffer, so
 * the results are those of row-by-row prediction. A thread stops at its
 * first failure (running out of memory for the text included); every row
 * before the earliest failure of all threads was predicted, so that row is
 * the first bad row of the chunk.
 */
static void *predict_share(void *arg)
{
	struct share *sh = arg;
	struct chunk *c = sh->c;
	for (;;) {
		size_t r = atomic_fetch_add(&c->next, PREDICT_BLOCK), end;
		struct buf *out;
		if (r >= c->n)
			return NULL;
		end = r + PREDICT_BLOCK < c->n ? r + PREDICT_BLOCK : c->n;
		out = &c->out[r / PREDICT_BLOCK];
		buf_reset(out);
		for (; r < end; r++) {
			struct ml_pred pred;
			if (ml_model_predict(sh->m, row_cells(c, r, sh->cells), &pred, &sh->err) <
			    0) {
				sh->bad = r;
				return NULL;
			}
			if (format_row(sh->m, &pred, out)) {
				err_set(&sh->err, ERR_NOMEM, "out of memory for the output");
				sh->bad = r;
				return NULL;
			}
		}
	}
}

static void share_init(struct share *sh, const struct ml_model *m, struct chunk *c,
		       struct ml_cell *cells)
{
	sh->m = m;
	sh->c = c;
	sh->cells = cells;
	sh->bad = SIZE_MAX;
	memset(&sh->err, 0, sizeof(sh->err));
}

/* The earlier failure of two shares, as "name:line: message". */
static int share_fail(const struct share *sh, const char *name, struct err *err)
{
	const struct share *first = sh[0].bad <= sh[1].bad ? &sh[0] : &sh[1];
	if (first->bad == SIZE_MAX)
		return 0;
	return err_set(err, first->err.code, "%s:%zu: %s", name, first->c->line[first->bad],
		       first->err.msg);
}

/* Writes the text of the n rows of a chunk, block by block, in order. */
static int write_chunk(const struct chunk *c, FILE *fp, struct err *err)
{
	size_t b;
	for (b = 0; b * PREDICT_BLOCK < c->n; b++)
		if (c->out[b].len && fwrite(c->out[b].ptr, 1, c->out[b].len, fp) != c->out[b].len)
			return err_set(err, ERR_IO, "cannot write the output: %s", strerror(errno));
	return 0;
}

/* Writes b to fp and empties it. */
static int flush_buf(struct buf *b, FILE *fp, struct err *err)
{
	if (b->len && fwrite(b->ptr, 1, b->len, fp) != b->len)
		return err_set(err, ERR_IO, "cannot write the output: %s", strerror(errno));
	buf_reset(b);
	return 0;
}

/*
 * Copies the current CSV row into the chunk in one block (csv.h: a row's
 * fields are contiguous) and notes where the model's columns are in it.
 */
static int chunk_add(struct chunk *c, const struct ml_csv *r, struct err *err)
{
	const char *base = r->field[0];
	size_t at = c->data.len, i;
	size_t rowlen = (size_t)(r->field[r->nfields - 1] - base) + r->len[r->nfields - 1] + 1;
	if (buf_add(&c->data, base, rowlen) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (i = 0; i < c->ncols; i++) {
		int col = c->map[i];
		size_t k = c->n * c->ncols + i;
		/* a field is at most ML_CSV_MAX_FIELD bytes: its length fits */
		c->len[k] = col < 0 ? 0 : (uint32_t)r->len[col];
		c->off[k] = col < 0 ? at : at + (size_t)(r->field[col] - base);
	}
	c->line[c->n++] = r->row_line;
	return 0;
}

/*
 * Reads up to PREDICT_CHUNK rows (or PREDICT_CHUNK_BYTES) into c (c->n == 0
 * at the end of the input). Field counts are checked as the frame reader
 * checks them.
 */
static int fill_chunk(struct chunk *c, struct ml_csv *r, size_t ncsv, int *eof, const char *name,
		      struct err *err)
{
	int rc;
	c->n = 0;
	buf_reset(&c->data);
	atomic_store(&c->next, 0);
	while (!*eof && c->n < PREDICT_CHUNK && c->data.len < PREDICT_CHUNK_BYTES) {
		rc = ml_csv_next(r, err);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			*eof = 1;
			break;
		}
		if (r->nfields != ncsv)
			return err_set(err, ERR_PARSE, "%s:%zu: expected %zu fields, found %zu",
				       name, r->row_line, ncsv, r->nfields);
		if (chunk_add(c, r, err) < 0)
			return -1;
	}
	return 0;
}

static struct chunk *chunk_new(size_t ncols, const int *map)
{
	struct chunk *c = mem_calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	buf_init(&c->data, 0);
	atomic_init(&c->next, 0);
	c->ncols = ncols;
	c->map = map;
	c->off = mem_calloc(PREDICT_CHUNK * (ncols + 1), sizeof(*c->off));
	c->len = mem_calloc(PREDICT_CHUNK * (ncols + 1), sizeof(*c->len));
	for (size_t b = 0; b < PREDICT_CHUNK / PREDICT_BLOCK; b++)
		buf_init(&c->out[b], 0);
	return c;
}

static void chunk_free(struct chunk *c)
{
	if (!c)
		return;
	mem_free(c->off);
	mem_free(c->len);
	buf_release(&c->data);
	for (size_t b = 0; b < PREDICT_CHUNK / PREDICT_BLOCK; b++)
		buf_release(&c->out[b]);
	mem_free(c);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The header: columns matched by name; names must be non-empty and unique. */
static int csv_header(const struct ml_schema *s, const struct ml_csv *r, int *map, const char *name,
		      struct err *err)
{
	size_t k, a, missing = 0;
	const char *first = "";
	const char **sorted = mem_calloc(r->nfields, sizeof(*sorted));
	int ret = -1;
	if (!sorted)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (a = 0; a < r->nfields; a++) {
		if (r->len[a] == 0) {
			err_set(err, ERR_PARSE, "%s:%zu: empty column name (column %zu)", name,
				r->row_line, a + 1);
			goto out;
		}
		sorted[a] = r->field[a];
	}
	qsort(sorted, r->nfields, sizeof(*sorted), cmp_names);
	for (a = 1; a < r->nfields; a++)
		if (strcmp(sorted[a - 1], sorted[a]) == 0) {
			err_set(err, ERR_PARSE, "%s:%zu: duplicate column name '%s'", name,
				r->row_line, sorted[a]);
			goto out;
		}
	for (k = 0; k < s->ncols; k++) {
		map[k] = -1;
		for (a = 0; a < r->nfields && map[k] < 0; a++)
			if (strcmp(r->field[a], s->cols[k].name) == 0)
				map[k] = (int)a;
		if (map[k] < 0 && missing++ == 0)
			first = s->cols[k].name;
	}
	if (missing)
		fprintf(stderr,
			"kiln: warning: %s: %zu of the model's columns are absent (first: '%s'): "
			"treated as missing values\n",
			name, missing, first);
	ret = 0;
out:
	mem_free(sorted);
	return ret;
}

/*
 * CSV: reads, predicts and writes PREDICT_CHUNK rows at a time, so memory
 * does not grow with the input. Two chunks are in flight: while a second
 * thread predicts one, this thread reads the next, then helps to predict
 * the rest of the first, then writes it. Output order is input order.
 */
static int predict_csv(const struct ml_model *m, FILE *in, const char *name, FILE *out,
		       struct err *err)
{
	const struct ml_schema *s = ml_model_schema(m);
	struct ml_csv r;
	int *map = mem_calloc(s->ncols + 1, sizeof(*map));
	struct chunk *cur = chunk_new(s->ncols, map), *next = chunk_new(s->ncols, map), *tmp;
	struct ml_cell *cells = mem_calloc(2 * (s->ncols + 1), sizeof(*cells));
	struct buf o = BUF_INIT;
	size_t k, ncsv, rows = 0;
	int rc, ret = -1, fail = 0, eof = 0;

	memset(&r, 0, sizeof(r));
	if (!map || !cells || !cur || !next || !cur->len || !cur->off || !next->len || !next->off) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (ml_csv_open_fp(&r, in, name, err) < 0)
		goto out;
	rc = ml_csv_next(&r, err);
	if (rc <= 0) {
		if (rc == 0)
			err_set(err, ERR_PARSE, "%s:1: empty file (no header row)", name);
		goto out;
	}
	ncsv = r.nfields;
	if (csv_header(s, &r, map, name, err) < 0)
		goto out;
	fail |= add_csv_field(&o, ml_model_label_name(m));
	for (k = 0; ml_model_task(m) == ML_TASK_CLASSIFICATION && k < s->nclasses; k++)
		fail |= buf_adds(&o, ",p_") | add_csv_field(&o, s->classes[k]);
	fail |= buf_addch(&o, '\n');
	if (fill_chunk(cur, &r, ncsv, &eof, name, err) < 0)
		goto out;
	while (cur->n) {
		struct share sh[2];
		struct err rerr = ERR_INIT;
		pthread_t th;
		int threaded, rfail = 0;

		rows += cur->n;
		share_init(&sh[0], m, cur, cells);
		share_init(&sh[1], m, cur, cells + s->ncols + 1);
		/* Without a second thread this one does everything, in order. */
		threaded = pthread_create(&th, NULL, predict_share, &sh[1]) == 0;
		rfail = fill_chunk(next, &r, ncsv, &eof, name, &rerr) < 0;
		predict_share(&sh[0]);
		if (threaded && pthread_join(th, NULL) != 0) {
			err_set(err, ERR_INTERNAL, "cannot join the prediction thread");
			goto out;
		}
		/* A bad row in this chunk comes before anything in the next. */
		if (share_fail(sh, name, err) < 0)
			goto out;
		if (rfail) {
			err_set(err, rerr.code, "%s", rerr.msg);
			goto out;
		}
		if (fail) {
			err_set(err, ERR_NOMEM, "out of memory for the output");
			goto out;
		}
		if (flush_buf(&o, out, err) < 0 || write_chunk(cur, out, err) < 0)
			goto out;
		tmp = cur;
		cur = next;
		next = tmp;
	}
	if (rows == 0) {
		err_set(err, ERR_PARSE, "%s:%zu: header row without data rows", name, r.line);
		goto out;
	}
	ret = 0;
out:
	ml_csv_close(&r);
	buf_release(&o);
	chunk_free(cur);
	chunk_free(next);
	mem_free(map);
	mem_free(cells);
	return ret;
}

/* One JSON object into cells (values borrowed from obj). */
static int json_cells(const struct ml_schema *s, const json_t *obj, struct ml_cell *cells,
		      const char *name, size_t line, struct err *err)
{
	size_t i;
	for (i = 0; i < s->ncols; i++) {
		const json_t *v = json_object_get(obj, s->cols[i].name);
		cells[i].kind = ML_CELL_MISSING;
		if (!v || json_is_null(v))
			continue;
		if (json_is_string(v)) {
			cells[i].kind = ML_CELL_STR;
			cells[i].str = json_string_value(v);
			cells[i].len = json_string_length(v);
		} else if (json_is_number(v)) {
			cells[i].kind = ML_CELL_NUM;
			cells[i].num = json_number_value(v);
		} else {
			return err_set(err, ERR_INVALID,
				       "%s:%zu: field '%s': expected a string, a number or null",
				       name, line, s->cols[i].name);
		}
	}
	return 0;
}

static int add_json_pred(struct buf *out, const struct ml_model *m, const struct ml_pred *p)
{
	const char *label = ml_model_label_name(m);
	int fail = buf_addch(out, '{') | buf_add_json_str(out, label, strlen(label)) |
		   buf_adds(out, ": ");
	if (ml_model_task(m) == ML_TASK_REGRESSION)
		return fail | buf_addf(out, "%.10g}\n", p->value);
	label = ml_model_schema(m)->classes[p->klass];
	return fail | buf_add_json_str(out, label, strlen(label)) |
	       buf_addf(out, ", \"probability\": %.6g}\n", p->value);
}

/* JSON lines: one line at a time (getline), output flushed every 64 KiB. */
static int predict_jsonl(const struct ml_model *m, FILE *in, const char *name, FILE *out,
			 struct err *err)
{
	const struct ml_schema *s = ml_model_schema(m);
	struct ml_cell *cells = mem_calloc(s->ncols + 1, sizeof(*cells));
	struct buf o = BUF_INIT;
	char *linebuf = NULL;
	size_t cap = 0, line = 0;
	ssize_t got;
	int ret = -1;

	if (!cells)
		return err_set(err, ERR_NOMEM, "out of memory");
	errno = 0;
	while ((got = getline(&linebuf, &cap, in)) >= 0) {
		size_t len = (size_t)got;
		const char *q;
		json_error_t jerr;
		json_t *obj;
		struct ml_pred pred;
		struct err e = ERR_INIT;
		line++;
		if (len && linebuf[len - 1] == '\n')
			len--;
		for (q = linebuf; q < linebuf + len && (*q == ' ' || *q == '\t' || *q == '\r'); q++)
			;
		if (q == linebuf + len)
			continue;
		obj = json_loadb(linebuf, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(obj)) {
			err_set(err, ERR_PARSE, "%s:%zu: %s", name, line,
				obj ? "expected a JSON object" : jerr.text);
			json_decref(obj);
			goto out;
		}
		if (json_cells(s, obj, cells, name, line, err) < 0 ||
		    ml_model_predict(m, cells, &pred, &e) < 0) {
			if (e.code)
				err_set(err, e.code, "%s:%zu: %s", name, line, e.msg);
			json_decref(obj);
			goto out;
		}
		json_decref(obj);
		if (add_json_pred(&o, m, &pred)) {
			err_set(err, ERR_NOMEM, "out of memory for the output");
			goto out;
		}
		if (o.len >= 65536 && flush_buf(&o, out, err) < 0)
			goto out;
	}
	if (ferror(in) || (errno && errno != EINTR && !feof(in))) {
		err_set(err, ERR_IO, "cannot read '%s': %s", name, strerror(errno));
		goto out;
	}
	if (flush_buf(&o, out, err) < 0)
		goto out;
	ret = 0;
out:
	free(linebuf); /* getline's buffer comes from malloc */
	buf_release(&o);
	mem_free(cells);
	return ret;
}

/*
 * Opens the input and finds its first non-space byte, without losing what
 * came before it: a seekable file is rewound; otherwise the input is read
 * into memory (only when it starts with spaces or blank lines). *first is
 * that byte, or EOF for an input of nothing but spaces.
 */
static FILE *open_input(const char *path, const char *name, struct buf *held, int *first,
			struct err *err)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t skipped = 0;
	int c;

	if (!fp) {
		err_set(err, ERR_IO, "cannot read '%s': %s", name, strerror(errno));
		return NULL;
	}
	while ((c = getc(fp)) == ' ' || c == '\t' || c == '\r' || c == '\n') {
		if (buf_addch(held, c) < 0)
			goto nomem;
		skipped++;
	}
	*first = c;
	if (c == EOF) {
		if (ferror(fp)) {
			err_set(err, ERR_IO, "cannot read '%s': %s", name, strerror(errno));
			goto fail;
		}
		return fp;
	}
	if (skipped == 0) {
		if (ungetc(c, fp) == EOF) {
			err_set(err, ERR_IO, "cannot read '%s'", name);
			goto fail;
		}
		return fp;
	}
	if (fseek(fp, 0, SEEK_SET) == 0) {
		buf_reset(held);
		return fp;
	}
	/* A pipe that starts with white space: keep it all in memory. */
	if (buf_addch(held, c) < 0)
		goto nomem;
	while ((c = getc(fp)) != EOF)
		if (buf_addch(held, c) < 0)
			goto nomem;
	if (ferror(fp)) {
		err_set(err, ERR_IO, "cannot read '%s': %s", name, strerror(errno));
		goto fail;
	}
	if (fp != stdin)
		(void)fclose(fp); /* read only: nothing to lose */
	fp = fmemopen(held->ptr, held->len, "rb");
	if (!fp)
		err_set(err, ERR_IO, "cannot read '%s': %s", name, strerror(errno));
	return fp;
nomem:
	err_set(err, ERR_NOMEM, "out of memory reading '%s'", name);
fail:
	if (fp != stdin)
		(void)fclose(fp);
	return NULL;
}

/*
 * Where the output goes until every row is predicted: the temporary file of
 * -o (renamed at the end), or for stdout an unlinked temporary file copied
 * to stdout at the end, so a failure leaves no partial output either way.
 */
static int copy_to_stdout(FILE *tmp, struct err *err)
{
	char block[65536];
	size_t n;
	if (fflush(tmp) != 0 || fseek(tmp, 0, SEEK_SET) != 0)
		return err_set(err, ERR_IO, "cannot read back the output: %s", strerror(errno));
	while ((n = fread(block, 1, sizeof(block), tmp)) > 0)
		if (fwrite(block, 1, n, stdout) != n)
			return err_set(err, ERR_IO, "cannot write to stdout");
	if (ferror(tmp))
		return err_set(err, ERR_IO, "cannot read back the output: %s", strerror(errno));
	return 0;
}

int cmd_predict(int argc, char **argv)
{
	struct err err = ERR_INIT;
	struct ml_model *m = NULL;
	struct buf held = BUF_INIT;
	struct file_out fo;
	FILE *in = NULL, *out = NULL;
	const char *outpath = NULL, *inpath = "-", *name;
	int c, first = EOF, ret = EXIT_FAILED;

	memset(&fo, 0, sizeof(fo));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", predict_options, NULL)) != -1) {
		if (c != 'o')
			return cli_usage_error("predict", "unknown option or missing value '%s'",
					       argv[optind - 1]);
		outpath = optarg;
	}
	if (optind >= argc)
		return cli_usage_error("predict", "no model given");
	if (argc - optind > 2)
		return cli_usage_error("predict", "unexpected argument '%s'", argv[optind + 2]);
	if (argc - optind == 2)
		inpath = argv[optind + 1];
	name = strcmp(inpath, "-") == 0 ? "stdin" : inpath;
	if (outpath && strcmp(outpath, "-") == 0)
		outpath = NULL; /* stdout, through the temporary file */
	m = ml_model_load(argv[optind], &err);
	if (!m)
		return cli_fail(&err);
	in = open_input(inpath, name, &held, &first, &err);
	if (!in)
		goto out;
	if (first == EOF) {
		err_set(&err, ERR_INVALID, "%s: no input rows", name);
		goto out;
	}
	if (outpath) {
		if (file_out_open(&fo, outpath, &err) < 0)
			goto out;
		out = fo.f;
	} else if (!(out = tmpfile())) {
		err_set(&err, ERR_IO, "cannot create a temporary file: %s", strerror(errno));
		goto out;
	}
	if ((first == '{' ? predict_jsonl(m, in, name, out, &err)
			  : predict_csv(m, in, name, out, &err)) < 0)
		goto out;
	if (outpath ? file_out_commit(&fo, &err) < 0 : copy_to_stdout(out, &err) < 0)
		goto out;
	ret = EXIT_OK;
out:
	if (ret != EXIT_OK)
		ret = cli_fail(&err);
	if (outpath)
		file_out_abort(&fo);
	else if (out)
		(void)fclose(out); /* the temporary file: already copied or discarded */
	if (in && in != stdin)
		(void)fclose(in); /* read only */
	ml_model_free(m);
	buf_release(&held);
	return ret;
}

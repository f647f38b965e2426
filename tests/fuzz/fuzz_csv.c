/*
 * fuzz_csv.c - libFuzzer target for the CSV reader and what runs on every
 * frame after it: any bytes must give a frame or one error, and a frame must
 * survive schema inference, the JSON round trip and validation against
 * itself, never a crash, leak, hang or non-finite statistic. The reader's
 * fast path is checked against its state machine on every input, and the
 * parallel reader (ml_csv_read_parts) against the streaming one.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "ml/csv.h"
#include "ml/frame.h"
#include "ml/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_schema(const struct ml_frame *f)
{
	struct ml_schema s, t;
	struct err err = ERR_INIT;
	json_t *j = NULL, *rep = NULL;
	if (ml_schema_infer(&s, f, NULL, ML_TASK_AUTO, &err) < 0) {
		if (err.msg[0] == '\0')
			__builtin_trap();
		return;
	}
	for (size_t c = 0; c < s.ncols; c++)
		if (!isfinite(s.cols[c].mean) || !isfinite(s.cols[c].std))
			__builtin_trap();
	j = ml_schema_to_json(&s);
	if (!j)
		__builtin_trap(); /* statistics must always be representable */
	if (ml_schema_from_json(&t, j, &err) < 0)
		__builtin_trap(); /* what we write, we read */
	/* The training data never violates its own schema's type checks. */
	if (ml_schema_validate(&t, f, &rep, &err) < 0)
		__builtin_trap();
	json_decref(rep);
	json_decref(j);
	ml_schema_release(&t);
	ml_schema_release(&s);
}

/*
 * The reader's fast path for plain rows must give exactly what its state
 * machine gives: the same rows, fields, line numbers, end and error.
 */
static void check_fast_path(const uint8_t *data, size_t size)
{
	struct ml_csv a, b;
	struct err ea = ERR_INIT, eb = ERR_INIT;
	int ra, rb;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (ml_csv_open_mem(&a, data, size, "f", &ea) < 0 ||
	    ml_csv_open_mem(&b, data, size, "f", &eb) < 0)
		goto out;
	b.slow_only = 1;
	do {
		ra = ml_csv_next(&a, &ea);
		rb = ml_csv_next(&b, &eb);
		if (ra != rb || strcmp(ea.msg, eb.msg) != 0)
			__builtin_trap();
		if (ra <= 0)
			break;
		if (a.nfields != b.nfields || a.row_line != b.row_line || a.line != b.line ||
		    a.pos != b.pos)
			__builtin_trap();
		for (size_t i = 0; i < a.nfields; i++)
			if (a.len[i] != b.len[i] || a.quoted[i] != b.quoted[i] ||
			    memcmp(a.field[i], b.field[i], a.len[i] + 1) != 0)
				__builtin_trap();
	} while (ra > 0);
out:
	ml_csv_close(&a);
	ml_csv_close(&b);
}

/* Rows as text: "line:len=field|...\n" each, then the end line or the error. */
static void dump_row(struct buf *b, const struct ml_csv *r)
{
	int fail = buf_addf(b, "%zu:", r->row_line);
	for (size_t i = 0; i < r->nfields; i++)
		fail |= buf_addf(b, "%zu=", r->len[i]) | buf_add(b, r->field[i], r->len[i]) |
			buf_addch(b, i + 1 < r->nfields ? '|' : '\n');
	if (fail)
		__builtin_trap();
}

static void dump_end(struct buf *b, int rc, const struct ml_csv *r, const struct err *err)
{
	if ((rc < 0 ? buf_addf(b, "error %d %s\n", err->code, err->msg)
		    : buf_addf(b, "end %zu\n", r->line)) < 0)
		__builtin_trap();
}

struct parts_dump {
	struct buf part[ML_CSV_PARTS], out;
	int ran[ML_CSV_PARTS]; /* in the block being read */
	int failed[ML_CSV_PARTS];
};

static int dump_part(void *ctx, int i, struct ml_csv *rows, struct err *err)
{
	struct parts_dump *d = ctx;
	int rc;
	buf_reset(&d->part[i]);
	d->ran[i] = 1;
	d->failed[i] = 1;
	while ((rc = ml_csv_next(rows, err)) > 0)
		dump_row(&d->part[i], rows);
	d->failed[i] = rc < 0;
	return rc;
}

static int dump_commit(void *ctx, size_t n, struct err *err)
{
	struct parts_dump *d = ctx;
	for (size_t i = 0; i < n; i++)
		if (buf_add(&d->out, d->part[i].ptr, d->part[i].len) < 0)
			__builtin_trap();
	memset(d->ran, 0, sizeof(d->ran));
	return 0;
}

/*
 * Reads r (a header row with ml_csv_next when header, then the rest) into
 * out: with ml_csv_next alone, or with ml_csv_read_parts in blocks of block
 * bytes, adding after an error the rows its parts read before it.
 */
static void dump_reader(struct ml_csv *r, int header, size_t block, struct buf *out)
{
	struct parts_dump d;
	const struct ml_csv_parts ops = {dump_part, dump_commit, &d};
	struct err err = ERR_INIT;
	int rc = 1;
	memset(&d, 0, sizeof(d));
	for (int i = 0; i < ML_CSV_PARTS; i++)
		buf_init(&d.part[i], 0);
	buf_init(&d.out, 0);
	if (header && (rc = ml_csv_next(r, &err)) > 0)
		dump_row(out, r);
	if (rc > 0 && block == 0)
		while ((rc = ml_csv_next(r, &err)) > 0)
			dump_row(out, r);
	else if (rc > 0)
		rc = ml_csv_read_parts(r, block, &ops, &err);
	if (buf_add(out, d.out.ptr, d.out.len) < 0)
		__builtin_trap();
	for (int i = 0; rc < 0 && i < ML_CSV_PARTS && d.ran[i]; i++) {
		if (buf_add(out, d.part[i].ptr, d.part[i].len) < 0)
			__builtin_trap();
		if (d.failed[i])
			break;
	}
	dump_end(out, rc, r, &err);
	for (int i = 0; i < ML_CSV_PARTS; i++)
		buf_release(&d.part[i]);
	buf_release(&d.out);
}

/* A FILE over a memfd (a regular file) holding data[0..size), at its start. */
static FILE *memfd_file(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_csv", 0);
	FILE *fp;
	if (fd < 0)
		return NULL;
	if (write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0 ||
	    !(fp = fdopen(fd, "rb"))) {
		close(fd);
		return NULL;
	}
	return fp;
}

/* Reads fp (closed here) in blocks of block bytes; traps unless it gives want. */
static void check_fp(FILE *fp, int header, size_t block, const struct buf *want)
{
	struct buf got = BUF_INIT;
	struct ml_csv r;
	struct err err = ERR_INIT;
	if (!fp)
		return;
	if (ml_csv_open_fp(&r, fp, "f", &err) == 0) {
		dump_reader(&r, header, block, &got);
		if (strcmp(want->ptr, got.ptr) != 0)
			__builtin_trap();
	}
	ml_csv_close(&r);
	fclose(fp);
	buf_release(&got);
}

/*
 * The parallel reader gives the streaming reader's rows, fields, line
 * numbers, end and first error: over memory in blocks of a size the input
 * chooses, through a FILE over memory in blocks smaller than the read
 * buffer, and from a regular file (a memfd), which it maps.
 */
static void check_parts(const uint8_t *data, size_t size)
{
	struct buf want = BUF_INIT, got = BUF_INIT;
	struct ml_csv r;
	struct err err = ERR_INIT;
	int header = (int)(size & 1);
	size_t block = size ? 1 + data[size - 1] % 48 : 1;

	if (ml_csv_open_mem(&r, data, size, "f", &err) < 0)
		goto out;
	dump_reader(&r, header, 0, &want);
	ml_csv_close(&r);
	if (ml_csv_open_mem(&r, data, size, "f", &err) < 0)
		goto out;
	dump_reader(&r, header, block, &got);
	ml_csv_close(&r);
	if (strcmp(want.ptr, got.ptr) != 0)
		__builtin_trap();
	check_fp(size ? fmemopen((void *)data, size, "rb") : NULL, header, block * 3, &want);
	check_fp(memfd_file(data, size), header, block * 2, &want);
out:
	buf_release(&want);
	buf_release(&got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ml_frame f;
	struct err err = ERR_INIT;
	check_fast_path(data, size);
	check_parts(data, size);
	if (ml_frame_parse_csv(&f, data, size, "fuzz.csv", &err) == 0) {
		/* Touch every cell so ASan checks the frame's pointers. */
		for (size_t c = 0; c < f.ncols; c++)
			for (size_t r = 0; r < f.nrows; r++)
				if (f.cells[c][r] && strlen(f.cells[c][r]) == 0)
					__builtin_trap(); /* empty fields must be NULL */
		check_schema(&f);
		ml_frame_release(&f);
	} else if (err.msg[0] == '\0') {
		__builtin_trap(); /* a failure always says why */
	}
	return 0;
}

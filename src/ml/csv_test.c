/*
 * csv_test.c - unit tests for the CSV tokenizer (ml/csv.h) and the frame
 * built on it (ml/frame.h): RFC 4180 quoting, line ends, BOM, and every
 * refused input with its file:line message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "ml/csv.h"
#include "ml/frame.h"

/* Parses s as a frame; returns 0 or -1 and leaves the message in err. */
static int parse(struct ml_frame *f, const char *s, struct err *err)
{
	return ml_frame_parse_csv(f, s, strlen(s), "t.csv", err);
}

static void expect_error(const char *s, const char *msg)
{
	struct ml_frame f;
	struct err err = ERR_INIT;
	assert_int_equal(parse(&f, s, &err), -1);
	if (!strstr(err.msg, msg))
		fail_msg("message '%s' lacks '%s'", err.msg, msg);
	assert_int_equal(f.nrows, 0);
	assert_null(f.cells);
}

static void test_csv_reads_quoted_fields_with_commas_quotes_and_newlines(void **state)
{
	struct ml_frame f;
	struct err err = ERR_INIT;
	const char *s = "a,b,c\n"
			"\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n"
			"plain,,\"\"\n"
			"3,4,5\n";
	assert_int_equal(parse(&f, s, &err), 0);
	assert_int_equal(f.ncols, 3);
	assert_int_equal(f.nrows, 3);
	assert_string_equal(f.names[1], "b");
	assert_string_equal(f.cells[0][0], "x, y");
	assert_string_equal(f.cells[1][0], "say \"hi\"");
	assert_string_equal(f.cells[2][0], "two\nlines");
	assert_string_equal(f.cells[0][1], "plain");
	assert_null(f.cells[1][1]); /* empty unquoted: missing */
	assert_null(f.cells[2][1]); /* "" quoted: missing too */
	assert_int_equal(f.line[0], 2);
	assert_int_equal(f.line[1], 4); /* the quoted newline moved it down */
	assert_int_equal(f.line[2], 5);
	assert_int_equal(ml_frame_col(&f, "c"), 2);
	assert_int_equal(ml_frame_col(&f, "z"), -1);
	ml_frame_release(&f);
}

static void test_csv_accepts_crlf_bom_and_missing_final_newline(void **state)
{
	struct ml_frame f;
	struct err err = ERR_INIT;
	const char *s = "\xef\xbb\xbfname,v\r\n\"WD \",1\r\n\r\nx\xc3\xa9,\"q\r\nr\"";
	assert_int_equal(parse(&f, s, &err), 0);
	assert_string_equal(f.names[0], "name"); /* BOM gone */
	assert_int_equal(f.nrows, 2);
	assert_string_equal(f.cells[0][0], "WD "); /* trailing space kept */
	assert_string_equal(f.cells[0][1], "x\xc3\xa9");
	assert_string_equal(f.cells[1][1], "q\r\nr"); /* CRLF inside quotes is data */
	assert_int_equal(f.line[1], 4);		      /* the blank line 3 was skipped */
	ml_frame_release(&f);
}

static void test_csv_final_comma_gives_an_empty_last_field(void **state)
{
	struct ml_frame f;
	struct err err = ERR_INIT;
	assert_int_equal(parse(&f, "a,b\n1,", &err), 0);
	assert_int_equal(f.nrows, 1);
	assert_string_equal(f.cells[0][0], "1");
	assert_null(f.cells[1][0]);
	ml_frame_release(&f);
}

static void test_csv_rejects_malformed_quoting(void **state)
{
	expect_error("a,b\n1,\"open\n2,3\n", "t.csv:2: unterminated quoted field");
	expect_error("a,b\n1,x\"y\n", "t.csv:2: quote inside unquoted field 2");
	expect_error("a,b\n1,\"x\"y\n", "t.csv:2: unexpected character after closing quote");
	expect_error("a,b\n1,2\r3\n", "t.csv:2: carriage return not followed by a line feed");
}

static void test_csv_rejects_wrong_field_count(void **state)
{
	expect_error("a,b\n1,2\n1,2,3\n", "t.csv:3: expected 2 fields, found 3");
	expect_error("a,b\n1,2\n1\n", "t.csv:3: expected 2 fields, found 1");
}

static void test_csv_rejects_empty_file_and_header_only(void **state)
{
	expect_error("", "t.csv:1: empty file");
	expect_error("\n\n", "t.csv:1: empty file");
	expect_error("\xef\xbb\xbf", "t.csv:1: empty file");
	expect_error("a,b\n", "t.csv:2: header row without data rows");
}

static void test_csv_rejects_bad_header_names(void **state)
{
	expect_error("a,b,a\n1,2,3\n", "t.csv:1: duplicate column name 'a'");
	expect_error("a,,c\n1,2,3\n", "t.csv:1: empty column name (column 2)");
}

static void test_csv_rejects_nul_and_invalid_utf8(void **state)
{
	struct ml_frame f;
	struct err err = ERR_INIT;
	const char nul[] = "a,b\n1,2\n3,\0\n";
	assert_int_equal(ml_frame_parse_csv(&f, nul, sizeof(nul) - 1, "t.csv", &err), -1);
	assert_string_equal(err.msg, "t.csv:3: NUL byte in the data");
	expect_error("a,b\n1,\xff\n", "t.csv:2: invalid UTF-8 in field 2");
	expect_error("a,b\n1,\xc0\xaf\n", "t.csv:2: invalid UTF-8");	 /* overlong '/' */
	expect_error("a,b\n1,\xed\xa0\x80\n", "t.csv:2: invalid UTF-8"); /* surrogate */
	expect_error("a,b\n1,x\xe2\x82\n", "t.csv:2: invalid UTF-8");	 /* cut short */
}

static void test_utf8_prefix(void **state)
{
	assert_int_equal(ml_utf8_valid_prefix("ab\xe2\x82\xac", 5), 5);
	assert_int_equal(ml_utf8_valid_prefix("ab\xf4\x90\x80\x80", 6), 2); /* > U+10FFFF */
	assert_int_equal(ml_utf8_valid_prefix("\xf0\x9f\x98\x80", 4), 4);
}

static void test_csv_caps_field_length(void **state)
{
	struct buf b = BUF_INIT;
	struct ml_frame f;
	struct err err = ERR_INIT;
	assert_int_equal(buf_adds(&b, "a\n\""), 0);
	for (size_t i = 0; i < ML_CSV_MAX_FIELD + 10; i++)
		assert_int_equal(buf_addch(&b, 'x'), 0);
	assert_int_equal(buf_adds(&b, "\"\n"), 0);
	assert_int_equal(ml_frame_parse_csv(&f, b.ptr, b.len, "big.csv", &err), -1);
	assert_non_null(strstr(err.msg, "big.csv:2: field 1 is longer than 1048576 bytes"));
	/* exactly at the cap is fine */
	buf_reset(&b);
	assert_int_equal(buf_adds(&b, "a\n"), 0);
	for (size_t i = 0; i < ML_CSV_MAX_FIELD; i++)
		assert_int_equal(buf_addch(&b, 'y'), 0);
	err_clear(&err);
	assert_int_equal(ml_frame_parse_csv(&f, b.ptr, b.len, "big.csv", &err), 0);
	assert_int_equal(strlen(f.cells[0][0]), ML_CSV_MAX_FIELD);
	ml_frame_release(&f);
	buf_release(&b);
}

static void test_csv_caps_fields_per_row(void **state)
{
	struct buf b = BUF_INIT;
	struct ml_csv r;
	struct err err = ERR_INIT;
	for (int i = 0; i < ML_CSV_MAX_FIELDS; i++)
		assert_int_equal(buf_adds(&b, i ? ",x" : "x"), 0);
	assert_int_equal(buf_adds(&b, "\n"), 0);
	assert_int_equal(ml_csv_open_mem(&r, b.ptr, b.len, "wide.csv", &err), 0);
	assert_int_equal(ml_csv_next(&r, &err), 1); /* exactly at the cap is fine */
	assert_int_equal(r.nfields, ML_CSV_MAX_FIELDS);
	ml_csv_close(&r);
	buf_setlen(&b, b.len - 1);
	assert_int_equal(buf_adds(&b, ",x\n"), 0);
	assert_int_equal(ml_csv_open_mem(&r, b.ptr, b.len, "wide.csv", &err), 0);
	assert_int_equal(ml_csv_next(&r, &err), -1);
	assert_string_equal(err.msg, "wide.csv:1: more than 65536 fields in a row");
	ml_csv_close(&r);
	buf_release(&b);
}

/* Fields that straddle the 64 KiB read buffer of a real file come out whole. */
static void test_csv_streams_a_file_across_buffer_boundaries(void **state)
{
	char path[] = "/tmp/kiln-csv-test.XXXXXX";
	int fd = mkstemp(path);
	FILE *fp;
	struct ml_frame f;
	struct err err = ERR_INIT;
	size_t rows = 20000;
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	fprintf(fp, "id,text\r\n");
	for (size_t i = 0; i < rows; i++)
		fprintf(fp, "%zu,\"row %zu, \"\"quoted\"\"\"\r\n", i, i);
	assert_int_equal(fclose(fp), 0);
	if (ml_frame_read_csv(&f, path, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(f.nrows, rows);
	for (size_t i = 0; i < rows; i++) {
		char want[64];
		snprintf(want, sizeof(want), "row %zu, \"quoted\"", i);
		assert_string_equal(f.cells[1][i], want);
		assert_int_equal(f.line[i], i + 2);
	}
	ml_frame_release(&f);
	unlink(path);
}

/*
 * Plain rows (the reader's fast path) read through a file, with the first
 * row padded so that each of eight shifts puts different bytes - a CR
 * before its LF, a quote, a comma, the middle of a quoted field - at the
 * ends of the read buffer.
 */
static void test_csv_fast_rows_across_buffer_boundaries(void **state)
{
	for (int shift = 0; shift < 8; shift++) {
		char path[] = "/tmp/kiln-csv-test.XXXXXX";
		int fd = mkstemp(path);
		FILE *fp;
		struct ml_frame f;
		struct err err = ERR_INIT;
		size_t rows = 3 * ML_CSV_BUFSIZE / 20;
		assert_true(fd >= 0);
		fp = fdopen(fd, "w");
		assert_non_null(fp);
		fprintf(fp, "id,text,z\n%*s,pad,\"\"\r\n", shift + 1, "p");
		for (size_t i = 0; i < rows; i++)
			fprintf(fp, i % 3 ? "%zu,\"q %zu\xc3\xa9\",x\r\n" : "%zu,u %zu,\n", i, i);
		assert_int_equal(fclose(fp), 0);
		if (ml_frame_read_csv(&f, path, &err) < 0)
			fail_msg("%s", err.msg);
		assert_int_equal(f.nrows, rows + 1);
		for (size_t i = 0; i < rows; i++) {
			char want[64];
			snprintf(want, sizeof(want), i % 3 ? "q %zu\xc3\xa9" : "u %zu", i);
			assert_string_equal(f.cells[1][i + 1], want);
			if (i % 3)
				assert_string_equal(f.cells[2][i + 1], "x");
			else
				assert_null(f.cells[2][i + 1]);
			assert_int_equal(f.line[i + 1], i + 3);
		}
		ml_frame_release(&f);
		unlink(path);
	}
}

/* Rows the fast path hands back to the state machine give the same results. */
static void test_csv_single_line_rows_the_fast_path_declines(void **state)
{
	struct ml_frame f;
	struct err err = ERR_INIT;
	const char *s = "a,b,c\n"
			"\"x\"\"y\",2,3\n"  /* "" inside quotes */
			"\"r\rs\",2,\"\"\n" /* a CR inside quotes is data */
			"1,2,\r\n"	    /* empty last field before CRLF */
			"\n"		    /* blank line */
			"\"\xc3\xa9\",,9";  /* no final newline */
	assert_int_equal(parse(&f, s, &err), 0);
	assert_int_equal(f.nrows, 4);
	assert_string_equal(f.cells[0][0], "x\"y");
	assert_string_equal(f.cells[0][1], "r\rs");
	assert_null(f.cells[2][1]);
	assert_null(f.cells[2][2]);
	assert_string_equal(f.cells[0][3], "\xc3\xa9");
	assert_int_equal(f.line[3], 6);
	ml_frame_release(&f);
	expect_error("a,b\n\"\xff\",1\n", "t.csv:2: invalid UTF-8 in field 1");
	expect_error("a,b\n1,\"x\xc3\"\n", "t.csv:2: invalid UTF-8 in field 2");
	expect_error("a,b\n\"x\" ,1\n", "t.csv:2: unexpected character after closing quote");
}

/* Every row of s as "line:quoted/len=field|...", read with or without the fast paths. */
static void dump_rows(const char *s, size_t n, int slow_only, struct buf *out)
{
	struct ml_csv r;
	struct err err = ERR_INIT;
	int rc;
	assert_int_equal(ml_csv_open_mem(&r, s, n, "t", &err), 0);
	r.slow_only = slow_only;
	while ((rc = ml_csv_next(&r, &err)) > 0) {
		assert_int_equal(buf_addf(out, "%zu:", r.row_line), 0);
		for (size_t i = 0; i < r.nfields; i++) {
			assert_int_equal(buf_addf(out, "%d/%zu=", r.quoted[i], r.len[i]), 0);
			assert_int_equal(buf_add(out, r.field[i], r.len[i]), 0);
			assert_int_equal(buf_addch(out, '|'), 0);
			if (i + 1 <
			    r.nfields) /* one block: each field right after the last's NUL */
				assert_ptr_equal(r.field[i + 1], r.field[i] + r.len[i] + 1);
		}
		assert_int_equal(buf_addch(out, '\n'), 0);
	}
	if (rc < 0)
		assert_int_equal(buf_addf(out, "error %s\n", err.msg), 0);
	ml_csv_close(&r);
}

/*
 * The 64-byte block reader of plain lines against the state machine: lines
 * of fields quoted or not, with commas inside quotes, "" and quotes out of
 * place, CRLF, UTF-8 good and bad, of every length around the block edges,
 * ending at the very end of the input (no byte readable past it).
 */
static void test_csv_block_reader_agrees_with_the_state_machine(void **state)
{
	static const char *const pieces[] = {"abc",
					     "\"q\"",
					     "\"a,b\"",
					     "",
					     "12.5",
					     "\"\"",
					     "x\"y",
					     "\"q\"z",
					     "\"a\"\"b\"",
					     "\xc3\xa9",
					     "\xff",
					     "\"\xc3\xa9,\"",
					     "\"",
					     "0123456789012345678901234567890",
					     "\"0123456789,0123456789\""};
	const size_t npieces = sizeof(pieces) / sizeof(pieces[0]);
	unsigned seed = 12345;
	for (int t = 0; t < 4000; t++) {
		struct buf s = BUF_INIT, fast = BUF_INIT, slow = BUF_INIT;
		int rows = 1 + t % 3;
		for (int row = 0; row < rows; row++) {
			int fields = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 12;
			for (int f = 0; f < fields; f++) {
				seed = seed * 1103515245u + 12345u;
				/* mostly well-formed pieces, now and then a bad one */
				size_t k = (seed >> 16) % (t % 5 == 0 ? npieces : 6);
				if (f && buf_addch(&s, ',') < 0)
					fail();
				assert_int_equal(buf_adds(&s, pieces[k]), 0);
			}
			assert_int_equal(buf_adds(&s, t % 7 == 0 ? "\r\n" : "\n"), 0);
		}
		if (t % 4 == 1 && s.len > 1) /* no final line end */
			s.len -= s.ptr[s.len - 2] == '\r' ? 2 : 1;
		/* an exact-size copy: ASan sees any read past its end */
		char *exact = mem_malloc(s.len ? s.len : 1);
		assert_non_null(exact);
		memcpy(exact, s.ptr, s.len);
		dump_rows(exact, s.len, 0, &fast);
		dump_rows(exact, s.len, 1, &slow);
		if (strcmp(fast.ptr ? fast.ptr : "", slow.ptr ? slow.ptr : "") != 0)
			fail_msg("input:\n%.*s\nfast:\n%s\nslow:\n%s", (int)s.len, s.ptr, fast.ptr,
				 slow.ptr);
		mem_free(exact);
		buf_release(&s);
		buf_release(&fast);
		buf_release(&slow);
	}
}

/* csv.h: a row's fields are one block, each followed by its NUL. */
static void test_csv_row_fields_are_contiguous(void **state)
{
	struct ml_csv r;
	struct err err = ERR_INIT;
	const char s[] = "ab,\"c,d\",,e\n";
	assert_int_equal(ml_csv_open_mem(&r, s, sizeof(s) - 1, "m", &err), 0);
	assert_int_equal(ml_csv_next(&r, &err), 1);
	assert_int_equal(r.nfields, 4);
	assert_memory_equal(r.field[0], "ab\0c,d\0\0e\0", 10);
	assert_ptr_equal(r.field[3], r.field[0] + 8);
	ml_csv_close(&r);
}

static void test_csv_open_missing_file_names_it(void **state)
{
	struct ml_frame f;
	struct err err = ERR_INIT;
	assert_int_equal(ml_frame_read_csv(&f, "/nonexistent/x.csv", &err), -1);
	assert_int_equal(err.code, ERR_IO);
	assert_non_null(strstr(err.msg, "cannot open '/nonexistent/x.csv'"));
}

static void test_csv_reader_row_api(void **state)
{
	struct ml_csv r;
	struct err err = ERR_INIT;
	const char s[] = "\"q\",plain\n";
	assert_int_equal(ml_csv_open_mem(&r, s, sizeof(s) - 1, "m", &err), 0);
	assert_int_equal(ml_csv_next(&r, &err), 1);
	assert_int_equal(r.nfields, 2);
	assert_int_equal(r.quoted[0], 1);
	assert_int_equal(r.quoted[1], 0);
	assert_int_equal(r.len[1], 5);
	assert_string_equal(ml_csv_name(&r), "m");
	assert_int_equal(ml_csv_next(&r, &err), 0);
	ml_csv_close(&r);
}

/* Every allocation failure is a clean ERR_NOMEM, never a crash or a leak. */
static void test_csv_survives_allocation_failure(void **state)
{
	const char *s = "a,b\n\"x,1\",2\n3,4\n";
	int ok = 0;
	for (long n = 0; n < 200 && !ok; n++) {
		struct ml_frame f;
		struct err err = ERR_INIT;
		mem_set_fail_after(n);
		if (parse(&f, s, &err) == 0) {
			ok = 1;
			assert_int_equal(f.nrows, 2);
			ml_frame_release(&f);
		} else {
			assert_int_equal(err.code, ERR_NOMEM);
		}
		mem_set_fail_after(-1);
	}
	assert_true(ok);
}

/*
 * ml_csv_read_parts against ml_csv_next: the rows of both are written as
 * "line:len=field|..." lines, then "end LINE" or "error MSG". Both read the
 * first row (a header) with ml_csv_next, as kiln predict does.
 */
static void dump_row(struct buf *b, const struct ml_csv *r)
{
	assert_int_equal(buf_addf(b, "%zu:", r->row_line), 0);
	for (size_t i = 0; i < r->nfields; i++) {
		assert_int_equal(buf_addf(b, "%zu=", r->len[i]), 0);
		assert_int_equal(buf_add(b, r->field[i], r->len[i]), 0);
		assert_int_equal(buf_addch(b, i + 1 < r->nfields ? '|' : '\n'), 0);
	}
}

static void dump_end(struct buf *b, int rc, const struct ml_csv *r, const struct err *err)
{
	if (rc < 0)
		assert_int_equal(buf_addf(b, "error %s\n", err->msg), 0);
	else
		assert_int_equal(buf_addf(b, "end %zu\n", r->line), 0);
}

static FILE *open_bytes(const char *s, size_t n)
{
	FILE *fp = fmemopen((void *)s, n, "rb");
	assert_non_null(fp);
	return fp;
}

/*
 * The same bytes in a temporary regular file, which ml_csv_read_parts maps
 * and reads in place (a FILE over memory is read through the buffer).
 */
static FILE *open_bytes_file(const char *s, size_t n)
{
	FILE *fp = tmpfile();
	assert_non_null(fp);
	assert_int_equal(fwrite(s, 1, n, fp), n);
	assert_int_equal(fflush(fp), 0);
	rewind(fp);
	return fp;
}

static void dump_stream(const char *s, size_t n, struct buf *out)
{
	FILE *fp = open_bytes(s, n);
	struct ml_csv r;
	struct err err = ERR_INIT;
	int rc;
	assert_int_equal(ml_csv_open_fp(&r, fp, "t", &err), 0);
	while ((rc = ml_csv_next(&r, &err)) > 0)
		dump_row(out, &r);
	dump_end(out, rc, &r, &err);
	ml_csv_close(&r);
	fclose(fp);
}

struct parts_dump {
	struct buf part[ML_CSV_PARTS], out;
	int calls[ML_CSV_PARTS]; /* in all */
	int ran[ML_CSV_PARTS];	 /* in the block being read */
	int failed[ML_CSV_PARTS];
	int commits;
	const char *bad; /* a field value the callback refuses, or NULL */
};

static void parts_dump_init(struct parts_dump *d, const char *bad)
{
	memset(d, 0, sizeof(*d));
	for (int i = 0; i < ML_CSV_PARTS; i++)
		buf_init(&d->part[i], 0);
	buf_init(&d->out, 0);
	d->bad = bad;
}

static int dump_part(void *ctx, int i, struct ml_csv *rows, struct err *err)
{
	struct parts_dump *d = ctx;
	int rc;
	buf_reset(&d->part[i]);
	d->calls[i]++;
	d->ran[i] = 1;
	d->failed[i] = 1;
	while ((rc = ml_csv_next(rows, err)) > 0) {
		if (d->bad && strcmp(rows->field[0], d->bad) == 0)
			return err_set(err, ERR_INVALID, "t:%zu: refused", rows->row_line);
		dump_row(&d->part[i], rows);
	}
	d->failed[i] = rc < 0;
	return rc;
}

static int dump_commit(void *ctx, size_t n, struct err *err)
{
	struct parts_dump *d = ctx;
	d->commits++;
	for (size_t i = 0; i < n; i++)
		if (buf_add(&d->out, d->part[i].ptr, d->part[i].len) < 0)
			return err_set(err, ERR_NOMEM, "out of memory");
	memset(d->ran, 0, sizeof(d->ran));
	return 0;
}

/*
 * Reads s as kiln predict does, from a temporary file when in_file (else
 * through a FILE over memory); returns the read buffer's final size. After
 * an error, the rows the parts read before it follow the committed ones,
 * so that the text is that of the streaming reader.
 */
static size_t dump_parts_from(const char *s, size_t n, size_t block, struct parts_dump *d,
			      int in_file)
{
	const struct ml_csv_parts ops = {dump_part, dump_commit, d};
	FILE *fp = in_file ? open_bytes_file(s, n) : open_bytes(s, n);
	struct ml_csv r;
	struct err err = ERR_INIT;
	size_t size;
	int rc;
	assert_int_equal(ml_csv_open_fp(&r, fp, "t", &err), 0);
	rc = ml_csv_next(&r, &err);
	if (rc > 0) {
		dump_row(&d->out, &r);
		rc = ml_csv_read_parts(&r, block, &ops, &err);
	}
	for (int i = 0; rc < 0 && i < ML_CSV_PARTS && d->ran[i]; i++) {
		assert_int_equal(buf_add(&d->out, d->part[i].ptr, d->part[i].len), 0);
		if (d->failed[i])
			break;
	}
	dump_end(&d->out, rc, &r, &err);
	size = r.bufsize;
	ml_csv_close(&r);
	fclose(fp);
	return size;
}

static size_t dump_parts(const char *s, size_t n, size_t block, struct parts_dump *d)
{
	return dump_parts_from(s, n, block, d, 0);
}

static void parts_dump_release(struct parts_dump *d)
{
	for (int i = 0; i < ML_CSV_PARTS; i++)
		buf_release(&d->part[i]);
	buf_release(&d->out);
}

/* Both readings of s give the same text; returns the parts' counters. */
static struct parts_dump expect_parts_like_stream(const char *s, size_t n, size_t block)
{
	struct parts_dump d, counts;
	struct buf want = BUF_INIT;
	dump_stream(s, n, &want);
	for (int in_file = 1; in_file >= 0; in_file--) {
		parts_dump_init(&d, NULL);
		dump_parts_from(s, n, block, &d, in_file);
		if (strcmp(want.ptr, d.out.ptr) != 0)
			fail_msg("block %zu, %s:\nstreaming:\n%s\nparts:\n%s", block,
				 in_file ? "file" : "memory", want.ptr, d.out.ptr);
		counts = d;
		parts_dump_release(&d);
	}
	buf_release(&want);
	return counts;
}

static const char mixed_csv[] = "\xef\xbb\xbftext,n\r\n"
				"plain,1\r\n"
				"\"two\nlines\",2\n"
				"\n"
				"\"say \"\"hi\"\"\",3\r\n"
				"\"crlf\r\ninside\",4\n"
				"\xc3\xa9t\xc3\xa9,5\n"
				"\"\",\n"
				"\"a,b\nc\n\nd\",7\r\n"
				"\r\n"
				"last,8";

/* Every block size puts a block end, and a cut, at every byte of the input. */
static void test_csv_parts_match_the_streaming_reader_at_every_block_size(void **state)
{
	size_t n = sizeof(mixed_csv) - 1;
	for (size_t block = 1; block <= n + 2; block++)
		(void)expect_parts_like_stream(mixed_csv, n, block);
		/* errors too: the same first error, line and all */
#define BAD(s)                                                                                     \
	{                                                                                          \
		s, sizeof(s) - 1                                                                   \
	}
	static const struct {
		const char *s;
		size_t n;
	} bad[] = {
		BAD("a,b\n1,2\n\"open,3\n4,5\n"), BAD("a,b\n1,2\n3,x\"y\n4,5\n"),
		BAD("a,b\n1,\"2\"x\n"),		  BAD("a,b\n1,2\n3,\r4\n"),
		BAD("a,b\n1,2\n\xff,3\n"),	  BAD("a,b\n1,2\n3,4\n5\0,6\n"),
	};
#undef BAD
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		for (size_t block = 1; block <= bad[k].n + 2; block++)
			(void)expect_parts_like_stream(bad[k].s, bad[k].n, block);
}

/*
 * The middle of the block falls inside a quoted field of many lines: the
 * cut goes after it, where the quotes before a line feed are even, and
 * each part is read once.
 */
static void test_csv_parts_cut_outside_quotes(void **state)
{
	struct buf s = BUF_INIT;
	struct parts_dump d;
	assert_int_equal(buf_adds(&s, "text,n\nfirst,1\n\""), 0);
	for (int i = 0; i < 200; i++)
		assert_int_equal(buf_adds(&s, "line\n"), 0);
	assert_int_equal(buf_adds(&s, "\",2\nafter,3\nlast,4\n"), 0);
	d = expect_parts_like_stream(s.ptr, s.len, 1UL << 20);
	assert_int_equal(d.commits, 1);
	for (int i = 0; i < ML_CSV_PARTS; i++)
		assert_true(d.calls[i] <= 1); /* no part read twice */
	assert_true(d.calls[1] == 1);
	buf_release(&s);
}

/* CRLF line ends with a block end between CR and LF, at every offset. */
static void test_csv_parts_crlf_across_a_block_end(void **state)
{
	struct buf s = BUF_INIT;
	assert_int_equal(buf_adds(&s, "id,text\r\n"), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(buf_addf(&s, "%d,\"t %d\"\r\n", i, i), 0);
	for (size_t block = 2; block <= 40; block++)
		(void)expect_parts_like_stream(s.ptr, s.len, block);
	buf_release(&s);
}

/* A row longer than the block is read alone: one commit with only that row. */
static void test_csv_parts_read_a_row_longer_than_the_block(void **state)
{
	struct buf s = BUF_INIT;
	struct parts_dump d;
	assert_int_equal(buf_adds(&s, "a,b\n1,2\n\""), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_adds(&s, "0123456789"), 0);
	assert_int_equal(buf_adds(&s, "\",3\n4,5\n"), 0);
	d = expect_parts_like_stream(s.ptr, s.len, 64);
	assert_true(d.commits >= 3); /* rows before, the long row, rows after */
	buf_release(&s);
}

/*
 * A 10 MB field: the same error as the streaming reader gives, found with
 * a read buffer that stayed the size of one block. Rows of several MB
 * whose fields are within the limit are read whole.
 */
static void test_csv_parts_10mb_field(void **state)
{
	size_t big = 10UL << 20, block = 1UL << 20;
	char *s = mem_malloc(big + 64);
	struct parts_dump d;
	size_t n;
	assert_non_null(s);
	parts_dump_init(&d, NULL);
	n = (size_t)snprintf(s, 64, "a,b\n1,2\n3,\"");
	memset(s + n, 'x', big);
	memcpy(s + n + big, "\"\n4,5\n", 6);
	n += big + 6;
	(void)expect_parts_like_stream(s, n, block);
	assert_int_equal(dump_parts(s, n, block, &d), block);
	assert_non_null(strstr(d.out.ptr, "error t:3: field 2 is longer than 1048576 bytes"));
	parts_dump_release(&d);
	/* three fields of 1 MB less a byte, with quoted line feeds: 3 MB in one row */
	n = (size_t)snprintf(s, 64, "a,b,c\n");
	for (int k = 0; k < 3; k++) {
		s[n++] = '"';
		memset(s + n, k == 1 ? '\n' : 'y', ML_CSV_MAX_FIELD - 1);
		n += ML_CSV_MAX_FIELD - 1;
		memcpy(s + n, k < 2 ? "\"," : "\"\n", 2);
		n += 2;
	}
	memcpy(s + n, "1,2,3\n", 6);
	(void)expect_parts_like_stream(s, n + 6, block);
	mem_free(s);
}

/*
 * Errors in both parts: the one earlier in the input is reported, and no
 * block after... nor the failed block is committed. A commit's error stops
 * the reading too.
 */
static void test_csv_parts_first_error_in_input_order(void **state)
{
	struct buf s = BUF_INIT;
	struct parts_dump d;
	parts_dump_init(&d, "BAD");
	assert_int_equal(buf_adds(&s, "a,b\n"), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_adds(&s, i == 10	? "BAD,1\n"
					      : i == 90 ? "x\"y,1\n"
							: "ok,1\n"),
				 0);
	dump_parts(s.ptr, s.len, 1UL << 20, &d);
	assert_non_null(strstr(d.out.ptr, "error t:12: refused"));
	assert_int_equal(d.commits, 0);
	parts_dump_release(&d);
	/* without the refused value: the malformed row, as the streaming reader says */
	(void)expect_parts_like_stream(s.ptr, s.len, 1UL << 20);
	buf_release(&s);
}

static int count_part(void *ctx, int i, struct ml_csv *rows, struct err *err)
{
	size_t *n = ctx;
	int rc;
	n[i] = 0;
	while ((rc = ml_csv_next(rows, err)) > 0)
		n[i]++;
	return rc;
}

static int count_commit(void *ctx, size_t parts, struct err *err)
{
	size_t *n = ctx;
	for (size_t i = 0; i < parts; i++)
		n[ML_CSV_PARTS] += n[i];
	return 0;
}

/* Every allocation failure is a clean ERR_NOMEM, never a crash or a leak. */
static void test_csv_parts_survive_allocation_failure(void **state)
{
	int ok = 0;
	for (long k = 0; k < 400 && !ok; k++) {
		size_t n[ML_CSV_PARTS + 1] = {0};
		const struct ml_csv_parts ops = {count_part, count_commit, n};
		struct ml_csv r;
		struct err err = ERR_INIT;
		mem_set_fail_after(k);
		if (ml_csv_open_mem(&r, mixed_csv, sizeof(mixed_csv) - 1, "t", &err) == 0 &&
		    ml_csv_read_parts(&r, 16, &ops, &err) == 0) {
			ok = 1;
			assert_int_equal(n[ML_CSV_PARTS], 9); /* the header is a row here */
			assert_int_equal(r.line, 16);
		} else {
			assert_int_equal(err.code, ERR_NOMEM);
		}
		mem_set_fail_after(-1);
		ml_csv_close(&r);
	}
	assert_true(ok);
}

/* Resident pages of files this process maps, in kB (RssFile of /proc/self/status). */
static long rss_file_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *fp = fopen("/proc/self/status", "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp))
		if (strncmp(line, "RssFile:", 8) == 0)
			kb = strtol(line + 8, NULL, 10);
	fclose(fp);
	assert_true(kb >= 0);
	return kb;
}

struct rss_watch {
	long base, peak;
	size_t rows;
};

static int rss_part(void *ctx, int i, struct ml_csv *rows, struct err *err)
{
	int rc;
	(void)ctx;
	(void)i;
	while ((rc = ml_csv_next(rows, err)) > 0)
		;
	return rc;
}

static int rss_commit(void *ctx, size_t parts, struct err *err)
{
	struct rss_watch *w = ctx;
	long kb = rss_file_kb() - w->base;
	(void)parts;
	(void)err;
	w->peak = kb > w->peak ? kb : w->peak;
	return 0;
}

/*
 * A file is mapped and read in place, and the pages of committed blocks
 * are dropped: reading 24 MB in blocks of 1 MB keeps a few MB of it
 * resident, not all of it.
 */
static void test_csv_parts_keep_a_few_blocks_of_a_file_resident(void **state)
{
	const size_t block = 1UL << 20, want = 24UL << 20;
	struct rss_watch w = {0, 0, 0};
	const struct ml_csv_parts ops = {rss_part, rss_commit, &w};
	char row[64];
	struct ml_csv r;
	struct err err = ERR_INIT;
	size_t n = 0;
	FILE *fp = tmpfile();
	assert_non_null(fp);
	while (n < want) {
		int len = snprintf(row, sizeof(row), "%zu,\"some text, quoted\",%zu.5\n", n, n);
		assert_int_equal(fwrite(row, 1, (size_t)len, fp), (size_t)len);
		n += (size_t)len;
	}
	assert_int_equal(fflush(fp), 0);
	rewind(fp);
	assert_int_equal(ml_csv_open_fp(&r, fp, "t", &err), 0);
	w.base = rss_file_kb();
	assert_int_equal(ml_csv_read_parts(&r, block, &ops, &err), 0);
	assert_true(w.peak > 0);		       /* it was mapped */
	assert_true(w.peak < (long)(4 * block >> 10)); /* and dropped as it went */
	ml_csv_close(&r);
	fclose(fp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_reads_quoted_fields_with_commas_quotes_and_newlines),
		cmocka_unit_test(test_csv_accepts_crlf_bom_and_missing_final_newline),
		cmocka_unit_test(test_csv_final_comma_gives_an_empty_last_field),
		cmocka_unit_test(test_csv_rejects_malformed_quoting),
		cmocka_unit_test(test_csv_rejects_wrong_field_count),
		cmocka_unit_test(test_csv_rejects_empty_file_and_header_only),
		cmocka_unit_test(test_csv_rejects_bad_header_names),
		cmocka_unit_test(test_csv_rejects_nul_and_invalid_utf8),
		cmocka_unit_test(test_utf8_prefix),
		cmocka_unit_test(test_csv_caps_field_length),
		cmocka_unit_test(test_csv_caps_fields_per_row),
		cmocka_unit_test(test_csv_streams_a_file_across_buffer_boundaries),
		cmocka_unit_test(test_csv_fast_rows_across_buffer_boundaries),
		cmocka_unit_test(test_csv_single_line_rows_the_fast_path_declines),
		cmocka_unit_test(test_csv_row_fields_are_contiguous),
		cmocka_unit_test(test_csv_block_reader_agrees_with_the_state_machine),
		cmocka_unit_test(test_csv_open_missing_file_names_it),
		cmocka_unit_test(test_csv_reader_row_api),
		cmocka_unit_test(test_csv_survives_allocation_failure),
		cmocka_unit_test(test_csv_parts_match_the_streaming_reader_at_every_block_size),
		cmocka_unit_test(test_csv_parts_cut_outside_quotes),
		cmocka_unit_test(test_csv_parts_crlf_across_a_block_end),
		cmocka_unit_test(test_csv_parts_read_a_row_longer_than_the_block),
		cmocka_unit_test(test_csv_parts_10mb_field),
		cmocka_unit_test(test_csv_parts_first_error_in_input_order),
		cmocka_unit_test(test_csv_parts_survive_allocation_failure),
		cmocka_unit_test(test_csv_parts_keep_a_few_blocks_of_a_file_resident),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

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
		cmocka_unit_test(test_csv_open_missing_file_names_it),
		cmocka_unit_test(test_csv_reader_row_api),
		cmocka_unit_test(test_csv_survives_allocation_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

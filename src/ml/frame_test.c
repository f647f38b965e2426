/*
 * frame_test.c - a frame (whole rows copied at once) holds what the reader
 * gives row by row: cells, missing fields, line numbers, over more than one
 * read buffer, and reports the first bad row of the file.
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
#include "base/mem.h"
#include "ml/csv.h"
#include "ml/frame.h"

/* rows rows of 4 columns: numbers, a missing field now and then, quoted line breaks. */
static void make_csv(struct buf *b, size_t rows)
{
	size_t r;
	buf_reset(b);
	assert_int_equal(buf_adds(b, "id,num,txt,cat\n"), 0);
	for (r = 0; r < rows; r++)
		assert_int_equal(buf_addf(b, "%zu,%s,%s,%s\n", r, r % 7 ? "1.5" : "",
					  r % 5 ? "plain words" : "\"two\nlines, \"\"quoted\"\"\"",
					  r % 3 ? "a" : "b"),
				 0);
}

/* Reads csv with ml_csv_next row by row and checks f against it. */
static void expect_same_as_rows(const struct ml_frame *f, const struct buf *csv)
{
	struct ml_csv r;
	struct err err = ERR_INIT;
	size_t row = 0, c;
	int rc;
	assert_int_equal(ml_csv_open_mem(&r, csv->ptr, csv->len, "t.csv", &err), 0);
	assert_int_equal(ml_csv_next(&r, &err), 1); /* header */
	for (c = 0; c < f->ncols; c++)
		assert_string_equal(f->names[c], r.field[c]);
	while ((rc = ml_csv_next(&r, &err)) > 0) {
		assert_true(row < f->nrows);
		assert_int_equal(f->line[row], r.row_line);
		for (c = 0; c < f->ncols; c++) {
			if (r.len[c] == 0)
				assert_null(f->cells[c][row]);
			else
				assert_string_equal(f->cells[c][row], r.field[c]);
		}
		row++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(row, f->nrows);
	ml_csv_close(&r);
}

static void test_frame_equals_rows_one_by_one(void **state)
{
	static const size_t sizes[] = {1, 3, 100, 5000, 400000};
	struct buf b = BUF_INIT;
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct ml_frame f;
		struct err err = ERR_INIT;
		make_csv(&b, sizes[i]);
		assert_int_equal(ml_frame_parse_csv(&f, b.ptr, b.len, "t.csv", &err), 0);
		assert_int_equal(f.nrows, sizes[i]);
		expect_same_as_rows(&f, &b);
		ml_frame_release(&f);
	}
	buf_release(&b);
}

/* The same from a file, read through the reader's buffer. */
static void test_frame_read_csv_file_equals_rows(void **state)
{
	char path[] = "/tmp/kiln-frame-test-XXXXXX";
	struct buf b = BUF_INIT;
	struct ml_frame f;
	struct err err = ERR_INIT;
	int fd = mkstemp(path);
	(void)state;
	assert_true(fd >= 0);
	make_csv(&b, 60000);
	assert_int_equal(write(fd, b.ptr, b.len), (ssize_t)b.len);
	close(fd);
	assert_int_equal(ml_frame_read_csv(&f, path, &err), 0);
	expect_same_as_rows(&f, &b);
	ml_frame_release(&f);
	unlink(path);
	buf_release(&b);
}

/* Two bad rows far apart: the first one is reported, with its line. */
static void test_frame_reports_the_first_bad_row(void **state)
{
	struct buf b = BUF_INIT;
	int k;
	(void)state;
	for (k = 0; k < 50; k++) {
		struct ml_frame f;
		struct err err = ERR_INIT;
		size_t r;
		buf_reset(&b);
		assert_int_equal(buf_adds(&b, "a,b\n"), 0);
		for (r = 0; r < 40000; r++)
			assert_int_equal(buf_adds(&b, r == 30000   ? "1,2,3\n"
						      : r == 35000 ? "\"x\n"
								   : "1,2\n"),
					 0);
		assert_int_equal(ml_frame_parse_csv(&f, b.ptr, b.len, "t.csv", &err), -1);
		assert_string_equal(err.msg, "t.csv:30002: expected 2 fields, found 3");
		assert_null(f.cells);
	}
	buf_release(&b);
}

/* Every allocation failing in turn: an error, never a crash or a leak. */
static void test_frame_survives_allocation_failure(void **state)
{
	struct buf b = BUF_INIT;
	long n;
	int ok = 0;
	(void)state;
	make_csv(&b, 2000);
	for (n = 0; n < 100000 && !ok; n++) {
		struct ml_frame f;
		struct err err = ERR_INIT;
		mem_set_fail_after(n);
		if (ml_frame_parse_csv(&f, b.ptr, b.len, "t.csv", &err) == 0) {
			ok = 1;
			mem_set_fail_after(-1);
			expect_same_as_rows(&f, &b);
			ml_frame_release(&f);
		} else {
			mem_set_fail_after(-1);
			assert_int_equal(err.code, ERR_NOMEM);
		}
	}
	assert_true(ok);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_equals_rows_one_by_one),
		cmocka_unit_test(test_frame_read_csv_file_equals_rows),
		cmocka_unit_test(test_frame_reports_the_first_bad_row),
		cmocka_unit_test(test_frame_survives_allocation_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

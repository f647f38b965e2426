/*
 * buf_test.c - unit tests for base/buf, base/err and base/mem.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"

static void test_buf_init_is_empty_string(void **state)
{
	struct buf b = BUF_INIT;
	assert_non_null(b.ptr);
	assert_string_equal(b.ptr, "");
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

static void test_buf_addf_appends_and_terminates(void **state)
{
	struct buf b = BUF_INIT;
	assert_int_equal(buf_adds(&b, "a="), 0);
	assert_int_equal(buf_addf(&b, "%d,%s", 42, "x"), 0);
	assert_string_equal(b.ptr, "a=42,x");
	assert_int_equal(b.len, 6);
	buf_release(&b);
}

static void test_buf_cap_rejects_growth_and_keeps_contents(void **state)
{
	struct buf b;
	buf_init(&b, 4);
	assert_int_equal(buf_adds(&b, "abc"), 0);
	errno = 0;
	assert_int_equal(buf_adds(&b, "de"), -1);
	assert_int_equal(errno, E2BIG);
	assert_string_equal(b.ptr, "abc");
	assert_int_equal(buf_addch(&b, 'd'), 0);
	assert_string_equal(b.ptr, "abcd");
	buf_release(&b);
}

static void test_buf_failed_alloc_leaves_buffer_valid(void **state)
{
	struct buf b = BUF_INIT;
	assert_int_equal(buf_adds(&b, "keep"), 0);
	mem_set_fail_after(0);
	assert_int_equal(
		buf_add(&b,
			"0123456789012345678901234567890123456789012345678901234567890123456789",
			70),
		-1);
	mem_set_fail_after(-1);
	assert_string_equal(b.ptr, "keep");
	buf_release(&b);
}

static void test_buf_json_string_escapes(void **state)
{
	struct buf b = BUF_INIT;
	const char s[] = "a\"b\\c\n\x01";
	assert_int_equal(buf_add_json_str(&b, s, sizeof(s) - 1), 0);
	assert_string_equal(b.ptr, "\"a\\\"b\\\\c\\n\\u0001\"");
	buf_release(&b);
}

static void test_buf_take_hands_over_memory(void **state)
{
	struct buf b = BUF_INIT;
	size_t len;
	char *s;
	assert_int_equal(buf_adds(&b, "xyz"), 0);
	s = buf_take(&b, &len);
	assert_string_equal(s, "xyz");
	assert_int_equal(len, 3);
	assert_int_equal(b.len, 0);
	mem_free(s);
	buf_release(&b);
}

static void test_err_first_error_wins(void **state)
{
	struct err e = ERR_INIT;
	assert_int_equal(err_set(&e, ERR_PARSE, "inner %d", 1), -1);
	assert_int_equal(err_set(&e, ERR_IO, "outer"), -1);
	assert_int_equal(e.code, ERR_PARSE);
	assert_string_equal(e.msg, "inner 1");
	assert_string_equal(err_name(e.code), "PARSE");
	err_clear(&e);
	assert_int_equal(e.code, ERR_OK);
}

static void test_mem_calloc_rejects_overflow(void **state)
{
	assert_null(mem_calloc(SIZE_MAX / 2, 4));
	assert_null(mem_reallocarray(NULL, SIZE_MAX / 2, 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_init_is_empty_string),
		cmocka_unit_test(test_buf_addf_appends_and_terminates),
		cmocka_unit_test(test_buf_cap_rejects_growth_and_keeps_contents),
		cmocka_unit_test(test_buf_failed_alloc_leaves_buffer_valid),
		cmocka_unit_test(test_buf_json_string_escapes),
		cmocka_unit_test(test_buf_take_hands_over_memory),
		cmocka_unit_test(test_err_first_error_wins),
		cmocka_unit_test(test_mem_calloc_rejects_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

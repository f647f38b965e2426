/*
 * par_test.c - ml__par_for gives what a serial loop gives: every item done
 * once, and on failure the error of the lowest failing item, however the two
 * threads interleave.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ml/internal.h"

static atomic_ullong sink; /* keeps the busy work (both threads store it) */

struct squares {
	uint64_t *out;
	int *runs;
	size_t fail_from, fail_every; /* items i >= fail_from with i % fail_every == 0 fail */
};

static int square(void *ctx, size_t i, struct err *err)
{
	struct squares *sq = ctx;
	uint64_t v = i;
	int k;
	for (k = 0; k < 50; k++) /* some work, so the threads overlap */
		v = v * 6364136223846793005u + 1442695040888963407u;
	atomic_store_explicit(&sink, v, memory_order_relaxed);
	sq->out[i] = (uint64_t)i * i;
	sq->runs[i]++;
	if (sq->fail_every && i >= sq->fail_from && i % sq->fail_every == 0)
		return err_set(err, ERR_INVALID, "item %zu failed", i);
	return 0;
}

static void test_par_for_does_every_item_once(void **state)
{
	enum { N = 5000 };
	static uint64_t out[N];
	static int runs[N];
	struct squares sq = {out, runs, 0, 0};
	struct err err = ERR_INIT;
	size_t i;
	(void)state;
	memset(runs, 0, sizeof(runs));
	assert_int_equal(ml__par_for(N, square, &sq, &err), 0);
	for (i = 0; i < N; i++) {
		assert_int_equal(out[i], (uint64_t)i * i);
		assert_int_equal(runs[i], 1);
	}
	assert_int_equal(ml__par_for(0, square, &sq, &err), 0);
	assert_int_equal(ml__par_for(1, square, &sq, &err), 0);
	assert_int_equal(runs[0], 2);
}

static void test_par_for_reports_the_lowest_failing_item(void **state)
{
	enum { N = 4000 };
	static uint64_t out[N];
	static int runs[N];
	int round;
	(void)state;
	for (round = 0; round < 200; round++) {
		/* items 1001, 1008, ... fail (1001 = 7 * 143) */
		struct squares sq = {out, runs, 1000, 7};
		struct err err = ERR_INIT;
		size_t i;
		memset(runs, 0, sizeof(runs));
		assert_int_equal(ml__par_for(N, square, &sq, &err), -1);
		assert_int_equal(err.code, ERR_INVALID);
		assert_string_equal(err.msg, "item 1001 failed");
		/* every item before it ran, as in a serial loop */
		for (i = 0; i < 1001; i++)
			assert_int_equal(runs[i], 1);
	}
}

static void test_par_for_keeps_an_earlier_error(void **state)
{
	uint64_t out[4];
	int runs[4] = {0};
	struct squares sq = {out, runs, 0, 1}; /* every item fails */
	struct err err = ERR_INIT;
	(void)state;
	err_set(&err, ERR_IO, "first");
	assert_int_equal(ml__par_for(4, square, &sq, &err), -1);
	assert_string_equal(err.msg, "first"); /* first error wins */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_par_for_does_every_item_once),
		cmocka_unit_test(test_par_for_reports_the_lowest_failing_item),
		cmocka_unit_test(test_par_for_keeps_an_earlier_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

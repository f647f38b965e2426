/*
 * gbdt_test.c - unit tests for kiln's tree walker (gbdt.c) on hand-written
 * XGBoost JSON models: uneven trees padded to the perfect layout, missing
 * values sent both ways, stumps, and trees too deep for that layout.
 * Training against XGBoost itself is tested in model_test.c.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "ml/internal.h"

/* A regression model of the given trees (JSON objects), base_score 0. */
static void load_model(struct ml__gbdt *g, const char *const *trees, size_t ntrees)
{
	struct buf b = BUF_INIT;
	struct err err = ERR_INIT;
	size_t i;
	int fail = buf_adds(&b, "{\"learner\": {\"learner_model_param\": {\"base_score\": \"0\", "
				"\"num_class\": \"0\"}, \"objective\": {\"name\": "
				"\"reg:squarederror\"}, \"gradient_booster\": {\"model\": "
				"{\"tree_info\": [");
	for (i = 0; i < ntrees; i++)
		fail |= buf_adds(&b, i ? ", 0" : "0");
	fail |= buf_adds(&b, "], \"trees\": [");
	for (i = 0; i < ntrees; i++)
		fail |= buf_adds(&b, i ? ", " : "") | buf_adds(&b, trees[i]);
	fail |= buf_adds(&b, "]}}}}");
	assert_int_equal(fail, 0);
	if (ml__gbdt_load_json(g, ML_TASK_REGRESSION, 0, 4, b.ptr, b.len, &err) < 0)
		fail_msg("load failed: %s", err.msg);
	buf_release(&b);
}

/* The prediction for a row with features f0, f1 (NaN: absent, i.e. missing). */
static double predict(const struct ml__gbdt *g, double f0, double f1)
{
	uint32_t idx[2];
	double val[2];
	struct ml__row r;
	struct ml_pred p;
	struct err err = ERR_INIT;
	ml__row_init(&r, idx, val, 2);
	if (!isnan(f0))
		assert_int_equal(ml__row_push(&r, 0, f0, &err), 0);
	if (!isnan(f1))
		assert_int_equal(ml__row_push(&r, 1, f1, &err), 0);
	ml__gbdt_predict(g, &r, &p);
	return p.value;
}

/*
 * Node 0: f0 < 1 (missing: left) -> leaf 10, else node 2: f1 < 5 (missing:
 * right) -> node 3, else leaf 3; node 3: f0 < 3 (missing: left) -> leaf 1,
 * else leaf 2. Leaves at depths 1, 2 and 3.
 */
static const char uneven[] = "{\"left_children\": [1, -1, 3, 5, -1, -1, -1], "
			     "\"right_children\": [2, -1, 4, 6, -1, -1, -1], "
			     "\"split_indices\": [0, 0, 1, 0, 0, 0, 0], "
			     "\"split_conditions\": [1, 10, 5, 3, 3, 1, 2], "
			     "\"default_left\": [1, 0, 0, 1, 0, 0, 0]}";
static const char stump[] = "{\"left_children\": [-1], \"right_children\": [-1], "
			    "\"split_indices\": [0], \"split_conditions\": [0.5], "
			    "\"default_left\": [0]}";

static void check_uneven(const struct ml__gbdt *g, double extra)
{
	assert_true(predict(g, NAN, NAN) == 10 + extra);    /* missing: left */
	assert_true(predict(g, 0.5, NAN) == 10 + extra);    /* 0.5 < 1 */
	assert_true(predict(g, 2, NAN) == 3 + extra);	    /* f1 missing: right */
	assert_true(predict(g, 2, 4) == 1 + extra);	    /* 2 < 3 */
	assert_true(predict(g, 4, 4) == 2 + extra);	    /* 4 >= 3 */
	assert_true(predict(g, 1, 5) == 3 + extra);	    /* equal goes right */
	assert_true(predict(g, NAN, 4.5) == 10 + extra);    /* f0 missing at the root */
	assert_true(predict(g, -1e30, 1e30) == 10 + extra); /* far values */
	assert_true(predict(g, 1e300, NAN) == 3 + extra);   /* beyond float: +inf */
	assert_true(predict(g, -1e300, 4) == 10 + extra);   /* -inf */
}

static void test_gbdt_walks_uneven_trees_padded(void **state)
{
	const char *trees[] = {uneven, stump};
	struct ml__gbdt g;
	(void)state;
	load_model(&g, trees, 2);
	assert_non_null(g.pnodes); /* the perfect layout is used */
	assert_int_equal(g.pdepth, 3);
	check_uneven(&g, 0.5);
	ml__gbdt_release(&g);
}

static void test_gbdt_walks_nine_trees_in_order(void **state)
{
	/* eight trees side by side and one more, all summed */
	const char *trees[] = {uneven, stump, uneven, stump, stump, uneven, stump, stump, uneven};
	struct ml__gbdt g;
	(void)state;
	load_model(&g, trees, 9);
	assert_true(predict(&g, 2, 4) == 4 * 1 + 5 * 0.5);
	assert_true(predict(&g, NAN, NAN) == 4 * 10 + 5 * 0.5);
	assert_true(predict(&g, 4, 4) == 4 * 2 + 5 * 0.5);
	ml__gbdt_release(&g);
}

/*
 * The arrays the walker never reads (base_weights, sum_hessian, ...) are
 * skipped when loading; keys and strings that only look like them, and
 * arrays that are not flat, are left alone: the same trees either way.
 */
static void test_gbdt_loads_trees_with_the_arrays_it_skips(void **state)
{
	static const char extra[] =
		"{\"base_weights\": [0.5, -1E-3, 2], \"sum_hessian\": [], \"parents\": "
		"[2147483647, 0, 0, 2, 2, 3, 3], \"split_type\": [0, 0, 0, 0, 0, 0, 0], "
		"\"loss_changes\": [[1], {\"a\": 2}], "
		"\"note\": \"\\\"base_weights\\\": [\", \"left_children\": [1, -1, 3, 5, -1, -1, "
		"-1], "
		"\"right_children\": [2, -1, 4, 6, -1, -1, -1], "
		"\"split_indices\": [0, 0, 1, 0, 0, 0, 0], "
		"\"split_conditions\": [1, 10, 5, 3, 3, 1, 2], "
		"\"default_left\": [1, 0, 0, 1, 0, 0, 0]}";
	const char *trees[] = {extra, stump};
	struct ml__gbdt g;
	(void)state;
	load_model(&g, trees, 2);
	check_uneven(&g, 0.5);
	ml__gbdt_release(&g);
}

/* A split beyond the float range: the branching walk, with the same results. */
static void test_gbdt_walks_infinite_splits(void **state)
{
	static const char huge[] =
		"{\"left_children\": [1, -1, -1], \"right_children\": [2, -1, -1], "
		"\"split_indices\": [1, 0, 0], \"split_conditions\": [-1e300, 7, 8], "
		"\"default_left\": [1, 0, 0]}";
	const char *trees[] = {uneven, huge};
	struct ml__gbdt g;
	(void)state;
	load_model(&g, trees, 2);
	assert_null(g.pnodes);
	/* f1 < -inf never holds: 8; a missing f1 goes left: 7 */
	assert_true(predict(&g, 2, 4) == 1 + 8);
	assert_true(predict(&g, 2, -1e300) == 1 + 8);
	assert_true(predict(&g, 2, NAN) == 3 + 7);
	assert_true(predict(&g, NAN, NAN) == 10 + 7);
	ml__gbdt_release(&g);
}

static void test_gbdt_walks_only_stumps(void **state)
{
	const char *trees[] = {stump, stump};
	struct ml__gbdt g;
	(void)state;
	load_model(&g, trees, 2);
	assert_int_equal(g.pdepth, 0);
	assert_true(predict(&g, 1, 1) == 1.0);
	assert_true(predict(&g, NAN, NAN) == 1.0);
	ml__gbdt_release(&g);
}

/* A chain of depth 10 on f0: leaf k when k - 1 <= f0 < k, else leaf 10 at the end. */
static void test_gbdt_walks_trees_too_deep_for_the_layout(void **state)
{
	struct buf t = BUF_INIT;
	const char *trees[2];
	struct ml__gbdt g;
	int k, fail = 0;
	(void)state;
	/* node 2k splits on f0 < k + 1: left leaf 2k + 1 (value k + 1), right node 2k + 2 */
	fail |= buf_adds(&t, "{\"left_children\": [");
	for (k = 0; k < 10; k++)
		fail |= buf_addf(&t, "%d, -1, ", 2 * k + 1);
	fail |= buf_adds(&t, "-1], \"right_children\": [");
	for (k = 0; k < 10; k++)
		fail |= buf_addf(&t, "%d, -1, ", 2 * k + 2);
	fail |= buf_adds(&t, "-1], \"split_indices\": [");
	for (k = 0; k < 21; k++)
		fail |= buf_adds(&t, k ? ", 0" : "0");
	fail |= buf_adds(&t, "], \"split_conditions\": [");
	for (k = 0; k < 10; k++)
		fail |= buf_addf(&t, "%d, %d, ", k + 1, k + 1);
	fail |= buf_adds(&t, "100], \"default_left\": [");
	for (k = 0; k < 21; k++)
		fail |= buf_adds(&t, k ? ", 1" : "1");
	fail |= buf_adds(&t, "]}");
	assert_int_equal(fail, 0);
	trees[0] = uneven;
	trees[1] = t.ptr;
	load_model(&g, trees, 2);
	assert_null(g.pnodes); /* depth 10: the branching walk */
	assert_true(predict(&g, 2, 4) == 1 + 3);
	assert_true(predict(&g, 0.5, NAN) == 10 + 1);
	assert_true(predict(&g, 9.5, 4) == 2 + 10);
	assert_true(predict(&g, 50, 4) == 2 + 100);
	assert_true(predict(&g, NAN, NAN) == 10 + 1);
	ml__gbdt_release(&g);
	buf_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gbdt_walks_uneven_trees_padded),
		cmocka_unit_test(test_gbdt_walks_nine_trees_in_order),
		cmocka_unit_test(test_gbdt_walks_infinite_splits),
		cmocka_unit_test(test_gbdt_loads_trees_with_the_arrays_it_skips),
		cmocka_unit_test(test_gbdt_walks_only_stumps),
		cmocka_unit_test(test_gbdt_walks_trees_too_deep_for_the_layout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

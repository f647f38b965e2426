/*
 * linear_test.c - unit tests for the liblinear learner of ml/internal.h:
 * liblinear solves only the features some training row has, and the weights
 * come back at the pipeline's indices, the same as on a dense problem.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ml/internal.h"

#define NROWS 40

/* Two informative features and noise-free labels: row i has x0 = i % 7,
 * x1 = (i * 3) % 5 - 2, label 1 when x0 - x1 > 2. */
static void make_rows(struct ml__row *rows, uint32_t (*idx)[2], double (*val)[2], double *y,
		      uint32_t f0, uint32_t f1)
{
	size_t i;
	for (i = 0; i < NROWS; i++) {
		double x0 = (double)(i % 7), x1 = (double)((i * 3) % 5) - 2;
		ml__row_init(&rows[i], idx[i], val[i], 2);
		idx[i][0] = f0;
		idx[i][1] = f1;
		val[i][0] = x0;
		val[i][1] = x1;
		rows[i].n = 2;
		y[i] = x0 - x1 > 2 ? 1 : 0;
	}
}

static void check_sparse_equals_dense(enum ml_algo algo)
{
	static uint32_t idx[NROWS][2];
	static double val[NROWS][2];
	struct ml__row rows[NROWS];
	double y[NROWS];
	struct ml__linear dense, sparse;
	struct err e = ERR_INIT;
	uint32_t j;

	/* The svm's dual solver visits rows in rand() order: the same for both. */
	srand(1);
	make_rows(rows, idx, val, y, 0, 1);
	assert_int_equal(ml__linear_train(&dense, algo, ML_TASK_CLASSIFICATION, 2, rows, y, NROWS,
					  2, 1.0, 0, &e),
			 0);
	/* The same data at indices 7 and 4000 of 5000 features. */
	srand(1);
	make_rows(rows, idx, val, y, 7, 4000);
	assert_int_equal(ml__linear_train(&sparse, algo, ML_TASK_CLASSIFICATION, 2, rows, y, NROWS,
					  5000, 1.0, 0, &e),
			 0);
	assert_int_equal(sparse.dim, 5001);
	assert_true(fabs(dense.w[0]) > 1e-3 && fabs(dense.w[1]) > 1e-3);
	assert_true(fabs(sparse.w[7] - dense.w[0]) < 1e-9);
	assert_true(fabs(sparse.w[4000] - dense.w[1]) < 1e-9);
	assert_true(fabs(sparse.w[5000] - dense.w[2]) < 1e-9); /* the bias */
	for (j = 0; j < 5000; j++)
		if (j != 7 && j != 4000)
			assert_true(sparse.w[j] == 0);
	ml__linear_release(&dense);
	ml__linear_release(&sparse);
}

static void test_linear_logreg_solves_only_used_features(void **state)
{
	(void)state;
	check_sparse_equals_dense(ML_ALGO_LOGREG);
}

static void test_linear_svm_solves_only_used_features(void **state)
{
	(void)state;
	check_sparse_equals_dense(ML_ALGO_SVM);
}

static void test_linear_rejects_feature_out_of_range(void **state)
{
	static uint32_t idx[NROWS][2];
	static double val[NROWS][2];
	struct ml__row rows[NROWS];
	double y[NROWS];
	struct ml__linear lm;
	struct err e = ERR_INIT;
	(void)state;
	make_rows(rows, idx, val, y, 0, 9);
	assert_int_equal(ml__linear_train(&lm, ML_ALGO_LOGREG, ML_TASK_CLASSIFICATION, 2, rows, y,
					  NROWS, 5, 1.0, 0, &e),
			 -1);
	assert_int_equal(e.code, ERR_INTERNAL);
	assert_non_null(strstr(e.msg, "out of range"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linear_logreg_solves_only_used_features),
		cmocka_unit_test(test_linear_svm_solves_only_used_features),
		cmocka_unit_test(test_linear_rejects_feature_out_of_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

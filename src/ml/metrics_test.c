/*
 * metrics_test.c - unit tests for ml/metrics against reference values from
 * scikit-learn 1.2.1 (Debian python3-sklearn), computed once and hard-coded;
 * the Python that produced each value is in the comment above its test.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "ml/metrics.h"

#define EPS 1e-12

static char cls_no[] = "no", cls_yes[] = "yes", cls_a[] = "a", cls_b[] = "b", cls_c[] = "c";
static char *const bin_classes[] = {cls_no, cls_yes};
static char *const tri_classes[] = {cls_a, cls_b, cls_c};

static double get(const json_t *m, const char *name)
{
	double v = -1;
	assert_int_equal(ml_metrics_get(m, name, &v), 0);
	return v;
}

static void assert_close(double got, double want)
{
	if (fabs(got - want) > EPS)
		fail_msg("got %.17g, want %.17g", got, want);
}

/* Binary data with tied scores and probabilities 0 and 1. */
static const int bin_y[] = {0, 0, 1, 1, 0, 1, 1, 0, 1, 0};
static const double bin_p1[] = {0.1, 0.4, 0.35, 0.8, 0.4, 0.9, 0.4, 0.2, 1.0, 0.0};

static void fill_binary(struct ml_pred *p, const double *p1, size_t n)
{
	memset(p, 0, n * sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		p[i].prob[0] = 1 - p1[i];
		p[i].prob[1] = p1[i];
		p[i].klass = p1[i] >= 0.5;
		p[i].value = p[i].prob[p[i].klass];
	}
}

/*
 * y=[0,0,1,1,0,1,1,0,1,0]; p1=[0.1,0.4,0.35,0.8,0.4,0.9,0.4,0.2,1.0,0.0]
 * pred=[int(p>=0.5) for p in p1]; P=[[1-p,p] for p in p1]
 * accuracy_score(y,pred)=0.8  roc_auc_score(y,p1)=0.8799999999999999
 * log_loss(y,P)=0.3644772237848887
 * precision_recall_fscore_support(y,pred): p=[0.71428571,1] r=[1,0.6]
 *   f=[0.83333333,0.75] s=[5,5]; average='macro': 0.8571428571428572,
 *   0.8, 0.7916666666666665; confusion_matrix: [[5,0],[2,3]]
 */
static void test_metrics_binary_matches_sklearn(void **state)
{
	struct ml_pred p[10];
	json_t *m, *cm;

	fill_binary(p, bin_p1, 10);
	m = ml_metrics_classification(bin_y, p, 10, bin_classes, 2);
	assert_non_null(m);
	assert_close(get(m, "accuracy"), 0.8);
	assert_close(get(m, "auc"), 0.8799999999999999);
	assert_close(get(m, "log_loss"), 0.3644772237848887);
	assert_close(get(m, "precision"), 0.8571428571428572);
	assert_close(get(m, "recall"), 0.8);
	assert_close(get(m, "f1"), 0.7916666666666665);
	assert_close(get(m, "precision:no"), 5.0 / 7.0);
	assert_close(get(m, "recall:yes"), 0.6);
	assert_close(get(m, "f1:yes"), 0.75);
	assert_close(get(m, "f1:no"), 5.0 / 6.0);
	assert_close(get(m, "support:yes"), 5);
	cm = json_object_get(m, "confusion");
	assert_int_equal(json_integer_value(json_array_get(json_array_get(cm, 0), 0)), 5);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(cm, 0), 1)), 0);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(cm, 1), 0)), 2);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(cm, 1), 1)), 3);
	assert_string_equal(json_string_value(json_array_get(json_object_get(m, "classes"), 1)),
			    "yes");
	assert_int_equal(json_integer_value(json_object_get(m, "n")), 10);
	json_decref(m);
}

/*
 * P=[[.7,.2,.1],[.3,.4,.3],[.2,.2,.6],[.1,.5,.4],[.2,.6,.2],[.5,.25,.25],
 *    [.3,.3,.4],[.4,.3,.3],[.6,.3,.1],[0,0,1]]; y=[0,1,2,2,1,0,2,1,0,2]
 * pred=P.argmax(1)=[0,1,2,1,1,0,2,0,0,2]; accuracy 0.8
 * roc_auc_score(y,P,multi_class='ovr',average='macro')=0.9523809523809522
 * log_loss(y,P)=0.6535143995745052
 * macro p/r/f: 0.8055555555555555, 0.8055555555555555, 0.7936507936507936
 * confusion_matrix: [[3,0,0],[1,2,0],[0,1,3]]
 */
static void test_metrics_multiclass_matches_sklearn(void **state)
{
	static const double P[10][3] = {{.7, .2, .1}, {.3, .4, .3},   {.2, .2, .6}, {.1, .5, .4},
					{.2, .6, .2}, {.5, .25, .25}, {.3, .3, .4}, {.4, .3, .3},
					{.6, .3, .1}, {0, 0, 1}};
	static const int y[10] = {0, 1, 2, 2, 1, 0, 2, 1, 0, 2};
	static const int pred[10] = {0, 1, 2, 1, 1, 0, 2, 0, 0, 2};
	struct ml_pred p[10];
	json_t *m;

	memset(p, 0, sizeof(p));
	for (int i = 0; i < 10; i++) {
		memcpy(p[i].prob, P[i], sizeof(P[i]));
		p[i].klass = pred[i];
	}
	m = ml_metrics_classification(y, p, 10, tri_classes, 3);
	assert_non_null(m);
	assert_close(get(m, "accuracy"), 0.8);
	assert_close(get(m, "auc"), 0.9523809523809522);
	assert_close(get(m, "log_loss"), 0.6535143995745052);
	assert_close(get(m, "precision"), 0.8055555555555555);
	assert_close(get(m, "recall"), 0.8055555555555555);
	assert_close(get(m, "f1"), 0.7936507936507936);
	assert_close(get(m, "f1:b"), 2.0 / 3.0);
	assert_close(get(m, "recall:c"), 0.75);
	assert_int_equal(json_integer_value(json_array_get(
				 json_array_get(json_object_get(m, "confusion"), 2), 1)),
			 1);
	json_decref(m);
}

/*
 * log_loss([1,0],[[1.0,0.0],[0.5,0.5]],labels=[0,1],eps=1e-15)
 *   = 17.615961787735316: a certain wrong answer costs -log(1e-15), not
 * infinity. (scikit-learn 1.2's default eps='auto' clips at 2.2e-16 instead,
 * giving 18.368; kiln keeps the long-standing 1e-15.)
 */
static void test_metrics_log_loss_clips_zero_probability(void **state)
{
	static const int y[] = {1, 0};
	static const double p1[] = {0.0, 0.5};
	struct ml_pred p[2];
	json_t *m;

	fill_binary(p, p1, 2);
	m = ml_metrics_classification(y, p, 2, bin_classes, 2);
	assert_non_null(m);
	assert_close(get(m, "log_loss"), 17.615961787735316);
	json_decref(m);
}

/* roc_auc_score([0,0,1,1],[0.5]*4) = 0.5: all scores tied. */
static void test_metrics_auc_all_ties_is_half(void **state)
{
	static const int y[] = {0, 0, 1, 1};
	static const double p1[] = {0.5, 0.5, 0.5, 0.5};
	struct ml_pred p[4];
	json_t *m;

	fill_binary(p, p1, 4);
	m = ml_metrics_classification(y, p, 4, bin_classes, 2);
	assert_non_null(m);
	assert_close(get(m, "auc"), 0.5);
	json_decref(m);
}

/* With one class only in y, AUC is undefined: the key is left out. */
static void test_metrics_auc_undefined_with_one_class(void **state)
{
	static const int y[] = {1, 1, 1};
	static const double p1[] = {0.2, 0.7, 0.9};
	struct ml_pred p[3];
	double v;
	json_t *m;

	fill_binary(p, p1, 3);
	m = ml_metrics_classification(y, p, 3, bin_classes, 2);
	assert_non_null(m);
	assert_int_equal(ml_metrics_get(m, "auc", &v), -1);
	assert_close(get(m, "accuracy"), 2.0 / 3.0);
	json_decref(m);
}

/*
 * A class never seen in y nor predicted is left out of the macro average,
 * as scikit-learn does (labels = union of y and predictions):
 * precision_recall_fscore_support([0,0,1],[0,1,1],average='macro')
 *   = (0.75, 0.75, 0.6666666666666666)
 */
static void test_metrics_macro_skips_absent_class(void **state)
{
	static const int y[] = {0, 0, 1};
	struct ml_pred p[3];
	json_t *m;

	memset(p, 0, sizeof(p));
	p[0].klass = 0;
	p[1].klass = 1;
	p[2].klass = 1;
	for (int i = 0; i < 3; i++)
		p[i].prob[p[i].klass] = 1;
	m = ml_metrics_classification(y, p, 3, tri_classes, 3);
	assert_non_null(m);
	assert_close(get(m, "precision"), 0.75);
	assert_close(get(m, "recall"), 0.75);
	assert_close(get(m, "f1"), 0.6666666666666666);
	assert_close(get(m, "f1:c"), 0);
	assert_close(get(m, "support:c"), 0);
	json_decref(m);
}

/*
 * yt=[3.0,-0.5,2.0,7.0,4.2]; yp=[2.5,0.0,2.0,8.0,3.9]
 * mean_squared_error(yt,yp,squared=False)=0.5639148871948674
 * mean_absolute_error=0.4600000000000001  r2_score=0.9480256276150627
 */
static void test_metrics_regression_matches_sklearn(void **state)
{
	static const double yt[] = {3.0, -0.5, 2.0, 7.0, 4.2};
	static const double yp[] = {2.5, 0.0, 2.0, 8.0, 3.9};
	struct ml_pred p[5];
	json_t *m;

	memset(p, 0, sizeof(p));
	for (int i = 0; i < 5; i++) {
		p[i].klass = -1;
		p[i].value = yp[i];
	}
	m = ml_metrics_regression(yt, p, 5);
	assert_non_null(m);
	assert_close(get(m, "rmse"), 0.5639148871948674);
	assert_close(get(m, "mae"), 0.4600000000000001);
	assert_close(get(m, "r2"), 0.9480256276150627);
	json_decref(m);
}

/* r2_score([2,2],[2,2]) = 1.0 and r2_score([2,2],[1,2]) = 0.0 (force_finite). */
static void test_metrics_r2_constant_target(void **state)
{
	static const double yt[] = {2, 2};
	struct ml_pred p[2];
	json_t *m;

	memset(p, 0, sizeof(p));
	p[0].value = 2;
	p[1].value = 2;
	m = ml_metrics_regression(yt, p, 2);
	assert_close(get(m, "r2"), 1.0);
	json_decref(m);
	p[0].value = 1;
	m = ml_metrics_regression(yt, p, 2);
	assert_close(get(m, "r2"), 0.0);
	json_decref(m);
}

static void test_metrics_get_rejects_unknown_names(void **state)
{
	struct ml_pred p[10];
	json_t *m;
	double v = 42;

	fill_binary(p, bin_p1, 10);
	m = ml_metrics_classification(bin_y, p, 10, bin_classes, 2);
	assert_non_null(m);
	assert_int_equal(ml_metrics_get(m, "rmse", &v), -1);
	assert_int_equal(ml_metrics_get(m, "f1:maybe", &v), -1);
	assert_int_equal(ml_metrics_get(m, "bogus:yes", &v), -1);
	assert_int_equal(ml_metrics_get(m, ":yes", &v), -1);
	assert_int_equal(ml_metrics_get(m, "n", &v), -1);
	assert_int_equal(ml_metrics_get(m, "per_class", &v), -1);
	assert_int_equal(ml_metrics_get(NULL, "accuracy", &v), -1);
	assert_true(v == 42);
	json_decref(m);
}

static void test_metrics_direction(void **state)
{
	assert_true(ml_metrics_higher_is_better("accuracy"));
	assert_true(ml_metrics_higher_is_better("auc"));
	assert_true(ml_metrics_higher_is_better("r2"));
	assert_true(ml_metrics_higher_is_better("f1:yes"));
	assert_false(ml_metrics_higher_is_better("rmse"));
	assert_false(ml_metrics_higher_is_better("mae"));
	assert_false(ml_metrics_higher_is_better("log_loss"));
}

/* A class index outside the class list is a caller bug: NULL, no crash. */
static void test_metrics_rejects_bad_class_index(void **state)
{
	static const int y[] = {0, 5};
	struct ml_pred p[2];

	memset(p, 0, sizeof(p));
	assert_null(ml_metrics_classification(y, p, 2, bin_classes, 2));
}

/* Every allocation failure gives NULL, never a crash or a leak. */
static void test_metrics_survives_allocation_failure(void **state)
{
	struct ml_pred p[10];
	json_t *m = NULL;
	long n;

	fill_binary(p, bin_p1, 10);
	for (n = 0; n < 10; n++) {
		mem_set_fail_after(n);
		m = ml_metrics_classification(bin_y, p, 10, bin_classes, 2);
		mem_set_fail_after(-1);
		json_decref(m);
	}
	m = ml_metrics_classification(bin_y, p, 10, bin_classes, 2);
	assert_non_null(m);
	json_decref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_binary_matches_sklearn),
		cmocka_unit_test(test_metrics_multiclass_matches_sklearn),
		cmocka_unit_test(test_metrics_log_loss_clips_zero_probability),
		cmocka_unit_test(test_metrics_auc_all_ties_is_half),
		cmocka_unit_test(test_metrics_auc_undefined_with_one_class),
		cmocka_unit_test(test_metrics_macro_skips_absent_class),
		cmocka_unit_test(test_metrics_regression_matches_sklearn),
		cmocka_unit_test(test_metrics_r2_constant_target),
		cmocka_unit_test(test_metrics_get_rejects_unknown_names),
		cmocka_unit_test(test_metrics_direction),
		cmocka_unit_test(test_metrics_rejects_bad_class_index),
		cmocka_unit_test(test_metrics_survives_allocation_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

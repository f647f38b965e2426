/*
 * gate_test.c - unit tests for ml/gate: parsing METRIC=V specs and checking
 * min, max and max-drop gates against hand-written metrics objects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ml/gate.h"

static json_t *metrics(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	return j;
}

static void test_gate_parse_accepts_metric_and_value(void **state)
{
	struct err err = ERR_INIT;
	struct ml_gate g;

	assert_int_equal(ml_gate_parse(&g, ML_GATE_MIN, "accuracy=0.80", &err), 0);
	assert_string_equal(g.metric, "accuracy");
	assert_true(g.threshold == 0.80);
	assert_string_equal(g.threshold_text, "0.80");
	assert_int_equal(ml_gate_parse(&g, ML_GATE_MIN, "f1:yes=0.5", &err), 0);
	assert_string_equal(g.metric, "f1:yes");
	assert_int_equal(ml_gate_parse(&g, ML_GATE_MIN, "f1:a=b=1", &err), 0);
	assert_string_equal(g.metric, "f1:a=b");
	assert_int_equal(ml_gate_parse(&g, ML_GATE_MAX, "rmse=25000", &err), 0);
	assert_int_equal(ml_gate_parse(&g, ML_GATE_MAX_DROP, "auc=0.01", &err), 0);
	assert_int_equal(ml_gate_parse(&g, ML_GATE_MAX_DROP, "rmse=100", &err), 0);
	assert_int_equal(err.code, ERR_OK);
}

static void expect_parse_error(enum ml_gate_op op, const char *spec, const char *text)
{
	struct err err = ERR_INIT;
	struct ml_gate g;

	assert_int_equal(ml_gate_parse(&g, op, spec, &err), -1);
	assert_int_equal(err.code, ERR_USAGE);
	if (!strstr(err.msg, text))
		fail_msg("'%s': message '%s' lacks '%s'", spec, err.msg, text);
}

static void test_gate_parse_rejects_bad_specs(void **state)
{
	expect_parse_error(ML_GATE_MIN, "accuracy", "expected METRIC=VALUE");
	expect_parse_error(ML_GATE_MIN, "=0.8", "expected METRIC=VALUE");
	expect_parse_error(ML_GATE_MIN, "accuracy=", "expected METRIC=VALUE");
	expect_parse_error(ML_GATE_MIN, "acc=0.8", "unknown metric 'acc'");
	expect_parse_error(ML_GATE_MIN, "f1:=0.8", "unknown metric 'f1:'");
	expect_parse_error(ML_GATE_MIN, "support:yes=3", "unknown metric");
	expect_parse_error(ML_GATE_MIN, "accuracy=high", "'high' is not a number");
	expect_parse_error(ML_GATE_MIN, "accuracy=0.8x", "is not a number");
	expect_parse_error(ML_GATE_MIN, "accuracy=nan", "is not a number");
	expect_parse_error(ML_GATE_MIN, "accuracy=1e999", "is not a number");
	expect_parse_error(ML_GATE_MIN, "rmse=3", "use --max");
	expect_parse_error(ML_GATE_MAX, "auc=0.9", "use --min");
	expect_parse_error(ML_GATE_MAX_DROP, "auc=-0.1", "must be >= 0");
}

static void test_gate_min_and_max(void **state)
{
	json_t *m = metrics("{\"accuracy\": 0.78125, \"log_loss\": 0.4, "
			    "\"per_class\": {\"yes\": {\"f1\": 0.9}}}");
	struct err err = ERR_INIT;
	struct ml_gate g;
	json_t *r = NULL;
	char msg[256];

	assert_int_equal(ml_gate_parse(&g, ML_GATE_MIN, "accuracy=0.80", &err), 0);
	assert_int_equal(ml_gate_check(&g, m, NULL, &r, msg, sizeof(msg), &err), 0);
	assert_string_equal(msg, "accuracy 0.7812 < 0.80");
	assert_false(json_is_true(json_object_get(r, "passed")));
	assert_string_equal(json_string_value(json_object_get(r, "op")), "min");
	assert_true(json_real_value(json_object_get(r, "value")) == 0.78125);
	json_decref(r);

	assert_int_equal(ml_gate_parse(&g, ML_GATE_MIN, "accuracy=0.78125", &err), 0);
	assert_int_equal(ml_gate_check(&g, m, NULL, &r, msg, sizeof(msg), &err), 1);
	assert_string_equal(msg, "");
	assert_true(json_is_true(json_object_get(r, "passed")));
	json_decref(r);

	assert_int_equal(ml_gate_parse(&g, ML_GATE_MAX, "log_loss=0.3", &err), 0);
	assert_int_equal(ml_gate_check(&g, m, NULL, &r, msg, sizeof(msg), &err), 0);
	assert_string_equal(msg, "log_loss 0.4000 > 0.3");
	json_decref(r);

	assert_int_equal(ml_gate_parse(&g, ML_GATE_MIN, "f1:yes=0.85", &err), 0);
	assert_int_equal(ml_gate_check(&g, m, NULL, &r, msg, sizeof(msg), &err), 1);
	json_decref(r);
	assert_int_equal(err.code, ERR_OK);
	json_decref(m);
}

static void test_gate_max_drop_uses_direction(void **state)
{
	json_t *cand = metrics("{\"auc\": 0.90, \"rmse\": 110}");
	json_t *base = metrics("{\"auc\": 0.92, \"rmse\": 100}");
	struct err err = ERR_INIT;
	struct ml_gate g;
	json_t *r = NULL;
	char msg[256];

	/* auc drop 0.02 > 0.01 */
	assert_int_equal(ml_gate_parse(&g, ML_GATE_MAX_DROP, "auc=0.01", &err), 0);
	assert_int_equal(ml_gate_check(&g, cand, base, &r, msg, sizeof(msg), &err), 0);
	assert_string_equal(msg,
			    "auc dropped by 0.0200 > 0.01 (baseline 0.9200, candidate 0.9000)");
	assert_true(json_real_value(json_object_get(r, "baseline")) == 0.92);
	assert_true(json_real_value(json_object_get(r, "candidate")) == 0.90);
	json_decref(r);
	assert_int_equal(ml_gate_parse(&g, ML_GATE_MAX_DROP, "auc=0.03", &err), 0);
	assert_int_equal(ml_gate_check(&g, cand, base, &r, msg, sizeof(msg), &err), 1);
	json_decref(r);
	/* an improvement is a negative drop */
	assert_int_equal(ml_gate_check(&g, base, cand, &r, msg, sizeof(msg), &err), 1);
	assert_true(json_real_value(json_object_get(r, "value")) < 0);
	json_decref(r);

	/* rmse is lower-is-better: candidate 110 vs baseline 100 is a drop of 10 */
	assert_int_equal(ml_gate_parse(&g, ML_GATE_MAX_DROP, "rmse=5", &err), 0);
	assert_int_equal(ml_gate_check(&g, cand, base, &r, msg, sizeof(msg), &err), 0);
	assert_true(json_real_value(json_object_get(r, "value")) == 10);
	json_decref(r);
	assert_int_equal(ml_gate_parse(&g, ML_GATE_MAX_DROP, "rmse=10", &err), 0);
	assert_int_equal(ml_gate_check(&g, cand, base, &r, msg, sizeof(msg), &err), 1);
	json_decref(r);
	assert_int_equal(err.code, ERR_OK);
	json_decref(cand);
	json_decref(base);
}

static void test_gate_missing_metric_is_usage_error(void **state)
{
	json_t *m = metrics("{\"accuracy\": 0.9, \"per_class\": {\"yes\": {\"f1\": 0.9}}}");
	struct err err = ERR_INIT;
	struct ml_gate g;
	json_t *r = NULL;
	char msg[256];

	assert_int_equal(ml_gate_parse(&g, ML_GATE_MAX, "rmse=1", &err), 0);
	assert_int_equal(ml_gate_check(&g, m, NULL, &r, msg, sizeof(msg), &err), -1);
	assert_int_equal(err.code, ERR_USAGE);
	assert_string_equal(err.msg, "metric 'rmse' is not available for the evaluated model");
	assert_null(r);
	err_clear(&err);

	assert_int_equal(ml_gate_parse(&g, ML_GATE_MIN, "f1:maybe=0.5", &err), 0);
	assert_int_equal(ml_gate_check(&g, m, NULL, &r, msg, sizeof(msg), &err), -1);
	assert_non_null(strstr(err.msg, "'f1:maybe'"));
	err_clear(&err);

	assert_int_equal(ml_gate_parse(&g, ML_GATE_MAX_DROP, "accuracy=0.1", &err), 0);
	assert_int_equal(ml_gate_check(&g, m, NULL, &r, msg, sizeof(msg), &err), -1);
	assert_string_equal(err.msg, "--max-drop accuracy needs --baseline MODEL");
	json_decref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gate_parse_accepts_metric_and_value),
		cmocka_unit_test(test_gate_parse_rejects_bad_specs),
		cmocka_unit_test(test_gate_min_and_max),
		cmocka_unit_test(test_gate_max_drop_uses_direction),
		cmocka_unit_test(test_gate_missing_metric_is_usage_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

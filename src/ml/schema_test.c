/*
 * schema_test.c - unit tests for schema inference, its JSON round trip and
 * validation (ml/schema.h), on small frames built from CSV text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/mem.h"
#include "ml/frame.h"
#include "ml/schema.h"

static void load(struct ml_frame *f, const char *csv)
{
	struct err err = ERR_INIT;
	if (ml_frame_parse_csv(f, csv, strlen(csv), "t.csv", &err) < 0)
		fail_msg("%s", err.msg);
}

static void infer(struct ml_schema *s, const char *csv, const char *target, enum ml_task task)
{
	struct ml_frame f;
	struct err err = ERR_INIT;
	load(&f, csv);
	if (ml_schema_infer(s, &f, target, task, &err) < 0)
		fail_msg("%s", err.msg);
	ml_frame_release(&f);
}

static void expect_infer_error(const char *csv, const char *target, enum ml_task task,
			       const char *msg)
{
	struct ml_frame f;
	struct ml_schema s;
	struct err err = ERR_INIT;
	load(&f, csv);
	assert_int_equal(ml_schema_infer(&s, &f, target, task, &err), -1);
	if (!strstr(err.msg, msg))
		fail_msg("message '%s' lacks '%s'", err.msg, msg);
	assert_null(s.cols);
	ml_frame_release(&f);
}

static const char mixed[] = "num,cat,txt,y\n"
			    "1,a,the quick brown fox,yes\n"
			    "2,b,jumps over the lazy dog,no\n"
			    "3,a,,yes\n"
			    ",a,a b c d,no\n"
			    "4,c,one two three,yes\n";

static void test_schema_infers_kinds_and_stats(void **state)
{
	struct ml_schema s;
	const struct ml_column *num, *cat, *txt;
	infer(&s, mixed, NULL, ML_TASK_AUTO);
	assert_int_equal(s.ncols, 3);
	assert_int_equal(s.nrows, 5);
	num = ml_schema_col(&s, "num");
	cat = ml_schema_col(&s, "cat");
	txt = ml_schema_col(&s, "txt");
	assert_non_null(num);
	assert_int_equal(num->kind, ML_NUMERIC);
	assert_int_equal(num->count, 4);
	assert_int_equal(num->missing, 1);
	assert_float_equal(num->mean, 2.5, 1e-12);
	assert_float_equal(num->std, 1.118033988749895, 1e-12); /* population */
	assert_float_equal(num->min, 1, 0);
	assert_float_equal(num->max, 4, 0);
	assert_float_equal(num->quantile[5], 2.5, 1e-12);
	assert_float_equal(num->quantile[1], 1.3, 1e-12);
	assert_float_equal(num->bin_edge[0], 1, 0);
	assert_float_equal(num->bin_edge[10], 4, 0);
	assert_float_equal(num->bin_frac[0] + num->bin_frac[3] + num->bin_frac[6] +
				   num->bin_frac[9],
			   1, 1e-12);
	assert_int_equal(cat->kind, ML_CATEGORICAL);
	assert_int_equal(cat->ncats, 3);
	assert_string_equal(cat->cats[0], "a");
	assert_float_equal(cat->cat_frac[0], 0.6, 1e-12);
	assert_int_equal(txt->kind, ML_TEXT);
	assert_int_equal(txt->missing, 1);
	assert_float_equal(txt->tokens_mean, 4.0, 1e-12); /* 4, 5, 4, 3 */
	assert_int_equal(txt->vocab_size, 15);		  /* "the" twice */
	assert_int_equal(s.task, ML_TASK_CLASSIFICATION);
	assert_int_equal(s.nclasses, 2);
	assert_string_equal(s.classes[0], "no");
	assert_int_equal(ml_schema_class(&s, "yes"), 1);
	assert_int_equal(ml_schema_class(&s, "maybe"), -1);
	ml_schema_release(&s);
}

/*
 * Text statistics split tokens on any C-locale blank (space, tab, newline),
 * fold ASCII case only for the vocabulary, and count UTF-8 characters.
 */
static void test_schema_text_stats_split_on_blanks_and_fold_ascii(void **state)
{
	static const char csv[] = "txt,y\n"
				  "\"H\xc3\xa9llo  WORLD\tfoo\",a\n"
				  "hello world FOO bar,b\n"
				  "\" HELLO\nWorld  h\xc3\xa9llo \",a\n";
	struct ml_schema s;
	const struct ml_column *txt;
	infer(&s, csv, NULL, ML_TASK_AUTO);
	txt = ml_schema_col(&s, "txt");
	assert_non_null(txt);
	assert_int_equal(txt->kind, ML_TEXT);
	assert_float_equal(txt->tokens_mean, 10.0 / 3, 1e-12); /* 3, 4, 3 */
	assert_float_equal(txt->len_mean, 55.0 / 3, 1e-12);    /* 16, 19, 20 characters */
	/* h\xc3\xa9llo, world, foo, hello, bar: "H\xc3\xa9llo" folds to "h\xc3\xa9llo" */
	assert_int_equal(txt->vocab_size, 5);
	ml_schema_release(&s);
}

/* Order statistics of mixed signs and magnitudes (the sort behind them). */
static void test_schema_quantiles_of_mixed_values(void **state)
{
	struct ml_schema s;
	infer(&s, "x,y\n-5,a\n3,b\n-0.5,a\n1e10,b\n-1e-300,a\n0,b\n-7e12,a\n", NULL, ML_TASK_AUTO);
	assert_float_equal(s.cols[0].min, -7e12, 0);
	assert_float_equal(s.cols[0].max, 1e10, 0);
	assert_float_equal(s.cols[0].quantile[5], -1e-300, 0); /* the median of 7 */
	assert_float_equal(s.cols[0].quantile[ML_QUANTILES - 1], 1e10, 0);
	ml_schema_release(&s);
}

static void test_schema_task_from_target(void **state)
{
	struct ml_schema s;
	/* few distinct integers: classes, sorted byte-wise */
	infer(&s, "x,y\n1,10\n2,2\n3,10\n4,2\n", NULL, ML_TASK_AUTO);
	assert_int_equal(s.task, ML_TASK_CLASSIFICATION);
	assert_string_equal(s.classes[0], "10");
	assert_string_equal(s.classes[1], "2");
	ml_schema_release(&s);
	/* fractions: regression */
	infer(&s, "x,y\n1,1.5\n2,2.5\n3,1.5\n", "y", ML_TASK_AUTO);
	assert_int_equal(s.task, ML_TASK_REGRESSION);
	assert_int_equal(s.nclasses, 0);
	ml_schema_release(&s);
	/* forced classification of a numeric target */
	infer(&s, "x,y\n1,1.5\n2,2.5\n", "y", ML_TASK_CLASSIFICATION);
	assert_int_equal(s.nclasses, 2);
	ml_schema_release(&s);
}

static void test_schema_many_distinct_short_strings_are_text(void **state)
{
	struct ml_schema s;
	char csv[8192];
	size_t n = 0;
	n += (size_t)snprintf(csv + n, sizeof(csv) - n, "id,y\n");
	for (int i = 0; i < 60; i++)
		n += (size_t)snprintf(csv + n, sizeof(csv) - n, "w%d,%c\n", i, i % 2 ? 'a' : 'b');
	infer(&s, csv, NULL, ML_TASK_AUTO);
	assert_int_equal(s.cols[0].kind, ML_TEXT);
	ml_schema_release(&s);
}

static void test_schema_infer_errors(void **state)
{
	expect_infer_error("a,b\n1,x\n", "zz", ML_TASK_AUTO, "no target column 'zz'");
	expect_infer_error("a\n1\n2\n", NULL, ML_TASK_AUTO, "no input columns");
	expect_infer_error("a,b\n1,x\n2,x\n", NULL, ML_TASK_AUTO, "one class only ('x')");
	expect_infer_error("a,b\n1,x\n2,\n", NULL, ML_TASK_AUTO,
			   "t.csv:3: missing value in target column 'b'");
	expect_infer_error("a,b\n1,x\n2,y\n", NULL, ML_TASK_REGRESSION,
			   "t.csv:2: target column 'b' is not numeric");
}

/* A caller's subset of a frame may have no rows: an error, not a crash. */
static void test_schema_infer_refuses_an_empty_frame(void **state)
{
	struct ml_frame f;
	struct ml_schema s;
	struct err err = ERR_INIT;
	json_t *rep = NULL;
	size_t n;
	load(&f, "a,b\n1,x\n2,y\n");
	n = f.nrows;
	f.nrows = 0;
	assert_int_equal(ml_schema_infer(&s, &f, NULL, ML_TASK_AUTO, &err), -1);
	assert_non_null(strstr(err.msg, "has no data rows"));
	f.nrows = n;
	err_clear(&err);
	assert_int_equal(ml_schema_infer(&s, &f, NULL, ML_TASK_AUTO, &err), 0);
	f.nrows = 0;
	assert_int_equal(ml_schema_validate(&s, &f, &rep, &err), 0);
	json_decref(rep);
	ml_schema_release(&s);
	f.nrows = n;
	ml_frame_release(&f);
}

/* The fast path for plain decimals gives strtod's double, bit for bit. */
static void test_parse_number_matches_strtod(void **state)
{
	uint64_t x = 88172645463325252ULL;
	char buf[64];
	int i;
	(void)state;
	for (i = 0; i < 200000; i++) {
		double a, b;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		(void)snprintf(buf, sizeof(buf), "%s%.*f", (x >> 60) & 1 ? "-" : "",
			       (int)((x >> 56) % 8), (double)(x % 100000000000ULL) / 1000.0);
		assert_int_equal(ml_parse_number(buf, &a), 0);
		b = strtod(buf, NULL);
		assert_memory_equal(&a, &b, sizeof(a));
	}
}

static void test_parse_number(void **state)
{
	double v = 0;
	assert_int_equal(ml_parse_number("-1.5e3", &v), 0);
	assert_float_equal(v, -1500, 0);
	assert_int_equal(ml_parse_number(" 7 ", &v), 0);
	assert_int_equal(ml_parse_number(".5", &v), 0);
	assert_int_equal(ml_parse_number("1.", &v), 0);
	assert_int_equal(ml_parse_number("", &v), -1);
	assert_int_equal(ml_parse_number("nan", &v), -1);
	assert_int_equal(ml_parse_number("inf", &v), -1);
	assert_int_equal(ml_parse_number("0x10", &v), -1);
	assert_int_equal(ml_parse_number("1e999", &v), -1);
	assert_int_equal(ml_parse_number("1e", &v), -1);
	assert_int_equal(ml_parse_number("12abc", &v), -1);
	assert_int_equal(ml_parse_number("-", &v), -1);
}

static void test_schema_json_round_trip(void **state)
{
	struct ml_schema s, t;
	struct err err = ERR_INIT;
	json_t *a, *b;
	infer(&s, mixed, NULL, ML_TASK_AUTO);
	a = ml_schema_to_json(&s);
	assert_non_null(a);
	if (ml_schema_from_json(&t, a, &err) < 0)
		fail_msg("%s", err.msg);
	b = ml_schema_to_json(&t);
	assert_true(json_equal(a, b));
	assert_int_equal(t.ncols, 3);
	assert_float_equal(t.cols[0].quantile[1], 1.3, 1e-12);
	assert_string_equal(t.classes[1], "yes");
	json_decref(a);
	json_decref(b);
	ml_schema_release(&s);
	ml_schema_release(&t);
}

/* The schema's JSON text, exact (reals as %.17g). */
static char *schema_text(const struct ml_schema *s)
{
	json_t *j = ml_schema_to_json(s);
	char *t;
	assert_non_null(j);
	t = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	assert_non_null(t);
	return t;
}

/* Kinds first and statistics later give exactly the schema of one inference. */
static void test_schema_kinds_then_stats_equal_infer(void **state)
{
	static char big[1 << 16];
	const char *csvs[] = {mixed, big};
	size_t len = 0, i, r;
	(void)state;
	len += (size_t)snprintf(big, sizeof(big), "n,i,c,t,y\n");
	for (r = 0; r < 300; r++)
		len += (size_t)snprintf(big + len, sizeof(big) - len,
					"%s,%zu,%s,word%zu and more words %zu,%.3f\n",
					r % 11 == 0  ? ""
					: r % 7 == 0 ? "-2.5e3"
						     : "0.125",
					r * r % 17,
					r % 5 == 0 ? ""
					: r % 3	   ? "red"
						   : "blue",
					r % 13, r, (double)r * 1.5 + 0.25);
	for (i = 0; i < 2; i++) {
		struct ml_frame f;
		struct ml_schema a, b;
		struct err err = ERR_INIT;
		char *ta, *tb;
		load(&f, csvs[i]);
		assert_int_equal(ml_schema_infer(&a, &f, NULL, ML_TASK_AUTO, &err), 0);
		assert_int_equal(ml_schema_infer_kinds(&b, &f, NULL, ML_TASK_AUTO, &err), 0);
		assert_int_equal(b.ncols, a.ncols);
		for (r = 0; r < a.ncols; r++) {
			assert_int_equal(b.cols[r].kind, a.cols[r].kind);
			assert_int_equal(b.cols[r].count, a.cols[r].count);
			assert_int_equal(b.cols[r].missing, a.cols[r].missing);
		}
		assert_int_equal(ml_schema_infer_stats(&b, &f, &err), 0);
		ta = schema_text(&a);
		tb = schema_text(&b);
		assert_string_equal(ta, tb);
		free(ta);
		free(tb);
		ml_schema_release(&a);
		ml_schema_release(&b);
		ml_frame_release(&f);
	}
}

static void expect_json_error(const char *text, const char *msg)
{
	struct ml_schema s;
	struct err err = ERR_INIT;
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_int_equal(ml_schema_from_json(&s, j, &err), -1);
	if (!strstr(err.msg, msg))
		fail_msg("message '%s' lacks '%s'", err.msg, msg);
	json_decref(j);
}

static void test_schema_from_json_names_the_bad_field(void **state)
{
	static const char tgt[] = "\"target\":{\"name\":\"y\",\"kind\":\"categorical\","
				  "\"count\":2,\"missing\":0,\"categories\":{\"a\":0.5,\"b\":0.5}}";
	char buf[1024];
	expect_json_error("[]", "schema: expected a JSON object");
	expect_json_error("{\"version\":9}", "newer");
	expect_json_error("{\"version\":1,\"task\":\"x\"}", "schema: task");
	snprintf(buf, sizeof(buf),
		 "{\"version\":1,\"task\":\"classification\",\"nrows\":2,%s,\"columns\":"
		 "[{\"name\":\"x\",\"kind\":\"blob\",\"count\":1,\"missing\":0}],"
		 "\"classes\":[\"a\",\"b\"]}",
		 tgt);
	expect_json_error(buf, "schema: columns[0].kind");
	snprintf(buf, sizeof(buf),
		 "{\"version\":1,\"task\":\"regression\",\"nrows\":2,%s,\"columns\":"
		 "[{\"name\":\"x\",\"kind\":\"numeric\",\"count\":1,\"missing\":0,\"mean\":1,"
		 "\"std\":0,\"min\":1,\"max\":1,\"quantiles\":[1]}]}",
		 tgt);
	expect_json_error(buf, "schema: target.kind: a regression target is numeric");
	snprintf(buf, sizeof(buf),
		 "{\"version\":1,\"task\":\"classification\",\"nrows\":2,%s,\"columns\":"
		 "[{\"name\":\"x\",\"kind\":\"numeric\",\"count\":1,\"missing\":0,\"mean\":1,"
		 "\"std\":0,\"min\":1,\"max\":1,\"quantiles\":[1]}],\"classes\":[\"a\",\"b\"]}",
		 tgt);
	expect_json_error(buf, "schema: columns[0].quantiles: expected an array of 11");
	snprintf(buf, sizeof(buf),
		 "{\"version\":1,\"task\":\"classification\",\"nrows\":2,%s,\"columns\":"
		 "[{\"name\":\"x\",\"kind\":\"text\",\"count\":1,\"missing\":0,\"length_mean\":1,"
		 "\"length_std\":0,\"tokens_mean\":1,\"vocab_size\":1}],\"classes\":[\"b\",\"a\"]}",
		 tgt);
	expect_json_error(buf, "schema: classes[1]: not sorted");
}

/* Validates csv against the schema of `mixed`; returns the report. */
static json_t *validate(const char *csv, int want)
{
	struct ml_schema s;
	struct ml_frame f;
	struct err err = ERR_INIT;
	json_t *rep = NULL;
	int n;
	infer(&s, mixed, NULL, ML_TASK_AUTO);
	load(&f, csv);
	n = ml_schema_validate(&s, &f, &rep, &err);
	if (n != want)
		fail_msg("%d violations, expected %d: %s", n, want,
			 rep ? json_dumps(rep, 0) : err.msg);
	ml_frame_release(&f);
	ml_schema_release(&s);
	return rep;
}

static const char *check_of(json_t *rep, size_t i)
{
	return json_string_value(
		json_object_get(json_array_get(json_object_get(rep, "violations"), i), "check"));
}

static void test_validate_clean_data_passes(void **state)
{
	json_t *rep = validate("num,cat,txt\n2,a,some words here\n3,b,more\n,a,x\n4,a,y\n", 0);
	assert_true(json_is_true(json_object_get(rep, "ok")));
	assert_true(json_is_false(json_object_get(rep, "target_checked")));
	json_decref(rep);
}

static void test_validate_finds_each_violation(void **state)
{
	json_t *rep;
	rep = validate("cat,txt,extra\na,x,1\n", 2);
	assert_string_equal(check_of(rep, 0), "missing_column");
	assert_string_equal(check_of(rep, 1), "extra_column");
	json_decref(rep);
	rep = validate("num,cat,txt\n1,a,x\nabc,a,x\n", 1);
	assert_string_equal(check_of(rep, 0), "type");
	assert_non_null(
		strstr(json_string_value(json_object_get(
			       json_array_get(json_object_get(rep, "violations"), 0), "message")),
		       "first at t.csv:3: 'abc'"));
	json_decref(rep);
	rep = validate("num,cat,txt\n100,a,x\n", 1); /* range [1,4] +- 1.5 */
	assert_string_equal(check_of(rep, 0), "range");
	json_decref(rep);
	rep = validate("num,cat,txt\n5.5,a,x\n", 0); /* inside the margin */
	json_decref(rep);
	{ /* one unseen value in 200: a note, not a violation */
		char csv[4096];
		size_t n = (size_t)snprintf(csv, sizeof(csv), "num,cat,txt\n1,zz,x\n");
		for (int i = 0; i < 199; i++)
			n += (size_t)snprintf(csv + n, sizeof(csv) - n, "2,a,x\n");
		rep = validate(csv, 0);
		assert_int_equal(json_array_size(json_object_get(rep, "notes")), 1);
		json_decref(rep);
	}
	rep = validate("num,cat,txt\n1,zz,x\n", 1);
	assert_string_equal(check_of(rep, 0), "unseen_category");
	json_decref(rep);
	rep = validate("num,cat,txt\n,a,x\n,a,x\n", 1); /* 100% vs 20% missing */
	assert_string_equal(check_of(rep, 0), "missing_rate");
	json_decref(rep);
	rep = validate("num,cat,txt,y\n1,a,x,maybe\n", 1);
	assert_string_equal(check_of(rep, 0), "unseen_category");
	assert_true(json_is_true(json_object_get(rep, "target_checked")));
	json_decref(rep);
}

static void test_schema_survives_allocation_failure(void **state)
{
	int ok = 0;
	struct ml_frame f;
	load(&f, mixed);
	for (long n = 0; n < 2000 && !ok; n++) {
		struct ml_schema s;
		struct err err = ERR_INIT;
		json_t *rep = NULL;
		mem_set_fail_after(n);
		if (ml_schema_infer(&s, &f, NULL, ML_TASK_AUTO, &err) == 0) {
			int v = ml_schema_validate(&s, &f, &rep, &err);
			ml_schema_release(&s);
			json_decref(rep);
			if (v >= 0)
				ok = 1;
		}
		mem_set_fail_after(-1);
		if (!ok)
			assert_int_equal(err.code, ERR_NOMEM);
	}
	assert_true(ok);
	ml_frame_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_number_matches_strtod),
		cmocka_unit_test(test_schema_infers_kinds_and_stats),
		cmocka_unit_test(test_schema_text_stats_split_on_blanks_and_fold_ascii),
		cmocka_unit_test(test_schema_quantiles_of_mixed_values),
		cmocka_unit_test(test_schema_task_from_target),
		cmocka_unit_test(test_schema_many_distinct_short_strings_are_text),
		cmocka_unit_test(test_schema_infer_errors),
		cmocka_unit_test(test_schema_infer_refuses_an_empty_frame),
		cmocka_unit_test(test_parse_number),
		cmocka_unit_test(test_schema_json_round_trip),
		cmocka_unit_test(test_schema_kinds_then_stats_equal_infer),
		cmocka_unit_test(test_schema_from_json_names_the_bad_field),
		cmocka_unit_test(test_validate_clean_data_passes),
		cmocka_unit_test(test_validate_finds_each_violation),
		cmocka_unit_test(test_schema_survives_allocation_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

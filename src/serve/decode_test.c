/*
 * decode_test.c - unit tests for the request decoders of kiln serve, on
 * hand-built schemas (a one-text-column model and a tabular one): every
 * accepted shape, and the 400 message for each kind of bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "serve/decode.h"

static char *class_names[] = {(char *)"negative", (char *)"positive"};
static struct ml_column text_cols[] = {{.name = (char *)"text", .kind = ML_TEXT}};
static struct ml_column tab_cols[] = {{.name = (char *)"age", .kind = ML_NUMERIC},
				      {.name = (char *)"plan", .kind = ML_CATEGORICAL}};
static const struct ml_schema text_schema = {.ncols = 1,
					     .cols = text_cols,
					     .task = ML_TASK_CLASSIFICATION,
					     .nclasses = 2,
					     .classes = class_names};
static const struct ml_schema tab_schema = {.ncols = 2,
					    .cols = tab_cols,
					    .task = ML_TASK_CLASSIFICATION,
					    .nclasses = 2,
					    .classes = class_names};

typedef int (*decode_fn)(struct srv_rows *, const struct ml_schema *, const char *, size_t,
			 struct err *);

/* Decodes body; returns 0/-1 and leaves the message in err. */
static int decode(decode_fn fn, const struct ml_schema *s, const char *body, struct srv_rows *r,
		  struct err *err)
{
	err_clear(err);
	return fn(r, s, body, strlen(body), err);
}

static void expect_error(decode_fn fn, const struct ml_schema *s, const char *body, const char *msg)
{
	struct srv_rows r;
	struct err err = ERR_INIT;
	assert_int_equal(decode(fn, s, body, &r, &err), -1);
	if (!strstr(err.msg, msg))
		fail_msg("'%s': got '%s', want '%s'", body, err.msg, msg);
	srv_rows_release(&r);
}

static void test_predict_single_object(void **state)
{
	struct srv_rows r;
	struct err err = ERR_INIT;
	struct ml_cell cells[1];
	assert_int_equal(decode(srv_decode_predict, &text_schema,
				"{\"text\": \"I loved it\", \"extra\": 1}", &r, &err),
			 0);
	assert_true(r.single);
	assert_int_equal(r.n, 1);
	assert_int_equal(srv_rows_cells(&r, &text_schema, 0, cells, &err), 0);
	assert_int_equal(cells[0].kind, ML_CELL_STR);
	assert_int_equal(cells[0].len, 10);
	assert_memory_equal(cells[0].str, "I loved it", 10);
	srv_rows_release(&r);
}

static void test_predict_instances_mixed_forms(void **state)
{
	struct srv_rows r;
	struct err err = ERR_INIT;
	struct ml_cell cells[2];
	assert_int_equal(decode(srv_decode_predict, &tab_schema,
				"{\"instances\": [{\"age\": 3, \"plan\": \"pro\"}, [4.5, null], "
				"{\"age\": \"7\", \"plan\": \"free\"}]}",
				&r, &err),
			 0);
	assert_false(r.single);
	assert_int_equal(r.n, 3);
	assert_int_equal(srv_rows_cells(&r, &tab_schema, 1, cells, &err), 0);
	assert_int_equal(cells[0].kind, ML_CELL_NUM);
	assert_true(cells[0].num == 4.5);
	assert_int_equal(cells[1].kind, ML_CELL_MISSING);
	srv_rows_release(&r);
}

static void test_predict_errors_name_the_problem(void **state)
{
	expect_error(srv_decode_predict, &text_schema, "{\"text\": ", "malformed JSON at line 1");
	expect_error(srv_decode_predict, &text_schema, "[1]", "must be a JSON object, got array");
	expect_error(srv_decode_predict, &text_schema, "{\"txt\": \"a\"}", "missing field 'text'");
	expect_error(srv_decode_predict, &text_schema, "{\"text\": 5}",
		     "field 'text': expected a string, got number");
	expect_error(srv_decode_predict, &tab_schema, "{\"age\": true, \"plan\": \"a\"}",
		     "field 'age': expected a number, got boolean");
	expect_error(srv_decode_predict, &text_schema, "{\"instances\": 3}",
		     "expected \"instances\" to be a list");
	expect_error(srv_decode_predict, &text_schema, "{\"instances\": [\"ok\", {}]}",
		     "instances[1]: missing field 'text'");
	expect_error(srv_decode_predict, &tab_schema, "{\"instances\": [[1]]}",
		     "instances[0]: expected 2 values");
	expect_error(srv_decode_predict, &text_schema, "{\"text\": \"a\", \"text\": \"b\"}",
		     "duplicate object key");
}

static void test_v1_inputs_or_instances(void **state)
{
	struct srv_rows r;
	struct err err = ERR_INIT;
	assert_int_equal(
		decode(srv_decode_v1, &text_schema, "{\"instances\": [\"a\", \"b\"]}", &r, &err),
		0);
	assert_int_equal(r.n, 2);
	srv_rows_release(&r);
	assert_int_equal(
		decode(srv_decode_v1, &text_schema, "{\"inputs\": [{\"text\": \"a\"}]}", &r, &err),
		0);
	assert_int_equal(r.n, 1);
	srv_rows_release(&r);
	expect_error(srv_decode_v1, &text_schema, "{\"text\": \"a\"}", "missing field 'instances'");
}

static void test_v2_bytes_flat_and_nested(void **state)
{
	struct srv_rows r;
	struct err err = ERR_INIT;
	struct ml_cell cells[1];
	assert_int_equal(
		decode(srv_decode_v2, &text_schema,
		       "{\"id\": \"r1\", \"parameters\": {\"content_type\": \"str\"}, "
		       "\"inputs\": [{\"name\": \"input-0\", \"shape\": [2], \"datatype\": "
		       "\"BYTES\", \"data\": [\"a\", \"bb\"]}]}",
		       &r, &err),
		0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.id, "r1");
	assert_int_equal(srv_rows_cells(&r, &text_schema, 1, cells, &err), 0);
	assert_int_equal(cells[0].len, 2);
	srv_rows_release(&r);
	assert_int_equal(
		decode(srv_decode_v2, &text_schema,
		       "{\"inputs\": [{\"name\": \"text\", \"shape\": [2, 1], \"datatype\": "
		       "\"BYTES\", \"data\": [[\"a\"], [\"b\"]]}], \"outputs\": [{\"name\": "
		       "\"proba\"}, {\"name\": \"predict\"}]}",
		       &r, &err),
		0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.nout, 2);
	assert_int_equal(r.out[0], SRV_OUT_PROBA);
	assert_int_equal(r.out[1], SRV_OUT_LABEL);
	srv_rows_release(&r);
}

static void test_v2_tabular_one_tensor_per_column(void **state)
{
	struct srv_rows r;
	struct err err = ERR_INIT;
	struct ml_cell cells[2];
	assert_int_equal(
		decode(srv_decode_v2, &tab_schema,
		       "{\"inputs\": [{\"name\": \"plan\", \"shape\": [2], \"datatype\": "
		       "\"BYTES\", \"data\": [\"a\", \"b\"]}, {\"name\": \"age\", \"shape\": "
		       "[2], \"datatype\": \"FP32\", \"data\": [1, 2.5]}]}",
		       &r, &err),
		0);
	assert_int_equal(srv_rows_cells(&r, &tab_schema, 1, cells, &err), 0);
	assert_true(cells[0].num == 2.5);
	assert_memory_equal(cells[1].str, "b", 1);
	srv_rows_release(&r);
}

static void test_v2_errors_name_the_tensor(void **state)
{
	expect_error(srv_decode_v2, &text_schema, "{}", "missing field 'inputs'");
	expect_error(
		srv_decode_v2, &text_schema,
		"{\"inputs\": [{\"name\": \"text\", \"shape\": [2, 2], \"datatype\": \"BYTES\", "
		"\"data\": [\"a\", \"b\", \"c\", \"d\"]}]}",
		"shape must be [N] or [N, 1]");
	expect_error(srv_decode_v2, &text_schema,
		     "{\"inputs\": [{\"name\": \"text\", \"shape\": [3], \"datatype\": \"BYTES\", "
		     "\"data\": [\"a\", \"b\"]}]}",
		     "input 'text': shape needs 3 elements, got 2");
	expect_error(srv_decode_v2, &text_schema,
		     "{\"inputs\": [{\"name\": \"text\", \"shape\": [1], \"datatype\": \"FP16\", "
		     "\"data\": [1]}]}",
		     "unsupported datatype 'FP16'");
	expect_error(srv_decode_v2, &tab_schema,
		     "{\"inputs\": [{\"name\": \"age\", \"shape\": [1], \"datatype\": \"FP32\", "
		     "\"data\": [1]}]}",
		     "missing input 'plan'");
	expect_error(
		srv_decode_v2, &tab_schema,
		"{\"inputs\": [{\"name\": \"age\", \"shape\": [1], \"datatype\": \"FP32\", "
		"\"data\": [1]}, {\"name\": \"plan\", \"shape\": [2], \"datatype\": \"BYTES\", "
		"\"data\": [\"a\", \"b\"]}]}",
		"input 'plan' has 2 rows, expected 1");
	expect_error(srv_decode_v2, &text_schema,
		     "{\"inputs\": [{\"name\": \"text\", \"shape\": [1], \"datatype\": \"BYTES\", "
		     "\"data\": [\"a\"]}], \"outputs\": [{\"name\": \"nope\"}]}",
		     "unknown output 'nope'");
	expect_error(srv_decode_v2, &text_schema,
		     "{\"inputs\": [{\"name\": \"text\", \"shape\": [1], \"datatype\": \"BYTES\", "
		     "\"data\": [7]}]}",
		     "input 'text': BYTES data holds a number");
	expect_error(
		srv_decode_v2, &tab_schema,
		"{\"inputs\": [{\"name\": \"age\", \"shape\": [1], \"datatype\": \"INT64\", "
		"\"data\": [1.5]}, {\"name\": \"plan\", \"shape\": [1], \"datatype\": \"BYTES\", "
		"\"data\": [\"a\"]}]}",
		"input 'age': INT64 data holds 1.5");
	expect_error(
		srv_decode_v2, &tab_schema,
		"{\"inputs\": [{\"name\": \"age\", \"shape\": [1], \"datatype\": \"UINT8\", "
		"\"data\": [-1]}, {\"name\": \"plan\", \"shape\": [1], \"datatype\": \"BYTES\", "
		"\"data\": [\"a\"]}]}",
		"input 'age': UINT8 data holds -1");
	expect_error(srv_decode_v2, &text_schema,
		     "{\"inputs\": [{\"name\": \"text\", \"shape\": [1], \"datatype\": \"FP32\", "
		     "\"data\": [7]}]}",
		     "input 'text': element 0: expected a string, got number");
	expect_error(srv_decode_v2, &text_schema,
		     "{\"inputs\": [{\"name\": \"text\", \"shape\": [-1], \"datatype\": \"BYTES\", "
		     "\"data\": []}]}",
		     "shape[0] must be a non-negative integer");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_predict_single_object),
		cmocka_unit_test(test_predict_instances_mixed_forms),
		cmocka_unit_test(test_predict_errors_name_the_problem),
		cmocka_unit_test(test_v1_inputs_or_instances),
		cmocka_unit_test(test_v2_bytes_flat_and_nested),
		cmocka_unit_test(test_v2_tabular_one_tensor_per_column),
		cmocka_unit_test(test_v2_errors_name_the_tensor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

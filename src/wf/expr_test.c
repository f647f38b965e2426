/*
 * expr_test.c - unit tests for the ${{ }} expression language (expr.c):
 * literals, contexts, operators, GitHub's loose equality and coercion,
 * functions, templates, if: conditions and error positions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "wf/internal.h"

static json_t *make_ctx(void)
{
	json_error_t je;
	json_t *c = json_loads(
		"{\"github\": {\"event_name\": \"push\", \"ref\": \"refs/heads/main\","
		" \"event\": {\"commits\": [{\"id\": \"a\", \"msg\": \"x\"}, {\"id\": \"b\"}]}},"
		" \"env\": {\"NAME\": \"World\", \"EMPTY\": \"\", \"N\": \"42\"},"
		" \"matrix\": {\"os\": \"linux\", \"n\": 3, \"list\": [1, 2, 3]},"
		" \"steps\": {\"s1\": {\"outputs\": {\"v\": \"yes\"}, \"outcome\": \"success\"}},"
		" \"needs\": {\"build\": {\"result\": \"success\", \"outputs\": {\"x\": \"1\"}}},"
		" \"secrets\": {}, \"vars\": {}, \"inputs\": {\"flag\": true}}",
		0, &je);
	assert_non_null(c);
	return c;
}

/* Evaluates e and compares toJSON-free string form with want. */
static void check(const char *e, const char *want)
{
	struct wf_expr_ctx c = {make_ctx(), WF_ST_SUCCESS, NULL, NULL};
	struct err err = ERR_INIT;
	struct buf b = BUF_INIT;
	json_t *v = wf__expr_eval(e, strlen(e), &c, &err);
	if (!v)
		fail_msg("'%s' failed: %s", e, err.msg);
	if (json_is_string(v))
		buf_adds(&b, "'");
	wf__to_str(v, &b);
	if (json_is_string(v))
		buf_adds(&b, "'");
	if (strcmp(b.ptr, want) != 0)
		fail_msg("'%s' gave %s, want %s", e, b.ptr, want);
	buf_release(&b);
	json_decref(v);
	json_decref(c.ctx);
}

static void check_err(const char *e, const char *want)
{
	struct wf_expr_ctx c = {make_ctx(), WF_ST_SUCCESS, NULL, NULL};
	struct err err = ERR_INIT;
	json_t *v = wf__expr_eval(e, strlen(e), &c, &err);
	if (v)
		fail_msg("'%s' should fail", e);
	if (!strstr(err.msg, want))
		fail_msg("'%s': error '%s' lacks '%s'", e, err.msg, want);
	/* the syntax-only pass must agree on parse errors */
	json_decref(c.ctx);
}

static void test_expr_literals(void **state)
{
	check("true", "true");
	check("false", "false");
	check("null", "");
	check("42", "42");
	check("-3.5", "-3.5");
	check("0xff", "255");
	check("1e3", "1000");
	check("'it''s'", "'it's'");
	check("''", "''");
	check("  'a'  ", "'a'");
}

static void test_expr_contexts_and_access(void **state)
{
	check("env.NAME", "'World'");
	check("ENV.name", "'World'"); /* case-insensitive */
	check("env['NAME']", "'World'");
	check("matrix.n", "3");
	check("matrix.list[1]", "2");
	check("matrix.list[5]", "");
	check("matrix.missing.deeper", "");
	check("steps.s1.outputs.v", "'yes'");
	check("needs.build.result", "'success'");
	check("github.event.commits[0].id", "'a'");
	check("join(github.event.commits.*.id, '+')", "'a+b'");
	check("join(github.event.commits.*.msg)", "'x'");
	check("matrix", "Object");
	check("matrix.list", "Array");
	check("inputs.flag", "true");
}

static void test_expr_operators(void **state)
{
	check("!true", "false");
	check("!''", "true");
	check("!0", "true");
	check("1 < 2", "true");
	check("2 <= 2", "true");
	check("3 > 4", "false");
	check("'b' >= 'A'", "true");
	check("1 == 1 && 2 == 2", "true");
	check("env.EMPTY || 'default'", "'default'");
	check("env.NAME && 'yes'", "'yes'");
	check("env.EMPTY && 'yes'", "''");
	check("matrix.os == 'linux' && 'L' || 'other'", "'L'");
	check("(1 == 2) || (3 == 3)", "true");
	check("1 != 2", "true");
	check("!(1 == 1)", "false");
}

static void test_expr_loose_equality(void **state)
{
	check("'abc' == 'ABC'", "true");
	check("null == 0", "true");
	check("'' == 0", "true");
	check("'1' == 1", "true");
	check("' 1 ' == 1", "true");
	check("'x' == 0", "false");
	check("true == 1", "true");
	check("false == '0'", "true");
	check("env.N == 42", "true");
	check("matrix == matrix", "true");
	check("matrix.list == '1'", "false");
	check("'a' < 1", "false");
	check("null == false", "true");
	check("'0x10' == 16", "true");
}

static void test_expr_functions(void **state)
{
	check("contains('Hello', 'ELL')", "true");
	check("contains(matrix.list, 2)", "true");
	check("contains(matrix.list, '2')", "true");
	check("contains(matrix.list, 4)", "false");
	check("startsWith('Hello', 'he')", "true");
	check("endsWith('Hello', 'LO')", "true");
	check("endsWith('Hello', 'x')", "false");
	check("format('{0} {1}!', 'Hello', env.NAME)", "'Hello World!'");
	check("format('{{0}} {0}', 1)", "'{0} 1'");
	check("join(matrix.list)", "'1,2,3'");
	check("join(matrix.list, ', ')", "'1, 2, 3'");
	check("join('x', ',')", "'x'");
	check("toJSON(matrix.list)", "'[\n  1,\n  2,\n  3\n]'");
	check("toJSON('a')", "'\"a\"'");
	check("fromJSON('{\"a\": [1, 2]}').a[1]", "2");
	check("fromJSON('true')", "true");
	check("FROMJSON('3')", "3");
	check("success()", "true");
	check("failure()", "false");
	check("always()", "true");
	check("cancelled()", "false");
	check("hashFiles('x')", "''");
}

static void test_expr_errors_have_positions(void **state)
{
	check_err("1 +", "position 3");
	check_err("foo.bar", "unrecognized named-value 'foo'");
	check_err("nosuch()", "unknown function 'nosuch'");
	check_err("contains('a')", "wrong number of arguments");
	check_err("'abc", "unterminated string");
	check_err("(1 == 1", "expected ')'");
	check_err("env.", "property name");
	check_err("format('{5}', 1)", "out of range");
	check_err("fromJSON('{')", "fromJSON");
	check_err("1 2", "position 3: unexpected '2'");
	check_err("matrix[1", "expected ']'");
	check_err("12abc", "invalid number");
}

static void test_expr_short_circuit_skips_errors_at_runtime(void **state)
{
	/* the untaken side is parsed but not evaluated */
	check("false && fromJSON('{')", "false");
	check("true || fromJSON('{')", "true");
}

static void test_expr_deep_nesting_fails_cleanly(void **state)
{
	char e[400];
	memset(e, '(', 300);
	e[300] = '1';
	e[301] = '\0';
	check_err(e, "nested too deeply");
	memset(e, '!', 300);
	check_err(e, "nested too deeply");
}

static void test_tmpl_interpolates(void **state)
{
	struct wf_expr_ctx c = {make_ctx(), WF_ST_SUCCESS, NULL, NULL};
	struct err err = ERR_INIT;
	struct buf b = BUF_INIT;
	json_t *v;
	const char *s = "Hello ${{ env.NAME }}, n=${{ matrix.n }} ${{ '}}' }}";

	assert_int_equal(wf__tmpl_str(s, strlen(s), &c, &b, &err), 0);
	assert_string_equal(b.ptr, "Hello World, n=3 }}");
	buf_release(&b);
	v = wf__tmpl_value(" ${{ matrix.list }} ", 20, &c, &err);
	assert_true(json_is_array(v));
	json_decref(v);
	v = wf__tmpl_value("x${{ 1 }}", 9, &c, &err);
	assert_string_equal(json_string_value(v), "x1");
	json_decref(v);
	assert_int_equal(wf__tmpl_str("a ${{ 1 +", 9, &c, &b, &err), -1);
	assert_non_null(strstr(err.msg, "not closed"));
	err_clear(&err);
	assert_int_equal(wf__tmpl_str("a ${{ 1 + }}", 12, &c, &b, &err), -1);
	if (!strstr(err.msg, "position 9: unexpected '+'"))
		fail_msg("%s", err.msg);
	buf_release(&b);
	json_decref(c.ctx);
}

static void test_cond_adds_success(void **state)
{
	struct wf_expr_ctx c = {make_ctx(), WF_ST_FAILURE, NULL, NULL};
	struct err err = ERR_INIT;
	int r = -1;

	assert_int_equal(wf__cond("true", &c, &r, &err), 0);
	assert_int_equal(r, 0); /* success() && true, after a failure */
	assert_int_equal(wf__cond("failure()", &c, &r, &err), 0);
	assert_int_equal(r, 1);
	assert_int_equal(wf__cond("${{ always() }}", &c, &r, &err), 0);
	assert_int_equal(r, 1);
	assert_int_equal(wf__cond("", &c, &r, &err), 0);
	assert_int_equal(r, 0);
	c.status = WF_ST_SUCCESS;
	assert_int_equal(wf__cond("env.NAME == 'world'", &c, &r, &err), 0);
	assert_int_equal(r, 1);
	assert_int_equal(wf__cond("${{ env.EMPTY }}", &c, &r, &err), 0);
	assert_int_equal(r, 0);
	assert_int_equal(wf__cond("!cancelled() && needs.build.result == 'success'", &c, &r, &err),
			 0);
	assert_int_equal(r, 1);
	assert_int_equal(wf__cond("1 ==", &c, &r, &err), -1);
	assert_non_null(strstr(err.msg, "position"));
	json_decref(c.ctx);
}

static void test_has_status(void **state)
{
	assert_true(wf__expr_has_status("always()", 8));
	assert_true(wf__expr_has_status("x || failure ()", 15));
	assert_false(wf__expr_has_status("'always()'", 10));
	assert_false(wf__expr_has_status("env.success", 11));
}

static void test_expr_survives_allocation_failure(void **state)
{
	const char *e = "format('{0}-{1}', toJSON(matrix), join(matrix.list, ','))";
	long n;
	for (n = 0; n < 200; n++) {
		struct wf_expr_ctx c = {make_ctx(), WF_ST_SUCCESS, NULL, NULL};
		struct err err = ERR_INIT;
		json_t *v;
		mem_set_fail_after(n);
		v = wf__expr_eval(e, strlen(e), &c, &err);
		mem_set_fail_after(-1);
		json_decref(v);
		json_decref(c.ctx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expr_literals),
		cmocka_unit_test(test_expr_contexts_and_access),
		cmocka_unit_test(test_expr_operators),
		cmocka_unit_test(test_expr_loose_equality),
		cmocka_unit_test(test_expr_functions),
		cmocka_unit_test(test_expr_errors_have_positions),
		cmocka_unit_test(test_expr_short_circuit_skips_errors_at_runtime),
		cmocka_unit_test(test_expr_deep_nesting_fails_cleanly),
		cmocka_unit_test(test_tmpl_interpolates),
		cmocka_unit_test(test_cond_adds_success),
		cmocka_unit_test(test_has_status),
		cmocka_unit_test(test_expr_survives_allocation_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * cmd_test.c - unit tests for the step-to-runner text formats (cmd.c):
 * GITHUB_OUTPUT / GITHUB_ENV files with heredocs, workflow command lines,
 * dotenv files and masking; and matrix expansion (plan.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "wf/internal.h"

static json_t *kv(const char *text, int want_rc, const char *want_err)
{
	struct err err = ERR_INIT;
	json_t *o = json_object();
	int rc = wf__parse_kv_file(text, strlen(text), "GITHUB_OUTPUT", o, &err);
	assert_int_equal(rc, want_rc);
	if (want_err && !strstr(err.msg, want_err))
		fail_msg("error '%s' lacks '%s'", err.msg, want_err);
	return o;
}

static void test_kv_file_lines_and_heredocs(void **state)
{
	json_t *o = kv("a=1\r\nb=x=y\n\nm<<EOF\nline 1\nk=v\nEOF\nempty<<X\nX\nlast=z", 0, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "a")), "1");
	assert_string_equal(json_string_value(json_object_get(o, "b")), "x=y");
	assert_string_equal(json_string_value(json_object_get(o, "m")), "line 1\nk=v");
	assert_string_equal(json_string_value(json_object_get(o, "empty")), "");
	assert_string_equal(json_string_value(json_object_get(o, "last")), "z");
	json_decref(o);
	/* '=' before '<<' makes it a plain line */
	o = kv("x=a<<b\n", 0, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "x")), "a<<b");
	json_decref(o);
}

static void test_kv_file_errors_name_the_line(void **state)
{
	json_decref(kv("ok=1\nnoequals\n", -1, "GITHUB_OUTPUT:2: invalid format"));
	json_decref(kv("m<<EOF\nnever closed\n", -1, "GITHUB_OUTPUT:1: matching delimiter 'EOF'"));
	json_decref(kv("=v\n", -1, "empty name"));
	json_decref(kv("<<EOF\nEOF\n", -1, "invalid heredoc"));
}

static void test_command_parse(void **state)
{
	struct wf__command c;
	const char *l = "::set-output name=x%3Ay,other=a%2Cb::one%0Atwo%25";
	assert_int_equal(wf__command_parse(l, strlen(l), &c), 1);
	assert_string_equal(c.name, "set-output");
	assert_string_equal(json_string_value(json_object_get(c.props, "name")), "x:y");
	assert_string_equal(json_string_value(json_object_get(c.props, "other")), "a,b");
	assert_string_equal(c.msg.ptr, "one\ntwo%");
	wf__command_release(&c);
	l = "  ::add-mask::secret  ";
	assert_int_equal(wf__command_parse(l, strlen(l), &c), 1);
	assert_string_equal(c.name, "add-mask");
	assert_string_equal(c.msg.ptr, "secret");
	wf__command_release(&c);
	l = "::endgroup::";
	assert_int_equal(wf__command_parse(l, strlen(l), &c), 1);
	assert_string_equal(c.msg.ptr, "");
	wf__command_release(&c);
	assert_int_equal(wf__command_parse("plain text", 10, &c), 0);
	assert_int_equal(wf__command_parse(":: no name", 10, &c), 0);
	assert_int_equal(wf__command_parse("::unterminated", 14, &c), 0);
}

static void test_dotenv(void **state)
{
	struct err err = ERR_INIT;
	json_t *o = json_object();
	const char *t = "# comment\nA=plain value\nexport B=\"x\\ny\"\nC='lit\\n'\n"
			"J={\"foo\": \"bar\"}\nD=v # trailing comment\n";
	assert_int_equal(wf__dotenv_parse(t, strlen(t), "f.env", o, &err), 0);
	assert_string_equal(json_string_value(json_object_get(o, "A")), "plain value");
	assert_string_equal(json_string_value(json_object_get(o, "B")), "x\ny");
	assert_string_equal(json_string_value(json_object_get(o, "C")), "lit\\n");
	assert_string_equal(json_string_value(json_object_get(o, "J")), "{\"foo\": \"bar\"}");
	assert_string_equal(json_string_value(json_object_get(o, "D")), "v");
	assert_int_equal(wf__dotenv_parse("novalue\n", 8, "f.env", o, &err), -1);
	assert_non_null(strstr(err.msg, "f.env:1: expected KEY=VALUE"));
	json_decref(o);
}

static void test_masks(void **state)
{
	struct wf__masks m = {NULL, 0, 0};
	struct buf b = BUF_INIT;
	const char *line = "tok=abc abcdef and line2 end";
	assert_int_equal(wf__mask_add(&m, "abc"), 0);
	assert_int_equal(wf__mask_add(&m, "abcdef"), 0);
	assert_int_equal(wf__mask_add(&m, "line1\nline2"), 0);
	assert_int_equal(wf__mask_add(&m, ""), 0);
	assert_int_equal(wf__mask_apply(&m, line, strlen(line), &b), 0);
	assert_string_equal(b.ptr, "tok=*** *** and *** end");
	buf_release(&b);
	wf__masks_release(&m);
}

static json_t *expand(const char *matrix_json, const char *want_err)
{
	struct err err = ERR_INIT;
	json_t *m = json_loads(matrix_json, 0, NULL), *r;
	assert_non_null(m);
	r = wf__matrix_expand(m, &err);
	json_decref(m);
	if (want_err) {
		assert_null(r);
		if (!strstr(err.msg, want_err))
			fail_msg("error '%s' lacks '%s'", err.msg, want_err);
	} else if (!r) {
		fail_msg("%s", err.msg);
	}
	return r;
}

static void test_matrix_product_exclude_include(void **state)
{
	json_t *r = expand("{\"os\": [\"a\", \"b\"], \"n\": [1, 2],"
			   " \"exclude\": [{\"os\": \"b\", \"n\": 2}],"
			   " \"include\": [{\"os\": \"a\", \"x\": 1}, {\"os\": \"c\", \"n\": 9}]}",
			   NULL);
	char *s = json_dumps(r, JSON_COMPACT);
	assert_string_equal(s, "[{\"os\":\"a\",\"n\":1,\"x\":1},{\"os\":\"a\",\"n\":2,\"x\":1},"
			       "{\"os\":\"b\",\"n\":1},{\"os\":\"c\",\"n\":9}]");
	free(s);
	json_decref(r);
	r = expand("{\"include\": [{\"a\": 1}, {\"b\": 2}]}", NULL);
	assert_int_equal(json_array_size(r), 2);
	json_decref(r);
	json_decref(expand("{\"x\": []}", "has no values"));
	json_decref(expand("{\"x\": 1}", "must be a list"));
	json_decref(expand("{\"exclude\": [{\"x\": 1}]}", "no combinations"));
	json_decref(expand("{\"a\": [1,2,3,4,5,6,7,8], \"b\": [1,2,3,4,5,6,7,8],"
			   " \"c\": [1,2,3,4,5,6,7,8]}",
			   "more than"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv_file_lines_and_heredocs),
		cmocka_unit_test(test_kv_file_errors_name_the_line),
		cmocka_unit_test(test_command_parse),
		cmocka_unit_test(test_dotenv),
		cmocka_unit_test(test_masks),
		cmocka_unit_test(test_matrix_product_exclude_include),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

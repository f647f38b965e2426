/*
 * parse_test.c - unit tests for loading and validating workflow files
 * (yaml.c, parse.c): the tree, and every rejection with its file:line:col.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "wf/internal.h"

static void expect_error(const char *yaml, const char *want)
{
	struct err err = ERR_INIT;
	struct wf *wf = wf_load_mem(yaml, strlen(yaml), "ci.yml", &err);
	if (wf) {
		wf_free(wf);
		fail_msg("accepted, expected error '%s'", want);
	}
	if (!strstr(err.msg, want))
		fail_msg("error '%s' lacks '%s'", err.msg, want);
}

static const char ok_wf[] = "name: ci\n"
			    "on: [push, pull_request]\n"
			    "env:\n  A: 1\n"
			    "defaults:\n  run:\n    shell: sh\n"
			    "jobs:\n"
			    "  build:\n"
			    "    runs-on: ubuntu-latest\n"
			    "    steps:\n"
			    "      - id: one\n"
			    "        run: echo ${{ env.A }}\n"
			    "      - uses: actions/checkout@v4\n"
			    "        with: {fetch-depth: 0}\n"
			    "  test:\n"
			    "    needs: build\n"
			    "    if: success()\n"
			    "    strategy:\n"
			    "      matrix:\n"
			    "        py: ['3.11', '3.12']\n"
			    "    steps:\n"
			    "      - run: true\n"
			    "        timeout-minutes: 1\n";

static void test_parse_accepts_valid_workflow(void **state)
{
	struct err err = ERR_INIT;
	struct wf *wf = wf_load_mem(ok_wf, strlen(ok_wf), "ci.yml", &err);
	if (!wf)
		fail_msg("%s", err.msg);
	assert_non_null(wf);
	assert_string_equal(wf->name, "ci");
	assert_string_equal(wf->shell, "sh");
	assert_int_equal(wf->n_jobs, 2);
	assert_string_equal(wf->jobs[0].id, "build");
	assert_int_equal(wf->jobs[0].n_steps, 2);
	assert_string_equal(wf->jobs[0].steps[0].id, "one");
	assert_string_equal(wf->jobs[0].steps[1].uses, "actions/checkout@v4");
	assert_int_equal(wf->jobs[1].n_needs, 1);
	assert_string_equal(wf->jobs[1].needs[0], "build");
	assert_non_null(wf->jobs[1].matrix);
	assert_true(wf_on_event(wf, "push"));
	assert_true(wf_on_event(wf, "pull_request"));
	assert_false(wf_on_event(wf, "release"));
	assert_ptr_equal(wf_job_find(wf, "test"), &wf->jobs[1]);
	wf_free(wf);
}

static void test_parse_rejects_yaml_errors_with_position(void **state)
{
	expect_error("on: push\njobs: [\n", "ci.yml:3:1:");
	expect_error("on: push\n  bad: indent\n", "ci.yml:2:");
	expect_error("", "empty workflow");
	expect_error("- a\n", "must be a mapping");
	expect_error("on: push\non: pull\njobs: {}\n", "ci.yml:2:1: duplicate key 'on'");
}

static void test_parse_rejects_unknown_keys(void **state)
{
	expect_error("on: push\njobs:\n  a:\n    runs_on: x\n    steps: [{run: x}]\n",
		     "ci.yml:4:5: unknown key 'runs_on' in job 'a'");
	expect_error("on: push\nfoo: 1\njobs: {a: {steps: [{run: x}]}}\n",
		     "ci.yml:2:1: unknown key 'foo'");
	expect_error("on: push\njobs:\n  a:\n    steps:\n      - run: x\n        bogus: 1\n",
		     "ci.yml:6:9: unknown key 'bogus' in step 0");
}

static void test_parse_rejects_wrong_types(void **state)
{
	expect_error("on: push\njobs:\n  a:\n    steps: x\n", "'steps' must be a sequence");
	expect_error("on: push\njobs:\n  a:\n    env: [1]\n    steps: [{run: x}]\n",
		     "'env' must be a mapping");
	expect_error("on: push\njobs:\n  a:\n    timeout-minutes: soon\n    steps: [{run: x}]\n",
		     "'timeout-minutes' must be a number");
	expect_error("on: push\njobs:\n  a:\n    steps:\n      - run: [x]\n",
		     "'run' must be a scalar");
	expect_error("on: push\njobs:\n  a:\n    strategy:\n      matrix:\n        x: 1\n"
		     "    steps: [{run: x}]\n",
		     "matrix key 'x' must be a sequence");
}

static void test_parse_rejects_bad_steps(void **state)
{
	expect_error("on: push\njobs:\n  a:\n    steps:\n      - run: x\n        uses: y\n",
		     "ci.yml:5:9: step 0 has both 'run' and 'uses'");
	expect_error("on: push\njobs:\n  a:\n    steps:\n      - name: x\n",
		     "needs 'run' or 'uses'");
	expect_error("on: push\njobs:\n  a:\n    steps:\n      -\n      - run: x\n", "is empty");
	expect_error("on: push\njobs:\n  a.b:\n    steps: [{run: x}]\n", "invalid job id 'a.b'");
}

static void test_parse_rejects_needs_problems(void **state)
{
	expect_error("on: push\njobs:\n  a:\n    needs: nope\n    steps: [{run: x}]\n",
		     "ci.yml:4:12: job 'a' needs 'nope', which does not exist");
	expect_error("on: push\njobs:\n"
		     "  a:\n    needs: c\n    steps: [{run: x}]\n"
		     "  b:\n    needs: a\n    steps: [{run: x}]\n"
		     "  c:\n    needs: [b]\n    steps: [{run: x}]\n",
		     "cyclic needs: a -> c -> b -> a");
	expect_error("on: push\njobs:\n  a:\n    needs: a\n    steps: [{run: x}]\n",
		     "cyclic needs: a -> a");
}

static void test_parse_rejects_bad_expressions(void **state)
{
	expect_error("on: push\njobs:\n  a:\n    steps:\n      - run: echo ${{ env. }}\n",
		     "ci.yml:5:14: invalid expression");
	expect_error("on: push\njobs:\n  a:\n    steps:\n      - run: echo ${{ 1\n",
		     "without a closing");
	expect_error("on: push\njobs:\n  a:\n    if: foo == 1\n    steps: [{run: x}]\n",
		     "unrecognized named-value 'foo'");
	expect_error("on: push\njobs:\n  a:\n    steps:\n      - if: contains(1)\n        run: x\n",
		     "wrong number of arguments");
}

static void test_parse_limits_aliases(void **state)
{
	/* billion laughs: each level doubles */
	const char *y = "a: &a [x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
			"c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n"
			"d: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
			"e: &e [*d, *d, *d, *d, *d, *d, *d, *d]\n"
			"f: &f [*e, *e, *e, *e, *e, *e, *e, *e]\n"
			"g: [*f, *f, *f, *f, *f, *f, *f, *f]\n";
	expect_error(y, "more than");
	expect_error("a: &a [*a]\n", "");
}

static void test_parse_survives_allocation_failure(void **state)
{
	long n;
	for (n = 0; n < 400; n++) {
		struct err err = ERR_INIT;
		struct wf *wf;
		mem_set_fail_after(n);
		wf = wf_load_mem(ok_wf, strlen(ok_wf), "ci.yml", &err);
		mem_set_fail_after(-1);
		wf_free(wf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts_valid_workflow),
		cmocka_unit_test(test_parse_rejects_yaml_errors_with_position),
		cmocka_unit_test(test_parse_rejects_unknown_keys),
		cmocka_unit_test(test_parse_rejects_wrong_types),
		cmocka_unit_test(test_parse_rejects_bad_steps),
		cmocka_unit_test(test_parse_rejects_needs_problems),
		cmocka_unit_test(test_parse_rejects_bad_expressions),
		cmocka_unit_test(test_parse_limits_aliases),
		cmocka_unit_test(test_parse_survives_allocation_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

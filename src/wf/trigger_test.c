/*
 * trigger_test.c - unit tests for push filters (trigger.c): GitHub's
 * pattern syntax and the branches/tags/paths rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wf/internal.h"

static void test_glob_patterns(void **state)
{
	assert_true(wf__glob_match("main", "main"));
	assert_false(wf__glob_match("main", "mainline"));
	assert_true(wf__glob_match("feature/*", "feature/x"));
	assert_false(wf__glob_match("feature/*", "feature/x/y"));
	assert_true(wf__glob_match("feature/**", "feature/x/y"));
	assert_true(wf__glob_match("**.js", "a/b/c.js"));
	assert_true(wf__glob_match("**/README.md", "README.md"));
	assert_true(wf__glob_match("**/README.md", "docs/README.md"));
	assert_true(wf__glob_match("docs/**", "docs/a/b.md"));
	assert_true(wf__glob_match("v[12].[0-9]+.*", "v1.10.3"));
	assert_false(wf__glob_match("v[12].[0-9]+.*", "v3.1.0"));
	assert_true(wf__glob_match("releases/v?1", "releases/1"));
	assert_true(wf__glob_match("releases/v?1", "releases/v1"));
	assert_true(wf__glob_match("a\\*b", "a*b"));
	assert_false(wf__glob_match("a\\*b", "axb"));
	assert_true(wf__glob_match("*", "anything"));
	assert_false(wf__glob_match("*", "a/b"));
}

/* found by fuzz_wf_files: many stars made the matcher exponential */
static void test_glob_backtracking_is_bounded(void **state)
{
	char pat[200], s[200];
	memset(pat, 0, sizeof(pat));
	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	size_t i;
	for (i = 0; i + 4 < sizeof(pat); i += 3)
		memcpy(pat + i, "**a", 3);
	pat[i] = 'b';
	assert_false(wf__glob_match(pat, s));
}

static int triggers(const char *yaml, const char *ref, int tag, const char **paths, size_t n)
{
	struct err err = ERR_INIT;
	struct wf *wf = wf_load_mem(yaml, strlen(yaml), "t.yml", &err);
	struct wf_push p;
	int r;
	if (!wf)
		fail_msg("%s", err.msg);
	memset(&p, 0, sizeof(p));
	snprintf(p.ref_name, sizeof(p.ref_name), "%s", ref);
	p.is_tag = tag;
	p.paths = (char **)paths;
	p.n_paths = n;
	r = wf_on_push(wf, &p);
	wf_free(wf);
	return r;
}

#define JOBS "jobs:\n  a:\n    steps: [{run: x}]\n"

static void test_push_filters(void **state)
{
	const char *src[] = {"src/main.c", "README.md"};
	const char *docs[] = {"docs/a.md", "README.md"};
	assert_true(triggers("on: push\n" JOBS, "dev", 0, src, 2));
	assert_false(triggers("on: pull_request\n" JOBS, "dev", 0, src, 2));
	assert_true(triggers("on:\n  push:\n    branches: [main, 'rel/**']\n" JOBS, "rel/1/x", 0,
			     src, 2));
	assert_false(triggers("on:\n  push:\n    branches: [main]\n" JOBS, "dev", 0, src, 2));
	assert_false(
		triggers("on:\n  push:\n    branches: ['**', '!dev']\n" JOBS, "dev", 0, src, 2));
	assert_true(triggers("on:\n  push:\n    branches-ignore: [dev]\n" JOBS, "main", 0, src, 2));
	assert_false(triggers("on:\n  push:\n    branches-ignore: [dev]\n" JOBS, "dev", 0, src, 2));
	/* naming only branches leaves tag pushes out, and the other way round */
	assert_false(triggers("on:\n  push:\n    branches: ['*']\n" JOBS, "v1", 1, src, 2));
	assert_true(triggers("on:\n  push:\n    tags: ['v*']\n" JOBS, "v1", 1, src, 2));
	assert_false(triggers("on:\n  push:\n    tags: ['v*']\n" JOBS, "main", 0, src, 2));
	assert_true(triggers("on:\n  push:\n    paths: ['src/**']\n" JOBS, "main", 0, src, 2));
	assert_false(triggers("on:\n  push:\n    paths: ['src/**']\n" JOBS, "main", 0, docs, 2));
	assert_false(triggers("on:\n  push:\n    paths-ignore: ['docs/**', '*.md']\n" JOBS, "main",
			      0, docs, 2));
	assert_true(
		triggers("on:\n  push:\n    paths-ignore: ['docs/**']\n" JOBS, "main", 0, src, 2));
	assert_false(triggers("on:\n  push:\n    paths: ['**', '!**.md', '!docs/**']\n" JOBS,
			      "main", 0, docs, 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob_patterns),
		cmocka_unit_test(test_glob_backtracking_is_bounded),
		cmocka_unit_test(test_push_filters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * fuzz_wf_expr.c - libFuzzer target for ${{ }} expressions: evaluates the
 * input as a template and as a condition against a fixed set of contexts,
 * and checks that the syntax-only pass agrees with evaluation on parse errors.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "wf/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char ctx_json[] =
		"{\"github\": {\"event\": {\"a\": [{\"b\": 1}, {\"b\": \"x\"}]}, \"ref\": "
		"\"main\"},"
		" \"env\": {\"A\": \"1\", \"E\": \"\"}, \"matrix\": {\"m\": [1, 2]},"
		" \"steps\": {}, \"needs\": {}}";
	struct wf_expr_ctx c = {NULL, WF_ST_SUCCESS, NULL, NULL};
	struct err err = ERR_INIT, err2 = ERR_INIT;
	struct buf out = BUF_INIT;
	char *s;
	json_t *v, *chk;
	int r;

	c.ctx = json_loads(ctx_json, 0, NULL);
	s = mem_strndup((const char *)data, size);
	if (!c.ctx || !s)
		goto out;
	v = wf__expr_eval(s, strlen(s), &c, &err);
	chk = wf__expr_eval(s, strlen(s), NULL, &err2);
	/* A syntax error is a syntax error whether or not values are computed. */
	if (!chk && err2.code == ERR_PARSE && v)
		abort();
	json_decref(v);
	json_decref(chk);
	(void)wf__tmpl_str(s, strlen(s), &c, &out, &err);
	(void)wf__cond(s, &c, &r, &err);
out:
	buf_release(&out);
	mem_free(s);
	json_decref(c.ctx);
	return 0;
}

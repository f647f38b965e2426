/*
 * fuzz_wf_files.c - libFuzzer target for the text a step hands back to the
 * runner: GITHUB_OUTPUT / GITHUB_ENV files (heredocs), "::command::" lines,
 * dotenv files (--secret-file, --env-file), masking of the results, and
 * push filter patterns (first line: pattern, rest: the string matched).
 */
#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"
#include "wf/internal.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct err err = ERR_INIT;
	struct wf__command c;
	struct wf__masks m = {NULL, 0, 0};
	struct buf out = BUF_INIT;
	json_t *o = json_object(), *d = json_object();
	const char *k;
	json_t *v;

	if (!o || !d)
		goto out;
	(void)wf__parse_kv_file(s, size, "fuzz", o, &err);
	err_clear(&err);
	(void)wf__dotenv_parse(s, size, "fuzz", d, &err);
	if (wf__command_parse(s, size, &c))
		wf__command_release(&c);
	json_object_foreach(d, k, v)
	{
		(void)wf__mask_add(&m, json_string_value(v));
	}
	(void)wf__mask_apply(&m, s, size, &out);
	{
		char *pat = mem_strndup(s, size), *nl;
		if (pat && (nl = strchr(pat, '\n'))) {
			*nl = '\0';
			(void)wf__glob_match(pat, nl + 1);
		}
		mem_free(pat);
	}
out:
	wf__masks_release(&m);
	buf_release(&out);
	json_decref(o);
	json_decref(d);
	return 0;
}

/*
 * runs.c - `kiln runs ls|show|logs`: the runs `kiln run` kept under
 * .kiln/runs/N/ (summary.json, log.txt, step-summary.md, artifacts/).
 * Read-only; it never changes a run.
 */
#include "base/buf.h"
#include "base/mem.h"
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RUNS_DIR ".kiln/runs"

const char cmd_runs_usage[] =
	"usage: kiln runs ls [--json]\n"
	"       kiln runs show N\n"
	"       kiln runs logs N\n"
	"\n"
	"Lists the workflow runs kept in .kiln/runs/ of the current directory,\n"
	"shows one run's jobs and artifacts, or prints its log.\n";

/* N > 0 from text, or -1. */
static long run_number(const char *s)
{
	char *end;
	long n;
	errno = 0;
	n = strtol(s, &end, 10);
	return errno || *end || n <= 0 ? -1 : n;
}

static json_t *load_summary(long n, struct err *err)
{
	char path[256];
	json_error_t je;
	json_t *s;
	snprintf(path, sizeof(path), RUNS_DIR "/%ld/summary.json", n);
	s = json_load_file(path, 0, &je);
	if (!s)
		err_set(err, ERR_NOTFOUND, "no run %ld (%s: %s)", n, path, je.text);
	return s;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? -1 : x > y;
}

static int runs_ls(int json)
{
	DIR *d = opendir(RUNS_DIR);
	struct dirent *de;
	long *ids = NULL, n;
	size_t cnt = 0, i;
	json_t *all = json ? json_array() : NULL;

	if (!d) {
		if (json)
			printf("[]\n");
		else
			printf("%-6s %-10s %s\n", "run", "result", "workflow");
		json_decref(all);
		return EXIT_OK; /* no runs yet */
	}
	while ((de = readdir(d))) {
		long *nv;
		if ((n = run_number(de->d_name)) < 0)
			continue;
		nv = mem_reallocarray(ids, cnt + 1, sizeof(*ids));
		if (!nv) {
			closedir(d);
			mem_free(ids);
			json_decref(all);
			fprintf(stderr, "kiln: error: out of memory\n");
			return EXIT_FAILED;
		}
		ids = nv;
		ids[cnt++] = n;
	}
	closedir(d);
	if (cnt)
		qsort(ids, cnt, sizeof(*ids), cmp_long);
	if (!json)
		printf("%-6s %-10s %s\n", "run", "result", "workflow");
	for (i = 0; i < cnt; i++) {
		struct err err = ERR_INIT;
		json_t *s = load_summary(ids[i], &err);
		const char *wf = s ? json_string_value(json_object_get(s, "workflow")) : NULL;
		const char *res = s ? json_string_value(json_object_get(s, "result")) : NULL;
		if (json) {
			json_t *e =
				json_pack("{s:I, s:s, s:s}", "run", (json_int_t)ids[i], "workflow",
					  wf ? wf : "", "result", res ? res : "unfinished");
			if (e)
				json_array_append_new(all, e);
		} else {
			printf("%-6ld %-10s %s\n", ids[i], res ? res : "unfinished", wf ? wf : "");
		}
		json_decref(s);
	}
	if (json && json_dumpf(all, stdout, JSON_INDENT(2)) == 0)
		putchar('\n');
	json_decref(all);
	mem_free(ids);
	return EXIT_OK;
}

static int runs_show(long n)
{
	struct err err = ERR_INIT;
	json_t *s = load_summary(n, &err), *jobs, *j;
	char path[256];
	DIR *d;
	struct dirent *de;
	size_t i;

	if (!s)
		return cli_fail(&err);
	printf("run %ld: %s (%s, event %s)\n", n, json_string_value(json_object_get(s, "workflow")),
	       json_string_value(json_object_get(s, "result")),
	       json_string_value(json_object_get(s, "event")));
	jobs = json_object_get(s, "jobs");
	json_array_foreach(jobs, i, j)
	{
		printf("  %-40s %-10s %8.2fs\n", json_string_value(json_object_get(j, "job")),
		       json_string_value(json_object_get(j, "result")),
		       json_number_value(json_object_get(j, "seconds")));
	}
	snprintf(path, sizeof(path), RUNS_DIR "/%ld/artifacts", n);
	d = opendir(path);
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			printf("  artifact %s (%s/%s)\n", de->d_name, path, de->d_name);
	if (d)
		closedir(d);
	json_decref(s);
	return EXIT_OK;
}

static int runs_logs(long n)
{
	struct err err = ERR_INIT;
	struct buf b = BUF_INIT;
	char path[256];
	snprintf(path, sizeof(path), RUNS_DIR "/%ld/log.txt", n);
	if (buf_read_file(&b, path, 0) < 0) {
		err_set(&err, ERR_NOTFOUND, "no log for run %ld: cannot read '%s': %s", n, path,
			strerror(errno));
		return cli_fail(&err);
	}
	(void)fwrite(b.ptr, 1, b.len, stdout); /* main checks ferror(stdout) */
	buf_release(&b);
	return EXIT_OK;
}

int cmd_runs(int argc, char **argv)
{
	long n;
	if (argc < 2)
		return cli_usage_error("runs", "missing subcommand (ls, show, logs)");
	if (strcmp(argv[1], "ls") == 0) {
		if (argc > 3 || (argc == 3 && strcmp(argv[2], "--json") != 0))
			return cli_usage_error("runs", "unexpected argument '%s'", argv[argc - 1]);
		return runs_ls(argc == 3);
	}
	if (strcmp(argv[1], "show") == 0 || strcmp(argv[1], "logs") == 0) {
		if (argc != 3)
			return cli_usage_error("runs", "'%s' needs a run number", argv[1]);
		n = run_number(argv[2]);
		if (n < 0)
			return cli_usage_error("runs", "invalid run number '%s'", argv[2]);
		return argv[1][0] == 's' ? runs_show(n) : runs_logs(n);
	}
	return cli_usage_error("runs", "unknown subcommand '%s' (ls, show, logs)", argv[1]);
}

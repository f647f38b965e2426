/*
 * exp.c - `kiln exp ls|show`: the experiments tracked by a kiln server and
 * their runs (status, start, duration, latest metrics), over the MLflow
 * REST subset (ctl/client.h). A table on stdout, or JSON with --json.
 * Read-only: runs are written by `kiln train --register` or MLflow clients.
 */
#include "cli/cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "ctl/client.h"
#include "http/http.h"

#define API	     "/api/2.0/mlflow/"
#define EXP_METRICS  4 /* metrics shown per run in the table */
#define EXP_MAX_RUNS 100000

const char cmd_exp_usage[] =
	"usage: kiln exp ls [--json] [--server URL]\n"
	"       kiln exp show NAME_OR_ID [--json] [--server URL]\n"
	"\n"
	"Lists the experiments of a kiln server, or shows one (by name, or by id\n"
	"when the argument is a number that names no experiment) with its runs:\n"
	"run id, name, status, start time (UTC), duration and the latest value of\n"
	"its key metrics (accuracy, f1, auc, rmse, mae, r2 first, then by name;\n"
	"--json has them all, with params and tags).\n"
	"\n"
	"  --json        print JSON instead of a table\n"
	"  --server URL  the kiln server (also --registry; default: $KILN_SERVER)\n"
	"\n"
	"Exit 1 on an error from the server, 2 on a usage error or when no server\n"
	"is configured.\n";

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static long long num(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static int exp_ls(struct ctl_client *c, const struct cli_remote_args *a, struct err *err)
{
	const char *query[] = {"max_results", "1000", NULL};
	json_t *all = NULL, *x;
	size_t i;
	if (cli_fetch_pages(c, API "experiments/search", query, "experiments", &all, err) < 0)
		return -1;
	if (a->json) {
		json_t *o = json_pack("{s:O}", "experiments", all);
		cli_print_json(o);
		json_decref(o);
	} else {
		printf("%-6s %-32s %-19s %s\n", "ID", "NAME", "CREATED", "ARTIFACT_LOCATION");
		json_array_foreach(all, i, x)
		{
			char t[32];
			cli_format_ms(num(x, "creation_time"), t, sizeof(t));
			printf("%-6s %-32s %-19s %s\n", str(x, "experiment_id"), str(x, "name"), t,
			       str(x, "artifact_location"));
		}
	}
	json_decref(all);
	return 0;
}

/* The experiment named (or numbered) ref into *out ({"experiment": ...} decoded). */
static int find_experiment(struct ctl_client *c, const char *ref, json_t **out, struct err *err)
{
	const char *by_name[] = {"experiment_name", ref, NULL};
	const char *by_id[] = {"experiment_id", ref, NULL};
	struct err e2 = ERR_INIT;
	/* A name may be all digits: the name wins, then the id. */
	if (ctl_client_call(c, HTTP_GET, API "experiments/get-by-name", by_name, NULL, out, &e2) ==
	    0)
		return 0;
	if (e2.code != ERR_NOTFOUND || ref[strspn(ref, "0123456789")] != '\0' || !*ref)
		return err_set(err, e2.code, "%s", e2.msg);
	return ctl_client_call(c, HTTP_GET, API "experiments/get", by_id, NULL, out, err);
}

/* Every run of experiment id (runs/search, page after page) into a new array. */
static int fetch_runs(struct ctl_client *c, const char *id, json_t **out, struct err *err)
{
	json_t *all = json_array(), *body = NULL, *r = NULL;
	int ret = -1;
	*out = NULL;
	body = json_pack("{s:[s],s:i}", "experiment_ids", id, "max_results", 1000);
	if (!all || !body) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		json_t *next;
		if (ctl_client_call(c, HTTP_POST, API "runs/search", NULL, body, &r, err) < 0)
			goto out;
		(void)json_array_extend(all, json_object_get(r, "runs")); /* absent: no runs */
		next = json_object_get(r, "next_page_token");
		if (!json_is_string(next) || json_array_size(all) >= EXP_MAX_RUNS)
			break;
		if (json_object_set(body, "page_token", next) < 0) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		json_decref(r);
		r = NULL;
	}
	*out = all;
	all = NULL;
	ret = 0;
out:
	json_decref(r);
	json_decref(body);
	json_decref(all);
	return ret;
}

struct exp_metric {
	const char *key;
	double value;
};

/* Where a metric goes in the table: the usual headline metrics first, then by name. */
static size_t metric_rank(const char *key)
{
	static const char *const first[] = {"accuracy", "f1", "auc", "rmse", "mae", "r2"};
	size_t i;
	for (i = 0; i < sizeof(first) / sizeof(first[0]); i++)
		if (strcmp(key, first[i]) == 0)
			break;
	return i;
}

static int cmp_metric(const void *a, const void *b)
{
	const char *x = ((const struct exp_metric *)a)->key,
		   *y = ((const struct exp_metric *)b)->key;
	size_t rx = metric_rank(x), ry = metric_rank(y);
	return rx != ry ? (rx < ry ? -1 : 1) : strcmp(x, y);
}

/* "accuracy=0.93 f1=0.91 ..." from the first EXP_METRICS metrics of a run (metric_rank). */
static void metrics_line(json_t *metrics, struct buf *b)
{
	struct exp_metric m[64];
	size_t n = 0, i;
	json_t *x;
	buf_reset(b);
	json_array_foreach(metrics, i, x)
	{
		if (n == sizeof(m) / sizeof(m[0]))
			break;
		m[n].key = str(x, "key");
		m[n++].value = json_number_value(json_object_get(x, "value"));
	}
	if (n)
		qsort(m, n, sizeof(m[0]), cmp_metric);
	for (i = 0; i < n && i < EXP_METRICS; i++)
		if (buf_addf(b, "%s%s=%.4g", i ? " " : "", m[i].key, m[i].value) < 0)
			break; /* ENOMEM: the table shows what fit */
	if (json_array_size(metrics) > EXP_METRICS)
		(void)buf_addf(b, " (+%zu)", json_array_size(metrics) - EXP_METRICS);
	if (b->len == 0)
		(void)buf_adds(b, "-");
}

static void print_runs(json_t *exp, json_t *runs)
{
	struct buf ml = BUF_INIT;
	size_t i;
	json_t *run;
	printf("experiment %s: %s (%zu runs)\n\n", str(exp, "experiment_id"), str(exp, "name"),
	       json_array_size(runs));
	printf("%-32s %-20s %-9s %-19s %9s  %s\n", "RUN_ID", "NAME", "STATUS", "START", "DURATION",
	       "METRICS");
	json_array_foreach(runs, i, run)
	{
		json_t *info = json_object_get(run, "info");
		long long start = num(info, "start_time"), end = num(info, "end_time");
		char t[32], dur[24];
		cli_format_ms(start, t, sizeof(t));
		if (end >= start && end > 0)
			snprintf(dur, sizeof(dur), "%.1fs", (double)(end - start) / 1000.0);
		else
			snprintf(dur, sizeof(dur), "-");
		metrics_line(json_object_get(json_object_get(run, "data"), "metrics"), &ml);
		printf("%-32s %-20s %-9s %-19s %9s  %s\n", str(info, "run_id"),
		       str(info, "run_name"), str(info, "status"), t, dur, ml.ptr);
	}
	buf_release(&ml);
}

static int exp_show(struct ctl_client *c, const struct cli_remote_args *a, struct err *err)
{
	json_t *r = NULL, *runs = NULL, *exp;
	int ret = -1;
	if (find_experiment(c, a->pos[0], &r, err) < 0)
		return -1;
	exp = json_object_get(r, "experiment");
	if (!json_is_object(exp)) {
		err_set(err, ERR_FORMAT, "experiments/get: reply lacks 'experiment'");
		goto out;
	}
	if (fetch_runs(c, str(exp, "experiment_id"), &runs, err) < 0)
		goto out;
	if (a->json) {
		json_t *o = json_pack("{s:O,s:O}", "experiment", exp, "runs", runs);
		cli_print_json(o);
		json_decref(o);
	} else {
		print_runs(exp, runs);
	}
	ret = 0;
out:
	json_decref(runs);
	json_decref(r);
	return ret;
}

int cmd_exp(int argc, char **argv)
{
	struct cli_remote_args a;
	struct ctl_client *c = NULL;
	struct err err = ERR_INIT;
	int show, rc;
	if (argc < 2)
		return cli_usage_error("exp", "missing subcommand (ls, show)");
	show = strcmp(argv[1], "show") == 0;
	if (!show && strcmp(argv[1], "ls") != 0)
		return cli_usage_error("exp", "unknown subcommand '%s' (ls, show)", argv[1]);
	rc = cli_remote_parse("exp", argc - 1, argv + 1, show, show, &a);
	if (rc)
		return rc;
	if (cli_client_open(a.server, &c, &err) < 0)
		return cli_fail(&err);
	rc = show ? exp_show(c, &a, &err) : exp_ls(c, &a, &err);
	ctl_client_free(c);
	return rc < 0 ? cli_fail(&err) : EXIT_OK;
}

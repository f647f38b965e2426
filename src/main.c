/*
 * main.c - the command table, global flags and exit codes.
 * Every command lives in src/cli/<name>.c; see cli/cli.h for how to add one.
 */
#include "base/log.h"
#include "cli/cli.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct cmd cli_commands[] = {
	{"help", cmd_help, cmd_help_usage, "show the commands, or one command's usage"},
	{"version", cmd_version, cmd_version_usage, "print kiln's version"},

	/* data (ml/csv, schema): data */
	{"data", cmd_data, cmd_data_usage,
	 "infer a schema, validate data against it, track data files"},

	/* models (ml/model): train, predict */
	{"train", cmd_train, cmd_train_usage, "train a model on a CSV file and write a bundle"},
	{"predict", cmd_predict, cmd_predict_usage, "predict CSV rows or JSON lines with a model"},

	/* evaluation (ml/metrics): eval */
	{"eval", cmd_eval, cmd_eval_usage, "score a model on labelled data; fail on quality gates"},

	/* serving (serve/): serve */
	{"serve", cmd_serve, cmd_serve_usage, "serve a model over HTTP (/predict, KServe V1, V2)"},

	/* workflows (wf/): run, runs */
	{"run", cmd_run, cmd_run_usage, "run a GitHub Actions workflow locally"},
	{"runs", cmd_runs, cmd_runs_usage, "list and show the runs kept by kiln run"},

	/* control plane (ctl/, store/): server, models, exp */
	{"server", cmd_server, cmd_server_usage,
	 "run the control plane (MLflow REST subset, model registry, blobs)"},
	{"models", cmd_models, cmd_models_usage,
	 "list registered models and versions; move and roll back aliases"},
	{"exp", cmd_exp, cmd_exp_usage, "list experiments and show their runs with metrics"},

	{NULL, NULL, NULL, NULL},
};

static int set_log_level(const char *s)
{
	int level = log_parse_level(s);
	if (level < 0) {
		fprintf(stderr, "kiln: unknown log level '%s' (error, warn, info, debug)\n", s);
		return -1;
	}
	log_set_level(level);
	return 0;
}

int main(int argc, char **argv)
{
	const struct cmd *c;
	const char *env = getenv("KILN_LOG_LEVEL");
	int i = 1, rc;

	signal(SIGPIPE, SIG_IGN);
	if (env && *env && set_log_level(env) < 0)
		return EXIT_USAGE;
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			argv[i] = (char *)"version";
			break;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			argv[i] = (char *)"help";
			break;
		}
		if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
			if (set_log_level(argv[i + 1]) < 0)
				return EXIT_USAGE;
			i += 2;
			continue;
		}
		fprintf(stderr, "kiln: unknown option '%s'\nrun 'kiln help' for usage\n", argv[i]);
		return EXIT_USAGE;
	}
	if (i >= argc) {
		cmd_help(1, argv);
		return EXIT_USAGE;
	}
	c = cli_find(argv[i]);
	if (!c) {
		fprintf(stderr, "kiln: unknown command '%s'\nrun 'kiln help' for the list\n",
			argv[i]);
		return EXIT_USAGE;
	}
	if (strcmp(c->name, "help") != 0 && cli_wants_help(argc - i, argv + i))
		rc = cli_print_usage(c->name);
	else
		rc = c->fn(argc - i, argv + i);
	/* A full disk or a closed pipe is a failure, not a silent success (git). */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "kiln: error: cannot write to stdout: %s\n",
				strerror(errno));
		return EXIT_FAILED;
	}
	return rc;
}

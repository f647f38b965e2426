/*
 * data.c - `kiln data schema` (infer and print a CSV file's schema) and
 * `kiln data validate` (check new data against a model's or a saved schema).
 * Thin: argv to options, then ml/frame, ml/schema and ml/bundle do the work.
 */
#include "base/buf.h"
#include "base/err.h"
#include "cli/cli.h"
#include "ml/bundle.h"
#include "ml/frame.h"
#include "ml/schema.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

const char cmd_data_usage[] =
	"usage: kiln data schema FILE.csv [--target COL] [--task TASK] [--json]\n"
	"       kiln data validate --schema MODEL_OR_SCHEMA NEW.csv [--json]\n"
	"       kiln data add [--blobs URL] [--link copy|hardlink] [--jobs N] FILE...\n"
	"       kiln data status [--blobs URL] [FILE|FILE.kiln...]\n"
	"       kiln data push|pull [--remote URL] [--blobs URL] [--force] [--json] [PATH...]\n"
	"\n"
	"schema    infers each column's kind (numeric, categorical, text), missing\n"
	"          counts and reference statistics, and the task from the target\n"
	"          column (default: the last). --json prints the object stored in\n"
	"          model bundles under \"schema\".\n"
	"  --target COL   the target column\n"
	"  --task TASK    auto (default), classification or regression\n"
	"  --json         JSON instead of a table\n"
	"\n"
	"validate  checks NEW.csv against the schema of a .kiln bundle or of a file\n"
	"          written by `kiln data schema --json`: missing and extra columns,\n"
	"          non-numbers in numeric columns, unseen categories, values far\n"
	"          outside the training range, jumps in the missing rate.\n"
	"          Exit 0 when clean, 1 on any violation.\n"
	"  --schema PATH  a model bundle or a schema JSON file\n"
	"  --json         the report as JSON\n"
	"\n"
	"add       stores each FILE's bytes in the content-addressed blob store\n"
	"          and writes a small FILE.kiln pointer (sha256, size) to commit\n"
	"          instead, keeping FILE in .gitignore (as DVC does).\n"
	"status    compares tracked files with their pointers.\n"
	"push      uploads the blobs of tracked files that the remote (a kiln server\n"
	"          or s3://bucket/prefix; default $KILN_REMOTE, else $KILN_SERVER)\n"
	"          lacks; pull fetches and verifies missing blobs and writes the\n"
	"          tracked files (a modified file is kept unless --force).\n"
	"  --blobs URL    a directory or s3://bucket/prefix (default $KILN_HOME/blobs)\n";

#define DATA_MAX_SCHEMA_FILE ML_BUNDLE_MAX

static const char *const kind_label[] = {"numeric", "categorical", "text"};

static int print_json(json_t *j)
{
	if (json_dumpf(j, stdout, JSON_INDENT(2)) < 0)
		return EXIT_FAILED;
	putchar('\n');
	return EXIT_OK;
}

/* One line summary of a column's reference statistics. */
static void column_summary(const struct ml_column *c, char *out, size_t n)
{
	size_t top = 0;
	switch (c->kind) {
	case ML_NUMERIC:
		snprintf(out, n, "mean %.6g, std %.6g, range [%.6g, %.6g], median %.6g", c->mean,
			 c->std, c->min, c->max, c->quantile[ML_QUANTILES / 2]);
		break;
	case ML_CATEGORICAL:
		for (size_t i = 1; i < c->ncats; i++)
			if (c->cat_frac[i] > c->cat_frac[top])
				top = i;
		if (c->ncats)
			snprintf(out, n, "%zu categories, most frequent '%.30s' (%.1f%%)", c->ncats,
				 c->cats[top], 100 * c->cat_frac[top]);
		else
			snprintf(out, n, "no values");
		break;
	case ML_TEXT:
		snprintf(out, n, "%.1f chars, %.1f tokens on average, vocabulary %zu", c->len_mean,
			 c->tokens_mean, c->vocab_size);
		break;
	}
}

static void print_schema_table(const struct ml_schema *s, const char *path)
{
	char line[256];
	printf("file: %s\nrows: %zu\ntarget: %s (%s", path, s->nrows, s->target.name,
	       s->task == ML_TASK_CLASSIFICATION ? "classification" : "regression");
	if (s->task == ML_TASK_CLASSIFICATION) {
		printf(": %zu classes:", s->nclasses);
		for (size_t i = 0; i < s->nclasses; i++)
			printf(" %s", s->classes[i]);
	}
	printf(")\n\n%-28s %-12s %8s  %s\n", "COLUMN", "KIND", "MISSING", "SUMMARY");
	for (size_t i = 0; i < s->ncols; i++) {
		const struct ml_column *c = &s->cols[i];
		column_summary(c, line, sizeof(line));
		printf("%-28s %-12s %8zu  %s\n", c->name, kind_label[c->kind], c->missing, line);
	}
}

static int data_schema(int argc, char **argv)
{
	static const struct option opts[] = {
		{"target", required_argument, NULL, 't'},
		{"task", required_argument, NULL, 'k'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct ml_frame f = {0};
	struct ml_schema s = {0};
	struct err err = ERR_INIT;
	const char *target = NULL;
	enum ml_task task = ML_TASK_AUTO;
	json_t *j = NULL;
	int json = 0, c, rc = EXIT_FAILED;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 't') {
			target = optarg;
		} else if (c == 'k') {
			if (strcmp(optarg, "auto") == 0)
				task = ML_TASK_AUTO;
			else if (strcmp(optarg, "classification") == 0)
				task = ML_TASK_CLASSIFICATION;
			else if (strcmp(optarg, "regression") == 0)
				task = ML_TASK_REGRESSION;
			else
				return cli_usage_error("data", "unknown task '%s'", optarg);
		} else if (c == 'j') {
			json = 1;
		} else {
			return cli_usage_error("data", "bad option for 'data schema'");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("data", "'data schema' takes one CSV file");
	if (ml_frame_read_csv(&f, argv[optind], &err) < 0 ||
	    ml_schema_infer(&s, &f, target, task, &err) < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (json) {
		j = ml_schema_to_json(&s);
		if (!j) {
			err_set(&err, ERR_NOMEM, "cannot build the schema JSON");
			rc = cli_fail(&err);
			goto out;
		}
		rc = print_json(j);
	} else {
		print_schema_table(&s, argv[optind]);
		rc = EXIT_OK;
	}
out:
	json_decref(j);
	ml_schema_release(&s);
	ml_frame_release(&f);
	return rc;
}

/* A schema from a bundle (detected by its magic) or from a schema JSON file. */
static int load_schema(struct ml_schema *s, const char *path, struct err *err)
{
	struct buf raw = BUF_INIT;
	struct ml_bundle b = {0};
	json_t *j = NULL;
	json_error_t jerr;
	const json_t *sj;
	int ret = -1;

	if (buf_read_file(&raw, path, DATA_MAX_SCHEMA_FILE) < 0) {
		err_set(err, ERR_IO, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	if (raw.len >= 8 && memcmp(raw.ptr, ML_BUNDLE_MAGIC, 8) == 0) {
		if (ml_bundle_parse(&b, raw.ptr, raw.len, path, err) < 0)
			goto out;
		sj = json_object_get(b.manifest, "schema");
		if (!sj) {
			err_set(err, ERR_FORMAT, "'%s': the bundle manifest has no \"schema\"",
				path);
			goto out;
		}
	} else {
		j = json_loadb(raw.ptr, raw.len, JSON_REJECT_DUPLICATES, &jerr);
		if (!j) {
			err_set(err, ERR_FORMAT,
				"'%s' is neither a kiln bundle nor a schema JSON file (%d:%d: %s)",
				path, jerr.line, jerr.column, jerr.text);
			goto out;
		}
		sj = j;
	}
	if (ml_schema_from_json(s, sj, err) < 0) {
		/* name the file: the schema parser only knows field names */
		struct err inner = *err;
		err_clear(err);
		err_set(err, inner.code, "%s: %s", path, inner.msg);
		goto out;
	}
	ret = 0;
out:
	json_decref(j);
	ml_bundle_release(&b);
	buf_release(&raw);
	return ret;
}

static void print_findings(const json_t *list, const char *prefix)
{
	const json_t *v;
	size_t i;
	json_array_foreach(list, i, v)
	{
		printf("%s%-28s %-16s %s\n", prefix,
		       json_string_value(json_object_get(v, "column")),
		       json_string_value(json_object_get(v, "check")),
		       json_string_value(json_object_get(v, "message")));
	}
}

static void print_report_table(const json_t *rep, size_t ncols)
{
	const json_t *viol = json_object_get(rep, "violations");
	const json_t *notes = json_object_get(rep, "notes");
	const char *file = json_string_value(json_object_get(rep, "file"));
	json_int_t rows = json_integer_value(json_object_get(rep, "rows"));
	size_t n = json_array_size(viol);
	if (n) {
		printf("%-28s %-16s %s\n", "COLUMN", "CHECK", "MESSAGE");
		print_findings(viol, "");
	}
	print_findings(notes, "note: ");
	if (n == 0)
		printf("ok: %s matches the schema (%lld rows, %zu columns checked)\n", file,
		       (long long)rows, ncols);
	else
		printf("FAILED: %zu violation%s in %s (%lld rows)\n", n, n == 1 ? "" : "s", file,
		       (long long)rows);
}

static int data_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{"schema", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct ml_frame f = {0};
	struct ml_schema s = {0};
	struct err err = ERR_INIT;
	const char *schema_path = NULL;
	json_t *rep = NULL;
	int json = 0, c, n, rc = EXIT_FAILED;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			schema_path = optarg;
		else if (c == 'j')
			json = 1;
		else
			return cli_usage_error("data", "bad option for 'data validate'");
	}
	if (!schema_path)
		return cli_usage_error("data", "'data validate' needs --schema MODEL_OR_SCHEMA");
	if (optind != argc - 1)
		return cli_usage_error("data", "'data validate' takes one CSV file");
	if (load_schema(&s, schema_path, &err) < 0 ||
	    ml_frame_read_csv(&f, argv[optind], &err) < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	n = ml_schema_validate(&s, &f, &rep, &err);
	if (n < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (json) {
		if (print_json(rep) != EXIT_OK)
			goto out;
	} else {
		print_report_table(rep, s.ncols);
	}
	rc = n == 0 ? EXIT_OK : EXIT_FAILED;
out:
	json_decref(rep);
	ml_schema_release(&s);
	ml_frame_release(&f);
	return rc;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} data_commands[] = {
	{"schema", data_schema},
	{"validate", data_validate},
	{"add", cmd_data_add},
	{"status", cmd_data_status},
	/* cli/data_remote.c */
	{"push", cmd_data_push},
	{"pull", cmd_data_pull},
};

int cmd_data(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("data",
				       "missing subcommand (schema, validate, add, status)");
	for (size_t i = 0; i < sizeof(data_commands) / sizeof(data_commands[0]); i++)
		if (strcmp(argv[1], data_commands[i].name) == 0)
			return data_commands[i].fn(argc - 1, argv + 1);
	return cli_usage_error("data", "unknown subcommand '%s' (schema, validate, add, status)",
			       argv[1]);
}

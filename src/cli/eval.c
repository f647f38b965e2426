/*
 * eval.c - `kiln eval MODEL DATA.csv`: score a model on labelled data, print
 * the metrics, and fail (exit 1) when a quality gate is not met, so a
 * workflow step can stop a bad model. Metrics live in ml/metrics, gates in
 * ml/gate; this file only wires them to the command line and prints.
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "ml/frame.h"
#include "ml/gate.h"
#include "ml/metrics.h"
#include "ml/model.h"

#define EVAL_MAX_GATES 64

const char cmd_eval_usage[] =
	"usage: kiln eval MODEL DATA.csv [--min METRIC=V]... [--max METRIC=V]...\n"
	"                 [--baseline OTHER_MODEL --max-drop METRIC=D]... [--json]\n"
	"\n"
	"Predicts DATA.csv (which must hold the model's target column) with MODEL and\n"
	"prints its quality: accuracy, macro precision/recall/F1, ROC-AUC, log loss,\n"
	"per-class table and confusion matrix for a classifier; RMSE, MAE and R^2 for\n"
	"a regressor. Exits 1 when a gate fails.\n"
	"\n"
	"  --min METRIC=V       fail when METRIC < V (higher-is-better metrics)\n"
	"  --max METRIC=V       fail when METRIC > V (rmse, mae, log_loss)\n"
	"  --baseline MODEL     also score MODEL on the same data\n"
	"  --max-drop METRIC=D  fail when METRIC is worse than the baseline's by more than D\n"
	"  --json               print {\"metrics\", \"gates\", \"passed\", \"baseline\"} instead\n"
	"\n"
	"METRIC: accuracy, precision, recall, f1, auc, log_loss, rmse, mae, r2, or one\n"
	"class's precision:CLASS, recall:CLASS, f1:CLASS (e.g. f1:yes).\n"
	"Exit status: 0 all gates passed, 1 a gate failed or an error, 2 usage.\n";

struct eval_opts {
	const char *model_path, *data_path, *baseline_path;
	struct ml_gate gates[EVAL_MAX_GATES];
	size_t ngates;
	int json;
};

/* The true targets of every row of f, as class indices (y) or values (yv). */
static int eval_targets(const struct ml_schema *s, const struct ml_frame *f, int *y, double *yv,
			struct err *err)
{
	int col = ml_frame_col(f, s->target.name);

	if (col < 0)
		return err_set(err, ERR_INVALID, "%s: no target column '%s'", f->path,
			       s->target.name);
	for (size_t r = 0; r < f->nrows; r++) {
		const char *v = f->cells[col][r];
		if (!v)
			return err_set(err, ERR_INVALID,
				       "%s:%zu: missing value in target column '%s'", f->path,
				       f->line[r], s->target.name);
		if (s->task == ML_TASK_CLASSIFICATION) {
			y[r] = ml_schema_class(s, v);
			if (y[r] < 0)
				return err_set(
					err, ERR_INVALID,
					"%s:%zu: class '%s' of '%s' was not seen in training",
					f->path, f->line[r], v, s->target.name);
		} else {
			char *end = NULL;
			errno = 0;
			yv[r] = strtod(v, &end);
			if (errno != 0 || end == v || *end != '\0' || !isfinite(yv[r]))
				return err_set(err, ERR_INVALID,
					       "%s:%zu: target '%s' is not a number: '%s'", f->path,
					       f->line[r], s->target.name, v);
		}
	}
	return 0;
}

/* Scores model m on frame f; returns the new metrics object or NULL. */
static json_t *eval_model(const struct ml_model *m, const struct ml_frame *f, struct err *err)
{
	const struct ml_schema *s = ml_model_schema(m);
	struct ml_pred *preds = mem_calloc(f->nrows, sizeof(*preds));
	int *y = mem_calloc(f->nrows, sizeof(*y));
	double *yv = mem_calloc(f->nrows, sizeof(*yv));
	json_t *metrics = NULL;

	if (!preds || !y || !yv) {
		err_set(err, ERR_NOMEM, "out of memory for %zu rows", f->nrows);
		goto out;
	}
	if (eval_targets(s, f, y, yv, err) < 0)
		goto out;
	/* predict treats an absent column as missing in every row: legal, but say so */
	for (size_t c = 0; c < s->ncols; c++)
		if (ml_frame_col(f, s->cols[c].name) < 0)
			log_warn("%s: no column '%s'; every row treated as missing", f->path,
				 s->cols[c].name);
	if (ml_model_predict_frame(m, f, preds, err) < 0)
		goto out;
	if (s->task == ML_TASK_CLASSIFICATION)
		metrics = ml_metrics_classification(y, preds, f->nrows, s->classes, s->nclasses);
	else
		metrics = ml_metrics_regression(yv, preds, f->nrows);
	if (!metrics)
		err_set(err, ERR_NOMEM, "out of memory computing metrics");
out:
	mem_free(preds);
	mem_free(y);
	mem_free(yv);
	return metrics;
}

static void print_value(const json_t *metrics, const json_t *baseline, const char *name)
{
	double v, b;

	if (ml_metrics_get(metrics, name, &v) < 0)
		return;
	printf("%-10s %10.4f", name, v);
	if (baseline && ml_metrics_get(baseline, name, &b) == 0)
		printf(" %10.4f", b);
	printf("\n");
}

static const char *class_name(const json_t *classes, size_t i)
{
	const char *s = json_string_value(json_array_get(classes, i));
	return s ? s : "?";
}

static void print_classes(const json_t *metrics)
{
	const json_t *classes = json_object_get(metrics, "classes");
	const json_t *per = json_object_get(metrics, "per_class");
	const json_t *cm = json_object_get(metrics, "confusion");
	size_t n = json_array_size(classes), width = 8;

	for (size_t i = 0; i < n; i++)
		if (strlen(class_name(classes, i)) + 2 > width)
			width = strlen(class_name(classes, i)) + 2;
	printf("\n%-*s %10s %10s %10s %10s\n", (int)width, "class", "precision", "recall", "f1",
	       "support");
	for (size_t i = 0; i < n; i++) {
		const json_t *pc = json_object_get(per, class_name(classes, i));
		printf("%-*s %10.4f %10.4f %10.4f %10lld\n", (int)width, class_name(classes, i),
		       json_number_value(json_object_get(pc, "precision")),
		       json_number_value(json_object_get(pc, "recall")),
		       json_number_value(json_object_get(pc, "f1")),
		       (long long)json_integer_value(json_object_get(pc, "support")));
	}
	printf("\nconfusion (rows: true, columns: predicted)\n%-*s", (int)width, "");
	for (size_t i = 0; i < n; i++)
		printf(" %10s", class_name(classes, i));
	printf("\n");
	for (size_t i = 0; i < n; i++) {
		const json_t *row = json_array_get(cm, i);
		printf("%-*s", (int)width, class_name(classes, i));
		for (size_t j = 0; j < n; j++)
			printf(" %10lld", (long long)json_integer_value(json_array_get(row, j)));
		printf("\n");
	}
}

static void print_table(const struct eval_opts *o, const json_t *metrics, const json_t *baseline,
			const json_t *gates)
{
	static const char *const names[] = {"accuracy", "precision", "recall", "f1", "auc",
					    "log_loss", "rmse",	     "mae",    "r2"};
	static const char *const rel[] = {">=", "<=", "drop <="};

	printf("model      %s\ndata       %s (%lld rows)\n", o->model_path, o->data_path,
	       (long long)json_integer_value(json_object_get(metrics, "n")));
	if (baseline)
		printf("baseline   %s\n\n%-10s %10s %10s\n", o->baseline_path, "metric", "model",
		       "baseline");
	else
		printf("\n%-10s %10s\n", "metric", "value");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		print_value(metrics, baseline, names[i]);
	if (json_object_get(metrics, "classes"))
		print_classes(metrics);
	if (json_array_size(gates) > 0)
		printf("\ngates\n");
	for (size_t i = 0; i < json_array_size(gates); i++) {
		const json_t *g = json_array_get(gates, i);
		printf("  %s %s %s %s: %.4f\n",
		       json_is_true(json_object_get(g, "passed")) ? "pass" : "FAIL",
		       o->gates[i].metric, rel[o->gates[i].op], o->gates[i].threshold_text,
		       json_number_value(json_object_get(g, "value")));
	}
}

/* Runs the gates; returns 1 all passed, 0 some failed, -1 error. */
static int eval_gates(const struct eval_opts *o, const json_t *metrics, const json_t *baseline,
		      json_t *results, struct err *err)
{
	int all = 1;

	for (size_t i = 0; i < o->ngates; i++) {
		char msg[512];
		json_t *r = NULL;
		int rc = ml_gate_check(&o->gates[i], metrics, baseline, &r, msg, sizeof(msg), err);
		if (rc < 0)
			return -1;
		if (json_array_append_new(results, r) < 0)
			return err_set(err, ERR_NOMEM, "out of memory");
		if (rc == 0) {
			fprintf(stderr, "gate failed: %s\n", msg);
			all = 0;
		}
	}
	return all;
}

static int parse_args(struct eval_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"min", required_argument, NULL, 'n'},
		{"max", required_argument, NULL, 'x'},
		{"baseline", required_argument, NULL, 'b'},
		{"max-drop", required_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	int c, has_drop = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		struct err err = ERR_INIT;
		enum ml_gate_op op = ML_GATE_MIN;
		switch (c) {
		case 'n':
		case 'x':
		case 'd':
			op = c == 'n' ? ML_GATE_MIN : c == 'x' ? ML_GATE_MAX : ML_GATE_MAX_DROP;
			if (o->ngates == EVAL_MAX_GATES)
				return cli_usage_error("eval", "too many gates (at most %d)",
						       EVAL_MAX_GATES);
			if (ml_gate_parse(&o->gates[o->ngates++], op, optarg, &err) < 0)
				return cli_usage_error("eval", "%s", err.msg);
			has_drop |= c == 'd';
			break;
		case 'b':
			o->baseline_path = optarg;
			break;
		case 'j':
			o->json = 1;
			break;
		default:
			return cli_usage_error("eval", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("eval", "expected MODEL and DATA.csv");
	if (has_drop && !o->baseline_path)
		return cli_usage_error("eval", "--max-drop needs --baseline MODEL");
	o->model_path = argv[optind];
	o->data_path = argv[optind + 1];
	return EXIT_OK;
}

int cmd_eval(int argc, char **argv)
{
	struct eval_opts *o = mem_calloc(1, sizeof(*o));
	struct err err = ERR_INIT;
	struct ml_frame frame = {0};
	struct ml_model *model = NULL, *base = NULL;
	json_t *metrics = NULL, *bmetrics = NULL, *gates = json_array(), *doc = NULL;
	int rc = EXIT_FAILED, passed;

	if (!o || !gates) {
		fprintf(stderr, "kiln: error: out of memory\n");
		goto out;
	}
	rc = parse_args(o, argc, argv);
	if (rc != EXIT_OK)
		goto out;
	rc = EXIT_FAILED;
	if (!(model = ml_model_load(o->model_path, &err)) ||
	    (o->baseline_path && !(base = ml_model_load(o->baseline_path, &err))) ||
	    ml_frame_read_csv(&frame, o->data_path, &err) < 0 ||
	    !(metrics = eval_model(model, &frame, &err)) ||
	    (base && !(bmetrics = eval_model(base, &frame, &err)))) {
		rc = cli_fail(&err);
		goto out;
	}
	passed = eval_gates(o, metrics, bmetrics, gates, &err);
	if (passed < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (o->json) {
		doc = json_pack("{s:O, s:O, s:b, s:O?}", "metrics", metrics, "gates", gates,
				"passed", passed, "baseline", bmetrics);
		if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) < 0) {
			fprintf(stderr, "kiln: error: cannot write the JSON report\n");
			goto out;
		}
		printf("\n");
	} else {
		print_table(o, metrics, bmetrics, gates);
	}
	rc = passed ? EXIT_OK : EXIT_FAILED;
out:
	json_decref(doc);
	json_decref(gates);
	json_decref(metrics);
	json_decref(bmetrics);
	ml_frame_release(&frame);
	ml_model_free(model);
	ml_model_free(base);
	mem_free(o);
	return rc;
}

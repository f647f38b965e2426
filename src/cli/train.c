/*
 * train.c - `kiln train`: fit a feature pipeline and a learner on a CSV
 * file, print the test metrics, write the model bundle atomically.
 * Thin: argv to struct ml_train_opts, then ml/model does the work.
 */
#include "base/err.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "ctl/client.h"
#include "ml/metrics.h"
#include "ml/model.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_train_usage[] =
	"usage: kiln train DATA.csv -o MODEL.kiln [options]\n"
	"\n"
	"Trains a model on DATA.csv, evaluates it on a held-out test split and\n"
	"writes the bundle (manifest, feature pipeline, weights) to MODEL.kiln.\n"
	"Prints the test metrics on stdout (a table, or JSON with --json).\n"
	"\n"
	"  --target COL          the column to predict (default: the last)\n"
	"  --label-name NAME     key of predictions in `kiln serve` (default: COL)\n"
	"  --task TASK           auto (default), classification or regression\n"
	"  --algo ALGO           logreg (default), svm or gbdt\n"
	"  --test FILE           evaluate on FILE instead of a split of DATA.csv\n"
	"  --test-size F         fraction held out for testing (default 0.2; stratified)\n"
	"  --seed N              shuffle and XGBoost seed (default 42)\n"
	"  --ngram MIN,MAX       word n-grams of text columns (default 1,2)\n"
	"  --hash-bits B         text features hashed into 2^B buckets (default 18)\n"
	"  --C C                 liblinear inverse regularisation (default 1.0)\n"
	"  --trees N             gbdt boosting rounds (default 200)\n"
	"  --depth N             gbdt maximum tree depth (default 4)\n"
	"  --eta F               gbdt learning rate (default 0.1)\n"
	"  --early-stopping N    gbdt: stop after N rounds without improvement on a\n"
	"                        validation slice of the training rows (default 20; 0 off)\n"
	"  -o, --output PATH     the model bundle to write (required)\n"
	"  --json                metrics as JSON\n"
	"  --verbose             let liblinear and XGBoost print their own output\n"
	"  --register NAME       then log a run and register a model version on the\n"
	"                        kiln server ($KILN_SERVER or --server URL)\n"
	"  --alias ALIAS         with --register: point ALIAS at the new version\n"
	"  --experiment NAME     with --register: the experiment of the run (default:\n"
	"                        $MLFLOW_EXPERIMENT_NAME, else Default)\n"
	"  --server URL          with --register: the kiln server\n"
	"\n"
	"SOURCE_DATE_EPOCH, when set, is used as the creation time, so two runs on\n"
	"the same data write byte-identical bundles.\n";

enum {
	OPT_TARGET = 256,
	OPT_LABEL,
	OPT_TASK,
	OPT_ALGO,
	OPT_TEST,
	OPT_TEST_SIZE,
	OPT_SEED,
	OPT_NGRAM,
	OPT_HASH_BITS,
	OPT_C,
	OPT_TREES,
	OPT_DEPTH,
	OPT_ETA,
	OPT_EARLY,
	OPT_JSON,
	OPT_VERBOSE,
	OPT_REGISTER,
	OPT_ALIAS,
	OPT_EXPERIMENT,
	OPT_SERVER,
};

static const struct option train_options[] = {
	{"target", required_argument, NULL, OPT_TARGET},
	{"label-name", required_argument, NULL, OPT_LABEL},
	{"task", required_argument, NULL, OPT_TASK},
	{"algo", required_argument, NULL, OPT_ALGO},
	{"test", required_argument, NULL, OPT_TEST},
	{"test-size", required_argument, NULL, OPT_TEST_SIZE},
	{"seed", required_argument, NULL, OPT_SEED},
	{"ngram", required_argument, NULL, OPT_NGRAM},
	{"hash-bits", required_argument, NULL, OPT_HASH_BITS},
	{"C", required_argument, NULL, OPT_C},
	{"trees", required_argument, NULL, OPT_TREES},
	{"depth", required_argument, NULL, OPT_DEPTH},
	{"eta", required_argument, NULL, OPT_ETA},
	{"early-stopping", required_argument, NULL, OPT_EARLY},
	{"output", required_argument, NULL, 'o'},
	{"json", no_argument, NULL, OPT_JSON},
	{"verbose", no_argument, NULL, OPT_VERBOSE},
	{"register", required_argument, NULL, OPT_REGISTER},
	{"alias", required_argument, NULL, OPT_ALIAS},
	{"experiment", required_argument, NULL, OPT_EXPERIMENT},
	{"server", required_argument, NULL, OPT_SERVER},
	{NULL, 0, NULL, 0},
};

static int num_arg(const char *opt, const char *s, double lo, double hi, double *v)
{
	char *end = NULL;
	errno = 0;
	*v = strtod(s, &end);
	if (!*s || *end || errno || !(*v >= lo && *v <= hi))
		return cli_usage_error("train", "--%s '%s': expected a number in [%g, %g]", opt, s,
				       lo, hi);
	return 0;
}

static int int_arg(const char *opt, const char *s, long lo, long hi, long *v)
{
	char *end = NULL;
	errno = 0;
	*v = strtol(s, &end, 10);
	if (!*s || *end || errno || *v < lo || *v > hi)
		return cli_usage_error("train", "--%s '%s': expected an integer in [%ld, %ld]", opt,
				       s, lo, hi);
	return 0;
}

static int ngram_arg(const char *s, struct ml_train_opts *o)
{
	int a = 0, b = 0, n = 0;
	if (sscanf(s, "%d,%d%n", &a, &b, &n) != 2 || s[n] || a < 1 || b < a || b > 5)
		return cli_usage_error(
			"train", "--ngram '%s': expected MIN,MAX with 1 <= MIN <= MAX <= 5", s);
	o->ngram_min = a;
	o->ngram_max = b;
	return 0;
}

/* Parses one option into o; 0 ok, EXIT_USAGE on a bad value. */
static int parse_opt(int c, const char *arg, struct ml_train_opts *o, const char **out, int *json)
{
	double d;
	long l;
	switch (c) {
	case OPT_TARGET:
		o->target = arg;
		return 0;
	case OPT_LABEL:
		o->label_name = arg;
		return 0;
	case OPT_TASK:
		if (strcmp(arg, "auto") == 0)
			o->task = ML_TASK_AUTO;
		else if (strcmp(arg, "classification") == 0)
			o->task = ML_TASK_CLASSIFICATION;
		else if (strcmp(arg, "regression") == 0)
			o->task = ML_TASK_REGRESSION;
		else
			return cli_usage_error(
				"train", "--task '%s': auto, classification or regression", arg);
		return 0;
	case OPT_ALGO:
		if (strcmp(arg, "logreg") == 0)
			o->algo = ML_ALGO_LOGREG;
		else if (strcmp(arg, "svm") == 0)
			o->algo = ML_ALGO_SVM;
		else if (strcmp(arg, "gbdt") == 0)
			o->algo = ML_ALGO_GBDT;
		else
			return cli_usage_error("train", "--algo '%s': logreg, svm or gbdt", arg);
		return 0;
	case OPT_TEST:
		o->test_path = arg;
		return 0;
	case OPT_TEST_SIZE:
		if (num_arg("test-size", arg, 1e-9, 1 - 1e-9, &d))
			return EXIT_USAGE;
		o->test_size = d;
		return 0;
	case OPT_SEED:
		if (int_arg("seed", arg, 0, 2147483647L, &l))
			return EXIT_USAGE;
		o->seed = (unsigned long)l;
		return 0;
	case OPT_NGRAM:
		return ngram_arg(arg, o) ? EXIT_USAGE : 0;
	case OPT_HASH_BITS:
		if (int_arg("hash-bits", arg, 1, 24, &l))
			return EXIT_USAGE;
		o->hash_bits = (unsigned)l;
		return 0;
	case OPT_C:
		if (num_arg("C", arg, 1e-9, 1e9, &d))
			return EXIT_USAGE;
		o->C = d;
		return 0;
	case OPT_TREES:
		if (int_arg("trees", arg, 1, 100000, &l))
			return EXIT_USAGE;
		o->n_trees = (int)l;
		return 0;
	case OPT_DEPTH:
		if (int_arg("depth", arg, 1, 30, &l))
			return EXIT_USAGE;
		o->max_depth = (int)l;
		return 0;
	case OPT_ETA:
		if (num_arg("eta", arg, 1e-9, 1, &d))
			return EXIT_USAGE;
		o->eta = d;
		return 0;
	case OPT_EARLY:
		if (int_arg("early-stopping", arg, 0, 100000, &l))
			return EXIT_USAGE;
		o->early_stopping = (int)l;
		return 0;
	case 'o':
		*out = arg;
		return 0;
	case OPT_JSON:
		*json = 1;
		return 0;
	case OPT_VERBOSE:
		o->verbose = 1;
		return 0;
	default:
		return cli_usage_error("train", "unknown option");
	}
}

static void print_table(const struct ml_model *m, const char *out)
{
	static const char *const cls_keys[] = {"accuracy", "precision", "recall",
					       "f1",	   "auc",	"log_loss"};
	static const char *const reg_keys[] = {"rmse", "mae", "r2"};
	const json_t *man = ml_model_manifest(m), *met = json_object_get(man, "metrics");
	const json_t *split = json_object_get(man, "split");
	const json_t *classes = json_object_get(man, "classes");
	int cls = ml_model_task(m) == ML_TASK_CLASSIFICATION;
	size_t i, n = cls ? 6 : 3;
	double v;

	printf("model:     %s\n", out);
	printf("sha256:    %s\n", ml_model_sha256(m));
	printf("task:      %s (%s)\n", json_string_value(json_object_get(man, "task")),
	       json_string_value(json_object_get(man, "algorithm")));
	printf("rows:      %lld train, %lld test\n",
	       (long long)json_integer_value(json_object_get(split, "train_rows")),
	       (long long)json_integer_value(json_object_get(split, "test_rows")));
	if (json_object_get(json_object_get(man, "hyperparameters"), "best_round"))
		printf("rounds:    %lld kept of %lld (early stopping)\n",
		       (long long)json_integer_value(json_object_get(
			       json_object_get(man, "hyperparameters"), "best_round")),
		       (long long)json_integer_value(json_object_get(
			       json_object_get(man, "hyperparameters"), "n_trees")));
	for (i = 0; i < n; i++)
		if (ml_metrics_get(met, cls ? cls_keys[i] : reg_keys[i], &v) == 0)
			printf("%-10s %.4f\n", cls ? cls_keys[i] : reg_keys[i], v);
	for (i = 0; cls && i < json_array_size(classes); i++) {
		char key[300];
		const char *c = json_string_value(json_array_get(classes, i));
		(void)snprintf(key, sizeof(key), "f1:%s", c ? c : "");
		if (ml_metrics_get(met, key, &v) == 0)
			printf("f1[%s] %.4f\n", c, v);
	}
}

static int print_json(const struct ml_model *m, const char *out, json_t *registered)
{
	const json_t *man = ml_model_manifest(m);
	json_t *j =
		json_pack("{s:s, s:s, s:O, s:O, s:O, s:O, s:O}", "model", out, "sha256",
			  ml_model_sha256(m), "task", json_object_get(man, "task"), "algorithm",
			  json_object_get(man, "algorithm"), "split", json_object_get(man, "split"),
			  "hyperparameters", json_object_get(man, "hyperparameters"), "metrics",
			  json_object_get(man, "metrics"));
	int rc = EXIT_OK;
	if (j && registered && json_object_set(j, "registered", registered) < 0)
		rc = EXIT_FAILED;
	if (!j || rc || json_dumpf(j, stdout, JSON_INDENT(2)) < 0)
		rc = EXIT_FAILED;
	else
		putchar('\n');
	json_decref(j);
	return rc;
}

/* --register and its companions; 1 when c was one of them. */
static int register_opt(int c, const char *arg, struct cli_register *r)
{
	const char **slot = c == OPT_REGISTER	  ? &r->name
			    : c == OPT_ALIAS	  ? &r->alias
			    : c == OPT_EXPERIMENT ? &r->experiment
			    : c == OPT_SERVER	  ? &r->server
						  : NULL;
	if (slot)
		*slot = arg;
	return slot != NULL;
}

int cmd_train(int argc, char **argv)
{
	struct cli_register reg = {0};
	struct ctl_client *client = NULL;
	json_t *registered = NULL;
	struct ml_train_opts o;
	struct err err = ERR_INIT;
	struct ml_model *m = NULL;
	const char *out = NULL, *sde = getenv("SOURCE_DATE_EPOCH");
	int json = 0, c, rc;

	ml_train_opts_default(&o);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", train_options, NULL)) != -1) {
		if (c == '?' || c == ':')
			return cli_usage_error("train", "unknown option or missing value '%s'",
					       argv[optind - 1]);
		rc = register_opt(c, optarg, &reg) ? 0 : parse_opt(c, optarg, &o, &out, &json);
		if (rc)
			return rc;
	}
	if (optind != argc - 1)
		return cli_usage_error("train", optind >= argc ? "no training data given"
							       : "more than one data file given");
	if (!out)
		return cli_usage_error("train", "no output file: give -o MODEL.kiln");
	o.train_path = argv[optind];
	o.progress = isatty(2);
	if (sde && *sde) {
		char *end = NULL;
		long long t = strtoll(sde, &end, 10);
		if (*end || t <= 0)
			return cli_usage_error("train", "SOURCE_DATE_EPOCH '%s': not a unix time",
					       sde);
		o.created_at = t;
	}
	if ((reg.alias || reg.experiment || reg.server) && !reg.name)
		return cli_usage_error("train",
				       "--alias, --experiment and --server need --register");
	if (reg.name && cli_client_open(reg.server, &client, &err) < 0)
		return cli_fail(&err); /* before training: no server, no hour lost */
	cli_heap_tuning();
	m = ml_model_train(&o, &err);
	if (!m || ml_model_save(m, out, &err) < 0) {
		ml_model_free(m);
		ctl_client_free(client);
		return cli_fail(&err);
	}
	if (reg.name)
		registered = cli_train_register(client, &reg, out, ml_model_sha256(m),
						ml_model_manifest(m), &err);
	if (json) {
		rc = print_json(m, out, registered);
	} else {
		print_table(m, out);
		if (registered)
			printf("registered: %s version %lld (run %s)\n", reg.name,
			       (long long)json_integer_value(
				       json_object_get(registered, "version")),
			       json_string_value(json_object_get(registered, "run_id")));
		rc = EXIT_OK;
	}
	if (reg.name && !registered)
		rc = cli_fail(&err);
	json_decref(registered);
	ml_model_free(m);
	ctl_client_free(client);
	return rc;
}

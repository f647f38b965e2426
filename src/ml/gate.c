/*
 * gate.c - parse and check the quality gates of `kiln eval` (--min, --max,
 * --max-drop) against metrics objects. Pure: no I/O; see gate.h.
 */
#include "ml/gate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/metrics.h"

static const char *const whole_metrics[] = {"accuracy", "precision", "recall", "f1", "auc",
					    "log_loss", "rmse",	     "mae",    "r2"};
static const char *const class_metrics[] = {"precision", "recall", "f1"};

static int name_in(const char *s, size_t len, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) == len && memcmp(s, names[i], len) == 0)
			return 1;
	return 0;
}

/* A known metric name: one of whole_metrics, or class_metrics ":" CLASS. */
static int metric_known(const char *name)
{
	const char *colon = strchr(name, ':');
	if (!colon)
		return name_in(name, strlen(name), whole_metrics,
			       sizeof(whole_metrics) / sizeof(whole_metrics[0]));
	return colon[1] != '\0' && name_in(name, (size_t)(colon - name), class_metrics,
					   sizeof(class_metrics) / sizeof(class_metrics[0]));
}

const char *ml_gate_op_name(enum ml_gate_op op)
{
	switch (op) {
	case ML_GATE_MIN:
		return "min";
	case ML_GATE_MAX:
		return "max";
	case ML_GATE_MAX_DROP:
		return "max_drop";
	}
	return "?";
}

static const char *op_flag(enum ml_gate_op op)
{
	return op == ML_GATE_MIN ? "--min" : op == ML_GATE_MAX ? "--max" : "--max-drop";
}

int ml_gate_parse(struct ml_gate *g, enum ml_gate_op op, const char *spec, struct err *err)
{
	const char *eq = strrchr(spec, '='); /* a class name may hold '=' */
	const char *flag = op_flag(op);
	size_t nlen;
	char *end = NULL;
	double v;

	memset(g, 0, sizeof(*g));
	g->op = op;
	if (!eq || eq == spec || eq[1] == '\0')
		return err_set(err, ERR_USAGE, "%s '%s': expected METRIC=VALUE", flag, spec);
	nlen = (size_t)(eq - spec);
	if (nlen >= sizeof(g->metric))
		return err_set(err, ERR_USAGE, "%s: metric name too long", flag);
	memcpy(g->metric, spec, nlen);
	g->metric[nlen] = '\0';
	if (!metric_known(g->metric))
		return err_set(err, ERR_USAGE,
			       "%s: unknown metric '%s' (accuracy, precision, recall, f1, auc, "
			       "log_loss, rmse, mae, r2, or f1:CLASS, precision:CLASS, "
			       "recall:CLASS)",
			       flag, g->metric);
	errno = 0;
	v = strtod(eq + 1, &end);
	if (errno != 0 || end == eq + 1 || *end != '\0' || !isfinite(v))
		return err_set(err, ERR_USAGE, "%s %s: '%s' is not a number", flag, g->metric,
			       eq + 1);
	if (strlen(eq + 1) >= sizeof(g->threshold_text))
		return err_set(err, ERR_USAGE, "%s %s: value too long", flag, g->metric);
	if (op == ML_GATE_MAX_DROP && v < 0)
		return err_set(err, ERR_USAGE, "--max-drop %s: the drop must be >= 0", g->metric);
	if (op == ML_GATE_MIN && !ml_metrics_higher_is_better(g->metric))
		return err_set(err, ERR_USAGE, "--min %s: lower is better for %s, use --max",
			       g->metric, g->metric);
	if (op == ML_GATE_MAX && ml_metrics_higher_is_better(g->metric))
		return err_set(err, ERR_USAGE, "--max %s: higher is better for %s, use --min",
			       g->metric, g->metric);
	g->threshold = v;
	memcpy(g->threshold_text, eq + 1, strlen(eq + 1) + 1);
	return 0;
}

static int lookup(const json_t *metrics, const char *name, const char *which, double *v,
		  struct err *err)
{
	if (ml_metrics_get(metrics, name, v) < 0)
		return err_set(err, ERR_USAGE, "metric '%s' is not available for the %s model",
			       name, which);
	return 0;
}

int ml_gate_check(const struct ml_gate *g, const json_t *metrics, const json_t *baseline,
		  json_t **result, char *msg, size_t msgsz, struct err *err)
{
	double value = 0, base = 0, cand = 0;
	int passed, higher = ml_metrics_higher_is_better(g->metric);
	json_t *r;

	*result = NULL;
	if (msgsz > 0)
		msg[0] = '\0';
	if (lookup(metrics, g->metric, "evaluated", &cand, err) < 0)
		return -1;
	switch (g->op) {
	case ML_GATE_MIN:
		value = cand;
		passed = value >= g->threshold;
		if (!passed)
			(void)snprintf(msg, msgsz, "%s %.4f < %s", g->metric, value,
				       g->threshold_text);
		break;
	case ML_GATE_MAX:
		value = cand;
		passed = value <= g->threshold;
		if (!passed)
			(void)snprintf(msg, msgsz, "%s %.4f > %s", g->metric, value,
				       g->threshold_text);
		break;
	case ML_GATE_MAX_DROP:
	default:
		if (!baseline)
			return err_set(err, ERR_USAGE, "--max-drop %s needs --baseline MODEL",
				       g->metric);
		if (lookup(baseline, g->metric, "baseline", &base, err) < 0)
			return -1;
		value = higher ? base - cand : cand - base;
		passed = value <= g->threshold;
		if (!passed)
			(void)snprintf(msg, msgsz,
				       "%s dropped by %.4f > %s (baseline %.4f, candidate %.4f)",
				       g->metric, value, g->threshold_text, base, cand);
		break;
	}
	r = json_pack("{s:s, s:s, s:f, s:f, s:b}", "metric", g->metric, "op",
		      ml_gate_op_name(g->op), "threshold", g->threshold, "value", value, "passed",
		      passed);
	if (r && g->op == ML_GATE_MAX_DROP &&
	    (json_object_set_new(r, "baseline", json_real(base)) ||
	     json_object_set_new(r, "candidate", json_real(cand)))) {
		json_decref(r);
		r = NULL;
	}
	if (!r)
		return err_set(err, ERR_NOMEM, "out of memory");
	*result = r;
	return passed;
}

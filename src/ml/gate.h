/*
 * gate.h - quality gates on a metrics object (metrics.h): "accuracy must be
 * at least 0.80", "rmse at most 25000", "auc may drop at most 0.01 from the
 * baseline model". Parses the METRIC=V specs of `kiln eval` and checks them.
 * Pure: no I/O; messages go into the caller's buffers.
 *
 * Metric names: accuracy, precision, recall, f1, auc, log_loss, rmse, mae,
 * r2, and per class precision:CLASS, recall:CLASS, f1:CLASS. Higher is
 * better except for rmse, mae and log_loss (ml_metrics_higher_is_better).
 */
#ifndef KILN_ML_GATE_H
#define KILN_ML_GATE_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"

#define ML_GATE_MAX_NAME 128

enum ml_gate_op {
	ML_GATE_MIN,	 /* value >= threshold */
	ML_GATE_MAX,	 /* value <= threshold */
	ML_GATE_MAX_DROP /* worsening from the baseline <= threshold */
};

struct ml_gate {
	enum ml_gate_op op;
	char metric[ML_GATE_MAX_NAME];
	double threshold;
	char threshold_text[32]; /* as the user wrote it, for messages */
};

/*
 * Parses "METRIC=V" into g. V is a finite number (for a drop, >= 0); METRIC
 * is a known name (see above). --min on a lower-is-better metric and --max
 * on a higher-is-better one are refused: they are almost always mistakes.
 * Returns 0, or -1 with ERR_USAGE naming the problem.
 */
int ml_gate_parse(struct ml_gate *g, enum ml_gate_op op, const char *spec, struct err *err);

/* "min", "max" or "max_drop". */
const char *ml_gate_op_name(enum ml_gate_op op);

/*
 * Checks g against metrics (and baseline, for ML_GATE_MAX_DROP; may be NULL
 * otherwise). On success returns 1 (passed) or 0 (failed) and sets *result to
 * a new object {"metric","op","threshold","value","passed"} (a drop gate adds
 * "baseline" and "candidate"; its "value" is the drop); a failed gate also
 * gets a one-line reason in msg, e.g. "accuracy 0.7812 < 0.80".
 * Returns -1 with ERR_USAGE when the metric does not exist in metrics (e.g.
 * rmse on a classifier, an unknown class) or a drop gate has no baseline;
 * ERR_NOMEM when out of memory.
 */
int ml_gate_check(const struct ml_gate *g, const json_t *metrics, const json_t *baseline,
		  json_t **result, char *msg, size_t msgsz, struct err *err);

#endif

/*
 * metrics.h - quality metrics for classification and regression, as JSON.
 * Pure functions of true labels and predictions: no I/O.
 *
 * Classification: accuracy; precision, recall, F1 and support per class and
 * macro-averaged; ROC-AUC (binary: of class 1; multiclass: macro one-vs-rest);
 * log loss; the confusion matrix (rows: true, columns: predicted).
 * Keys: "accuracy", "precision", "recall", "f1" (macro), "auc", "log_loss",
 * "per_class": {CLASS: {"precision","recall","f1","support"}},
 * "confusion": [[...]], "classes": [...], "n".
 * Regression: "rmse", "mae", "r2", "n".
 */
#ifndef KILN_ML_METRICS_H
#define KILN_ML_METRICS_H

#include <jansson.h>
#include <stddef.h>

#include "ml/model.h"

/* y[i] is the true class index; preds[i] the prediction. New reference or NULL (ENOMEM). */
json_t *ml_metrics_classification(const int *y, const struct ml_pred *preds, size_t n,
				  char *const *classes, size_t nclasses);
json_t *ml_metrics_regression(const double *y, const struct ml_pred *preds, size_t n);

/*
 * Looks a metric up by name in a metrics object: "accuracy", "f1", "auc",
 * "rmse", ..., or "f1:CLASS" / "precision:CLASS" / "recall:CLASS" for one
 * class. Returns 0 and sets *v, or -1 when the metric does not exist.
 */
int ml_metrics_get(const json_t *metrics, const char *name, double *v);
/* True when a larger value of the metric is better (rmse, mae, log_loss: no). */
int ml_metrics_higher_is_better(const char *name);

#endif

/*
 * model.h - a trained model: schema, fitted feature pipeline and learner
 * (liblinear or XGBoost), saved as and loaded from a bundle (bundle.h).
 * This is the API the CLI (train, eval, predict, data validate) and the
 * model server (kiln serve) use; everything under it is ml-internal.
 *
 * Thread safety: a loaded model is immutable; any number of threads may call
 * ml_model_predict on it at once, each with its own struct ml_pred.
 */
#ifndef KILN_ML_MODEL_H
#define KILN_ML_MODEL_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"
#include "ml/frame.h"
#include "ml/schema.h"

enum ml_algo { ML_ALGO_LOGREG, ML_ALGO_SVM, ML_ALGO_GBDT };

struct ml_train_opts {
	const char *train_path; /* CSV */
	const char *test_path;	/* NULL: split train by test_size */
	const char *target;	/* NULL: last column */
	const char *label_name; /* output key in predictions; NULL: target name */
	enum ml_task task;
	enum ml_algo algo;
	double test_size;   /* 0.2 */
	unsigned long seed; /* 42 */
	/* features */
	int ngram_min, ngram_max; /* 1, 2 */
	unsigned hash_bits;	  /* 18 */
	/* liblinear */
	double C; /* 1.0 */
	/* gbdt */
	int n_trees, max_depth; /* 200, 4 */
	double eta;		/* 0.1 */
	int early_stopping;	/* rounds; 0 off; default 20 */
	int progress;		/* print a progress line on stderr */
	int verbose;		/* let liblinear / XGBoost print their own output */
	long long created_at;	/* unix time for "created_at"; 0: now (reproducible builds) */
};

void ml_train_opts_default(struct ml_train_opts *o);

struct ml_model; /* opaque */

/* One input value for prediction. */
enum ml_cell_kind { ML_CELL_MISSING, ML_CELL_STR, ML_CELL_NUM };
struct ml_cell {
	enum ml_cell_kind kind;
	const char *str; /* ML_CELL_STR: not necessarily NUL-terminated */
	size_t len;
	double num; /* ML_CELL_NUM */
};

/* The result of one prediction. */
struct ml_pred {
	int klass;	 /* classification: index into classes; -1 for regression */
	double prob[64]; /* classification: per-class probability (ML_MAX_CLASSES) */
	double value;	 /* regression: the value; classification: prob[klass] */
};
#define ML_MAX_CLASSES 64

/*
 * Trains on opts->train_path (and evaluates on the test split); the model
 * keeps the test metrics and reference statistics in its manifest.
 * Deterministic for a given seed.
 */
struct ml_model *ml_model_train(const struct ml_train_opts *opts, struct err *err);
int ml_model_save(const struct ml_model *m, const char *path, struct err *err);
/* Loads and checks a bundle (bundle.h's errors, plus ERR_FORMAT for a bad manifest). */
struct ml_model *ml_model_load(const char *path, struct err *err);
struct ml_model *ml_model_load_mem(const void *data, size_t len, const char *name, struct err *err);
void ml_model_free(struct ml_model *m);

const struct ml_schema *ml_model_schema(const struct ml_model *m);
enum ml_task ml_model_task(const struct ml_model *m);
/* The key predictions are returned under (target name or --label-name). */
const char *ml_model_label_name(const struct ml_model *m);
/* The whole manifest (borrowed). */
const json_t *ml_model_manifest(const struct ml_model *m);
/* sha256 hex of the bundle file the model came from (or was saved as). */
const char *ml_model_sha256(const struct ml_model *m);

/*
 * Predicts one row. cells[i] is the value of input column i of the schema
 * (ml_model_schema(m)->cols[i]); a column the caller lacks is ML_CELL_MISSING.
 * A string in a numeric column is parsed; one that is not a number is an
 * ERR_INVALID naming the column.
 */
int ml_model_predict(const struct ml_model *m, const struct ml_cell *cells, struct ml_pred *out,
		     struct err *err);

/*
 * Predicts every row of a frame (columns matched by name; the target column,
 * if present, is ignored). preds must hold f->nrows entries.
 */
int ml_model_predict_frame(const struct ml_model *m, const struct ml_frame *f,
			   struct ml_pred *preds, struct err *err);

#endif

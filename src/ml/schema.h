/*
 * schema.h - what the columns of a training set are, with the reference
 * statistics that validation and drift monitoring compare new data against.
 * Inferred from a frame; stored in the model bundle's manifest as JSON.
 *
 * CONTRACT:
 * - A column is numeric when every non-missing field parses as a finite
 *   number; otherwise text when its values look like free text (several
 *   words on average, mostly distinct), else categorical.
 * - The target column is given by name (default: the last column). Its task
 *   is classification when it is not numeric or has few distinct values,
 *   else regression (the caller may force either).
 * - For classification, classes[] are the target's distinct values, sorted
 *   (byte order), and class k is classes[k].
 */
#ifndef KILN_ML_SCHEMA_H
#define KILN_ML_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"
#include "ml/frame.h"

enum ml_kind { ML_NUMERIC, ML_CATEGORICAL, ML_TEXT };
enum ml_task { ML_TASK_AUTO, ML_TASK_CLASSIFICATION, ML_TASK_REGRESSION };

#define ML_HIST_BINS	      10
#define ML_SCHEMA_MAX_CLASSES 64 /* = ML_MAX_CLASSES of model.h */
#define ML_SCHEMA_VERSION     1	 /* "version" in the JSON form */
#define ML_QUANTILES	      11 /* 0, 0.1, ..., 1 */

struct ml_column {
	char *name;
	enum ml_kind kind;
	size_t count, missing; /* non-missing and missing fields in the training data */
	/* numeric */
	double mean, std, min, max;
	double quantile[ML_QUANTILES];
	double bin_edge[ML_HIST_BINS + 1];
	double bin_frac[ML_HIST_BINS];
	/* categorical: ncats distinct values with their frequencies (fractions of count) */
	size_t ncats;
	char **cats;
	double *cat_frac;
	/* text: characters and tokens per value */
	double len_mean, len_std, tokens_mean;
	size_t vocab_size;
};

struct ml_schema {
	size_t ncols; /* input columns, the target excluded */
	struct ml_column *cols;
	struct ml_column target;
	enum ml_task task;
	size_t nclasses; /* classification only */
	char **classes;
	size_t nrows;
	void *pending; /* private: what ml_schema_infer_kinds keeps for ml_schema_infer_stats */
};

/*
 * Infers the schema of f with target column `target` (NULL: the last
 * column). Errors: unknown target, target with one class only, a missing
 * target value (with file:line), no input columns.
 */
int ml_schema_infer(struct ml_schema *s, const struct ml_frame *f, const char *target,
		    enum ml_task task, struct err *err);
/*
 * ml_schema_infer in two steps, for a caller that needs the kinds before
 * the reference statistics (kiln train fits the features and trains the
 * learner while another thread computes them): ml_schema_infer_kinds fills
 * in everything but the statistics of the input columns (their name, kind,
 * count and missing; the target and classes in full), with the same errors,
 * and keeps the parsed numbers and distinct values (borrowed from f) for
 * ml_schema_infer_stats, which then adds the statistics from the same frame
 * f, unchanged meanwhile. The result is what ml_schema_infer gives. stats
 * fails only when out of memory; s is released by the caller either way.
 */
int ml_schema_infer_kinds(struct ml_schema *s, const struct ml_frame *f, const char *target,
			  enum ml_task task, struct err *err);
int ml_schema_infer_stats(struct ml_schema *s, const struct ml_frame *f, struct err *err);
void ml_schema_release(struct ml_schema *s);

/* JSON form, as stored in the bundle manifest ("schema" key). New reference. */
json_t *ml_schema_to_json(const struct ml_schema *s);
int ml_schema_from_json(struct ml_schema *s, const json_t *j, struct err *err);

/*
 * Parses a whole field as a finite decimal number (sign, digits, point,
 * exponent; surrounding blanks allowed; no hex, inf or nan). Returns 0 and
 * sets *v, or -1. The one definition of "numeric" for every ml module.
 */
int ml_parse_number(const char *s, double *v);

/* The input column named name, or NULL. */
const struct ml_column *ml_schema_col(const struct ml_schema *s, const char *name);

/* The class index of a target value, or -1 when unseen. */
int ml_schema_class(const struct ml_schema *s, const char *value);

/*
 * Checks new data against the schema: missing or extra columns, type
 * violations (text in a numeric column), unseen categories, values far
 * outside the training range, jumps in the missing rate. The target column
 * is checked when present and ignored when absent. Returns the number of
 * violations found (0: clean), or -1 on error; *report gets a JSON object
 * {"ok": bool, "file": path, "rows": N, "target_checked": bool,
 *  "violations": [{"column", "check", "message", ...}], "notes": [same]}.
 * notes are range and unseen_category findings under their threshold: they
 * are reported but do not count as violations.
 * Checks and thresholds (docs/cmd/data.md):
 *   missing_column  a schema column absent from f
 *   extra_column    a column of f that the schema does not know
 *   type            any non-number in a numeric column (count, first file:line)
 *   range           more than 1 % of a numeric column's values outside
 *                   [min - 0.5*(max-min), max + 0.5*(max-min)] of training
 *   unseen_category more than 1 % of a categorical column's values (or any
 *                   value of a classification target) never seen in training
 *   missing_rate    missing rate above the training rate + 0.10
 */
int ml_schema_validate(const struct ml_schema *s, const struct ml_frame *f, json_t **report,
		       struct err *err);

#endif

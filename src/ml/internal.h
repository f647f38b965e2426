/*
 * internal.h - what the model modules of src/ml share (ml__ names): the
 * fitted feature pipeline (features.c), the liblinear learner (linear.c) and
 * the XGBoost learner with its own tree walker (gbdt.c). model.c glues them.
 * Nothing outside src/ml includes this; the public API is model.h.
 */
#ifndef KILN_ML_INTERNAL_H
#define KILN_ML_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ml/frame.h"
#include "ml/model.h"
#include "ml/schema.h"

#define ML__HASH_BITS_MAX 24
#define ML__NGRAM_MAX	  5
/* All text columns together: 2^24 buckets (128 MiB of idf in memory). */
#define ML__TEXT_BUCKETS_MAX (1u << 24)

/* --- small helpers ------------------------------------------------------ */

/* splitmix64: the seeded PRNG behind every shuffle (deterministic per seed). */
uint64_t ml__rand_next(uint64_t *state);
/* A uniform integer in [0, n), n > 0. */
size_t ml__rand_below(uint64_t *state, size_t n);
/* Fisher-Yates shuffle of idx[0..n). */
void ml__shuffle(size_t *idx, size_t n, uint64_t *state);
/*
 * [+-]digits[.digits] with at most 15 digits, the common form of a number
 * in a CSV file, into *v exactly as strtod would (Clinger's fast path):
 * 1, or 0 when s[0..len) has another form (then use strtod).
 */
int ml__parse_decimal(const char *s, size_t len, double *v);
/* murmur3_x86_32 of len bytes with seed (the feature hash; docs/model-format.md). */
uint32_t ml__murmur3(const void *data, size_t len, uint32_t seed);

/*
 * Runs fn(ctx, i, err) for every i in [0, n) on the calling thread and one
 * more (on the calling thread alone when n < 2 or no thread starts). Items
 * are claimed in ascending order, so fn must only touch item i's own output;
 * two calls run at once. After a failure no new item is claimed. Returns 0,
 * or -1 with err set to the error of the lowest failing item: what a serial
 * loop stopping at its first failure would report.
 */
int ml__par_for(size_t n, int (*fn)(void *ctx, size_t i, struct err *err), void *ctx,
		struct err *err);

/* --- sparse rows -------------------------------------------------------- */

/*
 * A sparse feature vector: n entries (idx ascending after ml__row_finish,
 * no duplicates). Starts on caller-provided storage (often on the stack) and
 * moves to the heap only when it outgrows it, so a typical prediction does
 * not allocate. ml__row_release frees heap storage only.
 */
struct ml__row {
	uint32_t *idx;
	double *val;
	size_t n, cap;
	int heap;
};

void ml__row_init(struct ml__row *r, uint32_t *idx, double *val, size_t cap);
int ml__row_push(struct ml__row *r, uint32_t idx, double val, struct err *err);
/* Room for cap entries in all (moving them to the heap); 0, or -1 with ERR_NOMEM. */
int ml__row_reserve(struct ml__row *r, size_t cap, struct err *err);
void ml__row_release(struct ml__row *r);

/* --- feature pipeline (features.c) -------------------------------------- */

/* A category's key (length and up to 16 bytes, see features.c) and index + 1 (0: empty). */
struct ml__cat_slot {
	uint64_t a, b;
	size_t len;
	size_t cat;
};

struct ml__feat_col {
	char *name;
	enum ml_kind kind;
	uint32_t offset; /* first output feature of this column */
	uint32_t width;	 /* output features of this column */
	/* numeric */
	double mean, std;
	int missing_ind; /* a 0/1 missing indicator follows the value (linear only) */
	/* categorical: sorted (byte order), one output per category */
	size_t ncats;
	char **cats;
	size_t *cat_len; /* strlen of each category */
	/* open-addressing index of cats (features.c), cat_mask + 1 slots */
	struct ml__cat_slot *cat_slot;
	uint32_t cat_mask; /* slots - 1 (a power of two, at least 2 * ncats) */
	/* text: smooth idf per bucket, fitted on ndocs training texts */
	uint32_t ndocs;
	double *idf; /* 2^hash_bits */
};

struct ml__pipeline {
	size_t ncols;
	struct ml__feat_col *cols;
	int ngram_min, ngram_max;
	unsigned hash_bits;
	int for_trees; /* gbdt: raw numeric values, missing as absent (NaN) */
	uint32_t nfeatures;
};

/*
 * Fits the pipeline on the rows rows[0..nrows) of f. The kinds come from the
 * schema (s->cols[i] describes input column i; colmap[i] is its frame
 * column). Everything else (means, categories, document frequencies) is
 * computed here from those rows only.
 */
int ml__pipeline_fit(struct ml__pipeline *p, const struct ml_schema *s, const struct ml_frame *f,
		     const int *colmap, const size_t *rows, size_t nrows, int ngram_min,
		     int ngram_max, unsigned hash_bits, int for_trees, struct err *err);
/*
 * ml__pipeline_fit, then the same rows transformed into out[r] for rows[r]
 * (each ml__row_init'ed by the caller), equal to ml__pipeline_transform of
 * each row: each training text is tokenised once, for both. On failure the
 * pipeline is released; rows already filled stay the caller's to release.
 */
int ml__pipeline_fit_transform(struct ml__pipeline *p, const struct ml_schema *s,
			       const struct ml_frame *f, const int *colmap, const size_t *rows,
			       size_t nrows, int ngram_min, int ngram_max, unsigned hash_bits,
			       int for_trees, struct ml__row *out, struct err *err);
void ml__pipeline_release(struct ml__pipeline *p);

/*
 * Turns one input row (cells[i] for pipeline column i) into a sparse row,
 * sorted by index. Errors (ERR_INVALID) name the column: a number that does
 * not parse. Thread-safe: reads p only.
 */
int ml__pipeline_transform(const struct ml__pipeline *p, const struct ml_cell *cells,
			   struct ml__row *out, struct err *err);

/*
 * The same, written straight into gbdt's value pairs (ml__gbdt_pairs_begin):
 * each feature f < nfeatures with slot_of[f] >= 0 at pair[2 * slot_of[f]]
 * and the next float; other features are dropped. Same errors.
 */
int ml__pipeline_transform_pairs(const struct ml__pipeline *p, const struct ml_cell *cells,
				 const int32_t *slot_of, uint32_t nfeatures, float *pair,
				 struct err *err);

/* The "features" manifest object, and back (ERR_FORMAT naming the field). */
json_t *ml__pipeline_to_json(const struct ml__pipeline *p);
int ml__pipeline_from_json(struct ml__pipeline *p, const json_t *j, struct err *err);

/* --- liblinear (linear.c) ----------------------------------------------- */

/*
 * A linear model as kiln stores it: nw weight vectors of dim entries (the
 * last is the bias). Classification with 2 classes: nw == 1 and the score
 * is the decision value for class 1. With k > 2 classes: nw == k,
 * one-vs-rest. Regression: nw == 1 and the value is y_mean + y_std * score.
 */
struct ml__linear {
	enum ml_algo algo; /* logreg or svm */
	enum ml_task task;
	uint32_t nclasses; /* 0 for regression */
	uint32_t nw, dim;
	double y_mean, y_std;
	double *w; /* nw * dim, class-major */
};

/*
 * Trains with liblinear: logreg L2R_LR, svm L2R_L2LOSS_SVC_DUAL, and for
 * regression L2R_L2LOSS_SVR on the standardised target. y holds class
 * indices (classification) or values. verbose: liblinear's own output.
 */
int ml__linear_train(struct ml__linear *lm, enum ml_algo algo, enum ml_task task, uint32_t nclasses,
		     const struct ml__row *rows, const double *y, size_t n, uint32_t nfeatures,
		     double C, int verbose, struct err *err);
/* Allocation-free, thread-safe. */
void ml__linear_predict(const struct ml__linear *lm, const struct ml__row *x, struct ml_pred *out);
/* Compact little-endian payload (docs/model-format.md), and back. */
int ml__linear_save(const struct ml__linear *lm, unsigned char **data, size_t *len,
		    struct err *err);
/* Refuses weights whose dimension is not expect_dim before allocating. */
int ml__linear_load(struct ml__linear *lm, const unsigned char *data, size_t len,
		    uint32_t expect_dim, struct err *err);
void ml__linear_release(struct ml__linear *lm);

/* --- XGBoost C API, loaded on first use (xgb.c) ------------------------- */

#include <xgboost/c_api.h>

/* The XGBoost functions kiln calls; one list makes the table and the loader. */
#define ML_XGB_FUNCTIONS(X)                                                                        \
	X(XGBGetLastError)                                                                         \
	X(XGDMatrixCreateFromCSREx)                                                                \
	X(XGDMatrixSetFloatInfo)                                                                   \
	X(XGDMatrixFree)                                                                           \
	X(XGBoosterCreate)                                                                         \
	X(XGBoosterFree)                                                                           \
	X(XGBoosterSetParam)                                                                       \
	X(XGBoosterUpdateOneIter)                                                                  \
	X(XGBoosterEvalOneIter)                                                                    \
	X(XGBoosterPredict)                                                                        \
	X(XGBoosterSlice)                                                                          \
	X(XGBoosterSaveModelToBuffer)

struct ml__xgb {
#define ML_XGB_FIELD(name) __typeof__(name) *name;
	ML_XGB_FUNCTIONS(ML_XGB_FIELD)
#undef ML_XGB_FIELD
};

/*
 * Loads libxgboost once per process (thread-safe) and returns its function
 * table, or NULL with an ERR_TRAIN naming the package when it is missing.
 */
const struct ml__xgb *ml__xgb_load(struct err *err);
/* The table; only valid after a successful ml__xgb_load. */
const struct ml__xgb *ml__xgb_table(void);

/* --- XGBoost (gbdt.c) --------------------------------------------------- */

struct ml__tree_node {
	int32_t left, right; /* -1 at a leaf */
	uint32_t feature;
	uint32_t slot; /* index of feature among the features the trees use */
	float split;   /* leaf: the leaf value */
	int default_left;
};

/* Rows are walked on a dense array on the stack when the trees use at most
 * this many distinct features (else by binary search in the sparse row). */
#define ML__GBDT_DENSE_MAX 4096

struct ml__gbdt {
	enum ml_task task;
	uint32_t nclasses; /* 0 for regression */
	uint32_t ngroups;  /* outputs per row: 1, or nclasses for multiclass */
	double base_margin;
	size_t ntrees;
	size_t *tree_start; /* ntrees + 1 offsets into nodes */
	int *tree_group;    /* ntrees */
	struct ml__tree_node *nodes;
	/* slot_of[f]: the slot of feature f, or -1 when no split uses it */
	uint32_t nfeatures, nslots;
	int32_t *slot_of; /* nfeatures */
	/*
	 * The same trees padded to perfect trees of depth pdepth (heap order,
	 * a leaf above that depth copied into every leaf under it), walked
	 * without branches; NULL when too deep or too wide (see gbdt.c).
	 */
	int pdepth;
	struct ml__pnode *pnodes; /* ntrees * (2^pdepth - 1) */
	float *pleaf;		  /* ntrees * 2^pdepth */
};

/*
 * A split of the perfect layout: go left when v < split, v read at index
 * at = 2 * slot + default_left of the row's value pairs (gbdt.c).
 */
struct ml__pnode {
	float split;
	uint32_t at;
};

struct ml__gbdt_params {
	int n_trees, max_depth, early_stopping;
	double eta;
	unsigned long seed;
	int progress;
	int verbose;
};

/*
 * Trains with XGBoost on rows (train) and, when nvalid > 0, early-stops on
 * the validation rows. Fills *payload with the model in XGBoost's UBJSON
 * format (caller frees with mem_free), *best_round with the number of
 * boosting rounds kept, and g with the trees loaded back from the payload
 * (ml__gbdt_load). Checks that g predicts what XGBoost predicts on the
 * validation rows.
 */
int ml__gbdt_train(struct ml__gbdt *g, const struct ml__gbdt_params *prm, enum ml_task task,
		   uint32_t nclasses, const struct ml__row *rows, const double *y, size_t n,
		   const struct ml__row *valid, const double *yvalid, size_t nvalid,
		   uint32_t nfeatures, char **payload, size_t *payload_len, int *best_round,
		   struct err *err);
/*
 * Loads the trees of XGBoost's UBJSON model, the payload ml__gbdt_train
 * writes (model_format 3), checking what it reads (ERR_FORMAT, "payload:
 * ..."): num_class, objective and base_score for the task and classes,
 * tree_info in range, equal array lengths, finite splits, features below
 * nfeatures and children after their parent. On failure g is released.
 */
int ml__gbdt_load(struct ml__gbdt *g, enum ml_task task, uint32_t nclasses, uint32_t nfeatures,
		  const void *data, size_t len, struct err *err);
/* The same from XGBoost's JSON model, the payload of model_format 1 and 2. */
int ml__gbdt_load_json(struct ml__gbdt *g, enum ml_task task, uint32_t nclasses, uint32_t nfeatures,
		       const char *json, size_t len, struct err *err);
/*
 * Walks the trees: allocation-free, thread-safe. Absent features are missing
 * (the pipeline never stores NaN in a row). The row is first scattered into a
 * dense array of the features the trees use, so each node costs one load.
 */
void ml__gbdt_predict(const struct ml__gbdt *g, const struct ml__row *x, struct ml_pred *out);
/*
 * The same in two steps, for a caller that writes the features itself
 * (ml__pipeline_transform_pairs), only when g->pnodes: pairs_begin makes a
 * row of missing values in pair (ML__GBDT_PAIRS floats), predict_pairs
 * walks it. Allocation-free, thread-safe.
 */
#define ML__GBDT_PAIRS (2 * ML__GBDT_DENSE_MAX + 2)
void ml__gbdt_pairs_begin(const struct ml__gbdt *g, float *pair);
void ml__gbdt_predict_pairs(const struct ml__gbdt *g, const float *pair, struct ml_pred *out);
void ml__gbdt_release(struct ml__gbdt *g);

#endif

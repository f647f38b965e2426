/*
 * model.c - a trained model (model.h): the train / test split, fitting the
 * feature pipeline and the learner, the manifest (docs/model-format.md,
 * "Manifest"), saving and loading bundles, and prediction. The learners are
 * in linear.c and gbdt.c, the features in features.c.
 */
#include "ml/model.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/mem.h"
#include "ml/bundle.h"
#include "ml/internal.h"
#include "ml/metrics.h"

#define MODEL_FORMAT	 3 /* manifest "model_format": the newest this kiln reads */
#define MODEL_FORMAT_UBJ 3 /* from here on, a gbdt payload is UBJSON, not JSON */
#define MODEL_CHECKS	 5 /* sample rows re-predicted on load */
#define ROW_ON_STACK	 1024
#define FRAME_THREAD_MIN 512 /* rows before ml_model_predict_frame uses 2 threads */
#define VALID_FRACTION	 0.1 /* of the training part, for gbdt early stopping */
#define CHECK_TOLERANCE	 1e-9

extern char **environ;

struct ml_model {
	json_t *manifest;
	struct ml_schema schema;
	struct ml__pipeline pipe;
	enum ml_algo algo;
	enum ml_task task;
	char *label_name;
	struct ml__linear lin;
	struct ml__gbdt gb;
	unsigned char *payload;
	size_t payload_len;
	char sha256[HASH_SHA256_HEX];
};

static const char *algo_name(enum ml_algo a)
{
	return a == ML_ALGO_LOGREG ? "logreg" : a == ML_ALGO_SVM ? "svm" : "gbdt";
}

static const char *task_name(enum ml_task t)
{
	return t == ML_TASK_REGRESSION ? "regression" : "classification";
}

void ml_train_opts_default(struct ml_train_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->task = ML_TASK_AUTO;
	o->algo = ML_ALGO_LOGREG;
	o->test_size = 0.2;
	o->seed = 42;
	o->ngram_min = 1;
	o->ngram_max = 2;
	o->hash_bits = 18;
	o->C = 1.0;
	o->n_trees = 200;
	o->max_depth = 4;
	o->eta = 0.1;
	o->early_stopping = 20;
}

void ml_model_free(struct ml_model *m)
{
	if (!m)
		return;
	json_decref(m->manifest);
	ml_schema_release(&m->schema);
	ml__pipeline_release(&m->pipe);
	ml__linear_release(&m->lin);
	ml__gbdt_release(&m->gb);
	mem_free(m->label_name);
	mem_free(m->payload);
	mem_free(m);
}

const struct ml_schema *ml_model_schema(const struct ml_model *m)
{
	return &m->schema;
}

enum ml_task ml_model_task(const struct ml_model *m)
{
	return m->task;
}

const char *ml_model_label_name(const struct ml_model *m)
{
	return m->label_name;
}

const json_t *ml_model_manifest(const struct ml_model *m)
{
	return m->manifest;
}

const char *ml_model_sha256(const struct ml_model *m)
{
	return m->sha256;
}

/* --- prediction ------------------------------------------------------------ */

int ml_model_predict(const struct ml_model *m, const struct ml_cell *cells, struct ml_pred *out,
		     struct err *err)
{
	uint32_t idx[ROW_ON_STACK];
	double val[ROW_ON_STACK];
	struct ml__row row;
	int ret = -1;

	if (m->algo == ML_ALGO_GBDT && m->gb.pnodes) {
		/* the features go straight where the trees read them: no sparse row */
		float pair[ML__GBDT_PAIRS];
		ml__gbdt_pairs_begin(&m->gb, pair);
		if (ml__pipeline_transform_pairs(&m->pipe, cells, m->gb.slot_of, m->gb.nfeatures,
						 pair, err) < 0)
			return -1;
		ml__gbdt_predict_pairs(&m->gb, pair, out);
		return 0;
	}
	ml__row_init(&row, idx, val, ROW_ON_STACK);
	if (ml__pipeline_transform(&m->pipe, cells, &row, err) < 0)
		goto out;
	if (m->algo == ML_ALGO_GBDT)
		ml__gbdt_predict(&m->gb, &row, out);
	else
		ml__linear_predict(&m->lin, &row, out);
	ret = 0;
out:
	ml__row_release(&row);
	return ret;
}

/* map[i]: the frame column of schema column i, or -1. */
static int *frame_map(const struct ml_schema *s, const struct ml_frame *f, struct err *err)
{
	int *map = mem_calloc(s->ncols + 1, sizeof(*map));
	size_t i;
	if (!map) {
		err_set(err, ERR_NOMEM, "out of memory");
		return NULL;
	}
	for (i = 0; i < s->ncols; i++)
		map[i] = ml_frame_col(f, s->cols[i].name);
	return map;
}

/* One thread's rows [from, to) of ml_model_predict_frame; fails at row bad. */
struct frame_share {
	const struct ml_model *m;
	const struct ml_frame *f;
	const int *map;
	struct ml_pred *preds;
	struct ml_cell *cells; /* ncols, this thread's own */
	size_t from, to, bad;
	struct err err;
};

static void *predict_rows(void *arg)
{
	struct frame_share *sh = arg;
	const struct ml_schema *s = &sh->m->schema;
	size_t r, i;
	for (r = sh->from; r < sh->to; r++) {
		for (i = 0; i < s->ncols; i++) {
			const char *str = sh->map[i] >= 0 ? sh->f->cells[sh->map[i]][r] : NULL;
			sh->cells[i].kind = str ? ML_CELL_STR : ML_CELL_MISSING;
			sh->cells[i].str = str;
			sh->cells[i].len = str ? strlen(str) : 0;
		}
		if (ml_model_predict(sh->m, sh->cells, &sh->preds[r], &sh->err) < 0) {
			sh->bad = r;
			break;
		}
	}
	return NULL;
}

/*
 * Two threads share the rows when there are at least FRAME_THREAD_MIN: the
 * model is immutable and each writes only its own preds, so the results are
 * those of row-by-row prediction; of two failures the earlier row is reported.
 */
int ml_model_predict_frame(const struct ml_model *m, const struct ml_frame *f,
			   struct ml_pred *preds, struct err *err)
{
	struct frame_share sh[2];
	struct ml_cell *cells = mem_calloc(2 * (m->schema.ncols + 1), sizeof(*cells));
	int *map = frame_map(&m->schema, f, err);
	pthread_t th;
	int threaded = 0, ret = -1;
	size_t k;

	if (!cells || !map) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (k = 0; k < 2; k++) {
		sh[k].m = m;
		sh[k].f = f;
		sh[k].map = map;
		sh[k].preds = preds;
		sh[k].cells = cells + k * (m->schema.ncols + 1);
		sh[k].from = k == 0 ? 0 : f->nrows / 2;
		sh[k].to = k == 0 ? f->nrows / 2 : f->nrows;
		sh[k].bad = SIZE_MAX;
		memset(&sh[k].err, 0, sizeof(sh[k].err));
	}
	/* Without a second thread the calling thread does both halves. */
	if (f->nrows >= FRAME_THREAD_MIN && pthread_create(&th, NULL, predict_rows, &sh[1]) == 0)
		threaded = 1;
	predict_rows(&sh[0]);
	if (threaded) {
		if (pthread_join(th, NULL) != 0) {
			err_set(err, ERR_INTERNAL, "cannot join the prediction thread");
			goto out;
		}
	} else if (sh[0].bad == SIZE_MAX) {
		predict_rows(&sh[1]);
	}
	for (k = 0; k < 2; k++)
		if (sh[k].bad != SIZE_MAX) {
			err_set(err, sh[k].err.code, "%s:%zu: %s", f->path ? f->path : "input",
				f->line ? f->line[sh[k].bad] : sh[k].bad + 1, sh[k].err.msg);
			goto out;
		}
	ret = 0;
out:
	mem_free(cells);
	mem_free(map);
	return ret;
}

/* --- splitting ------------------------------------------------------------- */

/* A frame made of some rows of another; it borrows the strings. */
struct subframe {
	struct ml_frame f;
};

static void subframe_release(struct subframe *s)
{
	size_t c;
	for (c = 0; s->f.cells && c < s->f.ncols; c++)
		mem_free(s->f.cells[c]);
	mem_free(s->f.cells);
	mem_free(s->f.line);
	memset(s, 0, sizeof(*s));
}

static int subframe_make(struct subframe *s, const struct ml_frame *f, const size_t *rows, size_t n,
			 struct err *err)
{
	size_t c, r;
	memset(s, 0, sizeof(*s));
	s->f.ncols = f->ncols;
	s->f.nrows = n;
	s->f.names = f->names;
	s->f.path = f->path;
	s->f.cells = mem_calloc(f->ncols + 1, sizeof(*s->f.cells));
	s->f.line = mem_calloc(n + 1, sizeof(*s->f.line));
	if (!s->f.cells || !s->f.line)
		goto nomem;
	for (c = 0; c < f->ncols; c++) {
		s->f.cells[c] = mem_calloc(n + 1, sizeof(**s->f.cells));
		if (!s->f.cells[c])
			goto nomem;
		for (r = 0; r < n; r++)
			s->f.cells[c][r] = f->cells[c][rows[r]];
	}
	for (r = 0; r < n; r++)
		s->f.line[r] = f->line[rows[r]];
	return 0;
nomem:
	subframe_release(s);
	return err_set(err, ERR_NOMEM, "out of memory splitting the data");
}

/*
 * Splits rows[0..n) into test (first *ntest after the call) and train (the
 * rest), stratified by label[] when classification (label < 0: regression),
 * in an order that depends only on the seed.
 */
static int split_rows(size_t *rows, size_t n, const int *label, size_t nclasses, double frac,
		      uint64_t *rng, size_t *ntest, struct err *err)
{
	size_t *tmp = mem_calloc(n + 1, sizeof(*tmp)), nt = 0, ntr = 0, k, i;
	unsigned char *mark = mem_calloc(n + 1, 1); /* by row number: 1 = test */
	if (!tmp || !mark) {
		mem_free(tmp);
		mem_free(mark);
		return err_set(err, ERR_NOMEM, "out of memory splitting the data");
	}
	ml__shuffle(rows, n, rng);
	for (k = 0; k < (label ? nclasses : 1); k++) {
		size_t cnt = 0, want, taken = 0;
		for (i = 0; i < n; i++)
			if (!label || label[rows[i]] == (int)k)
				cnt++;
		want = (size_t)floor((double)cnt * frac + 0.5);
		if (want >= cnt)
			want = cnt ? cnt - 1 : 0;
		/* the first rows of the class in shuffled order */
		for (i = 0; i < n && taken < want; i++)
			if (!label || label[rows[i]] == (int)k) {
				mark[rows[i]] = 1;
				taken++;
			}
	}
	/* test rows first, then the training rows, each in shuffled order */
	for (i = 0; i < n; i++)
		if (mark[rows[i]])
			tmp[nt++] = rows[i];
	for (i = 0; i < n; i++)
		if (!mark[rows[i]])
			tmp[nt + ntr++] = rows[i];
	memcpy(rows, tmp, n * sizeof(*rows));
	mem_free(tmp);
	mem_free(mark);
	*ntest = nt;
	return 0;
}

/* --- training ---------------------------------------------------------------- */

struct trainset {
	struct ml_frame full, testfile;
	struct subframe train, test;
	const struct ml_frame *tr, *te; /* the training and test frames */
	int target_col, test_target_col;
	int *ytr_cls, *yte_cls;
	double *ytr, *yte;
	struct ml__row *rows;
	int best_round;
	size_t nvalid;
};

static void trainset_release(struct trainset *t)
{
	size_t i;
	for (i = 0; t->rows && t->tr && i < t->tr->nrows; i++)
		ml__row_release(&t->rows[i]);
	mem_free(t->rows);
	subframe_release(&t->train);
	subframe_release(&t->test);
	ml_frame_release(&t->full);
	ml_frame_release(&t->testfile);
	mem_free(t->ytr_cls);
	mem_free(t->yte_cls);
	mem_free(t->ytr);
	mem_free(t->yte);
}

/* Targets of a frame: class indices (classification) or values. */
static int read_targets(const struct ml_schema *s, const struct ml_frame *f, int col, int **cls,
			double **y, struct err *err)
{
	size_t r;
	*cls = mem_calloc(f->nrows + 1, sizeof(**cls));
	*y = mem_calloc(f->nrows + 1, sizeof(**y));
	if (!*cls || !*y)
		return err_set(err, ERR_NOMEM, "out of memory reading targets");
	for (r = 0; r < f->nrows; r++) {
		const char *v = f->cells[col][r];
		char *end = NULL;
		if (!v)
			return err_set(err, ERR_INVALID, "%s:%zu: missing target value in '%s'",
				       f->path, f->line[r], f->names[col]);
		if (s->task == ML_TASK_CLASSIFICATION) {
			(*cls)[r] = ml_schema_class(s, v);
			if ((*cls)[r] < 0)
				return err_set(
					err, ERR_INVALID,
					"%s:%zu: class '%s' of '%s' is not in the training data",
					f->path, f->line[r], v, f->names[col]);
			(*y)[r] = (*cls)[r];
		} else {
			errno = 0;
			(*y)[r] = strtod(v, &end);
			if (end == v || *end || !isfinite((*y)[r]))
				return err_set(err, ERR_INVALID,
					       "%s:%zu: target '%s': '%s' is not a number", f->path,
					       f->line[r], f->names[col], v);
		}
	}
	return 0;
}

/*
 * The --test file, read on its own thread while the main one reads the
 * training file and infers its schema (the reader keeps no global state).
 */
struct test_read {
	struct ml_frame *f;
	const char *path;
	struct err err;
	int rc, started, joined;
	pthread_t th;
};

static void *test_read_run(void *arg)
{
	struct test_read *tr = arg;
	tr->rc = ml_frame_read_csv(tr->f, tr->path, &tr->err);
	return NULL;
}

/* Waits for the reader (or, when no thread could start, reads now). */
static int test_read_join(struct test_read *tr, struct err *err)
{
	if (!tr->joined) {
		tr->joined = 1;
		if (!tr->started)
			test_read_run(tr);
		else if (pthread_join(tr->th, NULL) != 0)
			return err_set(err, ERR_INTERNAL, "cannot join the test reader");
	}
	if (tr->rc < 0)
		return err_set(err, tr->err.code, "%s", tr->err.msg);
	return 0;
}

/* Reads the data, splits it, and infers the schema on the training rows. */
static int load_data(struct ml_model *m, struct trainset *t, const struct ml_train_opts *o,
		     struct err *err)
{
	struct ml_schema all, *sall;
	size_t *rows = NULL, n, ntest = 0, i;
	int *cls = NULL;
	double *yall = NULL;
	uint64_t rng = o->seed;
	struct test_read tr;
	int ret = -1;

	memset(&all, 0, sizeof(all));
	memset(&tr, 0, sizeof(tr));
	tr.joined = !o->test_path;
	if (o->test_path) {
		tr.f = &t->testfile;
		tr.path = o->test_path;
		/* Both on stdin: the training file is read first, as without a thread. */
		if (strcmp(o->test_path, "-") != 0 || strcmp(o->train_path, "-") != 0)
			tr.started = pthread_create(&tr.th, NULL, test_read_run, &tr) == 0;
	}
	sall = o->test_path ? &m->schema : &all;
	if (ml_frame_read_csv(&t->full, o->train_path, err) < 0)
		goto out;
	t->target_col = o->target ? ml_frame_col(&t->full, o->target) : (int)t->full.ncols - 1;
	if (t->target_col < 0) {
		err_set(err, ERR_INVALID, "%s: unknown target column '%s'", o->train_path,
			o->target);
		goto out;
	}
	/* With --test the training rows are the whole file: one inference serves.
	 * The reference statistics come later, beside the learner (lineage). */
	if (ml_schema_infer_kinds(sall, &t->full, t->full.names[t->target_col], o->task, err) < 0)
		goto out;
	if (sall->task == ML_TASK_CLASSIFICATION && sall->nclasses > ML_MAX_CLASSES) {
		err_set(err, ERR_INVALID, "%s: target '%s' has %zu classes (at most %d)",
			o->train_path, t->full.names[t->target_col], sall->nclasses,
			ML_MAX_CLASSES);
		goto out;
	}
	n = t->full.nrows;
	rows = mem_calloc(n + 1, sizeof(*rows));
	if (!rows) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		rows[i] = i;
	if (o->test_path) {
		if (test_read_join(&tr, err) < 0)
			goto out;
		t->te = &t->testfile;
		t->tr = &t->full;
	} else {
		if (read_targets(&all, &t->full, t->target_col, &cls, &yall, err) < 0)
			goto out;
		if (split_rows(rows, n, all.task == ML_TASK_CLASSIFICATION ? cls : NULL,
			       all.nclasses, o->test_size, &rng, &ntest, err) < 0)
			goto out;
		if (ntest == 0 || ntest >= n) {
			err_set(err, ERR_INVALID,
				"%s: %zu rows are too few to hold out a test split; give --test "
				"FILE",
				o->train_path, n);
			goto out;
		}
		if (subframe_make(&t->test, &t->full, rows, ntest, err) < 0 ||
		    subframe_make(&t->train, &t->full, rows + ntest, n - ntest, err) < 0)
			goto out;
		t->te = &t->test.f;
		t->tr = &t->train.f;
	}
	if (!o->test_path && ml_schema_infer_kinds(&m->schema, t->tr, t->full.names[t->target_col],
						   all.task, err) < 0)
		goto out;
	if (m->schema.task == ML_TASK_CLASSIFICATION && m->schema.nclasses != sall->nclasses) {
		err_set(err, ERR_INVALID, "%s: a class of '%s' has too few rows to train on",
			o->train_path, t->full.names[t->target_col]);
		goto out;
	}
	t->test_target_col = ml_frame_col(t->te, t->full.names[t->target_col]);
	if (t->test_target_col < 0) {
		err_set(err, ERR_INVALID, "%s: no target column '%s'", t->te->path,
			t->full.names[t->target_col]);
		goto out;
	}
	for (i = 0; i < m->schema.ncols; i++)
		if (ml_frame_col(t->te, m->schema.cols[i].name) < 0) {
			err_set(err, ERR_INVALID, "%s: no column '%s'", t->te->path,
				m->schema.cols[i].name);
			goto out;
		}
	if (read_targets(&m->schema, t->tr, t->target_col, &t->ytr_cls, &t->ytr, err) < 0 ||
	    read_targets(&m->schema, t->te, t->test_target_col, &t->yte_cls, &t->yte, err) < 0)
		goto out;
	m->task = m->schema.task;
	ret = 0;
out:
	if (tr.started && !tr.joined)
		(void)pthread_join(tr.th, NULL); /* failing already: its result is not needed */
	ml_schema_release(&all);
	mem_free(rows);
	mem_free(cls);
	mem_free(yall);
	return ret;
}

static int fit_features(struct ml_model *m, struct trainset *t, const struct ml_train_opts *o,
			struct err *err)
{
	size_t *rows = NULL, i, n = t->tr->nrows;
	int *map = frame_map(&m->schema, t->tr, err);
	int ret = -1;

	rows = mem_calloc(n + 1, sizeof(*rows));
	t->rows = mem_calloc(n + 1, sizeof(*t->rows));
	if (!map || !rows || !t->rows) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		rows[i] = i;
		ml__row_init(&t->rows[i], NULL, NULL, 0);
	}
	if (ml__pipeline_fit_transform(&m->pipe, &m->schema, t->tr, map, rows, n, o->ngram_min,
				       o->ngram_max, o->hash_bits, o->algo == ML_ALGO_GBDT, t->rows,
				       err) < 0)
		goto out;
	ret = 0;
out:
	mem_free(rows);
	mem_free(map);
	return ret;
}

/* gbdt: early stopping on a stratified slice of the training rows. */
static int train_gbdt(struct ml_model *m, struct trainset *t, const struct ml_train_opts *o,
		      struct err *err)
{
	struct ml__gbdt_params prm = {
		o->n_trees, o->max_depth, o->early_stopping, o->eta, o->seed, o->progress, 0};
	size_t n = t->tr->nrows, *order = mem_calloc(n + 1, sizeof(*order)), nvalid = 0, i;
	struct ml__row *rows = mem_calloc(n + 1, sizeof(*rows));
	double *y = mem_calloc(n + 1, sizeof(*y));
	uint64_t rng = o->seed ^ 0x5eed5eed5eed5eedULL;
	char *payload = NULL;
	size_t plen = 0;
	int ret = -1;

	if (!order || !rows || !y) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		order[i] = i;
	if (o->early_stopping > 0 && n >= 20 &&
	    split_rows(order, n, m->task == ML_TASK_CLASSIFICATION ? t->ytr_cls : NULL,
		       m->schema.nclasses, VALID_FRACTION, &rng, &nvalid, err) < 0)
		goto out;
	/* rows/y: validation rows first, then training rows (borrowed structs). */
	for (i = 0; i < n; i++) {
		rows[i] = t->rows[order[i]];
		y[i] = t->ytr[order[i]];
	}
	if (ml__gbdt_train(&m->gb, &prm, m->task, (uint32_t)m->schema.nclasses, rows + nvalid,
			   y + nvalid, n - nvalid, rows, y, nvalid, m->pipe.nfeatures, &payload,
			   &plen, &t->best_round, err) < 0)
		goto out;
	m->payload = (unsigned char *)payload;
	m->payload_len = plen;
	t->nvalid = nvalid;
	ret = 0;
out:
	mem_free(order);
	mem_free(rows);
	mem_free(y);
	return ret;
}

/* --- manifest -------------------------------------------------------------- */

static json_t *classes_json(const struct ml_schema *s)
{
	json_t *a;
	size_t i;
	if (s->task != ML_TASK_CLASSIFICATION)
		return json_null();
	a = json_array();
	for (i = 0; a && i < s->nclasses; i++)
		if (json_array_append_new(a, json_string(s->classes[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *hyper_json(const struct ml_model *m, const struct ml_train_opts *o,
			  const struct trainset *t)
{
	if (o->algo == ML_ALGO_GBDT)
		return json_pack("{s:s, s:s, s:i, s:i, s:f, s:i, s:i, s:i, s:I, s:i}", "library",
				 "xgboost", "tree_method", "hist", "n_trees", o->n_trees,
				 "max_depth", o->max_depth, "eta", o->eta, "early_stopping",
				 o->early_stopping, "best_round", t->best_round, "validation_rows",
				 (int)t->nvalid, "seed", (json_int_t)o->seed, "nthread", 1);
	return json_pack("{s:s, s:s, s:f, s:f, s:I}", "library", "liblinear", "solver",
			 m->task == ML_TASK_REGRESSION ? "L2R_L2LOSS_SVR"
			 : o->algo == ML_ALGO_SVM      ? "L2R_L2LOSS_SVC_DUAL"
						       : "L2R_LR",
			 "C", o->C, "bias", 1.0, "seed", (json_int_t)o->seed);
}

/* Class frequencies of the test predictions, or a histogram of values. */
static json_t *reference_json(const struct ml_model *m, const struct ml_pred *p, size_t n)
{
	json_t *a = json_array(), *b = json_array();
	size_t i, k;
	if (!a || !b)
		goto fail;
	if (m->task == ML_TASK_CLASSIFICATION) {
		for (k = 0; k < m->schema.nclasses; k++) {
			size_t c = 0;
			for (i = 0; i < n; i++)
				c += p[i].klass == (int)k;
			if (json_array_append_new(a, json_real(n ? (double)c / (double)n : 0)) < 0)
				goto fail;
		}
		json_decref(b);
		return json_pack("{s:s, s:o, s:o, s:I}", "kind", "class_frequencies", "classes",
				 classes_json(&m->schema), "frequencies", a, "n", (json_int_t)n);
	} else {
		double lo = INFINITY, hi = -INFINITY, w;
		size_t cnt[ML_HIST_BINS] = {0};
		for (i = 0; i < n; i++) {
			lo = fmin(lo, p[i].value);
			hi = fmax(hi, p[i].value);
		}
		if (!(hi > lo))
			hi = lo + 1;
		w = (hi - lo) / ML_HIST_BINS;
		for (i = 0; i < n; i++) {
			k = (size_t)((p[i].value - lo) / w);
			cnt[k >= ML_HIST_BINS ? ML_HIST_BINS - 1 : k]++;
		}
		for (k = 0; k <= ML_HIST_BINS; k++)
			if (json_array_append_new(a, json_real(lo + w * (double)k)) < 0)
				goto fail;
		for (k = 0; k < ML_HIST_BINS; k++)
			if (json_array_append_new(
				    b, json_real(n ? (double)cnt[k] / (double)n : 0)) < 0)
				goto fail;
		return json_pack("{s:s, s:o, s:o, s:I}", "kind", "histogram", "edges", a,
				 "fractions", b, "n", (json_int_t)n);
	}
fail:
	json_decref(a);
	json_decref(b);
	return NULL;
}

static json_t *pred_json(const struct ml_model *m, const struct ml_pred *p)
{
	json_t *j, *probs;
	size_t k;
	if (m->task == ML_TASK_REGRESSION)
		return json_pack("{s:f}", "value", p->value);
	probs = json_array();
	for (k = 0; probs && k < m->schema.nclasses; k++)
		if (json_array_append_new(probs, json_real(p->prob[k])) < 0) {
			json_decref(probs);
			return NULL;
		}
	j = json_pack("{s:s, s:o}", "class", m->schema.classes[p->klass], "probabilities", probs);
	return j;
}

/* Up to MODEL_CHECKS test rows with the predictions made for them now. */
static json_t *checks_json(const struct ml_model *m, const struct ml_frame *f,
			   const struct ml_pred *p)
{
	json_t *a = json_array();
	size_t r, i;
	if (!a)
		return NULL;
	for (r = 0; r < f->nrows && r < MODEL_CHECKS; r++) {
		json_t *in = json_object(), *c;
		for (i = 0; in && i < m->schema.ncols; i++) {
			int col = ml_frame_col(f, m->schema.cols[i].name);
			const char *s = col >= 0 ? f->cells[col][r] : NULL;
			if (json_object_set_new(in, m->schema.cols[i].name,
						s ? json_string(s) : json_null()) < 0) {
				json_decref(in);
				in = NULL;
			}
		}
		c = in ? json_pack("{s:o, s:o}", "input", in, "output", pred_json(m, &p[r])) : NULL;
		if (!c || json_array_append_new(a, c) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* Runs git in dir with argv; its first output line (or all of it) in out. */
static int run_git(const char *dir, const char *arg1, const char *arg2, struct buf *out)
{
	char *argv[] = {(char *)"git", (char *)"-C", (char *)dir, (char *)arg1, (char *)arg2, NULL};
	posix_spawn_file_actions_t fa;
	int pfd[2], status = 0, ret = -1;
	pid_t pid;
	char tmp[4096];
	ssize_t got;

	if (pipe(pfd) < 0)
		return -1;
	if (posix_spawn_file_actions_init(&fa) != 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	(void)posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	(void)posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	(void)posix_spawn_file_actions_addclose(&fa, pfd[0]);
	if (posix_spawnp(&pid, "git", &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	while ((got = read(pfd[0], tmp, sizeof(tmp))) > 0)
		if (out->len < 1 << 20 && buf_add(out, tmp, (size_t)got) < 0)
			break;
	close(pfd[0]);
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		ret = 0;
	return ret;
}

/*
 * Whether git could find a repository for dir: a .git entry, or a bare
 * repository's HEAD, in dir or a parent, or GIT_DIR set. When not, git would
 * only fail, so the spawn (several milliseconds) is skipped.
 */
static int maybe_in_repo(const char *dir)
{
	struct buf p = BUF_INIT;
	char *abs = realpath(dir, NULL);
	int found = getenv("GIT_DIR") != NULL || !abs;
	size_t len = abs ? strlen(abs) : 0;

	while (!found && len > 0) {
		buf_reset(&p);
		if (buf_add(&p, abs, len) < 0 || buf_adds(&p, "/.git") < 0) {
			found = 1; /* out of memory: let git decide */
			break;
		}
		found = access(p.ptr, F_OK) == 0;
		buf_setlen(&p, len);
		if (!found && buf_adds(&p, "/HEAD") == 0)
			found = access(p.ptr, F_OK) == 0;
		while (len > 0 && abs[len - 1] != '/')
			len--;
		if (len > 0)
			len--; /* the slash; "" stands for the root */
	}
	if (!found && abs) {
		found = access("/.git", F_OK) == 0 || access("/HEAD", F_OK) == 0;
	}
	free(abs); /* realpath's buffer comes from malloc */
	buf_release(&p);
	return found;
}

/* A function run on a thread of its own (or, when none starts, at once). */
struct side_job {
	pthread_t th;
	int threaded;
};

static void side_start(struct side_job *j, void *(*fn)(void *), void *arg)
{
	j->threaded = pthread_create(&j->th, NULL, fn, arg) == 0;
	if (!j->threaded)
		(void)fn(arg);
}

/* Waits for the job; idempotent. */
static int side_join(struct side_job *j, struct err *err)
{
	if (!j->threaded)
		return 0;
	j->threaded = 0;
	if (pthread_join(j->th, NULL) != 0)
		return err_set(err, ERR_INTERNAL, "cannot join a thread");
	return 0;
}

/*
 * What the manifest needs and the learner does not, gathered on other
 * threads: the inputs' sha256 (one more read of each file) and git's view of
 * the training file (two process spawns), and the schema's reference
 * statistics (quantiles, histograms, category frequencies) while the learner
 * trains. Reading the data and fitting the features use both cores, so for
 * gbdt, whose learner takes the longest, the lineage waits for it too; and
 * a thread loads XGBoost (a few milliseconds of dynamic linking) from the
 * start, so that is done by the time the booster is created. liblinear
 * trains in milliseconds: its lineage starts at once.
 */
struct lineage {
	const struct ml_train_opts *o;
	struct ml_schema *schema; /* its statistics are added from frame */
	const struct ml_frame *frame;
	char data_sha[HASH_SHA256_HEX], test_sha[HASH_SHA256_HEX];
	char git_commit[41];
	int has_data, has_test, has_git, git_dirty;
	int defer_data, defer_test; /* not regular files: hash them after reading */
	int rc, stats_rc;	    /* -1: err, stats_err say why */
	struct err err, stats_err;
	struct side_job collect, stats, xgb;
};

/*
 * The commit of the git work tree holding dir, if any, with its dirty flag.
 * Returns 1 when found.
 */
static int lineage_git_dir(struct lineage *l, const char *dir)
{
	struct buf head = BUF_INIT, st = BUF_INIT;
	if (maybe_in_repo(dir) && run_git(dir, "rev-parse", "HEAD", &head) == 0 && head.len >= 40 &&
	    run_git(dir, "status", "--porcelain", &st) == 0) {
		memcpy(l->git_commit, head.ptr, 40);
		l->git_commit[40] = '\0';
		l->has_git = 1;
		l->git_dirty = st.len > 0;
	}
	buf_release(&head);
	buf_release(&st);
	return l->has_git;
}

/*
 * The training file's work tree, else the working directory's (data kept
 * outside the project, as in a workflow job whose data is on the machine).
 */
static void lineage_git(struct lineage *l, const char *path)
{
	char *copy = mem_strdup(path);
	if (!copy)
		return; /* lineage without git beats no model: git is best effort */
	if (!lineage_git_dir(l, dirname(copy)))
		(void)lineage_git_dir(l, ".");
	mem_free(copy);
}

/*
 * Hashes path into hex now when it is a regular file. A pipe (`--test
 * <(...)`) can be read once, by the CSV reader: it is hashed after that, as
 * the main thread builds the manifest (*deferred set).
 */
static int lineage_hash(const char *path, char *hex, int *done, int *deferred, struct err *err)
{
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		*deferred = 1;
		return 0;
	}
	if (hash_sha256_file(path, hex, err) < 0)
		return -1;
	*done = 1;
	return 0;
}

static void *lineage_collect(void *arg)
{
	struct lineage *l = arg;
	const struct ml_train_opts *o = l->o;

	if (strcmp(o->train_path, "-") != 0) {
		if (lineage_hash(o->train_path, l->data_sha, &l->has_data, &l->defer_data,
				 &l->err) < 0)
			goto fail;
		lineage_git(l, o->train_path);
	}
	if (o->test_path && strcmp(o->test_path, "-") != 0 &&
	    lineage_hash(o->test_path, l->test_sha, &l->has_test, &l->defer_test, &l->err) < 0)
		goto fail;
	l->rc = 0;
	return NULL;
fail:
	l->rc = -1;
	return NULL;
}

/* A failure is reported again, and in place, by the trainer's own call. */
static void *xgb_preload(void *arg)
{
	struct err xerr = ERR_INIT;
	(void)arg;
	(void)ml__xgb_load(&xerr);
	return NULL;
}

static void *stats_collect(void *arg)
{
	struct lineage *l = arg;
	l->stats_rc = ml_schema_infer_stats(l->schema, l->frame, &l->stats_err);
	return NULL;
}

/* Before reading: loads XGBoost for gbdt, collects the lineage for liblinear. */
static void lineage_begin(struct lineage *l, const struct ml_train_opts *o)
{
	memset(l, 0, sizeof(*l));
	l->o = o;
	if (o->algo == ML_ALGO_GBDT)
		side_start(&l->xgb, xgb_preload, NULL);
	else
		side_start(&l->collect, lineage_collect, l);
}

/* As the learner starts: the statistics of s from f, and gbdt's lineage. */
static void lineage_beside_learner(struct lineage *l, struct ml_schema *s, const struct ml_frame *f)
{
	l->schema = s;
	l->frame = f;
	side_start(&l->stats, stats_collect, l);
	if (l->o->algo == ML_ALGO_GBDT)
		side_start(&l->collect, lineage_collect, l);
}

/* Waits for every job; 0, or -1 with the first error in err. Idempotent. */
static int lineage_finish(struct lineage *l, struct err *err)
{
	int a = side_join(&l->xgb, err), b = side_join(&l->collect, err),
	    c = side_join(&l->stats, err);
	if (a < 0 || b < 0 || c < 0)
		return -1;
	if (l->rc < 0)
		return err_set(err, l->err.code, "%s", l->err.msg);
	if (l->stats_rc < 0)
		return err_set(err, l->stats_err.code, "%s", l->stats_err.msg);
	return 0;
}

static json_t *lineage_json(struct lineage *l, const char *created, struct err *err)
{
	const struct ml_train_opts *o = l->o;
	json_t *lin;
	if (lineage_finish(l, err) < 0)
		return NULL;
	if ((l->defer_data && hash_sha256_file(o->train_path, l->data_sha, err) < 0) ||
	    (l->defer_test && hash_sha256_file(o->test_path, l->test_sha, err) < 0))
		return NULL;
	l->has_data |= l->defer_data;
	l->has_test |= l->defer_test;
	lin = json_pack("{s:s, s:s}", "created_at", created, "kiln_version", KILN_VERSION);
	if (!lin)
		goto nomem;
	if (l->has_data && (json_object_set_new(lin, "data_sha256", json_string(l->data_sha)) < 0 ||
			    json_object_set_new(lin, "data_path", json_string(o->train_path)) < 0))
		goto nomem;
	if (l->has_git && (json_object_set_new(lin, "git_commit", json_string(l->git_commit)) < 0 ||
			   json_object_set_new(lin, "git_dirty", json_boolean(l->git_dirty)) < 0))
		goto nomem;
	if (l->has_test && json_object_set_new(lin, "test_sha256", json_string(l->test_sha)) < 0)
		goto nomem;
	return lin;
nomem:
	json_decref(lin);
	err_set(err, ERR_NOMEM, "out of memory building the manifest");
	return NULL;
}

static json_t *metrics_json(const struct ml_model *m, const struct trainset *t,
			    const struct ml_pred *p)
{
	if (m->task == ML_TASK_CLASSIFICATION)
		return ml_metrics_classification(t->yte_cls, p, t->te->nrows, m->schema.classes,
						 m->schema.nclasses);
	return ml_metrics_regression(t->yte, p, t->te->nrows);
}

/*
 * The oldest model_format that reads this bundle, so older kilns keep
 * loading what they understand: 3 for gbdt (XGBoost's UBJSON payload), 2
 * for text idf as idf_values/idf_index, else 1.
 */
static int manifest_format(const struct ml_model *m)
{
	size_t i;
	if (m->algo == ML_ALGO_GBDT)
		return MODEL_FORMAT_UBJ;
	for (i = 0; i < m->pipe.ncols; i++)
		if (m->pipe.cols[i].kind == ML_TEXT)
			return 2;
	return 1;
}

static int build_manifest(struct ml_model *m, const struct trainset *t,
			  const struct ml_train_opts *o, const struct ml_pred *p, struct lineage *l,
			  struct err *err)
{
	char created[32];
	time_t now = o->created_at > 0 ? (time_t)o->created_at : time(NULL);
	struct tm tm;
	json_t *lin;

	if (!gmtime_r(&now, &tm) ||
	    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return err_set(err, ERR_INTERNAL, "cannot format the creation time");
	lin = lineage_json(l, created, err);
	if (!lin)
		return -1;
	m->manifest = json_pack(
		"{s:i, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
		"s:{s:I, s:I, s:s, s:f}}",
		"model_format", manifest_format(m), "kiln_version", KILN_VERSION, "created_at",
		created, "task", task_name(m->task), "algorithm", algo_name(m->algo),
		"hyperparameters", hyper_json(m, o, t), "label_name", m->label_name, "target",
		t->full.names[t->target_col], "classes", classes_json(&m->schema), "features",
		ml__pipeline_to_json(&m->pipe), "schema", ml_schema_to_json(&m->schema), "metrics",
		metrics_json(m, t, p), "reference", reference_json(m, p, t->te->nrows), "checks",
		checks_json(m, t->te, p), "lineage", lin, "split", "train_rows",
		(json_int_t)t->tr->nrows, "test_rows", (json_int_t)t->te->nrows, "method",
		o->test_path			    ? "test file"
		: m->task == ML_TASK_CLASSIFICATION ? "stratified"
						    : "random",
		"test_size", o->test_path ? 0.0 : o->test_size);
	if (!m->manifest)
		return err_set(err, ERR_NOMEM, "out of memory building the manifest");
	return 0;
}

static int check_opts(const struct ml_train_opts *o, struct err *err)
{
	if (!o->train_path)
		return err_set(err, ERR_USAGE, "no training data");
	if (!o->test_path && !(o->test_size > 0 && o->test_size < 1))
		return err_set(err, ERR_USAGE, "test size %g: need 0 < size < 1", o->test_size);
	if (o->algo != ML_ALGO_GBDT && !(o->C > 0))
		return err_set(err, ERR_USAGE, "C %g: must be positive", o->C);
	if (o->algo == ML_ALGO_GBDT &&
	    (o->n_trees < 1 || o->n_trees > 100000 || o->max_depth < 1 || o->max_depth > 30 ||
	     !(o->eta > 0) || o->early_stopping < 0))
		return err_set(err, ERR_USAGE,
			       "trees 1..100000, depth 1..30, eta > 0, early stopping >= 0");
	return 0;
}

/* Logs (debug level) the wall time since *t0 for one stage, and restarts it. */
static void stage_done(struct timespec *t0, const char *stage)
{
	struct timespec t1;
	if (LOG_DEBUG > log_level_current || clock_gettime(CLOCK_MONOTONIC, &t1) != 0)
		return;
	log_debug("train: %s %.2f ms", stage,
		  (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
			  (double)(t1.tv_nsec - t0->tv_nsec) / 1e6);
	*t0 = t1;
}

struct ml_model *ml_model_train(const struct ml_train_opts *opts, struct err *err)
{
	struct ml_model *m = mem_calloc(1, sizeof(*m));
	struct trainset t;
	struct ml_pred *preds = NULL;
	struct lineage lin;
	struct timespec t0 = {0, 0};
	int ok = 0;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0); /* for debug timings only */
	memset(&t, 0, sizeof(t));
	memset(&lin, 0, sizeof(lin));
	if (!m) {
		err_set(err, ERR_NOMEM, "out of memory");
		return NULL;
	}
	m->algo = opts->algo;
	if (check_opts(opts, err) < 0)
		goto out;
	lineage_begin(&lin, opts);
	if (load_data(m, &t, opts, err) < 0)
		goto out;
	stage_done(&t0, "read and infer the schema");
	m->label_name =
		mem_strdup(opts->label_name ? opts->label_name : t.full.names[t.target_col]);
	if (!m->label_name) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (fit_features(m, &t, opts, err) < 0)
		goto out;
	stage_done(&t0, "fit and transform the features");
	lineage_beside_learner(&lin, &m->schema, t.tr);
	if (m->algo == ML_ALGO_GBDT) {
		if (train_gbdt(m, &t, opts, err) < 0)
			goto out;
	} else {
		if (ml__linear_train(&m->lin, m->algo, m->task, (uint32_t)m->schema.nclasses,
				     t.rows, t.ytr, t.tr->nrows, m->pipe.nfeatures, opts->C,
				     opts->verbose, err) < 0 ||
		    ml__linear_save(&m->lin, &m->payload, &m->payload_len, err) < 0)
			goto out;
	}
	stage_done(&t0, "train the learner");
	preds = mem_calloc(t.te->nrows + 1, sizeof(*preds));
	if (!preds) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (ml_model_predict_frame(m, t.te, preds, err) < 0)
		goto out;
	stage_done(&t0, "predict the test rows");
	if (build_manifest(m, &t, opts, preds, &lin, err) < 0)
		goto out;
	stage_done(&t0, "build the manifest");
	ok = 1;
out:
	(void)lineage_finish(&lin, err); /* joins; an earlier error wins */
	mem_free(preds);
	trainset_release(&t);
	if (!ok) {
		ml_model_free(m);
		return NULL;
	}
	return m;
}

int ml_model_save(const struct ml_model *m, const char *path, struct err *err)
{
	struct timespec t0 = {0, 0};
	struct ml_bundle b;
	memset(&b, 0, sizeof(b));
	b.manifest = m->manifest; /* borrowed: not released here */
	b.payload = m->payload;
	b.payload_len = m->payload_len;
	(void)clock_gettime(CLOCK_MONOTONIC, &t0); /* for debug timings only */
	if (ml_bundle_write(&b, path, err) < 0)
		return -1;
	stage_done(&t0, "write the bundle");
	/* The model is immutable to its users; its identity is set once saved. */
	memcpy(((struct ml_model *)m)->sha256, b.sha256, sizeof(m->sha256));
	return 0;
}

/* --- loading ------------------------------------------------------------------ */

static int parse_enum(const json_t *man, const char *key, const char *const *names, int n,
		      struct err *err)
{
	const char *s = json_string_value(json_object_get(man, key));
	int i;
	for (i = 0; s && i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return err_set(err, ERR_FORMAT, "manifest: %s: expected one of %s%s%s", key, names[0],
		       n > 1 ? ", " : "", n > 1 ? names[1] : "");
}

/* Re-predicts the sample rows stored at training time. */
static int run_checks(const struct ml_model *m, const json_t *checks, struct err *err)
{
	struct ml_cell *cells = NULL;
	size_t i, c;
	int ret = -1;
	if (!json_is_array(checks))
		return err_set(err, ERR_FORMAT, "manifest: checks: expected an array");
	cells = mem_calloc(m->schema.ncols + 1, sizeof(*cells));
	if (!cells)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (i = 0; i < json_array_size(checks); i++) {
		const json_t *ck = json_array_get(checks, i);
		const json_t *in = json_object_get(ck, "input"),
			     *outj = json_object_get(ck, "output");
		struct ml_pred p;
		double want;
		if (!json_is_object(in) || !json_is_object(outj)) {
			err_set(err, ERR_FORMAT, "manifest: checks[%zu]: needs input and output",
				i);
			goto out;
		}
		for (c = 0; c < m->schema.ncols; c++) {
			const json_t *v = json_object_get(in, m->schema.cols[c].name);
			cells[c].kind = json_is_string(v) ? ML_CELL_STR : ML_CELL_MISSING;
			cells[c].str = json_string_value(v);
			cells[c].len = json_string_length(v);
		}
		if (ml_model_predict(m, cells, &p, err) < 0)
			goto out;
		if (m->task == ML_TASK_REGRESSION) {
			const json_t *v = json_object_get(outj, "value");
			want = json_number_value(v);
			if (!json_is_number(v) ||
			    !(fabs(p.value - want) <= CHECK_TOLERANCE * (1 + fabs(want)))) {
				err_set(err, ERR_CHECKSUM,
					"bundle check %zu failed: predicts %.17g, trained model "
					"predicted %.17g",
					i, p.value, want);
				goto out;
			}
		} else {
			const char *cls = json_string_value(json_object_get(outj, "class"));
			const json_t *probs = json_object_get(outj, "probabilities");
			for (c = 0; c < m->schema.nclasses; c++) {
				want = json_number_value(json_array_get(probs, c));
				if (!json_is_number(json_array_get(probs, c)) ||
				    !(fabs(p.prob[c] - want) <= CHECK_TOLERANCE))
					break;
			}
			if (!cls || c < m->schema.nclasses ||
			    strcmp(cls, m->schema.classes[p.klass]) != 0) {
				err_set(err, ERR_CHECKSUM,
					"bundle check %zu failed: predicts '%s' (%.6f), unlike the "
					"trained model",
					i, m->schema.classes[p.klass], p.value);
				goto out;
			}
		}
	}
	ret = 0;
out:
	mem_free(cells);
	return ret;
}

static int check_consistency(const struct ml_model *m, struct err *err)
{
	size_t i;
	if (m->pipe.ncols != m->schema.ncols)
		return err_set(err, ERR_FORMAT, "manifest: features and schema columns differ");
	for (i = 0; i < m->schema.ncols; i++)
		if (strcmp(m->pipe.cols[i].name, m->schema.cols[i].name) != 0 ||
		    m->pipe.cols[i].kind != m->schema.cols[i].kind)
			return err_set(err, ERR_FORMAT,
				       "manifest: features column %zu does not match the schema",
				       i);
	if (m->schema.task != m->task)
		return err_set(err, ERR_FORMAT, "manifest: task does not match the schema");
	if (m->task == ML_TASK_CLASSIFICATION &&
	    (m->schema.nclasses < 2 || m->schema.nclasses > ML_MAX_CLASSES))
		return err_set(err, ERR_FORMAT, "manifest: %zu classes not supported",
			       m->schema.nclasses);
	if ((m->algo == ML_ALGO_GBDT) != (m->pipe.for_trees != 0))
		return err_set(err, ERR_FORMAT, "manifest: features do not suit the algorithm");
	return 0;
}

/* format: the manifest's model_format, which says how a gbdt payload is stored. */
static int load_payload(struct ml_model *m, json_int_t format, struct err *err)
{
	if (m->algo == ML_ALGO_GBDT && format >= MODEL_FORMAT_UBJ)
		return ml__gbdt_load(&m->gb, m->task, (uint32_t)m->schema.nclasses,
				     m->pipe.nfeatures, m->payload, m->payload_len, err);
	if (m->algo == ML_ALGO_GBDT)
		return ml__gbdt_load_json(&m->gb, m->task, (uint32_t)m->schema.nclasses,
					  m->pipe.nfeatures, (const char *)m->payload,
					  m->payload_len, err);
	if (ml__linear_load(&m->lin, m->payload, m->payload_len, m->pipe.nfeatures + 1, err) < 0)
		return -1;
	if (m->lin.dim != m->pipe.nfeatures + 1 || m->lin.task != m->task ||
	    m->lin.algo != m->algo ||
	    (m->task == ML_TASK_CLASSIFICATION && m->lin.nclasses != m->schema.nclasses))
		return err_set(err, ERR_FORMAT, "payload: weights do not match the manifest");
	return 0;
}

static struct ml_model *model_from_bundle(struct ml_bundle *b, const char *name, struct err *err)
{
	static const char *const algos[] = {"logreg", "svm", "gbdt"};
	static const char *const tasks[] = {"auto", "classification", "regression"};
	struct ml_model *m = mem_calloc(1, sizeof(*m));
	const json_t *man = b->manifest, *fmt = json_object_get(man, "model_format");
	const char *label = json_string_value(json_object_get(man, "label_name"));
	int v;

	if (!m) {
		err_set(err, ERR_NOMEM, "out of memory");
		return NULL;
	}
	m->manifest = b->manifest;
	b->manifest = NULL;
	m->payload = b->payload;
	m->payload_len = b->payload_len;
	b->payload = NULL;
	memcpy(m->sha256, b->sha256, sizeof(m->sha256));
	if (!json_is_integer(fmt) || json_integer_value(fmt) < 1) {
		err_set(err, ERR_FORMAT, "%s: manifest: model_format: expected a positive integer",
			name);
		goto fail;
	}
	if (json_integer_value(fmt) > MODEL_FORMAT) {
		err_set(err, ERR_VERSION,
			"%s: model format %lld is newer than this kiln reads (%d): upgrade kiln",
			name, (long long)json_integer_value(fmt), MODEL_FORMAT);
		goto fail;
	}
	if ((v = parse_enum(man, "algorithm", algos, 3, err)) < 0)
		goto fail;
	m->algo = (enum ml_algo)v;
	if ((v = parse_enum(man, "task", tasks + 1, 2, err)) < 0)
		goto fail;
	m->task = v == 0 ? ML_TASK_CLASSIFICATION : ML_TASK_REGRESSION;
	if (!label) {
		err_set(err, ERR_FORMAT, "manifest: label_name: expected a string");
		goto fail;
	}
	m->label_name = mem_strdup(label);
	if (!m->label_name) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (ml_schema_from_json(&m->schema, json_object_get(man, "schema"), err) < 0 ||
	    ml__pipeline_from_json(&m->pipe, json_object_get(man, "features"), err) < 0 ||
	    check_consistency(m, err) < 0 || load_payload(m, json_integer_value(fmt), err) < 0 ||
	    run_checks(m, json_object_get(man, "checks"), err) < 0)
		goto fail;
	return m;
fail:
	if (err && strncmp(err->msg, name, strlen(name)) != 0) {
		/* Name the bundle in the message once. */
		char msg[sizeof(err->msg)];
		int code = err->code;
		memcpy(msg, err->msg, sizeof(msg));
		err_clear(err);
		err_set(err, code, "%s: %s", name, msg);
	}
	ml_model_free(m);
	return NULL;
}

struct ml_model *ml_model_load(const char *path, struct err *err)
{
	struct ml_bundle b;
	struct ml_model *m;
	memset(&b, 0, sizeof(b));
	if (ml_bundle_read(&b, path, err) < 0)
		return NULL;
	m = model_from_bundle(&b, path, err);
	ml_bundle_release(&b);
	return m;
}

struct ml_model *ml_model_load_mem(const void *data, size_t len, const char *name, struct err *err)
{
	struct ml_bundle b;
	struct ml_model *m;
	memset(&b, 0, sizeof(b));
	if (ml_bundle_parse(&b, data, len, name, err) < 0)
		return NULL;
	m = model_from_bundle(&b, name, err);
	ml_bundle_release(&b);
	return m;
}

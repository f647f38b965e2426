/*
 * linear.c - logistic regression and linear SVM through liblinear, kept as
 * plain weight vectors: prediction is kiln's own sparse dot product (no
 * liblinear at prediction time, no allocation). Also the payload format.
 */
#include "ml/internal.h"

#include <linear.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"

#define LINEAR_MAGIC   "KLINEAR"
#define LINEAR_VERSION 1
#define LINEAR_HEADER  (8 + 6 * 4 + 2 * 8)
#define LINEAR_MAX_DIM ((1u << 30) + 1)

static void print_nothing(const char *s)
{
	(void)s;
}

/* liblinear prints to stdout by default; stdout carries results only. */
static void print_stderr(const char *s)
{
	(void)fputs(s, stderr);
}

/*
 * The features that occur in some row, numbered in index order: compact
 * index k is feature used[k]. A feature no training row has gets a weight of
 * exactly zero from every liblinear solver (L2 regularisation, w starts at
 * 0), so liblinear can solve the smaller problem: with 2^18 hashed text
 * buckets and a vocabulary of some ten thousand n-grams, its vectors shrink
 * twentyfold. The map is a bitmap with a count per 64-bit word (48 KB for
 * 2^18 buckets, not a table of 1 MB whose fresh pages cost a fault each).
 */
struct compact {
	uint64_t *bits;	 /* bit f: some row has feature f */
	uint32_t *below; /* per word: set bits in the words before it */
	uint32_t *used;	 /* nused features, ascending */
	uint32_t nused;
};

static void compact_release(struct compact *cm)
{
	mem_free(cm->bits);
	mem_free(cm->below);
	mem_free(cm->used);
	memset(cm, 0, sizeof(*cm));
}

/* The compact index of feature f, which some row has. */
static uint32_t compact_of(const struct compact *cm, uint32_t f)
{
	uint64_t before = cm->bits[f >> 6] & ((UINT64_C(1) << (f & 63)) - 1);
	return cm->below[f >> 6] + (uint32_t)__builtin_popcountll(before);
}

static int compact_make(struct compact *cm, const struct ml__row *rows, size_t n,
			uint32_t nfeatures, struct err *err)
{
	size_t nwords = ((size_t)nfeatures + 63) / 64, i, j, w;
	uint32_t k = 0;
	memset(cm, 0, sizeof(*cm));
	cm->bits = mem_calloc(nwords + 1, sizeof(*cm->bits));
	cm->below = mem_calloc(nwords + 1, sizeof(*cm->below));
	if (!cm->bits || !cm->below)
		goto nomem;
	for (i = 0; i < n; i++)
		for (j = 0; j < rows[i].n; j++) {
			uint32_t f = rows[i].idx[j];
			if (f >= nfeatures) {
				compact_release(cm);
				err_set(err, ERR_INTERNAL, "feature %u of row %zu is out of range",
					f, i);
				return -1;
			}
			cm->bits[f >> 6] |= UINT64_C(1) << (f & 63);
		}
	for (w = 0; w < nwords; w++) {
		cm->below[w] = k;
		k += (uint32_t)__builtin_popcountll(cm->bits[w]);
	}
	cm->nused = k;
	cm->used = mem_calloc((size_t)k + 1, sizeof(*cm->used));
	if (!cm->used)
		goto nomem;
	for (w = 0, k = 0; w < nwords; w++)
		for (uint64_t b = cm->bits[w]; b; b &= b - 1)
			cm->used[k++] = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(b));
	return 0;
nomem:
	compact_release(cm);
	err_set(err, ERR_NOMEM, "out of memory building the training matrix");
	return -1; /* spelt out: the analyzer cannot see that err_set returns -1 */
}

/* liblinear's rows: 1-based compact indices, a bias node, a -1 terminator. */
static struct feature_node **make_rows(const struct ml__row *rows, size_t n,
				       const struct compact *cm, struct feature_node **pool,
				       struct err *err)
{
	size_t i, j, total = 0, at = 0;
	struct feature_node **x;
	for (i = 0; i < n; i++)
		total += rows[i].n + 2;
	x = mem_calloc(n ? n : 1,
		       sizeof(*x)); /* NOLINT(bugprone-sizeof-expression): row pointers */
	*pool = mem_calloc(total ? total : 1, sizeof(struct feature_node));
	if (!x || !*pool) {
		mem_free(x);
		mem_free(*pool);
		*pool = NULL;
		err_set(err, ERR_NOMEM, "out of memory building the training matrix");
		return NULL;
	}
	for (i = 0; i < n; i++) {
		x[i] = *pool + at;
		for (j = 0; j < rows[i].n; j++) {
			/* compact_make saw every index; the order is kept, so rows stay sorted */
			(*pool)[at].index = (int)compact_of(cm, rows[i].idx[j]) + 1;
			(*pool)[at++].value = rows[i].val[j];
		}
		(*pool)[at].index = (int)cm->nused + 1;
		(*pool)[at++].value = 1.0;
		(*pool)[at++].index = -1;
	}
	return x;
}

/*
 * Copies liblinear's weights into kiln's class-major layout (see internal.h),
 * back from compact indices (cm) to the pipeline's: features no training row
 * has keep a weight of zero.
 */
static int take_weights(struct ml__linear *lm, const struct model *mdl, const struct compact *cm,
			struct err *err)
{
	uint32_t nrw = (mdl->nr_class == 2 || lm->task == ML_TASK_REGRESSION)
			       ? 1
			       : (uint32_t)mdl->nr_class;
	uint32_t j, k;
	if (lm->task == ML_TASK_CLASSIFICATION && (uint32_t)mdl->nr_class != lm->nclasses)
		return err_set(err, ERR_TRAIN, "training rows hold %d of the %u classes",
			       mdl->nr_class, lm->nclasses);
	lm->nw = nrw;
	lm->w = mem_calloc((size_t)lm->nw * lm->dim, sizeof(*lm->w));
	if (!lm->w)
		return err_set(err, ERR_NOMEM, "out of memory for the weights");
	for (k = 0; k < nrw; k++) {
		/* Column li of liblinear's w is class label[li] (or, with two
		 * classes, label[0] on the positive side). */
		uint32_t dst = k;
		double sign = 1.0, *w;
		if (lm->task == ML_TASK_CLASSIFICATION && nrw == 1)
			sign = mdl->label[0] == 1 ? 1.0 : -1.0;
		else if (lm->task == ML_TASK_CLASSIFICATION)
			dst = (uint32_t)mdl->label[k];
		w = lm->w + (size_t)dst * lm->dim;
		for (j = 0; j < cm->nused; j++)
			w[cm->used[j]] = sign * mdl->w[(size_t)j * nrw + k];
		w[lm->dim - 1] = sign * mdl->w[(size_t)cm->nused * nrw + k];
	}
	return 0;
}

int ml__linear_train(struct ml__linear *lm, enum ml_algo algo, enum ml_task task, uint32_t nclasses,
		     const struct ml__row *rows, const double *y, size_t n, uint32_t nfeatures,
		     double C, int verbose, struct err *err)
{
	struct feature_node *pool = NULL, **x = NULL;
	struct compact cm;
	struct problem prob;
	struct parameter param;
	struct model *mdl = NULL;
	double *yy = NULL, sum = 0, sq = 0;
	const char *msg;
	size_t i;
	int ret = -1;

	memset(lm, 0, sizeof(*lm));
	memset(&param, 0, sizeof(param));
	memset(&cm, 0, sizeof(cm));
	lm->algo = algo;
	lm->task = task;
	lm->nclasses = task == ML_TASK_CLASSIFICATION ? nclasses : 0;
	lm->dim = nfeatures + 1;
	lm->y_mean = 0;
	lm->y_std = 1;
	if (n > INT32_MAX || nfeatures >= LINEAR_MAX_DIM) {
		err_set(err, ERR_INVALID, "too many rows or features for liblinear");
		goto out;
	}
	if (compact_make(&cm, rows, n, nfeatures, err) < 0)
		goto out;
	x = make_rows(rows, n, &cm, &pool, err);
	yy = mem_calloc(n ? n : 1, sizeof(*yy));
	if (!x || !yy) {
		err_set(err, ERR_NOMEM, "out of memory building the training matrix");
		goto out;
	}
	if (task == ML_TASK_REGRESSION) {
		/* SVR on the standardised target, so C and epsilon mean the same
		 * thing for prices and for ratios. */
		for (i = 0; i < n; i++)
			sum += y[i];
		lm->y_mean = n ? sum / (double)n : 0;
		for (i = 0; i < n; i++)
			sq += (y[i] - lm->y_mean) * (y[i] - lm->y_mean);
		lm->y_std = n ? sqrt(sq / (double)n) : 1;
		if (!(lm->y_std > 0))
			lm->y_std = 1;
	}
	for (i = 0; i < n; i++)
		yy[i] = task == ML_TASK_REGRESSION ? (y[i] - lm->y_mean) / lm->y_std : y[i];
	prob.l = (int)n;
	prob.n = (int)cm.nused + 1;
	prob.y = yy;
	prob.x = x;
	prob.bias = 1.0;
	param.solver_type = task == ML_TASK_REGRESSION ? L2R_L2LOSS_SVR
			    : algo == ML_ALGO_SVM      ? L2R_L2LOSS_SVC_DUAL
						       : L2R_LR;
	param.eps = task == ML_TASK_REGRESSION ? 1e-4 : algo == ML_ALGO_SVM ? 1e-3 : 1e-4;
	param.C = C;
	param.p = 0.0;
	msg = check_parameter(&prob, &param);
	if (msg) {
		err_set(err, ERR_INVALID, "liblinear: %s", msg);
		goto out;
	}
	/* liblinear's print hook is process-wide; training is single-threaded. */
	set_print_string_function(verbose ? print_stderr : print_nothing);
	mdl = train(&prob, &param);
	if (!mdl) {
		err_set(err, ERR_TRAIN, "liblinear training failed");
		goto out;
	}
	if (take_weights(lm, mdl, &cm, err) < 0)
		goto out;
	ret = 0;
out:
	if (mdl)
		free_and_destroy_model(&mdl);
	compact_release(&cm);
	mem_free(x);
	mem_free(pool);
	mem_free(yy);
	if (ret < 0)
		ml__linear_release(lm);
	return ret;
}

static double dot(const struct ml__linear *lm, uint32_t k, const struct ml__row *x)
{
	const double *w = lm->w + (size_t)k * lm->dim;
	double s = w[lm->dim - 1];
	size_t i;
	for (i = 0; i < x->n; i++)
		if (x->idx[i] < lm->dim - 1)
			s += w[x->idx[i]] * x->val[i];
	return s;
}

static double sigmoid(double z)
{
	return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

void ml__linear_predict(const struct ml__linear *lm, const struct ml__row *x, struct ml_pred *out)
{
	uint32_t k;
	double total = 0, mx = -INFINITY;
	memset(out, 0, sizeof(*out));
	if (lm->task == ML_TASK_REGRESSION) {
		out->klass = -1;
		out->value = lm->y_mean + lm->y_std * dot(lm, 0, x);
		return;
	}
	if (lm->nw == 1) {
		out->prob[1] = sigmoid(dot(lm, 0, x));
		out->prob[0] = 1.0 - out->prob[1];
	} else {
		/* logreg: one-vs-rest sigmoids normalised (as liblinear);
		 * svm: softmax of the decision values (not calibrated). */
		for (k = 0; k < lm->nw; k++) {
			out->prob[k] = dot(lm, k, x);
			if (out->prob[k] > mx)
				mx = out->prob[k];
		}
		for (k = 0; k < lm->nw; k++) {
			out->prob[k] = lm->algo == ML_ALGO_LOGREG ? sigmoid(out->prob[k])
								  : exp(out->prob[k] - mx);
			total += out->prob[k];
		}
		for (k = 0; k < lm->nw; k++)
			out->prob[k] /= total;
	}
	out->klass = 0;
	for (k = 1; k < lm->nclasses; k++)
		if (out->prob[k] > out->prob[out->klass])
			out->klass = (int)k;
	out->value = out->prob[out->klass];
}

static void put_u32(unsigned char *p, uint32_t v)
{
	int i;
	for (i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_f64(unsigned char *p, double d)
{
	uint64_t v;
	int i;
	memcpy(&v, &d, sizeof(v));
	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static double get_f64(const unsigned char *p)
{
	uint64_t v = 0;
	double d;
	int i;
	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	memcpy(&d, &v, sizeof(d));
	return d;
}

/*
 * Payload: the header, then per weight vector a u32 count of non-zero
 * weights and that many (u32 index, f64 weight) pairs, indices ascending.
 * Hashed text leaves most buckets at exactly zero, so this stays small.
 */
int ml__linear_save(const struct ml__linear *lm, unsigned char **data, size_t *len, struct err *err)
{
	size_t nw = (size_t)lm->nw * lm->dim, i, nnz = 0, at;
	uint32_t k, j;
	unsigned char *p;
	for (i = 0; i < nw; i++)
		nnz += lm->w[i] != 0;
	p = mem_malloc(LINEAR_HEADER + 4 * (size_t)lm->nw + 12 * nnz);
	if (!p)
		return err_set(err, ERR_NOMEM, "out of memory saving the weights");
	memcpy(p, LINEAR_MAGIC, 8);
	put_u32(p + 8, LINEAR_VERSION);
	put_u32(p + 12, (uint32_t)lm->algo);
	put_u32(p + 16, (uint32_t)lm->task);
	put_u32(p + 20, lm->nclasses);
	put_u32(p + 24, lm->nw);
	put_u32(p + 28, lm->dim);
	put_f64(p + 32, lm->y_mean);
	put_f64(p + 40, lm->y_std);
	at = LINEAR_HEADER;
	for (k = 0; k < lm->nw; k++) {
		const double *w = lm->w + (size_t)k * lm->dim;
		size_t cnt_at = at;
		uint32_t cnt = 0;
		at += 4;
		for (j = 0; j < lm->dim; j++) {
			if (w[j] == 0)
				continue;
			put_u32(p + at, j);
			put_f64(p + at + 4, w[j]);
			at += 12;
			cnt++;
		}
		put_u32(p + cnt_at, cnt);
	}
	*data = p;
	*len = at;
	return 0;
}

static int load_weights(struct ml__linear *lm, const unsigned char *data, size_t len,
			struct err *err)
{
	size_t at = LINEAR_HEADER;
	uint32_t k, i;
	for (k = 0; k < lm->nw; k++) {
		double *w = lm->w + (size_t)k * lm->dim;
		uint32_t cnt;
		long prev = -1;
		if (len - at < 4)
			return err_set(err, ERR_FORMAT, "payload: weights truncated");
		cnt = get_u32(data + at);
		at += 4;
		if (cnt > lm->dim || (len - at) / 12 < cnt)
			return err_set(err, ERR_FORMAT, "payload: weights truncated");
		for (i = 0; i < cnt; i++, at += 12) {
			uint32_t j = get_u32(data + at);
			double v = get_f64(data + at + 4);
			if ((long)j <= prev || j >= lm->dim || !isfinite(v))
				return err_set(err, ERR_FORMAT,
					       "payload: bad weight %u of vector %u", i, k);
			w[j] = v;
			prev = (long)j;
		}
	}
	if (at != len)
		return err_set(err, ERR_FORMAT, "payload: %zu bytes after the weights", len - at);
	return 0;
}

int ml__linear_load(struct ml__linear *lm, const unsigned char *data, size_t len,
		    uint32_t expect_dim, struct err *err)
{
	memset(lm, 0, sizeof(*lm));
	if (len < LINEAR_HEADER || memcmp(data, LINEAR_MAGIC, 8) != 0)
		return err_set(err, ERR_FORMAT, "payload: not kiln linear weights");
	if (get_u32(data + 8) != LINEAR_VERSION)
		return err_set(err, ERR_VERSION, "payload: linear weights version %u not supported",
			       get_u32(data + 8));
	lm->algo = (enum ml_algo)get_u32(data + 12);
	lm->task = (enum ml_task)get_u32(data + 16);
	lm->nclasses = get_u32(data + 20);
	lm->nw = get_u32(data + 24);
	lm->dim = get_u32(data + 28);
	lm->y_mean = get_f64(data + 32);
	lm->y_std = get_f64(data + 40);
	if ((lm->algo != ML_ALGO_LOGREG && lm->algo != ML_ALGO_SVM) ||
	    (lm->task != ML_TASK_CLASSIFICATION && lm->task != ML_TASK_REGRESSION) || lm->dim < 1 ||
	    lm->dim > LINEAR_MAX_DIM || !isfinite(lm->y_mean) || !isfinite(lm->y_std) ||
	    (lm->task == ML_TASK_REGRESSION && (lm->nclasses != 0 || lm->nw != 1)) ||
	    (lm->task == ML_TASK_CLASSIFICATION &&
	     (lm->nclasses < 2 || lm->nclasses > ML_MAX_CLASSES ||
	      lm->nw != (lm->nclasses == 2 ? 1 : lm->nclasses))))
		return err_set(err, ERR_FORMAT, "payload: inconsistent linear weights header");
	if (lm->dim != expect_dim)
		return err_set(err, ERR_FORMAT, "payload: %u weights per class, expected %u",
			       lm->dim, expect_dim);
	lm->w = mem_calloc((size_t)lm->nw * lm->dim, sizeof(*lm->w));
	if (!lm->w)
		return err_set(err, ERR_NOMEM, "out of memory loading the weights");
	if (load_weights(lm, data, len, err) < 0) {
		ml__linear_release(lm);
		return -1;
	}
	return 0;
}

void ml__linear_release(struct ml__linear *lm)
{
	mem_free(lm->w);
	memset(lm, 0, sizeof(*lm));
}

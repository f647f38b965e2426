/*
 * schema.c - infer a training set's schema and reference statistics from a
 * frame, convert it to and from the JSON stored in bundles, and validate new
 * data against it (schema.h). Pure computation on frames: no file I/O.
 */
#include "ml/schema.h"
#include "ml/internal.h"
#include "base/buf.h"
#include "base/mem.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text heuristic (schema.h): tuned on the four data sets, see docs/cmd/data.md. */
#define TEXT_MIN_TOKENS	  3.0
#define TEXT_MIN_DISTINCT 50
/* Auto task: a numeric target with at most this many distinct integers is classes. */
#define CLASS_MAX_INT_VALUES 20
/* Validation thresholds (schema.h). */
#define VALID_RANGE_MARGIN 0.5
#define VALID_MAX_OUT_FRAC 0.01
#define VALID_MAX_NEW_FRAC 0.01
#define VALID_MISSING_JUMP 0.10
#define VALID_EXAMPLES	   5

/* ---------- a counting hash set of byte strings (borrowed, not copied) ---------- */

struct sset_slot {
	const char *s;
	size_t len, count;
	uint64_t h;
};

struct sset {
	struct sset_slot *slot;
	size_t cap, n; /* cap is a power of two */
	int fold;      /* compare ASCII case-insensitively */
};

static uint64_t sset_hash(const char *s, size_t len, int fold)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		h ^= fold ? (unsigned char)tolower(c) : c;
		h *= 1099511628211ULL;
	}
	return h;
}

static int sset_eq(const struct sset_slot *sl, const char *s, size_t len, int fold)
{
	if (sl->len != len)
		return 0;
	return fold ? strncasecmp(sl->s, s, len) == 0 : memcmp(sl->s, s, len) == 0;
}

static int sset_grow(struct sset *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	struct sset_slot *ns = mem_calloc(cap, sizeof(*ns));
	if (!ns)
		return -1;
	for (size_t i = 0; i < t->cap; i++) {
		size_t j;
		if (!t->slot[i].s)
			continue;
		for (j = t->slot[i].h & (cap - 1); ns[j].s; j = (j + 1) & (cap - 1))
			;
		ns[j] = t->slot[i];
	}
	mem_free(t->slot);
	t->slot = ns;
	t->cap = cap;
	return 0;
}

/* Counts one occurrence of s, whose sset_hash is h; its slot, or NULL when out of memory. */
static struct sset_slot *sset_add_hashed(struct sset *t, const char *s, size_t len, uint64_t h)
{
	size_t j;
	if ((t->n + 1) * 2 > t->cap && sset_grow(t) < 0)
		return NULL;
	for (j = h & (t->cap - 1); t->slot[j].s; j = (j + 1) & (t->cap - 1)) {
		if (t->slot[j].h == h && sset_eq(&t->slot[j], s, len, t->fold)) {
			t->slot[j].count++;
			return &t->slot[j];
		}
	}
	t->slot[j] = (struct sset_slot){s, len, 1, h};
	t->n++;
	return &t->slot[j];
}

/* Counts one occurrence of s; returns its slot, or NULL when out of memory. */
static struct sset_slot *sset_add(struct sset *t, const char *s, size_t len)
{
	return sset_add_hashed(t, s, len, sset_hash(s, len, t->fold));
}

static void sset_free(struct sset *t)
{
	mem_free(t->slot);
	memset(t, 0, sizeof(*t));
}

static int cmp_slot(const void *a, const void *b)
{
	const struct sset_slot *x = *(const struct sset_slot *const *)a;
	const struct sset_slot *y = *(const struct sset_slot *const *)b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* The occupied slots sorted byte-wise; caller frees the array. */
static struct sset_slot **sset_sorted(const struct sset *t)
{
	struct sset_slot **v = mem_calloc(t->n ? t->n : 1, sizeof(struct sset_slot *));
	size_t k = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slot[i].s)
			v[k++] = &t->slot[i];
	qsort(v, t->n, sizeof(struct sset_slot *), cmp_slot);
	return v;
}

/* ---------- numbers ---------- */

int ml_parse_number(const char *s, double *v)
{
	const char *p = s, *start, *stop;
	char *end;
	double d;
	int digits = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	start = p;
	if (*p == '+' || *p == '-')
		p++;
	for (; isdigit((unsigned char)*p); p++)
		digits++;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			digits++;
	if (!digits)
		return -1;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	stop = p; /* the number's end, before trailing blanks */
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p)
		return -1;
	if (ml__parse_decimal(start, (size_t)(stop - start), v))
		return 0;
	errno = 0;
	d = strtod(start, &end);
	if (!isfinite(d))
		return -1;
	*v = d;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Doubles as unsigned keys that sort in the same order (sign flipped, negatives inverted). */
static uint64_t double_key(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return (u >> 63) ? ~u : u | (1ULL << 63);
}

static double key_double(uint64_t k)
{
	uint64_t u = (k >> 63) ? k & ~(1ULL << 63) : ~k;
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

/*
 * Sorts n finite doubles ascending: an LSD radix sort over 8-bit digits,
 * skipping digits all keys share. Several times faster than qsort on the
 * columns of a training set; falls back to qsort when memory is short.
 */
static void sort_doubles(double *v, size_t n)
{
	uint64_t *a = mem_calloc(n ? n : 1, sizeof(*a)), *b = mem_calloc(n ? n : 1, sizeof(*b));
	if (!a || !b) {
		mem_free(a);
		mem_free(b);
		qsort(v, n, sizeof(*v), cmp_double);
		return;
	}
	for (size_t i = 0; i < n; i++)
		a[i] = double_key(v[i]);
	for (int shift = 0; shift < 64; shift += 8) {
		size_t count[256] = {0}, pos = 0;
		uint64_t *t;
		for (size_t i = 0; i < n; i++)
			count[(a[i] >> shift) & 0xff]++;
		if (count[(a[0] >> shift) & 0xff] == n)
			continue; /* every key has this digit: nothing to reorder */
		for (int d = 0; d < 256; d++) {
			size_t c = count[d];
			count[d] = pos;
			pos += c;
		}
		for (size_t i = 0; i < n; i++)
			b[count[(a[i] >> shift) & 0xff]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = key_double(a[i]);
	mem_free(a);
	mem_free(b);
}

/* Linear interpolation between order statistics (numpy's default). */
static double quantile_sorted(const double *v, size_t n, double q)
{
	double pos = q * (double)(n - 1), frac;
	size_t lo = (size_t)pos;
	if (lo + 1 >= n)
		return v[n - 1];
	frac = pos - (double)lo;
	return v[lo] + (v[lo + 1] - v[lo]) * frac;
}

/* The histogram bin of x for edges e[0..ML_HIST_BINS]; values past the ends clamp. */
static size_t hist_bin(const double *e, double x)
{
	double w = e[ML_HIST_BINS] - e[0], b;
	if (!(w > 0) || !isfinite(w))
		w = DBL_MAX; /* a range too wide for a double: values land in bin 0 */
	b = (x / 2 - e[0] / 2) / (w / 2) * ML_HIST_BINS; /* halved: no overflow */
	if (!(b >= 0))
		return 0;
	if (b >= ML_HIST_BINS)
		return ML_HIST_BINS - 1;
	return (size_t)b;
}

/* Fills the numeric statistics of c from its n sorted values. */
static void numeric_stats(struct ml_column *c, const double *v, size_t n)
{
	double ss = 0, lo, hi;
	if (n == 0)
		return;
	/* A running mean stays finite for any finite values; a sum may not. */
	for (size_t i = 0; i < n; i++)
		c->mean += (v[i] - c->mean) / (double)(i + 1);
	for (size_t i = 0; i < n; i++)
		ss += (v[i] - c->mean) * (v[i] - c->mean) / (double)n;
	c->std = isfinite(ss) ? sqrt(ss) : DBL_MAX;
	c->min = v[0];
	c->max = v[n - 1];
	for (int q = 0; q < ML_QUANTILES; q++)
		c->quantile[q] = quantile_sorted(v, n, (double)q / (ML_QUANTILES - 1));
	lo = c->min;
	hi = c->max;
	if (!(hi > lo)) { /* one value: a unit-wide range around it (as numpy does) */
		lo -= 0.5;
		hi += 0.5;
	}
	for (int b = 0; b <= ML_HIST_BINS; b++) { /* a weighted mean: finite for finite ends */
		double t = (double)b / ML_HIST_BINS;
		c->bin_edge[b] = lo * (1 - t) + hi * t;
	}
	c->bin_edge[ML_HIST_BINS] = hi;
	for (size_t i = 0; i < n; i++)
		c->bin_frac[hist_bin(c->bin_edge, v[i])] += 1;
	for (int b = 0; b < ML_HIST_BINS; b++)
		c->bin_frac[b] /= (double)n;
}

/* ---------- strings ---------- */

/* isspace() of the C locale, the one kiln runs in, without the table lookup. */
static int is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/*
 * One pass over a cell: its length, its sset_hash (not folded) and the
 * number of its whitespace-separated tokens.
 */
static long cell_scan(const char *s, size_t *len, uint64_t *hash)
{
	const unsigned char *p = (const unsigned char *)s;
	uint64_t h = 1469598103934665603ULL; /* sset_hash's FNV-1a */
	long n = 0;
	int in = 0;
	for (; *p; p++) {
		int sp = is_space(*p);
		h = (h ^ *p) * 1099511628211ULL;
		n += !sp && !in;
		in = !sp;
	}
	*len = (size_t)(p - (const unsigned char *)s);
	*hash = h;
	return n;
}

/* Copies the set's strings sorted, with frequencies, into c->cats / cat_frac. */
static int set_categories(struct ml_column *c, const struct sset *set)
{
	struct sset_slot **v = sset_sorted(set);
	int ret = -1;
	if (!v)
		return -1;
	c->cats = mem_calloc(set->n ? set->n : 1, sizeof(*c->cats));
	c->cat_frac = mem_calloc(set->n ? set->n : 1, sizeof(*c->cat_frac));
	if (!c->cats || !c->cat_frac)
		goto out;
	for (size_t i = 0; i < set->n; i++) {
		c->cats[i] = mem_strndup(v[i]->s, v[i]->len);
		if (!c->cats[i])
			goto out;
		c->ncats = i + 1;
		c->cat_frac[i] = c->count ? (double)v[i]->count / (double)c->count : 0;
	}
	ret = 0;
out:
	mem_free(v);
	return ret;
}

/*
 * One pass over a text cell: its characters (UTF-8 lead bytes) into *chars,
 * and each whitespace-separated token into vocab with its folded sset_hash
 * computed on the way. The number of tokens, or -1 when out of memory.
 */
static long text_scan(const char *s, struct sset *vocab, size_t *chars)
{
	const unsigned char *p = (const unsigned char *)s, *tok = NULL;
	uint64_t h = 0;
	size_t nc = 0;
	long n = 0;
	for (;; p++) {
		unsigned char ch = *p;
		if (ch == '\0' || is_space(ch)) {
			if (tok) {
				if (!sset_add_hashed(vocab, (const char *)tok, (size_t)(p - tok),
						     h))
					return -1;
				n++;
				tok = NULL;
			}
			if (ch == '\0')
				break;
		} else {
			if (!tok) {
				tok = p;
				h = 1469598103934665603ULL; /* sset_hash's FNV-1a, folded */
			}
			h = (h ^ (unsigned char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch)) *
			    1099511628211ULL;
		}
		nc += (ch & 0xc0) != 0x80;
	}
	*chars = nc;
	return n;
}

/* Text statistics; len_mean etc. from the non-missing cells. */
static int text_stats(struct ml_column *c, char *const *cells, size_t nrows)
{
	struct sset vocab = {NULL, 0, 0, 1};
	double sl = 0, sl2 = 0;
	long toks = 0;
	int ret = -1;
	for (size_t r = 0; r < nrows; r++) {
		size_t nc = 0;
		double len;
		long t;
		if (!cells[r])
			continue;
		if ((t = text_scan(cells[r], &vocab, &nc)) < 0)
			goto out;
		len = (double)nc;
		sl += len;
		sl2 += len * len;
		toks += t;
	}
	if (c->count) {
		double n = (double)c->count, var;
		c->len_mean = sl / n;
		var = sl2 / n - c->len_mean * c->len_mean;
		c->len_std = var > 0 ? sqrt(var) : 0;
		c->tokens_mean = (double)toks / n;
	}
	c->vocab_size = vocab.n;
	ret = 0;
out:
	sset_free(&vocab);
	return ret;
}

/* The non-missing values of a numeric column, parsed into v; 0, or -1 at a non-number. */
static int numeric_values(char *const *cells, size_t nrows, double *v, int *ints)
{
	size_t n = 0;
	*ints = 1;
	for (size_t r = 0; r < nrows; r++) {
		if (!cells[r])
			continue;
		if (ml_parse_number(cells[r], &v[n]) < 0)
			return -1;
		if (v[n] != floor(v[n]))
			*ints = 0;
		n++;
	}
	return 0;
}

/* The distinct values of a column into set; the mean tokens per value, or -1 out of memory. */
static double string_values(char *const *cells, size_t nrows, size_t count, struct sset *set)
{
	double tokens = 0;
	for (size_t r = 0; r < nrows; r++) {
		size_t len;
		uint64_t h;
		if (!cells[r])
			continue;
		tokens += (double)cell_scan(cells[r], &len, &h);
		if (!sset_add_hashed(set, cells[r], len, h))
			return -1;
	}
	return count ? tokens / (double)count : 0;
}

/*
 * The reference statistics of a column whose kind, count and missing are
 * known: numeric quantiles and histogram, category frequencies, text sizes.
 */
/*
 * What the kinds pass keeps of an input column for column_stats, so that
 * nothing is parsed or hashed twice: a numeric column's values (unsorted), a
 * categorical column's distinct values (borrowed from the frame).
 */
struct col_pending {
	double *v;
	struct sset set;
};

static void pending_free_one(struct col_pending *p)
{
	mem_free(p->v);
	p->v = NULL;
	sset_free(&p->set);
}

static void pending_free(struct col_pending *pend, size_t ncols)
{
	for (size_t i = 0; pend && i < ncols; i++)
		pending_free_one(&pend[i]);
	mem_free(pend);
}

/* With v[0..n) sorted: the number of distinct values when all are integers, else 0. */
static size_t distinct_ints(const double *v, size_t n)
{
	size_t d = n > 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] != floor(v[i]))
			return 0;
		d += i > 0 && v[i] != v[i - 1];
	}
	return d;
}

/*
 * The statistics of a column whose kind, count and missing are known. keep:
 * NULL, or what the kinds pass kept of the column (taken over). ints: NULL,
 * or where a numeric column's distinct_ints goes.
 */
static int column_stats(struct ml_column *c, char *const *cells, size_t nrows,
			struct col_pending *keep, size_t *ints, struct err *err)
{
	struct sset set = {NULL, 0, 0, 0};
	double *v = NULL;
	int all_ints, ret = -1;
	if (keep) {
		v = keep->v;
		set = keep->set;
		memset(keep, 0, sizeof(*keep));
	}
	if (c->kind == ML_NUMERIC) {
		if (!v && !(v = mem_calloc(c->count ? c->count : 1, sizeof(*v))))
			goto nomem;
		if (!keep)
			(void)numeric_values(cells, nrows, v, &all_ints); /* numeric: cannot fail */
		sort_doubles(v, c->count);
		numeric_stats(c, v, c->count);
		if (ints)
			*ints = distinct_ints(v, c->count);
	} else if (c->kind == ML_TEXT) {
		if (text_stats(c, cells, nrows) < 0)
			goto nomem;
	} else if ((!keep && string_values(cells, nrows, c->count, &set) < 0) ||
		   set_categories(c, &set) < 0) {
		goto nomem;
	}
	ret = 0;
	goto out;
nomem:
	err_set(err, ERR_NOMEM, "out of memory");
out:
	sset_free(&set);
	mem_free(v);
	return ret;
}

/*
 * Infers one column. *int_distinct is set to the number of distinct values
 * when the column is numeric and all integers (else 0), for the task choice.
 * keep: NULL, or the kind, count and missing only, with what column_stats
 * needs for the rest kept in *keep (freed by pending_free).
 */
static int column_infer(struct ml_column *c, const char *name, char *const *cells, size_t nrows,
			size_t *int_distinct, struct col_pending *keep, struct err *err)
{
	struct col_pending own = {NULL, {NULL, 0, 0, 0}};
	struct col_pending *k = keep ? keep : &own;
	double tokens;
	int ints;

	memset(c, 0, sizeof(*c));
	*int_distinct = 0;
	if (!(c->name = mem_strdup(name)) ||
	    !(k->v = mem_calloc(nrows ? nrows : 1, sizeof(double))))
		goto nomem;
	for (size_t r = 0; r < nrows; r++) {
		if (!cells[r])
			c->missing++;
		else
			c->count++;
	}
	if (numeric_values(cells, nrows, k->v, &ints) == 0 && c->count > 0) {
		c->kind = ML_NUMERIC;
	} else {
		mem_free(k->v);
		k->v = NULL;
		if ((tokens = string_values(cells, nrows, c->count, &k->set)) < 0)
			goto nomem;
		c->kind = ML_CATEGORICAL;
		if (c->count && (tokens >= TEXT_MIN_TOKENS ||
				 (k->set.n * 2 > c->count && k->set.n > TEXT_MIN_DISTINCT))) {
			c->kind = ML_TEXT; /* its statistics come from the cells again */
			sset_free(&k->set);
		}
	}
	return keep ? 0 : column_stats(c, cells, nrows, &own, int_distinct, err);
nomem:
	pending_free_one(&own);
	return err_set(err, ERR_NOMEM, "out of memory");
}

static void column_release(struct ml_column *c)
{
	mem_free(c->name);
	for (size_t i = 0; i < c->ncats; i++)
		mem_free(c->cats[i]);
	mem_free(c->cats);
	mem_free(c->cat_frac);
	memset(c, 0, sizeof(*c));
}

void ml_schema_release(struct ml_schema *s)
{
	pending_free(s->pending, s->ncols);
	for (size_t i = 0; i < s->ncols && s->cols; i++)
		column_release(&s->cols[i]);
	mem_free(s->cols);
	column_release(&s->target);
	for (size_t i = 0; i < s->nclasses && s->classes; i++)
		mem_free(s->classes[i]);
	mem_free(s->classes);
	memset(s, 0, sizeof(*s));
}

/* The target's distinct values, sorted byte-wise, become the classes. */
static int schema_classes(struct ml_schema *s, const struct ml_frame *f, int t, struct err *err)
{
	struct sset set = {NULL, 0, 0, 0};
	struct sset_slot **v = NULL;
	int ret = -1;
	for (size_t r = 0; r < f->nrows; r++) {
		if (!sset_add(&set, f->cells[t][r], strlen(f->cells[t][r]))) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if (set.n < 2) {
		err_set(err, ERR_INVALID, "target column '%s' has one class only ('%s')",
			f->names[t], f->cells[t][0]);
		goto out;
	}
	if (set.n > ML_SCHEMA_MAX_CLASSES) {
		err_set(err, ERR_INVALID,
			"target column '%s' has %zu classes, more than %d (use regression?)",
			f->names[t], set.n, ML_SCHEMA_MAX_CLASSES);
		goto out;
	}
	if (!(v = sset_sorted(&set)) || !(s->classes = mem_calloc(set.n, sizeof(*s->classes)))) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < set.n; i++) {
		if (!(s->classes[i] = mem_strndup(v[i]->s, v[i]->len))) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		s->nclasses = i + 1;
	}
	ret = 0;
out:
	mem_free(v);
	sset_free(&set);
	return ret;
}

/* Checks the target column and settles the task. */
static int schema_target(struct ml_schema *s, const struct ml_frame *f, int t, enum ml_task task,
			 struct err *err)
{
	size_t int_distinct = 0;
	for (size_t r = 0; r < f->nrows; r++)
		if (!f->cells[t][r])
			return err_set(err, ERR_INVALID,
				       "%s:%zu: missing value in target column '%s'", f->path,
				       f->line[r], f->names[t]);
	if (column_infer(&s->target, f->names[t], f->cells[t], f->nrows, &int_distinct, NULL, err) <
	    0)
		return -1;
	if (task == ML_TASK_AUTO) {
		if (s->target.kind != ML_NUMERIC ||
		    (int_distinct > 0 && int_distinct <= CLASS_MAX_INT_VALUES))
			task = ML_TASK_CLASSIFICATION;
		else
			task = ML_TASK_REGRESSION;
	}
	if (task == ML_TASK_REGRESSION && s->target.kind != ML_NUMERIC) {
		for (size_t r = 0; r < f->nrows; r++) {
			double d;
			if (ml_parse_number(f->cells[t][r], &d) < 0)
				return err_set(err, ERR_INVALID,
					       "%s:%zu: target column '%s' is not numeric ('%s'), "
					       "so it cannot be regressed",
					       f->path, f->line[r], f->names[t], f->cells[t][r]);
		}
	}
	s->task = task;
	return task == ML_TASK_CLASSIFICATION ? schema_classes(s, f, t, err) : 0;
}

/* The input columns: item k is column k of the schema, k + 1 of f from the target on. */
struct infer_cols {
	struct ml_schema *s;
	const struct ml_frame *f;
	size_t t;
	struct col_pending *pend; /* kinds only: ncols entries */
};

static int infer_col(void *ctx, size_t k, struct err *err)
{
	const struct infer_cols *ic = ctx;
	size_t c = k < ic->t ? k : k + 1, dummy;
	return column_infer(&ic->s->cols[k], ic->f->names[c], ic->f->cells[c], ic->f->nrows, &dummy,
			    ic->pend ? &ic->pend[k] : NULL, err);
}

static int schema_infer(struct ml_schema *s, const struct ml_frame *f, const char *target,
			enum ml_task task, int kinds_only, struct err *err)
{
	int t = target ? ml_frame_col(f, target) : (int)f->ncols - 1;
	struct infer_cols ic;
	memset(s, 0, sizeof(*s));
	ic = (struct infer_cols){s, f, 0, NULL};
	if (t < 0)
		return err_set(err, ERR_INVALID, "'%s' has no target column '%s'", f->path, target);
	if (f->ncols < 2)
		return err_set(err, ERR_INVALID,
			       "'%s' has no input columns besides the target '%s'", f->path,
			       f->names[t]);
	if (f->nrows == 0) /* a frame read from CSV has rows; a caller's subset may not */
		return err_set(err, ERR_INVALID, "'%s' has no data rows", f->path);
	s->nrows = f->nrows;
	if (schema_target(s, f, t, task, err) < 0)
		goto fail;
	s->cols = mem_calloc(f->ncols - 1, sizeof(*s->cols));
	if (!s->cols) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	/* Columns are independent: two threads infer them (zeroed ones release fine). */
	s->ncols = f->ncols - 1;
	ic.t = (size_t)t;
	if (kinds_only && !(s->pending = ic.pend = mem_calloc(s->ncols, sizeof(*ic.pend)))) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (ml__par_for(s->ncols, infer_col, &ic, err) < 0)
		goto fail;
	return 0;
fail:
	ml_schema_release(s);
	return -1;
}

int ml_schema_infer(struct ml_schema *s, const struct ml_frame *f, const char *target,
		    enum ml_task task, struct err *err)
{
	return schema_infer(s, f, target, task, 0, err);
}

int ml_schema_infer_kinds(struct ml_schema *s, const struct ml_frame *f, const char *target,
			  enum ml_task task, struct err *err)
{
	return schema_infer(s, f, target, task, 1, err);
}

int ml_schema_infer_stats(struct ml_schema *s, const struct ml_frame *f, struct err *err)
{
	struct col_pending *pend = s->pending;
	int ret = -1;
	for (size_t i = 0; i < s->ncols; i++) {
		int c = ml_frame_col(f, s->cols[i].name);
		if (c < 0) {
			err_set(err, ERR_INTERNAL, "'%s' lacks column '%s'", f->path,
				s->cols[i].name);
			goto out;
		}
		if (column_stats(&s->cols[i], f->cells[c], f->nrows, pend ? &pend[i] : NULL, NULL,
				 err) < 0)
			goto out;
	}
	ret = 0;
out:
	pending_free(pend, s->ncols);
	s->pending = NULL;
	return ret;
}

const struct ml_column *ml_schema_col(const struct ml_schema *s, const char *name)
{
	for (size_t i = 0; i < s->ncols; i++)
		if (strcmp(s->cols[i].name, name) == 0)
			return &s->cols[i];
	return NULL;
}

int ml_schema_class(const struct ml_schema *s, const char *value)
{
	size_t lo = 0, hi = s->nclasses;
	while (lo < hi) { /* classes are sorted byte-wise: strcmp order */
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->classes[mid], value);
		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* ---------- JSON ---------- */

static const char *const kind_names[] = {"numeric", "categorical", "text"};
static const char *const task_names[] = {"auto", "classification", "regression"};

static json_t *doubles_json(const double *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_real(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *column_to_json(const struct ml_column *c)
{
	json_t *j = json_pack("{s:s, s:s, s:I, s:I}", "name", c->name, "kind", kind_names[c->kind],
			      "count", (json_int_t)c->count, "missing", (json_int_t)c->missing);
	json_t *cats;
	int bad = !j;
	if (bad)
		return NULL;
	switch (c->kind) {
	case ML_NUMERIC:
		bad |= json_object_set_new(j, "mean", json_real(c->mean)) < 0;
		bad |= json_object_set_new(j, "std", json_real(c->std)) < 0;
		bad |= json_object_set_new(j, "min", json_real(c->min)) < 0;
		bad |= json_object_set_new(j, "max", json_real(c->max)) < 0;
		bad |= json_object_set_new(j, "quantiles",
					   doubles_json(c->quantile, ML_QUANTILES)) < 0;
		bad |= json_object_set_new(j, "histogram",
					   json_pack("{s:o, s:o}", "edges",
						     doubles_json(c->bin_edge, ML_HIST_BINS + 1),
						     "fractions",
						     doubles_json(c->bin_frac, ML_HIST_BINS))) < 0;
		break;
	case ML_CATEGORICAL:
		cats = json_object();
		bad |= json_object_set_new(j, "categories", cats) < 0;
		for (size_t i = 0; !bad && i < c->ncats; i++)
			bad |= json_object_set_new(cats, c->cats[i], json_real(c->cat_frac[i])) < 0;
		break;
	case ML_TEXT:
		bad |= json_object_set_new(j, "length_mean", json_real(c->len_mean)) < 0;
		bad |= json_object_set_new(j, "length_std", json_real(c->len_std)) < 0;
		bad |= json_object_set_new(j, "tokens_mean", json_real(c->tokens_mean)) < 0;
		bad |= json_object_set_new(j, "vocab_size",
					   json_integer((json_int_t)c->vocab_size)) < 0;
		break;
	}
	if (bad) {
		json_decref(j);
		return NULL;
	}
	return j;
}

json_t *ml_schema_to_json(const struct ml_schema *s)
{
	json_t *j = NULL, *cols = NULL, *classes = NULL, *target = NULL;
	int bad = 0;
	cols = json_array();
	target = column_to_json(&s->target);
	if (!cols || !target)
		goto fail;
	for (size_t i = 0; i < s->ncols; i++)
		if (json_array_append_new(cols, column_to_json(&s->cols[i])) < 0)
			goto fail;
	j = json_pack("{s:i, s:s, s:I, s:O, s:O}", "version", ML_SCHEMA_VERSION, "task",
		      task_names[s->task], "nrows", (json_int_t)s->nrows, "target", target,
		      "columns", cols);
	if (!j)
		goto fail;
	if (s->task == ML_TASK_CLASSIFICATION) {
		classes = json_array();
		bad |= json_object_set_new(j, "classes", classes) < 0;
		for (size_t i = 0; !bad && i < s->nclasses; i++)
			bad |= json_array_append_new(classes, json_string(s->classes[i])) < 0;
		if (bad)
			goto fail;
	}
	json_decref(cols);
	json_decref(target);
	return j;
fail:
	json_decref(j);
	json_decref(cols);
	json_decref(target);
	return NULL;
}

/* Reads a number field of a JSON object; where names it in messages. */
static int get_num(const json_t *o, const char *key, double *v, const char *where, struct err *err)
{
	const json_t *x = json_object_get(o, key);
	if (!json_is_number(x))
		return err_set(err, ERR_FORMAT, "schema: %s.%s: expected a number", where, key);
	*v = json_number_value(x);
	return 0;
}

static int get_size(const json_t *o, const char *key, size_t *v, const char *where, struct err *err)
{
	const json_t *x = json_object_get(o, key);
	if (!json_is_integer(x) || json_integer_value(x) < 0)
		return err_set(err, ERR_FORMAT, "schema: %s.%s: expected a count", where, key);
	*v = (size_t)json_integer_value(x);
	return 0;
}

static int get_nums(const json_t *o, const char *key, double *v, size_t n, const char *where,
		    struct err *err)
{
	const json_t *a = json_object_get(o, key);
	if (!json_is_array(a) || json_array_size(a) != n)
		return err_set(err, ERR_FORMAT, "schema: %s.%s: expected an array of %zu numbers",
			       where, key, n);
	for (size_t i = 0; i < n; i++) {
		const json_t *x = json_array_get(a, i);
		if (!json_is_number(x))
			return err_set(err, ERR_FORMAT, "schema: %s.%s[%zu]: expected a number",
				       where, key, i);
		v[i] = json_number_value(x);
	}
	return 0;
}

static int kind_from_name(const char *s)
{
	for (int k = 0; k < 3; k++)
		if (s && strcmp(s, kind_names[k]) == 0)
			return k;
	return -1;
}

static int column_cats_from_json(struct ml_column *c, const json_t *cats, const char *where,
				 struct err *err)
{
	const char *key;
	json_t *val;
	size_t n = json_object_size(cats);
	if (!json_is_object(cats))
		return err_set(err, ERR_FORMAT, "schema: %s.categories: expected an object", where);
	c->cats = mem_calloc(n ? n : 1, sizeof(*c->cats));
	c->cat_frac = mem_calloc(n ? n : 1, sizeof(*c->cat_frac));
	if (!c->cats || !c->cat_frac)
		return err_set(err, ERR_NOMEM, "out of memory");
	json_object_foreach((json_t *)cats, key, val)
	{
		if (!json_is_number(val))
			return err_set(err, ERR_FORMAT,
				       "schema: %s.categories['%s']: expected a number", where,
				       key);
		if (!(c->cats[c->ncats] = mem_strdup(key)))
			return err_set(err, ERR_NOMEM, "out of memory");
		c->cat_frac[c->ncats++] = json_number_value(val);
	}
	return 0;
}

static int column_from_json(struct ml_column *c, const json_t *j, const char *where,
			    struct err *err)
{
	const char *name = json_string_value(json_object_get(j, "name"));
	int kind = kind_from_name(json_string_value(json_object_get(j, "kind")));
	json_t *h;
	memset(c, 0, sizeof(*c));
	if (!json_is_object(j))
		return err_set(err, ERR_FORMAT, "schema: %s: expected an object", where);
	if (!name || !*name)
		return err_set(err, ERR_FORMAT, "schema: %s.name: expected a non-empty string",
			       where);
	if (kind < 0)
		return err_set(err, ERR_FORMAT,
			       "schema: %s.kind: expected numeric, categorical or text", where);
	if (!(c->name = mem_strdup(name)))
		return err_set(err, ERR_NOMEM, "out of memory");
	c->kind = (enum ml_kind)kind;
	if (get_size(j, "count", &c->count, where, err) < 0 ||
	    get_size(j, "missing", &c->missing, where, err) < 0)
		return -1;
	switch (c->kind) {
	case ML_NUMERIC:
		h = json_object_get(j, "histogram");
		if (get_num(j, "mean", &c->mean, where, err) < 0 ||
		    get_num(j, "std", &c->std, where, err) < 0 ||
		    get_num(j, "min", &c->min, where, err) < 0 ||
		    get_num(j, "max", &c->max, where, err) < 0 ||
		    get_nums(j, "quantiles", c->quantile, ML_QUANTILES, where, err) < 0)
			return -1;
		if (!json_is_object(h))
			return err_set(err, ERR_FORMAT, "schema: %s.histogram: expected an object",
				       where);
		if (get_nums(h, "edges", c->bin_edge, ML_HIST_BINS + 1, where, err) < 0 ||
		    get_nums(h, "fractions", c->bin_frac, ML_HIST_BINS, where, err) < 0)
			return -1;
		if (c->min > c->max)
			return err_set(err, ERR_FORMAT, "schema: %s: min is above max", where);
		return 0;
	case ML_CATEGORICAL:
		return column_cats_from_json(c, json_object_get(j, "categories"), where, err);
	case ML_TEXT:
		if (get_num(j, "length_mean", &c->len_mean, where, err) < 0 ||
		    get_num(j, "length_std", &c->len_std, where, err) < 0 ||
		    get_num(j, "tokens_mean", &c->tokens_mean, where, err) < 0 ||
		    get_size(j, "vocab_size", &c->vocab_size, where, err) < 0)
			return -1;
		return 0;
	}
	return 0;
}

static int classes_from_json(struct ml_schema *s, const json_t *a, struct err *err)
{
	size_t n = json_array_size(a);
	if (!json_is_array(a) || n < 2 || n > ML_SCHEMA_MAX_CLASSES)
		return err_set(err, ERR_FORMAT,
			       "schema: classes: expected an array of 2 to %d strings",
			       ML_SCHEMA_MAX_CLASSES);
	if (!(s->classes = mem_calloc(n, sizeof(*s->classes))))
		return err_set(err, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *v = json_string_value(json_array_get(a, i));
		if (!v)
			return err_set(err, ERR_FORMAT, "schema: classes[%zu]: expected a string",
				       i);
		if (i > 0 && strcmp(s->classes[i - 1], v) >= 0)
			return err_set(err, ERR_FORMAT,
				       "schema: classes[%zu]: not sorted or a duplicate", i);
		if (!(s->classes[i] = mem_strdup(v)))
			return err_set(err, ERR_NOMEM, "out of memory");
		s->nclasses = i + 1;
	}
	return 0;
}

static int schema_fields_from_json(struct ml_schema *s, const json_t *j, struct err *err)
{
	const json_t *cols = json_object_get(j, "columns"), *ver = json_object_get(j, "version");
	const char *task = json_string_value(json_object_get(j, "task"));
	char where[64];
	if (!json_is_object(j))
		return err_set(err, ERR_FORMAT, "schema: expected a JSON object");
	if (!json_is_integer(ver) || json_integer_value(ver) < 1)
		return err_set(err, ERR_FORMAT, "schema: version: expected a positive integer");
	if (json_integer_value(ver) > ML_SCHEMA_VERSION)
		return err_set(err, ERR_VERSION,
			       "schema: version %lld is newer than this kiln reads (%d)",
			       (long long)json_integer_value(ver), ML_SCHEMA_VERSION);
	if (task && strcmp(task, "classification") == 0)
		s->task = ML_TASK_CLASSIFICATION;
	else if (task && strcmp(task, "regression") == 0)
		s->task = ML_TASK_REGRESSION;
	else
		return err_set(err, ERR_FORMAT,
			       "schema: task: expected \"classification\" or \"regression\"");
	if (get_size(j, "nrows", &s->nrows, "schema", err) < 0 ||
	    column_from_json(&s->target, json_object_get(j, "target"), "target", err) < 0)
		return -1;
	if (s->task == ML_TASK_REGRESSION && s->target.kind != ML_NUMERIC)
		return err_set(err, ERR_FORMAT,
			       "schema: target.kind: a regression target is numeric");
	if (!json_is_array(cols) || json_array_size(cols) == 0)
		return err_set(err, ERR_FORMAT, "schema: columns: expected a non-empty array");
	if (!(s->cols = mem_calloc(json_array_size(cols), sizeof(*s->cols))))
		return err_set(err, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < json_array_size(cols); i++) {
		snprintf(where, sizeof(where), "columns[%zu]", i);
		s->ncols = i + 1; /* so a partial column is released */
		if (column_from_json(&s->cols[i], json_array_get(cols, i), where, err) < 0)
			return -1;
		if (ml_schema_col(s, s->cols[i].name) != &s->cols[i] ||
		    strcmp(s->cols[i].name, s->target.name) == 0)
			return err_set(err, ERR_FORMAT, "schema: %s.name: duplicate column '%s'",
				       where, s->cols[i].name);
	}
	if (s->task == ML_TASK_CLASSIFICATION)
		return classes_from_json(s, json_object_get(j, "classes"), err);
	return 0;
}

int ml_schema_from_json(struct ml_schema *s, const json_t *j, struct err *err)
{
	memset(s, 0, sizeof(*s));
	if (schema_fields_from_json(s, j, err) < 0) {
		ml_schema_release(s);
		return -1;
	}
	return 0;
}

/* ---------- validation ---------- */

struct vctx {
	const struct ml_frame *f;
	json_t *list;  /* the violations array */
	json_t *notes; /* findings under their threshold: reported, not failed */
	int n;
	int nomem;
};

/*
 * Appends one violation (or, with note set, one note); extra (stolen, may be
 * NULL) adds keys to it.
 */
static void finding(struct vctx *v, int note, const char *col, const char *check, json_t *extra,
		    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void finding(struct vctx *v, int note, const char *col, const char *check, json_t *extra,
		    const char *fmt, ...)
{
	struct buf msg = BUF_INIT;
	json_t *o = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (buf_vaddf(&msg, fmt, ap) < 0)
		v->nomem = 1;
	va_end(ap);
	o = json_pack("{s:s, s:s, s:s}", "column", col, "check", check, "message", msg.ptr);
	if (!o || (extra && json_object_update(o, extra) < 0) ||
	    json_array_append_new(note ? v->notes : v->list, o) < 0) {
		v->nomem = 1;
	}
	if (!note)
		v->n++;
	json_decref(extra);
	buf_release(&msg);
}

static double pct(size_t a, size_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0;
}

static void check_missing_rate(struct vctx *v, const struct ml_column *c, int fc)
{
	const struct ml_frame *f = v->f;
	size_t miss = 0, total = c->count + c->missing;
	double train = total ? (double)c->missing / (double)total : 0, now;
	if (f->nrows == 0)
		return;
	for (size_t r = 0; r < f->nrows; r++)
		miss += !f->cells[fc][r];
	now = (double)miss / (double)f->nrows;
	if (now > train + VALID_MISSING_JUMP)
		finding(v, 0, c->name, "missing_rate",
			json_pack("{s:f, s:f, s:I}", "rate", now, "training_rate", train, "count",
				  (json_int_t)miss),
			"missing in %.1f%% of rows (%zu of %zu); %.1f%% in training", 100 * now,
			miss, f->nrows, 100 * train);
}

static void check_numeric(struct vctx *v, const struct ml_column *c, int fc)
{
	const struct ml_frame *f = v->f;
	double range = c->max - c->min, lo, hi, margin;
	size_t bad = 0, out = 0, ok = 0, bad_row = 0, out_row = 0;
	margin = range > 0 ? VALID_RANGE_MARGIN * range
			   : VALID_RANGE_MARGIN * (fabs(c->min) > 1 ? fabs(c->min) : 1);
	lo = c->min - margin;
	hi = c->max + margin;
	for (size_t r = 0; r < f->nrows; r++) {
		double d;
		const char *s = f->cells[fc][r];
		if (!s)
			continue;
		if (ml_parse_number(s, &d) < 0) {
			if (bad++ == 0)
				bad_row = r;
			continue;
		}
		ok++;
		if ((d < lo || d > hi) && out++ == 0)
			out_row = r;
	}
	if (bad)
		finding(v, 0, c->name, "type",
			json_pack("{s:I, s:I, s:s}", "count", (json_int_t)bad, "line",
				  (json_int_t)f->line[bad_row], "example", f->cells[fc][bad_row]),
			"%zu value%s not numeric (first at %s:%zu: '%.40s')", bad,
			bad == 1 ? " is" : "s are", f->path, f->line[bad_row],
			f->cells[fc][bad_row]);
	if (out)
		finding(v, (double)out <= VALID_MAX_OUT_FRAC * (double)ok, c->name, "range",
			json_pack("{s:I, s:f, s:f, s:I}", "count", (json_int_t)out, "low", lo,
				  "high", hi, "line", (json_int_t)f->line[out_row]),
			"%zu value%s (%.1f%%) outside [%g, %g] (training range [%g, %g]; "
			"first at %s:%zu: %s)",
			out, out == 1 ? "" : "s", pct(out, ok), lo, hi, c->min, c->max, f->path,
			f->line[out_row], f->cells[fc][out_row]);
}

static int in_sorted(char *const *v, size_t n, const char *s)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(v[mid], s);
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Unseen values of a categorical column, or of a classification target (any). */
static void check_categories(struct vctx *v, const char *name, char *const *known, size_t nknown,
			     int fc, double max_frac)
{
	const struct ml_frame *f = v->f;
	struct sset unseen = {NULL, 0, 0, 0};
	struct sset_slot **ex = NULL;
	struct buf list = BUF_INIT;
	json_t *examples = NULL;
	size_t bad = 0, ok = 0, first = 0;
	for (size_t r = 0; r < f->nrows; r++) {
		const char *s = f->cells[fc][r];
		if (!s)
			continue;
		ok++;
		if (in_sorted(known, nknown, s))
			continue;
		if (bad++ == 0)
			first = r;
		if (!sset_add(&unseen, s, strlen(s)))
			v->nomem = 1;
	}
	if (!bad)
		goto out;
	examples = json_array();
	if (!examples || !(ex = sset_sorted(&unseen))) {
		v->nomem = 1;
		goto out;
	}
	for (size_t i = 0; i < unseen.n && i < VALID_EXAMPLES; i++) {
		if (json_array_append_new(examples, json_stringn(ex[i]->s, ex[i]->len)) < 0 ||
		    buf_addf(&list, "%s'%.*s'", i ? ", " : "",
			     (int)(ex[i]->len > 40 ? 40 : ex[i]->len), ex[i]->s) < 0)
			v->nomem = 1;
	}
	finding(v, (double)bad <= max_frac * (double)ok, name, "unseen_category",
		json_pack("{s:I, s:I, s:O, s:I}", "count", (json_int_t)bad, "distinct",
			  (json_int_t)unseen.n, "examples", examples, "line",
			  (json_int_t)f->line[first]),
		"%zu value%s (%.1f%%) not seen in training: %s%s (first at %s:%zu)", bad,
		bad == 1 ? "" : "s", pct(bad, ok), list.ptr,
		unseen.n > VALID_EXAMPLES ? ", ..." : "", f->path, f->line[first]);
out:
	json_decref(examples);
	mem_free(ex);
	buf_release(&list);
	sset_free(&unseen);
}

static void check_column(struct vctx *v, const struct ml_schema *s, const struct ml_column *c,
			 int fc, int is_target)
{
	check_missing_rate(v, c, fc);
	if (is_target && s->task == ML_TASK_CLASSIFICATION) {
		check_categories(v, c->name, s->classes, s->nclasses, fc, 0);
		return;
	}
	if (c->kind == ML_NUMERIC)
		check_numeric(v, c, fc);
	else if (c->kind == ML_CATEGORICAL)
		check_categories(v, c->name, c->cats, c->ncats, fc, VALID_MAX_NEW_FRAC);
	/* text: any string is a valid text; drift in it is monitoring's job */
}

int ml_schema_validate(const struct ml_schema *s, const struct ml_frame *f, json_t **report,
		       struct err *err)
{
	struct vctx v = {f, json_array(), json_array(), 0, 0};
	int tc;
	*report = NULL;
	if (!v.list || !v.notes) {
		json_decref(v.list);
		json_decref(v.notes);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < s->ncols; i++)
		if (ml_frame_col(f, s->cols[i].name) < 0)
			finding(&v, 0, s->cols[i].name, "missing_column", NULL,
				"column '%s' is missing from %s", s->cols[i].name, f->path);
	for (size_t c = 0; c < f->ncols; c++)
		if (!ml_schema_col(s, f->names[c]) && strcmp(f->names[c], s->target.name) != 0)
			finding(&v, 0, f->names[c], "extra_column", NULL,
				"column '%s' was not in the training data", f->names[c]);
	for (size_t i = 0; i < s->ncols; i++) {
		int fc = ml_frame_col(f, s->cols[i].name);
		if (fc >= 0)
			check_column(&v, s, &s->cols[i], fc, 0);
	}
	if ((tc = ml_frame_col(f, s->target.name)) >= 0)
		check_column(&v, s, &s->target, tc, 1);
	if (v.nomem) {
		json_decref(v.list);
		json_decref(v.notes);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	*report = json_pack("{s:b, s:s, s:I, s:b, s:o, s:o}", "ok", v.n == 0, "file", f->path,
			    "rows", (json_int_t)f->nrows, "target_checked", tc >= 0, "violations",
			    v.list, "notes", v.notes);
	if (!*report)
		return err_set(err, ERR_NOMEM, "out of memory");
	return v.n;
}

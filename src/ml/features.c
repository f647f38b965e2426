/*
 * features.c - the fitted feature pipeline: numeric standardisation with
 * missing indicators, one-hot categories, hashed TF-IDF text; fit on the
 * training rows, stored in the manifest, applied row by row at prediction.
 * Also the small shared helpers (PRNG, murmur3, sparse rows). No learning.
 */
#include "ml/internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

#define TOKEN_MAX	256 /* bytes of a token that are hashed; the rest is ignored */
#define NUM_TEXT_MAX	64  /* longest string parsed as a number */
#define KEYS_ON_STACK	512 /* n-gram keys before transform allocates */
#define TRANSFORM_BLOCK 128 /* training rows a thread claims at once */

/* --- helpers -------------------------------------------------------------- */

uint64_t ml__rand_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

size_t ml__rand_below(uint64_t *state, size_t n)
{
	/* Rejection sampling: no modulo bias. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n, r;
	do
		r = ml__rand_next(state);
	while (r >= limit);
	return (size_t)(r % n);
}

void ml__shuffle(size_t *idx, size_t n, uint64_t *state)
{
	size_t i, j, t;
	for (i = n; i > 1; i--) {
		j = ml__rand_below(state, i);
		t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

static uint32_t rotl32(uint32_t x, int r)
{
	return (x << r) | (x >> (32 - r));
}

/* One 4-byte block of murmur3_x86_32 into the state h. */
static inline uint32_t murmur3_block(uint32_t h, uint32_t k)
{
	k *= 0xcc9e2d51;
	k = rotl32(k, 15);
	k *= 0x1b873593;
	h ^= k;
	h = rotl32(h, 13);
	return h * 5 + 0xe6546b64;
}

/* The final mix of murmur3_x86_32 over len bytes. */
static inline uint32_t murmur3_final(uint32_t h, uint32_t len)
{
	h ^= len;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

uint32_t ml__murmur3(const void *data, size_t len, uint32_t seed)
{
	const unsigned char *p = data;
	const uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
	uint32_t h = seed, k;
	size_t i, nblocks = len / 4;

	for (i = 0; i < nblocks; i++)
		h = murmur3_block(h, (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
					     (uint32_t)p[4 * i + 2] << 16 |
					     (uint32_t)p[4 * i + 3] << 24);
	k = 0;
	p += nblocks * 4;
	switch (len & 3) {
	case 3:
		k ^= (uint32_t)p[2] << 16;
		/* fall through */
	case 2:
		k ^= (uint32_t)p[1] << 8;
		/* fall through */
	case 1:
		k ^= p[0];
		k *= c1;
		k = rotl32(k, 15);
		k *= c2;
		h ^= k;
		break;
	default:
		break;
	}
	return murmur3_final(h, (uint32_t)len);
}

void ml__row_init(struct ml__row *r, uint32_t *idx, double *val, size_t cap)
{
	r->idx = idx;
	r->val = val;
	r->n = 0;
	r->cap = cap;
	r->heap = 0;
}

int ml__row_reserve(struct ml__row *r, size_t cap, struct err *err)
{
	if (cap > r->cap) {
		uint32_t *ni = mem_calloc(cap, sizeof(*ni));
		double *nv = mem_calloc(cap, sizeof(*nv));
		if (!ni || !nv) {
			mem_free(ni);
			mem_free(nv);
			return err_set(err, ERR_NOMEM, "out of memory for a feature row");
		}
		if (r->n) {
			memcpy(ni, r->idx, r->n * sizeof(*ni));
			memcpy(nv, r->val, r->n * sizeof(*nv));
		}
		if (r->heap) {
			mem_free(r->idx);
			mem_free(r->val);
		}
		r->idx = ni;
		r->val = nv;
		r->cap = cap;
		r->heap = 1;
	}
	return 0;
}

int ml__row_push(struct ml__row *r, uint32_t idx, double val, struct err *err)
{
	if (r->n == r->cap && ml__row_reserve(r, r->cap ? r->cap * 2 : 16, err) < 0)
		return -1;
	r->idx[r->n] = idx;
	r->val[r->n] = val;
	r->n++;
	return 0;
}

void ml__row_release(struct ml__row *r)
{
	if (r->heap) {
		mem_free(r->idx);
		mem_free(r->val);
	}
	r->idx = NULL;
	r->val = NULL;
	r->n = r->cap = 0;
	r->heap = 0;
}

/* --- text: tokens, n-grams, hashed keys ----------------------------------- */

/* Growable array of 64-bit keys: bucket << 1 | negative-sign bit. */
struct keys {
	uint64_t *v;
	size_t n, cap;
	int heap;
};

static int keys_push(struct keys *k, uint64_t key, struct err *err)
{
	if (k->n == k->cap) {
		size_t cap = k->cap * 2;
		uint64_t *nv = mem_calloc(cap, sizeof(*nv));
		if (!nv)
			return err_set(err, ERR_NOMEM, "out of memory for text features");
		memcpy(nv, k->v, k->n * sizeof(*nv));
		if (k->heap)
			mem_free(k->v);
		k->v = nv;
		k->cap = cap;
		k->heap = 1;
	}
	k->v[k->n++] = key;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/*
 * Sorts keys ascending: insertion sort for the few keys of a typical text
 * (no calls through qsort's comparison pointer), qsort for long texts.
 * Equal keys are equal values, so any correct sort gives the same array.
 */
static void sort_keys(uint64_t *v, size_t n)
{
	size_t i, j;
	if (n > 64) {
		qsort(v, n, sizeof(*v), cmp_u64);
		return;
	}
	for (i = 1; i < n; i++) {
		uint64_t x = v[i];
		for (j = i; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

static int is_token_byte(unsigned char c)
{
	/* ASCII letters and digits, and every byte of a multi-byte UTF-8 sequence. */
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c >= 0x80;
}

/*
 * murmur3_x86_32 of the little-endian bytes of n words w[(from + i) % ML__NGRAM_MAX]:
 * those bytes are read back as exactly those words, so the words are hashed
 * as they are (what ml__murmur3 gives on the bytes, without making them).
 */
static uint32_t murmur3_ring(const uint32_t *w, int from, int n, uint32_t seed)
{
	uint32_t h = seed;
	for (int i = 0; i < n; i++)
		h = murmur3_block(h, w[(from + i) % ML__NGRAM_MAX]);
	return murmur3_final(h, (uint32_t)(4 * n));
}

static uint64_t ngram_key(const uint32_t *ring, int pos, int n, unsigned hash_bits)
{
	uint32_t h = n == 1 ? ring[pos % ML__NGRAM_MAX]
			    : murmur3_ring(ring, pos - n + 1, n, (uint32_t)n);
	return (uint64_t)(h & ((1u << hash_bits) - 1)) << 1 | (h >> 31);
}

/* Appends the hashed n-gram keys of one text to k, then sorts them. */
static int text_keys(const struct ml__pipeline *p, const char *s, size_t len, struct keys *k,
		     struct err *err)
{
	uint32_t ring[ML__NGRAM_MAX];
	char tok[TOKEN_MAX];
	size_t i = 0, tlen;
	int pos = 0, n;

	while (i < len) {
		while (i < len && !is_token_byte((unsigned char)s[i]))
			i++;
		if (i >= len)
			break;
		tlen = 0;
		while (i < len && is_token_byte((unsigned char)s[i])) {
			char c = s[i++];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (tlen < TOKEN_MAX)
				tok[tlen++] = c;
		}
		ring[pos % ML__NGRAM_MAX] = ml__murmur3(tok, tlen, 0);
		for (n = p->ngram_min; n <= p->ngram_max; n++)
			if (pos + 1 >= n &&
			    keys_push(k, ngram_key(ring, pos, n, p->hash_bits), err) < 0)
				return -1;
		/* Keep pos bounded but congruent, so the ring index stays right. */
		pos = pos + 1 >= 1000 * ML__NGRAM_MAX ? pos + 1 - 999 * ML__NGRAM_MAX : pos + 1;
	}
	sort_keys(k->v, k->n);
	return 0;
}

/* --- numbers -------------------------------------------------------------- */

/*
 * The common case without strtod: [+-]digits[.digits], at most 15 digits in
 * all. The digits as an integer and the power of ten are then both exact
 * doubles, and IEEE division rounds their quotient correctly, which is what
 * strtod returns (Clinger's fast path). 0: not that form, use strtod.
 */
int ml__parse_decimal(const char *s, size_t len, double *v)
{
	static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,	 1e6,  1e7,
				       1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
	const char *end = s + len, *d0;
	uint64_t mant = 0;
	size_t digits, frac = 0;
	int neg = 0;

	if (s < end && (*s == '-' || *s == '+'))
		neg = *s++ == '-';
	/* digits, then maybe a point and digits; the digit count is checked after */
	for (d0 = s; s < end && (unsigned char)(*s - '0') < 10; s++)
		mant = mant * 10 + (uint64_t)(*s - '0');
	digits = (size_t)(s - d0);
	if (s < end && *s == '.') {
		for (d0 = ++s; s < end && (unsigned char)(*s - '0') < 10; s++)
			mant = mant * 10 + (uint64_t)(*s - '0');
		frac = (size_t)(s - d0);
		digits += frac;
	}
	if (s != end || digits == 0 || digits > 15)
		return 0;
	*v = frac ? (double)mant / pow10[frac] : (double)mant; /* integers: no division */
	if (neg)
		*v = -*v;
	return 1;
}

/* 1: parsed into *v; 0: missing (empty); -1: not a number. */
static int parse_num(const char *s, size_t len, double *v)
{
	char tmp[NUM_TEXT_MAX];
	char *end = NULL;
	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0)
		return 0;
	if (len >= sizeof(tmp))
		return -1;
	if (ml__parse_decimal(s, len, v))
		return 1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	errno = 0;
	*v = strtod(tmp, &end);
	if (end != tmp + len || !isfinite(*v))
		return -1;
	return 1;
}

static int cell_num(const struct ml__feat_col *c, const struct ml_cell *cell, double *v,
		    struct err *err)
{
	int r;
	if (cell->kind == ML_CELL_MISSING)
		return 0;
	if (cell->kind == ML_CELL_NUM) {
		if (!isfinite(cell->num))
			return err_set(err, ERR_INVALID, "column '%s': value is not finite",
				       c->name);
		*v = cell->num;
		return 1;
	}
	r = parse_num(cell->str, cell->len, v);
	if (r < 0)
		return err_set(err, ERR_INVALID, "column '%s': '%.*s' is not a number", c->name,
			       (int)(cell->len > 40 ? 40 : cell->len), cell->str);
	return r;
}

/* --- transform ------------------------------------------------------------ */

/*
 * The key of a category: its length and two words that hold all its bytes
 * when it is at most 16 bytes long (overlapping loads, never past the end),
 * so that equal keys of short strings mean equal strings. Longer strings
 * compare their bytes too.
 */
struct cat_key {
	uint64_t a, b;
};

static uint64_t load64(const char *s)
{
	uint64_t v;
	memcpy(&v, s, sizeof(v));
	return v;
}

static uint32_t load32(const char *s)
{
	uint32_t v;
	memcpy(&v, s, sizeof(v));
	return v;
}

static struct cat_key cat_key(const char *s, size_t len)
{
	struct cat_key k = {0, 0};
	if (len >= 8) {
		k.a = load64(s);
		k.b = load64(s + len - 8);
	} else if (len >= 4) {
		k.a = load32(s);
		k.b = load32(s + len - 4);
	} else if (len > 0) {
		k.a = (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[len / 2] << 8 |
		      (uint64_t)(unsigned char)s[len - 1] << 16;
	}
	return k;
}

static uint32_t cat_hash(struct cat_key k, size_t len)
{
	uint64_t h = (k.a ^ (uint64_t)len) * 0x9e3779b97f4a7c15u;
	h = (h ^ (h >> 32) ^ k.b) * 0xc2b2ae3d27d4eb4fu;
	return (uint32_t)(h >> 32);
}

/*
 * Fills cat_len and the hash index cat_slot, so that a lookup hashes the
 * value once and, for categories of up to 16 bytes, compares no bytes.
 */
static int cat_lengths(struct ml__feat_col *c, struct err *err)
{
	size_t k, nslots = 8;
	while (nslots < 2 * c->ncats)
		nslots *= 2;
	c->cat_len = mem_calloc(c->ncats + 1, sizeof(*c->cat_len));
	c->cat_slot = mem_calloc(nslots, sizeof(*c->cat_slot));
	if (!c->cat_len || !c->cat_slot)
		return err_set(err, ERR_NOMEM, "out of memory for column '%s'", c->name);
	c->cat_mask = (uint32_t)(nslots - 1);
	for (k = 0; k < c->ncats; k++) {
		size_t len = strlen(c->cats[k]);
		struct cat_key key = cat_key(c->cats[k], len);
		uint32_t h = cat_hash(key, len) & c->cat_mask;
		while (c->cat_slot[h].cat)
			h = (h + 1) & c->cat_mask;
		c->cat_len[k] = len;
		c->cat_slot[h].a = key.a;
		c->cat_slot[h].b = key.b;
		c->cat_slot[h].len = len;
		c->cat_slot[h].cat = k + 1;
	}
	return 0;
}

/* The index of the category of s[0..len), or -1 (the categories are distinct). */
static long cat_index(const struct ml__feat_col *c, const char *s, size_t len)
{
	struct cat_key key = cat_key(s, len);
	uint32_t h = cat_hash(key, len) & c->cat_mask;
	const struct ml__cat_slot *sl;
	for (sl = &c->cat_slot[h]; sl->cat; sl = &c->cat_slot[h]) {
		if (sl->len == len && sl->a == key.a && sl->b == key.b &&
		    (len <= 16 || memcmp(c->cats[sl->cat - 1], s, len) == 0))
			return (long)sl->cat - 1;
		h = (h + 1) & c->cat_mask;
	}
	return -1;
}

/*
 * Appends a text's features to out from its sorted keys (text_keys): per
 * bucket the signed count c, sign(c) (1 + ln |c|) idf, then L2-normalised.
 */
static int text_values(const struct ml__feat_col *c, const uint64_t *keys, size_t n,
		       struct ml__row *out, struct err *err)
{
	size_t i = 0, start = out->n, j;
	double norm = 0;
	/* idf is large (2^hash_bits doubles): start every load now, not one by one */
	for (j = 0; j < n; j++)
		__builtin_prefetch(&c->idf[keys[j] >> 1]);
	while (i < n) {
		uint32_t b = (uint32_t)(keys[i] >> 1);
		long cnt = 0;
		for (; i < n && (uint32_t)(keys[i] >> 1) == b; i++)
			cnt += (keys[i] & 1) ? -1 : 1;
		if (cnt != 0) {
			/* ln 1 is exactly 0: most n-grams occur once in a text */
			double tf = labs(cnt) == 1 ? 1.0 : 1.0 + log((double)labs(cnt));
			double v = (cnt < 0 ? -tf : tf) * c->idf[b];
			if (ml__row_push(out, c->offset + b, v, err) < 0)
				return -1;
			norm += v * v;
		}
	}
	if (norm > 0) {
		norm = sqrt(norm);
		for (j = start; j < out->n; j++)
			out->val[j] /= norm;
	}
	return 0;
}

static int transform_text(const struct ml__pipeline *p, const struct ml__feat_col *c,
			  const struct ml_cell *cell, struct ml__row *out, struct err *err)
{
	uint64_t stack[KEYS_ON_STACK];
	struct keys k = {stack, 0, KEYS_ON_STACK, 0};
	int ret = -1;

	if (cell->kind == ML_CELL_MISSING)
		return 0;
	if (cell->kind == ML_CELL_NUM) {
		char tmp[32];
		int n = snprintf(tmp, sizeof(tmp), "%.17g", cell->num);
		if (text_keys(p, tmp, (size_t)n, &k, err) < 0)
			goto out;
	} else if (text_keys(p, cell->str, cell->len, &k, err) < 0) {
		goto out;
	}
	ret = text_values(c, k.v, k.n, out, err);
out:
	if (k.heap)
		mem_free(k.v);
	return ret;
}

/*
 * Where transform puts a feature: into a sparse row, or (row == NULL)
 * straight into gbdt's value pairs, pair[2 * slot] and pair[2 * slot + 1]
 * for a feature the trees use (slot_of[f] >= 0), as ml__gbdt_predict would
 * scatter the row: the same float of the same double.
 */
struct sink {
	struct ml__row *row;
	const int32_t *slot_of;
	uint32_t nfeatures;
	float *pair;
};

static inline int emit(const struct sink *s, uint32_t f, double v, struct err *err)
{
	if (s->row)
		return ml__row_push(s->row, f, v, err);
	if (f < s->nfeatures && s->slot_of[f] >= 0) {
		float x = (float)v;
		s->pair[2 * s->slot_of[f]] = x;
		s->pair[2 * s->slot_of[f] + 1] = x;
	}
	return 0;
}

/* A text column into pairs: its normalised features made as a row first. */
static int text_pairs(const struct ml__pipeline *p, const struct ml__feat_col *c,
		      const struct ml_cell *cell, const struct sink *s, struct err *err)
{
	uint32_t idx[64];
	double val[64];
	struct ml__row row;
	size_t j;
	int ret = -1;
	ml__row_init(&row, idx, val, 64);
	if (transform_text(p, c, cell, &row, err) < 0)
		goto out;
	for (j = 0; j < row.n; j++)
		(void)emit(s, row.idx[j], row.val[j], err); /* pairs: cannot fail */
	ret = 0;
out:
	ml__row_release(&row);
	return ret;
}

static inline __attribute__((always_inline)) int transform_to(const struct ml__pipeline *p,
							      const struct ml_cell *cells,
							      const struct sink *s, struct err *err)
{
	size_t i;
	double v;
	int r;

	for (i = 0; i < p->ncols; i++) {
		const struct ml__feat_col *c = &p->cols[i];
		const struct ml_cell *cell = &cells[i];
		switch (c->kind) {
		case ML_NUMERIC:
			r = cell_num(c, cell, &v, err);
			if (r < 0)
				return -1;
			if (p->for_trees) {
				if (r > 0 && emit(s, c->offset, v, err) < 0)
					return -1;
			} else if (r > 0) {
				v = (v - c->mean) / c->std;
				if (v != 0 && emit(s, c->offset, v, err) < 0)
					return -1;
			} else if (c->missing_ind && emit(s, c->offset + 1, 1.0, err) < 0) {
				return -1;
			}
			break;
		case ML_CATEGORICAL: {
			long k;
			if (cell->kind == ML_CELL_MISSING)
				break;
			if (cell->kind == ML_CELL_NUM) {
				char tmp[32];
				int n = snprintf(tmp, sizeof(tmp), "%.17g", cell->num);
				k = cat_index(c, tmp, (size_t)n);
			} else {
				k = cat_index(c, cell->str, cell->len);
			}
			if (k >= 0 && emit(s, c->offset + (uint32_t)k, 1.0, err) < 0)
				return -1;
			break;
		}
		case ML_TEXT:
			if (s->row ? transform_text(p, c, cell, s->row, err) < 0
				   : text_pairs(p, c, cell, s, err) < 0)
				return -1;
			break;
		}
	}
	return 0;
}

int ml__pipeline_transform(const struct ml__pipeline *p, const struct ml_cell *cells,
			   struct ml__row *out, struct err *err)
{
	struct sink s = {out, NULL, 0, NULL};
	out->n = 0;
	return transform_to(p, cells, &s, err);
}

int ml__pipeline_transform_pairs(const struct ml__pipeline *p, const struct ml_cell *cells,
				 const int32_t *slot_of, uint32_t nfeatures, float *pair,
				 struct err *err)
{
	struct sink s = {NULL, slot_of, nfeatures, pair};
	return transform_to(p, cells, &s, err);
}

/* --- fit ------------------------------------------------------------------ */

static struct ml_cell frame_cell(const struct ml_frame *f, int col, size_t row)
{
	struct ml_cell c = {ML_CELL_MISSING, NULL, 0, 0};
	const char *s = col >= 0 ? f->cells[col][row] : NULL;
	if (s) {
		c.kind = ML_CELL_STR;
		c.str = s;
		c.len = strlen(s);
	}
	return c;
}

/* keep: NULL, or nrows entries for each row's value (NAN when missing). */
static int fit_numeric(struct ml__feat_col *c, const struct ml_frame *f, int col,
		       const size_t *rows, size_t nrows, int for_trees, double *keep,
		       struct err *err)
{
	double sum = 0, sq = 0, *x = mem_calloc(nrows ? nrows : 1, sizeof(*x));
	size_t i, cnt = 0, missing = 0;
	if (!x)
		return err_set(err, ERR_NOMEM, "out of memory fitting column '%s'", c->name);
	/* Each value parsed once; the variance from the kept values. */
	for (i = 0; i < nrows; i++) {
		struct ml_cell cell = frame_cell(f, col, rows[i]);
		int r = cell_num(c, &cell, &x[cnt], err);
		if (r < 0) {
			mem_free(x);
			err_clear(err);
			return err_set(
				err, ERR_INVALID, "%s:%zu: column '%s': '%s' is not a number",
				f->path ? f->path : "data", f->line[rows[i]], c->name, cell.str);
		}
		if (keep)
			keep[i] = r ? x[cnt] : NAN; /* parse_num's values are finite */
		if (r == 0) {
			missing++;
			continue;
		}
		sum += x[cnt++];
	}
	c->mean = cnt ? sum / (double)cnt : 0;
	for (i = 0; i < cnt; i++)
		sq += (x[i] - c->mean) * (x[i] - c->mean);
	mem_free(x);
	c->std = cnt ? sqrt(sq / (double)cnt) : 0;
	if (!(c->std > 1e-12))
		c->std = 1.0;
	c->missing_ind = !for_trees && missing > 0;
	c->width = c->missing_ind ? 2 : 1;
	return 0;
}

/*
 * The distinct strings of v[0..n) into v[0..*nd), in first-seen order: an
 * open-addressing set on murmur3, so sorting the categories afterwards costs
 * a handful of comparisons instead of a sort of every row's value. id: NULL,
 * or n entries for the index in v[0..*nd) of each v[i].
 */
static int distinct_strings(char **v, size_t n, size_t *nd, uint32_t *id, struct err *err)
{
	size_t cap = 16, i, d = 0;
	char **slot;
	uint32_t *slot_id = NULL;
	int ret = -1;
	while (cap < 2 * n)
		cap *= 2;
	slot = mem_calloc(cap, sizeof(*slot));
	if (id)
		slot_id = mem_calloc(cap, sizeof(*slot_id));
	if (!slot || (id && !slot_id)) {
		err_set(err, ERR_NOMEM, "out of memory fitting a categorical column");
		goto out;
	}
	for (i = 0; i < n; i++) {
		size_t len = strlen(v[i]);
		size_t h = ml__murmur3(v[i], len, 0) & (cap - 1);
		while (slot[h] && strcmp(slot[h], v[i]) != 0)
			h = (h + 1) & (cap - 1);
		if (!slot[h]) {
			if (slot_id)
				slot_id[h] = (uint32_t)d;
			slot[h] = v[d++] = v[i];
		}
		if (id)
			id[i] = slot_id[h];
	}
	*nd = d;
	ret = 0;
out:
	mem_free(slot);
	mem_free(slot_id);
	return ret;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(**(char **const *)a, **(char **const *)b);
}

/*
 * The categories of a column: v[0..n) its distinct values, sorted into
 * c->cats; keep (NULL or nrows entries) gets each row's category, -1 when
 * missing, from id (the index in v of each non-missing value, in row order).
 */
static int set_cats(struct ml__feat_col *c, char **v, size_t n, const uint32_t *id,
		    const struct ml_frame *f, int col, const size_t *rows, size_t nrows,
		    int32_t *keep, struct err *err)
{
	char ***order = mem_calloc(n + 1, sizeof(*order)); /* into v, sorted by string */
	uint32_t *rank = mem_calloc(n + 1, sizeof(*rank));
	size_t i, j = 0;
	int ret = -1;
	c->cats = mem_calloc(n ? n : 1, sizeof(*c->cats));
	if (!order || !rank || !c->cats)
		goto nomem;
	for (i = 0; i < n; i++)
		order[i] = &v[i];
	qsort(order, n, sizeof(*order), cmp_strp);
	for (i = 0; i < n; i++) {
		rank[order[i] - v] = (uint32_t)i;
		c->cats[c->ncats] = mem_strdup(*order[i]);
		if (!c->cats[c->ncats])
			goto nomem;
		c->ncats++;
	}
	for (i = 0; keep && i < nrows; i++)
		keep[i] = col >= 0 && f->cells[col][rows[i]] ? (int32_t)rank[id[j++]] : -1;
	ret = 0;
	goto out;
nomem:
	err_set(err, ERR_NOMEM, "out of memory fitting column '%s'", c->name);
out:
	mem_free(order);
	mem_free(rank);
	return ret;
}

/* keep: NULL, or nrows entries for each row's category (-1 when missing). */
static int fit_categorical(struct ml__feat_col *c, const struct ml_frame *f, int col,
			   const size_t *rows, size_t nrows, int32_t *keep, struct err *err)
{
	size_t i, n = 0, nd = 0;
	char **v = mem_calloc(nrows ? nrows : 1, sizeof(*v));
	uint32_t *id = keep ? mem_calloc(nrows + 1, sizeof(*id)) : NULL;
	int ret = -1;
	if (!v || (keep && !id)) {
		err_set(err, ERR_NOMEM, "out of memory fitting column '%s'", c->name);
		goto out;
	}
	for (i = 0; i < nrows; i++) {
		char *s = col >= 0 ? f->cells[col][rows[i]] : NULL;
		if (s)
			v[n++] = s;
	}
	if (distinct_strings(v, n, &nd, id, err) < 0 ||
	    set_cats(c, v, nd, id, f, col, rows, nrows, keep, err) < 0)
		goto out;
	c->width = (uint32_t)c->ncats;
	ret = cat_lengths(c, err);
out:
	mem_free(v);
	mem_free(id);
	return ret;
}

static double smooth_idf(uint32_t ndocs, uint32_t df)
{
	return log((1.0 + ndocs) / (1.0 + df)) + 1.0;
}

/* The sorted keys of one training text, kept by fit for the transform. */
struct text_doc {
	uint64_t *v;
	size_t n;
};

/* docs: NULL, or nrows entries to keep each text's keys in (caller frees). */
static int fit_text(const struct ml__pipeline *p, struct ml__feat_col *c, const struct ml_frame *f,
		    int col, const size_t *rows, size_t nrows, struct text_doc *docs,
		    struct err *err)
{
	size_t nb = (size_t)1 << p->hash_bits, i, j;
	uint32_t *df = mem_calloc(nb, sizeof(*df));
	double dflt;
	uint64_t stack[KEYS_ON_STACK];
	struct keys k = {stack, 0, KEYS_ON_STACK, 0};
	int ret = -1;

	c->idf = mem_calloc(nb, sizeof(*c->idf));
	if (!df || !c->idf) {
		err_set(err, ERR_NOMEM, "out of memory fitting column '%s'", c->name);
		goto out;
	}
	for (i = 0; i < nrows; i++) {
		struct ml_cell cell = frame_cell(f, col, rows[i]);
		if (cell.kind == ML_CELL_MISSING)
			continue;
		k.n = 0;
		if (text_keys(p, cell.str, cell.len, &k, err) < 0)
			goto out;
		for (j = 0; j < k.n; j++)
			if (j == 0 || (k.v[j] >> 1) != (k.v[j - 1] >> 1))
				df[k.v[j] >> 1]++;
		if (docs && k.n) {
			docs[i].v = mem_calloc(k.n, sizeof(*docs[i].v));
			if (!docs[i].v) {
				err_set(err, ERR_NOMEM, "out of memory fitting column '%s'",
					c->name);
				goto out;
			}
			memcpy(docs[i].v, k.v, k.n * sizeof(*k.v));
			docs[i].n = k.n;
		}
	}
	c->ndocs = (uint32_t)nrows;
	/* Most buckets have df 0: one log for all of them. */
	dflt = smooth_idf(c->ndocs, 0);
	for (j = 0; j < nb; j++)
		c->idf[j] = df[j] ? smooth_idf(c->ndocs, df[j]) : dflt;
	c->width = (uint32_t)nb;
	ret = 0;
out:
	if (k.heap)
		mem_free(k.v);
	mem_free(df);
	return ret;
}

static int check_params(int ngram_min, int ngram_max, unsigned hash_bits, struct err *err)
{
	if (ngram_min < 1 || ngram_max < ngram_min || ngram_max > ML__NGRAM_MAX)
		return err_set(err, ERR_INVALID, "ngram range %d,%d: need 1 <= min <= max <= %d",
			       ngram_min, ngram_max, ML__NGRAM_MAX);
	if (hash_bits < 1 || hash_bits > ML__HASH_BITS_MAX)
		return err_set(err, ERR_INVALID, "hash bits %u: need 1..%d", hash_bits,
			       ML__HASH_BITS_MAX);
	return 0;
}

/* Lays the columns out one after another; fails past 2^31 features. */
static int assign_offsets(struct ml__pipeline *p, struct err *err)
{
	uint64_t off = 0, text = 0;
	size_t i;
	for (i = 0; i < p->ncols; i++) {
		if (p->cols[i].kind == ML_TEXT)
			text += p->cols[i].width;
		if (text > ML__TEXT_BUCKETS_MAX)
			return err_set(
				err, ERR_INVALID,
				"too many text features: lower the hash bits or the text columns");
		p->cols[i].offset = (uint32_t)off;
		off += p->cols[i].width;
		if (off > INT32_MAX)
			return err_set(err, ERR_INVALID, "too many features (over 2^31)");
	}
	p->nfeatures = (uint32_t)off;
	return 0;
}

/*
 * What fit_transform keeps of column i for transforming the same rows: each
 * row's number (NAN when missing), category (-1 when missing) or text keys.
 * The transform then parses, looks up and tokenises nothing again.
 */
struct kept_col {
	double *num;
	int32_t *cat;
	struct text_doc *docs;
};

/* What fitting one column needs (pipeline_fit's arguments). */
struct fit_cols {
	struct ml__pipeline *p;
	const struct ml_schema *s;
	const struct ml_frame *f;
	const int *colmap;
	const size_t *rows;
	size_t nrows;
	struct kept_col *kept;
};

static int fit_col(void *ctx, size_t i, struct err *err)
{
	const struct fit_cols *fc = ctx;
	struct ml__feat_col *c = &fc->p->cols[i];
	struct kept_col *k = fc->kept ? &fc->kept[i] : NULL;
	c->kind = fc->s->cols[i].kind;
	c->name = mem_strdup(fc->s->cols[i].name);
	if (!c->name)
		return err_set(err, ERR_NOMEM, "out of memory for the feature pipeline");
	if (c->kind == ML_NUMERIC)
		return fit_numeric(c, fc->f, fc->colmap[i], fc->rows, fc->nrows, fc->p->for_trees,
				   k ? k->num : NULL, err);
	if (c->kind == ML_CATEGORICAL)
		return fit_categorical(c, fc->f, fc->colmap[i], fc->rows, fc->nrows,
				       k ? k->cat : NULL, err);
	return fit_text(fc->p, c, fc->f, fc->colmap[i], fc->rows, fc->nrows, k ? k->docs : NULL,
			err);
}

/* ml__pipeline_fit; kept: NULL, or what to keep of each column (kept_col). */
static int pipeline_fit(struct ml__pipeline *p, const struct ml_schema *s, const struct ml_frame *f,
			const int *colmap, const size_t *rows, size_t nrows, int ngram_min,
			int ngram_max, unsigned hash_bits, int for_trees, struct kept_col *kept,
			struct err *err)
{
	struct fit_cols fc;
	memset(p, 0, sizeof(*p));
	fc = (struct fit_cols){p, s, f, colmap, rows, nrows, kept};
	if (check_params(ngram_min, ngram_max, hash_bits, err) < 0)
		return -1;
	p->ngram_min = ngram_min;
	p->ngram_max = ngram_max;
	p->hash_bits = hash_bits;
	p->for_trees = for_trees;
	p->cols = mem_calloc(s->ncols ? s->ncols : 1, sizeof(*p->cols));
	if (!p->cols)
		return err_set(err, ERR_NOMEM, "out of memory for the feature pipeline");
	p->ncols = s->ncols;
	/* Columns are fitted independently, on two threads. */
	if (ml__par_for(s->ncols, fit_col, &fc, err) < 0 || assign_offsets(p, err) < 0)
		goto fail;
	return 0;
fail:
	ml__pipeline_release(p);
	return -1;
}

int ml__pipeline_fit(struct ml__pipeline *p, const struct ml_schema *s, const struct ml_frame *f,
		     const int *colmap, const size_t *rows, size_t nrows, int ngram_min,
		     int ngram_max, unsigned hash_bits, int for_trees, struct err *err)
{
	return pipeline_fit(p, s, f, colmap, rows, nrows, ngram_min, ngram_max, hash_bits,
			    for_trees, NULL, err);
}

static void kept_free(struct kept_col *kept, size_t ncols, size_t nrows)
{
	size_t i, r;
	for (i = 0; kept && i < ncols; i++) {
		for (r = 0; kept[i].docs && r < nrows; r++)
			mem_free(kept[i].docs[r].v);
		mem_free(kept[i].docs);
		mem_free(kept[i].num);
		mem_free(kept[i].cat);
	}
	mem_free(kept);
}

/* The arrays of kept for the columns of s (their kinds say which). */
static int kept_alloc(struct kept_col *kept, const struct ml_schema *s, size_t nrows,
		      struct err *err)
{
	size_t i;
	for (i = 0; i < s->ncols; i++) {
		if (s->cols[i].kind == ML_NUMERIC)
			kept[i].num = mem_calloc(nrows + 1, sizeof(*kept[i].num));
		else if (s->cols[i].kind == ML_CATEGORICAL)
			kept[i].cat = mem_calloc(nrows + 1, sizeof(*kept[i].cat));
		else
			kept[i].docs = mem_calloc(nrows + 1, sizeof(*kept[i].docs));
		if (!kept[i].num && !kept[i].cat && !kept[i].docs)
			return err_set(err, ERR_NOMEM, "out of memory for the feature pipeline");
	}
	return 0;
}

/*
 * Row r of the training rows from what fit kept: what ml__pipeline_transform
 * makes of the row (transform_to), column by column, so idx stays ascending.
 * The row is sized once: at most one entry per numeric or categorical
 * column, and one per text key.
 */
static int transform_kept(const struct ml__pipeline *p, const struct kept_col *kept, size_t r,
			  struct ml__row *out, struct err *err)
{
	size_t i, cap = 0;
	for (i = 0; i < p->ncols; i++)
		cap += p->cols[i].kind == ML_TEXT ? kept[i].docs[r].n : 1;
	if (ml__row_reserve(out, cap, err) < 0)
		return -1;
	for (i = 0; i < p->ncols; i++) {
		const struct ml__feat_col *c = &p->cols[i];
		double v;
		int32_t k;
		switch (c->kind) {
		case ML_NUMERIC:
			v = kept[i].num[r];
			if (isnan(v)) {
				if (c->missing_ind &&
				    ml__row_push(out, c->offset + 1, 1.0, err) < 0)
					return -1;
			} else if (p->for_trees) {
				if (ml__row_push(out, c->offset, v, err) < 0)
					return -1;
			} else {
				v = (v - c->mean) / c->std;
				if (v != 0 && ml__row_push(out, c->offset, v, err) < 0)
					return -1;
			}
			break;
		case ML_CATEGORICAL:
			k = kept[i].cat[r];
			if (k >= 0 && ml__row_push(out, c->offset + (uint32_t)k, 1.0, err) < 0)
				return -1;
			break;
		case ML_TEXT:
			if (text_values(c, kept[i].docs[r].v, kept[i].docs[r].n, out, err) < 0)
				return -1;
			break;
		}
	}
	return 0;
}

/* Rows [i * TRANSFORM_BLOCK, ...) of a fit_transform. */
struct transform_rows {
	const struct ml__pipeline *p;
	const struct kept_col *kept;
	size_t nrows;
	struct ml__row *out;
};

static int transform_block(void *ctx, size_t i, struct err *err)
{
	const struct transform_rows *tr = ctx;
	size_t r, end = (i + 1) * TRANSFORM_BLOCK;
	for (r = i * TRANSFORM_BLOCK; r < end && r < tr->nrows; r++)
		if (transform_kept(tr->p, tr->kept, r, &tr->out[r], err) < 0)
			return -1;
	return 0;
}

int ml__pipeline_fit_transform(struct ml__pipeline *p, const struct ml_schema *s,
			       const struct ml_frame *f, const int *colmap, const size_t *rows,
			       size_t nrows, int ngram_min, int ngram_max, unsigned hash_bits,
			       int for_trees, struct ml__row *out, struct err *err)
{
	struct kept_col *kept = mem_calloc(s->ncols + 1, sizeof(*kept));
	struct transform_rows tr;
	int ret = -1;

	if (!kept) {
		err_set(err, ERR_NOMEM, "out of memory for the feature pipeline");
		goto out;
	}
	if (kept_alloc(kept, s, nrows, err) < 0 ||
	    pipeline_fit(p, s, f, colmap, rows, nrows, ngram_min, ngram_max, hash_bits, for_trees,
			 kept, err) < 0)
		goto out;
	/* Rows are independent: blocks of them on two threads. */
	tr = (struct transform_rows){p, kept, nrows, out};
	if (ml__par_for((nrows + TRANSFORM_BLOCK - 1) / TRANSFORM_BLOCK, transform_block, &tr,
			err) < 0) {
		ml__pipeline_release(p);
		goto out;
	}
	ret = 0;
out:
	kept_free(kept, s->ncols, nrows);
	return ret;
}

void ml__pipeline_release(struct ml__pipeline *p)
{
	size_t i, j;
	for (i = 0; p->cols && i < p->ncols; i++) {
		struct ml__feat_col *c = &p->cols[i];
		mem_free(c->name);
		for (j = 0; c->cats && j < c->ncats; j++)
			mem_free(c->cats[j]);
		mem_free(c->cats);
		mem_free(c->cat_len);
		mem_free(c->cat_slot);
		mem_free(c->idf);
	}
	mem_free(p->cols);
	memset(p, 0, sizeof(*p));
}

/* --- JSON ----------------------------------------------------------------- */

static const char *kind_name(enum ml_kind k)
{
	return k == ML_NUMERIC ? "numeric" : k == ML_CATEGORICAL ? "categorical" : "text";
}

/*
 * The index of v in the descending array levels[0..*n), inserted there when
 * absent (levels has room for one more). Few distinct values: cheap.
 */
static size_t level_add(double *levels, size_t *n, double v)
{
	size_t lo = 0, hi = *n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (levels[mid] == v)
			return mid;
		if (levels[mid] > v)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(levels + lo + 1, levels + lo, (*n - lo) * sizeof(*levels));
	levels[lo] = v;
	(*n)++;
	return lo;
}

/*
 * A text column's idf as the buckets some document has, the distinct idf
 * values (one per document frequency: a few hundred) and, per bucket, the
 * index of its value. Exact like a list of one double per bucket, but tens
 * of thousands of small integers print, hash and parse several times faster
 * than as many 17-digit doubles (model_format 2).
 */
static int text_to_json(const struct ml__pipeline *p, const struct ml__feat_col *c, json_t *j)
{
	double dflt = smooth_idf(c->ndocs, 0), *levels = NULL;
	size_t nb = (size_t)1 << p->hash_bits, i, n = 0, nl = 0, last = 0;
	json_t *buckets = json_array(), *index = json_array(), *values = json_array();
	int bad = 0;

	for (i = 0; i < nb; i++)
		n += c->idf[i] != dflt;
	levels = mem_calloc(n + 1, sizeof(*levels));
	if (!buckets || !index || !values || !levels)
		goto out;
	/* The distinct values first, so the indices below are final. */
	for (i = 0; i < nb; i++)
		if (c->idf[i] != dflt && (nl == 0 || c->idf[i] != levels[last]))
			last = level_add(levels, &nl, c->idf[i]);
	for (i = 0; i < nl; i++)
		if (json_array_append_new(values, json_real(levels[i])) < 0)
			goto out;
	for (i = 0; i < nb; i++) {
		if (c->idf[i] == dflt)
			continue;
		if (json_array_append_new(buckets, json_integer((json_int_t)i)) < 0 ||
		    json_array_append_new(
			    index, json_integer((json_int_t)level_add(levels, &nl, c->idf[i]))) < 0)
			goto out;
	}
	/* json_object_set_new takes the value even when it fails: all five run. */
	bad |= json_object_set_new(j, "n_docs", json_integer(c->ndocs)) < 0;
	bad |= json_object_set_new(j, "idf_default", json_real(dflt)) < 0;
	bad |= json_object_set_new(j, "idf_buckets", buckets) < 0;
	bad |= json_object_set_new(j, "idf_values", values) < 0;
	bad |= json_object_set_new(j, "idf_index", index) < 0;
	mem_free(levels);
	return bad ? -1 : 0;
out:
	json_decref(buckets);
	json_decref(index);
	json_decref(values);
	mem_free(levels);
	return -1;
}

static json_t *col_to_json(const struct ml__pipeline *p, const struct ml__feat_col *c)
{
	json_t *j = json_pack("{s:s, s:s, s:I, s:I}", "name", c->name, "kind", kind_name(c->kind),
			      "offset", (json_int_t)c->offset, "width", (json_int_t)c->width);
	json_t *a = NULL;
	size_t i;
	if (!j)
		return NULL;
	if (c->kind == ML_NUMERIC) {
		if (json_object_set_new(j, "mean", json_real(c->mean)) < 0 ||
		    json_object_set_new(j, "std", json_real(c->std)) < 0 ||
		    json_object_set_new(j, "missing_indicator", json_boolean(c->missing_ind)) < 0)
			goto fail;
	} else if (c->kind == ML_CATEGORICAL) {
		a = json_array();
		for (i = 0; a && i < c->ncats; i++)
			if (json_array_append_new(a, json_string(c->cats[i])) < 0)
				goto fail;
		if (!a || json_object_set_new(j, "categories", a) < 0)
			goto fail;
		a = NULL;
	} else if (text_to_json(p, c, j) < 0) {
		goto fail;
	}
	return j;
fail:
	json_decref(a);
	json_decref(j);
	return NULL;
}

json_t *ml__pipeline_to_json(const struct ml__pipeline *p)
{
	json_t *cols = json_array(), *j;
	size_t i;
	if (!cols)
		return NULL;
	for (i = 0; i < p->ncols; i++) {
		if (json_array_append_new(cols, col_to_json(p, &p->cols[i])) < 0) {
			json_decref(cols);
			return NULL;
		}
	}
	j = json_pack("{s:[i,i], s:i, s:s, s:s, s:s, s:b, s:I, s:o}", "ngram", p->ngram_min,
		      p->ngram_max, "hash_bits", (int)p->hash_bits, "hash", "murmur3_x86_32",
		      "tokenizer", "ascii-lowercase-alnum", "tf", "sublinear", "for_trees",
		      p->for_trees, "n_features", (json_int_t)p->nfeatures, "columns", cols);
	return j;
}

static int get_num(const json_t *o, const char *key, double *v, const char *where, size_t i,
		   struct err *err)
{
	const json_t *x = json_object_get(o, key);
	if (!json_is_number(x))
		return err_set(err, ERR_FORMAT, "manifest: %s[%zu].%s: expected a number", where, i,
			       key);
	*v = json_number_value(x);
	return 0;
}

static int kind_from_name(const char *s, enum ml_kind *k)
{
	if (strcmp(s, "numeric") == 0)
		*k = ML_NUMERIC;
	else if (strcmp(s, "categorical") == 0)
		*k = ML_CATEGORICAL;
	else if (strcmp(s, "text") == 0)
		*k = ML_TEXT;
	else
		return -1;
	return 0;
}

/* Format 1: "idf", one double per listed bucket. */
static int idf_from_list(struct ml__feat_col *c, const json_t *b, const json_t *v, size_t nb,
			 size_t i, struct err *err)
{
	size_t k;
	if (!json_is_array(v) || json_array_size(b) != json_array_size(v))
		return err_set(err, ERR_FORMAT,
			       "manifest: features.columns[%zu]: bad idf_buckets or idf", i);
	for (k = 0; k < json_array_size(b); k++) {
		const json_t *bk = json_array_get(b, k), *vk = json_array_get(v, k);
		json_int_t bi = json_is_integer(bk) ? json_integer_value(bk) : -1;
		if (bi < 0 || (size_t)bi >= nb || !json_is_number(vk) ||
		    !isfinite(json_number_value(vk)))
			return err_set(
				err, ERR_FORMAT,
				"manifest: features.columns[%zu].idf[%zu]: bad bucket or value", i,
				k);
		c->idf[bi] = json_number_value(vk);
	}
	return 0;
}

/* Format 2: "idf_values", and per listed bucket its index there in "idf_index". */
static int idf_from_levels(struct ml__feat_col *c, const json_t *b, const json_t *values,
			   const json_t *index, size_t nb, size_t i, struct err *err)
{
	size_t k, nv = json_array_size(values);
	if (!json_is_array(values) || !json_is_array(index) ||
	    json_array_size(b) != json_array_size(index))
		return err_set(err, ERR_FORMAT,
			       "manifest: features.columns[%zu]: bad idf_buckets, idf_values or "
			       "idf_index",
			       i);
	for (k = 0; k < nv; k++)
		if (!json_is_number(json_array_get(values, k)) ||
		    !isfinite(json_number_value(json_array_get(values, k))))
			return err_set(err, ERR_FORMAT,
				       "manifest: features.columns[%zu].idf_values[%zu]: not a "
				       "number",
				       i, k);
	for (k = 0; k < json_array_size(b); k++) {
		const json_t *bk = json_array_get(b, k), *xk = json_array_get(index, k);
		json_int_t bi = json_is_integer(bk) ? json_integer_value(bk) : -1;
		json_int_t xi = json_is_integer(xk) ? json_integer_value(xk) : -1;
		if (bi < 0 || (size_t)bi >= nb || xi < 0 || (size_t)xi >= nv)
			return err_set(err, ERR_FORMAT,
				       "manifest: features.columns[%zu].idf_index[%zu]: bad bucket "
				       "or index",
				       i, k);
		c->idf[bi] = json_number_value(json_array_get(values, (size_t)xi));
	}
	return 0;
}

static int text_from_json(const struct ml__pipeline *p, struct ml__feat_col *c, const json_t *jc,
			  size_t i, struct err *err)
{
	const json_t *b = json_object_get(jc, "idf_buckets"), *v = json_object_get(jc, "idf");
	const json_t *nd = json_object_get(jc, "n_docs");
	size_t nb = (size_t)1 << p->hash_bits, k;
	double dflt;
	if (!json_is_integer(nd) || json_integer_value(nd) < 0 ||
	    json_integer_value(nd) > UINT32_MAX || !json_is_array(b))
		return err_set(err, ERR_FORMAT,
			       "manifest: features.columns[%zu]: bad n_docs or idf_buckets", i);
	c->ndocs = (uint32_t)json_integer_value(nd);
	c->idf = mem_calloc(nb, sizeof(*c->idf));
	if (!c->idf)
		return err_set(err, ERR_NOMEM, "out of memory loading the feature pipeline");
	dflt = smooth_idf(c->ndocs, 0);
	for (k = 0; k < nb; k++)
		c->idf[k] = dflt;
	if (v ? idf_from_list(c, b, v, nb, i, err) < 0
	      : idf_from_levels(c, b, json_object_get(jc, "idf_values"),
				json_object_get(jc, "idf_index"), nb, i, err) < 0)
		return -1;
	c->width = (uint32_t)nb;
	return 0;
}

static int col_from_json(const struct ml__pipeline *p, struct ml__feat_col *c, const json_t *jc,
			 size_t i, struct err *err)
{
	const char *name = json_string_value(json_object_get(jc, "name"));
	const char *kind = json_string_value(json_object_get(jc, "kind"));
	const json_t *cats, *mi;
	size_t k;
	if (!json_is_object(jc) || !name || !kind || kind_from_name(kind, &c->kind) < 0)
		return err_set(err, ERR_FORMAT,
			       "manifest: features.columns[%zu]: needs a name and a kind", i);
	c->name = mem_strdup(name);
	if (!c->name)
		return err_set(err, ERR_NOMEM, "out of memory loading the feature pipeline");
	switch (c->kind) {
	case ML_NUMERIC:
		mi = json_object_get(jc, "missing_indicator");
		if (get_num(jc, "mean", &c->mean, "features.columns", i, err) < 0 ||
		    get_num(jc, "std", &c->std, "features.columns", i, err) < 0)
			return -1;
		if (!isfinite(c->mean) || !isfinite(c->std) || c->std <= 0 || !json_is_boolean(mi))
			return err_set(err, ERR_FORMAT,
				       "manifest: features.columns[%zu]: bad mean, std or "
				       "missing_indicator",
				       i);
		c->missing_ind = json_is_true(mi);
		c->width = c->missing_ind ? 2 : 1;
		return 0;
	case ML_CATEGORICAL:
		cats = json_object_get(jc, "categories");
		if (!json_is_array(cats))
			return err_set(
				err, ERR_FORMAT,
				"manifest: features.columns[%zu].categories: expected an array", i);
		c->cats = mem_calloc(json_array_size(cats) + 1, sizeof(*c->cats));
		if (!c->cats)
			return err_set(err, ERR_NOMEM,
				       "out of memory loading the feature pipeline");
		for (k = 0; k < json_array_size(cats); k++) {
			const char *s = json_string_value(json_array_get(cats, k));
			if (!s || (k > 0 && strcmp(c->cats[k - 1], s) >= 0))
				return err_set(err, ERR_FORMAT,
					       "manifest: features.columns[%zu].categories[%zu]: "
					       "expected sorted distinct strings",
					       i, k);
			c->cats[k] = mem_strdup(s);
			if (!c->cats[k])
				return err_set(err, ERR_NOMEM,
					       "out of memory loading the feature pipeline");
			c->ncats++;
		}
		c->width = (uint32_t)c->ncats;
		return cat_lengths(c, err);
	case ML_TEXT:
		return text_from_json(p, c, jc, i, err);
	}
	return 0;
}

int ml__pipeline_from_json(struct ml__pipeline *p, const json_t *j, struct err *err)
{
	const json_t *ng = json_object_get(j, "ngram"), *cols = json_object_get(j, "columns");
	const json_t *hb = json_object_get(j, "hash_bits"), *ft = json_object_get(j, "for_trees");
	const json_t *nf = json_object_get(j, "n_features");
	size_t i, ntext = 0;

	memset(p, 0, sizeof(*p));
	if (!json_is_object(j))
		return err_set(err, ERR_FORMAT, "manifest: features: expected an object");
	if (!json_is_array(ng) || json_array_size(ng) != 2 ||
	    !json_is_integer(json_array_get(ng, 0)) || !json_is_integer(json_array_get(ng, 1)) ||
	    !json_is_integer(hb) || !json_is_boolean(ft) || !json_is_array(cols) ||
	    !json_is_integer(nf))
		return err_set(err, ERR_FORMAT,
			       "manifest: features: needs ngram, hash_bits, for_trees, n_features "
			       "and columns");
	if (json_integer_value(hb) < 1 || json_integer_value(hb) > ML__HASH_BITS_MAX ||
	    json_integer_value(json_array_get(ng, 0)) < 1 ||
	    json_integer_value(json_array_get(ng, 1)) > ML__NGRAM_MAX ||
	    json_integer_value(json_array_get(ng, 0)) > json_integer_value(json_array_get(ng, 1)))
		return err_set(err, ERR_FORMAT,
			       "manifest: features: ngram or hash_bits out of range");
	p->ngram_min = (int)json_integer_value(json_array_get(ng, 0));
	p->ngram_max = (int)json_integer_value(json_array_get(ng, 1));
	p->hash_bits = (unsigned)json_integer_value(hb);
	p->for_trees = json_is_true(ft);
	/* Refuse a pipeline too big to hold before allocating any of it. */
	for (i = 0; i < json_array_size(cols); i++) {
		const char *k = json_string_value(json_object_get(json_array_get(cols, i), "kind"));
		if (k && strcmp(k, "text") == 0)
			ntext++;
	}
	if (ntext > ML__TEXT_BUCKETS_MAX >> p->hash_bits)
		return err_set(err, ERR_FORMAT, "manifest: features: too many text buckets");
	p->cols = mem_calloc(json_array_size(cols) + 1, sizeof(*p->cols));
	if (!p->cols)
		return err_set(err, ERR_NOMEM, "out of memory loading the feature pipeline");
	p->ncols = json_array_size(cols);
	for (i = 0; i < p->ncols; i++)
		if (col_from_json(p, &p->cols[i], json_array_get(cols, i), i, err) < 0)
			goto fail;
	if (assign_offsets(p, err) < 0)
		goto fail;
	if ((json_int_t)p->nfeatures != json_integer_value(nf)) {
		err_set(err, ERR_FORMAT,
			"manifest: features.n_features: %lld does not match columns",
			(long long)json_integer_value(nf));
		goto fail;
	}
	return 0;
fail:
	ml__pipeline_release(p);
	return -1;
}

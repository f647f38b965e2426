/*
 * ubj_test.c - unit tests for the UBJSON reader (ubj.c) and for loading
 * XGBoost's UBJSON model (ml__gbdt_load): every value type and width, the
 * container forms, malformed input refused with its byte offset, and the
 * same model written as JSON and as UBJSON loading to the same trees or
 * failing with the same message. Models XGBoost wrote: features_test.c.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/mem.h"
#include "ml/internal.h"
#include "ml/ubj.h"

/* --- writing UBJSON for the tests ------------------------------------------ */

static void put(struct buf *b, const void *p, size_t n)
{
	assert_int_equal(buf_add(b, p, n), 0);
}

static void put_be(struct buf *b, uint64_t v, int n)
{
	while (n-- > 0)
		assert_int_equal(buf_addch(b, (int)((v >> (8 * n)) & 0xff)), 0);
}

/* A key as XGBoost writes it: 'L', a 64-bit length, the bytes. */
static void put_key(struct buf *b, const char *k)
{
	put(b, "L", 1);
	put_be(b, strlen(k), 8);
	put(b, k, strlen(k));
}

static void put_str(struct buf *b, const char *s)
{
	put(b, "S", 1);
	put_key(b, s);
}

static void put_f32(struct buf *b, float f)
{
	uint32_t w;
	memcpy(&w, &f, sizeof(w));
	put_be(b, w, 4);
}

/* Typed arrays as XGBoost writes them: "[$" type "#L" count, then the values. */
static void put_typed(struct buf *b, char type, size_t n)
{
	char head[3] = {'[', '$', type};
	put(b, head, 3);
	put(b, "#L", 2);
	put_be(b, n, 8);
}

static void parse_ok(struct ml_ubj *v, const struct buf *b)
{
	struct err err = ERR_INIT;
	if (ml_ubj_parse(v, b->ptr, b->len, &err) < 0)
		fail_msg("parse failed: %s", err.msg);
}

static void parse_fails(const void *data, size_t len, const char *msg)
{
	struct err err = ERR_INIT;
	struct ml_ubj v;
	assert_int_equal(ml_ubj_parse(&v, data, len, &err), -1);
	assert_int_equal(err.code, ERR_FORMAT);
	if (!strstr(err.msg, msg))
		fail_msg("expected '%s' in '%s'", msg, err.msg);
}

/* --- the reader ------------------------------------------------------------ */

static void test_ubj_reads_every_scalar(void **state)
{
	static const unsigned char doc[] = {
		'[',  'i', 0xfe, 'U',  0xfe, 'I',  0xff, 0x00, 'l',  0x80, 0,	 0,
		0,    'L', 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'd',	 0x3f,
		0xc0, 0,   0,	 'D',  0xc0, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18,
		'T',  'F', 'Z',	 'N',  'S',  'U',  2,	 'h',  'i',  ']'};
	struct ml_ubj root, v;
	struct ml_ubj_iter it;
	struct err err = ERR_INIT;
	(void)state;
	assert_int_equal(ml_ubj_parse(&root, doc, sizeof(doc), &err), 0);
	assert_int_equal(root.type, ML_UBJ_ARRAY);
	assert_int_equal(root.count, 11); /* the noop is no element */
	ml_ubj_iter_init(&it, &root);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &v, &err), 1);
	assert_true(v.type == ML_UBJ_INT && v.i == -2 && v.f == -2);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &v, &err), 1);
	assert_true(v.type == ML_UBJ_INT && v.i == 254);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &v, &err), 1);
	assert_true(v.type == ML_UBJ_INT && v.i == -256);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &v, &err), 1);
	assert_true(v.type == ML_UBJ_INT && v.i == INT32_MIN);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &v, &err), 1);
	assert_true(v.type == ML_UBJ_INT && v.i == INT64_MAX);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &v, &err), 1);
	assert_true(v.type == ML_UBJ_FLOAT && v.f == 1.5);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &v, &err), 1);
	assert_true(v.type == ML_UBJ_FLOAT && v.f == -3.141592653589793);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &v, &err), 1);
	assert_true(v.type == ML_UBJ_BOOL && v.i == 1);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &v, &err), 1);
	assert_true(v.type == ML_UBJ_BOOL && v.i == 0);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &v, &err), 1);
	assert_int_equal(v.type, ML_UBJ_NULL);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &v, &err), 1);
	assert_true(v.type == ML_UBJ_STRING && v.len == 2 && memcmp(v.str, "hi", 2) == 0);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &v, &err), 0);
}

static void test_ubj_reads_typed_and_counted_containers(void **state)
{
	struct buf b = BUF_INIT;
	struct ml_ubj root, v[4], x;
	struct ml_ubj_iter it;
	struct err err = ERR_INIT;
	const char *keys[] = {"f", "c", "o", "absent"};
	const char *key = NULL;
	size_t klen = 0;
	(void)state;
	put(&b, "{", 1);
	put_key(&b, "f");
	put_typed(&b, 'd', 2);
	put_f32(&b, 0.25f);
	put_f32(&b, -1e30f);
	put_key(&b, "c"); /* counted, untyped, with a noop before an element */
	put(&b, "[#U\x02Ni\x07l\x00\x00\x01\x00", 12);
	put_key(&b, "o"); /* a typed, counted object */
	put(&b,
	    "{$U#i\x02U\x01"
	    "a\x05"
	    "U\x01"
	    "b\x06",
	    14);
	put(&b, "}", 1);
	parse_ok(&root, &b);
	assert_int_equal(root.count, 3);
	assert_int_equal(ml_ubj_get(&root, keys, 4, v, &err), 0);
	assert_true(v[0].type == ML_UBJ_ARRAY && v[0].elem == 'd' && v[0].count == 2);
	ml_ubj_iter_init(&it, &v[0]);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &x, &err), 1);
	assert_true(x.type == ML_UBJ_FLOAT && x.f == 0.25);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &x, &err), 1);
	assert_true(x.f == (double)-1e30f);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &x, &err), 0);
	assert_true(v[1].type == ML_UBJ_ARRAY && v[1].elem == 0 && v[1].count == 2);
	ml_ubj_iter_init(&it, &v[1]);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &x, &err), 1);
	assert_int_equal(x.i, 7);
	assert_int_equal(ml_ubj_next(&it, NULL, NULL, &x, &err), 1);
	assert_int_equal(x.i, 256);
	assert_true(v[2].type == ML_UBJ_OBJECT && v[2].elem == 'U' && v[2].count == 2);
	ml_ubj_iter_init(&it, &v[2]);
	assert_int_equal(ml_ubj_next(&it, &key, &klen, &x, &err), 1);
	assert_true(klen == 1 && key[0] == 'a' && x.i == 5);
	assert_int_equal(ml_ubj_next(&it, &key, &klen, &x, &err), 1);
	assert_true(klen == 1 && key[0] == 'b' && x.i == 6);
	assert_int_equal(ml_ubj_next(&it, &key, &klen, &x, &err), 0);
	assert_int_equal(v[3].type, ML_UBJ_NONE);
	buf_release(&b);
}

static void test_ubj_finds_nested_keys_and_refuses_duplicates(void **state)
{
	struct buf b = BUF_INIT;
	struct ml_ubj root, a, v;
	struct err err = ERR_INIT;
	const char *ka[] = {"a"}, *kb[] = {"b"}, *kx[] = {"x"}, *dup[] = {"k"};
	(void)state;
	put(&b, "{", 1);
	put_key(&b, "a");
	put(&b, "{", 1);
	put_key(&b, "b");
	put_str(&b, "deep");
	put(&b, "}", 1);
	put_key(&b, "k");
	put(&b, "Z", 1);
	put_key(&b, "k");
	put(&b, "T}", 2);
	parse_ok(&root, &b);
	assert_int_equal(ml_ubj_get(&root, ka, 1, &a, &err), 0);
	assert_int_equal(ml_ubj_get(&a, kb, 1, &v, &err), 0);
	assert_true(v.type == ML_UBJ_STRING && v.len == 4 && memcmp(v.str, "deep", 4) == 0);
	assert_int_equal(ml_ubj_get(&a, kx, 1, &v, &err), 0);
	assert_int_equal(v.type, ML_UBJ_NONE);
	assert_int_equal(ml_ubj_get(&v, kx, 1, &a, &err), 0); /* not an object: none */
	assert_int_equal(a.type, ML_UBJ_NONE);
	assert_int_equal(ml_ubj_get(&root, dup, 1, &v, &err), -1);
	assert_string_equal(err.msg, "payload: byte 58: key 'k' twice");
	buf_release(&b);
}

/* Every cut of a valid document fails cleanly (never reads past the cut). */
static void test_ubj_refuses_every_truncation(void **state)
{
	struct buf b = BUF_INIT;
	struct ml_ubj v;
	struct err err = ERR_INIT;
	size_t n;
	(void)state;
	put(&b, "{", 1);
	put_key(&b, "t");
	put_typed(&b, 'l', 2);
	put_be(&b, 1, 4);
	put_be(&b, 2, 4);
	put_key(&b, "s");
	put_str(&b, "xyz");
	put_key(&b, "a");
	put(&b, "[#i\x02[]{}", 8);
	put(&b, "}", 1);
	parse_ok(&v, &b);
	for (n = 0; n < b.len; n++) {
		/* a copy of exactly n bytes, so that ASan sees any read past them */
		char *cut = mem_malloc(n ? n : 1);
		assert_non_null(cut);
		memcpy(cut, b.ptr, n);
		err_clear(&err);
		assert_int_equal(ml_ubj_parse(&v, cut, n, &err), -1);
		assert_int_equal(err.code, ERR_FORMAT);
		assert_non_null(strstr(err.msg, "payload: byte "));
		mem_free(cut);
	}
	buf_release(&b);
}

static void test_ubj_refuses_malformed_input(void **state)
{
	static const unsigned char huge_count[] = {'[', '$', 'l', '#', 'L', 0x20, 0, 0,
						   0,	0,   0,	  0,   1,   2,	  3};
	static const unsigned char neg_len[] = {'S', 'i', 0xff};
	(void)state;
	parse_fails("", 0, "byte 0: truncated");
	parse_fails("?", 1, "byte 0: unexpected type marker 0x3f");
	parse_fails("N", 1, "unexpected type marker 0x4e");
	parse_fails("H", 1, "unexpected type marker 0x48");
	parse_fails("ZZ", 2, "byte 1: 1 bytes after the value");
	parse_fails(neg_len, sizeof(neg_len), "negative length -1");
	parse_fails("Sd\x00\x00\x00\x00", 6, "byte 1: expected an integer length");
	parse_fails("SU\x05"
		    "abc",
		    6, "byte 3: length 5 runs past the end");
	parse_fails(huge_count, sizeof(huge_count), "runs past the end");
	parse_fails("[$S#U\x01", 6, "byte 2: unsupported element type 0x53");
	parse_fails("[$lU\x01", 5, "typed container without a count");
	parse_fails("[#U\x02i\x01", 6, "byte 6: truncated");
	parse_fails("{U\x01"
		    "a}",
		    5, "unexpected type marker 0x7d");
	parse_fails("{i\x01"
		    "a",
		    4, "truncated");
	parse_fails("[i\x01", 3, "truncated");
	parse_fails("{SU\x01"
		    "aZ}",
		    7, "byte 1: expected an integer length");
}

static void test_ubj_limits_nesting(void **state)
{
	char doc[2 * ML_UBJ_MAX_DEPTH + 2];
	struct ml_ubj v;
	struct err err = ERR_INIT;
	(void)state;
	memset(doc, '[', ML_UBJ_MAX_DEPTH);
	memset(doc + ML_UBJ_MAX_DEPTH, ']', ML_UBJ_MAX_DEPTH);
	assert_int_equal(ml_ubj_parse(&v, doc, 2 * ML_UBJ_MAX_DEPTH, &err), 0);
	memset(doc, '[', ML_UBJ_MAX_DEPTH + 1);
	memset(doc + ML_UBJ_MAX_DEPTH + 1, ']', ML_UBJ_MAX_DEPTH + 1);
	parse_fails(doc, 2 * ML_UBJ_MAX_DEPTH + 2, "byte 65: containers nested deeper than 64");
}

static void mix(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *c = p;
	while (n--)
		*h = (*h ^ *c++) * 1099511628211ULL;
}

/* Folds everything under v, in order, into *h: types, numbers, strings, keys. */
static void digest(const struct ml_ubj *v, uint64_t *h)
{
	struct ml_ubj_iter it;
	struct ml_ubj e;
	struct err err = ERR_INIT;
	const char *key = NULL;
	size_t klen = 0;
	mix(h, &v->type, sizeof(v->type));
	mix(h, &v->i, sizeof(v->i));
	mix(h, &v->f, sizeof(v->f));
	mix(h, &v->count, sizeof(v->count));
	if (v->type == ML_UBJ_STRING)
		mix(h, v->str, v->len);
	ml_ubj_iter_init(&it, v);
	while (ml_ubj_next(&it, &key, &klen, &e, &err) == 1) {
		mix(h, key, v->type == ML_UBJ_OBJECT ? klen : 0);
		digest(&e, h);
	}
	assert_int_equal(err.code, ERR_OK);
}

/* Nested containers large and small: the spans change no value. */
static void test_ubj_doc_spans_walk_as_the_plain_parse(void **state)
{
	struct buf b = BUF_INIT;
	struct ml_ubj plain;
	struct ml_ubj_doc doc;
	struct err err = ERR_INIT;
	uint64_t h1 = 14695981039346656037ULL, h2 = h1;
	int t, k;
	(void)state;
	put(&b, "{", 1);
	put_key(&b, "trees");
	put(&b, "[", 1);
	for (t = 0; t < 40; t++) {
		put(&b, "{", 1);
		put_key(&b, "w");
		put_typed(&b, 'd', 70); /* 280 bytes: spans of its object */
		for (k = 0; k < 70; k++)
			put_f32(&b, (float)(t * k) / 7);
		put_key(&b, "small");
		put(&b, "[i\x01SU\x02okN]", 10);
		put_key(&b, "list"); /* an untyped array of 300 bytes: a span of its own */
		put(&b, "[#U\x64", 4);
		for (k = 0; k < 100; k++) {
			put(&b, "I", 1);
			put_be(&b, (uint64_t)(t * 100 + k), 2);
		}
		put(&b, "}", 1);
	}
	put(&b, "]", 1);
	put_key(&b, "name");
	put_str(&b, "after");
	put(&b, "}", 1);
	parse_ok(&plain, &b);
	assert_int_equal(ml_ubj_open(&doc, b.ptr, b.len, &err), 0);
	assert_true(doc.nspans >= 81); /* the root, the trees, each tree and its list */
	digest(&plain, &h1);
	digest(&doc.root, &h2);
	assert_true(h1 == h2);
	ml_ubj_doc_release(&doc);
	mem_set_fail_after(0);
	assert_int_equal(ml_ubj_open(&doc, b.ptr, b.len, &err), -1);
	mem_set_fail_after(-1);
	assert_int_equal(err.code, ERR_NOMEM);
	ml_ubj_doc_release(&doc);
	buf_release(&b);
}

/* --- one model, written as JSON and as UBJSON ------------------------------ */

#define TMAX 8

struct ttree {
	size_t n[5]; /* entries of left, right, split_indices, split_conditions, default_left */
	int l[TMAX], r[TMAX], f[TMAX], d[TMAX];
	float s[TMAX];
};

struct tmodel {
	const char *base, *ncls, *obj;
	size_t ntrees, ninfo;
	int info[4];
	struct ttree t[4];
};

/* f0 < 1 (missing: left) -> 10, else f1 < 5 (missing: right) -> 1 or 3. */
static const struct ttree tree_a = {{5, 5, 5, 5, 5}, {1, -1, 3, -1, -1}, {2, -1, 4, -1, -1},
				    {0, 0, 1, 0, 0}, {1, 0, 0, 0, 0},	 {1, 10, 5, 1, 3}};
static const struct ttree tree_stump = {{1, 1, 1, 1, 1}, {-1}, {-1}, {0}, {0}, {0.5f}};

static struct tmodel base_model(void)
{
	struct tmodel m;
	memset(&m, 0, sizeof(m));
	m.base = "5E-1";
	m.ncls = "0";
	m.obj = "reg:squarederror";
	m.ntrees = m.ninfo = 2;
	m.t[0] = tree_a;
	m.t[1] = tree_stump;
	return m;
}

static void json_ints(struct buf *b, const char *key, const int *v, size_t n)
{
	size_t i;
	assert_int_equal(buf_addf(b, "\"%s\": [", key), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(buf_addf(b, "%s%d", i ? ", " : "", v[i]), 0);
	assert_int_equal(buf_adds(b, "]"), 0);
}

static void to_json(const struct tmodel *m, struct buf *b)
{
	size_t t, i;
	assert_int_equal(buf_addf(b,
				  "{\"learner\": {\"learner_model_param\": {\"base_score\": "
				  "\"%s\", \"num_class\": \"%s\"}, \"objective\": {\"name\": "
				  "\"%s\"}, \"gradient_booster\": {\"model\": {",
				  m->base, m->ncls, m->obj),
			 0);
	json_ints(b, "tree_info", m->info, m->ninfo);
	assert_int_equal(buf_adds(b, ", \"trees\": ["), 0);
	for (t = 0; t < m->ntrees; t++) {
		const struct ttree *tr = &m->t[t];
		assert_int_equal(buf_adds(b, t ? ", {" : "{"), 0);
		json_ints(b, "left_children", tr->l, tr->n[0]);
		assert_int_equal(buf_adds(b, ", "), 0);
		json_ints(b, "right_children", tr->r, tr->n[1]);
		assert_int_equal(buf_adds(b, ", "), 0);
		json_ints(b, "split_indices", tr->f, tr->n[2]);
		assert_int_equal(buf_adds(b, ", \"split_conditions\": ["), 0);
		for (i = 0; i < tr->n[3]; i++)
			assert_int_equal(buf_addf(b, "%s%.9g", i ? ", " : "", (double)tr->s[i]), 0);
		assert_int_equal(buf_adds(b, "], "), 0);
		json_ints(b, "default_left", tr->d, tr->n[4]);
		assert_int_equal(buf_adds(b, "}"), 0);
	}
	assert_int_equal(buf_adds(b, "]}}}}"), 0);
}

static void ubj_ints(struct buf *b, const char *key, char type, const int *v, size_t n)
{
	size_t i;
	put_key(b, key);
	put_typed(b, type, n);
	for (i = 0; i < n; i++)
		put_be(b, (uint32_t)v[i], type == 'U' ? 1 : 4);
}

/* As XGBoost 1.7 writes it: keys sorted, tree arrays typed, tree_info untyped. */
static void to_ubj(const struct tmodel *m, struct buf *b)
{
	size_t t, i;
	put(b, "{", 1);
	put_key(b, "learner");
	put(b, "{", 1);
	put_key(b, "gradient_booster");
	put(b, "{", 1);
	put_key(b, "model");
	put(b, "{", 1);
	put_key(b, "tree_info");
	put(b, "[#L", 3);
	put_be(b, m->ninfo, 8);
	for (i = 0; i < m->ninfo; i++) {
		put(b, "i", 1);
		put_be(b, (uint8_t)m->info[i], 1);
	}
	put_key(b, "trees");
	put(b, "[#L", 3);
	put_be(b, m->ntrees, 8);
	for (t = 0; t < m->ntrees; t++) {
		const struct ttree *tr = &m->t[t];
		put(b, "{", 1);
		put_key(b, "base_weights");
		put_typed(b, 'd', 0);
		ubj_ints(b, "default_left", 'U', tr->d, tr->n[4]);
		put_key(b, "id");
		put(b, "i", 1);
		put_be(b, t, 1);
		ubj_ints(b, "left_children", 'l', tr->l, tr->n[0]);
		ubj_ints(b, "right_children", 'l', tr->r, tr->n[1]);
		put_key(b, "split_conditions");
		put_typed(b, 'd', tr->n[3]);
		for (i = 0; i < tr->n[3]; i++)
			put_f32(b, tr->s[i]);
		ubj_ints(b, "split_indices", 'l', tr->f, tr->n[2]);
		put(b, "}", 1);
	}
	put(b, "}}", 2);
	put_key(b, "learner_model_param");
	put(b, "{", 1);
	put_key(b, "base_score");
	put_str(b, m->base);
	put_key(b, "num_class");
	put_str(b, m->ncls);
	put(b, "}", 1);
	put_key(b, "objective");
	put(b, "{", 1);
	put_key(b, "name");
	put_str(b, m->obj);
	put(b, "}}", 2);
	put_key(b, "version");
	put(b, "[#L", 3);
	put_be(b, 3, 8);
	put(b, "i\x01i\x07i\x04}", 7);
}

/*
 * The prediction through the value pairs (g->pnodes: these trees are
 * shallow) for features f0, f1 (NaN: missing).
 */
static double predict2(const struct ml__gbdt *g, double f0, double f1)
{
	static float pair[ML__GBDT_PAIRS];
	const double f[2] = {f0, f1};
	struct ml_pred p;
	int k;
	assert_non_null(g->pnodes);
	ml__gbdt_pairs_begin(g, pair);
	for (k = 0; k < 2; k++) {
		int32_t slot = g->slot_of[k];
		if (!isnan(f[k]) && slot >= 0)
			pair[2 * slot] = pair[2 * slot + 1] = (float)f[k];
	}
	ml__gbdt_predict_pairs(g, pair, &p);
	return p.value;
}

/*
 * Loads m both ways (regression, 4 features): both succeed with the same
 * trees, or both fail with the same message, returned in *out.
 */
static int load_both(const struct tmodel *m, struct ml__gbdt *g, struct err *out)
{
	struct buf j = BUF_INIT, u = BUF_INIT;
	struct err ej = ERR_INIT, eu = ERR_INIT;
	struct ml__gbdt gj;
	int rj, ru;
	to_json(m, &j);
	to_ubj(m, &u);
	rj = ml__gbdt_load_json(&gj, ML_TASK_REGRESSION, 0, 4, j.ptr, j.len, &ej);
	ru = ml__gbdt_load(g, ML_TASK_REGRESSION, 0, 4, u.ptr, u.len, &eu);
	if (rj != ru || strcmp(ej.msg, eu.msg) != 0)
		fail_msg("json: %d '%s', ubjson: %d '%s'", rj, ej.msg, ru, eu.msg);
	*out = eu;
	if (ru == 0) {
		assert_int_equal(g->ntrees, gj.ntrees);
		assert_int_equal(g->tree_start[g->ntrees], gj.tree_start[gj.ntrees]);
		assert_memory_equal(g->nodes, gj.nodes,
				    g->tree_start[g->ntrees] * sizeof(*g->nodes));
		assert_true(g->base_margin == gj.base_margin);
		ml__gbdt_release(&gj);
	}
	buf_release(&j);
	buf_release(&u);
	return ru;
}

static void test_gbdt_loads_ubjson_like_json(void **state)
{
	struct tmodel m = base_model();
	struct ml__gbdt g;
	struct err err = ERR_INIT;
	(void)state;
	assert_int_equal(load_both(&m, &g, &err), 0);
	assert_true(predict2(&g, NAN, NAN) == 10 + 0.5 + 0.5);
	assert_true(predict2(&g, 2, NAN) == 3 + 0.5 + 0.5);
	assert_true(predict2(&g, 2, 4) == 1 + 0.5 + 0.5);
	assert_true(predict2(&g, 2, 5) == 3 + 0.5 + 0.5);
	ml__gbdt_release(&g);
}

/* Each defect the JSON loader refuses, the UBJSON loader refuses alike. */
static void test_gbdt_ubjson_checks_what_json_checks(void **state)
{
	static const struct {
		const char *what, *msg;
	} cases[] = {
		{"child before parent", "payload: tree 0 node 2: bad children"},
		{"feature beyond", "payload: tree 0 node 0: bad children"},
		{"one child a leaf", "payload: tree 0 node 0: bad children"},
		{"short split_indices", "payload: tree 0: split_indices has 4 entries"},
		{"no nodes", "payload: tree 1: bad node count"},
		{"tree_info out of range", "payload: tree_info[1] out of range"},
		{"tree_info short", "payload: trees and tree_info do not match"},
		{"num_class", "payload: num_class '3' does not match the classes"},
		{"objective", "payload: objective 'binary:logistic', expected 'reg:squarederror'"},
		{"base_score", "payload: bad base_score '0.5x'"},
	};
	size_t c;
	(void)state;
	for (c = 0; c < sizeof(cases) / sizeof(*cases); c++) {
		struct tmodel m = base_model();
		struct ml__gbdt g;
		struct err err = ERR_INIT;
		switch (c) {
		case 0:
			m.t[0].l[2] = 1;
			break;
		case 1:
			m.t[0].f[0] = 4;
			break;
		case 2:
			m.t[0].r[0] = -1;
			break;
		case 3:
			m.t[0].n[2] = 4;
			break;
		case 4:
			memset(m.t[1].n, 0, sizeof(m.t[1].n));
			break;
		case 5:
			m.info[1] = 1;
			break;
		case 6:
			m.ninfo = 1;
			break;
		case 7:
			m.ncls = "3";
			break;
		case 8:
			m.obj = "binary:logistic";
			break;
		default:
			m.base = "0.5x";
			break;
		}
		assert_int_equal(load_both(&m, &g, &err), -1);
		if (strcmp(err.msg, cases[c].msg) != 0)
			fail_msg("%s: '%s', expected '%s'", cases[c].what, err.msg, cases[c].msg);
	}
}

/* Splits JSON cannot write: a float32 NaN or infinity in split_conditions. */
static void test_gbdt_ubjson_refuses_nonfinite_splits(void **state)
{
	float bad[] = {NAN, INFINITY};
	size_t k;
	(void)state;
	for (k = 0; k < 2; k++) {
		struct tmodel m = base_model();
		struct buf u = BUF_INIT;
		struct err err = ERR_INIT;
		struct ml__gbdt g;
		m.t[1].s[0] = bad[k];
		to_ubj(&m, &u);
		assert_int_equal(ml__gbdt_load(&g, ML_TASK_REGRESSION, 0, 4, u.ptr, u.len, &err),
				 -1);
		assert_string_equal(err.msg, "payload: tree 1 node 0: bad values");
		buf_release(&u);
	}
}

/* Not an XGBoost model, a string with a NUL, and a malformed document. */
static void test_gbdt_ubjson_refuses_other_documents(void **state)
{
	struct tmodel m = base_model();
	struct buf u = BUF_INIT;
	struct err err = ERR_INIT;
	struct ml__gbdt g;
	char *nul;
	(void)state;
	assert_int_equal(ml__gbdt_load(&g, ML_TASK_REGRESSION, 0, 4, "{}", 2, &err), -1);
	assert_string_equal(err.msg, "payload: not an xgboost model");
	err_clear(&err);
	assert_int_equal(ml__gbdt_load(&g, ML_TASK_REGRESSION, 0, 4, "{\"a\": 1}", 8, &err), -1);
	assert_string_equal(err.msg, "payload: byte 1: expected an integer length");
	err_clear(&err);
	m.base = "5E-1!";
	to_ubj(&m, &u);
	nul = memmem(u.ptr, u.len, "5E-1!", 5);
	assert_non_null(nul);
	nul[4] = '\0';
	assert_int_equal(ml__gbdt_load(&g, ML_TASK_REGRESSION, 0, 4, u.ptr, u.len, &err), -1);
	assert_string_equal(err.msg, "payload: not an xgboost model");
	buf_release(&u);
}

/* Every allocation of a load failing in turn: ERR_NOMEM, nothing leaked. */
static void test_gbdt_ubjson_load_survives_allocation_failure(void **state)
{
	struct tmodel m = base_model();
	struct buf u = BUF_INIT;
	struct ml__gbdt g;
	long n;
	int rc = -1;
	(void)state;
	to_ubj(&m, &u);
	for (n = 0; rc < 0; n++) {
		struct err err = ERR_INIT;
		assert_true(n < 100);
		mem_set_fail_after(n);
		rc = ml__gbdt_load(&g, ML_TASK_REGRESSION, 0, 4, u.ptr, u.len, &err);
		mem_set_fail_after(-1);
		if (rc < 0)
			assert_int_equal(err.code, ERR_NOMEM);
	}
	assert_true(predict2(&g, 2, 4) == 1 + 0.5 + 0.5);
	ml__gbdt_release(&g);
	buf_release(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ubj_reads_every_scalar),
		cmocka_unit_test(test_ubj_reads_typed_and_counted_containers),
		cmocka_unit_test(test_ubj_finds_nested_keys_and_refuses_duplicates),
		cmocka_unit_test(test_ubj_refuses_every_truncation),
		cmocka_unit_test(test_ubj_refuses_malformed_input),
		cmocka_unit_test(test_ubj_limits_nesting),
		cmocka_unit_test(test_ubj_doc_spans_walk_as_the_plain_parse),
		cmocka_unit_test(test_gbdt_loads_ubjson_like_json),
		cmocka_unit_test(test_gbdt_ubjson_checks_what_json_checks),
		cmocka_unit_test(test_gbdt_ubjson_refuses_nonfinite_splits),
		cmocka_unit_test(test_gbdt_ubjson_refuses_other_documents),
		cmocka_unit_test(test_gbdt_ubjson_load_survives_allocation_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

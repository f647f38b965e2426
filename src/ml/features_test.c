/*
 * features_test.c - unit tests for the feature pipeline, the liblinear and
 * XGBoost learners and their payloads (ml/internal.h), on small frames and
 * schemas built by hand. Model-level tests with real data are in model_test.c.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/mem.h"
#include "ml/internal.h"

#define NROWS 40

/* A frame with columns num, cat, text and y (the target), NROWS rows. */
struct fixture {
	struct ml_frame f;
	struct ml_schema s;
	char *names[4];
	char **cells[4];
	char *col_num[NROWS], *col_cat[NROWS], *col_text[NROWS], *col_y[NROWS];
	char store[NROWS][3][64];
	size_t line[NROWS];
	struct ml_column cols[3];
	size_t rows[NROWS];
	int colmap[3];
};

static const char *words_pos[] = {"good", "great", "loved", "fine"};
static const char *words_neg[] = {"bad", "awful", "hated", "poor"};

static void fixture_init(struct fixture *x)
{
	size_t r;
	memset(x, 0, sizeof(*x));
	x->names[0] = (char *)"num";
	x->names[1] = (char *)"cat";
	x->names[2] = (char *)"text";
	x->names[3] = (char *)"y";
	for (r = 0; r < NROWS; r++) {
		int pos = r % 2 == 0;
		(void)snprintf(x->store[r][0], 64, "%zu", r % 7 + (pos ? 10 : 0));
		(void)snprintf(x->store[r][1], 64, "%s", r % 3 == 0 ? "red" : "blue");
		(void)snprintf(x->store[r][2], 64, "The %s film, %s!",
			       pos ? words_pos[r % 4] : words_neg[r % 4],
			       r % 5 == 0 ? "Really" : "really");
		x->col_num[r] = r == 3 ? NULL : x->store[r][0]; /* one missing value */
		x->col_cat[r] = x->store[r][1];
		x->col_text[r] = x->store[r][2];
		x->col_y[r] = (char *)(pos ? "pos" : "neg");
		x->line[r] = r + 2;
		x->rows[r] = r;
	}
	x->cells[0] = x->col_num;
	x->cells[1] = x->col_cat;
	x->cells[2] = x->col_text;
	x->cells[3] = x->col_y;
	x->f.nrows = NROWS;
	x->f.ncols = 4;
	x->f.names = x->names;
	x->f.cells = x->cells;
	x->f.line = x->line;
	x->f.path = (char *)"fixture.csv";
	x->cols[0].name = (char *)"num";
	x->cols[0].kind = ML_NUMERIC;
	x->cols[1].name = (char *)"cat";
	x->cols[1].kind = ML_CATEGORICAL;
	x->cols[2].name = (char *)"text";
	x->cols[2].kind = ML_TEXT;
	x->s.ncols = 3;
	x->s.cols = x->cols;
	x->colmap[0] = 0;
	x->colmap[1] = 1;
	x->colmap[2] = 2;
}

static struct ml_cell str_cell(const char *s)
{
	struct ml_cell c = {ML_CELL_STR, s, s ? strlen(s) : 0, 0};
	if (!s)
		c.kind = ML_CELL_MISSING;
	return c;
}

static void test_murmur3_matches_reference_vectors(void **state)
{
	assert_int_equal(ml__murmur3("", 0, 0), 0);
	assert_int_equal(ml__murmur3("", 0, 1), 0x514e28b7u);
	assert_int_equal(ml__murmur3("hello", 5, 0), 0x248bfa47u);
	assert_int_equal(ml__murmur3("The quick brown fox jumps over the lazy dog", 43, 0),
			 0x2e4ff723u);
}

static void test_shuffle_is_deterministic_permutation(void **state)
{
	size_t a[50], b[50], i, sum = 0;
	uint64_t s1 = 42, s2 = 42;
	for (i = 0; i < 50; i++)
		a[i] = b[i] = i;
	ml__shuffle(a, 50, &s1);
	ml__shuffle(b, 50, &s2);
	assert_memory_equal(a, b, sizeof(a));
	for (i = 0; i < 50; i++)
		sum += a[i];
	assert_int_equal(sum, 49 * 50 / 2);
	assert_true(a[0] != 0 || a[1] != 1 || a[2] != 2);
}

static void test_pipeline_standardises_onehots_and_normalises_text(void **state)
{
	struct fixture x;
	struct ml__pipeline p;
	struct err err = ERR_INIT;
	uint32_t idx[256];
	double val[256], norm = 0;
	struct ml__row row;
	struct ml_cell cells[3];
	size_t i;

	fixture_init(&x);
	assert_int_equal(
		ml__pipeline_fit(&p, &x.s, &x.f, x.colmap, x.rows, NROWS, 1, 2, 10, 0, &err), 0);
	/* num: value + missing indicator; cat: blue, red; text: 1024 buckets */
	assert_int_equal(p.cols[0].width, 2);
	assert_int_equal(p.cols[1].ncats, 2);
	assert_string_equal(p.cols[1].cats[0], "blue");
	assert_int_equal(p.nfeatures, 2 + 2 + 1024);

	cells[0] = str_cell(NULL);
	cells[1] = str_cell("red");
	cells[2] = str_cell("GOOD film");
	ml__row_init(&row, idx, val, 256);
	assert_int_equal(ml__pipeline_transform(&p, cells, &row, &err), 0);
	assert_true(row.n >= 3);
	assert_int_equal(row.idx[0], 1); /* the missing indicator */
	assert_true(row.val[0] == 1.0);
	assert_int_equal(row.idx[1], 3); /* cat = red */
	for (i = 2; i < row.n; i++) {
		assert_true(row.idx[i] >= 4 && row.idx[i] > row.idx[i - 1]);
		norm += row.val[i] * row.val[i];
	}
	assert_true(fabs(norm - 1.0) < 1e-12);

	/* Unseen category: all zero; numbers are standardised. */
	cells[0] = str_cell(" 12 ");
	cells[1] = str_cell("green");
	cells[2] = str_cell(NULL);
	assert_int_equal(ml__pipeline_transform(&p, cells, &row, &err), 0);
	assert_int_equal(row.n, 1);
	assert_true(fabs(row.val[0] - (12 - p.cols[0].mean) / p.cols[0].std) < 1e-12);
	ml__row_release(&row);
	ml__pipeline_release(&p);
}

static void test_pipeline_text_is_case_insensitive(void **state)
{
	struct fixture x;
	struct ml__pipeline p;
	struct err err = ERR_INIT;
	struct ml__row a, b;
	struct ml_cell cells[3] = {str_cell("1"), str_cell("red"), str_cell("Loved it, REALLY")};
	fixture_init(&x);
	assert_int_equal(
		ml__pipeline_fit(&p, &x.s, &x.f, x.colmap, x.rows, NROWS, 1, 2, 12, 0, &err), 0);
	ml__row_init(&a, NULL, NULL, 0);
	ml__row_init(&b, NULL, NULL, 0);
	assert_int_equal(ml__pipeline_transform(&p, cells, &a, &err), 0);
	cells[2] = str_cell("loved   it really");
	assert_int_equal(ml__pipeline_transform(&p, cells, &b, &err), 0);
	assert_int_equal(a.n, b.n);
	assert_memory_equal(a.idx, b.idx, a.n * sizeof(*a.idx));
	assert_memory_equal(a.val, b.val, a.n * sizeof(*a.val));
	ml__row_release(&a);
	ml__row_release(&b);
	ml__pipeline_release(&p);
}

static void test_pipeline_rejects_text_in_numeric_column(void **state)
{
	struct fixture x;
	struct ml__pipeline p;
	struct err err = ERR_INIT;
	struct ml__row row;
	struct ml_cell cells[3] = {str_cell("twelve"), str_cell("red"), str_cell("ok")};
	fixture_init(&x);
	assert_int_equal(
		ml__pipeline_fit(&p, &x.s, &x.f, x.colmap, x.rows, NROWS, 1, 1, 8, 0, &err), 0);
	ml__row_init(&row, NULL, NULL, 0);
	assert_int_equal(ml__pipeline_transform(&p, cells, &row, &err), -1);
	assert_int_equal(err.code, ERR_INVALID);
	assert_non_null(strstr(err.msg, "column 'num'"));
	assert_non_null(strstr(err.msg, "'twelve' is not a number"));
	ml__row_release(&row);
	ml__pipeline_release(&p);
}

/* The raw value a tree pipeline stores for text in the numeric column. */
static int tree_num(const struct ml__pipeline *p, const char *text, double *v)
{
	struct err err = ERR_INIT;
	struct ml__row row;
	struct ml_cell cells[3] = {str_cell(text), str_cell(NULL), str_cell(NULL)};
	int ret;
	ml__row_init(&row, NULL, NULL, 0);
	ret = ml__pipeline_transform(p, cells, &row, &err);
	if (ret == 0) {
		assert_true(row.n == 1 && row.idx[0] == 0);
		*v = row.val[0];
	}
	ml__row_release(&row);
	return ret;
}

/* Plain decimals skip strtod: the value must still be strtod's, bit for bit. */
static void test_pipeline_numbers_parse_as_strtod(void **state)
{
	static const char *fixed[] = {"0",
				      "-0",
				      "+7",
				      "1.",
				      ".5",
				      "-.25",
				      "0.1",
				      "0.3",
				      "123456789012345",
				      "1234567890123456",
				      "9007199254740993",
				      "0.000000000000001",
				      "3.14159265358979",
				      " 42 ",
				      "1e3",
				      "-2.5E-3",
				      "0x10",
				      "inf",
				      "nan",
				      ".",
				      "-",
				      "1.2.3",
				      "12a",
				      "--1",
				      "99999999999999999999"};
	struct fixture x;
	struct ml__pipeline p;
	struct err err = ERR_INIT;
	uint64_t rng = 12345;
	size_t i, k;
	char buf[64];
	fixture_init(&x);
	assert_int_equal(
		ml__pipeline_fit(&p, &x.s, &x.f, x.colmap, x.rows, NROWS, 1, 1, 8, 1, &err), 0);
	for (i = 0; i < sizeof(fixed) / sizeof(*fixed) + 200000; i++) {
		const char *t = buf;
		char *end = NULL;
		double want, got = 0;
		int ok;
		if (i < sizeof(fixed) / sizeof(*fixed)) {
			t = fixed[i];
		} else {
			/* Random [-]digits.digits, up to 18 digits in all. */
			size_t n = 0, nd = 1 + ml__rand_below(&rng, 18),
			       dot = ml__rand_below(&rng, nd + 1);
			if (ml__rand_below(&rng, 2))
				buf[n++] = '-';
			for (k = 0; k < nd; k++) {
				if (k == dot)
					buf[n++] = '.';
				buf[n++] = (char)('0' + ml__rand_below(&rng, 10));
			}
			buf[n] = '\0';
		}
		want = strtod(t, &end);
		while (*end == ' ')
			end++;
		ok = tree_num(&p, t, &got) == 0;
		if (*end || end == t || !isfinite(want)) {
			assert_false(ok);
			continue;
		}
		assert_true(ok);
		if (memcmp(&got, &want, sizeof(got)) != 0)
			fail_msg("'%s': %.17g, strtod %.17g", t, got, want);
	}
	ml__pipeline_release(&p);
}

static void test_pipeline_json_roundtrip_transforms_identically(void **state)
{
	struct fixture x;
	struct ml__pipeline p, q;
	struct err err = ERR_INIT;
	struct ml__row a, b;
	json_t *j;
	char *s;
	size_t r;
	fixture_init(&x);
	assert_int_equal(
		ml__pipeline_fit(&p, &x.s, &x.f, x.colmap, x.rows, NROWS, 1, 3, 9, 0, &err), 0);
	j = ml__pipeline_to_json(&p);
	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	j = json_loads(s, 0, NULL);
	free(s);
	assert_int_equal(ml__pipeline_from_json(&q, j, &err), 0);
	json_decref(j);
	ml__row_init(&a, NULL, NULL, 0);
	ml__row_init(&b, NULL, NULL, 0);
	for (r = 0; r < NROWS; r++) {
		struct ml_cell cells[3] = {str_cell(x.col_num[r]), str_cell(x.col_cat[r]),
					   str_cell(x.col_text[r])};
		assert_int_equal(ml__pipeline_transform(&p, cells, &a, &err), 0);
		assert_int_equal(ml__pipeline_transform(&q, cells, &b, &err), 0);
		assert_int_equal(a.n, b.n);
		assert_memory_equal(a.idx, b.idx, a.n * sizeof(*a.idx));
		assert_memory_equal(a.val, b.val, a.n * sizeof(*a.val));
	}
	ml__row_release(&a);
	ml__row_release(&b);
	ml__pipeline_release(&p);
	ml__pipeline_release(&q);
}

/*
 * Category lookup (a hash of the length and up to 16 bytes): every length
 * from 0 to 20, prefixes, suffixes and one changed byte in the middle.
 */
static void test_pipeline_categories_found_exactly(void **state)
{
	static const char *cats[] = {"",
				     "a",
				     "ab",
				     "abc",
				     "abcd",
				     "abcde",
				     "abcdefg",
				     "abcdefgh",
				     "abcdefghi",
				     "abcdefghijXlmnopqrst",
				     "abcdefghijklmnop",
				     "abcdefghijklmnopq",
				     "abcdefghijklmnopqrst",
				     "b",
				     "ba",
				     "\xc3\xa9t\xc3\xa9"};
	static const char *unseen[] = {"c",
				       "aa",
				       "abd",
				       "abce",
				       "abcdf",
				       "abcdeg",
				       "abcdefh",
				       "abcdefgi",
				       "abcdefghj",
				       "bbcdefghijklmnop",
				       "abcdefghijklmnopr",
				       "abcdefghijYlmnopqrst",
				       "abcdefghijklmnopqrsu",
				       "bb",
				       "A"};
	struct ml__pipeline p;
	struct err err = ERR_INIT;
	struct ml__row row;
	json_t *j = json_pack("{s:[i,i], s:i, s:b, s:i, s:[{s:s, s:s, s:[]}]}", "ngram", 1, 1,
			      "hash_bits", 4, "for_trees", 1, "n_features", 16, "columns", "name",
			      "c", "kind", "categorical", "categories");
	json_t *a = json_object_get(json_array_get(json_object_get(j, "columns"), 0), "categories");
	size_t k;
	(void)state;
	for (k = 0; k < 16; k++)
		assert_int_equal(json_array_append_new(a, json_string(cats[k])), 0);
	assert_int_equal(ml__pipeline_from_json(&p, j, &err), 0);
	json_decref(j);
	ml__row_init(&row, NULL, NULL, 0);
	for (k = 0; k < 16; k++) {
		struct ml_cell cell = {ML_CELL_STR, cats[k], strlen(cats[k]), 0};
		assert_int_equal(ml__pipeline_transform(&p, &cell, &row, &err), 0);
		assert_int_equal(row.n, 1);
		assert_int_equal(row.idx[0], k);
	}
	for (k = 0; k < sizeof(unseen) / sizeof(*unseen); k++) {
		struct ml_cell cell = {ML_CELL_STR, unseen[k], strlen(unseen[k]), 0};
		assert_int_equal(ml__pipeline_transform(&p, &cell, &row, &err), 0);
		assert_int_equal(row.n, 0);
	}
	ml__row_release(&row);
	ml__pipeline_release(&p);
}

/*
 * The n-gram keys of a text are sorted (insertion sort up to 64 keys,
 * qsort past that): with unigrams, a text and its words in reverse order
 * give the same row, sorted and without repeated indices, at both sizes.
 */
static void test_pipeline_text_keys_sorted_short_and_long(void **state)
{
	static const char *words[] = {"good",  "bad",	"film", "plot", "great",  "awful",
				      "loved", "hated", "fine", "poor", "really", "the"};
	struct fixture x;
	struct ml__pipeline p;
	struct err err = ERR_INIT;
	struct ml__row a, b;
	(void)state;
	fixture_init(&x);
	assert_int_equal(
		ml__pipeline_fit(&p, &x.s, &x.f, x.colmap, x.rows, NROWS, 1, 1, 6, 0, &err), 0);
	ml__row_init(&a, NULL, NULL, 0);
	ml__row_init(&b, NULL, NULL, 0);
	for (size_t nwords = 5; nwords <= 300; nwords += 59) {
		struct buf fwd = BUF_INIT, rev = BUF_INIT;
		size_t i;
		for (i = 0; i < nwords; i++)
			assert_int_equal(
				buf_adds(&fwd, words[(i * 7) % 12]) | buf_addch(&fwd, ' ') |
					buf_adds(&rev, words[((nwords - 1 - i) * 7) % 12]) |
					buf_addch(&rev, ' '),
				0);
		struct ml_cell ca[3] = {str_cell("1"), str_cell("red"), str_cell(fwd.ptr)};
		struct ml_cell cb[3] = {str_cell("1"), str_cell("red"), str_cell(rev.ptr)};
		assert_int_equal(ml__pipeline_transform(&p, ca, &a, &err), 0);
		assert_int_equal(ml__pipeline_transform(&p, cb, &b, &err), 0);
		assert_int_equal(a.n, b.n);
		assert_true(a.n > 2);
		for (i = 1; i < a.n; i++)
			assert_true(a.idx[i - 1] < a.idx[i]);
		assert_memory_equal(a.idx, b.idx, a.n * sizeof(*a.idx));
		assert_memory_equal(a.val, b.val, a.n * sizeof(*a.val));
		buf_release(&fwd);
		buf_release(&rev);
	}
	ml__row_release(&a);
	ml__row_release(&b);
	ml__pipeline_release(&p);
}

/* The bucket of an n-gram: murmur3 of its tokens' hashes as little-endian bytes. */
static uint32_t ref_bucket(const char *const *tok, int n, unsigned bits)
{
	unsigned char bytes[4 * ML__NGRAM_MAX];
	uint32_t h = 0;
	for (int i = 0; i < n; i++) {
		h = ml__murmur3(tok[i], strlen(tok[i]), 0);
		bytes[4 * i] = (unsigned char)h;
		bytes[4 * i + 1] = (unsigned char)(h >> 8);
		bytes[4 * i + 2] = (unsigned char)(h >> 16);
		bytes[4 * i + 3] = (unsigned char)(h >> 24);
	}
	if (n > 1)
		h = ml__murmur3(bytes, (size_t)(4 * n), (uint32_t)n);
	return h & ((1u << bits) - 1);
}

/* docs/model-format.md's hashing, computed here from its definition. */
static void test_pipeline_text_buckets_follow_the_format(void **state)
{
	static const char *tok[] = {"good", "film", "really"};
	struct fixture x;
	struct ml__pipeline p;
	struct err err = ERR_INIT;
	struct ml__row row;
	uint32_t want[6] = {0};
	size_t nwant = 0, i, j;
	(void)state;
	fixture_init(&x);
	assert_int_equal(
		ml__pipeline_fit(&p, &x.s, &x.f, x.colmap, x.rows, NROWS, 1, 3, 12, 0, &err), 0);
	for (int n = 1; n <= 3; n++)
		for (int at = 0; at + n <= 3; at++) {
			uint32_t b = p.cols[2].offset + ref_bucket(tok + at, n, 12);
			for (i = 0; i < nwant && want[i] != b; i++)
				;
			if (i == nwant)
				want[nwant++] = b;
		}
	ml__row_init(&row, NULL, NULL, 0);
	{
		struct ml_cell cells[3] = {str_cell(NULL), str_cell(NULL),
					   str_cell("Good FILM, really")};
		assert_int_equal(ml__pipeline_transform(&p, cells, &row, &err), 0);
	}
	/* each expected bucket is in the text's part of the row, and nothing else */
	for (j = 0; j < row.n && row.idx[j] < p.cols[2].offset; j++)
		;
	assert_int_equal(row.n - j, nwant);
	for (; j < row.n; j++) {
		for (i = 0; i < nwant && want[i] != row.idx[j]; i++)
			;
		assert_true(i < nwant);
	}
	ml__row_release(&row);
	ml__pipeline_release(&p);
}

static void test_pipeline_from_json_rejects_bad_manifests(void **state)
{
	const char *bad[] = {
		"[]",
		"{\"ngram\":[1,2],\"hash_bits\":99,\"for_trees\":false,\"n_features\":0,"
		"\"columns\":[]}",
		"{\"ngram\":[2,1],\"hash_bits\":4,\"for_trees\":false,\"n_features\":0,\"columns\":"
		"[]}",
		"{\"ngram\":[1,1],\"hash_bits\":4,\"for_trees\":false,\"n_features\":3,\"columns\":"
		"[]}",
		"{\"ngram\":[1,1],\"hash_bits\":4,\"for_trees\":false,\"n_features\":1,\"columns\":"
		"[{\"name\":\"a\",\"kind\":\"numeric\",\"mean\":0,\"std\":0,\"missing_indicator\":"
		"false}]}",
		"{\"ngram\":[1,1],\"hash_bits\":4,\"for_trees\":false,\"n_features\":2,\"columns\":"
		"[{\"name\":\"a\",\"kind\":\"categorical\",\"categories\":[\"b\",\"a\"]}]}",
		"{\"ngram\":[1,1],\"hash_bits\":2,\"for_trees\":false,\"n_features\":4,\"columns\":"
		"[{\"name\":\"a\",\"kind\":\"text\",\"n_docs\":3,\"idf_buckets\":[7],\"idf\":[1.5]}"
		"]}",
		"{\"ngram\":[1,1],\"hash_bits\":2,\"for_trees\":false,\"n_features\":4,\"columns\":"
		"[{\"name\":\"a\",\"kind\":\"text\",\"n_docs\":3,\"idf_buckets\":[1],"
		"\"idf_values\":[1.5],\"idf_index\":[1]}]}",
		"{\"ngram\":[1,1],\"hash_bits\":2,\"for_trees\":false,\"n_features\":4,\"columns\":"
		"[{\"name\":\"a\",\"kind\":\"text\",\"n_docs\":3,\"idf_buckets\":[1],"
		"\"idf_values\":[\"x\"],\"idf_index\":[0]}]}",
		"{\"ngram\":[1,1],\"hash_bits\":2,\"for_trees\":false,\"n_features\":4,\"columns\":"
		"[{\"name\":\"a\",\"kind\":\"text\",\"n_docs\":3,\"idf_buckets\":[1,2],"
		"\"idf_values\":[1.5],\"idf_index\":[0]}]}",
		"{\"ngram\":[1,1],\"hash_bits\":2,\"for_trees\":false,\"n_features\":4,\"columns\":"
		"[{\"name\":\"a\",\"kind\":\"text\",\"n_docs\":3,\"idf_buckets\":[1]}]}",
	};
	size_t i;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ml__pipeline p;
		struct err err = ERR_INIT;
		json_t *j = json_loads(bad[i], 0, NULL);
		assert_non_null(j);
		assert_int_equal(ml__pipeline_from_json(&p, j, &err), -1);
		assert_int_equal(err.code, ERR_FORMAT);
		assert_non_null(strstr(err.msg, "manifest: features"));
		json_decref(j);
	}
}

/* Fit-and-transform in one pass gives the rows of fit, then transform, with
 * the text column first, in the middle and last (features stay sorted), for
 * linear models and trees, with missing numbers and categories. */
static void test_pipeline_fit_transform_equals_fit_then_transform(void **state)
{
	static const int orders[3][3] = {{2, 0, 1}, {0, 2, 1}, {0, 1, 2}};
	size_t o, r, i;
	(void)state;
	for (o = 0; o < 6; o++) {
		int trees = o >= 3;
		struct fixture x;
		struct ml_column cols[3];
		struct ml__pipeline p, q;
		struct ml__row a[NROWS], b;
		struct err err = ERR_INIT;
		struct ml_cell cells[3];
		fixture_init(&x);
		x.col_cat[5] = NULL;
		for (i = 0; i < 3; i++) {
			cols[i] = x.cols[orders[o % 3][i]];
			x.colmap[i] = orders[o % 3][i];
		}
		x.s.cols = cols;
		for (r = 0; r < NROWS; r++)
			ml__row_init(&a[r], NULL, NULL, 0);
		assert_int_equal(ml__pipeline_fit_transform(&p, &x.s, &x.f, x.colmap, x.rows, NROWS,
							    1, 2, 10, trees, a, &err),
				 0);
		assert_int_equal(ml__pipeline_fit(&q, &x.s, &x.f, x.colmap, x.rows, NROWS, 1, 2, 10,
						  trees, &err),
				 0);
		for (r = 0; r < NROWS; r++) {
			for (i = 0; i < 3; i++)
				cells[i] = str_cell(x.cells[x.colmap[i]][x.rows[r]]);
			ml__row_init(&b, NULL, NULL, 0);
			assert_int_equal(ml__pipeline_transform(&q, cells, &b, &err), 0);
			assert_int_equal(a[r].n, b.n);
			assert_memory_equal(a[r].idx, b.idx, b.n * sizeof(*b.idx));
			assert_memory_equal(a[r].val, b.val, b.n * sizeof(*b.val));
			for (i = 1; i < b.n; i++)
				assert_true(a[r].idx[i - 1] < a[r].idx[i]);
			ml__row_release(&b);
			ml__row_release(&a[r]);
		}
		ml__pipeline_release(&p);
		ml__pipeline_release(&q);
	}
}

/* Both ways of storing a text column's idf load to the same values. */
static void test_pipeline_reads_idf_list_and_idf_levels(void **state)
{
	const char *forms[] = {
		"{\"ngram\":[1,1],\"hash_bits\":2,\"for_trees\":false,\"n_features\":4,\"columns\":"
		"[{\"name\":\"a\",\"kind\":\"text\",\"n_docs\":3,\"idf_buckets\":[0,2,3],"
		"\"idf\":[1.5,2.25,1.5]}]}",
		"{\"ngram\":[1,1],\"hash_bits\":2,\"for_trees\":false,\"n_features\":4,\"columns\":"
		"[{\"name\":\"a\",\"kind\":\"text\",\"n_docs\":3,\"idf_buckets\":[0,2,3],"
		"\"idf_values\":[2.25,1.5],\"idf_index\":[1,0,1]}]}",
	};
	const double want[4] = {1.5, log(4.0 / 1.0) + 1.0, 2.25, 1.5};
	size_t i, k;
	(void)state;
	for (i = 0; i < 2; i++) {
		struct ml__pipeline p;
		struct err err = ERR_INIT;
		json_t *j = json_loads(forms[i], 0, NULL), *back;
		assert_non_null(j);
		assert_int_equal(ml__pipeline_from_json(&p, j, &err), 0);
		for (k = 0; k < 4; k++)
			assert_true(p.cols[0].idf[k] == want[k]);
		/* Written back, it is the levels form with the same values. */
		back = ml__pipeline_to_json(&p);
		assert_non_null(back);
		assert_non_null(json_object_get(json_array_get(json_object_get(back, "columns"), 0),
						"idf_values"));
		json_decref(back);
		ml__pipeline_release(&p);
		json_decref(j);
	}
}

/* Features of every fixture row, and labels (1 = pos). */
static struct ml__row *fixture_rows(struct fixture *x, struct ml__pipeline *p, double *y,
				    int for_trees)
{
	struct err err = ERR_INIT;
	struct ml__row *rows = mem_calloc(NROWS, sizeof(*rows));
	size_t r;
	assert_int_equal(ml__pipeline_fit(p, &x->s, &x->f, x->colmap, x->rows, NROWS, 1, 2, 10,
					  for_trees, &err),
			 0);
	for (r = 0; r < NROWS; r++) {
		struct ml_cell cells[3] = {str_cell(x->col_num[r]), str_cell(x->col_cat[r]),
					   str_cell(x->col_text[r])};
		ml__row_init(&rows[r], NULL, NULL, 0);
		assert_int_equal(ml__pipeline_transform(p, cells, &rows[r], &err), 0);
		y[r] = strcmp(x->col_y[r], "pos") == 0;
	}
	return rows;
}

static void free_rows(struct ml__row *rows)
{
	size_t r;
	for (r = 0; r < NROWS; r++)
		ml__row_release(&rows[r]);
	mem_free(rows);
}

static void test_linear_learns_and_payload_roundtrips(void **state)
{
	enum ml_algo algos[] = {ML_ALGO_LOGREG, ML_ALGO_SVM};
	size_t a, r;
	for (a = 0; a < 2; a++) {
		struct fixture x;
		struct ml__pipeline p;
		struct ml__linear lm, back;
		struct err err = ERR_INIT;
		double y[NROWS];
		unsigned char *data = NULL;
		size_t len = 0;
		struct ml__row *rows;
		fixture_init(&x);
		rows = fixture_rows(&x, &p, y, 0);
		assert_int_equal(ml__linear_train(&lm, algos[a], ML_TASK_CLASSIFICATION, 2, rows, y,
						  NROWS, p.nfeatures, 1.0, 0, &err),
				 0);
		assert_int_equal(ml__linear_save(&lm, &data, &len, &err), 0);
		assert_int_equal(ml__linear_load(&back, data, len, p.nfeatures + 1, &err), 0);
		for (r = 0; r < NROWS; r++) {
			struct ml_pred p1, p2;
			ml__linear_predict(&lm, &rows[r], &p1);
			ml__linear_predict(&back, &rows[r], &p2);
			assert_int_equal(p1.klass, (int)y[r]);
			assert_true(p1.prob[p1.klass] > 0.5);
			assert_true(p1.prob[0] == p2.prob[0] && p1.klass == p2.klass);
		}
		/* A truncated payload is refused. */
		ml__linear_release(&back);
		assert_int_equal(ml__linear_load(&back, data, len - 3, p.nfeatures + 1, &err), -1);
		assert_int_equal(err.code, ERR_FORMAT);
		mem_free(data);
		ml__linear_release(&lm);
		ml__pipeline_release(&p);
		free_rows(rows);
	}
}

static void test_linear_regression_recovers_a_line(void **state)
{
	struct ml__row rows[30];
	uint32_t idx[30];
	double val[30], y[30];
	struct ml__linear lm;
	struct err err = ERR_INIT;
	size_t i;
	for (i = 0; i < 30; i++) {
		idx[i] = 0;
		val[i] = (double)i / 10 - 1.5;
		ml__row_init(&rows[i], &idx[i], &val[i], 1);
		rows[i].n = 1;
		y[i] = 1000 + 300 * val[i];
	}
	assert_int_equal(ml__linear_train(&lm, ML_ALGO_LOGREG, ML_TASK_REGRESSION, 0, rows, y, 30,
					  1, 100.0, 0, &err),
			 0);
	for (i = 0; i < 30; i++) {
		struct ml_pred p;
		ml__linear_predict(&lm, &rows[i], &p);
		assert_int_equal(p.klass, -1);
		assert_true(fabs(p.value - y[i]) < 5);
	}
	ml__linear_release(&lm);
}

static void test_gbdt_walker_agrees_with_xgboost(void **state)
{
	enum ml_task tasks[] = {ML_TASK_CLASSIFICATION, ML_TASK_REGRESSION};
	size_t t, r;
	for (t = 0; t < 2; t++) {
		struct fixture x;
		struct ml__pipeline p;
		struct ml__gbdt g, back;
		struct ml__gbdt_params prm = {30, 3, 5, 0.3, 42, 0, 0};
		struct err err = ERR_INIT;
		double y[NROWS];
		char *payload = NULL;
		size_t len = 0;
		int best = 0;
		struct ml__row *rows;
		fixture_init(&x);
		rows = fixture_rows(&x, &p, y, 1);
		if (tasks[t] == ML_TASK_REGRESSION)
			for (r = 0; r < NROWS; r++)
				y[r] = 100 * y[r] + (double)(r % 7);
		/* Validation = the training rows: the walker is checked on them. */
		assert_int_equal(ml__gbdt_train(&g, &prm, tasks[t], 2, rows, y, NROWS, rows, y,
						NROWS, p.nfeatures, &payload, &len, &best, &err),
				 0);
		assert_true(best >= 1 && best <= 30);
		assert_int_equal(ml__gbdt_load(&back, tasks[t], 2, p.nfeatures, payload, len, &err),
				 0);
		assert_non_null(g.pnodes);
		for (r = 0; r < NROWS; r++) {
			struct ml_pred p1, p2, p3;
			struct ml_cell cells[3] = {str_cell(x.col_num[r]), str_cell(x.col_cat[r]),
						   str_cell(x.col_text[r])};
			float pair[ML__GBDT_PAIRS];
			ml__gbdt_predict(&g, &rows[r], &p1);
			ml__gbdt_predict(&back, &rows[r], &p2);
			assert_true(p1.value == p2.value);
			/* straight into the value pairs (text included): the same prediction */
			ml__gbdt_pairs_begin(&g, pair);
			assert_int_equal(ml__pipeline_transform_pairs(&p, cells, g.slot_of,
								      g.nfeatures, pair, &err),
					 0);
			ml__gbdt_predict_pairs(&g, pair, &p3);
			assert_true(p3.value == p1.value && p3.klass == p1.klass);
			assert_memory_equal(p3.prob, p1.prob, sizeof(p1.prob));
			if (tasks[t] == ML_TASK_CLASSIFICATION)
				assert_int_equal(p1.klass, (int)y[r]);
		}
		ml__gbdt_release(&back);
		/* The wrong task, truncated JSON and a feature out of range are refused. */
		assert_int_equal(
			ml__gbdt_load(&back, tasks[1 - t], 2, p.nfeatures, payload, len, &err), -1);
		assert_int_equal(err.code, ERR_FORMAT);
		err_clear(&err);
		assert_int_equal(
			ml__gbdt_load(&back, tasks[t], 2, p.nfeatures, payload, len / 2, &err), -1);
		assert_int_equal(err.code, ERR_FORMAT);
		err_clear(&err);
		assert_int_equal(ml__gbdt_load(&back, tasks[t], 2, 0, payload, len, &err), -1);
		assert_int_equal(err.code, ERR_FORMAT);
		mem_free(payload);
		ml__gbdt_release(&g);
		ml__pipeline_release(&p);
		free_rows(rows);
	}
}

static void test_pipeline_from_json_survives_allocation_failure(void **state)
{
	struct fixture x;
	struct ml__pipeline p, q;
	struct err err = ERR_INIT;
	json_t *j;
	long n;
	int ok = 0;
	fixture_init(&x);
	assert_int_equal(
		ml__pipeline_fit(&p, &x.s, &x.f, x.colmap, x.rows, NROWS, 1, 2, 6, 0, &err), 0);
	j = ml__pipeline_to_json(&p);
	assert_non_null(j);
	for (n = 0; n < 200 && !ok; n++) {
		struct err e = ERR_INIT;
		mem_set_fail_after(n);
		if (ml__pipeline_from_json(&q, j, &e) == 0) {
			ok = 1;
			ml__pipeline_release(&q);
		} else {
			assert_int_equal(e.code, ERR_NOMEM);
		}
		mem_set_fail_after(-1);
	}
	assert_true(ok);
	json_decref(j);
	ml__pipeline_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_murmur3_matches_reference_vectors),
		cmocka_unit_test(test_shuffle_is_deterministic_permutation),
		cmocka_unit_test(test_pipeline_standardises_onehots_and_normalises_text),
		cmocka_unit_test(test_pipeline_text_is_case_insensitive),
		cmocka_unit_test(test_pipeline_rejects_text_in_numeric_column),
		cmocka_unit_test(test_pipeline_numbers_parse_as_strtod),
		cmocka_unit_test(test_pipeline_json_roundtrip_transforms_identically),
		cmocka_unit_test(test_pipeline_categories_found_exactly),
		cmocka_unit_test(test_pipeline_text_keys_sorted_short_and_long),
		cmocka_unit_test(test_pipeline_text_buckets_follow_the_format),
		cmocka_unit_test(test_pipeline_from_json_rejects_bad_manifests),
		cmocka_unit_test(test_pipeline_reads_idf_list_and_idf_levels),
		cmocka_unit_test(test_pipeline_fit_transform_equals_fit_then_transform),
		cmocka_unit_test(test_pipeline_from_json_survives_allocation_failure),
		cmocka_unit_test(test_linear_learns_and_payload_roundtrips),
		cmocka_unit_test(test_linear_regression_recovers_a_line),
		cmocka_unit_test(test_gbdt_walker_agrees_with_xgboost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * fuzz_ubj.c - libFuzzer target for the UBJSON reader (ml/ubj.c) and the
 * gbdt loader on top of it (ml__gbdt_load): a document that parses is
 * walked to every leaf, plainly and through the spans of ml_ubj_open,
 * which must see the same values; and the input is loaded as an XGBoost model for
 * regression, binary and three-class tasks; a model that loads must walk
 * a row of missing values. Failures must say why.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"
#include "ml/internal.h"
#include "ml/ubj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Visits every value under v, summed up in *sum; iterating a parsed container cannot fail. */
static void walk(const struct ml_ubj *v, uint64_t *sum)
{
	static const char *const keys[] = {"learner", "trees", ""};
	struct ml_ubj_iter it;
	struct ml_ubj e, found[3];
	struct err err = ERR_INIT;
	const char *key = NULL;
	size_t n = 0, klen = 0;
	int rc;
	*sum = *sum * 31 + (uint64_t)v->type * 7 + (uint64_t)v->i + v->count + v->len +
	       (uint64_t)(v->at - v->base);
	if (v->type != ML_UBJ_ARRAY && v->type != ML_UBJ_OBJECT)
		return;
	if (v->depth >= ML_UBJ_MAX_DEPTH)
		__builtin_trap(); /* the parser lets no deeper container through */
	ml_ubj_iter_init(&it, v);
	while ((rc = ml_ubj_next(&it, &key, &klen, &e, &err)) > 0) {
		n++;
		*sum += klen;
		walk(&e, sum);
	}
	if (rc < 0 || n != v->count)
		__builtin_trap();
	/* duplicates are the only way ml_ubj_get fails, and it says so */
	err_clear(&err);
	if (ml_ubj_get(v, keys, 3, found, &err) < 0 && !strstr(err.msg, "twice"))
		__builtin_trap();
}

static void load(const uint8_t *data, size_t size, enum ml_task task, uint32_t nclasses)
{
	struct err err = ERR_INIT;
	struct ml__gbdt g;
	struct ml__row row;
	struct ml_pred pred;
	uint32_t idx[1];
	double val[1];
	if (ml__gbdt_load(&g, task, nclasses, 100, data, size, &err) < 0) {
		if (err.msg[0] == '\0')
			__builtin_trap(); /* a failure says why */
		return;
	}
	ml__row_init(&row, idx, val, 1);
	ml__gbdt_predict(&g, &row, &pred);
	ml__gbdt_release(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err err = ERR_INIT;
	struct ml_ubj root;
	struct ml_ubj_doc doc;
	uint64_t plain = 0, spans = 0;
	if (ml_ubj_parse(&root, data, size, &err) == 0) {
		walk(&root, &plain);
		if (ml_ubj_open(&doc, data, size, &err) < 0)
			__builtin_trap(); /* the same document, and memory does not run out here */
		walk(&doc.root, &spans);
		if (plain != spans)
			__builtin_trap();
		ml_ubj_doc_release(&doc);
	} else if (strncmp(err.msg, "payload: byte ", 14) != 0) {
		__builtin_trap(); /* every parse error names its byte */
	}
	load(data, size, ML_TASK_REGRESSION, 0);
	load(data, size, ML_TASK_CLASSIFICATION, 2);
	load(data, size, ML_TASK_CLASSIFICATION, 3);
	return 0;
}

/*
 * ubj.h - a small reader of UBJSON (Universal Binary JSON), the binary form
 * in which XGBoost saves its model (gbdt payloads, docs/model-format.md).
 * Only what XGBoost's model needs: objects, arrays (plain, counted, typed),
 * strings, integers of every width, float32/64, booleans, null and noop.
 * Not a writer, and not for documents kiln has not been given as UBJSON.
 *
 * Invariants: nothing is copied; a value borrows the buffer it was parsed
 * from, which must outlive it (and the struct ml_ubj_doc, when it came from
 * one). Every read is bounded by the buffer; containers nest at most
 * ML_UBJ_MAX_DEPTH deep.
 * Errors are ERR_FORMAT, "payload: byte N: what", N the offset in the
 * buffer. Multi-byte numbers are big-endian, as the UBJSON spec says.
 */
#ifndef KILN_ML_UBJ_H
#define KILN_ML_UBJ_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define ML_UBJ_MAX_DEPTH 64

enum ml_ubj_type {
	ML_UBJ_NONE, /* no value: a key ml_ubj_get did not find */
	ML_UBJ_NULL,
	ML_UBJ_BOOL,
	ML_UBJ_INT,
	ML_UBJ_FLOAT,
	ML_UBJ_STRING,
	ML_UBJ_ARRAY,
	ML_UBJ_OBJECT
};

struct ml_ubj_doc;

/* One parsed value; containers keep their elements unparsed (ml_ubj_next). */
struct ml_ubj {
	enum ml_ubj_type type;
	int64_t i;	 /* INT; BOOL: 0 or 1 */
	double f;	 /* FLOAT, and INT and BOOL as a double */
	const char *str; /* STRING: len bytes, not NUL-terminated, may hold NUL */
	size_t len;
	/* ARRAY, OBJECT: count elements (members), elem the type marker of all
	 * of them in a typed container, else 0; body .. end their bytes */
	size_t count;
	unsigned char elem;
	const unsigned char *body, *end;
	/* where the value starts in the buffer and the document's start */
	const unsigned char *at, *base;
	int depth;
	const struct ml_ubj_doc *doc; /* the spans of ml_ubj_open, or NULL */
};

/*
 * Parses data[0..len) as exactly one value into *v (a container is
 * checked to its last byte, so that iterating it cannot fail on bad
 * bytes). Returns 0, or -1 with ERR_FORMAT. Allocates nothing; walking a
 * container steps over each element, so reaching a value nested d deep
 * reads what encloses it d times.
 */
int ml_ubj_parse(struct ml_ubj *v, const void *data, size_t len, struct err *err);

/* Where a large untyped container's elements end, as offsets in the buffer. */
struct ml_ubj_span {
	size_t at, end, next, count;
};

/*
 * A parsed document that remembers, from its one checking pass, where
 * each untyped container of ML_UBJ_SPAN_MIN bytes or more ends, so that
 * walking the values under doc->root steps over such a container at
 * once: every byte is read about once however deep the value sought.
 */
#define ML_UBJ_SPAN_MIN 256
struct ml_ubj_doc {
	struct ml_ubj root;
	struct ml_ubj_span *spans; /* sorted by at */
	size_t nspans, cap;
};

/*
 * ml_ubj_parse into doc->root, with the spans (at most one per
 * ML_UBJ_SPAN_MIN bytes). 0, or -1 with ERR_FORMAT or ERR_NOMEM. The doc
 * must not move while its values are used; ml_ubj_doc_release frees it
 * (also after a failure).
 */
int ml_ubj_open(struct ml_ubj_doc *doc, const void *data, size_t len, struct err *err);
void ml_ubj_doc_release(struct ml_ubj_doc *doc);

/* The state of a walk over a container's elements, in order. */
struct ml_ubj_iter {
	const struct ml_ubj *c;
	const unsigned char *p;
	size_t i;
};

void ml_ubj_iter_init(struct ml_ubj_iter *it, const struct ml_ubj *container);
/*
 * The next element into *v, and for an object its key (borrowed, not
 * NUL-terminated) into *key and *klen (either may be NULL). Returns 1,
 * 0 after the last element (or when the value is not a container), or -1
 * with ERR_FORMAT.
 */
int ml_ubj_next(struct ml_ubj_iter *it, const char **key, size_t *klen, struct ml_ubj *v,
		struct err *err);

/*
 * Looks up nkeys keys (NUL-terminated) of object obj in one pass: out[k]
 * is the value of keys[k], or type ML_UBJ_NONE when absent or when obj is
 * not an object. A key present twice is an error (-1, ERR_FORMAT).
 */
int ml_ubj_get(const struct ml_ubj *obj, const char *const *keys, size_t nkeys, struct ml_ubj *out,
	       struct err *err);

#endif

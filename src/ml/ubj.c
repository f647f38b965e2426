/*
 * ubj.c - the UBJSON reader of ubj.h: a bounded cursor over the buffer,
 * values described in place (only ml_ubj_open allocates, its table of
 * spans), recursion limited to ML_UBJ_MAX_DEPTH. For XGBoost's models;
 * not a general UBJSON library.
 */
#include "ml/ubj.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

struct rd {
	const unsigned char *base, *p, *end;
	struct err *err;
	struct ml_ubj_doc *rec;	      /* ml_ubj_open: where to record the spans */
	const struct ml_ubj_doc *use; /* walking its values: the spans to use */
};

static int bad(const struct rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(const struct rd *r, const char *fmt, ...)
{
	char what[128];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap); /* a long message is cut, not lost */
	va_end(ap);
	return err_set(r->err, ERR_FORMAT, "payload: byte %zu: %s", (size_t)(r->p - r->base), what);
}

static int need(const struct rd *r, size_t n)
{
	return (size_t)(r->end - r->p) >= n ? 0 : bad(r, "truncated");
}

/* Bytes of the number after marker m, 0 when m is no number marker. */
static size_t num_size(unsigned char m)
{
	switch (m) {
	case 'i':
	case 'U':
		return 1;
	case 'I':
		return 2;
	case 'l':
	case 'd':
		return 4;
	case 'L':
	case 'D':
		return 8;
	default:
		return 0;
	}
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* The integer of integer marker m stored big-endian at p. */
static int64_t decode_int(unsigned char m, const unsigned char *p)
{
	uint64_t u;
	int64_t i;
	switch (m) {
	case 'i':
		return (int8_t)p[0];
	case 'U':
		return p[0];
	case 'I':
		return (int16_t)(uint16_t)(p[0] << 8 | p[1]);
	case 'l':
		return (int32_t)be32(p);
	default: /* 'L' */
		u = be64(p);
		memcpy(&i, &u, sizeof(i));
		return i;
	}
}

/* The number of marker m stored big-endian at p (num_size(m) bytes). */
static void decode_num(unsigned char m, const unsigned char *p, struct ml_ubj *v)
{
	uint32_t w;
	uint64_t u;
	float f;
	if (m == 'd') {
		w = be32(p);
		memcpy(&f, &w, sizeof(f));
		v->type = ML_UBJ_FLOAT;
		v->f = f;
	} else if (m == 'D') {
		u = be64(p);
		memcpy(&v->f, &u, sizeof(v->f));
		v->type = ML_UBJ_FLOAT;
	} else {
		v->type = ML_UBJ_INT;
		v->i = decode_int(m, p);
		v->f = (double)v->i;
	}
}

/*
 * A length or count: an integer of any width, not negative, and small
 * enough that n items of unit bytes fit in what is left of the buffer.
 */
static int rd_count(struct rd *r, size_t unit, size_t *n)
{
	unsigned char m;
	size_t sz;
	int64_t v;
	if (need(r, 1) < 0)
		return -1;
	m = *r->p;
	sz = num_size(m);
	if (sz == 0 || m == 'd' || m == 'D')
		return bad(r, "expected an integer length");
	r->p++;
	if (need(r, sz) < 0)
		return -1;
	v = decode_int(m, r->p);
	if (v < 0)
		return bad(r, "negative length %lld", (long long)v);
	r->p += sz;
	if ((uint64_t)v > (uint64_t)(r->end - r->p) / unit)
		return bad(r, "length %lld runs past the end", (long long)v);
	*n = (size_t)v;
	return 0;
}

static void skip_noops(struct rd *r)
{
	while (r->p < r->end && *r->p == 'N')
		r->p++;
}

/* An object key: a length, then that many bytes (no 'S' marker). */
static int rd_key(struct rd *r, const char **key, size_t *klen)
{
	size_t n = 0;
	if (rd_count(r, 1, &n) < 0)
		return -1;
	if (key)
		*key = (const char *)r->p;
	if (klen)
		*klen = n;
	r->p += n;
	return 0;
}

static int rd_value(struct rd *r, struct ml_ubj *v, int depth);
static int rd_container(struct rd *r, struct ml_ubj *v);

/* The span of the untyped container at offset at, or NULL. */
static const struct ml_ubj_span *find_span(const struct ml_ubj_doc *d, size_t at)
{
	size_t lo = 0, hi = d->nspans;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (d->spans[mid].at == at)
			return &d->spans[mid];
		if (d->spans[mid].at < at)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Records container v, just read to r->p (in the order containers end). */
static int add_span(struct rd *r, const struct ml_ubj *v)
{
	struct ml_ubj_doc *d = r->rec;
	struct ml_ubj_span *sp;
	if (d->nspans == d->cap) {
		size_t n = d->cap ? 2 * d->cap : 64;
		if (!(sp = mem_reallocarray(d->spans, n, sizeof(*sp))))
			return err_set(r->err, ERR_NOMEM, "out of memory reading the payload");
		d->spans = sp;
		d->cap = n;
	}
	sp = &d->spans[d->nspans++];
	sp->at = (size_t)(v->at - r->base);
	sp->end = (size_t)(v->end - r->base);
	sp->next = (size_t)(r->p - r->base);
	sp->count = v->count;
	return 0;
}

/* Steps over one value, checking it as rd_value does, without describing it. */
static int skip_value(struct rd *r, int depth)
{
	struct ml_ubj c;
	size_t sz, n;
	if (need(r, 1) < 0)
		return -1;
	sz = num_size(*r->p);
	if (sz) {
		r->p++;
		if (need(r, sz) < 0)
			return -1;
		r->p += sz;
		return 0;
	}
	switch (*r->p) {
	case 'Z':
	case 'T':
	case 'F':
		r->p++;
		return 0;
	case 'S':
		r->p++;
		if (rd_count(r, 1, &n) < 0)
			return -1;
		r->p += n;
		return 0;
	case '[':
	case '{':
		c.at = r->p;
		c.type = *r->p++ == '{' ? ML_UBJ_OBJECT : ML_UBJ_ARRAY;
		c.elem = 0;
		c.count = 0;
		c.depth = depth;
		return rd_container(r, &c);
	default:
		return rd_value(r, &c, depth); /* fails, saying why */
	}
}

/* The elements of an untyped container, up to its count or end marker. */
static int rd_elements(struct rd *r, struct ml_ubj *v, int counted)
{
	unsigned char close = v->type == ML_UBJ_OBJECT ? '}' : ']';
	size_t i;
	for (i = 0; !counted || i < v->count; i++) {
		skip_noops(r);
		if (!counted) {
			if (need(r, 1) < 0)
				return -1;
			if (*r->p == close) {
				v->count = i;
				v->end = r->p++;
				return 0;
			}
		}
		if (v->type == ML_UBJ_OBJECT) {
			if (rd_key(r, NULL, NULL) < 0)
				return -1;
			skip_noops(r);
		}
		if (skip_value(r, v->depth + 1) < 0)
			return -1;
	}
	v->end = r->p;
	return 0;
}

/* After '[' or '{': the optional type and count, then the elements. */
static int rd_container(struct rd *r, struct ml_ubj *v)
{
	size_t sz = 0, i;
	int counted = 0;
	if (v->depth >= ML_UBJ_MAX_DEPTH)
		return bad(r, "containers nested deeper than %d", ML_UBJ_MAX_DEPTH);
	if (r->p < r->end && *r->p == '$') {
		r->p++;
		if (need(r, 1) < 0)
			return -1;
		v->elem = *r->p;
		sz = num_size(v->elem);
		if (sz == 0)
			return bad(r, "unsupported element type 0x%02x", v->elem);
		r->p++;
		if (r->p >= r->end || *r->p != '#')
			return bad(r, "typed container without a count");
	}
	if (r->p < r->end && *r->p == '#') {
		r->p++;
		if (rd_count(r, v->elem && v->type == ML_UBJ_ARRAY ? sz : 1, &v->count) < 0)
			return -1;
		counted = 1;
	}
	v->body = r->p;
	if (!v->elem) {
		const struct ml_ubj_span *sp;
		if (r->use && (sp = find_span(r->use, (size_t)(v->at - r->base)))) {
			v->count = sp->count;
			v->end = r->base + sp->end;
			r->p = r->base + sp->next;
			return 0;
		}
		if (rd_elements(r, v, counted) < 0)
			return -1;
		if (r->rec && (size_t)(r->p - v->at) >= ML_UBJ_SPAN_MIN)
			return add_span(r, v);
		return 0;
	}
	if (v->type == ML_UBJ_ARRAY) {
		r->p += v->count * sz; /* rd_count checked that it fits */
	} else {
		for (i = 0; i < v->count; i++) {
			if (rd_key(r, NULL, NULL) < 0 || need(r, sz) < 0)
				return -1;
			r->p += sz;
		}
	}
	v->end = r->p;
	return 0;
}

static int rd_value(struct rd *r, struct ml_ubj *v, int depth)
{
	unsigned char m;
	size_t sz;
	memset(v, 0, sizeof(*v));
	v->base = r->base;
	v->at = r->p;
	v->depth = depth;
	v->doc = r->rec ? r->rec : r->use;
	if (need(r, 1) < 0)
		return -1;
	m = *r->p++;
	sz = num_size(m);
	if (sz) {
		if (need(r, sz) < 0)
			return -1;
		decode_num(m, r->p, v);
		r->p += sz;
		return 0;
	}
	switch (m) {
	case 'Z':
		v->type = ML_UBJ_NULL;
		return 0;
	case 'T':
	case 'F':
		v->type = ML_UBJ_BOOL;
		v->i = m == 'T';
		v->f = (double)v->i;
		return 0;
	case 'S':
		v->type = ML_UBJ_STRING;
		if (rd_count(r, 1, &v->len) < 0)
			return -1;
		v->str = (const char *)r->p;
		r->p += v->len;
		return 0;
	case '[':
	case '{':
		v->type = m == '{' ? ML_UBJ_OBJECT : ML_UBJ_ARRAY;
		return rd_container(r, v);
	default:
		r->p--;
		return bad(r, "unexpected type marker 0x%02x", m);
	}
}

static int parse(struct ml_ubj *v, const void *data, size_t len, struct ml_ubj_doc *doc,
		 struct err *err)
{
	struct rd r;
	r.base = data;
	r.p = data;
	r.end = r.base + len;
	r.err = err;
	r.rec = doc;
	r.use = NULL;
	if (rd_value(&r, v, 0) < 0)
		return -1;
	if (r.p != r.end)
		return bad(&r, "%zu bytes after the value", (size_t)(r.end - r.p));
	return 0;
}

int ml_ubj_parse(struct ml_ubj *v, const void *data, size_t len, struct err *err)
{
	return parse(v, data, len, NULL, err);
}

static int span_cmp(const void *a, const void *b)
{
	const struct ml_ubj_span *x = a, *y = b;
	return (x->at > y->at) - (x->at < y->at);
}

int ml_ubj_open(struct ml_ubj_doc *doc, const void *data, size_t len, struct err *err)
{
	memset(doc, 0, sizeof(*doc));
	if (parse(&doc->root, data, len, doc, err) < 0)
		return -1;
	/* recorded as containers end, inner first: sorted by start for find_span */
	if (doc->nspans > 1)
		qsort(doc->spans, doc->nspans, sizeof(*doc->spans), span_cmp);
	return 0;
}

void ml_ubj_doc_release(struct ml_ubj_doc *doc)
{
	mem_free(doc->spans);
	memset(doc, 0, sizeof(*doc));
}

void ml_ubj_iter_init(struct ml_ubj_iter *it, const struct ml_ubj *container)
{
	it->c = container;
	it->p = container->body;
	it->i = 0;
}

int ml_ubj_next(struct ml_ubj_iter *it, const char **key, size_t *klen, struct ml_ubj *v,
		struct err *err)
{
	const struct ml_ubj *c = it->c;
	struct rd r;
	size_t sz;
	if ((c->type != ML_UBJ_ARRAY && c->type != ML_UBJ_OBJECT) || it->i >= c->count)
		return 0;
	r.base = c->base;
	r.p = it->p;
	r.end = c->end;
	r.err = err;
	r.rec = NULL;
	r.use = c->doc;
	if (c->type == ML_UBJ_OBJECT) {
		skip_noops(&r);
		if (rd_key(&r, key, klen) < 0)
			return -1;
	}
	if (c->elem) {
		sz = num_size(c->elem);
		if (need(&r, sz) < 0)
			return -1;
		/* every field, without a memset: the hot path of typed arrays */
		v->i = 0;
		v->str = NULL;
		v->len = v->count = 0;
		v->elem = 0;
		v->body = v->end = NULL;
		v->base = c->base;
		v->at = r.p;
		v->depth = c->depth + 1;
		v->doc = c->doc;
		decode_num(c->elem, r.p, v);
		r.p += sz;
	} else {
		skip_noops(&r);
		if (rd_value(&r, v, c->depth + 1) < 0)
			return -1;
	}
	it->p = r.p;
	it->i++;
	return 1;
}

int ml_ubj_get(const struct ml_ubj *obj, const char *const *keys, size_t nkeys, struct ml_ubj *out,
	       struct err *err)
{
	struct ml_ubj_iter it;
	struct ml_ubj v;
	const char *key = NULL;
	size_t klen = 0, k;
	int rc;
	for (k = 0; k < nkeys; k++)
		memset(&out[k], 0, sizeof(out[k]));
	if (obj->type != ML_UBJ_OBJECT)
		return 0;
	ml_ubj_iter_init(&it, obj);
	while ((rc = ml_ubj_next(&it, &key, &klen, &v, err)) > 0) {
		for (k = 0; k < nkeys; k++) {
			if ((klen ? keys[k][0] != key[0] : keys[k][0] != '\0') ||
			    strlen(keys[k]) != klen || memcmp(keys[k], key, klen) != 0)
				continue;
			if (out[k].type != ML_UBJ_NONE)
				return err_set(err, ERR_FORMAT, "payload: byte %zu: key '%s' twice",
					       (size_t)(v.at - v.base), keys[k]);
			out[k] = v;
		}
	}
	return rc;
}

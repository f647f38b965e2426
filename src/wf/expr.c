/*
 * expr.c - evaluate ${{ }} expressions in workflow files, by GitHub's rules
 * (loose equality, number coercion, case-insensitive strings and property
 * names). Pure: no I/O and no globals; contexts come in a struct. One
 * recursive-descent pass parses and evaluates; a "live" flag turns
 * evaluation off for the untaken side of && and || and for syntax checks.
 */
#include "wf/internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EXPR_MAX_DEPTH 50

struct p {
	const char *s;
	size_t len, pos;
	const struct wf_expr_ctx *c;
	struct err *err;
	int depth;
};

static const char *const contexts[] = {"github", "env",	     "vars",  "secrets", "inputs",
				       "job",	 "jobs",     "steps", "runner",	 "needs",
				       "matrix", "strategy", NULL};

static json_t *parse_or(struct p *p, int live);

static json_t *fail(struct p *p, const char *fmt, const char *arg)
{
	char msg[200];
	snprintf(msg, sizeof(msg), fmt, arg);
	err_set(p->err, ERR_PARSE, "position %zu: %s", p->pos + 1, msg);
	return NULL;
}

static json_t *nomem(struct p *p)
{
	err_set(p->err, ERR_NOMEM, "out of memory");
	return NULL;
}

static void skip_ws(struct p *p)
{
	while (p->pos < p->len && isspace((unsigned char)p->s[p->pos]))
		p->pos++;
}

static int peek2(struct p *p, const char *tok)
{
	size_t n = strlen(tok);
	skip_ws(p);
	return p->len - p->pos >= n && memcmp(p->s + p->pos, tok, n) == 0;
}

/* A number as JSON: an integer when it is one, so toJSON prints 1 not 1.0. */
static json_t *num_new(double d)
{
	if (isnan(d) || isinf(d))
		return json_null(); /* TODO: jansson cannot hold NaN/Infinity; null is the closest
				     */
	if (d == floor(d) && fabs(d) < 9007199254740992.0)
		return json_integer((json_int_t)d);
	return json_real(d);
}

json_t *wf__obj_get(const json_t *obj, const char *key)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return NULL;
	v = json_object_get(obj, key);
	if (v)
		return v;
	json_object_foreach((json_t *)obj, k, v)
	{
		if (strcasecmp(k, key) == 0)
			return v;
	}
	return NULL;
}

int wf__truthy(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_NULL:
	case JSON_FALSE:
		return 0;
	case JSON_TRUE:
		return 1;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0 && !isnan(json_real_value(v));
	case JSON_STRING:
		return json_string_length(v) > 0;
	default:
		return 1;
	}
}

static int add_num(struct buf *out, double d)
{
	if (d == floor(d) && fabs(d) < 1e15)
		return buf_addf(out, "%lld", (long long)d);
	return buf_addf(out, "%.15g", d);
}

int wf__to_str(const json_t *v, struct buf *out)
{
	switch (json_typeof(v)) {
	case JSON_NULL:
		return 0;
	case JSON_TRUE:
		return buf_adds(out, "true");
	case JSON_FALSE:
		return buf_adds(out, "false");
	case JSON_INTEGER:
		return buf_addf(out, "%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		return add_num(out, json_real_value(v));
	case JSON_STRING:
		return buf_add(out, json_string_value(v), json_string_length(v));
	case JSON_ARRAY:
		return buf_adds(out, "Array");
	default:
		return buf_adds(out, "Object");
	}
}

int wf__to_json(const json_t *v, struct buf *out)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
	int rc;
	if (!s) {
		errno = ENOMEM;
		return -1;
	}
	rc = buf_adds(out, s);
	free(s);
	return rc;
}

/* GitHub's string-to-number: trimmed, "" is 0, 0x hex, else NaN when not a number. */
static double str_num(const char *s, size_t len)
{
	char tmp[64], *end;
	size_t a = 0, b = len;
	double d;

	while (a < b && isspace((unsigned char)s[a]))
		a++;
	while (b > a && isspace((unsigned char)s[b - 1]))
		b--;
	if (a == b)
		return 0;
	if (b - a >= sizeof(tmp))
		return NAN;
	memcpy(tmp, s + a, b - a);
	tmp[b - a] = '\0';
	if (tmp[0] == '0' && (tmp[1] == 'x' || tmp[1] == 'X')) {
		unsigned long long u;
		errno = 0;
		u = strtoull(tmp + 2, &end, 16);
		if (errno || *end || end == tmp + 2)
			return NAN;
		return (double)u;
	}
	if (strpbrk(tmp, "nNiIpP")) /* no "nan", "inf" or hex floats from strtod */
		return NAN;
	errno = 0;
	d = strtod(tmp, &end);
	if (*end || end == tmp)
		return NAN;
	return d;
}

static double to_num(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_NULL:
	case JSON_FALSE:
		return 0;
	case JSON_TRUE:
		return 1;
	case JSON_INTEGER:
		return (double)json_integer_value(v);
	case JSON_REAL:
		return json_real_value(v);
	case JSON_STRING:
		return str_num(json_string_value(v), json_string_length(v));
	default:
		return NAN;
	}
}

static int is_num(const json_t *v)
{
	return json_is_integer(v) || json_is_real(v);
}

static int same_kind(const json_t *a, const json_t *b)
{
	if (is_num(a) && is_num(b))
		return 1;
	if (json_is_boolean(a) && json_is_boolean(b))
		return 1;
	return json_typeof(a) == json_typeof(b);
}

static int str_icmp(const json_t *a, const json_t *b)
{
	const char *x = json_string_value(a), *y = json_string_value(b);
	size_t n = json_string_length(a), m = json_string_length(b), i;
	for (i = 0; i < n && i < m; i++) {
		int cx = toupper((unsigned char)x[i]), cy = toupper((unsigned char)y[i]);
		if (cx != cy)
			return cx < cy ? -1 : 1;
	}
	return n == m ? 0 : (n < m ? -1 : 1);
}

/* Loose equality (GitHub's EvaluationResult.AbstractEqual). */
static int loose_eq(const json_t *a, const json_t *b)
{
	if (same_kind(a, b)) {
		switch (json_typeof(a)) {
		case JSON_NULL:
			return 1;
		case JSON_TRUE:
		case JSON_FALSE:
			return json_typeof(a) == json_typeof(b);
		case JSON_STRING:
			return str_icmp(a, b) == 0;
		case JSON_OBJECT:
		case JSON_ARRAY:
			return a == b;
		default:
			return to_num(a) == to_num(b);
		}
	}
	return to_num(a) == to_num(b);
}

/* -2 when incomparable (NaN), else -1, 0, 1. */
static int loose_cmp(const json_t *a, const json_t *b)
{
	double x, y;
	if (json_is_string(a) && json_is_string(b))
		return str_icmp(a, b);
	x = to_num(a);
	y = to_num(b);
	if (isnan(x) || isnan(y))
		return -2;
	return x < y ? -1 : (x > y ? 1 : 0);
}

static int is_ident_start(int ch)
{
	return isalpha(ch) || ch == '_';
}

static int is_ident(int ch)
{
	return isalnum(ch) || ch == '_' || ch == '-';
}

static json_t *parse_string(struct p *p, int live)
{
	struct buf b = BUF_INIT;
	json_t *v;

	p->pos++; /* opening quote */
	for (;;) {
		if (p->pos >= p->len) {
			buf_release(&b);
			return fail(p, "unterminated string%s", "");
		}
		if (p->s[p->pos] == '\'') {
			if (p->pos + 1 < p->len && p->s[p->pos + 1] == '\'') {
				if (live && buf_addch(&b, '\'') < 0)
					goto oom;
				p->pos += 2;
				continue;
			}
			p->pos++;
			break;
		}
		if (live && buf_addch(&b, p->s[p->pos]) < 0)
			goto oom;
		p->pos++;
	}
	if (!live) {
		buf_release(&b);
		return json_null();
	}
	v = json_stringn(b.ptr, b.len);
	buf_release(&b);
	if (!v)
		return fail(p, "string is not valid UTF-8%s", "");
	return v;
oom:
	buf_release(&b);
	return nomem(p);
}

static json_t *parse_number(struct p *p, int live)
{
	size_t start = p->pos;
	double d;

	if (p->s[p->pos] == '-' || p->s[p->pos] == '+')
		p->pos++;
	while (p->pos < p->len && (isalnum((unsigned char)p->s[p->pos]) || p->s[p->pos] == '.' ||
				   ((p->s[p->pos] == '-' || p->s[p->pos] == '+') &&
				    (p->s[p->pos - 1] == 'e' || p->s[p->pos - 1] == 'E'))))
		p->pos++;
	d = str_num(p->s + start, p->pos - start);
	if (isnan(d)) {
		p->pos = start;
		return fail(p, "invalid number%s", "");
	}
	return live ? num_new(d) : json_null();
}

/* Function table: name, min and max arguments. */
static const struct {
	const char *name;
	int min, max;
} funcs[] = {
	{"success", 0, 0},  {"failure", 0, 0},	  {"always", 0, 0},   {"cancelled", 0, 0},
	{"contains", 2, 2}, {"startsWith", 2, 2}, {"endsWith", 2, 2}, {"format", 1, 64},
	{"join", 1, 2},	    {"toJSON", 1, 1},	  {"fromJSON", 1, 1}, {"hashFiles", 1, 64},
};

static int ci_find(const char *h, size_t hn, const char *n, size_t nn, int where)
{
	size_t i;
	if (nn > hn)
		return 0;
	for (i = 0; i + nn <= hn; i++) {
		size_t at = where == 1 ? 0 : (where == 2 ? hn - nn : i);
		if (strncasecmp(h + at, n, nn) == 0 && memchr(h + at, 0, nn) == NULL)
			return 1;
		if (where)
			return 0;
	}
	return 0;
}

static json_t *fn_format(struct p *p, json_t **a, int n)
{
	struct buf f = BUF_INIT, out = BUF_INIT;
	json_t *r = NULL;
	size_t i;

	if (wf__to_str(a[0], &f) < 0)
		goto oom;
	for (i = 0; i < f.len; i++) {
		char ch = f.ptr[i];
		if (ch == '{' && i + 1 < f.len && f.ptr[i + 1] == '{') {
			if (buf_addch(&out, '{') < 0)
				goto oom;
			i++;
		} else if (ch == '}' && i + 1 < f.len && f.ptr[i + 1] == '}') {
			if (buf_addch(&out, '}') < 0)
				goto oom;
			i++;
		} else if (ch == '{') {
			size_t j = i + 1;
			long idx = 0;
			while (j < f.len && isdigit((unsigned char)f.ptr[j]) && idx < 1000)
				idx = idx * 10 + (f.ptr[j++] - '0');
			if (j == i + 1 || j >= f.len || f.ptr[j] != '}') {
				fail(p, "format: invalid placeholder in '%s'", f.ptr);
				goto out;
			}
			if (idx + 1 >= n) {
				fail(p, "format: placeholder index out of range in '%s'", f.ptr);
				goto out;
			}
			if (wf__to_str(a[idx + 1], &out) < 0)
				goto oom;
			i = j;
		} else if (ch == '}') {
			fail(p, "format: unbalanced '}' in '%s'", f.ptr);
			goto out;
		} else if (buf_addch(&out, ch) < 0) {
			goto oom;
		}
	}
	r = json_stringn(out.ptr, out.len);
	if (!r)
		goto oom;
	goto out;
oom:
	nomem(p);
out:
	buf_release(&f);
	buf_release(&out);
	return r;
}

static json_t *fn_join(struct p *p, json_t **a, int n)
{
	struct buf out = BUF_INIT, sep = BUF_INIT;
	json_t *r = NULL;
	size_t i;

	if (n > 1) {
		if (wf__to_str(a[1], &sep) < 0)
			goto oom;
	} else if (buf_adds(&sep, ",") < 0) {
		goto oom;
	}
	if (json_is_array(a[0])) {
		for (i = 0; i < json_array_size(a[0]); i++) {
			if (i && buf_add(&out, sep.ptr, sep.len) < 0)
				goto oom;
			if (wf__to_str(json_array_get(a[0], i), &out) < 0)
				goto oom;
		}
	} else if (!json_is_object(a[0]) && wf__to_str(a[0], &out) < 0) {
		goto oom;
	}
	r = json_stringn(out.ptr, out.len);
	if (!r)
		goto oom;
	goto out;
oom:
	nomem(p);
out:
	buf_release(&out);
	buf_release(&sep);
	return r;
}

static json_t *call(struct p *p, int f, json_t **a, int n)
{
	const char *name = funcs[f].name;
	struct buf x = BUF_INIT, y = BUF_INIT;
	json_t *r = NULL;
	size_t i;

	if (strcmp(name, "success") == 0)
		return json_boolean(p->c->status == WF_ST_SUCCESS);
	if (strcmp(name, "failure") == 0)
		return json_boolean(p->c->status == WF_ST_FAILURE);
	if (strcmp(name, "cancelled") == 0)
		return json_boolean(p->c->status == WF_ST_CANCELLED);
	if (strcmp(name, "always") == 0)
		return json_true();
	if (strcmp(name, "format") == 0)
		return fn_format(p, a, n);
	if (strcmp(name, "join") == 0)
		return fn_join(p, a, n);
	if (strcmp(name, "toJSON") == 0) {
		if (wf__to_json(a[0], &x) < 0)
			goto oom;
		r = json_stringn(x.ptr, x.len);
		goto done;
	}
	if (strcmp(name, "fromJSON") == 0) {
		json_error_t je;
		if (wf__to_str(a[0], &x) < 0)
			goto oom;
		r = json_loadb(x.ptr, x.len, JSON_DECODE_ANY, &je);
		if (!r)
			fail(p, "fromJSON: %s", je.text);
		buf_release(&x);
		return r;
	}
	if (strcmp(name, "hashFiles") == 0) {
		json_t *pats = json_array();
		if (!pats)
			goto oom;
		for (i = 0; i < (size_t)n; i++) {
			if (json_array_append(pats, a[i]) < 0) {
				json_decref(pats);
				goto oom;
			}
		}
		if (p->c->hash_files && p->c->hash_files(p->c->hash_arg, pats, &x, p->err) < 0) {
			json_decref(pats);
			buf_release(&x);
			return NULL;
		}
		json_decref(pats);
		r = json_stringn(x.ptr, x.len);
		goto done;
	}
	if (strcmp(name, "contains") == 0 && json_is_array(a[0])) {
		for (i = 0; i < json_array_size(a[0]); i++)
			if (loose_eq(json_array_get(a[0], i), a[1]))
				return json_true();
		return json_false();
	}
	/* contains, startsWith, endsWith on strings, case-insensitive */
	if (wf__to_str(a[0], &x) < 0 || wf__to_str(a[1], &y) < 0)
		goto oom;
	r = json_boolean(ci_find(x.ptr, x.len, y.ptr, y.len,
				 strcmp(name, "startsWith") == 0 ? 1
				 : strcmp(name, "endsWith") == 0 ? 2
								 : 0));
	buf_release(&x);
	buf_release(&y);
	return r;
done:
	buf_release(&x);
	if (!r)
		return nomem(p);
	return r;
oom:
	buf_release(&x);
	buf_release(&y);
	return nomem(p);
}

static json_t *parse_call(struct p *p, const char *name, size_t nlen, size_t at, int live)
{
	json_t *args[64];
	int n = 0, f = -1, i;
	json_t *r = NULL;
	size_t k;

	for (k = 0; k < sizeof(funcs) / sizeof(funcs[0]); k++)
		if (strlen(funcs[k].name) == nlen && strncasecmp(funcs[k].name, name, nlen) == 0)
			f = (int)k;
	if (f < 0) {
		char tmp[64];
		snprintf(tmp, sizeof(tmp), "%.*s", (int)(nlen < 60 ? nlen : 60), name);
		p->pos = at;
		return fail(p, "unknown function '%s'", tmp);
	}
	p->pos++; /* ( */
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == ')') {
		p->pos++;
	} else {
		for (;;) {
			json_t *v;
			if (n >= 64) {
				fail(p, "too many arguments%s", "");
				goto out;
			}
			v = parse_or(p, live);
			if (!v)
				goto out;
			args[n++] = v;
			skip_ws(p);
			if (p->pos < p->len && p->s[p->pos] == ',') {
				p->pos++;
				continue;
			}
			if (p->pos < p->len && p->s[p->pos] == ')') {
				p->pos++;
				break;
			}
			fail(p, "expected ',' or ')' in call to '%s'", funcs[f].name);
			goto out;
		}
	}
	if (n < funcs[f].min || n > funcs[f].max) {
		p->pos = at;
		fail(p, "wrong number of arguments to '%s'", funcs[f].name);
		goto out;
	}
	r = live ? call(p, f, args, n) : json_null();
out:
	for (i = 0; i < n; i++)
		json_decref(args[i]);
	return r;
}

static json_t *parse_primary(struct p *p, int live)
{
	char ch;
	size_t start;

	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, "unexpected end of expression%s", "");
	ch = p->s[p->pos];
	if (ch == '(') {
		json_t *v;
		p->pos++;
		v = parse_or(p, live);
		if (!v)
			return NULL;
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != ')') {
			json_decref(v);
			return fail(p, "expected ')'%s", "");
		}
		p->pos++;
		return v;
	}
	if (ch == '\'')
		return parse_string(p, live);
	if (isdigit((unsigned char)ch) || ch == '.' ||
	    ((ch == '-' || ch == '+') && p->pos + 1 < p->len &&
	     (isdigit((unsigned char)p->s[p->pos + 1]) || p->s[p->pos + 1] == '.')))
		return parse_number(p, live);
	if (is_ident_start((unsigned char)ch)) {
		const char *name = p->s + p->pos;
		size_t n, i;
		start = p->pos;
		while (p->pos < p->len && is_ident((unsigned char)p->s[p->pos]))
			p->pos++;
		n = p->pos - start;
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == '(')
			return parse_call(p, name, n, start, live);
		if (n == 4 && strncmp(name, "true", 4) == 0)
			return json_true();
		if (n == 5 && strncmp(name, "false", 5) == 0)
			return json_false();
		if (n == 4 && strncmp(name, "null", 4) == 0)
			return json_null();
		for (i = 0; contexts[i]; i++) {
			if (strlen(contexts[i]) == n && strncasecmp(contexts[i], name, n) == 0) {
				json_t *v;
				if (!live)
					return json_null();
				v = wf__obj_get(p->c->ctx, contexts[i]);
				return v ? json_incref(v) : json_null();
			}
		}
		{
			char tmp[64];
			snprintf(tmp, sizeof(tmp), "%.*s", (int)(n < 60 ? n : 60), name);
			p->pos = start;
			return fail(p, "unrecognized named-value '%s'", tmp);
		}
	}
	{
		char tmp[2] = {ch, 0};
		return fail(p, "unexpected character '%s'", tmp);
	}
}

/* Property access on v (or on each element when filtered); steals v. */
static json_t *prop(struct p *p, json_t *v, const char *key, int filtered)
{
	json_t *r, *e;
	size_t i;

	if (!filtered) {
		e = wf__obj_get(v, key);
		r = e ? json_incref(e) : json_null();
		json_decref(v);
		return r;
	}
	r = json_array();
	if (!r) {
		json_decref(v);
		return nomem(p);
	}
	for (i = 0; i < json_array_size(v); i++) {
		e = wf__obj_get(json_array_get(v, i), key);
		if (e && !json_is_null(e) && json_array_append(r, e) < 0) {
			json_decref(r);
			json_decref(v);
			return nomem(p);
		}
	}
	json_decref(v);
	return r;
}

/* a.* : the values of an object or the elements of an array, as an array. */
static json_t *star(struct p *p, json_t *v, int filtered)
{
	json_t *r = json_array(), *e;
	const char *k;
	size_t i;

	if (!r) {
		json_decref(v);
		return nomem(p);
	}
	if (filtered) {
		/* a.*.* flattens one level further */
		for (i = 0; i < json_array_size(v); i++) {
			json_t *x = json_array_get(v, i);
			size_t j;
			if (json_is_array(x)) {
				for (j = 0; j < json_array_size(x); j++)
					if (json_array_append(r, json_array_get(x, j)) < 0)
						goto oom;
			} else if (json_is_object(x)) {
				json_object_foreach(x, k, e)
				{
					if (json_array_append(r, e) < 0)
						goto oom;
				}
			}
		}
	} else if (json_is_array(v)) {
		if (json_array_extend(r, v) < 0)
			goto oom;
	} else if (json_is_object(v)) {
		json_object_foreach(v, k, e)
		{
			if (json_array_append(r, e) < 0)
				goto oom;
		}
	}
	json_decref(v);
	return r;
oom:
	json_decref(r);
	json_decref(v);
	return nomem(p);
}

static json_t *index_of(struct p *p, json_t *v, json_t *idx)
{
	json_t *r = NULL;
	if (json_is_array(v)) {
		double d = to_num(idx);
		if (!isnan(d) && d >= 0 && d < (double)json_array_size(v))
			r = json_array_get(v, (size_t)d);
	} else if (json_is_object(v)) {
		struct buf k = BUF_INIT;
		if (wf__to_str(idx, &k) < 0) {
			json_decref(v);
			json_decref(idx);
			return nomem(p);
		}
		r = wf__obj_get(v, k.ptr);
		buf_release(&k);
	}
	r = r ? json_incref(r) : json_null();
	json_decref(v);
	json_decref(idx);
	return r;
}

static json_t *parse_postfix(struct p *p, int live)
{
	json_t *v = parse_primary(p, live);
	int filtered = 0;

	while (v) {
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == '.') {
			size_t start;
			p->pos++;
			if (p->pos < p->len && p->s[p->pos] == '*') {
				p->pos++;
				v = live ? star(p, v, filtered) : v;
				filtered = 1;
				continue;
			}
			start = p->pos;
			if (p->pos >= p->len || !is_ident_start((unsigned char)p->s[p->pos])) {
				json_decref(v);
				return fail(p, "expected a property name after '.'%s", "");
			}
			while (p->pos < p->len && is_ident((unsigned char)p->s[p->pos]))
				p->pos++;
			if (live) {
				char key[256];
				size_t n = p->pos - start;
				if (n >= sizeof(key))
					n = sizeof(key) - 1;
				memcpy(key, p->s + start, n);
				key[n] = '\0';
				v = prop(p, v, key, filtered);
			}
		} else if (p->pos < p->len && p->s[p->pos] == '[') {
			json_t *idx;
			p->pos++;
			skip_ws(p);
			if (p->pos < p->len && p->s[p->pos] == '*') {
				p->pos++;
				skip_ws(p);
				if (p->pos >= p->len || p->s[p->pos] != ']') {
					json_decref(v);
					return fail(p, "expected ']'%s", "");
				}
				p->pos++;
				v = live ? star(p, v, filtered) : v;
				filtered = 1;
				continue;
			}
			idx = parse_or(p, live);
			if (!idx) {
				json_decref(v);
				return NULL;
			}
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ']') {
				json_decref(v);
				json_decref(idx);
				return fail(p, "expected ']'%s", "");
			}
			p->pos++;
			if (live) {
				v = index_of(p, v, idx);
			} else {
				json_decref(idx);
			}
		} else {
			break;
		}
	}
	return v;
}

static json_t *parse_unary(struct p *p, int live)
{
	json_t *v, *r;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '!' &&
	    !(p->pos + 1 < p->len && p->s[p->pos + 1] == '=')) {
		if (++p->depth > EXPR_MAX_DEPTH)
			return fail(p, "expression nested too deeply%s", "");
		p->pos++;
		v = parse_unary(p, live);
		p->depth--;
		if (!v)
			return NULL;
		r = live ? json_boolean(!wf__truthy(v)) : json_null();
		json_decref(v);
		return r;
	}
	return parse_postfix(p, live);
}

static json_t *parse_rel(struct p *p, int live)
{
	json_t *a = parse_unary(p, live), *b;
	while (a) {
		int op, c;
		if (peek2(p, "<="))
			op = 1;
		else if (peek2(p, ">="))
			op = 2;
		else if (peek2(p, "<"))
			op = 3;
		else if (peek2(p, ">"))
			op = 4;
		else
			break;
		p->pos += op <= 2 ? 2 : 1;
		b = parse_unary(p, live);
		if (!b) {
			json_decref(a);
			return NULL;
		}
		c = live ? loose_cmp(a, b) : 0;
		json_decref(a);
		json_decref(b);
		if (!live) {
			a = json_null();
			continue;
		}
		a = json_boolean(c != -2 && ((op == 1 && c <= 0) || (op == 2 && c >= 0) ||
					     (op == 3 && c < 0) || (op == 4 && c > 0)));
	}
	return a;
}

static json_t *parse_eq(struct p *p, int live)
{
	json_t *a = parse_rel(p, live), *b;
	while (a) {
		int ne, eq;
		if (peek2(p, "=="))
			ne = 0;
		else if (peek2(p, "!="))
			ne = 1;
		else
			break;
		p->pos += 2;
		b = parse_rel(p, live);
		if (!b) {
			json_decref(a);
			return NULL;
		}
		eq = live ? loose_eq(a, b) : 0;
		json_decref(a);
		json_decref(b);
		a = live ? json_boolean(ne ? !eq : eq) : json_null();
	}
	return a;
}

static json_t *parse_and(struct p *p, int live)
{
	json_t *a = parse_eq(p, live), *b;
	while (a && peek2(p, "&&")) {
		int take = live && wf__truthy(a);
		p->pos += 2;
		b = parse_eq(p, take);
		if (!b) {
			json_decref(a);
			return NULL;
		}
		if (take) {
			json_decref(a);
			a = b;
		} else {
			json_decref(b);
		}
	}
	return a;
}

static json_t *parse_or(struct p *p, int live)
{
	json_t *a, *b;
	if (++p->depth > EXPR_MAX_DEPTH)
		return fail(p, "expression nested too deeply%s", "");
	a = parse_and(p, live);
	while (a && peek2(p, "||")) {
		int take = live && !wf__truthy(a);
		p->pos += 2;
		b = parse_and(p, take);
		if (!b) {
			json_decref(a);
			a = NULL;
			break;
		}
		if (take) {
			json_decref(a);
			a = b;
		} else {
			json_decref(b);
		}
	}
	p->depth--;
	return a;
}

json_t *wf__expr_eval(const char *src, size_t len, const struct wf_expr_ctx *c, struct err *err)
{
	struct p p = {src, len, 0, c, err, 0};
	json_t *v;

	if (len > WF_MAX_EXPR) {
		err_set(err, ERR_TOOBIG, "expression longer than %u bytes", WF_MAX_EXPR);
		return NULL;
	}
	v = parse_or(&p, c != NULL);
	if (!v)
		return NULL;
	skip_ws(&p);
	if (p.pos < p.len) {
		char tmp[2] = {p.s[p.pos], 0};
		json_decref(v);
		return fail(&p, "unexpected '%s'", tmp);
	}
	return v;
}

int wf__expr_has_status(const char *src, size_t len)
{
	static const char *const names[] = {"success", "failure", "always", "cancelled"};
	size_t i, k;
	int q = 0;
	for (i = 0; i < len; i++) {
		if (src[i] == '\'') {
			q = !q;
			continue;
		}
		if (q || (i > 0 && (is_ident((unsigned char)src[i - 1]) || src[i - 1] == '.')))
			continue;
		for (k = 0; k < 4; k++) {
			size_t n = strlen(names[k]), j = i + n;
			if (len - i < n || strncasecmp(src + i, names[k], n) != 0)
				continue;
			while (j < len && isspace((unsigned char)src[j]))
				j++;
			if (j < len && src[j] == '(')
				return 1;
		}
	}
	return 0;
}

int wf__tmpl_next(const char *s, size_t len, size_t *pos, size_t *start, size_t *inner,
		  size_t *inner_len)
{
	size_t i = *pos, j;
	int q = 0;
	for (; i + 2 < len; i++)
		if (s[i] == '$' && s[i + 1] == '{' && s[i + 2] == '{')
			break;
	if (i + 2 >= len)
		return 0;
	for (j = i + 3; j < len; j++) {
		if (s[j] == '\'')
			q = !q;
		else if (!q && s[j] == '}' && j + 1 < len && s[j + 1] == '}')
			break;
	}
	*start = i;
	if (j >= len)
		return -1;
	*inner = i + 3;
	*inner_len = j - (i + 3);
	*pos = j + 2;
	return 1;
}

static int shift_err(struct err *err, size_t off)
{
	/* "position N: ..." inside ${{ }} becomes the offset in the whole string */
	size_t n;
	struct buf b = BUF_INIT;
	const char *colon;
	if (!err || sscanf(err->msg, "position %zu: ", &n) != 1 || !(colon = strchr(err->msg, ':')))
		return -1;
	if (buf_addf(&b, "position %zu%s", n + off, colon) == 0)
		snprintf(err->msg, sizeof(err->msg), "%s", b.ptr);
	buf_release(&b);
	return -1;
}

int wf__tmpl_str(const char *s, size_t len, const struct wf_expr_ctx *c, struct buf *out,
		 struct err *err)
{
	size_t pos = 0, last = 0, start = 0, in, inlen;
	int r;
	while ((r = wf__tmpl_next(s, len, &pos, &start, &in, &inlen)) == 1) {
		json_t *v;
		if (buf_add(out, s + last, start - last) < 0)
			return err_set(err, ERR_NOMEM, "out of memory");
		v = wf__expr_eval(s + in, inlen, c, err);
		if (!v)
			return shift_err(err, in);
		if (c && wf__to_str(v, out) < 0) {
			json_decref(v);
			return err_set(err, ERR_NOMEM, "out of memory");
		}
		json_decref(v);
		last = pos;
	}
	if (r < 0)
		return err_set(err, ERR_PARSE, "position %zu: '${{' is not closed", start + 1);
	if (buf_add(out, s + last, len - last) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

json_t *wf__tmpl_value(const char *s, size_t len, const struct wf_expr_ctx *c, struct err *err)
{
	size_t pos = 0, start = 0, in, inlen, a = 0, b = len;
	struct buf out = BUF_INIT;
	json_t *v;

	while (a < b && isspace((unsigned char)s[a]))
		a++;
	while (b > a && isspace((unsigned char)s[b - 1]))
		b--;
	pos = a;
	if (wf__tmpl_next(s, b, &pos, &start, &in, &inlen) == 1 && start == a && pos == b) {
		v = wf__expr_eval(s + in, inlen, c, err);
		if (!v)
			shift_err(err, in);
		return v;
	}
	if (wf__tmpl_str(s, len, c, &out, err) < 0) {
		buf_release(&out);
		return NULL;
	}
	v = json_stringn(out.ptr, out.len);
	buf_release(&out);
	if (!v)
		err_set(err, ERR_NOMEM, "out of memory or invalid UTF-8");
	return v;
}

json_t *wf__node_eval(const struct wf_node *n, const struct wf_expr_ctx *c, struct err *err)
{
	json_t *v = NULL;
	size_t i;

	if (n->kind == WF_NODE_SCALAR) {
		if (n->plain && !strstr(n->str, "${{"))
			return wf__node_json(n);
		return wf__tmpl_value(n->str, n->len, c, err);
	}
	if (n->kind == WF_NODE_SEQ) {
		v = json_array();
		for (i = 0; v && i < n->n; i++) {
			json_t *e = wf__node_eval(n->items[i], c, err);
			if (!e || json_array_append_new(v, e) < 0)
				goto fail;
		}
		return v ? v : (err_set(err, ERR_NOMEM, "out of memory"), NULL);
	}
	v = json_object();
	for (i = 0; v && i < n->n; i++) {
		struct buf k = BUF_INIT;
		json_t *e;
		if (wf__tmpl_str(n->items[2 * i]->str, n->items[2 * i]->len, c, &k, err) < 0) {
			buf_release(&k);
			goto fail;
		}
		e = wf__node_eval(n->items[2 * i + 1], c, err);
		if (!e || json_object_set_new(v, k.ptr, e) < 0) {
			buf_release(&k);
			goto fail;
		}
		buf_release(&k);
	}
	return v ? v : (err_set(err, ERR_NOMEM, "out of memory"), NULL);
fail:
	json_decref(v);
	err_set(err, ERR_NOMEM, "out of memory");
	return NULL;
}

int wf__cond(const char *s, const struct wf_expr_ctx *c, int *out, struct err *err)
{
	size_t len = strlen(s), pos = 0, start, in = 0, inlen, a = 0, b = len;
	const struct wf_expr_ctx *live = c;
	json_t *v;

	while (a < b && isspace((unsigned char)s[a]))
		a++;
	while (b > a && isspace((unsigned char)s[b - 1]))
		b--;
	pos = a;
	if (wf__tmpl_next(s, b, &pos, &start, &in, &inlen) == 1 && start == a && pos == b) {
		a = in;
		b = in + inlen;
	} else if (strstr(s, "${{")) {
		/* a condition mixing text and ${{ }}: GitHub evaluates the string */
		v = wf__tmpl_value(s, len, c, err);
		if (!v)
			return -1;
		*out = c ? wf__truthy(v) : 0;
		json_decref(v);
		return 0;
	} else {
		in = 0;
	}
	*out = 0;
	if (a == b) {
		*out = c && c->status == WF_ST_SUCCESS;
		return 0;
	}
	/* Without a status function the condition means success() && (cond). */
	if (!wf__expr_has_status(s + a, b - a) && c && c->status != WF_ST_SUCCESS)
		live = NULL; /* false, but the syntax is still checked */
	v = wf__expr_eval(s + a, b - a, live, err);
	if (!v)
		return shift_err(err, a);
	*out = live ? wf__truthy(v) : 0;
	json_decref(v);
	return 0;
}

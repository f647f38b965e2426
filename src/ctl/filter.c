/*
 * filter.c - the search filter and order_by strings of the MLflow REST API,
 * a documented subset: `metrics.acc > 0.9 and params.C = '1.0'`, a
 * conjunction of comparisons, into db_cond / db_order. Pure string work;
 * fuzzed through fuzz_ctl_request.
 */
#include "ctl/internal.h"

#include "base/mem.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void ctl__filter_release(struct ctl__filter *f)
{
	mem_free(f->buf);
	for (size_t i = 0; i < f->n_order; i++)
		mem_free(f->obuf[i]);
	memset(f, 0, sizeof(*f));
}

static void skip_space(char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
}

/*
 * Copies n bytes at s into the spare half of f->buf, NUL-terminated: tokens
 * that end where the next one starts ("name='x'") cannot be cut in place.
 */
static char *stash(struct ctl__filter *f, const char *s, size_t n)
{
	char *w = f->tail;
	memcpy(w, s, n);
	w[n] = '\0';
	f->tail += n + 1;
	return w;
}

/* Reads a quoted token (quote char q) in place: returns its start, NUL-terminated. */
static char *quoted(char **p, struct err *err)
{
	char q = **p, *start = ++(*p), *w = start;
	for (;;) {
		if (!**p) {
			err_set(err, ERR_INVALID, "Invalid filter: unterminated %c", q);
			return NULL;
		}
		if (**p == q) {
			/* A doubled quote stands for itself (SQL). */
			if ((*p)[1] == q) {
				*w++ = q;
				*p += 2;
				continue;
			}
			(*p)++;
			break;
		}
		*w++ = *(*p)++;
	}
	*w = '\0';
	return start;
}

/* An identifier: [prefix.]key, the key possibly quoted. */
static int ident(struct ctl__filter *f, char **p, enum db_field *field, char **key, struct err *err)
{
	static const struct {
		const char *name;
		enum db_field f;
	} prefixes[] = {{"metrics", DB_FIELD_METRIC},	{"metric", DB_FIELD_METRIC},
			{"params", DB_FIELD_PARAM},	{"param", DB_FIELD_PARAM},
			{"parameters", DB_FIELD_PARAM}, {"tags", DB_FIELD_TAG},
			{"tag", DB_FIELD_TAG},		{"attributes", DB_FIELD_ATTR},
			{"attribute", DB_FIELD_ATTR},	{"attr", DB_FIELD_ATTR},
			{"run", DB_FIELD_ATTR}};
	char *start = *p;
	size_t n;
	*field = DB_FIELD_ATTR;
	*key = NULL;
	if (**p == '"' || **p == '`') {
		*key = quoted(p, err);
		return *key ? 0 : -1;
	}
	while (isalnum((unsigned char)**p) || **p == '_')
		(*p)++;
	n = (size_t)(*p - start);
	if (n == 0)
		return err_set(err, ERR_INVALID, "Invalid filter: expected a name at '%.32s'",
			       start);
	if (**p == '.') {
		size_t i;
		for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
			if (strlen(prefixes[i].name) == n &&
			    strncasecmp(prefixes[i].name, start, n) == 0)
				break;
		if (i == sizeof(prefixes) / sizeof(prefixes[0]))
			return err_set(err, ERR_INVALID, "Invalid filter: unknown entity '%.*s'",
				       (int)n, start);
		*field = prefixes[i].f;
		(*p)++;
		if (**p == '"' || **p == '`') {
			*key = quoted(p, err);
			return *key ? 0 : -1;
		}
		start = *p;
		while (**p && (isalnum((unsigned char)**p) || strchr("_-./:", **p)))
			(*p)++;
		if (*p == start)
			return err_set(err, ERR_INVALID, "Invalid filter: empty key");
	}
	*key = stash(f, start, (size_t)(*p - start));
	return 0;
}

static int op(char **p, enum db_op *out, struct err *err)
{
	static const struct {
		const char *s;
		enum db_op op;
	} ops[] = {{"!=", DB_OP_NE},	 {">=", DB_OP_GE},	{"<=", DB_OP_LE},
		   {"=", DB_OP_EQ},	 {">", DB_OP_GT},	{"<", DB_OP_LT},
		   {"LIKE", DB_OP_LIKE}, {"ILIKE", DB_OP_ILIKE}};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t n = strlen(ops[i].s);
		if (strncasecmp(*p, ops[i].s, n) != 0)
			continue;
		if (isalpha((unsigned char)ops[i].s[0]) && isalnum((unsigned char)(*p)[n]))
			continue;
		*p += n;
		*out = ops[i].op;
		return 0;
	}
	return err_set(err, ERR_INVALID, "Invalid filter: expected an operator at '%.32s'", *p);
}

static int value(struct ctl__filter *f, char **p, struct db_cond *c, struct err *err)
{
	char *start = *p, *end;
	if (**p == '\'' || **p == '"') {
		c->str = quoted(p, err);
		return c->str ? 0 : -1;
	}
	c->num = strtod(start, &end);
	if (end == start)
		return err_set(err, ERR_INVALID, "Invalid filter: expected a value at '%.32s'",
			       start);
	*p = end;
	c->str = stash(f, start, (size_t)(end - start));
	return 0;
}

int ctl__filter_parse(struct ctl__filter *f, const char *filter, struct err *err)
{
	char *p;
	size_t len;
	memset(f, 0, sizeof(*f));
	if (!filter)
		return 0;
	len = strlen(filter);
	/* The filter, then room for a copy of every byte plus a NUL per token. */
	f->buf = mem_malloc(3 * len + 2);
	if (!f->buf)
		return err_set(err, ERR_NOMEM, "out of memory");
	memcpy(f->buf, filter, len + 1);
	f->tail = f->buf + len + 1;
	p = f->buf;
	skip_space(&p);
	while (*p) {
		struct db_cond *c;
		char *key;
		int numeric;
		if (f->n == CTL_MAX_CONDS)
			return err_set(err, ERR_INVALID, "Invalid filter: more than %d conditions",
				       CTL_MAX_CONDS);
		c = &f->cond[f->n];
		memset(c, 0, sizeof(*c));
		if (ident(f, &p, &c->field, &key, err) < 0)
			return -1;
		c->key = key;
		skip_space(&p);
		if (op(&p, &c->op, err) < 0)
			return -1;
		skip_space(&p);
		numeric = *p != '\'' && *p != '"';
		if (value(f, &p, c, err) < 0)
			return -1;
		if (numeric) {
			if (*p && *p != ' ' && *p != '\t')
				return err_set(err, ERR_INVALID,
					       "Invalid filter: bad number '%.32s'", c->str);
			if (c->op == DB_OP_LIKE || c->op == DB_OP_ILIKE)
				return err_set(err, ERR_INVALID,
					       "Invalid filter: LIKE needs a string value");
		} else if (c->field == DB_FIELD_METRIC) {
			return err_set(err, ERR_INVALID,
				       "Invalid filter: metric '%s' compares with a number",
				       c->key);
		}
		f->n++;
		skip_space(&p);
		if (!*p)
			break;
		if (strncasecmp(p, "and", 3) != 0 || !isspace((unsigned char)p[3]))
			return err_set(err, ERR_INVALID,
				       "Invalid filter: expected 'and' at '%.32s' (only 'and' is "
				       "supported)",
				       p);
		p += 3;
		skip_space(&p);
		if (!*p)
			return err_set(err, ERR_INVALID,
				       "Invalid filter: condition expected after 'and'");
	}
	return 0;
}

int ctl__order_parse(struct ctl__filter *f, const char *item, struct err *err)
{
	struct db_order *o;
	char *copy, *p, *key = NULL, *saved_tail;
	int rc;
	if (f->n_order == CTL_MAX_LIST)
		return err_set(err, ERR_INVALID, "too many order_by items");
	copy = mem_malloc(3 * strlen(item) + 2);
	if (!copy)
		return err_set(err, ERR_NOMEM, "out of memory");
	memcpy(copy, item, strlen(item) + 1);
	f->obuf[f->n_order] = copy;
	o = &f->order[f->n_order++];
	memset(o, 0, sizeof(*o));
	p = copy;
	saved_tail = f->tail;
	f->tail = copy + strlen(item) + 1;
	skip_space(&p);
	rc = ident(f, &p, &o->field, &key, err);
	f->tail = saved_tail;
	if (rc < 0 || !key)
		return -1;
	skip_space(&p);
	if (strncasecmp(p, "DESC", 4) == 0) {
		o->desc = 1;
		p += 4;
	} else if (strncasecmp(p, "ASC", 3) == 0) {
		p += 3;
	}
	skip_space(&p);
	if (*p)
		return err_set(err, ERR_INVALID, "Invalid order_by clause '%.64s'", item);
	o->key = key;
	if (o->field == DB_FIELD_PARAM || o->field == DB_FIELD_TAG)
		return err_set(err, ERR_INVALID,
			       "Invalid order_by clause '%.64s': order by attributes or metrics",
			       item);
	return 0;
}

int ctl__search_parse(struct ctl__call *call, struct ctl__filter *f, struct err *err)
{
	const char *order[CTL_MAX_LIST];
	size_t n = 0;
	if (ctl__filter_parse(f, ctl__arg(call, "filter"), err) < 0 ||
	    ctl__list(call, "order_by", order, CTL_MAX_LIST, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (ctl__order_parse(f, order[i], err) < 0)
			return -1;
	return 0;
}

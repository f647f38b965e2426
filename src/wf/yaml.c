/*
 * yaml.c - YAML text to the engine's node tree (libyaml does the parsing).
 * Keeps line:col marks and whether a scalar was plain. Aliases are expanded
 * with a node budget and a depth limit, so "billion laughs" and self-
 * referencing anchors fail cleanly instead of exhausting memory.
 */
#include "wf/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

struct conv {
	struct wf__arena *a;
	yaml_document_t *doc;
	const char *file;
	size_t budget;
	struct err *err;
};

static struct wf_node *conv_node(struct conv *cv, yaml_node_t *yn, int depth)
{
	struct wf_node *n;
	size_t i = 0;

	if (depth > WF_MAX_DEPTH) {
		err_set(cv->err, ERR_PARSE, "%s:%zu:%zu: nesting deeper than %d levels", cv->file,
			yn->start_mark.line + 1, yn->start_mark.column + 1, WF_MAX_DEPTH);
		return NULL;
	}
	if (cv->budget == 0) {
		err_set(cv->err, ERR_TOOBIG, "%s:%zu:%zu: more than %d nodes (aliases?)", cv->file,
			yn->start_mark.line + 1, yn->start_mark.column + 1, WF_MAX_NODES);
		return NULL;
	}
	cv->budget--;
	n = wf__arena_alloc(cv->a, sizeof(*n));
	if (!n)
		goto nomem;
	n->line = (int)yn->start_mark.line + 1;
	n->col = (int)yn->start_mark.column + 1;
	switch (yn->type) {
	case YAML_SCALAR_NODE:
		n->kind = WF_NODE_SCALAR;
		n->plain = yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->len = yn->data.scalar.length;
		n->str = wf__arena_strndup(cv->a, (const char *)yn->data.scalar.value, n->len);
		if (!n->str)
			goto nomem;
		return n;
	case YAML_SEQUENCE_NODE: {
		yaml_node_item_t *it;
		size_t cnt = (size_t)(yn->data.sequence.items.top - yn->data.sequence.items.start);
		n->kind = WF_NODE_SEQ;
		n->items = wf__arena_alloc(cv->a, (cnt ? cnt : 1) * sizeof(struct wf_node *));
		if (!n->items)
			goto nomem;
		for (it = yn->data.sequence.items.start; it < yn->data.sequence.items.top; it++) {
			yaml_node_t *c = yaml_document_get_node(cv->doc, *it);
			if (!c || !(n->items[i++] = conv_node(cv, c, depth + 1)))
				return NULL;
		}
		n->n = cnt;
		return n;
	}
	case YAML_MAPPING_NODE: {
		yaml_node_pair_t *p;
		size_t cnt = (size_t)(yn->data.mapping.pairs.top - yn->data.mapping.pairs.start);
		n->kind = WF_NODE_MAP;
		if (cnt > 4096) {
			/* Duplicate-key detection is quadratic; no workflow needs this. */
			err_set(cv->err, ERR_TOOBIG, "%s:%d:%d: mapping with more than 4096 keys",
				cv->file, n->line, n->col);
			return NULL;
		}
		n->items = wf__arena_alloc(cv->a, (cnt ? 2 * cnt : 1) * sizeof(struct wf_node *));
		if (!n->items)
			goto nomem;
		for (p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(cv->doc, p->key);
			yaml_node_t *v = yaml_document_get_node(cv->doc, p->value);
			struct wf_node *kn;
			size_t j;
			if (!k || !v || !(kn = conv_node(cv, k, depth + 1)))
				return NULL;
			if (kn->kind != WF_NODE_SCALAR) {
				err_set(cv->err, ERR_PARSE,
					"%s:%d:%d: a mapping key must be a scalar", cv->file,
					kn->line, kn->col);
				return NULL;
			}
			for (j = 0; j < i; j += 2) {
				if (strcmp(n->items[j]->str, kn->str) == 0) {
					err_set(cv->err, ERR_PARSE, "%s:%d:%d: duplicate key '%s'",
						cv->file, kn->line, kn->col, kn->str);
					return NULL;
				}
			}
			n->items[i++] = kn;
			if (!(n->items[i++] = conv_node(cv, v, depth + 1)))
				return NULL;
		}
		n->n = cnt;
		return n;
	}
	default:
		err_set(cv->err, ERR_PARSE, "%s:%d:%d: empty node", cv->file, n->line, n->col);
		return NULL;
	}
nomem:
	err_set(cv->err, ERR_NOMEM, "out of memory");
	return NULL;
}

struct wf_node *wf__yaml_load(struct wf__arena *a, const char *text, size_t len, const char *file,
			      struct err *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct wf_node *root = NULL;
	yaml_node_t *yroot;
	struct conv cv;
	int have_doc = 0;

	if (!yaml_parser_initialize(&parser)) {
		err_set(err, ERR_NOMEM, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		const char *what = parser.problem ? parser.problem : "invalid YAML";
		yaml_mark_t m = parser.problem_mark;
		if (parser.error == YAML_MEMORY_ERROR)
			err_set(err, ERR_NOMEM, "out of memory");
		else
			err_set(err, ERR_PARSE, "%s:%zu:%zu: %s%s%s", file, m.line + 1,
				m.column + 1, what, parser.context ? " " : "",
				parser.context ? parser.context : "");
		goto out;
	}
	have_doc = 1;
	yroot = yaml_document_get_root_node(&doc);
	if (!yroot) {
		err_set(err, ERR_PARSE, "%s:1:1: empty workflow file", file);
		goto out;
	}
	cv.a = a;
	cv.doc = &doc;
	cv.file = file;
	cv.budget = WF_MAX_NODES;
	cv.err = err;
	root = conv_node(&cv, yroot, 0);
out:
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return root;
}

struct wf_node *wf__map_get(const struct wf_node *map, const char *key)
{
	size_t i;
	if (!map || map->kind != WF_NODE_MAP)
		return NULL;
	for (i = 0; i < map->n; i++)
		if (strcmp(map->items[2 * i]->str, key) == 0)
			return map->items[2 * i + 1];
	return NULL;
}

int wf__node_is_null(const struct wf_node *n)
{
	if (!n)
		return 1;
	if (n->kind != WF_NODE_SCALAR || !n->plain)
		return 0;
	return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
	       strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

static json_t *scalar_json(const struct wf_node *n)
{
	const char *s = n->str;
	char *end;

	if (!n->plain)
		return json_stringn(s, n->len);
	if (wf__node_is_null(n))
		return json_null();
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
		return json_true();
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
		return json_false();
	if (*s && strspn(s, "+-0123456789") == n->len && n->len < 19) {
		long long v;
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0')
			return json_integer(v);
	}
	if (*s && strspn(s, "+-0123456789.eE") == n->len && strpbrk(s, "0123456789")) {
		double d;
		errno = 0;
		d = strtod(s, &end);
		if (errno == 0 && *end == '\0')
			return json_real(d);
	}
	return json_stringn(s, n->len);
}

json_t *wf__node_json(const struct wf_node *n)
{
	json_t *v = NULL;
	size_t i;

	if (n->kind == WF_NODE_SCALAR)
		return scalar_json(n);
	if (n->kind == WF_NODE_SEQ) {
		v = json_array();
		for (i = 0; v && i < n->n; i++) {
			json_t *c = wf__node_json(n->items[i]);
			if (!c || json_array_append_new(v, c) < 0) {
				json_decref(v);
				return NULL;
			}
		}
		return v;
	}
	v = json_object();
	for (i = 0; v && i < n->n; i++) {
		json_t *c = wf__node_json(n->items[2 * i + 1]);
		if (!c || json_object_set_new(v, n->items[2 * i]->str, c) < 0) {
			json_decref(v);
			return NULL;
		}
	}
	return v;
}

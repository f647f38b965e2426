/*
 * plan.c - what runs before any step does: strategy.matrix expansion
 * (product, exclude, include as GitHub documents them), the inputs context
 * of workflow_dispatch / workflow_call, and the check that every `uses:` is
 * one kiln provides. Pure: values in, values out.
 */
#include "wf/internal.h"

#include <stdlib.h>
#include <string.h>

static int matches(const json_t *combo, const json_t *entry, const json_t *only_keys)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)entry, k, v)
	{
		json_t *have;
		if (only_keys && !json_object_get(only_keys, k))
			continue;
		have = json_object_get(combo, k);
		if (!have || !json_equal(have, v))
			return 0;
	}
	return 1;
}

json_t *wf__matrix_expand(const json_t *m, struct err *err)
{
	json_t *combos = json_array(), *keys = json_object(), *extra = json_array();
	json_t *inc, *exc, *v, *res = NULL;
	const char *k;
	size_t i, j;

	if (!combos || !keys || !extra)
		goto oom;
	if (!json_is_object(m)) {
		err_set(err, ERR_INVALID, "strategy.matrix must be a mapping");
		goto out;
	}
	if (json_array_append_new(combos, json_object()) < 0)
		goto oom;
	json_object_foreach((json_t *)m, k, v)
	{
		json_t *next;
		if (strcmp(k, "include") == 0 || strcmp(k, "exclude") == 0)
			continue;
		if (!json_is_array(v)) {
			err_set(err, ERR_INVALID, "matrix key '%s' must be a list", k);
			goto out;
		}
		if (json_array_size(v) == 0) {
			err_set(err, ERR_INVALID, "matrix vector '%s' has no values", k);
			goto out;
		}
		if (json_object_set(keys, k, json_true()) < 0)
			goto oom;
		next = json_array();
		if (!next)
			goto oom;
		for (i = 0; i < json_array_size(combos); i++) {
			for (j = 0; j < json_array_size(v); j++) {
				json_t *c = json_copy(json_array_get(combos, i));
				if (!c || json_object_set(c, k, json_array_get(v, j)) < 0 ||
				    json_array_append_new(next, c) < 0) {
					json_decref(c);
					json_decref(next);
					goto oom;
				}
			}
			if (json_array_size(next) > WF_MAX_MATRIX) {
				json_decref(next);
				err_set(err, ERR_TOOBIG, "matrix has more than %d combinations",
					WF_MAX_MATRIX);
				goto out;
			}
		}
		json_decref(combos);
		combos = next;
	}
	if (json_object_size(keys) == 0)
		json_array_clear(combos);
	exc = json_object_get(m, "exclude");
	for (i = 0; json_is_array(exc) && i < json_array_size(exc); i++) {
		json_t *e = json_array_get(exc, i);
		if (!json_is_object(e))
			continue;
		for (j = json_array_size(combos); j-- > 0;)
			if (matches(json_array_get(combos, j), e, NULL))
				json_array_remove(combos, j);
	}
	inc = json_object_get(m, "include");
	for (i = 0; json_is_array(inc) && i < json_array_size(inc); i++) {
		json_t *e = json_array_get(inc, i);
		int used = 0;
		if (!json_is_object(e)) {
			err_set(err, ERR_INVALID, "matrix include entries must be mappings");
			goto out;
		}
		for (j = 0; json_object_size(keys) && j < json_array_size(combos); j++) {
			json_t *c = json_array_get(combos, j);
			if (matches(c, e, keys)) {
				if (json_object_update(c, e) < 0)
					goto oom;
				used = 1;
			}
		}
		if (!used && json_array_append_new(extra, json_copy(e)) < 0)
			goto oom;
	}
	if (json_array_extend(combos, extra) < 0)
		goto oom;
	if (json_array_size(combos) == 0) {
		err_set(err, ERR_INVALID, "the matrix has no combinations");
		goto out;
	}
	if (json_array_size(combos) > WF_MAX_MATRIX) {
		err_set(err, ERR_TOOBIG, "matrix has more than %d combinations", WF_MAX_MATRIX);
		goto out;
	}
	res = combos;
	combos = NULL;
	goto out;
oom:
	err_set(err, ERR_NOMEM, "out of memory");
out:
	json_decref(combos);
	json_decref(keys);
	json_decref(extra);
	return res;
}

/* A value converted to an input's declared type (boolean, number, string). */
static json_t *typed(const char *type, json_t *v)
{
	if (type && strcmp(type, "boolean") == 0 && json_is_string(v)) {
		if (strcmp(json_string_value(v), "true") == 0)
			return json_true();
		if (strcmp(json_string_value(v), "false") == 0)
			return json_false();
	}
	if (type && strcmp(type, "number") == 0 && json_is_string(v)) {
		char *end;
		double d = strtod(json_string_value(v), &end);
		if (*end == '\0' && end != json_string_value(v))
			return d == (double)(json_int_t)d ? json_integer((json_int_t)d)
							  : json_real(d);
	}
	return json_incref(v);
}

/* 1 when a declaration (input or secret) says required: true. */
static int required(const struct wf_node *d)
{
	const struct wf_node *r = d && d->kind == WF_NODE_MAP ? wf__map_get(d, "required") : NULL;
	return r && r->kind == WF_NODE_SCALAR && strcmp(r->str, "true") == 0;
}

json_t *wf__inputs(const struct wf *wf, const char *event, const json_t *payload,
		   const json_t *given, const struct wf_expr_ctx *c, struct err *err)
{
	const struct wf_node *ev = NULL, *decl = NULL;
	json_t *out = json_object(), *from_event;
	size_t i;

	if (!out) {
		err_set(err, ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (wf->on->kind == WF_NODE_MAP)
		ev = wf__map_get(wf->on, event);
	if (ev)
		decl = wf__map_get(ev, "inputs");
	from_event = json_object_get(payload, "inputs");
	for (i = 0; decl && decl->kind == WF_NODE_MAP && i < decl->n; i++) {
		const char *name = decl->items[2 * i]->str;
		const struct wf_node *d = decl->items[2 * i + 1];
		const struct wf_node *t = wf__map_get(d, "type"), *def = wf__map_get(d, "default");
		const char *type = t && t->kind == WF_NODE_SCALAR ? t->str : NULL;
		json_t *v = json_object_get(given, name), *val = NULL;
		if (!v)
			v = json_object_get(from_event, name);
		if (!v && !def && required(d)) {
			json_decref(out);
			err_set(err, ERR_INVALID,
				"%s:%d:%d: %s: the required input '%s' is missing", wf->path,
				decl->items[2 * i]->line, decl->items[2 * i]->col, event, name);
			return NULL;
		}
		if (v) {
			val = typed(type, v);
		} else if (def && def->kind == WF_NODE_SCALAR && strstr(def->str, "${{")) {
			json_t *dv = wf__tmpl_value(def->str, def->len, c, err);
			if (!dv) {
				json_decref(out);
				return NULL;
			}
			val = json_is_string(dv) ? typed(type, dv) : json_incref(dv);
			json_decref(dv);
		} else if (def) {
			json_t *dv = wf__node_json(def);
			if (dv) {
				json_t *ds = json_is_string(dv) ? dv : NULL;
				val = ds ? typed(type, ds) : json_incref(dv);
				json_decref(dv);
			}
		} else if (type && strcmp(type, "boolean") == 0) {
			val = json_false();
		} else {
			val = json_string("");
		}
		if (!val || json_object_set_new(out, name, val) < 0) {
			json_decref(out);
			err_set(err, ERR_NOMEM, "out of memory");
			return NULL;
		}
	}
	/* undeclared values from the payload and the command line pass through */
	if (json_is_object(from_event) && json_object_update_missing(out, from_event) < 0)
		goto oom;
	if (json_is_object(given)) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)given, k, v)
		{
			if (!json_object_get(out, k) && json_object_set(out, k, v) < 0)
				goto oom;
		}
	}
	return out;
oom:
	json_decref(out);
	err_set(err, ERR_NOMEM, "out of memory");
	return NULL;
}

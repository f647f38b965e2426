/*
 * parse.c - a workflow file's YAML tree to struct wf, validated before
 * anything runs: unknown keys, wrong types, `uses` with `run`, job ids,
 * missing or cyclic needs and the syntax of every ${{ }} expression, each
 * reported as file:line:col. Evaluation happens later, in exec.c.
 */
#include "wf/internal.h"

#include "base/buf.h"
#include "base/mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ps {
	struct wf__arena *a;
	const char *file;
	struct err *err;
};

static int bad(struct ps *ps, const struct wf_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(struct ps *ps, const struct wf_node *n, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(ps->err, ERR_PARSE, "%s:%d:%d: %s", ps->file, n ? n->line : 1,
		       n ? n->col : 1, msg);
}

static const char *kind_name(const struct wf_node *n)
{
	return n->kind == WF_NODE_MAP	? "a mapping"
	       : n->kind == WF_NODE_SEQ ? "a sequence"
					: "a scalar";
}

static int want(struct ps *ps, const struct wf_node *n, int kind, const char *what)
{
	static const char *const names[] = {"a scalar", "a sequence", "a mapping"};
	char msg[200];
	if (n->kind == kind)
		return 0;
	snprintf(msg, sizeof(msg), "'%s' must be %s, not %s", what, names[kind], kind_name(n));
	return bad(ps, n, "%s", msg);
}

/* Checks every key of map against a NULL-terminated list. */
static int known_keys(struct ps *ps, const struct wf_node *map, const char *const *keys,
		      const char *where)
{
	size_t i, k;
	for (i = 0; i < map->n; i++) {
		const struct wf_node *key = map->items[2 * i];
		for (k = 0; keys[k]; k++)
			if (strcmp(keys[k], key->str) == 0)
				break;
		if (!keys[k]) {
			char msg[300];
			snprintf(msg, sizeof(msg), "unknown key '%.100s' in %s", key->str, where);
			return bad(ps, key, "%s", msg);
		}
	}
	return 0;
}

/* Syntax of every ${{ }} in a scalar; position inside the scalar when it is one line. */
static int check_tmpl(struct ps *ps, const struct wf_node *n)
{
	struct err e = ERR_INIT;
	size_t pos = 0, start, in, inlen;
	int r;

	while ((r = wf__tmpl_next(n->str, n->len, &pos, &start, &in, &inlen)) == 1) {
		json_t *v = wf__expr_eval(n->str + in, inlen, NULL, &e);
		if (!v) {
			char msg[700];
			snprintf(msg, sizeof(msg), "invalid expression '%.*s': %s",
				 (int)(inlen < 80 ? inlen : 80), n->str + in, e.msg);
			return bad(ps, n, "%s", msg);
		}
		json_decref(v);
	}
	if (r < 0)
		return bad(ps, n, "'${{' without a closing '}}'");
	return 0;
}

/* Checks the expressions of every scalar under n. */
static int check_tree(struct ps *ps, const struct wf_node *n)
{
	size_t i;
	if (n->kind == WF_NODE_SCALAR)
		return check_tmpl(ps, n);
	for (i = 0; i < (n->kind == WF_NODE_MAP ? 2 * n->n : n->n); i++)
		if (check_tree(ps, n->items[i]) < 0)
			return -1;
	return 0;
}

static int check_cond(struct ps *ps, const struct wf_node *n)
{
	struct err e = ERR_INIT;
	int dummy;
	if (wf__cond(n->str, NULL, &dummy, &e) < 0) {
		char msg[700];
		snprintf(msg, sizeof(msg), "invalid condition '%.80s': %s", n->str, e.msg);
		return bad(ps, n, "%s", msg);
	}
	return 0;
}

/* A scalar's text, after checking it is a scalar. */
static int scalar(struct ps *ps, const struct wf_node *n, const char *what, const char **out)
{
	if (want(ps, n, WF_NODE_SCALAR, what) < 0)
		return -1;
	*out = n->str;
	return 0;
}

/* A map of name: scalar (env, outputs, with). */
static int scalar_map(struct ps *ps, const struct wf_node *n, const char *what)
{
	size_t i;
	if (wf__node_is_null(n))
		return 0;
	if (n->kind == WF_NODE_SCALAR && strstr(n->str, "${{"))
		return check_tmpl(ps, n); /* env: ${{ fromJSON(...) }} */
	if (want(ps, n, WF_NODE_MAP, what) < 0)
		return -1;
	for (i = 0; i < n->n; i++) {
		const struct wf_node *v = n->items[2 * i + 1];
		if (v->kind != WF_NODE_SCALAR) {
			char msg[200];
			snprintf(msg, sizeof(msg), "'%s.%.80s' must be a scalar", what,
				 n->items[2 * i]->str);
			return bad(ps, v, "%s", msg);
		}
		if (check_tmpl(ps, v) < 0)
			return -1;
	}
	return 0;
}

/* A number, a boolean or an expression (timeout-minutes, continue-on-error...). */
static int scalar_expr(struct ps *ps, const struct wf_node *n, const char *what, int boolean)
{
	if (want(ps, n, WF_NODE_SCALAR, what) < 0)
		return -1;
	if (strstr(n->str, "${{"))
		return check_tmpl(ps, n);
	if (boolean) {
		if (strcmp(n->str, "true") != 0 && strcmp(n->str, "false") != 0)
			return bad(ps, n, "'%s' must be true, false or an expression", what);
	} else {
		char *end;
		errno = 0;
		(void)strtod(n->str, &end);
		if (!n->len || *end || errno)
			return bad(ps, n, "'%s' must be a number or an expression", what);
	}
	return 0;
}

static int parse_defaults(struct ps *ps, const struct wf_node *n, const char **shell,
			  const char **wd)
{
	static const char *const dkeys[] = {"run", NULL};
	static const char *const rkeys[] = {"shell", "working-directory", NULL};
	const struct wf_node *run, *v;

	if (want(ps, n, WF_NODE_MAP, "defaults") < 0 || known_keys(ps, n, dkeys, "defaults") < 0)
		return -1;
	run = wf__map_get(n, "run");
	if (!run)
		return 0;
	if (want(ps, run, WF_NODE_MAP, "defaults.run") < 0 ||
	    known_keys(ps, run, rkeys, "defaults.run") < 0)
		return -1;
	if ((v = wf__map_get(run, "shell")) && scalar(ps, v, "shell", shell) < 0)
		return -1;
	if ((v = wf__map_get(run, "working-directory")) &&
	    (scalar(ps, v, "working-directory", wd) < 0 || check_tmpl(ps, v) < 0))
		return -1;
	return 0;
}

static int parse_step(struct ps *ps, const struct wf_node *n, size_t idx, struct wf_step *s)
{
	static const char *const keys[] = {"id",
					   "if",
					   "name",
					   "uses",
					   "run",
					   "working-directory",
					   "shell",
					   "with",
					   "env",
					   "continue-on-error",
					   "timeout-minutes",
					   NULL};
	const struct wf_node *v;
	char where[64];

	snprintf(where, sizeof(where), "step %zu", idx);
	if (wf__node_is_null(n))
		return bad(ps, n, "step %s is empty: it needs 'run' or 'uses'", where + 5);
	if (want(ps, n, WF_NODE_MAP, where) < 0 || known_keys(ps, n, keys, where) < 0)
		return -1;
	s->line = n->line;
	s->col = n->col;
	if ((v = wf__map_get(n, "id"))) {
		size_t i;
		if (scalar(ps, v, "id", &s->id) < 0)
			return -1;
		if (!v->len || !(isalpha((unsigned char)v->str[0]) || v->str[0] == '_'))
			return bad(ps, v, "invalid step id '%s'", v->str);
		for (i = 0; i < v->len; i++)
			if (!(isalnum((unsigned char)v->str[i]) || v->str[i] == '_' ||
			      v->str[i] == '-'))
				return bad(ps, v, "invalid step id '%s'", v->str);
	}
	if ((v = wf__map_get(n, "name")) &&
	    (scalar(ps, v, "name", &s->name) < 0 || check_tmpl(ps, v) < 0))
		return -1;
	if ((v = wf__map_get(n, "if")) &&
	    (scalar(ps, v, "if", &s->if_) < 0 || check_cond(ps, v) < 0))
		return -1;
	if ((v = wf__map_get(n, "run")) &&
	    (scalar(ps, v, "run", &s->run) < 0 || check_tmpl(ps, v) < 0))
		return -1;
	if ((v = wf__map_get(n, "uses")) && scalar(ps, v, "uses", &s->uses) < 0)
		return -1;
	if (s->run && s->uses)
		return bad(ps, n, "%s has both 'run' and 'uses'; a step is one or the other",
			   where);
	if (!s->run && !s->uses)
		return bad(ps, n, "%s needs 'run' or 'uses'", where);
	if ((v = wf__map_get(n, "shell")) && scalar(ps, v, "shell", &s->shell) < 0)
		return -1;
	if ((v = wf__map_get(n, "working-directory")) &&
	    (scalar(ps, v, "working-directory", &s->working_directory) < 0 ||
	     check_tmpl(ps, v) < 0))
		return -1;
	if ((v = wf__map_get(n, "with"))) {
		if (scalar_map(ps, v, "with") < 0)
			return -1;
		s->with = v;
	}
	if ((v = wf__map_get(n, "env"))) {
		if (scalar_map(ps, v, "env") < 0)
			return -1;
		s->env = v;
	}
	if ((v = wf__map_get(n, "continue-on-error"))) {
		if (scalar_expr(ps, v, "continue-on-error", 1) < 0)
			return -1;
		s->continue_on_error = v;
	}
	if ((v = wf__map_get(n, "timeout-minutes"))) {
		if (scalar_expr(ps, v, "timeout-minutes", 0) < 0)
			return -1;
		s->timeout_minutes = v;
	}
	return 0;
}

static int valid_id(const char *s)
{
	size_t i;
	if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; s[i]; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static int parse_strategy(struct ps *ps, const struct wf_node *n, struct wf_job *j)
{
	static const char *const keys[] = {"matrix", "fail-fast", "max-parallel", NULL};
	const struct wf_node *v;

	if (n->kind == WF_NODE_SCALAR && strstr(n->str, "${{")) {
		if (check_tmpl(ps, n) < 0)
			return -1;
		j->strategy = n;
		return 0;
	}
	if (want(ps, n, WF_NODE_MAP, "strategy") < 0 || known_keys(ps, n, keys, "strategy") < 0)
		return -1;
	j->strategy = n;
	if ((v = wf__map_get(n, "matrix"))) {
		if (v->kind == WF_NODE_SEQ)
			return bad(ps, v, "'strategy.matrix' must be a mapping or an expression");
		if (v->kind == WF_NODE_SCALAR && !strstr(v->str, "${{"))
			return bad(ps, v, "'strategy.matrix' must be a mapping or an expression");
		if (check_tree(ps, v) < 0)
			return -1;
		if (v->kind == WF_NODE_MAP) {
			size_t i;
			for (i = 0; i < v->n; i++) {
				const struct wf_node *k = v->items[2 * i],
						     *val = v->items[2 * i + 1];
				int ok = val->kind == WF_NODE_SEQ ||
					 (val->kind == WF_NODE_SCALAR && strstr(val->str, "${{"));
				if (strcmp(k->str, "include") == 0 ||
				    strcmp(k->str, "exclude") == 0)
					ok = ok || wf__node_is_null(val);
				if (!ok)
					return bad(ps, val,
						   "matrix key '%.80s' must be a sequence or an "
						   "expression",
						   k->str);
			}
		}
		j->matrix = v;
	}
	if ((v = wf__map_get(n, "fail-fast"))) {
		if (scalar_expr(ps, v, "fail-fast", 1) < 0)
			return -1;
		j->fail_fast = v;
	}
	if ((v = wf__map_get(n, "max-parallel"))) {
		if (scalar_expr(ps, v, "max-parallel", 0) < 0)
			return -1;
		j->max_parallel = v;
	}
	return 0;
}

static int parse_needs(struct ps *ps, const struct wf_node *n, struct wf_job *j)
{
	size_t i;
	if (n->kind == WF_NODE_SCALAR) {
		j->needs = wf__arena_alloc(ps->a, sizeof(*j->needs));
		if (!j->needs)
			return err_set(ps->err, ERR_NOMEM, "out of memory");
		j->needs[0] = n->str;
		j->n_needs = 1;
		return 0;
	}
	if (want(ps, n, WF_NODE_SEQ, "needs") < 0)
		return -1;
	j->needs = wf__arena_alloc(ps->a, (n->n ? n->n : 1) * sizeof(*j->needs));
	if (!j->needs)
		return err_set(ps->err, ERR_NOMEM, "out of memory");
	for (i = 0; i < n->n; i++)
		if (scalar(ps, n->items[i], "needs", &j->needs[i]) < 0)
			return -1;
	j->n_needs = n->n;
	return 0;
}

/* concurrency: a group name (a template) or {group, cancel-in-progress}. */
static int parse_concurrency(struct ps *ps, const struct wf_node *n, const struct wf_node **out)
{
	static const char *const keys[] = {"group", "cancel-in-progress", NULL};
	const struct wf_node *g, *c;
	if (n->kind == WF_NODE_SCALAR) {
		if (check_tmpl(ps, n) < 0)
			return -1;
		*out = n;
		return 0;
	}
	if (want(ps, n, WF_NODE_MAP, "concurrency") < 0 ||
	    known_keys(ps, n, keys, "concurrency") < 0)
		return -1;
	g = wf__map_get(n, "group");
	if (!g)
		return bad(ps, n, "concurrency: 'group' is required");
	if (want(ps, g, WF_NODE_SCALAR, "concurrency.group") < 0 || check_tmpl(ps, g) < 0)
		return -1;
	c = wf__map_get(n, "cancel-in-progress");
	if (c && scalar_expr(ps, c, "cancel-in-progress", 1) < 0)
		return -1;
	*out = n;
	return 0;
}

static int parse_job(struct ps *ps, const struct wf_node *key, const struct wf_node *n,
		     struct wf_job *j)
{
	static const char *const keys[] = {"name",	  "permissions",
					   "needs",	  "if",
					   "runs-on",	  "environment",
					   "concurrency", "outputs",
					   "env",	  "defaults",
					   "steps",	  "timeout-minutes",
					   "strategy",	  "continue-on-error",
					   "container",	  "services",
					   "uses",	  "with",
					   "secrets",	  NULL};
	const struct wf_node *v;
	char where[200];
	size_t i;

	snprintf(where, sizeof(where), "job '%.100s'", key->str);
	if (!valid_id(key->str))
		return bad(ps, key,
			   "invalid job id '%.100s': it must start with a letter or '_' and "
			   "contain only letters, digits, '-' and '_'",
			   key->str);
	if (want(ps, n, WF_NODE_MAP, where) < 0 || known_keys(ps, n, keys, where) < 0)
		return -1;
	j->id = key->str;
	j->line = key->line;
	j->col = key->col;
	if ((v = wf__map_get(n, "name"))) {
		if (want(ps, v, WF_NODE_SCALAR, "name") < 0 || check_tmpl(ps, v) < 0)
			return -1;
		j->name = v;
	}
	if ((v = wf__map_get(n, "needs")) && parse_needs(ps, v, j) < 0)
		return -1;
	if ((v = wf__map_get(n, "if")) &&
	    (scalar(ps, v, "if", &j->if_) < 0 || check_cond(ps, v) < 0))
		return -1;
	if ((v = wf__map_get(n, "runs-on")) && check_tree(ps, v) < 0)
		return -1;
	if ((v = wf__map_get(n, "concurrency")) && parse_concurrency(ps, v, &j->concurrency) < 0)
		return -1;
	if ((v = wf__map_get(n, "container")) || (v = wf__map_get(n, "services")))
		return bad(ps, v,
			   "%s: containers and services are not supported (kiln runs "
			   "steps on the host)",
			   where);
	if ((v = wf__map_get(n, "env"))) {
		if (scalar_map(ps, v, "env") < 0)
			return -1;
		j->env = v;
	}
	if ((v = wf__map_get(n, "outputs"))) {
		if (scalar_map(ps, v, "outputs") < 0)
			return -1;
		j->outputs = v;
	}
	if ((v = wf__map_get(n, "defaults")) &&
	    parse_defaults(ps, v, &j->shell, &j->working_directory) < 0)
		return -1;
	if ((v = wf__map_get(n, "strategy")) && parse_strategy(ps, v, j) < 0)
		return -1;
	if ((v = wf__map_get(n, "timeout-minutes"))) {
		if (scalar_expr(ps, v, "timeout-minutes", 0) < 0)
			return -1;
		j->timeout_minutes = v;
	}
	if ((v = wf__map_get(n, "continue-on-error"))) {
		if (scalar_expr(ps, v, "continue-on-error", 1) < 0)
			return -1;
		j->continue_on_error = v;
	}
	if ((v = wf__map_get(n, "uses"))) {
		if (scalar(ps, v, "uses", &j->uses) < 0)
			return -1;
		if (wf__map_get(n, "steps"))
			return bad(ps, v, "%s has both 'uses' and 'steps'", where);
		if ((v = wf__map_get(n, "with"))) {
			if (scalar_map(ps, v, "with") < 0)
				return -1;
			j->with = v;
		}
		if ((v = wf__map_get(n, "secrets"))) {
			if (v->kind == WF_NODE_SCALAR ? strcmp(v->str, "inherit") != 0
						      : scalar_map(ps, v, "secrets") < 0)
				return bad(ps, v, "'secrets' must be a mapping or 'inherit'");
			j->secrets = v;
		}
		return 0;
	}
	if ((v = wf__map_get(n, "with")) || (v = wf__map_get(n, "secrets")))
		return bad(ps, v, "%s: 'with' and 'secrets' need a job-level 'uses'", where);
	v = wf__map_get(n, "steps");
	if (!v)
		return bad(ps, n, "%s has no 'steps'", where);
	if (want(ps, v, WF_NODE_SEQ, "steps") < 0)
		return -1;
	if (v->n == 0)
		return bad(ps, v, "%s has an empty 'steps' list", where);
	j->steps = wf__arena_alloc(ps->a, v->n * sizeof(*j->steps));
	if (!j->steps)
		return err_set(ps->err, ERR_NOMEM, "out of memory");
	for (i = 0; i < v->n; i++)
		if (parse_step(ps, v->items[i], i, &j->steps[i]) < 0)
			return -1;
	j->n_steps = v->n;
	return 0;
}

const struct wf_job *wf_job_find(const struct wf *wf, const char *id)
{
	size_t i;
	for (i = 0; i < wf->n_jobs; i++)
		if (strcmp(wf->jobs[i].id, id) == 0)
			return &wf->jobs[i];
	return NULL;
}

/* DFS colouring; on a cycle, names it "a -> b -> a". */
static int visit(struct ps *ps, const struct wf *wf, size_t i, int *colour, size_t *stack,
		 size_t depth)
{
	const struct wf_job *j = &wf->jobs[i];
	size_t k;

	colour[i] = 1;
	stack[depth] = i;
	for (k = 0; k < j->n_needs; k++) {
		size_t t = (size_t)(wf_job_find(wf, j->needs[k]) - wf->jobs);
		if (colour[t] == 1) {
			struct buf b = BUF_INIT;
			size_t s = 0, m;
			while (stack[s] != t)
				s++;
			for (m = s; m <= depth; m++)
				if (buf_addf(&b, "%s -> ", wf->jobs[stack[m]].id) < 0)
					break;
			if (buf_adds(&b, wf->jobs[t].id) < 0) {
				buf_release(&b);
				return err_set(ps->err, ERR_NOMEM, "out of memory");
			}
			err_set(ps->err, ERR_PARSE, "%s:%d:%d: cyclic needs: %s", ps->file, j->line,
				j->col, b.ptr);
			buf_release(&b);
			return -1;
		}
		if (colour[t] == 0 && visit(ps, wf, t, colour, stack, depth + 1) < 0)
			return -1;
	}
	colour[i] = 2;
	return 0;
}

static int check_needs(struct ps *ps, struct wf *wf, const struct wf_node *jobs)
{
	int *colour = NULL;
	size_t *stack = NULL, i, k;
	int rc = -1;

	for (i = 0; i < wf->n_jobs; i++) {
		for (k = 0; k < wf->jobs[i].n_needs; k++) {
			if (!wf_job_find(wf, wf->jobs[i].needs[k])) {
				const struct wf_node *jn =
					wf__map_get(jobs->items[2 * i + 1], "needs");
				char msg[300];
				snprintf(msg, sizeof(msg),
					 "job '%.100s' needs '%.100s', which does not exist",
					 wf->jobs[i].id, wf->jobs[i].needs[k]);
				return bad(ps, jn, "%s", msg);
			}
		}
	}
	colour = mem_calloc(wf->n_jobs + 1, sizeof(*colour));
	stack = mem_calloc(wf->n_jobs + 1, sizeof(*stack));
	if (!colour || !stack) {
		err_set(ps->err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < wf->n_jobs; i++)
		if (colour[i] == 0 && visit(ps, wf, i, colour, stack, 0) < 0)
			goto out;
	rc = 0;
out:
	mem_free(colour);
	mem_free(stack);
	return rc;
}

static int parse_on(struct ps *ps, const struct wf_node *n)
{
	size_t i;
	if (n->kind == WF_NODE_SCALAR)
		return 0;
	if (n->kind == WF_NODE_SEQ) {
		for (i = 0; i < n->n; i++)
			if (want(ps, n->items[i], WF_NODE_SCALAR, "on") < 0)
				return -1;
		return 0;
	}
	for (i = 0; i < n->n; i++) {
		const struct wf_node *v = n->items[2 * i + 1];
		if (!wf__node_is_null(v) && v->kind != WF_NODE_MAP && v->kind != WF_NODE_SEQ) {
			char msg[200];
			snprintf(msg, sizeof(msg), "'on.%.80s' must be a mapping or empty",
				 n->items[2 * i]->str);
			return bad(ps, v, "%s", msg);
		}
	}
	return 0;
}

static int parse_root(struct ps *ps, const struct wf_node *root, struct wf *wf)
{
	static const char *const keys[] = {"name",     "run-name",    "on",   "permissions", "env",
					   "defaults", "concurrency", "jobs", NULL};
	const struct wf_node *v, *jobs;
	size_t i;

	if (root->kind != WF_NODE_MAP)
		return bad(ps, root, "a workflow must be a mapping, not %s", kind_name(root));
	if (known_keys(ps, root, keys, "the workflow") < 0)
		return -1;
	wf->name = wf->path;
	if ((v = wf__map_get(root, "name")) && scalar(ps, v, "name", &wf->name) < 0)
		return -1;
	v = wf__map_get(root, "on");
	if (!v)
		return bad(ps, root, "the workflow has no 'on' key");
	if (parse_on(ps, v) < 0)
		return -1;
	wf->on = v;
	if ((v = wf__map_get(root, "env"))) {
		if (scalar_map(ps, v, "env") < 0)
			return -1;
		wf->env = v;
	}
	if ((v = wf__map_get(root, "defaults")) &&
	    parse_defaults(ps, v, &wf->shell, &wf->working_directory) < 0)
		return -1;
	if ((v = wf__map_get(root, "concurrency")) &&
	    parse_concurrency(ps, v, &wf->concurrency) < 0)
		return -1;
	jobs = wf__map_get(root, "jobs");
	if (!jobs)
		return bad(ps, root, "the workflow has no 'jobs'");
	if (want(ps, jobs, WF_NODE_MAP, "jobs") < 0)
		return -1;
	if (jobs->n == 0)
		return bad(ps, jobs, "'jobs' is empty");
	wf->jobs = wf__arena_alloc(ps->a, jobs->n * sizeof(*wf->jobs));
	if (!wf->jobs)
		return err_set(ps->err, ERR_NOMEM, "out of memory");
	for (i = 0; i < jobs->n; i++)
		if (parse_job(ps, jobs->items[2 * i], jobs->items[2 * i + 1], &wf->jobs[i]) < 0)
			return -1;
	wf->n_jobs = jobs->n;
	return check_needs(ps, wf, jobs);
}

struct wf *wf_load_mem(const char *text, size_t len, const char *path, struct err *err)
{
	struct wf__arena *a = mem_calloc(1, sizeof(*a));
	struct wf_node *root;
	struct wf *wf = NULL;
	struct ps ps;

	if (!a) {
		err_set(err, ERR_NOMEM, "out of memory");
		return NULL;
	}
	ps.a = a;
	ps.file = path;
	ps.err = err;
	if (len > WF_MAX_FILE) {
		err_set(err, ERR_TOOBIG, "%s: larger than %u bytes", path, WF_MAX_FILE);
		goto fail;
	}
	root = wf__yaml_load(a, text, len, path, err);
	if (!root)
		goto fail;
	wf = wf__arena_alloc(a, sizeof(*wf));
	if (!wf || !(wf->path = wf__arena_strndup(a, path, strlen(path)))) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	wf->arena = a;
	if (parse_root(&ps, root, wf) < 0)
		goto fail;
	return wf;
fail:
	wf__arena_release(a);
	mem_free(a);
	return NULL;
}

struct wf *wf_load(const char *path, struct err *err)
{
	struct buf src = BUF_INIT;
	struct wf *wf = NULL;

	buf_init(&src, WF_MAX_FILE + 1);
	if (buf_read_file(&src, path, WF_MAX_FILE + 1) < 0) {
		err_set(err, ERR_IO, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	wf = wf_load_mem(src.ptr, src.len, path, err);
out:
	buf_release(&src);
	return wf;
}

void wf_free(struct wf *wf)
{
	struct wf__arena *a;
	if (!wf)
		return;
	a = wf->arena;
	wf__arena_release(a);
	mem_free(a);
}

int wf_on_event(const struct wf *wf, const char *event)
{
	const struct wf_node *on = wf->on;
	size_t i;
	if (on->kind == WF_NODE_SCALAR)
		return strcmp(on->str, event) == 0;
	if (on->kind == WF_NODE_SEQ) {
		for (i = 0; i < on->n; i++)
			if (strcmp(on->items[i]->str, event) == 0)
				return 1;
		return 0;
	}
	return wf__map_get(on, event) != NULL;
}

struct wf_action *wf__action_load(const char *path, struct err *err)
{
	static const char *const keys[] = {"name",    "description", "author",	 "inputs",
					   "outputs", "runs",	     "branding", NULL};
	static const char *const rkeys[] = {"using", "steps", NULL};
	struct buf src = BUF_INIT;
	struct wf__arena *a = mem_calloc(1, sizeof(*a));
	struct wf_action *act = NULL;
	const struct wf_node *root, *runs, *v, *steps;
	struct ps ps;
	size_t i;

	buf_init(&src, WF_MAX_FILE + 1);
	if (!a) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	ps.a = a;
	ps.file = path;
	ps.err = err;
	if (buf_read_file(&src, path, WF_MAX_FILE + 1) < 0) {
		err_set(err, ERR_IO, "cannot read '%s': %s", path, strerror(errno));
		goto fail;
	}
	root = wf__yaml_load(a, src.ptr, src.len, path, err);
	if (!root)
		goto fail;
	if (want(&ps, root, WF_NODE_MAP, "action") < 0 || known_keys(&ps, root, keys, "action") < 0)
		goto fail;
	runs = wf__map_get(root, "runs");
	if (!runs) {
		bad(&ps, root, "the action has no 'runs'");
		goto fail;
	}
	if (want(&ps, runs, WF_NODE_MAP, "runs") < 0)
		goto fail;
	v = wf__map_get(runs, "using");
	if (!v || v->kind != WF_NODE_SCALAR || strcmp(v->str, "composite") != 0) {
		bad(&ps, v ? v : runs,
		    "only composite actions are supported ('runs.using: composite'), not '%s'",
		    v && v->kind == WF_NODE_SCALAR ? v->str : "");
		goto fail;
	}
	if (known_keys(&ps, runs, rkeys, "runs") < 0)
		goto fail;
	steps = wf__map_get(runs, "steps");
	if (!steps || want(&ps, steps, WF_NODE_SEQ, "runs.steps") < 0) {
		if (!steps)
			bad(&ps, runs, "'runs' has no 'steps'");
		goto fail;
	}
	act = wf__arena_alloc(a, sizeof(*act));
	if (!act ||
	    !(act->steps = wf__arena_alloc(a, (steps->n ? steps->n : 1) * sizeof(*act->steps)))) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < steps->n; i++)
		if (parse_step(&ps, steps->items[i], i, &act->steps[i]) < 0)
			goto fail;
	act->n_steps = steps->n;
	act->inputs = wf__map_get(root, "inputs");
	act->outputs = wf__map_get(root, "outputs");
	if ((act->inputs && want(&ps, act->inputs, WF_NODE_MAP, "inputs") < 0) ||
	    (act->outputs && want(&ps, act->outputs, WF_NODE_MAP, "outputs") < 0))
		goto fail;
	act->arena = a;
	buf_release(&src);
	return act;
fail:
	buf_release(&src);
	if (a) {
		wf__arena_release(a);
		mem_free(a);
	}
	return NULL;
}

void wf__action_free(struct wf_action *act)
{
	struct wf__arena *a;
	if (!act)
		return;
	a = act->arena;
	wf__arena_release(a);
	mem_free(a);
}

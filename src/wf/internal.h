/*
 * internal.h - shared only inside src/wf/: the YAML node tree, the arena it
 * lives in, the expression evaluator, file and workflow commands, the runner.
 * Other subsystems include wf/wf.h only.
 */
#ifndef KILN_WF_INTERNAL_H
#define KILN_WF_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "wf/wf.h"

/* Limits on what a workflow file may hold (outside input). */
#define WF_MAX_FILE   (4u << 20)
#define WF_MAX_NODES  200000
#define WF_MAX_DEPTH  64
#define WF_MAX_EXPR   (64u << 10)
#define WF_MAX_MATRIX 256

/*
 * Arena: bump allocator for memory freed all at once (a parsed workflow).
 * wf__arena_alloc returns zeroed memory or NULL (ENOMEM).
 */
struct wf__arena_chunk;
struct wf__arena {
	struct wf__arena_chunk *head;
};
void *wf__arena_alloc(struct wf__arena *a, size_t size);
char *wf__arena_strndup(struct wf__arena *a, const char *s, size_t n);
void wf__arena_release(struct wf__arena *a);

/*
 * The YAML tree. Scalars keep their text and whether they were plain (not
 * quoted, not a block scalar), so "true" and true differ as in GitHub.
 * A map holds n pairs: items[2i] is a key (a scalar), items[2i+1] its value.
 * line and col count from 1.
 */
enum wf_node_kind { WF_NODE_SCALAR, WF_NODE_SEQ, WF_NODE_MAP };
struct wf_node {
	int kind;
	int line, col;
	int plain;
	const char *str; /* scalars: NUL-terminated text */
	size_t len;
	struct wf_node **items;
	size_t n; /* seq: items; map: pairs */
};

/* Parses YAML text into a tree in arena a; the first document only. */
struct wf_node *wf__yaml_load(struct wf__arena *a, const char *text, size_t len, const char *file,
			      struct err *err);
/* The value of key in a map node, or NULL. */
struct wf_node *wf__map_get(const struct wf_node *map, const char *key);
/* A plain null scalar ("", "~", "null") or NULL. */
int wf__node_is_null(const struct wf_node *n);
/*
 * The JSON value of a node with YAML core typing for plain scalars
 * (null, bool, int, float); new reference, NULL on ENOMEM.
 */
json_t *wf__node_json(const struct wf_node *n);

/* ---- expressions (expr.c) ---- */

enum wf_status { WF_ST_SUCCESS, WF_ST_FAILURE, WF_ST_CANCELLED, WF_ST_SKIPPED };

/*
 * Evaluation context. ctx is an object whose keys are the lowercase context
 * names (github, env, matrix, ...). status answers success(), failure() and
 * cancelled(). hash_files, when set, computes hashFiles(); it appends the hex
 * digest (or nothing when no file matches) to out.
 */
struct wf_expr_ctx {
	json_t *ctx;
	int status;
	int (*hash_files)(void *arg, json_t *patterns, struct buf *out, struct err *err);
	void *hash_arg;
};

/*
 * Evaluates the expression src[0..len) (without ${{ }}). Returns a new
 * reference, or NULL with err set ("position N: ..."; N counts from 1).
 * c may be NULL: then the expression is only checked for syntax and the
 * function returns json_null() on success.
 */
json_t *wf__expr_eval(const char *src, size_t len, const struct wf_expr_ctx *c, struct err *err);
/* 1 when v is truthy by GitHub's rules. */
int wf__truthy(const json_t *v);
/* Appends v converted to a string by GitHub's rules (Object/Array for containers). */
int wf__to_str(const json_t *v, struct buf *out);
/* Appends toJSON(v) (two-space indent, like GitHub). */
int wf__to_json(const json_t *v, struct buf *out);
/* 1 when the expression calls success(), failure(), always() or cancelled(). */
int wf__expr_has_status(const char *src, size_t len);
/*
 * Finds the next "${{ ... }}" in s[0..len) from offset *pos. Returns 1 and
 * sets *start (index of "$"), *inner / *inner_len (the expression) and *pos
 * (after "}}"); 0 when there is none; -1 when one is not closed.
 */
int wf__tmpl_next(const char *s, size_t len, size_t *pos, size_t *start, size_t *inner,
		  size_t *inner_len);
/* Replaces every ${{ }} in s by its string value; appends to out. */
int wf__tmpl_str(const char *s, size_t len, const struct wf_expr_ctx *c, struct buf *out,
		 struct err *err);
/*
 * The value of a template: when s is exactly one ${{ expr }}, the value of
 * expr (any type); otherwise the interpolated string. New reference.
 */
json_t *wf__tmpl_value(const char *s, size_t len, const struct wf_expr_ctx *c, struct err *err);
/* Evaluates a node: scalars as templates, maps and sequences recursively. */
json_t *wf__node_eval(const struct wf_node *n, const struct wf_expr_ctx *c, struct err *err);
/* Evaluates an if: condition (with or without ${{ }}), adding success() && when needed. */
int wf__cond(const char *s, const struct wf_expr_ctx *c, int *out, struct err *err);
/* Case-insensitive object lookup (exact match first). Borrowed reference. */
json_t *wf__obj_get(const json_t *obj, const char *key);

/* ---- file and workflow commands (cmd.c) ---- */

/* Secrets and add-mask values; replaced by *** in every output line. */
struct wf__masks {
	char **v;
	size_t n, cap;
};
int wf__mask_add(struct wf__masks *m, const char *s);
/* Appends line with every mask replaced by ***. */
int wf__mask_apply(const struct wf__masks *m, const char *line, size_t len, struct buf *out);
void wf__masks_release(struct wf__masks *m);

/*
 * Parses a GITHUB_OUTPUT / GITHUB_ENV file (NAME=VALUE lines and NAME<<DELIM
 * heredocs) into obj (string values; later names win). file names the file
 * in errors.
 */
int wf__parse_kv_file(const char *text, size_t len, const char *file, json_t *obj, struct err *err);

/* A parsed "::name k=v,k=v::message" line. */
struct wf__command {
	char name[64];
	json_t *props; /* object of unescaped property values */
	struct buf msg;
};
/* 1 when line is a workflow command (fills c; release with wf__command_release), 0 if not. */
int wf__command_parse(const char *line, size_t len, struct wf__command *c);
void wf__command_release(struct wf__command *c);

/* A local composite action (action.yml), parsed and validated. */
struct wf_action {
	const struct wf_node *inputs, *outputs; /* maps or NULL */
	struct wf_step *steps;
	size_t n_steps;
	void *arena;
};
/* Loads the composite action file at path; free with wf__action_free. */
struct wf_action *wf__action_load(const char *path, struct err *err);
void wf__action_free(struct wf_action *a);

/* ---- planning (plan.c) ---- */

/*
 * Expands an evaluated strategy.matrix into an array of combinations
 * (objects): product of the vectors, minus exclude, plus include. New
 * reference, or NULL with err set.
 */
json_t *wf__matrix_expand(const json_t *m, struct err *err);
/*
 * The inputs context for event: declared inputs (typed, with defaults) from
 * on.<event>.inputs, values from the payload's "inputs" and from given
 * (--input, wins). Defaults holding ${{ }} are evaluated in c. New reference.
 */
json_t *wf__inputs(const struct wf *wf, const char *event, const json_t *payload,
		   const json_t *given, const struct wf_expr_ctx *c, struct err *err);

/* GitHub's filter pattern match (trigger.c): * ** ? + [a-z] and \ escapes. */
int wf__glob_match(const char *pattern, const char *s);

/* Reads a dotenv file (godotenv rules as act uses them) into obj. */
int wf__dotenv_parse(const char *text, size_t len, const char *file, json_t *obj, struct err *err);

#endif

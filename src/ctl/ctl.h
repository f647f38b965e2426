/*
 * ctl.h - the control plane behind `kiln server`: the MLflow REST 2.0 subset
 * (tracking, registry, proxied artifacts) and kiln's own routes (alias
 * resolution, blobs by sha256) over store/db.h and store/blob.h. Not the
 * model server: that is serve/ (srv_).
 *
 * The request handling (ctl_handle) knows nothing of sockets: the HTTP glue
 * (ctl_server_*) and the fuzz target feed it requests. Every reply that is
 * an error has MLflow's shape {"error_code": CODE, "message": TEXT}, with
 * the status of ctl_err_status.
 *
 * Threads: one struct ctl may be used from any number of threads. It
 * keeps a pool of store connections, each with its own blob store; a
 * request holds one for its duration, so reads run side by side. Writes
 * (any method but GET and HEAD) take one lock as well and run one at a
 * time: SQLite has a single writer anyway (a mutex hands over at once
 * where its busy handler sleeps), and PostgreSQL keeps the serial order
 * the registry's version numbering relies on.
 */
#ifndef KILN_CTL_H
#define KILN_CTL_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "http/http.h"
#include "store/blob.h"

/* Limits for outside input (STYLE.md section 6). */
#define CTL_MAX_JSON_BODY (1024 * 1024) /* JSON requests; MLflow's log-batch cap */
#define CTL_MAX_TOKEN	  4096		/* bytes of --token-file */
#define CTL_MAX_CONDS	  16		/* conditions of one filter */
#define CTL_MAX_LIST	  64		/* order_by, stages, experiment_ids items */
#define CTL_POOL_MAX	  64		/* store connections of one server */

struct ctl_config {
	const char *db_url;	  /* NULL: sqlite at $home/kiln.db */
	const char *home;	  /* KILN_HOME */
	const char *token;	  /* NULL: no auth; else writes need "Bearer TOKEN" */
	struct blob_config blobs; /* where blobs live (store/blob.h) */
	unsigned pool;		  /* store connections; 0: two per core, at least 4 */
};

struct ctl; /* opaque */

/*
 * Opens cfg->pool connections to the store and as many blob stores (all at
 * once, so a bad URL fails here). NULL with err set on failure.
 */
struct ctl *ctl_new(const struct ctl_config *cfg, struct err *err);
/* NULL is fine. */
void ctl_free(struct ctl *c);

/*
 * One request, transport-neutral. All strings are borrowed for the call.
 * arg returns the first query-string value of name (or NULL); args fills
 * out[0..max) with all of them and returns their count. Both may be NULL
 * (no query string).
 */
struct ctl_req {
	int method;	  /* enum http_method */
	const char *path; /* percent-decoded, without the query string */
	const char *body; /* "" when spooled */
	size_t body_len;
	int spooled;		   /* the body_len bytes are in body_fd (offset 0) */
	int body_fd;		   /* borrowed */
	const char *content_type;  /* NULL: none */
	const char *authorization; /* NULL: none */
	const char *if_none_match; /* NULL: none */
	const char *(*arg)(void *actx, const char *name);
	size_t (*args)(void *actx, const char *name, const char **out, size_t max);
	void *actx;
};

/*
 * Handles one request: fills resp (status, content type, body, headers).
 * Never fails: problems become MLflow-shaped error replies.
 */
void ctl_handle(struct ctl *c, const struct ctl_req *req, struct http_resp *resp);

/*
 * The one mapping of kiln errors to HTTP: returns the status for err and
 * sets *code to MLflow's error_code name (ERR_NOTFOUND -> 404
 * RESOURCE_DOES_NOT_EXIST, "already exists" -> 400 RESOURCE_ALREADY_EXISTS,
 * bad input -> 400 INVALID_PARAMETER_VALUE, too big -> 413, else 500
 * INTERNAL_ERROR).
 */
int ctl_err_status(const struct err *err, const char **code);
/* Writes {"error_code": code, "message": msg} with status into resp. */
void ctl_reply_error(struct http_resp *resp, int status, const char *code, const char *msg);
/* http_config.error_fn for the layer's own 404/405/413 replies. */
void ctl_http_error(struct http_resp *resp, int status, const char *msg);

/*
 * http_config.before_body: PUT bodies of artifacts and blobs are spooled to
 * a file (any size, constant memory), after the token check so that an
 * unauthenticated upload is refused before it is read; others in memory.
 */
int ctl_before_body(struct ctl *c, const struct ctl_req *req, struct http_resp *resp);

/*
 * Serves c over HTTP with cfg (its error_fn is set to ctl_http_error; 0
 * threads become one per pooled connection).
 * Returns the server (stop and free it with http_drain and http_free; c
 * must outlive it), or NULL with err set when the address cannot be bound.
 */
struct http_server *ctl_listen(struct ctl *c, const struct http_config *cfg, struct err *err);

#endif

/*
 * client.h - the client side of `kiln server`: JSON calls to its MLflow REST
 * subset and kiln's own routes over libcurl, for the CLI (`kiln models`,
 * `kiln exp`, `kiln train --register`, `kiln serve NAME@ALIAS`). Blob bytes
 * go through store/blob.h; this module never reads the environment (the
 * CLI does: cli_client_open in cli/cli.h).
 *
 * A struct ctl_client is used from one thread at a time; a thread that
 * follows an alias opens its own.
 */
#ifndef KILN_CTL_CLIENT_H
#define KILN_CTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"
#include "base/hash.h"

struct ctl_client_config {
	const char *url;   /* "http://127.0.0.1:5000", with or without a final '/' */
	const char *token; /* NULL: no Authorization header; else "Bearer TOKEN" */
	long timeout_ms;   /* a whole request; 0: 30000 */
};

struct ctl_client; /* opaque */

/* Checks the URL (http:// or https://). NULL with err set on failure. */
struct ctl_client *ctl_client_new(const struct ctl_client_config *cfg, struct err *err);
/* NULL is fine. */
void ctl_client_free(struct ctl_client *c);
/* The base URL without a final '/'. */
const char *ctl_client_url(const struct ctl_client *c);

/*
 * One JSON call. method is an enum http_method (http/http.h); path starts
 * with '/' ("/api/2.0/mlflow/runs/create"); query is NULL or a
 * NULL-terminated list of key, value pairs (escaped here); body (borrowed,
 * may be NULL) is sent as application/json. On a 2xx reply *reply (may be
 * NULL) gets the decoded body (an empty body: an empty object); the caller
 * decrefs it.
 * Errors, with the server's "message" when it sent MLflow's error shape:
 *   404 -> ERR_NOTFOUND; 400, 401, 403, 409 -> ERR_INVALID (401/403 say
 *   "permission denied: set KILN_TOKEN"); 413 -> ERR_TOOBIG; other statuses
 *   -> ERR_IO "kiln server URL: HTTP STATUS: message"; no connection or a
 *   timeout -> ERR_IO "cannot reach kiln server at URL: <curl's reason>";
 *   a reply that is not JSON -> ERR_FORMAT.
 */
int ctl_client_call(struct ctl_client *c, int method, const char *path, const char *const *query,
		    json_t *body, json_t **reply, struct err *err);

/*
 * Uploads a file's bytes with PUT to path (e.g. an mlflow-artifacts path),
 * streaming, with Content-Type application/octet-stream. Errors as above.
 */
int ctl_client_put_file(struct ctl_client *c, const char *path, const char *file, struct err *err);

/* What an alias points at (GET /api/2.0/kiln/resolve?ref=NAME@ALIAS). */
struct ctl_client_ref {
	int64_t version;
	char sha256[HASH_SHA256_HEX]; /* the bundle; "" when the version has none */
	char etag[160];		      /* the server's ETag, quotes included */
	char *run_id, *source;	      /* owned, may be NULL */
};
void ctl_client_ref_release(struct ctl_client_ref *r);

/*
 * Resolves NAME@ALIAS. etag NULL or "": always fetch; else sent as
 * If-None-Match. Returns 0 when *out was filled, 1 when the alias still
 * points where etag says (304; *out untouched), -1 with err set (an unknown
 * model or alias is ERR_NOTFOUND or ERR_INVALID, as the server says).
 */
int ctl_client_resolve(struct ctl_client *c, const char *name, const char *alias, const char *etag,
		       struct ctl_client_ref *out, struct err *err);

#endif

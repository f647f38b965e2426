/*
 * internal.h - shared inside src/ctl/ only: the call a handler works on
 * (arguments from the query string or the JSON body, a JSON reply), the
 * handler tables of each file, and the filter / order_by parser.
 */
#ifndef KILN_CTL_INTERNAL_H
#define KILN_CTL_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <stdint.h>

#include "ctl/ctl.h"
#include "store/db.h"

/*
 * The server (what ctl_new returns) and each slot of its connection pool
 * are both a struct ctl. A request holds one slot while its handler runs
 * and the handler sees that slot as call->c: call->c->db and call->c->bs
 * are then a connection and a blob store no other thread uses (ctl.c).
 */
struct ctl__pool;
struct ctl {
	struct db *db;		/* a slot's connection; NULL in the server */
	struct blob_store *bs;	/* a slot's blob store; NULL in the server */
	struct ctl *next_free;	/* a slot: the next free one */
	struct ctl__pool *pool; /* the server: its slots; NULL in a slot */
	char *token;		/* the server: NULL, no auth */
	char *spool_dir;	/* $KILN_HOME/tmp for uploads and downloads (owned by the
				 * server, borrowed by slots); NULL: in memory */
};

/* One request being handled. */
struct ctl__call {
	struct ctl *c;
	const struct ctl_req *req;
	struct http_resp *resp;
	json_t *in;  /* the JSON body (an object), or NULL for GET */
	json_t *out; /* the reply object; handlers add to it */
	int raw;     /* the handler wrote resp->body itself (bytes, not JSON) */
};

/* Where uploads are spooled (ctl_listen), or NULL: in memory. */
const char *ctl__spool_dir(const struct ctl *c);
/* How many connections the server's pool has (ctl_listen: one HTTP thread each). */
size_t ctl__pool_size(const struct ctl *c);

typedef int (*ctl__fn)(struct ctl__call *call, struct err *err);

/* A REST endpoint: "experiments/create" under /api/2.0/mlflow/. */
struct ctl__endpoint {
	int methods;
	const char *name;
	ctl__fn fn;
};

extern const struct ctl__endpoint ctl__track_endpoints[];
extern const struct ctl__endpoint ctl__registry_endpoints[];

/* mlflow-artifacts and kiln's own routes (path is what follows the prefix). */
int ctl__artifacts(struct ctl__call *call, const char *path, struct err *err);
int ctl__kiln(struct ctl__call *call, const char *path, struct err *err);
/*
 * Decodes the JSON object in the request body into call->in (an empty body
 * is {}): over CTL_MAX_JSON_BODY, malformed or not an object is
 * ERR_INVALID with MLflow's wording; check_type also demands a Content-Type
 * of application/json, as MLflow's endpoints do.
 */
int ctl__decode_body(struct ctl__call *call, int check_type, struct err *err);

/*
 * Arguments: from the query string for GET, from the JSON body otherwise.
 * ctl__arg returns the value as a string (numbers and booleans in the body
 * are converted) or NULL when absent or null; ctl__need fails with MLflow's
 * "Missing value for required parameter" message. Strings are borrowed for
 * the call.
 */
const char *ctl__arg(struct ctl__call *call, const char *name);
int ctl__need(struct ctl__call *call, const char *name, const char **out, struct err *err);
/* An integer argument (decimal string or JSON integer); def when absent. */
int ctl__int(struct ctl__call *call, const char *name, int64_t def, int64_t *out, struct err *err);
/* A required non-negative decimal id (experiment id, version). */
int ctl__id(struct ctl__call *call, const char *name, int64_t *out, struct err *err);
/* A run id from run_id, else run_uuid. */
int ctl__run_id(struct ctl__call *call, const char **out, struct err *err);
/* The items of a list argument (repeated query keys, or a JSON array of strings). */
int ctl__list(struct ctl__call *call, const char *name, const char **out, size_t max, size_t *n,
	      struct err *err);
/* A [{"key": k, "value": v}] argument as refs borrowing from the body. */
int ctl__kv(struct ctl__call *call, const char *name, struct db_kv_ref *out, size_t max, size_t *n,
	    struct err *err);
/* The pagination arguments max_results and page_token. */
int ctl__page(struct ctl__call *call, size_t limit, struct db_page *page, struct err *err);

/* Sets out[key] (steals v); a NULL v is ERR_NOMEM. */
int ctl__set(json_t *obj, const char *key, json_t *v, struct err *err);
/* A JSON string for s (NULL: ""). */
json_t *ctl__str(const char *s);
/* [{"key":..,"value":..}] of a list; empty lists give an empty array. */
json_t *ctl__kv_json(const struct db_kv_list *l);

/*
 * A parsed filter: conditions whose strings point into buf (owned). Field
 * prefixes: metrics./metric., params./param., tags./tag., attributes./
 * attribute./attr./run.; none means an attribute. Values are 'quoted' or
 * "quoted" strings or numbers; keys may be `quoted` or "quoted".
 */
struct ctl__filter {
	char *buf;  /* the filter, then copies of its tokens */
	char *tail; /* where the next copy goes */
	struct db_cond cond[CTL_MAX_CONDS];
	size_t n;
	struct db_order order[CTL_MAX_LIST];
	size_t n_order;
	char *obuf[CTL_MAX_LIST];
};

int ctl__filter_parse(struct ctl__filter *f, const char *filter, struct err *err);
/* Parses one order_by item ("metrics.acc DESC") into f->order[f->n_order++]. */
int ctl__order_parse(struct ctl__filter *f, const char *item, struct err *err);
void ctl__filter_release(struct ctl__filter *f);
/* A search request's "filter" and every "order_by" item, into f. */
int ctl__search_parse(struct ctl__call *call, struct ctl__filter *f, struct err *err);

#endif

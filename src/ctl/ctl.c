/*
 * ctl.c - the request path of the control plane: routing by prefix, bearer
 * authentication of writes, JSON decoding of bodies, argument access, the
 * one mapping of kiln errors to MLflow's error codes and statuses.
 * Endpoint logic lives in track.c, registry.c and artifact.c.
 */
#include "ctl/internal.h"

#include "base/log.h"
#include "base/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define API_PREFIX	 "/api/2.0/mlflow/"
#define AJAX_PREFIX	 "/ajax-api/2.0/mlflow/"
#define ARTIFACTS_PREFIX "/api/2.0/mlflow-artifacts/"
#define KILN_PREFIX	 "/api/2.0/kiln/"

/* The connection pool of a server: slots handed out one per request. */
struct ctl__pool {
	pthread_mutex_t lock;  /* guards free */
	pthread_cond_t freed;  /* signalled when a slot goes back */
	pthread_mutex_t write; /* held by the one write running */
	struct ctl *slots;
	size_t n;
	struct ctl *free; /* a stack through next_free */
	int sync_ok;	  /* lock, freed and write were created */
};

static unsigned pool_size(unsigned want)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (want == 0)
		want = cores > 2 ? 2 * (unsigned)cores : 4;
	return want > CTL_POOL_MAX ? CTL_POOL_MAX : want;
}

size_t ctl__pool_size(const struct ctl *c)
{
	return c->pool->n;
}

static void pool_free(struct ctl__pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->slots && i < p->n; i++) {
		db_close(p->slots[i].db);
		blob_close(p->slots[i].bs);
	}
	mem_free(p->slots);
	if (p->sync_ok) {
		pthread_cond_destroy(&p->freed);
		pthread_mutex_destroy(&p->write);
		pthread_mutex_destroy(&p->lock);
	}
	mem_free(p);
}

/* Opens the slots' connections and blob stores: all or none. */
static struct ctl__pool *pool_new(const struct ctl_config *cfg, char *spool, struct err *err)
{
	struct ctl__pool *p = mem_calloc(1, sizeof(*p));
	size_t i, n = pool_size(cfg->pool);
	if (!p) {
		err_set(err, ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (pthread_mutex_init(&p->lock, NULL) != 0 || pthread_mutex_init(&p->write, NULL) != 0 ||
	    pthread_cond_init(&p->freed, NULL) != 0) {
		/* Only fails on resource exhaustion, where leaking one mutex is moot. */
		mem_free(p);
		err_set(err, ERR_INTERNAL, "cannot create a mutex");
		return NULL;
	}
	p->sync_ok = 1;
	p->slots = mem_calloc(n, sizeof(*p->slots));
	if (!p->slots) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		struct ctl *s = &p->slots[i];
		/* Opening runs the migrations, one connection after the other. */
		p->n++;
		s->spool_dir = spool; /* borrowed from the server's ctl */
		if (db_open(&s->db, cfg->db_url, cfg->home, err) < 0 ||
		    blob_open(&s->bs, &cfg->blobs, err) < 0)
			goto fail;
		s->next_free = p->free;
		p->free = s;
	}
	return p;
fail:
	pool_free(p);
	return NULL;
}

struct ctl *ctl_new(const struct ctl_config *cfg, struct err *err)
{
	struct ctl *c = mem_calloc(1, sizeof(*c));
	if (!c) {
		err_set(err, ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (cfg->token && !(c->token = mem_strdup(cfg->token))) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (cfg->home) {
		struct buf dir = BUF_INIT;
		if (buf_addf(&dir, "%s/tmp", cfg->home) < 0) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto fail;
		}
		c->spool_dir = buf_take(&dir, NULL);
		if (!c->spool_dir) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto fail;
		}
		if (mkdir(c->spool_dir, 0700) < 0 && errno != EEXIST) {
			err_set(err, ERR_IO, "cannot create '%s': %s", c->spool_dir,
				strerror(errno));
			goto fail;
		}
	}
	c->pool = pool_new(cfg, c->spool_dir, err);
	if (!c->pool)
		goto fail;
	return c;
fail:
	ctl_free(c);
	return NULL;
}

void ctl_free(struct ctl *c)
{
	if (!c)
		return;
	pool_free(c->pool);
	mem_free(c->token);
	mem_free(c->spool_dir);
	mem_free(c);
}

int ctl_err_status(const struct err *err, const char **code)
{
	switch (err->code) {
	case ERR_NOTFOUND:
		*code = "RESOURCE_DOES_NOT_EXIST";
		return 404;
	case ERR_INVALID:
		if (db_err_is_exists(err)) {
			*code = "RESOURCE_ALREADY_EXISTS";
			return 400; /* MLflow's status, not 409 */
		}
		*code = "INVALID_PARAMETER_VALUE";
		return 400;
	case ERR_PARSE:
	case ERR_USAGE:
	case ERR_FORMAT:
	case ERR_VERSION:
	case ERR_CHECKSUM:
		*code = "INVALID_PARAMETER_VALUE";
		return 400;
	case ERR_TOOBIG:
		*code = "RESOURCE_EXHAUSTED";
		return 413;
	default:
		*code = "INTERNAL_ERROR";
		return 500;
	}
}

void ctl_reply_error(struct http_resp *resp, int status, const char *code, const char *msg)
{
	resp->status = status;
	resp->content_type = "application/json";
	buf_reset(&resp->body);
	/* On ENOMEM the body stays empty; the status still tells the client. */
	if (buf_adds(&resp->body, "{\"error_code\": \"") < 0 || buf_adds(&resp->body, code) < 0 ||
	    buf_adds(&resp->body, "\", \"message\": ") < 0 ||
	    buf_add_json_str(&resp->body, msg, strlen(msg)) < 0 || buf_adds(&resp->body, "}") < 0)
		buf_reset(&resp->body);
}

void ctl_http_error(struct http_resp *resp, int status, const char *msg)
{
	const char *code = "BAD_REQUEST";
	if (status == 404)
		code = "ENDPOINT_NOT_FOUND";
	else if (status == 413)
		code = "RESOURCE_EXHAUSTED";
	else if (status == 501)
		code = "NOT_IMPLEMENTED";
	ctl_reply_error(resp, status, code, msg);
}

/* ---- arguments ---- */

const char *ctl__arg(struct ctl__call *call, const char *name)
{
	json_t *v;
	char num[64];
	if (!call->in)
		return call->req->arg ? call->req->arg(call->req->actx, name) : NULL;
	v = json_object_get(call->in, name);
	/* A DELETE may carry its arguments in the query string instead. */
	if (!v && call->req->arg)
		return call->req->arg(call->req->actx, name);
	if (!v || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(num, sizeof(num), "%s", json_is_true(v) ? "true" : "false");
	else
		return NULL;
	/* Keep the text alive for the call: it replaces the number in the body. */
	v = json_string(num);
	if (!v || json_object_set_new(call->in, name, v) < 0)
		return NULL;
	return json_string_value(v);
}

int ctl__need(struct ctl__call *call, const char *name, const char **out, struct err *err)
{
	json_t *v = call->in ? json_object_get(call->in, name) : NULL;
	*out = NULL;
	if (v && (json_is_object(v) || json_is_array(v))) {
		err_set(err, ERR_INVALID, "Invalid value for parameter '%s': not a scalar", name);
		return -1;
	}
	*out = ctl__arg(call, name);
	if (!*out || !**out) {
		err_set(err, ERR_INVALID,
			"Missing value for required parameter '%s'. See the API docs for "
			"more information about request parameters.",
			name);
		return -1;
	}
	return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;
	if (!*s || (*s != '-' && (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int ctl__int(struct ctl__call *call, const char *name, int64_t def, int64_t *out, struct err *err)
{
	const char *s = ctl__arg(call, name);
	*out = def;
	if (!s || !*s)
		return 0;
	if (parse_i64(s, out) < 0)
		return err_set(err, ERR_INVALID,
			       "Invalid value '%.64s' for parameter '%s': not an integer", s, name);
	return 0;
}

int ctl__id(struct ctl__call *call, const char *name, int64_t *out, struct err *err)
{
	const char *s = NULL;
	*out = 0;
	if (ctl__need(call, name, &s, err) < 0 || !s)
		return -1;
	if (parse_i64(s, out) < 0 || *out < 0)
		return err_set(err, ERR_INVALID, "Invalid value '%.64s' for parameter '%s'", s,
			       name);
	return 0;
}

int ctl__run_id(struct ctl__call *call, const char **out, struct err *err)
{
	const char *s = ctl__arg(call, "run_id");
	if (!s || !*s)
		s = ctl__arg(call, "run_uuid");
	if (!s || !*s)
		return ctl__need(call, "run_id", out, err);
	*out = s;
	return 0;
}

int ctl__list(struct ctl__call *call, const char *name, const char **out, size_t max, size_t *n,
	      struct err *err)
{
	json_t *a;
	*n = 0;
	if (!call->in) {
		char alt[80];
		size_t k = call->req->args ? call->req->args(call->req->actx, name, out, max) : 0;
		if (k == 0 && call->req->args) {
			snprintf(alt, sizeof(alt), "%s[]", name);
			k = call->req->args(call->req->actx, alt, out, max);
		}
		if (k > max)
			return err_set(err, ERR_INVALID, "too many values for parameter '%s'",
				       name);
		*n = k;
		return 0;
	}
	a = json_object_get(call->in, name);
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a)) {
		*out = ctl__arg(call, name);
		if (!*out)
			return err_set(err, ERR_INVALID, "Invalid value for parameter '%s'", name);
		*n = 1;
		return 0;
	}
	if (json_array_size(a) > max)
		return err_set(err, ERR_INVALID, "too many values for parameter '%s' (max %zu)",
			       name, max);
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *v = json_array_get(a, i);
		if (json_is_integer(v)) {
			char num[32];
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			if (json_array_set_new(a, i, json_string(num)) < 0)
				return err_set(err, ERR_NOMEM, "out of memory");
			v = json_array_get(a, i);
		}
		if (!json_is_string(v))
			return err_set(err, ERR_INVALID,
				       "Invalid value for parameter '%s': item %zu is not a string",
				       name, i);
		out[(*n)++] = json_string_value(v);
	}
	return 0;
}

int ctl__kv(struct ctl__call *call, const char *name, struct db_kv_ref *out, size_t max, size_t *n,
	    struct err *err)
{
	json_t *a = call->in ? json_object_get(call->in, name) : NULL;
	*n = 0;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return err_set(err, ERR_INVALID, "Invalid value for parameter '%s': not a list",
			       name);
	if (json_array_size(a) > max)
		return err_set(err, ERR_INVALID, "too many items in '%s' (max %zu)", name, max);
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *o = json_array_get(a, i), *k, *v;
		k = json_object_get(o, "key");
		v = json_object_get(o, "value");
		if (!json_is_string(k) || !*json_string_value(k))
			return err_set(err, ERR_INVALID,
				       "Missing value for required parameter '%s[%zu].key'", name,
				       i);
		if (v && !json_is_null(v) && !json_is_string(v))
			return err_set(err, ERR_INVALID,
				       "Invalid value for parameter '%s[%zu].value': not a string",
				       name, i);
		out[i].key = json_string_value(k);
		out[i].value = json_is_string(v) ? json_string_value(v) : NULL;
		(*n)++;
	}
	return 0;
}

int ctl__page(struct ctl__call *call, size_t limit, struct db_page *page, struct err *err)
{
	int64_t max = 0;
	if (ctl__int(call, "max_results", 0, &max, err) < 0)
		return -1;
	if (max < 0 || (uint64_t)max > limit)
		return err_set(err, ERR_INVALID,
			       "Invalid value %" PRId64
			       " for parameter 'max_results': must be between 1 and %zu",
			       max, limit);
	page->max_results = (size_t)max;
	page->token = ctl__arg(call, "page_token");
	return 0;
}

int ctl__set(json_t *obj, const char *key, json_t *v, struct err *err)
{
	if (!v || json_object_set_new(obj, key, v) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

json_t *ctl__str(const char *s)
{
	return json_string(s ? s : "");
}

json_t *ctl__kv_json(const struct db_kv_list *l)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < l->n; i++) {
		json_t *o = json_pack("{s:o,s:o}", "key", ctl__str(l->v[i].key), "value",
				      ctl__str(l->v[i].value));
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* ---- dispatch ---- */

/* Compares without an early exit, so the time does not tell how much matched. */
static int token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;
	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return d == 0;
}

static void reply_unauthenticated(struct http_resp *resp)
{
	ctl_reply_error(resp, 401, "UNAUTHENTICATED",
			"writes need the header 'Authorization: Bearer TOKEN'");
}

static int authorized(const struct ctl *c, const struct ctl_req *req)
{
	const char *h = req->authorization;
	if (!c->token || req->method == HTTP_GET || req->method == HTTP_HEAD)
		return 1;
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	return token_equal(h + 7, c->token);
}

const char *ctl__spool_dir(const struct ctl *c)
{
	return c->spool_dir;
}

int ctl_before_body(struct ctl *c, const struct ctl_req *req, struct http_resp *resp)
{
	static const char *const uploads[] = {ARTIFACTS_PREFIX "artifacts/", KILN_PREFIX "blobs/"};
	size_t i;
	if (req->method != HTTP_PUT)
		return HTTP_BODY_MEMORY;
	for (i = 0; i < sizeof(uploads) / sizeof(uploads[0]); i++)
		if (strncmp(req->path, uploads[i], strlen(uploads[i])) == 0)
			break;
	if (i == sizeof(uploads) / sizeof(uploads[0]))
		return HTTP_BODY_MEMORY;
	if (!authorized(c, req)) {
		reply_unauthenticated(resp);
		return HTTP_BODY_REFUSE;
	}
	return HTTP_BODY_SPOOL;
}

/* (internal.h) */
int ctl__decode_body(struct ctl__call *call, int check_type, struct err *err)
{
	const struct ctl_req *req = call->req;
	const char *ct = req->content_type;
	json_error_t je;
	size_t n;

	if (req->body_len == 0) {
		call->in = json_object();
		return call->in ? 0 : err_set(err, ERR_NOMEM, "out of memory");
	}
	n = strcspn(ct ? ct : "", ";");
	if (check_type && (!ct || n < 16 || strncasecmp(ct, "application/json", 16) != 0 ||
			   strspn(ct + 16, " \t") != n - 16))
		return err_set(err, ERR_INVALID,
			       "Bad Request. Content-Type must be one of [application/json]. "
			       "Got '%.64s'",
			       ct ? ct : "");
	if (req->body_len > CTL_MAX_JSON_BODY)
		return err_set(err, ERR_INVALID, "request body of %zu bytes over the limit of %d",
			       req->body_len, CTL_MAX_JSON_BODY);
	call->in = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!call->in)
		return err_set(err, ERR_INVALID, "Malformed JSON body: %d:%d: %s", je.line,
			       je.column, je.text);
	if (!json_is_object(call->in))
		return err_set(err, ERR_INVALID, "Malformed JSON body: not an object");
	return 0;
}

/* The endpoint for name and method; *known says whether name exists for any method. */
static const struct ctl__endpoint *endpoint_for(const char *name, int method, int *known)
{
	const struct ctl__endpoint *tabs[] = {ctl__track_endpoints, ctl__registry_endpoints};
	*known = 0;
	for (size_t t = 0; t < sizeof(tabs) / sizeof(tabs[0]); t++)
		for (const struct ctl__endpoint *e = tabs[t]; e->name; e++) {
			if (strcmp(e->name, name) != 0)
				continue;
			*known = 1;
			if (e->methods & method)
				return e;
		}
	return NULL;
}

/* Waits for a free slot of the pool and takes it. */
static struct ctl *slot_take(struct ctl__pool *p)
{
	struct ctl *s;
	pthread_mutex_lock(&p->lock);
	while (!p->free)
		pthread_cond_wait(&p->freed, &p->lock);
	s = p->free;
	p->free = s->next_free;
	pthread_mutex_unlock(&p->lock);
	return s;
}

static void slot_give(struct ctl__pool *p, struct ctl *s)
{
	pthread_mutex_lock(&p->lock);
	s->next_free = p->free;
	p->free = s;
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->lock);
}

/*
 * Runs fn on a slot of the pool (call->c is the slot meanwhile); writes
 * also under the write lock (ctl.h). The one place handlers are called from.
 */
static int call_pooled(struct ctl__call *call,
		       int (*fn)(struct ctl__call *, const char *, struct err *), ctl__fn efn,
		       const char *path, struct err *err)
{
	struct ctl *server = call->c;
	struct ctl__pool *p = server->pool;
	int rc = -1, write = call->req->method != HTTP_GET && call->req->method != HTTP_HEAD;
	/* The write lock first: a waiting writer holds no connection meanwhile. */
	if (write)
		pthread_mutex_lock(&p->write);
	call->c = slot_take(p);
	if (efn)
		rc = efn(call, err);
	else if (fn)
		rc = fn(call, path, err);
	slot_give(p, call->c);
	call->c = server;
	if (write)
		pthread_mutex_unlock(&p->write);
	return rc;
}

static void finish(struct ctl__call *call, int rc, struct err *err)
{
	struct http_resp *resp = call->resp;
	char *text;
	if (rc < 0) {
		const char *code;
		int status = ctl_err_status(err, &code);
		if (status >= 500)
			log_error("ctl: %s %s: %s", code, call->req->path, err->msg);
		ctl_reply_error(resp, status, code, err->msg);
		return;
	}
	if (call->raw)
		return;
	text = json_dumps(call->out, JSON_COMPACT);
	buf_reset(&resp->body);
	if (!text || buf_adds(&resp->body, text) < 0)
		ctl_reply_error(resp, 500, "INTERNAL_ERROR", "out of memory");
	free(text); /* jansson's allocator */
}

void ctl_handle(struct ctl *c, const struct ctl_req *req, struct http_resp *resp)
{
	struct ctl__call call = {c, req, resp, NULL, NULL, 0};
	struct err err = ERR_INIT;
	const char *p = req->path, *name = NULL;
	int rc = -1, known = 0;

	resp->status = 200;
	resp->content_type = "application/json";
	if (strcmp(p, "/health") == 0 || strcmp(p, "/version") == 0) {
		resp->content_type = "text/plain";
		if (buf_adds(&resp->body, p[1] == 'h' ? "OK" : KILN_VERSION) < 0)
			ctl_reply_error(resp, 500, "INTERNAL_ERROR", "out of memory");
		return;
	}
	if (!authorized(c, req)) {
		reply_unauthenticated(resp);
		return;
	}
	call.out = json_object();
	if (!call.out) {
		ctl_reply_error(resp, 500, "INTERNAL_ERROR", "out of memory");
		return;
	}
	if (strncmp(p, API_PREFIX, strlen(API_PREFIX)) == 0)
		name = p + strlen(API_PREFIX);
	else if (strncmp(p, AJAX_PREFIX, strlen(AJAX_PREFIX)) == 0)
		name = p + strlen(AJAX_PREFIX);
	if (name) {
		const struct ctl__endpoint *e;
		/* The npm client's missing '/' (spec section 8). */
		if (strcmp(name, "experimentsset-experiment-tag") == 0)
			name = "experiments/set-experiment-tag";
		e = endpoint_for(name, req->method, &known);
		if (!e) {
			ctl_reply_error(resp, known ? 405 : 404,
					known ? "BAD_REQUEST" : "ENDPOINT_NOT_FOUND",
					known ? "method not allowed on this endpoint"
					      : "no such endpoint");
			goto out;
		}
		if (req->method != HTTP_GET && req->method != HTTP_HEAD &&
		    ctl__decode_body(&call, 1, &err) < 0)
			goto done;
		rc = call_pooled(&call, NULL, e->fn, NULL, &err);
	} else if (strncmp(p, ARTIFACTS_PREFIX, strlen(ARTIFACTS_PREFIX)) == 0) {
		rc = call_pooled(&call, ctl__artifacts, NULL, p + strlen(ARTIFACTS_PREFIX), &err);
	} else if (strncmp(p, KILN_PREFIX, strlen(KILN_PREFIX)) == 0) {
		rc = call_pooled(&call, ctl__kiln, NULL, p + strlen(KILN_PREFIX), &err);
	} else {
		ctl_reply_error(resp, 404, "ENDPOINT_NOT_FOUND", "no such endpoint");
		goto out;
	}
done:
	finish(&call, rc, &err);
out:
	json_decref(call.in);
	json_decref(call.out);
}

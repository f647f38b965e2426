/*
 * routes.c - the HTTP routes of kiln serve: /predict, KServe V1, Open
 * Inference Protocol V2, /health, /ready and /metrics. Each inference route
 * takes a reference to the slot's model, decodes (decode.c), predicts every
 * row, writes the reply by hand into the response buffer, and drops the
 * reference. Server state and the signal loop live in server.c.
 */
#include "serve/internal.h"

#include "base/mem.h"
#include "serve/decode.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The predictions of one request, compact: class and probabilities, or value. */
struct preds {
	size_t n, k;   /* rows, classes (0 for regression) */
	int *klass;    /* n */
	float *prob;   /* n * k */
	double *value; /* n */
};

static void preds_release(struct preds *p)
{
	mem_free(p->klass);
	mem_free(p->prob);
	mem_free(p->value);
}

static int predict_rows(struct srv *s, struct srv_model *m, const struct srv_rows *rows,
			struct preds *p, struct err *err)
{
	struct ml_cell stack[16], *cells = stack;
	struct ml_pred pred;
	int ret = -1;

	memset(p, 0, sizeof(*p));
	p->n = rows->n;
	p->k = m->schema->task == ML_TASK_REGRESSION ? 0 : m->schema->nclasses;
	p->klass = mem_calloc(p->n ? p->n : 1, sizeof(*p->klass));
	p->value = mem_calloc(p->n ? p->n : 1, sizeof(*p->value));
	p->prob = p->k ? mem_calloc(p->n ? p->n : 1, p->k * sizeof(*p->prob)) : NULL;
	if (m->schema->ncols > 16)
		cells = mem_calloc(m->schema->ncols, sizeof(*cells));
	if (!p->klass || !p->value || (p->k && !p->prob) || !cells) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < rows->n; i++) {
		if (srv_rows_cells(rows, m->schema, i, cells, err) < 0 ||
		    ml_model_predict(m->ml, cells, &pred, err) < 0)
			goto out;
		p->klass[i] = pred.klass;
		p->value[i] = pred.value;
		for (size_t c = 0; c < p->k && c < ML_MAX_CLASSES; c++)
			p->prob[i * p->k + c] = (float)pred.prob[c];
		if (p->k && pred.klass >= 0 && (size_t)pred.klass < m->npred)
			atomic_fetch_add_explicit(&m->pred_count[pred.klass], 1,
						  memory_order_relaxed);
		else if (!p->k)
			atomic_fetch_add_explicit(&m->pred_count[0], 1, memory_order_relaxed);
	}
	ret = 0;
out:
	if (cells != stack)
		mem_free(cells);
	(void)s;
	return ret;
}

/*
 * Appends a number with digits significant digits; JSON has no NaN or
 * infinity, so a non-finite value (a regression on extreme inputs) is null.
 */
static int add_num(struct buf *b, const char *sep, double v, int digits)
{
	if (!isfinite(v))
		return buf_addf(b, "%snull", sep);
	return buf_addf(b, "%s%.*g", sep, digits, v);
}

static const char *class_name(const struct srv_model *m, int k)
{
	return k >= 0 && (size_t)k < m->schema->nclasses ? m->schema->classes[k] : "";
}

static int add_str(struct buf *b, const char *s)
{
	return buf_add_json_str(b, s, strlen(s));
}

/* The /predict object of row i: {"<label>": ..., "probability": p, "model", "version"}. */
static int write_predict_row(struct buf *b, const struct srv_model *m, const struct preds *p,
			     size_t i)
{
	if (buf_addch(b, '{') < 0 || add_str(b, m->label) < 0 || buf_adds(b, ": ") < 0)
		return -1;
	if (p->k) {
		if (add_str(b, class_name(m, p->klass[i])) < 0 ||
		    add_num(b, ", \"probability\": ",
			    (double)p->prob[i * p->k + (size_t)p->klass[i]], 6) < 0)
			return -1;
	} else if (add_num(b, "", p->value[i], 17) < 0) {
		return -1;
	}
	if (buf_adds(b, ", \"model\": ") < 0 || add_str(b, m->name) < 0 ||
	    buf_adds(b, ", \"version\": ") < 0 || add_str(b, m->version) < 0 ||
	    buf_addch(b, '}') < 0)
		return -1;
	return 0;
}

/* Appends a cell as JSON: a string, a number or null. */
static int add_cell(struct buf *b, const struct ml_cell *c)
{
	if (c->kind == ML_CELL_STR)
		return buf_add_json_str(b, c->str, c->len);
	if (c->kind == ML_CELL_NUM)
		return add_num(b, "", c->num, 17);
	return buf_adds(b, "null");
}

/* One JSON line of the request log: id, row, time, model, input, output. */
static int log_row(struct buf *b, const struct srv_model *m, const struct ml_cell *cells,
		   const struct preds *p, size_t i, const char *id, const char *when)
{
	if (buf_addf(b, "{\"id\": \"%s\", \"row\": %zu, \"time\": \"%s\", \"model\": ", id, i,
		     when) < 0 ||
	    add_str(b, m->name) < 0 || buf_adds(b, ", \"version\": ") < 0 ||
	    add_str(b, m->version) < 0 || buf_adds(b, ", \"input\": {") < 0)
		return -1;
	for (size_t c = 0; c < m->schema->ncols; c++)
		if ((c && buf_adds(b, ", ") < 0) || add_str(b, m->schema->cols[c].name) < 0 ||
		    buf_adds(b, ": ") < 0 || add_cell(b, &cells[c]) < 0)
			return -1;
	if (buf_adds(b, "}, \"output\": {") < 0 || add_str(b, m->label) < 0 ||
	    buf_adds(b, ": ") < 0)
		return -1;
	if (p->k) {
		if (add_str(b, class_name(m, p->klass[i])) < 0 ||
		    add_num(b, ", \"probability\": ",
			    (double)p->prob[i * p->k + (size_t)p->klass[i]], 9) < 0)
			return -1;
	} else if (add_num(b, "", p->value[i], 17) < 0) {
		return -1;
	}
	return buf_adds(b, "}}\n");
}

/*
 * With --log-requests, a sampled request's rows go to the request log, and
 * its id to the client as X-Request-Id. A row that cannot be logged is
 * skipped: logging never fails a prediction.
 */
static void log_request(struct srv *s, const struct srv_model *m, const struct srv_rows *rows,
			const struct preds *p, struct http_resp *resp)
{
	struct buf b = BUF_INIT;
	struct ml_cell stack[16], *cells = stack;
	struct err err = ERR_INIT;
	char when[32];
	time_t now;
	struct tm tm;

	if (!srv__reqlog_sampled(&s->reqlog, resp->request_id, sizeof(resp->request_id)))
		return;
	if (m->schema->ncols > 16)
		cells = mem_calloc(m->schema->ncols, sizeof(*cells));
	if (!cells)
		return;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	for (size_t i = 0; i < rows->n; i++) {
		size_t mark = b.len;
		if (srv_rows_cells(rows, m->schema, i, cells, &err) < 0 ||
		    log_row(&b, m, cells, p, i, resp->request_id, when) < 0)
			buf_setlen(&b, mark);
	}
	if (b.len)
		srv__reqlog_append(&s->reqlog, b.ptr, b.len);
	buf_release(&b);
	if (cells != stack)
		mem_free(cells);
}

/*
 * Takes the model for an inference route: 503 while the slot is empty or the
 * server drains, 404 for another model's name or an unknown version.
 */
static struct srv_model *take_model(struct srv *s, const char *name, const char *version,
				    struct http_resp *resp)
{
	struct srv_model *m = srv_slot_get(&s->slot);
	if (!m) {
		http_resp_error(resp, 503, "no model is loaded");
		return NULL;
	}
	if (name && strcmp(name, m->name) != 0) {
		http_resp_error(resp, 404, "Model with name %s does not exist.", name);
		goto drop;
	}
	if (version && strcmp(version, m->version) != 0) {
		http_resp_error(resp, 404, "Model %s has no version %s.", m->name, version);
		goto drop;
	}
	return m;
drop:
	srv_model_unref(m, __func__);
	return NULL;
}

/* Maps a decode or predict error to its reply: 400 for the client's errors. */
static void fail(struct http_resp *resp, const struct err *err)
{
	int status = err->code == ERR_PARSE || err->code == ERR_INVALID ? 400 : 500;
	http_resp_error(resp, status, "%s", err->msg);
}

static void route_predict(void *ctx, const struct http_req *req, struct http_resp *resp)
{
	struct srv *s = ctx;
	struct srv_rows rows = {0};
	struct preds p = {0};
	struct err err = ERR_INIT;
	struct srv_model *m = take_model(s, NULL, NULL, resp);
	struct buf *b = &resp->body;
	int bad = 0;

	if (!m)
		return;
	if (srv_decode_predict(&rows, m->schema, req->body, req->body_len, &err) < 0 ||
	    predict_rows(s, m, &rows, &p, &err) < 0) {
		fail(resp, &err);
		goto out;
	}
	log_request(s, m, &rows, &p, resp);
	if (rows.single) {
		bad = write_predict_row(b, m, &p, 0);
	} else {
		bad = buf_addch(b, '[');
		for (size_t i = 0; i < p.n && !bad; i++)
			bad = (i && buf_adds(b, ", ") < 0) || write_predict_row(b, m, &p, i) < 0;
		bad = bad || buf_addch(b, ']') < 0;
	}
	if (bad || buf_addch(b, '\n') < 0)
		http_resp_error(resp, 500, "out of memory");
out:
	preds_release(&p);
	srv_rows_release(&rows);
	srv_model_unref(m, __func__);
}

static void route_v1_predict(void *ctx, const struct http_req *req, struct http_resp *resp)
{
	struct srv *s = ctx;
	struct srv_rows rows = {0};
	struct preds p = {0};
	struct err err = ERR_INIT;
	struct srv_model *m = take_model(s, req->cap[0], NULL, resp);
	struct buf *b = &resp->body;
	int bad;

	if (!m)
		return;
	if (srv_decode_v1(&rows, m->schema, req->body, req->body_len, &err) < 0 ||
	    predict_rows(s, m, &rows, &p, &err) < 0) {
		fail(resp, &err);
		goto out;
	}
	log_request(s, m, &rows, &p, resp);
	bad = buf_adds(b, "{\"predictions\": [") < 0;
	for (size_t i = 0; i < p.n && !bad; i++)
		bad = (i && buf_adds(b, ", ") < 0) || (p.k ? add_str(b, class_name(m, p.klass[i]))
							   : add_num(b, "", p.value[i], 17)) < 0;
	bad = bad || buf_addch(b, ']') < 0;
	if (p.k) {
		bad = bad || buf_adds(b, ", \"probabilities\": [") < 0;
		for (size_t i = 0; i < p.n && !bad; i++) {
			bad = buf_adds(b, i ? ", [" : "[") < 0;
			for (size_t c = 0; c < p.k && !bad; c++)
				bad = add_num(b, c ? ", " : "", (double)p.prob[i * p.k + c], 9) < 0;
			bad = bad || buf_addch(b, ']') < 0;
		}
		bad = bad || buf_addch(b, ']') < 0;
	}
	if (bad || buf_adds(b, "}\n") < 0)
		http_resp_error(resp, 500, "out of memory");
out:
	preds_release(&p);
	srv_rows_release(&rows);
	srv_model_unref(m, __func__);
}

static int write_v2_output(struct buf *b, const struct srv_model *m, const struct preds *p,
			   enum srv_output kind, const char *name)
{
	int bad = buf_adds(b, "{\"name\": ") < 0 || add_str(b, name) < 0;
	switch (kind) {
	case SRV_OUT_LABEL:
		bad = bad || buf_addf(b, ", \"datatype\": \"BYTES\", \"shape\": [%zu], \"data\": [",
				      p->n) < 0;
		for (size_t i = 0; i < p->n && !bad; i++)
			bad = (i && buf_adds(b, ", ") < 0) ||
			      add_str(b, class_name(m, p->klass[i])) < 0;
		break;
	case SRV_OUT_PROBA:
		bad = bad || buf_addf(b,
				      ", \"datatype\": \"FP32\", \"shape\": [%zu, %zu], "
				      "\"data\": [",
				      p->n, p->k) < 0;
		for (size_t i = 0; i < p->n * p->k && !bad; i++)
			bad = add_num(b, i ? ", " : "", (double)p->prob[i], 9) < 0;
		break;
	case SRV_OUT_VALUE:
		bad = bad || buf_addf(b, ", \"datatype\": \"FP64\", \"shape\": [%zu], \"data\": [",
				      p->n) < 0;
		for (size_t i = 0; i < p->n && !bad; i++)
			bad = add_num(b, i ? ", " : "", p->value[i], 17) < 0;
		break;
	}
	return bad || buf_adds(b, "]}") < 0 ? -1 : 0;
}

static void route_v2_infer(void *ctx, const struct http_req *req, struct http_resp *resp)
{
	struct srv *s = ctx;
	struct srv_rows rows = {0};
	struct preds p = {0};
	struct err err = ERR_INIT;
	struct srv_model *m;
	struct buf *b = &resp->body;
	int bad;

	if (http_req_header(req, "Inference-Header-Content-Length")) {
		http_resp_error(resp, 400, "binary tensor data is not supported; send JSON 'data'");
		return;
	}
	m = take_model(s, req->cap[0], req->ncap > 1 ? req->cap[1] : NULL, resp);
	if (!m)
		return;
	if (srv_decode_v2(&rows, m->schema, req->body, req->body_len, &err) < 0 ||
	    predict_rows(s, m, &rows, &p, &err) < 0) {
		fail(resp, &err);
		goto out;
	}
	log_request(s, m, &rows, &p, resp);
	bad = buf_adds(b, "{\"model_name\": ") < 0 || add_str(b, m->name) < 0 ||
	      buf_adds(b, ", \"model_version\": ") < 0 || add_str(b, m->version) < 0;
	if (rows.id)
		bad = bad || buf_adds(b, ", \"id\": ") < 0 || add_str(b, rows.id) < 0;
	bad = bad || buf_adds(b, ", \"outputs\": [") < 0;
	if (rows.nout) {
		for (size_t i = 0; i < rows.nout && !bad; i++)
			bad = (i && buf_adds(b, ", ") < 0) ||
			      write_v2_output(b, m, &p, rows.out[i], rows.out_name[i]) < 0;
	} else if (p.k) {
		bad = bad || write_v2_output(b, m, &p, SRV_OUT_LABEL, "label") < 0 ||
		      buf_adds(b, ", ") < 0 ||
		      write_v2_output(b, m, &p, SRV_OUT_PROBA, "proba") < 0;
	} else {
		bad = bad || write_v2_output(b, m, &p, SRV_OUT_VALUE, "value") < 0;
	}
	if (bad || buf_adds(b, "]}\n") < 0)
		http_resp_error(resp, 500, "out of memory");
out:
	preds_release(&p);
	srv_rows_release(&rows);
	srv_model_unref(m, __func__);
}

static const char *kind_datatype(enum ml_kind k)
{
	return k == ML_NUMERIC ? "FP64" : "BYTES";
}

static void route_v2_model(void *ctx, const struct http_req *req, struct http_resp *resp)
{
	struct srv *s = ctx;
	struct srv_model *m = take_model(s, req->cap[0], req->ncap > 1 ? req->cap[1] : NULL, resp);
	struct buf *b = &resp->body;
	int bad;
	if (!m)
		return;
	bad = buf_adds(b, "{\"name\": ") < 0 || add_str(b, m->name) < 0 ||
	      buf_adds(b, ", \"versions\": [") < 0 || add_str(b, m->version) < 0 ||
	      buf_adds(b, "], \"platform\": \"kiln\", \"inputs\": [") < 0;
	for (size_t c = 0; c < m->schema->ncols && !bad; c++)
		bad = (c && buf_adds(b, ", ") < 0) || buf_adds(b, "{\"name\": ") < 0 ||
		      add_str(b, m->schema->cols[c].name) < 0 ||
		      buf_addf(b, ", \"datatype\": \"%s\", \"shape\": [-1]}",
			       kind_datatype(m->schema->cols[c].kind)) < 0;
	if (m->schema->task == ML_TASK_REGRESSION)
		bad = bad ||
		      buf_adds(b, "], \"outputs\": [{\"name\": \"value\", \"datatype\": \"FP64\", "
				  "\"shape\": [-1]}]}\n") < 0;
	else
		bad = bad ||
		      buf_addf(b,
			       "], \"outputs\": [{\"name\": \"label\", \"datatype\": \"BYTES\", "
			       "\"shape\": [-1]}, {\"name\": \"proba\", \"datatype\": \"FP32\", "
			       "\"shape\": [-1, %zu]}]}\n",
			       m->schema->nclasses) < 0;
	if (bad)
		http_resp_error(resp, 500, "out of memory");
	srv_model_unref(m, __func__);
}

static void route_model_ready(void *ctx, const struct http_req *req, struct http_resp *resp)
{
	struct srv *s = ctx;
	struct srv_model *m = take_model(s, req->cap[0], req->ncap > 1 ? req->cap[1] : NULL, resp);
	if (!m)
		return;
	if (atomic_load(&s->draining))
		http_resp_error(resp, 503, "Model with name %s is not ready.", m->name);
	else if (buf_adds(&resp->body, "{\"name\": ") < 0 || add_str(&resp->body, m->name) < 0 ||
		 buf_adds(&resp->body, ", \"ready\": true}\n") < 0)
		http_resp_error(resp, 500, "out of memory");
	srv_model_unref(m, __func__);
}

static void route_models(void *ctx, const struct http_req *req, struct http_resp *resp)
{
	struct srv *s = ctx;
	struct srv_model *m = srv_slot_get(&s->slot);
	int bad = buf_adds(&resp->body, "{\"models\": [") < 0;
	if (m) {
		bad = bad || add_str(&resp->body, m->name) < 0;
		srv_model_unref(m, __func__);
	}
	if (bad || buf_adds(&resp->body, "]}\n") < 0)
		http_resp_error(resp, 500, "out of memory");
}

static int is_ready(struct srv *s)
{
	struct srv_model *m;
	if (atomic_load(&s->draining))
		return 0;
	m = srv_slot_get(&s->slot);
	srv_model_unref(m, __func__);
	return m != NULL;
}

/*
 * Liveness with what is being served: the model's name, version and bundle
 * sha256 (the registry's key), so a deployment can be checked with one GET.
 * "model" is null before the first model is loaded.
 */
static void route_health(void *ctx, const struct http_req *req, struct http_resp *resp)
{
	struct srv *s = ctx;
	struct srv_model *m = srv_slot_get(&s->slot);
	struct buf *b = &resp->body;
	int bad = buf_adds(b, "{\"status\": \"ok\", \"model\": ") < 0;
	if (m) {
		bad = bad || buf_adds(b, "{\"name\": ") < 0 || add_str(b, m->name) < 0 ||
		      buf_adds(b, ", \"version\": ") < 0 || add_str(b, m->version) < 0 ||
		      buf_adds(b, ", \"sha256\": ") < 0 || add_str(b, m->sha256) < 0 ||
		      buf_addf(b, ", \"loaded_at\": %.3f}", m->loaded_at) < 0;
		srv_model_unref(m, __func__);
	} else {
		bad = bad || buf_adds(b, "null") < 0;
	}
	if (bad || buf_adds(b, "}\n") < 0)
		http_resp_error(resp, 500, "out of memory");
}

static void route_live(void *ctx, const struct http_req *req, struct http_resp *resp)
{
	if (buf_adds(&resp->body, "{\"live\": true}\n") < 0)
		http_resp_error(resp, 500, "out of memory");
}

static void route_ready(void *ctx, const struct http_req *req, struct http_resp *resp)
{
	if (!is_ready(ctx))
		http_resp_error(resp, 503, "Server is not ready.");
	else if (buf_adds(&resp->body, "{\"ready\": true}\n") < 0)
		http_resp_error(resp, 500, "out of memory");
}

static void route_v2_server(void *ctx, const struct http_req *req, struct http_resp *resp)
{
	if (buf_adds(&resp->body, "{\"name\": \"kiln\", \"version\": \"" KILN_VERSION
				  "\", \"extensions\": []}\n") < 0)
		http_resp_error(resp, 500, "out of memory");
}

static void route_metrics(void *ctx, const struct http_req *req, struct http_resp *resp)
{
	struct srv *s = ctx;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	if (srv__write_metrics(s, &resp->body) < 0)
		http_resp_error(resp, 500, "out of memory");
}

/* Most specific first: the first pattern and method that match win. */
const struct http_route srv_routes[] = {
	{HTTP_POST, "/predict", route_predict},
	{HTTP_POST, "/v1/models/{name}:predict", route_v1_predict},
	{HTTP_GET, "/v1/models/{name}", route_model_ready},
	{HTTP_GET, "/v1/models", route_models},
	{HTTP_POST, "/v2/models/{name}/infer", route_v2_infer},
	{HTTP_POST, "/v2/models/{name}/versions/{version}/infer", route_v2_infer},
	{HTTP_GET, "/v2/models/{name}/ready", route_model_ready},
	{HTTP_GET, "/v2/models/{name}/versions/{version}/ready", route_model_ready},
	{HTTP_GET, "/v2/models/{name}", route_v2_model},
	{HTTP_GET, "/v2/models/{name}/versions/{version}", route_v2_model},
	{HTTP_GET, "/v2/models", route_models},
	{HTTP_GET, "/v2/health/live", route_live},
	{HTTP_GET, "/v2/health/ready", route_ready},
	{HTTP_GET, "/v2", route_v2_server},
	{HTTP_GET, "/health", route_health},
	{HTTP_GET, "/ready", route_ready},
	{HTTP_GET, "/metrics", route_metrics},
};
const size_t srv_nroutes = sizeof(srv_routes) / sizeof(srv_routes[0]);

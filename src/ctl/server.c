/*
 * server.c - the HTTP glue of the control plane: one catch-all route per
 * prefix into ctl_handle, the request's headers and query string handed
 * over as a struct ctl_req. No endpoint logic here.
 */
#include "ctl/internal.h"

static const char *req_arg(void *actx, const char *name)
{
	return http_req_arg(actx, name);
}

static size_t req_args(void *actx, const char *name, const char **out, size_t max)
{
	return http_req_args(actx, name, out, max);
}

static void to_ctl_req(const struct http_req *hr, struct ctl_req *req)
{
	memset(req, 0, sizeof(*req));
	req->method = hr->method;
	req->path = hr->path;
	req->body = hr->body;
	req->body_len = hr->body_len;
	req->spooled = hr->spooled;
	req->body_fd = hr->spooled ? hr->body_fd : -1;
	req->content_type = http_req_header(hr, "Content-Type");
	req->authorization = http_req_header(hr, "Authorization");
	req->if_none_match = http_req_header(hr, "If-None-Match");
	req->arg = req_arg;
	req->args = req_args;
	req->actx = (void *)hr;
}

static void on_request(void *ctx, const struct http_req *hr, struct http_resp *resp)
{
	struct ctl_req req;
	to_ctl_req(hr, &req);
	ctl_handle(ctx, &req, resp);
}

static int before_body(void *ctx, const struct http_req *hr, struct http_resp *resp)
{
	struct ctl_req req;
	to_ctl_req(hr, &req);
	return ctl_before_body(ctx, &req, resp);
}

#define ALL_METHODS (HTTP_GET | HTTP_POST | HTTP_PUT | HTTP_DELETE | HTTP_HEAD | HTTP_PATCH)

/* Separate prefixes, so the request counters tell the APIs apart. */
static const struct http_route routes[] = {
	{ALL_METHODS, "/api/2.0/mlflow/{*endpoint}", on_request},
	{ALL_METHODS, "/ajax-api/2.0/mlflow/{*endpoint}", on_request},
	{ALL_METHODS, "/api/2.0/mlflow-artifacts/{*path}", on_request},
	{ALL_METHODS, "/api/2.0/kiln/{*path}", on_request},
	{ALL_METHODS, "/{*path}", on_request},
};

struct http_server *ctl_listen(struct ctl *c, const struct http_config *cfg, struct err *err)
{
	struct http_config hc = *cfg;
	hc.error_fn = ctl_http_error;
	hc.before_body = before_body;
	if (!hc.spool_dir)
		hc.spool_dir = ctl__spool_dir(c);
	/*
	 * One HTTP thread per pooled connection (twice the cores by default):
	 * a cheap request then gets a thread of its own while heavy ones
	 * (a 100,000-point history) run, instead of queueing behind them.
	 */
	if (hc.threads == 0)
		hc.threads = (unsigned)ctl__pool_size(c);
	return http_start(&hc, routes, sizeof(routes) / sizeof(routes[0]), c, err);
}

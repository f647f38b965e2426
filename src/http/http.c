/*
 * http.c - the libmicrohttpd glue: daemon start and drain, per-request state
 * (body under a cap, start time), dispatch through the route table, replies.
 * Routing and Prometheus output live in route.c and stats.c.
 */
#include "http/http.h"
#include "http/internal.h"

#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct http_server {
	struct MHD_Daemon *d;
	struct http_config cfg;
	struct http_route routes[HTTP_MAX_ROUTES];
	size_t nroutes;
	struct http_route_stats stats[HTTP_MAX_ROUTES + 1];
	void *ctx;
	atomic_long in_flight;
	atomic_int draining;
	unsigned port;
};

/* What one request carries between libmicrohttpd's calls. */
struct req_state {
	struct buf body;
	int spool_fd;	    /* >= 0: the body goes to this temporary file instead */
	uint64_t spool_len; /* bytes written to spool_fd */
	int spool_errno;    /* a write to spool_fd failed */
	struct timespec start;
	int too_big;
	int replied;		  /* a reply is queued: ignore what the client still sends */
	const char *method, *url; /* libmicrohttpd's, valid until the request completes */
};

void http_config_default(struct http_config *c)
{
	c->host = "127.0.0.1";
	c->port = 8080;
	c->threads = 0;
	c->max_body = HTTP_DEFAULT_BODY;
	c->max_connections = 1024;
	c->timeout = 30;
	c->access_log_fd = -1;
	c->error_fn = NULL;
	c->before_body = NULL;
	c->spool_dir = NULL;
	c->max_upload = 0;
}

int http_resp_header(struct http_resp *resp, const char *name, const char *value)
{
	if (resp->nhdr >= HTTP_MAX_RESP_HEADERS)
		return -1;
	resp->hdr_name[resp->nhdr] = name;
	snprintf(resp->hdr_value[resp->nhdr], sizeof(resp->hdr_value[0]), "%s", value);
	resp->nhdr++;
	return 0;
}

/* An error reply made by this layer, in the server's error shape. */
static void layer_error(const struct http_server *s, struct http_resp *resp, int status,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

int http_method_parse(const char *s)
{
	static const struct {
		const char *name;
		int m;
	} tab[] = {{"GET", HTTP_GET},	    {"POST", HTTP_POST}, {"PUT", HTTP_PUT},
		   {"DELETE", HTTP_DELETE}, {"HEAD", HTTP_HEAD}, {"PATCH", HTTP_PATCH}};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(s, tab[i].name) == 0)
			return tab[i].m;
	return 0;
}

void http_resp_error(struct http_resp *resp, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp->status = status;
	resp->content_type = "application/json";
	buf_reset(&resp->body);
	/* On ENOMEM the body stays short; the status still tells the client. */
	if (buf_adds(&resp->body, "{\"error\": ") < 0 ||
	    buf_add_json_str(&resp->body, msg, strlen(msg)) < 0 || buf_adds(&resp->body, "}\n") < 0)
		buf_reset(&resp->body);
}

const char *http_req_header(const struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_HEADER_KIND,
					   name);
}

const char *http_req_arg(const struct http_req *req, const char *name)
{
	const char *v;
	if (!req->conn)
		return NULL;
	v = MHD_lookup_connection_value((struct MHD_Connection *)req->conn, MHD_GET_ARGUMENT_KIND,
					name);
	/* libmicrohttpd reports "?k" (no '=') as a NULL value. */
	if (!v &&
	    MHD_lookup_connection_value_n((struct MHD_Connection *)req->conn, MHD_GET_ARGUMENT_KIND,
					  name, strlen(name), NULL, NULL) == MHD_YES)
		v = "";
	return v;
}

struct args_walk {
	const char *name;
	const char **out;
	size_t max, n;
};

static enum MHD_Result args_walk_one(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct args_walk *w = cls;
	(void)kind;
	if (key && strcmp(key, w->name) == 0) {
		if (w->n < w->max)
			w->out[w->n] = value ? value : "";
		w->n++;
	}
	return MHD_YES;
}

size_t http_req_args(const struct http_req *req, const char *name, const char **out, size_t max)
{
	struct args_walk w = {name, out, max, 0};
	if (!req->conn)
		return 0;
	(void)MHD_get_connection_values((struct MHD_Connection *)req->conn, MHD_GET_ARGUMENT_KIND,
					args_walk_one, &w);
	return w.n;
}

static void layer_error(const struct http_server *s, struct http_resp *resp, int status,
			const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->cfg.error_fn) {
		resp->status = status;
		resp->content_type = "application/json";
		buf_reset(&resp->body);
		s->cfg.error_fn(resp, status, msg);
	} else {
		http_resp_error(resp, status, "%s", msg);
	}
}

static void free_body(void *p)
{
	mem_free(p);
}

static double since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * One JSON line per reply on the access log. A single write(2) of a line to
 * an O_APPEND file does not interleave with other threads' lines, so there is
 * no lock; a line that cannot be written is dropped (the reply matters more).
 */
static void access_log(struct http_server *s, struct MHD_Connection *c, struct req_state *st,
		       int status, size_t bytes_out, double secs)
{
	struct buf line = BUF_INIT;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char addr[INET6_ADDRSTRLEN] = "", when[32];
	struct timespec now;
	struct tm tm;

	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr,
				  sizeof(addr));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr,
				  sizeof(addr));
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (buf_addf(&line, "{\"time\": \"%s.%03ldZ\", \"remote\": \"%s\", \"method\": ", when,
		     now.tv_nsec / 1000000, addr) == 0 &&
	    buf_add_json_str(&line, st->method, strlen(st->method)) == 0 &&
	    buf_adds(&line, ", \"path\": ") == 0 &&
	    buf_add_json_str(&line, st->url, strlen(st->url)) == 0 &&
	    buf_addf(&line,
		     ", \"status\": %d, \"bytes_in\": %zu, \"bytes_out\": %zu, "
		     "\"duration_seconds\": %.6f}\n",
		     status, st->spool_fd >= 0 ? (size_t)st->spool_len : st->body.len, bytes_out,
		     secs) == 0)
		(void)!write(s->cfg.access_log_fd, line.ptr, line.len); /* dropped on error */
	buf_release(&line);
}

static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	(void)pos;
	(void)buf;
	(void)max;
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* Queues resp and counts it against route ri (nroutes: no route). */
static enum MHD_Result send_resp(struct http_server *s, struct MHD_Connection *c,
				 struct req_state *st, size_t ri, int method,
				 struct http_resp *resp, int allow)
{
	struct MHD_Response *r;
	enum MHD_Result ok;
	size_t len = resp->body.len;
	char allow_hdr[64] = "";
	double secs;

	if (method == HTTP_HEAD && resp->head_len >= 0 && resp->body_fd < 0) {
		/* libmicrohttpd sends no body for HEAD: the reader is never called. */
		r = MHD_create_response_from_callback((uint64_t)resp->head_len, 4096, no_body, NULL,
						      NULL);
		len = 0;
	} else if (resp->body_fd >= 0) {
		/* libmicrohttpd owns the file from here, also on failure. */
		r = MHD_create_response_from_fd64(resp->body_fd_len, resp->body_fd);
		if (!r)
			close(resp->body_fd);
		resp->body_fd = -1;
		len = (size_t)resp->body_fd_len;
	} else if (resp->body.cap) {
		char *p = buf_take(&resp->body, &len);
		r = p ? MHD_create_response_from_buffer_with_free_callback(len, p, free_body)
		      : NULL;
		if (!r)
			mem_free(p);
	} else {
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (!r)
		return MHD_NO;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type) !=
	    MHD_YES) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	if (allow) {
		static const char *names[] = {"GET", "POST", "PUT", "DELETE", "HEAD"};
		size_t o = 0;
		for (int i = 0; i < HTTP_NMETHODS; i++)
			if (allow & (1 << i))
				o += (size_t)snprintf(allow_hdr + o, sizeof(allow_hdr) - o, "%s%s",
						      o ? ", " : "", names[i]);
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow_hdr);
	}
	if (resp->request_id[0])
		(void)MHD_add_response_header(r, "X-Request-Id", resp->request_id);
	for (size_t i = 0; i < resp->nhdr; i++)
		(void)MHD_add_response_header(r, resp->hdr_name[i], resp->hdr_value[i]);
	/* While draining, tell keep-alive clients to go elsewhere. */
	if (atomic_load_explicit(&s->draining, memory_order_relaxed))
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ok = MHD_queue_response(c, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	st->replied = 1;
	secs = since(&st->start);
	http__stats_record(&s->stats[ri], method, resp->status, secs);
	if (s->cfg.access_log_fd >= 0)
		access_log(s, c, st, resp->status, len, secs);
	return ok;
}

static enum MHD_Result dispatch(struct http_server *s, struct MHD_Connection *c,
				struct req_state *st, const char *url, const char *method_s,
				int method)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req req = {0};
	size_t len = strlen(url), ri = s->nroutes;
	int allow = 0;
	char scratch[HTTP_MAX_PATH + 1];
	enum MHD_Result ok;

	if (len > HTTP_MAX_PATH) {
		layer_error(s, &resp, 414, "path longer than %d bytes", HTTP_MAX_PATH);
		goto send;
	}
	for (size_t i = 0; i < s->nroutes; i++) {
		if (!http_match(s->routes[i].pattern, url, scratch, req.cap, &req.ncap))
			continue;
		if (!(s->routes[i].methods & method)) {
			allow |= s->routes[i].methods;
			if (ri == s->nroutes)
				ri = i;
			continue;
		}
		req.method = method;
		req.path = url;
		req.body = st->body.ptr ? st->body.ptr : "";
		req.body_len = st->body.len;
		req.body_fd = -1;
		if (st->spool_fd >= 0) {
			req.spooled = 1;
			req.body_fd = st->spool_fd;
			req.body_len = (size_t)st->spool_len;
			if (lseek(st->spool_fd, 0, SEEK_SET) < 0) {
				layer_error(s, &resp, 500, "cannot read the spooled body: %s",
					    strerror(errno));
				ri = i;
				goto send;
			}
		}
		req.conn = c;
		s->routes[i].fn(s->ctx, &req, &resp);
		ri = i;
		allow = 0;
		goto send;
	}
	if (allow)
		layer_error(s, &resp, 405, "method %s not allowed on '%s'", method_s, url);
	else
		layer_error(s, &resp, 404, "no route for '%s'", url);
send:
	ok = send_resp(s, c, st, ri, method, &resp, allow);
	buf_release(&resp.body);
	return ok;
}

/* The route whose pattern matches url (any method), or nroutes: for counting early replies. */
static size_t route_of(const struct http_server *s, const char *url)
{
	char scratch[HTTP_MAX_PATH + 1];
	const char *cap[HTTP_MAX_CAPTURES];
	size_t ncap;
	if (strlen(url) > HTTP_MAX_PATH)
		return s->nroutes;
	for (size_t i = 0; i < s->nroutes; i++)
		if (http_match(s->routes[i].pattern, url, scratch, cap, &ncap))
			return i;
	return s->nroutes;
}

/* A reply this layer makes before the handler runs (413, 501, a refused admission...). */
static enum MHD_Result early_reply(struct http_server *s, struct MHD_Connection *c,
				   struct req_state *st, size_t ri, int method,
				   struct http_resp *resp)
{
	enum MHD_Result ok = send_resp(s, c, st, ri, method, resp, 0);
	buf_release(&resp->body);
	return ok;
}

/*
 * First call of a request: before_body decides where its body goes (or
 * refuses it); a spooled one gets its temporary file. Returns 0 to go on
 * reading, 1 when a reply was queued (*ok holds the result).
 */
static int body_start(struct http_server *s, struct MHD_Connection *c, struct req_state *st,
		      const char *url, int method, enum MHD_Result *ok)
{
	struct http_resp resp = HTTP_RESP_INIT;
	struct http_req hr = {0};
	int mode;
	if (!s->cfg.before_body || !s->cfg.spool_dir || !method)
		return 0;
	hr.method = method;
	hr.path = url;
	hr.body = "";
	hr.body_fd = -1;
	hr.conn = c;
	mode = s->cfg.before_body(s->ctx, &hr, &resp);
	if (mode == HTTP_BODY_REFUSE) {
		*ok = early_reply(s, c, st, route_of(s, url), method, &resp);
		return 1;
	}
	buf_release(&resp.body);
	if (mode != HTTP_BODY_SPOOL)
		return 0;
	st->spool_fd = file_tmp_unnamed(s->cfg.spool_dir);
	if (st->spool_fd < 0) {
		layer_error(s, &resp, 500, "cannot spool the request body in '%s': %s",
			    s->cfg.spool_dir, strerror(errno));
		*ok = early_reply(s, c, st, route_of(s, url), method, &resp);
		return 1;
	}
	return 0;
}

/* Appends an upload chunk to the spool file; a failure is kept for the reply. */
static void spool_write(struct http_server *s, struct req_state *st, const char *p, size_t n)
{
	if (st->spool_errno || st->too_big)
		return;
	if (s->cfg.max_upload && st->spool_len + n > s->cfg.max_upload) {
		st->too_big = 1;
		return;
	}
	while (n) {
		ssize_t w = write(st->spool_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			st->spool_errno = w < 0 ? errno : EIO;
			return;
		}
		p += w;
		n -= (size_t)w;
		st->spool_len += (uint64_t)w;
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method_s, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct http_server *s = cls;
	struct req_state *st = *con_cls;
	int method = http_method_parse(method_s);

	if (!st) {
		const char *cl;
		uint64_t limit = s->cfg.max_body;
		enum MHD_Result ok;
		st = mem_calloc(1, sizeof(*st));
		if (!st)
			return MHD_NO;
		buf_init(&st->body, s->cfg.max_body);
		st->spool_fd = -1;
		clock_gettime(CLOCK_MONOTONIC, &st->start);
		st->method = method_s;
		st->url = url;
		atomic_fetch_add(&s->in_flight, 1);
		*con_cls = st;
		if (body_start(s, c, st, url, method, &ok))
			return ok;
		if (st->spool_fd >= 0)
			limit = s->cfg.max_upload ? s->cfg.max_upload : UINT64_MAX;
		/* Refuse an announced oversize body before reading any of it. */
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > limit) {
			struct http_resp resp = HTTP_RESP_INIT;
			st->too_big = 1;
			layer_error(s, &resp, 413, "request body over the limit of %llu bytes",
				    (unsigned long long)limit);
			return early_reply(s, c, st, route_of(s, url), method, &resp);
		}
		return MHD_YES;
	}
	if (st->replied) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		if (st->spool_fd >= 0)
			spool_write(s, st, upload, *upload_size);
		else if (!st->too_big && buf_add(&st->body, upload, *upload_size) < 0) {
			st->too_big = 1;
			buf_release(&st->body);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (st->too_big) {
		struct http_resp resp = HTTP_RESP_INIT;
		unsigned long long limit = st->spool_fd >= 0 ? (unsigned long long)s->cfg.max_upload
							     : (unsigned long long)s->cfg.max_body;
		layer_error(s, &resp, 413, "request body over the limit of %llu bytes", limit);
		return early_reply(s, c, st, route_of(s, url), method, &resp);
	}
	if (st->spool_errno) {
		struct http_resp resp = HTTP_RESP_INIT;
		int full = st->spool_errno == ENOSPC || st->spool_errno == EDQUOT;
		layer_error(s, &resp, full ? 507 : 500, "cannot spool the request body: %s",
			    strerror(st->spool_errno));
		return early_reply(s, c, st, route_of(s, url), method, &resp);
	}
	if (!method) {
		struct http_resp resp = HTTP_RESP_INIT;
		layer_error(s, &resp, 501, "method not implemented");
		return early_reply(s, c, st, s->nroutes, method, &resp);
	}
	return dispatch(s, c, st, url, method_s, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct req_state *st = *con_cls;
	if (!st)
		return;
	buf_release(&st->body);
	if (st->spool_fd >= 0)
		close(st->spool_fd);
	mem_free(st);
	*con_cls = NULL;
	atomic_fetch_sub(&s->in_flight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("http: %s", line);
}

struct http_server *http_start(const struct http_config *cfg, const struct http_route *routes,
			       size_t nroutes, void *ctx, struct err *err)
{
	struct http_server *s = NULL;
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
			 MHD_USE_TURBO | MHD_USE_ERROR_LOG;
	unsigned threads = cfg->threads;
	const union MHD_DaemonInfo *info;

	memset(&ss, 0, sizeof(ss));
	if (nroutes > HTTP_MAX_ROUTES) {
		err_set(err, ERR_INTERNAL, "too many routes (%zu)", nroutes);
		return NULL;
	}
	if (cfg->port > 65535) {
		err_set(err, ERR_USAGE, "port %u out of range", cfg->port);
		return NULL;
	}
	if (inet_pton(AF_INET, cfg->host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)cfg->port);
	} else if (inet_pton(AF_INET6, cfg->host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)cfg->port);
		flags |= MHD_USE_IPv6;
	} else {
		err_set(err, ERR_USAGE, "host '%s' is not a numeric IPv4 or IPv6 address",
			cfg->host);
		return NULL;
	}
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}
	s = mem_calloc(1, sizeof(*s));
	if (!s) {
		err_set(err, ERR_NOMEM, "out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	memcpy(s->routes, routes, nroutes * sizeof(*routes));
	s->nroutes = nroutes;
	s->ctx = ctx;
	{
		struct MHD_OptionItem ops[] = {
			{MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
			{MHD_OPTION_SOCK_ADDR, 0, &ss},
			{MHD_OPTION_CONNECTION_LIMIT,
			 cfg->max_connections ? (intptr_t)cfg->max_connections : 1024, NULL},
			{MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->timeout, NULL},
			{MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
			{MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL},
			/* Per-connection pool (headers, read buffer); reset on every request. */
			{MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_CONN_MEMORY, NULL},
			/* Last, so that one thread means no pool (libmicrohttpd warns on 0). */
			{threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
			 (intptr_t)threads, NULL},
			{MHD_OPTION_END, 0, NULL},
		};
		s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, ops,
					MHD_OPTION_END);
	}
	if (!s->d) {
		err_set(err, ERR_IO, "cannot listen on %s:%u: %s", cfg->host, cfg->port,
			errno ? strerror(errno) : "libmicrohttpd failed to start");
		mem_free(s);
		return NULL;
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : cfg->port;
	return s;
}

unsigned http_port(const struct http_server *s)
{
	return s->port;
}

long http_in_flight(const struct http_server *s)
{
	return atomic_load(&((struct http_server *)s)->in_flight);
}

long http_drain(struct http_server *s, long timeout_ms)
{
	struct timespec t0, nap = {0, 5 * 1000 * 1000};
	long left;
	MHD_socket fd;

	if (!s->d)
		return 0;
	atomic_store(&s->draining, 1);
	fd = MHD_quiesce_daemon(s->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd); /* ours now: new connections are refused from here on */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((left = atomic_load(&s->in_flight)) > 0 && since(&t0) * 1000 < (double)timeout_ms)
		nanosleep(&nap, NULL);
	MHD_stop_daemon(s->d);
	s->d = NULL;
	return left;
}

void http_free(struct http_server *s)
{
	if (!s)
		return;
	if (s->d)
		MHD_stop_daemon(s->d);
	mem_free(s);
}

int http_write_metrics(const struct http_server *s, struct buf *out)
{
	return http__stats_write(s->routes, s->nroutes, s->stats, http_in_flight(s), out);
}

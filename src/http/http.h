/*
 * http.h - a thin HTTP server over libmicrohttpd, shared by `kiln serve` and
 * `kiln server`: a route table with path captures and method checks, body
 * accumulation under a size cap, JSON replies and {"error": ...} errors,
 * per-route request counters and latency histograms. Not an HTTP parser:
 * libmicrohttpd parses; this layer only routes and bounds.
 *
 * Threads: handlers run on libmicrohttpd's pool threads, any number at once;
 * a handler must be thread-safe and must not block for long.
 */
#ifndef KILN_HTTP_H
#define KILN_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* Limits for outside input (STYLE.md section 6). */
#define HTTP_MAX_PATH	  2048		/* decoded path bytes */
#define HTTP_MAX_CAPTURES 4		/* {name} captures per route */
#define HTTP_MAX_ROUTES	  48		/* routes per server */
#define HTTP_DEFAULT_BODY (1024 * 1024) /* --max-body default */
#define HTTP_CONN_MEMORY  (16 * 1024)	/* headers + read buffer per connection */

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_POST = 1 << 1,
	HTTP_PUT = 1 << 2,
	HTTP_DELETE = 1 << 3,
	HTTP_HEAD = 1 << 4,
	HTTP_PATCH = 1 << 5, /* counted under method="other" */
};

/* One request as a handler sees it. Everything is borrowed for the call. */
struct http_req {
	int method;	  /* enum http_method */
	const char *path; /* percent-decoded, NUL-terminated */
	const char *body; /* NUL-terminated; body_len bytes (may hold NULs); "" when spooled */
	size_t body_len;
	int spooled; /* the body_len bytes are in body_fd, a temporary file at offset 0 */
	int body_fd; /* owned by the layer: read it, do not close it */
	size_t ncap;
	const char *cap[HTTP_MAX_CAPTURES]; /* captured {x} segments, in pattern order */
	void *conn;			    /* libmicrohttpd connection, for http_req_header */
};

/*
 * The reply a handler fills. status defaults to 200 and content_type to
 * application/json; body and request_id start empty (the body has no cap),
 * body_fd -1.
 */
#define HTTP_MAX_RESP_HEADERS 4

struct http_resp {
	int status;
	const char *content_type; /* static string */
	struct buf body;
	char request_id[48]; /* sent as X-Request-Id when not empty */
	/* Extra headers (see http_resp_header); names are static strings. */
	const char *hdr_name[HTTP_MAX_RESP_HEADERS];
	char hdr_value[HTTP_MAX_RESP_HEADERS][256];
	size_t nhdr;
	/*
	 * >= 0: the body is the first body_fd_len bytes of this file instead of
	 * body (sent from the file, never whole in memory); the layer closes it.
	 */
	int body_fd;
	uint64_t body_fd_len;
	/*
	 * A reply to HEAD with no body at hand: >= 0 is the Content-Length to
	 * announce (what a GET would send), so a handler can answer HEAD from a
	 * size without reading the bytes. Ignored for other methods.
	 */
	int64_t head_len;
};

#define HTTP_RESP_INIT                                                                             \
	{                                                                                          \
		200, "application/json", BUF_INIT, "", {0}, {{0}}, 0, -1, 0, -1                    \
	}

/*
 * Adds a header to the reply (value copied, cut at 255 bytes). Returns 0, or
 * -1 when HTTP_MAX_RESP_HEADERS are set already.
 */
int http_resp_header(struct http_resp *resp, const char *name, const char *value);

typedef void (*http_handler_fn)(void *ctx, const struct http_req *req, struct http_resp *resp);

/*
 * A route: methods is a mask of enum http_method; pattern is a path where a
 * segment may be "{x}" (any non-empty segment without ':') or "{x}SUFFIX"
 * (a segment ending in SUFFIX, captured without it, e.g. "{name}:predict"),
 * and the last one may be "{*x}": the rest of the path, '/' included, may be empty.
 * The first route whose pattern and method match handles the request; a path
 * that matches only with other methods gets 405 with Allow. The pattern
 * string also names the route in metrics (label handler).
 */
struct http_route {
	int methods;
	const char *pattern;
	http_handler_fn fn;
};

/* What http_config.before_body decides for a request's body. */
enum http_body_mode {
	HTTP_BODY_REFUSE = -1, /* send the resp it filled (e.g. 401); do not read the body */
	HTTP_BODY_MEMORY = 0,  /* in memory, under max_body */
	HTTP_BODY_SPOOL = 1,   /* in a temporary file under spool_dir, under max_upload */
};

/* Latency buckets (seconds) of kiln_http_request_duration_seconds. */
#define HTTP_NBUCKETS 13
extern const double http_buckets[HTTP_NBUCKETS];

/* Counted status codes; anything else is counted under code="other". */
#define HTTP_NSTATUS 12
extern const int http_statuses[HTTP_NSTATUS];

/* Methods told apart in the counters (enum http_method bit order). */
#define HTTP_NMETHODS 5

/* Per-route counters; index nroutes counts requests that matched no route. */
struct http_route_stats {
	atomic_uint_fast64_t by_status[HTTP_NMETHODS + 1]
				      [HTTP_NSTATUS + 1]; /* last: other methods */
	atomic_uint_fast64_t bucket[HTTP_NBUCKETS];	  /* non-cumulative */
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_ns;
};

struct http_config {
	const char *host; /* "127.0.0.1"; numeric IPv4 or IPv6 address */
	unsigned port;	  /* 0: pick a free port */
	unsigned threads; /* pool threads; 0: one per core */
	size_t max_body;  /* bytes; larger bodies get 413 */
	unsigned max_connections;
	unsigned timeout;  /* seconds an idle or slow connection may live */
	int access_log_fd; /* one JSON line per reply (O_APPEND); -1: none */
	/*
	 * Writes the body of the replies the layer makes itself (404, 405, 413,
	 * 414, 501); NULL: {"error": msg} (http_resp_error). Lets a server keep
	 * one error shape. Called on pool threads.
	 */
	void (*error_fn)(struct http_resp *resp, int status, const char *msg);
	/*
	 * Called on a pool thread with each request's headers, before any of
	 * its body is read (req->body is "", no captures): returns an enum
	 * http_body_mode. Spooling keeps uploads of any size in constant
	 * memory; refusing here (auth) saves reading an upload to throw it
	 * away. NULL, or spool_dir NULL: every body in memory.
	 */
	int (*before_body)(void *ctx, const struct http_req *req, struct http_resp *resp);
	const char *spool_dir;
	uint64_t max_upload; /* bytes of a spooled body; 0: no limit but the disk */
};

void http_config_default(struct http_config *c);

struct http_server; /* opaque */

/*
 * Starts serving routes[0..nroutes) (copied; pattern strings must outlive the
 * server) with ctx passed to every handler. Returns NULL with err set when
 * the address cannot be bound. The bound port is http_port().
 */
struct http_server *http_start(const struct http_config *cfg, const struct http_route *routes,
			       size_t nroutes, void *ctx, struct err *err);
unsigned http_port(const struct http_server *s);
/* Requests being handled right now. */
long http_in_flight(const struct http_server *s);
/*
 * Stops accepting new connections, waits up to timeout_ms for requests in
 * flight to finish, then closes everything. Returns the number of requests
 * still in flight when it gave up (0: a clean drain).
 */
long http_drain(struct http_server *s, long timeout_ms);
/* Stops (if not drained) and frees. NULL is fine. */
void http_free(struct http_server *s);

/* A request header, or NULL. */
const char *http_req_header(const struct http_req *req, const char *name);

/*
 * Query-string arguments (percent-decoded, borrowed for the call). http_req_arg
 * returns the first value of name, or NULL; a key without '=' has value "".
 * http_req_args fills out[0..max) with every value of name in order and
 * returns how many there were (possibly more than max).
 */
const char *http_req_arg(const struct http_req *req, const char *name);
size_t http_req_args(const struct http_req *req, const char *name, const char **out, size_t max);

/*
 * Appends Prometheus text for the request counters and latency histogram:
 * kiln_http_requests_total{code,handler,method} and
 * kiln_http_request_duration_seconds{handler}, plus kiln_http_requests_in_flight.
 */
int http_write_metrics(const struct http_server *s, struct buf *out);

/* Sets an error reply: status and {"error": msg}. */
void http_resp_error(struct http_resp *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Matches a decoded path against a pattern (see struct http_route). Returns 1
 * and fills cap/ncap (pointers into scratch, NUL-terminated there; scratch
 * must hold strlen(path)+1 bytes) or 0 on no match.
 */
int http_match(const char *pattern, const char *path, char *scratch, const char **cap,
	       size_t *ncap);

/* "GET" -> HTTP_GET ...; 0 when unknown. */
int http_method_parse(const char *s);

/*
 * Prometheus text 0.0.4 helpers (each returns 0, or -1 on ENOMEM).
 * http_prom_family writes the HELP and TYPE lines; http_prom_label appends a
 * label value escaped (\, \", \n); http_prom_process writes the standard
 * process_* families (CPU seconds, resident and virtual memory, start time,
 * open and max fds) read from /proc/self.
 */
int http_prom_family(struct buf *b, const char *name, const char *type, const char *help);
int http_prom_label(struct buf *b, const char *value);
int http_prom_process(struct buf *b);

#endif

/*
 * internal.h - shared inside src/http/ only: the counters the glue updates
 * and the Prometheus writer that reads them.
 */
#ifndef KILN_HTTP_INTERNAL_H
#define KILN_HTTP_INTERNAL_H

#include "http/http.h"

/* Counts one reply: method mask bit, status, latency in seconds. Lock-free. */
void http__stats_record(struct http_route_stats *st, int method, int status, double seconds);
/* Writes the request families for routes[0..n) and the unmatched slot n. */
int http__stats_write(const struct http_route *routes, size_t n,
		      const struct http_route_stats *stats, long in_flight, struct buf *out);

#endif

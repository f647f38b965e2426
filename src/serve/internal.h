/*
 * internal.h - shared inside src/serve/ only: the server state the routes
 * read, and the metrics writer.
 */
#ifndef KILN_SERVE_INTERNAL_H
#define KILN_SERVE_INTERNAL_H

#include "serve/serve.h"

struct srv {
	struct srv_config cfg;
	struct srv_slot slot;
	struct http_server *http;
	atomic_int draining;
	atomic_uint_fast64_t loads, load_failures;
	int sigfd, inofd, inowd; /* -1 when closed */
	char *dir, *base;	 /* the model file's directory and name, for inotify */
};

/* Writes every /metrics family: HTTP, model, process. 0 or -1 (ENOMEM). */
int srv__write_metrics(struct srv *s, struct buf *out);

#endif

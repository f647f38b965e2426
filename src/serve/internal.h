/*
 * internal.h - shared inside src/serve/ only: the server state the routes
 * read, and the metrics writer.
 */
#ifndef KILN_SERVE_INTERNAL_H
#define KILN_SERVE_INTERNAL_H

#include "serve/serve.h"

#include <pthread.h>
#include <stddef.h>

/* The sampled request log of --log-requests (reqlog.c). */
struct srv_reqlog {
	int active;
	pthread_mutex_t lock; /* guards fd, size, rotations */
	int fd;
	char *dir;
	size_t size, max_bytes;
	unsigned rotations;
	double sample; /* fraction of requests logged, (0, 1] */
	unsigned long long start;
	atomic_uint_fast64_t seen;
};

int srv__reqlog_open(struct srv_reqlog *l, const char *dir, double sample, size_t max_bytes,
		     struct err *err);
void srv__reqlog_close(struct srv_reqlog *l);
/* Counts a request; true when it is sampled, with its id written to id. */
int srv__reqlog_sampled(struct srv_reqlog *l, char *id, size_t idsz);
/* Appends whole lines, rotating first when they would pass max_bytes. */
void srv__reqlog_append(struct srv_reqlog *l, const char *data, size_t len);

/* Registry mode's follower (follow.c); NULL in struct srv otherwise. */
struct srv_follow;
/*
 * Resolves the alias and downloads its bundle; *path (owned by the follower)
 * and *version are what to load first. -1 with err when the registry cannot
 * be reached, the alias is unknown or the download fails.
 */
int srv__follow_open(struct srv *s, const char **path, const char **version, struct err *err);
/* Starts the polling thread. */
int srv__follow_start(struct srv *s, struct err *err);
/* Asks for a poll now (SIGHUP). */
void srv__follow_kick(struct srv *s);
/* Stops and joins the thread (idempotent); _free also releases everything. */
void srv__follow_stop(struct srv *s);
void srv__follow_free(struct srv *s);

struct srv {
	struct srv_config cfg;
	struct srv_follow *follow;
	pthread_mutex_t swap_lock; /* one srv_load at a time */
	atomic_uint_fast64_t registry_errors;
	struct srv_slot slot;
	struct http_server *http;
	atomic_int draining;
	atomic_uint_fast64_t loads, load_failures;
	int sigfd, inofd, inowd; /* -1 when closed */
	char *dir, *base;	 /* the model file's directory and name, for inotify */
	struct srv_reqlog reqlog;
};

/* Writes every /metrics family: HTTP, model, process. 0 or -1 (ENOMEM). */
int srv__write_metrics(struct srv *s, struct buf *out);

#endif

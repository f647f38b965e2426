/*
 * reqlog.c - `--log-requests DIR`: sampled predictions (inputs, outputs and a
 * request id) appended as JSON lines to DIR/requests.jsonl, rotated by size
 * to DIR/requests-<UTC time>-<n>.jsonl: the production data retraining reads.
 * Formatting happens in the request thread; only the append takes a lock,
 * and only for sampled requests.
 */
#include "serve/internal.h"

#include "base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int open_current(struct srv_reqlog *l, struct err *err)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/requests.jsonl", l->dir);
	l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (l->fd < 0)
		return err_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
	l->size = fstat(l->fd, &st) == 0 ? (size_t)st.st_size : 0;
	return 0;
}

int srv__reqlog_open(struct srv_reqlog *l, const char *dir, double sample, size_t max_bytes,
		     struct err *err)
{
	struct stat st;
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(err, ERR_USAGE, "--log-requests: '%s' is not a directory", dir);
	l->dir = mem_strdup(dir);
	if (!l->dir)
		return err_set(err, ERR_NOMEM, "out of memory");
	l->sample = sample;
	l->max_bytes = max_bytes;
	l->start = (unsigned long long)time(NULL);
	if (pthread_mutex_init(&l->lock, NULL) != 0) {
		mem_free(l->dir);
		l->dir = NULL;
		return err_set(err, ERR_IO, "cannot create a mutex");
	}
	l->active = 1;
	return open_current(l, err);
}

void srv__reqlog_close(struct srv_reqlog *l)
{
	if (!l->active)
		return;
	if (l->fd >= 0)
		close(l->fd);
	pthread_mutex_destroy(&l->lock);
	mem_free(l->dir);
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}

int srv__reqlog_sampled(struct srv_reqlog *l, char *id, size_t idsz)
{
	uint_fast64_t n;
	if (!l->active)
		return 0;
	n = atomic_fetch_add_explicit(&l->seen, 1, memory_order_relaxed);
	/* Deterministic sampling: request n is logged when floor(n * rate) steps up. */
	if ((uint_fast64_t)((double)(n + 1) * l->sample) == (uint_fast64_t)((double)n * l->sample))
		return 0;
	snprintf(id, idsz, "%llx-%llu", l->start, (unsigned long long)n);
	return 1;
}

/* Moves the full file aside and opens a new one. Called with the lock held. */
static void rotate(struct srv_reqlog *l)
{
	char from[4096], to[4200], when[32];
	time_t now = time(NULL);
	struct tm tm;
	struct err err = ERR_INIT;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(from, sizeof(from), "%s/requests.jsonl", l->dir);
	snprintf(to, sizeof(to), "%s/requests-%s-%u.jsonl", l->dir, when, l->rotations++);
	close(l->fd);
	l->fd = -1;
	if (rename(from, to) < 0)
		(void)unlink(from);  /* cannot keep it: start over rather than grow forever */
	(void)open_current(l, &err); /* on failure fd stays -1 and lines are dropped */
}

void srv__reqlog_append(struct srv_reqlog *l, const char *data, size_t len)
{
	pthread_mutex_lock(&l->lock);
	if (l->size > 0 && l->size + len > l->max_bytes)
		rotate(l);
	if (l->fd >= 0 && write(l->fd, data, len) == (ssize_t)len)
		l->size += len;
	pthread_mutex_unlock(&l->lock);
}

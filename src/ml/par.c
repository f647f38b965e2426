/*
 * par.c - ml__par_for: the independent items of one training stage (the
 * columns of a schema or a feature pipeline, blocks of rows) on the calling
 * thread and one more, with the result and the error of a serial loop.
 * Not a pool: a thread per call, for stages of milliseconds.
 */
#include "ml/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct par_run {
	size_t n;
	int (*fn)(void *ctx, size_t i, struct err *err);
	void *ctx;
	atomic_size_t next;
	atomic_int stop;
};

/* One thread's share: its first failure (the lowest item it failed on). */
struct par_share {
	struct par_run *run;
	size_t bad;
	struct err err;
};

static void *par_work(void *arg)
{
	struct par_share *sh = arg;
	struct par_run *run = sh->run;
	size_t i;
	while (!atomic_load(&run->stop) && (i = atomic_fetch_add(&run->next, 1)) < run->n) {
		if (run->fn(run->ctx, i, &sh->err) < 0) {
			sh->bad = i;
			atomic_store(&run->stop, 1);
			break;
		}
	}
	return NULL;
}

int ml__par_for(size_t n, int (*fn)(void *ctx, size_t i, struct err *err), void *ctx,
		struct err *err)
{
	struct par_run run;
	struct par_share sh[2];
	pthread_t th;
	int threaded = 0, k, first = -1;

	run.n = n;
	run.fn = fn;
	run.ctx = ctx;
	atomic_init(&run.next, 0);
	atomic_init(&run.stop, 0);
	for (k = 0; k < 2; k++) {
		sh[k].run = &run;
		sh[k].bad = SIZE_MAX;
		err_clear(&sh[k].err);
	}
	if (n > 1 && pthread_create(&th, NULL, par_work, &sh[1]) == 0)
		threaded = 1;
	par_work(&sh[0]);
	if (threaded && pthread_join(th, NULL) != 0)
		return err_set(err, ERR_INTERNAL, "cannot join a worker thread");
	/* Items are claimed in order and each claimed one runs to its end, so
	 * every item before the lowest failure ran, as in a serial loop. */
	for (k = 0; k < 2; k++)
		if (sh[k].bad != SIZE_MAX && (first < 0 || sh[k].bad < sh[first].bad))
			first = k;
	if (first >= 0)
		return err_set(err, sh[first].err.code, "%s", sh[first].err.msg);
	return 0;
}

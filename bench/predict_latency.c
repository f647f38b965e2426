/*
 * predict_latency.c - single-row predict latency of a kiln model, the whole
 * pipeline (parse the cell strings, features, learner) through the public
 * ml_model_predict call, as `kiln serve` uses it. Benchmark only; built by
 * bench/ml.sh against kiln's objects, not part of ./kiln.
 *   predict_latency MODEL DATA.csv [CALLS]   prints {"latency_us": median, ...}
 *   predict_latency --batch MODEL DATA.csv   prints {"batch_rows_per_s": ...}:
 *       ml_model_predict_frame on the whole file, in memory, best of 3
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/mem.h"
#include "ml/frame.h"
#include "ml/model.h"

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* cells for row r of f in the schema's column order. */
static void fill_cells(struct ml_cell *cells, const int *map, size_t ncols,
		       const struct ml_frame *f, size_t r)
{
	for (size_t c = 0; c < ncols; c++) {
		const char *v = map[c] >= 0 ? f->cells[map[c]][r] : NULL;
		cells[c].kind = v ? ML_CELL_STR : ML_CELL_MISSING;
		cells[c].str = v;
		cells[c].len = v ? strlen(v) : 0;
		cells[c].num = 0;
	}
}

/* Rows per second of ml_model_predict_frame over f (the CSV already parsed). */
static int batch(const char *model, const char *data, struct err *err)
{
	struct ml_frame f = {0};
	struct ml_model *m = NULL;
	struct ml_pred *preds = NULL;
	double best = 0;
	int rc = -1;

	if (!(m = ml_model_load(model, err)) || ml_frame_read_csv(&f, data, err) < 0)
		goto out;
	if (!(preds = mem_calloc(f.nrows, sizeof(*preds)))) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < 3; i++) {
		double t0 = now_ns(), secs;
		if (ml_model_predict_frame(m, &f, preds, err) < 0)
			goto out;
		secs = (now_ns() - t0) / 1e9;
		if (best == 0 || secs < best)
			best = secs;
	}
	printf("{\"batch_rows_per_s\": %.1f, \"rows\": %zu}\n", (double)f.nrows / best, f.nrows);
	rc = 0;
out:
	mem_free(preds);
	ml_frame_release(&f);
	ml_model_free(m);
	return rc;
}

int main(int argc, char **argv)
{
	struct err err = ERR_INIT;
	struct ml_frame f = {0};
	struct ml_model *m = NULL;
	const struct ml_schema *s;
	struct ml_cell *cells = NULL;
	struct ml_pred pred;
	double *t = NULL, sum = 0;
	int *map = NULL, rc = 1;
	long calls = argc > 3 ? strtol(argv[3], NULL, 10) : 20000;

	if (argc == 4 && strcmp(argv[1], "--batch") == 0) {
		if (batch(argv[2], argv[3], &err) == 0)
			return 0;
		fprintf(stderr, "predict_latency: %s\n", err.msg);
		return 1;
	}
	if (argc < 3 || calls < 1) {
		fprintf(stderr, "usage: predict_latency MODEL DATA.csv [CALLS]\n");
		return 2;
	}
	if (!(m = ml_model_load(argv[1], &err)) || ml_frame_read_csv(&f, argv[2], &err) < 0)
		goto out;
	s = ml_model_schema(m);
	cells = mem_calloc(s->ncols, sizeof(*cells));
	map = mem_calloc(s->ncols, sizeof(*map));
	t = mem_calloc((size_t)calls, sizeof(*t));
	if (!cells || !map || !t) {
		err_set(&err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t c = 0; c < s->ncols; c++)
		map[c] = ml_frame_col(&f, s->cols[c].name);
	/* warm up caches and lazy initialisation */
	for (size_t r = 0; r < f.nrows && r < 200; r++) {
		fill_cells(cells, map, s->ncols, &f, r);
		if (ml_model_predict(m, cells, &pred, &err) < 0)
			goto out;
	}
	for (long i = 0; i < calls; i++) {
		double t0;
		fill_cells(cells, map, s->ncols, &f, (size_t)i % f.nrows);
		t0 = now_ns();
		if (ml_model_predict(m, cells, &pred, &err) < 0)
			goto out;
		t[i] = now_ns() - t0;
		sum += t[i];
	}
	qsort(t, (size_t)calls, sizeof(*t), cmp_double);
	printf("{\"latency_us\": %.3f, \"p99_us\": %.3f, \"mean_us\": %.3f, \"calls\": %ld}\n",
	       t[calls / 2] / 1e3, t[(size_t)((double)calls * 0.99)] / 1e3,
	       sum / (double)calls / 1e3, calls);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "predict_latency: %s\n", err.msg);
	mem_free(cells);
	mem_free(map);
	mem_free(t);
	ml_frame_release(&f);
	ml_model_free(m);
	return rc;
}

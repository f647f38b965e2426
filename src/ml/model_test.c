/*
 * model_test.c - unit tests for ml/model.h on the shared data sets: save and
 * load round trips, concurrent prediction, and single-row prediction time
 * (printed, never asserted). Skipped when the data sets are not there.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/mem.h"
#include "ml/model.h"

#define THREADS 4

static char data_dir[2048];

static int have_data(void)
{
	const char *shared = getenv("KILN_SHARED");
	char probe[2200];
	(void)snprintf(data_dir, sizeof(data_dir), "%s/datasets", shared ? shared : "../shared");
	(void)snprintf(probe, sizeof(probe), "%s/churn/train.csv", data_dir);
	return access(probe, R_OK) == 0;
}

static char *data_path(const char *rel)
{
	static char path[2][4200];
	static int which;
	which ^= 1;
	(void)snprintf(path[which], sizeof(path[which]), "%s/%s", data_dir, rel);
	return path[which];
}

static struct ml_model *train(const char *set, const char *target, enum ml_algo algo)
{
	struct ml_train_opts o;
	struct err err = ERR_INIT;
	struct ml_model *m;
	char train_rel[256], test_rel[256];
	(void)snprintf(train_rel, sizeof(train_rel), "%s/train.csv", set);
	(void)snprintf(test_rel, sizeof(test_rel), "%s/test.csv", set);
	ml_train_opts_default(&o);
	o.train_path = mem_strdup(data_path(train_rel));
	o.test_path = mem_strdup(data_path(test_rel));
	o.target = target;
	o.algo = algo;
	o.created_at = 1700000000;
	m = ml_model_train(&o, &err);
	if (!m)
		fail_msg("training failed: %s", err.msg);
	mem_free((char *)o.train_path);
	mem_free((char *)o.test_path);
	return m;
}

static struct ml_pred *predict_all(const struct ml_model *m, const struct ml_frame *f)
{
	struct err err = ERR_INIT;
	struct ml_pred *p = mem_calloc(f->nrows, sizeof(*p));
	assert_non_null(p);
	if (ml_model_predict_frame(m, f, p, &err) < 0)
		fail_msg("predict failed: %s", err.msg);
	return p;
}

static void test_model_save_and_load_predict_identically(void **state)
{
	enum ml_algo algos[] = {ML_ALGO_LOGREG, ML_ALGO_GBDT};
	char path[] = "/tmp/kiln-model-test-XXXXXX";
	int fd = mkstemp(path);
	size_t a, r;
	if (!have_data())
		skip();
	assert_true(fd >= 0);
	close(fd);
	for (a = 0; a < 2; a++) {
		struct err err = ERR_INIT;
		struct ml_model *m = train("credit", "Status", algos[a]), *back;
		struct ml_frame f;
		struct ml_pred *p1, *p2;
		assert_int_equal(ml_model_save(m, path, &err), 0);
		back = ml_model_load(path, &err);
		if (!back)
			fail_msg("load failed: %s", err.msg);
		assert_string_equal(ml_model_sha256(m), ml_model_sha256(back));
		assert_string_equal(ml_model_label_name(back), "Status");
		assert_int_equal(ml_frame_read_csv(&f, data_path("credit/test.csv"), &err), 0);
		p1 = predict_all(m, &f);
		p2 = predict_all(back, &f);
		for (r = 0; r < f.nrows; r++) {
			assert_int_equal(p1[r].klass, p2[r].klass);
			assert_true(p1[r].prob[0] == p2[r].prob[0]);
		}
		mem_free(p1);
		mem_free(p2);
		ml_frame_release(&f);
		ml_model_free(m);
		ml_model_free(back);
	}
	unlink(path);
}

struct job {
	const struct ml_model *m;
	const struct ml_frame *f;
	const struct ml_pred *want;
	int bad;
};

static void *predict_thread(void *arg)
{
	struct job *j = arg;
	struct ml_cell cells[64];
	size_t r, c, rounds;
	const struct ml_schema *s = ml_model_schema(j->m);
	for (rounds = 0; rounds < 5; rounds++) {
		for (r = 0; r < j->f->nrows; r++) {
			struct ml_pred p;
			struct err err = ERR_INIT;
			for (c = 0; c < s->ncols && c < 64; c++) {
				int col = ml_frame_col(j->f, s->cols[c].name);
				const char *v = col >= 0 ? j->f->cells[col][r] : NULL;
				cells[c].kind = v ? ML_CELL_STR : ML_CELL_MISSING;
				cells[c].str = v;
				cells[c].len = v ? strlen(v) : 0;
			}
			if (ml_model_predict(j->m, cells, &p, &err) < 0 ||
			    p.klass != j->want[r].klass || p.value != j->want[r].value)
				j->bad++;
		}
	}
	return NULL;
}

static void test_model_predict_is_thread_safe(void **state)
{
	enum ml_algo algos[] = {ML_ALGO_LOGREG, ML_ALGO_GBDT};
	size_t a, t;
	if (!have_data())
		skip();
	for (a = 0; a < 2; a++) {
		struct err err = ERR_INIT;
		struct ml_model *m = train("churn", NULL, algos[a]);
		struct ml_frame f;
		struct ml_pred *want;
		pthread_t th[THREADS];
		struct job jobs[THREADS];
		assert_int_equal(ml_frame_read_csv(&f, data_path("churn/test.csv"), &err), 0);
		want = predict_all(m, &f);
		for (t = 0; t < THREADS; t++) {
			jobs[t] = (struct job){m, &f, want, 0};
			assert_int_equal(pthread_create(&th[t], NULL, predict_thread, &jobs[t]), 0);
		}
		for (t = 0; t < THREADS; t++) {
			assert_int_equal(pthread_join(th[t], NULL), 0);
			assert_int_equal(jobs[t].bad, 0);
		}
		mem_free(want);
		ml_frame_release(&f);
		ml_model_free(m);
	}
}

/* Every output of one row-by-row ml_model_predict on row r of f. */
static void expect_row(const struct ml_model *m, const struct ml_frame *f, size_t r,
		       const struct ml_pred *got)
{
	const struct ml_schema *s = ml_model_schema(m);
	struct ml_cell cells[128];
	struct ml_pred want;
	struct err err = ERR_INIT;
	size_t c, k;
	assert_true(s->ncols <= 128);
	for (c = 0; c < s->ncols; c++) {
		int col = ml_frame_col(f, s->cols[c].name);
		const char *v = col >= 0 ? f->cells[col][r] : NULL;
		cells[c].kind = v ? ML_CELL_STR : ML_CELL_MISSING;
		cells[c].str = v;
		cells[c].len = v ? strlen(v) : 0;
	}
	assert_int_equal(ml_model_predict(m, cells, &want, &err), 0);
	assert_int_equal(got->klass, want.klass);
	assert_true(got->value == want.value);
	for (k = 0; k < 64; k++)
		assert_true(got->prob[k] == want.prob[k]);
}

/* ml_model_predict_frame (two threads on big frames) equals row by row. */
static void test_model_batch_equals_rows(void **state)
{
	const char *sets[][2] = {{"ames", "Sale_Price"}, {"credit", "Status"}};
	size_t i, a, r;
	if (!have_data())
		skip();
	for (i = 0; i < 2; i++)
		for (a = 0; a < 2; a++) {
			struct err err = ERR_INIT;
			struct ml_model *m =
				train(sets[i][0], sets[i][1], a ? ML_ALGO_GBDT : ML_ALGO_LOGREG);
			struct ml_frame f;
			struct ml_pred *p;
			char rel[256];
			(void)snprintf(rel, sizeof(rel), "%s/test.csv", sets[i][0]);
			assert_int_equal(ml_frame_read_csv(&f, data_path(rel), &err), 0);
			assert_true(f.nrows >= 512); /* two threads: FRAME_THREAD_MIN in model.c */
			p = predict_all(m, &f);
			for (r = 0; r < f.nrows; r++)
				expect_row(m, &f, r, &p[r]);
			mem_free(p);
			ml_frame_release(&f);
			ml_model_free(m);
		}
}

/* With bad values in both halves, the earlier row is the one reported. */
static void test_model_batch_reports_first_bad_row(void **state)
{
	struct ml_model *m;
	struct ml_frame f;
	struct ml_pred *p;
	struct buf csv = BUF_INIT;
	struct err err = ERR_INIT;
	size_t r;
	if (!have_data())
		skip();
	m = train("churn", NULL, ML_ALGO_GBDT);
	assert_int_equal(buf_adds(&csv, "account_length,total_day_minutes\n"), 0);
	for (r = 0; r < 2000; r++)
		assert_int_equal(
			buf_addf(&csv, "%s,%zu\n", r == 1500 || r == 1700 ? "x" : "100", r % 300),
			0);
	assert_int_equal(ml_frame_parse_csv(&f, csv.ptr, csv.len, "t.csv", &err), 0);
	p = mem_calloc(f.nrows, sizeof(*p));
	assert_non_null(p);
	assert_int_equal(ml_model_predict_frame(m, &f, p, &err), -1);
	assert_non_null(strstr(err.msg, "t.csv:1502:"));
	mem_free(p);
	ml_frame_release(&f);
	buf_release(&csv);
	ml_model_free(m);
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Mean time of one ml_model_predict over the rows of a test file. */
static void time_predict(const char *set, const char *target, enum ml_algo algo)
{
	struct err err = ERR_INIT;
	struct ml_model *m = train(set, target, algo);
	const struct ml_schema *s = ml_model_schema(m);
	struct ml_cell *cells = mem_calloc(s->ncols, sizeof(*cells));
	struct ml_frame f;
	char rel[256];
	size_t n = 0, r, c, *map = mem_calloc(s->ncols, sizeof(*map));
	double t0, t1;
	(void)snprintf(rel, sizeof(rel), "%s/test.csv", set);
	assert_int_equal(ml_frame_read_csv(&f, data_path(rel), &err), 0);
	for (c = 0; c < s->ncols; c++)
		map[c] = (size_t)ml_frame_col(&f, s->cols[c].name);
	t0 = now_us();
	while (n < 20000) {
		for (r = 0; r < f.nrows && n < 20000; r++, n++) {
			struct ml_pred p;
			for (c = 0; c < s->ncols; c++) {
				const char *v = f.cells[map[c]][r];
				cells[c].kind = v ? ML_CELL_STR : ML_CELL_MISSING;
				cells[c].str = v;
				cells[c].len = v ? strlen(v) : 0;
			}
			assert_int_equal(ml_model_predict(m, cells, &p, &err), 0);
		}
	}
	t1 = now_us();
	printf("predict %-9s %-6s %.2f us per row (%zu rows)\n", set,
	       algo == ML_ALGO_GBDT ? "gbdt" : "logreg", (t1 - t0) / (double)n, n);
	mem_free(cells);
	mem_free(map);
	ml_frame_release(&f);
	ml_model_free(m);
}

static void test_model_predict_timing(void **state)
{
	if (!have_data())
		skip();
	time_predict("sentiment", NULL, ML_ALGO_LOGREG);
	time_predict("churn", NULL, ML_ALGO_GBDT);
	time_predict("ames", "Sale_Price", ML_ALGO_GBDT);
}

static void test_model_load_mem_rejects_corruption(void **state)
{
	char path[] = "/tmp/kiln-model-test-XXXXXX";
	struct buf b = BUF_INIT;
	struct err err = ERR_INIT;
	struct ml_model *m;
	int fd = mkstemp(path);
	size_t i;
	if (!have_data())
		skip();
	assert_true(fd >= 0);
	close(fd);
	m = train("credit", "Status", ML_ALGO_LOGREG);
	assert_int_equal(ml_model_save(m, path, &err), 0);
	ml_model_free(m);
	assert_int_equal(buf_read_file(&b, path, 0), 0);
	unlink(path);
	m = ml_model_load_mem(b.ptr, b.len, "ok.kiln", &err);
	assert_non_null(m);
	ml_model_free(m);
	for (i = 0; i < b.len; i += b.len / 37 + 1) {
		struct err e = ERR_INIT;
		b.ptr[i] ^= 0x20;
		assert_null(ml_model_load_mem(b.ptr, b.len, "bad.kiln", &e));
		assert_true(e.msg[0] != '\0');
		b.ptr[i] ^= 0x20;
	}
	buf_release(&b);
}

/* Every allocation of a load failing in turn: an error, never a crash or leak. */
static void test_model_load_survives_allocation_failure(void **state)
{
	const char *seeds[] = {"tests/fuzz/corpus/model/text-logreg.kiln",
			       "tests/fuzz/corpus/model/gbdt-multi.kiln"};
	size_t i;
	for (i = 0; i < 2; i++) {
		struct buf b = BUF_INIT;
		long n;
		int ok = 0;
		if (buf_read_file(&b, seeds[i], 0) < 0)
			skip(); /* not run from the top of the source tree */
		for (n = 0; n < 100000 && !ok; n++) {
			struct err e = ERR_INIT;
			struct ml_model *m;
			mem_set_fail_after(n);
			m = ml_model_load_mem(b.ptr, b.len, seeds[i], &e);
			mem_set_fail_after(-1);
			if (m) {
				ok = 1;
				ml_model_free(m);
			} else {
				assert_true(e.msg[0] != '\0');
			}
		}
		assert_true(ok);
		buf_release(&b);
	}
}

/* A small training file with every kind of column; its path in path (a mkstemp template). */
static void write_small_csv(char *path, unsigned seed)
{
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	unsigned r;
	assert_non_null(f);
	fprintf(f, "num,cat,txt,y\n");
	for (r = 0; r < 80; r++) {
		int pos = (r * 7 + seed) % 3 != 0;
		if (r % 9 == 4)
			fprintf(f, ",");
		else
			fprintf(f, "%u.%u,", (r * 13 + seed) % 50 + (pos ? 20 : 0), r % 10);
		fprintf(f, "%s,", r % 11 == 3 ? "" : r % 4 ? "red" : "blue");
		fprintf(f, "%s film number %u,%s\n", pos ? "a good" : "an awful", r % 6,
			pos ? "yes" : "no");
	}
	assert_int_equal(fclose(f), 0);
}

static char *manifest_text(const struct ml_model *m)
{
	char *t = json_dumps(ml_model_manifest(m), JSON_SORT_KEYS | JSON_COMPACT);
	assert_non_null(t);
	return t;
}

/*
 * Every allocation of a training run failing in turn, wherever it falls: in
 * the main thread, the column threads or the thread beside the learner
 * (reference statistics, lineage). Each run fails with a message, or trains
 * the very model of a run without failures; none crashes or leaks.
 */
static void test_model_train_survives_allocation_failure(void **state)
{
	char trp[] = "/tmp/kiln-model-test-XXXXXX", tep[] = "/tmp/kiln-model-test-XXXXXX";
	char cwd[4096];
	struct ml_train_opts o;
	struct err err = ERR_INIT;
	struct ml_model *m;
	char *want;
	long n;
	int ok = 0;
	(void)state;
	write_small_csv(trp, 0);
	write_small_csv(tep, 1);
	/* outside any git work tree: lineage spawns no git for each run */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir("/tmp"), 0);
	ml_train_opts_default(&o);
	o.train_path = trp;
	o.test_path = tep;
	o.hash_bits = 8;
	o.created_at = 1700000000;
	m = ml_model_train(&o, &err);
	if (!m)
		fail_msg("training failed: %s", err.msg);
	want = manifest_text(m);
	ml_model_free(m);
	for (n = 0; n < 100000 && !ok; n++) {
		struct err e = ERR_INIT;
		mem_set_fail_after(n);
		m = ml_model_train(&o, &e);
		mem_set_fail_after(-1);
		if (m) {
			char *got = manifest_text(m);
			ok = 1;
			assert_string_equal(got, want);
			free(got);
			ml_model_free(m);
		} else {
			assert_true(e.msg[0] != '\0');
		}
	}
	assert_true(ok);
	free(want);
	assert_int_equal(chdir(cwd), 0);
	unlink(trp);
	unlink(tep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_save_and_load_predict_identically),
		cmocka_unit_test(test_model_predict_is_thread_safe),
		cmocka_unit_test(test_model_batch_equals_rows),
		cmocka_unit_test(test_model_batch_reports_first_bad_row),
		cmocka_unit_test(test_model_predict_timing),
		cmocka_unit_test(test_model_load_mem_rejects_corruption),
		cmocka_unit_test(test_model_load_survives_allocation_failure),
		cmocka_unit_test(test_model_train_survives_allocation_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

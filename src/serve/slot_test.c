/*
 * slot_test.c - unit tests for the model slot: references keep a swapped-out
 * model alive, and readers racing 2000 swaps never see a freed model (run
 * under ASan, a use after free fails the test).
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "serve/serve.h"

/* A model with no ml_model behind it: enough for the slot, which never predicts. */
static struct srv_model *fake_model(unsigned tag)
{
	struct srv_model *m = mem_calloc(1, sizeof(*m));
	assert_non_null(m);
	atomic_init(&m->refs, 1);
	m->name = mem_strdup("m");
	m->version = mem_strdup("1");
	m->npred = tag; /* read by the racing readers */
	m->pred_count = mem_calloc(1, sizeof(*m->pred_count));
	return m;
}

static void test_reference_outlives_swap(void **state)
{
	struct srv_slot slot = {0};
	struct srv_model *a = fake_model(1), *got;
	assert_null(srv_slot_get(&slot));
	srv_slot_swap(&slot, a);
	got = srv_slot_get(&slot);
	assert_ptr_equal(got, a);
	assert_int_equal(atomic_load(&a->refs), 2);
	srv_slot_swap(&slot, fake_model(2));
	/* The slot let go of a; our reference keeps it. */
	assert_int_equal(atomic_load(&a->refs), 1);
	assert_int_equal(got->npred, 1);
	srv_model_unref(got, __func__);
	got = srv_slot_get(&slot);
	assert_int_equal(got->npred, 2);
	srv_model_unref(got, __func__);
	srv_slot_swap(&slot, NULL);
	assert_null(srv_slot_get(&slot));
}

struct race {
	struct srv_slot slot;
	atomic_int stop, started;
};

static void *reader(void *arg)
{
	struct race *r = arg;
	long n = 0;
	while (!atomic_load(&r->stop)) {
		struct srv_model *m = srv_slot_get(&r->slot);
		if (m) {
			/* Touch the model as a request would. */
			atomic_fetch_add(&m->pred_count[0], (uint_fast64_t)m->npred % 2);
			srv_model_unref(m, __func__);
			if (n++ == 0)
				atomic_fetch_add(&r->started, 1);
		}
	}
	return (void *)n;
}

static void test_readers_race_swaps(void **state)
{
	struct race r;
	pthread_t t[3];
	memset(&r, 0, sizeof(r));
	srv_slot_swap(&r.slot, fake_model(0));
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, &r), 0);
	while (atomic_load(&r.started) < 3)
		sched_yield();
	for (unsigned i = 1; i <= 2000; i++)
		srv_slot_swap(&r.slot, fake_model(i));
	atomic_store(&r.stop, 1);
	for (int i = 0; i < 3; i++) {
		void *n;
		assert_int_equal(pthread_join(t[i], &n), 0);
		assert_true((long)n > 0);
	}
	assert_int_equal(atomic_load(&atomic_load(&r.slot.cur)->refs), 1);
	srv_slot_swap(&r.slot, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference_outlives_swap),
		cmocka_unit_test(test_readers_race_swaps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * numfmt_test.c - ml_fmt_f6 and ml_fmt_g10 must write exactly what printf
 * writes: checked on millions of values of every magnitude, floats, values
 * next to rounding ties and decade edges, and the special values.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ml/numfmt.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;

/* splitmix64 */
static uint64_t next_u64(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static double uniform(void)
{
	return (double)(next_u64() >> 11) * 0x1p-53;
}

static void check(double v)
{
	char want[ML_NUMFMT_MAX + 1], got[ML_NUMFMT_MAX + 1];
	size_t n;
	(void)snprintf(want, sizeof(want), "%.6f", v);
	n = ml_fmt_f6(got, v);
	got[n] = '\0';
	if (strcmp(want, got) != 0)
		fail_msg("%%.6f of %.17g: printf '%s', ml_fmt_f6 '%s'", v, want, got);
	(void)snprintf(want, sizeof(want), "%.10g", v);
	n = ml_fmt_g10(got, v);
	got[n] = '\0';
	if (strcmp(want, got) != 0)
		fail_msg("%%.10g of %.17g: printf '%s', ml_fmt_g10 '%s'", v, want, got);
}

static void test_numfmt_special_values(void **state)
{
	const double v[] = {0.0,
			    -0.0,
			    1.0,
			    -1.0,
			    0.5,
			    1e-4,
			    1e-5,
			    9.99999e-5,
			    1e10,
			    1e9,
			    9999999999.0,
			    9999999999.5,
			    99999.999995,
			    0.1,
			    0.2,
			    0.3,
			    1.0 / 3,
			    2.0 / 3,
			    123456789012.0,
			    INFINITY,
			    -INFINITY,
			    NAN,
			    DBL_MAX,
			    DBL_MIN,
			    5e-324,
			    0.0000005,
			    0.0000015,
			    0.0000025,
			    0.9999995,
			    0.9999994999,
			    179942.328125};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++) {
		check(v[i]);
		check(-v[i]);
	}
}

static void test_numfmt_matches_printf_at_every_magnitude(void **state)
{
	(void)state;
	for (int i = 0; i < 300000; i++) {
		double v = pow(10, uniform() * 24 - 8);
		check(next_u64() & 1 ? -v : v);
		check((double)(float)v); /* gbdt values are floats */
	}
}

static void test_numfmt_matches_printf_on_probabilities(void **state)
{
	(void)state;
	for (int i = 0; i < 300000; i++) {
		double p = uniform();
		check(p);
		check(1.0 / (1.0 + exp(-(uniform() * 40 - 20))));
	}
}

/* Values at and next to ties of the last digit, and next to powers of ten. */
static void test_numfmt_matches_printf_next_to_ties_and_edges(void **state)
{
	(void)state;
	for (int i = 0; i < 60000; i++) {
		int e = (int)(next_u64() % 20) - 6;
		double k = (double)(next_u64() % 10000000000u);
		double t = (k + 0.5) * pow(10, e - 10), p = pow(10, e);
		check(t);
		check(nextafter(t, 0));
		check(nextafter(t, INFINITY));
		check(p);
		check(nextafter(p, 0));
		check(nextafter(p, INFINITY));
		check((k + 0.5) / 1e6);
		check(nextafter((k + 0.5) / 1e6, 0));
	}
}

/* Floats with few fraction bits: many exact ties at the digit printed. */
static void test_numfmt_matches_printf_on_exact_ties(void **state)
{
	(void)state;
	for (int i = 0; i < 300000; i++) {
		int shift = (int)(next_u64() % 30);
		double m = (double)(next_u64() % 100000000u);
		check(ldexp(m, -shift));
		check(ldexp(m, -shift) / 1e6);
		check(-ldexp(m, -shift));
	}
	check(0.5);
	check(2.5e-6);
	check(0.0000125);
	check(179942.328125);
	check(1.25);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numfmt_special_values),
		cmocka_unit_test(test_numfmt_matches_printf_at_every_magnitude),
		cmocka_unit_test(test_numfmt_matches_printf_on_probabilities),
		cmocka_unit_test(test_numfmt_matches_printf_next_to_ties_and_edges),
		cmocka_unit_test(test_numfmt_matches_printf_on_exact_ties),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * numfmt.c - "%.6f" and "%.10g" without printf when the decision is safe.
 * The value is scaled by an exact power of ten (one rounding, relative
 * error at most 2^-53), and the digits are those of the rounded product
 * unless the product is so close to a rounding tie (or a decade edge) that
 * this error could change them: then snprintf writes it, so the text is
 * always printf's, exactly. Not a general printf: two formats only.
 */
#include "ml/numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

/* 10^0 .. 10^22: every one an exact double. */
static const double pow10_exact[] = {1e0,  1e1,	 1e2,  1e3,  1e4,  1e5,	 1e6,  1e7,
				     1e8,  1e9,	 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static size_t fmt_printf(char *out, const char *fmt, double v)
{
	int n = snprintf(out, ML_NUMFMT_MAX, fmt, v);
	return n < 0 ? 0 : (size_t)n < ML_NUMFMT_MAX ? (size_t)n : ML_NUMFMT_MAX - 1;
}

/*
 * Rounds s = a * scale (s >= 0, the product rounded once) to an integer
 * into *n. Returns 0 when the error of s (at most err) could change the
 * result: s is that close to a tie. An exact tie of an exact product (a
 * float value times a small power of ten often is one) rounds to even, as
 * printf does.
 */
static int round_safely(double a, double scale, double s, double err, uint64_t *n)
{
	double fl = floor(s), frac = s - fl;
	if (fabs(frac - 0.5) <= err) {
		if (frac != 0.5 || fma(a, scale, -s) != 0)
			return 0;
		*n = (uint64_t)fl + ((uint64_t)fl & 1);
		return 1;
	}
	*n = (uint64_t)fl + (frac > 0.5);
	return 1;
}

/* Writes the decimal digits of n, at least min of them (zero-padded), backwards before end. */
static char *digits_before(char *end, uint64_t n, int min)
{
	int d = 0;
	do {
		*--end = (char)('0' + n % 10);
		n /= 10;
		d++;
	} while (n || d < min);
	return end;
}

static size_t copy_out(char *out, const char *from, const char *end)
{
	size_t n = (size_t)(end - from);
	for (size_t i = 0; i < n; i++)
		out[i] = from[i];
	return n;
}

size_t ml_fmt_f6(char *out, double v)
{
	char tmp[40], *end = tmp + sizeof(tmp), *p;
	uint64_t n;
	/* [0, 1e9): the product below 1e15, its error below 0.2 */
	if (signbit(v) || !(v < 1e9) ||
	    !round_safely(v, 1e6, v * 1e6, 1e-6 + v * 1e6 * 0x1p-52, &n))
		return fmt_printf(out, "%.6f", v);
	p = digits_before(end, n % 1000000, 6);
	*--p = '.';
	p = digits_before(p, n / 1000000, 1);
	return copy_out(out, p, end);
}

/*
 * "%.10g": ten significant digits; the exponent X of the rounded value picks
 * "%f" style with 9 - X decimals when -4 <= X < 10, trailing zeros removed
 * (and the point with them); other exponents, zero, negative zero, NaN and
 * infinities go to snprintf.
 */
size_t ml_fmt_g10(char *out, double v)
{
	char tmp[40], *end = tmp + sizeof(tmp), *p;
	double a = fabs(v), s;
	uint64_t n, ip, fp;
	int x, dec;

	if (!(a >= 1e-4 && a < 1e10))
		return fmt_printf(out, "%.10g", v);
	x = (int)floor(log10(a));
	if (x < -4)
		x = -4;
	if (x > 9)
		x = 9;
	s = a * pow10_exact[9 - x];
	if (s < 1e9 && x > -4) {
		x--;
		s = a * pow10_exact[9 - x];
	} else if (s >= 1e10 && x < 9) {
		x++;
		s = a * pow10_exact[9 - x];
	}
	/* s in [1e9, 1e10) with an error below 2e-6; keep away from both edges */
	if (!(s >= 1e9 + 1e-4 && s < 1e10 - 1) || !round_safely(a, pow10_exact[9 - x], s, 1e-5, &n))
		return fmt_printf(out, "%.10g", v);
	if (n >= 10000000000u) {
		/* rounded up to the next decade: one digit fewer after the point */
		n /= 10;
		x++;
		if (x > 9)
			return fmt_printf(out, "%.10g", v);
	}
	dec = 9 - x; /* 0 .. 13 digits after the point */
	if (dec > 9) {
		/* 0.000ddd...: n holds the ten significant digits */
		ip = 0;
		fp = n;
	} else {
		uint64_t scale = (uint64_t)pow10_exact[dec];
		ip = n / scale;
		fp = n % scale;
	}
	while (dec > 0 && fp % 10 == 0) {
		fp /= 10;
		dec--;
	}
	p = end;
	if (dec > 0) {
		p = digits_before(p, fp, dec);
		*--p = '.';
	}
	p = digits_before(p, ip, 1);
	if (v < 0)
		*--p = '-';
	return copy_out(out, p, end);
}

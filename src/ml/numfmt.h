/*
 * numfmt.h - the two number formats of prediction output, written without
 * printf in the common case and byte for byte what printf writes:
 * "%.6f" for probabilities and "%.10g" for regression values. Only the
 * formatting: where the text goes is the caller's (cli/predict.c, serve).
 */
#ifndef KILN_ML_NUMFMT_H
#define KILN_ML_NUMFMT_H

#include <stddef.h>

/* Longest text either function writes, without a terminating NUL. */
#define ML_NUMFMT_MAX 400

/*
 * Writes printf("%.6f", v) to out (which holds ML_NUMFMT_MAX bytes), without
 * a NUL. Returns the number of bytes written.
 */
size_t ml_fmt_f6(char *out, double v);

/* The same for printf("%.10g", v). */
size_t ml_fmt_g10(char *out, double v);

#endif

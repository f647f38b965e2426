/*
 * fuzz_csv.c - libFuzzer target for the CSV reader and what runs on every
 * frame after it: any bytes must give a frame or one error, and a frame must
 * survive schema inference, the JSON round trip and validation against
 * itself, never a crash, leak, hang or non-finite statistic.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"
#include "ml/csv.h"
#include "ml/frame.h"
#include "ml/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_schema(const struct ml_frame *f)
{
	struct ml_schema s, t;
	struct err err = ERR_INIT;
	json_t *j = NULL, *rep = NULL;
	if (ml_schema_infer(&s, f, NULL, ML_TASK_AUTO, &err) < 0) {
		if (err.msg[0] == '\0')
			__builtin_trap();
		return;
	}
	for (size_t c = 0; c < s.ncols; c++)
		if (!isfinite(s.cols[c].mean) || !isfinite(s.cols[c].std))
			__builtin_trap();
	j = ml_schema_to_json(&s);
	if (!j)
		__builtin_trap(); /* statistics must always be representable */
	if (ml_schema_from_json(&t, j, &err) < 0)
		__builtin_trap(); /* what we write, we read */
	/* The training data never violates its own schema's type checks. */
	if (ml_schema_validate(&t, f, &rep, &err) < 0)
		__builtin_trap();
	json_decref(rep);
	json_decref(j);
	ml_schema_release(&t);
	ml_schema_release(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ml_frame f;
	struct err err = ERR_INIT;
	if (ml_frame_parse_csv(&f, data, size, "fuzz.csv", &err) == 0) {
		/* Touch every cell so ASan checks the frame's pointers. */
		for (size_t c = 0; c < f.ncols; c++)
			for (size_t r = 0; r < f.nrows; r++)
				if (f.cells[c][r] && strlen(f.cells[c][r]) == 0)
					__builtin_trap(); /* empty fields must be NULL */
		check_schema(&f);
		ml_frame_release(&f);
	} else if (err.msg[0] == '\0') {
		__builtin_trap(); /* a failure always says why */
	}
	return 0;
}

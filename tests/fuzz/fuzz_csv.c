/*
 * fuzz_csv.c - libFuzzer target for the CSV reader and what runs on every
 * frame after it: any bytes must give a frame or one error, and a frame must
 * survive schema inference, the JSON round trip and validation against
 * itself, never a crash, leak, hang or non-finite statistic. The reader's
 * fast path is checked against its state machine on every input.
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

/*
 * The reader's fast path for plain rows must give exactly what its state
 * machine gives: the same rows, fields, line numbers, end and error.
 */
static void check_fast_path(const uint8_t *data, size_t size)
{
	struct ml_csv a, b;
	struct err ea = ERR_INIT, eb = ERR_INIT;
	int ra, rb;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (ml_csv_open_mem(&a, data, size, "f", &ea) < 0 ||
	    ml_csv_open_mem(&b, data, size, "f", &eb) < 0)
		goto out;
	b.slow_only = 1;
	do {
		ra = ml_csv_next(&a, &ea);
		rb = ml_csv_next(&b, &eb);
		if (ra != rb || strcmp(ea.msg, eb.msg) != 0)
			__builtin_trap();
		if (ra <= 0)
			break;
		if (a.nfields != b.nfields || a.row_line != b.row_line || a.line != b.line ||
		    a.pos != b.pos)
			__builtin_trap();
		for (size_t i = 0; i < a.nfields; i++)
			if (a.len[i] != b.len[i] || a.quoted[i] != b.quoted[i] ||
			    memcmp(a.field[i], b.field[i], a.len[i] + 1) != 0)
				__builtin_trap();
	} while (ra > 0);
out:
	ml_csv_close(&a);
	ml_csv_close(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ml_frame f;
	struct err err = ERR_INIT;
	check_fast_path(data, size);
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

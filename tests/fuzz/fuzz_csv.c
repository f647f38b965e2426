/*
 * fuzz_csv.c - libFuzzer target for the CSV reader: any bytes must give a
 * frame or one error, never a crash, leak or hang.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"
#include "ml/csv.h"
#include "ml/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
		ml_frame_release(&f);
	} else if (err.msg[0] == '\0') {
		__builtin_trap(); /* a failure always says why */
	}
	return 0;
}

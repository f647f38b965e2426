/*
 * fuzz_serve_decode.c - libFuzzer target for the request decoders of kiln
 * serve (/predict, KServe V1, Open Inference Protocol V2). The first byte
 * picks the decoder and the schema (one text column, or numeric + category);
 * the rest is the request body. Every decoded row is turned into cells.
 */
#include <stddef.h>
#include <stdint.h>

#include "serve/decode.h"

static char *class_names[] = {(char *)"negative", (char *)"positive"};
static struct ml_column text_cols[] = {{.name = (char *)"text", .kind = ML_TEXT}};
static struct ml_column tab_cols[] = {{.name = (char *)"age", .kind = ML_NUMERIC},
				      {.name = (char *)"plan", .kind = ML_CATEGORICAL}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ml_schema text = {.ncols = 1,
				 .cols = text_cols,
				 .task = ML_TASK_CLASSIFICATION,
				 .nclasses = 2,
				 .classes = class_names};
	struct ml_schema tab = {.ncols = 2, .cols = tab_cols, .task = ML_TASK_REGRESSION};
	int (*fns[])(struct srv_rows *, const struct ml_schema *, const char *, size_t,
		     struct err *) = {srv_decode_predict, srv_decode_v1, srv_decode_v2};
	struct srv_rows r;
	struct err err = ERR_INIT;
	struct ml_cell cells[2];
	const struct ml_schema *s;

	if (size < 1)
		return 0;
	s = data[0] & 1 ? &tab : &text;
	if (fns[(data[0] >> 1) % 3](&r, s, (const char *)data + 1, size - 1, &err) == 0) {
		for (size_t i = 0; i < r.n; i++)
			if (srv_rows_cells(&r, s, i, cells, &err) < 0)
				__builtin_trap(); /* decode already checked every row */
	}
	srv_rows_release(&r);
	return 0;
}

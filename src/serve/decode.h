/*
 * decode.h - request bodies of the three inference protocols (/predict,
 * KServe V1, Open Inference Protocol V2) turned into rows of ml_cells for a
 * model's schema. Pure: JSON in, rows or a 400 message naming the field out;
 * no model and no I/O, so it is fuzzed on its own (fuzz_serve_decode).
 */
#ifndef KILN_SERVE_DECODE_H
#define KILN_SERVE_DECODE_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"
#include "ml/model.h"
#include "ml/schema.h"

/* What a V2 request asked for in "outputs" (absent: everything). */
enum srv_output { SRV_OUT_LABEL, SRV_OUT_PROBA, SRV_OUT_VALUE };
#define SRV_MAX_OUTPUTS 4

/*
 * The rows of one request. Row i is either an element of a row list (an
 * object of fields, a bare string for a one-text-column model, or an array
 * of values in schema column order) or, for V2, element i of one tensor per
 * schema column.
 */
struct srv_rows {
	json_t *doc;	     /* the parsed body; owned */
	size_t n;	     /* number of rows */
	int single;	     /* /predict with one object: reply with one object */
	const json_t *list;  /* row list (NULL for single or V2) */
	int v2;		     /* rows come from tensors (leaf) */
	const json_t **leaf; /* V2: ncols * n leaves, column-major; owned */
	const char *id;	     /* V2 "id" to echo, borrowed from doc; NULL if absent */
	size_t nout;	     /* V2 outputs asked for; 0: all */
	enum srv_output out[SRV_MAX_OUTPUTS];
	const char *out_name[SRV_MAX_OUTPUTS]; /* as the client named them */
};

/*
 * Decoders. Each parses body[0..len), checks every row against the schema,
 * and fills r (release with srv_rows_release, also after a failure). Errors
 * are ERR_PARSE (malformed JSON, with line and column) or ERR_INVALID (the
 * field or tensor named), both meant for a 400 reply.
 *   srv_decode_predict: one row object, or {"instances": [...]}
 *   srv_decode_v1:      {"instances": [...]} or {"inputs": [...]}
 *   srv_decode_v2:      {"inputs": [{name, shape, datatype, data}], "outputs", "id"}
 * The schema's task says which V2 output names exist (classification:
 * label, proba; regression: value; MLServer's predict and predict_proba are
 * accepted as aliases).
 */
int srv_decode_predict(struct srv_rows *r, const struct ml_schema *s, const char *body, size_t len,
		       struct err *err);
int srv_decode_v1(struct srv_rows *r, const struct ml_schema *s, const char *body, size_t len,
		  struct err *err);
int srv_decode_v2(struct srv_rows *r, const struct ml_schema *s, const char *body, size_t len,
		  struct err *err);
void srv_rows_release(struct srv_rows *r);

/*
 * Fills cells[0..s->ncols) for row i (valid after a successful decode).
 * Strings point into the parsed body.
 */
int srv_rows_cells(const struct srv_rows *r, const struct ml_schema *s, size_t i,
		   struct ml_cell *cells, struct err *err);

#endif

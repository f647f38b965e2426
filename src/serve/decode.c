/*
 * decode.c - /predict, KServe V1 and Open Inference Protocol V2 request
 * bodies into rows for a schema (see decode.h). Every check that can reject
 * a request runs here, before any prediction, so a reply is all or nothing.
 */
#include "serve/decode.h"

#include "base/mem.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	default:
		return "null";
	}
}

static int parse_body(struct srv_rows *r, const char *body, size_t len, struct err *err)
{
	json_error_t je;
	memset(r, 0, sizeof(*r));
	/* Duplicate keys are refused: which value would win is anyone's guess. */
	r->doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!r->doc)
		return err_set(err, ERR_PARSE, "malformed JSON at line %d column %d: %s", je.line,
			       je.column, je.text);
	if (!json_is_object(r->doc))
		return err_set(err, ERR_INVALID, "request body must be a JSON object, got %s",
			       json_kind(r->doc));
	return 0;
}

/* One value for column c; prefix names the row in messages ("instances[3]: "). */
static int cell_from(const struct ml_column *col, const json_t *v, struct ml_cell *cell,
		     const char *prefix, struct err *err)
{
	switch (json_typeof(v)) {
	case JSON_NULL:
		cell->kind = ML_CELL_MISSING;
		return 0;
	case JSON_STRING:
		cell->kind = ML_CELL_STR;
		cell->str = json_string_value(v);
		cell->len = json_string_length(v);
		return 0;
	case JSON_INTEGER:
	case JSON_REAL:
		if (col->kind != ML_NUMERIC)
			return err_set(err, ERR_INVALID, "%sfield '%s': expected a string, got %s",
				       prefix, col->name, json_kind(v));
		cell->kind = ML_CELL_NUM;
		cell->num = json_number_value(v);
		return 0;
	default:
		return err_set(err, ERR_INVALID, "%sfield '%s': expected a %s, got %s", prefix,
			       col->name, col->kind == ML_NUMERIC ? "number" : "string",
			       json_kind(v));
	}
}

static int single_text(const struct ml_schema *s)
{
	return s->ncols == 1 && s->cols[0].kind != ML_NUMERIC;
}

static int row_cells(const struct ml_schema *s, const json_t *row, struct ml_cell *cells,
		     const char *prefix, struct err *err)
{
	if (json_is_object(row)) {
		for (size_t c = 0; c < s->ncols; c++) {
			const json_t *v = json_object_get(row, s->cols[c].name);
			if (!v)
				return err_set(err, ERR_INVALID, "%smissing field '%s'", prefix,
					       s->cols[c].name);
			if (cell_from(&s->cols[c], v, &cells[c], prefix, err) < 0)
				return -1;
		}
		return 0;
	}
	if (json_is_array(row)) {
		if (json_array_size(row) != s->ncols)
			return err_set(err, ERR_INVALID, "%sexpected %zu values (%s%s), got %zu",
				       prefix, s->ncols, s->ncols ? s->cols[0].name : "",
				       s->ncols > 1 ? ", ..." : "", json_array_size(row));
		for (size_t c = 0; c < s->ncols; c++)
			if (cell_from(&s->cols[c], json_array_get(row, c), &cells[c], prefix, err) <
			    0)
				return -1;
		return 0;
	}
	if (json_is_string(row) && single_text(s))
		return cell_from(&s->cols[0], row, &cells[0], prefix, err);
	return err_set(err, ERR_INVALID, "%sexpected an object with field%s %s'%s'%s, got %s",
		       prefix, s->ncols > 1 ? "s" : "", "", s->ncols ? s->cols[0].name : "",
		       s->ncols > 1 ? ", ..." : "", json_kind(row));
}

/* Checks every row once, so a bad row 900 fails the request before row 0 runs. */
static int check_rows(struct srv_rows *r, const struct ml_schema *s, struct err *err)
{
	struct ml_cell stack[16], *cells = stack;
	int ret = 0;
	if (s->ncols > 16) {
		cells = mem_calloc(s->ncols, sizeof(*cells));
		if (!cells)
			return err_set(err, ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < r->n && ret == 0; i++)
		ret = srv_rows_cells(r, s, i, cells, err);
	if (cells != stack)
		mem_free(cells);
	return ret;
}

static int take_list(struct srv_rows *r, const json_t *list, const char *key, struct err *err)
{
	if (!json_is_array(list))
		return err_set(err, ERR_INVALID, "expected \"%s\" to be a list, got %s", key,
			       json_kind(list));
	r->list = list;
	r->n = json_array_size(list);
	return 0;
}

static int has_column(const struct ml_schema *s, const char *name)
{
	for (size_t c = 0; c < s->ncols; c++)
		if (strcmp(s->cols[c].name, name) == 0)
			return 1;
	return 0;
}

int srv_decode_predict(struct srv_rows *r, const struct ml_schema *s, const char *body, size_t len,
		       struct err *err)
{
	const json_t *inst;
	if (parse_body(r, body, len, err) < 0)
		return -1;
	inst = json_object_get(r->doc, "instances");
	/* A model with a column named "instances" takes the object as one row. */
	if (inst && !has_column(s, "instances")) {
		if (take_list(r, inst, "instances", err) < 0)
			return -1;
	} else {
		r->single = 1;
		r->n = 1;
	}
	return check_rows(r, s, err);
}

int srv_decode_v1(struct srv_rows *r, const struct ml_schema *s, const char *body, size_t len,
		  struct err *err)
{
	const json_t *inst;
	const char *key = "inputs";
	if (parse_body(r, body, len, err) < 0)
		return -1;
	/* KServe's sklearn server reads "inputs" when present, else "instances". */
	inst = json_object_get(r->doc, key);
	if (!inst) {
		key = "instances";
		inst = json_object_get(r->doc, key);
	}
	if (!inst)
		return err_set(err, ERR_INVALID, "missing field 'instances'");
	if (take_list(r, inst, key, err) < 0)
		return -1;
	return check_rows(r, s, err);
}

/* Appends the leaves of a (possibly nested) data array; fails past max. */
static int flatten(const json_t *data, const json_t **out, size_t *n, size_t max, int depth)
{
	size_t i;
	const json_t *v;
	if (depth > 8)
		return -1;
	json_array_foreach(data, i, v)
	{
		if (json_is_array(v)) {
			if (flatten(v, out, n, max, depth + 1) < 0)
				return -1;
			continue;
		}
		if (*n >= max)
			return -1;
		out[(*n)++] = v;
	}
	return 0;
}

static size_t leaf_count(const json_t *data, int depth)
{
	size_t i, n = 0;
	const json_t *v;
	if (depth > 8)
		return SIZE_MAX;
	json_array_foreach(data, i, v)
	{
		size_t k = json_is_array(v) ? leaf_count(v, depth + 1) : 1;
		if (k == SIZE_MAX)
			return SIZE_MAX;
		n += k;
	}
	return n;
}

static int is_numeric_type(const char *dt)
{
	static const char *types[] = {"FP32",  "FP64",	"INT8",	  "INT16",  "INT32",
				      "INT64", "UINT8", "UINT16", "UINT32", "UINT64"};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dt, types[i]) == 0)
			return 1;
	return 0;
}

/*
 * Elements must match the declared datatype: strings for BYTES, numbers for
 * FP types, whole numbers for INT / UINT types (UINT: not negative). null is
 * a missing value in any tensor.
 */
static int check_leaves(const json_t *data, const char *dt, const char *nm, int depth,
			struct err *err)
{
	size_t i;
	const json_t *v;
	int bytes = strcmp(dt, "BYTES") == 0, fp = dt[0] == 'F', uint = dt[0] == 'U';
	json_array_foreach(data, i, v)
	{
		double d;
		if (json_is_array(v)) {
			if (check_leaves(v, dt, nm, depth + 1, err) < 0)
				return -1;
			continue;
		}
		if (json_is_null(v) || (bytes && json_is_string(v)))
			continue;
		if (bytes || !json_is_number(v))
			return err_set(err, ERR_INVALID, "input '%s': %s data holds a %s", nm, dt,
				       json_kind(v));
		d = json_number_value(v);
		if (!fp && (d != floor(d) || (uint && d < 0)))
			return err_set(err, ERR_INVALID, "input '%s': %s data holds %g", nm, dt, d);
	}
	return 0;
}

/* Validates one V2 input tensor; returns its rows in *rows. */
static int v2_tensor(const json_t *in, size_t idx, size_t *rows, struct err *err)
{
	const json_t *name = json_object_get(in, "name"), *shape = json_object_get(in, "shape"),
		     *dt = json_object_get(in, "datatype"), *data = json_object_get(in, "data");
	const char *nm;
	size_t i, prod = 1, leaves;
	const json_t *d;

	if (!json_is_object(in))
		return err_set(err, ERR_INVALID, "inputs[%zu]: expected an object", idx);
	if (!json_is_string(name))
		return err_set(err, ERR_INVALID, "inputs[%zu]: missing or non-string field 'name'",
			       idx);
	nm = json_string_value(name);
	if (!json_is_string(dt))
		return err_set(err, ERR_INVALID, "input '%s': missing or non-string 'datatype'",
			       nm);
	if (strcmp(json_string_value(dt), "BYTES") != 0 && !is_numeric_type(json_string_value(dt)))
		return err_set(err, ERR_INVALID, "input '%s': unsupported datatype '%s'", nm,
			       json_string_value(dt));
	if (!json_is_array(shape) || json_array_size(shape) == 0 || json_array_size(shape) > 8)
		return err_set(err, ERR_INVALID,
			       "input '%s': 'shape' must be a list of 1 to 8 sizes", nm);
	json_array_foreach(shape, i, d)
	{
		json_int_t k = json_is_integer(d) ? json_integer_value(d) : -1;
		if (k < 0)
			return err_set(err, ERR_INVALID,
				       "input '%s': shape[%zu] must be a non-negative integer", nm,
				       i);
		if (i > 0 && k != 1)
			return err_set(err, ERR_INVALID,
				       "input '%s': shape must be [N] or [N, 1] (one column per "
				       "tensor)",
				       nm);
		if ((uint64_t)k > (uint64_t)SIZE_MAX / prod)
			return err_set(err, ERR_INVALID, "input '%s': shape too large", nm);
		prod *= (size_t)k;
	}
	if (!data)
		return err_set(err, ERR_INVALID,
			       "input '%s': missing 'data' (binary tensors are not supported)", nm);
	if (!json_is_array(data))
		return err_set(err, ERR_INVALID, "input '%s': 'data' must be a list", nm);
	leaves = leaf_count(data, 0);
	if (leaves == SIZE_MAX)
		return err_set(err, ERR_INVALID, "input '%s': 'data' nested too deeply", nm);
	if (leaves != prod)
		return err_set(err, ERR_INVALID, "input '%s': shape needs %zu elements, got %zu",
			       nm, prod, leaves);
	*rows = prod;
	return check_leaves(data, json_string_value(dt), nm, 0, err);
}

static const json_t *v2_find_input(const json_t *inputs, const char *name)
{
	size_t i;
	const json_t *in;
	json_array_foreach(inputs, i, in)
	{
		const json_t *nm = json_object_get(in, "name");
		if (json_is_string(nm) && strcmp(json_string_value(nm), name) == 0)
			return in;
	}
	return NULL;
}

static int v2_outputs(struct srv_rows *r, const struct ml_schema *s, struct err *err)
{
	const json_t *outs = json_object_get(r->doc, "outputs"), *o;
	size_t i;
	if (!outs || json_is_null(outs))
		return 0;
	if (!json_is_array(outs))
		return err_set(err, ERR_INVALID, "'outputs' must be a list");
	if (json_array_size(outs) > SRV_MAX_OUTPUTS)
		return err_set(err, ERR_INVALID, "'outputs' lists more than %d tensors",
			       SRV_MAX_OUTPUTS);
	json_array_foreach(outs, i, o)
	{
		const json_t *nm = json_object_get(o, "name");
		const char *n;
		if (!json_is_string(nm))
			return err_set(err, ERR_INVALID, "outputs[%zu]: missing field 'name'", i);
		n = json_string_value(nm);
		if (s->task == ML_TASK_REGRESSION &&
		    (strcmp(n, "value") == 0 || strcmp(n, "predict") == 0))
			r->out[i] = SRV_OUT_VALUE;
		else if (s->task != ML_TASK_REGRESSION &&
			 (strcmp(n, "label") == 0 || strcmp(n, "predict") == 0))
			r->out[i] = SRV_OUT_LABEL;
		else if (s->task != ML_TASK_REGRESSION &&
			 (strcmp(n, "proba") == 0 || strcmp(n, "predict_proba") == 0))
			r->out[i] = SRV_OUT_PROBA;
		else
			return err_set(
				err, ERR_INVALID, "unknown output '%s' (the model has %s)", n,
				s->task == ML_TASK_REGRESSION ? "'value'" : "'label' and 'proba'");
		r->out_name[i] = n;
		r->nout = i + 1;
	}
	return 0;
}

/* Checks the V2 envelope: "id", "parameters", "inputs"; returns the inputs list. */
static const json_t *v2_envelope(struct srv_rows *r, struct err *err)
{
	const json_t *id = json_object_get(r->doc, "id"),
		     *params = json_object_get(r->doc, "parameters"),
		     *inputs = json_object_get(r->doc, "inputs");
	if (id && !json_is_null(id)) {
		if (!json_is_string(id)) {
			err_set(err, ERR_INVALID, "field 'id' must be a string");
			return NULL;
		}
		r->id = json_string_value(id);
	}
	if (params && !json_is_null(params) && !json_is_object(params)) {
		err_set(err, ERR_INVALID, "field 'parameters' must be an object");
		return NULL;
	}
	if (!inputs) {
		err_set(err, ERR_INVALID, "missing field 'inputs'");
		return NULL;
	}
	if (!json_is_array(inputs) || json_array_size(inputs) == 0) {
		err_set(err, ERR_INVALID, "field 'inputs' must be a non-empty list");
		return NULL;
	}
	return inputs;
}

int srv_decode_v2(struct srv_rows *r, const struct ml_schema *s, const char *body, size_t len,
		  struct err *err)
{
	const json_t *inputs, *in;
	size_t i, rows = 0;

	if (parse_body(r, body, len, err) < 0)
		return -1;
	inputs = v2_envelope(r, err);
	if (!inputs)
		return -1;
	json_array_foreach(inputs, i, in)
	{
		size_t k = 0;
		if (v2_tensor(in, i, &k, err) < 0)
			return -1;
		if (i == 0)
			rows = k;
	}
	if (v2_outputs(r, s, err) < 0)
		return -1;
	r->v2 = 1;
	r->n = rows;
	if (s->ncols && rows) {
		r->leaf = rows <= SIZE_MAX / s->ncols
				  ? mem_calloc(s->ncols * rows, sizeof(const json_t *))
				  : NULL;
		if (!r->leaf)
			return err_set(err, ERR_NOMEM, "out of memory");
	}
	for (size_t c = 0; c < s->ncols; c++) {
		const json_t *t = v2_find_input(inputs, s->cols[c].name);
		size_t got = 0, k = 0;
		/* A one-column model takes the first tensor whatever its name (KServe). */
		if (!t && s->ncols == 1)
			t = json_array_get(inputs, 0);
		if (!t)
			return err_set(err, ERR_INVALID, "missing input '%s'", s->cols[c].name);
		(void)v2_tensor(t, c, &k, err); /* checked above: only the count is wanted */
		if (k != rows)
			return err_set(err, ERR_INVALID, "input '%s' has %zu rows, expected %zu",
				       json_string_value(json_object_get(t, "name")), k, rows);
		if (rows &&
		    flatten(json_object_get(t, "data"), r->leaf + c * rows, &got, rows, 0) < 0)
			return err_set(err, ERR_INVALID, "input '%s': bad 'data'", s->cols[c].name);
	}
	return check_rows(r, s, err);
}

int srv_rows_cells(const struct srv_rows *r, const struct ml_schema *s, size_t i,
		   struct ml_cell *cells, struct err *err)
{
	char prefix[48] = "";
	if (r->v2) {
		for (size_t c = 0; c < s->ncols; c++) {
			const json_t *v = r->leaf[c * r->n + i];
			const struct ml_column *col = &s->cols[c];
			if (json_is_string(v) || json_is_null(v) ||
			    (json_is_number(v) && col->kind == ML_NUMERIC)) {
				if (cell_from(col, v, &cells[c], "", err) < 0)
					return -1;
				continue;
			}
			return err_set(err, ERR_INVALID,
				       "input '%s': element %zu: expected a %s, got %s", col->name,
				       i, col->kind == ML_NUMERIC ? "number" : "string",
				       json_kind(v));
		}
		return 0;
	}
	if (r->single)
		return row_cells(s, r->doc, cells, "", err);
	snprintf(prefix, sizeof(prefix), "instances[%zu]: ", i);
	return row_cells(s, json_array_get(r->list, i), cells, prefix, err);
}

void srv_rows_release(struct srv_rows *r)
{
	json_decref(r->doc);
	mem_free((void *)r->leaf);
	memset(r, 0, sizeof(*r));
}

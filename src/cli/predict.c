/*
 * predict.c - `kiln predict`: run a model bundle over CSV rows or JSON
 * lines. Output is built in memory and written at the end (atomically with
 * -o), so a bad input line leaves no partial output. Not a server: serve.c.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/file.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "ml/frame.h"
#include "ml/model.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define PREDICT_MAX_INPUT (1UL << 30) /* 1 GiB */

const char cmd_predict_usage[] =
	"usage: kiln predict MODEL.kiln [FILE] [-o OUT]\n"
	"\n"
	"Predicts every row of FILE (default: stdin) with a model bundle.\n"
	"Input is CSV with a header row, or JSON lines when its first non-space\n"
	"byte is '{' (one object per line, keys = column names; a missing key or\n"
	"null is a missing value). Output has the same form:\n"
	"  CSV:        a column named after the label, then p_CLASS per class\n"
	"              (classification)\n"
	"  JSON lines: {\"LABEL\": \"positive\", \"probability\": 0.97} or, for\n"
	"              regression, {\"LABEL\": 123.4}\n"
	"\n"
	"  -o, --output PATH   write to PATH (atomically) instead of stdout\n";

static const struct option predict_options[] = {
	{"output", required_argument, NULL, 'o'},
	{NULL, 0, NULL, 0},
};

static int add_csv_field(struct buf *b, const char *s)
{
	const char *p;
	if (!strpbrk(s, ",\"\r\n"))
		return buf_adds(b, s);
	if (buf_addch(b, '"') < 0)
		return -1;
	for (p = s; *p; p++)
		if ((*p == '"' && buf_addch(b, '"') < 0) || buf_addch(b, *p) < 0)
			return -1;
	return buf_addch(b, '"');
}

static int predict_csv(const struct ml_model *m, const struct buf *in, const char *name,
		       struct buf *out, struct err *err)
{
	const struct ml_schema *s = ml_model_schema(m);
	struct ml_frame f;
	struct ml_pred *preds = NULL;
	size_t r, k, missing = 0;
	const char *first = "";
	int ret = -1, fail = 0;

	memset(&f, 0, sizeof(f));
	if (ml_frame_parse_csv(&f, in->ptr, in->len, name, err) < 0)
		return -1;
	for (k = 0; k < s->ncols; k++)
		if (ml_frame_col(&f, s->cols[k].name) < 0 && missing++ == 0)
			first = s->cols[k].name;
	if (missing)
		fprintf(stderr,
			"kiln: warning: %s: %zu of the model's columns are absent (first: '%s'): "
			"treated as missing values\n",
			name, missing, first);
	preds = mem_calloc(f.nrows + 1, sizeof(*preds));
	if (!preds) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (ml_model_predict_frame(m, &f, preds, err) < 0)
		goto out;
	fail |= add_csv_field(out, ml_model_label_name(m));
	for (k = 0; ml_model_task(m) == ML_TASK_CLASSIFICATION && k < s->nclasses; k++)
		fail |= buf_adds(out, ",p_") | add_csv_field(out, s->classes[k]);
	fail |= buf_addch(out, '\n');
	for (r = 0; r < f.nrows; r++) {
		if (ml_model_task(m) == ML_TASK_REGRESSION) {
			fail |= buf_addf(out, "%.10g\n", preds[r].value);
			continue;
		}
		fail |= add_csv_field(out, s->classes[preds[r].klass]);
		for (k = 0; k < s->nclasses; k++)
			fail |= buf_addf(out, ",%.6f", preds[r].prob[k]);
		fail |= buf_addch(out, '\n');
	}
	if (fail) {
		err_set(err, ERR_NOMEM, "out of memory for the output");
		goto out;
	}
	ret = 0;
out:
	mem_free(preds);
	ml_frame_release(&f);
	return ret;
}

/* One JSON object into cells (values borrowed from obj). */
static int json_cells(const struct ml_schema *s, const json_t *obj, struct ml_cell *cells,
		      const char *name, size_t line, struct err *err)
{
	size_t i;
	for (i = 0; i < s->ncols; i++) {
		const json_t *v = json_object_get(obj, s->cols[i].name);
		cells[i].kind = ML_CELL_MISSING;
		if (!v || json_is_null(v))
			continue;
		if (json_is_string(v)) {
			cells[i].kind = ML_CELL_STR;
			cells[i].str = json_string_value(v);
			cells[i].len = json_string_length(v);
		} else if (json_is_number(v)) {
			cells[i].kind = ML_CELL_NUM;
			cells[i].num = json_number_value(v);
		} else {
			return err_set(err, ERR_INVALID,
				       "%s:%zu: field '%s': expected a string, a number or null",
				       name, line, s->cols[i].name);
		}
	}
	return 0;
}

static int add_json_pred(struct buf *out, const struct ml_model *m, const struct ml_pred *p)
{
	const char *label = ml_model_label_name(m);
	int fail = buf_addch(out, '{') | buf_add_json_str(out, label, strlen(label)) |
		   buf_adds(out, ": ");
	if (ml_model_task(m) == ML_TASK_REGRESSION)
		return fail | buf_addf(out, "%.10g}\n", p->value);
	label = ml_model_schema(m)->classes[p->klass];
	return fail | buf_add_json_str(out, label, strlen(label)) |
	       buf_addf(out, ", \"probability\": %.6g}\n", p->value);
}

static int predict_jsonl(const struct ml_model *m, const struct buf *in, const char *name,
			 struct buf *out, struct err *err)
{
	const struct ml_schema *s = ml_model_schema(m);
	struct ml_cell *cells = mem_calloc(s->ncols + 1, sizeof(*cells));
	const char *p = in->ptr, *end = in->ptr + in->len;
	size_t line = 0;
	int ret = -1;

	if (!cells)
		return err_set(err, ERR_NOMEM, "out of memory");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *q;
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		json_error_t jerr;
		json_t *obj;
		struct ml_pred pred;
		struct err e = ERR_INIT;
		line++;
		for (q = p; q < p + len && (*q == ' ' || *q == '\t' || *q == '\r'); q++)
			;
		if (q == p + len) {
			p += len + 1;
			continue;
		}
		obj = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr);
		p += len + 1;
		if (!json_is_object(obj)) {
			err_set(err, ERR_PARSE, "%s:%zu: %s", name, line,
				obj ? "expected a JSON object" : jerr.text);
			json_decref(obj);
			goto out;
		}
		if (json_cells(s, obj, cells, name, line, err) < 0 ||
		    ml_model_predict(m, cells, &pred, &e) < 0) {
			if (e.code)
				err_set(err, e.code, "%s:%zu: %s", name, line, e.msg);
			json_decref(obj);
			goto out;
		}
		json_decref(obj);
		if (add_json_pred(out, m, &pred)) {
			err_set(err, ERR_NOMEM, "out of memory for the output");
			goto out;
		}
	}
	ret = 0;
out:
	mem_free(cells);
	return ret;
}

static int write_output(const struct buf *b, const char *path, struct err *err)
{
	if (!path) {
		if (fwrite(b->ptr, 1, b->len, stdout) != b->len)
			return err_set(err, ERR_IO, "cannot write to stdout");
		return 0;
	}
	return file_write_atomic(path, b->ptr, b->len, err);
}

int cmd_predict(int argc, char **argv)
{
	struct err err = ERR_INIT;
	struct ml_model *m = NULL;
	struct buf in, out = BUF_INIT;
	const char *outpath = NULL, *inpath = "-", *name;
	size_t i;
	int c, ret = EXIT_FAILED;

	buf_init(&in, PREDICT_MAX_INPUT);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", predict_options, NULL)) != -1) {
		if (c != 'o')
			return cli_usage_error("predict", "unknown option or missing value '%s'",
					       argv[optind - 1]);
		outpath = optarg;
	}
	if (optind >= argc)
		return cli_usage_error("predict", "no model given");
	if (argc - optind > 2)
		return cli_usage_error("predict", "unexpected argument '%s'", argv[optind + 2]);
	if (argc - optind == 2)
		inpath = argv[optind + 1];
	name = strcmp(inpath, "-") == 0 ? "stdin" : inpath;
	m = ml_model_load(argv[optind], &err);
	if (!m)
		return cli_fail(&err);
	if (buf_read_file(&in, inpath, PREDICT_MAX_INPUT) < 0) {
		err_set(&err, ERR_IO, "cannot read '%s': %s", name, strerror(errno));
		goto out;
	}
	for (i = 0; i < in.len && (in.ptr[i] == ' ' || in.ptr[i] == '\t' || in.ptr[i] == '\r' ||
				   in.ptr[i] == '\n');
	     i++)
		;
	if (i == in.len) {
		err_set(&err, ERR_INVALID, "%s: no input rows", name);
		goto out;
	}
	if ((in.ptr[i] == '{' ? predict_jsonl(m, &in, name, &out, &err)
			      : predict_csv(m, &in, name, &out, &err)) < 0)
		goto out;
	if (write_output(&out, outpath, &err) < 0)
		goto out;
	ret = EXIT_OK;
out:
	if (ret != EXIT_OK)
		ret = cli_fail(&err);
	ml_model_free(m);
	buf_release(&in);
	buf_release(&out);
	return ret;
}

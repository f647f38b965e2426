/*
 * predict.c - `kiln predict`: run a model bundle over CSV rows or JSON
 * lines, streamed (constant memory; CSV is read and predicted in blocks,
 * cut into parts that two threads take: ml_csv_read_parts). Output
 * goes to a temporary file, renamed (-o) or copied to stdout only when every
 * row is predicted, so a bad input line leaves no partial output. Not a
 * server: serve.c.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/file.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "ml/csv.h"
#include "ml/model.h"
#include "ml/numfmt.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Appends "," and printf's "%.6f" of p. */
static int add_prob(struct buf *b, double p)
{
	char tmp[ML_NUMFMT_MAX + 1];
	tmp[0] = ',';
	return buf_add(b, tmp, 1 + ml_fmt_f6(tmp + 1, p));
}

/* Appends printf's "%.10g\n" of v. */
static int add_value(struct buf *b, double v)
{
	char tmp[ML_NUMFMT_MAX + 1];
	size_t n = ml_fmt_g10(tmp, v);
	tmp[n] = '\n';
	return buf_add(b, tmp, n + 1);
}

/*
 * CSV rows are read and predicted in the parts of ml_csv_read_parts, on two
 * threads; each part's output text is kept until the block is committed,
 * then written in input order.
 */
struct csv_part_out {
	struct ml_cell *cells; /* the row being predicted */
	struct buf text;       /* the output lines of the part's rows */
	size_t rows;
};

struct csv_job {
	const struct ml_model *m;
	const int *map; /* schema column -> CSV column, or -1 */
	size_t ncols;	/* the schema's columns */
	size_t ncsv;	/* fields of the header row */
	const char *name;
	struct csv_part_out part[ML_CSV_PARTS];
	struct buf head; /* the output's header line, until the first commit */
	FILE *out;
	size_t rows; /* committed */
};

/* Appends the prediction of one row to out; nonzero when out of memory. */
static int format_row(const struct ml_model *m, const struct ml_pred *p, struct buf *out)
{
	const struct ml_schema *s = ml_model_schema(m);
	size_t k;
	int fail;
	if (ml_model_task(m) == ML_TASK_REGRESSION)
		return add_value(out, p->value);
	fail = add_csv_field(out, s->classes[p->klass]);
	for (k = 0; k < s->nclasses; k++)
		fail |= add_prob(out, p->prob[k]);
	return fail | buf_addch(out, '\n');
}

/* The cells of the current row of rows, made in cells (ncols of them). */
static const struct ml_cell *row_cells(const struct csv_job *job, const struct ml_csv *rows,
				       struct ml_cell *cells)
{
	for (size_t i = 0; i < job->ncols; i++) {
		int col = job->map[i];
		size_t len = col < 0 ? 0 : rows->len[col];
		cells[i].kind = len ? ML_CELL_STR : ML_CELL_MISSING;
		cells[i].str = col < 0 ? "" : rows->field[col];
		cells[i].len = len;
	}
	return cells;
}

/*
 * ml_csv_read_parts' part callback: predicts every row of part i into its
 * text, stopping at the first bad row (field count as the frame reader
 * checks it, a value the model refuses, or no memory for the text).
 */
static int predict_part(void *ctx, int i, struct ml_csv *rows, struct err *err)
{
	struct csv_job *job = ctx;
	struct csv_part_out *po = &job->part[i];
	struct ml_pred pred;
	struct err e = ERR_INIT;
	int rc;

	buf_reset(&po->text);
	po->rows = 0;
	while ((rc = ml_csv_next(rows, err)) > 0) {
		if (rows->nfields != job->ncsv)
			return err_set(err, ERR_PARSE, "%s:%zu: expected %zu fields, found %zu",
				       job->name, rows->row_line, job->ncsv, rows->nfields);
		if (ml_model_predict(job->m, row_cells(job, rows, po->cells), &pred, &e) < 0)
			return err_set(err, e.code, "%s:%zu: %s", job->name, rows->row_line, e.msg);
		if (format_row(job->m, &pred, &po->text))
			return err_set(err, ERR_NOMEM, "%s:%zu: out of memory for the output",
				       job->name, rows->row_line);
		po->rows++;
	}
	return rc;
}

/* Writes b to fp and empties it. */
static int flush_buf(struct buf *b, FILE *fp, struct err *err)
{
	if (b->len && fwrite(b->ptr, 1, b->len, fp) != b->len)
		return err_set(err, ERR_IO, "cannot write the output: %s", strerror(errno));
	buf_reset(b);
	return 0;
}

/* ml_csv_read_parts' commit callback: writes a block's text in order. */
static int predict_commit(void *ctx, size_t n, struct err *err)
{
	struct csv_job *job = ctx;
	if (flush_buf(&job->head, job->out, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (flush_buf(&job->part[i].text, job->out, err) < 0)
			return -1;
		job->rows += job->part[i].rows;
	}
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The header: columns matched by name; names must be non-empty and unique. */
static int csv_header(const struct ml_schema *s, const struct ml_csv *r, int *map, const char *name,
		      struct err *err)
{
	size_t k, a, missing = 0;
	const char *first = "";
	const char **sorted = mem_calloc(r->nfields, sizeof(*sorted));
	int ret = -1;
	if (!sorted)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (a = 0; a < r->nfields; a++) {
		if (r->len[a] == 0) {
			err_set(err, ERR_PARSE, "%s:%zu: empty column name (column %zu)", name,
				r->row_line, a + 1);
			goto out;
		}
		sorted[a] = r->field[a];
	}
	qsort(sorted, r->nfields, sizeof(*sorted), cmp_names);
	for (a = 1; a < r->nfields; a++)
		if (strcmp(sorted[a - 1], sorted[a]) == 0) {
			err_set(err, ERR_PARSE, "%s:%zu: duplicate column name '%s'", name,
				r->row_line, sorted[a]);
			goto out;
		}
	for (k = 0; k < s->ncols; k++) {
		map[k] = -1;
		for (a = 0; a < r->nfields && map[k] < 0; a++)
			if (strcmp(r->field[a], s->cols[k].name) == 0)
				map[k] = (int)a;
		if (map[k] < 0 && missing++ == 0)
			first = s->cols[k].name;
	}
	if (missing)
		fprintf(stderr,
			"kiln: warning: %s: %zu of the model's columns are absent (first: '%s'): "
			"treated as missing values\n",
			name, missing, first);
	ret = 0;
out:
	mem_free(sorted);
	return ret;
}

/*
 * CSV: the header row, then blocks of rows read and predicted on two
 * threads by ml_csv_read_parts (memory bounded by its block), written in
 * input order as each block is done.
 */
static int predict_csv(const struct ml_model *m, FILE *in, const char *name, FILE *out,
		       struct err *err)
{
	const struct ml_schema *s = ml_model_schema(m);
	struct csv_job job;
	const struct ml_csv_parts run = {predict_part, predict_commit, &job};
	struct ml_csv r;
	int *map = mem_calloc(s->ncols + 1, sizeof(*map));
	size_t k;
	int rc, ret = -1, fail = 0;

	memset(&r, 0, sizeof(r));
	memset(&job, 0, sizeof(job));
	job.m = m;
	job.map = map;
	job.ncols = s->ncols;
	job.name = name;
	job.out = out;
	buf_init(&job.head, 0);
	for (int i = 0; i < ML_CSV_PARTS; i++) {
		buf_init(&job.part[i].text, 0);
		job.part[i].cells = mem_calloc(s->ncols + 1, sizeof(*job.part[i].cells));
		fail |= !job.part[i].cells;
	}
	if (!map || fail) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (ml_csv_open_fp(&r, in, name, err) < 0)
		goto out;
	rc = ml_csv_next(&r, err);
	if (rc <= 0) {
		if (rc == 0)
			err_set(err, ERR_PARSE, "%s:1: empty file (no header row)", name);
		goto out;
	}
	job.ncsv = r.nfields;
	if (csv_header(s, &r, map, name, err) < 0)
		goto out;
	fail |= add_csv_field(&job.head, ml_model_label_name(m));
	for (k = 0; ml_model_task(m) == ML_TASK_CLASSIFICATION && k < s->nclasses; k++)
		fail |= buf_adds(&job.head, ",p_") | add_csv_field(&job.head, s->classes[k]);
	fail |= buf_addch(&job.head, '\n');
	if (fail) {
		err_set(err, ERR_NOMEM, "out of memory for the output");
		goto out;
	}
	if (ml_csv_read_parts(&r, ML_CSV_BLOCK, &run, err) < 0)
		goto out;
	if (job.rows == 0) {
		err_set(err, ERR_PARSE, "%s:%zu: header row without data rows", name, r.line);
		goto out;
	}
	ret = 0;
out:
	ml_csv_close(&r);
	buf_release(&job.head);
	for (int i = 0; i < ML_CSV_PARTS; i++) {
		buf_release(&job.part[i].text);
		mem_free(job.part[i].cells);
	}
	mem_free(map);
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

/* JSON lines: one line at a time (getline), output flushed every 64 KiB. */
static int predict_jsonl(const struct ml_model *m, FILE *in, const char *name, FILE *out,
			 struct err *err)
{
	const struct ml_schema *s = ml_model_schema(m);
	struct ml_cell *cells = mem_calloc(s->ncols + 1, sizeof(*cells));
	struct buf o = BUF_INIT;
	char *linebuf = NULL;
	size_t cap = 0, line = 0;
	ssize_t got;
	int ret = -1;

	if (!cells)
		return err_set(err, ERR_NOMEM, "out of memory");
	errno = 0;
	while ((got = getline(&linebuf, &cap, in)) >= 0) {
		size_t len = (size_t)got;
		const char *q;
		json_error_t jerr;
		json_t *obj;
		struct ml_pred pred;
		struct err e = ERR_INIT;
		line++;
		if (len && linebuf[len - 1] == '\n')
			len--;
		for (q = linebuf; q < linebuf + len && (*q == ' ' || *q == '\t' || *q == '\r'); q++)
			;
		if (q == linebuf + len)
			continue;
		obj = json_loadb(linebuf, len, JSON_REJECT_DUPLICATES, &jerr);
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
		if (add_json_pred(&o, m, &pred)) {
			err_set(err, ERR_NOMEM, "out of memory for the output");
			goto out;
		}
		if (o.len >= 65536 && flush_buf(&o, out, err) < 0)
			goto out;
	}
	if (ferror(in) || (errno && errno != EINTR && !feof(in))) {
		err_set(err, ERR_IO, "cannot read '%s': %s", name, strerror(errno));
		goto out;
	}
	if (flush_buf(&o, out, err) < 0)
		goto out;
	ret = 0;
out:
	free(linebuf); /* getline's buffer comes from malloc */
	buf_release(&o);
	mem_free(cells);
	return ret;
}

/*
 * Opens the input and finds its first non-space byte, without losing what
 * came before it: a seekable file is rewound; otherwise the input is read
 * into memory (only when it starts with spaces or blank lines). *first is
 * that byte, or EOF for an input of nothing but spaces.
 */
static FILE *open_input(const char *path, const char *name, struct buf *held, int *first,
			struct err *err)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t skipped = 0;
	int c;

	if (!fp) {
		err_set(err, ERR_IO, "cannot read '%s': %s", name, strerror(errno));
		return NULL;
	}
	while ((c = getc(fp)) == ' ' || c == '\t' || c == '\r' || c == '\n') {
		if (buf_addch(held, c) < 0)
			goto nomem;
		skipped++;
	}
	*first = c;
	if (c == EOF) {
		if (ferror(fp)) {
			err_set(err, ERR_IO, "cannot read '%s': %s", name, strerror(errno));
			goto fail;
		}
		return fp;
	}
	if (skipped == 0) {
		if (ungetc(c, fp) == EOF) {
			err_set(err, ERR_IO, "cannot read '%s'", name);
			goto fail;
		}
		return fp;
	}
	if (fseek(fp, 0, SEEK_SET) == 0) {
		buf_reset(held);
		return fp;
	}
	/* A pipe that starts with white space: keep it all in memory. */
	if (buf_addch(held, c) < 0)
		goto nomem;
	while ((c = getc(fp)) != EOF)
		if (buf_addch(held, c) < 0)
			goto nomem;
	if (ferror(fp)) {
		err_set(err, ERR_IO, "cannot read '%s': %s", name, strerror(errno));
		goto fail;
	}
	if (fp != stdin)
		(void)fclose(fp); /* read only: nothing to lose */
	fp = fmemopen(held->ptr, held->len, "rb");
	if (!fp)
		err_set(err, ERR_IO, "cannot read '%s': %s", name, strerror(errno));
	return fp;
nomem:
	err_set(err, ERR_NOMEM, "out of memory reading '%s'", name);
fail:
	if (fp != stdin)
		(void)fclose(fp);
	return NULL;
}

/*
 * A regular input file is mapped (ml_csv_read_parts): if another program
 * truncates it while it is read, touching the lost pages raises SIGBUS.
 * Then one line, the temporary output removed, exit 1 (async-signal-safe
 * calls only).
 */
static const char *volatile sigbus_tmp;

static void on_sigbus(int sig)
{
	static const char msg[] = "kiln: error: the input file shrank while it was read\n";
	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	if (sigbus_tmp)
		(void)unlink(sigbus_tmp);
	_exit(EXIT_FAILED);
}

/*
 * Where the output goes until every row is predicted: the temporary file of
 * -o (renamed at the end), or for stdout an unlinked temporary file copied
 * to stdout at the end, so a failure leaves no partial output either way.
 * copy_to_stdout copies it in the kernel (sendfile, to a file or a pipe
 * alike), or through a buffer where sendfile cannot write.
 */
static int copy_to_stdout(FILE *tmp, struct err *err)
{
	char block[65536];
	struct stat st;
	off_t off = 0;
	ssize_t n = 0;
	size_t got;

	if (fflush(tmp) != 0 || fstat(fileno(tmp), &st) != 0)
		return err_set(err, ERR_IO, "cannot read back the output: %s", strerror(errno));
	if (fflush(stdout) != 0)
		return err_set(err, ERR_IO, "cannot write to stdout");
	while (off < st.st_size &&
	       (n = sendfile(STDOUT_FILENO, fileno(tmp), &off, (size_t)(st.st_size - off))) > 0)
		;
	if (off >= st.st_size)
		return 0;
	if (n < 0 && errno != EINVAL && errno != ENOSYS)
		return err_set(err, ERR_IO, "cannot write to stdout: %s", strerror(errno));
	/* stdout refuses sendfile (opened for appending, say): the rest by hand */
	if (fseeko(tmp, off, SEEK_SET) != 0)
		return err_set(err, ERR_IO, "cannot read back the output: %s", strerror(errno));
	while ((got = fread(block, 1, sizeof(block), tmp)) > 0)
		if (fwrite(block, 1, got, stdout) != got)
			return err_set(err, ERR_IO, "cannot write to stdout");
	if (ferror(tmp))
		return err_set(err, ERR_IO, "cannot read back the output: %s", strerror(errno));
	return 0;
}

int cmd_predict(int argc, char **argv)
{
	struct err err = ERR_INIT;
	struct ml_model *m = NULL;
	struct buf held = BUF_INIT;
	struct file_out fo;
	FILE *in = NULL, *out = NULL;
	const char *outpath = NULL, *inpath = "-", *name;
	int c, first = EOF, ret = EXIT_FAILED;

	memset(&fo, 0, sizeof(fo));
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
	if (outpath && strcmp(outpath, "-") == 0)
		outpath = NULL; /* stdout, through the temporary file */
	cli_heap_tuning();
	(void)signal(SIGBUS, on_sigbus);
	m = ml_model_load(argv[optind], &err);
	if (!m)
		return cli_fail(&err);
	in = open_input(inpath, name, &held, &first, &err);
	if (!in)
		goto out;
	if (first == EOF) {
		err_set(&err, ERR_INVALID, "%s: no input rows", name);
		goto out;
	}
	if (outpath) {
		if (file_out_open(&fo, outpath, &err) < 0)
			goto out;
		out = fo.f;
		sigbus_tmp = fo.tmp;
	} else if (!(out = tmpfile())) {
		err_set(&err, ERR_IO, "cannot create a temporary file: %s", strerror(errno));
		goto out;
	}
	c = first == '{' ? predict_jsonl(m, in, name, out, &err)
			 : predict_csv(m, in, name, out, &err);
	sigbus_tmp = NULL; /* the input is unmapped: no SIGBUS from here on */
	if (c < 0)
		goto out;
	if (outpath ? file_out_commit(&fo, &err) < 0 : copy_to_stdout(out, &err) < 0)
		goto out;
	ret = EXIT_OK;
out:
	if (ret != EXIT_OK)
		ret = cli_fail(&err);
	if (outpath)
		file_out_abort(&fo);
	else if (out)
		(void)fclose(out); /* the temporary file: already copied or discarded */
	if (in && in != stdin)
		(void)fclose(in); /* read only */
	ml_model_free(m);
	buf_release(&held);
	return ret;
}

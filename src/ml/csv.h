/*
 * csv.h - streaming RFC 4180 CSV reader: one row at a time from a file,
 * stdin or memory, through a bounded read buffer (never the whole file).
 * Not a frame: frame.h keeps rows; this only tokenizes and checks them.
 *
 * Accepted: quoted fields with embedded commas, "" quotes and line breaks;
 * LF or CRLF line ends (a CRLF inside quotes is kept as data); a UTF-8 BOM
 * at the start (skipped); a last row without a line end; blank lines
 * (skipped, as pandas does).
 * Refused, as ERR_PARSE with "name:line: ..." in the message: an unterminated
 * quote, a quote inside an unquoted field, a character after a closing quote,
 * a bare CR outside quotes, a NUL byte, invalid UTF-8, a field longer than
 * ML_CSV_MAX_FIELD, more than ML_CSV_MAX_FIELDS fields in a row.
 * The reader does not check field counts across rows: the caller does.
 */
#ifndef KILN_ML_CSV_H
#define KILN_ML_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "base/err.h"

#define ML_CSV_MAX_FIELD  (1UL << 20) /* 1 MiB per field */
#define ML_CSV_MAX_FIELDS 65536	      /* fields per row */
#define ML_CSV_BUFSIZE	  (1UL << 16) /* read buffer */

/*
 * A reader. After ml_csv_next returns 1, the current row is:
 *   nfields         number of fields (>= 1)
 *   field[i]        NUL-terminated bytes of field i (quotes removed, "" -> ")
 *   len[i]          its length in bytes
 *   quoted[i]       1 when the field was written in quotes
 *   row_line        1-based line where the row starts
 * The fields lie one after the other in one block of
 * field[nfields - 1] + len[nfields - 1] + 1 - field[0] bytes, each followed
 * by its NUL, so a caller may copy a whole row at once.
 * The row's memory belongs to the reader and is reused by the next call.
 */
struct ml_csv {
	size_t nfields;
	const char **field;
	size_t *len;
	unsigned char *quoted;
	size_t row_line;

	/* private */
	FILE *fp;
	int own_fp, eof, started;
	int slow_only;	/* tests: 1 reads every row with the state machine, no fast path */
	int one_row;	/* ml_csv_read_parts: 1 returns one more row, 2 then the end */
	size_t bufsize; /* allocated bytes of rbuf */
	char *name;
	const unsigned char *in; /* read buffer (rbuf) or the caller's memory */
	unsigned char *rbuf;
	void *map;		     /* ml_csv_read_parts: the rest of a regular file, mapped */
	size_t map_len, map_dropped; /* its length; bytes of it dropped (read) */
	size_t pos, avail;
	size_t line;	   /* line of the next byte */
	size_t fline;	   /* line where the current field started */
	char *data;	   /* field bytes of the current row, each NUL-terminated */
	size_t dlen, dcap; /* used and allocated bytes of data */
	size_t *off;	   /* offset of each field in data */
	size_t fcap;	   /* allocated entries of field, len, quoted, off */
};

/*
 * Opens path for reading ("-" is stdin). name in messages is the path.
 * Returns 0, or -1 with ERR_IO / ERR_NOMEM. ml_csv_close must be called
 * either way (it is safe on a failed open).
 */
int ml_csv_open(struct ml_csv *r, const char *path, struct err *err);
/* Reads from fp, which stays the caller's (not closed by ml_csv_close). */
int ml_csv_open_fp(struct ml_csv *r, FILE *fp, const char *name, struct err *err);
/* Reads len bytes at data, which must outlive the reader. */
int ml_csv_open_mem(struct ml_csv *r, const void *data, size_t len, const char *name,
		    struct err *err);
/*
 * Reads the next row. Returns 1 with a row, 0 at the end of the input, -1 on
 * error (the message names name:line). After -1 or 0, do not call it again.
 */
int ml_csv_next(struct ml_csv *r, struct err *err);
/* The name given at open (borrowed). */
const char *ml_csv_name(const struct ml_csv *r);
/* Frees everything; closes the file it opened. r is zeroed. */
void ml_csv_close(struct ml_csv *r);

/*
 * Parallel reading: rows in parts on two threads, each part read by a
 * reader over a range of r's read buffer with the same state machine, so
 * its rows, fields, line numbers and errors are those ml_csv_next on r
 * would give.
 *
 * ml_csv_read_parts reads the rest of r's input (after any rows read with
 * ml_csv_next) block by block: it fills r's read buffer up to block bytes,
 * cuts the whole rows in it into up to ML_CSV_PARTS parts of about equal
 * size at row ends, and two threads (the caller's and one more) take the
 * parts in order and call ops->part(ops->ctx, i, rows, err) for each:
 * rows reads part i. The callback reads it with ml_csv_next(rows, err) to
 * the end and returns 0, or -1 with err set (its own error or one from
 * ml_csv_next). Two callbacks run at the same time, on different parts.
 * When every part of a block returned 0, ops->commit(ops->ctx, n, err)
 * runs on the calling thread: parts 0..n-1 are final, in input order.
 *
 * Row ends are line feeds with an even number of quotes before them in the
 * block (found at memory speed: the quotes are only counted). A row
 * longer than the buffer is read alone through r, as the only part (n = 1),
 * so memory stays bounded by block and the longest row.
 *
 * Returns 0 at the end of the input; -1 with the first error in input order
 * (a part's, commit's, or a read error): a part after a failed one may have
 * run, but nothing after it is committed. Do not use r afterwards but for
 * r->line (the line after the input) and ml_csv_close.
 */
#define ML_CSV_PARTS 32
struct ml_csv_parts {
	int (*part)(void *ctx, int i, struct ml_csv *rows, struct err *err);
	int (*commit)(void *ctx, size_t n, struct err *err);
	void *ctx;
};
#define ML_CSV_BLOCK (4UL << 20) /* a good block for ml_csv_read_parts */
int ml_csv_read_parts(struct ml_csv *r, size_t block, const struct ml_csv_parts *ops,
		      struct err *err);

/*
 * Length of the longest valid UTF-8 prefix of s[0..len): len when all of s
 * is valid (no overlong forms, surrogates or code points past U+10FFFF).
 */
size_t ml_utf8_valid_prefix(const char *s, size_t len);

#endif

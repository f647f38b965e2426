/*
 * frame.h - a CSV file loaded into memory as columns of strings.
 * The ML commands read whole training / evaluation files through this; the
 * streaming reader underneath is csv.h. Not for typed data: schema.h decides
 * what a column is.
 *
 * CONTRACT (other modules rely on it):
 * - cells[c][r] is the field of row r, column c: a NUL-terminated UTF-8
 *   string owned by the frame, or NULL when the field was empty (a missing
 *   value; "" quoted is missing too).
 * - names[c] are the header's column names, unique (a duplicate is an error).
 * - line[r] is the 1-based line number where row r starts, for messages.
 */
#ifndef KILN_ML_FRAME_H
#define KILN_ML_FRAME_H

#include <stddef.h>

#include "base/err.h"

struct ml_frame {
	size_t nrows, ncols;
	char **names;	/* ncols */
	char ***cells;	/* ncols arrays of nrows */
	size_t *line;	/* nrows */
	char *path;	/* as given, for messages */
	void *internal; /* the reader's storage */
};

/*
 * Reads a CSV file (path "-" reads stdin) with a header row. Errors name
 * path:line: malformed quoting, a row with the wrong number of fields, NUL
 * bytes, invalid UTF-8, a field over ML_CSV_MAX_FIELD, an empty file or a
 * header without rows (ERR_PARSE / ERR_IO). On failure f is empty.
 */
int ml_frame_read_csv(struct ml_frame *f, const char *path, struct err *err);
/*
 * The same from len bytes of CSV in memory (an HTTP body, a fuzz input);
 * name is used in messages. The frame copies what it keeps.
 */
int ml_frame_parse_csv(struct ml_frame *f, const void *data, size_t len, const char *name,
		       struct err *err);
/* Frees everything; f is zeroed. Safe on a zeroed frame. */
void ml_frame_release(struct ml_frame *f);
/* The index of the column named name, or -1. */
int ml_frame_col(const struct ml_frame *f, const char *name);

#endif

/*
 * file.h - whole-file helpers: atomic replace (temporary file in the same
 * directory, fsync, rename), so a reader never sees a half-written file and
 * a failure leaves nothing behind.
 */
#ifndef KILN_BASE_FILE_H
#define KILN_BASE_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "base/err.h"

/*
 * An output file being written: open with file_out_open, write to f, then
 * file_out_commit (fsync + rename onto path) or file_out_abort (unlink).
 * path "-" writes straight to stdout (commit only flushes); an existing
 * path that is not a regular file (/dev/null, a FIFO) is written in place.
 */
struct file_out {
	FILE *f;
	char *path; /* final path; owned */
	char *tmp;  /* temporary path; owned; NULL for stdout */
};

int file_out_open(struct file_out *o, const char *path, struct err *err);
int file_out_commit(struct file_out *o, struct err *err);
/* Removes the temporary file; safe to call after commit or on a zeroed struct. */
void file_out_abort(struct file_out *o);

/*
 * An unnamed temporary file in dir, open for reading and writing: O_TMPFILE,
 * else a file created and removed at once. Gone when closed. -1 with errno.
 */
int file_tmp_unnamed(const char *dir);

/* Writes data to path atomically. */
int file_write_atomic(const char *path, const void *data, size_t len, struct err *err);

#endif

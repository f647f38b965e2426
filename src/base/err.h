/*
 * err.h - the error struct every fallible kiln function fills.
 * Functions return 0 / a pointer on success, -1 / NULL on failure, and put
 * the reason in the caller's struct err. The first error set wins.
 */
#ifndef KILN_BASE_ERR_H
#define KILN_BASE_ERR_H

#include <stdarg.h>

/* X(name, http status) — one list makes the enum and err_name(). */
#define ERR_MAP(X)                                                                                 \
	X(OK, 200)                                                                                 \
	X(IO, 500)                                                                                 \
	X(PARSE, 400)                                                                              \
	X(NOMEM, 500)                                                                              \
	X(USAGE, 400)                                                                              \
	X(INVALID, 400)                                                                            \
	X(NOTFOUND, 404)                                                                           \
	X(FORMAT, 400)                                                                             \
	X(TOOBIG, 413)                                                                             \
	X(VERSION, 400)                                                                            \
	X(CHECKSUM, 400)                                                                           \
	X(TRAIN, 500)                                                                              \
	X(GATE, 422)                                                                               \
	X(INTERNAL, 500)

enum err_code {
#define ERR_ENUM(name, status) ERR_##name,
	ERR_MAP(ERR_ENUM)
#undef ERR_ENUM
};

struct err {
	int code;      /* enum err_code; ERR_OK while no error is set */
	char msg[512]; /* lowercase, no final full stop */
};

#define ERR_INIT                                                                                   \
	{                                                                                          \
		ERR_OK,                                                                            \
		{                                                                                  \
			0                                                                          \
		}                                                                                  \
	}

/*
 * Sets the error unless one is already set (first error wins), and returns
 * -1 so callers can write `return err_set(err, ERR_IO, "...", ...)`.
 * err may be NULL: the message is then dropped.
 */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int err_vset(struct err *e, int code, const char *fmt, va_list ap);

/* Forgets the error, so the struct can be used again. */
void err_clear(struct err *e);

/* "IO", "PARSE", ... for a code; "UNKNOWN" for anything else. */
const char *err_name(int code);

/* The HTTP status an error code maps to. */
int err_http_status(int code);

#endif

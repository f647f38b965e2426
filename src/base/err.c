/*
 * err.c - fill and name struct err.
 */
#include "base/err.h"

#include <stdio.h>
#include <string.h>

int err_vset(struct err *e, int code, const char *fmt, va_list ap)
{
	if (!e || e->code != ERR_OK)
		return -1;
	e->code = code == ERR_OK ? ERR_INTERNAL : code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return -1;
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

void err_clear(struct err *e)
{
	e->code = ERR_OK;
	e->msg[0] = '\0';
}

const char *err_name(int code)
{
	switch (code) {
#define ERR_NAME(name, status)                                                                     \
	case ERR_##name:                                                                           \
		return #name;
		ERR_MAP(ERR_NAME)
#undef ERR_NAME
	}
	return "UNKNOWN";
}

int err_http_status(int code)
{
	switch (code) {
#define ERR_STATUS(name, status)                                                                   \
	case ERR_##name:                                                                           \
		return status;
		ERR_MAP(ERR_STATUS)
#undef ERR_STATUS
	}
	return 500;
}

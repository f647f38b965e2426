/*
 * log.c - leveled messages on stderr, control characters escaped.
 */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The one process-wide setting: set once by main before any thread starts. */
int log_level_current = LOG_WARN;

void log_set_level(int level)
{
	log_level_current = level;
}

int log_parse_level(const char *s)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

void log_write(int level, const char *subsys, const char *fmt, ...)
{
	static const char *prefix[] = {"error: ", "warning: ", "", "debug: "};
	char line[2048], out[4096];
	size_t o = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (const char *p = line; *p && o < sizeof(out) - 5; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 && c != '\t') {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	fprintf(stderr, "kiln: %s%s%s%s\n", level >= 0 && level < 4 ? prefix[level] : "",
		subsys ? subsys : "", subsys ? ": " : "", out);
}

/*
 * log.h - leveled messages on stderr. The macros check the level before
 * evaluating their arguments. Level comes from --log-level or KILN_LOG_LEVEL
 * (read once by main, which calls log_set_level).
 */
#ifndef KILN_BASE_LOG_H
#define KILN_BASE_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern int log_level_current;

void log_set_level(int level);
/* "error", "warn", "info", "debug" -> level; -1 when unknown. */
int log_parse_level(const char *s);
/* Writes "kiln: <prefix>msg\n" to stderr (prefix "warning: ", "error: "...). */
void log_write(int level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_at(lvl, subsys, ...)                                                                   \
	do {                                                                                       \
		if ((lvl) <= log_level_current)                                                    \
			log_write((lvl), (subsys), __VA_ARGS__);                                   \
	} while (0)
#define log_error(...) log_at(LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...)  log_at(LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, NULL, __VA_ARGS__)

#endif

// SPDX-License-Identifier: ISC
#ifndef COFFER_LOG_H
#define COFFER_LOG_H

/*
 * Operational log: one line per event on stderr (or a chosen fd), as
 * key=value pairs: `ts=... level=info prog=appliance-server src=file.c:42
 * msg="..."`. Never pass secrets, PINs, key bytes or payloads. Untrusted
 * strings go through log_untrusted() first (truncated, control characters
 * escaped).
 */

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

/* Program name and threshold; safe to call again (e.g. after --verbose). */
void log_init(const char *prog, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error", "warn", "info", "debug". Returns 0 or ERR_INVALID_ARG. */
int log_level_parse(const char *s, enum log_level *out) WARN_UNUSED;
/* Send lines to this fd instead of stderr (the fd stays the caller's). */
void log_set_fd(int fd);

void log_emit(enum log_level level, const char *file, int line, const char *fmt, ...)
	PRINTF_LIKE(4, 5);

/* Log the message at error level and abort(): for broken contracts only. */
_Noreturn void log_fatal(const char *file, int line, const char *fmt, ...) PRINTF_LIKE(3, 4);

/*
 * Copy at most `max` bytes of an untrusted string into out (size outlen),
 * escaping control characters, quotes and backslashes. Returns out.
 */
char *log_untrusted(char *out, size_t outlen, const char *s, size_t max);

#define log_error(...) log_emit(LOG_LEVEL_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_emit(LOG_LEVEL_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) log_emit(LOG_LEVEL_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_get_level() >= LOG_LEVEL_DEBUG)                                             \
			log_emit(LOG_LEVEL_DEBUG, __FILE__, __LINE__, __VA_ARGS__);                \
	} while (0)

/* error_fr(r, "parse frame"): logs "parse frame: <err_msg(r)>". */
#define error_fr(r, fmt, ...)                                                                      \
	log_emit(LOG_LEVEL_ERROR, __FILE__, __LINE__, fmt ": %s", ##__VA_ARGS__, err_msg(r))
#define warn_fr(r, fmt, ...)                                                                       \
	log_emit(LOG_LEVEL_WARN, __FILE__, __LINE__, fmt ": %s", ##__VA_ARGS__, err_msg(r))

/*
 * A condition that may repeat thousands of times a second (a flood, a full
 * descriptor table): count each occurrence with log_every_note() and call
 * log_every_flush() from a periodic tick; it writes at most one line per
 * interval, "<what> (N times in the last S s)", and nothing when nothing
 * happened. Not thread-safe: one owner.
 */
struct log_every {
	unsigned long count;
	uint64_t first_ms; /* of the occurrences not logged yet */
	uint64_t next_ms;  /* no line before this */
};

static inline void log_every_note(struct log_every *e, uint64_t now_ms)
{
	if (e->count++ == 0)
		e->first_ms = now_ms;
}

void log_every_flush_at(const char *file, int line, struct log_every *e, uint64_t now_ms,
			unsigned interval_ms, enum log_level level, const char *what);
#define log_every_flush(e, now_ms, interval_ms, level, what)                                      \
	log_every_flush_at(__FILE__, __LINE__, e, now_ms, interval_ms, level, what)

/* A broken contract in our own code: log and abort. */
#define fatal(...) log_fatal(__FILE__, __LINE__, __VA_ARGS__)
#define fatal_fr(r, fmt, ...) log_fatal(__FILE__, __LINE__, fmt ": %s", ##__VA_ARGS__, err_msg(r))

#endif

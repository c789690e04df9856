// SPDX-License-Identifier: ISC
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char prog_name[64] = "coffer";
static enum log_level threshold = LOG_LEVEL_INFO;
static int log_fd = STDERR_FILENO;

void log_init(const char *prog, enum log_level level)
{
	const char *base = strrchr(prog, '/');

	snprintf(prog_name, sizeof(prog_name), "%s", base != NULL ? base + 1 : prog);
	threshold = level;
}

void log_set_level(enum log_level level)
{
	threshold = level;
}

enum log_level log_get_level(void)
{
	return threshold;
}

void log_set_fd(int fd)
{
	log_fd = fd;
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return err_set(ERR_INVALID_ARG, "log level must be error, warn, info or debug");
}

char *log_untrusted(char *out, size_t outlen, const char *s, size_t max)
{
	size_t o = 0, i;

	if (outlen == 0)
		return out;
	for (i = 0; s[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		size_t n;

		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
			if (c == '"' || c == '\\')
				n = (size_t)snprintf(esc, sizeof(esc), "\\%c", c);
			else
				n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", c);
		} else {
			esc[0] = (char)c;
			n = 1;
		}
		if (o + n >= outlen)
			break;
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o] = '\0';
	return out;
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

PRINTF_LIKE(4, 0)
static void emit(enum log_level level, const char *file, int line, const char *fmt, va_list ap)
{
	char msg[1024], esc[1400], ts[40], line_buf[1700];
	struct timespec now;
	struct tm tm;
	const char *base = strrchr(file, '/');
	int n;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* The message is ours, but it may embed names from files or peers. */
	log_untrusted(esc, sizeof(esc), msg, sizeof(msg));
	n = snprintf(line_buf, sizeof(line_buf), "ts=%s.%03ldZ level=%s prog=%s src=%s:%d msg=\"%s\"\n",
		     ts, now.tv_nsec / 1000000, level_names[level], prog_name,
		     base != NULL ? base + 1 : file, line, esc);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line_buf)) {
		n = sizeof(line_buf) - 1;
		line_buf[n - 1] = '\n';
	}
	/* One write per line so concurrent threads do not interleave. */
	while (write(log_fd, line_buf, (size_t)n) < 0 && errno == EINTR)
		;
}

void log_emit(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (level > threshold)
		return;
	va_start(ap, fmt);
	emit(level, file, line, fmt, ap);
	va_end(ap);
}

void log_fatal(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_LEVEL_ERROR, file, line, fmt, ap);
	va_end(ap);
	abort();
}

void log_every_flush_at(const char *file, int line, struct log_every *e, uint64_t now_ms,
			unsigned interval_ms, enum log_level level, const char *what)
{
	if (e->count == 0 || now_ms < e->next_ms)
		return;
	log_emit(level, file, line, "%s (%lu time%s in the last %llu s)", what, e->count,
		 e->count == 1 ? "" : "s", (unsigned long long)(now_ms - e->first_ms + 999) / 1000);
	e->count = 0;
	e->next_ms = now_ms + interval_ms;
}

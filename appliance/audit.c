// SPDX-License-Identifier: ISC
#include "audit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct audit {
	int fd;
	int own_fd;
	pthread_mutex_t lock;
};

int audit_open(const char *path, struct audit **out)
{
	struct audit *a;

	*out = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return err_set(ERR_ALLOC, "audit");
	pthread_mutex_init(&a->lock, NULL);
	if (path == NULL) {
		a->fd = STDERR_FILENO;
	} else {
		a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (a->fd < 0) {
			int r = err_sys("open audit log %s", path);
			pthread_mutex_destroy(&a->lock);
			free(a);
			return r;
		}
		a->own_fd = 1;
	}
	*out = a;
	return 0;
}

void audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->own_fd)
		close(a->fd);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

struct out {
	char *p;
	size_t len, cap;
	int overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->overflow || o->len + n >= o->cap) {
		o->overflow = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* A JSON string of at most max input bytes; bytes >= 0x80 pass (UTF-8 is the
 * sender's business), controls, quotes and backslashes are escaped. */
static void put_json_str(struct out *o, const char *s, size_t max)
{
	size_t i;

	put(o, "\"", 1);
	for (i = 0; s[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(o, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(o, esc, 6);
		} else if (c >= 0x80) {
			/* Keep the record valid JSON whatever the bytes were. */
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(o, esc, 6);
		} else {
			put(o, (const char *)&c, 1);
		}
	}
	if (s[i] != '\0')
		puts_(o, "...");
	put(o, "\"", 1);
}

int audit_format(const struct audit_event *ev, char *buf, size_t outlen)
{
	struct out o = {buf, 0, outlen, 0};
	char tmp[128], ts[40];
	struct timespec now;
	struct tm tm;
	time_t secs;
	long ms;
	size_t i;

	if (outlen == 0)
		return ERR_TOO_LARGE;
	buf[0] = '\0';
	if (ev->time_ns == 0) {
		clock_gettime(CLOCK_REALTIME, &now);
		secs = now.tv_sec;
		ms = now.tv_nsec / 1000000;
	} else {
		secs = (time_t)(ev->time_ns / 1000000000ULL);
		ms = (long)(ev->time_ns % 1000000000ULL / 1000000);
	}
	gmtime_r(&secs, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(tmp, sizeof(tmp), "{\"ts\":\"%s.%03ldZ\",\"event\":\"%s\"", ts, ms,
		 ev->type == AUDIT_RELEASE   ? "release"
		 : ev->type == AUDIT_SERVICE ? "service"
					     : "handshake");
	puts_(&o, tmp);
	puts_(&o, ",\"peer\":");
	put_json_str(&o, ev->peer != NULL ? ev->peer : "", 64);
	if (ev->have_identity) {
		char id[IDENTITY_TEXT_LEN + 1];
		identity_format(ev->identity, id);
		puts_(&o, ",\"client\":\"");
		puts_(&o, id);
		puts_(&o, "\"");
	}
	if (ev->name != NULL) {
		puts_(&o, ",\"name\":");
		put_json_str(&o, ev->name, 128);
	}
	puts_(&o, ",\"result\":");
	put_json_str(&o, ev->result != NULL ? ev->result : "unknown", 32);
	if (ev->reason != NULL) {
		puts_(&o, ",\"reason\":");
		put_json_str(&o, ev->reason, 200);
	}
	if (ev->type == AUDIT_RELEASE) {
		if (ev->keys >= 0) {
			snprintf(tmp, sizeof(tmp), ",\"keys\":%ld", ev->keys);
			puts_(&o, tmp);
		}
		if (ev->requested != NULL && ev->n_requested > 0) {
			puts_(&o, ",\"requested\":[");
			for (i = 0; i < ev->n_requested && i < AUDIT_MAX_NAMES; i++) {
				if (i > 0)
					puts_(&o, ",");
				put_json_str(&o, ev->requested[i], 100);
			}
			puts_(&o, "]");
			if (ev->n_requested > AUDIT_MAX_NAMES)
				puts_(&o, ",\"truncated\":true");
		} else {
			puts_(&o, ",\"requested\":\"all\"");
		}
	}
	puts_(&o, "}\n");
	if (o.overflow)
		return err_set(ERR_TOO_LARGE, "audit record longer than %zu bytes", outlen);
	return (int)o.len;
}

int audit_write(struct audit *a, const struct audit_event *ev)
{
	char line[AUDIT_MAX_LINE];
	int n, r = 0;
	ssize_t w;

	if ((n = audit_format(ev, line, sizeof(line))) < 0)
		return n;
	pthread_mutex_lock(&a->lock);
	do {
		w = write(a->fd, line, (size_t)n);
	} while (w < 0 && errno == EINTR);
	if (w < 0)
		r = err_sys("write audit record");
	else if (w != n)
		r = err_set(ERR_IO, "write audit record: short write (%zd of %d bytes)", w, n);
	pthread_mutex_unlock(&a->lock);
	return r;
}

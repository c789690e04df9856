// SPDX-License-Identifier: ISC
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "pkey.h"

#define AUDIT_CHECKPOINT_LINE 1024
#define SHUTDOWN_MARK "\"event\":\"checkpoint\",\"reason\":\"shutdown\""

struct audit {
	int fd;
	int own_fd;
	int regular;   /* a regular file: a cut-short write can be undone */
	int broken;    /* a cut-short write could not be undone: refuse to go on */
	int clean_end; /* see audit_chain_state */
	pthread_mutex_t lock;
	/* the chain, guarded by lock */
	uint64_t seq;             /* of the next record */
	uint8_t prev[SHA256_LEN]; /* SHA-256 of the last record as written */
	off_t size;               /* file size after the last whole record */
	/* checkpoints */
	audit_sign_fn sign;
	void *sign_ctx;
	char key_fpr[PKEY_FPR_TEXT_LEN + 1];
	unsigned every;
	unsigned since; /* records since the last checkpoint */
};

/*
 * The chain head of an existing file: its last line must be a whole
 * chained record. Only the end of the file is read (a record is at most
 * AUDIT_MAX_LINE bytes), so a large log opens as fast as a small one.
 */
static int read_chain_head(struct audit *a, const char *path, off_t size)
{
	size_t win = size > (off_t)AUDIT_MAX_LINE + 1 ? (size_t)AUDIT_MAX_LINE + 1 : (size_t)size;
	uint8_t *b = NULL;
	size_t got = 0, start;
	uint64_t seq;
	int r;

	if ((b = malloc(win)) == NULL)
		return err_set(ERR_ALLOC, "audit log %s", path);
	while (got < win) {
		ssize_t n = pread(a->fd, b + got, win - got, size - (off_t)win + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0
			        ? err_sys("read audit log %s", path)
			        : err_set(ERR_IO, "read audit log %s: shorter than expected", path);
			goto out;
		}
		got += (size_t)n;
	}
	if (b[win - 1] != '\n') {
		r = err_set(ERR_FORMAT,
		            "audit log %s ends in an incomplete record (a crash in mid-write, or "
		            "tampering): keep the file as evidence, move it aside, and start again "
		            "with a new log",
		            path);
		goto out;
	}
	for (start = win - 1; start > 0 && b[start - 1] != '\n'; start--)
		;
	if (start == 0 && (off_t)win < size) {
		r = err_set(ERR_FORMAT, "audit log %s: the last record is longer than %d bytes",
		            path, AUDIT_MAX_LINE);
		goto out;
	}
	if (auditlog_parse_head(b + start, win - start, &seq, a->prev) != 0) {
		r = err_set(ERR_FORMAT,
		            "audit log %s: the last record is not part of a hash chain (%s; a log "
		            "of an older version?): move the file aside to start a new chain",
		            path, err_detail());
		goto out;
	}
	if ((r = pkey_sha256(b + start, win - start, a->prev)) != 0)
		goto out;
	a->seq = seq + 1;
	a->clean_end =
	    memmem(b + start, win - start, SHUTDOWN_MARK, sizeof(SHUTDOWN_MARK) - 1) != NULL;
	r = 0;
out:
	free(b);
	return r;
}

int audit_open(const char *path, struct audit **out)
{
	struct audit *a;
	struct stat st;
	int r;

	*out = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return err_set(ERR_ALLOC, "audit");
	pthread_mutex_init(&a->lock, NULL);
	a->fd = -1;
	a->clean_end = -1;
	if (path == NULL) {
		a->fd = STDERR_FILENO;
		*out = a;
		return 0;
	}
	a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (a->fd < 0) {
		r = err_sys("open audit log %s", path);
		goto fail;
	}
	a->own_fd = 1;
	if (fstat(a->fd, &st) != 0) {
		r = err_sys("stat audit log %s", path);
		goto fail;
	}
	/* A device (/dev/null, a tty) gets a chain of its own: nothing to continue. */
	if (S_ISREG(st.st_mode)) {
		a->regular = 1;
		/* Two writers would fork the chain. */
		if (flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
			r = errno == EWOULDBLOCK
			        ? err_set(ERR_BUSY,
			                  "audit log %s is in use by another process (two "
			                  "appliances cannot write one chain)",
			                  path)
			        : err_sys("lock audit log %s", path);
			goto fail;
		}
		a->size = st.st_size;
		if (st.st_size > 0 && (r = read_chain_head(a, path, st.st_size)) != 0)
			goto fail;
	}
	*out = a;
	return 0;
fail:
	audit_close(a);
	return r;
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

int audit_set_signer(struct audit *a, audit_sign_fn fn, void *ctx, const char *key_fpr,
                     unsigned every)
{
	if (fn == NULL || key_fpr == NULL || strlen(key_fpr) != PKEY_FPR_TEXT_LEN || every < 1 ||
	    every > AUDIT_MAX_CHECKPOINT)
		return err_set(ERR_INVALID_ARG, "audit signer: bad key fingerprint or interval");
	pthread_mutex_lock(&a->lock);
	a->sign = fn;
	a->sign_ctx = ctx;
	memcpy(a->key_fpr, key_fpr, PKEY_FPR_TEXT_LEN + 1);
	a->every = every;
	a->since = 0;
	pthread_mutex_unlock(&a->lock);
	return 0;
}

void audit_chain_state(struct audit *a, uint64_t *next_seq, int *clean_end)
{
	pthread_mutex_lock(&a->lock);
	*next_seq = a->seq;
	*clean_end = a->clean_end;
	pthread_mutex_unlock(&a->lock);
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

/* A JSON string of at most max input bytes; controls, quotes, backslashes
 * and bytes >= 0x80 are escaped, so a record is ASCII whatever it names. */
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
		} else if (c < 0x20 || c >= 0x7f) {
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

/* ,"field":["a","b",...]; returns 1 if the list was cut. */
static int put_names(struct out *o, const char *field, const char *const *names, size_t n)
{
	size_t i, start;

	puts_(o, ",\"");
	puts_(o, field);
	puts_(o, "\":[");
	start = o->len;
	for (i = 0; i < n && i < AUDIT_MAX_NAMES; i++) {
		if (o->len - start >= AUDIT_NAMES_BUDGET)
			break;
		if (i > 0)
			puts_(o, ",");
		put_json_str(o, names[i], 100);
	}
	puts_(o, "]");
	return i < n;
}

/* "2026-11-22T04:24:08.120Z" for ns since 1970 (0: now). */
static void format_ts(uint64_t ns, char out[static 32])
{
	struct timespec now;
	struct tm tm;
	char day[24];
	time_t secs;
	long ms;

	if (ns == 0) {
		clock_gettime(CLOCK_REALTIME, &now);
		secs = now.tv_sec;
		ms = now.tv_nsec / 1000000;
	} else {
		secs = (time_t)(ns / 1000000000ULL);
		ms = (long)(ns % 1000000000ULL / 1000000);
	}
	gmtime_r(&secs, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03ldZ", day, ms);
}

static const char *event_name(enum audit_event_type t)
{
	switch (t) {
	case AUDIT_RELEASE:
		return "release";
	case AUDIT_SERVICE:
		return "service";
	case AUDIT_HANDSHAKE:
		break;
	}
	return "handshake";
}

int audit_format(const struct audit_event *ev, char *buf, size_t outlen)
{
	struct out o = {buf, 0, outlen, 0};
	char tmp[128], ts[32];
	int cut = 0;

	if (outlen == 0)
		return ERR_TOO_LARGE;
	buf[0] = '\0';
	format_ts(ev->time_ns, ts);
	snprintf(tmp, sizeof(tmp), "{\"ts\":\"%s\",\"event\":\"%s\"", ts, event_name(ev->type));
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
	if (ev->appliance_key != NULL) {
		puts_(&o, ",\"appliance_key\":");
		put_json_str(&o, ev->appliance_key, PKEY_FPR_TEXT_LEN);
	}
	puts_(&o, ",\"result\":");
	put_json_str(&o, ev->result != NULL ? ev->result : "unknown", 32);
	if (ev->reason != NULL) {
		puts_(&o, ",\"reason\":");
		put_json_str(&o, ev->reason, 200);
	}
	if (ev->type == AUDIT_RELEASE) {
		if (ev->have_serial) {
			snprintf(tmp, sizeof(tmp), ",\"serial\":%llu",
			         (unsigned long long)ev->serial);
			puts_(&o, tmp);
		}
		if (ev->keys >= 0) {
			snprintf(tmp, sizeof(tmp), ",\"keys\":%ld", ev->keys);
			puts_(&o, tmp);
		}
		if (ev->requested != NULL && ev->n_requested > 0)
			cut |= put_names(&o, "requested", ev->requested, ev->n_requested);
		else
			puts_(&o, ",\"requested\":\"all\"");
		if (ev->released != NULL)
			cut |= put_names(&o, "released", ev->released, ev->n_released);
		if (cut)
			puts_(&o, ",\"truncated\":true");
	}
	puts_(&o, "}\n");
	if (o.overflow)
		return err_set(ERR_TOO_LARGE, "audit record longer than %zu bytes", outlen);
	return (int)o.len;
}

/*
 * Append one whole record (chain fields included) and move the chain on.
 * Called with the lock held. A write cut short is cut off the file again,
 * so that the next record does not glue onto half a record; if even that
 * fails, the trail refuses every later record (fail closed).
 */
static int append_line(struct audit *a, const char *line, size_t n)
{
	ssize_t w;
	int r;

	if (a->broken)
		return err_set(ERR_IO, "audit log holds a cut-short record that could not be "
		                       "removed; restart the appliance after repairing it");
	do {
		w = write(a->fd, line, n);
	} while (w < 0 && errno == EINTR);
	if (w == (ssize_t)n) {
		a->size += (off_t)n;
		a->seq++;
		return pkey_sha256(line, n, a->prev);
	}
	r = w < 0 ? err_sys("write audit record")
	          : err_set(ERR_IO, "write audit record: short write (%zd of %zu bytes)", w, n);
	if (w > 0 && a->regular && ftruncate(a->fd, a->size) != 0) {
		a->broken = 1;
		log_error("audit log: could not cut off a partial record: %s", strerror(errno));
	}
	return r;
}

/* Write a signed checkpoint; lock held. */
static int write_checkpoint(struct audit *a, const char *reason)
{
	char line[AUDIT_CHECKPOINT_LINE], ts[32];
	struct buf *sig = NULL;
	size_t n;
	int r, k;

	if (a->sign == NULL)
		return err_set(ERR_INVALID_ARG, "audit checkpoint: no audit key (--audit-key)");
	n = auditlog_head(a->seq, a->prev, line);
	format_ts(0, ts);
	k = snprintf(line + n, sizeof(line) - n,
	             "\"ts\":\"%s\",\"event\":\"checkpoint\",\"reason\":\"%s\",\"every\":%u,"
	             "\"audit_key\":\"%s\"",
	             ts, reason, a->every, a->key_fpr);
	if (n == 0 || k < 0 || (size_t)k >= sizeof(line) - n)
		return err_set(ERR_INTERNAL, "audit checkpoint: line too long");
	n += (size_t)k;
	if ((sig = buf_new(0)) == NULL)
		return err_set(ERR_ALLOC, "audit checkpoint");
	if ((r = a->sign(a->sign_ctx, (const uint8_t *)line, n, sig)) != 0) {
		r = err_wrap(r, "sign audit checkpoint with %s", a->key_fpr);
		goto out;
	}
	if (buf_len(sig) == 0 || buf_len(sig) > AUDITLOG_SIG_MAX ||
	    n + sizeof(AUDITLOG_SIG_TAG) + 2 * buf_len(sig) + 3 > sizeof(line)) {
		r = err_set(ERR_INTERNAL, "audit checkpoint: signature of %zu bytes", buf_len(sig));
		goto out;
	}
	memcpy(line + n, AUDITLOG_SIG_TAG, sizeof(AUDITLOG_SIG_TAG) - 1);
	n += sizeof(AUDITLOG_SIG_TAG) - 1;
	hex_encode(buf_ptr(sig), buf_len(sig), line + n);
	n += 2 * buf_len(sig);
	memcpy(line + n, "\"}\n", 3);
	n += 3;
	if ((r = append_line(a, line, n)) != 0)
		goto out;
	a->since = 0;
	/* Everything the signature vouches for is on the disk. */
	if (a->regular && fdatasync(a->fd) != 0)
		r = err_sys("fsync audit log");
out:
	buf_free(sig);
	return r;
}

int audit_checkpoint(struct audit *a, const char *reason)
{
	int r;

	pthread_mutex_lock(&a->lock);
	r = write_checkpoint(a, reason);
	pthread_mutex_unlock(&a->lock);
	return r;
}

int audit_write(struct audit *a, const struct audit_event *ev)
{
	char line[AUDIT_MAX_LINE], head[AUDITLOG_HEAD_MAX];
	size_t h, start;
	int n, r, cr;

	/* The fields go after room for the chain fields, which only the lock knows. */
	if ((n = audit_format(ev, line + AUDITLOG_HEAD_MAX, sizeof(line) - AUDITLOG_HEAD_MAX)) < 0)
		return n;
	pthread_mutex_lock(&a->lock);
	h = auditlog_head(a->seq, a->prev, head);
	/* head ends with ',' and replaces the fields' opening '{'. */
	start = AUDITLOG_HEAD_MAX + 1 - h;
	memcpy(line + start, head, h);
	r = append_line(a, line + start, h + (size_t)n - 1);
	if (r == 0 && a->sign != NULL && ++a->since >= a->every &&
	    (cr = write_checkpoint(a, "interval")) != 0)
		error_fr(cr, "%s", "audit checkpoint (retried after the next record)");
	pthread_mutex_unlock(&a->lock);
	return r;
}

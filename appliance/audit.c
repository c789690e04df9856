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
#include "clock.h"
#include "log.h"
#include "pkey.h"

#define AUDIT_CHECKPOINT_LINE 1024
#define AUDIT_AGG_MAX 1024   /* (source, result, reason) counted at once; the rest as "*" */
#define AUDIT_TICK_MS 1000   /* the writer looks at the refusal counts this often */
#define AUDIT_BATCH_MS 10    /* records nobody waits for: at most one batch this often */
#define AUDIT_LOG_EVERY_MS 10000

enum item_kind {
	ITEM_RECORD = 1,
	ITEM_CHECKPOINT,
};

/* A checkpoint asked for by another thread, which waits for it. */
struct waiter {
	int done;
	int rc;
};

/* One entry of the writer's queue. */
struct item {
	struct item *next;
	enum item_kind kind;
	audit_done_fn done; /* record: called with the write's result, or NULL */
	void *arg;
	const char *reason;  /* checkpoint */
	struct waiter *w;    /* checkpoint */
	size_t len;          /* record: bytes of the fields at line + AUDITLOG_HEAD_MAX */
	char line[];
};

/* Refusals of one source, result and reason in the current interval. */
struct agg {
	char peer[48];
	char result[32];
	char reason[96];
	unsigned long count; /* since the last record of them */
	uint64_t first_ns;   /* CLOCK_REALTIME of the first of those */
	int used;
};
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
	/* the writer thread (audit_start); the queue and the counts below are
	 * guarded by qlock; a record's completion runs under cblock */
	int threaded, stop;
	pthread_t thread;
	pthread_mutex_t qlock, cblock;
	pthread_cond_t qcond, wcond;
	struct item *head, *tail;
	size_t qbytes;
	int idle;            /* the writer waits on an empty queue */
	int no_done;         /* audit_forget_done: no completion runs any more (cblock) */
	unsigned urgent;     /* queued items someone waits for (completions, checkpoints) */
	uint64_t batch_due;  /* CLOCK_MONOTONIC ms: the queue is written by then */
	uint64_t batch_last; /* CLOCK_MONOTONIC ms: the last batch was taken then */
	struct log_every full, failed; /* records lost to a full queue; failed writes */
	/* refusals, aggregated (audit_refused) */
	struct agg agg[AUDIT_AGG_MAX];
	uint64_t agg_next_ms; /* CLOCK_MONOTONIC: the counts become records then */
};

static void flush_refusals(struct audit *a, int all);

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
		char why[160];
		/* The detail is rewritten by err_set: keep the parser's first. */
		snprintf(why, sizeof(why), "%s", err_detail());
		r = err_set(ERR_FORMAT,
		            "audit log %s: the last record is not part of a hash chain (%s; a log "
		            "of an older version?): move the file aside to start a new chain",
		            path, why);
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
	pthread_mutex_init(&a->qlock, NULL);
	pthread_mutex_init(&a->cblock, NULL);
	pthread_cond_init(&a->qcond, NULL);
	pthread_cond_init(&a->wcond, NULL);
	a->fd = -1;
	a->clean_end = -1;
	a->agg_next_ms = clock_mono_ms() + AUDIT_AGGREGATE_SECONDS * 1000ULL;
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
	audit_stop(a);
	flush_refusals(a, 1);
	if (a->own_fd)
		close(a->fd);
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->qlock);
	pthread_mutex_destroy(&a->cblock);
	pthread_cond_destroy(&a->qcond);
	pthread_cond_destroy(&a->wcond);
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
	if (ev->count > 0) {
		snprintf(tmp, sizeof(tmp), ",\"count\":%lu", ev->count);
		puts_(&o, tmp);
		if (ev->first_ns != 0) {
			format_ts(ev->first_ns, ts);
			puts_(&o, ",\"first\":\"");
			puts_(&o, ts);
			puts_(&o, "\"");
		}
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

/*
 * Chain and append the record whose fields (one JSON object line, n bytes)
 * are at line + AUDITLOG_HEAD_MAX, then an interval checkpoint if one is
 * due (its failure is logged, and retried with the next record).
 */
static int write_fields(struct audit *a, char *line, size_t n)
{
	char head[AUDITLOG_HEAD_MAX];
	size_t h, start;
	int r, cr;

	pthread_mutex_lock(&a->lock);
	h = auditlog_head(a->seq, a->prev, head);
	/* head ends with ',' and replaces the fields' opening '{'. */
	start = AUDITLOG_HEAD_MAX + 1 - h;
	memcpy(line + start, head, h);
	r = append_line(a, line + start, h + n - 1);
	if (r == 0 && a->sign != NULL && ++a->since >= a->every &&
	    (cr = write_checkpoint(a, "interval")) != 0)
		error_fr(cr, "%s", "audit checkpoint (retried after the next record)");
	pthread_mutex_unlock(&a->lock);
	return r;
}

static int write_event(struct audit *a, const struct audit_event *ev)
{
	char line[AUDIT_MAX_LINE];
	int n;

	if ((n = audit_format(ev, line + AUDITLOG_HEAD_MAX, sizeof(line) - AUDITLOG_HEAD_MAX)) < 0)
		return n;
	return write_fields(a, line, (size_t)n);
}

/* The source of a peer text: its address without the port. */
static void peer_source(const char *peer, char *out, size_t cap)
{
	const char *colon = peer != NULL ? strrchr(peer, ':') : NULL;
	size_t n = colon != NULL ? (size_t)(colon - peer) : peer != NULL ? strlen(peer) : 0;

	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(out, peer, n);
	out[n] = '\0';
}

/*
 * Write a record for every count gathered since the last (all: every
 * entry goes; else entries with nothing counted are forgotten and those
 * with a count stay, so that the next refusal of theirs is counted too).
 */
static void flush_refusals(struct audit *a, int all)
{
	struct agg *batch;
	size_t i, n = 0;
	int r;

	if ((batch = malloc(AUDIT_AGG_MAX * sizeof(*batch))) == NULL) {
		log_error("audit: out of memory for the refusal counts");
		return;
	}
	pthread_mutex_lock(&a->qlock);
	for (i = 0; i < AUDIT_AGG_MAX; i++) {
		struct agg *g = &a->agg[i];
		if (!g->used)
			continue;
		if (g->count > 0)
			batch[n++] = *g;
		if (all || g->count == 0)
			memset(g, 0, sizeof(*g));
		else
			g->count = 0;
	}
	a->agg_next_ms = clock_mono_ms() + AUDIT_AGGREGATE_SECONDS * 1000ULL;
	pthread_mutex_unlock(&a->qlock);
	for (i = 0; i < n; i++) {
		struct audit_event ev;
		memset(&ev, 0, sizeof(ev));
		ev.type = AUDIT_HANDSHAKE;
		ev.peer = batch[i].peer;
		ev.result = batch[i].result;
		ev.reason = batch[i].reason[0] != '\0' ? batch[i].reason : NULL;
		ev.keys = -1;
		ev.count = batch[i].count;
		ev.first_ns = batch[i].first_ns;
		if ((r = write_event(a, &ev)) != 0)
			warn_fr(r, "%s", "audit record of refusals");
	}
	free(batch);
}

/*
 * Append to the writer's queue; qlock held. The writer is woken for an item
 * someone waits for; records nobody waits for are written at once when the
 * log was quiet for AUDIT_BATCH_MS, else together AUDIT_BATCH_MS after the
 * last batch, so that under load one wake-up writes many (a futex wake and a
 * context switch per record cost more than its write).
 */
static void push(struct audit *a, struct item *it)
{
	int urgent = it->done != NULL || it->kind == ITEM_CHECKPOINT;

	if (a->head == NULL)
		a->batch_due = a->batch_last + AUDIT_BATCH_MS; /* now, if the log was quiet */
	if (a->tail != NULL)
		a->tail->next = it;
	else
		a->head = it;
	a->tail = it;
	a->urgent += urgent != 0;
	if (urgent || a->idle)
		pthread_cond_signal(&a->qcond);
}

/* Wait on qcond until CLOCK_MONOTONIC ms `due` at the latest; qlock held. */
static void wait_until(struct audit *a, uint64_t due)
{
	struct timespec until;
	uint64_t now = clock_mono_ms(), ms = due > now ? due - now : 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	(void)pthread_cond_timedwait(&a->qcond, &a->qlock, &until);
}

/* Queue a formatted record for the writer: 0, or ERR_BUSY if the queue is full. */
static int enqueue(struct audit *a, const char *fields, size_t n, audit_done_fn done, void *arg)
{
	struct item *it;

	pthread_mutex_lock(&a->qlock);
	if (a->stop || a->qbytes + n > AUDIT_QUEUE_BYTES) {
		log_every_note(&a->full, clock_mono_ms());
		pthread_mutex_unlock(&a->qlock);
		return err_set(ERR_BUSY, "audit queue full: the audit log is not keeping up");
	}
	a->qbytes += n;
	pthread_mutex_unlock(&a->qlock);
	if ((it = malloc(sizeof(*it) + AUDITLOG_HEAD_MAX + n)) == NULL) {
		pthread_mutex_lock(&a->qlock);
		a->qbytes -= n;
		pthread_mutex_unlock(&a->qlock);
		return err_set(ERR_ALLOC, "audit record");
	}
	memset(it, 0, sizeof(*it));
	it->kind = ITEM_RECORD;
	it->done = done;
	it->arg = arg;
	it->len = n;
	memcpy(it->line + AUDITLOG_HEAD_MAX, fields, n);
	pthread_mutex_lock(&a->qlock);
	push(a, it);
	pthread_mutex_unlock(&a->qlock);
	return 0;
}

static void *writer_main(void *arg)
{
	struct audit *a = arg;
	struct item *batch, *it;
	int r;

	pthread_mutex_lock(&a->qlock);
	for (;;) {
		uint64_t now = clock_mono_ms();
		if (a->head == NULL) {
			if (a->stop)
				break;
			a->idle = 1;
			wait_until(a, now + AUDIT_TICK_MS);
			a->idle = 0;
			/* Woken by the first record of a batch: it waits for its
			 * batch_due like the rest. A quiet log writes it at once;
			 * under load, one batch per AUDIT_BATCH_MS (writing each
			 * first record at once made a wake-up per record). */
			if (a->head != NULL)
				continue;
		} else if (a->urgent == 0 && !a->stop && now < a->batch_due) {
			wait_until(a, a->batch_due);
			continue;
		}
		now = clock_mono_ms();
		log_every_flush(&a->full, now, AUDIT_LOG_EVERY_MS, LOG_LEVEL_ERROR,
				"audit records lost: the queue to the audit log was full");
		log_every_flush(&a->failed, now, AUDIT_LOG_EVERY_MS, LOG_LEVEL_ERROR,
				"audit records that could not be written");
		if (now >= a->agg_next_ms) {
			pthread_mutex_unlock(&a->qlock);
			flush_refusals(a, 0);
			pthread_mutex_lock(&a->qlock);
		}
		/* The whole queue at once, in order; from here it cannot be cancelled. */
		if ((batch = a->head) == NULL)
			continue;
		a->head = a->tail = NULL;
		a->urgent = 0;
		a->batch_last = now;
		for (it = batch; it != NULL; it = it->next)
			if (it->kind == ITEM_RECORD)
				a->qbytes -= it->len;
		pthread_mutex_unlock(&a->qlock);
		while ((it = batch) != NULL) {
			batch = it->next;
			if (it->kind == ITEM_CHECKPOINT) {
				/* Everything counted so far goes under the signature. */
				flush_refusals(a, 1);
				pthread_mutex_lock(&a->lock);
				r = write_checkpoint(a, it->reason);
				pthread_mutex_unlock(&a->lock);
				pthread_mutex_lock(&a->qlock);
				it->w->rc = r;
				it->w->done = 1;
				pthread_cond_broadcast(&a->wcond);
				pthread_mutex_unlock(&a->qlock);
			} else {
				r = write_fields(a, it->line, it->len);
				if (r != 0) {
					pthread_mutex_lock(&a->qlock);
					log_every_note(&a->failed, clock_mono_ms());
					pthread_mutex_unlock(&a->qlock);
				}
				pthread_mutex_lock(&a->cblock);
				if (it->done != NULL && !a->no_done)
					it->done(it->arg, r);
				pthread_mutex_unlock(&a->cblock);
			}
			free(it);
		}
		pthread_mutex_lock(&a->qlock);
	}
	pthread_mutex_unlock(&a->qlock);
	return NULL;
}

int audit_start(struct audit *a)
{
	int e;

	if (a->threaded)
		return 0;
	if ((e = pthread_create(&a->thread, NULL, writer_main, a)) != 0) {
		errno = e;
		return err_sys("start the audit writer");
	}
	a->threaded = 1;
	return 0;
}

void audit_stop(struct audit *a)
{
	if (!a->threaded)
		return;
	pthread_mutex_lock(&a->qlock);
	a->stop = 1;
	pthread_cond_signal(&a->qcond);
	pthread_mutex_unlock(&a->qlock);
	pthread_join(a->thread, NULL);
	a->threaded = 0;
	a->stop = 0;
}

int audit_cancel(struct audit *a, void *arg)
{
	struct item *it, *prev = NULL;
	int found;

	pthread_mutex_lock(&a->qlock);
	for (it = a->head; it != NULL; prev = it, it = it->next)
		if (it->kind == ITEM_RECORD && it->done != NULL && it->arg == arg)
			break;
	found = it != NULL;
	if (found) {
		a->urgent--;
		if (prev != NULL)
			prev->next = it->next;
		else
			a->head = it->next;
		if (a->tail == it)
			a->tail = prev;
		a->qbytes -= it->len;
	}
	pthread_mutex_unlock(&a->qlock);
	free(it);
	return found;
}

void audit_forget_done(struct audit *a)
{
	/* A completion running now finishes first; none runs after. */
	pthread_mutex_lock(&a->cblock);
	a->no_done = 1;
	pthread_mutex_unlock(&a->cblock);
}

int audit_checkpoint(struct audit *a, const char *reason)
{
	struct waiter w = {0, 0};
	struct item *it;
	int r;

	if (!a->threaded) {
		flush_refusals(a, 1);
		pthread_mutex_lock(&a->lock);
		r = write_checkpoint(a, reason);
		pthread_mutex_unlock(&a->lock);
		return r;
	}
	/* Through the queue, so that it covers every record queued before it. */
	if ((it = calloc(1, sizeof(*it))) == NULL)
		return err_set(ERR_ALLOC, "audit checkpoint");
	it->kind = ITEM_CHECKPOINT;
	it->reason = reason;
	it->w = &w;
	pthread_mutex_lock(&a->qlock);
	push(a, it);
	while (!w.done)
		pthread_cond_wait(&a->wcond, &a->qlock);
	pthread_mutex_unlock(&a->qlock);
	return w.rc;
}

int audit_submit(struct audit *a, const struct audit_event *ev, audit_done_fn done, void *arg)
{
	char line[AUDIT_MAX_LINE];
	int n, r;

	if ((n = audit_format(ev, line + AUDITLOG_HEAD_MAX, sizeof(line) - AUDITLOG_HEAD_MAX)) < 0)
		return n;
	if (!a->threaded) {
		r = write_fields(a, line, (size_t)n);
		return r == 0 ? 1 : r;
	}
	return enqueue(a, line + AUDITLOG_HEAD_MAX, (size_t)n, done, arg);
}

int audit_write(struct audit *a, const struct audit_event *ev)
{
	int r = audit_submit(a, ev, NULL, NULL);

	return r > 0 ? 0 : r;
}

static uint64_t fnv(uint64_t h, const char *p)
{
	for (; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

static int agg_is(const struct agg *g, const char *src, const char *result, const char *reason)
{
	return strcmp(g->peer, src) == 0 && strcmp(g->result, result) == 0 &&
	       strcmp(g->reason, reason) == 0;
}

int audit_refused(struct audit *a, const struct audit_event *ev)
{
	char src[48], result[32], reason[96];
	struct agg *g = NULL;
	uint64_t h;
	size_t probe;
	int first = 0, due;

	peer_source(ev->peer, src, sizeof(src));
	snprintf(result, sizeof(result), "%s", ev->result != NULL ? ev->result : "error");
	snprintf(reason, sizeof(reason), "%s", ev->reason != NULL ? ev->reason : "");
	h = fnv(fnv(fnv(1469598103934665603ULL, src), result), reason);
	pthread_mutex_lock(&a->qlock);
	/* Open addressing over all but the last entry, which counts what does not fit. */
	for (probe = 0; probe < AUDIT_AGG_MAX - 1 && g == NULL; probe++) {
		struct agg *e = &a->agg[(h + probe) % (AUDIT_AGG_MAX - 1)];
		if (!e->used || agg_is(e, src, result, reason))
			g = e;
	}
	if (g == NULL) {
		g = &a->agg[AUDIT_AGG_MAX - 1];
		snprintf(src, sizeof(src), "*");
		snprintf(result, sizeof(result), "refused");
		snprintf(reason, sizeof(reason), "more sources refused than are counted apart");
	}
	if (!g->used) {
		/* The first of its kind in an interval is written as it is. */
		g->used = 1;
		memcpy(g->peer, src, sizeof(g->peer));
		memcpy(g->result, result, sizeof(g->result));
		memcpy(g->reason, reason, sizeof(g->reason));
		first = 1;
	} else if (g->count++ == 0) {
		g->first_ns = ev->time_ns != 0 ? ev->time_ns : clock_real_ns();
	}
	due = !a->threaded && clock_mono_ms() >= a->agg_next_ms;
	pthread_mutex_unlock(&a->qlock);
	if (due)
		flush_refusals(a, 0);
	if (!first)
		return 0;
	if (strcmp(src, "*") == 0) {
		struct audit_event e = *ev;
		e.peer = src;
		e.result = result;
		e.reason = reason;
		return audit_write(a, &e);
	}
	return audit_write(a, ev);
}

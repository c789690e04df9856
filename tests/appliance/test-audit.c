// SPDX-License-Identifier: ISC
/*
 * Unit tests of the audit trail: record formatting, the hash chain written
 * under the trail's lock, its continuation across a reopen, signed
 * checkpoints, and the verifier (provisioning/auditlog.c) on the result.
 */
#include "audit.h"
#include "ipc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auditlog.h"
#include "buf.h"
#include "hsm.h"
#include "pkey.h"
#include "unit.h"

static int sign_soft(void *ctx, const uint8_t *data, size_t len, struct buf *sig)
{
	return hsm_key_sign_data(ctx, data, len, sig);
}

static int failing_sign(void *ctx, const uint8_t *data, size_t len, struct buf *sig)
{
	(void)ctx;
	(void)data;
	(void)len;
	(void)sig;
	return err_set(ERR_HSM, "token gone");
}

static void spit(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CREAT, 0600);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		abort();
	close(fd);
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;

	while ((s = strstr(s, what)) != NULL) {
		n++;
		s += strlen(what);
	}
	return n;
}

struct writer_arg {
	struct audit *a;
	const struct audit_event *ev;
};

static void *writer(void *p)
{
	struct writer_arg *w = p;
	int i;

	for (i = 0; i < 200; i++)
		if (audit_write(w->a, w->ev) != 0)
			abort();
	return NULL;
}

struct drain_arg {
	int fd;
	volatile int stop;
};

/* Read a FIFO until told to stop and nothing is left. */
static void *drain(void *p)
{
	struct drain_arg *d = p;
	char b[65536];

	for (;;) {
		ssize_t n = read(d->fd, b, sizeof(b));
		if (n <= 0) {
			if (d->stop)
				break;
			usleep(1000);
		}
	}
	return NULL;
}

struct done_arg {
	pthread_mutex_t lock;
	int calls, rc;
};

static void on_done(void *p, int rc)
{
	struct done_arg *d = p;

	pthread_mutex_lock(&d->lock);
	d->calls++;
	d->rc = rc;
	pthread_mutex_unlock(&d->lock);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 4 threads write 200 records each into a at once. */
static void write_from_4_threads(struct audit *a, const struct audit_event *ev)
{
	pthread_t th[4];
	struct writer_arg w = {a, ev};
	int i;

	for (i = 0; i < 4; i++)
		if (pthread_create(&th[i], NULL, writer, &w) != 0)
			abort();
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
}

int main(void)
{
	struct audit_event ev;
	struct audit *a = NULL;
	struct auditlog_report rep;
	struct hsm_key *sk = NULL;
	EVP_PKEY *key = NULL, *other = NULL;
	char out[AUDIT_MAX_LINE], path[] = "/tmp/coffer-audit-XXXXXX", fpr[PKEY_FPR_TEXT_LEN + 1];
	static char back[1 << 20];
	const char *names[] = {"db_password", "we\"ird\n"};
	const char *many[200];
	char manybuf[200][101];
	struct sockaddr_in6 s6;
	uint64_t next;
	size_t len, i;
	int n, fd, clean;

	TEST_START("handshake record");
	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_HANDSHAKE;
	ev.time_ns = 1795000000123456789ULL;
	ev.peer = "127.0.0.1:4000";
	ev.have_identity = 1;
	memset(ev.identity, 0xab, sizeof(ev.identity));
	ev.name = "web";
	ev.appliance_key =
	    "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	ev.result = "ok";
	ev.keys = -1;
	n = audit_format(&ev, out, sizeof(out));
	ASSERT_TRUE(n > 0);
	ASSERT_STR_EQ(out, "{\"ts\":\"2026-11-18T11:06:40.123Z\",\"event\":\"handshake\","
	                   "\"peer\":\"127.0.0.1:4000\",\"client\":\"ABAB-ABAB-ABAB-ABAB-ABAB-ABAB-"
	                   "ABAB-ABAB-ABAB-ABAB-ABAB-ABAB-ABAB-ABAB-ABAB-ABAB\",\"name\":\"web\","
	                   "\"appliance_key\":\"sha256:00112233445566778899aabbccddeeff0011223344"
	                   "5566778899aabbccddeeff\",\"result\":\"ok\"}\n");
	TEST_DONE();

	TEST_START("release record: serial, names asked for and released, never values");
	ev.type = AUDIT_RELEASE;
	ev.keys = 2;
	ev.have_serial = 1;
	ev.serial = 42;
	ev.requested = names;
	ev.n_requested = 2;
	ev.released = names;
	ev.n_released = 2;
	n = audit_format(&ev, out, sizeof(out));
	ASSERT_TRUE(n > 0);
	ASSERT_TRUE(strstr(out, "\"serial\":42,\"keys\":2,\"requested\":[\"db_password\","
	                        "\"we\\\"ird\\u000a\"],\"released\":[\"db_password\","
	                        "\"we\\\"ird\\u000a\"]}\n") != NULL);
	ev.requested = NULL;
	ev.n_requested = 0;
	n = audit_format(&ev, out, sizeof(out));
	ASSERT_TRUE(strstr(out, "\"requested\":\"all\",\"released\":[") != NULL);
	ASSERT_INT_EQ(audit_format(&ev, out, 40), ERR_TOO_LARGE);
	TEST_DONE();

	TEST_START("long lists of names are cut, the record stays whole");
	for (i = 0; i < 200; i++) {
		memset(manybuf[i], '\x01', 100); /* escaped to six bytes each */
		manybuf[i][100] = '\0';
		many[i] = manybuf[i];
	}
	ev.requested = many;
	ev.n_requested = 200;
	ev.released = many;
	ev.n_released = 200;
	ev.keys = 200;
	n = audit_format(&ev, out, sizeof(out) - AUDITLOG_HEAD_MAX);
	ASSERT_TRUE(n > 0);
	ASSERT_TRUE(strstr(out, ",\"truncated\":true}\n") != NULL);
	ev.requested = names;
	ev.n_requested = 2;
	ev.released = names;
	ev.n_released = 2;
	ev.keys = 2;
	TEST_DONE();

	TEST_START("peer text");
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_port = htons(9187);
	inet_pton(AF_INET6, "::1", &s6.sin6_addr);
	ipc_peer_text((struct sockaddr *)&s6, out, sizeof(out));
	ASSERT_STR_EQ(out, "[::1]:9187");
	TEST_DONE();

	ASSERT_INT_EQ(pkey_generate_p256(&key), 0);
	ASSERT_INT_EQ(pkey_generate_p256(&other), 0);
	ASSERT_INT_EQ(hsm_key_from_pkey(key, &sk), 0);
	ASSERT_INT_EQ(pkey_fingerprint(key, fpr), 0);

	TEST_START("a new file: the chain starts at seq 0 with 64 zeros");
	fd = mkstemp(path);
	ASSERT_TRUE(fd >= 0);
	close(fd);
	ASSERT_INT_EQ(audit_open(path, &a), 0);
	audit_chain_state(a, &next, &clean);
	ASSERT_U64_EQ(next, 0);
	ASSERT_INT_EQ(clean, -1);
	ASSERT_INT_EQ(audit_write(a, &ev), 0);
	ASSERT_INT_EQ(audit_write(a, &ev), 0);
	len = unit_read_file(path, back, sizeof(back));
	{
		const char *want = "{\"seq\":0,\"prev\":\"00000000000000000000000000000000"
		                   "00000000000000000000000000000000\",\"ts\":";
		ASSERT_TRUE(strncmp(back, want, strlen(want)) == 0);
	}
	ASSERT_TRUE(strstr(back, "\n{\"seq\":1,\"prev\":\"") != NULL);
	TEST_DONE();

	TEST_START("a second writer is refused (flock)");
	{
		struct audit *b = NULL;
		ASSERT_INT_EQ(audit_open(path, &b), ERR_BUSY);
		ASSERT_TRUE(b == NULL);
	}
	TEST_DONE();

	TEST_START("checkpoints: every N records, signed, on demand; the log verifies");
	ASSERT_INT_EQ(audit_checkpoint(a, "start"), ERR_INVALID_ARG); /* no signer yet */
	ASSERT_INT_EQ(audit_set_signer(a, sign_soft, sk, fpr, 3), 0);
	ASSERT_INT_EQ(audit_checkpoint(a, "start"), 0);
	for (i = 0; i < 7; i++)
		ASSERT_INT_EQ(audit_write(a, &ev), 0);
	ASSERT_INT_EQ(audit_checkpoint(a, "shutdown"), 0);
	audit_close(a);
	a = NULL;
	len = unit_read_file(path, back, sizeof(back));
	/* 2 + start + 7 (+ 2 interval after the 3rd and 6th) + shutdown */
	ASSERT_SIZE_EQ(count(back, "\n"), 13);
	ASSERT_SIZE_EQ(count(back, "\"reason\":\"interval\""), 2);
	ASSERT_INT_EQ(auditlog_check((const uint8_t *)back, len, &key, 1, &rep), 0);
	ASSERT_SIZE_EQ(rep.lines, 13);
	ASSERT_SIZE_EQ(rep.checkpoints, 4);
	ASSERT_SIZE_EQ(rep.last_checkpoint, 13);
	ASSERT_STR_EQ(rep.last_reason, "shutdown");
	ASSERT_SIZE_EQ(rep.tail, 0);
	ASSERT_INT_EQ(auditlog_verify(path, &key, 1, &rep), 0);
	ASSERT_SIZE_EQ(rep.lines, 13);
	/* Another key: the first checkpoint is named. */
	ASSERT_INT_EQ(auditlog_check((const uint8_t *)back, len, &other, 1, &rep), ERR_AUTH);
	ASSERT_SIZE_EQ(rep.bad_line, 3);
	TEST_DONE();

	TEST_START("a reopen continues the chain from the last record");
	ASSERT_INT_EQ(audit_open(path, &a), 0);
	audit_chain_state(a, &next, &clean);
	ASSERT_U64_EQ(next, 13);
	ASSERT_INT_EQ(clean, 1);
	ASSERT_INT_EQ(audit_set_signer(a, sign_soft, sk, fpr, 1000), 0);
	ASSERT_INT_EQ(audit_checkpoint(a, "start"), 0);
	ASSERT_INT_EQ(audit_write(a, &ev), 0);
	audit_close(a);
	a = NULL;
	len = unit_read_file(path, back, sizeof(back));
	ASSERT_INT_EQ(auditlog_check((const uint8_t *)back, len, &key, 1, &rep), 0);
	ASSERT_SIZE_EQ(rep.lines, 15);
	ASSERT_SIZE_EQ(rep.tail, 1);
	ASSERT_INT_EQ(audit_open(path, &a), 0);
	audit_chain_state(a, &next, &clean);
	ASSERT_U64_EQ(next, 15);
	ASSERT_INT_EQ(clean, 0); /* the last run did not stop with a checkpoint */
	audit_close(a);
	a = NULL;
	TEST_DONE();

	TEST_START("tampering is named by line");
	{
		static char t[1 << 20];
		char *l3 = back, *l4, *l5;
		size_t k;
		for (k = 0; k < 2; k++)
			l3 = strchr(l3, '\n') + 1;
		l4 = strchr(l3, '\n') + 1;
		l5 = strchr(l4, '\n') + 1;
		/* one record removed (line 4) */
		memcpy(t, back, (size_t)(l4 - back));
		memcpy(t + (l4 - back), l5, len - (size_t)(l5 - back));
		ASSERT_INT_EQ(auditlog_check((uint8_t *)t, len - (size_t)(l5 - l4), &key, 1, &rep),
		              ERR_AUTH);
		ASSERT_SIZE_EQ(rep.bad_line, 4);
		/* one record edited (line 2: a name): the next line's prev no longer matches */
		memcpy(t, back, len);
		*strstr(t, "we\\\"ird") = 'W';
		ASSERT_INT_EQ(auditlog_check((uint8_t *)t, len, &key, 1, &rep), ERR_AUTH);
		ASSERT_SIZE_EQ(rep.bad_line, 2);
		ASSERT_TRUE(strstr(err_detail(), "line 1 was changed") != NULL);
		/* cut mid-record */
		ASSERT_INT_EQ(auditlog_check((uint8_t *)back, len - 5, &key, 1, &rep), ERR_FORMAT);
		ASSERT_SIZE_EQ(rep.bad_line, 15);
		/* a checkpoint altered (its interval), its chain fields intact */
		memcpy(t, back, len);
		memcpy(strstr(t, "\"every\":3"), "\"every\":4", 9);
		ASSERT_INT_EQ(auditlog_check((uint8_t *)t, len, &key, 1, &rep), ERR_AUTH);
		ASSERT_SIZE_EQ(rep.bad_line, 3);
	}
	TEST_DONE();

	TEST_START("a chained record appended after the shutdown checkpoint is refused");
	{
		uint8_t prev[SHA256_LEN];
		char head[AUDITLOG_HEAD_MAX], *last;
		size_t cut;
		/* The log up to the shutdown checkpoint (line 13), then a forged record. */
		last = back;
		for (i = 0; i < 13; i++)
			last = strchr(last, '\n') + 1;
		cut = (size_t)(last - back);
		for (last = back + cut - 1; last > back && last[-1] != '\n'; last--)
			;
		ASSERT_INT_EQ(pkey_sha256(last, (size_t)(back + cut - last), prev), 0);
		auditlog_head(13, prev, head);
		snprintf(back + cut, sizeof(back) - cut,
		         "%s\"ts\":\"2026-11-18T11:06:40.123Z\",\"event\":\"release\"}\n", head);
		ASSERT_INT_EQ(auditlog_check((uint8_t *)back, strlen(back), &key, 1, &rep),
		              ERR_AUTH);
		ASSERT_SIZE_EQ(rep.bad_line, 14);
		ASSERT_TRUE(strstr(err_detail(), "after the shutdown checkpoint of line 13") !=
		            NULL);
	}
	TEST_DONE();

	TEST_START("a failing signer: the record is written, the checkpoint retried");
	unlink(path);
	ASSERT_INT_EQ(audit_open(path, &a), 0);
	ASSERT_INT_EQ(audit_set_signer(a, failing_sign, NULL, fpr, 1), 0);
	ASSERT_INT_EQ(audit_write(a, &ev), 0);
	ASSERT_INT_EQ(audit_checkpoint(a, "shutdown"), ERR_HSM);
	ASSERT_INT_EQ(audit_set_signer(a, sign_soft, sk, fpr, 1), 0);
	ASSERT_INT_EQ(audit_write(a, &ev), 0); /* and now the checkpoint follows */
	audit_close(a);
	a = NULL;
	len = unit_read_file(path, back, sizeof(back));
	ASSERT_SIZE_EQ(count(back, "\n"), 3);
	ASSERT_INT_EQ(auditlog_check((const uint8_t *)back, len, &key, 1, &rep), 0);
	TEST_DONE();

	TEST_START("many threads: one chain, in order");
	{
		unlink(path);
		ASSERT_INT_EQ(audit_open(path, &a), 0);
		ASSERT_INT_EQ(audit_set_signer(a, sign_soft, sk, fpr, 50), 0);
		write_from_4_threads(a, &ev);
		ASSERT_INT_EQ(audit_checkpoint(a, "shutdown"), 0);
		audit_close(a);
		a = NULL;
		ASSERT_INT_EQ(auditlog_verify(path, &key, 1, &rep), 0);
		ASSERT_SIZE_EQ(rep.lines, 800 + 16 + 1);
		ASSERT_SIZE_EQ(rep.checkpoints, 17);
	}
	TEST_DONE();

	TEST_START("the writer thread: many threads queue, one chain in order, checkpoints cover the queue");
	{
		unlink(path);
		ASSERT_INT_EQ(audit_open(path, &a), 0);
		ASSERT_INT_EQ(audit_set_signer(a, sign_soft, sk, fpr, 50), 0);
		ASSERT_INT_EQ(audit_start(a), 0);
		ASSERT_INT_EQ(audit_checkpoint(a, "start"), 0);
		write_from_4_threads(a, &ev);
		/* The shutdown checkpoint waits for the 800 records queued before it. */
		ASSERT_INT_EQ(audit_checkpoint(a, "shutdown"), 0);
		len = unit_read_file(path, back, sizeof(back));
		ASSERT_SIZE_EQ(count(back, "\n"), 1 + 800 + 16 + 1);
		audit_close(a);
		a = NULL;
		ASSERT_INT_EQ(auditlog_verify(path, &key, 1, &rep), 0);
		ASSERT_SIZE_EQ(rep.lines, 1 + 800 + 16 + 1);
		ASSERT_STR_EQ(rep.last_reason, "shutdown");
	}
	TEST_DONE();

	TEST_START("audit_submit: written at once without the thread, a completion with it");
	{
		struct done_arg d;
		memset(&d, 0, sizeof(d));
		pthread_mutex_init(&d.lock, NULL);
		unlink(path);
		ASSERT_INT_EQ(audit_open(path, &a), 0);
		ASSERT_INT_EQ(audit_submit(a, &ev, on_done, &d), 1);
		ASSERT_INT_EQ(d.calls, 0);
		ASSERT_INT_EQ(audit_start(a), 0);
		ASSERT_INT_EQ(audit_submit(a, &ev, on_done, &d), 0);
		audit_stop(a); /* writes what is queued */
		ASSERT_INT_EQ(d.calls, 1);
		ASSERT_INT_EQ(d.rc, 0);
		audit_close(a);
		a = NULL;
		len = unit_read_file(path, back, sizeof(back));
		ASSERT_SIZE_EQ(count(back, "\n"), 2);
		/* A write that fails is the completion's result. */
		ASSERT_INT_EQ(audit_open("/dev/full", &a), 0);
		ASSERT_INT_EQ(audit_submit(a, &ev, on_done, &d), ERR_SYSTEM);
		ASSERT_INT_EQ(audit_start(a), 0);
		ASSERT_INT_EQ(audit_submit(a, &ev, on_done, &d), 0);
		audit_stop(a);
		ASSERT_INT_EQ(d.calls, 2);
		ASSERT_INT_NE(d.rc, 0);
		audit_close(a);
		a = NULL;
		pthread_mutex_destroy(&d.lock);
	}
	TEST_DONE();

	TEST_START("a stalled log: writers never wait, a full queue refuses, completions are forgotten");
	{
		char fifo[64] = "/tmp/coffer-audit-fifo-XXXXXX";
		struct done_arg d;
		double t0, worst = 0;
		int busy = 0, queued = 0, rfd;
		memset(&d, 0, sizeof(d));
		pthread_mutex_init(&d.lock, NULL);
		ASSERT_TRUE(mkdtemp(fifo) != NULL);
		strcat(fifo, "/log");
		ASSERT_INT_EQ(mkfifo(fifo, 0600), 0);
		/* Nobody reads it: once the pipe's 64 KiB are full, write(2) blocks. */
		ASSERT_INT_EQ(audit_open(fifo, &a), 0);
		ASSERT_INT_EQ(audit_start(a), 0);
		for (i = 0; i < 40000 && busy == 0; i++) {
			double t;
			t0 = now_s();
			n = audit_submit(a, &ev, on_done, &d);
			t = now_s() - t0;
			worst = t > worst ? t : worst;
			if (n == ERR_BUSY) {
				busy = 1;
			} else {
				ASSERT_INT_EQ(n, 0);
				queued++;
			}
		}
		ASSERT_INT_EQ(busy, 1);
		ASSERT_TRUE(queued > 1000);
		ASSERT_TRUE(worst < 0.5); /* never blocked on the disk */
		ASSERT_INT_EQ(audit_write(a, &ev), ERR_BUSY);
		/* The owner of the completions goes away: none may come later. */
		audit_forget_done(a);
		pthread_mutex_lock(&d.lock);
		n = d.calls;
		pthread_mutex_unlock(&d.lock);
		/* Unstall: read the pipe until the writer has emptied the queue. */
		ASSERT_TRUE((rfd = open(fifo, O_RDONLY | O_NONBLOCK)) >= 0);
		{
			pthread_t drain_th;
			struct drain_arg da = {rfd, 0};
			ASSERT_INT_EQ(pthread_create(&drain_th, NULL, drain, &da), 0);
			audit_close(a);
			a = NULL;
			da.stop = 1;
			pthread_join(drain_th, NULL);
		}
		close(rfd);
		ASSERT_TRUE(d.calls <= n + 1); /* at most the one running at the time */
		unlink(fifo);
		fifo[strlen(fifo) - 4] = '\0';
		rmdir(fifo);
		pthread_mutex_destroy(&d.lock);
	}
	TEST_DONE();

	TEST_START("refusals: the first of each source and reason written, the rest counted");
	{
		struct audit_event r;
		memset(&r, 0, sizeof(r));
		r.type = AUDIT_HANDSHAKE;
		r.result = "replay";
		r.reason = "Hello with an ephemeral key seen before";
		r.keys = -1;
		unlink(path);
		ASSERT_INT_EQ(audit_open(path, &a), 0);
		for (i = 0; i < 100; i++) {
			r.peer = i % 2 ? "192.0.2.1:40000" : "192.0.2.1:40001";
			ASSERT_INT_EQ(audit_refused(a, &r), 0);
		}
		r.peer = "[2001:db8::1]:5";
		ASSERT_INT_EQ(audit_refused(a, &r), 0);
		r.peer = "192.0.2.1:3";
		r.result = "rate-limited";
		r.reason = "handshake rate per address exceeded";
		ASSERT_INT_EQ(audit_refused(a, &r), 0);
		len = unit_read_file(path, back, sizeof(back));
		ASSERT_SIZE_EQ(count(back, "\n"), 3); /* one per source and reason */
		ASSERT_TRUE(strstr(back, "\"peer\":\"192.0.2.1:40001\"") != NULL);
		audit_close(a); /* the counts become records */
		a = NULL;
		len = unit_read_file(path, back, sizeof(back));
		ASSERT_SIZE_EQ(count(back, "\n"), 4);
		ASSERT_TRUE(strstr(back, "\"peer\":\"192.0.2.1\",\"result\":\"replay\",\"reason\":"
					 "\"Hello with an ephemeral key seen before\",\"count\":99,"
					 "\"first\":\"") != NULL);
		ASSERT_INT_EQ(auditlog_check((const uint8_t *)back, len, &key, 1, &rep), 0);
		/* More sources than the table holds: the rest are counted under "*". */
		unlink(path);
		ASSERT_INT_EQ(audit_open(path, &a), 0);
		for (i = 0; i < 3000; i++) {
			char peer[64];
			snprintf(peer, sizeof(peer), "10.%zu.%zu.1:9", i / 250, i % 250);
			r.peer = peer;
			ASSERT_INT_EQ(audit_refused(a, &r), 0);
		}
		audit_close(a);
		a = NULL;
		len = unit_read_file(path, back, sizeof(back));
		ASSERT_TRUE(count(back, "\n") < 1100);
		ASSERT_TRUE(strstr(back, "\"peer\":\"*\",\"result\":\"refused\"") != NULL);
		ASSERT_INT_EQ(auditlog_check((const uint8_t *)back, len, &key, 1, &rep), 0);
		unlink(path);
	}
	TEST_DONE();

	TEST_START("a file that ends mid-record, or is not chained, is refused at open");
	spit(path, "{\"seq\":0,\"prev\":\"", 17);
	ASSERT_INT_EQ(audit_open(path, &a), ERR_FORMAT);
	ASSERT_TRUE(strstr(err_detail(), "incomplete record") != NULL);
	spit(path, "old\n", 4);
	ASSERT_INT_EQ(audit_open(path, &a), ERR_FORMAT);
	ASSERT_TRUE(strstr(err_detail(), "not part of a hash chain") != NULL);
	ASSERT_TRUE(a == NULL);
	unlink(path);
	ASSERT_INT_EQ(audit_open("/nonexistent-dir/audit.log", &a), ERR_SYSTEM);
	ASSERT_TRUE(a == NULL);
	audit_close(NULL);
	TEST_DONE();

	TEST_START("a device gets a chain of its own");
	ASSERT_INT_EQ(audit_open("/dev/null", &a), 0);
	ASSERT_INT_EQ(audit_write(a, &ev), 0);
	audit_chain_state(a, &next, &clean);
	ASSERT_U64_EQ(next, 1);
	audit_close(a);
	a = NULL;
	TEST_DONE();

	hsm_key_free(sk);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	return unit_finish("appliance/audit");
}

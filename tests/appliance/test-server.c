// SPDX-License-Identifier: ISC
/*
 * The event loop and its limits, driven over real sockets on 127.0.0.1 with
 * an empty state and no token: frames refused before the handshake, the
 * frame cap, a stall mid-frame, the per-address rate limit, the connection
 * cap, many parallel clients through the worker pool, and a clean SIGTERM.
 * Garbage Hellos never reach the token (their ephemeral point is invalid).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "cfg.h"
#include "log.h"
#include "server.h"
#include "pkey.h"
#include "state.h"
#include "token.h"

#include "sock.h"
#include "unit.h"

static int port;
static struct server *srv;
static int run_rc = -100;

static int send_frame(int fd, uint8_t type, size_t len, uint8_t fill)
{
	uint8_t f[3 + 512];

	if (len > 512)
		return -1;
	f[0] = (uint8_t)(len >> 8);
	f[1] = (uint8_t)len;
	f[2] = type;
	memset(f + 3, fill, len);
	return send(fd, f, 3 + len, MSG_NOSIGNAL) == (ssize_t)(3 + len) ? 0 : -1;
}

/* Read one frame; returns its type (or -1 on EOF/error); text gets the body. */
static int recv_frame(int fd, char *text, size_t cap)
{
	uint8_t h[3];
	size_t len, got = 0;

	while (got < 3) {
		ssize_t n = recv(fd, h + got, 3 - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	len = (size_t)h[0] << 8 | h[1];
	if (len >= cap)
		return -1;
	for (got = 0; got < len;) {
		ssize_t n = recv(fd, text + got, len - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	text[len] = '\0';
	return h[2];
}

/* 1 if the server closed the connection (EOF) within the receive timeout. */
static int closed_by_peer(int fd)
{
	char c;

	return recv(fd, &c, 1, 0) == 0;
}

static void *runner(void *arg)
{
	(void)arg;
	run_rc = server_run(srv);
	return NULL;
}

static void *parallel_client(void *arg)
{
	int *ok = arg, fd = sock_dial(port, 5);
	char text[256];

	*ok = 0;
	if (fd < 0)
		return NULL;
	if (send_frame(fd, 0x00, 174, 0) == 0 && recv_frame(fd, text, sizeof(text)) == 0xff &&
	    closed_by_peer(fd))
		*ok = 1;
	close(fd);
	return NULL;
}

int main(void)
{
	struct cfg c;
	struct appl_state *st = NULL;
	struct audit *audit = NULL;
	struct token *tok = NULL;
	EVP_PKEY *key = NULL;
	pthread_t th, cl[64];
	int ok[64], fd, i, n, type;
	char text[2048], listen_text[64], audit_path[] = "/tmp/coffer-audit-srv-XXXXXX";
	struct timespec t0, t1;
	double secs;

	log_init("test-server", LOG_LEVEL_WARN);
	port = sock_free_port();
	cfg_init(&c);
	c.net_path = getenv("APPLIANCE_NET");
	snprintf(listen_text, sizeof(listen_text), "127.0.0.1:%d", port);
	if (cfg_parse_listen(listen_text, &c.listen[0]) != 0)
		abort();
	c.n_listen = 1;
	c.max_frame = 1024;
	c.idle_timeout = 1;
	c.handshake_timeout = 2;
	c.max_connections = 80;
	c.max_per_source = 1000; /* the global cap is tested here; every client is 127.0.0.1 */
	c.rate = 1;
	c.burst = 90;
	c.workers = 2;
	c.grace = 2;
	c.bundle = strdup("/nonexistent");
	c.trust_anchors[c.n_trust_anchors++] =
	    strdup("sha256:0000000000000000000000000000000000000000000000000000000000000000");
	c.state_file = strdup("/nonexistent/state");
	i = mkstemp(audit_path);
	close(i);

	TEST_START("start");
	ASSERT_INT_EQ(state_from_clients(NULL, 0, &st), 0);
	ASSERT_INT_EQ(audit_open(audit_path, &audit), 0);
	ASSERT_INT_EQ(pkey_generate_p256(&key), 0);
	ASSERT_INT_EQ(token_soft(&key, 1, &tok), 0);
	ASSERT_INT_EQ(server_new(&c, tok, audit, st, &srv), 0);
	ASSERT_INT_EQ(server_signals(srv), 0);
	ASSERT_INT_EQ(server_bind(srv), 0);
	ASSERT_INT_EQ(pthread_create(&th, NULL, runner, NULL), 0);
	TEST_DONE();

	TEST_START("a Hello that cannot authenticate gets a plain Error, then EOF");
	fd = sock_dial(port, 5);
	ASSERT_TRUE(fd >= 0);
	ASSERT_INT_EQ(send_frame(fd, 0x00, 174, 0), 0);
	ASSERT_INT_EQ(recv_frame(fd, text, sizeof(text)), 0xff);
	ASSERT_TRUE(closed_by_peer(fd));
	close(fd);
	TEST_DONE();

	TEST_START("frames out of order before the handshake");
	for (i = 0; i < 4; i++) {
		static const uint8_t types[] = {0x02, 0x01, 0x99, 0x42};
		fd = sock_dial(port, 5);
		ASSERT_INT_EQ(send_frame(fd, types[i], 16, 0x41), 0);
		ASSERT_INT_EQ(recv_frame(fd, text, sizeof(text)), 0xff);
		ASSERT_STR_EQ(text, "expected Hello");
		ASSERT_TRUE(closed_by_peer(fd));
		close(fd);
	}
	TEST_DONE();

	TEST_START("oversized frame refused on its header");
	fd = sock_dial(port, 5);
	ASSERT_INT_EQ(send(fd, "\xff\xff\x00", 3, MSG_NOSIGNAL), 3);
	ASSERT_INT_EQ(recv_frame(fd, text, sizeof(text)), 0xff);
	ASSERT_STR_EQ(text, "frame too large");
	close(fd);
	TEST_DONE();

	TEST_START("truncated frame: the peer goes away mid-body, the server carries on");
	fd = sock_dial(port, 5);
	ASSERT_INT_EQ(send(fd, "\x00\x40\x00" "abc", 6, MSG_NOSIGNAL), 6);
	close(fd);
	TEST_DONE();

	TEST_START("a connection that stalls mid-frame is dropped at the idle timeout");
	fd = sock_dial(port, 5);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_INT_EQ(send(fd, "\x00\x40", 2, MSG_NOSIGNAL), 2);
	ASSERT_TRUE(closed_by_peer(fd));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ASSERT_TRUE(secs >= 0.9 && secs < 3.0);
	close(fd);
	TEST_DONE();

	TEST_START("a handshake trickled byte by byte is dropped at the handshake timeout");
	fd = sock_dial(port, 5);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_INT_EQ(send(fd, "\x00\xae\x00", 3, MSG_NOSIGNAL), 3);
	for (i = 0; i < 12; i++) {
		/* A body byte every 0.3 s keeps the idle timer (1 s) from firing. */
		if (send(fd, "", 1, MSG_NOSIGNAL) != 1)
			break;
		usleep(300000);
	}
	ASSERT_TRUE(closed_by_peer(fd));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ASSERT_TRUE(secs >= 1.9 && secs < 4.5);
	close(fd);
	TEST_DONE();

	TEST_START("64 parallel clients all answered");
	for (i = 0; i < 64; i++)
		ASSERT_INT_EQ(pthread_create(&cl[i], NULL, parallel_client, &ok[i]), 0);
	for (i = 0, n = 0; i < 64; i++) {
		pthread_join(cl[i], NULL);
		n += ok[i];
	}
	ASSERT_INT_EQ(n, 64);
	TEST_DONE();

	TEST_START("connection cap: the one over gets an Error");
	{
		int many[80], m;
		for (m = 0; m < 80; m++)
			many[m] = sock_dial(port, 5);
		usleep(200000);
		fd = sock_dial(port, 5);
		ASSERT_TRUE(fd >= 0);
		type = recv_frame(fd, text, sizeof(text));
		ASSERT_INT_EQ(type, 0xff);
		ASSERT_STR_EQ(text, "too many connections");
		close(fd);
		for (m = 0; m < 80; m++)
			if (many[m] >= 0)
				close(many[m]);
		usleep(200000);
	}
	TEST_DONE();

	TEST_START("per-address handshake rate: excess gets \"rate limited\"");
	for (i = 0, n = 0; i < 40 && n == 0; i++) {
		fd = sock_dial(port, 5);
		ASSERT_INT_EQ(send_frame(fd, 0x00, 174, 0), 0);
		type = recv_frame(fd, text, sizeof(text));
		ASSERT_INT_EQ(type, 0xff);
		if (strcmp(text, "rate limited") == 0)
			n = 1;
		close(fd);
	}
	ASSERT_INT_EQ(n, 1);
	TEST_DONE();

	TEST_START("audit records written, one JSON line each");
	{
		char line[AUDIT_MAX_LINE];
		int lines = 0, limited = 0, failed = 0, tries;
		/* The network process refused at once and told the monitor, which
		 * writes the record: give it a moment. */
		for (tries = 0; tries < 40 && limited == 0; tries++) {
			FILE *f = fopen(audit_path, "r");
			ASSERT_TRUE(f != NULL);
			lines = limited = failed = 0;
			while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
				lines++;
				ASSERT_TRUE(line[0] == '{' && strstr(line, "}\n") != NULL);
				if (strstr(line, "\"result\":\"rate-limited\"") != NULL)
					limited++;
				if (strstr(line, "\"reason\":\"handshake failed\"") != NULL)
					failed++;
			}
			if (f != NULL)
				fclose(f);
			if (limited == 0)
				usleep(50000);
		}
		/* The garbage Hellos from 127.0.0.1 (the same one 64 times: replays
		 * to the network process) and the rate-limited ones: the first of
		 * each reason is written, the rest are counted (below). */
		ASSERT_TRUE(lines >= 2);
		ASSERT_INT_EQ(limited, 1);
		ASSERT_INT_EQ(failed, 1);
	}
	TEST_DONE();

	TEST_START("SIGHUP: a reload that fails keeps the server serving");
	ASSERT_INT_EQ(kill(getpid(), SIGHUP), 0); /* bundle /nonexistent: fails */
	usleep(300000);
	fd = sock_dial(port, 5);
	ASSERT_TRUE(fd >= 0);
	ASSERT_INT_EQ(send_frame(fd, 0x02, 16, 0x41), 0);
	ASSERT_INT_EQ(recv_frame(fd, text, sizeof(text)), 0xff);
	ASSERT_STR_EQ(text, "expected Hello");
	close(fd);
	TEST_DONE();

	TEST_START("SIGTERM: stop accepting, finish, return 0");
	fd = sock_dial(port, 5); /* an idle connection is closed at shutdown */
	ASSERT_INT_EQ(kill(getpid(), SIGTERM), 0);
	pthread_join(th, NULL);
	ASSERT_INT_EQ(run_rc, 0);
	ASSERT_TRUE(closed_by_peer(fd));
	close(fd);
	ASSERT_TRUE(sock_dial(port, 5) < 0);
	TEST_DONE();

	server_free(srv);
	token_close(tok);
	EVP_PKEY_free(key);
	state_unref(st);

	TEST_START("audit: the refusals counted since their first record are one record at close");
	audit_close(audit);
	{
		FILE *f = fopen(audit_path, "r");
		char line[AUDIT_MAX_LINE];
		unsigned long count = 0;
		ASSERT_TRUE(f != NULL);
		while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
			const char *p = strstr(line, "\"count\":");
			if (p != NULL) {
				ASSERT_TRUE(strstr(line, "\"peer\":\"127.0.0.1\"") != NULL);
				ASSERT_TRUE(strstr(line, "\"first\":\"") != NULL);
				count += strtoul(p + 8, NULL, 10);
			}
		}
		if (f != NULL)
			fclose(f);
		ASSERT_TRUE(count >= 63); /* the 64 parallel Hellos but the first */
	}
	TEST_DONE();
	cfg_clear(&c);
	unlink(audit_path);
	return unit_finish("appliance/server");
}

// SPDX-License-Identifier: ISC
/*
 * coffer-flood: the attacker of the benchmark's "under attack" row
 * (tests/bench/run.sh; not a meson test, it prints figures and asserts no
 * timing).
 *
 *   coffer-flood --server ADDR:PORT --server-key PEM [--threads N]
 *                [--sources N] [--seconds S]
 *
 * N threads (default 4) send well-formed Hellos, each from a fresh client
 * key no appliance knows (so each costs the appliance its token DHs before
 * it can answer KeyNotFound), one connection per Hello, from the source
 * addresses 127.0.100.1 .. 127.0.100.N (--sources, default 64, in turn).
 * Runs S seconds (default 10), or until stdin reaches EOF, then prints one
 * line: Hellos sent per second, and how they were answered.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "frame.h"
#include "log.h"
#include "noise.h"
#include "pkey.h"
#include "session.h"
#include "sock.h"

#define MAX_THREADS 256

static struct sockaddr_in server;
static uint8_t server_point[P256_POINT_LEN];
static unsigned n_sources = 64;
static atomic_int stop;
static atomic_ulong sent, key_not_found, refused, no_answer, n_setup_failed;
static atomic_uint next_source;

/* One Hello from a fresh key, from the next source address. */
static void one_hello(void)
{
	struct session_client_config cc;
	struct session *s = NULL;
	struct frame_decoder *d = NULL;
	struct buf *out = NULL;
	struct sockaddr_in src;
	struct timeval tv = {5, 0};
	EVP_PKEY *key = NULL;
	uint8_t pub[P256_POINT_LEN], stash[4096];
	size_t have = 0;
	struct frame f;
	unsigned i = atomic_fetch_add(&next_source, 1) % n_sources;
	int fd = -1;

	memset(&cc, 0, sizeof(cc));
	if (pkey_generate_p256(&key) != 0 || pkey_to_point(key, pub) != 0 ||
	    (out = buf_new(0)) == NULL || (d = frame_decoder_new()) == NULL) {
		atomic_fetch_add(&n_setup_failed, 1);
		goto out;
	}
	cc.dh = noise_pkey_dh;
	cc.dh_ctx = key;
	cc.client_pub = pub;
	cc.server_pub = server_point;
	if (session_client_new(&cc, &s) != 0 || session_client_hello(s, out) != 0) {
		atomic_fetch_add(&n_setup_failed, 1);
		goto out;
	}
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl((127u << 24) | (100u << 8) | (1 + i));
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
	    connect(fd, (struct sockaddr *)&server, sizeof(server)) != 0) {
		atomic_fetch_add(&n_setup_failed, 1);
		goto out;
	}
	atomic_fetch_add(&sent, 1);
	if (sock_send_buf(fd, out) != 0 || sock_read_frame(fd, d, stash, &have, &f) != 0)
		atomic_fetch_add(&no_answer, 1);
	else if (f.type == FRAME_KEY_NOT_FOUND)
		atomic_fetch_add(&key_not_found, 1);
	else
		atomic_fetch_add(&refused, 1);
out:
	if (fd >= 0)
		close(fd);
	session_free(s);
	frame_decoder_free(d);
	buf_free(out);
	EVP_PKEY_free(key);
}

static void *flood(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		one_hello();
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
	fprintf(stderr, "usage: coffer-flood --server ADDR:PORT --server-key PEM [--threads N] "
			"[--sources N] [--seconds S]\n");
	return 2;
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_THREADS];
	const char *addr = NULL, *keyfile = NULL;
	unsigned threads = 4, seconds = 10, i;
	EVP_PKEY *spub = NULL;
	char host[64], *colon;
	double t0, t;
	int a;

	log_init("coffer-flood", LOG_LEVEL_ERROR);
	for (a = 1; a + 1 < argc; a += 2) {
		if (strcmp(argv[a], "--server") == 0)
			addr = argv[a + 1];
		else if (strcmp(argv[a], "--server-key") == 0)
			keyfile = argv[a + 1];
		else if (strcmp(argv[a], "--threads") == 0)
			threads = (unsigned)strtoul(argv[a + 1], NULL, 10);
		else if (strcmp(argv[a], "--sources") == 0)
			n_sources = (unsigned)strtoul(argv[a + 1], NULL, 10);
		else if (strcmp(argv[a], "--seconds") == 0)
			seconds = (unsigned)strtoul(argv[a + 1], NULL, 10);
		else
			return usage();
	}
	if (a != argc || addr == NULL || keyfile == NULL || threads < 1 || threads > MAX_THREADS ||
	    n_sources < 1 || n_sources > 254 || seconds < 1 ||
	    snprintf(host, sizeof(host), "%s", addr) >= (int)sizeof(host) ||
	    (colon = strrchr(host, ':')) == NULL)
		return usage();
	*colon = '\0';
	memset(&server, 0, sizeof(server));
	server.sin_family = AF_INET;
	server.sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
	if (inet_pton(AF_INET, host, &server.sin_addr) != 1 || pkey_load_public(keyfile, &spub) != 0 ||
	    pkey_to_point(spub, server_point) != 0) {
		fprintf(stderr, "coffer-flood: bad --server or --server-key: %s\n", err_msg(ERR_FORMAT));
		EVP_PKEY_free(spub);
		return 1;
	}
	EVP_PKEY_free(spub);
	t0 = now_s();
	for (i = 0; i < threads; i++)
		if (pthread_create(&th[i], NULL, flood, NULL) != 0)
			return 1;
	{
		/* Until the time is up or stdin closes (the bench ends the attack so). */
		struct pollfd p = {STDIN_FILENO, POLLIN, 0};
		while (now_s() - t0 < seconds) {
			char c;
			if (poll(&p, 1, 100) > 0 && (p.revents & (POLLIN | POLLHUP)) != 0 &&
			    read(STDIN_FILENO, &c, 1) <= 0)
				break;
		}
	}
	atomic_store(&stop, 1);
	for (i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	t = now_s() - t0;
	printf("%.0f Hellos/s from %u addresses for %.1f s: %lu KeyNotFound (token work done), %lu "
	       "refused (Error), %lu unanswered, %lu not sent\n",
	       (double)atomic_load(&sent) / t, n_sources, t, atomic_load(&key_not_found),
	       atomic_load(&refused), atomic_load(&no_answer), atomic_load(&n_setup_failed));
	return 0;
}

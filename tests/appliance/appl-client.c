// SPDX-License-Identifier: ISC
/*
 * appl-client: a minimal test client on protocol/, for the appliance
 * integration scripts (coffer-get lives in clients/).
 *
 *   appl-client [--bind ADDR] [--ts-offset SEC] [--save-hello FILE]
 *               [--pipeline-bye] HOST PORT SERVER_PUB.pem CLIENT_KEY.pem [NAME...]
 *
 * --bind connects from that local address (127.0.0.x: another source);
 * --ts-offset stamps the Hello SEC seconds ahead of (or, negative, behind)
 * the clock; --save-hello writes the Hello frame as sent (for replays);
 * --pipeline-bye sends a Bye-shaped frame in the same write as the Get,
 * without waiting for the OkGet, and then wants the server to close the
 * connection within 5 s of the last OkGet (exit 5 if it does not): the
 * network process must keep what it read beyond the Get for after the reply.
 *
 * Prints one "key=value" line per secret (strings, integers, booleans; other
 * types as their text) and exits 0; "KEY_NOT_FOUND" and exit 3 when the
 * server does not know the key; "ERROR: reason" and exit 4 when it refused;
 * exit 1 for anything else.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
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
#include "msg.h"
#include "noise.h"
#include "pkey.h"
#include "session.h"
#include "sock.h"

static int dial(const char *host, const char *port, const char *bind_addr)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv = {15, 0};
	int fd = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (bind_addr != NULL) {
			struct sockaddr_in src;
			memset(&src, 0, sizeof(src));
			src.sin_family = AF_INET;
			if (ai->ai_family != AF_INET || inet_pton(AF_INET, bind_addr, &src.sin_addr) != 1 ||
			    bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
				close(fd);
				fd = -1;
				continue;
			}
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int main(int argc, char **argv)
{
	struct session_client_config cc;
	struct session *s = NULL;
	struct frame_decoder *d = NULL;
	struct buf *out = NULL;
	struct msg_shard *sh = NULL;
	struct secret_list list;
	EVP_PKEY *ckey = NULL, *spub = NULL;
	uint8_t cpub[P256_POINT_LEN], sp[P256_POINT_LEN], stash[4096];
	size_t have = 0, i, nnames = 0, lens[64];
	const char *names[64];
	struct frame f;
	const char *bind_addr = NULL, *save_hello = NULL;
	long ts_offset = 0;
	int fd = -1, r, more = 1, rc = 1, pipeline_bye = 0;

	log_init("appl-client", LOG_LEVEL_WARN);
	while (argc > 1 && strncmp(argv[1], "--", 2) == 0) {
		if (strcmp(argv[1], "--pipeline-bye") == 0) {
			pipeline_bye = 1;
			argv++;
			argc--;
			continue;
		}
		if (argc < 3)
			break;
		if (strcmp(argv[1], "--bind") == 0)
			bind_addr = argv[2];
		else if (strcmp(argv[1], "--ts-offset") == 0)
			ts_offset = strtol(argv[2], NULL, 10);
		else if (strcmp(argv[1], "--save-hello") == 0)
			save_hello = argv[2];
		else
			break;
		argv += 2;
		argc -= 2;
	}
	if (argc < 5 || argc - 5 > 64) {
		fprintf(stderr, "usage: appl-client [--bind ADDR] [--ts-offset SEC] [--save-hello FILE] "
				"[--pipeline-bye] HOST PORT SERVER_PUB.pem CLIENT_KEY.pem [NAME...]\n");
		return 2;
	}
	for (i = 5; i < (size_t)argc; i++) {
		names[nnames] = argv[i];
		lens[nnames++] = strlen(argv[i]);
	}
	if ((r = pkey_load_public(argv[3], &spub)) != 0 || (r = pkey_to_point(spub, sp)) != 0 ||
	    (r = pkey_load_private(argv[4], &ckey)) != 0 || (r = pkey_to_point(ckey, cpub)) != 0) {
		fprintf(stderr, "keys: %s\n", err_msg(r));
		goto out;
	}
	memset(&cc, 0, sizeof(cc));
	cc.dh = noise_pkey_dh;
	cc.dh_ctx = ckey;
	cc.client_pub = cpub;
	cc.server_pub = sp;
	if (ts_offset != 0) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		cc.timestamp_ns = (uint64_t)(now.tv_sec + ts_offset) * 1000000000ULL +
				  (uint64_t)now.tv_nsec;
	}
	if ((fd = dial(argv[1], argv[2], bind_addr)) < 0) {
		fprintf(stderr, "connect %s:%s failed\n", argv[1], argv[2]);
		goto out;
	}
	if ((d = frame_decoder_new()) == NULL || (out = buf_new(0)) == NULL ||
	    (sh = msg_shard_new(0, 0)) == NULL || session_client_new(&cc, &s) != 0 ||
	    session_client_hello(s, out) != 0) {
		fprintf(stderr, "handshake: no Hello\n");
		goto out;
	}
	if (save_hello != NULL) {
		FILE *hf = fopen(save_hello, "wb");
		if (hf == NULL || fwrite(buf_ptr(out), 1, buf_len(out), hf) != buf_len(out) ||
		    fclose(hf) != 0) {
			fprintf(stderr, "cannot write %s\n", save_hello);
			goto out;
		}
	}
	if (sock_send_buf(fd, out) != 0 || sock_read_frame(fd, d, stash, &have, &f) != 0) {
		fprintf(stderr, "handshake: no answer\n");
		goto out;
	}
	if ((r = session_client_read_link(s, &f)) != 0) {
		if (r == ERR_NOT_FOUND) {
			printf("KEY_NOT_FOUND\n");
			rc = 3;
		} else {
			printf("ERROR: %s\n", err_detail());
			rc = 4;
		}
		goto out;
	}
	if (session_client_get(s, names, lens, nnames, out) != 0)
		goto out;
	if (pipeline_bye) {
		/* The network process closes on a Bye's header: the body is not read. */
		uint8_t body[FRAME_BYE_LEN] = {0};
		if (frame_encode(out, FRAME_BYE, body, sizeof(body)) != 0)
			goto out;
	}
	if (sock_send_buf(fd, out) != 0)
		goto out;
	while (more) {
		if (sock_read_frame(fd, d, stash, &have, &f) != 0) {
			fprintf(stderr, "OkGet: connection closed\n");
			goto out;
		}
		if ((r = session_client_read_okget(s, &f, sh, &more)) != 0) {
			printf("ERROR: %s\n", err_detail());
			rc = 4;
			goto out;
		}
	}
	if (msg_shard_list(sh, &list) != 0)
		goto out;
	for (i = 0; i < list.n; i++) {
		const struct secret *e = &list.items[i];
		switch (e->type) {
		case SECRET_INTEGER:
			printf("%s=%" PRId64 "\n", e->key, e->v.i);
			break;
		case SECRET_FLOAT:
			printf("%s=%g\n", e->key, e->v.f);
			break;
		case SECRET_BOOL:
			printf("%s=%s\n", e->key, e->v.b ? "true" : "false");
			break;
		default:
			printf("%s=%s\n", e->key, e->v.str.ptr);
			break;
		}
	}
	if (pipeline_bye) {
		struct timeval tv = {.tv_sec = 5};
		uint8_t b;
		ssize_t got;

		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
			goto out;
		while ((got = recv(fd, &b, 1, 0)) < 0 && errno == EINTR)
			;
		if (got != 0) {
			fprintf(stderr, "pipelined Bye: the connection is still open (%s)\n",
				got < 0 ? strerror(errno) : "more bytes");
			rc = 5;
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (session_client_bye(s, out) == 0)
		(void)sock_send_buf(fd, out);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	session_free(s);
	frame_decoder_free(d);
	buf_free(out);
	msg_shard_free(sh);
	EVP_PKEY_free(ckey);
	EVP_PKEY_free(spub);
	return rc;
}

// SPDX-License-Identifier: ISC
/*
 * A minimal Coffer server for the clients' integration tests: protocol/'s
 * server session over a software key, one fixed shard holding every value
 * type, one registered client. It lets the coffer-get tests check exact
 * output, fail-over, pinned-key and unknown-client handling without the
 * appliance's bundle machinery (tests/e2e covers the real appliance).
 *
 *   fake-appliance PORTFILE SERVER_KEY.pem CLIENT_IDENTITY [MODE]
 *
 * Binds 127.0.0.1 (or FAKE_LISTEN=::1) on a free port, writes the port to PORTFILE, and serves
 * connections one at a time until killed. MODE:
 *   ok       (default) serve the shard
 *   chunked  serve it in many small OkGet frames
 *   error    answer Get with a sealed Error "maintenance: try later"
 *   silent   accept and never answer
 *   evil     serve a shard that also sets LD_PRELOAD and PATH (a compromised
 *            appliance choosing the client's environment)
 *   liar     with named secrets, also answer one that was not asked for
 *   replay   refuse the first Hello as "replayed Hello" (another fetch with
 *            the same key got in first), then serve as ok
 * A Hello that does not open with our key gets a plain Error "handshake
 * failed"; an unregistered client gets KeyNotFound.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "encoding.h"
#include "frame.h"
#include "log.h"
#include "msg.h"
#include "net.h"
#include "noise.h"
#include "pkey.h"
#include "session.h"

#include "shard.h"

#define IO_MS 10000

static int send_out(int fd, struct buf *out)
{
	int r = net_write_all(fd, buf_ptr(out), buf_len(out), net_now_ms() + IO_MS);

	buf_reset(out);
	return r;
}

static int read_one(int fd, struct buf *body, struct frame *f)
{
	int r;

	if ((r = net_read_frame(fd, &f->type, body, net_now_ms() + IO_MS)) != 0)
		return r;
	f->body = buf_ptr(body);
	f->len = buf_len(body);
	return 0;
}

/* Is this point the registered client's key? */
static int is_client(const uint8_t pt[static P256_POINT_LEN],
                     const uint8_t want[static IDENTITY_LEN])
{
	uint8_t id[IDENTITY_LEN];
	EVP_PKEY *k = NULL;
	int ok = pkey_from_point(pt, P256_POINT_LEN, &k) == 0 && pkey_identity(k, id) == 0 &&
	         memcmp(id, want, IDENTITY_LEN) == 0;

	EVP_PKEY_free(k);
	return ok;
}

static const struct secret evil_shard[] = {
	SHARD_S("DB_PASSWORD", "s3cr3t"),
	SHARD_S("LD_PRELOAD", "/tmp/coffer-evil.so"),
	SHARD_S("PATH", "/tmp/coffer-evil"),
};

static int served_hellos;

static void serve(int fd, EVP_PKEY *priv, const uint8_t *server_pub, const uint8_t *client_id,
                  const char *mode)
{
	struct session_server_config sc = {
	    .dh = noise_pkey_dh, .dh_ctx = priv, .server_pub = server_pub};
	struct session *s = NULL;
	struct buf *out = buf_new(0), *body = buf_new(0);
	struct msg_names *names = NULL;
	struct secret sel[NSHARD + 1];
	struct secret_list list = {.items = shard, .n = NSHARD};
	struct msg_chunker ch;
	struct frame f;
	uint8_t cpub[P256_POINT_LEN];
	uint64_t ts;
	size_t i, j, n = 0;
	int r, more = 1;

	if (strcmp(mode, "silent") == 0) {
		sleep(30);
		goto out;
	}
	if (out == NULL || body == NULL || session_server_new(&sc, &s) != 0 ||
	    read_one(fd, body, &f) != 0)
		goto out;
	if ((r = session_server_hello_begin(s, &f, cpub)) != 0 ||
	    (r = session_server_hello_finish(s, NULL, &ts)) != 0) {
		static const char why[] = "handshake failed";
		if (net_write_frame(fd, FRAME_ERROR, (const uint8_t *)why, sizeof(why) - 1,
		                    net_now_ms() + IO_MS) != 0)
			log_debug("send Error: %s", err_detail());
		goto out;
	}
	if (strcmp(mode, "replay") == 0 && served_hellos++ == 0) {
		/* What the appliance answers when another Hello of this key was newer. */
		if (session_server_error(s, "replayed Hello", out) == 0)
			(void)send_out(fd, out);
		goto out;
	}
	if (!is_client(cpub, client_id)) {
		if (session_server_key_not_found(s, out) == 0)
			(void)send_out(fd, out);
		goto out;
	}
	if (session_server_link(s, out) != 0 || send_out(fd, out) != 0 ||
	    read_one(fd, body, &f) != 0 || session_server_read_get(s, &f, &names) != 0)
		goto out;
	if (strcmp(mode, "error") == 0) {
		if (session_server_error(s, "maintenance: try later", out) == 0)
			(void)send_out(fd, out);
		goto out;
	}
	if (!names->all) {
		/* Every name must exist; the answer keeps shard order. */
		for (i = 0; i < names->n; i++) {
			for (j = 0; j < NSHARD; j++)
				if (shard[j].key_len == names->lens[i] &&
				    memcmp(shard[j].key, names->names[i], names->lens[i]) == 0)
					break;
			if (j == NSHARD) {
				if (session_server_error(s, "secret not found", out) == 0)
					(void)send_out(fd, out);
				goto out;
			}
		}
		for (j = 0; j < NSHARD; j++)
			for (i = 0; i < names->n; i++)
				if (shard[j].key_len == names->lens[i] &&
				    memcmp(shard[j].key, names->names[i], names->lens[i]) == 0) {
					sel[n++] = shard[j];
					break;
				}
		if (strcmp(mode, "liar") == 0) {
			/* One more than asked: the first secret not named. */
			for (j = 0; j < NSHARD; j++) {
				for (i = 0; i < names->n; i++)
					if (shard[j].key_len == names->lens[i] &&
					    memcmp(shard[j].key, names->names[i], names->lens[i]) == 0)
						break;
				if (i == names->n) {
					sel[n++] = shard[j];
					break;
				}
			}
		}
		list.items = sel;
		list.n = n;
	} else if (strcmp(mode, "evil") == 0) {
		list.items = evil_shard;
		list.n = sizeof(evil_shard) / sizeof(evil_shard[0]);
	}
	msg_chunker_init(&ch, &list, strcmp(mode, "chunked") == 0 ? 80 : 0);
	while (more) {
		if (session_server_okget(s, &ch, out, &more) != 0 || send_out(fd, out) != 0)
			goto out;
	}
	if (read_one(fd, body, &f) == 0 && session_server_read_bye(s, &f) != 0)
		log_warn("bad Bye: %s", err_detail());
out:
	msg_names_free(names);
	session_free(s);
	buf_free(out);
	buf_free(body);
}

int main(int argc, char **argv)
{
	EVP_PKEY *priv = NULL;
	uint8_t server_pub[P256_POINT_LEN], client_id[IDENTITY_LEN];
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	const char *listen_on = getenv("FAKE_LISTEN");
	int v6 = listen_on != NULL && strcmp(listen_on, "::1") == 0;
	unsigned port;
	const char *mode = argc > 4 ? argv[4] : "ok";
	FILE *pf;
	int lfd, fd, one = 1;

	log_init("fake-appliance", LOG_LEVEL_WARN);
	if (argc < 4) {
		fprintf(stderr,
		        "usage: fake-appliance PORTFILE SERVER_KEY.pem CLIENT_IDENTITY [MODE]\n");
		return 2;
	}
	if (pkey_load_private(argv[2], &priv) != 0 || pkey_to_point(priv, server_pub) != 0 ||
	    identity_parse(argv[3], client_id) != 0) {
		fprintf(stderr, "fake-appliance: %s\n", err_msg(ERR_FORMAT));
		return 1;
	}
	memset(&ss, 0, sizeof(ss));
	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sl = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*sin);
	}
	lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(lfd, (struct sockaddr *)&ss, sl) != 0 || listen(lfd, 16) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&ss, &sl) != 0) {
		perror("fake-appliance: listen");
		return 1;
	}
	port = ntohs(v6 ? sin6->sin6_port : sin->sin_port);
	if ((pf = fopen(argv[1], "w")) == NULL || fprintf(pf, "%u\n", port) < 0 ||
	    fclose(pf) != 0) {
		perror("fake-appliance: port file");
		return 1;
	}
	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) < 0)
			continue;
		serve(fd, priv, server_pub, client_id, mode);
		close(fd);
	}
}

// SPDX-License-Identifier: ISC
/*
 * Fuzz one appliance connection end to end as the two processes run it,
 * driven by the scripted client of tests/fuzz/script.h over a real loopback
 * TCP connection:
 *   - the network process's code (net.c, included here): accept, the header
 *     judged before any body byte is kept (type, turn, length, limits), the
 *     frame forwarded over IPC, the monitor's replies written back and what
 *     went out tracked;
 *   - the monitor's (server.c, through server_ipc_input and
 *     server_ipc_output, without a worker pool): the IPC input checked as
 *     untrusted, the connection table, the handler (Noise IK
 *     responder with the key behind the token interface, a two-client state
 *     with one cached ss, the replay table, Get by names, chunked OkGets,
 *     Bye, audit records).
 * Only the waiting of the two event loops is replaced: the harness moves
 * the bytes between them in turns, and checks that neither side ever sends
 * the other something it must refuse. The script's knob sends the audit
 * records to /dev/full, where every write fails (the audit trail's
 * descriptor is pointed there with dup2).
 */
#include "../../appliance/net.c"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>

#include "audit.h"
#include "cfg.h"
#include "handler.h"
#include "server.h"
#include "state.h"
#include "token.h"

#include "script.h"

struct rig {
	struct cfg cfg;
	struct ipc_config ic;
	int listen_fd;
	struct sockaddr_in addr;
	int ipc[2]; /* the network process's IPC descriptor (its traffic goes by the harness) */
	struct token *tok;
	struct appl_state *st;
	struct audit *audit;
	int audit_fd, dev_null, dev_full;
	/* per input */
	struct net *n;
	struct server *s;
	int client; /* our end of the connection, or -1 */
	struct buf *msgs; /* IPC messages on their way from the monitor */
};

/* Two registered clients (key 0 with its ss cached), the key in a software token. */
static void setup(struct rig *g)
{
	static uint8_t ss0[P256_DH_LEN];
	const struct script_keys *k = script_keys();
	struct state_client cl[2];
	socklen_t alen = sizeof(g->addr);
	int i;

	log_set_level(LOG_LEVEL_ERROR);
	signal(SIGPIPE, SIG_IGN);
	cfg_init(&g->cfg);
	g->cfg.audit_required = 1;
	g->ic.version = IPC_VERSION;
	g->ic.max_connections = g->cfg.max_connections;
	g->ic.max_frame = g->cfg.max_frame;
	g->ic.handshake_timeout = g->cfg.handshake_timeout;
	g->ic.idle_timeout = g->cfg.idle_timeout;
	g->ic.max_handshakes = g->cfg.max_handshakes;
	g->ic.rate = g->cfg.rate;
	g->ic.burst = g->cfg.burst;
	g->ic.grace = g->cfg.grace;
	g->ic.n_listen = 1;
	g->addr.sin_family = AF_INET;
	g->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	FUZZ_ASSERT((g->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
					   0)) >= 0 &&
		    bind(g->listen_fd, (struct sockaddr *)&g->addr, sizeof(g->addr)) == 0 &&
		    listen(g->listen_fd, 16) == 0 &&
		    getsockname(g->listen_fd, (struct sockaddr *)&g->addr, &alen) == 0);
	memset(cl, 0, sizeof(cl));
	FUZZ_ASSERT(token_soft(&k->server.owned, 1, &g->tok) == 0);
	for (i = 0; i < 2; i++) {
		FUZZ_ASSERT(pkey_identity_from_point(k->client[i].pub, cl[i].id) == 0);
		cl[i].name = i == 0 ? "zero" : "one";
		cl[i].shard = k->shard[i];
	}
	cl[0].have_point = 1;
	memcpy(cl[0].point, k->client[0].pub, P256_POINT_LEN);
	FUZZ_ASSERT(token_dh(g->tok, 0, cl[0].point, ss0) == 0);
	FUZZ_ASSERT(state_from_clients(cl, 2, &g->st) == 0);
	/* Client zero's ss cached at load (--cache-ss); client one's by its first Hello. */
	FUZZ_ASSERT(state_ss_prepare(g->st, 1) == 0);
	state_ss_put(g->st, state_find(g->st, cl[0].id), 0, ss0);
	/* The audit trail's descriptor is the lowest free one when it opens. */
	FUZZ_ASSERT((g->dev_null = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0 &&
		    (g->dev_full = open("/dev/full", O_WRONLY | O_CLOEXEC)) >= 0 &&
		    (g->audit_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0 &&
		    close(g->audit_fd) == 0 && audit_open("/dev/null", &g->audit) == 0 &&
		    fcntl(g->audit_fd, F_GETFD) >= 0);
	FUZZ_ASSERT((g->msgs = buf_new(0)) != NULL &&
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g->ipc) == 0);
	g->client = -1;
}

/* Move messages both ways and the client's bytes in, until nothing moves. */
static void pump(struct rig *g)
{
	struct ipc_msg m;
	int moved;

	do {
		struct nconn *c = g->n->conns;
		moved = 0;
		if (c != NULL && c->fd >= 0 && !c->waiting && (c->out == NULL || buf_len(c->out) == 0)) {
			size_t before = buf_len(g->n->ipc_out);
			conn_readable(g->n, c);
			moved |= buf_len(g->n->ipc_out) != before;
		}
		bury(g->n);
		closed_flush(g->n, 1); /* the CLOSED held back, at once */
		if (buf_len(g->n->ipc_out) > 0) {
			/* What the network process says, the monitor must take. */
			FUZZ_ASSERT(server_ipc_input(g->s, buf_ptr(g->n->ipc_out),
						     buf_len(g->n->ipc_out)) == 0);
			buf_reset(g->n->ipc_out);
			moved = 1;
		}
		FUZZ_ASSERT(buf_put(g->msgs, buf_ptr(server_ipc_output(g->s)),
				    buf_len(server_ipc_output(g->s))) == 0);
		buf_reset(server_ipc_output(g->s));
		while (ipc_get(g->msgs, &m) == 0) {
			/* ... and the other way round. */
			FUZZ_ASSERT(on_ipc_message(g->n, &m) == 0);
			moved = 1;
		}
		FUZZ_ASSERT(buf_len(g->msgs) == 0);
		buf_reset(g->msgs);
		bury(g->n);
	} while (moved);
}

static void rig_connect(void *ctx)
{
	struct rig *g = ctx;
	int one = 1;

	if (g->client >= 0) {
		close(g->client);
		g->client = -1;
		pump(g); /* the network process sees the end, the monitor hears CLOSED */
	}
	FUZZ_ASSERT((g->client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
		    setsockopt(g->client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0 &&
		    connect(g->client, (struct sockaddr *)&g->addr, sizeof(g->addr)) == 0 &&
		    fcntl(g->client, F_SETFL, O_NONBLOCK) == 0);
	accept_all(g->n, &g->n->listeners[0]);
	/* Without Nagle on either side every write reaches the other end at
	 * once over loopback: the run does not depend on timing. */
	FUZZ_ASSERT(g->n->conns != NULL &&
		    setsockopt(g->n->conns->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0);
}

static int rig_feed(void *ctx, const uint8_t *p, size_t len, struct buf *out)
{
	struct rig *g = ctx;
	uint8_t *q;
	ssize_t got;

	if (len > 0 && send(g->client, p, len, MSG_NOSIGNAL) != (ssize_t)len)
		return 1; /* the network process closed it: a reset */
	pump(g);
	for (;;) {
		FUZZ_ASSERT(buf_reserve(out, 4096, &q) == 0);
		got = recv(g->client, q, 4096, 0);
		FUZZ_ASSERT(buf_consume_end(out, 4096 - (got > 0 ? (size_t)got : 0)) == 0);
		if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			return 1;
		if (got < 0)
			return 0;
	}
}

static void rig_knob(void *ctx, uint8_t v)
{
	struct rig *g = ctx;

	FUZZ_ASSERT(dup2((v & 1) ? g->dev_full : g->dev_null, g->audit_fd) == g->audit_fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rig g;
	struct script_server srv = {rig_connect, rig_feed, rig_knob, &g};
	int fd;

	if (g.st == NULL)
		setup(&g);
	FUZZ_ASSERT((fd = dup(g.listen_fd)) >= 0 && net_new(&g.ic, g.ipc[0], &fd, 1, &g.n) == 0 &&
		    server_new(&g.cfg, g.tok, g.audit, g.st, &g.s) == 0 &&
		    dup2(g.dev_null, g.audit_fd) == g.audit_fd);
	ipc_send(g.n, IPC_READY, 0);
	script_run(data, size, &srv);
	if (g.client >= 0)
		close(g.client);
	g.client = -1;
	pump(&g);
	server_free(g.s);
	net_destroy(g.n);
	g.s = NULL;
	g.n = NULL;
	return 0;
}

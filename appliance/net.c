// SPDX-License-Identifier: ISC
#include "net.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "buf.h"
#include "clock.h"
#include "frame.h"
#include "ipc.h"
#include "log.h"
#include "admit.h"
#include "secmem.h"

#define NET_TICK_MS 100
#define NET_CLOSED_DELAY_MS 10 /* a CLOSED waits at most this long for company */
#define NET_MAX_EVENTS 64
#define NET_IPC_READ (64 * 1024)
#define NET_LOG_EVERY_MS 10000 /* a repeated condition: one log line per 10 s */
#define NET_FD_RESERVE 32      /* descriptors kept for everything but connections */

enum ev_kind {
	EV_LISTEN = 1,
	EV_SIGNAL,
	EV_IPC,
	EV_CONN,
};

struct ev_tag {
	enum ev_kind kind;
};

struct listener {
	struct ev_tag tag;
	int fd;
	char text[64];
};

struct nconn {
	struct ev_tag tag;
	struct ipc_link link; /* id: the monitor's name for it */
	int fd;
	struct sockaddr_storage peer;
	char peer_text[64];
	struct nconn *prev, *next;
	/* reading one frame: the header is judged before the body is kept */
	uint8_t hdr[WIRE_HEADER_LEN];
	size_t hdr_have;
	uint8_t *body;
	size_t body_len, body_have;
	/* writing */
	struct buf *out;
	int close_after_write;
	/* the conversation as seen from here */
	int counted; /* counted per source by admit_conn_open */
	int opened;  /* the monitor knows it (OPEN sent) */
	int waiting; /* a frame is with the monitor: read nothing until its reply is whole */
	int hello;   /* ... and that frame is a Hello (counts against max-handshakes) */
	int linked;  /* a Link went out */
	int rd_pending; /* bytes may wait in the socket (edge-triggered: read them later) */
	uint8_t *stash; /* bytes read after a frame that went to the monitor */
	size_t stash_len;
	uint64_t started_ms, progress_ms, linked_ms;
};

struct net {
	struct ipc_config cfg;
	int ipc_fd, epfd, sigfd;
	struct ev_tag sig_tag, ipc_tag;
	int ipc_watch_out;
	struct buf *ipc_in, *ipc_out;
	/* CLOSED messages held back (IPC_CLOSED_BATCH): a closed connection
	 * need not wake the monitor by itself */
	struct buf *closed_out;
	unsigned n_closed;
	uint64_t closed_since_ms;
	struct listener listeners[IPC_MAX_LISTEN];
	size_t n_listeners;
	struct admit *lim;
	struct ipc_map map;
	struct nconn *conns;
	struct nconn *graveyard;
	size_t n_conns;
	unsigned n_unauth;   /* connections without a Link yet */
	unsigned hs_waiting;
	int accept_paused;   /* out of descriptors: listeners unwatched */
	struct log_every no_fds, refused_limit, refused_source, refused_startups, refused_budget,
		refused_replay;
	uint64_t next_id;
	int stopping;
	int test_flood; /* test builds: SIGUSR1 made it a network process that stops reading */
	uint64_t stop_deadline;
	unsigned long long n_accepted, n_refused, n_rate_limited;
	uint8_t rbuf[WIRE_MAX_FRAME + WIRE_HEADER_LEN]; /* what one recv brings (conn_want) */
};

static size_t smin(size_t a, size_t b)
{
	return a < b ? a : b;
}

static struct nconn *conn_of(struct ipc_link *l)
{
	return l == NULL ? NULL : (struct nconn *)((char *)l - offsetof(struct nconn, link));
}

/* ---- IPC ---- */

static int ipc_watch(struct net *n, int want_out)
{
	struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = &n->ipc_tag};

	if (n->ipc_watch_out == want_out)
		return 0;
	n->ipc_watch_out = want_out;
	return epoll_ctl(n->epfd, EPOLL_CTL_MOD, n->ipc_fd, &ev) == 0 ? 0 : err_sys("epoll_ctl IPC");
}

/* Send what is queued for the monitor; 0 (maybe with some left), or ERR_IO. */
static int ipc_flush(struct net *n)
{
	while (buf_len(n->ipc_out) > 0) {
		ssize_t w = send(n->ipc_fd, buf_ptr(n->ipc_out), buf_len(n->ipc_out), MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return ipc_watch(n, 1);
			return err_sys("IPC write");
		}
		if (buf_consume(n->ipc_out, (size_t)w) != 0)
			return ERR_INTERNAL;
	}
	return ipc_watch(n, 0);
}

/* Queue a message with an empty body (written at the end of the loop turn). */
static void ipc_send(struct net *n, uint8_t type, uint64_t conn)
{
	int r;

	if ((r = ipc_put(n->ipc_out, type, 0, conn, NULL, 0)) != 0)
		fatal_fr(r, "IPC %s", ipc_type_name(type));
}

/* Hold a CLOSED back until closed_flush sends it. */
static void closed_send(struct net *n, uint64_t conn)
{
	int r;

	if ((r = ipc_put(n->closed_out, IPC_CLOSED, 0, conn, NULL, 0)) != 0)
		fatal_fr(r, "%s", "IPC CLOSED");
	if (n->n_closed++ == 0)
		n->closed_since_ms = clock_mono_ms();
}

/*
 * The CLOSED messages held back go out with whatever else the monitor gets
 * this turn, or on their own once IPC_CLOSED_BATCH wait, the oldest has
 * waited NET_CLOSED_DELAY_MS, the process stops, or `force`.
 */
static void closed_flush(struct net *n, int force)
{
	int r;

	if (n->n_closed == 0 ||
	    (!force && buf_len(n->ipc_out) == 0 && n->n_closed < IPC_CLOSED_BATCH && !n->stopping &&
	     clock_mono_ms() - n->closed_since_ms < NET_CLOSED_DELAY_MS))
		return;
	if ((r = buf_put(n->ipc_out, buf_ptr(n->closed_out), buf_len(n->closed_out))) != 0)
		fatal_fr(r, "%s", "IPC CLOSED");
	buf_reset(n->closed_out);
	n->n_closed = 0;
}

/* Tell the monitor about a refusal it cannot see (for the audit trail). */
static void ipc_refused(struct net *n, const struct sockaddr *peer, enum ipc_refusal why)
{
	int r;

	if ((r = ipc_put_hdr(n->ipc_out, IPC_REFUSED, 0, 0, 1 + IPC_PEER_LEN)) != 0 ||
	    (r = buf_put_u8(n->ipc_out, (uint8_t)why)) != 0 ||
	    (r = ipc_peer_put(n->ipc_out, peer)) != 0)
		fatal_fr(r, "%s", "IPC REFUSED");
}

/* ---- connections ---- */

static void resume_accept(struct net *n);

static void conn_free(struct nconn *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->body);
	free(c->stash);
	buf_free(c->out);
	free(c);
}

static void conn_close(struct net *n, struct nconn *c, const char *why)
{
	log_debug("peer %s: closed (%s)", c->peer_text, why);
	if (c->fd >= 0) {
		/* Never duplicated: closing it takes it out of the epoll set. */
		close(c->fd);
		c->fd = -1;
	}
	if (c->hello) {
		n->hs_waiting--;
		c->hello = 0;
	}
	if (c->counted) {
		admit_conn_close(n->lim, (const struct sockaddr *)&c->peer);
		if (!c->linked)
			n->n_unauth--;
		c->counted = 0;
	}
	if (c->opened)
		closed_send(n, c->link.id);
	if (n->accept_paused)
		resume_accept(n);
	ipc_map_del(&n->map, &c->link);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		n->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	n->n_conns--;
	/* Events for it may still follow in this epoll batch: free after it. */
	c->prev = NULL;
	c->next = n->graveyard;
	n->graveyard = c;
}

static void bury(struct net *n)
{
	struct nconn *c;

	while ((c = n->graveyard) != NULL) {
		n->graveyard = c->next;
		conn_free(c);
	}
}

/*
 * Send what is queued. Returns 0 (maybe with data left: connections are
 * edge-triggered, the EPOLLOUT edge says when to go on), or -1 to close.
 */
static int conn_flush(struct net *n, struct nconn *c)
{
	(void)n;
	while (c->out != NULL && buf_len(c->out) > 0) {
		ssize_t w = send(c->fd, buf_ptr(c->out), buf_len(c->out), MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		if (buf_consume(c->out, (size_t)w) != 0)
			return -1;
		c->progress_ms = clock_mono_ms();
	}
	if (c->close_after_write) {
		/* Let the peer read the last frame before the FIN. */
		(void)shutdown(c->fd, SHUT_WR);
		return -1;
	}
	return 0;
}

static void conn_readable(struct net *n, struct nconn *c);

/* Reading resumes only when the monitor's whole reply is out. */
static void conn_resume(struct net *n, struct nconn *c)
{
	if (c->fd >= 0 && !c->waiting && (c->out == NULL || buf_len(c->out) == 0) &&
	    (c->rd_pending || c->stash != NULL))
		conn_readable(n, c);
}

static void conn_write(struct net *n, struct nconn *c, const uint8_t *p, size_t len)
{
	if (c->out == NULL && (c->out = buf_new(0)) == NULL) {
		conn_close(n, c, "out of memory");
		return;
	}
	if (buf_put(c->out, p, len) != 0) {
		conn_close(n, c, "out of memory");
		return;
	}
	if (conn_flush(n, c) != 0)
		conn_close(n, c, "done");
	else
		conn_resume(n, c);
}

/* A plain Error (before the handshake: nothing sealed) and close. */
static void conn_refuse(struct net *n, struct nconn *c, const char *reason)
{
	uint8_t f[WIRE_HEADER_LEN + 64];
	size_t len = strlen(reason);

	if (len > sizeof(f) - WIRE_HEADER_LEN)
		fatal("refusal text too long");
	f[0] = (uint8_t)(len >> 8);
	f[1] = (uint8_t)len;
	f[2] = FRAME_ERROR;
	memcpy(f + WIRE_HEADER_LEN, reason, len);
	c->close_after_write = 1;
	conn_write(n, c, f, WIRE_HEADER_LEN + len);
}

/*
 * The header is in: judge it before reading any of the body. Returns NULL
 * to read the body, or the reason to refuse the connection with.
 */
static const char *judge_header(struct net *n, struct nconn *c, uint8_t type, size_t len)
{
	if (len + WIRE_HEADER_LEN > n->cfg.max_frame)
		return "frame too large";
	if (!c->linked) {
		/* Nothing but one Hello of exactly its size before the Link. */
		if (type != FRAME_HELLO)
			return "expected Hello";
		if (len != FRAME_HELLO_LEN)
			return "bad Hello length";
		if (n->hs_waiting >= n->cfg.max_handshakes) {
			ipc_refused(n, (const struct sockaddr *)&c->peer, IPC_REFUSED_BUSY);
			return "server busy";
		}
		switch (admit_hello(n->lim, (const struct sockaddr *)&c->peer, clock_mono_ms())) {
		case ADMIT_OK:
			return NULL;
		case ADMIT_RATE:
			n->n_rate_limited++;
			ipc_refused(n, (const struct sockaddr *)&c->peer, IPC_REFUSED_RATE);
			return "rate limited";
		default:
			log_every_note(&n->refused_budget, clock_mono_ms());
			ipc_refused(n, (const struct sockaddr *)&c->peer, IPC_REFUSED_BUDGET);
			return "server busy";
		}
	}
	/* After the Link only Get and Bye travel this way, each within its size. */
	(void)n;
	if ((type != FRAME_GET && type != FRAME_BYE) || len > frame_max_len(type) ||
	    (frame_fixed_len(type) != 0 && len != frame_fixed_len(type)) ||
	    (type == FRAME_GET && len < FRAME_MIN_SEALED))
		return "";
	return NULL;
}

/* Queue OPEN (when peer is set) and FRAME for connection id to the monitor. */
static void ipc_put_frame(struct net *n, uint64_t id, const struct sockaddr *peer, uint8_t type,
			  const uint8_t *body, size_t len)
{
	int r;

	if (peer != NULL && ((r = ipc_put_hdr(n->ipc_out, IPC_OPEN, 0, id, IPC_PEER_LEN)) != 0 ||
			     (r = ipc_peer_put(n->ipc_out, peer)) != 0))
		fatal_fr(r, "%s", "IPC OPEN");
	if ((r = ipc_put_hdr(n->ipc_out, IPC_FRAME, 0, id, 1 + len)) != 0 ||
	    (r = buf_put_u8(n->ipc_out, type)) != 0 || (r = buf_put(n->ipc_out, body, len)) != 0)
		fatal_fr(r, "%s", "IPC FRAME");
}

/* A whole frame is in: hand it to the monitor and wait for its reply. */
static void conn_forward(struct net *n, struct nconn *c)
{
	uint8_t type = c->hdr[2];

	/* The monitor learns of a connection with its first frame: one that
	 * never sends anything costs it nothing. */
	ipc_put_frame(n, c->link.id, c->opened ? NULL : (const struct sockaddr *)&c->peer, type,
		      c->body, c->body_len);
	c->opened = 1;
	free(c->body);
	c->body = NULL;
	c->body_len = c->body_have = c->hdr_have = 0;
	c->waiting = 1;
	if (type == FRAME_HELLO) {
		c->hello = 1;
		n->hs_waiting++;
	}
}

/*
 * Take bytes read from c into the frame being assembled: the header is judged
 * before any of the body is used; a whole frame goes to the monitor, and
 * reading stops until its reply is out. Returns how many bytes were used;
 * the rest belongs to the next frame. c may be closed on return (c->fd < 0)
 * or refused (c->close_after_write).
 */
static size_t conn_take(struct net *n, struct nconn *c, const uint8_t *p, size_t len)
{
	size_t used = 0;

	while (used < len && c->fd >= 0 && !c->close_after_write && !c->waiting) {
		size_t k;
		const char *why;

		if (c->hdr_have < WIRE_HEADER_LEN) {
			k = smin(WIRE_HEADER_LEN - c->hdr_have, len - used);
			memcpy(c->hdr + c->hdr_have, p + used, k);
			c->hdr_have += k;
			used += k;
			if (c->hdr_have < WIRE_HEADER_LEN)
				break;
			c->body_len = buf_peek_be16(c->hdr);
			if ((why = judge_header(n, c, c->hdr[2], c->body_len)) != NULL) {
				if (why[0] == '\0')
					conn_close(n, c, "frame out of turn after the handshake");
				else
					conn_refuse(n, c, why);
				break;
			}
			/* Bye ends the conversation and carries nothing the monitor
			 * needs: the connection closes on its header (the monitor
			 * learns it from CLOSED), sparing both processes a round trip. */
			if (c->hdr[2] == FRAME_BYE) {
				conn_close(n, c, "Bye");
				break;
			}
			c->body_have = 0;
			if ((c->body = malloc(c->body_len > 0 ? c->body_len : 1)) == NULL) {
				conn_close(n, c, "out of memory");
				break;
			}
		} else {
			k = smin(c->body_len - c->body_have, len - used);
			memcpy(c->body + c->body_have, p + used, k);
			c->body_have += k;
			used += k;
		}
		if (c->body_have == c->body_len) {
			/* A Hello whose ephemeral key came before is a replay: refused
			 * before it costs a token DH. */
			if (c->hdr[2] == FRAME_HELLO && !c->linked &&
			    admit_ephemeral_seen(n->lim, c->body)) {
				log_every_note(&n->refused_replay, clock_mono_ms());
				ipc_refused(n, (const struct sockaddr *)&c->peer, IPC_REFUSED_REPLAY);
				conn_refuse(n, c, "replayed Hello");
				break;
			}
			conn_forward(n, c);
		}
	}
	return used;
}

/*
 * How many bytes to ask the socket for: the rest of this frame, the largest
 * frame the conversation allows next, and one more header. Asking for more
 * than a frame tells, when less comes, that the socket is empty: the next
 * bytes bring a new edge, and no read is wasted on EAGAIN after the reply.
 */
static size_t conn_want(const struct net *n, const struct nconn *c)
{
	size_t frame = c->linked ? n->cfg.max_frame : WIRE_HEADER_LEN + FRAME_HELLO_LEN;

	if (c->hdr_have < WIRE_HEADER_LEN)
		return smin(frame, WIRE_MAX_FRAME) + WIRE_HEADER_LEN - c->hdr_have;
	return c->body_len - c->body_have + WIRE_HEADER_LEN;
}

/* Keep bytes read beyond the frame that went to the monitor (a client that
 * did not wait for the reply): they are taken when reading resumes. */
static void conn_stash(struct net *n, struct nconn *c, const uint8_t *p, size_t len)
{
	if (len == 0 || c->fd < 0 || c->close_after_write)
		return;
	if ((c->stash = malloc(len)) == NULL) {
		conn_close(n, c, "out of memory");
		return;
	}
	memcpy(c->stash, p, len);
	c->stash_len = len;
}

static void conn_readable(struct net *n, struct nconn *c)
{
	while (c->fd >= 0 && !c->close_after_write && !c->waiting) {
		size_t want, used;
		ssize_t got;

		if (c->stash != NULL) {
			uint8_t *p = c->stash;
			size_t len = c->stash_len;

			c->stash = NULL;
			c->stash_len = 0;
			used = conn_take(n, c, p, len);
			conn_stash(n, c, p + used, len - used);
			free(p);
			continue;
		}
		if (!c->rd_pending)
			return;
		want = conn_want(n, c);
		got = recv(c->fd, n->rbuf, want, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->rd_pending = 0;
				return;
			}
			conn_close(n, c, "read error");
			return;
		}
		if (got == 0) {
			conn_close(n, c, c->hdr_have == 0 ? "peer closed" : "truncated frame");
			return;
		}
		/* Less than asked for: the socket is empty. */
		c->rd_pending = (size_t)got == want;
		c->progress_ms = clock_mono_ms();
		used = conn_take(n, c, n->rbuf, (size_t)got);
		conn_stash(n, c, n->rbuf + used, (size_t)got - used);
	}
}

/* Watch the listeners, or stop watching them (out of descriptors). */
static void watch_listeners(struct net *n, int on)
{
	size_t i;

	for (i = 0; i < n->n_listeners; i++) {
		struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.ptr = &n->listeners[i]};
		if (n->listeners[i].fd >= 0 &&
		    epoll_ctl(n->epfd, EPOLL_CTL_MOD, n->listeners[i].fd, &ev) != 0)
			log_warn("epoll_ctl %s: %s", n->listeners[i].text, strerror(errno));
	}
	n->accept_paused = !on;
}

static void resume_accept(struct net *n)
{
	if (!n->stopping)
		watch_listeners(n, 1);
	n->accept_paused = 0;
}

/* Refuse a fresh socket before it is a connection: one plain Error, close. */
static void refuse_fresh(struct net *n, int fd, const struct sockaddr *peer, const char *reason,
			 enum ipc_refusal why, struct log_every *e)
{
	uint8_t f[WIRE_HEADER_LEN + 64];
	size_t len = strlen(reason);

	f[0] = 0;
	f[1] = (uint8_t)len;
	f[2] = FRAME_ERROR;
	memcpy(f + WIRE_HEADER_LEN, reason, len);
	/* Best effort; the socket is non-blocking and fresh. */
	(void)!send(fd, f, WIRE_HEADER_LEN + len, MSG_NOSIGNAL);
	close(fd);
	n->n_refused++;
	log_every_note(e, clock_mono_ms());
	ipc_refused(n, peer, why);
}

static void accept_all(struct net *n, struct listener *l)
{
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		const struct sockaddr *sa = (const struct sockaddr *)&peer;
		struct epoll_event ev;
		struct nconn *c;
		enum admit_verdict v;
		uint64_t now;
		int fd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				/* The listener stays readable: stop watching it until a
				 * connection closes, or the loop would spin. */
				log_every_note(&n->no_fds, clock_mono_ms());
				watch_listeners(n, 0);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
				log_warn("accept on %s: %s", l->text, strerror(errno));
			}
			return;
		}
		now = clock_mono_ms();
		if (n->n_conns >= n->cfg.max_connections) {
			refuse_fresh(n, fd, sa, "too many connections", IPC_REFUSED_CONNECTIONS,
				     &n->refused_limit);
			continue;
		}
		v = admit_conn_open(n->lim, sa, n->n_unauth, now);
		if (v == ADMIT_PER_SOURCE || v == ADMIT_TABLE_FULL) {
			refuse_fresh(n, fd, sa, "too many connections from this address",
				     IPC_REFUSED_PER_SOURCE, &n->refused_source);
			continue;
		}
		if (v != ADMIT_OK) {
			refuse_fresh(n, fd, sa, "too many connections", IPC_REFUSED_STARTUPS,
				     &n->refused_startups);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			admit_conn_close(n->lim, sa);
			close(fd);
			continue;
		}
		c->tag.kind = EV_CONN;
		c->fd = fd;
		c->counted = 1;
		n->n_unauth++;
		c->link.id = ++n->next_id;
		memcpy(&c->peer, &peer, sizeof(peer));
		ipc_peer_text(sa, c->peer_text, sizeof(c->peer_text));
		c->started_ms = c->progress_ms = now;
		/* Edge-triggered: no epoll_ctl per frame to pause and resume reading. */
		ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
		ev.data.ptr = c;
		ipc_map_add(&n->map, &c->link);
		c->next = n->conns;
		if (n->conns != NULL)
			n->conns->prev = c;
		n->conns = c;
		n->n_conns++;
		n->n_accepted++;
		if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			conn_close(n, c, "epoll_ctl");
			continue;
		}
		log_debug("peer %s: connected", c->peer_text);
	}
}

static void stop_listening(struct net *n)
{
	size_t i;

	for (i = 0; i < n->n_listeners; i++) {
		if (n->listeners[i].fd >= 0) {
			(void)epoll_ctl(n->epfd, EPOLL_CTL_DEL, n->listeners[i].fd, NULL);
			close(n->listeners[i].fd);
			n->listeners[i].fd = -1;
		}
	}
}

static void begin_stop(struct net *n, const char *why)
{
	if (n->stopping)
		return;
	log_info("%s: stopping (grace %us)", why, n->cfg.grace);
	n->stopping = 1;
	n->stop_deadline = clock_mono_ms() + (uint64_t)n->cfg.grace * 1000;
	stop_listening(n);
}

/* The monitor's reply: whole frames for one connection. */
static void on_send(struct net *n, const struct ipc_msg *m)
{
	struct nconn *c = conn_of(ipc_map_find(&n->map, m->conn));
	size_t off = 0;

	if (c == NULL || c->fd < 0)
		return; /* closed meanwhile; the monitor learns it from CLOSED */
	/* What went out tells where the conversation is (Link: the handshake is done). */
	while (off + WIRE_HEADER_LEN <= m->len) {
		size_t len = buf_peek_be16(m->body + off);
		if (m->body[off + 2] == FRAME_LINK && !c->linked) {
			c->linked = 1;
			c->linked_ms = clock_mono_ms();
			n->n_unauth--;
			admit_good(n->lim, (const struct sockaddr *)&c->peer, c->linked_ms);
		}
		off += WIRE_HEADER_LEN + len;
	}
	if (!(m->flags & IPC_F_MORE)) {
		c->waiting = 0;
		if (c->hello) {
			c->hello = 0;
			n->hs_waiting--;
		}
	}
	if (m->flags & IPC_F_CLOSE)
		c->close_after_write = 1;
	conn_write(n, c, m->body, m->len);
}

static int on_ipc_message(struct net *n, const struct ipc_msg *m)
{
	struct nconn *c;

	switch (m->type) {
	case IPC_SEND:
		on_send(n, m);
		return 0;
	case IPC_CLOSE:
		if ((c = conn_of(ipc_map_find(&n->map, m->conn))) != NULL) {
			c->opened = 0; /* the monitor has forgotten it already */
			conn_close(n, c, "closed by the monitor");
		}
		return 0;
	case IPC_SHUTDOWN:
		begin_stop(n, "monitor");
		return 0;
	default:
		return err_set(ERR_PROTOCOL, "monitor sent %s", ipc_type_name(m->type));
	}
}

static int ipc_readable(struct net *n)
{
	for (;;) {
		struct ipc_msg m;
		uint8_t *p;
		ssize_t got;
		int r;

		if ((r = buf_reserve(n->ipc_in, NET_IPC_READ, &p)) != 0)
			return r;
		got = recv(n->ipc_fd, p, NET_IPC_READ, 0);
		if (buf_consume_end(n->ipc_in, NET_IPC_READ - (got > 0 ? (size_t)got : 0)) != 0)
			return ERR_INTERNAL;
		if (got == 0)
			return err_set(ERR_IO, "the monitor is gone");
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return err_sys("IPC read");
		}
		while ((r = ipc_get(n->ipc_in, &m)) == 0)
			if ((r = on_ipc_message(n, &m)) != 0)
				return r;
		if (r != ERR_INCOMPLETE)
			return r;
		/* Short of the buffer: the socket is empty (the IPC socket is
		 * level-triggered: epoll says when more comes), so no read just
		 * to hear EAGAIN. */
		if ((size_t)got < NET_IPC_READ)
			return 0;
	}
}

#ifdef COFFER_TEST_HOOKS
/* Test builds only: SIGUSR2 makes a call the sandbox forbids (openat), so a
 * test can prove that the filter kills the process. */
static void forbidden_call(void)
{
	log_warn("test hook: calling openat, which the sandbox forbids");
	(void)syscall(SYS_openat, -100, "/etc/passwd", 0);
	log_error("test hook: openat returned: the sandbox is not enforcing");
}

/*
 * Test builds only: after SIGUSR1 the process plays a hostile network
 * process that stops reading the monitor's replies and keeps sending it
 * Gets on fresh connections (each answered with an Error), so a test can
 * prove that the monitor bounds what it queues (IPC_MAX_PENDING) and ends
 * the service instead of growing. Its own queue is kept small.
 */
static void test_flood(struct net *n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9) };
	uint8_t junk[FRAME_MIN_SEALED] = { 0 };
	int i;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 1000 && buf_len(n->ipc_out) < (1U << 20); i++)
		ipc_put_frame(n, ++n->next_id, (const struct sockaddr *)&sa, FRAME_GET, junk,
			      sizeof(junk));
}
#endif

static void handle_signals(struct net *n)
{
	struct signalfd_siginfo si;

	while (read(n->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			begin_stop(n, "signal");
#ifdef COFFER_TEST_HOOKS
		if (si.ssi_signo == SIGUSR2)
			forbidden_call();
		if (si.ssi_signo == SIGUSR1 && !n->test_flood) {
			log_warn("test hook: reading nothing from the monitor, sending it Gets");
			n->test_flood = 1;
		}
#endif
	}
}

/* Deadlines; while stopping, also close connections with nothing in flight. */
static void sweep(struct net *n)
{
	uint64_t now = clock_mono_ms();
	struct nconn *c, *next;

	for (c = n->conns; c != NULL; c = next) {
		uint64_t deadline;

		next = c->next;
		if (c->waiting)
			continue; /* the monitor answers every frame it gets */
		if (n->stopping && c->hdr_have == 0 && (c->out == NULL || buf_len(c->out) == 0) &&
		    !c->linked) {
			conn_close(n, c, "shutting down");
			continue;
		}
		deadline = c->progress_ms + (uint64_t)n->cfg.idle_timeout * 1000;
		if (!c->linked) {
			uint64_t hs = c->started_ms + (uint64_t)n->cfg.handshake_timeout * 1000;
			if (hs < deadline)
				deadline = hs;
		} else {
			/* A conversation ends in time, however it trickles. */
			uint64_t end = c->linked_ms + (uint64_t)n->cfg.session_timeout * 1000;
			if (end < deadline)
				deadline = end;
		}
		if (now >= deadline)
			conn_close(n, c, c->hdr_have > 0 ? "stalled mid-frame" : "timeout");
	}
	log_every_flush(&n->no_fds, now, NET_LOG_EVERY_MS, LOG_LEVEL_WARN,
			"accept: out of file descriptors; not accepting until a connection closes");
	log_every_flush(&n->refused_limit, now, NET_LOG_EVERY_MS, LOG_LEVEL_WARN,
			"refused connections: --max-connections reached");
	log_every_flush(&n->refused_source, now, NET_LOG_EVERY_MS, LOG_LEVEL_WARN,
			"refused connections: --max-connections-per-source reached");
	log_every_flush(&n->refused_startups, now, NET_LOG_EVERY_MS, LOG_LEVEL_WARN,
			"dropped connections: --max-startups (too many unauthenticated)");
	log_every_flush(&n->refused_budget, now, NET_LOG_EVERY_MS, LOG_LEVEL_WARN,
			"refused Hellos: --token-budget exhausted");
	log_every_flush(&n->refused_replay, now, NET_LOG_EVERY_MS, LOG_LEVEL_WARN,
			"refused Hellos: ephemeral key seen before (replays)");
}

int net_prepare(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP); /* reload is the monitor's; never die of it */
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return err_sys("sigprocmask");
	signal(SIGPIPE, SIG_IGN);
	/* The log's strftime reads /etc/localtime once: now, not in the sandbox. */
	tzset();
	return 0;
}

/*
 * Every connection is a descriptor: take the hard limit, and serve no more
 * connections than fit under it (a full table would make accept fail
 * instead of refusing with a reason).
 */
static int fit_descriptors(struct net *n)
{
	struct rlimit rl;
	rlim_t room;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return err_sys("getrlimit(RLIMIT_NOFILE)");
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			return err_sys("setrlimit(RLIMIT_NOFILE, %llu)", (unsigned long long)rl.rlim_max);
	}
	room = rl.rlim_cur == RLIM_INFINITY ? (rlim_t)UINT32_MAX : rl.rlim_cur;
	room = room > NET_FD_RESERVE + n->n_listeners ? room - NET_FD_RESERVE - n->n_listeners : 1;
	if (room < n->cfg.max_connections) {
		log_warn("--max-connections %u does not fit the descriptor limit %llu: serving at "
			 "most %llu connections (raise LimitNOFILE=)",
			 n->cfg.max_connections, (unsigned long long)rl.rlim_cur,
			 (unsigned long long)room);
		n->cfg.max_connections = (uint32_t)room;
	}
	/* The default: 32, and never more than a quarter of the connections. */
	if (n->cfg.max_per_source == 0) {
		n->cfg.max_per_source = n->cfg.max_connections / 4;
		if (n->cfg.max_per_source > IPC_DEFAULT_PER_SOURCE)
			n->cfg.max_per_source = IPC_DEFAULT_PER_SOURCE;
		if (n->cfg.max_per_source == 0)
			n->cfg.max_per_source = 1;
	}
	return 0;
}

static int net_setup(struct net *n, const int *listen_fds, size_t count)
{
	struct epoll_event ev;
	sigset_t set;
	size_t i;
	int r;

	if ((n->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return err_sys("epoll_create1");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if ((n->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return err_sys("signalfd");
	n->sig_tag.kind = EV_SIGNAL;
	n->ipc_tag.kind = EV_IPC;
	ev.events = EPOLLIN;
	ev.data.ptr = &n->sig_tag;
	if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->sigfd, &ev) != 0)
		return err_sys("epoll_ctl signalfd");
	ev.data.ptr = &n->ipc_tag;
	if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->ipc_fd, &ev) != 0)
		return err_sys("epoll_ctl IPC");
	for (i = 0; i < count; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct listener *l = &n->listeners[n->n_listeners];

		l->tag.kind = EV_LISTEN;
		l->fd = listen_fds[i];
		n->n_listeners++;
		if (getsockname(l->fd, (struct sockaddr *)&ss, &len) != 0)
			return err_sys("listening socket %zu", i);
		ipc_peer_text((const struct sockaddr *)&ss, l->text, sizeof(l->text));
		ev.events = EPOLLIN;
		ev.data.ptr = l;
		if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, l->fd, &ev) != 0)
			return err_sys("epoll_ctl %s", l->text);
	}
	if ((r = fit_descriptors(n)) != 0)
		return r;
	{
		struct admit_config lc;
		memset(&lc, 0, sizeof(lc));
		lc.max_connections = n->cfg.max_connections;
		lc.max_per_source = n->cfg.max_per_source;
		lc.rate = n->cfg.rate;
		lc.burst = n->cfg.burst;
		lc.startups_start = n->cfg.startups_start;
		lc.startups_rate = n->cfg.startups_rate;
		lc.startups_full = n->cfg.startups_full;
		lc.token_budget = n->cfg.token_budget;
		if ((n->lim = admit_new(&lc)) == NULL)
			return err_set(ERR_ALLOC, "admission limits");
	}
	if ((n->ipc_in = buf_new(0)) == NULL || (n->ipc_out = buf_new(0)) == NULL ||
	    (n->closed_out = buf_new(0)) == NULL)
		return err_set(ERR_ALLOC, "IPC buffers");
	if ((r = ipc_map_init(&n->map, n->cfg.max_connections)) != 0)
		return r;
	return 0;
}

static void net_free(struct net *n)
{
	struct nconn *c, *next;
	size_t i;

	for (c = n->conns; c != NULL; c = next) {
		next = c->next;
		conn_free(c);
	}
	bury(n);
	for (i = 0; i < n->n_listeners; i++)
		if (n->listeners[i].fd >= 0)
			close(n->listeners[i].fd);
	if (n->epfd >= 0)
		close(n->epfd);
	if (n->sigfd >= 0)
		close(n->sigfd);
	admit_free(n->lim);
	buf_free(n->ipc_in);
	buf_free(n->ipc_out);
	buf_free(n->closed_out);
	ipc_map_clear(&n->map);
	free(n);
}

int net_new(const struct ipc_config *c, int ipc_fd, const int *listen_fds, size_t count,
	    struct net **out)
{
	struct net *n;
	int r;

	*out = NULL;
	if (count == 0 || count > IPC_MAX_LISTEN)
		return err_set(ERR_INVALID_ARG, "%zu listening sockets", count);
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return err_set(ERR_ALLOC, "network process");
	n->cfg = *c;
	n->ipc_fd = ipc_fd;
	n->epfd = n->sigfd = -1;
	if ((r = net_setup(n, listen_fds, count)) != 0) {
		net_free(n);
		return r;
	}
	*out = n;
	return 0;
}

int net_run(struct net *n)
{
	struct epoll_event evs[NET_MAX_EVENTS];
	size_t i;
	int r = 0, k;

	for (i = 0; i < n->n_listeners; i++)
		log_info("listening on %s", n->listeners[i].text);
	ipc_send(n, IPC_READY, 0);
	if ((r = ipc_flush(n)) != 0)
		return r;
	for (;;) {
		if (n->stopping) {
			if (n->n_conns == 0)
				break;
			if (clock_mono_ms() >= n->stop_deadline) {
				log_warn("grace period over: dropping %zu connections", n->n_conns);
				break;
			}
		}
		k = epoll_wait(n->epfd, evs, NET_MAX_EVENTS,
			       n->n_closed > 0 ? NET_CLOSED_DELAY_MS : NET_TICK_MS);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return err_sys("epoll_wait");
		}
		for (i = 0; i < (size_t)k; i++) {
			struct ev_tag *tag = evs[i].data.ptr;
			switch (tag->kind) {
			case EV_LISTEN:
				if (!n->stopping)
					accept_all(n, (struct listener *)tag);
				break;
			case EV_SIGNAL:
				handle_signals(n);
				break;
			case EV_IPC:
				if ((evs[i].events & EPOLLOUT) && (r = ipc_flush(n)) != 0)
					return r;
				if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
				    !n->test_flood && (r = ipc_readable(n)) != 0)
					return r;
				break;
			case EV_CONN: {
				struct nconn *c = (struct nconn *)tag;
				/* Closed earlier in this batch: still in the graveyard. */
				if (c->fd < 0)
					break;
				if ((evs[i].events & (EPOLLHUP | EPOLLERR)) &&
				    (c->waiting || (c->out != NULL && buf_len(c->out) > 0))) {
					conn_close(n, c, "peer hung up");
					break;
				}
				if ((evs[i].events & EPOLLOUT) && conn_flush(n, c) != 0) {
					conn_close(n, c, "done");
					break;
				}
				if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
					c->rd_pending = 1;
				conn_resume(n, c);
				break;
			}
			}
		}
		sweep(n);
		bury(n);
#ifdef COFFER_TEST_HOOKS
		if (n->test_flood)
			test_flood(n);
#endif
		/* One write to the monitor per turn of the loop, whatever it carries. */
		closed_flush(n, 0);
		if ((r = ipc_flush(n)) != 0)
			return r;
	}
	log_info("stopped: %llu connections served, %llu refused at the limit, %llu rate limited",
		 n->n_accepted, n->n_refused, n->n_rate_limited);
	closed_flush(n, 1);
	return ipc_flush(n);
}

void net_destroy(struct net *n)
{
	if (n != NULL)
		net_free(n);
}

// SPDX-License-Identifier: ISC
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef COFFER_APPL_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "audit.h"
#include "bounds.h"
#include "buf.h"
#include "cfg.h"
#include "log.h"
#include "ratelimit.h"
#include "secmem.h"
#include "handler.h"
#include "listenfds.h"
#include "state.h"
#include "token.h"

#define SERVER_TICK_MS 100
#define SERVER_MAX_EVENTS 64
#define SERVER_BACKLOG 512
#define FRAME_TYPE_HELLO 0x00

enum ev_kind {
	EV_LISTEN = 1,
	EV_SIGNAL,
	EV_WAKE,
	EV_CONN,
};

struct ev_tag {
	enum ev_kind kind;
};

struct listener {
	struct ev_tag tag;
	int fd;
	const struct cfg_listen *addr;
};

struct conn {
	struct ev_tag tag;
	int fd;
	struct sockaddr_storage peer;
	char peer_text[64];
	struct conn *prev, *next;
	/* reading one frame */
	uint8_t hdr[WIRE_HEADER_LEN];
	size_t hdr_have;
	uint8_t *body; /* allocated only while a frame is in flight */
	size_t body_len, body_have;
	/* writing */
	struct buf *out;
	int close_after_write;
	/* state */
	int busy;      /* a job for this connection is in a worker (a Hello) */
	int dead;      /* closed while busy: free when the job returns */
	int hello_job; /* the job in flight is a Hello (counts against max-handshakes) */
	uint64_t started_ms, progress_ms;
	struct appl_state *st;
	struct handler *sess;
};

enum job_kind {
	JOB_FRAME = 1,
	JOB_RELOAD,
};

struct job {
	struct job *next;
	enum job_kind kind;
	struct conn *c;
	uint8_t type;
	uint8_t *body;
	size_t len;
	struct buf *out;
	int close;
	int rc;
	struct appl_state *new_state; /* reload */
	char why[256];                /* reload failure */
};

struct server {
	const struct cfg *cfg;
	struct token *token;
	struct audit *audit;
	struct appl_state *state;
	struct handler_env env;
	pthread_mutex_t replay_lock;
	struct listener listeners[CFG_MAX_LISTEN];
	size_t n_listeners;
	struct cfg_listen adopted[CFG_MAX_LISTEN]; /* names of sockets from systemd */
	int epfd, sigfd, wakefd;
	struct ev_tag sig_tag, wake_tag;
	struct ratelimit *rl;
	struct conn *conns;
	struct conn *graveyard; /* closed in this loop turn; freed after it */
	size_t n_conns;
	unsigned hs_inflight;
	unsigned jobs_inflight;
	int reloading, stopping;
	uint64_t stop_deadline;
	/* workers */
	pthread_t *threads;
	unsigned n_threads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *queue_head, *queue_tail;
	struct job *done;
	int quit;
	server_loader_fn loader;
	void *loader_ctx;
	/* counters for the log */
	unsigned long long n_accepted, n_refused, n_rate_limited;
};

void server_notify(const char *state)
{
#ifdef COFFER_APPL_SYSTEMD
	(void)sd_notify(0, state);
#else
	(void)state;
#endif
}

static void notify_ready(struct server *s)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=serving bundle serial %llu, %zu clients",
		 (unsigned long long)s->state->serial, s->state->n);
	server_notify(msg);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int server_new(const struct cfg *c, struct token *t, struct audit *a, struct appl_state *st,
	       struct server **out)
{
	struct server *s;
	int r;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return err_set(ERR_ALLOC, "server");
	s->cfg = c;
	s->token = t;
	s->audit = a;
	s->state = state_ref(st);
	s->env.token = t;
	s->env.audit = a;
	s->env.audit_required = c->audit_required;
	pthread_mutex_init(&s->replay_lock, NULL);
	s->env.replay_lock = &s->replay_lock;
	s->epfd = s->sigfd = s->wakefd = -1;
	s->sig_tag.kind = EV_SIGNAL;
	s->wake_tag.kind = EV_WAKE;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if ((s->rl = ratelimit_new(c->rate, c->burst)) == NULL) {
		server_free(s);
		return err_set(ERR_ALLOC, "rate limiter");
	}
	/* The replay table outlives reloads: a Hello replayed across a reload is still old. */
	if ((r = handler_replay_new(&s->env.replay)) != 0) {
		server_free(s);
		return r;
	}
	*out = s;
	return 0;
}

static void bury(struct server *s);

static void conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	handler_free(c->sess);
	state_unref(c->st);
	if (c->body != NULL) {
		secmem_zero(c->body, c->body_len);
		free(c->body);
	}
	buf_free(c->out);
	free(c);
}

void server_free(struct server *s)
{
	size_t i;
	struct conn *c, *next;

	if (s == NULL)
		return;
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		conn_free(c);
	}
	bury(s);
	for (i = 0; i < s->n_listeners; i++)
		if (s->listeners[i].fd >= 0)
			close(s->listeners[i].fd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->wakefd >= 0)
		close(s->wakefd);
	ratelimit_free(s->rl);
	handler_replay_free(s->env.replay);
	pthread_mutex_destroy(&s->replay_lock);
	state_unref(s->state);
	free(s->threads);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

int server_bind(struct server *s)
{
	size_t i;
	int one = 1;

	for (i = 0; i < s->cfg->n_listen; i++) {
		const struct cfg_listen *l = &s->cfg->listen[i];
		int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return err_sys("socket for %s", l->text);
		s->listeners[s->n_listeners].fd = fd;
		s->listeners[s->n_listeners].addr = l;
		s->listeners[s->n_listeners].tag.kind = EV_LISTEN;
		s->n_listeners++;
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
			return err_sys("SO_REUSEADDR on %s", l->text);
		if (l->addr.ss_family == AF_INET6 &&
		    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
			return err_sys("IPV6_V6ONLY on %s", l->text);
		if (bind(fd, (const struct sockaddr *)&l->addr, l->len) != 0)
			return err_sys("bind %s", l->text);
		if (listen(fd, SERVER_BACKLOG) != 0)
			return err_sys("listen on %s", l->text);
	}
	return 0;
}

_Static_assert(LISTENFDS_MAX <= CFG_MAX_LISTEN, "every passed socket fits");
_Static_assert(sizeof(((struct cfg_listen *)0)->addr) == sizeof(((struct listenfd *)0)->addr),
	       "same address storage");

int server_adopt(struct server *s, struct listenfds *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		struct cfg_listen *a = &s->adopted[i];

		memcpy(&a->addr, &l->fds[i].addr, sizeof(a->addr));
		a->len = l->fds[i].len;
		snprintf(a->text, sizeof(a->text), "%s", l->fds[i].text);
		s->listeners[s->n_listeners].fd = l->fds[i].fd;
		s->listeners[s->n_listeners].addr = a;
		s->listeners[s->n_listeners].tag.kind = EV_LISTEN;
		s->n_listeners++;
		l->fds[i].fd = -1;
	}
	l->n = 0;
	return 0;
}

int server_signals(struct server *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return err_set(ERR_SYSTEM, "block signals");
	if ((s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return err_sys("signalfd");
	/* Writes to a closed peer return EPIPE instead of killing us. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* ---- workers ---- */

void server_set_loader(struct server *s, server_loader_fn fn, void *ctx)
{
	s->loader = fn;
	s->loader_ctx = ctx;
}

static void run_job(struct server *s, struct job *j)
{
	if (j->kind == JOB_RELOAD) {
		if (s->loader != NULL)
			j->rc = s->loader(s->loader_ctx, &j->new_state);
		else
			j->rc = state_load(s->cfg, s->token, 1, &j->new_state);
		if (j->rc != 0)
			snprintf(j->why, sizeof(j->why), "%s", err_msg(j->rc));
		return;
	}
	if ((j->out = buf_new(0)) == NULL) {
		j->rc = ERR_ALLOC;
		j->close = 1;
		return;
	}
	j->rc = handler_handle(&s->env, j->c->st, j->c->peer_text, &j->c->sess, j->type, j->body,
			       j->len, j->out, &j->close);
	if (j->rc != 0) {
		warn_fr(j->rc, "peer %s: %s frame", j->c->peer_text,
			j->type == FRAME_TYPE_HELLO ? "Hello" : "session");
		j->close = 1;
	}
	if (j->body != NULL) {
		secmem_zero(j->body, j->len);
		free(j->body);
		j->body = NULL;
	}
}

static void *worker_main(void *arg)
{
	struct server *s = arg;
	uint64_t one = 1;

	for (;;) {
		struct job *j;

		pthread_mutex_lock(&s->lock);
		while (s->queue_head == NULL && !s->quit)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->queue_head == NULL) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		j = s->queue_head;
		s->queue_head = j->next;
		if (s->queue_head == NULL)
			s->queue_tail = NULL;
		pthread_mutex_unlock(&s->lock);

		run_job(s, j);

		pthread_mutex_lock(&s->lock);
		j->next = s->done;
		s->done = j;
		pthread_mutex_unlock(&s->lock);
		while (write(s->wakefd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
	}
	return NULL;
}

static void submit(struct server *s, struct job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&s->lock);
	if (s->queue_tail != NULL)
		s->queue_tail->next = j;
	else
		s->queue_head = j;
	s->queue_tail = j;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	s->jobs_inflight++;
}

static unsigned worker_count(const struct cfg *c)
{
	long n;

	if (c->workers > 0)
		return c->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > CFG_MAX_WORKERS ? CFG_MAX_WORKERS : (unsigned)n;
}

static int start_workers(struct server *s)
{
	unsigned i, n = worker_count(s->cfg);

	if ((s->threads = calloc(n, sizeof(*s->threads))) == NULL)
		return err_set(ERR_ALLOC, "workers");
	for (i = 0; i < n; i++) {
		int e = pthread_create(&s->threads[i], NULL, worker_main, s);
		if (e != 0) {
			errno = e;
			return err_sys("start worker %u", i);
		}
		s->n_threads++;
	}
	log_info("%u workers", n);
	return 0;
}

static void stop_workers(struct server *s)
{
	unsigned i;
	struct job *j, *next;

	pthread_mutex_lock(&s->lock);
	s->quit = 1;
	/* Jobs never started are dropped; their connections are closing anyway. */
	for (j = s->queue_head; j != NULL; j = next) {
		next = j->next;
		j->next = s->done;
		s->done = j;
		j->rc = ERR_BUSY;
		j->close = 1;
	}
	s->queue_head = s->queue_tail = NULL;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < s->n_threads; i++)
		pthread_join(s->threads[i], NULL);
	s->n_threads = 0;
}

/* ---- connections ---- */

static void conn_unlink(struct server *s, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	s->n_conns--;
}

static void conn_close(struct server *s, struct conn *c, const char *why)
{
	log_debug("peer %s: closed (%s)", c->peer_text, why);
	if (c->fd >= 0) {
		(void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	conn_unlink(s, c);
	if (c->busy) {
		c->dead = 1; /* the worker still uses it; buried when the job returns */
	} else {
		/* Events for it may still follow in this epoll batch. */
		c->next = s->graveyard;
		s->graveyard = c;
	}
}

static void bury(struct server *s)
{
	struct conn *c;

	while ((c = s->graveyard) != NULL) {
		s->graveyard = c->next;
		conn_free(c);
	}
}

static int conn_watch(struct server *s, struct conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	return epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Send what is queued. Returns 0 (maybe with data left), or -1 to close. */
static int conn_flush(struct server *s, struct conn *c)
{
	while (c->out != NULL && buf_len(c->out) > 0) {
		ssize_t w = send(c->fd, buf_ptr(c->out), buf_len(c->out), MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return conn_watch(s, c, EPOLLOUT) == 0 ? 0 : -1;
			return -1;
		}
		if (buf_consume(c->out, (size_t)w) != 0)
			return -1;
		c->progress_ms = now_ms();
	}
	buf_free(c->out);
	c->out = NULL;
	if (c->close_after_write) {
		/* Let the peer read the last frame before the FIN. */
		(void)shutdown(c->fd, SHUT_WR);
		return -1;
	}
	return conn_watch(s, c, EPOLLIN) == 0 ? 0 : -1;
}

/* Queue a plain Error and close after sending it. */
static void conn_refuse(struct server *s, struct conn *c, const char *reason)
{
	buf_free(c->out);
	if ((c->out = buf_new(0)) == NULL || handler_plain_error(c->out, reason) != 0) {
		conn_close(s, c, reason);
		return;
	}
	c->close_after_write = 1;
	if (conn_flush(s, c) != 0)
		conn_close(s, c, reason);
}

static void audit_refusal(struct server *s, struct conn *c, const char *result, const char *why)
{
	struct audit_event ev;
	int r;

	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_HANDSHAKE;
	ev.peer = c->peer_text;
	ev.result = result;
	ev.reason = why;
	ev.keys = -1;
	if ((r = audit_write(s->audit, &ev)) != 0)
		warn_fr(r, "%s", "audit");
}

static void job_done(struct server *s, struct job *j);

/* A whole frame is in: a Hello goes to a worker (token DH); the frames after
 * it (Get, Bye) need no token work, only AEAD and copies, and are answered
 * here without the round trip through the queue. */
static void conn_dispatch(struct server *s, struct conn *c)
{
	struct job *j;
	uint8_t type = c->hdr[2];

	if (type == FRAME_TYPE_HELLO) {
		if (c->sess != NULL) {
			conn_refuse(s, c, "unexpected Hello");
			return;
		}
		if (!ratelimit_allow(s->rl, (const struct sockaddr *)&c->peer, now_ms())) {
			s->n_rate_limited++;
			audit_refusal(s, c, "rate-limited", "handshake rate per address exceeded");
			conn_refuse(s, c, "rate limited");
			return;
		}
		if (s->hs_inflight >= s->cfg->max_handshakes) {
			audit_refusal(s, c, "busy", "too many handshakes in flight");
			conn_refuse(s, c, "server busy");
			return;
		}
	} else if (c->sess == NULL) {
		conn_refuse(s, c, "expected Hello");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		conn_close(s, c, "out of memory");
		return;
	}
	j->kind = JOB_FRAME;
	j->c = c;
	j->type = type;
	j->body = c->body;
	j->len = c->body_len;
	c->body = NULL;
	c->body_len = c->body_have = c->hdr_have = 0;
	c->busy = 1;
	c->hello_job = type == FRAME_TYPE_HELLO;
	if (!c->hello_job) {
		s->jobs_inflight++;
		run_job(s, j);
		job_done(s, j);
		return;
	}
	s->hs_inflight++;
	/* No reading while the worker has the frame: one request at a time. */
	if (conn_watch(s, c, 0) != 0) {
		log_warn("peer %s: epoll_ctl failed", c->peer_text);
	}
	submit(s, j);
}

static void conn_readable(struct server *s, struct conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->hdr_have < WIRE_HEADER_LEN) {
			n = recv(c->fd, c->hdr + c->hdr_have, WIRE_HEADER_LEN - c->hdr_have, 0);
		} else {
			n = recv(c->fd, c->body + c->body_have, c->body_len - c->body_have, 0);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			conn_close(s, c, "read error");
			return;
		}
		if (n == 0 && (c->hdr_have < WIRE_HEADER_LEN || c->body_have < c->body_len)) {
			conn_close(s, c, c->hdr_have == 0 ? "peer closed" : "truncated frame");
			return;
		}
		c->progress_ms = now_ms();
		if (c->hdr_have < WIRE_HEADER_LEN) {
			c->hdr_have += (size_t)n;
			if (c->hdr_have < WIRE_HEADER_LEN)
				continue;
			c->body_len = buf_peek_be16(c->hdr);
			/* The cap is checked before anything is allocated. */
			if (c->body_len + WIRE_HEADER_LEN > s->cfg->max_frame) {
				conn_refuse(s, c, "frame too large");
				return;
			}
			c->body_have = 0;
			if ((c->body = malloc(c->body_len > 0 ? c->body_len : 1)) == NULL) {
				conn_close(s, c, "out of memory");
				return;
			}
		} else {
			c->body_have += (size_t)n;
		}
		if (c->hdr_have == WIRE_HEADER_LEN && c->body_have == c->body_len) {
			conn_dispatch(s, c);
			return;
		}
	}
}

static void accept_all(struct server *s, struct listener *l)
{
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		struct conn *c;
		struct epoll_event ev;
		int fd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("accept on %s: %s", l->addr->text, strerror(errno));
			return;
		}
		if (s->n_conns >= s->cfg->max_connections) {
			static const uint8_t busy[] = {0, 20, 0xff, 't', 'o', 'o', ' ', 'm', 'a', 'n', 'y',
						       ' ', 'c', 'o', 'n', 'n', 'e', 'c', 't', 'i',
						       'o', 'n', 's'};
			/* Best effort; the socket is non-blocking and fresh. */
			(void)!send(fd, busy, sizeof(busy), MSG_NOSIGNAL);
			close(fd);
			s->n_refused++;
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->tag.kind = EV_CONN;
		c->fd = fd;
		memcpy(&c->peer, &peer, sizeof(peer));
		audit_peer_text((const struct sockaddr *)&peer, c->peer_text, sizeof(c->peer_text));
		c->started_ms = c->progress_ms = now_ms();
		c->st = state_ref(s->state);
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			conn_free(c);
			continue;
		}
		c->next = s->conns;
		if (s->conns != NULL)
			s->conns->prev = c;
		s->conns = c;
		s->n_conns++;
		s->n_accepted++;
		log_debug("peer %s: connected", c->peer_text);
	}
}

static void job_done(struct server *s, struct job *j)
{
	struct conn *c = j->c;

	s->jobs_inflight--;
	if (j->kind == JOB_RELOAD) {
		s->reloading = 0;
		if (j->rc != 0) {
			log_error("reload failed, still serving serial %llu: %s",
				  (unsigned long long)s->state->serial, j->why);
		} else {
			log_info("reloaded: serial %llu, %zu clients (%zu ss cached)",
				 (unsigned long long)j->new_state->serial, j->new_state->n,
				 j->new_state->n_cached);
			/* Connections keep their own reference: the old state goes with the last. */
			state_unref(s->state);
			s->state = j->new_state;
		}
		notify_ready(s);
		free(j);
		return;
	}
	if (c->hello_job) {
		s->hs_inflight--;
		c->hello_job = 0;
	}
	c->busy = 0;
	if (j->body != NULL) {
		secmem_zero(j->body, j->len);
		free(j->body);
	}
	if (c->dead) {
		buf_free(j->out);
		c->next = s->graveyard;
		s->graveyard = c;
		free(j);
		return;
	}
	buf_free(c->out);
	c->out = j->out;
	j->out = NULL;
	c->close_after_write = j->close;
	c->progress_ms = now_ms();
	free(j);
	if (c->out == NULL) {
		conn_close(s, c, "no reply");
		return;
	}
	if (conn_flush(s, c) != 0)
		conn_close(s, c, "done");
}

static void drain_done(struct server *s)
{
	struct job *list, *j;
	uint64_t v;

	while (read(s->wakefd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&s->lock);
	list = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->lock);
	while ((j = list) != NULL) {
		list = j->next;
		job_done(s, j);
	}
}

static void start_reload(struct server *s)
{
	struct job *j;

	if (s->reloading) {
		log_warn("SIGHUP: a reload is already running");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		log_error("SIGHUP: out of memory");
		return;
	}
	log_info("SIGHUP: reloading bundle %s", s->cfg->bundle);
	server_notify("RELOADING=1");
	j->kind = JOB_RELOAD;
	s->reloading = 1;
	submit(s, j);
}

static void stop_listening(struct server *s)
{
	size_t i;

	for (i = 0; i < s->n_listeners; i++) {
		if (s->listeners[i].fd >= 0) {
			(void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->listeners[i].fd, NULL);
			close(s->listeners[i].fd);
			s->listeners[i].fd = -1;
		}
	}
}

static void handle_signals(struct server *s)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP && !s->stopping) {
			start_reload(s);
		} else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			if (!s->stopping) {
				log_info("signal %u: stopping (grace %us)", si.ssi_signo,
					 s->cfg->grace);
				server_notify("STOPPING=1");
				s->stopping = 1;
				s->stop_deadline = now_ms() + (uint64_t)s->cfg->grace * 1000;
				stop_listening(s);
			}
		}
	}
}

/* Deadlines; while stopping, also close connections with nothing in flight. */
static void sweep(struct server *s)
{
	uint64_t now = now_ms();
	struct conn *c, *next;

	for (c = s->conns; c != NULL; c = next) {
		uint64_t deadline;

		next = c->next;
		if (c->busy)
			continue;
		/* Stopping: a connection with nothing started goes now; a linked
		 * conversation may still send its Get and Bye within the grace. */
		if (s->stopping && c->hdr_have == 0 && (c->out == NULL || buf_len(c->out) == 0) &&
		    !handler_linked(c->sess)) {
			conn_close(s, c, "shutting down");
			continue;
		}
		deadline = c->progress_ms + (uint64_t)s->cfg->idle_timeout * 1000;
		if (!handler_linked(c->sess)) {
			uint64_t hs = c->started_ms + (uint64_t)s->cfg->handshake_timeout * 1000;
			if (hs < deadline)
				deadline = hs;
		}
		if (now >= deadline)
			conn_close(s, c, c->hdr_have > 0 ? "stalled mid-frame" : "timeout");
	}
}

int server_run(struct server *s)
{
	struct epoll_event evs[SERVER_MAX_EVENTS], ev;
	size_t i;
	int r = 0, n;

	if (s->sigfd < 0 && (r = server_signals(s)) != 0)
		return r;
	if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return err_sys("epoll_create1");
	if ((s->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		return err_sys("eventfd");
	ev.events = EPOLLIN;
	ev.data.ptr = &s->sig_tag;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sigfd, &ev) != 0)
		return err_sys("epoll_ctl signalfd");
	ev.data.ptr = &s->wake_tag;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wakefd, &ev) != 0)
		return err_sys("epoll_ctl eventfd");
	for (i = 0; i < s->n_listeners; i++) {
		ev.events = EPOLLIN;
		ev.data.ptr = &s->listeners[i];
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listeners[i].fd, &ev) != 0)
			return err_sys("epoll_ctl %s", s->listeners[i].addr->text);
	}
	if ((r = start_workers(s)) != 0)
		goto out;
	for (i = 0; i < s->n_listeners; i++)
		log_info("listening on %s", s->listeners[i].addr->text);
	notify_ready(s);

	for (;;) {
		if (s->stopping) {
			if (s->n_conns == 0 && s->jobs_inflight == 0)
				break;
			if (now_ms() >= s->stop_deadline) {
				log_warn("grace period over: dropping %zu connections", s->n_conns);
				break;
			}
		}
		n = epoll_wait(s->epfd, evs, SERVER_MAX_EVENTS, SERVER_TICK_MS);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = err_sys("epoll_wait");
			break;
		}
		for (i = 0; i < (size_t)n; i++) {
			struct ev_tag *tag = evs[i].data.ptr;
			switch (tag->kind) {
			case EV_LISTEN:
				if (!s->stopping)
					accept_all(s, (struct listener *)tag);
				break;
			case EV_SIGNAL:
				handle_signals(s);
				break;
			case EV_WAKE:
				drain_done(s);
				break;
			case EV_CONN: {
				struct conn *c = (struct conn *)tag;
				/* Closed earlier in this batch: still in the graveyard. */
				if (c->fd < 0)
					break;
				if (c->busy) {
					if (evs[i].events & (EPOLLHUP | EPOLLERR))
						conn_close(s, c, "peer hung up");
					break;
				}
				if (evs[i].events & EPOLLOUT) {
					if (conn_flush(s, c) != 0)
						conn_close(s, c, "done");
				} else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
					if (c->out != NULL && buf_len(c->out) > 0)
						break;
					conn_readable(s, c);
				}
				break;
			}
			}
		}
		sweep(s);
		bury(s);
	}
out:
	stop_workers(s);
	drain_done(s);
	bury(s);
	log_info("stopped: %llu connections served, %llu refused at the limit, %llu rate limited",
		 s->n_accepted, s->n_refused, s->n_rate_limited);
	return r;
}

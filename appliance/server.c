// SPDX-License-Identifier: ISC
/*
 * The monitor: everything of appliance-server that holds a key, a PIN or a
 * secret. It owns no network socket once the network process runs: it
 * binds the listening sockets, hands them to appliance-net (a fresh exec,
 * sandboxed) and from then on only reads (connection, frame) messages from
 * it over a socketpair and writes back the frames to send. Hellos go to a
 * pool of worker threads (token DH); Get and Bye are answered on the loop.
 * Whatever the network process sends is checked as untrusted input.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef COFFER_APPL_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "config.h" /* COFFER_LIBEXECDIR */

#include "audit.h"
#include "bounds.h"
#include "buf.h"
#include "clock.h"
#include "cfg.h"
#include "frame.h"
#include "handler.h"
#include "ipc.h"
#include "listenfds.h"
#include "log.h"
#include "secmem.h"
#include "state.h"
#include "token.h"

#define SERVER_TICK_MS 100
#define SERVER_AUDIT_WAIT_MS 5000 /* a release waits this long for its audit record */
#define SERVER_MAX_EVENTS 64
#define SERVER_BACKLOG 512
#define SERVER_IPC_READ (128 * 1024)
#define SERVER_NET_EXTRA_MS 5000 /* past the grace, the network process is killed */
#define SERVER_NET_NAME "appliance-net"

enum ev_kind {
	EV_SIGNAL = 1,
	EV_WAKE,
	EV_IPC,
};

struct ev_tag {
	enum ev_kind kind;
};

/* One client connection as the monitor knows it (named by the network process). */
struct mconn {
	struct ipc_link link;
	char peer_text[64];
	struct mconn *prev, *next;
	int busy; /* its Hello is with a worker */
	int dead; /* gone while busy: freed when the job returns */
	struct appl_state *st;
	struct handler *sess;
};

enum job_kind {
	JOB_FRAME = 1,
	JOB_RELOAD,
};

struct job {
	struct job *next;
	struct server *srv;
	struct job *pprev, *pnext; /* s->parked: releases waiting for their record */
	int parked;
	uint64_t audit_deadline;   /* CLOCK_MONOTONIC ms: then it is taken back */
	int audit_rc;
	enum job_kind kind;
	struct mconn *c;
	uint8_t type;
	uint8_t *body;
	size_t len;
	struct buf *out;
	int close;
	int rc;
	int handshake;                /* counted in hs_inflight */
	int sent;                     /* the worker queued the reply itself */
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
	/* listening sockets: held only until the network process has them */
	int listen_fds[CFG_MAX_LISTEN];
	size_t n_listen;
	/* the network process */
	pid_t net_pid;
	int ipc_fd;
	int ipc_watch_out;
	struct buf *ipc_in, *ipc_out;
	int net_ready;
	/* the loop */
	int epfd, sigfd, wakefd;
	struct ev_tag sig_tag, wake_tag, ipc_tag;
	struct ipc_map map;
	struct mconn *conns;
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
	struct job *parked;
	int quit;
	server_loader_fn loader;
	void *loader_ctx;
	/* counters for the log */
	unsigned long long n_frames, n_refusals;
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


static struct mconn *conn_of(struct ipc_link *l)
{
	return l == NULL ? NULL : (struct mconn *)((char *)l - offsetof(struct mconn, link));
}

/*
 * The writer thread wrote (or failed) the record of a parked release: the
 * job goes back to the loop with the result, as a worker's would. It may
 * come before the loop has parked the job (it touches nothing the loop
 * reads before taking the done list, under s->lock); the loop parks it
 * first anyway, on this same turn, and finishes it from the done list.
 */
static void release_recorded(void *cookie, int rc)
{
	struct job *j = cookie;
	struct server *s = j->srv;
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	j->audit_rc = rc;
	j->next = s->done;
	s->done = j;
	pthread_mutex_unlock(&s->lock);
	while (write(s->wakefd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
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
	s->env.release_done = release_recorded;
	s->env.clock_skew_ns = (uint64_t)c->clock_skew * 1000000000ULL;
	s->env.started_ns = clock_real_ns();
	pthread_mutex_init(&s->replay_lock, NULL);
	s->env.replay_lock = &s->replay_lock;
	s->epfd = s->sigfd = s->wakefd = s->ipc_fd = -1;
	s->net_pid = -1;
	s->sig_tag.kind = EV_SIGNAL;
	s->wake_tag.kind = EV_WAKE;
	s->ipc_tag.kind = EV_IPC;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if ((s->ipc_in = buf_new(0)) == NULL || (s->ipc_out = buf_new(0)) == NULL) {
		server_free(s);
		return err_set(ERR_ALLOC, "IPC buffers");
	}
	if ((r = ipc_map_init(&s->map, c->max_connections)) != 0) {
		server_free(s);
		return r;
	}
	/* The replay table outlives reloads: a Hello replayed across a reload is still old. */
	if ((r = handler_replay_new(&s->env.replay)) != 0) {
		server_free(s);
		return r;
	}
	*out = s;
	return 0;
}

static void bury_conn(struct mconn *c)
{
	handler_free(c->sess);
	state_unref(c->st);
	free(c);
}

void server_free(struct server *s)
{
	size_t i;
	struct mconn *c, *next;

	if (s == NULL)
		return;
	if (s->parked != NULL) {
		struct job *j, *jn;
		/* No completion may come for them once they are gone. */
		audit_forget_done(s->audit);
		for (j = s->parked; j != NULL; j = jn) {
			jn = j->pnext;
			if (j->c->dead)
				bury_conn(j->c);
			buf_free(j->out);
			free(j);
		}
		s->parked = NULL;
		s->done = NULL; /* what it held was parked */
	}
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		bury_conn(c);
	}
	for (i = 0; i < s->n_listen; i++)
		if (s->listen_fds[i] >= 0)
			close(s->listen_fds[i]);
	if (s->ipc_fd >= 0)
		close(s->ipc_fd);
	if (s->net_pid > 0) {
		/* Never leave it behind: end-of-file on the IPC socket ends it, and
		 * so does the kill (which fails if it has not dropped to our uid yet). */
		(void)kill(s->net_pid, SIGKILL);
		while (waitpid(s->net_pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->wakefd >= 0)
		close(s->wakefd);
	buf_free(s->ipc_in);
	buf_free(s->ipc_out);
	ipc_map_clear(&s->map);
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
		s->listen_fds[s->n_listen++] = fd;
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

int server_adopt(struct server *s, struct listenfds *l)
{
	size_t i;

	for (i = 0; i < l->n && s->n_listen < CFG_MAX_LISTEN; i++) {
		s->listen_fds[s->n_listen++] = l->fds[i].fd;
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

static int ipc_flush(struct server *s);

/* ---- the network process ---- */

/*
 * Where appliance-net is: beside this executable (a build tree, or a
 * package that puts both in one directory), else the build's libexec
 * directory. Both are as trusted as appliance-server itself.
 */
static int net_binary(const struct cfg *c, char *path, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (c->net_path != NULL) {
		if ((size_t)snprintf(path, cap, "%s", c->net_path) >= cap)
			return err_set(ERR_TOO_LARGE, "network process path");
		return access(path, X_OK) == 0 ? 0 : err_sys("network process %s", path);
	}
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(path, cap, "%s/%s", self, SERVER_NET_NAME) < cap &&
			    access(path, X_OK) == 0)
				return 0;
		}
	}
	if ((size_t)snprintf(path, cap, "%s/%s", COFFER_LIBEXECDIR, SERVER_NET_NAME) >= cap)
		return err_set(ERR_TOO_LARGE, "network process path");
	return access(path, X_OK) == 0 ? 0 : err_sys("network process %s", path);
}

/* The ids the network process runs as: --user, or nobody when we are root. */
static int net_ids(const struct cfg *c, struct ipc_config *ic)
{
	const char *user = c->user != NULL ? c->user : "nobody";
	struct passwd *pw;

	if (geteuid() != 0)
		return 0; /* unprivileged: it stays who we are, under Landlock */
	errno = 0;
	if ((pw = getpwnam(user)) == NULL)
		return err_set(ERR_NOT_FOUND, "user %s for the network process: %s", user,
			       errno != 0 ? strerror(errno) : "no such user");
	if (pw->pw_uid == 0)
		return err_set(ERR_PERMISSION, "the network process may not run as root (user %s)",
			       user);
	ic->drop = 1;
	ic->uid = pw->pw_uid;
	ic->gid = pw->pw_gid;
	return 0;
}

/* Only the sanitizers' settings pass to the network process: never the
 * monitor's environment (a PIN source may be an environment variable). */
static void net_environment(char **envp, size_t cap)
{
	static const char *const keep[] = {"ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS="};
	extern char **environ;
	size_t n = 0, i, k;

	for (i = 0; environ != NULL && environ[i] != NULL && n + 1 < cap; i++)
		for (k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
			if (strncmp(environ[i], keep[k], strlen(keep[k])) == 0)
				envp[n++] = environ[i];
	envp[n] = NULL;
}

int server_start_net(struct server *s)
{
	struct ipc_config ic;
	char path[PATH_MAX];
	char *argv[] = {(char *)SERVER_NET_NAME, NULL};
	char *envp[8];
	int sv[2] = {-1, -1}, moved[1 + CFG_MAX_LISTEN];
	pid_t parent = getpid(), pid;
	size_t i, n = s->n_listen;
	int r;

	if (s->net_pid > 0)
		return 0;
	if (n == 0)
		return err_set(ERR_INVALID_ARG, "nothing to listen on");
	memset(&ic, 0, sizeof(ic));
	ic.version = IPC_VERSION;
	ic.max_connections = s->cfg->max_connections;
	ic.max_frame = s->cfg->max_frame;
	ic.handshake_timeout = s->cfg->handshake_timeout;
	ic.idle_timeout = s->cfg->idle_timeout;
	ic.max_handshakes = s->cfg->max_handshakes;
	ic.rate = s->cfg->rate;
	ic.burst = s->cfg->burst;
	ic.grace = s->cfg->grace;
	ic.max_per_source = s->cfg->max_per_source;
	ic.startups_start = s->cfg->startups[0];
	ic.startups_rate = s->cfg->startups[1];
	ic.startups_full = s->cfg->startups[2];
	ic.session_timeout = s->cfg->session_timeout;
	ic.token_budget = s->cfg->token_budget;
	ic.log_level = (uint8_t)log_get_level();
	ic.n_listen = (uint8_t)n;
	if ((r = net_binary(s->cfg, path, sizeof(path))) != 0 || (r = net_ids(s->cfg, &ic)) != 0)
		return r;
	if ((r = ipc_put_hdr(s->ipc_out, IPC_CONFIG, 0, 0, IPC_CONFIG_LEN)) != 0 ||
	    (r = ipc_config_put(s->ipc_out, &ic)) != 0)
		return r;
	net_environment(envp, sizeof(envp) / sizeof(envp[0]));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return err_sys("socketpair");
	if ((pid = fork()) < 0) {
		r = err_sys("fork");
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		/* The child: only async-signal-safe calls until execve. */
		static const char nodup[] = "appliance-server: cannot pass descriptors to the network process\n";
		static const char noexec[] = "appliance-server: cannot execute the network process\n";
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != parent)
			_exit(127);
		/* Out of the way of the fixed numbers first (above them, so it works
		 * under a low RLIMIT_NOFILE too), then into place. */
		moved[0] = fcntl(sv[1], F_DUPFD_CLOEXEC, IPC_FD + (int)n + 1);
		for (i = 0; i < n; i++)
			moved[1 + i] = fcntl(s->listen_fds[i], F_DUPFD_CLOEXEC, IPC_FD + (int)n + 1);
		for (i = 0; i <= n; i++) {
			if (moved[i] < 0 || dup2(moved[i], IPC_FD + (int)i) < 0) {
				(void)!write(STDERR_FILENO, nodup, sizeof(nodup) - 1);
				_exit(127);
			}
		}
		if (close_range(IPC_FD + (unsigned)n + 1, ~0U, 0) != 0) {
			(void)!write(STDERR_FILENO, nodup, sizeof(nodup) - 1);
			_exit(127);
		}
		execve(path, argv, envp);
		(void)!write(STDERR_FILENO, noexec, sizeof(noexec) - 1);
		_exit(127);
	}
	close(sv[1]);
	s->net_pid = pid;
	s->ipc_fd = sv[0];
	/* The configuration goes now: the child waits for it before anything else. */
	if ((r = ipc_flush(s)) != 0)
		return r;
	if (buf_len(s->ipc_out) != 0)
		return err_set(ERR_IO, "IPC: the configuration did not fit the socket buffer");
	if (fcntl(s->ipc_fd, F_SETFL, O_NONBLOCK) != 0)
		return err_sys("IPC socket");
	/* From here on the monitor holds no network socket. */
	for (i = 0; i < s->n_listen; i++) {
		close(s->listen_fds[i]);
		s->listen_fds[i] = -1;
	}
	s->n_listen = 0;
	log_info("network process %s: pid %ld", path, (long)pid);
	return 0;
}

pid_t server_net_pid(const struct server *s)
{
	return s->net_pid;
}

struct buf *server_ipc_output(struct server *s)
{
	return s->ipc_out;
}

void server_set_test_clock(struct server *s, uint64_t now_ns)
{
	s->env.test_now_ns = now_ns;
	s->env.started_ns = now_ns;
}

void server_set_test_ephemeral(struct server *s, const uint8_t *priv)
{
	s->env.test_ephemeral = priv;
}

/* ---- IPC ---- */

static int ipc_watch(struct server *s, int want_out)
{
	struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = &s->ipc_tag};

	if (s->ipc_watch_out == want_out || s->epfd < 0)
		return 0;
	s->ipc_watch_out = want_out;
	return epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->ipc_fd, &ev) == 0 ? 0 : err_sys("epoll_ctl IPC");
}

/*
 * s->ipc_out and the writes to the IPC socket are under s->lock: a worker
 * that finished a Hello queues and sends its Link itself (worker_finish).
 * Write what is queued: 0 when all is out, 1 when the socket is full, or
 * -errno. s->lock held.
 */
static int ipc_send_locked(struct server *s)
{
	while (buf_len(s->ipc_out) > 0) {
		ssize_t w = send(s->ipc_fd, buf_ptr(s->ipc_out), buf_len(s->ipc_out), MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -errno;
		}
		if (buf_consume(s->ipc_out, (size_t)w) != 0)
			return -EINVAL;
	}
	return 0;
}

static int ipc_flush(struct server *s)
{
	size_t left;
	int r;

	if (s->ipc_fd < 0)
		return 0; /* no network process (the IPC fuzz target) */
	pthread_mutex_lock(&s->lock);
	r = ipc_send_locked(s);
	left = buf_len(s->ipc_out);
	pthread_mutex_unlock(&s->lock);
	if (r < 0) {
		errno = -r;
		return err_sys("IPC write");
	}
	if (r == 0)
		return ipc_watch(s, 0);
	/* A network process that stops reading is broken or hostile. */
	if (left > IPC_MAX_PENDING)
		return err_set(ERR_PROTOCOL, "the network process stopped reading (%zu bytes queued)",
			       left);
	return ipc_watch(s, 1);
}

/* Append one message to s->ipc_out; s->lock held. */
static void ipc_queue_locked(struct server *s, uint8_t type, uint8_t flags, uint64_t conn,
			     const uint8_t *body, size_t len)
{
	int r;

	if ((r = ipc_put(s->ipc_out, type, flags, conn, body, len)) != 0)
		fatal_fr(r, "IPC %s", ipc_type_name(type));
}

static void ipc_queue(struct server *s, uint8_t type, uint8_t flags, uint64_t conn,
		      const uint8_t *body, size_t len)
{
	pthread_mutex_lock(&s->lock);
	ipc_queue_locked(s, type, flags, conn, body, len);
	pthread_mutex_unlock(&s->lock);
}

/* Hand a reply (whole frames) to the network process, in messages that each
 * end at a frame boundary; the last one carries `flags`. s->lock held. */
static void put_reply(struct server *s, uint64_t conn, const struct buf *out, uint8_t flags)
{
	const uint8_t *p = out != NULL ? buf_ptr(out) : NULL;
	size_t left = out != NULL ? buf_len(out) : 0;

	while (left > 0) {
		size_t take = 0;
		while (take + WIRE_HEADER_LEN <= left) {
			size_t f = WIRE_HEADER_LEN + buf_peek_be16(p + take);
			if (take + f > IPC_MAX_BODY)
				break;
			take += f;
		}
		if (take == 0 || take > left)
			fatal("malformed reply frames (%zu bytes)", left);
		ipc_queue_locked(s, IPC_SEND, take == left ? flags : IPC_F_MORE, conn, p, take);
		p += take;
		left -= take;
	}
	if (out == NULL || buf_len(out) == 0)
		ipc_queue_locked(s, IPC_SEND, flags, conn, NULL, 0);
}

static void send_reply(struct server *s, uint64_t conn, const struct buf *out, uint8_t flags)
{
	pthread_mutex_lock(&s->lock);
	put_reply(s, conn, out, flags);
	pthread_mutex_unlock(&s->lock);
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
			       j->len, j->out, &j->close, j);
	if (j->rc != 0 && j->rc != HANDLER_PENDING) {
		warn_fr(j->rc, "peer %s: %s frame", j->c->peer_text,
			j->type == FRAME_HELLO ? "Hello" : "session");
		j->close = 1;
	}
	if (j->body != NULL) {
		secmem_zero(j->body, j->len);
		free(j->body);
		j->body = NULL;
	}
}

/*
 * A worker finished job j: it goes on the done list for the loop's
 * bookkeeping. A Hello's answer (Link, or an Error) is queued and sent here,
 * in the same hold of s->lock, so that the loop need not wake up between the
 * token's DH and the network process (a wake-up per handshake cost more than
 * the IPC write). The loop is woken only when it must act: a failed job, a
 * reload, or an IPC socket that did not take everything.
 */
static void worker_finish(struct server *s, struct job *j)
{
	uint64_t one = 1;
	int wake = 1;

	pthread_mutex_lock(&s->lock);
	if (j->kind == JOB_FRAME && j->handshake && j->rc == 0 && j->out != NULL && s->ipc_fd >= 0) {
		/* c->link.id is fixed for c's life; c outlives its busy job. */
		put_reply(s, j->c->link.id, j->out, j->close ? IPC_F_CLOSE : 0);
		j->sent = 1;
		wake = ipc_send_locked(s) != 0;
	}
	j->next = s->done;
	s->done = j;
	pthread_mutex_unlock(&s->lock);
	if (wake)
		while (write(s->wakefd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
}

static void *worker_main(void *arg)
{
	struct server *s = arg;

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
		worker_finish(s, j);
	}
	return NULL;
}

static void job_done(struct server *s, struct job *j);

/* Take the jobs the workers finished and answer them (or, for a Link a
 * worker sent, do the bookkeeping). */
static void drain_done(struct server *s)
{
	struct job *list, *j;

	pthread_mutex_lock(&s->lock);
	list = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->lock);
	while ((j = list) != NULL) {
		list = j->next;
		job_done(s, j);
	}
}

static void submit(struct server *s, struct job *j)
{
	s->jobs_inflight++;
	if (s->n_threads == 0) {
		/* No pool (the IPC fuzz target): the job runs here and now. */
		run_job(s, j);
		job_done(s, j);
		return;
	}
	j->next = NULL;
	pthread_mutex_lock(&s->lock);
	if (s->queue_tail != NULL)
		s->queue_tail->next = j;
	else
		s->queue_head = j;
	s->queue_tail = j;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
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

/* ---- conversations ---- */

static void conn_forget(struct server *s, struct mconn *c)
{
	ipc_map_del(&s->map, &c->link);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	s->n_conns--;
	if (c->busy)
		c->dead = 1; /* the worker still uses it; freed when the job returns */
	else
		bury_conn(c);
}

static void audit_refusal(struct server *s, const char *peer, const char *result, const char *why)
{
	struct audit_event ev;
	int r;

	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_HANDSHAKE;
	ev.peer = peer;
	ev.result = result;
	ev.reason = why;
	ev.keys = -1;
	if ((r = audit_refused(s->audit, &ev)) != 0)
		warn_fr(r, "%s", "audit");
	s->n_refusals++;
}

static void park(struct server *s, struct job *j)
{
	j->parked = 1;
	j->audit_deadline = clock_mono_ms() + SERVER_AUDIT_WAIT_MS;
	j->pprev = NULL;
	j->pnext = s->parked;
	if (s->parked != NULL)
		s->parked->pprev = j;
	s->parked = j;
}

static void unpark(struct server *s, struct job *j)
{
	if (j->pprev != NULL)
		j->pprev->pnext = j->pnext;
	else
		s->parked = j->pnext;
	if (j->pnext != NULL)
		j->pnext->pprev = j->pprev;
	j->pprev = j->pnext = NULL;
	j->parked = 0;
}

static void job_done(struct server *s, struct job *j)
{
	struct mconn *c = j->c;

	if (j->kind == JOB_FRAME && j->rc == HANDLER_PENDING) {
		if (!j->parked) {
			/* A release waits for its audit record: release_recorded
			 * (or expire_parked) brings it back here. */
			park(s, j);
			return;
		}
		unpark(s, j);
		j->rc = 0;
		if (!c->dead) {
			j->rc = handler_release_done(&s->env, c->sess, c->peer_text, j->audit_rc,
						     j->out, &j->close);
			if (j->rc != 0)
				j->close = 1;
		}
	}
	s->jobs_inflight--;
	if (j->kind == JOB_RELOAD) {
		s->reloading = 0;
		if (j->rc != 0) {
			char status[320];
			log_error("reload failed, still serving serial %llu: %s",
				  (unsigned long long)s->state->serial, j->why);
			snprintf(status, sizeof(status),
				 "READY=1\nSTATUS=reload failed, still serving serial %llu: %s",
				 (unsigned long long)s->state->serial, j->why);
			server_notify(status);
		} else {
			log_info("reloaded: serial %llu, %zu clients (%zu ss cached)",
				 (unsigned long long)j->new_state->serial, j->new_state->n,
				 j->new_state->n_cached);
			/* Connections keep their own reference: the old state goes with the last. */
			state_unref(s->state);
			s->state = j->new_state;
			notify_ready(s);
		}
		free(j);
		return;
	}
	if (j->handshake)
		s->hs_inflight--;
	c->busy = 0;
	if (j->body != NULL) {
		secmem_zero(j->body, j->len);
		free(j->body);
	}
	if (c->dead) {
		buf_free(j->out);
		bury_conn(c);
		free(j);
		return;
	}
	if (j->rc != 0 || j->out == NULL) {
		ipc_queue(s, IPC_CLOSE, 0, c->link.id, NULL, 0);
		conn_forget(s, c);
	} else {
		if (!j->sent)
			send_reply(s, c->link.id, j->out, j->close ? IPC_F_CLOSE : 0);
		if (j->close)
			conn_forget(s, c); /* the network process closes it after writing */
	}
	buf_free(j->out);
	free(j);
}

/*
 * Releases whose record the audit log has not taken within
 * SERVER_AUDIT_WAIT_MS (a stalled disk): the record is taken back out of
 * the queue, so it is never written, and the client gets "audit
 * unavailable". One the writer has begun cannot be taken back: it waits.
 */
static void expire_parked(struct server *s)
{
	struct job *j, *next;
	uint64_t now = clock_mono_ms();

	for (j = s->parked; j != NULL; j = next) {
		next = j->pnext;
		if (now < j->audit_deadline)
			continue;
		j->audit_deadline = UINT64_MAX;
		if (!audit_cancel(s->audit, j))
			continue; /* being written: its completion comes */
		j->audit_rc = err_set(ERR_BUSY, "the audit log took no record for %u ms",
				      SERVER_AUDIT_WAIT_MS);
		job_done(s, j);
	}
}

static int on_open(struct server *s, const struct ipc_msg *m)
{
	struct sockaddr_storage peer;
	struct mconn *c;
	struct buf *b;
	int r;

	if (m->conn == 0 || ipc_map_find(&s->map, m->conn) != NULL)
		return err_set(ERR_PROTOCOL, "OPEN of connection %llu, which is open or reserved",
			       (unsigned long long)m->conn);
	if ((b = buf_from(m->body, m->len)) == NULL)
		return err_set(ERR_ALLOC, "IPC");
	r = ipc_peer_get(b, &peer);
	if (r == 0 && buf_expect_end(b) != 0)
		r = err_set(ERR_PROTOCOL, "OPEN: trailing bytes");
	buf_free(b);
	if (r != 0)
		return r;
	if (s->n_conns >= s->cfg->max_connections + IPC_CLOSED_BATCH) {
		/* More than the network process may have (its limit, and the
		 * CLOSED it may hold back): refuse this one. */
		ipc_queue(s, IPC_CLOSE, 0, m->conn, NULL, 0);
		return 0;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return err_set(ERR_ALLOC, "connection");
	c->link.id = m->conn;
	ipc_peer_text((const struct sockaddr *)&peer, c->peer_text, sizeof(c->peer_text));
	c->st = state_ref(s->state);
	ipc_map_add(&s->map, &c->link);
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	return 0;
}

static int on_frame(struct server *s, const struct ipc_msg *m)
{
	struct mconn *c = conn_of(ipc_map_find(&s->map, m->conn));
	struct job *j;
	uint8_t type;
	size_t len;

	if (m->len < 1)
		return err_set(ERR_PROTOCOL, "FRAME without a type");
	type = m->body[0];
	len = m->len - 1;
	if (!frame_type_known(type) || len > frame_max_len(type))
		return err_set(ERR_PROTOCOL, "FRAME of type 0x%02x, %zu bytes", type, len);
	if (c != NULL && (c->busy || s->hs_inflight >= s->cfg->max_handshakes)) {
		/* A worker may have answered without waking the loop: its job
		 * waits on the done list for the bookkeeping. */
		drain_done(s);
		c = conn_of(ipc_map_find(&s->map, m->conn));
	}
	if (c == NULL)
		return 0; /* closed here while the frame was on its way */
	if (c->busy)
		return err_set(ERR_PROTOCOL, "FRAME for a connection whose last frame is unanswered");
	if (type == FRAME_HELLO && c->sess == NULL && s->hs_inflight >= s->cfg->max_handshakes) {
		struct buf *out = buf_new(0);
		audit_refusal(s, c->peer_text, "busy", "too many handshakes in flight");
		if (out != NULL && handler_plain_error(out, "server busy") == 0) {
			send_reply(s, c->link.id, out, IPC_F_CLOSE);
		} else {
			ipc_queue(s, IPC_CLOSE, 0, c->link.id, NULL, 0);
		}
		buf_free(out);
		conn_forget(s, c);
		return 0;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return err_set(ERR_ALLOC, "job");
	if ((j->body = malloc(len > 0 ? len : 1)) == NULL) {
		free(j);
		return err_set(ERR_ALLOC, "job");
	}
	memcpy(j->body, m->body + 1, len);
	/* Set before the handler runs: a parked release's completion may come
	 * from the audit writer before job_done parks it (it is then taken
	 * from the done list on this thread, after the parking). */
	j->srv = s;
	j->kind = JOB_FRAME;
	j->c = c;
	j->type = type;
	j->len = len;
	c->busy = 1;
	s->n_frames++;
	/* A Hello needs the token: a worker. Get and Bye need only AEAD and
	 * copies: answered here, without the round trip through the queue. */
	if (type == FRAME_HELLO && c->sess == NULL) {
		j->handshake = 1;
		s->hs_inflight++;
		submit(s, j);
		return 0;
	}
	s->jobs_inflight++;
	run_job(s, j);
	job_done(s, j);
	return 0;
}

static int on_refused(struct server *s, const struct ipc_msg *m)
{
	static const char *const results[IPC_REFUSED_MAX_] = {
		[IPC_REFUSED_RATE] = "rate-limited",
		[IPC_REFUSED_BUSY] = "busy",
		[IPC_REFUSED_CONNECTIONS] = "too-many-connections",
		[IPC_REFUSED_PER_SOURCE] = "too-many-connections",
		[IPC_REFUSED_STARTUPS] = "too-many-connections",
		[IPC_REFUSED_BUDGET] = "busy",
		[IPC_REFUSED_REPLAY] = "replay",
	};
	static const char *const reasons[IPC_REFUSED_MAX_] = {
		[IPC_REFUSED_RATE] = "handshake rate per address exceeded",
		[IPC_REFUSED_BUSY] = "too many handshakes in flight",
		[IPC_REFUSED_CONNECTIONS] = "connection limit reached",
		[IPC_REFUSED_PER_SOURCE] = "connections per source address",
		[IPC_REFUSED_STARTUPS] = "too many unauthenticated connections",
		[IPC_REFUSED_BUDGET] = "token budget exhausted",
		[IPC_REFUSED_REPLAY] = "Hello with an ephemeral key seen before",
	};
	struct sockaddr_storage peer;
	char text[64];
	struct buf *b;
	uint8_t why = 0;
	int r;

	if ((b = buf_from(m->body, m->len)) == NULL)
		return err_set(ERR_ALLOC, "IPC");
	if ((r = buf_get_u8(b, &why)) != 0 || why == 0 || why >= IPC_REFUSED_MAX_)
		r = err_set(ERR_PROTOCOL, "REFUSED: reason %u", why);
	else if ((r = ipc_peer_get(b, &peer)) == 0 && buf_expect_end(b) != 0)
		r = err_set(ERR_PROTOCOL, "REFUSED: trailing bytes");
	buf_free(b);
	if (r != 0)
		return r;
	ipc_peer_text((const struct sockaddr *)&peer, text, sizeof(text));
	audit_refusal(s, text, results[why], reasons[why]);
	return 0;
}

static int server_ipc_message(struct server *s, const struct ipc_msg *m)
{
	struct mconn *c;

	switch (m->type) {
	case IPC_READY:
		if (m->len != 0 || m->conn != 0 || s->net_ready)
			return err_set(ERR_PROTOCOL, "unexpected READY");
		s->net_ready = 1;
		notify_ready(s);
		return 0;
	case IPC_OPEN:
		return on_open(s, m);
	case IPC_FRAME:
		return on_frame(s, m);
	case IPC_CLOSED:
		if (m->len != 0)
			return err_set(ERR_PROTOCOL, "CLOSED with a body");
		if ((c = conn_of(ipc_map_find(&s->map, m->conn))) != NULL)
			conn_forget(s, c);
		return 0;
	case IPC_REFUSED:
		if (m->conn != 0)
			return err_set(ERR_PROTOCOL, "REFUSED for a connection");
		return on_refused(s, m);
	default:
		return err_set(ERR_PROTOCOL, "the network process sent %s", ipc_type_name(m->type));
	}
}

int server_ipc_input(struct server *s, const uint8_t *p, size_t len)
{
	struct ipc_msg m;
	int r;

	if ((r = buf_put(s->ipc_in, p, len)) != 0)
		return r;
	while ((r = ipc_get(s->ipc_in, &m)) == 0)
		if ((r = server_ipc_message(s, &m)) != 0)
			return r;
	return r == ERR_INCOMPLETE ? 0 : r;
}

static int ipc_readable(struct server *s)
{
	for (;;) {
		uint8_t *p;
		ssize_t got;
		int r;

		if ((r = buf_reserve(s->ipc_in, SERVER_IPC_READ, &p)) != 0)
			return r;
		got = recv(s->ipc_fd, p, SERVER_IPC_READ, 0);
		if (buf_consume_end(s->ipc_in, SERVER_IPC_READ - (got > 0 ? (size_t)got : 0)) != 0)
			return ERR_INTERNAL;
		if (got == 0)
			return ERR_IO;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == ECONNRESET)
				return ERR_IO; /* gone, with unread bytes of ours */
			return err_sys("IPC read");
		}
		if ((r = server_ipc_input(s, NULL, 0)) != 0)
			return r;
		/* Short of the buffer: the socket is empty (level-triggered: epoll
		 * says when more comes), so no read just to hear EAGAIN. */
		if ((size_t)got < SERVER_IPC_READ)
			return 0;
		/* More to read: the replies so far go out first, and a network
		 * process that sends without reading meets IPC_MAX_PENDING here,
		 * not after a turn that may never end. */
		if ((r = ipc_flush(s)) != 0)
			return r;
	}
}

/* ---- signals, reload, stop ---- */

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

static void begin_stop(struct server *s, unsigned signo)
{
	if (s->stopping)
		return;
	log_info("signal %u: stopping (grace %us)", signo, s->cfg->grace);
	server_notify("STOPPING=1");
	s->stopping = 1;
	s->stop_deadline = clock_mono_ms() + (uint64_t)s->cfg->grace * 1000 + SERVER_NET_EXTRA_MS;
	ipc_queue(s, IPC_SHUTDOWN, 0, 0, NULL, 0);
}

static void handle_signals(struct server *s)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP && !s->stopping)
			start_reload(s);
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			begin_stop(s, si.ssi_signo);
	}
}

/* How the network process ended, for the log and the audit trail. */
static void describe_exit(int status, char *out, size_t cap)
{
	if (WIFEXITED(status)) {
		snprintf(out, cap, "exited with status %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		snprintf(out, cap, "killed by signal %d (%s)%s", sig, strsignal(sig),
			 sig == SIGSYS ? ": a system call outside the sandbox's allow-list" : "");
	} else {
		snprintf(out, cap, "ended (status 0x%x)", (unsigned)status);
	}
}

static void audit_service(struct server *s, const char *result, const char *reason)
{
	struct audit_event ev;
	int r;

	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_SERVICE;
	ev.result = result;
	ev.reason = reason;
	ev.keys = -1;
	if ((r = audit_write(s->audit, &ev)) != 0)
		warn_fr(r, "%s", "audit");
}

/*
 * The network process is gone (or must go): collect it. A clean exit after
 * a stop is the end of the service; anything else ends it too, fail closed
 * (systemd restarts the unit), with the reason in the log and the audit trail.
 */
static int net_ended(struct server *s, int why)
{
	char how[160], reason[400];
	int status = 0;

	if (why != ERR_IO) {
		error_fr(why, "network process %ld", (long)s->net_pid);
		(void)kill(s->net_pid, SIGKILL);
	}
	while (waitpid(s->net_pid, &status, 0) < 0 && errno == EINTR)
		;
	s->net_pid = -1;
	describe_exit(status, how, sizeof(how));
	if (why == ERR_IO && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_info("network process stopped");
		return 0;
	}
	snprintf(reason, sizeof(reason), "%s%s%s", how, why != ERR_IO ? ": " : "",
		 why != ERR_IO ? err_msg(why) : "");
	log_error("network process %s: the appliance stops (fail closed)", reason);
	audit_service(s, "network-process-died", reason);
	server_notify("STATUS=network process died; stopping");
	return err_set(ERR_IO, "network process %s", reason);
}

int server_run(struct server *s)
{
	struct epoll_event evs[SERVER_MAX_EVENTS], ev;
	uint64_t wake;
	size_t i;
	int r = 0, n;

	if (s->sigfd < 0 && (r = server_signals(s)) != 0)
		return r;
	if (s->net_pid <= 0 && (r = server_start_net(s)) != 0)
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
	ev.data.ptr = &s->ipc_tag;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->ipc_fd, &ev) != 0)
		return err_sys("epoll_ctl IPC");
	if ((r = start_workers(s)) != 0)
		goto out;
	if ((r = ipc_flush(s)) != 0)
		goto out;

	for (;;) {
		if (s->stopping && clock_mono_ms() >= s->stop_deadline) {
			log_warn("the network process did not stop within the grace period: killing it");
			(void)kill(s->net_pid, SIGKILL);
			while (waitpid(s->net_pid, NULL, 0) < 0 && errno == EINTR)
				;
			s->net_pid = -1;
			break;
		}
		n = epoll_wait(s->epfd, evs, SERVER_MAX_EVENTS, SERVER_TICK_MS);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = err_sys("epoll_wait");
			break;
		}
		for (i = 0; i < (size_t)n && r == 0; i++) {
			struct ev_tag *tag = evs[i].data.ptr;

			switch (tag->kind) {
			case EV_SIGNAL:
				handle_signals(s);
				break;
			case EV_WAKE:
				while (read(s->wakefd, &wake, sizeof(wake)) < 0 && errno == EINTR)
					;
				break;
			case EV_IPC:
				if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
					r = ipc_readable(s);
				break;
			}
		}
		/* Every turn, not only on a wake: a worker that sent its Link
		 * itself left its job here without waking the loop. */
		drain_done(s);
		if (s->parked != NULL)
			expire_parked(s);
		/* Replies of this turn go out in one write. */
		if (r == 0)
			r = ipc_flush(s);
		if (r != 0) {
			r = net_ended(s, r);
			break;
		}
	}
out:
	stop_workers(s);
	drain_done(s);
	log_info("stopped: %llu frames answered, %llu refusals recorded", s->n_frames,
		 s->n_refusals);
	return r;
}

// SPDX-License-Identifier: ISC
#include "credserve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "credpolicy.h"
#include "listenfds.h"
#include "log.h"
#include "net.h"

struct credserve {
	int fd, sigfd;
	char *created; /* the socket path we bound (removed at exit), or NULL */
	char *policy_path;
	struct credpolicy *policy;
	credserve_fetch_fn fetch;
	void *fetch_ctx;
	unsigned long served, refused;
};

void credserve_free(struct credserve *cs)
{
	if (cs == NULL)
		return;
	if (cs->fd >= 0)
		close(cs->fd);
	if (cs->sigfd >= 0)
		close(cs->sigfd);
	if (cs->created != NULL && unlink(cs->created) != 0 && errno != ENOENT)
		log_warn("remove %s: %s", cs->created, strerror(errno));
	free(cs->created);
	free(cs->policy_path);
	credpolicy_free(cs->policy);
	free(cs);
}

static int set_path(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (path[0] != '/')
		return err_set(ERR_INVALID_ARG, "--socket %s: give an absolute path", path);
	if (strlen(path) >= sizeof(sa->sun_path))
		return err_set(ERR_INVALID_ARG, "--socket %s: longer than %zu bytes", path,
			       sizeof(sa->sun_path) - 1);
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

/* Someone answers on the socket at sa? */
static int socket_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), live;

	if (fd < 0)
		return 0;
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return live;
}

/*
 * Whoever may write the socket's directory may swap the socket for one of
 * their own, and systemd would read a "credential" from them: only root or we
 * may own it, and nobody else may write it.
 */
static int check_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	if (stat(dir, &st) != 0)
		return err_sys("--socket %s: its directory", path);
	if (!S_ISDIR(st.st_mode))
		return err_set(ERR_INVALID_ARG, "--socket %s: %s is not a directory", path, dir);
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022) != 0)
		return err_set(ERR_PERMISSION,
			       "--socket %s: its directory %s is writable by group or others, or "
			       "owned by another user (another process could replace the socket)",
			       path, dir);
	return 0;
}

/* Create the listening socket at path, mode 0600. */
static int make_socket(struct credserve *cs, const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int r, fd;

	if ((r = set_path(&sa, path)) != 0 || (r = check_dir(path)) != 0)
		return r;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return err_set(ERR_EXISTS, "--socket %s: exists and is not a socket", path);
		if (socket_live(&sa))
			return err_set(ERR_EXISTS, "--socket %s: another process answers there", path);
		if (unlink(path) != 0)
			return err_sys("remove the stale socket %s", path);
	} else if (errno != ENOENT) {
		return err_sys("--socket %s", path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return err_sys("socket");
	cs->fd = fd;
	/* The socket file is 0600 from its creation: no window with a wider mode. */
	old = umask(0177);
	r = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r != 0)
		return err_sys("bind %s", path);
	if ((cs->created = strdup(path)) == NULL)
		return ERR_ALLOC;
	if (chmod(path, 0600) != 0)
		return err_sys("chmod %s", path);
	if (listen(fd, CREDSERVE_BACKLOG) != 0)
		return err_sys("listen on %s", path);
	return 0;
}

/* The socket systemd passed: exactly one, an AF_UNIX one, at path if given. */
static int adopt_socket(struct credserve *cs, const char *path)
{
	struct listenfds l;
	int r;

	if ((r = listenfds_take(LISTENFDS_UNIX, &l)) != 0)
		return r;
	if (l.n != 1) {
		listenfds_close(&l);
		return err_set(ERR_INVALID_ARG,
			       "socket activation passed %zu sockets; the provider takes one", l.n);
	}
	cs->fd = l.fds[0].fd;
	if (path != NULL) {
		const struct sockaddr_un *got = (const struct sockaddr_un *)&l.fds[0].addr;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t glen = l.fds[0].len > off ? strnlen(got->sun_path, l.fds[0].len - off) : 0;

		if (glen != strlen(path) || memcmp(got->sun_path, path, glen) != 0)
			return err_set(ERR_INVALID_ARG,
				       "systemd passed the socket %s, not --socket %s",
				       l.fds[0].text, path);
	}
	log_info("serving on %s (from systemd)", l.fds[0].text);
	return 0;
}

static int load_policy(struct credserve *cs)
{
	struct credpolicy *p = NULL;
	int r;

	if (cs->policy_path == NULL)
		return 0;
	if ((r = credpolicy_load(cs->policy_path, &p)) != 0)
		return r;
	credpolicy_free(cs->policy);
	cs->policy = p;
	log_info("policy %s: %zu rules", cs->policy_path, credpolicy_rules(p));
	return 0;
}

int credserve_open(const struct credserve_config *cfg, struct credserve **out)
{
	struct credserve *cs;
	sigset_t set;
	int r;

	*out = NULL;
	if (cfg->fetch == NULL)
		return err_set(ERR_INVALID_ARG, "credserve_open: no fetch callback");
	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return ERR_ALLOC;
	cs->fd = cs->sigfd = -1;
	cs->fetch = cfg->fetch;
	cs->fetch_ctx = cfg->fetch_ctx;
	if (cfg->policy_path != NULL && (cs->policy_path = strdup(cfg->policy_path)) == NULL) {
		r = ERR_ALLOC;
		goto bad;
	}
	if ((r = load_policy(cs)) != 0)
		goto bad;
	if (listenfds_offered())
		r = adopt_socket(cs, cfg->socket_path);
	else if (cfg->socket_path == NULL)
		r = err_set(ERR_INVALID_ARG, "give --socket PATH, or start it from "
					     "coffer-credentials.socket");
	else
		r = make_socket(cs, cfg->socket_path);
	if (r != 0)
		goto bad;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
		r = err_sys("block signals");
		goto bad;
	}
	if ((cs->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		r = err_sys("signalfd");
		goto bad;
	}
	signal(SIGPIPE, SIG_IGN);
	*out = cs;
	return 0;
bad:
	credserve_free(cs);
	return r;
}

/* Why a connection gets nothing: one log line, counted. */
static void refuse(struct credserve *cs, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void refuse(struct credserve *cs, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("refused: %s", msg);
	cs->refused++;
}

/* One connection: every check before anything is written. */
static void answer(struct credserve *cs, int fd)
{
	struct ucred uc;
	struct sockaddr_un sa;
	struct credpeer peer;
	struct buf *value = NULL;
	socklen_t len = sizeof(uc);
	int r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0 || len != sizeof(uc)) {
		refuse(cs, "SO_PEERCRED: %s", strerror(errno));
		return;
	}
	if (uc.uid != 0) {
		refuse(cs, "peer uid %u pid %d: only root (systemd) is answered", (unsigned)uc.uid,
		       (int)uc.pid);
		return;
	}
	len = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	if (getpeername(fd, (struct sockaddr *)&sa, &len) != 0) {
		refuse(cs, "peer pid %d: getpeername: %s", (int)uc.pid, strerror(errno));
		return;
	}
	/* getpeername() reports the full length even when it had to cut. */
	if (len > sizeof(sa))
		len = sizeof(sa);
	if (len < offsetof(struct sockaddr_un, sun_path))
		len = offsetof(struct sockaddr_un, sun_path);
	if ((r = credpolicy_peer_parse(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path),
				       &peer)) != 0) {
		refuse(cs, "peer pid %d: %s", (int)uc.pid, err_detail());
		return;
	}
	/* unit and name are checked characters only: safe to log as they are. */
	if (cs->policy != NULL && !credpolicy_allows(cs->policy, peer.unit, peer.name)) {
		refuse(cs, "unit=%s name=%s: not allowed by the policy %s", peer.unit, peer.name,
		       cs->policy_path);
		return;
	}
	if ((value = buf_new(0)) == NULL) {
		refuse(cs, "unit=%s name=%s: out of memory", peer.unit, peer.name);
		return;
	}
	err_clear();
	if ((r = cs->fetch(cs->fetch_ctx, peer.name, value)) != 0) {
		if (r == ERR_NOT_FOUND)
			refuse(cs, "unit=%s name=%s: not in this host's shard", peer.unit,
			       peer.name);
		else
			refuse(cs, "unit=%s name=%s: %s", peer.unit, peer.name, err_msg(r));
		goto out;
	}
	if ((r = net_write_all(fd, buf_ptr(value), buf_len(value),
			       net_now_ms() + CREDSERVE_WRITE_MS)) != 0) {
		/* Part of the value may be in the peer's queue: systemd gets a short file. */
		log_error("unit=%s name=%s: writing the value failed: %s", peer.unit, peer.name,
			  err_msg(r));
		cs->refused++;
		goto out;
	}
	log_info("served unit=%s name=%s", peer.unit, peer.name);
	cs->served++;
out:
	buf_free(value); /* wipes */
}

static int on_signal(struct credserve *cs, int *stop)
{
	struct signalfd_siginfo si;
	ssize_t n;
	int r;

	while ((n = read(cs->sigfd, &si, sizeof(si))) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			if (cs->policy_path == NULL) {
				log_info("SIGHUP: no policy to re-read");
			} else if ((r = load_policy(cs)) != 0) {
				log_error("policy reload failed, keeping the old one: %s", err_msg(r));
			}
		} else {
			*stop = 1;
		}
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		return err_sys("read signalfd");
	return 0;
}

int credserve_run(struct credserve *cs)
{
	struct pollfd pfd[2];
	int stop = 0, r, fd;

	log_info("credential provider ready%s%s", cs->policy_path ? ", policy " : "",
		 cs->policy_path ? cs->policy_path : "");
	while (!stop) {
		pfd[0].fd = cs->fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = cs->sigfd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return err_sys("poll");
		}
		if (pfd[1].revents & POLLIN) {
			if ((r = on_signal(cs, &stop)) != 0)
				return r;
			continue;
		}
		if (pfd[0].revents & (POLLERR | POLLNVAL))
			return err_set(ERR_SYSTEM, "the listening socket failed");
		if (!(pfd[0].revents & POLLIN))
			continue;
		fd = accept4(cs->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
			    errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_warn("accept: %s", strerror(errno));
				(void)poll(NULL, 0, 100);
				continue;
			}
			return err_sys("accept");
		}
		answer(cs, fd);
		close(fd);
	}
	log_info("stopped: %lu served, %lu refused", cs->served, cs->refused);
	return 0;
}

// SPDX-License-Identifier: ISC
/*
 * appliance-net: the network process of appliance-server. The monitor
 * starts it (fork + exec, so nothing of the monitor's memory is here) with
 * the IPC socket on fd 3 and the listening sockets from fd 4; the first
 * message on fd 3 is the configuration. It sets up its event loop, enters
 * the sandbox and serves. It is not meant to be run by hand.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h" /* the build's: COFFER_VERSION */

#include "buf.h"
#include "ipc.h"
#include "log.h"
#include "net.h"
#include "sandbox.h"

#define EXIT_USAGE 2

static int is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* The CONFIG message, read before anything else (blocking: it is sent at once). */
static int read_config(struct ipc_config *c)
{
	struct buf *in = buf_new(IPC_HDR_LEN + IPC_CONFIG_LEN);
	struct ipc_msg m;
	int r;

	if (in == NULL)
		return err_set(ERR_ALLOC, "configuration");
	for (;;) {
		uint8_t *p;
		ssize_t got;

		if ((r = ipc_get(in, &m)) != ERR_INCOMPLETE)
			break;
		if ((r = buf_reserve(in, 1, &p)) != 0)
			break;
		got = read(IPC_FD, p, 1);
		if (buf_consume_end(in, got == 1 ? 0 : 1) != 0) {
			r = ERR_INTERNAL;
			break;
		}
		if (got == 0) {
			r = err_set(ERR_IO, "the monitor closed the IPC socket before the configuration");
			break;
		}
		if (got < 0 && errno != EINTR) {
			r = err_sys("IPC read");
			break;
		}
	}
	if (r == 0 && m.type != IPC_CONFIG)
		r = err_set(ERR_PROTOCOL, "first message is %s, not CONFIG", ipc_type_name(m.type));
	if (r == 0)
		r = ipc_config_get(m.body, m.len, c);
	buf_free(in);
	return r;
}

int main(int argc, char **argv)
{
	struct ipc_config c;
	struct sandbox_opts so;
	struct net *n = NULL;
	int fds[IPC_MAX_LISTEN];
	pid_t parent = getppid();
	size_t i;
	int r;

	log_init("appliance-net", LOG_LEVEL_INFO);
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("appliance-net %s\n", COFFER_VERSION);
		return 0;
	}
	if (argc > 1 || !is_socket(IPC_FD)) {
		fprintf(stderr, "appliance-net is the network process of appliance-server, which "
				"starts it; it is not run by hand.\n");
		return EXIT_USAGE;
	}
	/* The monitor set PR_SET_PDEATHSIG before the exec; if it is already
	 * gone, the IPC read below sees end-of-file. */
	if ((r = net_prepare()) != 0 || (r = read_config(&c)) != 0)
		goto fail;
	log_set_level((enum log_level)c.log_level);
	for (i = 0; i < c.n_listen; i++) {
		int fd = IPC_FIRST_LISTEN_FD + (int)i, on = 0;
		socklen_t len = sizeof(on);
		if (!is_socket(fd) || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 ||
		    !on) {
			r = err_set(ERR_INVALID_ARG, "fd %d is not a listening socket", fd);
			goto fail;
		}
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
		    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
			r = err_sys("listening socket %d", fd);
			goto fail;
		}
		fds[i] = fd;
	}
	if (fcntl(IPC_FD, F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(IPC_FD, F_SETFL, fcntl(IPC_FD, F_GETFL) | O_NONBLOCK) != 0) {
		r = err_sys("IPC socket");
		goto fail;
	}
	if ((r = net_new(&c, IPC_FD, fds, c.n_listen, &n)) != 0)
		goto fail;
	memset(&so, 0, sizeof(so));
	so.drop = c.drop;
	so.uid = (uid_t)c.uid;
	so.gid = (gid_t)c.gid;
	so.parent = parent;
	if ((r = sandbox_enter(&so)) != 0)
		goto fail;
	log_info("sandbox: %s", sandbox_describe());
	r = net_run(n);
	if (r != 0)
		goto fail;
	/* _exit: no atexit handlers (a sanitizer's leak check would need calls
	 * the sandbox forbids). */
	_exit(0);
fail:
	if (r == ERR_IO)
		log_error("%s: exiting", err_msg(r));
	else
		log_error("network process: %s", err_msg(r));
	_exit(1);
}

// SPDX-License-Identifier: ISC
/*
 * The monitor's IPC input, as a hostile network process would write it: any
 * bytes into server_ipc_input() of a monitor with two registered clients,
 * room for four connections (and the IPC_CLOSED_BATCH more the network
 * process may hold: the 37th OPEN is refused), fixed keys and a
 * fixed server ephemeral (so the seed conversations in corpus-ipc
 * authenticate and reach Get, OkGet and Bye). Beyond memory
 * errors, one property is checked on every input: no plaintext value ever
 * reaches what the monitor queues for the network process.
 * The same bytes are also read as the other pieces of the IPC's wire format
 * (a peer address, the CONFIG the network process reads at start): what
 * parses writes back to the bytes it came from.
 */
#include <fcntl.h>

#include "ipc-fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void wire_round_trips(const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss;
	struct ipc_config c;
	struct buf *in, *out;
	char text[64];

	if ((out = buf_new(0)) == NULL || (in = buf_from(data, size)) == NULL)
		__builtin_trap();
	if (ipc_peer_get(in, &ss) == 0) {
		ipc_peer_text((const struct sockaddr *)&ss, text, sizeof(text));
		if (ipc_peer_put(out, (const struct sockaddr *)&ss) != 0 ||
		    buf_len(out) != size - buf_len(in) ||
		    memcmp(buf_ptr(out), data, buf_len(out)) != 0)
			__builtin_trap();
	}
	buf_reset(out);
	if (ipc_config_get(data, size, &c) == 0 &&
	    (ipc_config_put(out, &c) != 0 || buf_len(out) != size ||
	     memcmp(buf_ptr(out), data, size) != 0))
		__builtin_trap();
	buf_free(in);
	buf_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	struct fixture fx;
	int r;

	if (!quiet) {
		/* The monitor's complaints about malformed input are expected. */
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		log_init("fuzz-ipc", LOG_LEVEL_ERROR);
		if (fd >= 0)
			log_set_fd(fd);
		quiet = 1;
	}
	if (fix_new(&fx, 4) != 0)
		__builtin_trap();
	/* ERR_PROTOCOL (where the real monitor ends the service) is a fine
	 * outcome; a value on the IPC never is. */
	r = server_ipc_input(fx.srv, data, size);
	if (fix_leaked(&fx))
		__builtin_trap();
	fix_free(&fx);
	(void)r;
	wire_round_trips(data, size);
	return 0;
}

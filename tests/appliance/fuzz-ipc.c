// SPDX-License-Identifier: ISC
/*
 * The monitor's IPC input, as a hostile network process would write it: any
 * bytes into server_ipc_input() of a monitor with two registered clients,
 * fixed keys and a fixed server ephemeral (so the seed conversations in
 * corpus-ipc authenticate and reach Get, OkGet and Bye). Beyond memory
 * errors, one property is checked on every input: no plaintext value ever
 * reaches what the monitor queues for the network process.
 */
#include <fcntl.h>

#include "ipc-fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	if (fix_new(&fx, 16) != 0)
		__builtin_trap();
	/* ERR_PROTOCOL (where the real monitor ends the service) is a fine
	 * outcome; a value on the IPC never is. */
	r = server_ipc_input(fx.srv, data, size);
	if (fix_leaked(&fx))
		__builtin_trap();
	fix_free(&fx);
	(void)r;
	return 0;
}

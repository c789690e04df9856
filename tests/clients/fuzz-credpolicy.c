// SPDX-License-Identifier: ISC
/*
 * libFuzzer harness: what the credential provider takes from outside. The
 * first 108 bytes (at most) are a peer's socket name as getpeername() gives
 * it; the whole input is also parsed as a policy file; a peer that parses is
 * then judged by the policy.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The production parser itself, so libFuzzer instruments it. */
#include "credpolicy.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct credpolicy *p = NULL;
	struct credpeer peer;
	int peer_ok;

	peer_ok = credpolicy_peer_parse(data, size < 108 ? size : 108, &peer) == 0;
	if (peer_ok && (!credpolicy_unit_ok(peer.unit) || !credpolicy_name_ok(peer.name) ||
			strstr(peer.name, "..") != NULL || strchr(peer.name, '/') != NULL))
		__builtin_trap();
	if (credpolicy_parse(data, size, "fuzz.policy", &p) == 0) {
		if (p == NULL)
			__builtin_trap();
		if (peer_ok)
			(void)credpolicy_allows(p, peer.unit, peer.name);
		(void)credpolicy_allows(p, "web.service", "db_password");
	}
	credpolicy_free(p);
	return 0;
}

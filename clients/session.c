// SPDX-License-Identifier: ISC
#include "session.h"

#include "coffer.h"

/* XXX placeholder until protocol/ (Noise IK client, OkGet codec) is merged. */
int session_fetch(const struct session_params *p, session_sink_fn sink, void *ctx)
{
	(void)p;
	(void)sink;
	(void)ctx;
	err_set(ERR_UNSUPPORTED, "the protocol module is not built in yet");
	return COFFER_E_PROTOCOL;
}

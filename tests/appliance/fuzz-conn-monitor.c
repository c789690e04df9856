// SPDX-License-Identifier: ISC
/* The monitor for the appliance-conn target: the production server.c, plus
 * what the harness needs of its insides (tests/appliance/fuzz-conn.c). */
#include "../../appliance/server.c"

#include "fuzz-conn.h"

void fuzz_monitor_output(struct server *s, struct buf *to)
{
	if (buf_put(to, buf_ptr(s->ipc_out), buf_len(s->ipc_out)) != 0)
		__builtin_trap();
	buf_reset(s->ipc_out);
}

void fuzz_monitor_audit(struct server *s, struct audit *a)
{
	s->audit = a;
	s->env.audit = a;
}

// SPDX-License-Identifier: ISC
#ifndef COFFER_TESTS_APPLIANCE_FUZZ_CONN_H
#define COFFER_TESTS_APPLIANCE_FUZZ_CONN_H

/* The monitor's side of the appliance-conn target (fuzz-conn-monitor.c
 * includes server.c to reach what its event loop would write). */

#include <stddef.h>
#include <stdint.h>

struct audit;
struct buf;
struct server;

/* Move what the monitor queued for the network process to the end of `to`. */
void fuzz_monitor_output(struct server *s, struct buf *to);
/* Point the monitor's audit records at `a`. */
void fuzz_monitor_audit(struct server *s, struct audit *a);

#endif

// SPDX-License-Identifier: ISC
#ifndef COFFER_APPLIANCE_IPC_H
#define COFFER_APPLIANCE_IPC_H

/*
 * The messages between the monitor (appliance-server: token, secrets,
 * Noise) and the network process (appliance-net: sockets, limits, frame
 * headers), over one SOCK_STREAM socketpair. Every message has the same
 * fixed 16-byte header, then `len` body bytes:
 *
 *   u32 len | u8 type | u8 flags | u16 zero | u64 conn
 *
 * big-endian, parsed only through common/buf. `conn` names a client
 * connection (chosen by the network process, never reused); it is 0 for
 * messages about the process itself. Bodies by type:
 *
 *   monitor -> network
 *     CONFIG    ipc_config (once, first)
 *     SEND      whole S->C frames to write to conn; flags CLOSE (close once
 *               written), MORE (another SEND of this reply follows)
 *     CLOSE     empty: close conn now, nothing more is written
 *     SHUTDOWN  empty: stop accepting, finish within the grace period
 *   network -> monitor
 *     READY     empty: sandboxed and listening
 *     OPEN      ipc_peer: a connection was accepted
 *     FRAME     u8 frame type | frame body: one whole C->S frame
 *     CLOSED    empty: the connection is gone (peer, deadline, limit)
 *     REFUSED   u8 ipc_refusal | ipc_peer: refused before reaching the
 *               monitor (for the audit trail)
 *
 * The monitor trusts nothing the network process sends: a message of the
 * wrong direction, shape or length is ERR_PROTOCOL and ends the service.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bounds.h"
#include "err.h"

struct buf;

#define IPC_VERSION 1
#define IPC_HDR_LEN 16
#define IPC_PEER_LEN 19                        /* family, port, 16 address bytes */
#define IPC_CONFIG_LEN 71
#define IPC_MAX_BODY (WIRE_MAX_FRAME + 64)     /* one frame and its framing */
#define IPC_MAX_PENDING (64UL * 1024 * 1024)   /* unsent bytes either side keeps */
#define IPC_FD 3                               /* the socketpair in appliance-net */
#define IPC_FIRST_LISTEN_FD 4                  /* listening sockets follow it */
#define IPC_MAX_LISTEN 16
#define IPC_DEFAULT_PER_SOURCE 32
/* CLOSED messages the network process may hold back to send them with the
 * next message (or 10 ms later): the monitor may thus see up to this many
 * connections more than --max-connections open at once. */
#define IPC_CLOSED_BATCH 32

enum ipc_type {
	IPC_CONFIG = 1,
	IPC_SEND = 2,
	IPC_CLOSE = 3,
	IPC_SHUTDOWN = 4,
	IPC_READY = 16,
	IPC_OPEN = 17,
	IPC_FRAME = 18,
	IPC_CLOSED = 19,
	IPC_REFUSED = 20,
};

enum ipc_flags {
	IPC_F_CLOSE = 1U << 0,
	IPC_F_MORE = 1U << 1,
};

/* Why the network process refused a connection on its own. */
enum ipc_refusal {
	IPC_REFUSED_RATE = 1,        /* handshake rate per address */
	IPC_REFUSED_BUSY = 2,        /* handshakes in flight */
	IPC_REFUSED_CONNECTIONS = 3, /* connection limit */
	IPC_REFUSED_PER_SOURCE = 4,  /* connections of one source */
	IPC_REFUSED_STARTUPS = 5,    /* unauthenticated connections (MaxStartups) */
	IPC_REFUSED_BUDGET = 6,      /* the token budget */
	IPC_REFUSED_REPLAY = 7,      /* a Hello's ephemeral key seen before */
	IPC_REFUSED_MAX_ = 8,
};

struct ipc_msg {
	uint8_t type;
	uint8_t flags;
	uint64_t conn;
	const uint8_t *body; /* points into the input buffer */
	size_t len;
};

/* What the network process needs to know; no secret is in it. */
struct ipc_config {
	uint32_t version;          /* IPC_VERSION: both binaries from one build */
	uint32_t max_connections;
	uint32_t max_frame;
	uint32_t handshake_timeout; /* seconds */
	uint32_t idle_timeout;
	uint32_t max_handshakes;
	uint32_t rate;
	uint32_t burst;
	uint32_t grace;
	uint32_t max_per_source;    /* connections per source (/32, /64); 0: the default,
				     * IPC_DEFAULT_PER_SOURCE or a quarter of
				     * max_connections if less */
	uint32_t startups_start, startups_rate, startups_full; /* MaxStartups */
	uint32_t session_timeout;   /* seconds from Link to the end of a conversation */
	uint32_t token_budget;      /* token operations per second, all sources (0: none) */
	uint32_t uid, gid;          /* ids to run as when `drop` */
	uint8_t drop;
	uint8_t log_level;
	uint8_t n_listen;           /* fds IPC_FIRST_LISTEN_FD.. */
};

/* Append one message. ERR_TOO_LARGE if len > IPC_MAX_BODY; errors of buf_put. */
int ipc_put(struct buf *out, uint8_t type, uint8_t flags, uint64_t conn, const void *body,
	    size_t len) WARN_UNUSED;
/* Append only the header of a message whose `len` body bytes the caller
 * appends next (a body gathered from several places). */
int ipc_put_hdr(struct buf *out, uint8_t type, uint8_t flags, uint64_t conn, size_t len)
	WARN_UNUSED;

/*
 * Take the next whole message from the front of `in` (consumed; m->body
 * points into in and stays valid until in is next written or compacted).
 * ERR_INCOMPLETE if it has not all arrived (nothing consumed); ERR_PROTOCOL
 * for an unknown type, reserved bits set, or a body beyond IPC_MAX_BODY.
 */
int ipc_get(struct buf *in, struct ipc_msg *m) WARN_UNUSED;

/* Name of a type for messages ("FRAME", ...; "unknown"). */
const char *ipc_type_name(uint8_t type);

/* The peer address <-> its fixed 19-byte form. ERR_PROTOCOL for a family
 * other than AF_INET/AF_INET6 or a wrong length. */
int ipc_peer_put(struct buf *out, const struct sockaddr *sa) WARN_UNUSED;
int ipc_peer_get(struct buf *in, struct sockaddr_storage *ss) WARN_UNUSED;

/* Peer address text for records and logs ("1.2.3.4:5678", "[::1]:5678"). */
void ipc_peer_text(const struct sockaddr *sa, char *out, size_t outlen);

/* The config <-> its fixed form. ipc_config_get: ERR_PROTOCOL for a wrong
 * length, version, or a value out of range. */
int ipc_config_put(struct buf *out, const struct ipc_config *c) WARN_UNUSED;
int ipc_config_get(const uint8_t *p, size_t len, struct ipc_config *c) WARN_UNUSED;

/*
 * Connections by id, for both sides: an intrusive chained hash (embed a
 * struct ipc_link). The monitor's ids come from the untrusted side; its
 * table never holds more than --max-connections entries, so even aimed
 * collisions cost a bounded scan.
 */
struct ipc_link {
	uint64_t id;
	struct ipc_link *hnext;
};

struct ipc_map {
	struct ipc_link **buckets;
	size_t mask;
	size_t n;
};

/* Buckets for about `expected` entries. ERR_ALLOC. */
int ipc_map_init(struct ipc_map *m, size_t expected) WARN_UNUSED;
/* Free the buckets (not the entries). */
void ipc_map_clear(struct ipc_map *m);
struct ipc_link *ipc_map_find(const struct ipc_map *m, uint64_t id);
/* The id must not be in the map yet (the caller checks with find). */
void ipc_map_add(struct ipc_map *m, struct ipc_link *l);
void ipc_map_del(struct ipc_map *m, struct ipc_link *l);

#endif

// SPDX-License-Identifier: ISC
#ifndef COFFER_APPLIANCE_AUDIT_H
#define COFFER_APPLIANCE_AUDIT_H

/*
 * The audit trail: one JSON object per line for every handshake and every
 * release, to a file opened O_APPEND (or stderr), separate from the
 * operational log. Records carry time, peer, client identity and name, the
 * number of keys returned or the names asked for, and the result; never a
 * value. Each record is one write(2), so concurrent writers never
 * interleave. Thread-safe.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "encoding.h"
#include "err.h"

#define AUDIT_MAX_LINE 8192
#define AUDIT_MAX_NAMES 64 /* requested names listed in one record */

enum audit_event_type {
	AUDIT_HANDSHAKE = 1,
	AUDIT_RELEASE = 2,
	AUDIT_SERVICE = 3, /* the service itself (a process died, ...) */
};

struct audit_event {
	enum audit_event_type type;
	uint64_t time_ns;            /* CLOCK_REALTIME; 0: now */
	const char *peer;            /* "1.2.3.4:5678" or "[::1]:5678" */
	int have_identity;
	uint8_t identity[IDENTITY_LEN];
	const char *name;            /* client name from the definition, or NULL */
	const char *result;          /* "ok", "key-not-found", "error", "rate-limited", ... */
	const char *reason;          /* short text for failures, or NULL */
	long keys;                   /* keys returned (release), -1: none */
	const char *const *requested; /* names asked for (release), or NULL: all */
	size_t n_requested;
};

struct audit;

/*
 * Open the audit trail: path NULL means stderr. The file is created mode
 * 0600 and opened O_APPEND. ERR_SYSTEM with the path on failure.
 */
int audit_open(const char *path, struct audit **out) WARN_UNUSED;
void audit_close(struct audit *a);

/*
 * Format one record (with trailing newline) into out[outlen]. Untrusted
 * strings are JSON-escaped and truncated; the list of requested names is
 * cut at AUDIT_MAX_NAMES with "truncated":true. Returns the length, or
 * ERR_TOO_LARGE if out is too small.
 */
int audit_format(const struct audit_event *ev, char *out, size_t outlen) WARN_UNUSED;

/* Format and write a record. ERR_SYSTEM / ERR_IO if it could not be written. */
int audit_write(struct audit *a, const struct audit_event *ev) WARN_UNUSED;

/* Peer address text for records and logs ("1.2.3.4:5678", "[::1]:5678"). */
void audit_peer_text(const struct sockaddr *sa, char *out, size_t outlen);

#endif

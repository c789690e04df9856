// SPDX-License-Identifier: ISC
#ifndef COFFER_APPLIANCE_AUDIT_H
#define COFFER_APPLIANCE_AUDIT_H

/*
 * The audit trail: one JSON object per line for every handshake and every
 * release, to a file opened O_APPEND (or stderr), separate from the
 * operational log. Records carry time, peer, client identity and name, the
 * appliance key of the conversation, the bundle serial, the names asked for
 * and released, and the result; never a value.
 *
 * The trail is a hash chain (format in provisioning/auditlog.h): every
 * record starts with its seq and prev (the SHA-256 of the record before it,
 * as written), computed here, under the trail's lock, at the moment the
 * record is written; so records reach the file in chain order whichever
 * thread writes them. Opening an existing file continues its chain from
 * its last record. With a signer, a checkpoint record signed by the audit
 * key follows every `every` records, and whenever audit_checkpoint() is
 * called (start, reload, shutdown). Each record is one write(2); a write
 * cut short is cut off the file again, so the file holds whole records only.
 * Thread-safe.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "auditlog.h"
#include "encoding.h"
#include "err.h"

struct buf;

#define AUDIT_MAX_LINE AUDITLOG_MAX_LINE
#define AUDIT_MAX_NAMES 64            /* names listed in one list of a record */
#define AUDIT_NAMES_BUDGET 4096       /* bytes of one list of names, about */
#define AUDIT_DEFAULT_CHECKPOINT 1000 /* records between two checkpoints */
#define AUDIT_MAX_CHECKPOINT 1000000

enum audit_event_type {
	AUDIT_HANDSHAKE = 1,
	AUDIT_RELEASE = 2,
	AUDIT_SERVICE = 3, /* the service itself (a process died, ...) */
};

struct audit_event {
	enum audit_event_type type;
	uint64_t time_ns; /* CLOCK_REALTIME; 0: now */
	const char *peer; /* "1.2.3.4:5678" or "[::1]:5678" */
	int have_identity;
	uint8_t identity[IDENTITY_LEN];
	const char *name; /* client name from the definition, or NULL */
	const char
	    *appliance_key; /* "sha256:..." of the appliance key of the conversation, or NULL */
	const char *result; /* "ok", "key-not-found", "error", "rate-limited", ... */
	const char *reason; /* short text for failures, or NULL */
	int have_serial;
	uint64_t serial;              /* bundle serial the conversation was served from */
	long keys;                    /* keys returned (release), -1: none */
	const char *const *requested; /* names asked for (release), or NULL: all */
	size_t n_requested;           /* how many; the first AUDIT_MAX_NAMES are read */
	const char *const *released;  /* names released (release, result ok), or NULL */
	size_t n_released;            /* how many; the first AUDIT_MAX_NAMES are read */
};

struct audit;

/*
 * Signs a checkpoint: SHA-256 then ECDSA over data in the audit key's
 * token, the DER signature appended to sig. 0 or a negative ERR_*.
 */
typedef int (*audit_sign_fn)(void *ctx, const uint8_t *data, size_t len, struct buf *sig);

/*
 * Open the audit trail: path NULL means stderr (a new chain). A file is
 * created mode 0600, opened O_APPEND and locked (flock) against a second
 * writer; an existing regular file must end in a whole chained record, from
 * which the chain goes on. Errors: ERR_SYSTEM with the path; ERR_BUSY (the
 * file is locked by another process); ERR_FORMAT (the file ends mid-record,
 * or its last record is not chained: the detail says what to do).
 */
int audit_open(const char *path, struct audit **out) WARN_UNUSED;
/* Close (no checkpoint: call audit_checkpoint first); NULL is fine. */
void audit_close(struct audit *a);

/*
 * Sign checkpoints from now on with fn(ctx, ...) by the key whose
 * "sha256:..." fingerprint is key_fpr: one after every `every`
 * (1..AUDIT_MAX_CHECKPOINT) records. ctx must outlive the trail.
 * ERR_INVALID_ARG.
 */
int audit_set_signer(struct audit *a, audit_sign_fn fn, void *ctx, const char *key_fpr,
                     unsigned every) WARN_UNUSED;

/*
 * Write a signed checkpoint now; reason is "start", "reload" or "shutdown"
 * (the interval ones are written by audit_write). The file is fsync()ed
 * after it. ERR_INVALID_ARG without a signer; the signer's error; ERR_IO.
 */
int audit_checkpoint(struct audit *a, const char *reason) WARN_UNUSED;

/*
 * Where the chain stands: the seq of the next record, and whether the file
 * as opened ended with a shutdown checkpoint (1), with something else (0:
 * the last run did not stop cleanly, or records were added), or was empty
 * or not a file (-1).
 */
void audit_chain_state(struct audit *a, uint64_t *next_seq, int *clean_end);

/*
 * Format the fields of one record, without the chain fields, as a JSON
 * object line (with trailing newline) into out[outlen]. Untrusted strings
 * are JSON-escaped and truncated; each list of names stops after
 * AUDIT_MAX_NAMES names or about AUDIT_NAMES_BUDGET bytes, with
 * "truncated":true. Returns the length, or ERR_TOO_LARGE if out is too
 * small.
 */
int audit_format(const struct audit_event *ev, char *out, size_t outlen) WARN_UNUSED;

/*
 * Format, chain and write a record (then an interval checkpoint, if one is
 * due: its failure is logged, and retried with the next record).
 * ERR_SYSTEM / ERR_IO if the record could not be written.
 */
int audit_write(struct audit *a, const struct audit_event *ev) WARN_UNUSED;

#endif

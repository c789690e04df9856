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
#define AUDIT_QUEUE_BYTES (4u << 20)  /* records waiting for the writer thread, at most */
#define AUDIT_AGGREGATE_SECONDS 60    /* refusals are counted into a record this often */

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
	unsigned long count;          /* refusals counted into this record, 0: one event */
	uint64_t first_ns;            /* CLOCK_REALTIME of the first of them */
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
/* Stop the writer thread (what was queued is written), write the refusals
 * still counted, close (no checkpoint: call audit_checkpoint first); NULL is fine. */
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
 * due: its failure is logged, and retried with the next record). Before
 * audit_start (and after audit_stop) the record is written at once:
 * ERR_SYSTEM / ERR_IO if it could not be. After audit_start it is queued
 * for the writer thread, which never blocks the caller: ERR_BUSY if
 * AUDIT_QUEUE_BYTES are already waiting (the record is lost, counted in
 * the log); a later write failure is only logged.
 */
int audit_write(struct audit *a, const struct audit_event *ev) WARN_UNUSED;

/* Called on the writer thread with the result of one record's write. */
typedef void (*audit_done_fn)(void *arg, int rc);

/*
 * audit_write for a record the caller must know is on the file before it
 * goes on (a release under --audit-required): returns 1 when it was written
 * at once (no writer thread), 0 when it is queued and done(arg, rc) will be
 * called on the writer thread once it is written or failed, else the
 * error (ERR_BUSY: the queue is full; done is not called).
 */
int audit_submit(struct audit *a, const struct audit_event *ev, audit_done_fn done,
		 void *arg) WARN_UNUSED;

/*
 * A refusal (a handshake that got nowhere): the first of each source
 * address (the peer without its port), result and reason is written at
 * once; the next ones are counted, and every AUDIT_AGGREGATE_SECONDS (and
 * before a checkpoint, and at close) each count becomes one record with
 * "count" and "first". The table holds 1,024 such triples; refusals beyond
 * are counted under the source "*". The error is audit_write's.
 */
int audit_refused(struct audit *a, const struct audit_event *ev) WARN_UNUSED;

/*
 * Start the writer thread: from now on records are queued (above), and
 * audit_checkpoint waits for the records queued before it. ERR_SYSTEM.
 */
int audit_start(struct audit *a) WARN_UNUSED;

/* Write what is queued, then stop the writer thread (audit_close does it too). */
void audit_stop(struct audit *a);

/*
 * Take back a record audit_submit queued with this arg, if the writer has
 * not begun it: 1 if it was taken (it will never be written, done is not
 * called), 0 if it is being written or was (done comes, or came).
 */
int audit_cancel(struct audit *a, void *arg) WARN_UNUSED;

/*
 * No completion runs from now on (the records are still written); one
 * running now ends before this returns. For the owner of the completions,
 * before it goes away.
 */
void audit_forget_done(struct audit *a);

#endif

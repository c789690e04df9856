// SPDX-License-Identifier: ISC
#ifndef COFFER_REVOKED_H
#define COFFER_REVOKED_H

/*
 * revoked.json: the client identities the security officers revoked
 * (provision-master revoke). It is a listed, signed file of the bundle like
 * any other; an appliance refuses these identities even while the sealed
 * definition still lists them. Version 1, JSON, keys sorted:
 *
 *   {"revoked": [{"identity": "7F3A-09C1-...", "reason": "laptop stolen",
 *                 "time": "2026-11-22T04:24:08Z"}, ...],
 *    "version": 1}
 *
 * Every entry has exactly these three keys: identity in either notation
 * (identity_parse; written grouped), reason 0..LIMIT_REVOKE_REASON bytes of
 * text without control characters, time 1..REVOKED_TIME_MAX printable ASCII
 * characters (RFC 3339 UTC as provision-master writes it). At most
 * LIMIT_REVOKED entries and LIMIT_REVOKED_FILE bytes. An identity listed
 * twice, duplicate keys, unknown keys, other types and trailing data are
 * refused: the appliance then refuses the bundle (fail closed).
 */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bounds.h"
#include "encoding.h"
#include "err.h"

#define REVOKED_VERSION 1
#define REVOKED_TIME_MAX 64

struct buf;
struct bundle;
struct revoked;

/* An empty list. ERR_ALLOC. */
int revoked_new(struct revoked **out) WARN_UNUSED;
/*
 * Parse revoked.json bytes (untrusted). ERR_FORMAT / ERR_TOO_LARGE with the
 * reason (and the entry's index) in the detail; ERR_ALLOC. *out freed with
 * revoked_free.
 */
int revoked_parse(const uint8_t *data, size_t len, struct revoked **out) WARN_UNUSED;
/* NULL is fine. */
void revoked_free(struct revoked *rv);
/* Number of revoked identities. */
size_t revoked_count(const struct revoked *rv);
/* Identity i (< count), in the order of the file; owned by rv. */
const uint8_t *revoked_id(const struct revoked *rv, size_t i);
/* 1 if id is revoked, else 0. */
int revoked_contains(const struct revoked *rv, const uint8_t id[static IDENTITY_LEN]);
/*
 * Append id with the reason (NULL: "") and the time `when`. ERR_EXISTS if
 * it is already revoked; ERR_INVALID_ARG for a reason that is too long, not
 * UTF-8 or holds a control character; ERR_TOO_LARGE beyond LIMIT_REVOKED.
 */
int revoked_add(struct revoked *rv, const uint8_t id[static IDENTITY_LEN], const char *reason,
		time_t when) WARN_UNUSED;
/* The file's text (the format above, indented, final newline), appended to out. */
int revoked_format(const struct revoked *rv, struct buf *out) WARN_UNUSED;

/*
 * revoked.json of a verified bundle, re-checked against its hash as it is
 * read: an empty list if the manifest does not list it (a revoked.json that
 * is not listed never gets this far: bundle_verify refuses it as
 * 'unlisted'). Errors name the file.
 */
int revoked_from_bundle(const struct bundle *b, struct revoked **out) WARN_UNUSED;

#endif

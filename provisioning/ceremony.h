// SPDX-License-Identifier: ISC
#ifndef COFFER_CEREMONY_H
#define COFFER_CEREMONY_H

/*
 * The ceremony log: ceremony.log in the bundle, append-only, one line per
 * provision-master step, hash-chained. Each line is printable text ending
 * in '\n':
 *
 *   prev=<64 hex> time=<RFC 3339 UTC> step=<step> [key=value ...] note="<text>"
 *
 * prev is the SHA-256 of the previous line's bytes (its '\n' excluded); the
 * first line carries 64 zeros. Removing, changing, reordering or inserting a
 * line breaks the chain at the next line; cutting lines off the end is found
 * by comparing the head (SHA-256 of the last line) with the value written on
 * paper at the end of the ceremony, and by the signed manifest, which lists
 * the log like any other file. The note is the operator's text, escaped
 * (quotes, backslashes and control characters as \" \\ \xHH).
 */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "pkey.h"

#define CEREMONY_LOG "ceremony.log"
#define CEREMONY_LINE_MAX 4096              /* bytes of one line, '\n' included */
#define CEREMONY_NOTE_MAX 1024              /* bytes of an operator's note */
#define CEREMONY_LOG_MAX (16 * 1024 * 1024) /* bytes of the whole log */

/*
 * Append one line for `step` (lower-case letters and '-') to the log at
 * path, created (mode 0644) if missing. `fields` (may be NULL) is our own
 * "key=value key=value" text: printable ASCII without '"' or '\n'. `note`
 * (may be NULL) is untrusted and escaped. The existing log is checked first
 * under an exclusive lock (a broken chain is refused: ERR_AUTH), the line is
 * appended with O_APPEND and fsync()ed. head (may be NULL) gets the new head.
 * ERR_INVALID_ARG for a bad step/fields or a note longer than
 * CEREMONY_NOTE_MAX; ERR_PERMISSION if path is a symbolic link or not a
 * regular file; ERR_SYSTEM.
 */
int ceremony_append(const char *path, const char *step, const char *fields, const char *note,
                    time_t now, uint8_t head[SHA256_LEN]) WARN_UNUSED;

/*
 * Check the chain of a whole log held in memory (untrusted). *lines gets the
 * number of lines and head (may be NULL) the SHA-256 of the last line (zeros
 * for an empty log). ERR_FORMAT (a malformed or unterminated line: detail
 * "line N: ..."), ERR_AUTH (chain broken at line N), ERR_TOO_LARGE.
 */
int ceremony_check(const uint8_t *data, size_t len, size_t *lines,
                   uint8_t head[SHA256_LEN]) WARN_UNUSED;

/* ceremony_check() over the file at path (symbolic links refused). */
int ceremony_verify(const char *path, size_t *lines, uint8_t head[SHA256_LEN]) WARN_UNUSED;

#endif

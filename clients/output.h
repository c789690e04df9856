// SPDX-License-Identifier: ISC
#ifndef COFFER_CLIENTS_OUTPUT_H
#define COFFER_CLIENTS_OUTPUT_H

/*
 * How coffer-get writes a shard. The exact rules (also in coffer-get(1)):
 *
 * Value text (env, dotenv, exec mode, --get): strings as they are; integers
 * in decimal; floats as the shortest "%.{1..17}g" text that reads back to
 * the same double, with ".0" added when that text is all digits ("3.0",
 * "0.75", "1e+100"), non-finite as "inf", "-inf", "nan"; booleans "true" /
 * "false"; date/time types as their RFC 3339 text.
 *
 * env:    export NAME='text'\n  per secret. POSIX single quotes: every ' in
 *         the text is written as '\'' ; nothing else is special, so eval of
 *         the output is safe for any value (newlines, $, `, \, unicode).
 * dotenv: NAME="text"\n  with \ -> \\, " -> \", $ -> \$, ` -> \`,
 *         newline -> \n, CR -> \r, tab -> \t; other bytes as they are.
 * json:   one object, keys in shard order, 2-space indented, ending in a
 *         newline: strings as JSON strings (must be UTF-8), integers and
 *         finite floats as JSON numbers (floats shortest round-trip, always
 *         with a '.' or exponent), booleans true/false, dates as strings,
 *         non-finite floats as the strings "inf", "-inf", "nan".
 * raw:    (--get KEY) exactly the value's text, no newline added.
 *
 * Names in env, dotenv and exec mode are prefix + key and must match
 * [A-Za-z_][A-Za-z0-9_]*; any other is refused (ERR_FORMAT) before anything
 * is written. A name that changes how programs load or run (LD_*, PATH,
 * BASH_ENV, PYTHON*, ...: output_env_name_refused) is refused too
 * (ERR_PERMISSION) unless the caller allows that exact name; a prefix such
 * as APP_ makes every name safe, since the check is on prefix + key. A string holding a NUL byte cannot be put into env, dotenv or
 * an environment and is refused too. Error details name the key (escaped),
 * never the value.
 */

#include <stddef.h>

#include "err.h"
#include "secret.h"

struct buf;

enum output_format {
	OUTPUT_ENV = 1,
	OUTPUT_DOTENV = 2,
	OUTPUT_JSON = 3,
	OUTPUT_RAW = 4,
};

/* "env", "dotenv", "json", "raw". 0 or ERR_INVALID_ARG. */
int output_format_parse(const char *s, enum output_format *out) WARN_UNUSED;

/* 1 if name[0..len) matches [A-Za-z_][A-Za-z0-9_]*, else 0. */
int output_env_name_ok(const char *name, size_t len);

/* 1 if name[0..len) is on the one list of names that change how programs
 * load or run (exact names such as PATH, BASH_ENV, IFS, GLIBC_TUNABLES, and
 * the prefixes LD_, PYTHON, PERL5, ...; see coffer-get(1)), else 0. */
int output_env_name_refused(const char *name, size_t len);

/*
 * Check that prefix + key is a valid environment name for s, that s's text
 * has no NUL byte (ERR_FORMAT), and that the name is not refused
 * (ERR_PERMISSION) unless it is in allow (a NULL-terminated list of full
 * names, or NULL). The detail names the key, never the value.
 */
int output_check_env(const struct secret *s, const char *prefix,
                     const char *const *allow) WARN_UNUSED;

/* The shortest round-trip text of a double (rules above) into out (>= 32 bytes). */
void output_float_text(double f, char *out, size_t outlen);

/* Append the value text of s (rules above) to out. 0, ERR_ALLOC, ERR_TOO_LARGE. */
int output_value_text(const struct secret *s, struct buf *out) WARN_UNUSED;

/*
 * Append the whole shard in `format` to out. prefix (NULL: none) and allow
 * (see output_check_env) apply to env and dotenv names. For OUTPUT_RAW, n
 * must be 1. Nothing is appended on failure (ERR_FORMAT for a malformed
 * name or value, ERR_PERMISSION for a refused name, ERR_ALLOC).
 */
int output_render(enum output_format format, const struct secret *items, size_t n,
                  const char *prefix, const char *const *allow, struct buf *out) WARN_UNUSED;

#endif

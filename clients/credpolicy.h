// SPDX-License-Identifier: ISC
#ifndef COFFER_CLIENTS_CREDPOLICY_H
#define COFFER_CLIENTS_CREDPOLICY_H

/*
 * What the credential provider (coffer-get serve) accepts from a peer: the
 * name systemd binds its socket to, and the optional policy of which units
 * may read which names. Pure parsing, no sockets: fuzzed and unit-tested.
 *
 * Peer name. For LoadCredential=NAME:/path/to/socket systemd connects from
 * an AF_UNIX socket bound to the abstract address
 *
 *	\0<random>/unit/<UNIT>/<NAME>
 *
 * <random> is 1..16 lower-case hex digits (systemd's PRIx64); UNIT is a unit
 * name ([A-Za-z0-9:_.@\-] and backslash, not starting with '.'); NAME is a
 * secret name ([A-Za-z0-9_] first, then also [.@:+-]). Neither may contain
 * "..", and nothing else may follow. Anything else is malformed.
 *
 * Policy file (text, one rule per line; blank lines and lines starting with
 * '#' are ignored):
 *
 *	# UNIT-PATTERN     NAME [NAME...]
 *	web.service        db_password api_token
 *	worker@*.service   queue_token
 *
 * UNIT-PATTERN is a unit name in which '*' matches any run of characters and
 * '?' any one (nothing else is special, backslash included); NAMEs are exact. A unit may read a name if some rule's pattern matches the unit and
 * lists the name. Errors name file:line.
 */

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CREDPOLICY_UNIT_MAX 255      /* systemd's longest unit name */
#define CREDPOLICY_NAME_MAX 255      /* a credential (file) name */
#define CREDPOLICY_RANDOM_MAX 16     /* hex digits of the random part */
#define CREDPOLICY_MAX_RULES 4096    /* lines with a rule */
#define CREDPOLICY_MAX_NAMES 256     /* names on one rule */
#define CREDPOLICY_MAX_LINE 4096     /* bytes in one line */

struct credpeer {
	char unit[CREDPOLICY_UNIT_MAX + 1];
	char name[CREDPOLICY_NAME_MAX + 1];
};

/*
 * Parse the peer's socket address bytes (sun_path as getpeername() returned
 * it, `len` bytes: the leading NUL of an abstract name included). 0 with
 * *out filled, or ERR_FORMAT (detail: what is wrong, and the name escaped
 * and cut to 100 bytes).
 */
int credpolicy_peer_parse(const void *sun_path, size_t len, struct credpeer *out) WARN_UNUSED;

/* 1 if s (NUL-terminated) is a valid NAME / UNIT as above, else 0. */
int credpolicy_name_ok(const char *s);
int credpolicy_unit_ok(const char *s);

struct credpolicy;

/*
 * Parse a policy (len bytes; `file` is used in error details). *out is
 * freed with credpolicy_free. ERR_FORMAT (detail "file:line: why"),
 * ERR_TOO_LARGE (over LIMIT_CONFIG bytes, a line over CREDPOLICY_MAX_LINE,
 * too many rules or names), ERR_ALLOC. An empty policy allows nothing.
 */
int credpolicy_parse(const uint8_t *text, size_t len, const char *file,
		     struct credpolicy **out) WARN_UNUSED;

/*
 * Read and parse a policy file. Besides the errors above: ERR_NOT_FOUND,
 * ERR_PERMISSION (not a regular file, a link, or writable by group or
 * others: whoever may write the policy decides who gets which secret).
 */
int credpolicy_load(const char *path, struct credpolicy **out) WARN_UNUSED;

/* 1 if unit may read name under p, else 0. */
int credpolicy_allows(const struct credpolicy *p, const char *unit, const char *name);

/* Number of rules (for the log). */
size_t credpolicy_rules(const struct credpolicy *p);

/* NULL is fine. */
void credpolicy_free(struct credpolicy *p);

#endif

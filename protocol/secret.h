// SPDX-License-Identifier: ISC
#ifndef COFFER_SECRET_H
#define COFFER_SECRET_H

/*
 * One secret of a client's shard: a UTF-8 key and a typed value. Shared by
 * the definition parsers (provisioning/), the OkGet CBOR codec (protocol/),
 * the appliance and the clients.
 *
 * Date/time values keep their canonical RFC 3339 text (as TOML writes them):
 *   SECRET_DATETIME        "1979-05-27T07:32:00Z", "1979-05-27T00:32:00.999-07:00"
 *   SECRET_LOCAL_DATETIME  "1979-05-27T07:32:00"
 *   SECRET_LOCAL_DATE      "1979-05-27"
 *   SECRET_LOCAL_TIME      "07:32:00"
 * Their CBOR encoding is fixed in docs/protocol.md.
 */

#include <stddef.h>
#include <stdint.h>

enum secret_type {
	SECRET_STRING = 1,
	SECRET_INTEGER = 2,
	SECRET_FLOAT = 3,
	SECRET_BOOL = 4,
	SECRET_DATETIME = 5,       /* offset date-time */
	SECRET_LOCAL_DATETIME = 6,
	SECRET_LOCAL_DATE = 7,
	SECRET_LOCAL_TIME = 8,
};

struct secret {
	const char *key; /* UTF-8, NUL-terminated, no NUL inside */
	size_t key_len;
	enum secret_type type;
	union {
		struct {
			const char *ptr; /* UTF-8 (strings) or RFC 3339 text (dates); NUL-terminated */
			size_t len;      /* bytes, without the NUL; strings may hold NUL bytes */
		} str;
		int64_t i;
		double f;
		int b;
	} v;
};

/* A shard: the secrets of one client, in definition order. Storage belongs
 * to whoever made the list (an arena in secure memory, usually). */
struct secret_list {
	const struct secret *items;
	size_t n;
};

/* "string", "integer", "float", "boolean", "datetime", "local-datetime",
 * "local-date", "local-time". */
static inline const char *secret_type_name(enum secret_type t)
{
	switch (t) {
	case SECRET_STRING: return "string";
	case SECRET_INTEGER: return "integer";
	case SECRET_FLOAT: return "float";
	case SECRET_BOOL: return "boolean";
	case SECRET_DATETIME: return "datetime";
	case SECRET_LOCAL_DATETIME: return "local-datetime";
	case SECRET_LOCAL_DATE: return "local-date";
	case SECRET_LOCAL_TIME: return "local-time";
	}
	return "unknown";
}

#endif

// SPDX-License-Identifier: ISC
#ifndef COFFER_TESTS_CLIENTS_SHARD_H
#define COFFER_TESTS_CLIENTS_SHARD_H

/*
 * The test shard: one secret of every value type, strings with quotes,
 * newlines, `$`, backslashes, control characters and unicode. The format
 * tests (test-output.c) render it; the fake appliance (fake-appliance.c)
 * serves it, so the integration scripts can compare the same expected output.
 */

#include <stdint.h>

#include "secret.h"

#define SHARD_S(k, val)                                                                            \
	{                                                                                          \
		.key = k, .key_len = sizeof(k) - 1, .type = SECRET_STRING, .v.str = {              \
			.ptr = val,                                                                \
			.len = sizeof(val) - 1                                                     \
		}                                                                                  \
	}
#define SHARD_T(k, ty, val)                                                                        \
	{                                                                                          \
		.key = k, .key_len = sizeof(k) - 1, .type = ty, .v.str = {                         \
			.ptr = val,                                                                \
			.len = sizeof(val) - 1                                                     \
		}                                                                                  \
	}

#define SHARD_TRICKY "it's \"q\"\n$HOME `id` \\n \\ \t\r\xc3\xbcnic\xc3\xb8" "de '' end"

static const struct secret shard[] = {
	SHARD_S("DB_PASSWORD", "s3cr3t"),
	SHARD_S("TRICKY", SHARD_TRICKY),
	SHARD_S("EMPTY", ""),
	{.key = "PORT", .key_len = 4, .type = SECRET_INTEGER, .v.i = 5432},
	{.key = "NEG", .key_len = 3, .type = SECRET_INTEGER, .v.i = INT64_MIN},
	{.key = "RATIO", .key_len = 5, .type = SECRET_FLOAT, .v.f = 0.75},
	{.key = "THREE", .key_len = 5, .type = SECRET_FLOAT, .v.f = 3.0},
	{.key = "BIG", .key_len = 3, .type = SECRET_FLOAT, .v.f = 1e100},
	{.key = "TENTH", .key_len = 5, .type = SECRET_FLOAT, .v.f = 0.1},
	{.key = "TLS", .key_len = 3, .type = SECRET_BOOL, .v.b = 1},
	{.key = "OFF", .key_len = 3, .type = SECRET_BOOL, .v.b = 0},
	SHARD_T("ROTATED", SECRET_DATETIME, "2026-11-01T12:00:00Z"),
	SHARD_T("LDT", SECRET_LOCAL_DATETIME, "1979-05-27T07:32:00"),
	SHARD_T("LD", SECRET_LOCAL_DATE, "1979-05-27"),
	SHARD_T("LT", SECRET_LOCAL_TIME, "07:32:00.5"),
};
#define NSHARD (sizeof(shard) / sizeof(shard[0]))

#endif

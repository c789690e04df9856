// SPDX-License-Identifier: ISC
#ifndef COFFER_TESTS_PROTOCOL_TESTUTIL_H
#define COFFER_TESTS_PROTOCOL_TESTUTIL_H

/* Small helpers shared by the protocol tests: hex from JSON, test data paths. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "encoding.h"

/* Decode a hex JSON string field into a malloc'd buffer; NULL if absent. */
static inline uint8_t *tu_hex(json_t *obj, const char *field, size_t *len)
{
	json_t *v = json_object_get(obj, field);
	const char *s;
	size_t n;
	uint8_t *out;

	*len = 0;
	if (v == NULL || !json_is_string(v))
		return NULL;
	s = json_string_value(v);
	n = strlen(s);
	if (n % 2 != 0)
		return NULL;
	if ((out = malloc(n / 2 + 1)) == NULL)
		return NULL;
	if (hex_decode(s, n, out, n / 2) != 0) {
		free(out);
		return NULL;
	}
	*len = n / 2;
	return out;
}

/* Load $COFFER_TESTDATA/<rel> as JSON, or exit(1) loudly. */
static inline json_t *tu_load_flags(const char *rel, size_t flags)
{
	const char *dir = getenv("COFFER_TESTDATA");
	char path[4096];
	json_error_t e;
	json_t *j;

	if (dir == NULL) {
		fprintf(stderr, "COFFER_TESTDATA is not set (meson test sets it to tests/data)\n");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if ((j = json_load_file(path, flags, &e)) == NULL) {
		fprintf(stderr, "cannot load %s: %s (line %d)\n", path, e.text, e.line);
		exit(1);
	}
	return j;
}

static inline json_t *tu_load(const char *rel)
{
	return tu_load_flags(rel, 0);
}

#endif

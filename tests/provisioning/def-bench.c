// SPDX-License-Identifier: ISC
/*
 * def-bench FILE CLIENTS IDENTITY: parse a definition file, print how long
 * definition_parse took, check the client count, that IDENTITY is found
 * and that every client is found by its identity. Exit 0 if all holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounds.h"
#include "buf.h"
#include "definition.h"
#include "encoding.h"
#include "err.h"
#include "file.h"

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

int main(int argc, char **argv)
{
	struct definition *def = NULL;
	struct buf *b = NULL;
	uint8_t id[IDENTITY_LEN];
	double t0, t1, t2, c0, c1;
	size_t i, want;
	int r;

	if (argc != 4) {
		fprintf(stderr, "usage: def-bench FILE CLIENTS IDENTITY\n");
		return 2;
	}
	want = strtoul(argv[2], NULL, 10);
	if ((r = file_read_all(argv[1], BUF_MAX_DEFAULT - 1, &b)) != 0 ||
	    (r = identity_parse(argv[3], id)) != 0) {
		fprintf(stderr, "%s\n", err_msg(r));
		return 1;
	}
	t0 = now();
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	r = definition_parse(buf_ptr(b), buf_len(b), argv[1], DEF_AUTO, &def);
	c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	t1 = now();
	if (r != 0) {
		fprintf(stderr, "%s\n", err_msg(r));
		buf_free(b);
		return 1;
	}
	for (i = 0; i < definition_client_count(def); i++) {
		const struct def_client *c = definition_client_at(def, i);
		if (definition_find(def, def_client_id(c)) != c) {
			fprintf(stderr, "client %zu not found by identity\n", i);
			r = 1;
		}
	}
	t2 = now();
	printf("%s: %zu bytes, %zu clients, %zu secrets: parse+model %.3f s (cpu %.3f s), "
	       "%zu lookups %.3f s\n",
	       argv[1], buf_len(b), definition_client_count(def), definition_secret_count(def),
	       t1 - t0, c1 - c0, definition_client_count(def), t2 - t1);
	if (definition_client_count(def) != want) {
		fprintf(stderr, "expected %zu clients\n", want);
		r = 1;
	}
	if (definition_find(def, id) == NULL) {
		fprintf(stderr, "identity %s not found\n", argv[3]);
		r = 1;
	}
	definition_free(def);
	buf_free(b);
	return r;
}

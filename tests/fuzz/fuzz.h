// SPDX-License-Identifier: ISC
#ifndef COFFER_TESTS_FUZZ_FUZZ_H
#define COFFER_TESTS_FUZZ_FUZZ_H

/*
 * What the fuzz harnesses share. Each harness defines LLVMFuzzerTestOneInput;
 * a harness whose seeds are made by code (scripts, signed or sealed files)
 * also defines fuzz_seeds(dir), which the stand-alone driver
 * (tests/fuzz-main.c) calls for `fuzz-NAME --seeds DIR`.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Write this harness's generated seeds into dir; 0 or non-zero. */
int fuzz_seeds(const char *dir);

/* A harness broke one of its own rules: crash so that libFuzzer keeps the input. */
#define FUZZ_ASSERT(cond)                 \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

/* Write one seed file dir/name from b; 0 or -1. */
static inline int fuzz_seed_write(const char *dir, const char *name, const struct buf *b)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	ok = fwrite(buf_ptr(b), 1, buf_len(b), f) == buf_len(b);
	return fclose(f) == 0 && ok ? 0 : -1;
}

#endif

// SPDX-License-Identifier: ISC
#ifndef COFFER_SECMEM_H
#define COFFER_SECMEM_H

/*
 * Memory for secrets: page-aligned, mlock()ed, excluded from core dumps
 * (MADV_DONTDUMP), fenced by PROT_NONE guard pages, with a canary checked on
 * free, and wiped on free. Each allocation costs at least three pages: use it
 * for keys, PINs and unsealed definitions, not for per-packet scratch (wipe
 * that with secmem_zero()).
 */

#include <stddef.h>

#include "err.h"

/* Zeroed memory for n secret bytes, or NULL (ERR_ALLOC). mlock failure is
 * tolerated (logged once at warn) so unprivileged tools still work. */
void *secmem_alloc(size_t n) __attribute__((malloc));
/* Wipe and release; NULL is fine. Aborts if the canary was overwritten. */
void secmem_free(void *p);
/* Size given at allocation. */
size_t secmem_size(const void *p);

/* Wipe n bytes so the compiler cannot elide it. */
void secmem_zero(void *p, size_t n);
/* Constant-time equality: 1 if equal, 0 if not. */
int secmem_eq(const void *a, const void *b, size_t n);

/*
 * Process hardening for programs that hold secrets: no core dumps
 * (RLIMIT_CORE 0), not dumpable / not ptrace-attachable by the same uid
 * (PR_SET_DUMPABLE 0). Returns 0 or ERR_SYSTEM.
 */
int secmem_harden_process(void) WARN_UNUSED;

#endif

// SPDX-License-Identifier: ISC
#include "secmem.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "log.h"

/*
 * Layout of one allocation (sodium's model):
 *   [guard page][... header | user bytes][guard page]
 * The user bytes (rounded up to 16 for alignment) end at the second guard
 * page, so overruns fault; the header sits just before them and its canary is
 * checked on free to catch underruns.
 */

#define CANARY_LEN 16
#define ALIGN 16

struct header {
	unsigned char *base; /* start of the mapping */
	size_t total;        /* mapped bytes, guards included */
	size_t size;         /* user bytes asked for */
	unsigned char canary[CANARY_LEN];
};

static unsigned char canary[CANARY_LEN];
static int canary_ready;
static int mlock_warned;

static size_t page_size(void)
{
	static size_t ps;

	if (ps == 0) {
		long v = sysconf(_SC_PAGESIZE);
		ps = v > 0 ? (size_t)v : 4096;
	}
	return ps;
}

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

void secmem_zero(void *p, size_t n)
{
	if (p != NULL && n != 0)
		OPENSSL_cleanse(p, n);
}

int secmem_eq(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void *secmem_alloc(size_t n)
{
	size_t ps = page_size(), user_len, inner, total;
	unsigned char *base, *user;
	struct header *h;

	if (!canary_ready) {
		if (RAND_bytes(canary, sizeof(canary)) != 1)
			return NULL;
		canary_ready = 1;
	}
	if (n > SIZE_MAX / 4)
		return NULL;
	user_len = round_up(n == 0 ? 1 : n, ALIGN);
	inner = round_up(user_len + sizeof(struct header), ps);
	total = inner + 2 * ps;
	base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	if (mprotect(base, ps, PROT_NONE) != 0 || mprotect(base + ps + inner, ps, PROT_NONE) != 0) {
		munmap(base, total);
		return NULL;
	}
	(void)madvise(base + ps, inner, MADV_DONTDUMP);
	if (mlock(base + ps, inner) != 0 && !mlock_warned) {
		mlock_warned = 1;
		log_warn("mlock failed (RLIMIT_MEMLOCK too low?): secrets may be swapped");
	}
	user = base + ps + inner - user_len;
	h = (struct header *)(user - sizeof(struct header));
	h->base = base;
	h->total = total;
	h->size = n;
	memcpy(h->canary, canary, CANARY_LEN);
	return user;
}

static struct header *header_of(const void *p)
{
	struct header *h = (struct header *)((uintptr_t)p - sizeof(struct header));

	if (CRYPTO_memcmp(h->canary, canary, CANARY_LEN) != 0)
		fatal("secmem: %p was not allocated by secmem_alloc, or was underrun", p);
	return h;
}

size_t secmem_size(const void *p)
{
	return header_of(p)->size;
}

void secmem_free(void *p)
{
	struct header *h;
	unsigned char *base;
	size_t total, ps = page_size();

	if (p == NULL)
		return;
	h = header_of(p);
	base = h->base;
	total = h->total;
	OPENSSL_cleanse(base + ps, total - 2 * ps);
	(void)munlock(base + ps, total - 2 * ps);
	munmap(base, total);
}

int secmem_harden_process(void)
{
	struct rlimit rl = {0, 0};

	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return err_sys("setrlimit(RLIMIT_CORE, 0)");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return err_sys("prctl(PR_SET_DUMPABLE, 0)");
	return 0;
}

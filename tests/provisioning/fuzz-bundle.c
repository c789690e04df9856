// SPDX-License-Identifier: ISC
/*
 * libFuzzer target: a whole bundle directory as the appliance verifies it
 * (bundle_verify: trust anchor, the signature over the manifest's exact
 * bytes, the manifest, serial against the state file, the tree walk that
 * refuses links, special files and unlisted files, every listed file's hash),
 * then every listed file read back through the verified bundle.
 *
 * The input builds the directory in a fresh temporary tree: u8 flags (bit 0:
 * write the master public key the trust anchor names; bit 1: a state file
 * follows as u8 n + n bytes; bit 2: update it on success), then ops:
 *   0 FILE      u8 n, path, u16 m, m bytes of content
 *   1 DIR       u8 n, path
 *   2 LINK      u8 n, path, u8 m, m bytes of link target
 *   3 MANIFEST  the production builder writes the manifest of the tree so far
 *               (bundle_manifest_write) and the master key signs it (bundle_sign)
 *   4 SIGNED    u16 m, m bytes written as crypto_manifest.json and signed
 *   5 FIFO      u8 n, path
 * Paths are created one component at a time below the tree's root and never
 * through a link; "." and ".." components are dropped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle.h"
#include "buf.h"
#include "encoding.h"
#include "file.h"
#include "fuzz.h"
#include "hsm.h"
#include "log.h"
#include "noise.h"

#define MASTER_HEX "4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d"
#define CREATED 1795000000

enum bundle_op {
	OP_FILE = 0,
	OP_DIR = 1,
	OP_LINK = 2,
	OP_MANIFEST = 3,
	OP_SIGNED = 4,
	OP_FIFO = 5,
};

enum bundle_flag {
	FLAG_MASTER = 1u << 0,
	FLAG_STATE = 1u << 1,
	FLAG_UPDATE_STATE = 1u << 2,
};

static struct noise_key master_nk;
static struct hsm_key *master;
static struct buf *master_pem;
static char anchor[PKEY_FPR_TEXT_LEN + 1];
static char root[64];

static void cleanup(void);

static int sign(void *ctx, const uint8_t *data, size_t len, struct buf *sig)
{
	return hsm_key_sign_data(ctx, data, len, sig);
}

static void setup(void)
{
	EVP_PKEY *pub = NULL;
	uint8_t s[32];

	if (master != NULL)
		return;
	log_set_level(LOG_LEVEL_ERROR);
	snprintf(root, sizeof(root), "%s/coffer-fuzz-bundle.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	FUZZ_ASSERT(mkdtemp(root) != NULL && atexit(cleanup) == 0);
	FUZZ_ASSERT(hex_decode(MASTER_HEX, 64, s, sizeof(s)) == 0 &&
		    noise_key_from_private(&master_nk, NOISE_DH_P256, s, sizeof(s)) == 0 &&
		    hsm_key_from_pkey(master_nk.owned, &master) == 0 &&
		    hsm_key_public(master, &pub) == 0 && pkey_fingerprint(pub, anchor) == 0 &&
		    (master_pem = buf_new(0)) != NULL && pkey_public_pem(pub, master_pem) == 0);
	EVP_PKEY_free(pub);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void cleanup(void)
{
	(void)nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The directory that holds the last component of rel (below dirfd), made as
 * needed and never through a link; *last points into rel. -1 if unusable. */
static int parent_of(int dirfd, char *rel, char **last)
{
	char *save = NULL, *c, *next;
	int fd = dup(dirfd), sub;

	*last = NULL;
	for (c = strtok_r(rel, "/", &save); c != NULL; c = next) {
		next = strtok_r(NULL, "/", &save);
		if (strcmp(c, ".") == 0 || strcmp(c, "..") == 0)
			continue;
		if (next == NULL) {
			*last = c;
			return fd;
		}
		if (mkdirat(fd, c, 0755) != 0 && errno != EEXIST)
			break;
		sub = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if ((fd = sub) < 0)
			return -1;
	}
	close(fd);
	return -1;
}

static int get_name(struct buf *in, char *name, size_t cap)
{
	const uint8_t *p;
	uint8_t n;
	int r;

	if ((r = buf_get_u8(in, &n)) != 0 || (r = buf_get_direct(in, &p, n)) != 0)
		return r;
	if (n >= cap || memchr(p, '\0', n) != NULL)
		return ERR_FORMAT;
	memcpy(name, p, n);
	name[n] = '\0';
	return 0;
}

static void put_file(int dirfd, char *path, const uint8_t *p, size_t n)
{
	char *last;
	int pfd = parent_of(dirfd, path, &last), fd;

	if (pfd < 0)
		return;
	fd = openat(pfd, last, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, p, n) != (ssize_t)n) {
			/* a short tree is a tree too */
		}
		close(fd);
	}
	close(pfd);
}

/* Write the manifest bytes and their signature by the master key. */
static void put_signed(int dirfd, const uint8_t *p, size_t n)
{
	struct buf *sig = buf_new(0);
	char name[] = BUNDLE_MANIFEST, sname[] = BUNDLE_SIGNATURE;

	FUZZ_ASSERT(sig != NULL);
	put_file(dirfd, name, p, n);
	if (hsm_key_sign_data(master, p, n, sig) == 0)
		put_file(dirfd, sname, buf_ptr(sig), buf_len(sig));
	buf_free(sig);
}

static int op(struct buf *in, int dirfd, const char *dir)
{
	char path[256], target[256], *last;
	const uint8_t *p;
	uint16_t m;
	uint8_t o;
	int r, pfd;

	if ((r = buf_get_u8(in, &o)) != 0)
		return r;
	switch (o) {
	case OP_FILE:
		if ((r = get_name(in, path, sizeof(path))) != 0 || (r = buf_get_u16(in, &m)) != 0 ||
		    (r = buf_get_direct(in, &p, m)) != 0)
			return r;
		put_file(dirfd, path, p, m);
		return 0;
	case OP_DIR:
	case OP_LINK:
	case OP_FIFO:
		if ((r = get_name(in, path, sizeof(path))) != 0 ||
		    (o == OP_LINK && (r = get_name(in, target, sizeof(target))) != 0))
			return r;
		if ((pfd = parent_of(dirfd, path, &last)) < 0)
			return 0;
		/* Whatever fails to be made is simply not in the tree. */
		if ((o == OP_DIR && mkdirat(pfd, last, 0755) != 0) ||
		    (o == OP_LINK && symlinkat(target, pfd, last) != 0) ||
		    (o == OP_FIFO && mkfifoat(pfd, last, 0644) != 0))
			err_clear();
		close(pfd);
		return 0;
	case OP_MANIFEST:
		if (bundle_manifest_write(dir, CREATED, NULL) == 0 &&
		    bundle_sign(dir, sign, master, NULL, NULL) != 0) {
			/* a tree the builder takes but the signer does not */
		}
		err_clear();
		return 0;
	case OP_SIGNED:
		if ((r = buf_get_u16(in, &m)) != 0 || (r = buf_get_direct(in, &p, m)) != 0)
			return r;
		put_signed(dirfd, p, m);
		return 0;
	}
	return 0;
}

/* A verified bundle hands out every listed file, matching its hash. */
static void read_back(const struct bundle *b)
{
	const struct bundle_manifest *m = bundle_get_manifest(b);
	struct buf *data = NULL;
	size_t i;

	for (i = 0; i < bundle_manifest_count(m); i++) {
		const struct bundle_entry *e = bundle_manifest_entry(m, i);
		uint8_t h[SHA256_LEN];
		FUZZ_ASSERT(bundle_read_file(b, e->path, 1 << 20, &data) == 0);
		FUZZ_ASSERT(pkey_sha256(buf_ptr(data), buf_len(data), h) == 0 &&
			    memcmp(h, e->sha256, SHA256_LEN) == 0);
		buf_free(data);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_verify_opts opts = {0};
	struct buf *in = buf_from(data, size);
	struct bundle *b = NULL;
	char dir[128], state[128], name[] = BUNDLE_MASTER_PUBLIC;
	const uint8_t *p;
	uint8_t flags, n;
	int dirfd;

	setup();
	FUZZ_ASSERT(in != NULL);
	snprintf(dir, sizeof(dir), "%s/bundle", root);
	snprintf(state, sizeof(state), "%s/state", root);
	FUZZ_ASSERT(mkdir(dir, 0755) == 0 && (dirfd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
	opts.trust_anchor = anchor;
	if (buf_get_u8(in, &flags) != 0)
		goto out;
	if (flags & FLAG_MASTER)
		put_file(dirfd, name, buf_ptr(master_pem), buf_len(master_pem));
	if (flags & FLAG_STATE) {
		if (buf_get_u8(in, &n) != 0 || buf_get_direct(in, &p, n) != 0)
			goto out;
		FUZZ_ASSERT(file_write_atomic(state, p, n, 0600) == 0);
		opts.state_file = state;
		opts.update_state = (flags & FLAG_UPDATE_STATE) != 0;
	}
	while (op(in, dirfd, dir) == 0)
		;
	if (bundle_verify(dir, &opts, &b) == 0)
		read_back(b);
out:
	err_clear();
	bundle_free(b);
	close(dirfd);
	FUZZ_ASSERT(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 && mkdir(root, 0700) == 0);
	buf_free(in);
	return 0;
}

static int put_name(struct buf *b, const char *s)
{
	return buf_put_u8(b, (uint8_t)strlen(s)) || buf_put(b, s, strlen(s));
}

static int put_content(struct buf *b, const char *s)
{
	return buf_put_u16(b, (uint16_t)strlen(s)) || buf_put(b, s, strlen(s));
}

int fuzz_seeds(const char *dir)
{
	static const char manifest[] =
		"{\n  \"created\": \"2026-11-18T12:00:00Z\",\n  \"files\": {\n"
		"    \"keys/appl_public.pem\": "
		"\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"\n"
		"  },\n  \"serial\": 3,\n  \"version\": 1\n}\n";
	struct buf *b = buf_new(0);
	int r = 0;

	setup();
	FUZZ_ASSERT(b != NULL);
	/* A good bundle: two files, the builder's manifest, signed. */
	FUZZ_ASSERT(buf_put_u8(b, FLAG_MASTER) == 0 && buf_put_u8(b, OP_FILE) == 0 &&
		    put_name(b, "keys/appl_public.pem") == 0 && put_content(b, "") == 0 &&
		    buf_put_u8(b, OP_FILE) == 0 && put_name(b, "coffer.sealed") == 0 &&
		    put_content(b, "COFSEAL1") == 0 && buf_put_u8(b, OP_MANIFEST) == 0);
	r |= fuzz_seed_write(dir, "good", b);
	/* ... then a file appears that the manifest does not list. */
	FUZZ_ASSERT(buf_put_u8(b, OP_FILE) == 0 && put_name(b, "scripts/late.sh") == 0 &&
		    put_content(b, "#!/bin/sh\n") == 0);
	r |= fuzz_seed_write(dir, "unlisted", b);
	buf_reset(b);
	FUZZ_ASSERT(buf_put_u8(b, FLAG_MASTER | FLAG_STATE | FLAG_UPDATE_STATE) == 0 &&
		    put_name(b, "2\n") == 0 && buf_put_u8(b, OP_FILE) == 0 &&
		    put_name(b, "keys/appl_public.pem") == 0 && put_content(b, "") == 0 &&
		    buf_put_u8(b, OP_SIGNED) == 0 && put_content(b, manifest) == 0);
	r |= fuzz_seed_write(dir, "signed-serial-3", b);
	buf_reset(b);
	FUZZ_ASSERT(buf_put_u8(b, FLAG_MASTER) == 0 && buf_put_u8(b, OP_LINK) == 0 &&
		    put_name(b, "keys/appl_public.pem") == 0 && put_name(b, "/etc/hostname") == 0 &&
		    buf_put_u8(b, OP_DIR) == 0 && put_name(b, ".git/objects") == 0 &&
		    buf_put_u8(b, OP_FIFO) == 0 && put_name(b, "pipe") == 0 &&
		    buf_put_u8(b, OP_SIGNED) == 0 && put_content(b, manifest) == 0);
	r |= fuzz_seed_write(dir, "link-fifo-git", b);
	buf_free(b);
	return r;
}

// SPDX-License-Identifier: ISC
/*
 * libFuzzer target: a whole bundle directory as the appliance verifies it
 * (bundle_verify: the masters' keys against the trust anchors, K distinct
 * anchors' signatures over the manifest's exact bytes, the manifest, serial
 * against the state file, the tree walk that refuses links, special files and
 * unlisted files, every listed file's hash), then every listed file read back
 * through the verified bundle.
 *
 * Three master keys are fixed: M0 (master_signing_public.pem) and M1, M2
 * (masters/m1_public.pem, masters/m2_public.pem). The input builds the
 * directory in a fresh temporary tree: u8 flags (bit 0: write M0's public
 * key; bit 1: a state file follows as u8 n + n bytes; bit 2: update it on
 * success; bits 3 and 4: write M1's, M2's public key; bits 5-6: the
 * threshold K, 0 meaning 1; bit 7: M0 is the only trust anchor, else all
 * three are), then ops:
 *   0 FILE      u8 n, path, u16 m, m bytes of content
 *   1 DIR       u8 n, path
 *   2 LINK      u8 n, path, u8 m, m bytes of link target
 *   3 MANIFEST  u8 mask: the production builder writes the manifest of the
 *               tree so far (bundle_manifest_write) and the masters in mask
 *               sign it (bundle_sign)
 *   4 SIGNED    u8 mask, u16 m, m bytes written as crypto_manifest.json and
 *               signed by the masters in mask (signatures/sha256-<fpr>.sig;
 *               M0's also as crypto_manifest.json.sig)
 *   5 FIFO      u8 n, path
 *   6 SIG       u8 master, u8 m, m bytes as that master's signature file
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

#define CREATED 1795000000
#define MASTERS 3

static const char *const master_hex[MASTERS] = {
	"4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d",
	"4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e",
	"4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f",
};
static const char *const master_file[MASTERS] = {
	BUNDLE_MASTER_PUBLIC, BUNDLE_MASTERS_DIR "/m1_public.pem", BUNDLE_MASTERS_DIR "/m2_public.pem",
};

enum bundle_op {
	OP_FILE = 0,
	OP_DIR = 1,
	OP_LINK = 2,
	OP_MANIFEST = 3,
	OP_SIGNED = 4,
	OP_FIFO = 5,
	OP_SIG = 6,
};

enum bundle_flag {
	FLAG_MASTER = 1u << 0,
	FLAG_STATE = 1u << 1,
	FLAG_UPDATE_STATE = 1u << 2,
	FLAG_M1 = 1u << 3,
	FLAG_M2 = 1u << 4,
	FLAG_ONE_ANCHOR = 1u << 7,
};
#define FLAG_THRESHOLD(f) (((f) >> 5) & 3)

struct master {
	struct noise_key nk;
	struct hsm_key *key;
	EVP_PKEY *pub;
	struct buf *pem;
	uint8_t id[SHA256_LEN];
	char fpr[PKEY_FPR_TEXT_LEN + 1];
};

static struct master masters[MASTERS];
static const char *anchors[MASTERS];
static char root[64];

static void cleanup(void);

static int sign(void *ctx, const uint8_t *data, size_t len, struct buf *sig)
{
	return hsm_key_sign_data(ctx, data, len, sig);
}

static void setup(void)
{
	struct master *m;
	uint8_t s[32];
	size_t i;

	if (masters[0].key != NULL)
		return;
	log_set_level(LOG_LEVEL_ERROR);
	snprintf(root, sizeof(root), "%s/coffer-fuzz-bundle.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	FUZZ_ASSERT(mkdtemp(root) != NULL && atexit(cleanup) == 0);
	for (i = 0; i < MASTERS; i++) {
		m = &masters[i];
		FUZZ_ASSERT(hex_decode(master_hex[i], 64, s, sizeof(s)) == 0 &&
			    noise_key_from_private(&m->nk, NOISE_DH_P256, s, sizeof(s)) == 0 &&
			    hsm_key_from_pkey(m->nk.owned, &m->key) == 0 &&
			    hsm_key_public(m->key, &m->pub) == 0 &&
			    pkey_identity(m->pub, m->id) == 0 && pkey_fingerprint(m->pub, m->fpr) == 0 &&
			    (m->pem = buf_new(0)) != NULL && pkey_public_pem(m->pub, m->pem) == 0);
		anchors[i] = m->fpr;
	}
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

/* Master i's signature file (M0's also under the name of one-master bundles). */
static void put_signature(int dirfd, size_t i, const uint8_t *p, size_t n)
{
	char path[BUNDLE_SIG_NAME_LEN + sizeof(BUNDLE_SIGNATURES_DIR) + 1];
	char name[BUNDLE_SIG_NAME_LEN + 1], legacy[] = BUNDLE_SIGNATURE;

	bundle_signature_name(masters[i].id, name);
	snprintf(path, sizeof(path), "%s/%s", BUNDLE_SIGNATURES_DIR, name);
	put_file(dirfd, path, p, n);
	if (i == 0)
		put_file(dirfd, legacy, p, n);
}

/* Write the manifest bytes and the signatures of the masters in mask. */
static void put_signed(int dirfd, uint8_t mask, const uint8_t *p, size_t n)
{
	struct buf *sig = buf_new(0);
	char name[] = BUNDLE_MANIFEST;
	size_t i;

	FUZZ_ASSERT(sig != NULL);
	put_file(dirfd, name, p, n);
	for (i = 0; i < MASTERS; i++) {
		buf_reset(sig);
		if ((mask & (1u << i)) && hsm_key_sign_data(masters[i].key, p, n, sig) == 0)
			put_signature(dirfd, i, buf_ptr(sig), buf_len(sig));
	}
	buf_free(sig);
}

static int op(struct buf *in, int dirfd, const char *dir)
{
	char path[256], target[256], *last;
	const uint8_t *p;
	uint16_t m;
	uint8_t o, v, k;
	size_t i;
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
		if ((r = buf_get_u8(in, &v)) != 0)
			return r;
		if (bundle_manifest_write(dir, CREATED, NULL) == 0) {
			for (i = 0; i < MASTERS; i++)
				if ((v & (1u << i)) &&
				    bundle_sign(dir, sign, masters[i].key, masters[i].pub, NULL) != 0)
					break; /* a tree the builder takes but the signer does not */
		}
		err_clear();
		return 0;
	case OP_SIGNED:
		if ((r = buf_get_u8(in, &v)) != 0 || (r = buf_get_u16(in, &m)) != 0 ||
		    (r = buf_get_direct(in, &p, m)) != 0)
			return r;
		put_signed(dirfd, v, p, m);
		return 0;
	case OP_SIG:
		if ((r = buf_get_u8(in, &v)) != 0 || (r = buf_get_u8(in, &k)) != 0 ||
		    (r = buf_get_direct(in, &p, k)) != 0)
			return r;
		put_signature(dirfd, v % MASTERS, p, k);
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

/* Signature files that did not count are reported, never silently dropped. */
static void note(void *arg, const char *file, const char *why)
{
	FUZZ_ASSERT(file != NULL && why != NULL);
	++*(size_t *)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_verify_opts opts = {0};
	struct buf *in = buf_from(data, size);
	struct bundle *b = NULL;
	char dir[128], state[128], name[BUNDLE_PATH_MAX];
	const uint8_t *p;
	uint8_t flags, n;
	size_t i, notes = 0;
	int dirfd;

	setup();
	FUZZ_ASSERT(in != NULL);
	snprintf(dir, sizeof(dir), "%s/bundle", root);
	snprintf(state, sizeof(state), "%s/state", root);
	FUZZ_ASSERT(mkdir(dir, 0755) == 0 && (dirfd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
	if (buf_get_u8(in, &flags) != 0)
		goto out;
	if (flags & FLAG_ONE_ANCHOR) {
		opts.trust_anchor = anchors[0];
	} else {
		opts.anchors = anchors;
		opts.n_anchors = MASTERS;
	}
	opts.threshold = FLAG_THRESHOLD(flags);
	opts.note = note;
	opts.note_arg = &notes;
	for (i = 0; i < MASTERS; i++) {
		if (flags & (i == 0 ? FLAG_MASTER : i == 1 ? FLAG_M1 : FLAG_M2)) {
			snprintf(name, sizeof(name), "%s", master_file[i]);
			put_file(dirfd, name, buf_ptr(masters[i].pem), buf_len(masters[i].pem));
		}
	}
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
	/* A good bundle: two files, the builder's manifest, signed by M0. */
	FUZZ_ASSERT(buf_put_u8(b, FLAG_MASTER) == 0 && buf_put_u8(b, OP_FILE) == 0 &&
		    put_name(b, "keys/appl_public.pem") == 0 && put_content(b, "") == 0 &&
		    buf_put_u8(b, OP_FILE) == 0 && put_name(b, "coffer.sealed") == 0 &&
		    put_content(b, "COFSEAL1") == 0 && buf_put_u8(b, OP_MANIFEST) == 0 &&
		    buf_put_u8(b, 1) == 0);
	r |= fuzz_seed_write(dir, "good", b);
	/* ... then a file appears that the manifest does not list. */
	FUZZ_ASSERT(buf_put_u8(b, OP_FILE) == 0 && put_name(b, "scripts/late.sh") == 0 &&
		    put_content(b, "#!/bin/sh\n") == 0);
	r |= fuzz_seed_write(dir, "unlisted", b);
	buf_reset(b);
	/* Three masters, two must sign; M0 and M1 do. */
	FUZZ_ASSERT(buf_put_u8(b, FLAG_MASTER | FLAG_M1 | FLAG_M2 | (2u << 5)) == 0 &&
		    buf_put_u8(b, OP_FILE) == 0 && put_name(b, "revoked.json") == 0 &&
		    put_content(b, "{}") == 0 && buf_put_u8(b, OP_MANIFEST) == 0 &&
		    buf_put_u8(b, 3) == 0);
	r |= fuzz_seed_write(dir, "two-of-three", b);
	/* ... three must: M2's file is garbage. */
	buf_reset(b);
	FUZZ_ASSERT(buf_put_u8(b, FLAG_MASTER | FLAG_M1 | FLAG_M2 | (3u << 5)) == 0 &&
		    buf_put_u8(b, OP_MANIFEST) == 0 && buf_put_u8(b, 3) == 0 &&
		    buf_put_u8(b, OP_SIG) == 0 && buf_put_u8(b, 2) == 0 && put_name(b, "0\x02") == 0);
	r |= fuzz_seed_write(dir, "three-of-three-forged", b);
	buf_reset(b);
	FUZZ_ASSERT(buf_put_u8(b, FLAG_MASTER | FLAG_STATE | FLAG_UPDATE_STATE) == 0 &&
		    put_name(b, "2\n") == 0 && buf_put_u8(b, OP_FILE) == 0 &&
		    put_name(b, "keys/appl_public.pem") == 0 && put_content(b, "") == 0 &&
		    buf_put_u8(b, OP_SIGNED) == 0 && buf_put_u8(b, 1) == 0 &&
		    put_content(b, manifest) == 0);
	r |= fuzz_seed_write(dir, "signed-serial-3", b);
	buf_reset(b);
	FUZZ_ASSERT(buf_put_u8(b, FLAG_MASTER | FLAG_ONE_ANCHOR) == 0 &&
		    buf_put_u8(b, OP_LINK) == 0 && put_name(b, "keys/appl_public.pem") == 0 &&
		    put_name(b, "/etc/hostname") == 0 && buf_put_u8(b, OP_DIR) == 0 &&
		    put_name(b, ".git/objects") == 0 && buf_put_u8(b, OP_FIFO) == 0 &&
		    put_name(b, "pipe") == 0 && buf_put_u8(b, OP_SIGNED) == 0 &&
		    buf_put_u8(b, 1) == 0 && put_content(b, manifest) == 0);
	r |= fuzz_seed_write(dir, "link-fifo-git", b);
	buf_free(b);
	return r;
}

// SPDX-License-Identifier: ISC
/*
 * The PKCS#11 backend against a real SoftHSM2 token made by pkcs11.sh
 * (COFFER_PKCS11_MODULE, COFFER_TOKEN_URI, COFFER_TOKEN_LABEL, COFFER_PIN_FILE,
 * TEST_TMP in the environment).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <p11-kit/pkcs11.h>

#include "secmem.h"
#include "test-common.h"

static const char *module, *token_uri, *token_label, *pin_file, *tmpdir;
static char pin_source[600];

static struct hsm *open_with(const char *mod, const char *token, const char *pin, unsigned need,
			     int *rp)
{
	struct hsm_config cfg = {
		.backend = HSM_BACKEND_PKCS11,
		.module = mod,
		.token = token,
		.pin_source = pin,
		.need = need,
	};
	struct hsm *h = NULL;

	*rp = hsm_open(&cfg, &h);
	return h;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 || chmod(path, mode) != 0) {
		perror(path);
		exit(1);
	}
}

static char *read_pin(void)
{
	static char pin[200];
	FILE *f = fopen(pin_file, "r");

	if (f == NULL || fgets(pin, sizeof(pin), f) == NULL) {
		perror(pin_file);
		exit(1);
	}
	fclose(f);
	return pin;
}

static void test_keys(struct hsm *h)
{
	struct hsm_key *dk = NULL, *sk = NULL, *k2 = NULL, *k3 = NULL;
	struct buf *sig = buf_new(0);
	uint8_t pt[P256_POINT_LEN], pt2[P256_POINT_LEN], digest[32] = { 1 };
	char uri[512], idhex[64];

	TEST_START("generate derive and sign keys");
	ASSERT_INT_EQ(hsm_generate(h, "dh", HSM_USAGE_DERIVE, NULL, &dk), 0);
	ASSERT_INT_EQ(hsm_generate(h, "sig", HSM_USAGE_SIGN, NULL, &sk), 0);
	ASSERT_TRUE(dk != NULL && sk != NULL);
	TEST_DONE();
	if (dk == NULL || sk == NULL)
		goto out;

	TEST_START("ECDH equals OpenSSL ECDH");
	ASSERT_TRUE(ecdh_matches_openssl(dk, 50));
	TEST_DONE();

	TEST_START("signature verifies with OpenSSL");
	ASSERT_TRUE(sign_verifies(sk));
	TEST_DONE();

	TEST_START("usage is enforced by the token");
	ASSERT_INT_EQ(hsm_key_sign(dk, digest, sizeof(digest), sig), ERR_HSM);
	ASSERT_TRUE(detail_has("CKR_"));
	ASSERT_TRUE(detail_has("dh"));
	ASSERT_INT_EQ(hsm_key_sign(sk, digest, 20, sig), ERR_INVALID_ARG);
	TEST_DONE();

	TEST_START("duplicate label refused");
	ASSERT_INT_EQ(hsm_generate(h, "dh", HSM_USAGE_DERIVE, NULL, &k2), ERR_EXISTS);
	ASSERT_TRUE(k2 == NULL);
	TEST_DONE();

	TEST_START("reopen by label, by URI, by id");
	ASSERT_INT_EQ(hsm_key_point(dk, pt), 0);
	ASSERT_INT_EQ(hsm_key_open(h, "dh", &k2), 0);
	if (k2 != NULL) {
		ASSERT_INT_EQ(hsm_key_point(k2, pt2), 0);
		ASSERT_MEM_EQ(pt, pt2, sizeof(pt));
		ASSERT_TRUE(ecdh_matches_openssl(k2, 3));
	}
	hsm_key_free(k2);
	k2 = NULL;
	snprintf(uri, sizeof(uri), "%s;object=dh;type=private", token_uri);
	ASSERT_INT_EQ(hsm_key_open(h, uri, &k2), 0);
	ASSERT_STR_EQ(hsm_key_name(k2), uri);
	hsm_key_free(k2);
	k2 = NULL;
	/* id= is the SHA-256 prefix of the point, percent-encoded. */
	{
		uint8_t md[32];
		size_t i, n = 0;

		ASSERT_INT_EQ(pkey_sha256(pt, sizeof(pt), md), 0);
		n = (size_t)snprintf(uri, sizeof(uri), "pkcs11:id=");
		for (i = 0; i < 20; i++)
			n += (size_t)snprintf(uri + n, sizeof(uri) - n, "%%%02x", md[i]);
		hex_encode(md, 4, idhex);
	}
	ASSERT_INT_EQ(hsm_key_open(h, uri, &k3), 0);
	if (k3 != NULL) {
		ASSERT_INT_EQ(hsm_key_point(k3, pt2), 0);
		ASSERT_MEM_EQ(pt, pt2, sizeof(pt));
	}
	TEST_DONE();

	TEST_START("missing key, key on another token, bad URIs");
	ASSERT_INT_EQ(hsm_key_open(h, "nokey", &k2), ERR_NOT_FOUND);
	ASSERT_TRUE(detail_has("nokey"));
	ASSERT_INT_EQ(hsm_key_open(h, "pkcs11:token=other;object=dh", &k2), ERR_NOT_FOUND);
	ASSERT_TRUE(detail_has("another token"));
	ASSERT_INT_EQ(hsm_key_open(h, "pkcs11:token=x;object=%zz", &k2), ERR_FORMAT);
	ASSERT_INT_EQ(hsm_key_open(h, "pkcs11:model=x;object=dh", &k2), ERR_NOT_FOUND);
	ASSERT_INT_EQ(hsm_key_open(h, token_uri, &k2), ERR_INVALID_ARG);
	ASSERT_TRUE(detail_has("names no object"));
	ASSERT_INT_EQ(hsm_key_open(h, "pkcs11:object=dh;type=public", &k2), ERR_INVALID_ARG);
	/* A public-only object is not a private key. */
	ASSERT_TRUE(k2 == NULL);
	TEST_DONE();

	TEST_START("callback form");
	{
		EVP_PKEY *peer = NULL, *pub = NULL;
		uint8_t ppt[P256_POINT_LEN], a[32], b[32];

		ASSERT_INT_EQ(pkey_generate_p256(&peer), 0);
		ASSERT_INT_EQ(pkey_to_point(peer, ppt), 0);
		ASSERT_INT_EQ(hsm_dh_callback(dk, ppt, a), 0);
		ASSERT_INT_EQ(hsm_key_public(dk, &pub), 0);
		ASSERT_INT_EQ(pkey_ecdh(peer, pub, b), 0);
		ASSERT_MEM_EQ(a, b, 32);
		EVP_PKEY_free(peer);
		EVP_PKEY_free(pub);
	}
	TEST_DONE();
out:
	hsm_key_free(dk);
	hsm_key_free(sk);
	hsm_key_free(k3);
	buf_free(sig);
}

/* Wycheproof ecpoint vectors: invalid points never reach the token. */
static void test_wycheproof(struct hsm *h)
{
	char path[1024];
	json_t *root, *groups, *g, *tests, *t;
	json_error_t jerr;
	struct hsm_key *tk = NULL, *sk = NULL;
	EVP_PKEY *priv = NULL;
	size_t gi, ti, n = 0, refused = 0;
	uint8_t pub[200], d[64], shared[32], out[32];
	const char *res, *pubhex, *dhex, *shex;
	int r;

	TEST_START("wycheproof ecdh_secp256r1_ecpoint");
	snprintf(path, sizeof(path), "%s/wycheproof/testvectors_v1/ecdh_secp256r1_ecpoint_test.json",
		 need_env("COFFER_TESTDATA"));
	root = json_load_file(path, 0, &jerr);
	ASSERT_TRUE(root != NULL);
	if (root == NULL) {
		TEST_DONE();
		return;
	}
	ASSERT_INT_EQ(hsm_key_open(h, "dh", &tk), 0);
	groups = json_object_get(root, "testGroups");
	json_array_foreach(groups, gi, g)
	{
		tests = json_object_get(g, "tests");
		json_array_foreach(tests, ti, t)
		{
			res = json_string_value(json_object_get(t, "result"));
			pubhex = json_string_value(json_object_get(t, "public"));
			dhex = json_string_value(json_object_get(t, "private"));
			shex = json_string_value(json_object_get(t, "shared"));
			size_t plen = strlen(pubhex) / 2, dlen = strlen(dhex) / 2;

			if (plen > sizeof(pub) || dlen > sizeof(d) ||
			    hex_decode(pubhex, plen * 2, pub, plen) != 0 ||
			    hex_decode(dhex, dlen * 2, d, dlen) != 0) {
				UNIT_FAIL("vector %zu: bad hex", ti);
				continue;
			}
			n++;
			/* software key with the vector's scalar: exact shared secret */
			priv = p256_from_scalar(d, dlen);
			ASSERT_TRUE(priv != NULL);
			if (priv != NULL && hsm_key_from_pkey(priv, &sk) == 0) {
				r = hsm_key_ecdh(sk, pub, plen, out);
				if (strcmp(res, "valid") == 0) {
					ASSERT_INT_EQ(r, 0);
					ASSERT_INT_EQ(hex_decode(shex, 64, shared, 32), 0);
					ASSERT_MEM_EQ(out, shared, 32);
				} else
					ASSERT_INT_EQ(r, ERR_FORMAT);
			}
			hsm_key_free(sk);
			sk = NULL;
			EVP_PKEY_free(priv);
			/* the token key: refused with our reason, never a CKR */
			r = tk ? hsm_key_ecdh(tk, pub, plen, out) : -1;
			if (strcmp(res, "valid") == 0)
				ASSERT_INT_EQ(r, 0);
			else {
				ASSERT_INT_EQ(r, ERR_FORMAT);
				ASSERT_TRUE(strstr(err_detail(), "CKR_") == NULL);
				ASSERT_TRUE(detail_has("peer point"));
				refused++;
			}
		}
	}
	ASSERT_TRUE(n > 300);
	ASSERT_TRUE(refused >= 20);
	printf("wycheproof: %zu vectors, %zu refused before the token\n", n, refused);
	hsm_key_free(tk);
	json_decref(root);
	TEST_DONE();

	TEST_START("hand-made bad points");
	ASSERT_INT_EQ(hsm_key_open(h, "dh", &tk), 0);
	if (tk != NULL) {
		memset(pub, 0, sizeof(pub));
		ASSERT_INT_EQ(hsm_key_ecdh(tk, pub, 1, out), ERR_FORMAT);      /* infinity */
		ASSERT_INT_EQ(hsm_key_ecdh(tk, pub, 0, out), ERR_FORMAT);      /* empty */
		ASSERT_INT_EQ(hsm_key_point(tk, pub), 0);
		ASSERT_INT_EQ(hsm_key_ecdh(tk, pub, 64, out), ERR_FORMAT);     /* short */
		ASSERT_INT_EQ(hsm_key_ecdh(tk, pub, 66, out), ERR_FORMAT);     /* long */
		pub[0] = 0x02;
		ASSERT_INT_EQ(hsm_key_ecdh(tk, pub, 33, out), ERR_FORMAT);     /* compressed */
		pub[0] = 0x04;
		pub[64] ^= 1;
		ASSERT_INT_EQ(hsm_key_ecdh(tk, pub, 65, out), ERR_FORMAT);     /* off curve */
	}
	hsm_key_free(tk);
	TEST_DONE();
}

static void test_open_errors(void)
{
	char path[1024], tok[1024];
	struct hsm *h;
	int r;

	TEST_START("wrong PIN");
	snprintf(path, sizeof(path), "%s/wrong.pin", tmpdir);
	write_file(path, "000000\n", 0600);
	snprintf(tok, sizeof(tok), "file:%s", path);
	h = open_with(module, token_uri, tok, 0, &r);
	ASSERT_INT_EQ(r, ERR_AUTH);
	ASSERT_TRUE(h == NULL);
	ASSERT_TRUE(detail_has("CKR_PIN_INCORRECT"));
	ASSERT_TRUE(detail_has(token_label));
	TEST_DONE();

	TEST_START("world-readable PIN file");
	snprintf(path, sizeof(path), "%s/open.pin", tmpdir);
	write_file(path, read_pin(), 0644);
	snprintf(tok, sizeof(tok), "file:%s", path);
	h = open_with(module, token_uri, tok, 0, &r);
	ASSERT_INT_EQ(r, ERR_PERMISSION);
	ASSERT_TRUE(detail_has("group or others"));
	ASSERT_TRUE(detail_has(path));
	TEST_DONE();

	TEST_START("missing token");
	h = open_with(module, "pkcs11:token=no-such-token", pin_source, 0, &r);
	ASSERT_INT_EQ(r, ERR_NOT_FOUND);
	ASSERT_TRUE(detail_has("no-such-token"));
	ASSERT_TRUE(detail_has(token_label)); /* lists what is there */
	h = open_with(module, "other-label", pin_source, 0, &r);
	ASSERT_INT_EQ(r, ERR_NOT_FOUND);
	h = open_with(module, "pkcs11:token=%zz", pin_source, 0, &r);
	ASSERT_INT_EQ(r, ERR_FORMAT);
	TEST_DONE();

	TEST_START("module path: missing, not a module, no C_GetFunctionList, writable");
	h = open_with("/nonexistent/libnothing.so", token_uri, pin_source, 0, &r);
	ASSERT_INT_EQ(r, ERR_NOT_FOUND);
	ASSERT_TRUE(detail_has("/nonexistent/libnothing.so"));
	snprintf(path, sizeof(path), "%s/junk.so", tmpdir);
	write_file(path, "not an ELF file\n", 0644);
	h = open_with(path, token_uri, pin_source, 0, &r);
	ASSERT_INT_EQ(r, ERR_FORMAT);
	ASSERT_TRUE(detail_has("load PKCS#11 module"));
	h = open_with("/usr/lib/x86_64-linux-gnu/libcrypto.so.3", token_uri, pin_source, 0, &r);
	ASSERT_INT_EQ(r, ERR_FORMAT);
	ASSERT_TRUE(detail_has("C_GetFunctionList"));
	chmod(path, 0666);
	h = open_with(path, token_uri, pin_source, 0, &r);
	ASSERT_INT_EQ(r, ERR_PERMISSION);
	ASSERT_TRUE(detail_has("writable"));
	h = open_with(NULL, token_uri, pin_source, 0, &r);
	ASSERT_INT_EQ(r, ERR_INVALID_ARG);
	TEST_DONE();

	TEST_START("bad PIN sources");
	h = open_with(module, token_uri, "argv:1234", 0, &r);
	ASSERT_INT_EQ(r, ERR_INVALID_ARG);
	h = open_with(module, token_uri, "env:COFFER_TEST_UNSET_VAR", 0, &r);
	ASSERT_INT_EQ(r, ERR_NOT_FOUND);
	ASSERT_TRUE(detail_has("COFFER_TEST_UNSET_VAR"));
	h = open_with(module, token_uri, "file:/nonexistent/pin", 0, &r);
	ASSERT_INT_EQ(r, ERR_NOT_FOUND);
	(void)h;
	TEST_DONE();
}

static void test_pin_sources(void)
{
	char tok[1024];
	struct hsm *h;
	struct hsm_key *k = NULL;
	char *pin = NULL;
	int r;

	TEST_START("env PIN source, removed from the environment");
	setenv("COFFER_TEST_PIN", read_pin(), 1);
	h = open_with(module, token_uri, "env:COFFER_TEST_PIN", 0, &r);
	ASSERT_INT_EQ(r, 0);
	ASSERT_TRUE(getenv("COFFER_TEST_PIN") == NULL);
	if (h != NULL) {
		ASSERT_INT_EQ(hsm_key_open(h, "dh", &k), 0);
		hsm_key_free(k);
		k = NULL;
	}
	hsm_close(h);
	TEST_DONE();

	TEST_START("RFC 7512 pin-source and pin-value in the token URI");
	snprintf(tok, sizeof(tok), "%s?pin-source=file:%s", token_uri, pin_file);
	h = open_with(module, tok, NULL, 0, &r);
	ASSERT_INT_EQ(r, 0);
	if (h != NULL) {
		ASSERT_INT_EQ(hsm_key_open(h, "dh", &k), 0);
		hsm_key_free(k);
		k = NULL;
	}
	hsm_close(h);
	snprintf(tok, sizeof(tok), "%s?pin-source=%s", token_uri, pin_file);
	h = open_with(module, tok, NULL, 0, &r);
	ASSERT_INT_EQ(r, 0);
	hsm_close(h);
	snprintf(tok, sizeof(tok), "%s?pin-value=%s", token_uri, read_pin());
	h = open_with(module, tok, NULL, 0, &r);
	ASSERT_INT_EQ(r, 0);
	if (h != NULL) {
		snprintf(tok, sizeof(tok), "%s;object=nokey?pin-value=SECRETPIN", token_uri);
		ASSERT_INT_EQ(hsm_key_open(h, tok, &k), ERR_NOT_FOUND);
		ASSERT_TRUE(strstr(err_detail(), "SECRETPIN") == NULL);
	}
	hsm_close(h);
	h = open_with(module, "pkcs11:token=nope?pin-value=SECRETPIN", NULL, 0, &r);
	ASSERT_INT_EQ(r, ERR_NOT_FOUND);
	ASSERT_TRUE(strstr(err_detail(), "SECRETPIN") == NULL);
	h = open_with(module, "pkcs11:token=nope%?pin-value=SECRETPIN", NULL, 0, &r);
	ASSERT_INT_EQ(r, ERR_FORMAT);
	ASSERT_TRUE(strstr(err_detail(), "SECRETPIN") == NULL);
	TEST_DONE();

	TEST_START("no PIN: opens, private keys not visible");
	h = open_with(module, token_uri, NULL, 0, &r);
	ASSERT_INT_EQ(r, 0);
	if (h != NULL) {
		ASSERT_INT_EQ(hsm_key_open(h, "dh", &k), ERR_NOT_FOUND);
		ASSERT_TRUE(detail_has("no PIN source"));
	}
	hsm_close(h);
	TEST_DONE();

	TEST_START("hsm_pin_read");
	ASSERT_INT_EQ(hsm_pin_read(pin_source, NULL, &pin), 0);
	if (pin != NULL)
		ASSERT_STR_EQ(pin, read_pin());
	secmem_free(pin);
	/* "prompt" is tested in hsm/soft, in a child without a terminal: here it
	 * would wait for a developer's keyboard. */
	TEST_DONE();
}

static void test_objects(struct hsm *h)
{
	EVP_PKEY *anchor = NULL, *back = NULL;
	char fa[PKEY_FPR_TEXT_LEN + 1], fb[PKEY_FPR_TEXT_LEN + 1];

	TEST_START("trust anchor import and find");
	ASSERT_INT_EQ(pkey_generate_p256(&anchor), 0);
	ASSERT_INT_EQ(hsm_import_public(h, "master-anchor", anchor), 0);
	ASSERT_INT_EQ(hsm_import_public(h, "master-anchor", anchor), ERR_EXISTS);
	ASSERT_INT_EQ(hsm_find_public(h, "master-anchor", &back), 0);
	if (back != NULL) {
		ASSERT_INT_EQ(pkey_fingerprint(anchor, fa), 0);
		ASSERT_INT_EQ(pkey_fingerprint(back, fb), 0);
		ASSERT_STR_EQ(fa, fb);
	}
	EVP_PKEY_free(back);
	back = NULL;
	ASSERT_INT_EQ(hsm_find_public(h, "no-anchor", &back), ERR_NOT_FOUND);
	ASSERT_TRUE(detail_has("no-anchor"));
	EVP_PKEY_free(anchor);
	TEST_DONE();
}

static int count_keys(const struct hsm_key_info *ki, void *arg)
{
	size_t *n = arg;

	if (ki->key_bits == 256 && ki->label[0] != '\0' && strlen(ki->id_hex) == 40)
		(*n)++;
	return 0;
}

static int stop_at_first(const struct hsm_key_info *ki, void *arg)
{
	(void)ki;
	(*(size_t *)arg)++;
	return 7;
}

static void test_list(struct hsm *h)
{
	size_t n = 0;

	TEST_START("list keys");
	ASSERT_INT_EQ(hsm_list(h, count_keys, &n), 0);
	/* dh + sig: private and public each, plus the anchor */
	ASSERT_SIZE_EQ(n, 5);
	n = 0;
	ASSERT_INT_EQ(hsm_list(h, stop_at_first, &n), 7);
	ASSERT_SIZE_EQ(n, 1);
	TEST_DONE();
}

/* --- concurrency and recovery -------------------------------------------- */

#define N_PEERS 8
struct hammer {
	struct hsm_key *k;
	uint8_t peers[N_PEERS][P256_POINT_LEN];
	uint8_t want[N_PEERS][P256_DH_LEN];
	atomic_int stop;
	atomic_long ops, errors, wrong;
};

static void *hammer_thread(void *arg)
{
	struct hammer *hm = arg;
	uint8_t out[P256_DH_LEN];
	unsigned i = 0;
	int r;

	while (!atomic_load(&hm->stop)) {
		r = hsm_key_ecdh(hm->k, hm->peers[i % N_PEERS], P256_POINT_LEN, out);
		if (r != 0) {
			atomic_fetch_add(&hm->errors, 1);
			fprintf(stderr, "  thread ECDH: %s\n", err_msg(r));
		} else if (memcmp(out, hm->want[i % N_PEERS], P256_DH_LEN) != 0)
			atomic_fetch_add(&hm->wrong, 1);
		atomic_fetch_add(&hm->ops, 1);
		i++;
	}
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The module's own function list (same instance as the hsm's: same dlopen handle). */
static CK_FUNCTION_LIST_PTR module_functions(CK_SLOT_ID *slot)
{
	CK_C_GetFunctionList getfl;
	CK_FUNCTION_LIST_PTR f = NULL;
	CK_SLOT_ID slots[16];
	CK_ULONG n = 16, i;
	CK_TOKEN_INFO ti;
	void *dl, *sym;

	if ((dl = dlopen(module, RTLD_NOW | RTLD_NOLOAD)) == NULL)
		return NULL;
	sym = dlsym(dl, "C_GetFunctionList");
	memcpy(&getfl, &sym, sizeof(getfl));
	dlclose(dl);
	if (sym == NULL || getfl(&f) != CKR_OK || f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return NULL;
	for (i = 0; i < n; i++)
		if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    strncmp((char *)ti.label, token_label, strlen(token_label)) == 0 &&
		    ti.label[strlen(token_label)] == ' ') {
			*slot = slots[i];
			return f;
		}
	return NULL;
}

static void test_threads_and_recovery(struct hsm *h)
{
	struct hammer hm;
	pthread_t th[4];
	EVP_PKEY *pub = NULL, *peer = NULL;
	CK_FUNCTION_LIST_PTR f;
	CK_SLOT_ID slot = 0;
	CK_SESSION_HANDLE s;
	uint8_t out[P256_DH_LEN];
	int i, nthreads;
	long ops;

	memset(&hm, 0, sizeof(hm));
	if (hsm_key_open(h, "dh", &hm.k) != 0 || hsm_key_public(hm.k, &pub) != 0) {
		UNIT_FAIL("open dh: %s", err_detail());
		return;
	}
	for (i = 0; i < N_PEERS; i++) {
		if (pkey_generate_p256(&peer) != 0 || pkey_to_point(peer, hm.peers[i]) != 0 ||
		    pkey_ecdh(peer, pub, hm.want[i]) != 0)
			UNIT_FAIL("peer: %s", err_detail());
		EVP_PKEY_free(peer);
		peer = NULL;
	}

	TEST_START("two threads hammer ECDH for 3 s");
	nthreads = 2;
	for (i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, hammer_thread, &hm);
	sleep_ms(3000);
	atomic_store(&hm.stop, 1);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	ops = atomic_load(&hm.ops);
	printf("threads: %ld ECDH in 3 s on 2 threads (%.0f/s), %ld errors, %ld wrong\n", ops,
	       ops / 3.0, atomic_load(&hm.errors), atomic_load(&hm.wrong));
	ASSERT_TRUE(ops > 100);
	ASSERT_INT_EQ(atomic_load(&hm.errors), 0);
	ASSERT_INT_EQ(atomic_load(&hm.wrong), 0);
	TEST_DONE();

	f = module_functions(&slot);
	TEST_START("sessions closed behind our back: retried transparently");
	ASSERT_TRUE(f != NULL);
	if (f != NULL) {
		ASSERT_INT_EQ(f->C_CloseAllSessions(slot), CKR_OK);
		ASSERT_INT_EQ(hsm_key_ecdh(hm.k, hm.peers[0], P256_POINT_LEN, out), 0);
		ASSERT_MEM_EQ(out, hm.want[0], P256_DH_LEN);
		ASSERT_TRUE(sign_verifies(hm.k) == 0); /* derive-only key: still refused */
	}
	TEST_DONE();

	TEST_START("token logged out behind our back: logs in again");
	if (f != NULL) {
		ASSERT_INT_EQ(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
		ASSERT_INT_EQ(f->C_Logout(s), CKR_OK);
		ASSERT_INT_EQ(hsm_key_ecdh(hm.k, hm.peers[1], P256_POINT_LEN, out), 0);
		ASSERT_MEM_EQ(out, hm.want[1], P256_DH_LEN);
		ASSERT_INT_EQ(f->C_CloseSession(s), CKR_OK);
		ASSERT_INT_EQ(hsm_key_ecdh(hm.k, hm.peers[2], P256_POINT_LEN, out), 0);
		ASSERT_MEM_EQ(out, hm.want[2], P256_DH_LEN);
	}
	TEST_DONE();

	TEST_START("hsm_key_renew: the working copy is made again, results unchanged");
	hsm_key_renew(hm.k);
	ASSERT_INT_EQ(hsm_key_ecdh(hm.k, hm.peers[3], P256_POINT_LEN, out), 0);
	ASSERT_MEM_EQ(out, hm.want[3], P256_DH_LEN);
	hsm_key_renew(hm.k);
	hsm_key_renew(hm.k);
	ASSERT_INT_EQ(hsm_key_ecdh(hm.k, hm.peers[4], P256_POINT_LEN, out), 0);
	ASSERT_MEM_EQ(out, hm.want[4], P256_DH_LEN);
	TEST_DONE();

	/*
	 * SoftHSM2 itself breaks (CKR_GENERAL_ERROR, crashes) when sessions are
	 * closed while other threads are inside calls on them, so the threads
	 * pause while their sessions are closed; each must then recover on its own.
	 */
	TEST_START("all sessions of 3 threads closed between bursts: each recovers");
	nthreads = 3;
	atomic_store(&hm.ops, 0);
	atomic_store(&hm.errors, 0);
	for (int round = 0; round < 3 && f != NULL; round++) {
		atomic_store(&hm.stop, 0);
		for (i = 0; i < nthreads; i++)
			pthread_create(&th[i], NULL, hammer_thread, &hm);
		sleep_ms(300);
		atomic_store(&hm.stop, 1);
		for (i = 0; i < nthreads; i++)
			pthread_join(th[i], NULL);
		ASSERT_INT_EQ(f->C_CloseAllSessions(slot), CKR_OK);
	}
	printf("recovery: %ld ECDH, %ld errors, %ld wrong\n", atomic_load(&hm.ops),
	       atomic_load(&hm.errors), atomic_load(&hm.wrong));
	ASSERT_INT_EQ(atomic_load(&hm.wrong), 0);
	ASSERT_INT_EQ(atomic_load(&hm.errors), 0);
	ASSERT_INT_EQ(hsm_key_ecdh(hm.k, hm.peers[3], P256_POINT_LEN, out), 0);
	ASSERT_MEM_EQ(out, hm.want[3], P256_DH_LEN);
	TEST_DONE();

	EVP_PKEY_free(pub);
	hsm_key_free(hm.k);
}

int main(void)
{
	struct hsm *h;
	int r;

	module = need_env("COFFER_PKCS11_MODULE");
	token_uri = need_env("COFFER_TOKEN_URI");
	token_label = need_env("COFFER_TOKEN_LABEL");
	pin_file = need_env("COFFER_PIN_FILE");
	tmpdir = need_env("TEST_TMP");
	snprintf(pin_source, sizeof(pin_source), "file:%s", pin_file);

	TEST_START("open the token");
	h = open_with(module, token_uri, pin_source, HSM_NEED_ECDH | HSM_NEED_SIGN | HSM_NEED_KEYGEN,
		      &r);
	ASSERT_INT_EQ(r, 0);
	TEST_DONE();
	if (h == NULL) {
		fprintf(stderr, "open: %s\n", err_msg(r));
		return unit_finish("hsm/pkcs11");
	}
	TEST_START("describe and mechanisms");
	ASSERT_TRUE(strstr(hsm_describe(h), token_label) != NULL);
	ASSERT_INT_EQ(hsm_missing(h, HSM_NEED_ECDH | HSM_NEED_SIGN | HSM_NEED_KEYGEN), 0);
	TEST_DONE();

	test_keys(h);
	test_wycheproof(h);
	test_objects(h);
	test_list(h);
	/* Login state is per token and process: PIN checks need every handle closed. */
	hsm_close(h);
	test_open_errors();
	test_pin_sources();
	h = open_with(module, token_uri, pin_source, HSM_NEED_ECDH, &r);
	ASSERT_INT_EQ(r, 0);
	if (h != NULL)
		test_threads_and_recovery(h);
	hsm_close(h);
	hsm_close(NULL);
	return unit_finish("hsm/pkcs11");
}

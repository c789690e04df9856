// SPDX-License-Identifier: ISC
/*
 * The TPM 2.0 backend against a real swtpm started by tpm.sh. The key blob
 * (KEY_BLOB, public key KEY_PEM) and the sealed PINs (PIN_BLOB, PIN_PCR_BLOB,
 * sealing PIN_FILE) were made by coffer-hsm in other processes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include "secmem.h"
#include "test-common.h"

static const char *tcti, *key_blob, *key_pem, *pin_file, *pin_blob, *pin_pcr_blob, *tmpdir;

static struct hsm *open_tpm(int plain, int *rp)
{
	struct hsm_config cfg = {
		.backend = HSM_BACKEND_TPM2,
		.tcti = tcti,
		.tpm_plain_session = plain,
		.need = HSM_NEED_ECDH | HSM_NEED_SIGN,
	};
	struct hsm *h = NULL;

	*rp = hsm_open(&cfg, &h);
	return h;
}

static char *file_text(const char *path)
{
	static char text[256];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	text[strcspn(text, "\r\n")] = '\0'; /* a PIN is the first line */
	fclose(f);
	return text;
}

struct hammer {
	struct hsm_key *k;
	uint8_t peer[P256_POINT_LEN], want[P256_DH_LEN];
	atomic_int stop;
	atomic_long ops, bad;
};

static void *hammer_thread(void *arg)
{
	struct hammer *hm = arg;
	uint8_t out[P256_DH_LEN];

	while (!atomic_load(&hm->stop)) {
		if (hsm_key_ecdh(hm->k, hm->peer, sizeof(hm->peer), out) != 0 ||
		    memcmp(out, hm->want, sizeof(out)) != 0)
			atomic_fetch_add(&hm->bad, 1);
		atomic_fetch_add(&hm->ops, 1);
	}
	return NULL;
}

static void test_mode(int plain)
{
	struct hsm *h;
	struct hsm_key *k = NULL;
	EVP_PKEY *pem = NULL, *pub = NULL, *peer = NULL;
	char name[64], fa[PKEY_FPR_TEXT_LEN + 1], fb[PKEY_FPR_TEXT_LEN + 1];
	struct hammer hm;
	pthread_t th[2];
	struct timespec ts = { 1, 0 };
	int r, i;

	snprintf(name, sizeof(name), "TPM key from another process (%s)",
		 plain ? "password session" : "salted session");
	TEST_START(name);
	h = open_tpm(plain, &r);
	ASSERT_INT_EQ(r, 0);
	if (h == NULL) {
		fprintf(stderr, "  %s\n", err_msg(r));
		TEST_DONE();
		return;
	}
	ASSERT_TRUE(strstr(hsm_describe(h), plain ? "password" : "salted") != NULL);
	ASSERT_INT_EQ(hsm_key_open(h, key_blob, &k), 0);
	ASSERT_INT_EQ(pkey_load_public(key_pem, &pem), 0);
	if (k != NULL && pem != NULL) {
		ASSERT_INT_EQ(hsm_key_public(k, &pub), 0);
		ASSERT_INT_EQ(pkey_fingerprint(pub, fa), 0);
		ASSERT_INT_EQ(pkey_fingerprint(pem, fb), 0);
		ASSERT_STR_EQ(fa, fb);
		ASSERT_TRUE(ecdh_matches_openssl(k, 20));
		ASSERT_TRUE(sign_verifies(k));
	}
	TEST_DONE();

	TEST_START("key and session flushed behind our back: loaded again");
	if (k != NULL) {
		ASSERT_INT_EQ(system("tpm2_flushcontext -t >/dev/null 2>&1 && "
				     "tpm2_flushcontext -s >/dev/null 2>&1"),
			      0);
		ASSERT_TRUE(ecdh_matches_openssl(k, 2));
		ASSERT_INT_EQ(system("tpm2_flushcontext -t >/dev/null 2>&1"), 0);
		ASSERT_TRUE(sign_verifies(k));
		ASSERT_TRUE(ecdh_matches_openssl(k, 2));
	}
	TEST_DONE();

	TEST_START("two threads share the TPM connection");
	memset(&hm, 0, sizeof(hm));
	hm.k = k;
	if (k != NULL && pkey_generate_p256(&peer) == 0 && pkey_to_point(peer, hm.peer) == 0 &&
	    pkey_ecdh(peer, pub, hm.want) == 0) {
		for (i = 0; i < 2; i++)
			pthread_create(&th[i], NULL, hammer_thread, &hm);
		nanosleep(&ts, NULL);
		atomic_store(&hm.stop, 1);
		for (i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		printf("%s: %ld ECDH in 1 s on 2 threads, %ld bad\n", plain ? "password" : "salted",
		       atomic_load(&hm.ops), atomic_load(&hm.bad));
		ASSERT_TRUE(atomic_load(&hm.ops) > 10);
		ASSERT_INT_EQ(atomic_load(&hm.bad), 0);
	} else
		UNIT_FAIL("setup: %s", err_detail());
	TEST_DONE();
	EVP_PKEY_free(peer);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(pem);
	hsm_key_free(k);
	hsm_close(h);
}

static void test_generate_and_blobs(void)
{
	struct hsm *h;
	struct hsm_key *k = NULL, *k2 = NULL;
	char path[1024], bad[1024];
	struct stat st;
	FILE *f;
	int r;

	TEST_START("generate in process; blob 0600, never overwritten");
	h = open_tpm(1, &r);
	ASSERT_INT_EQ(r, 0);
	if (h == NULL) {
		TEST_DONE();
		return;
	}
	snprintf(path, sizeof(path), "%s/gen.blob", tmpdir);
	ASSERT_INT_EQ(hsm_generate(h, NULL, HSM_USAGE_DERIVE | HSM_USAGE_SIGN, path, &k), 0);
	ASSERT_INT_EQ(stat(path, &st), 0);
	ASSERT_INT_EQ(st.st_mode & 0777, 0600);
	if (k != NULL) {
		ASSERT_TRUE(ecdh_matches_openssl(k, 5));
		ASSERT_TRUE(sign_verifies(k));
	}
	ASSERT_INT_EQ(hsm_generate(h, NULL, HSM_USAGE_DERIVE, path, &k2), ERR_EXISTS);
	hsm_key_free(k);
	k = NULL;
	TEST_DONE();

	TEST_START("sign-only TPM key refuses ECDH");
	snprintf(path, sizeof(path), "%s/sign-only.blob", tmpdir);
	ASSERT_INT_EQ(hsm_generate(h, NULL, HSM_USAGE_SIGN, path, &k), 0);
	if (k != NULL) {
		uint8_t pt[P256_POINT_LEN], out[32];

		ASSERT_TRUE(sign_verifies(k));
		ASSERT_INT_EQ(hsm_key_point(k, pt), 0);
		ASSERT_INT_EQ(hsm_key_ecdh(k, pt, sizeof(pt), out), ERR_TPM);
		ASSERT_TRUE(detail_has("Esys_ECDH_ZGen"));
		ASSERT_TRUE(detail_has(path));
	}
	hsm_key_free(k);
	k = NULL;
	TEST_DONE();

	TEST_START("bad blobs: truncated, wrong kind, world-readable, missing");
	snprintf(bad, sizeof(bad), "%s/trunc.blob", tmpdir);
	f = fopen(bad, "w");
	fwrite("COFFTPM\0\0\1\1\0\0\xff", 1, 14, f);
	fclose(f);
	chmod(bad, 0600);
	ASSERT_INT_EQ(hsm_key_open(h, bad, &k), ERR_FORMAT);
	ASSERT_TRUE(detail_has(bad));
	ASSERT_INT_EQ(hsm_key_open(h, pin_blob, &k), ERR_FORMAT);
	ASSERT_TRUE(detail_has("sealed secret"));
	chmod(path, 0644);
	ASSERT_INT_EQ(hsm_key_open(h, path, &k), ERR_PERMISSION);
	ASSERT_INT_EQ(hsm_key_open(h, "/nonexistent.blob", &k), ERR_NOT_FOUND);
	ASSERT_TRUE(k == NULL);
	TEST_DONE();
	hsm_close(h);
}

static int extend_pcr16(void)
{
	TSS2_TCTI_CONTEXT *t = NULL;
	ESYS_CONTEXT *ctx = NULL;
	TPML_DIGEST_VALUES d = { .count = 1 };
	TSS2_RC rc;

	d.digests[0].hashAlg = TPM2_ALG_SHA256;
	memset(d.digests[0].digest.sha256, 0x5a, 32);
	if (Tss2_TctiLdr_Initialize(tcti, &t) != 0 || Esys_Initialize(&ctx, t, NULL) != 0)
		return -1;
	rc = Esys_PCR_Extend(ctx, ESYS_TR_PCR16, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d);
	Esys_Finalize(&ctx);
	Tss2_TctiLdr_Finalize(&t);
	return rc == 0 ? 0 : -1;
}

static void test_seal(void)
{
	const char *want = file_text(pin_file);
	uint8_t *sec = NULL;
	size_t len = 0;
	char path[1024], src[1100];
	char *pin = NULL;
	static const uint8_t msg[] = "0123456789";

	TEST_START("unseal PINs sealed by another process");
	ASSERT_INT_EQ(hsm_tpm_unseal(tcti, pin_blob, &sec, &len), 0);
	ASSERT_SIZE_EQ(len, strlen(want));
	if (sec != NULL)
		ASSERT_MEM_EQ(sec, want, len);
	secmem_free(sec);
	sec = NULL;
	ASSERT_INT_EQ(hsm_tpm_unseal(tcti, pin_pcr_blob, &sec, &len), 0);
	if (sec != NULL)
		ASSERT_MEM_EQ(sec, want, len);
	secmem_free(sec);
	sec = NULL;
	snprintf(src, sizeof(src), "tpm2-sealed:%s", pin_pcr_blob);
	ASSERT_INT_EQ(hsm_pin_read(src, tcti, &pin), 0);
	if (pin != NULL)
		ASSERT_STR_EQ(pin, want);
	secmem_free(pin);
	pin = NULL;
	TEST_DONE();

	TEST_START("seal and unseal in process, PCR lists");
	snprintf(path, sizeof(path), "%s/s.blob", tmpdir);
	ASSERT_INT_EQ(hsm_tpm_seal(tcti, msg, 10, "sha256:0,7,16", path), 0);
	ASSERT_INT_EQ(hsm_tpm_unseal(tcti, path, &sec, &len), 0);
	ASSERT_SIZE_EQ(len, 10);
	if (sec != NULL)
		ASSERT_MEM_EQ(sec, msg, 10);
	secmem_free(sec);
	sec = NULL;
	ASSERT_INT_EQ(hsm_tpm_seal(tcti, msg, 10, "sha256:24", path), ERR_INVALID_ARG);
	ASSERT_INT_EQ(hsm_tpm_seal(tcti, msg, 10, "md5:1", path), ERR_INVALID_ARG);
	ASSERT_INT_EQ(hsm_tpm_seal(tcti, msg, 10, "sha256:1,", path), ERR_INVALID_ARG);
	ASSERT_INT_EQ(hsm_tpm_seal(tcti, msg, 0, NULL, path), ERR_INVALID_ARG);
	TEST_DONE();

	TEST_START("PCR 16 extended: policy-sealed PIN refused, plain one still fine");
	ASSERT_INT_EQ(extend_pcr16(), 0);
	ASSERT_INT_EQ(hsm_tpm_unseal(tcti, pin_pcr_blob, &sec, &len), ERR_AUTH);
	ASSERT_TRUE(detail_has("PCR"));
	ASSERT_TRUE(detail_has(pin_pcr_blob));
	ASSERT_TRUE(sec == NULL);
	ASSERT_INT_EQ(hsm_tpm_unseal(tcti, path, &sec, &len), ERR_AUTH);
	ASSERT_INT_EQ(hsm_pin_read(src, tcti, &pin), ERR_AUTH);
	ASSERT_INT_EQ(hsm_tpm_unseal(tcti, pin_blob, &sec, &len), 0);
	secmem_free(sec);
	TEST_DONE();
}

static void test_unreachable(void)
{
	struct hsm_config cfg = {
		.backend = HSM_BACKEND_TPM2,
		.tcti = "swtpm:host=127.0.0.1,port=1",
	};
	struct hsm *h = NULL;
	uint8_t *sec = NULL;
	size_t len;

	TEST_START("unreachable TPM: a clear error");
	ASSERT_INT_EQ(hsm_open(&cfg, &h), ERR_TPM);
	ASSERT_TRUE(h == NULL);
	ASSERT_TRUE(detail_has("swtpm:host=127.0.0.1,port=1"));
	ASSERT_INT_EQ(hsm_tpm_unseal(cfg.tcti, pin_blob, &sec, &len), ERR_TPM);
	TEST_DONE();
}

int main(void)
{
	tcti = need_env("TPM_TCTI");
	key_blob = need_env("KEY_BLOB");
	key_pem = need_env("KEY_PEM");
	pin_file = need_env("PIN_FILE");
	pin_blob = need_env("PIN_BLOB");
	pin_pcr_blob = need_env("PIN_PCR_BLOB");
	tmpdir = need_env("TEST_TMP");

	test_mode(0);
	test_mode(1);
	test_generate_and_blobs();
	test_seal();
	test_unreachable();
	return unit_finish("hsm/tpm");
}

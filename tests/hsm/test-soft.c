// SPDX-License-Identifier: ISC
/* Unit tests without a token: software keys and PIN sources. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bounds.h"
#include "config.h"
#include "secmem.h"
#include "test-common.h"

static char dir[] = "/tmp/coffer-hsm-unit.XXXXXX";

static const char *path_in_dir(const char *name)
{
	static char p[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static void put(const char *name, const void *data, size_t len, mode_t mode)
{
	int fd = open(path_in_dir(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len || fchmod(fd, mode) != 0 ||
	    close(fd) != 0) {
		perror(name);
		exit(1);
	}
}

/* hsm_pin_read(prefix + path) */
static int read_src(const char *prefix, const char *arg, char **pin)
{
	char src[512];

	snprintf(src, sizeof(src), "%s%s", prefix, arg);
	return hsm_pin_read(src, NULL, pin);
}

static void test_pins(void)
{
	char *pin = NULL, big[LIMIT_PIN_LEN + 10];
	pid_t pid;
	int st;

	TEST_START("file: first line, CRLF, file:// form");
	put("a.pin", "1234\r\nsecond line\n", 18, 0600);
	ASSERT_INT_EQ(read_src("file:", path_in_dir("a.pin"), &pin), 0);
	ASSERT_STR_EQ(pin, "1234");
	ASSERT_SIZE_EQ(secmem_size(pin) >= 5, 1);
	secmem_free(pin);
	ASSERT_INT_EQ(read_src("file://", path_in_dir("a.pin"), &pin), 0);
	ASSERT_STR_EQ(pin, "1234");
	secmem_free(pin);
	pin = NULL;
	TEST_DONE();

	TEST_START("file: refused when others can read, empty, too long, NUL, missing");
	put("open.pin", "1234\n", 5, 0640);
	ASSERT_INT_EQ(read_src("file:", path_in_dir("open.pin"), &pin), ERR_PERMISSION);
	ASSERT_TRUE(detail_has("open.pin"));
	put("empty.pin", "\n", 1, 0600);
	ASSERT_INT_EQ(read_src("file:", path_in_dir("empty.pin"), &pin), ERR_FORMAT);
	memset(big, '7', sizeof(big));
	put("big.pin", big, sizeof(big), 0600);
	ASSERT_INT_EQ(read_src("file:", path_in_dir("big.pin"), &pin), ERR_TOO_LARGE);
	put("nul.pin", "12\0" "34", 5, 0600);
	ASSERT_INT_EQ(read_src("file:", path_in_dir("nul.pin"), &pin), ERR_FORMAT);
	ASSERT_INT_EQ(read_src("file:", path_in_dir("none.pin"), &pin), ERR_NOT_FOUND);
	ASSERT_INT_EQ(hsm_pin_read("file:", NULL, &pin), ERR_INVALID_ARG);
	ASSERT_TRUE(pin == NULL);
	TEST_DONE();

	TEST_START("env: read once, then gone");
	setenv("COFFER_UNIT_PIN", "9876", 1);
	ASSERT_INT_EQ(hsm_pin_read("env:COFFER_UNIT_PIN", NULL, &pin), 0);
	ASSERT_STR_EQ(pin, "9876");
	ASSERT_TRUE(getenv("COFFER_UNIT_PIN") == NULL);
	secmem_free(pin);
	pin = NULL;
	ASSERT_INT_EQ(hsm_pin_read("env:COFFER_UNIT_PIN", NULL, &pin), ERR_NOT_FOUND);
	ASSERT_INT_EQ(hsm_pin_read("env:", NULL, &pin), ERR_INVALID_ARG);
	TEST_DONE();

	TEST_START("unknown sources (argv is never one)");
	ASSERT_INT_EQ(hsm_pin_read("1234", NULL, &pin), ERR_INVALID_ARG);
	ASSERT_INT_EQ(hsm_pin_read("pass:1234", NULL, &pin), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "1234") == NULL || strstr(err_detail(), "pass:") != NULL);
	ASSERT_INT_EQ(hsm_pin_read("", NULL, &pin), ERR_INVALID_ARG);
	TEST_DONE();

	TEST_START("prompt without a controlling terminal");
	pid = fork();
	if (pid == 0) {
		char *p = NULL;

		(void)setsid(); /* no controlling tty in the child */
		_exit(hsm_pin_read("prompt", NULL, &p) == ERR_UNSUPPORTED &&
				      strstr(err_detail(), "terminal") != NULL
			      ? 0
			      : 1);
	}
	ASSERT_TRUE(pid > 0);
	ASSERT_INT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	TEST_DONE();

#if !COFFER_HAVE_TPM2
	TEST_START("tpm2-sealed without TPM support");
	ASSERT_INT_EQ(hsm_pin_read("tpm2-sealed:/x", NULL, &pin), ERR_UNSUPPORTED);
	TEST_DONE();
#endif
}

static void test_soft(void)
{
	struct hsm_config cfg = { .backend = HSM_BACKEND_SOFT };
	struct hsm *h = NULL;
	struct hsm_key *k = NULL;
	EVP_PKEY *priv = NULL, *p384 = NULL, *pub = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	struct buf *sig = buf_new(0);
	uint8_t md[32] = { 0 };

	TEST_START("software backend: PEM key, ECDH, sign");
	ASSERT_INT_EQ(hsm_open(&cfg, &h), 0);
	ASSERT_STR_EQ(hsm_describe(h), "software");
	ASSERT_INT_EQ(pkey_generate_p256(&priv), 0);
	ASSERT_INT_EQ(pkey_save_private(priv, path_in_dir("k.pem")), 0);
	ASSERT_INT_EQ(hsm_key_open(h, path_in_dir("k.pem"), &k), 0);
	if (k != NULL) {
		ASSERT_STR_EQ(hsm_key_name(k), path_in_dir("k.pem"));
		ASSERT_TRUE(ecdh_matches_openssl(k, 5));
		ASSERT_TRUE(sign_verifies(k));
		ASSERT_INT_EQ(hsm_key_public(k, &pub), 0);
		/* the public key handed out carries no private part */
		ASSERT_INT_EQ(EVP_PKEY_get_bn_param(pub, "priv", &(BIGNUM *){ NULL }), 0);
		EVP_PKEY_free(pub);
		pub = NULL;
		ASSERT_INT_EQ(hsm_key_sign(k, md, 31, sig), ERR_INVALID_ARG);
	}
	hsm_key_free(k);
	k = NULL;
	TEST_DONE();

	TEST_START("software backend: what it cannot do");
	ASSERT_INT_EQ(hsm_generate(h, "x", HSM_USAGE_SIGN, NULL, &k), ERR_UNSUPPORTED);
	ASSERT_INT_EQ(hsm_generate(h, "x", 0, NULL, &k), ERR_INVALID_ARG);
	ASSERT_INT_EQ(hsm_import_public(h, "x", priv), ERR_UNSUPPORTED);
	ASSERT_INT_EQ(hsm_find_public(h, "x", &pub), ERR_UNSUPPORTED);
	chmod(path_in_dir("k.pem"), 0644);
	ASSERT_INT_EQ(hsm_key_load_pem(path_in_dir("k.pem"), &k), ERR_PERMISSION);
	ASSERT_INT_EQ(hsm_key_load_pem(path_in_dir("missing.pem"), &k), ERR_NOT_FOUND);
	ASSERT_TRUE(k == NULL);
	{
		struct hsm *h2 = NULL;

		cfg.backend = (enum hsm_backend)99;
		ASSERT_INT_EQ(hsm_open(&cfg, &h2), ERR_INVALID_ARG);
		ASSERT_TRUE(h2 == NULL);
	}
	TEST_DONE();

	TEST_START("P-384 software key: SHA-256 signatures (pkey_verify), no ECDH");
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	ASSERT_TRUE(ctx != NULL && EVP_PKEY_keygen_init(ctx) == 1 &&
		    EVP_PKEY_CTX_set_group_name(ctx, "P-384") == 1 &&
		    EVP_PKEY_keygen(ctx, &p384) == 1);
	ASSERT_INT_EQ(hsm_key_from_pkey(p384, &k), 0);
	if (k != NULL) {
		uint8_t pt[P256_POINT_LEN], out[32];

		ASSERT_TRUE(sign_verifies(k));
		ASSERT_INT_EQ(hsm_key_point(k, pt), ERR_UNSUPPORTED);
		memset(pt, 4, sizeof(pt));
		ASSERT_INT_EQ(hsm_key_ecdh(k, pt, sizeof(pt), out), ERR_UNSUPPORTED);
	}
	hsm_key_free(k);
	hsm_key_free(NULL);
	TEST_DONE();

	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(priv);
	buf_free(sig);
	hsm_close(h);
}

int main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_pins();
	test_soft();
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return unit_finish("hsm/soft");
}

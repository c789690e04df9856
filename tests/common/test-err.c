// SPDX-License-Identifier: ISC
#include "err.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include "log.h"
#include "unit.h"

int main(void)
{
	int code;
	char esc[64];

	log_init("test-err", LOG_LEVEL_ERROR);
	TEST_START("every code has its own text");
	for (code = 0; code > ERR_MAX_; code--) {
		ASSERT_TRUE(strcmp(err_str(code), "unknown error") != 0);
		if (code < 0)
			ASSERT_TRUE(strcmp(err_str(code), err_str(code + 1)) != 0);
	}
	ASSERT_STR_EQ(err_str(ERR_MAX_), "unknown error");
	ASSERT_STR_EQ(err_str(5), "unknown error");
	TEST_DONE();

	TEST_START("detail, wrap and message");
	err_clear();
	ASSERT_STR_EQ(err_msg(ERR_FORMAT), "invalid format");
	ASSERT_INT_EQ(err_set(ERR_FORMAT, "line %d", 3), ERR_FORMAT);
	ASSERT_STR_EQ(err_detail(), "line 3");
	ASSERT_INT_EQ(err_wrap(ERR_FORMAT, "def.toml"), ERR_FORMAT);
	ASSERT_STR_EQ(err_msg(ERR_FORMAT), "invalid format: def.toml: line 3");
	TEST_DONE();

	TEST_START("system errors carry strerror");
	errno = ENOENT;
	ASSERT_INT_EQ(err_sys("open %s", "x"), ERR_SYSTEM);
	ASSERT_STR_EQ(err_detail(), "open x: No such file or directory");
	TEST_DONE();

	TEST_START("PKCS#11 errors carry the CKR name");
	ASSERT_INT_EQ(err_ckr(CKR_PIN_INCORRECT, "C_Login on token '%s'", "t"), ERR_HSM);
	ASSERT_STR_EQ(err_detail(), "C_Login on token 't': CKR_PIN_INCORRECT (0x000000a0)");
	ASSERT_STR_EQ(err_ckr_name(CKR_MECHANISM_INVALID), "CKR_MECHANISM_INVALID");
	ASSERT_STR_EQ(err_ckr_name(0x12345), "CKR_0x00012345");
	TEST_DONE();

	TEST_START("OpenSSL errors carry the library's reason");
	ASSERT_PTR_EQ(EVP_PKEY_CTX_new_from_name(NULL, "no-such-algorithm", NULL), NULL);
	ASSERT_INT_EQ(err_crypto("make context"), ERR_CRYPTO);
	ASSERT_TRUE(strncmp(err_detail(), "make context: error:", 20) == 0);
	TEST_DONE();

	TEST_START("untrusted strings are escaped and truncated for logs");
	log_untrusted(esc, sizeof(esc), "a\nb\"c\\d\x01", 100);
	ASSERT_STR_EQ(esc, "a\\x0ab\\\"c\\\\d\\x01");
	log_untrusted(esc, sizeof(esc), "abcdef", 3);
	ASSERT_STR_EQ(esc, "abc");
	log_untrusted(esc, 4, "abcdef", 100);
	ASSERT_STR_EQ(esc, "abc");
	TEST_DONE();

	return unit_finish("common/err");
}

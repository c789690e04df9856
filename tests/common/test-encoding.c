// SPDX-License-Identifier: ISC
#include "encoding.h"

#include "unit.h"

static void test_hex(void)
{
	static const uint8_t bin[] = {0x00, 0x7f, 0x80, 0xff, 0xa5};
	char out[16];
	uint8_t back[5];
	size_t i;
	static const struct {
		const char *in;
		size_t outlen;
		int want;
	} bad[] = {
		{"", 1, ERR_FORMAT},      {"0", 1, ERR_FORMAT},    {"0g", 1, ERR_FORMAT},
		{"g0", 1, ERR_FORMAT},    {"000", 1, ERR_FORMAT},  {"/0", 1, ERR_FORMAT},
		{":0", 1, ERR_FORMAT},    {"@0", 1, ERR_FORMAT},   {"G0", 1, ERR_FORMAT},
		{"`0", 1, ERR_FORMAT},    {"\xc3\xa4", 1, ERR_FORMAT}, {" 0", 1, ERR_FORMAT},
	};

	TEST_START("hex round trip, both cases");
	hex_encode(bin, sizeof(bin), out);
	ASSERT_STR_EQ(out, "007f80ffa5");
	ASSERT_INT_EQ(hex_decode(out, 10, back, sizeof(back)), 0);
	ASSERT_MEM_EQ(back, bin, sizeof(bin));
	hex_encode_upper(bin, sizeof(bin), out);
	ASSERT_STR_EQ(out, "007F80FFA5");
	ASSERT_INT_EQ(hex_decode(out, 10, back, sizeof(back)), 0);
	ASSERT_MEM_EQ(back, bin, sizeof(bin));
	ASSERT_INT_EQ(hex_decode("", 0, back, 0), 0);
	TEST_DONE();

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TEST_START("hex refuses malformed input");
		ASSERT_INT_EQ(hex_decode(bad[i].in, strlen(bad[i].in), back, bad[i].outlen),
			      bad[i].want);
		TEST_DONE();
	}

	TEST_START("every byte value decodes as hex exactly when it is a hex digit");
	for (i = 0; i < 256; i++) {
		char in[2] = {(char)i, '0'};
		int digit = (i >= '0' && i <= '9') || (i >= 'a' && i <= 'f') || (i >= 'A' && i <= 'F');
		ASSERT_INT_EQ(hex_decode(in, 2, back, 1) == 0, digit);
	}
	TEST_DONE();
}

static void test_base64(void)
{
	/* RFC 4648 section 10 vectors. */
	static const struct {
		const char *plain, *enc;
	} v[] = {
		{"", ""},         {"f", "Zg=="},       {"fo", "Zm8="},         {"foo", "Zm9v"},
		{"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
	};
	static const char *const bad[] = {"Zg=", "Zh==", "Zm9=", "Z===", "Zm9v!A==", "Zm 9",
					  "=Zm9", "Zg==Zg==", "Zm8=Zm8="};
	char out[64];
	uint8_t back[64];
	size_t i, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		TEST_START("base64 RFC 4648 vector");
		base64_encode((const uint8_t *)v[i].plain, strlen(v[i].plain), out);
		ASSERT_STR_EQ(out, v[i].enc);
		ASSERT_SIZE_EQ(base64_encoded_len(strlen(v[i].plain)), strlen(v[i].enc));
		ASSERT_INT_EQ(base64_decode(v[i].enc, strlen(v[i].enc), back, sizeof(back), &n), 0);
		ASSERT_SIZE_EQ(n, strlen(v[i].plain));
		ASSERT_MEM_EQ(back, v[i].plain, n);
		TEST_DONE();
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TEST_START("base64 refuses malformed or non-canonical input");
		ASSERT_INT_EQ(base64_decode(bad[i], strlen(bad[i]), back, sizeof(back), &n),
			      ERR_FORMAT);
		TEST_DONE();
	}
	TEST_START("base64 output capacity is checked");
	ASSERT_INT_EQ(base64_decode("Zm9vYmFy", 8, back, 5, &n), ERR_TOO_LARGE);
	ASSERT_INT_EQ(base64_decode("Zm9vYmFy", 8, back, 6, &n), 0);
	TEST_DONE();

	TEST_START("base64 round trip of all byte values");
	{
		uint8_t all[256], dec[256];
		char enc[400];
		for (i = 0; i < 256; i++)
			all[i] = (uint8_t)i;
		for (n = 0; n <= 256; n += 1) {
			size_t got;
			base64_encode(all, n, enc);
			ASSERT_INT_EQ(base64_decode(enc, strlen(enc), dec, sizeof(dec), &got), 0);
			ASSERT_SIZE_EQ(got, n);
			ASSERT_MEM_EQ(dec, all, n);
		}
	}
	TEST_DONE();
}

static void test_identity(void)
{
	uint8_t id[IDENTITY_LEN], back[IDENTITY_LEN];
	char text[IDENTITY_TEXT_LEN + 1], lower[IDENTITY_TEXT_LEN + 1];
	size_t i;

	for (i = 0; i < IDENTITY_LEN; i++)
		id[i] = (uint8_t)(0x7f - i * 7);
	TEST_START("identity text form");
	identity_format(id, text);
	ASSERT_SIZE_EQ(strlen(text), IDENTITY_TEXT_LEN);
	ASSERT_SIZE_EQ(IDENTITY_TEXT_LEN, 79);
	ASSERT_TRUE(strncmp(text, "7F78-716A-", 10) == 0);
	ASSERT_INT_EQ(identity_parse(text, back), 0);
	ASSERT_MEM_EQ(back, id, IDENTITY_LEN);
	for (i = 0; i <= IDENTITY_TEXT_LEN; i++)
		lower[i] = (char)((text[i] >= 'A' && text[i] <= 'F') ? text[i] + 32 : text[i]);
	ASSERT_INT_EQ(identity_parse(lower, back), 0);
	ASSERT_MEM_EQ(back, id, IDENTITY_LEN);
	TEST_DONE();

	TEST_START("identity in the sha256: notation, either case");
	{
		char fpr[8 + IDENTITY_LEN * 2];
		memcpy(fpr, "sha256:", 7);
		hex_encode(id, IDENTITY_LEN, fpr + 7);
		memset(back, 0, sizeof(back));
		ASSERT_INT_EQ(identity_parse(fpr, back), 0);
		ASSERT_MEM_EQ(back, id, IDENTITY_LEN);
		hex_encode_upper(id, IDENTITY_LEN, fpr + 7);
		ASSERT_INT_EQ(identity_parse(fpr, back), 0);
		ASSERT_MEM_EQ(back, id, IDENTITY_LEN);
		fpr[7 + 63] = '\0';
		ASSERT_INT_EQ(identity_parse(fpr, back), ERR_FORMAT);
		fpr[7 + 63] = 'g';
		ASSERT_INT_EQ(identity_parse(fpr, back), ERR_FORMAT);
		ASSERT_INT_EQ(identity_parse("sha256:", back), ERR_FORMAT);
		ASSERT_INT_EQ(identity_parse("SHA256:7f", back), ERR_FORMAT);
	}
	TEST_DONE();

	TEST_START("identity refuses short, long, misplaced dashes and bad digits");
	ASSERT_INT_EQ(identity_parse("7F3A-09C1", back), ERR_FORMAT);
	ASSERT_INT_EQ(identity_parse("", back), ERR_FORMAT);
	{
		char t[IDENTITY_TEXT_LEN + 2];
		memcpy(t, text, sizeof(text));
		t[4] = '0';
		ASSERT_INT_EQ(identity_parse(t, back), ERR_FORMAT);
		memcpy(t, text, sizeof(text));
		t[0] = 'G';
		ASSERT_INT_EQ(identity_parse(t, back), ERR_FORMAT);
		memcpy(t, text, sizeof(text));
		t[IDENTITY_TEXT_LEN] = 'A';
		t[IDENTITY_TEXT_LEN + 1] = '\0';
		ASSERT_INT_EQ(identity_parse(t, back), ERR_FORMAT);
		/* 64 digits without dashes is not the text form */
		hex_encode_upper(id, IDENTITY_LEN, t);
		ASSERT_INT_EQ(identity_parse(t, back), ERR_FORMAT);
	}
	TEST_DONE();
}

int main(void)
{
	test_hex();
	test_base64();
	test_identity();
	return unit_finish("common/encoding");
}

// SPDX-License-Identifier: ISC
#include "buf.h"

#include <stdint.h>

#include "unit.h"

static void test_getters(void)
{
	static const uint8_t data[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
				       0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
	struct buf *b;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	TEST_START("buf getters are big-endian and consume");
	b = buf_from(data, sizeof(data));
	ASSERT_PTR_NE(b, NULL);
	ASSERT_INT_EQ(buf_get_u8(b, &u8), 0);
	ASSERT_INT_EQ(u8, 0x01);
	ASSERT_INT_EQ(buf_get_u16(b, &u16), 0);
	ASSERT_INT_EQ(u16, 0x0203);
	ASSERT_INT_EQ(buf_get_u32(b, &u32), 0);
	ASSERT_U64_EQ(u32, 0x04050607);
	ASSERT_INT_EQ(buf_get_u64(b, &u64), 0);
	ASSERT_U64_EQ(u64, 0x08090a0b0c0d0e0fULL);
	ASSERT_SIZE_EQ(buf_len(b), 0);
	ASSERT_INT_EQ(buf_expect_end(b), 0);
	buf_free(b);
	TEST_DONE();
}

static void test_truncated(void)
{
	static const uint8_t data[] = {0xaa, 0xbb, 0xcc};
	struct buf *b;
	uint32_t u32;
	uint16_t u16;
	uint8_t out[4];

	TEST_START("truncated reads fail with ERR_INCOMPLETE and leave the buffer unchanged");
	b = buf_from(data, sizeof(data));
	ASSERT_INT_EQ(buf_get_u32(b, &u32), ERR_INCOMPLETE);
	ASSERT_SIZE_EQ(buf_len(b), 3);
	ASSERT_INT_EQ(buf_get(b, out, 4), ERR_INCOMPLETE);
	ASSERT_SIZE_EQ(buf_len(b), 3);
	ASSERT_INT_EQ(buf_get_u16(b, &u16), 0);
	ASSERT_INT_EQ(u16, 0xaabb);
	ASSERT_INT_EQ(buf_get_u16(b, &u16), ERR_INCOMPLETE);
	ASSERT_INT_EQ(buf_expect_end(b), ERR_TRAILING_DATA);
	ASSERT_INT_EQ(buf_consume(b, 1), 0);
	ASSERT_INT_EQ(buf_consume(b, 1), ERR_INCOMPLETE);
	ASSERT_INT_EQ(buf_expect_end(b), 0);
	buf_free(b);
	TEST_DONE();
}

static void test_empty(void)
{
	struct buf *b;
	uint8_t u8;
	const uint8_t *p;

	TEST_START("empty view");
	b = buf_from(NULL, 0);
	ASSERT_PTR_NE(b, NULL);
	ASSERT_SIZE_EQ(buf_len(b), 0);
	ASSERT_INT_EQ(buf_get_u8(b, &u8), ERR_INCOMPLETE);
	ASSERT_INT_EQ(buf_get_direct(b, &p, 0), 0);
	ASSERT_INT_EQ(buf_put_u8(b, 1), ERR_INVALID_ARG);
	ASSERT_INT_EQ(buf_expect_end(b), 0);
	buf_free(b);
	TEST_DONE();
}

struct string_case {
	const char *name;
	uint8_t bytes[8];
	size_t len;
	size_t cap;
	int want;
	size_t want_len;
};

static void test_strings(void)
{
	static const struct string_case cases[] = {
		{"empty string", {0x00, 0x00}, 2, 4, 0, 0},
		{"exactly at cap", {0x00, 0x02, 'h', 'i'}, 4, 2, 0, 2},
		{"cap+1 refused before availability", {0x00, 0x03, 'a', 'b'}, 4, 2, ERR_TOO_LARGE, 0},
		{"truncated body", {0x00, 0x03, 'a', 'b'}, 4, 8, ERR_INCOMPLETE, 0},
		{"truncated prefix", {0x00}, 1, 8, ERR_INCOMPLETE, 0},
		{"huge prefix", {0xff, 0xff, 'a'}, 3, 65535, ERR_INCOMPLETE, 0},
		{"huge prefix over cap", {0xff, 0xff, 'a'}, 3, 100, ERR_TOO_LARGE, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct string_case *c = &cases[i];
		struct buf *b = buf_from(c->bytes, c->len);
		const uint8_t *p;
		size_t len;
		int r;

		TEST_START(c->name);
		r = buf_get_string16_direct(b, &p, &len, c->cap);
		ASSERT_INT_EQ(r, c->want);
		if (r == 0) {
			ASSERT_SIZE_EQ(len, c->want_len);
			ASSERT_SIZE_EQ(buf_len(b), c->len - 2 - len);
		} else {
			ASSERT_SIZE_EQ(buf_len(b), c->len);
		}
		buf_free(b);
		TEST_DONE();
	}

	TEST_START("u32 string with a length that overflows size_t arithmetic");
	{
		static const uint8_t d[] = {0xff, 0xff, 0xff, 0xff, 0x00};
		struct buf *b = buf_from(d, sizeof(d));
		const uint8_t *p;
		size_t len;
		ASSERT_INT_EQ(buf_get_string32_direct(b, &p, &len, SIZE_MAX), ERR_INCOMPLETE);
		ASSERT_INT_EQ(buf_get_string32_direct(b, &p, &len, 16), ERR_TOO_LARGE);
		buf_free(b);
	}
	TEST_DONE();
}

static void test_writer(void)
{
	struct buf *b, *child = NULL;
	uint8_t *p;
	uint16_t u16;
	uint32_t u32;
	size_t i;

	TEST_START("writer caps, growth and round trip");
	b = buf_new(8);
	ASSERT_INT_EQ(buf_put_u32(b, 0xdeadbeef), 0);
	ASSERT_INT_EQ(buf_put_u16(b, 0x1234), 0);
	ASSERT_INT_EQ(buf_put_u16(b, 0x5678), 0); /* exactly at cap */
	ASSERT_INT_EQ(buf_put_u8(b, 0), ERR_TOO_LARGE); /* cap + 1 */
	ASSERT_SIZE_EQ(buf_len(b), 8);
	ASSERT_INT_EQ(buf_get_u32(b, &u32), 0);
	ASSERT_U64_EQ(u32, 0xdeadbeef);
	/* Room freed by reading is reusable. */
	ASSERT_INT_EQ(buf_put_u32(b, 0x01020304), 0);
	ASSERT_INT_EQ(buf_get_u16(b, &u16), 0);
	ASSERT_INT_EQ(u16, 0x1234);
	ASSERT_INT_EQ(buf_get_u16(b, &u16), 0);
	ASSERT_INT_EQ(u16, 0x5678);
	ASSERT_INT_EQ(buf_get_u32(b, &u32), 0);
	ASSERT_U64_EQ(u32, 0x01020304);
	ASSERT_INT_EQ(buf_reserve(b, SIZE_MAX, &p), ERR_TOO_LARGE);
	buf_free(b);

	b = buf_new(0);
	for (i = 0; i < 100000; i++)
		ASSERT_INT_EQ(buf_put_u8(b, (uint8_t)i), 0);
	ASSERT_SIZE_EQ(buf_len(b), 100000);
	ASSERT_INT_EQ(buf_froms(b, 10, &child), 0);
	ASSERT_SIZE_EQ(buf_len(child), 10);
	ASSERT_SIZE_EQ(buf_len(b), 100000 - 10);
	ASSERT_INT_EQ(buf_get_u8(child, (uint8_t *)&u32), 0);
	buf_free(child);
	ASSERT_INT_EQ(buf_froms(b, 100000, &child), ERR_INCOMPLETE);
	ASSERT_PTR_EQ(child, NULL);
	ASSERT_INT_EQ(buf_put_string16(b, "x", 70000), ERR_TOO_LARGE);
	buf_free(b);
	TEST_DONE();
}

static void test_peek(void)
{
	static const uint8_t d[] = {0x00, 0x05, 0x01, 0x02};
	struct buf *b = buf_from(d, sizeof(d));
	uint16_t u16;
	uint8_t u8;
	uint32_t u32;

	TEST_START("peek does not consume and checks offset overflow");
	ASSERT_INT_EQ(buf_peek_u16(b, 0, &u16), 0);
	ASSERT_INT_EQ(u16, 5);
	ASSERT_INT_EQ(buf_peek_u8(b, 3, &u8), 0);
	ASSERT_INT_EQ(u8, 2);
	ASSERT_INT_EQ(buf_peek_u8(b, 4, &u8), ERR_INCOMPLETE);
	ASSERT_INT_EQ(buf_peek_u32(b, SIZE_MAX - 1, &u32), ERR_INCOMPLETE);
	ASSERT_SIZE_EQ(buf_len(b), 4);
	buf_free(b);
	TEST_DONE();
}

int main(void)
{
	test_getters();
	test_truncated();
	test_empty();
	test_strings();
	test_writer();
	test_peek();
	return unit_finish("common/buf");
}

// SPDX-License-Identifier: ISC
/*
 * CBOR: RFC 8949 Appendix A vectors that fall in the supported value types
 * round-trip byte for byte (decode, encode, compare); every other vector is
 * refused cleanly. Then the shard codec: chunking, reassembly, caps, and
 * off-schema input. Also the frame codec and the one-way K API.
 */
#include "msg.h"

#include "buf.h"
#include "convo.h"
#include "frame.h"
#include "noise.h"
#include "oneway.h"
#include "testutil.h"
#include "unit.h"

static void test_appendix_a(void)
{
	/* Integers as reals: the file holds 2^64-1, beyond json_int_t. */
	json_t *j = tu_load_flags("cbor-test-vectors/appendix_a.json", JSON_DECODE_INT_AS_REAL), *v;
	struct buf *arena = buf_new(0), *out = buf_new(0);
	size_t i, ok = 0, refused = 0;

	TEST_START("RFC 8949 appendix A round trip");
	json_array_foreach(j, i, v) {
		const char *hex = json_string_value(json_object_get(v, "hex"));
		size_t n = strlen(hex) / 2;
		uint8_t *b = malloc(n + 1);
		struct secret s;
		int r;

		if (hex_decode(hex, 2 * n, b, n) != 0) {
			UNIT_FAIL("bad hex %s", hex);
			free(b);
			continue;
		}
		buf_reset(arena);
		buf_reset(out);
		r = msg_decode_value(b, n, &s, arena);
		if (r == 0) {
			json_t *d = json_object_get(v, "decoded");
			if (msg_encode_value(out, &s) != 0 || buf_len(out) != n ||
			    memcmp(buf_ptr(out), b, n) != 0)
				UNIT_FAIL("%s does not round-trip", hex);
			/* The decoded value agrees with the vector's. */
			if (s.type == SECRET_INTEGER && d != NULL && json_is_real(d) &&
			    json_real_value(d) != (double)s.v.i)
				UNIT_FAIL("%s decoded to %lld", hex, (long long)s.v.i);
			if (s.type == SECRET_STRING && d != NULL && json_is_string(d) &&
			    (strlen(json_string_value(d)) != s.v.str.len ||
			     memcmp(json_string_value(d), s.v.str.ptr, s.v.str.len) != 0))
				UNIT_FAIL("%s decoded to another string", hex);
			if (s.type == SECRET_BOOL && d != NULL && json_is_boolean(d) &&
			    json_is_true(d) != (s.v.b != 0))
				UNIT_FAIL("%s decoded to another bool", hex);
			if (s.type == SECRET_FLOAT && d != NULL && json_is_real(d) &&
			    json_real_value(d) != s.v.f)
				UNIT_FAIL("%s decoded to %g", hex, s.v.f);
			ok++;
		} else if (r != ERR_FORMAT && r != ERR_TOO_LARGE) {
			UNIT_FAIL("%s refused with %s", hex, err_msg(r));
		} else {
			refused++;
		}
		free(b);
	}
	printf("appendix A: %zu round-tripped, %zu refused (outside the schema)\n", ok, refused);
	ASSERT_TRUE(ok >= 30);
	json_decref(j);
	buf_free(arena);
	buf_free(out);
	TEST_DONE();
}

static void test_values(void)
{
	static const struct {
		enum secret_type t;
		const char *text;
		int ok;
	} dates[] = {
		{SECRET_DATETIME, "1979-05-27T07:32:00Z", 1},
		{SECRET_DATETIME, "1979-05-27T00:32:00.999999-07:00", 1},
		{SECRET_DATETIME, "1979-05-27 07:32:00z", 1},
		{SECRET_DATETIME, "1979-05-27T07:32:00", 0},
		{SECRET_DATETIME, "1979-05-27T07:32:00+7:00", 0},
		{SECRET_LOCAL_DATETIME, "1979-05-27T07:32:00", 1},
		{SECRET_LOCAL_DATETIME, "1979-05-27T07:32:00Z", 0},
		{SECRET_LOCAL_DATE, "1979-05-27", 1},
		{SECRET_LOCAL_DATE, "1979-13-27", 0},
		{SECRET_LOCAL_DATE, "1979-05-27T", 0},
		{SECRET_LOCAL_TIME, "07:32:00.5", 1},
		{SECRET_LOCAL_TIME, "24:00:00", 0},
		{SECRET_LOCAL_TIME, "07:32:00.", 0},
	};
	struct buf *b = buf_new(0), *arena = buf_new(0);
	struct secret s, d;
	size_t i;

	TEST_START("date/time texts and their tags");
	for (i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		memset(&s, 0, sizeof(s));
		s.type = dates[i].t;
		s.v.str.ptr = dates[i].text;
		s.v.str.len = strlen(dates[i].text);
		buf_reset(b);
		if ((msg_encode_value(b, &s) == 0) != dates[i].ok) {
			UNIT_FAIL("%s as %s", dates[i].text, secret_type_name(dates[i].t));
			continue;
		}
		if (!dates[i].ok)
			continue;
		buf_reset(arena);
		ASSERT_INT_EQ(msg_decode_value(buf_ptr(b), buf_len(b), &d, arena), 0);
		ASSERT_INT_EQ(d.type, s.type);
		ASSERT_STR_EQ(d.v.str.ptr, dates[i].text);
	}
	/* Tag 1004 full-date, from its RFC 8943 example. */
	{
		static const uint8_t fd[] = {0xd9, 0x03, 0xec, 0x6a, '1', '9', '4', '0', '-',
					     '1', '0', '-', '0', '9'};
		buf_reset(arena);
		ASSERT_INT_EQ(msg_decode_value(fd, sizeof(fd), &d, arena), 0);
		ASSERT_INT_EQ(d.type, SECRET_LOCAL_DATE);
	}
	/* float32 for a Float is refused: always float64. */
	{
		static const uint8_t f4[] = {0xfa, 0x47, 0xc3, 0x50, 0x00};
		ASSERT_INT_EQ(msg_decode_value(f4, sizeof(f4), &d, arena), ERR_FORMAT);
		ASSERT_TRUE(strstr(err_detail(), "float32") != NULL);
	}
	/* Integer range. */
	{
		static const uint8_t big[] = {0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0};
		static const uint8_t neg[] = {0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
		ASSERT_INT_EQ(msg_decode_value(big, sizeof(big), &d, arena), ERR_TOO_LARGE);
		ASSERT_INT_EQ(msg_decode_value(neg, sizeof(neg), &d, arena), 0);
		ASSERT_TRUE(d.v.i == INT64_MIN);
	}
	/* Bad UTF-8 in a string. */
	{
		static const uint8_t bad[] = {0x62, 0xc0, 0xaf};
		ASSERT_INT_EQ(msg_decode_value(bad, sizeof(bad), &d, arena), ERR_FORMAT);
	}
	buf_free(b);
	buf_free(arena);
	TEST_DONE();
}

static void test_shard(void)
{
	static char big[LIMIT_VALUE + 1];
	struct secret items[3];
	struct secret_list list = {items, 3};
	struct msg_chunker ch;
	struct msg_shard *sh = msg_shard_new(0, 0);
	struct buf *b = buf_new(0);
	struct secret_list got;
	int more, n = 0;

	TEST_START("shard chunks of maximal values");
	memset(big, 'x', LIMIT_VALUE);
	memset(items, 0, sizeof(items));
	for (n = 0; n < 3; n++) {
		items[n].key = n == 0 ? "a" : n == 1 ? "b" : "c";
		items[n].key_len = 1;
		items[n].type = SECRET_STRING;
		items[n].v.str.ptr = big;
		items[n].v.str.len = LIMIT_VALUE;
	}
	msg_chunker_init(&ch, &list, 0);
	n = 0;
	do {
		buf_reset(b);
		ASSERT_INT_EQ(msg_chunk_next(&ch, b, &more), 0);
		ASSERT_TRUE(buf_len(b) <= MSG_MAX_CHUNK);
		ASSERT_INT_EQ(msg_shard_add(sh, buf_ptr(b), buf_len(b), &more), 0);
	} while (more && ++n < 10);
	ASSERT_INT_EQ(n, 2);
	ASSERT_INT_EQ(msg_shard_list(sh, &got), 0);
	ASSERT_SIZE_EQ(got.n, 3);
	ASSERT_SIZE_EQ(got.items[2].v.str.len, LIMIT_VALUE);
	ASSERT_INT_EQ(msg_shard_add(sh, buf_ptr(b), buf_len(b), &more), ERR_PROTOCOL);
	msg_shard_free(sh);

	/* Caps: items and bytes. */
	sh = msg_shard_new(0, 2);
	msg_chunker_init(&ch, &list, 0);
	buf_reset(b);
	ASSERT_INT_EQ(msg_chunk_next(&ch, b, &more), 0);
	ASSERT_INT_EQ(msg_shard_add(sh, buf_ptr(b), buf_len(b), &more), 0);
	buf_reset(b);
	ASSERT_INT_EQ(msg_chunk_next(&ch, b, &more), 0);
	ASSERT_INT_EQ(msg_shard_add(sh, buf_ptr(b), buf_len(b), &more), 0);
	buf_reset(b);
	ASSERT_INT_EQ(msg_chunk_next(&ch, b, &more), 0);
	ASSERT_INT_EQ(msg_shard_add(sh, buf_ptr(b), buf_len(b), &more), ERR_TOO_LARGE);
	ASSERT_INT_EQ(msg_shard_list(sh, &got), 0);
	ASSERT_SIZE_EQ(got.n, 2);
	msg_shard_free(sh);
	sh = msg_shard_new(1000, 0);
	ASSERT_INT_EQ(msg_shard_add(sh, buf_ptr(b), buf_len(b), &more), ERR_TOO_LARGE);
	msg_shard_free(sh);

	/* Off-schema OkGet plaintexts. */
	{
		static const struct {
			const char *hex;
			int code;
		} bad[] = {
			{"02" "80", ERR_FORMAT},                          /* flag */
			{"00" "a1636b657961", ERR_FORMAT},                /* map, not array */
			{"00" "81a1636b65796161", ERR_FORMAT},            /* map of 1 pair */
			{"00" "81a26576616c756501636b65796161", ERR_FORMAT}, /* value first */
			{"00" "81a2636b6579616165" "76616c7565" "f6", ERR_FORMAT}, /* null */
			{"00" "81a2636b6579616165" "76616c7565" "4101", ERR_FORMAT}, /* bytes */
			{"00" "9f" "ff", ERR_FORMAT},                     /* indefinite */
			{"00" "80" "00", ERR_TRAILING_DATA},
			{"00" "9a00010000", ERR_FORMAT},                  /* forged count */
			{"00" "81a2636b6579616165" "76616c7565" "c1" "00", ERR_FORMAT}, /* tag 1 */
		};
		size_t i, n2;
		uint8_t raw[64];
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			sh = msg_shard_new(0, 0);
			n2 = strlen(bad[i].hex) / 2;
			if (hex_decode(bad[i].hex, 2 * n2, raw, n2) != 0)
				UNIT_FAIL("hex %zu", i);
			else if (msg_shard_add(sh, raw, n2, &more) != bad[i].code)
				UNIT_FAIL("bad OkGet %zu (%s): %s", i, bad[i].hex, err_detail());
			msg_shard_free(sh);
		}
	}
	buf_free(b);
	TEST_DONE();
}

static void test_names(void)
{
	const char *names[] = {"a", "b\xc3\xa9"};
	size_t lens[] = {1, 3};
	struct buf *b = buf_new(0);
	struct msg_names *m = NULL;
	static const uint8_t empty[] = {0x80}, notext[] = {0x81, 0x01};

	TEST_START("Get name lists");
	ASSERT_INT_EQ(msg_encode_names(b, names, lens, 2), 0);
	ASSERT_INT_EQ(msg_names_decode(buf_ptr(b), buf_len(b), &m), 0);
	ASSERT_TRUE(m != NULL && m->n == 2 && !m->all);
	if (m != NULL && m->n == 2)
		ASSERT_STR_EQ(m->names[1], "b\xc3\xa9");
	msg_names_free(m);
	ASSERT_INT_EQ(msg_names_decode(NULL, 0, &m), 0);
	ASSERT_TRUE(m != NULL && m->all);
	msg_names_free(m);
	ASSERT_INT_EQ(msg_names_decode(empty, 1, &m), ERR_FORMAT);
	ASSERT_INT_EQ(msg_names_decode(notext, 2, &m), ERR_FORMAT);
	ASSERT_PTR_EQ(m, NULL);
	buf_free(b);
	TEST_DONE();
}

static void test_frames(void)
{
	struct frame_decoder *d = frame_decoder_new();
	struct buf *b = buf_new(0);
	struct frame f;
	uint8_t body[FRAME_HELLO_LEN] = {0};
	size_t used, i;
	int r = ERR_INCOMPLETE;
	struct frame_sm sm;

	TEST_START("frame decoder byte by byte, two frames");
	ASSERT_INT_EQ(frame_encode(b, FRAME_HELLO, body, sizeof(body)), 0);
	ASSERT_INT_EQ(frame_encode(b, FRAME_ERROR, (const uint8_t *)"no", 2), 0);
	for (i = 0; i < buf_len(b) && r != 0; i++) {
		r = frame_decoder_feed(d, buf_ptr(b) + i, 1, &used, &f);
		ASSERT_SIZE_EQ(used, 1);
	}
	ASSERT_INT_EQ(r, 0);
	ASSERT_INT_EQ(f.type, FRAME_HELLO);
	ASSERT_SIZE_EQ(f.len, FRAME_HELLO_LEN);
	ASSERT_SIZE_EQ(i, FRAME_HELLO_LEN + 3);
	/* The rest in one go: the decoder takes only the next frame. */
	ASSERT_INT_EQ(frame_decoder_feed(d, buf_ptr(b) + i, buf_len(b) - i, &used, &f), 0);
	ASSERT_INT_EQ(f.type, FRAME_ERROR);
	ASSERT_SIZE_EQ(used, 5);
	frame_decoder_free(d);
	TEST_DONE();

	TEST_START("frame decoder refuses early");
	{
		static const uint8_t unknown[] = {0x00, 0x01, 0x42};
		static const uint8_t huge_hello[] = {0xff, 0xff, 0x00};
		static const uint8_t huge_err[] = {0x10, 0x00, 0xff};
		d = frame_decoder_new();
		ASSERT_INT_EQ(frame_decoder_feed(d, unknown, 3, &used, &f), ERR_PROTOCOL);
		ASSERT_STR_EQ(err_detail(), "unknown frame type 0x42");
		ASSERT_INT_EQ(frame_decoder_feed(d, unknown, 3, &used, &f), ERR_PROTOCOL);
		frame_decoder_free(d);
		d = frame_decoder_new();
		ASSERT_INT_EQ(frame_decoder_feed(d, huge_hello, 3, &used, &f), ERR_TOO_LARGE);
		ASSERT_STR_EQ(err_detail(), "Hello body of 65535 bytes exceeds 174");
		frame_decoder_free(d);
		d = frame_decoder_new();
		ASSERT_INT_EQ(frame_decoder_feed(d, huge_err, 3, &used, &f), ERR_TOO_LARGE);
		frame_decoder_free(d);
	}
	TEST_DONE();

	TEST_START("state machines");
	frame_sm_init(&sm, FRAME_ROLE_SERVER);
	ASSERT_INT_EQ(frame_sm_advance(&sm, 1, FRAME_LINK, 0), ERR_PROTOCOL);
	ASSERT_STR_EQ(err_detail(), "unexpected Link after the start");
	ASSERT_INT_EQ(frame_sm_advance(&sm, 1, FRAME_HELLO, 0), ERR_PROTOCOL);
	ASSERT_STR_EQ(err_detail(), "Hello is sent by the client");
	ASSERT_INT_EQ(frame_sm_advance(&sm, 0, FRAME_HELLO, 0), 0);
	ASSERT_INT_EQ(frame_sm_advance(&sm, 1, FRAME_LINK, 0), 0);
	ASSERT_INT_EQ(frame_sm_advance(&sm, 0, FRAME_GET, 0), 0);
	ASSERT_INT_EQ(frame_sm_advance(&sm, 1, FRAME_OKGET, 1), 0);
	ASSERT_INT_EQ(frame_sm_advance(&sm, 1, FRAME_OKGET, 0), 0);
	ASSERT_INT_EQ(frame_sm_advance(&sm, 1, FRAME_OKGET, 0), ERR_PROTOCOL);
	ASSERT_STR_EQ(err_detail(), "OkGet after the last OkGet");
	ASSERT_INT_EQ(frame_sm_advance(&sm, 0, FRAME_BYE, 0), 0);
	ASSERT_TRUE(frame_sm_done(&sm));
	ASSERT_INT_EQ(frame_sm_check(&sm, 0, 0x42), ERR_PROTOCOL);
	frame_sm_init(&sm, FRAME_ROLE_CLIENT);
	ASSERT_INT_EQ(frame_sm_advance(&sm, 1, FRAME_HELLO, 0), 0);
	ASSERT_INT_EQ(frame_sm_advance(&sm, 0, FRAME_KEY_NOT_FOUND, 0), 0);
	ASSERT_INT_EQ(frame_sm_check(&sm, 1, FRAME_GET), ERR_PROTOCOL);
	ASSERT_STR_EQ(err_detail(), "Get after the conversation is over");
	buf_free(b);
	TEST_DONE();
}

static void test_oneway(void)
{
	struct convo_keys k;
	struct oneway_key snd, rcv, wrong;
	struct buf *m = buf_new(0), *pt = buf_new(0);
	static const uint8_t data[32] = "a data key of thirty-two bytes!";
	EVP_PKEY *other = NULL;
	uint8_t other_pub[65];

	TEST_START("one-way K seal/open");
	ASSERT_INT_EQ(convo_keys_new(&k), 0);
	ASSERT_INT_EQ(pkey_generate_p256(&other), 0);
	ASSERT_INT_EQ(pkey_to_point(other, other_pub), 0);
	snd = (struct oneway_key){noise_pkey_dh, k.client, k.client_pub};
	rcv = (struct oneway_key){noise_pkey_dh, k.server, k.server_pub};
	wrong = (struct oneway_key){noise_pkey_dh, other, other_pub};
	ASSERT_INT_EQ(oneway_seal(&snd, k.server_pub, (const uint8_t *)"hdr", 3, data, 32, NULL, m), 0);
	ASSERT_SIZE_EQ(buf_len(m), 32 + ONEWAY_OVERHEAD);
	ASSERT_INT_EQ(oneway_open(&rcv, k.client_pub, (const uint8_t *)"hdr", 3, buf_ptr(m),
				  buf_len(m), pt), 0);
	ASSERT_SIZE_EQ(buf_len(pt), 32);
	ASSERT_MEM_EQ(buf_ptr(pt), data, 32);
	buf_reset(pt);
	/* Another prologue, another expected sender, another recipient. */
	ASSERT_INT_EQ(oneway_open(&rcv, k.client_pub, (const uint8_t *)"hdX", 3, buf_ptr(m),
				  buf_len(m), pt), ERR_AUTH);
	ASSERT_INT_EQ(oneway_open(&rcv, other_pub, (const uint8_t *)"hdr", 3, buf_ptr(m),
				  buf_len(m), pt), ERR_AUTH);
	ASSERT_INT_EQ(oneway_open(&wrong, k.client_pub, (const uint8_t *)"hdr", 3, buf_ptr(m),
				  buf_len(m), pt), ERR_AUTH);
	buf_mutable_ptr(m)[70] ^= 1;
	ASSERT_INT_EQ(oneway_open(&rcv, k.client_pub, (const uint8_t *)"hdr", 3, buf_ptr(m),
				  buf_len(m), pt), ERR_AUTH);
	ASSERT_INT_EQ(oneway_open(&rcv, k.client_pub, NULL, 0, buf_ptr(m), 10, pt), ERR_FORMAT);
	ASSERT_SIZE_EQ(buf_len(pt), 0);
	EVP_PKEY_free(other);
	convo_keys_free(&k);
	buf_free(m);
	buf_free(pt);
	TEST_DONE();
}

int main(void)
{
	test_appendix_a();
	test_values();
	test_shard();
	test_names();
	test_frames();
	test_oneway();
	return unit_finish("protocol/msg");
}

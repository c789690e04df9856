// SPDX-License-Identifier: ISC
/*
 * The IPC between the monitor and the network process: the codec (round
 * trips, every header refused before its body arrives), and the monitor fed
 * as a hostile network process would feed it: a whole honest conversation
 * works and never puts a plaintext value on the IPC; a Get recorded on one
 * connection replayed on another gets nothing; reused ids, wrong
 * directions, bad shapes end the service (ERR_PROTOCOL); more connections
 * than allowed are closed; frames for unknown connections are dropped.
 *
 * `test-appliance-ipc --write-corpus DIR` writes the seed corpus of the IPC
 * fuzz target (tests/appliance/corpus-ipc); the test checks the committed
 * seeds are still what the code produces.
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc-fixture.h"
#include "unit.h"

static const char *const one_name[] = {"api_token"};
static const char *const missing_name[] = {"nope"};

static void test_codec(void)
{
	struct buf *b = buf_new(0);
	struct ipc_msg m;
	struct ipc_config c, back;
	struct sockaddr_in6 six;
	struct sockaddr_storage ss;
	uint8_t hdr[IPC_HDR_LEN];

	TEST_START("ipc: a message round trip, the body untouched");
	ASSERT_INT_EQ(ipc_put(b, IPC_SEND, IPC_F_CLOSE, 0x0102030405060708ULL, "abc", 3), 0);
	ASSERT_SIZE_EQ(buf_len(b), IPC_HDR_LEN + 3);
	ASSERT_INT_EQ(ipc_get(b, &m), 0);
	ASSERT_INT_EQ(m.type, IPC_SEND);
	ASSERT_INT_EQ(m.flags, IPC_F_CLOSE);
	ASSERT_TRUE(m.conn == 0x0102030405060708ULL);
	ASSERT_SIZE_EQ(m.len, 3);
	ASSERT_MEM_EQ(m.body, "abc", 3);
	ASSERT_SIZE_EQ(buf_len(b), 0);
	TEST_DONE();

	TEST_START("ipc: incomplete until the whole body is in");
	buf_reset(b);
	ASSERT_INT_EQ(ipc_put(b, IPC_FRAME, 0, 9, "xyz", 3), 0);
	ASSERT_INT_EQ(buf_consume_end(b, 1), 0);
	ASSERT_INT_EQ(ipc_get(b, &m), ERR_INCOMPLETE);
	ASSERT_SIZE_EQ(buf_len(b), IPC_HDR_LEN + 2);
	TEST_DONE();

	TEST_START("ipc: headers refused before their body (type, flags, reserved, length)");
	{
		static const struct {
			uint8_t type, flags, z0, z1;
			uint32_t len;
		} bad[] = {
			{0, 0, 0, 0, 0},          {5, 0, 0, 0, 0},
			{IPC_FRAME, 4, 0, 0, 1},  {IPC_FRAME, 0, 1, 0, 1},
			{IPC_FRAME, 0, 0, 1, 1},  {IPC_FRAME, 0, 0, 0, IPC_MAX_BODY + 1},
			{255, 0, 0, 0, 1},
		};
		size_t i;
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			buf_reset(b);
			memset(hdr, 0, sizeof(hdr));
			hdr[0] = (uint8_t)(bad[i].len >> 24);
			hdr[1] = (uint8_t)(bad[i].len >> 16);
			hdr[2] = (uint8_t)(bad[i].len >> 8);
			hdr[3] = (uint8_t)bad[i].len;
			hdr[4] = bad[i].type;
			hdr[5] = bad[i].flags;
			hdr[6] = bad[i].z0;
			hdr[7] = bad[i].z1;
			ASSERT_INT_EQ(buf_put(b, hdr, sizeof(hdr)), 0);
			ASSERT_INT_EQ(ipc_get(b, &m), ERR_PROTOCOL);
		}
		ASSERT_INT_EQ(ipc_put(b, IPC_FRAME, 0, 1, NULL, IPC_MAX_BODY + 1), ERR_TOO_LARGE);
	}
	TEST_DONE();

	TEST_START("ipc: peer addresses (IPv4, IPv6) and bad ones");
	memset(&six, 0, sizeof(six));
	six.sin6_family = AF_INET6;
	six.sin6_port = htons(9187);
	six.sin6_addr.s6_addr[15] = 1;
	buf_reset(b);
	ASSERT_INT_EQ(ipc_peer_put(b, (struct sockaddr *)&six), 0);
	ASSERT_SIZE_EQ(buf_len(b), IPC_PEER_LEN);
	ASSERT_INT_EQ(ipc_peer_get(b, &ss), 0);
	{
		char text[64];
		ipc_peer_text((struct sockaddr *)&ss, text, sizeof(text));
		ASSERT_STR_EQ(text, "[::1]:9187");
	}
	buf_reset(b);
	ASSERT_INT_EQ(buf_put_u8(b, 5), 0);
	ASSERT_INT_EQ(buf_put(b, "0123456789abcdefgh", 18), 0);
	ASSERT_INT_EQ(ipc_peer_get(b, &ss), ERR_PROTOCOL);
	buf_reset(b);
	ASSERT_INT_EQ(buf_put_u8(b, 4), 0);
	ASSERT_INT_EQ(buf_put(b, "0123456789abcdefgh", 18), 0); /* IPv4 with junk after */
	ASSERT_INT_EQ(ipc_peer_get(b, &ss), ERR_PROTOCOL);
	TEST_DONE();

	TEST_START("ipc: the configuration round trip; version and ranges checked");
	memset(&c, 0, sizeof(c));
	c.version = IPC_VERSION;
	c.max_connections = 1024;
	c.max_frame = 65538;
	c.handshake_timeout = 10;
	c.idle_timeout = 60;
	c.max_handshakes = 64;
	c.rate = 20;
	c.burst = 40;
	c.grace = 10;
	c.max_per_source = 32;
	c.startups_start = 128;
	c.startups_rate = 30;
	c.startups_full = 512;
	c.session_timeout = 30;
	c.token_budget = 2000;
	c.uid = 65534;
	c.gid = 65534;
	c.drop = 1;
	c.log_level = 2;
	c.n_listen = 2;
	buf_reset(b);
	ASSERT_INT_EQ(ipc_config_put(b, &c), 0);
	ASSERT_SIZE_EQ(buf_len(b), IPC_CONFIG_LEN);
	ASSERT_INT_EQ(ipc_config_get(buf_ptr(b), buf_len(b), &back), 0);
	ASSERT_MEM_EQ(&back, &c, sizeof(c));
	ASSERT_INT_EQ(ipc_config_get(buf_ptr(b), buf_len(b) - 1, &back), ERR_PROTOCOL);
	buf_mutable_ptr(b)[3] = 2; /* version 2 */
	ASSERT_INT_EQ(ipc_config_get(buf_ptr(b), buf_len(b), &back), ERR_PROTOCOL);
	buf_mutable_ptr(b)[3] = IPC_VERSION;
	buf_mutable_ptr(b)[IPC_CONFIG_LEN - 1] = IPC_MAX_LISTEN + 1;
	ASSERT_INT_EQ(ipc_config_get(buf_ptr(b), buf_len(b), &back), ERR_PROTOCOL);
	TEST_DONE();
	buf_free(b);
}

/* Feed one message to a fresh monitor; returns server_ipc_input's result. */
static int feed_one(uint8_t type, uint8_t flags, uint64_t conn, const void *body, size_t len)
{
	struct fixture fx;
	struct buf *in = buf_new(0);
	int r = -100;

	if (in != NULL && fix_new(&fx, 8) == 0) {
		if (ipc_put(in, type, flags, conn, body, len) == 0)
			r = server_ipc_input(fx.srv, buf_ptr(in), buf_len(in));
		fix_free(&fx);
	}
	buf_free(in);
	return r;
}

static void test_monitor(void)
{
	struct fixture fx;
	struct buf *rec = buf_new(0), *in = buf_new(0), *frames = buf_new(0);
	size_t off;
	long got;
	int i;

	TEST_START("monitor: an honest conversation through the IPC gets its whole shard");
	ASSERT_INT_EQ(fix_new(&fx, 8), 0);
	ASSERT_INT_EQ(fix_converse(&fx, 1, fx.alpha, NULL, 0, rec, &got), 0);
	ASSERT_INT_EQ(got, 3);
	ASSERT_INT_EQ(fix_converse(&fx, 2, fx.beta, one_name, 0, NULL, &got), 0);
	ASSERT_INT_EQ(got, 1);
	ASSERT_FALSE(fix_leaked(&fx));
	TEST_DONE();

	TEST_START("monitor: a recorded conversation replayed on another connection gets nothing");
	{
		/* The same bytes, every conn id moved to 7: the Hello is a replay. */
		struct buf *view = buf_from(buf_ptr(rec), buf_len(rec));
		struct ipc_msg m;
		ASSERT_TRUE(view != NULL);
		while (ipc_get(view, &m) == 0)
			ASSERT_INT_EQ(ipc_put(in, m.type, m.flags, 7, m.body, m.len), 0);
		buf_free(view);
		off = buf_len(server_ipc_output(fx.srv));
		ASSERT_INT_EQ(server_ipc_input(fx.srv, buf_ptr(in), buf_len(in)), 0);
		buf_reset(frames);
		(void)fix_replies(&fx, 7, &off, frames);
		ASSERT_TRUE(buf_len(frames) > 0);
		ASSERT_INT_EQ(buf_ptr(frames)[2], FRAME_ERROR); /* "replayed Hello", sealed */
		ASSERT_FALSE(fix_leaked(&fx));
	}
	TEST_DONE();

	TEST_START("monitor: a Get on a connection without a handshake is refused in the clear");
	{
		struct buf *view = buf_from(buf_ptr(rec), buf_len(rec));
		struct ipc_msg m;
		int frames_seen = 0;
		buf_reset(in);
		ASSERT_INT_EQ(fix_open(in, 9), 0);
		while (ipc_get(view, &m) == 0) {
			/* Only the Get (the second FRAME) of the recorded conversation. */
			if (m.type == IPC_FRAME && ++frames_seen == 2)
				ASSERT_INT_EQ(ipc_put(in, IPC_FRAME, 0, 9, m.body, m.len), 0);
		}
		buf_free(view);
		off = buf_len(server_ipc_output(fx.srv));
		ASSERT_INT_EQ(server_ipc_input(fx.srv, buf_ptr(in), buf_len(in)), 0);
		buf_reset(frames);
		ASSERT_INT_EQ(fix_replies(&fx, 9, &off, frames), IPC_F_CLOSE);
		ASSERT_INT_EQ(buf_ptr(frames)[2], FRAME_ERROR);
		ASSERT_TRUE(memmem(buf_ptr(frames), buf_len(frames), "expected Hello", 14) != NULL);
		ASSERT_FALSE(fix_leaked(&fx));
	}
	TEST_DONE();

	TEST_START("monitor: a missing name is a sealed error, no value leaves");
	ASSERT_INT_EQ(fix_converse(&fx, 10, fx.alpha, missing_name, 1, NULL, &got), -1);
	ASSERT_FALSE(fix_leaked(&fx));
	TEST_DONE();

	TEST_START("monitor: a frame for a connection it does not know is dropped");
	buf_reset(in);
	off = buf_len(server_ipc_output(fx.srv));
	ASSERT_INT_EQ(ipc_put(in, IPC_FRAME, 0, 12345, "\x02\x00", 2), 0);
	ASSERT_INT_EQ(ipc_put(in, IPC_CLOSED, 0, 12346, NULL, 0), 0);
	ASSERT_INT_EQ(server_ipc_input(fx.srv, buf_ptr(in), buf_len(in)), 0);
	ASSERT_SIZE_EQ(buf_len(server_ipc_output(fx.srv)), off);
	TEST_DONE();

	TEST_START("monitor: more connections than allowed (and the CLOSED held back) are closed at once");
	buf_reset(in);
	for (i = 0; i < 8 + IPC_CLOSED_BATCH + 4; i++)
		ASSERT_INT_EQ(fix_open(in, 100 + (uint64_t)i), 0);
	off = buf_len(server_ipc_output(fx.srv));
	ASSERT_INT_EQ(server_ipc_input(fx.srv, buf_ptr(in), buf_len(in)), 0);
	buf_reset(frames);
	for (i = 0; i < 8 + IPC_CLOSED_BATCH; i++) {
		size_t o2 = off;
		ASSERT_INT_EQ(fix_replies(&fx, 100 + (uint64_t)i, &o2, frames), -2);
	}
	for (i = 8 + IPC_CLOSED_BATCH; i < 8 + IPC_CLOSED_BATCH + 4; i++) {
		size_t o2 = off;
		ASSERT_INT_EQ(fix_replies(&fx, 100 + (uint64_t)i, &o2, frames), -1);
	}
	TEST_DONE();
	fix_free(&fx);

	TEST_START("monitor: what the network process may never send ends the service");
	{
		uint8_t peer[1 + IPC_PEER_LEN];
		memset(peer, 0, sizeof(peer));
		peer[0] = IPC_REFUSED_RATE;
		peer[1] = 4;
		/* directions */
		ASSERT_INT_EQ(feed_one(IPC_SEND, 0, 1, "\x00\x00\xff", 3), ERR_PROTOCOL);
		ASSERT_INT_EQ(feed_one(IPC_CONFIG, 0, 0, NULL, 0), ERR_PROTOCOL);
		ASSERT_INT_EQ(feed_one(IPC_SHUTDOWN, 0, 0, NULL, 0), ERR_PROTOCOL);
		ASSERT_INT_EQ(feed_one(IPC_CLOSE, 0, 1, NULL, 0), ERR_PROTOCOL);
		/* shapes */
		ASSERT_INT_EQ(feed_one(IPC_READY, 0, 0, "x", 1), ERR_PROTOCOL);
		ASSERT_INT_EQ(feed_one(IPC_READY, 0, 3, NULL, 0), ERR_PROTOCOL);
		ASSERT_INT_EQ(feed_one(IPC_OPEN, 0, 1, "\x04", 1), ERR_PROTOCOL);
		ASSERT_INT_EQ(feed_one(IPC_OPEN, 0, 0, peer + 1, IPC_PEER_LEN), ERR_PROTOCOL);
		ASSERT_INT_EQ(feed_one(IPC_FRAME, 0, 1, NULL, 0), ERR_PROTOCOL);
		ASSERT_INT_EQ(feed_one(IPC_FRAME, 0, 1, "\x42", 1), ERR_PROTOCOL);
		ASSERT_INT_EQ(feed_one(IPC_CLOSED, 0, 1, "x", 1), ERR_PROTOCOL);
		ASSERT_INT_EQ(feed_one(IPC_REFUSED, 0, 1, peer, sizeof(peer)), ERR_PROTOCOL);
		ASSERT_INT_EQ(feed_one(IPC_REFUSED, 0, 0, peer, sizeof(peer) - 1), ERR_PROTOCOL);
		peer[0] = IPC_REFUSED_MAX_;
		ASSERT_INT_EQ(feed_one(IPC_REFUSED, 0, 0, peer, sizeof(peer)), ERR_PROTOCOL);
		peer[0] = IPC_REFUSED_BUSY;
		ASSERT_INT_EQ(feed_one(IPC_REFUSED, 0, 0, peer, sizeof(peer)), 0);
		ASSERT_INT_EQ(feed_one(IPC_READY, 0, 0, NULL, 0), 0);
	}
	TEST_DONE();

	TEST_START("monitor: an id opened twice ends the service");
	ASSERT_INT_EQ(fix_new(&fx, 8), 0);
	buf_reset(in);
	ASSERT_INT_EQ(fix_open(in, 5), 0);
	ASSERT_INT_EQ(fix_open(in, 5), 0);
	ASSERT_INT_EQ(server_ipc_input(fx.srv, buf_ptr(in), buf_len(in)), ERR_PROTOCOL);
	fix_free(&fx);
	TEST_DONE();

	buf_free(rec);
	buf_free(in);
	buf_free(frames);
}

/* ---- the fuzz target's seed corpus ---- */

struct seed {
	const char *name;
	int (*make)(struct fixture *fx, struct buf *rec);
};

static int seed_alpha_all(struct fixture *fx, struct buf *rec)
{
	long got;
	return fix_converse(fx, 1, fx->alpha, NULL, 0, rec, &got) || got != 3;
}

static int seed_beta_named(struct fixture *fx, struct buf *rec)
{
	static const char *const names[] = {"db_password"};
	long got;
	return fix_converse(fx, 3, fx->beta, names, 1, rec, &got) || got != 1;
}

static int seed_two(struct fixture *fx, struct buf *rec)
{
	long got;
	return fix_converse(fx, 1, fx->alpha, one_name, 1, rec, &got) || got != 1 ||
	       fix_converse(fx, 2, fx->beta, NULL, 0, rec, &got) || got != 1 ||
	       ipc_put(rec, IPC_CLOSED, 0, 1, NULL, 0) || ipc_put(rec, IPC_CLOSED, 0, 2, NULL, 0);
}

static int seed_missing(struct fixture *fx, struct buf *rec)
{
	long got;
	(void)fix_converse(fx, 4, fx->alpha, missing_name, 1, rec, &got);
	return buf_len(rec) == 0;
}

static int seed_unknown_client(struct fixture *fx, struct buf *rec)
{
	struct noise_key stranger;
	long got;
	int r;

	/* The server's own key as a client nobody registered: KeyNotFound. */
	if (fix_key(&stranger, SERVER_STATIC) != 0)
		return -1;
	r = fix_converse(fx, 6, &stranger, NULL, 0, rec, &got) || got != -1;
	noise_key_clear(&stranger);
	return r;
}

static int seed_misc(struct fixture *fx, struct buf *rec)
{
	struct sockaddr_in6 six;
	(void)fx;
	memset(&six, 0, sizeof(six));
	six.sin6_family = AF_INET6;
	six.sin6_addr.s6_addr[15] = 1;
	return ipc_put(rec, IPC_READY, 0, 0, NULL, 0) ||
	       ipc_put_hdr(rec, IPC_REFUSED, 0, 0, 1 + IPC_PEER_LEN) ||
	       buf_put_u8(rec, IPC_REFUSED_RATE) || ipc_peer_put(rec, (struct sockaddr *)&six) ||
	       fix_open(rec, 8) || ipc_put(rec, IPC_FRAME, 0, 8, "\x02\x00\x00", 3) ||
	       ipc_put(rec, IPC_CLOSED, 0, 8, NULL, 0);
}

static const struct seed seeds[] = {
	{"alpha-all", seed_alpha_all},     {"beta-named", seed_beta_named},
	{"two-clients", seed_two},         {"missing-name", seed_missing},
	{"unknown-client", seed_unknown_client}, {"misc", seed_misc},
};

static int make_seed(const struct seed *sd, struct buf *rec)
{
	struct fixture fx;
	int r;

	if (fix_new(&fx, 8) != 0)
		return -1;
	r = sd->make(&fx, rec);
	fix_free(&fx);
	return r;
}

static int write_corpus(const char *dir)
{
	size_t i;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return 1;
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		struct buf *rec = buf_new(0);
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, seeds[i].name);
		if (rec == NULL || make_seed(&seeds[i], rec) != 0 || (f = fopen(path, "wb")) == NULL) {
			fprintf(stderr, "seed %s failed\n", seeds[i].name);
			return 1;
		}
		if (fwrite(buf_ptr(rec), 1, buf_len(rec), f) != buf_len(rec) || fclose(f) != 0)
			return 1;
		buf_free(rec);
	}
	return 0;
}

static void test_corpus(void)
{
	const char *src = getenv("COFFER_SRC");
	size_t i;

	TEST_START("the IPC fuzz target's seed corpus is what the code produces");
	ASSERT_TRUE(src != NULL);
	for (i = 0; src != NULL && i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		struct buf *rec = buf_new(0);
		char path[4096];
		uint8_t *data = NULL;
		long len = -1;
		FILE *f;

		snprintf(path, sizeof(path), "%s/tests/appliance/corpus-ipc/%s", src, seeds[i].name);
		ASSERT_TRUE(rec != NULL);
		ASSERT_INT_EQ(make_seed(&seeds[i], rec), 0);
		if ((f = fopen(path, "rb")) != NULL && fseek(f, 0, SEEK_END) == 0 &&
		    (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
		    (data = malloc((size_t)len + 1)) != NULL)
			len = (long)fread(data, 1, (size_t)len, f);
		if (f != NULL)
			fclose(f);
		if (len < 0 || (size_t)len != buf_len(rec) || memcmp(data, buf_ptr(rec), buf_len(rec)) != 0)
			fprintf(stderr, "%s is stale: test-appliance-ipc --write-corpus "
					"tests/appliance/corpus-ipc\n", path);
		ASSERT_SIZE_EQ((size_t)len, buf_len(rec));
		ASSERT_MEM_EQ(data, buf_ptr(rec), buf_len(rec));
		free(data);
		buf_free(rec);
	}
	TEST_DONE();
}

int main(int argc, char **argv)
{
	log_init("test-ipc", LOG_LEVEL_ERROR);
	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		return write_corpus(argv[2]);
	test_codec();
	test_monitor();
	test_corpus();
	return unit_finish("appliance/ipc");
}

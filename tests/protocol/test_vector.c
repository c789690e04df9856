// SPDX-License-Identifier: ISC
/*
 * The worked example of docs/protocol.md: a whole conversation with fixed
 * static and ephemeral keys and a fixed timestamp, checked byte for byte
 * against tests/vectors/coffer-p256.json. Run with --write FILE to
 * regenerate the file, --corpus DIR to write fuzz seeds from it.
 */
#include "session.h"

#include <sys/stat.h>

#include "buf.h"
#include "convo.h"
#include "noise.h"
#include "testutil.h"
#include "unit.h"

#include "vector_keys.h"

struct vec {
	struct buf *hello, *link, *get, *okget, *bye, *knf;
	uint8_t server_pub[65], client_pub[65];
};

static int scalar(const char *hex, uint8_t out[32])
{
	return hex_decode(hex, 64, out, 32);
}

static int make(struct vec *v)
{
	uint8_t ss[32], cs[32], ce[32], se[32], cpub[65];
	struct noise_key skey = {0}, ckey = {0};
	struct session *c = NULL, *s = NULL, *s2 = NULL, *c2 = NULL;
	struct frame_decoder *d = frame_decoder_new();
	struct msg_names *names = NULL;
	struct msg_shard *sh = msg_shard_new(0, 0);
	struct msg_chunker ch;
	struct frame f;
	const char *want[] = {"db_password", "port"};
	size_t lens[] = {11, 4};
	struct secret items[2] = {
		{.key = "db_password", .key_len = 11, .type = SECRET_STRING,
		 .v.str = {"s3cr3t", 6}},
		{.key = "port", .key_len = 4, .type = SECRET_INTEGER, .v.i = 5432},
	};
	struct secret_list list = {items, 2};
	uint64_t ts;
	int r, more;

	memset(v, 0, sizeof(*v));
	v->hello = buf_new(0), v->link = buf_new(0), v->get = buf_new(0);
	v->okget = buf_new(0), v->bye = buf_new(0), v->knf = buf_new(0);
	if ((r = scalar(SERVER_STATIC, ss)) != 0 || (r = scalar(CLIENT_STATIC, cs)) != 0 ||
	    (r = scalar(CLIENT_EPHEMERAL, ce)) != 0 || (r = scalar(SERVER_EPHEMERAL, se)) != 0 ||
	    (r = noise_key_from_private(&skey, NOISE_DH_P256, ss, 32)) != 0 ||
	    (r = noise_key_from_private(&ckey, NOISE_DH_P256, cs, 32)) != 0)
		goto out;
	memcpy(v->server_pub, skey.pub, 65);
	memcpy(v->client_pub, ckey.pub, 65);
	{
		struct session_client_config cc = {ckey.fn, ckey.ctx, ckey.pub, skey.pub, TIMESTAMP_NS};
		struct session_server_config sc = {skey.fn, skey.ctx, skey.pub};
		if ((r = session_client_new(&cc, &c)) != 0 || (r = session_server_new(&sc, &s)) != 0 ||
		    (r = session_client_new(&cc, &c2)) != 0 || (r = session_server_new(&sc, &s2)) != 0)
			goto out;
	}
	if ((r = session_set_ephemeral(c, ce, 32)) != 0 || (r = session_set_ephemeral(s, se, 32)) != 0 ||
	    (r = session_set_ephemeral(c2, ce, 32)) != 0 || (r = session_set_ephemeral(s2, se, 32)) != 0)
		goto out;
	if ((r = session_client_hello(c, v->hello)) != 0 ||
	    (r = convo_frame(d, v->hello, &f)) != 0 ||
	    (r = session_server_hello_begin(s, &f, cpub)) != 0 ||
	    (r = session_server_hello_finish(s, NULL, &ts)) != 0)
		goto out;
	if (ts != TIMESTAMP_NS) {
		r = err_set(ERR_INTERNAL, "timestamp");
		goto out;
	}
	if ((r = session_server_link(s, v->link)) != 0 || (r = convo_frame(d, v->link, &f)) != 0 ||
	    (r = session_client_read_link(c, &f)) != 0 ||
	    (r = session_client_get(c, want, lens, 2, v->get)) != 0 ||
	    (r = convo_frame(d, v->get, &f)) != 0 || (r = session_server_read_get(s, &f, &names)) != 0)
		goto out;
	msg_chunker_init(&ch, &list, 0);
	if ((r = session_server_okget(s, &ch, v->okget, &more)) != 0 ||
	    (r = convo_frame(d, v->okget, &f)) != 0 ||
	    (r = session_client_read_okget(c, &f, sh, &more)) != 0 ||
	    (r = session_client_bye(c, v->bye)) != 0 || (r = convo_frame(d, v->bye, &f)) != 0 ||
	    (r = session_server_read_bye(s, &f)) != 0)
		goto out;
	/* The same Hello to a server that does not know the client. */
	if ((r = session_client_hello(c2, v->knf)) != 0 || (r = convo_frame(d, v->knf, &f)) != 0 ||
	    (r = session_server_hello_begin(s2, &f, cpub)) != 0 ||
	    (r = session_server_hello_finish(s2, NULL, &ts)) != 0)
		goto out;
	buf_reset(v->knf);
	if ((r = session_server_key_not_found(s2, v->knf)) != 0 ||
	    (r = convo_frame(d, v->knf, &f)) != 0)
		goto out;
	r = session_client_read_link(c2, &f) == ERR_NOT_FOUND ? 0 : ERR_INTERNAL;
out:
	if (r != 0)
		fprintf(stderr, "vector: %s\n", err_msg(r));
	noise_key_clear(&skey);
	noise_key_clear(&ckey);
	session_free(c);
	session_free(s);
	session_free(c2);
	session_free(s2);
	msg_names_free(names);
	msg_shard_free(sh);
	frame_decoder_free(d);
	return r;
}

static char *hexdup(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);

	hex_encode(p, n, s);
	return s;
}

static json_t *to_json(const struct vec *v)
{
	json_t *j = json_object();
	char *h;
#define PUT(name, p, n) (h = hexdup((p), (n)), json_object_set_new(j, name, json_string(h)), free(h))
	json_object_set_new(j, "protocol_name", json_string(SESSION_PROTOCOL));
	json_object_set_new(j, "prologue", json_string(SESSION_PROLOGUE));
	json_object_set_new(j, "server_static", json_string(SERVER_STATIC));
	json_object_set_new(j, "client_static", json_string(CLIENT_STATIC));
	json_object_set_new(j, "client_ephemeral", json_string(CLIENT_EPHEMERAL));
	json_object_set_new(j, "server_ephemeral", json_string(SERVER_EPHEMERAL));
	json_object_set_new(j, "timestamp_ns", json_integer((json_int_t)TIMESTAMP_NS));
	PUT("server_public", v->server_pub, 65);
	PUT("client_public", v->client_pub, 65);
	json_object_set_new(j, "get_names", json_pack("[ss]", "db_password", "port"));
	json_object_set_new(j, "shard", json_pack("[{ss ss}{ss si}]", "key", "db_password", "value",
						  "s3cr3t", "key", "port", "value", 5432));
	PUT("frame_hello", buf_ptr(v->hello), buf_len(v->hello));
	PUT("frame_link", buf_ptr(v->link), buf_len(v->link));
	PUT("frame_get", buf_ptr(v->get), buf_len(v->get));
	PUT("frame_okget", buf_ptr(v->okget), buf_len(v->okget));
	PUT("frame_bye", buf_ptr(v->bye), buf_len(v->bye));
	PUT("frame_key_not_found", buf_ptr(v->knf), buf_len(v->knf));
#undef PUT
	return j;
}

static void write_seed(const char *dir, const char *sub, const char *name, const struct buf *a,
		       const struct buf *b, const struct buf *c)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	if ((f = fopen(path, "wb")) == NULL)
		return;
	if (a != NULL)
		fwrite(buf_ptr(a), 1, buf_len(a), f);
	if (b != NULL)
		fwrite(buf_ptr(b), 1, buf_len(b), f);
	if (c != NULL)
		fwrite(buf_ptr(c), 1, buf_len(c), f);
	fclose(f);
}

static void free_vec(struct vec *v)
{
	buf_free(v->hello);
	buf_free(v->link);
	buf_free(v->get);
	buf_free(v->okget);
	buf_free(v->bye);
	buf_free(v->knf);
}

int main(int argc, char **argv)
{
	struct vec v;
	json_t *mine, *want;
	const char *src = getenv("COFFER_SRC");
	char path[4096];
	json_error_t e;

	TEST_START("coffer-p256 worked example");
	ASSERT_INT_EQ(make(&v), 0);
	mine = to_json(&v);
	if (argc == 3 && strcmp(argv[1], "--write") == 0) {
		json_dump_file(mine, argv[2], JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--corpus") == 0) {
		struct buf *hb = buf_new(0);
		/* frame: a step byte (0x80: client role), then a stream; handshake:
		 * bodies. (The server targets' seeds are scripts: fuzz-NAME --seeds.) */
		ASSERT_INT_EQ(buf_put_u8(hb, 0x07), 0);
		ASSERT_INT_EQ(buf_put(hb, buf_ptr(v.hello), buf_len(v.hello)), 0);
		write_seed(argv[2], "frame", "client-stream", hb, v.get, v.bye);
		buf_reset(hb);
		ASSERT_INT_EQ(buf_put_u8(hb, 0x85), 0);
		ASSERT_INT_EQ(buf_put(hb, buf_ptr(v.link), buf_len(v.link)), 0);
		write_seed(argv[2], "frame", "link-okget", hb, v.okget, NULL);
		buf_reset(hb);
		ASSERT_INT_EQ(buf_put_u8(hb, 1), 0);
		ASSERT_INT_EQ(buf_put(hb, buf_ptr(v.hello) + 3, buf_len(v.hello) - 3), 0);
		write_seed(argv[2], "handshake", "hello", hb, NULL, NULL);
		buf_reset(hb);
		ASSERT_INT_EQ(buf_put_u8(hb, 2), 0);
		ASSERT_INT_EQ(buf_put(hb, buf_ptr(v.link) + 3, buf_len(v.link) - 3), 0);
		write_seed(argv[2], "handshake", "link", hb, NULL, NULL);
		buf_reset(hb);
		ASSERT_INT_EQ(buf_put_u8(hb, 3), 0);
		ASSERT_INT_EQ(buf_put(hb, buf_ptr(v.knf) + 3, buf_len(v.knf) - 3), 0);
		write_seed(argv[2], "handshake", "key-not-found", hb, NULL, NULL);
		buf_free(hb);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/tests/vectors/coffer-p256.json", src ? src : ".");
	if ((want = json_load_file(path, 0, &e)) == NULL) {
		UNIT_FAIL("cannot load %s: %s", path, e.text);
	} else {
		const char *k;
		json_t *val;
		json_object_foreach(want, k, val) {
			if (!json_equal(val, json_object_get(mine, k)))
				UNIT_FAIL("field %s differs", k);
		}
		ASSERT_SIZE_EQ(json_object_size(want), json_object_size(mine));
		json_decref(want);
	}
	json_decref(mine);
	free_vec(&v);
	TEST_DONE();
	return unit_finish("protocol/vector");
}

// SPDX-License-Identifier: ISC
/*
 * Serving end to end over 127.0.0.1 with protocol/'s own client: two
 * registered clients each get exactly their shard (all keys, by name, a
 * missing name), an unknown client gets KeyNotFound, an impostor Hello and
 * a replayed Hello are refused while an honest client keeps being served,
 * a shard larger than one frame arrives in several OkGet chunks, the ss
 * cache gives the same answers, and 64 parallel clients all get theirs.
 * The appliance key is a software key behind hsm/'s soft backend.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "audit.h"
#include "buf.h"
#include "cfg.h"
#include "frame.h"
#include "log.h"
#include "msg.h"
#include "noise.h"
#include "pkey.h"
#include "secmem.h"
#include "server.h"
#include "session.h"
#include "state.h"
#include "token.h"

#include "sock.h"
#include "unit.h"

#define BIG_N 300
#define BIG_LEN 1000

static int port;
static struct server *srv;
static int run_rc = -100;
static uint8_t server_pub[P256_POINT_LEN];

struct client {
	EVP_PKEY *key;
	uint8_t pub[P256_POINT_LEN];
	uint8_t id[IDENTITY_LEN];
};

/* Called once between Link and Get (shutdown test). */
static void (*after_link)(void);

struct outcome {
	int link_rc;    /* session_client_read_link */
	int get_rc;     /* last session_client_read_okget */
	int chunks;
	size_t n;       /* secrets received */
	char first_key[64];
	char first_val[64];
	size_t big_ok;  /* values of BIG_LEN bytes received */
};

/* One conversation: Hello (with `pub` claimed, DH by `dhkey`), Get(names), Bye. */
static int converse(const struct client *c, EVP_PKEY *dhkey, const char *const *names, size_t n,
		    struct outcome *o, struct buf *hello_copy, const struct buf *hello_replay)
{
	struct session_client_config cc;
	struct session *s = NULL;
	struct frame_decoder *d = frame_decoder_new();
	struct buf *out = buf_new(0);
	struct msg_shard *sh = msg_shard_new(0, 0);
	struct secret_list list;
	uint8_t *stash = malloc(4096);
	size_t have = 0, lens[8], i;
	struct frame f;
	int fd = sock_dial(port, 10), more = 1, rc = -1;

	memset(o, 0, sizeof(*o));
	o->link_rc = o->get_rc = 1;
	memset(&cc, 0, sizeof(cc));
	cc.dh = noise_pkey_dh;
	cc.dh_ctx = dhkey;
	cc.client_pub = c->pub;
	cc.server_pub = server_pub;
	if (fd < 0 || d == NULL || out == NULL || sh == NULL || stash == NULL ||
	    session_client_new(&cc, &s) != 0 || session_client_hello(s, out) != 0)
		goto out;
	if (hello_copy != NULL && buf_put(hello_copy, buf_ptr(out), buf_len(out)) != 0)
		goto out;
	if (hello_replay != NULL) {
		buf_reset(out);
		if (buf_put(out, buf_ptr(hello_replay), buf_len(hello_replay)) != 0)
			goto out;
	}
	if (sock_send_buf(fd, out) != 0 || sock_read_frame(fd, d, stash, &have, &f) != 0)
		goto out;
	o->link_rc = session_client_read_link(s, &f);
	if (o->link_rc != 0) {
		rc = 0;
		goto out;
	}
	if (after_link != NULL)
		after_link();
	for (i = 0; i < n; i++)
		lens[i] = strlen(names[i]);
	if (session_client_get(s, names, lens, n, out) != 0 || sock_send_buf(fd, out) != 0)
		goto out;
	while (more) {
		if (sock_read_frame(fd, d, stash, &have, &f) != 0)
			goto out;
		o->get_rc = session_client_read_okget(s, &f, sh, &more);
		if (o->get_rc != 0)
			break;
		o->chunks++;
	}
	if (o->get_rc == 0) {
		if (msg_shard_list(sh, &list) != 0)
			goto out;
		o->n = list.n;
		for (i = 0; i < list.n; i++) {
			if (list.items[i].type == SECRET_STRING && list.items[i].v.str.len == BIG_LEN)
				o->big_ok++;
		}
		if (list.n > 0) {
			snprintf(o->first_key, sizeof(o->first_key), "%s", list.items[0].key);
			if (list.items[0].type == SECRET_STRING)
				snprintf(o->first_val, sizeof(o->first_val), "%s",
					 list.items[0].v.str.ptr);
		}
		if (session_client_bye(s, out) != 0 || sock_send_buf(fd, out) != 0)
			goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	session_free(s);
	frame_decoder_free(d);
	buf_free(out);
	msg_shard_free(sh);
	free(stash);
	return rc;
}

static void *runner(void *arg)
{
	(void)arg;
	run_rc = server_run(srv);
	return NULL;
}

#define NPAR 64
static struct client clients[3 + NPAR]; /* web, db, stranger, parallel ones */

static void *parallel(void *arg)
{
	int *ok = arg;
	struct outcome o;
	const struct client *c = &clients[3 + *ok];

	/* Distinct keys: Hellos of one key racing each other are replays by design. */
	*ok = converse(c, c->key, NULL, 0, &o, NULL, NULL) == 0 && o.link_rc == 0 &&
	      o.get_rc == 0 && strcmp(o.first_val, "p-secret") == 0;
	return NULL;
}

static void make_client(struct client *c)
{
	if (pkey_generate_p256(&c->key) != 0 || pkey_to_point(c->key, c->pub) != 0 ||
	    pkey_identity(c->key, c->id) != 0)
		abort();
}

/* Reload: a loader that gives web a new secret, or fails. */
static struct state_client reload_clients[2];
static struct secret reload_web[1];
static int reload_fail;

static int test_loader(void *ctx, struct appl_state **out)
{
	(void)ctx;
	if (reload_fail)
		return err_set(ERR_AUTH, "check 'hash' failed for coffer.sealed: test");
	return state_from_clients(reload_clients, 2, out);
}

static void test_reload(void)
{
	struct outcome o;

	memset(reload_clients, 0, sizeof(reload_clients));
	memset(reload_web, 0, sizeof(reload_web));
	reload_web[0].key = "db_password";
	reload_web[0].key_len = 11;
	reload_web[0].type = SECRET_STRING;
	reload_web[0].v.str.ptr = "web-secret-2";
	reload_web[0].v.str.len = 12;
	memcpy(reload_clients[0].id, clients[0].id, IDENTITY_LEN);
	reload_clients[0].name = "web";
	reload_clients[0].shard.items = reload_web;
	reload_clients[0].shard.n = 1;
	/* db is gone in the new state; the stranger is now registered. */
	memcpy(reload_clients[1].id, clients[2].id, IDENTITY_LEN);
	reload_clients[1].name = "stranger";
	reload_clients[1].shard.items = reload_web;
	reload_clients[1].shard.n = 1;
	server_set_loader(srv, test_loader, NULL);

	TEST_START("SIGHUP with a bad new state keeps serving the old one");
	reload_fail = 1;
	ASSERT_INT_EQ(kill(getpid(), SIGHUP), 0);
	usleep(300000);
	ASSERT_INT_EQ(converse(&clients[0], clients[0].key, NULL, 0, &o, NULL, NULL), 0);
	ASSERT_STR_EQ(o.first_val, "web-secret");
	TEST_DONE();

	TEST_START("SIGHUP with a good new state serves it to new connections");
	reload_fail = 0;
	ASSERT_INT_EQ(kill(getpid(), SIGHUP), 0);
	usleep(300000);
	ASSERT_INT_EQ(converse(&clients[0], clients[0].key, NULL, 0, &o, NULL, NULL), 0);
	ASSERT_STR_EQ(o.first_val, "web-secret-2");
	ASSERT_SIZE_EQ(o.n, 1);
	ASSERT_INT_EQ(converse(&clients[1], clients[1].key, NULL, 0, &o, NULL, NULL), 0);
	ASSERT_INT_EQ(o.link_rc, ERR_NOT_FOUND);
	ASSERT_INT_EQ(converse(&clients[2], clients[2].key, NULL, 0, &o, NULL, NULL), 0);
	ASSERT_INT_EQ(o.link_rc, 0);
	ASSERT_STR_EQ(o.first_val, "web-secret-2");
	TEST_DONE();
}

static void sigterm_now(void)
{
	if (kill(getpid(), SIGTERM) != 0)
		abort();
	usleep(300000); /* the server is stopping while we are linked */
}

static void run_suite(const char *label, int cache)
{
	struct outcome o;
	struct buf *hello = buf_new(0);
	const char *one[] = {"db_password"}, *missing[] = {"db_password", "nope"};
	int ok[64], i, n;
	pthread_t th[64];

	(void)cache;
	printf("-- %s\n", label);
	TEST_START("web gets its whole shard, db its own");
	ASSERT_INT_EQ(converse(&clients[0], clients[0].key, NULL, 0, &o, NULL, NULL), 0);
	ASSERT_INT_EQ(o.link_rc, 0);
	ASSERT_INT_EQ(o.get_rc, 0);
	ASSERT_SIZE_EQ(o.n, 2 + BIG_N);
	ASSERT_STR_EQ(o.first_key, "db_password");
	ASSERT_STR_EQ(o.first_val, "web-secret");
	ASSERT_SIZE_EQ(o.big_ok, BIG_N);
	ASSERT_TRUE(o.chunks >= 5); /* 300 KB in 64 KiB frames */
	ASSERT_INT_EQ(converse(&clients[1], clients[1].key, NULL, 0, &o, NULL, NULL), 0);
	ASSERT_INT_EQ(o.get_rc, 0);
	ASSERT_SIZE_EQ(o.n, 1);
	ASSERT_STR_EQ(o.first_val, "db-secret");
	ASSERT_INT_EQ(o.chunks, 1);
	TEST_DONE();

	TEST_START("Get by name; a missing name is an Error");
	ASSERT_INT_EQ(converse(&clients[0], clients[0].key, one, 1, &o, NULL, NULL), 0);
	ASSERT_SIZE_EQ(o.n, 1);
	ASSERT_STR_EQ(o.first_val, "web-secret");
	ASSERT_INT_EQ(converse(&clients[0], clients[0].key, missing, 2, &o, NULL, NULL), 0);
	ASSERT_INT_EQ(o.get_rc, ERR_NOT_FOUND);
	TEST_DONE();

	TEST_START("unknown client: KeyNotFound");
	ASSERT_INT_EQ(converse(&clients[2], clients[2].key, NULL, 0, &o, NULL, NULL), 0);
	ASSERT_INT_EQ(o.link_rc, ERR_NOT_FOUND);
	TEST_DONE();

	TEST_START("impostor: claims web's key without its private half");
	ASSERT_INT_EQ(converse(&clients[0], clients[2].key, NULL, 0, &o, NULL, NULL), 0);
	ASSERT_INT_EQ(o.link_rc, ERR_PROTOCOL);
	/* ... and web is still served (its replay entry did not move). */
	ASSERT_INT_EQ(converse(&clients[0], clients[0].key, one, 1, &o, NULL, NULL), 0);
	ASSERT_INT_EQ(o.get_rc, 0);
	TEST_DONE();

	TEST_START("replayed Hello refused; the honest client carries on");
	ASSERT_INT_EQ(converse(&clients[1], clients[1].key, NULL, 0, &o, hello, NULL), 0);
	ASSERT_INT_EQ(o.get_rc, 0);
	ASSERT_INT_EQ(converse(&clients[1], clients[1].key, NULL, 0, &o, NULL, hello), 0);
	ASSERT_INT_NE(o.link_rc, 0);
	ASSERT_INT_EQ(converse(&clients[1], clients[1].key, NULL, 0, &o, NULL, NULL), 0);
	ASSERT_INT_EQ(o.get_rc, 0);
	TEST_DONE();

	TEST_START("64 parallel clients all get their own shard");
	for (i = 0; i < 64; i++) {
		ok[i] = i;
		ASSERT_INT_EQ(pthread_create(&th[i], NULL, parallel, &ok[i]), 0);
	}
	for (i = 0, n = 0; i < 64; i++) {
		pthread_join(th[i], NULL);
		n += ok[i];
	}
	ASSERT_INT_EQ(n, 64);
	TEST_DONE();
	buf_free(hello);
}

int main(void)
{
	struct cfg c;
	struct appl_state *st = NULL;
	struct audit *audit = NULL;
	struct token *tok = NULL;
	EVP_PKEY *skey = NULL;
	struct state_client sc[2 + NPAR];
	struct secret web[2 + BIG_N], db[1], par[1];
	char *big = NULL, listen_text[64], audit_path[] = "/tmp/coffer-audit-serve-XXXXXX";
	char (*bignames)[16] = NULL;
	pthread_t th;
	struct outcome o;
	int i, cache;

	log_init("test-serve", LOG_LEVEL_WARN);
	for (i = 0; i < 3 + NPAR; i++)
		make_client(&clients[i]);
	big = malloc(BIG_LEN + 1);
	bignames = calloc(BIG_N, sizeof(*bignames));
	memset(big, 'x', BIG_LEN);
	big[BIG_LEN] = '\0';
	memset(web, 0, sizeof(web));
	web[0].key = "db_password";
	web[0].key_len = 11;
	web[0].type = SECRET_STRING;
	web[0].v.str.ptr = "web-secret";
	web[0].v.str.len = 10;
	web[1].key = "port";
	web[1].key_len = 4;
	web[1].type = SECRET_INTEGER;
	web[1].v.i = 5432;
	for (i = 0; i < BIG_N; i++) {
		snprintf(bignames[i], sizeof(bignames[i]), "big%03d", i);
		web[2 + i].key = bignames[i];
		web[2 + i].key_len = strlen(bignames[i]);
		web[2 + i].type = SECRET_STRING;
		web[2 + i].v.str.ptr = big;
		web[2 + i].v.str.len = BIG_LEN;
	}
	memset(db, 0, sizeof(db));
	db[0].key = "db_password";
	db[0].key_len = 11;
	db[0].type = SECRET_STRING;
	db[0].v.str.ptr = "db-secret";
	db[0].v.str.len = 9;

	memset(par, 0, sizeof(par));
	par[0].key = "db_password";
	par[0].key_len = 11;
	par[0].type = SECRET_STRING;
	par[0].v.str.ptr = "p-secret";
	par[0].v.str.len = 8;

	for (cache = 0; cache < 2; cache++) {
		memset(sc, 0, sizeof(sc));
		for (i = 0; i < NPAR; i++) {
			memcpy(sc[2 + i].id, clients[3 + i].id, IDENTITY_LEN);
			sc[2 + i].name = "parallel";
			sc[2 + i].shard.items = par;
			sc[2 + i].shard.n = 1;
		}
		memcpy(sc[0].id, clients[0].id, IDENTITY_LEN);
		sc[0].name = "web";
		sc[0].shard.items = web;
		sc[0].shard.n = 2 + BIG_N;
		memcpy(sc[1].id, clients[1].id, IDENTITY_LEN);
		sc[1].name = "db";
		sc[1].shard.items = db;
		sc[1].shard.n = 1;
		port = sock_free_port();
		cfg_init(&c);
	c.net_path = getenv("APPLIANCE_NET");
		snprintf(listen_text, sizeof(listen_text), "127.0.0.1:%d", port);
		if (cfg_parse_listen(listen_text, &c.listen[0]) != 0)
			abort();
		c.n_listen = 1;
		c.workers = 2;
		c.rate = 1000;
		c.burst = 1000;
		c.max_per_source = 1000; /* every client is 127.0.0.1 */
		i = mkstemp(audit_path);
		close(i);

		TEST_START("start");
		ASSERT_INT_EQ(pkey_generate_p256(&skey), 0);
		ASSERT_INT_EQ(pkey_to_point(skey, server_pub), 0);
		ASSERT_INT_EQ(token_soft(&skey, 1, &tok), 0);
		if (cache) {
			/* What state_load does with --cache-ss when the bundle has the keys. */
			sc[0].have_point = sc[1].have_point = 1;
			memcpy(sc[0].point, clients[0].pub, P256_POINT_LEN);
			memcpy(sc[1].point, clients[1].pub, P256_POINT_LEN);
		}
		ASSERT_INT_EQ(state_from_clients(sc, 2 + NPAR, &st), 0);
		if (cache) {
			/* The ss cache: DH(appliance, client) computed once. */
			uint8_t ss_i[P256_DH_LEN];
			ASSERT_INT_EQ(state_ss_prepare(st, 1), 0);
			for (i = 0; i < (int)st->n; i++) {
				if (!st->clients[i].have_point)
					continue;
				ASSERT_INT_EQ(token_dh(tok, 0, st->clients[i].point, ss_i), 0);
				state_ss_put(st, &st->clients[i], 0, ss_i);
			}
		}
		ASSERT_INT_EQ(audit_open(audit_path, &audit), 0);
		ASSERT_INT_EQ(server_new(&c, tok, audit, st, &srv), 0);
		ASSERT_INT_EQ(server_signals(srv), 0);
		ASSERT_INT_EQ(server_bind(srv), 0);
		ASSERT_INT_EQ(pthread_create(&th, NULL, runner, NULL), 0);
		TEST_DONE();

		run_suite(cache ? "with the ss cache" : "without the ss cache", cache);
		if (!cache)
			test_reload();

		TEST_START("audit: handshakes and releases, names, never values");
		{
			FILE *f = fopen(audit_path, "r");
			char line[AUDIT_MAX_LINE];
			int hs = 0, rel = 0, knf = 0, values = 0;
			while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
				hs += strstr(line, "\"event\":\"handshake\"") != NULL;
				rel += strstr(line, "\"event\":\"release\"") != NULL &&
				       strstr(line, "\"name\":\"web\"") != NULL;
				knf += strstr(line, "\"result\":\"key-not-found\"") != NULL;
				values += strstr(line, "secret\"") != NULL || strstr(line, "xxxx") != NULL;
			}
			if (f != NULL)
				fclose(f);
			ASSERT_TRUE(hs >= 70);
			ASSERT_TRUE(rel >= 4);
			/* Refusals from one source are counted after the first: one line. */
			ASSERT_INT_EQ(knf, 1);
			ASSERT_INT_EQ(values, 0);
		}
		TEST_DONE();

		TEST_START("SIGTERM: a linked conversation still gets its answer, then exit 0");
		after_link = sigterm_now;
		ASSERT_INT_EQ(converse(&clients[0], clients[0].key, NULL, 0, &o, NULL, NULL), 0);
		after_link = NULL;
		ASSERT_INT_EQ(o.link_rc, 0);
		ASSERT_INT_EQ(o.get_rc, 0);
		ASSERT_STR_EQ(o.first_key, "db_password");
		pthread_join(th, NULL);
		ASSERT_INT_EQ(run_rc, 0);
		ASSERT_TRUE(sock_dial(port, 10) < 0); /* no longer listening */
		server_free(srv);
		state_unref(st);
		token_close(tok);
		EVP_PKEY_free(skey);
		audit_close(audit);
		cfg_clear(&c);
		unlink(audit_path);
		TEST_DONE();
	}
	for (i = 0; i < 3 + NPAR; i++)
		EVP_PKEY_free(clients[i].key);
	free(big);
	free(bignames);
	return unit_finish("appliance/serve");
}

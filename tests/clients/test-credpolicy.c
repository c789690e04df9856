// SPDX-License-Identifier: ISC
/*
 * credpolicy: the peer names systemd binds (accepted exactly, everything
 * else malformed) and the policy file (rules, globs, errors with lines).
 */
#include "credpolicy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "unit.h"

/* "\0" + text, as getpeername() gives an abstract name. */
static int parse(const char *text, struct credpeer *p)
{
	char a[200];
	size_t n = strlen(text);

	if (n + 1 > sizeof(a))
		abort();
	a[0] = '\0';
	memcpy(a + 1, text, n);
	return credpolicy_peer_parse(a, n + 1, p);
}

static const struct {
	const char *name, *unit, *cred;
} good[] = {
    {"1f/unit/web.service/db_password", "web.service", "db_password"},
    {"0/unit/a.service/X", "a.service", "X"},
    {"0123456789abcdef/unit/app@1.service/DB_PASSWORD", "app@1.service", "DB_PASSWORD"},
    {"ff/unit/sys-devices-foo\\x2dbar.device/tls.key", "sys-devices-foo\\x2dbar.device",
     "tls.key"},
    {"ff/unit/a-b:c_d.service/k+1@x:y-z", "a-b:c_d.service", "k+1@x:y-z"},
};

static const char *const bad[] = {
    "",
    "1f",
    "1f/unit/",
    "1f/unit/web.service",
    "1f/unit/web.service/",
    "1f/unit//x",
    "/unit/web.service/x",
    "0123456789abcdef0/unit/web.service/x", /* 17 hex digits */
    "1F/unit/web.service/x",                /* upper-case hex */
    "1g/unit/web.service/x",
    "1f/units/web.service/x",
    "1f/UNIT/web.service/x",
    "1f/unit/web.service/../x",
    "1f/unit/web.service/..",
    "1f/unit/web.service/.x",
    "1f/unit/web.service/a..b",
    "1f/unit/web.service/x/",
    "1f/unit/web.service/a/b",
    "1f/unit/../x",
    "1f/unit/.service/x",
    "1f/unit/we..b.service/x",
    "1f/unit/web service/x",
    "1f/unit/web.service/x y",
    "1f/unit/web.service/x\n",
    "1f/unit/web.service/x;id",
    "1f/unit/web.service/-x",
    "1f/unit/web.service/\xc3\xa9",
    "1f/unit/w\xc3\xa9.service/x",
    "1f/unit/web.service/x*",
    "1f/unit/web*.service/x",
};

static void test_peer(void)
{
	struct credpeer p;
	char raw[] = "\0" "1f/unit/web.service/x";
	size_t i;

	TEST_START("peer names systemd binds");
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ASSERT_INT_EQ(parse(good[i].name, &p), 0);
		ASSERT_STR_EQ(p.unit, good[i].unit);
		ASSERT_STR_EQ(p.name, good[i].cred);
	}
	TEST_DONE();

	TEST_START("malformed and hostile peer names");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &p) != ERR_FORMAT)
			UNIT_FAIL("accepted: \"%s\"", bad[i]);
		ASSERT_STR_EQ(p.unit, "");
		ASSERT_STR_EQ(p.name, "");
	}
	/* Not abstract, unbound, a NUL inside. */
	ASSERT_INT_EQ(credpolicy_peer_parse("/run/x.sock", 11, &p), ERR_FORMAT);
	ASSERT_INT_EQ(credpolicy_peer_parse("", 0, &p), ERR_FORMAT);
	raw[5] = '\0';
	ASSERT_INT_EQ(credpolicy_peer_parse(raw, sizeof(raw) - 1, &p), ERR_FORMAT);
	/* The detail shows the name escaped. */
	ASSERT_INT_EQ(parse("1f/unit/x/\x1b[2J", &p), ERR_FORMAT);
	ASSERT_TRUE(strchr(err_detail(), '\x1b') == NULL);
	TEST_DONE();

	TEST_START("names up to the largest abstract address");
	{
		char name[120];
		memset(name, 0, sizeof(name));
		memcpy(name, "0123456789abcdef/unit/", 22);
		memset(name + 22, 'u', 60);
		memcpy(name + 82, ".service/", 9);
		memset(name + 91, 'N', 16); /* 107 bytes after the NUL */
		ASSERT_INT_EQ(parse(name, &p), 0);
		ASSERT_SIZE_EQ(strlen(p.unit), 68);
		ASSERT_SIZE_EQ(strlen(p.name), 16);
	}
	TEST_DONE();

	TEST_START("name and unit checks");
	ASSERT_INT_EQ(credpolicy_name_ok("db_password"), 1);
	ASSERT_INT_EQ(credpolicy_name_ok(".."), 0);
	ASSERT_INT_EQ(credpolicy_name_ok(""), 0);
	ASSERT_INT_EQ(credpolicy_unit_ok("a@b.service"), 1);
	ASSERT_INT_EQ(credpolicy_unit_ok("a/b"), 0);
	TEST_DONE();
}

static int policy(const char *text, struct credpolicy **p)
{
	return credpolicy_parse((const uint8_t *)text, strlen(text), "pol", p);
}

static void test_policy(void)
{
	struct credpolicy *p = NULL;
	char *big;

	TEST_START("rules, globs, comments");
	ASSERT_INT_EQ(policy("# comment\n"
			     "\n"
			     "web.service   db_password api_token\n"
			     "\t worker@*.service\tqueue\n"
			     "   # indented comment\n"
			     "* shared\n"
			     "a?.service one",
			     &p),
		      0);
	ASSERT_SIZE_EQ(credpolicy_rules(p), 4);
	ASSERT_INT_EQ(credpolicy_allows(p, "web.service", "db_password"), 1);
	ASSERT_INT_EQ(credpolicy_allows(p, "web.service", "api_token"), 1);
	ASSERT_INT_EQ(credpolicy_allows(p, "web.service", "queue"), 0);
	ASSERT_INT_EQ(credpolicy_allows(p, "worker@3.service", "queue"), 1);
	ASSERT_INT_EQ(credpolicy_allows(p, "worker.service", "queue"), 0);
	ASSERT_INT_EQ(credpolicy_allows(p, "anything.socket", "shared"), 1);
	ASSERT_INT_EQ(credpolicy_allows(p, "ab.service", "one"), 1);
	ASSERT_INT_EQ(credpolicy_allows(p, "abc.service", "one"), 0);
	ASSERT_INT_EQ(credpolicy_allows(p, "web.service", "DB_PASSWORD"), 0);
	credpolicy_free(p);
	p = NULL;
	TEST_DONE();

	TEST_START("empty policy allows nothing");
	ASSERT_INT_EQ(policy("", &p), 0);
	ASSERT_INT_EQ(credpolicy_allows(p, "web.service", "x"), 0);
	credpolicy_free(p);
	ASSERT_INT_EQ(policy("# only\n\n   \n", &p), 0);
	ASSERT_SIZE_EQ(credpolicy_rules(p), 0);
	credpolicy_free(p);
	p = NULL;
	TEST_DONE();

	TEST_START("errors name the line");
	ASSERT_INT_EQ(policy("a.service x\nweb.service\n", &p), ERR_FORMAT);
	ASSERT_TRUE(p == NULL);
	ASSERT_TRUE(strstr(err_detail(), "pol:2:") != NULL);
	ASSERT_INT_EQ(policy("a/b x\n", &p), ERR_FORMAT);
	ASSERT_TRUE(strstr(err_detail(), "pol:1: not a unit name") != NULL);
	ASSERT_INT_EQ(policy("a.service ../x\n", &p), ERR_FORMAT);
	ASSERT_INT_EQ(policy("a.service x # trailing comment\n", &p), ERR_FORMAT);
	ASSERT_INT_EQ(policy("a.service x\r\n", &p), ERR_FORMAT);
	ASSERT_INT_EQ(credpolicy_parse((const uint8_t *)"a x\0y", 5, "pol", &p), ERR_FORMAT);
	TEST_DONE();

	TEST_START("limits");
	big = malloc(CREDPOLICY_MAX_LINE + 20);
	ASSERT_TRUE(big != NULL);
	memset(big, 'x', CREDPOLICY_MAX_LINE + 10);
	big[0] = 'a';
	big[1] = ' ';
	big[CREDPOLICY_MAX_LINE + 10] = '\0';
	ASSERT_INT_EQ(policy(big, &p), ERR_TOO_LARGE);
	free(big);
	ASSERT_INT_EQ(credpolicy_parse((const uint8_t *)"", (size_t)LIMIT_CONFIG + 1, "pol", &p),
		      ERR_TOO_LARGE);
	TEST_DONE();
}

/* The example shipped in the docs (dist/examples) is a valid policy. */
static void test_example(void)
{
	const char *build = getenv("COFFER_BUILD");
	struct credpolicy *p = NULL;
	char path[512];

	TEST_START("the shipped example policy");
	if (build == NULL) {
		UNIT_FAIL("%s is not set (run through meson test)", "COFFER_BUILD");
		TEST_DONE();
		return;
	}
	snprintf(path, sizeof(path), "%s/dist/credentials.policy", build);
	ASSERT_INT_EQ(credpolicy_load(path, &p), 0);
	if (p != NULL) {
		ASSERT_INT_EQ(credpolicy_allows(p, "myapp.service", "db_password"), 1);
		ASSERT_INT_EQ(credpolicy_allows(p, "worker@2.service", "queue_token"), 1);
		ASSERT_INT_EQ(credpolicy_allows(p, "myapp.service", "queue_token"), 0);
	}
	credpolicy_free(p);
	TEST_DONE();
}

int main(void)
{
	test_peer();
	test_policy();
	test_example();
	return unit_finish("credpolicy");
}

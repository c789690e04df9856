// SPDX-License-Identifier: ISC
/* The coffer-get YAML config parser. */
#include "clicfg.h"

#include <string.h>

#include "unit.h"

static int parse(const char *y, struct clicfg **c)
{
	return clicfg_parse((const uint8_t *)y, strlen(y), "client.yaml", c);
}

static void bad(const char *y, const char *detail_part)
{
	struct clicfg *c = (struct clicfg *)1;
	int r = parse(y, &c);

	ASSERT_INT_EQ(r, ERR_FORMAT);
	ASSERT_TRUE(c == NULL);
	if (detail_part != NULL && strstr(err_detail(), detail_part) == NULL)
		UNIT_FAIL("detail '%s' lacks '%s'", err_detail(), detail_part);
}

int main(void)
{
	struct clicfg *c = NULL;
	unsigned ms;

	TEST_START("full config");
	ASSERT_INT_EQ(parse("# client\n"
	                    "servers:\n"
	                    "  - coffer1.example:9187\n"
	                    "  - \"[2001:db8::2]:9187\"\n"
	                    "server-key: /etc/coffer/server.pem\n"
	                    "key: pkcs11:token=host;object=coffer\n"
	                    "pkcs11-module: /usr/lib/softhsm/libsofthsm2.so\n"
	                    "pin-source: file:/etc/coffer/pin\n"
	                    "tpm2: device:/dev/tpmrm0\n"
	                    "timeout: 7\n",
	                    &c),
	              0);
	ASSERT_TRUE(c != NULL);
	if (c != NULL) {
		ASSERT_SIZE_EQ(c->n_servers, 2);
		ASSERT_STR_EQ(c->servers[0], "coffer1.example:9187");
		ASSERT_STR_EQ(c->servers[1], "[2001:db8::2]:9187");
		ASSERT_SIZE_EQ(c->n_server_keys, 1);
		ASSERT_STR_EQ(c->server_keys[0], "/etc/coffer/server.pem");
		ASSERT_STR_EQ(c->key, "pkcs11:token=host;object=coffer");
		ASSERT_STR_EQ(c->pkcs11_module, "/usr/lib/softhsm/libsofthsm2.so");
		ASSERT_STR_EQ(c->pin_source, "file:/etc/coffer/pin");
		ASSERT_STR_EQ(c->tpm2, "device:/dev/tpmrm0");
		ASSERT_INT_EQ(c->timeout_ms, 7000);
	}
	clicfg_free(c);
	TEST_DONE();

	TEST_START("one server as a string, flow list of keys, ms timeout");
	ASSERT_INT_EQ(
	    parse("servers: 127.0.0.1:1\nserver-key: [a.pem, b.pem]\ntimeout: 250ms\n", &c), 0);
	if (c != NULL) {
		ASSERT_SIZE_EQ(c->n_servers, 1);
		ASSERT_STR_EQ(c->servers[0], "127.0.0.1:1");
		ASSERT_SIZE_EQ(c->n_server_keys, 2);
		ASSERT_STR_EQ(c->server_keys[1], "b.pem");
		ASSERT_INT_EQ(c->timeout_ms, 250);
		ASSERT_TRUE(c->key == NULL);
	}
	clicfg_free(c);
	TEST_DONE();

	TEST_START("empty and comment-only files");
	ASSERT_INT_EQ(parse("", &c), 0);
	ASSERT_TRUE(c != NULL && c->n_servers == 0);
	clicfg_free(c);
	ASSERT_INT_EQ(parse("# nothing\n", &c), 0);
	clicfg_free(c);
	ASSERT_INT_EQ(parse("{}\n", &c), 0);
	clicfg_free(c);
	TEST_DONE();

	TEST_START("errors name file, line and column");
	bad("servers: [a:1]\nbogus: 1\n", "client.yaml:2:8: unknown key 'bogus'");
	bad("key: a\nkey: b\n", "client.yaml:2:6: repeated key");
	bad("servers: [a:1]\nservers: [b:1]\n", "repeated key");
	bad("timeout: 1\ntimeout: 2\n", "repeated key");
	bad("key: {a: b}\n", "expected a string");
	bad("servers: [[a]]\n", "expected a string in the list");
	bad("- a\n- b\n", "must be a mapping");
	bad("key: &x a\npin-source: *x\n", "aliases");
	bad("timeout: 0\n", "timeout");
	bad("timeout: 5h\n", "timeout");
	bad("timeout: -1\n", "timeout");
	bad("timeout: 3601\n", "timeout");
	bad("key: \"\"\n", "empty value");
	bad("key: \"a\\0b\"\n", "NUL");
	bad("key: [unclosed\n", "client.yaml:");
	bad("a: 1\n---\nb: 2\n", NULL);
	bad("key: a\n---\nkey: b\n", "one YAML document");
	TEST_DONE();

	TEST_START("limits");
	{
		static char big[8192];
		memset(big, 'a', sizeof(big));
		memcpy(big, "key: ", 5);
		big[sizeof(big) - 1] = '\0';
		bad(big, "longer than 4096");
	}
	{
		static char many[4096];
		size_t off = 0, i;
		off += (size_t)snprintf(many + off, sizeof(many) - off, "servers:\n");
		for (i = 0; i < 65; i++)
			off +=
			    (size_t)snprintf(many + off, sizeof(many) - off, " - h:%zu\n", i + 1);
		bad(many, "too many entries");
	}
	TEST_DONE();

	TEST_START("timeouts");
	ASSERT_INT_EQ(clicfg_parse_timeout("5", &ms), 0);
	ASSERT_INT_EQ(ms, 5000);
	ASSERT_INT_EQ(clicfg_parse_timeout("5s", &ms), 0);
	ASSERT_INT_EQ(ms, 5000);
	ASSERT_INT_EQ(clicfg_parse_timeout("1ms", &ms), 0);
	ASSERT_INT_EQ(ms, 1);
	ASSERT_INT_EQ(clicfg_parse_timeout("3600000ms", &ms), 0);
	ASSERT_INT_EQ(clicfg_parse_timeout("3600001ms", &ms), ERR_FORMAT);
	ASSERT_INT_EQ(clicfg_parse_timeout("", &ms), ERR_FORMAT);
	ASSERT_INT_EQ(clicfg_parse_timeout(" 5", &ms), ERR_FORMAT);
	ASSERT_INT_EQ(clicfg_parse_timeout("99999999999999999999", &ms), ERR_FORMAT);
	TEST_DONE();

	TEST_START("missing file");
	ASSERT_INT_EQ(clicfg_load("/nonexistent/client.yaml", &c), ERR_NOT_FOUND);
	TEST_DONE();

	return unit_finish("clients/clicfg");
}

// SPDX-License-Identifier: ISC
/* Unit tests of the appliance configuration: argv, YAML, precedence, errors. */
#include "cfg.h"
#include "encoding.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

static int parse_args(struct cfg *c, enum cfg_action *a, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	const char *s;

	argv[argc++] = (char *)"appliance-server";
	va_start(ap, a);
	while ((s = va_arg(ap, const char *)) != NULL && argc < 31)
		argv[argc++] = (char *)s;
	va_end(ap);
	argv[argc] = NULL;
	return cfg_parse(c, argc, argv, a);
}

static int yaml(struct cfg *c, const char *text)
{
	return cfg_parse_yaml(c, (const uint8_t *)text, strlen(text), "t.yaml", NULL);
}

#define ANCHOR "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ANCHOR2 "sha256:1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
/* ANCHOR in the grouped notation: the same anchor. */
#define ANCHOR_GROUPED                                                                         \
	"0123-4567-89AB-CDEF-0123-4567-89AB-CDEF-0123-4567-89AB-CDEF-0123-4567-89AB-CDEF"
#define BASE "--pkcs11-module", "/m.so", "--key", "k", "--bundle", "/b", "--listen", "127.0.0.1:1"

static void test_args(void)
{
	struct cfg c;
	enum cfg_action a;

	TEST_START("argv: full PKCS#11 command line");
	cfg_init(&c);
	ASSERT_INT_EQ(parse_args(&c, &a, "--pkcs11-module", "/m.so", "--key", "pkcs11:token=a;object=s",
				 "--pin-source", "file:/p", "--bundle", "/b", "--trust-anchor", ANCHOR,
				 "--listen", "127.0.0.1:9187", "--listen", "[::1]:9188", "--workers", "3",
				 "--cache-ss", NULL),
		      0);
	ASSERT_INT_EQ(a, CFG_RUN);
	ASSERT_STR_EQ(c.pkcs11_module, "/m.so");
	ASSERT_STR_EQ(c.key, "pkcs11:token=a;object=s");
	ASSERT_SIZE_EQ(c.n_listen, 2);
	ASSERT_INT_EQ(c.listen[0].addr.ss_family, AF_INET);
	ASSERT_INT_EQ(c.listen[1].addr.ss_family, AF_INET6);
	ASSERT_INT_EQ(ntohs(((struct sockaddr_in6 *)&c.listen[1].addr)->sin6_port), 9188);
	ASSERT_INT_EQ(c.workers, 3);
	ASSERT_INT_EQ(c.cache_ss, 1);
	ASSERT_SIZE_EQ(c.n_trust_anchors, 1);
	ASSERT_STR_EQ(c.trust_anchors[0], ANCHOR);
	ASSERT_INT_EQ(c.threshold, 1);
	ASSERT_TRUE(c.rollback_counter == NULL);
	ASSERT_INT_EQ(c.max_connections, CFG_DEFAULT_MAX_CONNECTIONS);
	ASSERT_INT_EQ(cfg_validate(&c), 0);
	cfg_clear(&c);
	TEST_DONE();

	TEST_START("argv: help, version");
	cfg_init(&c);
	ASSERT_INT_EQ(parse_args(&c, &a, "--help", NULL), 0);
	ASSERT_INT_EQ(a, CFG_HELP);
	ASSERT_INT_EQ(parse_args(&c, &a, "--version", NULL), 0);
	ASSERT_INT_EQ(a, CFG_VERSION);
	cfg_clear(&c);
	TEST_DONE();

	TEST_START("argv: refusals");
	cfg_init(&c);
	ASSERT_INT_EQ(parse_args(&c, &a, "--nope", NULL), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "unknown option '--nope' (see 'appliance-server --help')") !=
		    NULL);
	ASSERT_INT_EQ(parse_args(&c, &a, "--bundel", "b", NULL), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "unknown option '--bundel'; did you mean '--bundle'?") !=
		    NULL);
	ASSERT_INT_EQ(parse_args(&c, &a, "--bundle", NULL), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "option '--bundle' needs a value") != NULL);
	ASSERT_INT_EQ(parse_args(&c, &a, "--workers", "12x", NULL), ERR_INVALID_ARG);
	ASSERT_INT_EQ(parse_args(&c, &a, "--workers", "-1", NULL), ERR_INVALID_ARG);
	ASSERT_INT_EQ(parse_args(&c, &a, "--workers", "99999999999999999999", NULL), ERR_INVALID_ARG);
	ASSERT_INT_EQ(parse_args(&c, &a, "--max-frame", "10", NULL), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "--max-frame: must be") != NULL);
	ASSERT_INT_EQ(parse_args(&c, &a, "--trust-anchor", "sha256:abcd", NULL), ERR_INVALID_ARG);
	/* The grouped notation of the same fingerprint is the same anchor. */
	ASSERT_INT_EQ(parse_args(&c, &a, "--trust-anchor",
				 "0123-4567-89AB-CDEF-0123-4567-89ab-cdef-0123-4567-89ab-cdef-0123-"
				 "4567-89ab-cdef",
				 NULL),
		      0);
	{
		uint8_t want[32], got[32];
		ASSERT_INT_EQ(identity_parse(ANCHOR, want), 0);
		ASSERT_SIZE_EQ(c.n_trust_anchors, 1);
		if (c.n_trust_anchors == 1) {
			ASSERT_INT_EQ(identity_parse(c.trust_anchors[0], got), 0);
			ASSERT_MEM_EQ(got, want, 32);
		}
	}
	ASSERT_INT_EQ(parse_args(&c, &a, "--trust-anchor", "0123-4567", NULL), ERR_INVALID_ARG);
	ASSERT_INT_EQ(parse_args(&c, &a, "--listen", "localhost:1", NULL), ERR_INVALID_ARG);
	ASSERT_INT_EQ(parse_args(&c, &a, "--listen", "127.0.0.1:0", NULL), ERR_INVALID_ARG);
	ASSERT_INT_EQ(parse_args(&c, &a, "--listen", "127.0.0.1:65536", NULL), ERR_INVALID_ARG);
	ASSERT_INT_EQ(parse_args(&c, &a, "--listen", "::1:9187", NULL), ERR_INVALID_ARG);
	ASSERT_INT_EQ(parse_args(&c, &a, "--listen", "[::1]9187", NULL), ERR_INVALID_ARG);
	ASSERT_INT_EQ(parse_args(&c, &a, "stray", NULL), ERR_INVALID_ARG);
	cfg_clear(&c);
	TEST_DONE();

	TEST_START("validate: backends and required options");
	cfg_init(&c);
	ASSERT_INT_EQ(cfg_validate(&c), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "no token") != NULL);
	ASSERT_INT_EQ(parse_args(&c, &a, "--pkcs11-module", "/m", "--key", "k", "--tpm2", "device:x",
				 NULL),
		      0);
	ASSERT_INT_EQ(cfg_validate(&c), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "choose one backend") != NULL);
	cfg_clear(&c);
	cfg_init(&c);
	ASSERT_INT_EQ(parse_args(&c, &a, "--tpm2", "device:x", "--key-blob", "/k", "--bundle", "/b",
				 "--trust-anchor", ANCHOR, NULL),
		      0);
	ASSERT_INT_EQ(cfg_validate(&c), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "--listen is required") != NULL);
	c.check = 1;
	ASSERT_INT_EQ(cfg_validate(&c), 0);
	cfg_clear(&c);
	TEST_DONE();
}

static void test_anchors(void)
{
	struct cfg c;
	enum cfg_action a;

	TEST_START("argv: several trust anchors, threshold, rollback counter");
	cfg_init(&c);
	ASSERT_INT_EQ(parse_args(&c, &a, BASE, "--trust-anchor", ANCHOR, "--trust-anchor", ANCHOR2,
				 "--trust-anchor", "token:master-c", "--threshold", "2",
				 "--rollback-counter", "tpm2:device:/dev/tpmrm0", NULL),
		      0);
	ASSERT_SIZE_EQ(c.n_trust_anchors, 3);
	ASSERT_STR_EQ(c.trust_anchors[2], "token:master-c");
	ASSERT_INT_EQ(c.threshold, 2);
	ASSERT_STR_EQ(c.rollback_counter, "tpm2:device:/dev/tpmrm0");
	ASSERT_INT_EQ(cfg_validate(&c), 0);
	c.threshold = 3;
	ASSERT_INT_EQ(cfg_validate(&c), 0);
	c.threshold = 4;
	ASSERT_INT_EQ(cfg_validate(&c), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "--threshold 4 is more than the 3 trust anchors") != NULL);
	cfg_clear(&c);
	TEST_DONE();

	TEST_START("validate: an anchor twice, threshold above the anchors, bad counter");
	cfg_init(&c);
	ASSERT_INT_EQ(parse_args(&c, &a, BASE, "--trust-anchor", ANCHOR, "--trust-anchor",
				 ANCHOR_GROUPED, "--threshold", "2", NULL),
		      0);
	ASSERT_INT_EQ(cfg_validate(&c), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "is given twice") != NULL);
	cfg_clear(&c);
	cfg_init(&c);
	ASSERT_INT_EQ(parse_args(&c, &a, BASE, "--trust-anchor", "token:m", "--trust-anchor",
				 "token:m", NULL),
		      0);
	ASSERT_INT_EQ(cfg_validate(&c), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "is given twice") != NULL);
	cfg_clear(&c);
	cfg_init(&c);
	ASSERT_INT_EQ(parse_args(&c, &a, BASE, "--trust-anchor", ANCHOR, "--threshold", "2", NULL),
		      0);
	ASSERT_INT_EQ(cfg_validate(&c), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "--threshold 2 is more than the 1 trust anchor given") !=
		    NULL);
	ASSERT_INT_EQ(parse_args(&c, &a, "--threshold", "0", NULL), ERR_INVALID_ARG);
	ASSERT_INT_EQ(parse_args(&c, &a, "--threshold", "17", NULL), ERR_INVALID_ARG);
	cfg_clear(&c);
	cfg_init(&c);
	ASSERT_INT_EQ(parse_args(&c, &a, BASE, "--trust-anchor", ANCHOR, "--rollback-counter",
				 "device:/dev/tpmrm0", NULL),
		      0);
	ASSERT_INT_EQ(cfg_validate(&c), ERR_INVALID_ARG);
	ASSERT_TRUE(strstr(err_detail(), "--rollback-counter takes tpm2:TCTI") != NULL);
	cfg_clear(&c);
	TEST_DONE();

	TEST_START("yaml: trust anchors as a list, threshold; flags replace the file's list");
	cfg_init(&c);
	ASSERT_INT_EQ(yaml(&c, "trust-anchor:\n  - " ANCHOR "\n  - " ANCHOR2 "\nthreshold: 2\n"),
		      0);
	ASSERT_SIZE_EQ(c.n_trust_anchors, 2);
	ASSERT_INT_EQ(c.threshold, 2);
	ASSERT_INT_EQ(yaml(&c, "trust-anchor: " ANCHOR "\n"), 0);
	ASSERT_SIZE_EQ(c.n_trust_anchors, 1);
	ASSERT_INT_EQ(yaml(&c, "trust-anchor: []\n"), 0);
	ASSERT_SIZE_EQ(c.n_trust_anchors, 0);
	ASSERT_INT_EQ(yaml(&c, "threshold: 0\n"), ERR_FORMAT);
	ASSERT_INT_EQ(yaml(&c, "trust-anchor: [[" ANCHOR "]]\n"), ERR_FORMAT);
	ASSERT_INT_EQ(yaml(&c, "threshold: [1, 2]\n"), ERR_FORMAT);
	ASSERT_INT_EQ(yaml(&c, "trust-anchor:\n  - md5:00\n"), ERR_FORMAT);
	cfg_clear(&c);
	TEST_DONE();
}

static void test_yaml(void)
{
	struct cfg c;
	enum cfg_action a;
	char path[] = "/tmp/coffer-cfg-XXXXXX";
	int fd;
	static const char file[] = "# appliance\n"
				   "pkcs11-module: /from/file.so\n"
				   "key: pkcs11:object=s\n"
				   "bundle: /bundle\n"
				   "trust-anchor: " ANCHOR "\n"
				   "listen:\n  - 127.0.0.1:1\n  - '[::1]:2'\n"
				   "workers: 5\n"
				   "audit-required: true\n";

	TEST_START("yaml: every shape");
	cfg_init(&c);
	ASSERT_INT_EQ(yaml(&c, file), 0);
	ASSERT_STR_EQ(c.pkcs11_module, "/from/file.so");
	ASSERT_SIZE_EQ(c.n_listen, 2);
	ASSERT_INT_EQ(c.workers, 5);
	ASSERT_INT_EQ(c.audit_required, 1);
	ASSERT_INT_EQ(yaml(&c, "listen: 127.0.0.1:7\n"), 0);
	ASSERT_SIZE_EQ(c.n_listen, 1);
	ASSERT_INT_EQ(yaml(&c, ""), 0);
	ASSERT_INT_EQ(yaml(&c, "---\n...\n"), 0);
	cfg_clear(&c);
	TEST_DONE();

	TEST_START("yaml: refusals carry line and column");
	cfg_init(&c);
	ASSERT_INT_EQ(yaml(&c, "workers: 2\nbogus: 1\n"), ERR_FORMAT);
	ASSERT_TRUE(strstr(err_detail(), "t.yaml:2:1: unknown option bogus") != NULL);
	ASSERT_INT_EQ(yaml(&c, "workers: two\n"), ERR_FORMAT);
	ASSERT_TRUE(strstr(err_detail(), "t.yaml:1:10: workers: not a number") != NULL);
	ASSERT_INT_EQ(yaml(&c, "workers: 1\nworkers: 2\n"), ERR_FORMAT);
	ASSERT_TRUE(strstr(err_detail(), "duplicate") != NULL);
	ASSERT_INT_EQ(yaml(&c, "key: [a, b]\n"), ERR_FORMAT);
	ASSERT_INT_EQ(yaml(&c, "key: {a: b}\n"), ERR_FORMAT);
	ASSERT_INT_EQ(yaml(&c, "- a\n- b\n"), ERR_FORMAT);
	ASSERT_INT_EQ(yaml(&c, "just a scalar\n"), ERR_FORMAT);
	ASSERT_INT_EQ(yaml(&c, "a: &x 1\nkey: *x\n"), ERR_FORMAT);
	ASSERT_INT_EQ(yaml(&c, "config: /x\n"), ERR_FORMAT);
	ASSERT_INT_EQ(yaml(&c, "help: true\n"), ERR_FORMAT);
	ASSERT_INT_EQ(yaml(&c, "key: 'unterminated\n"), ERR_FORMAT);
	ASSERT_INT_EQ(yaml(&c, "cache-ss: maybe\n"), ERR_FORMAT);
	ASSERT_INT_EQ(yaml(&c, "workers: 1\n---\nworkers: 2\n"), ERR_FORMAT);
	ASSERT_INT_EQ(yaml(&c, "listen: [[1]]\n"), ERR_FORMAT);
	cfg_clear(&c);
	TEST_DONE();

	TEST_START("yaml: flags win over the file");
	fd = mkstemp(path);
	ASSERT_TRUE(fd >= 0);
	ASSERT_INT_EQ(write(fd, file, strlen(file)), (long long)strlen(file));
	close(fd);
	cfg_init(&c);
	ASSERT_INT_EQ(parse_args(&c, &a, "--config", path, "--workers", "9", "--listen",
				 "127.0.0.1:3", NULL),
		      0);
	ASSERT_INT_EQ(c.workers, 9);
	ASSERT_SIZE_EQ(c.n_listen, 1);
	ASSERT_STR_EQ(c.bundle, "/bundle");
	ASSERT_STR_EQ(c.pkcs11_module, "/from/file.so");
	ASSERT_INT_EQ(cfg_validate(&c), 0);
	cfg_clear(&c);
	cfg_init(&c);
	ASSERT_INT_EQ(parse_args(&c, &a, "--config", "/nonexistent/coffer.yaml", NULL), ERR_NOT_FOUND);
	cfg_clear(&c);
	unlink(path);
	TEST_DONE();
}

int main(void)
{
	test_args();
	test_anchors();
	test_yaml();
	return unit_finish("appliance/cfg");
}

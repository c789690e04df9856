// SPDX-License-Identifier: ISC
/* The shared command-line messages and the one exit-code table. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "exitcode.h"
#include "log.h"
#include "unit.h"

static const struct option opts[] = {
    {"only", required_argument, NULL, 'O'},
    {"out", required_argument, NULL, 'o'},
    {"pkcs11-module", required_argument, NULL, 'm'},
    {"env-prefix", required_argument, NULL, 'e'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Run getopt_long over argv as a tool does and capture the message. */
static int run(char **argv, int argc, char *msg, size_t cap)
{
	FILE *f = tmpfile();
	int saved = dup(2), c, rc = -1;
	size_t n;

	optind = 1;
	opterr = 0;
	fflush(stderr);
	dup2(fileno(f), 2);
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1)
		if (c == '?' || c == ':') {
			rc = cli_bad_option("tool", argv, optind, optopt, "o:h", opts);
			break;
		}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(msg, 1, cap - 1, f);
	msg[n] = '\0';
	fclose(f);
	return rc;
}

int main(void)
{
	static const char *const cmds[] = {"init", "server-key", "add-key", "manifest",
	                                   "sign", "verify",     "log-verify"};
	/* word typed, suggestion expected (NULL: none) */
	static const struct {
		const char *word, *want;
	} sugg[] = {
	    {"verfy", "verify"},     {"--verify", "verify"},  {"sing", "sign"},
	    {"manifets", "manifest"}, {"server_key", "server-key"}, {"log-verif", "log-verify"},
	    {"xyz", NULL},           {"verify", NULL},        {"", NULL},
	    {"deploy", NULL},        {"in", "init"},
	};
	char msg[512];
	size_t i;

	log_init("test-cli", LOG_LEVEL_ERROR);

	TEST_START("suggestions: near names only");
	for (i = 0; i < sizeof(sugg) / sizeof(sugg[0]); i++) {
		const char *got = cli_suggest(sugg[i].word, cmds, sizeof(cmds) / sizeof(cmds[0]));
		if ((got == NULL) != (sugg[i].want == NULL) ||
		    (got != NULL && strcmp(got, sugg[i].want) != 0))
			UNIT_FAIL("'%s': got %s, expected %s", sugg[i].word, got ? got : "none",
			          sugg[i].want ? sugg[i].want : "none");
	}
	ASSERT_TRUE(cli_suggest_option("--onyl", opts) != NULL &&
	            strcmp(cli_suggest_option("--onyl", opts), "only") == 0);
	ASSERT_TRUE(strcmp(cli_suggest_option("--pkcs11-modul=x", opts), "pkcs11-module") == 0);
	TEST_DONE();

	TEST_START("unknown long option: one style, with a suggestion");
	{
		char *argv[] = {"tool", "--onyl", "a", NULL};
		ASSERT_INT_EQ(run(argv, 3, msg, sizeof(msg)), EXIT_USAGE);
		ASSERT_STR_EQ(msg, "tool: unknown option '--onyl'; did you mean '--only'? "
		                      "(see 'tool --help')\n");
	}
	{
		char *argv[] = {"tool", "--frobnicate", NULL};
		ASSERT_INT_EQ(run(argv, 2, msg, sizeof(msg)), EXIT_USAGE);
		ASSERT_STR_EQ(msg, "tool: unknown option '--frobnicate' (see 'tool --help')\n");
	}
	TEST_DONE();

	TEST_START("unknown short option, missing values");
	{
		char *argv[] = {"tool", "-z", NULL};
		ASSERT_INT_EQ(run(argv, 2, msg, sizeof(msg)), EXIT_USAGE);
		ASSERT_STR_EQ(msg, "tool: unknown option '-z' (see 'tool --help')\n");
	}
	{
		char *argv[] = {"tool", "--only", NULL};
		ASSERT_INT_EQ(run(argv, 2, msg, sizeof(msg)), EXIT_USAGE);
		ASSERT_STR_EQ(msg, "tool: option '--only' needs a value (see 'tool --help')\n");
	}
	{
		char *argv[] = {"tool", "-o", NULL};
		ASSERT_INT_EQ(run(argv, 2, msg, sizeof(msg)), EXIT_USAGE);
		ASSERT_TRUE(strstr(msg, "option '--out' needs a value") != NULL ||
		            strstr(msg, "option '-o' needs a value") != NULL);
	}
	TEST_DONE();

	TEST_START("typed text is escaped in the message");
	{
		char *argv[] = {"tool", "--\x1b[31mred", NULL};
		ASSERT_INT_EQ(run(argv, 2, msg, sizeof(msg)), EXIT_USAGE);
		ASSERT_TRUE(strchr(msg, '\x1b') == NULL);
	}
	TEST_DONE();

	TEST_START("exit codes: one table");
	ASSERT_INT_EQ(exit_code(0), EXIT_OK);
	ASSERT_INT_EQ(exit_code(ERR_INVALID_ARG), EXIT_USAGE);
	ASSERT_INT_EQ(exit_code(ERR_FORMAT), EXIT_REFUSED);
	ASSERT_INT_EQ(exit_code(ERR_AUTH), EXIT_REFUSED);
	ASSERT_INT_EQ(exit_code(ERR_EXISTS), EXIT_REFUSED);
	ASSERT_INT_EQ(exit_code(ERR_PERMISSION), EXIT_REFUSED);
	ASSERT_INT_EQ(exit_code(ERR_HSM), EXIT_TOKEN);
	ASSERT_INT_EQ(exit_code(ERR_TPM), EXIT_TOKEN);
	ASSERT_INT_EQ(exit_code(ERR_SYSTEM), EXIT_TOKEN);
	ASSERT_INT_EQ(exit_code(ERR_ALLOC), EXIT_TOKEN);
	/* In a token step a wrong PIN (ERR_AUTH) or a missing key is a token error. */
	ASSERT_INT_EQ(exit_code_token(ERR_AUTH), EXIT_TOKEN);
	ASSERT_INT_EQ(exit_code_token(ERR_NOT_FOUND), EXIT_TOKEN);
	ASSERT_INT_EQ(exit_code_token(ERR_INVALID_ARG), EXIT_USAGE);
	ASSERT_INT_EQ(exit_code_token(0), EXIT_OK);
	ASSERT_INT_EQ(exit_code_token(ERR_EXISTS), EXIT_REFUSED);
	TEST_DONE();

	return unit_finish("common/cli");
}

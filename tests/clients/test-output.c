// SPDX-License-Identifier: ISC
/* Exact output of every format for a shard holding each value type. */
#include "output.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "unit.h"

#include "shard.h"

static const char tricky[] = SHARD_TRICKY;

static const char env_expected[] =
    "export DB_PASSWORD='s3cr3t'\n"
    "export TRICKY='it'\\''s \"q\"\n$HOME `id` \\n \\ \t\r\xc3\xbcnic\xc3\xb8"
    "de '\\'''\\'' end'\n"
    "export EMPTY=''\n"
    "export PORT='5432'\n"
    "export NEG='-9223372036854775808'\n"
    "export RATIO='0.75'\n"
    "export THREE='3.0'\n"
    "export BIG='1e+100'\n"
    "export TENTH='0.1'\n"
    "export TLS='true'\n"
    "export OFF='false'\n"
    "export ROTATED='2026-11-01T12:00:00Z'\n"
    "export LDT='1979-05-27T07:32:00'\n"
    "export LD='1979-05-27'\n"
    "export LT='07:32:00.5'\n";

static const char dotenv_expected[] =
    "DB_PASSWORD=\"s3cr3t\"\n"
    "TRICKY=\"it's \\\"q\\\"\\n\\$HOME \\`id\\` \\\\n \\\\ \\t\\r\xc3\xbcnic\xc3\xb8"
    "de '' end\"\n"
    "EMPTY=\"\"\n"
    "PORT=\"5432\"\n"
    "NEG=\"-9223372036854775808\"\n"
    "RATIO=\"0.75\"\n"
    "THREE=\"3.0\"\n"
    "BIG=\"1e+100\"\n"
    "TENTH=\"0.1\"\n"
    "TLS=\"true\"\n"
    "OFF=\"false\"\n"
    "ROTATED=\"2026-11-01T12:00:00Z\"\n"
    "LDT=\"1979-05-27T07:32:00\"\n"
    "LD=\"1979-05-27\"\n"
    "LT=\"07:32:00.5\"\n";

static const char json_expected[] =
    "{\n"
    "  \"DB_PASSWORD\": \"s3cr3t\",\n"
    "  \"TRICKY\": \"it's \\\"q\\\"\\n$HOME `id` \\\\n \\\\ \\t\\r\xc3\xbcnic\xc3\xb8"
    "de '' end\",\n"
    "  \"EMPTY\": \"\",\n"
    "  \"PORT\": 5432,\n"
    "  \"NEG\": -9223372036854775808,\n"
    "  \"RATIO\": 0.75,\n"
    "  \"THREE\": 3.0,\n"
    "  \"BIG\": 1e+100,\n"
    "  \"TENTH\": 0.1,\n"
    "  \"TLS\": true,\n"
    "  \"OFF\": false,\n"
    "  \"ROTATED\": \"2026-11-01T12:00:00Z\",\n"
    "  \"LDT\": \"1979-05-27T07:32:00\",\n"
    "  \"LD\": \"1979-05-27\",\n"
    "  \"LT\": \"07:32:00.5\"\n"
    "}\n";

static void check_render(enum output_format f, const struct secret *items, size_t n,
                         const char *prefix, const char *want, size_t wantlen)
{
	struct buf *b = buf_new(0);
	int r = output_render(f, items, n, prefix, NULL, b);

	ASSERT_INT_EQ(r, 0);
	ASSERT_SIZE_EQ(buf_len(b), wantlen);
	if (buf_len(b) == wantlen)
		ASSERT_MEM_EQ(buf_ptr(b), want, wantlen);
	else
		fprintf(stderr, "got:\n%.*s\n", (int)buf_len(b), (const char *)buf_ptr(b));
	buf_free(b);
}

/* eval the env output in /bin/sh and read one variable back. */
static void check_shell_roundtrip(void)
{
	char path[] = "/tmp/coffer-test-env.XXXXXX";
	struct buf *b = buf_new(0);
	char cmd[256], got[512];
	size_t n;
	FILE *p;
	int fd;

	ASSERT_INT_EQ(output_render(OUTPUT_ENV, shard, NSHARD, NULL, NULL, b), 0);
	fd = mkstemp(path);
	ASSERT_TRUE(fd >= 0);
	ASSERT_INT_EQ(write(fd, buf_ptr(b), buf_len(b)), (long long)buf_len(b));
	close(fd);
	snprintf(cmd, sizeof(cmd), "sh -c 'eval \"$(cat %s)\"; printf %%s \"$TRICKY\"'", path);
	p = popen(cmd, "r");
	ASSERT_TRUE(p != NULL);
	n = fread(got, 1, sizeof(got), p);
	ASSERT_INT_EQ(pclose(p), 0);
	ASSERT_SIZE_EQ(n, sizeof(tricky) - 1);
	ASSERT_MEM_EQ(got, tricky, sizeof(tricky) - 1);
	unlink(path);
	buf_free(b);
}

/* The same shard against the expected files written independently (Python). */
static void check_expected_file(enum output_format f, const char *name)
{
	const char *src = getenv("COFFER_SRC");
	char path[4096];
	struct buf *want = NULL;

	if (src == NULL) {
		UNIT_FAIL("%s", "COFFER_SRC unset (run through meson test)");
		return;
	}
	snprintf(path, sizeof(path), "%s/tests/clients/expected/%s", src, name);
	ASSERT_INT_EQ(file_read_all(path, 1 << 20, &want), 0);
	if (want != NULL)
		check_render(f, shard, NSHARD, NULL, (const char *)buf_ptr(want), buf_len(want));
	buf_free(want);
}

int main(void)
{
	struct buf *b;
	char t[64];

	TEST_START("env exact");
	check_render(OUTPUT_ENV, shard, NSHARD, NULL, env_expected, sizeof(env_expected) - 1);
	TEST_DONE();

	TEST_START("env eval in sh gives the value back");
	check_shell_roundtrip();
	TEST_DONE();

	TEST_START("dotenv exact");
	check_render(OUTPUT_DOTENV, shard, NSHARD, NULL, dotenv_expected,
	             sizeof(dotenv_expected) - 1);
	TEST_DONE();

	TEST_START("json exact");
	check_render(OUTPUT_JSON, shard, NSHARD, NULL, json_expected, sizeof(json_expected) - 1);
	TEST_DONE();

	TEST_START("expected files (an independent oracle) agree");
	check_expected_file(OUTPUT_ENV, "env");
	check_expected_file(OUTPUT_DOTENV, "dotenv");
	check_expected_file(OUTPUT_JSON, "json");
	TEST_DONE();

	TEST_START("json empty shard");
	check_render(OUTPUT_JSON, shard, 0, NULL, "{}\n", 3);
	TEST_DONE();

	TEST_START("raw is exactly the bytes");
	check_render(OUTPUT_RAW, &shard[1], 1, NULL, tricky, sizeof(tricky) - 1);
	check_render(OUTPUT_RAW, &shard[2], 1, NULL, "", 0);
	check_render(OUTPUT_RAW, &shard[5], 1, NULL, "0.75", 4);
	TEST_DONE();

	TEST_START("prefix");
	check_render(OUTPUT_ENV, shard, 1, "APP_", "export APP_DB_PASSWORD='s3cr3t'\n", 32);
	check_render(OUTPUT_DOTENV, shard, 1, "APP_", "APP_DB_PASSWORD=\"s3cr3t\"\n", 25);
	TEST_DONE();

	TEST_START("env names");
	ASSERT_TRUE(output_env_name_ok("A", 1));
	ASSERT_TRUE(output_env_name_ok("_a1", 3));
	ASSERT_FALSE(output_env_name_ok("1A", 2));
	ASSERT_FALSE(output_env_name_ok("", 0));
	ASSERT_FALSE(output_env_name_ok("A-B", 3));
	ASSERT_FALSE(output_env_name_ok("A=B", 3));
	ASSERT_FALSE(output_env_name_ok("A B", 3));
	ASSERT_FALSE(output_env_name_ok("\xc3\xbc", 2));
	TEST_DONE();

	TEST_START("bad names and NUL values refused, nothing written, value not in the detail");
	{
		struct secret bad[] = {SHARD_S("OK", "v"), SHARD_S("db.password", "hunter2")};
		struct secret nul[] = {{.key = "N",
		                        .key_len = 1,
		                        .type = SECRET_STRING,
		                        .v.str = {.ptr = "a\0b", .len = 3}}};
		struct secret digit[] = {SHARD_S("1X", "v")};
		b = buf_new(0);
		ASSERT_INT_EQ(output_render(OUTPUT_ENV, bad, 2, NULL, NULL, b), ERR_FORMAT);
		ASSERT_SIZE_EQ(buf_len(b), 0);
		ASSERT_TRUE(strstr(err_detail(), "db.password") != NULL);
		ASSERT_TRUE(strstr(err_detail(), "hunter2") == NULL);
		ASSERT_INT_EQ(output_render(OUTPUT_DOTENV, bad, 2, NULL, NULL, b), ERR_FORMAT);
		ASSERT_INT_EQ(output_render(OUTPUT_ENV, nul, 1, NULL, NULL, b), ERR_FORMAT);
		ASSERT_INT_EQ(output_render(OUTPUT_ENV, digit, 1, NULL, NULL, b), ERR_FORMAT);
		ASSERT_SIZE_EQ(buf_len(b), 0);
		/* After a prefix, a leading digit is fine. */
		ASSERT_INT_EQ(output_render(OUTPUT_ENV, digit, 1, "P_", NULL, b), 0);
		ASSERT_INT_EQ(output_render(OUTPUT_ENV, digit, 1, "1P", NULL, b), ERR_FORMAT);
		/* JSON takes any name, and NUL as \u0000. */
		buf_reset(b);
		ASSERT_INT_EQ(output_render(OUTPUT_JSON, nul, 1, NULL, NULL, b), 0);
		ASSERT_TRUE(buf_len(b) == 22 &&
		            memcmp(buf_ptr(b), "{\n  \"N\": \"a\\u0000b\"\n}\n", 22) == 0);
		buf_free(b);
	}
	TEST_DONE();

	TEST_START("names that change how programs run: refused, unless prefixed or allowed");
	{
		/* name, refused without a prefix */
		static const struct {
			const char *name;
			int refused;
		} tab[] = {
		    {"LD_PRELOAD", 1},      {"LD_LIBRARY_PATH", 1}, {"BASH_ENV", 1},
		    {"ENV", 1},             {"PATH", 1},            {"IFS", 1},
		    {"PS4", 1},             {"SHELLOPTS", 1},       {"BASHOPTS", 1},
		    {"GLIBC_TUNABLES", 1},  {"GCONV_PATH", 1},      {"NODE_OPTIONS", 1},
		    {"PYTHONPATH", 1},      {"PYTHONSTARTUP", 1},   {"PERL5OPT", 1},
		    {"PERL5LIB", 1},        {"RUBYOPT", 1},         {"JAVA_TOOL_OPTIONS", 1},
		    {"OPENSSL_CONF", 1},    {"BASH_FUNC_x", 1},     {"DB_PASSWORD", 0},
		    {"PATHS", 0},           {"MY_PATH", 0},         {"ENVIRONMENT", 0},
		    {"LD", 0},              {"path", 0},            {"APP_LD_PRELOAD", 0},
		    {"PYTHON", 1},
		};
		const char *allow[] = {"PATH", "APP_IFS", NULL};
		size_t i;

		for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
			struct secret one = {.key = tab[i].name,
			                     .key_len = strlen(tab[i].name),
			                     .type = SECRET_STRING,
			                     .v.str = {.ptr = "hunter2", .len = 7}};
			int want = tab[i].refused ? ERR_PERMISSION : 0;
			if (output_env_name_refused(one.key, one.key_len) != tab[i].refused)
				UNIT_FAIL("%s: refused should be %d", tab[i].name, tab[i].refused);
			b = buf_new(0);
			if (output_render(OUTPUT_ENV, &one, 1, NULL, NULL, b) != want ||
			    output_render(OUTPUT_DOTENV, &one, 1, NULL, NULL, b) != want)
				UNIT_FAIL("%s: env/dotenv should give %d", tab[i].name, want);
			if (want != 0) {
				ASSERT_SIZE_EQ(buf_len(b), 0);
				ASSERT_TRUE(strstr(err_detail(), tab[i].name) != NULL);
				ASSERT_TRUE(strstr(err_detail(), "hunter2") == NULL);
			}
			/* JSON and --get are never evaluated as an environment. */
			buf_reset(b);
			ASSERT_INT_EQ(output_render(OUTPUT_JSON, &one, 1, NULL, NULL, b), 0);
			/* With a prefix the full name is checked: APP_PATH is harmless. */
			ASSERT_INT_EQ(output_render(OUTPUT_ENV, &one, 1, "APP_", NULL, b), 0);
			buf_free(b);
		}
		{
			struct secret p = SHARD_S("PATH", "/tmp/evil"), ifs = SHARD_S("IFS", "x"),
			              path2 = SHARD_S("PATH", "/x");
			b = buf_new(0);
			ASSERT_INT_EQ(output_render(OUTPUT_ENV, &p, 1, NULL, allow, b), 0);
			ASSERT_INT_EQ(output_render(OUTPUT_ENV, &ifs, 1, NULL, allow, b), ERR_PERMISSION);
			ASSERT_INT_EQ(output_render(OUTPUT_ENV, &ifs, 1, "APP_", allow, b), 0);
			/* A prefix that makes a refused name is still refused. */
			ASSERT_INT_EQ(output_render(OUTPUT_ENV, &path2, 1, "PYTHON", NULL, b),
			              ERR_PERMISSION);
			buf_free(b);
		}
	}
	TEST_DONE();

	TEST_START("json refuses invalid UTF-8");
	{
		struct secret bad[] = {SHARD_S("K", "\xff\xfe")};
		b = buf_new(0);
		ASSERT_INT_EQ(output_render(OUTPUT_JSON, bad, 1, NULL, NULL, b), ERR_FORMAT);
		ASSERT_SIZE_EQ(buf_len(b), 0);
		buf_free(b);
	}
	TEST_DONE();

	TEST_START("floats");
	output_float_text(INFINITY, t, sizeof(t));
	ASSERT_STR_EQ(t, "inf");
	output_float_text(-INFINITY, t, sizeof(t));
	ASSERT_STR_EQ(t, "-inf");
	output_float_text(NAN, t, sizeof(t));
	ASSERT_STR_EQ(t, "nan");
	output_float_text(-0.0, t, sizeof(t));
	ASSERT_STR_EQ(t, "-0.0");
	output_float_text(1.0 / 3, t, sizeof(t));
	ASSERT_STR_EQ(t, "0.3333333333333333");
	output_float_text(5e-324, t, sizeof(t));
	ASSERT_STR_EQ(t, "5e-324");
	output_float_text(1.7976931348623157e308, t, sizeof(t));
	ASSERT_STR_EQ(t, "1.7976931348623157e+308");
	output_float_text(123456789012.0, t, sizeof(t));
	ASSERT_STR_EQ(t, "123456789012.0");
	{
		struct secret nf[] = {
		    {.key = "X", .key_len = 1, .type = SECRET_FLOAT, .v.f = -INFINITY},
		    {.key = "Y", .key_len = 1, .type = SECRET_FLOAT, .v.f = NAN}};
		const char want[] = "{\n  \"X\": \"-inf\",\n  \"Y\": \"nan\"\n}\n";
		check_render(OUTPUT_JSON, nf, 2, NULL, want, sizeof(want) - 1);
	}
	TEST_DONE();

	TEST_START("format names");
	{
		enum output_format f;
		ASSERT_INT_EQ(output_format_parse("env", &f), 0);
		ASSERT_INT_EQ(f, OUTPUT_ENV);
		ASSERT_INT_EQ(output_format_parse("dotenv", &f), 0);
		ASSERT_INT_EQ(f, OUTPUT_DOTENV);
		ASSERT_INT_EQ(output_format_parse("json", &f), 0);
		ASSERT_INT_EQ(f, OUTPUT_JSON);
		ASSERT_INT_EQ(output_format_parse("yaml", &f), ERR_INVALID_ARG);
	}
	TEST_DONE();

	return unit_finish("clients/output");
}

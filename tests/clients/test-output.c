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
	int r = output_render(f, items, n, prefix, b);

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

	ASSERT_INT_EQ(output_render(OUTPUT_ENV, shard, NSHARD, NULL, b), 0);
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
		ASSERT_INT_EQ(output_render(OUTPUT_ENV, bad, 2, NULL, b), ERR_FORMAT);
		ASSERT_SIZE_EQ(buf_len(b), 0);
		ASSERT_TRUE(strstr(err_detail(), "db.password") != NULL);
		ASSERT_TRUE(strstr(err_detail(), "hunter2") == NULL);
		ASSERT_INT_EQ(output_render(OUTPUT_DOTENV, bad, 2, NULL, b), ERR_FORMAT);
		ASSERT_INT_EQ(output_render(OUTPUT_ENV, nul, 1, NULL, b), ERR_FORMAT);
		ASSERT_INT_EQ(output_render(OUTPUT_ENV, digit, 1, NULL, b), ERR_FORMAT);
		ASSERT_SIZE_EQ(buf_len(b), 0);
		/* After a prefix, a leading digit is fine. */
		ASSERT_INT_EQ(output_render(OUTPUT_ENV, digit, 1, "P_", b), 0);
		ASSERT_INT_EQ(output_render(OUTPUT_ENV, digit, 1, "1P", b), ERR_FORMAT);
		/* JSON takes any name, and NUL as \u0000. */
		buf_reset(b);
		ASSERT_INT_EQ(output_render(OUTPUT_JSON, nul, 1, NULL, b), 0);
		ASSERT_TRUE(buf_len(b) == 22 &&
		            memcmp(buf_ptr(b), "{\n  \"N\": \"a\\u0000b\"\n}\n", 22) == 0);
		buf_free(b);
	}
	TEST_DONE();

	TEST_START("json refuses invalid UTF-8");
	{
		struct secret bad[] = {SHARD_S("K", "\xff\xfe")};
		b = buf_new(0);
		ASSERT_INT_EQ(output_render(OUTPUT_JSON, bad, 1, NULL, b), ERR_FORMAT);
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

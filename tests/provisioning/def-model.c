// SPDX-License-Identifier: ISC
/* The coffer model from TOML and YAML: value types, lookup, every refusal. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "definition.h"
#include "encoding.h"
#include "err.h"
#include "unit.h"

#define ID_A "CA97-8112-CA1B-BDCA-FAC2-31B3-9A23-DC4D-A786-EFF8-147C-4E72-B980-7785-AFEE-48BB"
#define ID_B "3e23-e816-0039-594a-3389-4f65-64e1-b134-8bbd-7a00-88d4-2c4a-cb73-eeae-d59c-009d"
#define ID_C "2E7D-2C03-A950-7AE2-65EC-F5B5-3568-85A5-3393-A202-9D24-1394-9972-65A1-A25A-EFC6"

static const struct secret *find_key(struct secret_list l, const char *key)
{
	size_t i;

	for (i = 0; i < l.n; i++)
		if (strcmp(l.items[i].key, key) == 0)
			return &l.items[i];
	return NULL;
}

static void check_str(struct secret_list l, const char *key, enum secret_type t, const char *want)
{
	const struct secret *s = find_key(l, key);

	ASSERT_TRUE(s != NULL);
	if (s == NULL)
		return;
	ASSERT_INT_EQ(s->type, t);
	ASSERT_STR_EQ(s->v.str.ptr, want);
	ASSERT_SIZE_EQ(s->v.str.len, strlen(want));
	ASSERT_SIZE_EQ(s->key_len, strlen(key));
}

/* The full model, the same from TOML and YAML. */
static void check_full(const struct definition *def)
{
	uint8_t id[IDENTITY_LEN];
	const struct def_client *web, *db, *empty;
	const struct secret *s;
	struct secret_list l;

	ASSERT_SIZE_EQ(definition_client_count(def), 3);
	ASSERT_SIZE_EQ(definition_secret_count(def), 12);
	ASSERT_STR_EQ(def_client_name(definition_client_at(def, 0)), "web");
	ASSERT_STR_EQ(def_client_name(definition_client_at(def, 1)), "db");
	ASSERT_STR_EQ(def_client_name(definition_client_at(def, 2)), "empty");
	ASSERT_TRUE(definition_client_at(def, 3) == NULL);

	ASSERT_INT_EQ(identity_parse(ID_A, id), 0);
	web = definition_find(def, id);
	ASSERT_TRUE(web == definition_client_at(def, 0));
	ASSERT_MEM_EQ(def_client_id(web), id, IDENTITY_LEN);
	ASSERT_INT_EQ(identity_parse(ID_B, id), 0);
	db = definition_find(def, id);
	ASSERT_TRUE(db == definition_client_at(def, 1));
	ASSERT_INT_EQ(identity_parse(ID_C, id), 0);
	empty = definition_find(def, id);
	ASSERT_TRUE(empty == definition_client_at(def, 2));
	id[31] ^= 1;
	ASSERT_TRUE(definition_find(def, id) == NULL);
	if (web == NULL || db == NULL || empty == NULL)
		return;

	l = def_client_secrets(web);
	ASSERT_SIZE_EQ(l.n, 10);
	ASSERT_STR_EQ(l.items[0].key, "db_password");
	check_str(l, "db_password", SECRET_STRING, "s3cr3t");
	s = find_key(l, "port");
	ASSERT_TRUE(s != NULL && s->type == SECRET_INTEGER && s->v.i == 5432);
	s = find_key(l, "ratio");
	ASSERT_TRUE(s != NULL && s->type == SECRET_FLOAT && s->v.f == 0.75);
	s = find_key(l, "tls");
	ASSERT_TRUE(s != NULL && s->type == SECRET_BOOL && s->v.b == 1);
	s = find_key(l, "off");
	ASSERT_TRUE(s != NULL && s->type == SECRET_BOOL && s->v.b == 0);
	check_str(l, "rotated", SECRET_DATETIME, "2026-11-01T12:00:00Z");
	check_str(l, "local_dt", SECRET_LOCAL_DATETIME, "2026-11-01T12:00:00");
	check_str(l, "day", SECRET_LOCAL_DATE, "2026-11-01");
	check_str(l, "at", SECRET_LOCAL_TIME, "07:32:00.5");
	check_str(l, "quoted key", SECRET_STRING, "two\nlines");

	l = def_client_secrets(db);
	ASSERT_SIZE_EQ(l.n, 2);
	s = find_key(l, "neg");
	ASSERT_TRUE(s != NULL && s->type == SECRET_INTEGER && s->v.i == INT64_MIN);
	s = find_key(l, "inf");
	ASSERT_TRUE(s != NULL && s->type == SECRET_FLOAT && isinf(s->v.f) && s->v.f < 0);

	ASSERT_SIZE_EQ(def_client_secrets(empty).n, 0);
}

static const char full_toml[] = "[clients]\n"
				"web = \"" ID_A "\"\n"
				"db = \"" ID_B "\"\n"
				"empty = \"" ID_C "\"\n"
				"\n"
				"[web]\n"
				"db_password = \"s3cr3t\"\n"
				"port = 5432\n"
				"ratio = 0.75\n"
				"tls = true\n"
				"off = false\n"
				"rotated = 2026-11-01t12:00:00z\n"
				"local_dt = 2026-11-01 12:00:00\n"
				"day = 2026-11-01\n"
				"at = 07:32:00.5\n"
				"\"quoted key\" = '''\ntwo\nlines'''\n"
				"[db]\n"
				"neg = -9223372036854775808\n"
				"inf = -inf\n";

static const char full_yaml[] = "clients:\n"
				"  web: " ID_A "\n"
				"  db: '" ID_B "'\n"
				"  empty: \"" ID_C "\"\n"
				"web:\n"
				"  db_password: s3cr3t\n"
				"  port: 5432\n"
				"  ratio: !!float 0.75\n"
				"  tls: True\n"
				"  'off': !!bool false\n"
				"  rotated: 2026-11-01T12:00:00Z\n"
				"  local_dt: !!timestamp 2026-11-01 12:00:00\n"
				"  day: 2026-11-01\n"
				"  at: !!timestamp 07:32:00.5\n"
				"  quoted key: |-\n"
				"    two\n"
				"    lines\n"
				"db: {neg: -9223372036854775808, inf: -.inf}\n";

static void test_full(void)
{
	struct definition *def = NULL;

	TEST_START("toml: full model");
	ASSERT_INT_EQ(definition_parse((const uint8_t *)full_toml, strlen(full_toml), "t.toml",
				       DEF_AUTO, &def),
		      0);
	if (def != NULL)
		check_full(def);
	definition_free(def);
	TEST_DONE();

	TEST_START("yaml: full model");
	def = NULL;
	if (definition_parse((const uint8_t *)full_yaml, strlen(full_yaml), "t.yaml", DEF_AUTO,
			     &def) != 0)
		UNIT_FAIL("%s", err_detail());
	if (def != NULL)
		check_full(def);
	definition_free(def);
	TEST_DONE();

	TEST_START("definition_free(NULL), format by name");
	definition_free(NULL);
	ASSERT_INT_EQ(definition_format_of("a.yml"), DEF_YAML);
	ASSERT_INT_EQ(definition_format_of("a.yaml"), DEF_YAML);
	ASSERT_INT_EQ(definition_format_of("a.toml"), DEF_TOML);
	ASSERT_INT_EQ(definition_format_of(NULL), DEF_TOML);
	TEST_DONE();
}

struct refusal {
	const char *name;
	enum definition_format fmt;
	const char *text;
	const char *detail; /* exact */
};

#define CL "[clients]\nweb = \"" ID_A "\"\n"
#define YCL "clients:\n  web: " ID_A "\n"

static const struct refusal refusals[] = {
	{"no clients", DEF_TOML, "[web]\nx = 1\n", "t:1:1: no [clients] table"},
	{"clients not a table", DEF_TOML, "clients = 1\n",
	 "t:1:11: [clients] must be a table, not integer"},
	{"clients inline", DEF_TOML, "clients = {web = \"" ID_A "\"}\n",
	 "t:1:11: [clients] must be a table, not an inline table"},
	{"array value", DEF_TOML, CL "[web]\nx = [1]\n",
	 "t:4:5: arrays are not allowed (key 'x' of client 'web')"},
	{"inline table value", DEF_TOML, CL "[web]\nx = {a = 1}\n",
	 "t:4:5: inline tables are not allowed (key 'x' of client 'web')"},
	{"nested table", DEF_TOML, CL "[web]\na = 1\n[web.sub]\nb = 2\n",
	 "t:5:1: nested tables are not allowed (key 'sub' of client 'web')"},
	{"dotted key", DEF_TOML, CL "[web]\na.b = 1\n",
	 "t:4:1: nested tables are not allowed (key 'a' of client 'web')"},
	{"array of tables in a client", DEF_TOML, CL "[[web.x]]\n",
	 "t:3:1: arrays of tables are not allowed (key 'x' of client 'web')"},
	{"client as array of tables", DEF_TOML, CL "[[web]]\n",
	 "t:3:1: arrays of tables are not allowed ('web')"},
	{"client as inline table", DEF_TOML, CL "web = {x = 1}\n",
	 "t:3:1: duplicate key 'web'"},
	{"client inline at root", DEF_TOML, "web = {x = 1}\n" CL,
	 "t:1:7: inline tables are not allowed (client 'web')"},
	{"unknown client table", DEF_TOML, CL "[other]\nx = 1\n",
	 "t:3:1: table 'other' is not a client listed in [clients]"},
	{"value at top level", DEF_TOML, "x = 1\n" CL,
	 "t:1:1: 'x' is not in a client's table (only tables at the top level)"},
	{"duplicate identity", DEF_TOML, CL "api = \"" ID_A "\"\n",
	 "t:3:7: client 'api' has the same identity as client 'web'"},
	{"duplicate client name", DEF_TOML, CL "web = \"" ID_B "\"\n",
	 "t:3:1: duplicate key 'web'"},
	{"short identity", DEF_TOML, "[clients]\nweb = \"CA97-8112\"\n",
	 "t:2:7: the identity of client 'web' is not in the full form (64 hex digits in groups "
	 "of four joined by '-', or sha256:<64 hex>)"},
	{"identity without dashes", DEF_TOML,
	 "[clients]\nweb = \"CA978112CA1BBDCAFAC231B39A23DC4DA786EFF8147C4E72B9807785AFEE48BB\"\n",
	 "t:2:7: the identity of client 'web' is not in the full form (64 hex digits in groups "
	 "of four joined by '-', or sha256:<64 hex>)"},
	{"identity not hex", DEF_TOML,
	 "[clients]\nweb = \"CA97-8112-CA1B-BDCA-FAC2-31B3-9A23-DC4D-A786-EFF8-147C-4E72-B980-7785-"
	 "AFEE-48BG\"\n",
	 "t:2:7: the identity of client 'web' is not in the full form (64 hex digits in groups "
	 "of four joined by '-', or sha256:<64 hex>)"},
	{"identity an integer", DEF_TOML, "[clients]\nweb = 5\n",
	 "t:2:7: the identity of client 'web' must be a string, not integer"},
	{"empty key", DEF_TOML, CL "[web]\n\"\" = 1\n", "t:4:1: empty key"},
	{"empty client name", DEF_TOML, "[clients]\n'' = \"" ID_A "\"\n", "t:2:1: empty client name"},
	{"NUL in key", DEF_TOML, CL "[web]\n\"a\\u0000b\" = 1\n", "t:4:1: NUL byte in key 'a'"},
	{"reserved client name", DEF_TOML, "[clients]\nclients = \"" ID_A "\"\n",
	 "t:2:1: client name 'clients' is reserved"},
	{"TOML syntax", DEF_TOML, CL "[web\n", "t:3:5: expected ']' after a table name"},
	{"YAML no clients", DEF_YAML, "web: {x: 1}\n", "t:1:1: no [clients] table"},
	{"YAML sequence", DEF_YAML, YCL "web:\n  x: [1, 2]\n",
	 "t:4:6: arrays are not allowed (key 'x' of client 'web')"},
	{"YAML block sequence", DEF_YAML, YCL "web:\n  x:\n    - 1\n",
	 "t:5:5: arrays are not allowed (key 'x' of client 'web')"},
	{"YAML nested map", DEF_YAML, YCL "web:\n  x:\n    z: 1\n",
	 "t:5:5: nested tables are not allowed (key 'x' of client 'web')"},
	{"YAML bad identity", DEF_YAML, "clients:\n  web: 7F3A-09C1\n",
	 "t:2:8: the identity of client 'web' is not in the full form (64 hex digits in groups "
	 "of four joined by '-', or sha256:<64 hex>)"},
	{"YAML identity integer", DEF_YAML, "clients:\n  web: 12\n",
	 "t:2:8: the identity of client 'web' must be a string, not integer"},
	{"YAML duplicate client", DEF_YAML, YCL "  web: " ID_B "\n", "t:3:3: duplicate key 'web'"},
	{"YAML duplicate identity", DEF_YAML, YCL "  api: " ID_A "\n",
	 "t:3:8: client 'api' has the same identity as client 'web'"},
	{"YAML unknown client", DEF_YAML, YCL "other:\n  x: 1\n",
	 "t:4:3: table 'other' is not a client listed in [clients]"},
	{"YAML scalar at top level", DEF_YAML, YCL "x: 1\n",
	 "t:3:1: 'x' is not in a client's table (only tables at the top level)"},
	{"YAML clients a sequence", DEF_YAML, "clients: [a]\n",
	 "t:1:10: [clients] must be a table, not array"},
	{"YAML alias", DEF_YAML, YCL "web:\n  x: &a s\n  z: *a\n", "t:4:6: anchors are not allowed"},
	{"YAML alias only", DEF_YAML, YCL "web:\n  z: *a\n", "t:4:6: aliases are not allowed"},
	{"YAML null", DEF_YAML, YCL "web:\n  x:\n", "t:4:5: null values are not allowed"},
	{"YAML empty key", DEF_YAML, YCL "web:\n  '': 1\n", "t:4:3: empty key"},
	{"YAML top level sequence", DEF_YAML, "- 1\n", "t:1:1: the top level must be a mapping"},
	{"YAML two documents", DEF_YAML, YCL "---\na: 1\n",
	 "t:3:1: only one YAML document is allowed"},
	{"YAML syntax", DEF_YAML, "clients: [\n",
	 "t:2:1: while parsing a flow node did not find expected node content"},
};

static char *repeat(const char *pre, char c, size_t n, const char *post)
{
	size_t a = strlen(pre), b = strlen(post);
	char *s = malloc(a + n + b + 1);

	if (s == NULL)
		abort();
	memcpy(s, pre, a);
	memset(s + a, c, n);
	memcpy(s + a + n, post, b + 1);
	return s;
}

static void expect_refusal(const char *text, enum definition_format fmt, const char *want)
{
	struct definition *def = NULL;
	int r;

	err_clear();
	r = definition_parse((const uint8_t *)text, strlen(text), "t", fmt, &def);
	ASSERT_INT_EQ(r, ERR_FORMAT);
	ASSERT_TRUE(def == NULL);
	ASSERT_STR_EQ(err_detail(), want);
	definition_free(def);
}

static void test_refusals(void)
{
	size_t i;
	char *s, want[512];

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		TEST_START(refusals[i].name);
		expect_refusal(refusals[i].text, refusals[i].fmt, refusals[i].detail);
		TEST_DONE();
	}

	TEST_START("key longer than LIMIT_KEY_NAME");
	s = repeat(CL "[web]\n", 'k', LIMIT_KEY_NAME + 1, " = 1\n");
	snprintf(want, sizeof(want), "t:4:1: key '%.64s...' is longer than %d bytes", s + strlen(CL) + 6,
		 LIMIT_KEY_NAME);
	expect_refusal(s, DEF_TOML, want);
	free(s);
	s = repeat(CL "[web]\n", 'k', LIMIT_KEY_NAME, " = 1\n");
	{
		struct definition *def = NULL;
		ASSERT_INT_EQ(definition_parse((const uint8_t *)s, strlen(s), "t", DEF_TOML, &def), 0);
		definition_free(def);
	}
	free(s);
	TEST_DONE();

	TEST_START("client name longer than LIMIT_CLIENT_NAME");
	s = repeat("[clients]\n", 'n', LIMIT_CLIENT_NAME + 1, " = \"" ID_A "\"\n");
	snprintf(want, sizeof(want), "t:2:1: client name '%.64s...' is longer than %d bytes",
		 s + 10, LIMIT_CLIENT_NAME);
	expect_refusal(s, DEF_TOML, want);
	free(s);
	TEST_DONE();

	TEST_START("string longer than LIMIT_VALUE (TOML and YAML)");
	s = repeat(CL "[web]\nv = \"", 'v', LIMIT_VALUE + 1, "\"\n");
	snprintf(want, sizeof(want), "t:4:5: value of 'v' is longer than %d bytes", LIMIT_VALUE);
	expect_refusal(s, DEF_TOML, want);
	free(s);
	s = repeat(YCL "web:\n  v: ", 'v', LIMIT_VALUE + 1, "\n");
	snprintf(want, sizeof(want), "t:4:6: value of 'v' is longer than %d bytes", LIMIT_VALUE);
	expect_refusal(s, DEF_YAML, want);
	free(s);
	s = repeat(CL "[web]\nv = \"", 'v', LIMIT_VALUE, "\"\n");
	{
		struct definition *def = NULL;
		ASSERT_INT_EQ(definition_parse((const uint8_t *)s, strlen(s), "t", DEF_TOML, &def), 0);
		if (def != NULL)
			ASSERT_SIZE_EQ(def_client_secrets(definition_client_at(def, 0)).items[0].v.str.len,
				       LIMIT_VALUE);
		definition_free(def);
	}
	free(s);
	TEST_DONE();

	TEST_START("nesting beyond LIMIT_NESTING is ERR_TOO_LARGE");
	{
		struct definition *def = NULL;
		s = repeat(CL "[web]\nx = ", '[', LIMIT_NESTING + 2, "\n");
		ASSERT_INT_EQ(definition_parse((const uint8_t *)s, strlen(s), "t", DEF_TOML, &def),
			      ERR_TOO_LARGE);
		ASSERT_TRUE(strstr(err_detail(), "nesting deeper than 64 levels") != NULL);
		free(s);
		s = repeat(YCL "web:\n  x: ", '[', LIMIT_NESTING + 2, "\n");
		ASSERT_INT_EQ(definition_parse((const uint8_t *)s, strlen(s), "t", DEF_YAML, &def),
			      ERR_TOO_LARGE);
		ASSERT_TRUE(strstr(err_detail(), "nesting deeper than 64 levels") != NULL);
		free(s);
	}
	TEST_DONE();
}

static void test_empty_shard_and_no_clients(void)
{
	struct definition *def = NULL;
	const char *t = "[clients]\n";

	TEST_START("empty [clients]");
	ASSERT_INT_EQ(definition_parse((const uint8_t *)t, strlen(t), "t", DEF_TOML, &def), 0);
	if (def != NULL) {
		ASSERT_SIZE_EQ(definition_client_count(def), 0);
		ASSERT_TRUE(definition_client_at(def, 0) == NULL);
	}
	definition_free(def);
	TEST_DONE();

	TEST_START("client listed without a table has an empty shard");
	def = NULL;
	ASSERT_INT_EQ(definition_parse((const uint8_t *)CL, strlen(CL), "t", DEF_TOML, &def), 0);
	if (def != NULL) {
		ASSERT_SIZE_EQ(definition_client_count(def), 1);
		ASSERT_SIZE_EQ(def_client_secrets(definition_client_at(def, 0)).n, 0);
	}
	definition_free(def);
	TEST_DONE();

	TEST_START("[clients] takes both notations of an identity (grouped and sha256:)");
	{
		/* ID_A as provision-master prints fingerprints: lower-case, no dashes. */
		static const char *const texts[][2] = {
		    {"t.toml", "[clients]\nweb = \"sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72"
		               "b9807785afee48bb\"\n[web]\nx = 1\n"},
		    {"t.yaml", "clients:\n  web: sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e"
		               "72b9807785afee48bb\nweb:\n  x: 1\n"},
		};
		uint8_t id[IDENTITY_LEN];
		size_t i;

		ASSERT_INT_EQ(identity_parse(ID_A, id), 0);
		for (i = 0; i < 2; i++) {
			def = NULL;
			ASSERT_INT_EQ(definition_parse((const uint8_t *)texts[i][1],
			                               strlen(texts[i][1]), texts[i][0], DEF_AUTO, &def),
			              0);
			ASSERT_TRUE(def != NULL && definition_find(def, id) != NULL);
			definition_free(def);
		}
	}
	TEST_DONE();
}

static void test_lookup_many(void)
{
	struct definition *def = NULL;
	size_t n = 5000, i, len = 0, cap = n * 120 + 64;
	char *text = malloc(cap), idt[IDENTITY_TEXT_LEN + 1];
	uint8_t id[IDENTITY_LEN];

	TEST_START("lookup among 5000 clients");
	if (text == NULL)
		abort();
	len += (size_t)snprintf(text + len, cap - len, "[clients]\n");
	for (i = 0; i < n; i++) {
		memset(id, 0, sizeof(id));
		id[0] = (uint8_t)(i >> 8);
		id[1] = (uint8_t)i;
		id[31] = 0x5a;
		identity_format(id, idt);
		len += (size_t)snprintf(text + len, cap - len, "c%zu = \"%s\"\n", i, idt);
	}
	ASSERT_INT_EQ(definition_parse((const uint8_t *)text, len, "t", DEF_TOML, &def), 0);
	if (def != NULL) {
		ASSERT_SIZE_EQ(definition_client_count(def), n);
		for (i = 0; i < n; i++) {
			const struct def_client *c;
			char name[32];
			memset(id, 0, sizeof(id));
			id[0] = (uint8_t)(i >> 8);
			id[1] = (uint8_t)i;
			id[31] = 0x5a;
			c = definition_find(def, id);
			snprintf(name, sizeof(name), "c%zu", i);
			if (c == NULL || strcmp(def_client_name(c), name) != 0) {
				UNIT_FAIL("client %zu not found", i);
				break;
			}
		}
	}
	definition_free(def);
	free(text);
	TEST_DONE();
}

static void test_read_file(void)
{
	char dir[] = "/tmp/def-model.XXXXXX", path[128];
	struct definition *def = NULL;
	FILE *f;

	TEST_START("definition_read_file picks the format by name");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/coffer.yaml", dir);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fputs(full_yaml, f);
	fclose(f);
	ASSERT_INT_EQ(definition_read_file(path, DEF_AUTO, &def), 0);
	if (def != NULL)
		check_full(def);
	definition_free(def);
	def = NULL;
	/* The same YAML read as TOML is refused, naming the file. */
	ASSERT_INT_EQ(definition_read_file(path, DEF_TOML, &def), ERR_FORMAT);
	ASSERT_TRUE(strncmp(err_detail(), path, strlen(path)) == 0);
	ASSERT_TRUE(def == NULL);
	unlink(path);
	snprintf(path, sizeof(path), "%s/missing.toml", dir);
	ASSERT_INT_EQ(definition_read_file(path, DEF_AUTO, &def), ERR_NOT_FOUND);
	rmdir(dir);
	TEST_DONE();
}

int main(void)
{
	test_full();
	test_refusals();
	test_empty_shard_and_no_clients();
	test_lookup_many();
	test_read_file();
	return unit_finish("def-model");
}

// SPDX-License-Identifier: ISC
/* YAML front end: scalar resolution (tags and the core schema) and refusals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "definition.h"
#include "err.h"
#include "toml.h"
#include "unit.h"
#include "yaml_def.h"

#define ID_A "CA97-8112-CA1B-BDCA-FAC2-31B3-9A23-DC4D-A786-EFF8-147C-4E72-B980-7785-AFEE-48BB"
#define HEAD "clients:\n  web: " ID_A "\nweb:\n  v: "

struct scalar_case {
	const char *yaml; /* after "v: " */
	enum secret_type type;
	const char *text; /* strings and date/times */
	int64_t i;
	double f;
};

static const struct scalar_case cases[] = {
	{"plain text", SECRET_STRING, "plain text", 0, 0},
	{"'true'", SECRET_STRING, "true", 0, 0},
	{"\"5432\"", SECRET_STRING, "5432", 0, 0},
	{"!!str 5432", SECRET_STRING, "5432", 0, 0},
	{"! 5432", SECRET_STRING, "5432", 0, 0},
	{"\"a\\tb\\u00e9\"", SECRET_STRING, "a\tb\xc3\xa9", 0, 0},
	{"2026-13-01", SECRET_STRING, "2026-13-01", 0, 0},
	{"'yes'", SECRET_STRING, "yes", 0, 0},
	{"\"0042\"", SECRET_STRING, "0042", 0, 0},
	{"'0b101'", SECRET_STRING, "0b101", 0, 0},
	{"!!str 1_000", SECRET_STRING, "1_000", 0, 0},
	{"'~'", SECRET_STRING, "~", 0, 0},
	{"yesterday", SECRET_STRING, "yesterday", 0, 0},
	{">-\n    folded\n    text", SECRET_STRING, "folded text", 0, 0},
	{"true", SECRET_BOOL, NULL, 1, 0},
	{"TRUE", SECRET_BOOL, NULL, 1, 0},
	{"False", SECRET_BOOL, NULL, 0, 0},
	{"!!bool true", SECRET_BOOL, NULL, 1, 0},
	{"42", SECRET_INTEGER, NULL, 42, 0},
	{"-17", SECRET_INTEGER, NULL, -17, 0},
	{"+17", SECRET_INTEGER, NULL, 17, 0},
	{"!!int 007", SECRET_INTEGER, NULL, 7, 0},
	{"!!int 0x1F", SECRET_INTEGER, NULL, 31, 0},
	{"!!int 0o17", SECRET_INTEGER, NULL, 15, 0},
	{"0", SECRET_INTEGER, NULL, 0, 0},
	{"9223372036854775807", SECRET_INTEGER, NULL, INT64_MAX, 0},
	{"!!int 12", SECRET_INTEGER, NULL, 12, 0},
	{"0.5", SECRET_FLOAT, NULL, 0, 0.5},
	{"-1.5e+3", SECRET_FLOAT, NULL, 0, -1500.0},
	{"!!float 1e3", SECRET_FLOAT, NULL, 0, 1000.0},
	{"0.5e-1", SECRET_FLOAT, NULL, 0, 0.05},
	{".5", SECRET_FLOAT, NULL, 0, 0.5},
	{"1.", SECRET_FLOAT, NULL, 0, 1.0},
	{"1.0e+2", SECRET_FLOAT, NULL, 0, 100.0},
	{".inf", SECRET_FLOAT, NULL, 0, INFINITY},
	{"-.Inf", SECRET_FLOAT, NULL, 0, -INFINITY},
	{"!!float 3", SECRET_FLOAT, NULL, 0, 3.0},
	{"2026-11-01T12:00:00Z", SECRET_DATETIME, "2026-11-01T12:00:00Z", 0, 0},
	{"2026-11-01t12:00:00.25+02:00", SECRET_DATETIME, "2026-11-01T12:00:00.25+02:00", 0, 0},
	{"2026-11-01T12:00:00", SECRET_LOCAL_DATETIME, "2026-11-01T12:00:00", 0, 0},
	{"2026-11-01", SECRET_LOCAL_DATE, "2026-11-01", 0, 0},
	{"!!timestamp 2024-02-29", SECRET_LOCAL_DATE, "2024-02-29", 0, 0},
	{"!!timestamp 23:59:60", SECRET_LOCAL_TIME, "23:59:60", 0, 0},
};

struct refusal {
	const char *yaml;
	const char *detail;
};

static const struct refusal refusals[] = {
	{"!!int 1.5", "t:4:6: not an integer (!!int)"},
	{"!!int 99999999999999999999", "t:4:6: integer out of range"},
	{"99999999999999999999", "t:4:6: integer out of range"},
	{"-9223372036854775809", "t:4:6: integer out of range"},
	{"!!float abc", "t:4:6: not a float (!!float)"},
	{"1.0e+999", "t:4:6: float out of range"},
	{"!!bool yes", "t:4:6: not a boolean (!!bool)"},
	{"!!timestamp 2023-02-29", "t:4:6: not an RFC 3339 date/time (!!timestamp)"},
	{"!!timestamp soon", "t:4:6: not an RFC 3339 date/time (!!timestamp)"},
	{"!!null ''", "t:4:6: null values are not allowed"},
	{"null", "t:4:6: null values are not allowed"},
	{"!!binary aGk=", "t:4:6: unsupported tag 'tag:yaml.org,2002:binary'"},
	{"!custom x", "t:4:6: unsupported tag '!custom'"},
	{"&anchor x", "t:4:6: anchors are not allowed"},
	{"*anchor", "t:4:6: aliases are not allowed"},
	{"[1, 2]", "t:4:6: arrays are not allowed (key 'v' of client 'web')"},
	{"{a: 1}", "t:4:6: nested tables are not allowed (key 'v' of client 'web')"},
	{"\n    a: 1\n  v: 2", "t:6:3: duplicate key 'v'"},
	{"1\n  [k]: 1", "t:5:3: mapping keys must be scalars"},
	{"'unterminated", "t:5:1: while scanning a quoted scalar found unexpected end of stream"},
};

/*
 * Plain scalars that YAML 1.1, YAML 1.2 and TOML read differently: each is
 * refused with its position and "quote it" (docs/definitions.md lists them).
 * `pin: 0042` was sealed as 42 before.
 */
static const char *const ambiguous[] = {
	"0042", "-0042", "007", "00", "01.5",                   /* leading zeros */
	"yes", "Yes", "YES", "no", "No", "on", "On", "ON",      /* YAML 1.1 booleans */
	"off", "OFF", "y", "Y", "n", "N",
	"1:20", "190:20:30", "23:59:60", "07:32:00.5", "-1:30", /* sexagesimal */
	"0o17", "0O17", "0x1F", "0XFF", "-0x1", "0b101",        /* prefixed bases */
	"1_000", "1_0.5",                                       /* digit separators */
	"1e3", "1.5e3", "-2E10",                                /* YAML 1.1 reads a string */
	"~",                                                    /* null */
};

static void test_ambiguous(void)
{
	char text[512], want[512];
	size_t i;

	for (i = 0; i < sizeof(ambiguous) / sizeof(ambiguous[0]); i++) {
		struct definition *def = NULL;
		TEST_START(ambiguous[i]);
		snprintf(text, sizeof(text), HEAD "%s\n", ambiguous[i]);
		snprintf(want, sizeof(want), "t:4:6: '%s' is read differently by YAML 1.1, YAML 1.2 "
					     "and TOML (", ambiguous[i]);
		ASSERT_INT_EQ(definition_parse((const uint8_t *)text, strlen(text), "t", DEF_YAML, &def),
			      ERR_FORMAT);
		ASSERT_TRUE(def == NULL);
		ASSERT_TRUE(strncmp(err_detail(), want, strlen(want)) == 0);
		ASSERT_TRUE(strstr(err_detail(), "quote it") != NULL);
		definition_free(def);
		TEST_DONE();
	}

	TEST_START("an ambiguous plain key is refused too (`on:` is true in YAML 1.1)");
	{
		struct definition *def = NULL;
		const char *t = "clients:\n  web: " ID_A "\nweb:\n  on: x\n";
		ASSERT_INT_EQ(definition_parse((const uint8_t *)t, strlen(t), "t", DEF_YAML, &def),
			      ERR_FORMAT);
		ASSERT_TRUE(strncmp(err_detail(), "t:4:3: 'on' is read differently", 31) == 0);
		t = "clients:\n  web: " ID_A "\nweb:\n  'on': x\n";
		ASSERT_INT_EQ(definition_parse((const uint8_t *)t, strlen(t), "t", DEF_YAML, &def), 0);
		definition_free(def);
	}
	TEST_DONE();
}

static void test_scalars(void)
{
	size_t i;
	char text[512];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct scalar_case *c = &cases[i];
		struct definition *def = NULL;
		const struct secret *s;
		TEST_START(c->yaml);
		snprintf(text, sizeof(text), HEAD "%s\n", c->yaml);
		if (definition_parse((const uint8_t *)text, strlen(text), "t", DEF_YAML, &def) != 0) {
			UNIT_FAIL("%s", err_detail());
			TEST_DONE();
			continue;
		}
		ASSERT_SIZE_EQ(def_client_secrets(definition_client_at(def, 0)).n, 1);
		s = &def_client_secrets(definition_client_at(def, 0)).items[0];
		ASSERT_STR_EQ(s->key, "v");
		ASSERT_STR_EQ(secret_type_name(s->type), secret_type_name(c->type));
		switch (c->type) {
		case SECRET_INTEGER: ASSERT_INT_EQ(s->v.i, c->i); break;
		case SECRET_BOOL: ASSERT_INT_EQ(s->v.b, c->i); break;
		case SECRET_FLOAT: ASSERT_TRUE(s->v.f == c->f); break;
		default:
			ASSERT_STR_EQ(s->v.str.ptr, c->text);
			ASSERT_SIZE_EQ(s->v.str.len, strlen(c->text));
			break;
		}
		definition_free(def);
		TEST_DONE();
	}

	TEST_START(".nan");
	{
		struct definition *def = NULL;
		snprintf(text, sizeof(text), HEAD ".NaN\n");
		ASSERT_INT_EQ(definition_parse((const uint8_t *)text, strlen(text), "t", DEF_YAML, &def), 0);
		if (def != NULL) {
			const struct secret *s = &def_client_secrets(definition_client_at(def, 0)).items[0];
			ASSERT_INT_EQ(s->type, SECRET_FLOAT);
			ASSERT_TRUE(isnan(s->v.f));
		}
		definition_free(def);
	}
	TEST_DONE();

	TEST_START("string with a NUL byte keeps its length");
	{
		struct definition *def = NULL;
		snprintf(text, sizeof(text), HEAD "\"a\\0b\"\n");
		ASSERT_INT_EQ(definition_parse((const uint8_t *)text, strlen(text), "t", DEF_YAML, &def), 0);
		if (def != NULL) {
			const struct secret *s = &def_client_secrets(definition_client_at(def, 0)).items[0];
			ASSERT_SIZE_EQ(s->v.str.len, 3);
			ASSERT_MEM_EQ(s->v.str.ptr, "a\0b", 4);
		}
		definition_free(def);
	}
	TEST_DONE();
}

static void test_refusals(void)
{
	size_t i;
	char text[512];

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		struct definition *def = NULL;
		int r;
		TEST_START(refusals[i].yaml);
		snprintf(text, sizeof(text), HEAD "%s\n", refusals[i].yaml);
		err_clear();
		r = definition_parse((const uint8_t *)text, strlen(text), "t", DEF_YAML, &def);
		ASSERT_INT_EQ(r, ERR_FORMAT);
		ASSERT_TRUE(def == NULL);
		ASSERT_STR_EQ(err_detail(), refusals[i].detail);
		definition_free(def);
		TEST_DONE();
	}
}

static void test_billion_laughs(void)
{
	const char *lol = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
			  "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
			  "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
			  "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n";
	struct toml_doc *doc = NULL;

	TEST_START("billion laughs refused at the first anchor");
	ASSERT_INT_EQ(yaml_def_parse((const uint8_t *)lol, strlen(lol), "t", 0, &doc), ERR_FORMAT);
	ASSERT_STR_EQ(err_detail(), "t:1:4: anchors are not allowed");
	ASSERT_TRUE(doc == NULL);
	TEST_DONE();

	TEST_START("empty stream is an empty tree");
	ASSERT_INT_EQ(yaml_def_parse((const uint8_t *)"", 0, "t", 0, &doc), 0);
	if (doc != NULL)
		ASSERT_SIZE_EQ(toml_table_count(toml_root(doc)), 0);
	toml_free(doc);
	TEST_DONE();
}

int main(void)
{
	test_scalars();
	test_ambiguous();
	test_refusals();
	test_billion_laughs();
	return unit_finish("yaml-scalars");
}

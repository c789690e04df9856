// SPDX-License-Identifier: ISC
/* TOML reader: error positions, ranges, limits, positions in the tree, big tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "err.h"
#include "toml.h"
#include "unit.h"

struct bad {
	const char *text;
	int code;
	const char *detail;
};

static const struct bad bads[] = {
	{"a = 9223372036854775808\n", ERR_FORMAT, "f:1:5: integer out of range"},
	{"a = -9223372036854775809\n", ERR_FORMAT, "f:1:5: integer out of range"},
	{"a = 0x1_0000_0000_0000_0000\n", ERR_FORMAT, "f:1:5: integer out of range"},
	{"a = 0x8000000000000000\n", ERR_FORMAT, "f:1:5: integer out of range"},
	{"a = 1e400\n", ERR_FORMAT, "f:1:5: float out of range"},
	{"\n\nkey = \"x\" junk\n", ERR_FORMAT, "f:3:11: expected the end of the line"},
	{"a = \"\\q\"\n", ERR_FORMAT, "f:1:6: invalid escape sequence"},
	{"a = 1\na = 2\n", ERR_FORMAT, "f:2:1: duplicate key 'a'"},
	{"[t]\n[t]\n", ERR_FORMAT, "f:2:2: table defined twice: 't'"},
	{"x = \"\xff\"\n", ERR_FORMAT, "f:1:6: invalid UTF-8"},
	{"x = \"\xed\xa0\x80\"\n", ERR_FORMAT, "f:1:6: invalid UTF-8"},
	{"x = 2023-02-29\n", ERR_FORMAT, "f:1:5: date out of range"},
	{"x = 1\r2\n", ERR_FORMAT, "f:1:6: carriage return without newline"},
	{"x = \"\"\"\nab\n\"\"\"\"\"\"\n", ERR_FORMAT, "f:3:1: too many quotes at the end of a string"},
	{"a = {b = 1}\na.c = 2\n", ERR_FORMAT,
	 "f:2:1: cannot add keys with a dotted key to 'a'"},
	{"a = [1 2]\n", ERR_FORMAT, "f:1:8: expected ',' or ']' in an array"},
};

static void test_errors(void)
{
	size_t i;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct toml_doc *doc = NULL;
		TEST_START(bads[i].detail);
		err_clear();
		ASSERT_INT_EQ(toml_parse((const uint8_t *)bads[i].text, strlen(bads[i].text), "f", 0,
					 &doc),
			      bads[i].code);
		ASSERT_TRUE(doc == NULL);
		ASSERT_STR_EQ(err_detail(), bads[i].detail);
		toml_free(doc);
		TEST_DONE();
	}
}

static const struct toml_value *get(const struct toml_table *t, const char *k)
{
	const struct toml_kv *kv = toml_table_get(t, k, strlen(k));

	return kv != NULL ? &kv->val : NULL;
}

static void test_values(void)
{
	const char *text = "\xef\xbb\xbf# bom\r\n"
			   "min = -9223372036854775808\r\n"
			   "max = 0x7FFFFFFFFFFFFFFF\r\n"
			   "bin = 0b1010\n"
			   "oct = 0o755\n"
			   "s = \"\"\"\r\nline1\r\nline2 \\\r\n   cont\"\"\"\n"
			   "u = \"\\U0001F600\"\n"
			   "[t]\n"
			   "  \"k\" . 'l' = 1\n";
	struct toml_doc *doc = NULL;
	const struct toml_table *root;
	const struct toml_value *v;
	const struct toml_kv *kv;

	TEST_START("values, CRLF, BOM, positions");
	if (toml_parse((const uint8_t *)text, strlen(text), "f", TOML_SECMEM, &doc) != 0) {
		UNIT_FAIL("%s", err_detail());
		TEST_DONE();
		return;
	}
	root = toml_root(doc);
	v = get(root, "min");
	ASSERT_TRUE(v != NULL && v->type == TOML_INTEGER && v->u.i == INT64_MIN);
	ASSERT_INT_EQ(v != NULL ? v->line : 0, 2);
	ASSERT_INT_EQ(v != NULL ? v->col : 0, 7);
	v = get(root, "max");
	ASSERT_TRUE(v != NULL && v->u.i == INT64_MAX);
	v = get(root, "bin");
	ASSERT_TRUE(v != NULL && v->u.i == 10);
	v = get(root, "oct");
	ASSERT_TRUE(v != NULL && v->u.i == 0755);
	v = get(root, "s");
	ASSERT_TRUE(v != NULL && v->type == TOML_STRING);
	if (v != NULL)
		ASSERT_STR_EQ(v->u.s.ptr, "line1\nline2 cont");
	v = get(root, "u");
	if (v != NULL)
		ASSERT_STR_EQ(v->u.s.ptr, "\xf0\x9f\x98\x80");
	v = get(root, "t");
	ASSERT_TRUE(v != NULL && v->type == TOML_TABLE);
	if (v != NULL) {
		ASSERT_INT_EQ(toml_table_kind(v->u.t), TOML_TABLE_HEADER);
		kv = toml_table_get(v->u.t, "k", 1);
		ASSERT_TRUE(kv != NULL && kv->val.type == TOML_TABLE);
		if (kv != NULL) {
			ASSERT_INT_EQ(kv->line, 12);
			ASSERT_INT_EQ(kv->col, 3);
			ASSERT_INT_EQ(toml_table_kind(kv->val.u.t), TOML_TABLE_DOTTED);
			ASSERT_TRUE(get(kv->val.u.t, "l") != NULL);
		}
	}
	toml_free(doc);
	toml_free(NULL);
	TEST_DONE();
}

static char *build(size_t n, const char *pre, const char *item, const char *post)
{
	size_t a = strlen(pre), b = strlen(item), c = strlen(post), i;
	char *s = malloc(a + n * b + c + 1), *p;

	if (s == NULL)
		abort();
	memcpy(s, pre, a);
	p = s + a;
	for (i = 0; i < n; i++, p += b)
		memcpy(p, item, b);
	memcpy(p, post, c + 1);
	return s;
}

static void test_limits(void)
{
	struct toml_doc *doc = NULL;
	char *s;

	TEST_START("nesting limits");
	s = build(LIMIT_NESTING, "a = ", "[", "");
	{
		/* 64 open brackets then 64 closing ones parse. */
		size_t n = strlen(s);
		char *t = realloc(s, n + LIMIT_NESTING + 2);
		if (t == NULL)
			abort();
		s = t;
		memset(s + n, ']', LIMIT_NESTING);
		s[n + LIMIT_NESTING] = '\n';
		s[n + LIMIT_NESTING + 1] = '\0';
	}
	ASSERT_INT_EQ(toml_parse((const uint8_t *)s, strlen(s), "f", 0, &doc), 0);
	toml_free(doc);
	doc = NULL;
	free(s);
	s = build(LIMIT_NESTING + 1, "a = ", "[", "");
	ASSERT_INT_EQ(toml_parse((const uint8_t *)s, strlen(s), "f", 0, &doc), ERR_TOO_LARGE);
	free(s);
	s = build(100000, "a = ", "{b=", "");
	ASSERT_INT_EQ(toml_parse((const uint8_t *)s, strlen(s), "f", 0, &doc), ERR_TOO_LARGE);
	free(s);
	s = build(LIMIT_NESTING, "[", "a.", "b]\n");
	ASSERT_INT_EQ(toml_parse((const uint8_t *)s, strlen(s), "f", 0, &doc), ERR_TOO_LARGE);
	ASSERT_TRUE(strstr(err_detail(), "more than 64 parts") != NULL);
	free(s);
	s = build(40, "[", "a.", "b]\n");
	ASSERT_INT_EQ(toml_parse((const uint8_t *)s, strlen(s), "f", 0, &doc), 0);
	toml_free(doc);
	doc = NULL;
	free(s);
	/* Depth adds up across headers, dotted keys and values. */
	s = build(40, "[", "a.", "b]\nc.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.c1.c2.c3.c4.c5 = 1\n");
	ASSERT_INT_EQ(toml_parse((const uint8_t *)s, strlen(s), "f", 0, &doc), ERR_TOO_LARGE);
	free(s);
	ASSERT_TRUE(doc == NULL);
	TEST_DONE();
}

static void test_big_table(void)
{
	size_t n = 200000, i, len = 0, cap = n * 32;
	char *s = malloc(cap);
	struct toml_doc *doc = NULL;

	TEST_START("200000 keys in one table, hash lookup");
	if (s == NULL)
		abort();
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "key%zu = %zu\n", i, i);
	ASSERT_INT_EQ(toml_parse((const uint8_t *)s, len, "f", 0, &doc), 0);
	if (doc != NULL) {
		const struct toml_table *root = toml_root(doc);
		ASSERT_SIZE_EQ(toml_table_count(root), n);
		for (i = 0; i < n; i += 997) {
			char k[32];
			const struct toml_value *v;
			snprintf(k, sizeof(k), "key%zu", i);
			v = get(root, k);
			if (v == NULL || v->u.i != (int64_t)i) {
				UNIT_FAIL("%s missing", k);
				break;
			}
		}
		ASSERT_TRUE(get(root, "key200000") == NULL);
		ASSERT_INT_EQ(toml_table_kind(root), TOML_TABLE_HEADER);
	}
	toml_free(doc);
	free(s);
	TEST_DONE();
}

int main(void)
{
	test_errors();
	test_values();
	test_limits();
	test_big_table();
	return unit_finish("toml-unit");
}

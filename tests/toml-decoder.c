// SPDX-License-Identifier: ISC
/*
 * toml-decoder: the toml-test decoder contract. TOML on stdin; for a valid
 * document, tagged JSON on stdout and exit 0; for an invalid one, the reason
 * on stderr and exit 1; exit 2 if stdin cannot be read.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "err.h"
#include "toml.h"

static void put_json_string(const char *s, size_t n)
{
	size_t i;

	putchar('"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void put_value(const struct toml_value *v);

static void put_table(const struct toml_table *t)
{
	size_t i, n = toml_table_count(t);

	putchar('{');
	for (i = 0; i < n; i++) {
		const struct toml_kv *kv = toml_table_at(t, i);
		if (i > 0)
			putchar(',');
		put_json_string(kv->key, kv->key_len);
		putchar(':');
		put_value(&kv->val);
	}
	putchar('}');
}

static void put_value(const struct toml_value *v)
{
	char num[64];
	size_t i, n;

	switch (v->type) {
	case TOML_TABLE:
		put_table(v->u.t);
		return;
	case TOML_ARRAY:
		putchar('[');
		n = toml_array_count(v->u.a);
		for (i = 0; i < n; i++) {
			if (i > 0)
				putchar(',');
			put_value(toml_array_at(v->u.a, i));
		}
		putchar(']');
		return;
	case TOML_INTEGER:
		snprintf(num, sizeof(num), "%" PRId64, v->u.i);
		break;
	case TOML_FLOAT:
		if (isnan(v->u.f))
			snprintf(num, sizeof(num), "nan");
		else if (isinf(v->u.f))
			snprintf(num, sizeof(num), "%sinf", v->u.f < 0 ? "-" : "");
		else
			snprintf(num, sizeof(num), "%.17g", v->u.f);
		break;
	case TOML_BOOL:
		snprintf(num, sizeof(num), "%s", v->u.b ? "true" : "false");
		break;
	default:
		printf("{\"type\":\"%s\",\"value\":", toml_type_name(v->type));
		put_json_string(v->u.s.ptr, v->u.s.len);
		putchar('}');
		return;
	}
	printf("{\"type\":\"%s\",\"value\":\"%s\"}", toml_type_name(v->type), num);
}

int main(void)
{
	struct toml_doc *doc = NULL;
	uint8_t *text = NULL, *nt;
	size_t len = 0, cap = 0, got;
	int r;

	for (;;) {
		if (len == cap) {
			if (cap >= LIMIT_DEFINITION) {
				fprintf(stderr, "toml-decoder: input too large\n");
				return 2;
			}
			cap = cap ? cap * 2 : 65536;
			if ((nt = realloc(text, cap)) == NULL) {
				fprintf(stderr, "toml-decoder: out of memory\n");
				return 2;
			}
			text = nt;
		}
		got = fread(text + len, 1, cap - len, stdin);
		len += got;
		if (got == 0) {
			if (ferror(stdin)) {
				fprintf(stderr, "toml-decoder: read error\n");
				return 2;
			}
			break;
		}
	}
	r = toml_parse(text, len, "<stdin>", 0, &doc);
	free(text);
	if (r != 0) {
		fprintf(stderr, "%s\n", err_msg(r));
		return r == ERR_ALLOC ? 2 : 1;
	}
	put_table(toml_root(doc));
	putchar('\n');
	toml_free(doc);
	if (fflush(stdout) != 0)
		return 2;
	return 0;
}

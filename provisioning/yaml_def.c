// SPDX-License-Identifier: ISC
#include "yaml_def.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "bounds.h"
#include "log.h"
#include "secmem.h"
#include "toml.h"

#define TAG_STR "tag:yaml.org,2002:str"
#define TAG_INT "tag:yaml.org,2002:int"
#define TAG_FLOAT "tag:yaml.org,2002:float"
#define TAG_BOOL "tag:yaml.org,2002:bool"
#define TAG_TIMESTAMP "tag:yaml.org,2002:timestamp"
#define TAG_NULL "tag:yaml.org,2002:null"

struct yp {
	yaml_parser_t parser;
	yaml_event_t ev;
	int have_ev;
	const char *name;
	struct toml_doc *doc;
};

static int yerr(struct yp *y, int code, const yaml_mark_t *m, const char *fmt, ...)
	PRINTF_LIKE(4, 5);
static int yerr(struct yp *y, int code, const yaml_mark_t *m, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(code, "%s:%zu:%zu: %s", y->name, m->line + 1, m->column + 1, msg);
}

static void drop_event(struct yp *y)
{
	if (!y->have_ev)
		return;
	/* Scalars are secret values; libyaml frees without wiping. */
	if (y->ev.type == YAML_SCALAR_EVENT && y->ev.data.scalar.value != NULL)
		secmem_zero(y->ev.data.scalar.value, y->ev.data.scalar.length);
	yaml_event_delete(&y->ev);
	y->have_ev = 0;
}

static int next(struct yp *y)
{
	const char *anchor = NULL;

	drop_event(y);
	if (!yaml_parser_parse(&y->parser, &y->ev)) {
		const char *p = y->parser.problem != NULL ? y->parser.problem : "invalid YAML";
		if (y->parser.context != NULL)
			return yerr(y, ERR_FORMAT, &y->parser.problem_mark, "%s %s", y->parser.context,
				    p);
		return yerr(y, ERR_FORMAT, &y->parser.problem_mark, "%s", p);
	}
	y->have_ev = 1;
	switch (y->ev.type) {
	case YAML_ALIAS_EVENT:
		return yerr(y, ERR_FORMAT, &y->ev.start_mark, "aliases are not allowed");
	case YAML_SCALAR_EVENT: anchor = (const char *)y->ev.data.scalar.anchor; break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = (const char *)y->ev.data.sequence_start.anchor;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = (const char *)y->ev.data.mapping_start.anchor;
		break;
	default: break;
	}
	if (anchor != NULL)
		return yerr(y, ERR_FORMAT, &y->ev.start_mark, "anchors are not allowed");
	return 0;
}

static int eq(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(s, w, n) == 0;
}

static int is_null(const char *s, size_t n)
{
	return n == 0 || eq(s, n, "~") || eq(s, n, "null") || eq(s, n, "Null") || eq(s, n, "NULL");
}

/* 1 true, 0 false, -1 not a boolean. */
static int as_bool(const char *s, size_t n)
{
	if (eq(s, n, "true") || eq(s, n, "True") || eq(s, n, "TRUE"))
		return 1;
	if (eq(s, n, "false") || eq(s, n, "False") || eq(s, n, "FALSE"))
		return 0;
	return -1;
}

static int digit_of(int c, int base)
{
	int d;

	if (c >= '0' && c <= '9')
		d = c - '0';
	else if (c >= 'a' && c <= 'f')
		d = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		d = c - 'A' + 10;
	else
		return -1;
	return d < base ? d : -1;
}

/*
 * Core schema integer: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+.
 * 1 and *out set; 0 not an integer; ERR_TOO_LARGE out of range.
 */
static int as_int(const char *s, size_t n, int64_t *out)
{
	size_t i = 0;
	int base = 10, neg = 0, d;
	uint64_t mag = 0;

	if (n > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
		base = s[1] == 'o' ? 8 : 16;
		i = 2;
	} else if (n > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == n)
		return 0;
	for (; i < n; i++) {
		if ((d = digit_of(s[i], base)) < 0)
			return 0;
		if (mag > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return ERR_TOO_LARGE;
		mag = mag * (uint64_t)base + (uint64_t)d;
	}
	if (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX)
		return ERR_TOO_LARGE;
	*out = !neg ? (int64_t)mag : mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	return 1;
}

/*
 * Core schema float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?,
 * [-+]?\.(inf|Inf|INF), \.(nan|NaN|NAN). 1 and *out; 0 not a float;
 * ERR_TOO_LARGE beyond double; ERR_ALLOC.
 */
static int as_float(const char *s, size_t n, double *out)
{
	size_t i = 0, ip = 0, fp = 0;
	char *buf, *end;
	double d;

	if (eq(s, n, ".nan") || eq(s, n, ".NaN") || eq(s, n, ".NAN")) {
		*out = NAN;
		return 1;
	}
	if (n > 0 && (s[0] == '-' || s[0] == '+'))
		i = 1;
	if (eq(s + i, n - i, ".inf") || eq(s + i, n - i, ".Inf") || eq(s + i, n - i, ".INF")) {
		*out = s[0] == '-' ? -INFINITY : INFINITY;
		return 1;
	}
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		i++;
		ip++;
	}
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			i++;
			fp++;
		}
	}
	if (ip == 0 && fp == 0)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t ed = 0;
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			i++;
			ed++;
		}
		if (ed == 0)
			return 0;
	}
	if (i != n)
		return 0;
	if ((buf = malloc(n + 1)) == NULL)
		return ERR_ALLOC;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	d = strtod(buf, &end);
	i = (size_t)(end - buf);
	secmem_zero(buf, n + 1);
	free(buf);
	if (i != n)
		return 0;
	if (isinf(d))
		return ERR_TOO_LARGE;
	*out = d;
	return 1;
}

static int lower_eq(const char *s, size_t n, const char *w)
{
	size_t i;

	if (strlen(w) != n)
		return 0;
	for (i = 0; i < n; i++)
		if ((s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]) != w[i])
			return 0;
	return 1;
}

static int all_of(const char *s, size_t n, const char *set)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == '\0' || strchr(set, s[i]) == NULL)
			return 0;
	return n > 0;
}

/*
 * A plain scalar that YAML 1.1, YAML 1.2 and TOML read differently (the one
 * list, docs/definitions.md): the reason, or NULL. Such a value would be
 * sealed as one thing and read back, or written elsewhere, as another.
 */
static const char *ambiguous(const char *s, size_t n)
{
	static const char *const words[] = {"yes", "no", "on", "off", "y", "n"};
	size_t i = 0, j;

	for (j = 0; j < sizeof(words) / sizeof(words[0]); j++)
		if (lower_eq(s, n, words[j]))
			return "a boolean in YAML 1.1, a string in YAML 1.2";
	if (eq(s, n, "~"))
		return "null in YAML, not a value in TOML";
	if (n > 0 && (s[0] == '-' || s[0] == '+'))
		i = 1;
	if (n - i > 2 && s[i] == '0' && strchr("oOxXbB", s[i + 1]) != NULL &&
	    all_of(s + i + 2, n - i - 2, "0123456789abcdefABCDEF_"))
		return "0o/0x/0b numbers differ between YAML 1.1, YAML 1.2 and TOML";
	if (!all_of(s + i, n - i, "0123456789_.:eE+-") || s[i] < '0' || s[i] > '9') {
		return NULL;
	}
	/* From here on the scalar looks like a number or a time. */
	if (memchr(s, ':', n) != NULL && memchr(s + i, '-', n - i) == NULL)
		return "sexagesimal (base 60) in YAML 1.1, a string in YAML 1.2, a time in TOML";
	if (memchr(s, '_', n) != NULL)
		return "digits with '_' are a number in YAML 1.1 and TOML, a string in YAML 1.2";
	if (s[i] == '0' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9' &&
	    memchr(s + i, '-', n - i) == NULL && memchr(s, ':', n) == NULL)
		return "a leading zero is octal in YAML 1.1, decimal in YAML 1.2, an error in TOML";
	for (j = i; j < n; j++) {
		if (s[j] != 'e' && s[j] != 'E')
			continue;
		/* YAML 1.1 floats need a '.' and a signed exponent: 1e3 is a string there. */
		if (memchr(s, '.', j) == NULL || j + 1 >= n || (s[j + 1] != '+' && s[j + 1] != '-'))
			return "an exponent without '.' or sign is a float in YAML 1.2, a string in "
			       "YAML 1.1";
	}
	return NULL;
}

/* Refuse an ambiguous plain scalar with file:line:col and the fix. */
static int refuse_ambiguous(struct yp *y, const char *s, size_t n, const yaml_mark_t *m)
{
	char shown[120], tmp[40];
	const char *why = ambiguous(s, n);
	size_t sn = n < sizeof(tmp) - 1 ? n : sizeof(tmp) - 1;

	if (why == NULL)
		return 0;
	memcpy(tmp, s, sn);
	tmp[sn] = '\0';
	return yerr(y, ERR_FORMAT, m, "'%s' is read differently by YAML 1.1, YAML 1.2 and TOML (%s): "
				     "quote it, or give a tag (!!str, !!int, !!timestamp)",
		    log_untrusted(shown, sizeof(shown), tmp, 32), why);
}

static int resolve_scalar(struct yp *y, struct toml_value *v)
{
	const char *s = (const char *)y->ev.data.scalar.value;
	const char *tag = (const char *)y->ev.data.scalar.tag;
	size_t n = y->ev.data.scalar.length;
	const yaml_mark_t *m = &y->ev.start_mark;
	int plain = y->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE, r, b;

	if (tag != NULL && strcmp(tag, "!") == 0) {
		tag = NULL;
		plain = 0;
	}
	if (tag != NULL) {
		if (strcmp(tag, TAG_STR) == 0) {
			plain = 0;
		} else if (strcmp(tag, TAG_INT) == 0) {
			if ((r = as_int(s, n, &v->u.i)) != 1)
				return yerr(y, ERR_FORMAT, m, r == 0 ? "not an integer (!!int)"
								     : "integer out of range");
			v->type = TOML_INTEGER;
			return 0;
		} else if (strcmp(tag, TAG_FLOAT) == 0) {
			if ((r = as_float(s, n, &v->u.f)) != 1)
				return r == ERR_ALLOC ? r
				       : yerr(y, ERR_FORMAT, m, r == 0 ? "not a float (!!float)"
								       : "float out of range");
			v->type = TOML_FLOAT;
			return 0;
		} else if (strcmp(tag, TAG_BOOL) == 0) {
			if ((b = as_bool(s, n)) < 0)
				return yerr(y, ERR_FORMAT, m, "not a boolean (!!bool)");
			v->type = TOML_BOOL;
			v->u.b = b;
			return 0;
		} else if (strcmp(tag, TAG_TIMESTAMP) == 0) {
			if ((r = toml_datetime_parse(y->doc, s, n, v)) != 0)
				return r == ERR_ALLOC ? r
				       : yerr(y, ERR_FORMAT, m,
					      "not an RFC 3339 date/time (!!timestamp)");
			return 0;
		} else if (strcmp(tag, TAG_NULL) == 0) {
			return yerr(y, ERR_FORMAT, m, "null values are not allowed");
		} else {
			char shown[120];
			return yerr(y, ERR_FORMAT, m, "unsupported tag '%s'",
				    log_untrusted(shown, sizeof(shown), tag, 64));
		}
	}
	if (plain) {
		int64_t i;
		double f;

		if ((r = refuse_ambiguous(y, s, n, m)) != 0)
			return r;
		if (is_null(s, n))
			return yerr(y, ERR_FORMAT, m, "null values are not allowed");
		if ((b = as_bool(s, n)) >= 0) {
			v->type = TOML_BOOL;
			v->u.b = b;
			return 0;
		}
		if ((r = as_int(s, n, &i)) == 1) {
			v->type = TOML_INTEGER;
			v->u.i = i;
			return 0;
		}
		if (r < 0)
			return yerr(y, ERR_FORMAT, m, "integer out of range");
		if ((r = as_float(s, n, &f)) == 1) {
			v->type = TOML_FLOAT;
			v->u.f = f;
			return 0;
		}
		if (r < 0)
			return r == ERR_ALLOC ? r : yerr(y, ERR_FORMAT, m, "float out of range");
		if (n >= 8 && s[0] >= '0' && s[0] <= '9') {
			if ((r = toml_datetime_parse(y->doc, s, n, v)) == 0)
				return 0;
			if (r == ERR_ALLOC)
				return r;
			err_clear();
		}
	}
	v->type = TOML_STRING;
	if ((v->u.s.ptr = toml_doc_strdup(y->doc, s, n)) == NULL)
		return ERR_ALLOC;
	v->u.s.len = n;
	return 0;
}

static int parse_node(struct yp *y, unsigned depth, struct toml_value *v);

/* The current event is MAPPING_START; read entries into t up to MAPPING_END. */
static int parse_mapping(struct yp *y, struct toml_table *t)
{
	struct toml_value val;
	yaml_mark_t km;
	char *key, shown[300], tmp[80];
	size_t klen;
	int r;

	for (;;) {
		if ((r = next(y)) != 0)
			return r;
		if (y->ev.type == YAML_MAPPING_END_EVENT)
			return 0;
		if (y->ev.type != YAML_SCALAR_EVENT)
			return yerr(y, ERR_FORMAT, &y->ev.start_mark, "mapping keys must be scalars");
		km = y->ev.start_mark;
		klen = y->ev.data.scalar.length;
		/* A plain key such as `on:` or `n:` is a boolean in YAML 1.1. */
		if (y->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    y->ev.data.scalar.tag == NULL &&
		    (r = refuse_ambiguous(y, (const char *)y->ev.data.scalar.value, klen, &km)) != 0)
			return r;
		if ((key = toml_doc_strdup(y->doc, y->ev.data.scalar.value, klen)) == NULL)
			return ERR_ALLOC;
		if ((r = next(y)) != 0 || (r = parse_node(y, toml_table_depth(t) + 1, &val)) != 0)
			return r;
		r = toml_table_add(y->doc, t, key, klen, (uint32_t)(km.line + 1),
				   (uint32_t)(km.column + 1), &val);
		if (r == ERR_EXISTS) {
			size_t sn = klen < sizeof(tmp) - 1 ? klen : sizeof(tmp) - 1;
			memcpy(tmp, key, sn);
			tmp[sn] = '\0';
			return yerr(y, ERR_FORMAT, &km, "duplicate key '%s'",
				    log_untrusted(shown, sizeof(shown), tmp, 64));
		}
		if (r != 0)
			return r;
	}
}

static int parse_node(struct yp *y, unsigned depth, struct toml_value *v)
{
	yaml_mark_t m = y->ev.start_mark;
	struct toml_table *t;
	struct toml_array *a;
	struct toml_value item;
	int r;

	memset(v, 0, sizeof(*v));
	v->line = (uint32_t)(m.line + 1);
	v->col = (uint32_t)(m.column + 1);
	switch (y->ev.type) {
	case YAML_SCALAR_EVENT:
		return resolve_scalar(y, v);
	case YAML_MAPPING_START_EVENT:
		if ((r = toml_doc_new_table(y->doc, TOML_TABLE_HEADER, depth, v->line, v->col, &t)) !=
		    0)
			return r == ERR_TOO_LARGE ? yerr(y, r, &m, "nesting deeper than %d levels",
							 LIMIT_NESTING)
						  : r;
		v->type = TOML_TABLE;
		v->u.t = t;
		return parse_mapping(y, t);
	case YAML_SEQUENCE_START_EVENT:
		if ((r = toml_doc_new_array(y->doc, depth, &a)) != 0)
			return r == ERR_TOO_LARGE ? yerr(y, r, &m, "nesting deeper than %d levels",
							 LIMIT_NESTING)
						  : r;
		v->type = TOML_ARRAY;
		v->u.a = a;
		for (;;) {
			if ((r = next(y)) != 0)
				return r;
			if (y->ev.type == YAML_SEQUENCE_END_EVENT)
				return 0;
			if ((r = parse_node(y, depth + 1, &item)) != 0 ||
			    (r = toml_array_add(y->doc, a, &item)) != 0)
				return r;
		}
	default:
		return yerr(y, ERR_FORMAT, &m, "unexpected YAML event");
	}
}

int yaml_def_parse(const uint8_t *text, size_t len, const char *name, unsigned flags,
		   struct toml_doc **out)
{
	struct yp y;
	int r, inited = 0;

	*out = NULL;
	memset(&y, 0, sizeof(y));
	y.name = name != NULL ? name : "<input>";
	if (len > LIMIT_DEFINITION) {
		r = err_set(ERR_TOO_LARGE, "%s: larger than %d bytes", y.name, LIMIT_DEFINITION);
		goto out;
	}
	if ((r = toml_doc_new(flags, &y.doc)) != 0)
		goto out;
	if (!yaml_parser_initialize(&y.parser)) {
		r = ERR_ALLOC;
		goto out;
	}
	inited = 1;
	yaml_parser_set_input_string(&y.parser, text, len);
	if ((r = next(&y)) != 0)
		goto out;
	if (y.ev.type != YAML_STREAM_START_EVENT) {
		r = yerr(&y, ERR_FORMAT, &y.ev.start_mark, "expected a YAML stream");
		goto out;
	}
	if ((r = next(&y)) != 0)
		goto out;
	if (y.ev.type == YAML_DOCUMENT_START_EVENT) {
		if ((r = next(&y)) != 0)
			goto out;
		if (y.ev.type != YAML_MAPPING_START_EVENT) {
			r = yerr(&y, ERR_FORMAT, &y.ev.start_mark, "the top level must be a mapping");
			goto out;
		}
		if ((r = parse_mapping(&y, toml_doc_root(y.doc))) != 0 || (r = next(&y)) != 0)
			goto out;
		if (y.ev.type != YAML_DOCUMENT_END_EVENT) {
			r = yerr(&y, ERR_FORMAT, &y.ev.start_mark, "expected the end of the document");
			goto out;
		}
		if ((r = next(&y)) != 0)
			goto out;
	}
	if (y.ev.type != YAML_STREAM_END_EVENT) {
		r = yerr(&y, ERR_FORMAT, &y.ev.start_mark, "only one YAML document is allowed");
		goto out;
	}
	*out = y.doc;
	y.doc = NULL;
	r = 0;
out:
	if (r == ERR_ALLOC)
		err_set(ERR_ALLOC, "%s: out of memory", y.name);
	drop_event(&y);
	if (inited) {
		/* libyaml's buffers held (decoded) definition text. */
		if (y.parser.buffer.start != NULL)
			secmem_zero(y.parser.buffer.start,
				    (size_t)(y.parser.buffer.end - y.parser.buffer.start));
		if (y.parser.raw_buffer.start != NULL)
			secmem_zero(y.parser.raw_buffer.start,
				    (size_t)(y.parser.raw_buffer.end - y.parser.raw_buffer.start));
		yaml_parser_delete(&y.parser);
	}
	toml_free(y.doc);
	return r;
}

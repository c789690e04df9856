// SPDX-License-Identifier: ISC
#include "output.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bounds.h"
#include "buf.h"
#include "envname.h"
#include "log.h"
#include "secmem.h"

/* buf_put of nothing is a no-op here (common/buf.c would compute NULL + 0 on
 * a fresh buffer, which UBSan reports). */
static int put_bytes(struct buf *b, const void *p, size_t n)
{
	return n == 0 ? 0 : buf_put(b, p, n);
}

int output_format_parse(const char *s, enum output_format *out)
{
	static const struct {
		const char *name;
		enum output_format f;
	} tab[] = {
	    {"env", OUTPUT_ENV},
	    {"dotenv", OUTPUT_DOTENV},
	    {"json", OUTPUT_JSON},
	    {"raw", OUTPUT_RAW},
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strcmp(s, tab[i].name) == 0) {
			*out = tab[i].f;
			return 0;
		}
	}
	return err_set(ERR_INVALID_ARG, "unknown format '%.32s' (env, dotenv, json)", s);
}

static int is_alpha_(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int output_env_name_ok(const char *name, size_t len)
{
	return envname_ok(name, len);
}

int output_env_name_refused(const char *name, size_t len)
{
	return envname_refused(name, len);
}

static int is_text_type(enum secret_type t)
{
	return t == SECRET_STRING || t == SECRET_DATETIME || t == SECRET_LOCAL_DATETIME ||
	       t == SECRET_LOCAL_DATE || t == SECRET_LOCAL_TIME;
}

static const char *safe_key(const struct secret *s, char *tmp, size_t tmplen)
{
	return log_untrusted(tmp, tmplen, s->key, s->key_len < 100 ? s->key_len : 100);
}

/* Is prefix+key one of the names the user allowed with --allow-env? */
static int allowed(const char *prefix, size_t plen, const struct secret *s,
                   const char *const *allow)
{
	size_t i, l;

	for (i = 0; allow != NULL && allow[i] != NULL; i++) {
		l = strlen(allow[i]);
		if (l == plen + s->key_len && (plen == 0 || memcmp(allow[i], prefix, plen) == 0) &&
		    memcmp(allow[i] + plen, s->key, s->key_len) == 0)
			return 1;
	}
	return 0;
}

/* Is prefix+key on the refused list? */
static int refused(const char *prefix, size_t plen, const struct secret *s)
{
	char name[LIMIT_KEY_NAME + 256];

	if (plen + s->key_len >= sizeof(name))
		return 0; /* longer than any refused name */
	if (plen > 0)
		memcpy(name, prefix, plen);
	memcpy(name + plen, s->key, s->key_len);
	return output_env_name_refused(name, plen + s->key_len);
}

int output_check_env(const struct secret *s, const char *prefix, const char *const *allow)
{
	size_t plen = prefix != NULL ? strlen(prefix) : 0;
	char tmp[512];
	int ok;

	if (plen > 0 && !output_env_name_ok(prefix, plen))
		return err_set(ERR_FORMAT, "--env-prefix '%s' is not a valid environment name",
		               log_untrusted(tmp, sizeof(tmp), prefix, 100));
	/* prefix + key as one name: the key may start with a digit after a prefix. */
	if (plen > 0) {
		size_t i;
		ok = 1;
		for (i = 0; i < s->key_len; i++)
			if (!is_alpha_(s->key[i]) && !is_digit(s->key[i]))
				ok = 0;
	} else {
		ok = output_env_name_ok(s->key, s->key_len);
	}
	if (!ok || memchr(s->key, '\0', s->key_len) != NULL)
		return err_set(
		    ERR_FORMAT,
		    "secret '%s' is not a valid environment name ([A-Za-z_][A-Za-z0-9_]*)",
		    safe_key(s, tmp, sizeof(tmp)));
	if (is_text_type(s->type) && memchr(s->v.str.ptr, '\0', s->v.str.len) != NULL)
		return err_set(ERR_FORMAT, "the value of '%s' holds a NUL byte",
		               safe_key(s, tmp, sizeof(tmp)));
	if (refused(prefix, plen, s) && !allowed(prefix, plen, s, allow))
		return err_set(ERR_PERMISSION,
		               "secret '%s' would set %s%s, a variable that changes how programs "
		               "load or run: refused (give --env-prefix, or --allow-env %s%s if "
		               "it is meant)",
		               safe_key(s, tmp, sizeof(tmp)), plen > 0 ? prefix : "", tmp,
		               plen > 0 ? prefix : "", tmp);
	return 0;
}

void output_float_text(double f, char *out, size_t outlen)
{
	int p;
	size_t i;
	int digits_only = 1;

	if (isnan(f)) {
		snprintf(out, outlen, "nan");
		return;
	}
	if (isinf(f)) {
		snprintf(out, outlen, "%s", f < 0 ? "-inf" : "inf");
		return;
	}
	for (p = 1; p <= 17; p++) {
		snprintf(out, outlen, "%.*g", p, f);
		if (strtod(out, NULL) == f)
			break;
	}
	for (i = 0; out[i] != '\0'; i++)
		if (!is_digit(out[i]) && out[i] != '-')
			digits_only = 0;
	if (digits_only && i + 3 <= outlen)
		memcpy(out + i, ".0", 3);
}

int output_value_text(const struct secret *s, struct buf *out)
{
	char tmp[64];

	switch (s->type) {
	case SECRET_STRING:
	case SECRET_DATETIME:
	case SECRET_LOCAL_DATETIME:
	case SECRET_LOCAL_DATE:
	case SECRET_LOCAL_TIME:
		return put_bytes(out, s->v.str.ptr, s->v.str.len);
	case SECRET_INTEGER:
		snprintf(tmp, sizeof(tmp), "%" PRId64, s->v.i);
		break;
	case SECRET_FLOAT:
		output_float_text(s->v.f, tmp, sizeof(tmp));
		break;
	case SECRET_BOOL:
		snprintf(tmp, sizeof(tmp), "%s", s->v.b ? "true" : "false");
		break;
	default:
		return err_set(ERR_FORMAT, "secret of unknown type %d", (int)s->type);
	}
	return put_bytes(out, tmp, strlen(tmp));
}

/* The value text in a scratch buffer (wiped by buf_free). */
static int value_buf(const struct secret *s, struct buf **bp)
{
	struct buf *b;
	int r;

	*bp = NULL;
	if ((b = buf_new(0)) == NULL)
		return ERR_ALLOC;
	if ((r = output_value_text(s, b)) != 0) {
		buf_free(b);
		return r;
	}
	*bp = b;
	return 0;
}

static int put_str(struct buf *out, const char *s)
{
	return put_bytes(out, s, strlen(s));
}

static int put_name(struct buf *out, const char *prefix, const struct secret *s)
{
	int r;

	if (prefix != NULL && (r = put_str(out, prefix)) != 0)
		return r;
	return put_bytes(out, s->key, s->key_len);
}

static int render_env(const struct secret *s, const char *prefix, struct buf *out)
{
	struct buf *v = NULL;
	const uint8_t *p;
	size_t i, n, start;
	int r;

	if ((r = value_buf(s, &v)) != 0)
		goto out;
	p = buf_ptr(v);
	n = buf_len(v);
	if ((r = put_str(out, "export ")) != 0 || (r = put_name(out, prefix, s)) != 0 ||
	    (r = put_str(out, "='")) != 0)
		goto out;
	for (start = 0, i = 0; i < n; i++) {
		if (p[i] != '\'')
			continue;
		if ((r = put_bytes(out, p + start, i - start)) != 0 ||
		    (r = put_str(out, "'\\''")) != 0)
			goto out;
		start = i + 1;
	}
	if ((r = put_bytes(out, p + start, n - start)) != 0 || (r = put_str(out, "'\n")) != 0)
		goto out;
out:
	buf_free(v);
	return r;
}

static int render_dotenv(const struct secret *s, const char *prefix, struct buf *out)
{
	struct buf *v = NULL;
	const uint8_t *p;
	size_t i, n;
	int r;

	if ((r = value_buf(s, &v)) != 0)
		goto out;
	p = buf_ptr(v);
	n = buf_len(v);
	if ((r = put_name(out, prefix, s)) != 0 || (r = put_str(out, "=\"")) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		const char *esc = NULL;
		switch (p[i]) {
		case '\\':
			esc = "\\\\";
			break;
		case '"':
			esc = "\\\"";
			break;
		case '$':
			esc = "\\$";
			break;
		case '`':
			esc = "\\`";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		default:
			break;
		}
		r = esc != NULL ? put_str(out, esc) : buf_put_u8(out, p[i]);
		if (r != 0)
			goto out;
	}
	r = put_str(out, "\"\n");
out:
	buf_free(v);
	return r;
}

/*
 * jansson copies our strings into its own heap blocks: make every block it
 * frees wiped first. The size is kept in a header in front of the block.
 */
#define JSON_HDR 16

static void *json_wipe_malloc(size_t n)
{
	unsigned char *p;

	if (n > SIZE_MAX - JSON_HDR || (p = malloc(n + JSON_HDR)) == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + JSON_HDR;
}

static void json_wipe_free(void *q)
{
	unsigned char *p;
	size_t n;

	if (q == NULL)
		return;
	p = (unsigned char *)q - JSON_HDR;
	memcpy(&n, p, sizeof(n));
	secmem_zero(p, n + JSON_HDR);
	free(p);
}

static pthread_once_t json_once = PTHREAD_ONCE_INIT;

static void json_init(void)
{
	json_set_alloc_funcs(json_wipe_malloc, json_wipe_free);
}

/* A JSON string literal for len bytes of UTF-8 at p. */
static int put_json_string(struct buf *out, const char *p, size_t len, const struct secret *s,
                           const char *what)
{
	json_t *j;
	char *txt;
	char tmp[512];
	int r;

	if ((j = json_stringn(p, len)) == NULL)
		return err_set(ERR_FORMAT, "the %s of '%s' is not valid UTF-8 (json output)", what,
		               safe_key(s, tmp, sizeof(tmp)));
	txt = json_dumps(j, JSON_ENCODE_ANY);
	json_decref(j);
	if (txt == NULL)
		return ERR_ALLOC;
	r = put_str(out, txt);
	json_wipe_free(txt);
	return r;
}

static int render_json_item(const struct secret *s, struct buf *out)
{
	char tmp[64];
	int r;

	if ((r = put_str(out, "  ")) != 0 ||
	    (r = put_json_string(out, s->key, s->key_len, s, "name")) != 0 ||
	    (r = put_str(out, ": ")) != 0)
		return r;
	switch (s->type) {
	case SECRET_STRING:
	case SECRET_DATETIME:
	case SECRET_LOCAL_DATETIME:
	case SECRET_LOCAL_DATE:
	case SECRET_LOCAL_TIME:
		return put_json_string(out, s->v.str.ptr, s->v.str.len, s, "value");
	case SECRET_INTEGER:
		snprintf(tmp, sizeof(tmp), "%" PRId64, s->v.i);
		return put_str(out, tmp);
	case SECRET_FLOAT:
		output_float_text(s->v.f, tmp, sizeof(tmp));
		if (!isfinite(s->v.f)) {
			if ((r = put_str(out, "\"")) != 0 || (r = put_str(out, tmp)) != 0)
				return r;
			return put_str(out, "\"");
		}
		return put_str(out, tmp);
	case SECRET_BOOL:
		return put_str(out, s->v.b ? "true" : "false");
	default:
		return err_set(ERR_FORMAT, "secret of unknown type %d", (int)s->type);
	}
}

static int render_json(const struct secret *items, size_t n, struct buf *out)
{
	size_t i;
	int r;

	if (pthread_once(&json_once, json_init) != 0)
		return err_set(ERR_INTERNAL, "pthread_once");
	if (n == 0)
		return put_str(out, "{}\n");
	if ((r = put_str(out, "{\n")) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if ((r = render_json_item(&items[i], out)) != 0 ||
		    (r = put_str(out, i + 1 < n ? ",\n" : "\n")) != 0)
			return r;
	}
	return put_str(out, "}\n");
}

int output_render(enum output_format format, const struct secret *items, size_t n,
                  const char *prefix, const char *const *allow, struct buf *out)
{
	struct buf *tmp = NULL;
	size_t i;
	int r;

	if ((tmp = buf_new(buf_max(out))) == NULL)
		return ERR_ALLOC;
	switch (format) {
	case OUTPUT_ENV:
	case OUTPUT_DOTENV:
		for (i = 0; i < n; i++)
			if ((r = output_check_env(&items[i], prefix, allow)) != 0)
				goto out;
		for (i = 0; i < n; i++) {
			r = format == OUTPUT_ENV ? render_env(&items[i], prefix, tmp)
			                         : render_dotenv(&items[i], prefix, tmp);
			if (r != 0)
				goto out;
		}
		break;
	case OUTPUT_JSON:
		if ((r = render_json(items, n, tmp)) != 0)
			goto out;
		break;
	case OUTPUT_RAW:
		if (n != 1) {
			r = err_set(ERR_INVALID_ARG, "raw output needs exactly one secret");
			goto out;
		}
		if ((r = output_value_text(&items[0], tmp)) != 0)
			goto out;
		break;
	default:
		r = err_set(ERR_INVALID_ARG, "unknown output format %d", (int)format);
		goto out;
	}
	r = put_bytes(out, buf_ptr(tmp), buf_len(tmp));
out:
	buf_free(tmp);
	return r;
}

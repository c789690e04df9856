// SPDX-License-Identifier: ISC
#include "clicfg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "bounds.h"
#include "buf.h"
#include "file.h"
#include "log.h"

void clicfg_free(struct clicfg *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n_servers; i++)
		free(c->servers[i]);
	free(c->servers);
	for (i = 0; i < c->n_server_keys; i++) {
		free(c->server_keys[i]);
		free(c->server_keys_2 != NULL ? c->server_keys_2[i] : NULL);
	}
	free(c->server_keys);
	free(c->server_keys_2);
	free(c->key);
	free(c->pkcs11_module);
	free(c->pin_source);
	free(c->tpm2);
	free(c);
}

int clicfg_parse_timeout(const char *s, unsigned *ms)
{
	unsigned long v;
	unsigned long mult = 1000;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return ERR_FORMAT;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0)
		return ERR_FORMAT;
	if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "s") != 0 && *end != '\0')
		return ERR_FORMAT;
	if (v == 0 || v > CLICFG_MAX_TIMEOUT_MS / mult)
		return ERR_FORMAT;
	*ms = (unsigned)(v * mult);
	return 0;
}

struct parser {
	yaml_parser_t yp;
	const char *name;
	struct clicfg *c;
};

static int where(struct parser *p, const yaml_event_t *ev, const char *fmt, ...) PRINTF_LIKE(3, 4);

static int where(struct parser *p, const yaml_event_t *ev, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(ERR_FORMAT, "%s:%zu:%zu: %s", p->name, (size_t)ev->start_mark.line + 1,
	               (size_t)ev->start_mark.column + 1, msg);
}

static int next(struct parser *p, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&p->yp, ev)) {
		return err_set(ERR_FORMAT, "%s:%zu:%zu: %s", p->name,
		               (size_t)p->yp.problem_mark.line + 1,
		               (size_t)p->yp.problem_mark.column + 1,
		               p->yp.problem != NULL ? p->yp.problem : "YAML syntax error");
	}
	if (ev->type == YAML_ALIAS_EVENT) {
		yaml_event_delete(ev);
		return err_set(ERR_FORMAT, "%s: anchors and aliases are not allowed", p->name);
	}
	return 0;
}

static int scalar_copy(struct parser *p, const yaml_event_t *ev, char **out)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;

	*out = NULL;
	if (len > CLICFG_MAX_SCALAR)
		return where(p, ev, "value longer than 4096 bytes");
	if (len == 0 || memchr(v, '\0', len) != NULL)
		return where(p, ev, "empty value or NUL byte");
	if ((*out = strndup(v, len)) == NULL)
		return ERR_ALLOC;
	return 0;
}

/* Room for one more entry at the end of *list (n entries). ERR_ALLOC. */
static int grow(char ***list, size_t n)
{
	char **grown = realloc(*list, (n + 1) * sizeof(char *));

	if (grown == NULL)
		return ERR_ALLOC;
	*list = grown;
	return 0;
}

/* A scalar or a sequence of scalars, appended to *list. */
static int string_list(struct parser *p, yaml_event_t *first, char ***list, size_t *n, size_t max)
{
	yaml_event_t ev;
	char *s = NULL;
	int in_seq = first->type == YAML_SEQUENCE_START_EVENT, r = 0, have = 0;

	if (*n != 0)
		return where(p, first, "repeated key");
	if (!in_seq && first->type != YAML_SCALAR_EVENT)
		return where(p, first, "expected a string or a list of strings");
	for (;;) {
		if (in_seq) {
			if ((r = next(p, &ev)) != 0)
				return r;
			have = 1;
			if (ev.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&ev);
				break;
			}
		} else {
			ev = *first;
		}
		if (ev.type != YAML_SCALAR_EVENT) {
			r = where(p, &ev, "expected a string in the list");
			goto bad;
		}
		if (*n >= max) {
			r = where(p, &ev, "too many entries (at most 64)");
			goto bad;
		}
		if ((r = scalar_copy(p, &ev, &s)) != 0)
			goto bad;
		if ((r = grow(list, *n)) != 0) {
			free(s);
			goto bad;
		}
		(*list)[(*n)++] = s;
		s = NULL;
		if (have)
			yaml_event_delete(&ev);
		if (!in_seq)
			break;
	}
	return 0;
bad:
	if (have)
		yaml_event_delete(&ev);
	return r;
}

/*
 * server-key: a path, or a list whose entries are a path or a list of two
 * paths (new first). Every entry gets a slot in server_keys_2 (NULL: one pin).
 */
static int server_key_list(struct parser *p, yaml_event_t *first)
{
	struct clicfg *c = p->c;
	yaml_event_t ev, sub;
	char *pins[2] = {NULL, NULL};
	size_t np;
	int r = 0, have = 0, have_sub = 0;

	if (c->n_server_keys != 0)
		return where(p, first, "repeated key");
	if (first->type == YAML_SCALAR_EVENT) {
		if ((r = string_list(p, first, &c->server_keys, &c->n_server_keys, 1)) != 0)
			return r;
		if ((c->server_keys_2 = calloc(1, sizeof(char *))) == NULL)
			return ERR_ALLOC;
		return 0;
	}
	if (first->type != YAML_SEQUENCE_START_EVENT)
		return where(p, first, "expected a path or a list of paths");
	for (;;) {
		if ((r = next(p, &ev)) != 0)
			return r;
		have = 1;
		if (ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		if (c->n_server_keys >= CLICFG_MAX_SERVERS) {
			r = where(p, &ev, "too many entries (at most 64)");
			goto bad;
		}
		np = 0;
		if (ev.type == YAML_SCALAR_EVENT) {
			if ((r = scalar_copy(p, &ev, &pins[np++])) != 0)
				goto bad;
		} else if (ev.type == YAML_SEQUENCE_START_EVENT) {
			for (;;) {
				if ((r = next(p, &sub)) != 0)
					goto bad;
				have_sub = 1;
				if (sub.type == YAML_SEQUENCE_END_EVENT)
					break;
				if (sub.type != YAML_SCALAR_EVENT || np == 2) {
					r = where(
					    p, &sub,
					    "a server's pins are one or two paths (new first)");
					goto bad;
				}
				if ((r = scalar_copy(p, &sub, &pins[np++])) != 0)
					goto bad;
				yaml_event_delete(&sub);
				have_sub = 0;
			}
			yaml_event_delete(&sub);
			have_sub = 0;
			if (np == 0) {
				r = where(p, &ev, "an empty list of pins");
				goto bad;
			}
		} else {
			r = where(p, &ev, "expected a path, or a list of two paths");
			goto bad;
		}
		if ((r = grow(&c->server_keys, c->n_server_keys)) != 0 ||
		    (r = grow(&c->server_keys_2, c->n_server_keys)) != 0)
			goto bad;
		c->server_keys[c->n_server_keys] = pins[0];
		c->server_keys_2[c->n_server_keys] = pins[1];
		c->n_server_keys++;
		pins[0] = pins[1] = NULL;
		yaml_event_delete(&ev);
		have = 0;
	}
	yaml_event_delete(&ev);
	return 0;
bad:
	free(pins[0]);
	free(pins[1]);
	if (have_sub)
		yaml_event_delete(&sub);
	if (have)
		yaml_event_delete(&ev);
	return r;
}

static int one_string(struct parser *p, const yaml_event_t *ev, char **dst)
{
	if (*dst != NULL)
		return where(p, ev, "repeated key");
	if (ev->type != YAML_SCALAR_EVENT)
		return where(p, ev, "expected a string");
	return scalar_copy(p, ev, dst);
}

static int pair(struct parser *p, const char *key, yaml_event_t *val, int *timeout_seen)
{
	struct clicfg *c = p->c;
	char *t = NULL, tmp[128];
	int r;

	if (strcmp(key, "servers") == 0)
		return string_list(p, val, &c->servers, &c->n_servers, CLICFG_MAX_SERVERS);
	if (strcmp(key, "server-key") == 0)
		return server_key_list(p, val);
	if (strcmp(key, "key") == 0)
		return one_string(p, val, &c->key);
	if (strcmp(key, "pkcs11-module") == 0)
		return one_string(p, val, &c->pkcs11_module);
	if (strcmp(key, "pin-source") == 0)
		return one_string(p, val, &c->pin_source);
	if (strcmp(key, "tpm2") == 0)
		return one_string(p, val, &c->tpm2);
	if (strcmp(key, "timeout") == 0) {
		if (*timeout_seen)
			return where(p, val, "repeated key");
		*timeout_seen = 1;
		if ((r = one_string(p, val, &t)) != 0)
			return r;
		r = clicfg_parse_timeout(t, &c->timeout_ms);
		free(t);
		if (r != 0)
			return where(p, val, "timeout must be seconds (1-3600), \"Ns\" or \"Nms\"");
		return 0;
	}
	return where(p, val, "unknown key '%s'", log_untrusted(tmp, sizeof(tmp), key, 64));
}

int clicfg_parse(const uint8_t *data, size_t len, const char *name, struct clicfg **out)
{
	struct parser p;
	yaml_event_t ev, val;
	char *key = NULL;
	int r, have_ev = 0, have_val = 0, timeout_seen = 0, done = 0;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	p.name = name;
	if (len > LIMIT_CONFIG)
		return err_set(ERR_TOO_LARGE, "%s: larger than %d bytes", name, LIMIT_CONFIG);
	if (!yaml_parser_initialize(&p.yp))
		return ERR_ALLOC;
	yaml_parser_set_input_string(&p.yp, data, len);
	if ((p.c = calloc(1, sizeof(*p.c))) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	/* stream-start, then an empty stream or one document holding a mapping. */
	if ((r = next(&p, &ev)) != 0)
		goto out;
	yaml_event_delete(&ev);
	if ((r = next(&p, &ev)) != 0)
		goto out;
	have_ev = 1;
	if (ev.type == YAML_STREAM_END_EVENT) {
		done = 1;
	} else if (ev.type != YAML_DOCUMENT_START_EVENT) {
		r = where(&p, &ev, "expected a document");
		goto out;
	}
	if (!done) {
		yaml_event_delete(&ev);
		have_ev = 0;
		if ((r = next(&p, &ev)) != 0)
			goto out;
		have_ev = 1;
		if (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.length == 0) {
			/* an empty document (comments only) */
		} else if (ev.type != YAML_MAPPING_START_EVENT) {
			r = where(&p, &ev, "the config must be a mapping of keys");
			goto out;
		} else {
			for (;;) {
				yaml_event_delete(&ev);
				have_ev = 0;
				if ((r = next(&p, &ev)) != 0)
					goto out;
				have_ev = 1;
				if (ev.type == YAML_MAPPING_END_EVENT)
					break;
				if (ev.type != YAML_SCALAR_EVENT) {
					r = where(&p, &ev, "expected a key");
					goto out;
				}
				free(key);
				if ((key =
				         strndup((const char *)ev.data.scalar.value,
				                 ev.data.scalar.length < 64 ? ev.data.scalar.length
				                                            : 64)) == NULL) {
					r = ERR_ALLOC;
					goto out;
				}
				if ((r = next(&p, &val)) != 0)
					goto out;
				have_val = 1;
				if ((r = pair(&p, key, &val, &timeout_seen)) != 0)
					goto out;
				yaml_event_delete(&val);
				have_val = 0;
			}
		}
		yaml_event_delete(&ev);
		have_ev = 0;
		if ((r = next(&p, &ev)) != 0)
			goto out;
		have_ev = 1;
		if (ev.type != YAML_DOCUMENT_END_EVENT) {
			r = where(&p, &ev, "expected the end of the document");
			goto out;
		}
		yaml_event_delete(&ev);
		have_ev = 0;
		if ((r = next(&p, &ev)) != 0)
			goto out;
		have_ev = 1;
		if (ev.type != YAML_STREAM_END_EVENT) {
			r = where(&p, &ev, "only one YAML document is allowed");
			goto out;
		}
	}
	*out = p.c;
	p.c = NULL;
	r = 0;
out:
	if (have_ev)
		yaml_event_delete(&ev);
	if (have_val)
		yaml_event_delete(&val);
	free(key);
	clicfg_free(p.c);
	yaml_parser_delete(&p.yp);
	return r;
}

int clicfg_load(const char *path, struct clicfg **out)
{
	struct buf *b = NULL;
	int r;

	*out = NULL;
	if ((r = file_read_all(path, LIMIT_CONFIG, &b)) != 0)
		return r;
	r = clicfg_parse(buf_ptr(b), buf_len(b), path, out);
	buf_free(b);
	return r;
}

// SPDX-License-Identifier: ISC
#include "credpolicy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bounds.h"
#include "buf.h"
#include "file.h"
#include "log.h"

struct rule {
	char *pattern;
	char **names;
	size_t n;
};

struct credpolicy {
	struct rule *rules;
	size_t n;
};

/* Locale-free character classes: the peer name is attacker-chosen bytes. */
static int is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_name_char(unsigned char c)
{
	return is_alnum(c) || c == '_' || c == '.' || c == '@' || c == ':' || c == '+' || c == '-';
}

static int is_unit_char(unsigned char c)
{
	return is_alnum(c) || c == '_' || c == '.' || c == '@' || c == ':' || c == '-' || c == '\\';
}

static int has_dotdot(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++)
		if (s[i] == '.' && s[i + 1] == '.')
			return 1;
	return 0;
}

static int name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > CREDPOLICY_NAME_MAX || !(is_alnum((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (i = 0; i < len; i++)
		if (!is_name_char((unsigned char)s[i]))
			return 0;
	return !has_dotdot(s, len);
}

static int unit_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > CREDPOLICY_UNIT_MAX || s[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (!is_unit_char((unsigned char)s[i]))
			return 0;
	return !has_dotdot(s, len);
}

int credpolicy_name_ok(const char *s)
{
	return name_ok(s, strlen(s));
}

int credpolicy_unit_ok(const char *s)
{
	return unit_ok(s, strlen(s));
}

static int malformed(const char *why, const uint8_t *p, size_t len)
{
	char shown[CREDPOLICY_UNIT_MAX + CREDPOLICY_NAME_MAX + 64], esc[420];
	size_t i, n = len < sizeof(shown) - 1 ? len : sizeof(shown) - 1;

	/* NULs (the abstract marker among them) shown as '@', as ss(8) does. */
	for (i = 0; i < n; i++)
		shown[i] = p[i] == '\0' ? '@' : (char)p[i];
	shown[n] = '\0';
	return err_set(ERR_FORMAT, "peer name %s: %s", log_untrusted(esc, sizeof(esc), shown, 100),
		       why);
}

int credpolicy_peer_parse(const void *sun_path, size_t len, struct credpeer *out)
{
	static const char unit_tag[] = "/unit/";
	const uint8_t *p = sun_path;
	const char *s;
	const uint8_t *slash;
	size_t i, n, ulen, nlen;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return err_set(ERR_FORMAT, "peer name: none (an unbound socket)");
	if (p[0] != '\0')
		return malformed("not an abstract name", p, len);
	s = (const char *)p + 1;
	n = len - 1;
	if (memchr(s, '\0', n) != NULL)
		return malformed("a NUL byte inside the name", p, len);
	for (i = 0; i < n && ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')); i++)
		;
	if (i == 0 || i > CREDPOLICY_RANDOM_MAX)
		return malformed("expected 1 to 16 hex digits first", p, len);
	s += i;
	n -= i;
	if (n < sizeof(unit_tag) - 1 || memcmp(s, unit_tag, sizeof(unit_tag) - 1) != 0)
		return malformed("expected /unit/ after the random part", p, len);
	s += sizeof(unit_tag) - 1;
	n -= sizeof(unit_tag) - 1;
	if ((slash = memchr(s, '/', n)) == NULL)
		return malformed("expected /unit/UNIT/NAME", p, len);
	ulen = (size_t)((const char *)slash - s);
	nlen = n - ulen - 1;
	if (!unit_ok(s, ulen))
		return malformed("not a valid unit name", p, len);
	if (!name_ok(s + ulen + 1, nlen))
		return malformed("not a valid credential name (one more '/', '..', or a "
				 "character outside [A-Za-z0-9_.@:+-])",
				 p, len);
	memcpy(out->unit, s, ulen);
	memcpy(out->name, s + ulen + 1, nlen);
	return 0;
}

/* ---- the policy ---- */

void credpolicy_free(struct credpolicy *p)
{
	size_t i, j;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++) {
		for (j = 0; j < p->rules[i].n; j++)
			free(p->rules[i].names[j]);
		free(p->rules[i].names);
		free(p->rules[i].pattern);
	}
	free(p->rules);
	free(p);
}

size_t credpolicy_rules(const struct credpolicy *p)
{
	return p->n;
}

/*
 * '*' (any run, also empty) and '?' (one character); everything else,
 * backslash included, matches itself. Backtracks only to the last '*', so
 * the time is at most len(p) * len(s).
 */
static int glob_match(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s != '\0') {
		if (*p == '*') {
			star = p++;
			resume = s;
		} else if (*p == '?' || *p == *s) {
			p++;
			s++;
		} else if (star != NULL) {
			p = star + 1;
			s = ++resume;
		} else {
			return 0;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

int credpolicy_allows(const struct credpolicy *p, const char *unit, const char *name)
{
	size_t i, j;

	for (i = 0; i < p->n; i++) {
		if (!glob_match(p->rules[i].pattern, unit))
			continue;
		for (j = 0; j < p->rules[i].n; j++)
			if (strcmp(p->rules[i].names[j], name) == 0)
				return 1;
	}
	return 0;
}

static int pattern_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > CREDPOLICY_UNIT_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!is_unit_char(c) && c != '*' && c != '?')
			return 0;
	}
	return 1;
}

/* A NUL-terminated copy of n bytes that need not be NUL-terminated (strndup
 * may look past them for a NUL). NULL on out of memory. */
static char *dup_span(const char *p, size_t n)
{
	char *d = malloc(n + 1);

	if (d != NULL) {
		memcpy(d, p, n);
		d[n] = '\0';
	}
	return d;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* One rule line (no newline, no comment): append it to p. */
static int parse_rule(struct credpolicy *p, const char *line, size_t len, const char *file,
		      size_t lineno)
{
	struct rule r = {0};
	struct rule *grown;
	char **names;
	size_t i = 0, start;
	int st;

	while (i < len) {
		while (i < len && is_blank(line[i]))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && !is_blank(line[i]))
			i++;
		if (r.pattern == NULL) {
			if (!pattern_ok(line + start, i - start)) {
				st = err_set(ERR_FORMAT, "%s:%zu: not a unit name or pattern", file,
					     lineno);
				goto bad;
			}
			if ((r.pattern = dup_span(line + start, i - start)) == NULL) {
				st = ERR_ALLOC;
				goto bad;
			}
			continue;
		}
		if (!name_ok(line + start, i - start)) {
			st = err_set(ERR_FORMAT,
				     "%s:%zu: not a credential name (allowed: [A-Za-z0-9_] first, "
				     "then also [.@:+-]; no '..')",
				     file, lineno);
			goto bad;
		}
		if (r.n >= CREDPOLICY_MAX_NAMES) {
			st = err_set(ERR_TOO_LARGE, "%s:%zu: more than %d names", file, lineno,
				     CREDPOLICY_MAX_NAMES);
			goto bad;
		}
		if ((names = realloc(r.names, (r.n + 1) * sizeof(*names))) == NULL) {
			st = ERR_ALLOC;
			goto bad;
		}
		r.names = names;
		if ((r.names[r.n] = dup_span(line + start, i - start)) == NULL) {
			st = ERR_ALLOC;
			goto bad;
		}
		r.n++;
	}
	if (r.n == 0) {
		st = err_set(ERR_FORMAT, "%s:%zu: expected UNIT-PATTERN NAME [NAME...]", file, lineno);
		goto bad;
	}
	if (p->n >= CREDPOLICY_MAX_RULES) {
		st = err_set(ERR_TOO_LARGE, "%s: more than %d rules", file, CREDPOLICY_MAX_RULES);
		goto bad;
	}
	if ((grown = realloc(p->rules, (p->n + 1) * sizeof(*grown))) == NULL) {
		st = ERR_ALLOC;
		goto bad;
	}
	p->rules = grown;
	p->rules[p->n++] = r;
	return 0;
bad:
	for (i = 0; i < r.n; i++)
		free(r.names[i]);
	free(r.names);
	free(r.pattern);
	return st;
}

int credpolicy_parse(const uint8_t *text, size_t len, const char *file, struct credpolicy **out)
{
	struct credpolicy *p;
	const char *s = (const char *)text, *nl;
	size_t off = 0, lineno = 0, llen, i;
	int r;

	*out = NULL;
	if (len > LIMIT_CONFIG)
		return err_set(ERR_TOO_LARGE, "%s: larger than %d bytes", file, LIMIT_CONFIG);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return ERR_ALLOC;
	while (off < len) {
		lineno++;
		nl = memchr(s + off, '\n', len - off);
		llen = nl != NULL ? (size_t)(nl - (s + off)) : len - off;
		if (llen > CREDPOLICY_MAX_LINE) {
			r = err_set(ERR_TOO_LARGE, "%s:%zu: line longer than %d bytes", file, lineno,
				    CREDPOLICY_MAX_LINE);
			goto bad;
		}
		for (i = 0; i < llen; i++) {
			unsigned char c = (unsigned char)s[off + i];
			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				r = err_set(ERR_FORMAT, "%s:%zu: control character", file, lineno);
				goto bad;
			}
		}
		for (i = 0; i < llen && is_blank(s[off + i]); i++)
			;
		if (i < llen && s[off + i] != '#' &&
		    (r = parse_rule(p, s + off + i, llen - i, file, lineno)) != 0)
			goto bad;
		off += llen + (nl != NULL);
	}
	*out = p;
	return 0;
bad:
	credpolicy_free(p);
	return r;
}

int credpolicy_load(const char *path, struct credpolicy **out)
{
	struct buf *b = NULL;
	struct stat st;
	int r;

	*out = NULL;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? err_set(ERR_NOT_FOUND, "policy %s: no such file", path)
				       : err_sys("policy %s", path);
	if (!S_ISREG(st.st_mode))
		return err_set(ERR_PERMISSION, "policy %s: not a regular file", path);
	if (st.st_mode & 022)
		return err_set(ERR_PERMISSION,
			       "policy %s: writable by group or others (chmod go-w)", path);
	if ((r = file_read_all(path, LIMIT_CONFIG, &b)) != 0)
		return r;
	r = credpolicy_parse(buf_ptr(b), buf_len(b), path, out);
	buf_free(b);
	return r;
}

// SPDX-License-Identifier: ISC
#include "cfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "bounds.h"
#include "buf.h"
#include "cli.h"
#include "encoding.h"
#include "file.h"
#include "listenfds.h"
#include "log.h"

enum opt_type {
	T_STR,
	T_UINT,
	T_BOOL,
	T_LISTEN,
	T_STRLIST, /* a struct cfg_strlist: repeatable, in order */
	T_ANCHOR,
	T_STARTUPS,
	T_CONFIG,
	T_HELP,
	T_VERSION,
};

struct opt {
	const char *name;
	enum opt_type type;
	size_t off;
	unsigned min, max;
	const char *arg;
	const char *help;
};

#define OFF(f) offsetof(struct cfg, f)

static const struct opt opts[] = {
	{"pkcs11-module", T_STR, OFF(pkcs11_module), 0, 0, "PATH", "PKCS#11 module of the token"},
	{"token", T_STR, OFF(token), 0, 0, "URI|LABEL",
	 "PKCS#11 token (default: the URI's token attributes, else the only token)"},
	{"key", T_STRLIST, OFF(keys), 0, 0, "URI|LABEL",
	 "an appliance key (PKCS#11 URI or label); up to 4, the first is the main one"},
	{"pin-source", T_STR, OFF(pin_source), 0, 0, "SRC",
	 "token PIN: file:PATH, env:NAME, credential:NAME, prompt, tpm2-sealed:PATH"},
	{"tpm2", T_STR, OFF(tpm2), 0, 0, "TCTI", "use the TPM 2.0 backend at TCTI"},
	{"key-blob", T_STRLIST, OFF(key_blobs), 0, 0, "FILE",
	 "TPM key blob of an appliance key; up to 4, like --key"},
	{"bundle", T_STR, OFF(bundle), 0, 0, "DIR", "the signed bundle directory"},
	{"trust-anchor", T_ANCHOR, OFF(trust_anchors), 0, 0, "sha256:HEX|token:LABEL",
	 "a master signing key: its SHA-256 fingerprint, or a public-key object in the token "
	 "(repeatable, one per master)"},
	{"threshold", T_UINT, OFF(threshold), 1, LIMIT_ANCHORS, "K",
	 "distinct trust anchors that must have signed the bundle (default 1)"},
	{"state-file", T_STR, OFF(state_file), 0, 0, "FILE",
	 "last accepted manifest serial (default " CFG_DEFAULT_STATE_FILE ")"},
	{"rollback-counter", T_STR, OFF(rollback_counter), 0, 0, "tpm2:TCTI",
	 "also keep the accepted serial in a TPM NV counter (survives the state file)"},
	{"listen", T_LISTEN, OFF(listen), 0, 0, "ADDR:PORT",
	 "listen address, repeatable (127.0.0.1:9187, [::1]:9187); none: systemd's sockets"},
	{"workers", T_UINT, OFF(workers), 0, CFG_MAX_WORKERS, "N",
	 "token worker threads (default: number of CPUs)"},
	{"max-connections", T_UINT, OFF(max_connections), 1, 1000000, "N",
	 "open connections at most (default 1024)"},
	{"max-frame", T_UINT, OFF(max_frame), CFG_MIN_MAX_FRAME, WIRE_MAX_FRAME, "BYTES",
	 "largest frame accepted, header included (default 65538)"},
	{"handshake-timeout", T_UINT, OFF(handshake_timeout), 1, CFG_MAX_SECONDS, "SEC",
	 "seconds from connect to a complete handshake (default 10)"},
	{"idle-timeout", T_UINT, OFF(idle_timeout), 1, CFG_MAX_SECONDS, "SEC",
	 "seconds a connection may be silent or stall mid-frame (default 60)"},
	{"max-handshakes", T_UINT, OFF(max_handshakes), 1, 100000, "N",
	 "handshakes in flight at most (default 64)"},
	{"rate", T_UINT, OFF(rate), 1, 1000000, "N",
	 "handshakes per second per source address (default 20)"},
	{"burst", T_UINT, OFF(burst), 1, 1000000, "N",
	 "handshake burst per source address (default 40)"},
	{"grace", T_UINT, OFF(grace), 0, CFG_MAX_SECONDS, "SEC",
	 "seconds to finish in-flight work on SIGTERM (default 10)"},
	{"max-connections-per-source", T_UINT, OFF(max_per_source), 1, 1000000, "N",
	 "open connections per source address, IPv6 by /64 (default 32, or a quarter of "
	 "--max-connections if less)"},
	{"max-startups", T_STARTUPS, OFF(startups), 0, 0, "START:RATE:FULL",
	 "unauthenticated connections: past START drop new ones with RATE% chance, rising to "
	 "all at FULL (default 128:30:512)"},
	{"session-timeout", T_UINT, OFF(session_timeout), 1, CFG_MAX_SECONDS, "SEC",
	 "seconds from the handshake to the end of a conversation (default 30)"},
	{"clock-skew", T_UINT, OFF(clock_skew), 1, CFG_MAX_SECONDS, "SEC",
	 "a Hello stamped more than SEC ahead of this clock, or older than the start minus SEC, "
	 "is refused (default 120)"},
	{"token-budget", T_UINT, OFF(token_budget), 0, 10000000, "N",
	 "token operations per second for all Hellos; 0: no budget (default 2000)"},
	{"cache-ss", T_BOOL, OFF(cache_ss), 0, 0, NULL,
	 "precompute the static-static DH of every client at load"},
	{"audit-log", T_STR, OFF(audit_log), 0, 0, "FILE", "audit records (JSON lines; default stderr)"},
	{"audit-required", T_BOOL, OFF(audit_required), 0, 0, NULL,
	 "refuse releases when the audit record cannot be written"},
	{"audit-key", T_STR, OFF(audit_key), 0, 0, "URI|LABEL|BLOB",
	 "sign audit checkpoints with this key (PKCS#11 URI or label; TPM key blob with --tpm2)"},
	{"audit-pin-source", T_STR, OFF(audit_pin_source), 0, 0, "SRC",
	 "PIN of the audit key's token (default: the URI's, or the session already logged in)"},
	{"audit-checkpoint", T_UINT, OFF(audit_checkpoint), 1, CFG_MAX_AUDIT_CHECKPOINT, "N",
	 "a signed checkpoint every N audit records (default 1000)"},
	{"user", T_STR, OFF(user), 0, 0, "NAME", "drop privileges to NAME after binding"},
	{"log-level", T_STR, OFF(log_level), 0, 0, "LEVEL", "error, warn, info (default), debug"},
	{"check", T_BOOL, OFF(check), 0, 0, NULL, "verify everything, then exit without serving"},
	{"config", T_CONFIG, OFF(config), 0, 0, "FILE", "YAML file with any of these options"},
	{"help", T_HELP, 0, 0, 0, NULL, "this text"},
	{"version", T_VERSION, 0, 0, 0, NULL, "print the version"},
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))
_Static_assert(N_OPTS < 63, "locked bitmap is one uint64_t; bit 63 marks the mapping");

void cfg_init(struct cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->max_connections = CFG_DEFAULT_MAX_CONNECTIONS;
	c->max_frame = CFG_DEFAULT_MAX_FRAME;
	c->handshake_timeout = CFG_DEFAULT_HANDSHAKE_TIMEOUT;
	c->idle_timeout = CFG_DEFAULT_IDLE_TIMEOUT;
	c->max_handshakes = CFG_DEFAULT_MAX_HANDSHAKES;
	c->rate = CFG_DEFAULT_RATE;
	c->burst = CFG_DEFAULT_BURST;
	c->grace = CFG_DEFAULT_GRACE;
	c->max_per_source = CFG_DEFAULT_PER_SOURCE;
	c->startups[0] = CFG_DEFAULT_STARTUPS_START;
	c->startups[1] = CFG_DEFAULT_STARTUPS_RATE;
	c->startups[2] = CFG_DEFAULT_STARTUPS_FULL;
	c->session_timeout = CFG_DEFAULT_SESSION_TIMEOUT;
	c->token_budget = CFG_DEFAULT_TOKEN_BUDGET;
	c->clock_skew = CFG_DEFAULT_CLOCK_SKEW;
	c->threshold = 1;
	c->audit_checkpoint = CFG_DEFAULT_AUDIT_CHECKPOINT;
}

static void cfg_clear_anchors(struct cfg *c)
{
	size_t i;

	for (i = 0; i < c->n_trust_anchors; i++) {
		free(c->trust_anchors[i]);
		c->trust_anchors[i] = NULL;
	}
	c->n_trust_anchors = 0;
}

/* Options that may be given more than once: the values accumulate. */
static int is_list(const struct opt *o)
{
	return o->type == T_LISTEN || o->type == T_ANCHOR || o->type == T_STRLIST;
}

/* Empty a repeatable option (a flag or a YAML list replaces the whole list). */
static void list_reset(struct cfg *c, const struct opt *o)
{
	struct cfg_strlist *l = (struct cfg_strlist *)((char *)c + o->off);
	size_t i;

	if (o->type == T_LISTEN) {
		c->n_listen = 0;
		return;
	}
	if (o->type == T_ANCHOR) {
		cfg_clear_anchors(c);
		return;
	}
	for (i = 0; i < l->n; i++) {
		free(l->v[i]);
		l->v[i] = NULL;
	}
	l->n = 0;
}

void cfg_clear(struct cfg *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < N_OPTS; i++) {
		if (opts[i].type == T_STR || opts[i].type == T_CONFIG) {
			char **p = (char **)((char *)c + opts[i].off);
			free(*p);
			*p = NULL;
		} else if (opts[i].type == T_STRLIST) {
			list_reset(c, &opts[i]);
		}
	}
	cfg_clear_anchors(c);
}

int cfg_parse_listen(const char *s, struct cfg_listen *out)
{
	char host[64];
	const char *colon, *h, *port_s;
	size_t hl;
	char *end;
	unsigned long port;

	memset(out, 0, sizeof(*out));
	if (strlen(s) >= sizeof(out->text))
		return err_set(ERR_INVALID_ARG, "listen address too long");
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			return err_set(ERR_INVALID_ARG, "listen address: expected [IPv6]:PORT");
		h = s + 1;
		hl = (size_t)(rb - h);
		port_s = rb + 2;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return err_set(ERR_INVALID_ARG, "listen address: expected HOST:PORT");
		h = s;
		hl = (size_t)(colon - s);
		port_s = colon + 1;
	}
	if (hl == 0 || hl >= sizeof(host))
		return err_set(ERR_INVALID_ARG, "listen address: bad host");
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (port_s[0] < '0' || port_s[0] > '9')
		return err_set(ERR_INVALID_ARG, "listen address: bad port");
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (errno != 0 || *end != '\0' || port == 0 || port > 65535)
		return err_set(ERR_INVALID_ARG, "listen address: port must be 1..65535");
	if (s[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->addr;
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return err_set(ERR_INVALID_ARG, "listen address: not a numeric IPv6 address");
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		out->len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&out->addr;
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return err_set(ERR_INVALID_ARG,
				       "listen address: not a numeric IPv4 address (IPv6 goes in [])");
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		out->len = sizeof(*a4);
	}
	memcpy(out->text, s, strlen(s) + 1);
	return 0;
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return err_set(ERR_INVALID_ARG, "not a number");
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return err_set(ERR_INVALID_ARG, "not a number");
	if (v < min || v > max)
		return err_set(ERR_INVALID_ARG, "must be %u..%u", min, max);
	*out = (unsigned)v;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "on") == 0) {
		*out = 1;
		return 0;
	}
	if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "off") == 0) {
		*out = 0;
		return 0;
	}
	return err_set(ERR_INVALID_ARG, "expected true or false");
}

/* Set option o from text v. `append` adds to a list option (listen, trust-anchor)
 * instead of resetting it. */
static int set_opt(struct cfg *c, const struct opt *o, const char *v, int append)
{
	void *field = (char *)c + o->off;
	char *dup = NULL;
	int r;

	switch (o->type) {
	case T_STR:
	case T_CONFIG:
		if (v[0] == '\0')
			return err_set(ERR_INVALID_ARG, "empty value");
		if (strlen(v) > 4096)
			return err_set(ERR_INVALID_ARG, "value too long");
		if ((dup = strdup(v)) == NULL)
			return err_set(ERR_ALLOC, "out of memory");
		free(*(char **)field);
		*(char **)field = dup;
		return 0;
	case T_ANCHOR: {
		uint8_t a[IDENTITY_LEN];
		if (strncmp(v, "token:", 6) == 0) {
			size_t n = strlen(v + 6);
			if (n == 0 || n > CFG_MAX_LABEL)
				return err_set(ERR_INVALID_ARG, "token: needs a label of 1..%d bytes",
					       CFG_MAX_LABEL);
		} else if (identity_parse(v, a) != 0) {
			err_clear();
			return err_set(ERR_INVALID_ARG,
				       "expected sha256: and 64 hex digits (or the grouped "
				       "7F3A-09C1-... form), or token:LABEL");
		}
		if (!append)
			list_reset(c, o);
		if (c->n_trust_anchors >= LIMIT_ANCHORS)
			return err_set(ERR_INVALID_ARG, "at most %d trust anchors", LIMIT_ANCHORS);
		if ((dup = strdup(v)) == NULL)
			return err_set(ERR_ALLOC, "out of memory");
		c->trust_anchors[c->n_trust_anchors++] = dup;
		return 0;
	}
	case T_UINT:
		return parse_uint(v, o->min, o->max, (unsigned *)field);
	case T_BOOL:
		return parse_bool(v, (int *)field);
	case T_STRLIST: {
		struct cfg_strlist *l = field;
		if (v[0] == '\0')
			return err_set(ERR_INVALID_ARG, "empty value");
		if (strlen(v) > 4096)
			return err_set(ERR_INVALID_ARG, "value too long");
		if (!append)
			list_reset(c, o);
		if (l->n >= CFG_MAX_KEYS)
			return err_set(ERR_INVALID_ARG, "at most %d times", CFG_MAX_KEYS);
		if ((l->v[l->n] = strdup(v)) == NULL)
			return err_set(ERR_ALLOC, "out of memory");
		l->n++;
		return 0;
	}
	case T_LISTEN: {
		struct cfg_listen l;
		if ((r = cfg_parse_listen(v, &l)) != 0)
			return r;
		if (!append)
			list_reset(c, o);
		if (c->n_listen >= CFG_MAX_LISTEN)
			return err_set(ERR_INVALID_ARG, "at most %d listen addresses", CFG_MAX_LISTEN);
		c->listen[c->n_listen++] = l;
		return 0;
	}
	case T_STARTUPS: {
		unsigned *t = (unsigned *)field, v3[3];
		const char *p = v;
		char part[16];
		size_t i, n;
		for (i = 0; i < 3; i++) {
			n = strcspn(p, ":");
			if (n == 0 || n >= sizeof(part) || (i < 2 && p[n] != ':') || (i == 2 && p[n] != '\0'))
				return err_set(ERR_INVALID_ARG, "expected START:RATE:FULL");
			memcpy(part, p, n);
			part[n] = '\0';
			if ((r = parse_uint(part, 0, i == 1 ? 100 : 1000000, &v3[i])) != 0)
				return r;
			p += n + (i < 2);
		}
		if (v3[0] > v3[2])
			return err_set(ERR_INVALID_ARG, "START must not exceed FULL");
		memcpy(t, v3, sizeof(v3));
		return 0;
	}
	case T_HELP:
	case T_VERSION:
		break;
	}
	return err_set(ERR_INVALID_ARG, "not settable here");
}

static const struct opt *find_opt(const char *name, size_t len, size_t *idx)
{
	size_t i;

	for (i = 0; i < N_OPTS; i++) {
		if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0) {
			*idx = i;
			return &opts[i];
		}
	}
	return NULL;
}

static int yaml_fail(const char *name, const yaml_mark_t *m, const char *fmt, const char *what)
{
	char esc[128];

	log_untrusted(esc, sizeof(esc), what != NULL ? what : "", 60);
	return err_set(ERR_FORMAT, "%s:%zu:%zu: %s%s%s", name, m->line + 1, m->column + 1, fmt,
		       what != NULL ? " " : "", what != NULL ? esc : "");
}

int cfg_parse_yaml(struct cfg *c, const uint8_t *text, size_t len, const char *name,
		   const uint64_t *locked)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int have_ev = 0, r = 0, depth = 0, done = 0;
	uint64_t seen = 0;
	const struct opt *cur = NULL;
	size_t cur_idx = 0;
	int in_seq = 0, seq_first = 0;
	char key[80];

	if (!yaml_parser_initialize(&p))
		return err_set(ERR_ALLOC, "yaml parser");
	yaml_parser_set_input_string(&p, text, len);
	while (!done) {
		if (have_ev) {
			yaml_event_delete(&ev);
			have_ev = 0;
		}
		if (!yaml_parser_parse(&p, &ev)) {
			yaml_mark_t m = p.problem_mark;
			r = yaml_fail(name, &m, p.problem != NULL ? p.problem : "YAML syntax error",
				      NULL);
			goto out;
		}
		have_ev = 1;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_ALIAS_EVENT:
			r = yaml_fail(name, &ev.start_mark, "aliases are not allowed", NULL);
			goto out;
		case YAML_MAPPING_START_EVENT:
			if (depth != 0 || cur != NULL) {
				r = yaml_fail(name, &ev.start_mark,
					      "nested mappings are not allowed", NULL);
				goto out;
			}
			if (seen & (1ULL << 63)) {
				r = yaml_fail(name, &ev.start_mark, "only one document is allowed",
					      NULL);
				goto out;
			}
			seen |= 1ULL << 63;
			depth = 1;
			break;
		case YAML_MAPPING_END_EVENT:
			depth = 0;
			break;
		case YAML_SEQUENCE_START_EVENT:
			if (cur == NULL || !is_list(cur) || in_seq) {
				r = yaml_fail(name, &ev.start_mark,
					      cur == NULL ? "expected a mapping of options"
							  : "a list is only allowed for listen, "
							    "trust-anchor, key and key-blob",
					      NULL);
				goto out;
			}
			in_seq = 1;
			seq_first = 1;
			break;
		case YAML_SEQUENCE_END_EVENT:
			/* An empty list empties the option (and is refused later if it is required). */
			if (seq_first && !(locked != NULL && (*locked >> cur_idx) & 1))
				list_reset(c, cur);
			in_seq = 0;
			cur = NULL;
			break;
		case YAML_SCALAR_EVENT: {
			const char *v = (const char *)ev.data.scalar.value;
			size_t vl = ev.data.scalar.length;

			/* An empty document ("---" alone) is an empty null scalar. */
			if (depth == 0 && vl == 0 && ev.data.scalar.plain_implicit &&
			    !(seen & (1ULL << 63))) {
				seen |= 1ULL << 63;
				break;
			}
			if (depth != 1) {
				r = yaml_fail(name, &ev.start_mark, "expected a mapping of options",
					      NULL);
				goto out;
			}
			if (strlen(v) != vl) {
				r = yaml_fail(name, &ev.start_mark, "NUL byte in a scalar", NULL);
				goto out;
			}
			if (cur == NULL) {
				const struct opt *o = find_opt(v, vl, &cur_idx);
				if (o == NULL || o->type == T_HELP || o->type == T_VERSION ||
				    o->type == T_CONFIG) {
					r = yaml_fail(name, &ev.start_mark,
						      o == NULL ? "unknown option"
								: "option not allowed in a file:",
						      v);
					goto out;
				}
				if ((seen >> cur_idx) & 1) {
					r = yaml_fail(name, &ev.start_mark, "duplicate option", v);
					goto out;
				}
				seen |= 1ULL << cur_idx;
				snprintf(key, sizeof(key), "%s", o->name);
				cur = o;
				break;
			}
			if (!(locked != NULL && (*locked >> cur_idx) & 1)) {
				if ((r = set_opt(c, cur, v, in_seq && !seq_first)) != 0) {
					char why[256];
					snprintf(why, sizeof(why), "%s", err_detail());
					r = err_set(ERR_FORMAT, "%s:%zu:%zu: %s: %s", name,
						    ev.start_mark.line + 1, ev.start_mark.column + 1,
						    key, why);
					goto out;
				}
			}
			if (in_seq)
				seq_first = 0;
			else
				cur = NULL;
			break;
		}
		case YAML_NO_EVENT:
			r = yaml_fail(name, &ev.start_mark, "unexpected end", NULL);
			goto out;
		}
	}
	r = 0;
out:
	if (have_ev)
		yaml_event_delete(&ev);
	yaml_parser_delete(&p);
	return r;
}

void cfg_usage(void *fp)
{
	FILE *f = fp;
	size_t i;

	fprintf(f, "usage: appliance-server --pkcs11-module PATH --key URI --pin-source SRC\n"
		   "                        --bundle DIR --trust-anchor sha256:HEX|token:LABEL...\n"
		   "                        [--threshold K] [--listen ADDR:PORT] [options]\n"
		   "       appliance-server --tpm2 TCTI --key-blob FILE --bundle DIR ... [options]\n"
		   "       appliance-server --config FILE [options]   (flags win over the file)\n"
		   "Without --listen, the listening sockets come from systemd (appliance-server.socket).\n\n");
	for (i = 0; i < N_OPTS; i++) {
		char left[64];
		snprintf(left, sizeof(left), "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
			 opts[i].arg ? opts[i].arg : "");
		fprintf(f, "  %-30s %s\n", left, opts[i].help);
	}
}

int cfg_parse(struct cfg *c, int argc, char **argv, enum cfg_action *action)
{
	struct option lo[N_OPTS + 1];
	uint64_t locked = 0;
	struct buf *text = NULL;
	size_t i;
	int r = 0, ch;

	*action = CFG_RUN;
	memset(lo, 0, sizeof(lo));
	for (i = 0; i < N_OPTS; i++) {
		lo[i].name = opts[i].name;
		lo[i].has_arg = (opts[i].type == T_BOOL || opts[i].type == T_HELP ||
				 opts[i].type == T_VERSION)
					? no_argument
					: required_argument;
		lo[i].val = 256 + (int)i;
	}
	opterr = 0;
	optind = 0; /* full reset (glibc), so cfg_parse may run more than once */
	while ((ch = getopt_long(argc, argv, "+:hV", lo, NULL)) != -1) {
		const struct opt *o;
		if (ch == 'h') {
			*action = CFG_HELP;
			continue;
		}
		if (ch == 'V') {
			*action = CFG_VERSION;
			continue;
		}
		if (ch < 256 || ch >= 256 + (int)N_OPTS) {
			/* The wording of common/cli.h, as in the other four tools. */
			char esc[80];
			const char *bad = argv[optind - 1] != NULL ? argv[optind - 1] : "?",
				   *hint = cli_suggest_option(bad, lo);
			log_untrusted(esc, sizeof(esc), bad, 60);
			if (ch == ':' || optopt >= 256)
				r = err_set(ERR_INVALID_ARG,
					    "option '%s' needs a value (see 'appliance-server --help')",
					    esc);
			else
				r = err_set(ERR_INVALID_ARG, "unknown option '%s'%s%s%s (see "
							     "'appliance-server --help')",
					    esc, hint ? "; did you mean '--" : "", hint ? hint : "",
					    hint ? "'?" : "");
			goto out;
		}
		o = &opts[ch - 256];
		if (o->type == T_HELP) {
			*action = CFG_HELP;
			continue;
		}
		if (o->type == T_VERSION) {
			*action = CFG_VERSION;
			continue;
		}
		/* A repeatable option's first flag replaces the list, the next ones add. */
		if ((r = set_opt(c, o, o->type == T_BOOL ? "true" : optarg,
				 is_list(o) && ((locked >> (ch - 256)) & 1))) != 0) {
			char why[256];
			snprintf(why, sizeof(why), "%s", err_detail());
			r = err_set(ERR_INVALID_ARG, "--%s: %s", o->name, why);
			goto out;
		}
		locked |= 1ULL << (ch - 256);
	}
	if (optind < argc) {
		char esc[80];
		r = err_set(ERR_INVALID_ARG, "unexpected argument %s",
			    log_untrusted(esc, sizeof(esc), argv[optind], 60));
		goto out;
	}
	if (*action != CFG_RUN || c->config == NULL)
		goto out;
	if ((r = file_read_all(c->config, LIMIT_CONFIG, &text)) != 0) {
		r = err_wrap(r, "config file %s", c->config);
		goto out;
	}
	r = cfg_parse_yaml(c, buf_ptr(text), buf_len(text), c->config, &locked);
out:
	buf_free(text);
	return r;
}

/* The anchors: at least one, distinct, at least --threshold of them. */
static int validate_anchors(const struct cfg *c, int tpm)
{
	uint8_t ids[LIMIT_ANCHORS][IDENTITY_LEN];
	int is_token[LIMIT_ANCHORS];
	size_t i, j;

	if (c->n_trust_anchors == 0)
		return err_set(ERR_INVALID_ARG, "--trust-anchor is required");
	for (i = 0; i < c->n_trust_anchors; i++) {
		const char *a = c->trust_anchors[i];
		is_token[i] = strncmp(a, "token:", 6) == 0;
		if (is_token[i] && tpm)
			return err_set(ERR_INVALID_ARG, "--trust-anchor token:LABEL needs the "
							"PKCS#11 backend; give sha256:HEX");
		if (!is_token[i] && identity_parse(a, ids[i]) != 0)
			return err_set(ERR_INVALID_ARG, "--trust-anchor %.100s: not a fingerprint", a);
		for (j = 0; j < i; j++) {
			if (is_token[i] != is_token[j])
				continue;
			if (is_token[i] ? strcmp(a, c->trust_anchors[j]) == 0
					: memcmp(ids[i], ids[j], IDENTITY_LEN) == 0)
				return err_set(ERR_INVALID_ARG,
					       "--trust-anchor %.100s is given twice (each anchor "
					       "counts once towards --threshold)",
					       a);
		}
	}
	if (c->threshold < 1 || c->threshold > c->n_trust_anchors)
		return err_set(ERR_INVALID_ARG,
			       "--threshold %u is more than the %zu trust anchor%s given "
			       "(--trust-anchor): no bundle could ever be accepted",
			       c->threshold, c->n_trust_anchors,
			       c->n_trust_anchors == 1 ? "" : "s");
	return 0;
}

int cfg_validate(const struct cfg *c)
{
	int pk = c->pkcs11_module != NULL || c->keys.n > 0;
	int tpm = c->tpm2 != NULL || c->key_blobs.n > 0;
	int r;

	if (pk && tpm)
		return err_set(ERR_INVALID_ARG,
			       "choose one backend: --pkcs11-module/--key or --tpm2/--key-blob");
	if (!pk && !tpm)
		return err_set(ERR_INVALID_ARG,
			       "no token: give --pkcs11-module and --key, or --tpm2 and --key-blob");
	if (pk && c->pkcs11_module == NULL)
		return err_set(ERR_INVALID_ARG, "--key needs --pkcs11-module");
	if (pk && c->keys.n == 0)
		return err_set(ERR_INVALID_ARG, "--pkcs11-module needs --key");
	if (tpm && (c->tpm2 == NULL || c->key_blobs.n == 0))
		return err_set(ERR_INVALID_ARG, "the TPM backend needs --tpm2 and --key-blob");
	if (tpm && c->pin_source != NULL)
		return err_set(ERR_INVALID_ARG,
			       "--pin-source is for PKCS#11 tokens; the TPM key blob needs no PIN");
	if (tpm && c->token != NULL)
		return err_set(ERR_INVALID_ARG, "--token is for PKCS#11 tokens, not --tpm2");
	if (c->bundle == NULL)
		return err_set(ERR_INVALID_ARG, "--bundle is required");
	if ((r = validate_anchors(c, tpm)) != 0)
		return r;
	if (c->rollback_counter != NULL &&
	    (strncmp(c->rollback_counter, "tpm2:", 5) != 0 || c->rollback_counter[5] == '\0'))
		return err_set(ERR_INVALID_ARG,
			       "--rollback-counter takes tpm2:TCTI (tpm2:device:/dev/tpmrm0)");
	if (c->n_listen == 0 && !c->check && !listenfds_offered())
		return err_set(ERR_INVALID_ARG,
			       "--listen is required unless systemd passes the sockets "
			       "(appliance-server.socket)");
	if (c->n_listen > 0 && !c->check && listenfds_offered())
		return err_set(ERR_INVALID_ARG,
			       "--listen given, but systemd passes sockets too "
			       "(appliance-server.socket): use one of them");
	if (c->burst < 1 || c->rate < 1)
		return err_set(ERR_INVALID_ARG, "--rate and --burst must be positive");
	if (c->audit_pin_source != NULL && c->audit_key == NULL)
		return err_set(ERR_INVALID_ARG, "--audit-pin-source needs --audit-key");
	if (tpm && c->audit_key != NULL && strncmp(c->audit_key, "pkcs11:", 7) == 0)
		return err_set(ERR_INVALID_ARG,
			       "with --tpm2, --audit-key is a TPM key blob, not a pkcs11: URI");
	if (tpm && c->audit_pin_source != NULL)
		return err_set(ERR_INVALID_ARG,
			       "--audit-pin-source is for PKCS#11 tokens; a TPM key blob needs no PIN");
	if (c->log_level != NULL) {
		enum log_level l;
		if (log_level_parse(c->log_level, &l) != 0)
			return err_set(ERR_INVALID_ARG,
				       "--log-level must be error, warn, info or debug");
	}
	return 0;
}

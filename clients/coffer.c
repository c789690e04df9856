// SPDX-License-Identifier: ISC
#include "coffer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "buf.h"
#include "encoding.h"
#include "fetch.h"
#include "hsm.h"
#include "log.h"
#include "net.h"
#include "pkey.h"
#include "secmem.h"
#include "secret.h"

/* The public item must stay a mirror of struct secret (coffer-get converts). */
_Static_assert((int)COFFER_STRING == (int)SECRET_STRING &&
                   (int)COFFER_LOCAL_TIME == (int)SECRET_LOCAL_TIME,
               "coffer_type mirrors secret_type");
_Static_assert(COFFER_POINT_LEN == P256_POINT_LEN, "point length");
_Static_assert(COFFER_IDENTITY_TEXT_LEN == IDENTITY_TEXT_LEN, "identity length");

#define COFFER_MSG_MAX 2048
#define COFFER_MAX_ITEMS 100000
#define COFFER_MAX_SERVERS 64

static _Thread_local char last_msg[COFFER_MSG_MAX];

static int fail(int status, const char *fmt, ...) PRINTF_LIKE(2, 3);

static int fail(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
	va_end(ap);
	return status;
}

const char *coffer_last_error(void)
{
	return last_msg;
}

const char *coffer_strerror(int status)
{
	switch (status) {
	case COFFER_OK:
		return "success";
	case COFFER_E_CONFIG:
		return "configuration error";
	case COFFER_E_NETWORK:
		return "network failure";
	case COFFER_E_SERVER_AUTH:
		return "server authentication failed";
	case COFFER_E_UNKNOWN_CLIENT:
		return "unknown client (key not registered)";
	case COFFER_E_SERVER:
		return "server error";
	case COFFER_E_PROTOCOL:
		return "protocol error";
	case COFFER_E_LOCAL:
		return "local error";
	case COFFER_E_NOT_FOUND:
		return "secret not found";
	}
	return "unknown status";
}

const char *coffer_type_name(enum coffer_type t)
{
	return secret_type_name((enum secret_type)t);
}

/* buf_put of nothing is a no-op here (common/buf.c would compute NULL + 0 on
 * a fresh buffer, which UBSan reports). */
static int put_bytes(struct buf *b, const void *p, size_t n)
{
	return n == 0 ? 0 : buf_put(b, p, n);
}

/* ---- configuration ---- */

enum key_kind {
	KEY_NONE = 0,
	KEY_FILE,
	KEY_PKCS11,
	KEY_TPM2,
};

struct server_ent {
	char *addr;
	char *key_pem; /* NULL: the default pinned key */
};

struct coffer_config {
	struct server_ent *servers;
	size_t n_servers;
	char *server_key_pem;
	uint8_t server_point[P256_POINT_LEN];
	int have_point;
	enum key_kind kind;
	char *key, *module, *pin_source, *tcti;
	unsigned timeout_ms;
};

struct coffer_config *coffer_config_new(void)
{
	return calloc(1, sizeof(struct coffer_config));
}

static void free_key_fields(struct coffer_config *cfg)
{
	free(cfg->key);
	free(cfg->module);
	free(cfg->pin_source);
	free(cfg->tcti);
	cfg->key = cfg->module = cfg->pin_source = cfg->tcti = NULL;
	cfg->kind = KEY_NONE;
}

void coffer_config_free(struct coffer_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->n_servers; i++) {
		free(cfg->servers[i].addr);
		free(cfg->servers[i].key_pem);
	}
	free(cfg->servers);
	free(cfg->server_key_pem);
	free_key_fields(cfg);
	free(cfg);
}

/* strdup of an optional string: 0, or COFFER_E_LOCAL on OOM. */
static int dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL)
		return 0;
	if ((*out = strdup(s)) == NULL)
		return fail(COFFER_E_LOCAL, "out of memory");
	return 0;
}

int coffer_config_add_server(struct coffer_config *cfg, const char *addr,
                             const char *server_key_pem)
{
	char host[NET_HOST_MAX], port[NET_PORT_MAX];
	struct server_ent *grown;
	char *a = NULL, *k = NULL;
	int r;

	if (cfg == NULL || addr == NULL)
		return fail(COFFER_E_CONFIG, "coffer_config_add_server: NULL argument");
	if (cfg->n_servers >= COFFER_MAX_SERVERS)
		return fail(COFFER_E_CONFIG, "more than %d servers", COFFER_MAX_SERVERS);
	if ((r = net_parse_addr(addr, host, port)) != 0)
		return fail(COFFER_E_CONFIG, "%s", err_detail());
	if ((r = dup_opt(addr, &a)) != 0 || (r = dup_opt(server_key_pem, &k)) != 0)
		goto bad;
	grown = realloc(cfg->servers, (cfg->n_servers + 1) * sizeof(*grown));
	if (grown == NULL) {
		r = fail(COFFER_E_LOCAL, "out of memory");
		goto bad;
	}
	cfg->servers = grown;
	cfg->servers[cfg->n_servers].addr = a;
	cfg->servers[cfg->n_servers].key_pem = k;
	cfg->n_servers++;
	return COFFER_OK;
bad:
	free(a);
	free(k);
	return r;
}

int coffer_config_set_server_key_file(struct coffer_config *cfg, const char *pem_path)
{
	char *p;
	int r;

	if (cfg == NULL || pem_path == NULL)
		return fail(COFFER_E_CONFIG, "coffer_config_set_server_key_file: NULL argument");
	if ((r = dup_opt(pem_path, &p)) != 0)
		return r;
	free(cfg->server_key_pem);
	cfg->server_key_pem = p;
	cfg->have_point = 0;
	return COFFER_OK;
}

int coffer_config_set_server_key_point(struct coffer_config *cfg,
                                       const uint8_t point[COFFER_POINT_LEN])
{
	if (cfg == NULL || point == NULL)
		return fail(COFFER_E_CONFIG, "coffer_config_set_server_key_point: NULL argument");
	if (pkey_check_point(point, P256_POINT_LEN) != 0)
		return fail(COFFER_E_CONFIG, "pinned server key: %s", err_detail());
	memcpy(cfg->server_point, point, P256_POINT_LEN);
	cfg->have_point = 1;
	free(cfg->server_key_pem);
	cfg->server_key_pem = NULL;
	return COFFER_OK;
}

static int set_key(struct coffer_config *cfg, enum key_kind kind, const char *key, const char *a,
                   const char *b)
{
	char *k = NULL, *x = NULL, *y = NULL;
	int r;

	if (cfg == NULL || key == NULL || key[0] == '\0')
		return fail(COFFER_E_CONFIG, "client key: none given");
	if ((r = dup_opt(key, &k)) != 0 || (r = dup_opt(a, &x)) != 0 || (r = dup_opt(b, &y)) != 0) {
		free(k);
		free(x);
		return r;
	}
	free_key_fields(cfg);
	cfg->kind = kind;
	cfg->key = k;
	if (kind == KEY_PKCS11) {
		cfg->module = x;
		cfg->pin_source = y;
	} else {
		cfg->tcti = x;
		free(y);
	}
	return COFFER_OK;
}

int coffer_config_set_key_file(struct coffer_config *cfg, const char *pem_path)
{
	return set_key(cfg, KEY_FILE, pem_path, NULL, NULL);
}

int coffer_config_set_key_pkcs11(struct coffer_config *cfg, const char *uri, const char *module,
                                 const char *pin_source)
{
	if (module == NULL || module[0] == '\0')
		return fail(COFFER_E_CONFIG, "a PKCS#11 client key needs the module path");
	if (uri == NULL || strncmp(uri, "pkcs11:", 7) != 0)
		return fail(COFFER_E_CONFIG, "a PKCS#11 client key is named by a pkcs11: URI");
	return set_key(cfg, KEY_PKCS11, uri, module, pin_source);
}

int coffer_config_set_key_tpm2(struct coffer_config *cfg, const char *blob_path, const char *tcti)
{
	return set_key(cfg, KEY_TPM2, blob_path, tcti, NULL);
}

int coffer_config_set_timeout_ms(struct coffer_config *cfg, unsigned ms)
{
	if (cfg == NULL)
		return fail(COFFER_E_CONFIG, "coffer_config_set_timeout_ms: NULL argument");
	if (ms > 3600U * 1000U)
		return fail(COFFER_E_CONFIG, "timeout above one hour");
	cfg->timeout_ms = ms;
	return COFFER_OK;
}

/* ---- client ---- */

struct server {
	char *addr;
	uint8_t point[P256_POINT_LEN];
};

struct coffer_client {
	struct server *servers;
	size_t n_servers;
	struct hsm *hsm;
	struct hsm_key *key;
	unsigned timeout_ms;
};

void coffer_client_free(struct coffer_client *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n_servers; i++)
		free(c->servers[i].addr);
	free(c->servers);
	hsm_key_free(c->key);
	hsm_close(c->hsm);
	free(c);
}

static int load_server_point(const char *path, uint8_t point[static P256_POINT_LEN])
{
	EVP_PKEY *k = NULL;
	int r;

	if ((r = pkey_load_public(path, &k)) != 0) {
		r = fail(COFFER_E_CONFIG, "pinned server key: %s", err_msg(r));
		goto out;
	}
	if (!pkey_is_p256(k)) {
		r = fail(COFFER_E_CONFIG, "pinned server key %s: not a P-256 key", path);
		goto out;
	}
	if ((r = pkey_to_point(k, point)) != 0) {
		r = fail(COFFER_E_CONFIG, "pinned server key: %s", err_msg(r));
		goto out;
	}
	r = COFFER_OK;
out:
	EVP_PKEY_free(k);
	return r;
}

static int open_key(const struct coffer_config *cfg, struct coffer_client *c)
{
	int r;

	switch (cfg->kind) {
	case KEY_FILE:
		if ((r = hsm_key_load_pem(cfg->key, &c->key)) != 0)
			return fail(r == ERR_NOT_FOUND || r == ERR_PERMISSION || r == ERR_FORMAT
			                ? COFFER_E_CONFIG
			                : COFFER_E_LOCAL,
			            "client key: %s", err_msg(r));
		return COFFER_OK;
	case KEY_PKCS11:
	case KEY_TPM2: {
		struct hsm_key_spec spec = {cfg->key, NULL, NULL, NULL, HSM_NEED_ECDH};
		if (cfg->kind == KEY_PKCS11) {
			spec.module = cfg->module;
			spec.pin_source = cfg->pin_source;
		} else {
			/* A TPM blob; NULL means the tss2 default TCTI. */
			spec.tcti = cfg->tcti != NULL ? cfg->tcti : "";
		}
		if ((r = hsm_key_open_spec(&spec, &c->hsm, &c->key)) != 0)
			return fail(COFFER_E_LOCAL, "client key: %s", err_msg(r));
		return COFFER_OK;
	}
	case KEY_NONE:
		break;
	}
	return fail(COFFER_E_CONFIG, "no client key configured");
}

int coffer_client_new(const struct coffer_config *cfg, struct coffer_client **out)
{
	struct coffer_client *c = NULL;
	uint8_t def[P256_POINT_LEN];
	int have_def = 0, r;
	size_t i;

	if (out == NULL)
		return fail(COFFER_E_CONFIG, "coffer_client_new: NULL argument");
	*out = NULL;
	last_msg[0] = '\0';
	if (cfg == NULL)
		return fail(COFFER_E_CONFIG, "coffer_client_new: NULL argument");
	if (cfg->n_servers == 0)
		return fail(COFFER_E_CONFIG, "no server configured");
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->servers = calloc(cfg->n_servers, sizeof(*c->servers))) == NULL) {
		r = fail(COFFER_E_LOCAL, "out of memory");
		goto out;
	}
	c->timeout_ms = cfg->timeout_ms != 0 ? cfg->timeout_ms : COFFER_DEFAULT_TIMEOUT_MS;
	if (cfg->have_point) {
		memcpy(def, cfg->server_point, sizeof(def));
		have_def = 1;
	} else if (cfg->server_key_pem != NULL) {
		if ((r = load_server_point(cfg->server_key_pem, def)) != 0)
			goto out;
		have_def = 1;
	}
	for (i = 0; i < cfg->n_servers; i++) {
		const struct server_ent *e = &cfg->servers[i];
		if ((c->servers[i].addr = strdup(e->addr)) == NULL) {
			r = fail(COFFER_E_LOCAL, "out of memory");
			goto out;
		}
		c->n_servers++;
		if (e->key_pem != NULL) {
			if ((r = load_server_point(e->key_pem, c->servers[i].point)) != 0)
				goto out;
		} else if (have_def) {
			memcpy(c->servers[i].point, def, sizeof(def));
		} else {
			r = fail(COFFER_E_CONFIG, "no pinned server key for %s (--server-key)",
			         e->addr);
			goto out;
		}
	}
	if ((r = open_key(cfg, c)) != 0)
		goto out;
	*out = c;
	c = NULL;
	r = COFFER_OK;
out:
	coffer_client_free(c);
	return r;
}

int coffer_client_identity(struct coffer_client *c, char out[COFFER_IDENTITY_TEXT_LEN + 1])
{
	uint8_t id[IDENTITY_LEN];
	EVP_PKEY *pub = NULL;
	int r;

	if (c == NULL || out == NULL)
		return fail(COFFER_E_CONFIG, "coffer_client_identity: NULL argument");
	if ((r = hsm_key_public(c->key, &pub)) != 0 || (r = pkey_identity(pub, id)) != 0) {
		r = fail(COFFER_E_LOCAL, "client identity: %s", err_msg(r));
		goto out;
	}
	identity_format(id, out);
	r = COFFER_OK;
out:
	EVP_PKEY_free(pub);
	return r;
}

/* ---- results ---- */

struct coffer_result {
	struct coffer_item *items; /* in `mem` */
	size_t n;
	void *mem; /* secmem: items, then their strings */
	char *server;
};

size_t coffer_result_count(const struct coffer_result *r)
{
	return r != NULL ? r->n : 0;
}

const struct coffer_item *coffer_result_item(const struct coffer_result *r, size_t i)
{
	if (r == NULL || i >= r->n)
		return NULL;
	return &r->items[i];
}

const struct coffer_item *coffer_result_find(const struct coffer_result *r, const char *key)
{
	size_t i, kl;

	if (r == NULL || key == NULL)
		return NULL;
	kl = strlen(key);
	for (i = 0; i < r->n; i++)
		if (r->items[i].key_len == kl && memcmp(r->items[i].key, key, kl) == 0)
			return &r->items[i];
	return NULL;
}

const char *coffer_result_server(const struct coffer_result *r)
{
	return r != NULL && r->server != NULL ? r->server : "";
}

void coffer_result_free(struct coffer_result *r)
{
	if (r == NULL)
		return;
	secmem_free(r->mem); /* wipes */
	free(r->server);
	free(r);
}

/*
 * Collector for the OkGet chunks: item headers with offsets into a pool of
 * NUL-terminated strings. Both are wiped when freed.
 */
struct pending {
	enum secret_type type;
	size_t key_off, key_len;
	size_t val_off, val_len;
	int64_t i;
	double f;
	int b;
};

struct collector {
	struct buf *items; /* struct pending records */
	struct buf *pool;
	size_t n;
	const char *const *names; /* asked for (n_names > 0), or all */
	size_t n_names;
};

/* Was this name asked for? Always, when all were. */
static int asked_for(const struct collector *col, const struct secret *s)
{
	size_t i;

	if (col->n_names == 0)
		return 1;
	for (i = 0; i < col->n_names; i++)
		if (strlen(col->names[i]) == s->key_len &&
		    memcmp(col->names[i], s->key, s->key_len) == 0)
			return 1;
	return 0;
}

static int text_type(enum secret_type t)
{
	return t == SECRET_STRING || t == SECRET_DATETIME || t == SECRET_LOCAL_DATETIME ||
	       t == SECRET_LOCAL_DATE || t == SECRET_LOCAL_TIME;
}

static int pool_add(struct buf *pool, const char *p, size_t len, size_t *off)
{
	int r;

	*off = buf_len(pool);
	if ((r = put_bytes(pool, p, len)) != 0 || (r = buf_put_u8(pool, 0)) != 0)
		return r;
	return 0;
}

static int collect(void *ctx, const struct secret *items, size_t n)
{
	struct collector *col = ctx;
	struct pending pd;
	size_t i;
	int r = 0;

	for (i = 0; i < n; i++) {
		const struct secret *s = &items[i];
		if (col->n >= COFFER_MAX_ITEMS)
			return err_set(ERR_TOO_LARGE, "more than %d secrets", COFFER_MAX_ITEMS);
		if (!asked_for(col, s)) {
			/* Least privilege: a name not asked for must not reach the output or a child. */
			char tmp[300];
			return err_set(ERR_PROTOCOL, "the server answered '%s', which was not asked for",
			               log_untrusted(tmp, sizeof(tmp), s->key,
			                             s->key_len < 100 ? s->key_len : 100));
		}
		memset(&pd, 0, sizeof(pd));
		pd.type = s->type;
		if ((r = pool_add(col->pool, s->key, s->key_len, &pd.key_off)) != 0)
			goto out;
		pd.key_len = s->key_len;
		if (text_type(s->type)) {
			if ((r = pool_add(col->pool, s->v.str.ptr, s->v.str.len, &pd.val_off)) != 0)
				goto out;
			pd.val_len = s->v.str.len;
		} else if (s->type == SECRET_INTEGER) {
			pd.i = s->v.i;
		} else if (s->type == SECRET_FLOAT) {
			pd.f = s->v.f;
		} else if (s->type == SECRET_BOOL) {
			pd.b = s->v.b ? 1 : 0;
		} else {
			r = err_set(ERR_FORMAT, "secret of unknown type %d", (int)s->type);
			goto out;
		}
		if ((r = put_bytes(col->items, &pd, sizeof(pd))) != 0)
			goto out;
		col->n++;
	}
out:
	secmem_zero(&pd, sizeof(pd));
	return r;
}

static int finish(struct collector *col, const char *server, struct coffer_result **out)
{
	struct coffer_result *res = NULL;
	const struct pending *pd;
	size_t isz, i;
	char *strs;
	int r;

	*out = NULL;
	if ((res = calloc(1, sizeof(*res))) == NULL || (res->server = strdup(server)) == NULL) {
		r = fail(COFFER_E_LOCAL, "out of memory");
		goto out;
	}
	isz = col->n * sizeof(struct coffer_item);
	if ((res->mem = secmem_alloc(isz + buf_len(col->pool) + 1)) == NULL) {
		r = fail(COFFER_E_LOCAL, "out of memory (secure memory for %zu bytes)",
		         isz + buf_len(col->pool));
		goto out;
	}
	res->items = res->mem;
	strs = (char *)res->mem + isz;
	memcpy(strs, buf_ptr(col->pool), buf_len(col->pool));
	pd = (const struct pending *)(const void *)buf_ptr(col->items);
	for (i = 0; i < col->n; i++) {
		struct coffer_item *it = &res->items[i];
		struct pending p;
		memcpy(&p, &pd[i], sizeof(p)); /* the buf gives no alignment promise */
		it->key = strs + p.key_off;
		it->key_len = p.key_len;
		it->type = (enum coffer_type)p.type;
		if (text_type(p.type)) {
			it->v.str.ptr = strs + p.val_off;
			it->v.str.len = p.val_len;
		} else if (p.type == SECRET_INTEGER) {
			it->v.i = p.i;
		} else if (p.type == SECRET_FLOAT) {
			it->v.f = p.f;
		} else {
			it->v.b = p.b;
		}
		secmem_zero(&p, sizeof(p));
	}
	res->n = col->n;
	*out = res;
	res = NULL;
	r = COFFER_OK;
out:
	coffer_result_free(res);
	return r;
}

/* How telling a failure is when every server failed (higher wins). */
static int rank(int st)
{
	switch (st) {
	case COFFER_E_SERVER_AUTH:
		return 4;
	case COFFER_E_PROTOCOL:
		return 3;
	case COFFER_E_SERVER:
		return 2;
	case COFFER_E_NETWORK:
		return 1;
	default:
		return 0;
	}
}

static void append_msg(char *acc, size_t cap, const char *addr, int st, const char *detail)
{
	size_t used = strlen(acc);

	if (used >= cap - 1)
		return;
	snprintf(acc + used, cap - used, "%s%s: %s%s%s", used > 0 ? "; " : "", addr,
	         coffer_strerror(st), detail[0] != '\0' ? ": " : "", detail);
}

int coffer_fetch(struct coffer_client *c, const char *const *names, size_t n_names,
                 struct coffer_result **out)
{
	struct collector col = {0};
	struct fetch_params sp;
	char acc[COFFER_MSG_MAX] = "";
	int worst = 0, st = COFFER_E_NETWORK, r, fd, retried = 0;
	size_t i;

	if (out == NULL)
		return fail(COFFER_E_CONFIG, "coffer_fetch: NULL argument");
	*out = NULL;
	last_msg[0] = '\0';
	if (c == NULL || (n_names > 0 && names == NULL))
		return fail(COFFER_E_CONFIG, "coffer_fetch: NULL argument");
	for (i = 0; i < n_names; i++) {
		if (names[i] == NULL || names[i][0] == '\0' || strlen(names[i]) > LIMIT_KEY_NAME)
			return fail(COFFER_E_CONFIG,
			            "secret name %zu is empty or longer than %d bytes", i + 1,
			            LIMIT_KEY_NAME);
	}
	col.names = names;
	col.n_names = n_names;
	for (i = 0; i < c->n_servers; i++) {
		const struct server *s = &c->servers[i];
		uint64_t deadline = net_now_ms() + c->timeout_ms;

	again:
		err_clear();
		buf_free(col.items);
		buf_free(col.pool);
		col.n = 0;
		if ((col.items = buf_new(0)) == NULL || (col.pool = buf_new(0)) == NULL) {
			st = fail(COFFER_E_LOCAL, "out of memory");
			goto out;
		}
		if ((r = net_connect(s->addr, deadline, &fd)) != 0) {
			st = COFFER_E_NETWORK;
			append_msg(acc, sizeof(acc), s->addr, st, err_detail());
			if (rank(st) > rank(worst))
				worst = st;
			continue;
		}
		memset(&sp, 0, sizeof(sp));
		sp.fd = fd;
		sp.key = c->key;
		sp.server_point = s->point;
		sp.names = names;
		sp.n_names = n_names;
		sp.deadline = deadline;
		st = fetch_run(&sp, collect, &col);
		close(fd);
		if (st == COFFER_OK) {
			st = finish(&col, s->addr, out);
			goto out;
		}
		if (st == COFFER_E_SERVER && sp.replayed && !retried) {
			/*
			 * Two fetches with one key at once: the server kept the newer
			 * Hello and refused ours. A fresh Hello (a newer timestamp) on
			 * a new connection, once, within this server's deadline.
			 */
			retried = 1;
			goto again;
		}
		append_msg(acc, sizeof(acc), s->addr, st, err_detail());
		if (st == COFFER_E_UNKNOWN_CLIENT || st == COFFER_E_NOT_FOUND ||
		    st == COFFER_E_LOCAL) {
			/* Authoritative, or our own fault: other replicas cannot help. */
			fail(st, "%s", acc);
			goto out;
		}
		if (rank(st) > rank(worst))
			worst = st;
	}
	st = worst != 0 ? worst : COFFER_E_NETWORK;
	if (c->n_servers > 1)
		fail(st, "all %zu servers failed: %s", c->n_servers, acc);
	else
		fail(st, "%s", acc);
out:
	buf_free(col.items);
	buf_free(col.pool);
	return st;
}

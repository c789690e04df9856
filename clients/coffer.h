// SPDX-License-Identifier: ISC
#ifndef COFFER_H
#define COFFER_H

/*
 * libcoffer: fetch this host's secrets from Coffer appliances.
 *
 *	struct coffer_config *cfg = coffer_config_new();
 *	coffer_config_add_server(cfg, "coffer1.example:9187", NULL);
 *	coffer_config_add_server(cfg, "[2001:db8::2]:9187", NULL);
 *	coffer_config_set_server_key_file(cfg, "/etc/coffer/server.pem");
 *	coffer_config_set_key_file(cfg, "/etc/coffer/client.pem");
 *	struct coffer_client *c;
 *	if (coffer_client_new(cfg, &c) != COFFER_OK) -> coffer_last_error()
 *	struct coffer_result *res;
 *	int st = coffer_fetch(c, NULL, 0, &res);          // all keys
 *	for (size_t i = 0; i < coffer_result_count(res); i++) {
 *		const struct coffer_item *it = coffer_result_item(res, i);
 *		... it->key, it->type, it->v ...
 *	}
 *	coffer_result_free(res);                          // wipes the values
 *	coffer_client_free(c);
 *	coffer_config_free(cfg);
 *
 * Status codes: every function that can fail returns COFFER_OK (0) or one of
 * the negative enum coffer_status values below; coffer_last_error() gives a
 * message for the last failure on the calling thread (it names the server,
 * the file or the token operation, and never contains a secret value).
 * coffer-get maps each status to an exit code of its own (coffer-get(1)).
 *
 * Fail-over: the servers are tried in the order they were added, each with
 * its own deadline (coffer_config_set_timeout_ms, covering connect,
 * handshake and transfer). The next server is tried after
 *   - a network failure (resolve, connect, reset, timeout),
 *   - a server error (an Error frame: the replica may be reloading or busy),
 *   - a protocol error (a broken or incompatible replica),
 *   - a server authentication failure (the handshake does not complete with
 *     the pinned key: a wrong address or a man in the middle must not make
 *     the healthy replicas unreachable; nothing secret is sent to a server
 *     that has not proved it holds the pinned key).
 * A server that refuses the Hello as "replayed Hello" (another fetch with
 * this key got there first) is asked once more with a fresh Hello on a new
 * connection, within the same deadline.
 * It stops at once on COFFER_E_UNKNOWN_CLIENT (an authenticated replica
 * answered that this client key is not registered, and all replicas serve
 * the same signed bundle), on COFFER_E_NOT_FOUND (likewise for a named
 * secret) and on COFFER_E_LOCAL (our own key or memory failed). When every server fails, the status
 *is the most telling failure seen, in this order: server authentication, protocol, server error,
 *network; the message lists each server's failure.
 *
 * Thread safety: a client may be used by one thread at a time; distinct
 * clients are independent. Results are independent of their client.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define COFFER_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define COFFER_WARN_UNUSED
#endif

enum coffer_status {
	COFFER_OK = 0,
	COFFER_E_CONFIG = -1,         /* bad configuration or arguments (usage) */
	COFFER_E_NETWORK = -2,        /* no server reachable (resolve/connect/IO/timeout) */
	COFFER_E_SERVER_AUTH = -3,    /* the server did not prove the pinned key */
	COFFER_E_UNKNOWN_CLIENT = -4, /* the server does not know this client key (KeyNotFound) */
	COFFER_E_SERVER = -5,    /* the server answered with an Error frame (reason in message) */
	COFFER_E_PROTOCOL = -6,  /* the server broke the protocol */
	COFFER_E_LOCAL = -7,     /* local failure: key file, token, memory, output */
	COFFER_E_NOT_FOUND = -8, /* a secret named in coffer_fetch is not in the shard */
};

/* Static text for a status ("network failure", ...); never NULL. */
const char *coffer_strerror(int status);
/*
 * Message for the last failure returned on this thread ("" if none): the
 * operation, the server or file, and the reason (e.g. the Error frame's
 * text, sanitised). Valid until the next libcoffer call on this thread.
 */
const char *coffer_last_error(void);

/* ---- configuration ---- */

#define COFFER_POINT_LEN 65            /* uncompressed P-256 point 04||X||Y */
#define COFFER_DEFAULT_TIMEOUT_MS 5000 /* per server */
#define COFFER_IDENTITY_TEXT_LEN 79    /* "7F3A-09C1-..." without the NUL */

struct coffer_config;

/* An empty configuration; NULL on out of memory. Free with coffer_config_free. */
struct coffer_config *coffer_config_new(void);
/* Frees; NULL is fine. */
void coffer_config_free(struct coffer_config *cfg);

/*
 * Add a server "host:port", "1.2.3.4:port" or "[v6addr]:port" (tried in the
 * order added). server_key_pem: path of that server's pinned public key PEM,
 * or NULL to use the key given by coffer_config_set_server_key_*.
 * COFFER_E_CONFIG if the address is malformed (checked here; resolved at
 * fetch time).
 */
int coffer_config_add_server(struct coffer_config *cfg, const char *addr,
                             const char *server_key_pem) COFFER_WARN_UNUSED;
/* The pinned server public key for servers added without their own: a PEM file. */
int coffer_config_set_server_key_file(struct coffer_config *cfg,
                                      const char *pem_path) COFFER_WARN_UNUSED;
/* Same, as the 65-byte uncompressed point (validated: COFFER_E_CONFIG if not on the curve). */
int coffer_config_set_server_key_point(struct coffer_config *cfg,
                                       const uint8_t point[COFFER_POINT_LEN]) COFFER_WARN_UNUSED;
/*
 * This client's private key, one of:
 *   a PEM file (PKCS#8 or SEC1, mode 0600: refused if group/world accessible);
 *   a PKCS#11 URI ("pkcs11:token=host;object=coffer") in the token of
 *     `module`, logged in with the PIN from pin_source ("file:PATH",
 *     "env:NAME", "prompt"; NULL: the URI's pin-source / no login);
 *   a TPM 2.0 key blob file, used through `tcti` ("device:/dev/tpmrm0",
 *     "swtpm:host=127.0.0.1,port=2321"; NULL: the tss2 default).
 * The last call wins. Strings are copied; nothing is opened before
 * coffer_client_new.
 */
int coffer_config_set_key_file(struct coffer_config *cfg, const char *pem_path) COFFER_WARN_UNUSED;
int coffer_config_set_key_pkcs11(struct coffer_config *cfg, const char *uri, const char *module,
                                 const char *pin_source) COFFER_WARN_UNUSED;
int coffer_config_set_key_tpm2(struct coffer_config *cfg, const char *blob_path,
                               const char *tcti) COFFER_WARN_UNUSED;
/* Per-server deadline in milliseconds (connect + handshake + transfer); 0: the default. */
int coffer_config_set_timeout_ms(struct coffer_config *cfg, unsigned ms) COFFER_WARN_UNUSED;

/* ---- client ---- */

struct coffer_client;

/*
 * Make a client: opens the client key (file, token or TPM) and loads the
 * pinned server key(s). The config may be freed afterwards.
 * COFFER_E_CONFIG (no server, no key, no pinned key, a pinned key file
 * missing or not P-256, the client key file missing, malformed or
 * accessible by group/others), COFFER_E_LOCAL (token or TPM error, wrong
 * PIN, out of memory).
 */
int coffer_client_new(const struct coffer_config *cfg,
                      struct coffer_client **out) COFFER_WARN_UNUSED;
/* Closes the key and token session; NULL is fine. */
void coffer_client_free(struct coffer_client *c);
/* The client's identity, "7F3A-09C1-..." (COFFER_IDENTITY_TEXT_LEN chars + NUL). */
int coffer_client_identity(struct coffer_client *c,
                           char out[COFFER_IDENTITY_TEXT_LEN + 1]) COFFER_WARN_UNUSED;

/* ---- results ---- */

enum coffer_type {
	COFFER_STRING = 1,
	COFFER_INTEGER = 2,
	COFFER_FLOAT = 3,
	COFFER_BOOL = 4,
	COFFER_DATETIME = 5,       /* offset date-time, RFC 3339 text "1979-05-27T07:32:00Z" */
	COFFER_LOCAL_DATETIME = 6, /* "1979-05-27T07:32:00" */
	COFFER_LOCAL_DATE = 7,     /* "1979-05-27" */
	COFFER_LOCAL_TIME = 8,     /* "07:32:00" */
};

/* One secret. Strings and the date/time types use v.str (NUL-terminated;
 * strings may also hold NUL bytes, so use len). */
struct coffer_item {
	const char *key; /* UTF-8, NUL-terminated */
	size_t key_len;
	enum coffer_type type;
	union {
		struct {
			const char *ptr;
			size_t len;
		} str;
		int64_t i;
		double f;
		int b;
	} v;
};

struct coffer_result;

/*
 * Fetch this client's secrets: all of them (names NULL / n_names 0), or only
 * the named ones (sent to the server, which returns only those: a server
 * that answers a name not asked for is COFFER_E_PROTOCOL). Tries the
 * servers as described at the top. On success *out holds the values in
 * locked, non-dumpable memory; free it with coffer_result_free.
 */
int coffer_fetch(struct coffer_client *c, const char *const *names, size_t n_names,
                 struct coffer_result **out) COFFER_WARN_UNUSED;

size_t coffer_result_count(const struct coffer_result *r);
/* Item i (< count), valid until coffer_result_free. */
const struct coffer_item *coffer_result_item(const struct coffer_result *r, size_t i);
/* The item named key, or NULL. */
const struct coffer_item *coffer_result_find(const struct coffer_result *r, const char *key);
/* "host:port" of the server that answered. */
const char *coffer_result_server(const struct coffer_result *r);
/* Wipes every value and frees; NULL is fine. */
void coffer_result_free(struct coffer_result *r);

/* "string", "integer", "float", "boolean", "datetime", "local-datetime",
 * "local-date", "local-time". */
const char *coffer_type_name(enum coffer_type t);

#ifdef __cplusplus
}
#endif

#endif

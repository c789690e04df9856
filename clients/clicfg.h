// SPDX-License-Identifier: ISC
#ifndef COFFER_CLIENTS_CLICFG_H
#define COFFER_CLIENTS_CLICFG_H

/*
 * The coffer-get config file (/etc/coffer/client.yaml), YAML:
 *
 *   servers:                 # a list (or one string) of host:port, tried in order
 *     - coffer1.example:9187
 *     - "[2001:db8::2]:9187"
 *   server-key: /etc/coffer/server.pem   # pinned; or a list, one per server
 *   key: /etc/coffer/client.pem          # PEM file, pkcs11: URI, or TPM blob
 *   pkcs11-module: /usr/lib/softhsm/libsofthsm2.so
 *   pin-source: file:/etc/coffer/pin
 *   tpm2: device:/dev/tpmrm0             # TCTI: `key` is then a TPM key blob
 *   timeout: 5                           # seconds per server; or "500ms", "5s"
 *
 * Every key is optional here (flags fill in or override). Unknown keys,
 * repeated keys, nested mappings, anchors/aliases and over-long values are
 * errors naming file:line:column.
 */

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CLICFG_MAX_SERVERS 64
#define CLICFG_MAX_SCALAR 4096
#define CLICFG_MAX_TIMEOUT_MS (3600U * 1000U)

struct clicfg {
	char **servers; /* n_servers strings */
	size_t n_servers;
	char **server_keys; /* PEM paths: one for all, or one per server */
	size_t n_server_keys;
	char *key;
	char *pkcs11_module;
	char *pin_source;
	char *tpm2;
	unsigned timeout_ms; /* 0: not set */
};

/*
 * Parse len bytes of YAML; `name` (a path) is used in error details.
 * *out freed with clicfg_free. ERR_FORMAT (detail: name:line:col: why),
 * ERR_TOO_LARGE, ERR_ALLOC.
 */
int clicfg_parse(const uint8_t *data, size_t len, const char *name,
                 struct clicfg **out) WARN_UNUSED;
/* Read and parse a file (at most LIMIT_CONFIG bytes). ERR_NOT_FOUND if missing. */
int clicfg_load(const char *path, struct clicfg **out) WARN_UNUSED;
/* NULL is fine. */
void clicfg_free(struct clicfg *c);

/* "5", "5s", "500ms" -> milliseconds (1 .. CLICFG_MAX_TIMEOUT_MS). 0 or ERR_FORMAT. */
int clicfg_parse_timeout(const char *s, unsigned *ms) WARN_UNUSED;

#endif

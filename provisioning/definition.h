// SPDX-License-Identifier: ISC
#ifndef COFFER_DEFINITION_H
#define COFFER_DEFINITION_H

/*
 * The coffer model: which client (by identity) holds which secrets, built from
 * a TOML or YAML definition:
 *
 *   [clients]
 *   web = "7F3A-09C1-..."   # name = full client identity (identity_parse)
 *   [web]                   # one table per client listed in [clients]
 *   db_password = "s3cr3t"  # String, Integer, Float, Boolean or a date/time
 *
 * YAML has the same shape: a mapping `clients` (name: identity) and one
 * mapping per client with scalar values.
 *
 * Everything else is refused with ERR_FORMAT (ERR_TOO_LARGE for nesting
 * beyond LIMIT_NESTING) and the detail "FILE:LINE:COL: reason": arrays,
 * inline tables, nested tables, a table or value whose name is not listed in
 * [clients], a duplicate identity or client name, an identity not in the full
 * form, an empty key, a key longer than LIMIT_KEY_NAME, a client name longer
 * than LIMIT_CLIENT_NAME, a string longer than LIMIT_VALUE, NUL in a key or
 * name. A client listed in [clients] without a table has an empty shard.
 *
 * The model's names, keys and values live in one secmem_alloc arena, wiped by
 * definition_free(). Lookup by identity is O(1).
 */

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "secret.h"

enum definition_format {
	DEF_AUTO = 0, /* by file name: .yaml/.yml is YAML, anything else TOML */
	DEF_TOML = 1,
	DEF_YAML = 2,
};

struct definition;
struct def_client;

/*
 * Parse a definition of len bytes. `filename` (may be NULL: "<input>") names
 * the input in errors and chooses the format for DEF_AUTO. The caller keeps
 * `text` (and should wipe it). On success *out is the model, freed with
 * definition_free(). Returns 0, ERR_FORMAT, ERR_TOO_LARGE, ERR_ALLOC.
 */
int definition_parse(const uint8_t *text, size_t len, const char *filename,
		     enum definition_format fmt, struct definition **out) WARN_UNUSED;

/*
 * Read (file_read_all, at most LIMIT_DEFINITION bytes and less than 64 MiB,
 * file_read_all's own cap) and parse the file at
 * path; the read buffer is wiped. Errors as definition_parse and file_read_all.
 */
int definition_read_file(const char *path, enum definition_format fmt, struct definition **out)
	WARN_UNUSED;

/* Wipe and free; NULL is fine. */
void definition_free(struct definition *def);

/* The format chosen for a file name under DEF_AUTO. */
enum definition_format definition_format_of(const char *filename);

/* Clients in [clients] order. */
size_t definition_client_count(const struct definition *def);
/* The i-th client, or NULL when i >= count. Valid until definition_free. */
const struct def_client *definition_client_at(const struct definition *def, size_t i);
/* The client with this identity (SHA-256 of its public key), or NULL. O(1). */
const struct def_client *definition_find(const struct definition *def,
					 const uint8_t id[static 32]);
/* Total secrets over all clients. */
size_t definition_secret_count(const struct definition *def);

/* The client's name (NUL-terminated), identity (32 bytes) and shard (in
 * definition order; storage owned by the definition). */
const char *def_client_name(const struct def_client *c);
const uint8_t *def_client_id(const struct def_client *c);
struct secret_list def_client_secrets(const struct def_client *c);

#endif

// SPDX-License-Identifier: ISC
#ifndef COFFER_BOUNDS_H
#define COFFER_BOUNDS_H

/* Every size and count limit of the project, in one place. */

/* Wire: frame header is u16 length | u8 type; body at most 65535 bytes. */
#define WIRE_HEADER_LEN 3
#define WIRE_MAX_BODY 65535
#define WIRE_MAX_FRAME (WIRE_HEADER_LEN + WIRE_MAX_BODY)

/* Files. */
#define LIMIT_PIN_FILE 256                 /* a PIN file */
#define LIMIT_PIN_LEN 128                  /* a PIN */
#define LIMIT_MANIFEST (16 * 1024 * 1024)  /* crypto_manifest.json */
#define LIMIT_SIGNATURE 4096               /* crypto_manifest.json.sig */
#define LIMIT_BUNDLE_FILE (256 * 1024 * 1024) /* any file listed in a bundle */
#define LIMIT_BUNDLE_FILES 100000          /* files in a bundle */
#define LIMIT_DEFINITION (256 * 1024 * 1024) /* a coffer definition (TOML/YAML) */
#define LIMIT_SEALED (LIMIT_DEFINITION + 1024 * 1024) /* coffer.sealed */
#define LIMIT_CONFIG (1024 * 1024)         /* a YAML config file */
#define LIMIT_RECIPIENTS 1024              /* appliances one sealed file names */

/* Bundle trust: k-of-n master signatures and revocation. */
#define LIMIT_ANCHORS 16                   /* trust anchors (master fingerprints) configured */
#define LIMIT_MASTERS 64                   /* master public keys in a bundle */
#define LIMIT_SIGNATURES 64                /* files in a bundle's signatures/ */
#define LIMIT_REVOKED 100000               /* identities in revoked.json */
#define LIMIT_REVOKED_FILE (16 * 1024 * 1024) /* revoked.json */
#define LIMIT_REVOKE_REASON 256            /* bytes of one revocation reason */

/* Definitions. */
#define LIMIT_KEY_NAME 256                 /* a secret's name, bytes */
#define LIMIT_VALUE (60 * 1024)            /* one string value, bytes */
#define LIMIT_CLIENT_NAME 128              /* a client's name, bytes */
#define LIMIT_NESTING 64                   /* TOML/YAML nesting depth */

#endif

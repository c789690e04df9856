// SPDX-License-Identifier: ISC
#ifndef COFFER_BUNDLE_H
#define COFFER_BUNDLE_H

/*
 * The signed bundle: a directory whose every regular file is listed, with its
 * SHA-256, in crypto_manifest.json, signed by one or more offline master
 * keys. Each master's signature is signatures/sha256-<fingerprint>.sig (DER,
 * verifiable with `openssl dgst -sha256 -verify`); the first master's
 * signature is also crypto_manifest.json.sig, so that a one-master bundle
 * reads as it always did. The masters' public keys are
 * master_signing_public.pem (the first) and masters/NAME_public.pem, listed
 * in the manifest like any other file.
 *
 * Manifest (version 1), JSON, keys sorted:
 *   {"created": "2026-11-22T04:24:08Z", "files": {"path": "<64 lower hex>", ...},
 *    "serial": N, "version": 1}
 *
 * Rules every path in a manifest obeys (bundle_path_check): relative, 1 to
 * BUNDLE_PATH_MAX bytes, components separated by single '/', no empty, "."
 * or ".." component, no backslash, NUL or control character, not the
 * manifest or its signatures (crypto_manifest.json.sig, anything under the
 * top-level signatures/), not under the top-level ".git" directory.
 *
 * The tree walk (manifest building and verification) ignores exactly two
 * things: a directory named ".git" at the top of the bundle (the bundle may
 * be a git checkout) and the signature files signatures/sha256-<64 lower
 * hex>.sig. Everything else, hidden files included, must be a listed regular
 * file or a directory; symbolic links and special files are refused.
 *
 * Trust comes from outside the bundle only: the caller names the trust
 * anchors (fingerprints of master keys) and the threshold K. A signature
 * counts when its file is named for an anchor, the bundle holds a master
 * public key with that fingerprint, and it verifies over the exact manifest
 * bytes; each anchor counts once. Signature files of other keys are ignored,
 * files that do not verify are reported (bundle_verify_opts.note) and not
 * counted. Nothing in the bundle can set a threshold or an anchor.
 *
 * Verification (bundle_verify) performs, in this order, checks named in the
 * error detail as "check '<name>' failed for <file>: <why>":
 *   trust-anchor  some master public key in the bundle has an anchor's fingerprint
 *   signature     K distinct anchors signed the exact manifest bytes
 *   manifest      the manifest parses (bundle_manifest_parse)
 *   serial        serial >= min_serial and >= the serial in the state file
 *   path          every listed path obeys the rules above
 *   type          no symbolic link, special file or non-directory component
 *   unlisted      no regular file exists that the manifest does not list
 *   missing       every listed file exists
 *   size          no listed file exceeds LIMIT_BUNDLE_FILE
 *   hash          every listed file matches its SHA-256
 * Files are opened relative to a directory descriptor held by the verified
 * bundle, one component at a time with O_NOFOLLOW.
 */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "bounds.h"
#include "err.h"
#include "pkey.h"

#define BUNDLE_MANIFEST "crypto_manifest.json"
#define BUNDLE_SIGNATURE "crypto_manifest.json.sig"
#define BUNDLE_MASTER_PUBLIC "master_signing_public.pem"
#define BUNDLE_KEYS_DIR "keys"
#define BUNDLE_COMPANIONS_DIR "companions" /* the only keys that may seal coffer.sealed */
#define BUNDLE_MASTERS_DIR "masters"       /* masters/NAME_public.pem: further master keys */
#define BUNDLE_SIGNATURES_DIR "signatures" /* signatures/sha256-<hex>.sig: one per master */
#define BUNDLE_KEY_SUFFIX "_public.pem"
#define BUNDLE_REVOKED "revoked.json"      /* identities the officers revoked (revoked.h) */
/* "sha256-" + 64 lower-case hex digits + ".sig" */
#define BUNDLE_SIG_NAME_LEN (7 + 2 * SHA256_LEN + 4)
#define BUNDLE_MANIFEST_VERSION 1

#define BUNDLE_PATH_MAX 1024 /* bytes of one relative path */
#define BUNDLE_DEPTH_MAX 32  /* directory nesting in a bundle */
#define BUNDLE_STATE_MAX 64  /* bytes of a state file */
#define BUNDLE_TIME_LEN 20   /* "2026-11-22T04:24:08Z" */

struct buf;
struct bundle;
struct bundle_manifest;
struct json_t;

/* One listed file. */
struct bundle_entry {
	const char *path;
	uint8_t sha256[SHA256_LEN];
};

/*
 * Parse manifest bytes (untrusted): exactly the four keys above with exact
 * types (version integer == 1, serial integer 1..INT64_MAX, created string,
 * files an object of path -> 64 lower-case hex digits), at most
 * LIMIT_MANIFEST bytes and LIMIT_BUNDLE_FILES entries, duplicate keys and
 * trailing data refused, every path checked with bundle_path_check().
 * *out is freed with bundle_manifest_free(). ERR_FORMAT / ERR_TOO_LARGE with
 * the reason in the detail; ERR_ALLOC.
 */
int bundle_manifest_parse(const uint8_t *data, size_t len,
                          struct bundle_manifest **out) WARN_UNUSED;
/* NULL is fine. */
void bundle_manifest_free(struct bundle_manifest *m);
uint64_t bundle_manifest_serial(const struct bundle_manifest *m);
/* The "created" text as written in the manifest. */
const char *bundle_manifest_created(const struct bundle_manifest *m);
/* Number of listed files; entries are sorted by path (byte order). */
size_t bundle_manifest_count(const struct bundle_manifest *m);
/* Entry i (< count); owned by the manifest. */
const struct bundle_entry *bundle_manifest_entry(const struct bundle_manifest *m, size_t i);
/* The entry for path, or NULL. */
const struct bundle_entry *bundle_manifest_find(const struct bundle_manifest *m, const char *path);

/* 0 if path (len bytes, no NUL inside) obeys the rules above; ERR_FORMAT with the reason. */
int bundle_path_check(const char *path, size_t len) WARN_UNUSED;

/*
 * The bundle's JSON text of root (keys sorted, two-space indented, a final
 * newline: manifest, revoked.json), appended to out. ERR_ALLOC, ERR_TOO_LARGE.
 */
int bundle_json_put(const struct json_t *root, struct buf *out) WARN_UNUSED;

/* "YYYY-MM-DDTHH:MM:SSZ" for t; out has BUNDLE_TIME_LEN + 1 bytes. */
void bundle_time_format(time_t t, char out[static BUNDLE_TIME_LEN + 1]);

/*
 * Walk dir and append a version-1 manifest for it to out: every regular
 * file except the manifest and its signature, hashed; keys sorted; two-space
 * indented; a final newline. Refuses (ERR_PERMISSION) symbolic links and
 * special files, and (ERR_FORMAT) names that break the path rules, naming the
 * file. `created` is written as RFC 3339 UTC.
 */
int bundle_manifest_build(const char *dir, uint64_t serial, time_t created,
                          struct buf *out) WARN_UNUSED;

/*
 * The current manifest of dir, parsed (*out NULL, and 0 returned, if there
 * is none). Read as it is: its signature is not checked.
 */
int bundle_manifest_read(const char *dir, struct bundle_manifest **out) WARN_UNUSED;

/* The serial the next bundle_manifest_write() will use (current + 1, or 1). */
int bundle_next_serial(const char *dir, uint64_t *serial) WARN_UNUSED;

/*
 * Build the manifest of dir with serial = the existing manifest's serial + 1
 * (1 if there is none; an existing manifest that does not parse is an error)
 * and write it atomically to dir/crypto_manifest.json. *serialp gets the
 * serial (may be NULL). Every signature of the previous manifest
 * (crypto_manifest.json.sig, signatures/sha256-*.sig) is removed so that the
 * bundle never pairs a new manifest with an old signature.
 */
int bundle_manifest_write(const char *dir, time_t created, uint64_t *serialp) WARN_UNUSED;

/*
 * Rebuild the manifest with the same serial and created time after exactly
 * one listed file (`path`, e.g. the ceremony log) changed. Every other entry
 * must still match the disk and no file may have appeared or disappeared:
 * otherwise ERR_AUTH ("run manifest again"). Written atomically; any
 * signature is removed (it was over the old bytes).
 */
int bundle_manifest_refresh(const char *dir, const char *path) WARN_UNUSED;

/*
 * 0 if the manifest of dir still describes the bundle exactly (no file
 * changed, appeared or disappeared since it was written); ERR_AUTH naming
 * the first difference ("run manifest again"); ERR_NOT_FOUND without a
 * manifest. Changes nothing.
 */
int bundle_manifest_unchanged(const char *dir) WARN_UNUSED;

/*
 * *count gets the number of signatures beside the manifest of dir (the files
 * signatures/sha256-*.sig, or 1 for a crypto_manifest.json.sig alone),
 * whether or not they verify: a later signer must not change the manifest
 * once one exists.
 */
int bundle_signature_count(const char *dir, size_t *count) WARN_UNUSED;

/* "sha256-<64 lower hex>.sig" for a key fingerprint. */
void bundle_signature_name(const uint8_t fpr[static SHA256_LEN],
                           char out[static BUNDLE_SIG_NAME_LEN + 1]);

/*
 * A signer: append the DER signature of data (SHA-256 digest) to sig.
 * hsm_key_sign_data() has this shape with ctx = struct hsm_key *.
 */
typedef int (*bundle_sign_fn)(void *ctx, const uint8_t *data, size_t len, struct buf *sig);

/*
 * Which master of dir is `pub`: path gets "master_signing_public.pem" or
 * "masters/NAME_public.pem". ERR_AUTH if pub is none of the bundle's master
 * public keys.
 */
int bundle_master_find(const char *dir, EVP_PKEY *pub, char path[static BUNDLE_PATH_MAX + 1])
    WARN_UNUSED;

/* What bundle_sign() did. */
struct bundle_signed {
	uint64_t serial;                     /* of the manifest signed */
	uint8_t digest[SHA256_LEN];          /* SHA-256 of the exact bytes signed */
	char fpr[PKEY_FPR_TEXT_LEN + 1];     /* "sha256:<hex>" of the signing key */
	char master[BUNDLE_PATH_MAX + 1];    /* its public key file in the bundle */
	char sigfile[BUNDLE_PATH_MAX + 1];   /* "signatures/sha256-<hex>.sig" */
	int legacy;                          /* crypto_manifest.json.sig written too */
};

/*
 * Sign the exact bytes of dir/crypto_manifest.json with fn, whose key has the
 * public half `pub`. pub must be one of the bundle's masters
 * (bundle_master_find; ERR_AUTH otherwise, before anything is signed). The
 * signature is checked against pub (ERR_AUTH if the token signed with
 * another key) and written atomically to signatures/sha256-<fpr>.sig; for
 * the key in master_signing_public.pem also to crypto_manifest.json.sig.
 * The manifest must parse. *out (may be NULL) says what was done.
 */
int bundle_sign(const char *dir, bundle_sign_fn fn, void *ctx, EVP_PKEY *pub,
                struct bundle_signed *out) WARN_UNUSED;

/* "sha256:<64 hex digits>" (either case) into 32 bytes; ERR_FORMAT otherwise. */
int bundle_fingerprint_parse(const char *text, uint8_t out[static SHA256_LEN]) WARN_UNUSED;

struct bundle_verify_opts {
	/*
	 * The trust anchors: fingerprints of master public keys, "sha256:<hex>"
	 * or the grouped notation (identity_parse), all distinct, at most
	 * LIMIT_ANCHORS. trust_anchor alone is the one-anchor shorthand, used
	 * when anchors is NULL.
	 */
	const char *const *anchors;
	size_t n_anchors;
	const char *trust_anchor;
	unsigned threshold;       /* distinct anchors that must have signed; 0 means 1 */
	uint64_t min_serial;      /* refuse serial below this (0: no floor) */
	const char *state_file;   /* last accepted serial (NULL: none; missing file: 0) */
	int update_state;         /* 1: on success, write the serial to state_file atomically */
	/*
	 * Called (may be NULL) for every signature file that is not counted:
	 * `file` is its bundle path, `why` says why (does not verify, no master
	 * key with that fingerprint, not a trust anchor).
	 */
	void (*note)(void *arg, const char *file, const char *why);
	void *note_arg;
};

/*
 * Everything an appliance checks before it trusts a bundle (see the top of
 * this file). On success *out is the verified bundle (bundle_free), holding
 * an open descriptor of dir. Codes: ERR_AUTH (trust-anchor, signature,
 * unlisted, hash), ERR_FORMAT (manifest, path), ERR_REPLAY (serial),
 * ERR_PERMISSION (type), ERR_NOT_FOUND (missing), ERR_TOO_LARGE (size);
 * ERR_SYSTEM / ERR_ALLOC / ERR_CRYPTO for the machine's own failures;
 * ERR_INVALID_ARG for a malformed or repeated trust anchor, more than
 * LIMIT_ANCHORS, or a threshold above the number of anchors. The detail
 * names the check and the file.
 */
int bundle_verify(const char *dir, const struct bundle_verify_opts *opts,
                  struct bundle **out) WARN_UNUSED;
/* NULL is fine; closes the directory descriptor. */
void bundle_free(struct bundle *b);
/* The verified manifest (owned by b). */
const struct bundle_manifest *bundle_get_manifest(const struct bundle *b);
uint64_t bundle_serial(const struct bundle *b);
/*
 * "sha256:<hex>" of the first master whose signature counted: the key in
 * master_signing_public.pem if it signed, else the first anchor that did
 * (owned by b).
 */
const char *bundle_master_fingerprint(const struct bundle *b);
/* That master's public key (owned by b; EVP_PKEY_up_ref to keep it). */
EVP_PKEY *bundle_master_key(const struct bundle *b);
/* The anchors whose signatures counted, in the order they were given. */
size_t bundle_signer_count(const struct bundle *b);
/* "sha256:<hex>" of signer i (< bundle_signer_count; owned by b). */
const char *bundle_signer(const struct bundle *b, size_t i);

/*
 * Read a listed file of a verified bundle, re-checking type and hash on the
 * bytes returned (a file swapped after bundle_verify is refused:
 * ERR_AUTH, check 'hash'). At most `max` bytes (and BUF_MAX_DEFAULT):
 * ERR_TOO_LARGE. ERR_NOT_FOUND if path is not listed. *out freed with
 * buf_free.
 */
int bundle_read_file(const struct bundle *b, const char *path, size_t max,
                     struct buf **out) WARN_UNUSED;

/*
 * The state file: the decimal serial and a newline. Read: a missing file is
 * serial 0; anything else malformed is ERR_FORMAT. Write: atomic, mode 0600.
 */
int bundle_state_read(const char *path, uint64_t *serial) WARN_UNUSED;
int bundle_state_write(const char *path, uint64_t serial) WARN_UNUSED;

#endif

// SPDX-License-Identifier: ISC
#ifndef COFFER_HSM_H
#define COFFER_HSM_H

/*
 * One key interface over three backends:
 *   - PKCS#11 tokens (HSMs, smart cards, SoftHSM2), keys named by RFC 7512
 *     URIs ("pkcs11:token=appliance;object=server") or by a bare label;
 *   - TPM 2.0 through tpm2-tss ESYS, keys stored as wrapped blob files;
 *   - software keys from PEM files (clients, companions), so that callers
 *     need no second code path.
 * Private keys never leave a token. The API is narrow on purpose (public key,
 * ECDH, sign, generate, import a public key, list) so that it can move behind
 * a socketpair into its own process.
 *
 * Thread safety: hsm_key_ecdh() and hsm_key_sign() may be called on one key
 * from many threads at once (the PKCS#11 backend keeps a pool of long-lived
 * sessions, so each thread working at the same time has its own; the TPM
 * backend serialises on its one ESYS connection). Opening, generating,
 * importing, listing and closing are not concurrent with anything else.
 *
 * PKCS#11 sessions: the first session logs in (login state is per token and
 * process, so later sessions share it). A call that fails with
 * CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_USER_NOT_LOGGED_IN,
 * CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT or a stale key handle closes the
 * idle sessions, opens a new one, logs in again, finds the key again and
 * retries, at most HSM_P11_RETRIES (3) rounds in all. Because login is per
 * process, a second hsm_open() of a token already logged in by this process
 * does not check its PIN again.
 *
 * TPM: one P-256 key per blob file, loaded at hsm_key_open and kept loaded
 * (one of swtpm's 3 object slots each); the storage primary is recreated
 * from the owner hierarchy when needed and flushed at once.
 *
 * Errors: ERR_HSM / ERR_TPM with err_detail() naming the operation, the key
 * and the CKR / TSS2 code; ERR_FORMAT for a bad peer point (checked before
 * the token sees it); ERR_NOT_FOUND for a missing token or key;
 * ERR_AUTH for a wrong PIN; ERR_UNSUPPORTED for a missing mechanism;
 * ERR_PERMISSION for a PIN file others can read.
 */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "err.h"
#include "pkey.h"

struct buf;
struct hsm;
struct hsm_key;

enum hsm_backend {
	HSM_BACKEND_PKCS11 = 1,
	HSM_BACKEND_TPM2 = 2,
	HSM_BACKEND_SOFT = 3,
};

/* Mechanisms a caller needs from a token (checked at hsm_open). */
enum hsm_need {
	HSM_NEED_ECDH = 1U << 0,   /* CKM_ECDH1_DERIVE / TPM2_ECDH_ZGen */
	HSM_NEED_SIGN = 1U << 1,   /* CKM_ECDSA / TPM2_Sign */
	HSM_NEED_KEYGEN = 1U << 2, /* CKM_EC_KEY_PAIR_GEN / TPM2_Create */
};

/* What a generated key may do. */
enum hsm_usage {
	HSM_USAGE_DERIVE = 1U << 0,
	HSM_USAGE_SIGN = 1U << 1,
};

struct hsm_config {
	enum hsm_backend backend;
	/* PKCS#11 */
	const char *module;     /* path of the PKCS#11 module (required) */
	const char *token;      /* "pkcs11:token=..." URI or a bare token label; NULL: the only token */
	const char *pin_source; /* see hsm_pin_read(); NULL: pin-source/pin-value of the URI, or no login */
	/* TPM 2.0 */
	const char *tcti;       /* "device:/dev/tpmrm0", "swtpm:host=127.0.0.1,port=N"; NULL: default */
	int tpm_plain_session;  /* 1: password auth only (fast); 0 (default): salted, encrypting session */
	unsigned need;          /* enum hsm_need: refuse at open if missing */
};

/*
 * Open a token (or the TPM, or the software backend). *out freed with
 * hsm_close. PKCS#11: loads the module (realpath; refused if group/world
 * writable), selects the token by URI or label, probes the mechanisms and
 * refuses (ERR_UNSUPPORTED, naming the CKM_) if any of cfg->need is
 * missing, reads the PIN and logs in (ERR_AUTH on a wrong PIN).
 * Errors: ERR_NOT_FOUND (module, token), ERR_PERMISSION, ERR_FORMAT (not a
 * module, bad URI), ERR_AUTH, ERR_UNSUPPORTED, ERR_HSM, ERR_TPM.
 */
int hsm_open(const struct hsm_config *cfg, struct hsm **out) WARN_UNUSED;
/* Close sessions (which logs out), C_Finalize at the module's last close
 * (the library stays mapped); NULL is fine. Keys must be freed first. */
void hsm_close(struct hsm *h);
/* "PKCS#11 token 'appliance' (SoftHSM slot 0x..)", "TPM swtpm:...", "software". */
const char *hsm_describe(const struct hsm *h);
/* Which of `need` (enum hsm_need) the token lacks; 0 if none. */
unsigned hsm_missing(const struct hsm *h, unsigned need);

/*
 * Open a private key by name: PKCS#11 URI with object= and/or id= (token
 * attributes, if any, must match the open token; type= must be private), or
 * a bare label (PKCS#11); a key blob file path (TPM, mode 0600); a PEM file
 * path (software). The public key comes from the private object's
 * CKA_EC_POINT or the public object with the same CKA_ID (else label).
 * ERR_NOT_FOUND, ERR_INVALID_ARG (ambiguous or no object named), ERR_FORMAT.
 * Free with hsm_key_free.
 */
int hsm_key_open(struct hsm *h, const char *name, struct hsm_key **out) WARN_UNUSED;
/* Where a private key lives, in the form the command-line tools take it. */
struct hsm_key_spec {
	const char *key;        /* PEM file, "pkcs11:..." URI, or TPM blob (with tcti) */
	const char *module;     /* PKCS#11 module: required for a pkcs11: key */
	const char *pin_source; /* PIN source for a pkcs11: key (NULL: the URI's, or none) */
	const char *tcti;       /* set: `key` is a TPM blob used through this TCTI ("": default) */
	unsigned need;          /* enum hsm_need, checked for token keys */
};

/*
 * Open the key a spec names: a pkcs11: URI in the token its token attributes
 * select, a TPM blob when tcti is set, else a PEM file. *hp is the opened
 * token (NULL for a PEM key); free *kp with hsm_key_free, then *hp with
 * hsm_close. ERR_INVALID_ARG for a pkcs11: key without a module.
 */
int hsm_key_open_spec(const struct hsm_key_spec *spec, struct hsm **hp, struct hsm_key **kp)
	WARN_UNUSED;

/* Software key from a PEM file without an hsm handle (clients, companions). */
int hsm_key_load_pem(const char *path, struct hsm_key **out) WARN_UNUSED;
/* Software key from an EVP_PKEY (a reference is taken). */
int hsm_key_from_pkey(EVP_PKEY *priv, struct hsm_key **out) WARN_UNUSED;
void hsm_key_free(struct hsm_key *k);
/*
 * Forget what the key keeps from earlier uses of the token (the working copy
 * of a PKCS#11 key): its next operation reaches the token's own object again,
 * as whoever runs it then. After a privilege drop, so that a check proves
 * the token answers the new user. Nothing for other keys.
 */
void hsm_key_renew(struct hsm_key *k);
/* Name of the key for messages ("pkcs11:token=a;object=server", a path);
 * any URI query (pin-value) is cut off. */
const char *hsm_key_name(const struct hsm_key *k);

/* The public key (new reference; free with EVP_PKEY_free). */
int hsm_key_public(struct hsm_key *k, EVP_PKEY **out) WARN_UNUSED;
/* The 65-byte uncompressed public point. */
int hsm_key_point(struct hsm_key *k, uint8_t pt[static P256_POINT_LEN]) WARN_UNUSED;

/*
 * ECDH inside the token: x-coordinate of (private key * peer point). The peer
 * point is validated first (ERR_FORMAT: not on the curve, infinity, wrong
 * length or form). Thread-safe.
 */
int hsm_key_ecdh(struct hsm_key *k, const uint8_t *peer, size_t peer_len,
		 uint8_t out[static P256_DH_LEN]) WARN_UNUSED;
/* Callback form for protocol/: ctx is a struct hsm_key *. */
int hsm_dh_callback(void *ctx, const uint8_t peer[static P256_POINT_LEN],
		    uint8_t out[static P256_DH_LEN]) WARN_UNUSED;

/*
 * ECDSA over a digest inside the token (CKM_ECDSA, raw r||s converted to
 * DER; TPM2_Sign with ECDSA-SHA256); DER signature appended to sig.
 * digest_len is 32 (SHA-256), or 48 for P-384 keys. Thread-safe.
 */
int hsm_key_sign(struct hsm_key *k, const uint8_t *digest, size_t digest_len, struct buf *sig)
	WARN_UNUSED;
/* SHA-256 over data, then hsm_key_sign: verifies with pkey_verify and
 * `openssl dgst -sha256 -verify` (also for P-384 keys). */
int hsm_key_sign_data(struct hsm_key *k, const uint8_t *data, size_t len, struct buf *sig)
	WARN_UNUSED;

/*
 * Generate a P-256 key pair in the token: CKA_TOKEN, CKA_PRIVATE,
 * CKA_SENSITIVE, not CKA_EXTRACTABLE, CKA_DERIVE/CKA_SIGN per usage (enum
 * hsm_usage, at least one), the given label, and CKA_ID = first 20 bytes of
 * SHA-256(point) on both objects (PKCS#11; needs a PIN). For the TPM (label
 * ignored), TPMA_OBJECT_DECRYPT/SIGN_ENCRYPT per usage with a NULL scheme,
 * the wrapped blob written to blob_path (mode 0600, never overwritten).
 * ERR_EXISTS if a key object with that label or the blob file exists;
 * ERR_UNSUPPORTED for a missing mechanism or the software backend.
 */
int hsm_generate(struct hsm *h, const char *label, unsigned usage, const char *blob_path,
		 struct hsm_key **out) WARN_UNUSED;

/* Store a P-256 public key in the token as a CKO_PUBLIC_KEY token object
 * (trust anchor; CKA_ID = SHA-256(SPKI) prefix). ERR_EXISTS if the label is
 * taken; ERR_UNSUPPORTED for other key types and non-PKCS#11 backends. */
int hsm_import_public(struct hsm *h, const char *label, EVP_PKEY *pub) WARN_UNUSED;
/* Read back a public-key object by label (trust anchor): ERR_NOT_FOUND, or
 * ERR_INVALID_ARG if several objects carry the label. */
int hsm_find_public(struct hsm *h, const char *label, EVP_PKEY **out) WARN_UNUSED;

struct hsm_key_info {
	const char *label;
	const char *id_hex;  /* CKA_ID in hex ("" if none) */
	int is_private;      /* private key (else a public-key object) */
	int key_bits;        /* 256 for P-256 */
};
/* Call fn for each private, then public key object in the token (at most
 * 1024 of each); stops at the first non-zero return of fn and returns it.
 * The info strings are valid during the call only. */
int hsm_list(struct hsm *h, int (*fn)(const struct hsm_key_info *, void *), void *arg)
	WARN_UNUSED;

/*
 * PIN sources, never argv:
 *   file:PATH         first line of PATH (refused if group/world accessible)
 *   file:PATH         (also file://PATH; a bare /path in a URI's pin-source)
 *   env:NAME          the variable NAME (wiped and unset from the environment after)
 *   credential:NAME   $CREDENTIALS_DIRECTORY/NAME: a systemd credential
 *                     (LoadCredential=, LoadCredentialEncrypted=); ERR_NOT_FOUND
 *                     outside such a unit
 *   prompt            asked on the controlling tty without echo (ERR_UNSUPPORTED
 *                     without one)
 *   tpm2-sealed:PATH  unsealed from a TPM blob made by hsm_tpm_seal() (TPM at tcti)
 * Only the first line counts; 1..LIMIT_PIN_LEN bytes, no NUL.
 * *pin is NUL-terminated, in secure memory: free with secmem_free().
 * ERR_INVALID_ARG (unknown source), ERR_NOT_FOUND, ERR_PERMISSION,
 * ERR_FORMAT, ERR_TOO_LARGE, ERR_AUTH (PCR policy not met), ERR_TPM.
 */
int hsm_pin_read(const char *source, const char *tcti, char **pin) WARN_UNUSED;

/*
 * Seal a small secret (1..128 bytes, e.g. a PIN) to the TPM at tcti,
 * optionally under a PolicyPCR over `pcrs` ("sha256:16", "sha256:0,7,16",
 * "sha1:N"; NULL: no policy, else USERWITHAUTH stays off so the empty
 * password cannot bypass it) over the PCR values at sealing time, into
 * blob_path (mode 0600, atomic replace). The secret travels to the TPM in a
 * salted, encrypting session. Unseal (any process) gives the secret back in
 * secure memory (free with secmem_free); ERR_AUTH when the PCRs changed.
 * Both return ERR_UNSUPPORTED when built with -Dtpm2=false.
 */
int hsm_tpm_seal(const char *tcti, const uint8_t *secret, size_t len, const char *pcrs,
		 const char *blob_path) WARN_UNUSED;
int hsm_tpm_unseal(const char *tcti, const char *blob_path, uint8_t **secret, size_t *len)
	WARN_UNUSED;

/*
 * The rollback counter: a TPM 2.0 NV index of type TPM2_NT_COUNTER (its value
 * can only grow, and an index deleted and defined again starts above the
 * highest value any counter of that TPM held) that keeps the highest bundle
 * serial an appliance accepted, so that deleting or restoring its state file
 * cannot roll the bundle back. The index is HSM_ROLLBACK_NV_INDEX (in the
 * range the TCG registry leaves unassigned), 8 bytes, attributes exactly
 * AUTHREAD | AUTHWRITE | NO_DA with an empty authorization and name
 * algorithm SHA-256; never ORDERLY (an orderly counter may jump ahead after
 * a power loss). Defining it needs the owner hierarchy (empty owner
 * authorization).
 *
 * Each call connects to the TPM at tcti and disconnects, unless this process
 * already holds a connection to that TPM (hsm_open of the same TCTI: the
 * appliance key), which is then shared: a TPM without a resource manager
 * (swtpm, /dev/tpm0) serves one connection at a time.
 *
 * Errors: ERR_NOT_FOUND (the index is not defined), ERR_FORMAT (an index
 * with other attributes, size or type is there: not ours), ERR_EXISTS
 * (define: already defined), ERR_BUSY (the TPM rate-limits NV writes; try
 * again later), ERR_TPM with the TSS2 code, ERR_UNSUPPORTED without tpm2.
 */
#define HSM_ROLLBACK_NV_INDEX 0x018C0FFEU
#define HSM_COUNTER_MAX_STEPS 100000 /* increments one hsm_counter_advance may make */

/* Define the index and increment it once; *value gets its first value (1 on
 * a TPM that never had a counter). */
int hsm_counter_define(const char *tcti, uint32_t index, uint64_t *value) WARN_UNUSED;
/* The counter's value, after checking the index is ours; *written is 0 (and
 * *value 0) while it was never incremented. */
int hsm_counter_read(const char *tcti, uint32_t index, uint64_t *value, int *written) WARN_UNUSED;
/*
 * Increment the counter until its value is at least target; *value gets the
 * value reached (above target if it already was, or when a never-written
 * counter starts high). ERR_TOO_LARGE, before any increment, if that takes
 * more than HSM_COUNTER_MAX_STEPS. A failure part-way leaves the counter
 * between its old value and target.
 */
int hsm_counter_advance(const char *tcti, uint32_t index, uint64_t target, uint64_t *value)
	WARN_UNUSED;

#endif

// SPDX-License-Identifier: ISC
#ifndef COFFER_HSM_INT_H
#define COFFER_HSM_INT_H

/*
 * Internals shared by hsm.c (dispatch, software keys), hsm_p11.c (PKCS#11),
 * hsm_tpm.c (TPM 2.0) and hsm_pin.c (PIN sources). Not for other modules.
 */

#include <pthread.h>

#include <p11-kit/pkcs11.h>

#include "config.h"
#include "hsm.h"

#define HSM_DESC_MAX 256
#define HSM_NAME_MAX 512
#define HSM_P11_RETRIES 3          /* reopen-and-retry rounds on a lost session */
#define HSM_P11_MAX_SESSIONS 64    /* pooled sessions per token */
#define HSM_P11_MAX_OBJECTS 1024   /* objects hsm_list walks */
#define HSM_P11_ID_LEN 20          /* CKA_ID of generated keys: SHA-256(point) prefix */
#define HSM_EC_POINT_MAX 133       /* 04 || X || Y for P-521 */
#define HSM_BLOB_MAX (16 * 1024)   /* a TPM key or sealed blob file */
#define HSM_SEAL_MAX 128           /* bytes hsm_tpm_seal accepts (TPM2B_SENSITIVE_DATA) */
#define HSM_TPM_RETRIES 2          /* tries of a TPM command when the TPM lost our key/session */

struct hsm_p11;
struct hsm_tpm;

struct hsm {
	enum hsm_backend backend;
	char desc[HSM_DESC_MAX];
	unsigned have;                /* enum hsm_need the token offers */
	struct hsm_p11 *p11;
	struct hsm_tpm *tpm;
};

struct hsm_key {
	struct hsm *h;                /* NULL for software keys without an hsm */
	enum hsm_backend backend;
	char name[HSM_NAME_MAX];
	EVP_PKEY *pub;                /* public part (P-256 or P-384) */
	int bits;                     /* 256 or 384 */
	/* software */
	EVP_PKEY *priv;
	/* PKCS#11 */
	pthread_mutex_t lock;         /* guards handle and the copy while they are refreshed */
	int lock_ready;
	CK_OBJECT_HANDLE handle;      /* private key object */
	CK_OBJECT_HANDLE copy;        /* its working copy, a session object (hsm_p11.c) */
	int copy_state;               /* HSM_COPY_* */
	unsigned copy_gen;            /* the holder session it was made in */
	uint8_t id[64];
	size_t id_len;
	char label[HSM_NAME_MAX];
	int has_label;
	/* TPM */
	uint32_t tpm_handle;          /* ESYS_TR of the loaded key */
	void *tpm_blob;               /* struct tpm_blob, to load it again */
};

/* hsm.c */
int hsm_key_new(struct hsm *h, enum hsm_backend backend, const char *name,
		struct hsm_key **out) WARN_UNUSED;
/* EC public key from curve bits and an uncompressed point. */
int hsm_ec_public(int bits, const uint8_t *pt, size_t len, EVP_PKEY **out) WARN_UNUSED;

/* hsm_p11.c */
enum { HSM_COPY_UNTRIED, HSM_COPY_MADE, HSM_COPY_REFUSED };
int hsm_p11_open(struct hsm *h, const struct hsm_config *cfg) WARN_UNUSED;
void hsm_p11_close(struct hsm *h);
int hsm_p11_key_open(struct hsm *h, const char *name, struct hsm_key **out) WARN_UNUSED;
void hsm_p11_key_free(struct hsm_key *k);
void hsm_p11_key_renew(struct hsm_key *k);
int hsm_p11_ecdh(struct hsm_key *k, const uint8_t *peer, size_t peer_len,
		 uint8_t out[static P256_DH_LEN]) WARN_UNUSED;
int hsm_p11_sign(struct hsm_key *k, const uint8_t *digest, size_t len, struct buf *sig)
	WARN_UNUSED;
int hsm_p11_generate(struct hsm *h, const char *label, unsigned usage, struct hsm_key **out)
	WARN_UNUSED;
int hsm_p11_import_public(struct hsm *h, const char *label, EVP_PKEY *pub) WARN_UNUSED;
int hsm_p11_find_public(struct hsm *h, const char *label, EVP_PKEY **out) WARN_UNUSED;
int hsm_p11_list(struct hsm *h, int (*fn)(const struct hsm_key_info *, void *), void *arg)
	WARN_UNUSED;

/* hsm_tpm.c (stubs returning ERR_UNSUPPORTED without tpm2) */
int hsm_tpm_open(struct hsm *h, const struct hsm_config *cfg) WARN_UNUSED;
void hsm_tpm_close(struct hsm *h);
int hsm_tpm_key_open(struct hsm *h, const char *path, struct hsm_key **out) WARN_UNUSED;
void hsm_tpm_key_free(struct hsm_key *k);
int hsm_tpm_ecdh(struct hsm_key *k, const uint8_t *peer, size_t peer_len,
		 uint8_t out[static P256_DH_LEN]) WARN_UNUSED;
int hsm_tpm_sign(struct hsm_key *k, const uint8_t *digest, size_t len, struct buf *sig)
	WARN_UNUSED;
int hsm_tpm_generate(struct hsm *h, unsigned usage, const char *blob_path, struct hsm_key **out)
	WARN_UNUSED;

/* hsm_pin.c: a PIN source string into secure memory (same as hsm_pin_read). */
int hsm_pin_from_uri_source(const char *source, const char *tcti, char **pin) WARN_UNUSED;

#endif

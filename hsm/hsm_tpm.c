// SPDX-License-Identifier: ISC
/*
 * TPM 2.0 backend through tpm2-tss ESYS: a P-256 key under a deterministic
 * primary (the standard ECC P-256 storage template, recreated when needed and
 * flushed after, so no persistent handle and only one object slot held per
 * key), ECDH with TPM2_ECDH_ZGen, ECDSA-SHA256 with TPM2_Sign, and PIN
 * sealing (optionally under PolicyPCR), and the NV rollback counter. One ESYS
 * context per struct hsm, serialised by a mutex.
 *
 * Blob file (all integers big-endian, parsed with struct buf):
 *   "COFFTPM\0" | u16 version=1 | u8 kind (1 key, 2 sealed) | u8 flags
 *   (1: PCR policy) | u16 len | TPM2B_PUBLIC | u16 len | TPM2B_PRIVATE
 *   [flags & 1: u16 len | TPML_PCR_SELECTION]
 * TPM structures in their TPM wire form (tss2-mu).
 */
#include "hsm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "hsm_int.h"
#include "log.h"
#include "secmem.h"

#if COFFER_HAVE_TPM2

#include <stdarg.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#define BLOB_MAGIC "COFFTPM"
#define BLOB_MAGIC_LEN 8
#define BLOB_VERSION 1
#define BLOB_KIND_KEY 1
#define BLOB_KIND_SEALED 2
#define BLOB_FLAG_PCR 1

struct hsm_tpm {
	ESYS_CONTEXT *ctx;
	TSS2_TCTI_CONTEXT *tcti;
	char tcti_name[HSM_DESC_MAX];
	int plain;
	ESYS_TR session; /* salted HMAC session; ESYS_TR_NONE in plain mode */
	pthread_mutex_t lock;
};

struct tpm_blob {
	uint8_t kind, flags;
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
	TPML_PCR_SELECTION pcrs;
};

static const TPMT_SYM_DEF sym_aes128cfb = {
	.algorithm = TPM2_ALG_AES,
	.keyBits = { .aes = 128 },
	.mode = { .aes = TPM2_ALG_CFB },
};

/* "what: <Tss2_RC_Decode> (0x...)" with the given code. */
static int PRINTF_LIKE(3, 4) tss_err(TSS2_RC rc, int code, const char *fmt, ...)
{
	char what[HSM_NAME_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return err_set(code, "%s: %s (0x%x)", what, Tss2_RC_Decode(rc), (unsigned)rc);
}

static int auth_failed(TSS2_RC rc)
{
	TSS2_RC base = rc & (TPM2_RC_FMT1 | 0x3f);

	return base == TPM2_RC_POLICY_FAIL || base == TPM2_RC_AUTH_FAIL ||
	       base == TPM2_RC_BAD_AUTH || base == TPM2_RC_PCR_CHANGED;
}

/* The TPM no longer has our key or session (flushed by someone, TPM reset). */
static int tpm_lost(TSS2_RC rc)
{
	if ((rc & TSS2_RC_LAYER_MASK) != 0)
		return 0; /* not a TPM response */
	if (rc & TPM2_RC_FMT1)
		return (rc & (TPM2_RC_FMT1 | 0x3f)) == TPM2_RC_HANDLE;
	return (rc >= TPM2_RC_REFERENCE_H0 && rc <= TPM2_RC_REFERENCE_S0 + 6) ||
	       rc == TPM2_RC_INITIALIZE;
}

static void tpm_disconnect(ESYS_CONTEXT **ctx, TSS2_TCTI_CONTEXT **tcti)
{
	if (*ctx != NULL)
		Esys_Finalize(ctx);
	if (*tcti != NULL)
		Tss2_TctiLdr_Finalize(tcti);
	*ctx = NULL;
	*tcti = NULL;
}

static int tpm_connect(const char *tcti_name, TSS2_TCTI_CONTEXT **tcti, ESYS_CONTEXT **ctx)
{
	TSS2_RC rc;

	*tcti = NULL;
	*ctx = NULL;
	if ((rc = Tss2_TctiLdr_Initialize(tcti_name, tcti)) != TSS2_RC_SUCCESS)
		return tss_err(rc, ERR_TPM, "connect to TPM %s (Tss2_TctiLdr_Initialize)",
			       tcti_name ? tcti_name : "(default)");
	if ((rc = Esys_Initialize(ctx, *tcti, NULL)) != TSS2_RC_SUCCESS) {
		tpm_disconnect(ctx, tcti);
		return tss_err(rc, ERR_TPM, "connect to TPM %s (Esys_Initialize)",
			       tcti_name ? tcti_name : "(default)");
	}
	return 0;
}

/* The standard ECC P-256 storage primary in the owner hierarchy: deterministic. */
static int tpm_primary(ESYS_CONTEXT *ctx, ESYS_TR *out)
{
	TPM2B_SENSITIVE_CREATE sens = { 0 };
	TPM2B_PUBLIC tmpl = {
		.publicArea = {
			.type = TPM2_ALG_ECC,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					    TPMA_OBJECT_SENSITIVEDATAORIGIN |
					    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
					    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
			.parameters.eccDetail = {
				.symmetric = {
					.algorithm = TPM2_ALG_AES,
					.keyBits = { .aes = 128 },
					.mode = { .aes = TPM2_ALG_CFB },
				},
				.scheme = { .scheme = TPM2_ALG_NULL },
				.curveID = TPM2_ECC_NIST_P256,
				.kdf = { .scheme = TPM2_ALG_NULL },
			},
			.unique.ecc = { .x = { .size = 32 }, .y = { .size = 32 } },
		},
	};
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION none = { 0 };
	TSS2_RC rc;

	*out = ESYS_TR_NONE;
	rc = Esys_CreatePrimary(ctx, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				ESYS_TR_NONE, &sens, &tmpl, &outside, &none, out, NULL, NULL,
				NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		*out = ESYS_TR_NONE;
		return tss_err(rc, ERR_TPM, "create the storage primary (Esys_CreatePrimary)");
	}
	return 0;
}

static void flush(ESYS_CONTEXT *ctx, ESYS_TR *h)
{
	if (*h != ESYS_TR_NONE && *h != ESYS_TR_PASSWORD)
		(void)Esys_FlushContext(ctx, *h);
	*h = ESYS_TR_NONE;
}

/* A session salted with the primary, AES-128-CFB parameter encryption. */
static int tpm_salted(ESYS_CONTEXT *ctx, ESYS_TR primary, TPM2_SE type, ESYS_TR *out)
{
	TSS2_RC rc;

	rc = Esys_StartAuthSession(ctx, primary, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				   ESYS_TR_NONE, NULL, type, &sym_aes128cfb, TPM2_ALG_SHA256, out);
	if (rc != TSS2_RC_SUCCESS) {
		*out = ESYS_TR_NONE;
		return tss_err(rc, ERR_TPM, "start a salted session (Esys_StartAuthSession)");
	}
	return 0;
}

static int set_attrs(ESYS_CONTEXT *ctx, ESYS_TR s, TPMA_SESSION attrs)
{
	TSS2_RC rc;

	if (s == ESYS_TR_PASSWORD || s == ESYS_TR_NONE)
		return 0;
	if ((rc = Esys_TRSess_SetAttributes(ctx, s, attrs, 0xff)) != TSS2_RC_SUCCESS)
		return tss_err(rc, ERR_TPM, "session attributes");
	return 0;
}

/* --- blobs --------------------------------------------------------------- */

static int blob_write(const char *path, const struct tpm_blob *b, int overwrite)
{
	uint8_t tmp[sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE) + sizeof(TPML_PCR_SELECTION)];
	struct buf *out = NULL;
	size_t off;
	TSS2_RC rc;
	int r;

	if ((out = buf_new(HSM_BLOB_MAX)) == NULL)
		return ERR_ALLOC;
	if ((r = buf_put(out, BLOB_MAGIC, BLOB_MAGIC_LEN)) != 0 ||
	    (r = buf_put_u16(out, BLOB_VERSION)) != 0 || (r = buf_put_u8(out, b->kind)) != 0 ||
	    (r = buf_put_u8(out, b->flags)) != 0)
		goto out;
	off = 0;
	if ((rc = Tss2_MU_TPM2B_PUBLIC_Marshal(&b->pub, tmp, sizeof(tmp), &off)) != 0) {
		r = tss_err(rc, ERR_INTERNAL, "write %s: TPM2B_PUBLIC", path);
		goto out;
	}
	if ((r = buf_put_string16(out, tmp, off)) != 0)
		goto out;
	off = 0;
	if ((rc = Tss2_MU_TPM2B_PRIVATE_Marshal(&b->priv, tmp, sizeof(tmp), &off)) != 0) {
		r = tss_err(rc, ERR_INTERNAL, "write %s: TPM2B_PRIVATE", path);
		goto out;
	}
	if ((r = buf_put_string16(out, tmp, off)) != 0)
		goto out;
	if (b->flags & BLOB_FLAG_PCR) {
		off = 0;
		if ((rc = Tss2_MU_TPML_PCR_SELECTION_Marshal(&b->pcrs, tmp, sizeof(tmp), &off)) !=
		    0) {
			r = tss_err(rc, ERR_INTERNAL, "write %s: TPML_PCR_SELECTION", path);
			goto out;
		}
		if ((r = buf_put_string16(out, tmp, off)) != 0)
			goto out;
	}
	r = overwrite ? file_write_atomic(path, buf_ptr(out), buf_len(out), 0600)
		      : file_write_new(path, buf_ptr(out), buf_len(out), 0600);
out:
	buf_free(out);
	return r;
}

/* Parse a blob file's bytes (untrusted: bounds-checked, exact lengths, no trailing data). */
static int blob_parse(const uint8_t *data, size_t size, const char *path, uint8_t want_kind,
		      struct tpm_blob *b)
{
	struct buf *in = NULL;
	const uint8_t *p;
	uint8_t magic[BLOB_MAGIC_LEN];
	uint16_t version;
	size_t len, off;
	int r;

	memset(b, 0, sizeof(*b));
	if ((in = buf_from(data, size)) == NULL)
		return ERR_ALLOC;
	if (buf_get(in, magic, sizeof(magic)) != 0 ||
	    memcmp(magic, BLOB_MAGIC, BLOB_MAGIC_LEN) != 0) {
		r = err_set(ERR_FORMAT, "%s is not a coffer TPM blob", path);
		goto out;
	}
	if (buf_get_u16(in, &version) != 0 || buf_get_u8(in, &b->kind) != 0 ||
	    buf_get_u8(in, &b->flags) != 0)
		goto bad;
	if (version != BLOB_VERSION) {
		r = err_set(ERR_UNSUPPORTED, "TPM blob %s: version %u (this build reads %d)", path,
			    version, BLOB_VERSION);
		goto out;
	}
	if (b->kind != want_kind) {
		r = err_set(ERR_FORMAT, "TPM blob %s holds a %s, not a %s", path,
			    b->kind == BLOB_KIND_KEY ? "key" : "sealed secret",
			    want_kind == BLOB_KIND_KEY ? "key" : "sealed secret");
		goto out;
	}
	if ((b->flags & ~BLOB_FLAG_PCR) != 0 || (b->kind == BLOB_KIND_KEY && b->flags != 0))
		goto bad;
	if (buf_get_string16_direct(in, &p, &len, sizeof(TPM2B_PUBLIC)) != 0)
		goto bad;
	off = 0;
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(p, len, &off, &b->pub) != 0 || off != len)
		goto bad;
	if (buf_get_string16_direct(in, &p, &len, sizeof(TPM2B_PRIVATE)) != 0)
		goto bad;
	off = 0;
	if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(p, len, &off, &b->priv) != 0 || off != len)
		goto bad;
	if (b->flags & BLOB_FLAG_PCR) {
		if (buf_get_string16_direct(in, &p, &len, sizeof(TPML_PCR_SELECTION)) != 0)
			goto bad;
		off = 0;
		if (Tss2_MU_TPML_PCR_SELECTION_Unmarshal(p, len, &off, &b->pcrs) != 0 ||
		    off != len || b->pcrs.count == 0)
			goto bad;
	}
	if (buf_expect_end(in) != 0)
		goto bad;
	r = 0;
	goto out;
bad:
	r = err_set(ERR_FORMAT, "TPM blob %s is malformed", path);
out:
	buf_free(in);
	return r;
}

static int blob_read(const char *path, uint8_t want_kind, struct tpm_blob *b)
{
	struct buf *in = NULL;
	int r;

	memset(b, 0, sizeof(*b));
	if ((r = file_read_private(path, HSM_BLOB_MAX, &in)) != 0)
		return err_wrap(r, "TPM blob");
	r = blob_parse(buf_ptr(in), buf_len(in), path, want_kind, b);
	buf_free(in);
	return r;
}

/* --- the backend --------------------------------------------------------- */

static void tpm_lock(struct hsm_tpm *t)
{
	if (pthread_mutex_lock(&t->lock) != 0)
		fatal("TPM lock");
}

static void tpm_unlock(struct hsm_tpm *t)
{
	pthread_mutex_unlock(&t->lock);
}

/*
 * The TPM connections this process holds (hsm_tpm_open), by TCTI: the
 * counter functions share one instead of opening a second connection, which
 * a TPM without a resource manager would not serve until the first closes.
 */
#define TPM_OPEN_MAX 8
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hsm_tpm *open_tpms[TPM_OPEN_MAX];

static void open_register(struct hsm_tpm *t, int add)
{
	size_t i;

	pthread_mutex_lock(&open_lock);
	for (i = 0; i < TPM_OPEN_MAX; i++) {
		if (add && open_tpms[i] == NULL) {
			open_tpms[i] = t;
			break;
		}
		if (!add && open_tpms[i] == t)
			open_tpms[i] = NULL;
	}
	pthread_mutex_unlock(&open_lock);
}

/* The open connection to tcti, locked, or NULL: release with tpm_unlock(). */
static struct hsm_tpm *open_find_locked(const char *tcti)
{
	struct hsm_tpm *t = NULL;
	size_t i;

	pthread_mutex_lock(&open_lock);
	for (i = 0; i < TPM_OPEN_MAX && t == NULL; i++)
		if (open_tpms[i] != NULL &&
		    strcmp(open_tpms[i]->tcti_name, tcti != NULL ? tcti : "(default)") == 0)
			t = open_tpms[i];
	if (t != NULL)
		tpm_lock(t);
	pthread_mutex_unlock(&open_lock);
	return t;
}

int hsm_tpm_open(struct hsm *h, const struct hsm_config *cfg)
{
	struct hsm_tpm *t;
	ESYS_TR primary = ESYS_TR_NONE;
	int r;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return ERR_ALLOC;
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t);
		return err_sys("mutex");
	}
	h->tpm = t;
	t->session = ESYS_TR_NONE;
	t->plain = cfg->tpm_plain_session;
	snprintf(t->tcti_name, sizeof(t->tcti_name), "%s", cfg->tcti ? cfg->tcti : "(default)");
	if ((r = tpm_connect(cfg->tcti, &t->tcti, &t->ctx)) != 0)
		goto out;
	if (!t->plain) {
		if ((r = tpm_primary(t->ctx, &primary)) != 0 ||
		    (r = tpm_salted(t->ctx, primary, TPM2_SE_HMAC, &t->session)) != 0)
			goto out;
	}
	h->have = HSM_NEED_ECDH | HSM_NEED_SIGN | HSM_NEED_KEYGEN;
	snprintf(h->desc, sizeof(h->desc), "TPM 2.0 %s (%s)", t->tcti_name,
		 t->plain ? "password sessions" : "salted, encrypting session");
	open_register(t, 1);
	r = 0;
out:
	if (t->ctx != NULL)
		flush(t->ctx, &primary);
	if (r != 0)
		hsm_tpm_close(h);
	return r;
}

void hsm_tpm_close(struct hsm *h)
{
	struct hsm_tpm *t = h->tpm;

	if (t == NULL)
		return;
	open_register(t, 0);
	/* Wait for a counter call that borrowed the connection. */
	tpm_lock(t);
	tpm_unlock(t);
	if (t->ctx != NULL)
		flush(t->ctx, &t->session);
	tpm_disconnect(&t->ctx, &t->tcti);
	pthread_mutex_destroy(&t->lock);
	free(t);
	h->tpm = NULL;
}

/* The 65-byte point of a loaded ECC public area. */
static int public_point(const TPM2B_PUBLIC *pub, const char *what, uint8_t pt[P256_POINT_LEN])
{
	const TPMS_ECC_POINT *e = &pub->publicArea.unique.ecc;

	if (pub->publicArea.type != TPM2_ALG_ECC ||
	    pub->publicArea.parameters.eccDetail.curveID != TPM2_ECC_NIST_P256)
		return err_set(ERR_UNSUPPORTED, "TPM key %s is not a P-256 key", what);
	if (e->x.size > 32 || e->y.size > 32)
		return err_set(ERR_FORMAT, "TPM key %s: bad point", what);
	memset(pt, 0, P256_POINT_LEN);
	pt[0] = 0x04;
	memcpy(pt + 1 + 32 - e->x.size, e->x.buffer, e->x.size);
	memcpy(pt + 33 + 32 - e->y.size, e->y.buffer, e->y.size);
	return 0;
}

/* Load a key or sealed object under a fresh primary; the primary is flushed after. */
static int load_under_primary(ESYS_CONTEXT *ctx, const struct tpm_blob *b, const char *path,
			      ESYS_TR *obj)
{
	ESYS_TR primary = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	*obj = ESYS_TR_NONE;
	if ((r = tpm_primary(ctx, &primary)) != 0)
		return r;
	rc = Esys_Load(ctx, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &b->priv,
		       &b->pub, obj);
	if (rc != TSS2_RC_SUCCESS) {
		*obj = ESYS_TR_NONE;
		r = tss_err(rc, ERR_TPM, "load %s into the TPM (Esys_Load; made by another TPM?)",
			    path);
	}
	flush(ctx, &primary);
	return r;
}

static int key_from_blob(struct hsm *h, const char *path, const struct tpm_blob *b,
			 struct hsm_key **out)
{
	struct hsm_tpm *t = h->tpm;
	struct hsm_key *k = NULL;
	uint8_t pt[P256_POINT_LEN];
	ESYS_TR obj = ESYS_TR_NONE;
	int r;

	*out = NULL;
	if ((r = public_point(&b->pub, path, pt)) != 0)
		return r;
	if ((r = hsm_key_new(h, HSM_BACKEND_TPM2, path, &k)) != 0)
		return r;
	k->tpm_handle = ESYS_TR_NONE;
	if ((r = pkey_from_point(pt, sizeof(pt), &k->pub)) != 0)
		goto out;
	if ((k->tpm_blob = malloc(sizeof(*b))) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	memcpy(k->tpm_blob, b, sizeof(*b));
	tpm_lock(t);
	r = load_under_primary(t->ctx, b, path, &obj);
	tpm_unlock(t);
	if (r != 0)
		goto out;
	k->tpm_handle = obj;
	*out = k;
	k = NULL;
out:
	hsm_key_free(k);
	return r;
}

int hsm_tpm_key_open(struct hsm *h, const char *path, struct hsm_key **out)
{
	struct tpm_blob b;
	int r;

	if ((r = blob_read(path, BLOB_KIND_KEY, &b)) != 0)
		return r;
	return key_from_blob(h, path, &b, out);
}

void hsm_tpm_key_free(struct hsm_key *k)
{
	struct hsm_tpm *t;

	if (k->tpm_blob != NULL) {
		secmem_zero(k->tpm_blob, sizeof(struct tpm_blob));
		free(k->tpm_blob);
		k->tpm_blob = NULL;
	}
	if (k->h == NULL || (t = k->h->tpm) == NULL)
		return;
	tpm_lock(t);
	flush(t->ctx, &k->tpm_handle);
	tpm_unlock(t);
}

/* Forget a handle the TPM no longer knows (flush if it still does). */
static void drop_handle(ESYS_CONTEXT *ctx, ESYS_TR *h)
{
	if (*h == ESYS_TR_NONE || *h == ESYS_TR_PASSWORD)
		return;
	if (Esys_FlushContext(ctx, *h) != TSS2_RC_SUCCESS)
		(void)Esys_TR_Close(ctx, h);
	*h = ESYS_TR_NONE;
}

/*
 * After tpm_lost(): start the salted session again and load k again.
 * Called with t->lock held.
 */
static int tpm_recover(struct hsm_tpm *t, struct hsm_key *k, TSS2_RC rc)
{
	ESYS_TR primary = ESYS_TR_NONE, obj = ESYS_TR_NONE;
	int r;

	log_warn("TPM key %s: %s (0x%x); starting the session and loading the key again",
		 k->name, Tss2_RC_Decode(rc), (unsigned)rc);
	if (!t->plain) {
		drop_handle(t->ctx, &t->session);
		if ((r = tpm_primary(t->ctx, &primary)) != 0)
			return r;
		r = tpm_salted(t->ctx, primary, TPM2_SE_HMAC, &t->session);
		flush(t->ctx, &primary);
		if (r != 0)
			return r;
	}
	drop_handle(t->ctx, (ESYS_TR *)&k->tpm_handle);
	if ((r = load_under_primary(t->ctx, k->tpm_blob, k->name, &obj)) != 0)
		return r;
	k->tpm_handle = obj;
	return 0;
}

int hsm_tpm_generate(struct hsm *h, unsigned usage, const char *blob_path, struct hsm_key **out)
{
	struct hsm_tpm *t = h->tpm;
	TPM2B_SENSITIVE_CREATE sens = { 0 };
	TPM2B_PUBLIC tmpl = {
		.publicArea = {
			.type = TPM2_ALG_ECC,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					    TPMA_OBJECT_SENSITIVEDATAORIGIN |
					    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA,
			.parameters.eccDetail = {
				.symmetric = { .algorithm = TPM2_ALG_NULL },
				/* NULL scheme: ZGen and Sign (scheme given per call) both work */
				.scheme = { .scheme = TPM2_ALG_NULL },
				.curveID = TPM2_ECC_NIST_P256,
				.kdf = { .scheme = TPM2_ALG_NULL },
			},
		},
	};
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION none = { 0 };
	TPM2B_PUBLIC *opub = NULL;
	TPM2B_PRIVATE *opriv = NULL;
	ESYS_TR primary = ESYS_TR_NONE;
	struct tpm_blob b;
	TSS2_RC rc;
	int r;

	if (usage & HSM_USAGE_DERIVE)
		tmpl.publicArea.objectAttributes |= TPMA_OBJECT_DECRYPT;
	if (usage & HSM_USAGE_SIGN)
		tmpl.publicArea.objectAttributes |= TPMA_OBJECT_SIGN_ENCRYPT;
	if (access(blob_path, F_OK) == 0)
		return err_set(ERR_EXISTS, "generate TPM key: %s exists; not overwriting",
			       blob_path);
	tpm_lock(t);
	if ((r = tpm_primary(t->ctx, &primary)) != 0)
		goto unlock;
	rc = Esys_Create(t->ctx, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
			 &tmpl, &outside, &none, &opriv, &opub, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS)
		r = tss_err(rc, ERR_TPM, "generate P-256 key for %s (Esys_Create)", blob_path);
	flush(t->ctx, &primary);
unlock:
	tpm_unlock(t);
	if (r != 0)
		goto out;
	memset(&b, 0, sizeof(b));
	b.kind = BLOB_KIND_KEY;
	b.pub = *opub;
	b.priv = *opriv;
	if ((r = blob_write(blob_path, &b, 0)) != 0)
		goto out;
	r = key_from_blob(h, blob_path, &b, out);
out:
	Esys_Free(opub);
	Esys_Free(opriv);
	return r;
}

int hsm_tpm_ecdh(struct hsm_key *k, const uint8_t *peer, size_t peer_len,
		 uint8_t out[static P256_DH_LEN])
{
	struct hsm_tpm *t = k->h->tpm;
	TPM2B_ECC_POINT in = { .size = 2 + 32 + 2 + 32 };
	TPM2B_ECC_POINT *z = NULL;
	TSS2_RC rc = 0;
	int r = 0, attempt;

	(void)peer_len; /* checked by hsm_key_ecdh: 65 bytes, on the curve */
	in.point.x.size = 32;
	memcpy(in.point.x.buffer, peer + 1, 32);
	in.point.y.size = 32;
	memcpy(in.point.y.buffer, peer + 33, 32);
	tpm_lock(t);
	for (attempt = 0; attempt < HSM_TPM_RETRIES; attempt++) {
		if (attempt > 0 && (r = tpm_recover(t, k, rc)) != 0)
			break;
		if ((r = set_attrs(t->ctx, t->session,
				   TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_DECRYPT |
					   TPMA_SESSION_ENCRYPT)) != 0)
			break;
		rc = Esys_ECDH_ZGen(t->ctx, (ESYS_TR)k->tpm_handle,
				    t->plain ? ESYS_TR_PASSWORD : t->session, ESYS_TR_NONE,
				    ESYS_TR_NONE, &in, &z);
		if (!tpm_lost(rc))
			break;
	}
	tpm_unlock(t);
	if (r != 0)
		goto out;
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_err(rc, ERR_TPM, "ECDH with TPM key %s (Esys_ECDH_ZGen)", k->name);
		goto out;
	}
	if (z->point.x.size == 0 || z->point.x.size > P256_DH_LEN) {
		r = err_set(ERR_TPM, "ECDH with TPM key %s: %u-byte result", k->name,
			    z->point.x.size);
		goto out;
	}
	memset(out, 0, P256_DH_LEN);
	memcpy(out + P256_DH_LEN - z->point.x.size, z->point.x.buffer, z->point.x.size);
	r = 0;
out:
	if (z != NULL) {
		secmem_zero(z, sizeof(*z));
		Esys_Free(z);
	}
	return r;
}

int hsm_tpm_sign(struct hsm_key *k, const uint8_t *digest, size_t len, struct buf *sig)
{
	struct hsm_tpm *t = k->h->tpm;
	TPM2B_DIGEST d = { .size = (UINT16)len };
	TPMT_SIG_SCHEME scheme = {
		.scheme = TPM2_ALG_ECDSA,
		.details = { .ecdsa = { .hashAlg = TPM2_ALG_SHA256 } },
	};
	TPMT_TK_HASHCHECK check = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
	TPMT_SIGNATURE *s = NULL;
	const TPM2B_ECC_PARAMETER *pr, *ps;
	uint8_t rs[64];
	TSS2_RC rc = 0;
	int r = 0, attempt;

	if (len != 32)
		return err_set(ERR_INVALID_ARG, "sign with TPM key %s: SHA-256 digest only", k->name);
	memcpy(d.buffer, digest, len);
	tpm_lock(t);
	for (attempt = 0; attempt < HSM_TPM_RETRIES; attempt++) {
		if (attempt > 0 && (r = tpm_recover(t, k, rc)) != 0)
			break;
		/* The response (TPMT_SIGNATURE) is not a sized buffer: no response encryption. */
		if ((r = set_attrs(t->ctx, t->session,
				   TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_DECRYPT)) != 0)
			break;
		rc = Esys_Sign(t->ctx, (ESYS_TR)k->tpm_handle,
			       t->plain ? ESYS_TR_PASSWORD : t->session, ESYS_TR_NONE,
			       ESYS_TR_NONE, &d, &scheme, &check, &s);
		if (!tpm_lost(rc))
			break;
	}
	tpm_unlock(t);
	if (r != 0)
		goto out;
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_err(rc, ERR_TPM, "sign with TPM key %s (Esys_Sign)", k->name);
		goto out;
	}
	pr = &s->signature.ecdsa.signatureR;
	ps = &s->signature.ecdsa.signatureS;
	if (s->sigAlg != TPM2_ALG_ECDSA || pr->size > 32 || ps->size > 32) {
		r = err_set(ERR_TPM, "sign with TPM key %s: unexpected signature", k->name);
		goto out;
	}
	memset(rs, 0, sizeof(rs));
	memcpy(rs + 32 - pr->size, pr->buffer, pr->size);
	memcpy(rs + 64 - ps->size, ps->buffer, ps->size);
	r = pkey_ecdsa_raw_to_der(rs, sizeof(rs), sig);
out:
	Esys_Free(s);
	return r;
}

/* --- sealing ------------------------------------------------------------- */

/* "sha256:16", "sha1:0,7", "sha256:0,7,16". */
static int parse_pcrs(const char *spec, TPML_PCR_SELECTION *sel)
{
	const char *p;
	char *end;
	unsigned long idx;
	TPMI_ALG_HASH alg;

	memset(sel, 0, sizeof(*sel));
	if (strncmp(spec, "sha256:", 7) == 0) {
		alg = TPM2_ALG_SHA256;
		p = spec + 7;
	} else if (strncmp(spec, "sha1:", 5) == 0) {
		alg = TPM2_ALG_SHA1;
		p = spec + 5;
	} else
		return err_set(ERR_INVALID_ARG, "PCR list \"%.100s\": want sha256:N[,N...]", spec);
	sel->count = 1;
	sel->pcrSelections[0].hash = alg;
	sel->pcrSelections[0].sizeofSelect = 3;
	for (;;) {
		if (*p < '0' || *p > '9')
			return err_set(ERR_INVALID_ARG, "PCR list \"%.100s\": bad number", spec);
		errno = 0;
		idx = strtoul(p, &end, 10);
		if (errno != 0 || idx > 23)
			return err_set(ERR_INVALID_ARG, "PCR list \"%.100s\": PCRs are 0..23", spec);
		sel->pcrSelections[0].pcrSelect[idx / 8] |= (uint8_t)(1U << (idx % 8));
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return err_set(ERR_INVALID_ARG, "PCR list \"%.100s\": bad separator", spec);
		p = end + 1;
	}
}

int hsm_tpm_seal(const char *tcti, const uint8_t *secret, size_t len, const char *pcrs,
		 const char *blob_path)
{
	TSS2_TCTI_CONTEXT *tc = NULL;
	ESYS_CONTEXT *ctx = NULL;
	ESYS_TR primary = ESYS_TR_NONE, sess = ESYS_TR_NONE, trial = ESYS_TR_NONE;
	TPM2B_SENSITIVE_CREATE sens = { 0 };
	TPM2B_PUBLIC tmpl = {
		.publicArea = {
			.type = TPM2_ALG_KEYEDHASH,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					    TPMA_OBJECT_NODA,
			.parameters.keyedHashDetail.scheme = { .scheme = TPM2_ALG_NULL },
		},
	};
	TPMT_SYM_DEF symnull = { .algorithm = TPM2_ALG_NULL };
	TPM2B_DIGEST empty = { 0 }, *policy = NULL;
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION none = { 0 };
	TPM2B_PUBLIC *opub = NULL;
	TPM2B_PRIVATE *opriv = NULL;
	struct tpm_blob b;
	TSS2_RC rc;
	int r;

	if (secret == NULL || blob_path == NULL)
		fatal("hsm_tpm_seal: NULL argument");
	memset(&b, 0, sizeof(b));
	if (len == 0 || len > HSM_SEAL_MAX)
		return err_set(ERR_INVALID_ARG, "seal: 1 to %d bytes, not %zu", HSM_SEAL_MAX, len);
	if (pcrs != NULL && (r = parse_pcrs(pcrs, &b.pcrs)) != 0)
		return r;
	if ((r = tpm_connect(tcti, &tc, &ctx)) != 0)
		return r;
	if ((r = tpm_primary(ctx, &primary)) != 0)
		goto out;
	if (pcrs != NULL) {
		b.flags = BLOB_FLAG_PCR;
		rc = Esys_StartAuthSession(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					   ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_TRIAL, &symnull,
					   TPM2_ALG_SHA256, &trial);
		if (rc != TSS2_RC_SUCCESS) {
			trial = ESYS_TR_NONE;
			r = tss_err(rc, ERR_TPM, "seal %s: trial policy session", blob_path);
			goto out;
		}
		if ((rc = Esys_PolicyPCR(ctx, trial, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					 &empty, &b.pcrs)) != TSS2_RC_SUCCESS) {
			r = tss_err(rc, ERR_TPM, "seal %s: PolicyPCR %s", blob_path, pcrs);
			goto out;
		}
		if ((rc = Esys_PolicyGetDigest(ctx, trial, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					       &policy)) != TSS2_RC_SUCCESS) {
			r = tss_err(rc, ERR_TPM, "seal %s: PolicyGetDigest", blob_path);
			goto out;
		}
		/* No USERWITHAUTH: the empty password must not bypass the policy. */
		tmpl.publicArea.authPolicy = *policy;
	} else
		tmpl.publicArea.objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
	sens.sensitive.data.size = (UINT16)len;
	memcpy(sens.sensitive.data.buffer, secret, len);
	/* The secret travels encrypted (first parameter, salted session). */
	if ((r = tpm_salted(ctx, primary, TPM2_SE_HMAC, &sess)) != 0 ||
	    (r = set_attrs(ctx, sess, TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_DECRYPT)) != 0)
		goto out;
	rc = Esys_Create(ctx, primary, sess, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside,
			 &none, &opriv, &opub, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_err(rc, ERR_TPM, "seal %s (Esys_Create)", blob_path);
		goto out;
	}
	b.kind = BLOB_KIND_SEALED;
	b.pub = *opub;
	b.priv = *opriv;
	r = blob_write(blob_path, &b, 1);
out:
	secmem_zero(&sens, sizeof(sens));
	Esys_Free(opub);
	Esys_Free(opriv);
	Esys_Free(policy);
	if (ctx != NULL) {
		flush(ctx, &trial);
		flush(ctx, &sess);
		flush(ctx, &primary);
	}
	tpm_disconnect(&ctx, &tc);
	return r;
}

int hsm_tpm_unseal(const char *tcti, const char *blob_path, uint8_t **secret, size_t *len)
{
	TSS2_TCTI_CONTEXT *tc = NULL;
	ESYS_CONTEXT *ctx = NULL;
	ESYS_TR primary = ESYS_TR_NONE, sess = ESYS_TR_NONE, obj = ESYS_TR_NONE;
	TPM2B_DIGEST empty = { 0 };
	TPM2B_SENSITIVE_DATA *data = NULL;
	struct tpm_blob b;
	uint8_t *out = NULL;
	TSS2_RC rc;
	int r;

	if (blob_path == NULL || secret == NULL || len == NULL)
		fatal("hsm_tpm_unseal: NULL argument");
	*secret = NULL;
	*len = 0;
	if ((r = blob_read(blob_path, BLOB_KIND_SEALED, &b)) != 0)
		return r;
	if ((r = tpm_connect(tcti, &tc, &ctx)) != 0)
		return r;
	if ((r = load_under_primary(ctx, &b, blob_path, &obj)) != 0)
		goto out;
	/* Salted, so the secret comes back encrypted; the policy session when sealed to PCRs. */
	if ((r = tpm_primary(ctx, &primary)) != 0 ||
	    (r = tpm_salted(ctx, primary,
			    (b.flags & BLOB_FLAG_PCR) ? TPM2_SE_POLICY : TPM2_SE_HMAC, &sess)) != 0)
		goto out;
	flush(ctx, &primary);
	if (b.flags & BLOB_FLAG_PCR) {
		if ((rc = Esys_PolicyPCR(ctx, sess, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
					 &empty, &b.pcrs)) != TSS2_RC_SUCCESS) {
			r = tss_err(rc, ERR_TPM, "unseal %s: PolicyPCR", blob_path);
			goto out;
		}
	}
	if ((r = set_attrs(ctx, sess, TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_ENCRYPT)) != 0)
		goto out;
	rc = Esys_Unseal(ctx, obj, sess, ESYS_TR_NONE, ESYS_TR_NONE, &data);
	if (rc != TSS2_RC_SUCCESS) {
		if (auth_failed(rc))
			r = tss_err(rc, ERR_AUTH,
				    "unseal %s: the PCR policy is not satisfied (PCRs changed "
				    "since sealing)",
				    blob_path);
		else
			r = tss_err(rc, ERR_TPM, "unseal %s (Esys_Unseal)", blob_path);
		goto out;
	}
	if (data->size == 0 || data->size > HSM_SEAL_MAX) {
		r = err_set(ERR_FORMAT, "unseal %s: %u bytes", blob_path, data->size);
		goto out;
	}
	if ((out = secmem_alloc(data->size)) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	memcpy(out, data->buffer, data->size);
	*len = data->size;
	*secret = out;
	r = 0;
out:
	if (data != NULL) {
		secmem_zero(data, sizeof(*data));
		Esys_Free(data);
	}
	if (ctx != NULL) {
		flush(ctx, &sess);
		flush(ctx, &primary);
		flush(ctx, &obj);
	}
	tpm_disconnect(&ctx, &tc);
	return r;
}

/* --- the NV rollback counter --------------------------------------------- */

#define COUNTER_ATTRS                                                                          \
	(TPMA_NV_AUTHREAD | TPMA_NV_AUTHWRITE | TPMA_NV_NO_DA |                                \
	 ((TPMA_NV)TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT))
#define COUNTER_SIZE 8

/* A connection for counter work: the process' own to that TPM, or a new one. */
struct counter_conn {
	struct hsm_tpm *shared; /* locked while held */
	ESYS_CONTEXT *ctx;
	TSS2_TCTI_CONTEXT *tcti;
	const char *name;
};

static int counter_connect(const char *tcti, struct counter_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->name = tcti != NULL ? tcti : "(default)";
	if ((c->shared = open_find_locked(tcti)) != NULL) {
		c->ctx = c->shared->ctx;
		return 0;
	}
	return tpm_connect(tcti, &c->tcti, &c->ctx);
}

static void counter_disconnect(struct counter_conn *c, ESYS_TR *nv)
{
	/* An NV index is not flushed: only our handle to it is closed. */
	if (c->ctx != NULL && *nv != ESYS_TR_NONE)
		(void)Esys_TR_Close(c->ctx, nv);
	*nv = ESYS_TR_NONE;
	if (c->shared != NULL)
		tpm_unlock(c->shared);
	else
		tpm_disconnect(&c->ctx, &c->tcti);
	memset(c, 0, sizeof(*c));
}

static int rc_is(TSS2_RC rc, TSS2_RC want)
{
	if ((rc & TSS2_RC_LAYER_MASK) != 0)
		return 0;
	if (rc & TPM2_RC_FMT1)
		return (rc & (TPM2_RC_FMT1 | 0x3f)) == want;
	return rc == want;
}

/* Our index, checked: ERR_NOT_FOUND if undefined, ERR_FORMAT if not a counter of ours. */
static int counter_open(struct counter_conn *c, uint32_t index, ESYS_TR *nv, int *written)
{
	TPM2B_NV_PUBLIC *pub = NULL;
	const TPMS_NV_PUBLIC *p;
	TSS2_RC rc;
	int r = 0;

	*nv = ESYS_TR_NONE;
	*written = 0;
	rc = Esys_TR_FromTPMPublic(c->ctx, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, nv);
	if (rc != TSS2_RC_SUCCESS) {
		*nv = ESYS_TR_NONE;
		if (rc_is(rc, TPM2_RC_HANDLE))
			return err_set(ERR_NOT_FOUND,
				       "NV index 0x%08x is not defined on TPM %s (define it once with "
				       "'coffer-hsm rollback-counter --define')",
				       (unsigned)index, c->name);
		return tss_err(rc, ERR_TPM, "NV index 0x%08x on TPM %s (Esys_TR_FromTPMPublic)",
			       (unsigned)index, c->name);
	}
	rc = Esys_NV_ReadPublic(c->ctx, *nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return tss_err(rc, ERR_TPM, "NV index 0x%08x on TPM %s (Esys_NV_ReadPublic)",
			       (unsigned)index, c->name);
	p = &pub->nvPublic;
	if (p->nvIndex != index || p->nameAlg != TPM2_ALG_SHA256 || p->dataSize != COUNTER_SIZE ||
	    (p->attributes & ~(TPMA_NV)TPMA_NV_WRITTEN) != COUNTER_ATTRS ||
	    p->authPolicy.size != 0)
		r = err_set(ERR_FORMAT,
			    "NV index 0x%08x on TPM %s is not a coffer rollback counter "
			    "(attributes 0x%08x, %u bytes): another program's index?",
			    (unsigned)index, c->name, (unsigned)p->attributes,
			    (unsigned)p->dataSize);
	else
		*written = (p->attributes & TPMA_NV_WRITTEN) != 0;
	Esys_Free(pub);
	return r;
}

static int counter_value(struct counter_conn *c, uint32_t index, ESYS_TR nv, uint64_t *value)
{
	TPM2B_MAX_NV_BUFFER *data = NULL;
	struct buf *in = NULL;
	TSS2_RC rc;
	int r;

	*value = 0;
	rc = Esys_NV_Read(c->ctx, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
			  COUNTER_SIZE, 0, &data);
	if (rc != TSS2_RC_SUCCESS)
		return tss_err(rc, ERR_TPM, "read NV counter 0x%08x on TPM %s (Esys_NV_Read)",
			       (unsigned)index, c->name);
	/* The TPM's answer is read like any other outside bytes. */
	if ((in = buf_from(data->buffer, data->size)) == NULL) {
		r = ERR_ALLOC;
	} else if (buf_get_u64(in, value) != 0 || buf_expect_end(in) != 0) {
		*value = 0;
		r = err_set(ERR_TPM, "NV counter 0x%08x on TPM %s: %u bytes read, not %d",
			    (unsigned)index, c->name, (unsigned)data->size, COUNTER_SIZE);
	} else {
		r = 0;
	}
	buf_free(in);
	Esys_Free(data);
	return r;
}

static int counter_increment(struct counter_conn *c, uint32_t index, ESYS_TR nv)
{
	TSS2_RC rc;

	rc = Esys_NV_Increment(c->ctx, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
	if (rc == TSS2_RC_SUCCESS)
		return 0;
	if (rc_is(rc, TPM2_RC_NV_RATE))
		return tss_err(rc, ERR_BUSY,
			       "increment NV counter 0x%08x on TPM %s: the TPM limits NV writes; "
			       "try again later",
			       (unsigned)index, c->name);
	return tss_err(rc, ERR_TPM, "increment NV counter 0x%08x on TPM %s (Esys_NV_Increment)",
		       (unsigned)index, c->name);
}

int hsm_counter_define(const char *tcti, uint32_t index, uint64_t *value)
{
	TPM2B_AUTH auth = { .size = 0 };
	TPM2B_NV_PUBLIC info = {
		.nvPublic = {
			.nvIndex = index,
			.nameAlg = TPM2_ALG_SHA256,
			.attributes = COUNTER_ATTRS,
			.authPolicy = { .size = 0 },
			.dataSize = COUNTER_SIZE,
		},
	};
	struct counter_conn c;
	ESYS_TR nv = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	*value = 0;
	if ((r = counter_connect(tcti, &c)) != 0)
		return r;
	rc = Esys_NV_DefineSpace(c.ctx, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				 ESYS_TR_NONE, &auth, &info, &nv);
	if (rc != TSS2_RC_SUCCESS) {
		nv = ESYS_TR_NONE;
		if (rc_is(rc, TPM2_RC_NV_DEFINED))
			r = err_set(ERR_EXISTS, "NV index 0x%08x is already defined on TPM %s",
				    (unsigned)index, c.name);
		else
			r = tss_err(rc, ERR_TPM,
				    "define NV counter 0x%08x on TPM %s (Esys_NV_DefineSpace; the "
				    "owner hierarchy must have an empty authorization)",
				    (unsigned)index, c.name);
		goto out;
	}
	/* Written once now, so the value it starts from is known at provisioning. */
	if ((r = counter_increment(&c, index, nv)) != 0 ||
	    (r = counter_value(&c, index, nv, value)) != 0)
		goto out;
out:
	counter_disconnect(&c, &nv);
	return r;
}

int hsm_counter_read(const char *tcti, uint32_t index, uint64_t *value, int *written)
{
	struct counter_conn c;
	ESYS_TR nv = ESYS_TR_NONE;
	int r;

	*value = 0;
	*written = 0;
	if ((r = counter_connect(tcti, &c)) != 0)
		return r;
	if ((r = counter_open(&c, index, &nv, written)) == 0 && *written)
		r = counter_value(&c, index, nv, value);
	counter_disconnect(&c, &nv);
	return r;
}

int hsm_counter_advance(const char *tcti, uint32_t index, uint64_t target, uint64_t *value)
{
	struct counter_conn c;
	ESYS_TR nv = ESYS_TR_NONE;
	uint64_t v = 0, n;
	int r, r2, written;

	*value = 0;
	if ((r = counter_connect(tcti, &c)) != 0)
		return r;
	if ((r = counter_open(&c, index, &nv, &written)) != 0 ||
	    (written && (r = counter_value(&c, index, nv, &v)) != 0))
		goto out;
	if (v < target && target - v > HSM_COUNTER_MAX_STEPS) {
		r = err_set(ERR_TOO_LARGE,
			    "NV counter 0x%08x on TPM %s is at %llu: reaching %llu takes more than "
			    "%d increments",
			    (unsigned)index, c.name, (unsigned long long)v,
			    (unsigned long long)target, HSM_COUNTER_MAX_STEPS);
		goto out;
	}
	/* The first write starts a counter at a value of the TPM's choosing. */
	if (!written && ((r = counter_increment(&c, index, nv)) != 0 ||
			 (r = counter_value(&c, index, nv, &v)) != 0))
		goto out;
	/* Then one step at a time (a counter has no other way up), read back at the end. */
	for (n = v < target ? target - v : 0; n > 0; n--)
		if ((r = counter_increment(&c, index, nv)) != 0)
			break;
	if ((r2 = counter_value(&c, index, nv, &v)) != 0 && r == 0)
		r = r2;
out:
	*value = v;
	counter_disconnect(&c, &nv);
	return r;
}

#else /* !COFFER_HAVE_TPM2 */

static int no_tpm(const char *what)
{
	return err_set(ERR_UNSUPPORTED, "%s: built without TPM 2.0 support (-Dtpm2=false)", what);
}

int hsm_tpm_open(struct hsm *h, const struct hsm_config *cfg)
{
	(void)h;
	(void)cfg;
	return no_tpm("open TPM");
}

void hsm_tpm_close(struct hsm *h)
{
	(void)h;
}

int hsm_tpm_key_open(struct hsm *h, const char *path, struct hsm_key **out)
{
	(void)h;
	*out = NULL;
	return no_tpm(path);
}

void hsm_tpm_key_free(struct hsm_key *k)
{
	(void)k;
}

int hsm_tpm_generate(struct hsm *h, unsigned usage, const char *blob_path, struct hsm_key **out)
{
	(void)h;
	(void)usage;
	*out = NULL;
	return no_tpm(blob_path);
}

int hsm_tpm_ecdh(struct hsm_key *k, const uint8_t *peer, size_t peer_len,
		 uint8_t out[static P256_DH_LEN])
{
	(void)peer;
	(void)peer_len;
	(void)out;
	return no_tpm(k->name);
}

int hsm_tpm_sign(struct hsm_key *k, const uint8_t *digest, size_t len, struct buf *sig)
{
	(void)digest;
	(void)len;
	(void)sig;
	return no_tpm(k->name);
}

int hsm_tpm_seal(const char *tcti, const uint8_t *secret, size_t len, const char *pcrs,
		 const char *blob_path)
{
	(void)tcti;
	(void)secret;
	(void)len;
	(void)pcrs;
	(void)blob_path;
	return no_tpm("seal");
}

int hsm_tpm_unseal(const char *tcti, const char *blob_path, uint8_t **secret, size_t *len)
{
	(void)tcti;
	(void)blob_path;
	*secret = NULL;
	*len = 0;
	return no_tpm("unseal");
}

int hsm_counter_define(const char *tcti, uint32_t index, uint64_t *value)
{
	(void)tcti;
	(void)index;
	*value = 0;
	return no_tpm("NV counter");
}

int hsm_counter_read(const char *tcti, uint32_t index, uint64_t *value, int *written)
{
	(void)tcti;
	(void)index;
	*value = 0;
	*written = 0;
	return no_tpm("NV counter");
}

int hsm_counter_advance(const char *tcti, uint32_t index, uint64_t target, uint64_t *value)
{
	(void)tcti;
	(void)index;
	(void)target;
	*value = 0;
	return no_tpm("NV counter");
}

#endif

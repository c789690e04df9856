// SPDX-License-Identifier: ISC
/*
 * PKCS#11 backend: raw Cryptoki through a dlopen()ed module (no libp11 on the
 * hot path). One token per struct hsm; sessions are kept in a pool so that
 * every thread that works at the same time has its own long-lived, logged-in
 * session (login state is per token: we log in once, with the first
 * session, and again only when the token forgot it).
 */
#include "hsm.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <p11-kit/uri.h>

#include "bounds.h"
#include "buf.h"
#include "encoding.h"
#include "hsm_int.h"
#include "log.h"
#include "secmem.h"

/* DER OIDs of the curves we know (CKA_EC_PARAMS). */
static const uint8_t oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };

/* Modules loaded in this process: C_Initialize once, C_Finalize at the last close. */
/* XXX: dlopen references are never dropped (see module_unref). */
struct p11_module {
	struct p11_module *next;
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	unsigned refs;
	int finalize; /* we initialised it (not somebody else in this process) */
};
static struct p11_module *modules;
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;

struct hsm_p11 {
	struct p11_module *mod;
	CK_FUNCTION_LIST_PTR f;
	char module[PATH_MAX];
	P11KitUri *uri;               /* the token URI (NULL: bare label or none) */
	char want_label[33];          /* bare label, space padded ("" if none) */
	CK_SLOT_ID slot;
	CK_TOKEN_INFO tok;
	char label[33];               /* token label, trimmed */
	char token_name[HSM_NAME_MAX]; /* as the caller named it ("" if not) */
	char *pin;                    /* secure memory, NUL-terminated; NULL: no login */
	size_t pin_len;
	CK_FLAGS session_flags;
	pthread_mutex_t lock;         /* pool, login, C_OpenSession, hold */
	CK_SESSION_HANDLE pool[HSM_P11_MAX_SESSIONS];
	size_t npool;
	CK_SESSION_HANDLE hold;       /* owns the keys' working copies; never pooled */
	atomic_uint hold_gen;         /* a new holder each time: older copies are gone */
};

static int retryable(CK_RV rv)
{
	switch (rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_KEY_HANDLE_INVALID:
	case CKR_OBJECT_HANDLE_INVALID:
		return 1;
	default:
		return 0;
	}
}

/* Errors after which we do not trust the session again. */
static int suspect(CK_RV rv)
{
	return rv == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED || rv == CKR_DEVICE_ERROR ||
	       rv == CKR_DEVICE_MEMORY || rv == CKR_HOST_MEMORY;
}

static void trim_label(const CK_UTF8CHAR *in, size_t n, char *out)
{
	memcpy(out, in, n);
	out[n] = '\0';
	while (n > 0 && out[n - 1] == ' ')
		out[--n] = '\0';
}

/* --- modules ------------------------------------------------------------- */

static int module_load(const char *path, char *real, struct p11_module **out)
{
	struct p11_module *m = NULL;
	CK_C_GetFunctionList getfl;
	void *sym;
	CK_C_INITIALIZE_ARGS args;
	struct stat st;
	void *dl = NULL;
	CK_RV rv;
	int r;

	*out = NULL;
	if (realpath(path, real) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return err_set(ERR_NOT_FOUND, "PKCS#11 module %s: no such file", path);
		return err_sys("PKCS#11 module %s", path);
	}
	if (stat(real, &st) != 0)
		return err_sys("PKCS#11 module %s", real);
	if (!S_ISREG(st.st_mode))
		return err_set(ERR_PERMISSION, "PKCS#11 module %s: not a regular file", real);
	/* A module others may replace would run their code with our PIN. */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return err_set(ERR_PERMISSION,
			       "PKCS#11 module %s: writable by group or others (mode %04o)", real,
			       (unsigned)(st.st_mode & 07777));
	if ((dl = dlopen(real, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return err_set(ERR_FORMAT, "load PKCS#11 module %s: %s", real, dlerror());

	if (pthread_mutex_lock(&modules_lock) != 0)
		fatal("modules lock");
	for (m = modules; m != NULL; m = m->next)
		if (m->dl == dl)
			break;
	if (m != NULL) {
		m->refs++;
		dlclose(dl); /* the entry holds its own reference */
		*out = m;
		r = 0;
		goto unlock;
	}
	/* POSIX guarantees a function pointer survives the round trip. */
	sym = dlsym(dl, "C_GetFunctionList");
	memcpy(&getfl, &sym, sizeof(getfl));
	if (sym == NULL) {
		r = err_set(ERR_FORMAT, "PKCS#11 module %s: no C_GetFunctionList (not a module?)",
			    real);
		goto fail;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		r = ERR_ALLOC;
		goto fail;
	}
	if ((rv = getfl(&m->f)) != CKR_OK || m->f == NULL) {
		r = err_ckr(rv, "C_GetFunctionList of %s", real);
		goto fail;
	}
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = m->f->C_Initialize(&args);
	if (rv == CKR_OK)
		m->finalize = 1;
	else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		r = err_ckr(rv, "C_Initialize of %s", real);
		goto fail;
	}
	m->dl = dl;
	m->refs = 1;
	m->next = modules;
	modules = m;
	*out = m;
	r = 0;
	goto unlock;
fail:
	free(m);
	dlclose(dl);
unlock:
	pthread_mutex_unlock(&modules_lock);
	return r;
}

static void module_unref(struct p11_module *m)
{
	struct p11_module **pp;

	if (m == NULL)
		return;
	if (pthread_mutex_lock(&modules_lock) != 0)
		fatal("modules lock");
	if (--m->refs == 0) {
		for (pp = &modules; *pp != NULL; pp = &(*pp)->next)
			if (*pp == m) {
				*pp = m->next;
				break;
			}
		if (m->finalize)
			(void)m->f->C_Finalize(NULL);
		/*
		 * The library stays mapped (no dlclose): modules keep atexit
		 * handlers and helper threads (sqlite, tss2) that would jump into
		 * unmapped code, and leak reports keep their stacks. A later open
		 * gets the same handle and initialises it again.
		 */
		free(m);
	}
	pthread_mutex_unlock(&modules_lock);
}

/* --- tokens -------------------------------------------------------------- */

static int token_matches(struct hsm_p11 *p, CK_SLOT_ID slot, const CK_TOKEN_INFO *ti)
{
	CK_SLOT_ID want;

	if (!(ti->flags & CKF_TOKEN_INITIALIZED))
		return 0;
	if (p->uri != NULL) {
		want = p11_kit_uri_get_slot_id(p->uri);
		if (want != (CK_SLOT_ID)-1 && want != slot)
			return 0;
		return p11_kit_uri_match_token_info(p->uri, (CK_TOKEN_INFO_PTR)ti);
	}
	if (p->want_label[0] != '\0')
		return memcmp(ti->label, p->want_label, sizeof(ti->label)) == 0;
	return 1;
}

/* Find the slot holding the token the caller named. */
static int find_token(struct hsm_p11 *p, const char *token_name)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0, i;
	CK_TOKEN_INFO ti;
	char seen[512], lab[33];
	size_t used = 0;
	unsigned found = 0;
	CK_RV rv;
	int r;

	seen[0] = '\0';
	if ((rv = p->f->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK)
		return err_ckr(rv, "C_GetSlotList of %s", p->module);
	if (n > 0 && (slots = calloc(n, sizeof(*slots))) == NULL)
		return ERR_ALLOC;
	if (n > 0 && (rv = p->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
		r = err_ckr(rv, "C_GetSlotList of %s", p->module);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((rv = p->f->C_GetTokenInfo(slots[i], &ti)) != CKR_OK)
			continue;
		if (!(ti.flags & CKF_TOKEN_INITIALIZED))
			continue;
		trim_label(ti.label, sizeof(ti.label), lab);
		if (used < sizeof(seen) - 40)
			used += (size_t)snprintf(seen + used, sizeof(seen) - used, "%s'%s'",
						 used ? ", " : "", lab);
		if (!token_matches(p, slots[i], &ti))
			continue;
		if (found++ == 0) {
			p->slot = slots[i];
			p->tok = ti;
			memcpy(p->label, lab, sizeof(lab));
		}
	}
	if (found == 0) {
		r = err_set(ERR_NOT_FOUND, "no token %s in %s (tokens: %s)",
			    token_name ? token_name : "at all", p->module, used ? seen : "none");
		goto out;
	}
	if (found > 1) {
		r = err_set(ERR_INVALID_ARG, "%u tokens match %s in %s (%s): name one", found,
			    token_name ? token_name : "(any)", p->module, seen);
		goto out;
	}
	r = 0;
out:
	free(slots);
	return r;
}

static int probe_mechanisms(struct hsm *h)
{
	struct hsm_p11 *p = h->p11;
	CK_MECHANISM_TYPE *mechs = NULL;
	CK_MECHANISM_INFO mi;
	CK_ULONG n = 0, i;
	CK_RV rv;
	int r;

	h->have = 0;
	if ((rv = p->f->C_GetMechanismList(p->slot, NULL, &n)) != CKR_OK)
		return err_ckr(rv, "C_GetMechanismList of token '%s'", p->label);
	if (n > 0 && (mechs = calloc(n, sizeof(*mechs))) == NULL)
		return ERR_ALLOC;
	if (n > 0 && (rv = p->f->C_GetMechanismList(p->slot, mechs, &n)) != CKR_OK) {
		r = err_ckr(rv, "C_GetMechanismList of token '%s'", p->label);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (p->f->C_GetMechanismInfo(p->slot, mechs[i], &mi) != CKR_OK)
			continue;
		if (mechs[i] == CKM_ECDH1_DERIVE && (mi.flags & CKF_DERIVE))
			h->have |= HSM_NEED_ECDH;
		else if (mechs[i] == CKM_ECDSA && (mi.flags & CKF_SIGN))
			h->have |= HSM_NEED_SIGN;
		else if (mechs[i] == CKM_EC_KEY_PAIR_GEN && (mi.flags & CKF_GENERATE_KEY_PAIR))
			h->have |= HSM_NEED_KEYGEN;
	}
	r = 0;
out:
	free(mechs);
	return r;
}

static const char *need_name(unsigned bit)
{
	switch (bit) {
	case HSM_NEED_ECDH:
		return "CKM_ECDH1_DERIVE (ECDH)";
	case HSM_NEED_SIGN:
		return "CKM_ECDSA (signing)";
	case HSM_NEED_KEYGEN:
		return "CKM_EC_KEY_PAIR_GEN (key generation)";
	default:
		return "?";
	}
}

/* --- sessions ------------------------------------------------------------ */

/* Log in on s unless the token already knows us. Called with p->lock held. */
static int ensure_login(struct hsm_p11 *p, CK_SESSION_HANDLE s)
{
	CK_SESSION_INFO si;
	CK_RV rv;

	if (p->pin == NULL)
		return 0;
	if ((rv = p->f->C_GetSessionInfo(s, &si)) == CKR_OK &&
	    (si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS))
		return 0;
	rv = p->f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)p->pin, (CK_ULONG)p->pin_len);
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		return 0;
	err_ckr(rv, "C_Login on token '%s'", p->label);
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_LEN_RANGE ||
	    rv == CKR_PIN_EXPIRED || rv == CKR_PIN_INVALID)
		return ERR_AUTH;
	return ERR_HSM;
}

static int sess_get(struct hsm_p11 *p, CK_SESSION_HANDLE *s)
{
	CK_RV rv;
	int r;

	*s = CK_INVALID_HANDLE;
	if (pthread_mutex_lock(&p->lock) != 0)
		fatal("session lock");
	if (p->npool > 0) {
		*s = p->pool[--p->npool];
		r = 0;
		goto out;
	}
	/* Under the lock: tpm2-pkcs11's C_OpenSession is not thread-safe. */
	rv = p->f->C_OpenSession(p->slot, p->session_flags, NULL, NULL, s);
	if (rv == CKR_TOKEN_WRITE_PROTECTED && (p->session_flags & CKF_RW_SESSION)) {
		p->session_flags &= ~(CK_FLAGS)CKF_RW_SESSION;
		rv = p->f->C_OpenSession(p->slot, p->session_flags, NULL, NULL, s);
	}
	if (rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_SLOT_ID_INVALID) {
		/* Re-plugged tokens may come back in another slot: look again by name. */
		log_warn("token '%s': %s, looking for it again", p->label, err_ckr_name(rv));
		if (find_token(p, p->token_name[0] ? p->token_name : NULL) == 0)
			rv = p->f->C_OpenSession(p->slot, p->session_flags, NULL, NULL, s);
	}
	if (rv != CKR_OK) {
		*s = CK_INVALID_HANDLE;
		r = err_ckr(rv, "C_OpenSession on token '%s'", p->label);
		goto out;
	}
	if ((r = ensure_login(p, *s)) != 0) {
		(void)p->f->C_CloseSession(*s);
		*s = CK_INVALID_HANDLE;
		goto out;
	}
out:
	pthread_mutex_unlock(&p->lock);
	return r;
}

static void sess_put(struct hsm_p11 *p, CK_SESSION_HANDLE s)
{
	if (s == CK_INVALID_HANDLE)
		return;
	if (pthread_mutex_lock(&p->lock) != 0)
		fatal("session lock");
	if (p->npool < HSM_P11_MAX_SESSIONS) {
		p->pool[p->npool++] = s;
		s = CK_INVALID_HANDLE;
	}
	pthread_mutex_unlock(&p->lock);
	if (s != CK_INVALID_HANDLE)
		(void)p->f->C_CloseSession(s);
}

static void sess_close(struct hsm_p11 *p, CK_SESSION_HANDLE s)
{
	if (s != CK_INVALID_HANDLE)
		(void)p->f->C_CloseSession(s);
}

/* Drop the holder of the working copies; p->lock held. Returns it to close. */
static CK_SESSION_HANDLE hold_drop(struct hsm_p11 *p)
{
	CK_SESSION_HANDLE h = p->hold;

	p->hold = CK_INVALID_HANDLE;
	atomic_fetch_add(&p->hold_gen, 1);
	return h;
}

/*
 * A session failed in a way that usually hits all of them (closed behind our
 * back, token logged out or re-inserted): close it and every idle one; busy
 * sessions of other threads fail and come here on their own. When the
 * session itself was lost (why), the holder of the working copies goes too:
 * with it open the token would keep us logged in, and a token re-inserted
 * has lost the copies anyway. A key that was merely not found keeps it.
 */
static void sess_reset(struct hsm_p11 *p, CK_SESSION_HANDLE s, CK_RV why)
{
	CK_SESSION_HANDLE idle[HSM_P11_MAX_SESSIONS], hold = CK_INVALID_HANDLE;
	size_t n, i;

	if (pthread_mutex_lock(&p->lock) != 0)
		fatal("session lock");
	n = p->npool;
	memcpy(idle, p->pool, n * sizeof(idle[0]));
	p->npool = 0;
	if (why != CKR_KEY_HANDLE_INVALID && why != CKR_OBJECT_HANDLE_INVALID)
		hold = hold_drop(p);
	pthread_mutex_unlock(&p->lock);
	if (s != CK_INVALID_HANDLE)
		(void)p->f->C_CloseSession(s);
	for (i = 0; i < n; i++)
		(void)p->f->C_CloseSession(idle[i]);
	if (hold != CK_INVALID_HANDLE)
		(void)p->f->C_CloseSession(hold);
}

/* --- objects ------------------------------------------------------------- */

/* Find exactly one object matching tmpl; ERR_NOT_FOUND or ERR_INVALID_ARG (ambiguous). */
static CK_RV find_one(struct hsm_p11 *p, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
		      CK_OBJECT_HANDLE *obj, CK_ULONG *count)
{
	CK_OBJECT_HANDLE found[2];
	CK_RV rv, rv2;

	*count = 0;
	*obj = CK_INVALID_HANDLE;
	if ((rv = p->f->C_FindObjectsInit(s, tmpl, n)) != CKR_OK)
		return rv;
	rv = p->f->C_FindObjects(s, found, 2, count);
	rv2 = p->f->C_FindObjectsFinal(s);
	if (rv == CKR_OK)
		rv = rv2;
	if (rv == CKR_OK && *count > 0)
		*obj = found[0];
	return rv;
}

/* Read one attribute into buf (size *len in, bytes out). */
static CK_RV get_attr(struct hsm_p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
		      CK_ATTRIBUTE_TYPE type, void *buf, CK_ULONG *len)
{
	CK_ATTRIBUTE a = { type, buf, *len };
	CK_RV rv;

	rv = p->f->C_GetAttributeValue(s, o, &a, 1);
	*len = a.ulValueLen;
	return rv;
}

static int curve_bits(const uint8_t *params, size_t len)
{
	if (len == sizeof(oid_p256) && memcmp(params, oid_p256, len) == 0)
		return 256;
	if (len == sizeof(oid_p384) && memcmp(params, oid_p384, len) == 0)
		return 384;
	return 0;
}

/* CKA_EC_POINT is a DER OCTET STRING around 04||X||Y (some tokens give it raw). */
static int ec_point_unwrap(const uint8_t *in, size_t len, int bits, const uint8_t **pt,
			   size_t *ptlen)
{
	size_t want = (size_t)(bits / 8) * 2 + 1, inner;

	if (len == want && in[0] == 0x04) {
		*pt = in;
		*ptlen = len;
		return 0;
	}
	if (len < 2 || in[0] != 0x04)
		return ERR_FORMAT;
	if (in[1] < 0x80) {
		inner = in[1];
		in += 2;
		len -= 2;
	} else if (in[1] == 0x81 && len >= 3) {
		inner = in[2];
		in += 3;
		len -= 3;
	} else
		return ERR_FORMAT;
	if (inner != len || len != want || in[0] != 0x04)
		return ERR_FORMAT;
	*pt = in;
	*ptlen = len;
	return 0;
}

/* Public key of an EC object (its own CKA_EC_POINT and CKA_EC_PARAMS). */
static int object_public(struct hsm_p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
			 const char *what, EVP_PKEY **out, int *bitsp)
{
	uint8_t params[64], point[HSM_EC_POINT_MAX + 8];
	CK_ULONG plen = sizeof(params), ptlen = sizeof(point);
	CK_KEY_TYPE kt = 0;
	CK_ULONG ktlen = sizeof(kt);
	const uint8_t *pt;
	size_t raw_len;
	int bits;
	CK_RV rv;

	*out = NULL;
	if ((rv = get_attr(p, s, o, CKA_KEY_TYPE, &kt, &ktlen)) != CKR_OK)
		return err_ckr(rv, "read key type of %s", what);
	if (kt != CKK_EC)
		return err_set(ERR_UNSUPPORTED, "%s is not an EC key (key type 0x%lx)", what, kt);
	if ((rv = get_attr(p, s, o, CKA_EC_PARAMS, params, &plen)) != CKR_OK)
		return err_ckr(rv, "read CKA_EC_PARAMS of %s", what);
	if ((bits = curve_bits(params, plen)) == 0)
		return err_set(ERR_UNSUPPORTED, "%s: curve not P-256 or P-384", what);
	if ((rv = get_attr(p, s, o, CKA_EC_POINT, point, &ptlen)) != CKR_OK)
		return rv == CKR_ATTRIBUTE_TYPE_INVALID ? ERR_NOT_FOUND
							: err_ckr(rv, "read CKA_EC_POINT of %s", what);
	if (ec_point_unwrap(point, ptlen, bits, &pt, &raw_len) != 0)
		return err_set(ERR_FORMAT, "%s: malformed CKA_EC_POINT (%lu bytes)", what, ptlen);
	if (bitsp != NULL)
		*bitsp = bits;
	return hsm_ec_public(bits, pt, raw_len, out);
}

/* Does o still answer in session s? */
static int object_alive(struct hsm_p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
	CK_OBJECT_CLASS cls;
	CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof(cls) };

	return p->f->C_GetAttributeValue(s, o, &a, 1) == CKR_OK;
}

/* (Re)find k's private key object in session s. */
static int key_find(struct hsm_p11 *p, struct hsm_key *k, CK_SESSION_HANDLE s, CK_RV *rvp)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[4];
	CK_OBJECT_HANDLE o;
	CK_ULONG n = 0, count;
	CK_RV rv;

	*rvp = CKR_OK;
	tmpl[n++] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
	/* Not our own working copies (session objects). */
	tmpl[n++] = (CK_ATTRIBUTE){ CKA_TOKEN, &yes, sizeof(yes) };
	if (k->id_len > 0)
		tmpl[n++] = (CK_ATTRIBUTE){ CKA_ID, k->id, k->id_len };
	if (k->has_label)
		tmpl[n++] = (CK_ATTRIBUTE){ CKA_LABEL, k->label, strlen(k->label) };
	if ((rv = find_one(p, s, tmpl, n, &o, &count)) != CKR_OK) {
		*rvp = rv;
		return err_ckr(rv, "find key %s", k->name);
	}
	if (count == 0)
		return err_set(ERR_NOT_FOUND, "no private key %s on token '%s'%s", k->name,
			       p->label, p->pin == NULL ? " (not logged in: no PIN source)" : "");
	if (count > 1)
		return err_set(ERR_INVALID_ARG, "several private keys match %s: add id= to the URI",
			       k->name);
	if (pthread_mutex_lock(&k->lock) != 0)
		fatal("key lock");
	k->handle = o;
	/* Found again after a failure: a working copy that no longer answers
	 * is made again (one that does is kept: another thread made it). */
	if (k->copy_state == HSM_COPY_REFUSED ||
	    (k->copy_state == HSM_COPY_MADE && !object_alive(p, s, k->copy)))
		k->copy_state = HSM_COPY_UNTRIED;
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/*
 * The working copy of a key: a session object copied from the token object
 * (C_CopyObject with CKA_TOKEN false: still sensitive, never extractable) in
 * p->hold, a session kept for it, and used for every operation. SoftHSM2
 * re-reads and locks the token's object files at each use of a token object
 * (an openat, fstat, read and close and three fcntl locks per C_DeriveKey);
 * its session objects live in memory. Measured with tests/bench/token-rate:
 * 116 -> 95 µs of CPU per ECDH in one thread, 160 -> 110 µs in two, which no
 * longer contend for the file locks. A token that refuses the copy
 * (CKA_COPYABLE false, no C_CopyObject) is used through its object as before.
 *
 * The copy is made at the first operation, and again after an operation
 * failed as if it were gone (logout, session loss: the retry finds the key
 * again). hsm_key_renew drops it, so that the next operation reaches the
 * token object as the current user. Returns the copy, or the token object;
 * k->lock not held.
 */
static CK_OBJECT_HANDLE key_working(struct hsm_p11 *p, struct hsm_key *k)
{
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = { { CKA_TOKEN, &no, sizeof(no) } };
	CK_OBJECT_HANDLE o, copy = CK_INVALID_HANDLE;
	CK_RV rv;

	if (pthread_mutex_lock(&k->lock) != 0)
		fatal("key lock");
	if (k->copy_state == HSM_COPY_MADE && k->copy_gen != atomic_load(&p->hold_gen))
		k->copy_state = HSM_COPY_UNTRIED; /* its holder was closed */
	if (k->copy_state != HSM_COPY_UNTRIED) {
		o = k->copy_state == HSM_COPY_MADE ? k->copy : k->handle;
		pthread_mutex_unlock(&k->lock);
		return o;
	}
	if (pthread_mutex_lock(&p->lock) != 0)
		fatal("session lock");
	rv = CKR_SESSION_HANDLE_INVALID;
	if (p->hold != CK_INVALID_HANDLE)
		rv = p->f->C_CopyObject(p->hold, k->handle, tmpl, 1, &copy);
	if (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED) {
		/* No holder yet, or it went with the token: a new one. The login
		 * is the application's, done on the pool's sessions. */
		CK_SESSION_HANDLE old = hold_drop(p);

		if (old != CK_INVALID_HANDLE)
			(void)p->f->C_CloseSession(old);
		rv = p->f->C_OpenSession(p->slot, p->session_flags, NULL, NULL, &p->hold);
		if (rv != CKR_OK)
			p->hold = CK_INVALID_HANDLE;
		else
			rv = p->f->C_CopyObject(p->hold, k->handle, tmpl, 1, &copy);
	}
	k->copy_gen = atomic_load(&p->hold_gen);
	pthread_mutex_unlock(&p->lock);
	if (rv == CKR_OK) {
		k->copy = copy;
		k->copy_state = HSM_COPY_MADE;
		log_info("key %s: working from a session copy in token '%s'", k->name, p->label);
	} else {
		/* Until the key is found again (a failure) or renewed. */
		k->copy_state = HSM_COPY_REFUSED;
		log_info("key %s: no session copy (C_CopyObject: %s), working from the token object",
			  k->name, err_ckr_name(rv));
	}
	o = rv == CKR_OK ? copy : k->handle;
	pthread_mutex_unlock(&k->lock);
	return o;
}

void hsm_p11_key_renew(struct hsm_key *k)
{
	struct hsm_p11 *p = k->h->p11;
	CK_OBJECT_HANDLE old = CK_INVALID_HANDLE;
	unsigned gen;

	if (pthread_mutex_lock(&k->lock) != 0)
		fatal("key lock");
	gen = k->copy_gen;
	if (k->copy_state == HSM_COPY_MADE)
		old = k->copy;
	k->copy = CK_INVALID_HANDLE;
	k->copy_state = HSM_COPY_UNTRIED;
	pthread_mutex_unlock(&k->lock);
	if (old == CK_INVALID_HANDLE)
		return;
	if (pthread_mutex_lock(&p->lock) != 0)
		fatal("session lock");
	if (p->hold != CK_INVALID_HANDLE && gen == atomic_load(&p->hold_gen))
		(void)p->f->C_DestroyObject(p->hold, old);
	pthread_mutex_unlock(&p->lock);
}

/*
 * Run op on a pooled session; on a lost session, logout or removed device,
 * reset the sessions, log in again, find the key again, and retry (bounded).
 */
typedef CK_RV (*p11_op)(struct hsm_p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, void *ctx);

static int with_key_session(struct hsm_key *k, p11_op op, void *ctx, const char *what)
{
	struct hsm_p11 *p = k->h->p11;
	CK_SESSION_HANDLE s;
	CK_RV rv = CKR_OK, frv;
	int attempt, r, refind = 0;

	for (attempt = 0;; attempt++) {
		if ((r = sess_get(p, &s)) != 0)
			return err_wrap(r, "%s with key %s", what, k->name);
		if (refind && (r = key_find(p, k, s, &frv)) != 0) {
			if (retryable(frv) && attempt + 1 < HSM_P11_RETRIES) {
				sess_reset(p, s, frv);
				continue;
			}
			sess_put(p, s);
			return err_wrap(r, "%s after %s", what, err_ckr_name(rv));
		}
		rv = op(p, s, key_working(p, k), ctx);
		if (rv == CKR_OK) {
			sess_put(p, s);
			return 0;
		}
		if (!retryable(rv) || attempt + 1 >= HSM_P11_RETRIES) {
			if (retryable(rv))
				sess_reset(p, s, rv);
			else if (suspect(rv))
				sess_close(p, s);
			else
				sess_put(p, s);
			return err_ckr(rv, "%s with key %s on token '%s'%s", what, k->name,
				       p->label, attempt > 0 ? " (after reopening the session)" : "");
		}
		log_warn("%s with key %s: %s, reopening the session", what, k->name,
			 err_ckr_name(rv));
		sess_reset(p, s, rv);
		refind = 1;
	}
}

/* --- open/close ---------------------------------------------------------- */

static int pin_source_of_uri(struct hsm_p11 *p, const struct hsm_config *cfg)
{
	const char *src = NULL, *val = NULL;
	int r;

	if (cfg->pin_source != NULL)
		src = cfg->pin_source;
	else if (p->uri != NULL) {
		src = p11_kit_uri_get_pin_source(p->uri);
		val = p11_kit_uri_get_pin_value(p->uri);
	}
	if (src != NULL) {
		if ((r = hsm_pin_from_uri_source(src, cfg->tcti, &p->pin)) != 0)
			return err_wrap(r, "PIN for token '%s'", p->label);
	} else if (val != NULL) {
		if (strlen(val) > LIMIT_PIN_LEN)
			return err_set(ERR_TOO_LARGE, "pin-value of the token URI is too long");
		if ((p->pin = secmem_alloc(strlen(val) + 1)) == NULL)
			return ERR_ALLOC;
		memcpy(p->pin, val, strlen(val));
	} else
		return 0;
	p->pin_len = strlen(p->pin);
	return 0;
}

int hsm_p11_open(struct hsm *h, const struct hsm_config *cfg)
{
	struct hsm_p11 *p;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	char lab[33];
	unsigned miss, bit;
	size_t n;
	int r, ur;

	if (cfg->module == NULL)
		return err_set(ERR_INVALID_ARG, "open PKCS#11 token: no module path given");
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return ERR_ALLOC;
	h->p11 = p;
	if (pthread_mutex_init(&p->lock, NULL) != 0) {
		free(p);
		h->p11 = NULL;
		return err_sys("mutex");
	}
	p->session_flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
	snprintf(p->module, sizeof(p->module), "%s", cfg->module);
	/* For messages: without the query (pin-value may sit there). */
	snprintf(p->token_name, sizeof(p->token_name), "%.*s",
		 cfg->token ? (int)strcspn(cfg->token, "?") : 0, cfg->token ? cfg->token : "");

	if (cfg->token != NULL && strncmp(cfg->token, "pkcs11:", 7) == 0) {
		if ((p->uri = p11_kit_uri_new()) == NULL) {
			r = ERR_ALLOC;
			goto out;
		}
		ur = p11_kit_uri_parse(cfg->token, P11_KIT_URI_FOR_ANY, p->uri);
		if (ur != P11_KIT_URI_OK) {
			r = err_set(ERR_FORMAT, "token URI \"%.100s\": %s", p->token_name,
				    p11_kit_uri_message(ur));
			goto out;
		}
	} else if (cfg->token != NULL) {
		if ((n = strlen(cfg->token)) == 0 || n > 32) {
			r = err_set(ERR_INVALID_ARG, "token label \"%.100s\": 1 to 32 bytes",
				    cfg->token);
			goto out;
		}
		memset(p->want_label, ' ', 32);
		memcpy(p->want_label, cfg->token, n);
	}
	if ((r = module_load(cfg->module, p->module, &p->mod)) != 0)
		goto out;
	p->f = p->mod->f;
	if ((r = find_token(p, cfg->token ? p->token_name : NULL)) != 0)
		goto out;
	trim_label(p->tok.manufacturerID, sizeof(p->tok.manufacturerID), lab);
	snprintf(h->desc, sizeof(h->desc), "PKCS#11 token '%s' (%s, slot %lu, %s)", p->label, lab,
		 (unsigned long)p->slot, p->module);
	if ((r = probe_mechanisms(h)) != 0)
		goto out;
	if ((miss = cfg->need & ~h->have) != 0) {
		for (bit = 1; !(miss & bit); bit <<= 1)
			;
		r = err_set(ERR_UNSUPPORTED,
			    "token '%s' (%s) lacks mechanism %s%s", p->label, p->module,
			    need_name(bit), (miss & ~bit) ? " and more" : "");
		goto out;
	}
	if ((r = pin_source_of_uri(p, cfg)) != 0)
		goto out;
	/* Log in now, so a wrong PIN fails at start and not on the first request. */
	if ((r = sess_get(p, &s)) != 0)
		goto out;
	sess_put(p, s);
	r = 0;
out:
	if (r != 0) {
		hsm_p11_close(h);
		h->p11 = NULL;
	}
	return r;
}

void hsm_p11_close(struct hsm *h)
{
	struct hsm_p11 *p = h->p11;
	size_t i;

	if (p == NULL)
		return;
	if (p->f != NULL) {
		for (i = 0; i < p->npool; i++)
			(void)p->f->C_CloseSession(p->pool[i]);
		if (p->hold != CK_INVALID_HANDLE)
			(void)p->f->C_CloseSession(p->hold); /* and with it the working copies */
		/* Logging out is implied when our last session closes. */
	}
	module_unref(p->mod);
	if (p->uri != NULL)
		p11_kit_uri_free(p->uri);
	secmem_free(p->pin);
	pthread_mutex_destroy(&p->lock);
	free(p);
	h->p11 = NULL;
}

/* --- keys ---------------------------------------------------------------- */

/* Public point of k: CKA_EC_POINT of the private object, else of its public twin. */
static int key_public(struct hsm_p11 *p, struct hsm_key *k, CK_SESSION_HANDLE s)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE tmpl[3];
	CK_OBJECT_HANDLE o;
	CK_ULONG n = 0, count;
	CK_RV rv;
	int r;

	r = object_public(p, s, k->handle, k->name, &k->pub, &k->bits);
	if (r != ERR_NOT_FOUND)
		return r;
	tmpl[n++] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
	if (k->id_len > 0)
		tmpl[n++] = (CK_ATTRIBUTE){ CKA_ID, k->id, k->id_len };
	else if (k->has_label)
		tmpl[n++] = (CK_ATTRIBUTE){ CKA_LABEL, k->label, strlen(k->label) };
	if ((rv = find_one(p, s, tmpl, n, &o, &count)) != CKR_OK)
		return err_ckr(rv, "find public key of %s", k->name);
	if (count != 1)
		return err_set(ERR_NOT_FOUND,
			       "key %s: no CKA_EC_POINT and %s public key object with its id",
			       k->name, count == 0 ? "no" : "more than one");
	r = object_public(p, s, o, k->name, &k->pub, &k->bits);
	if (r == ERR_NOT_FOUND)
		r = err_set(ERR_NOT_FOUND, "public key of %s has no CKA_EC_POINT", k->name);
	return r;
}

static int key_fill(struct hsm_p11 *p, struct hsm_key *k, CK_SESSION_HANDLE s)
{
	CK_ULONG len;
	CK_RV rv, frv;
	int r;

	if ((r = key_find(p, k, s, &frv)) != 0)
		return r;
	if (k->id_len == 0) {
		len = sizeof(k->id);
		rv = get_attr(p, s, k->handle, CKA_ID, k->id, &len);
		if (rv == CKR_OK && len <= sizeof(k->id))
			k->id_len = len;
	}
	if (!k->has_label) {
		len = sizeof(k->label) - 1;
		rv = get_attr(p, s, k->handle, CKA_LABEL, k->label, &len);
		if (rv == CKR_OK && len < sizeof(k->label)) {
			k->label[len] = '\0';
			k->has_label = len > 0;
		}
	}
	return key_public(p, k, s);
}

int hsm_p11_key_open(struct hsm *h, const char *name, struct hsm_key **out)
{
	struct hsm_p11 *p = h->p11;
	struct hsm_key *k = NULL;
	P11KitUri *uri = NULL;
	CK_ATTRIBUTE *a;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	int r, ur;

	if ((r = hsm_key_new(h, HSM_BACKEND_PKCS11, name, &k)) != 0)
		return r;
	k->name[strcspn(k->name, "?")] = '\0'; /* no pin-value in messages */
	if (strncmp(name, "pkcs11:", 7) == 0) {
		if ((uri = p11_kit_uri_new()) == NULL) {
			r = ERR_ALLOC;
			goto out;
		}
		if ((ur = p11_kit_uri_parse(name, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, uri)) !=
		    P11_KIT_URI_OK) {
			r = err_set(ERR_FORMAT, "key URI \"%.100s\": %s", k->name,
				    p11_kit_uri_message(ur));
			goto out;
		}
		if (!p11_kit_uri_match_token_info(uri, &p->tok)) {
			r = err_set(ERR_NOT_FOUND, "key %s: names another token than '%s'", name,
				    p->label);
			goto out;
		}
		if ((a = p11_kit_uri_get_attribute(uri, CKA_CLASS)) != NULL &&
		    (a->ulValueLen != sizeof(CK_OBJECT_CLASS) ||
		     *(CK_OBJECT_CLASS *)a->pValue != CKO_PRIVATE_KEY)) {
			r = err_set(ERR_INVALID_ARG, "key %s: type= must be private", name);
			goto out;
		}
		if ((a = p11_kit_uri_get_attribute(uri, CKA_LABEL)) != NULL) {
			if (a->ulValueLen >= sizeof(k->label)) {
				r = err_set(ERR_TOO_LARGE, "key %.100s: object= too long", name);
				goto out;
			}
			memcpy(k->label, a->pValue, a->ulValueLen);
			k->label[a->ulValueLen] = '\0';
			k->has_label = 1;
		}
		if ((a = p11_kit_uri_get_attribute(uri, CKA_ID)) != NULL) {
			if (a->ulValueLen > sizeof(k->id) || a->ulValueLen == 0) {
				r = err_set(ERR_INVALID_ARG, "key %.100s: bad id= length", name);
				goto out;
			}
			memcpy(k->id, a->pValue, a->ulValueLen);
			k->id_len = a->ulValueLen;
		}
		if (!k->has_label && k->id_len == 0) {
			r = err_set(ERR_INVALID_ARG, "key URI %.100s names no object (object= or id=)",
				    name);
			goto out;
		}
	} else {
		if (*name == '\0' || strlen(name) >= sizeof(k->label)) {
			r = err_set(ERR_INVALID_ARG, "key label \"%.100s\": empty or too long", name);
			goto out;
		}
		snprintf(k->label, sizeof(k->label), "%s", name);
		k->has_label = 1;
		snprintf(k->name, sizeof(k->name), "pkcs11:token=%s;object=%s", p->label, name);
	}
	if ((r = sess_get(p, &s)) != 0)
		goto out;
	if ((r = key_fill(p, k, s)) != 0)
		goto out;
	*out = k;
	k = NULL;
out:
	sess_put(p, s);
	if (uri != NULL)
		p11_kit_uri_free(uri);
	hsm_key_free(k);
	return r;
}

void hsm_p11_key_free(struct hsm_key *k)
{
	(void)k; /* token objects stay; nothing held per key */
}

struct ecdh_ctx {
	const uint8_t *peer;
	size_t peer_len;
	uint8_t *out;
};

static CK_RV op_ecdh(struct hsm_p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, void *arg)
{
	struct ecdh_ctx *c = arg;
	CK_ECDH1_DERIVE_PARAMS params = { CKD_NULL, 0, NULL, (CK_ULONG)c->peer_len,
					  (CK_BYTE_PTR)c->peer };
	CK_MECHANISM mech = { CKM_ECDH1_DERIVE, &params, sizeof(params) };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG vlen = P256_DH_LEN;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_SENSITIVE, &no, sizeof(no) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
		{ CKA_VALUE_LEN, &vlen, sizeof(vlen) },
	};
	CK_OBJECT_HANDLE sec = CK_INVALID_HANDLE;
	CK_ATTRIBUTE val = { CKA_VALUE, c->out, P256_DH_LEN };
	CK_RV rv, rv2;

	rv = p->f->C_DeriveKey(s, &mech, key, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &sec);
	if (rv != CKR_OK)
		return rv;
	rv = p->f->C_GetAttributeValue(s, sec, &val, 1);
	if (rv == CKR_OK && val.ulValueLen != P256_DH_LEN)
		rv = CKR_DATA_LEN_RANGE; /* never a partial secret */
	rv2 = p->f->C_DestroyObject(s, sec);
	return rv != CKR_OK ? rv : rv2;
}

int hsm_p11_ecdh(struct hsm_key *k, const uint8_t *peer, size_t peer_len,
		 uint8_t out[static P256_DH_LEN])
{
	struct ecdh_ctx c = { peer, peer_len, out };

	return with_key_session(k, op_ecdh, &c, "ECDH (C_DeriveKey)");
}

struct sign_ctx {
	const uint8_t *digest;
	size_t len;
	uint8_t rs[2 * 66];
	CK_ULONG rslen;
};

static CK_RV op_sign(struct hsm_p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, void *arg)
{
	struct sign_ctx *c = arg;
	CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
	CK_RV rv;

	if ((rv = p->f->C_SignInit(s, &mech, key)) != CKR_OK)
		return rv;
	c->rslen = sizeof(c->rs);
	return p->f->C_Sign(s, (CK_BYTE_PTR)c->digest, (CK_ULONG)c->len, c->rs, &c->rslen);
}

int hsm_p11_sign(struct hsm_key *k, const uint8_t *digest, size_t len, struct buf *sig)
{
	struct sign_ctx c = { .digest = digest, .len = len };
	int r;

	if ((r = with_key_session(k, op_sign, &c, "sign (C_Sign CKM_ECDSA)")) != 0)
		return r;
	if (c.rslen != (CK_ULONG)(k->bits / 8 * 2))
		return err_set(ERR_HSM, "sign with key %s: token gave a %lu-byte signature",
			       k->name, c.rslen);
	return pkey_ecdsa_raw_to_der(c.rs, c.rslen, sig);
}

/* Is there any key object (private or public) with this label? */
static int label_taken(struct hsm_p11 *p, CK_SESSION_HANDLE s, const char *label, int *taken)
{
	CK_ATTRIBUTE tmpl[] = { { CKA_LABEL, (void *)label, strlen(label) } };
	CK_OBJECT_HANDLE o;
	CK_ULONG count;
	CK_RV rv;

	*taken = 0;
	if ((rv = find_one(p, s, tmpl, 1, &o, &count)) != CKR_OK)
		return err_ckr(rv, "look for label '%s' on token '%s'", label, p->label);
	*taken = count > 0;
	return 0;
}

int hsm_p11_generate(struct hsm *h, const char *label, unsigned usage, struct hsm_key **out)
{
	struct hsm_p11 *p = h->p11;
	struct hsm_key *k = NULL;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY, privc = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_BBOOL derive = (usage & HSM_USAGE_DERIVE) ? CK_TRUE : CK_FALSE;
	CK_BBOOL sign = (usage & HSM_USAGE_SIGN) ? CK_TRUE : CK_FALSE;
	uint8_t id[HSM_P11_ID_LEN], rid[HSM_P11_ID_LEN], pt[P256_POINT_LEN], md[SHA256_LEN];
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
	size_t ll = strlen(label);
	int r, taken;
	unsigned need;
	CK_RV rv;

	need = HSM_NEED_KEYGEN | (derive ? HSM_NEED_ECDH : 0) | (sign ? HSM_NEED_SIGN : 0);
	if ((need & ~h->have) != 0) {
		need &= ~h->have;
		return err_set(ERR_UNSUPPORTED, "generate key '%s': token '%s' lacks mechanism %s",
			       label, p->label, need_name(need & (~need + 1)));
	}
	if (ll >= HSM_NAME_MAX - 64)
		return err_set(ERR_TOO_LARGE, "generate key: label too long");
	if (p->pin == NULL)
		return err_set(ERR_INVALID_ARG, "generate key '%s': not logged in (no PIN source)",
			       label);
	/* A random id first: the point (whose hash names the key) is not known yet. */
	if (RAND_bytes(id, sizeof(id)) != 1)
		return err_crypto("generate key '%s': random id", label);
	memcpy(rid, id, sizeof(rid));
	{
		CK_ATTRIBUTE pubt[] = {
			{ CKA_CLASS, &pubc, sizeof(pubc) },
			{ CKA_KEY_TYPE, &kt, sizeof(kt) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &no, sizeof(no) },
			{ CKA_EC_PARAMS, (void *)oid_p256, sizeof(oid_p256) },
			{ CKA_VERIFY, &sign, sizeof(sign) },
			{ CKA_LABEL, (void *)label, ll },
			{ CKA_ID, id, sizeof(id) },
		};
		CK_ATTRIBUTE privt[] = {
			{ CKA_CLASS, &privc, sizeof(privc) },
			{ CKA_KEY_TYPE, &kt, sizeof(kt) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &yes, sizeof(yes) },
			{ CKA_SENSITIVE, &yes, sizeof(yes) },
			{ CKA_EXTRACTABLE, &no, sizeof(no) },
			{ CKA_DERIVE, &derive, sizeof(derive) },
			{ CKA_SIGN, &sign, sizeof(sign) },
			{ CKA_LABEL, (void *)label, ll },
			{ CKA_ID, id, sizeof(id) },
		};
		CK_ATTRIBUTE idattr = { CKA_ID, id, sizeof(id) };

		if ((r = sess_get(p, &s)) != 0)
			goto out;
		if ((r = label_taken(p, s, label, &taken)) != 0)
			goto out;
		if (taken) {
			r = err_set(ERR_EXISTS, "generate key: token '%s' already has a key '%s'",
				    p->label, label);
			goto out;
		}
		rv = p->f->C_GenerateKeyPair(s, &mech, pubt, sizeof(pubt) / sizeof(pubt[0]), privt,
					     sizeof(privt) / sizeof(privt[0]), &pub, &priv);
		if (rv != CKR_OK) {
			r = err_ckr(rv, "generate P-256 key '%s' on token '%s' (C_GenerateKeyPair)",
				    label, p->label);
			goto out;
		}
		if ((r = hsm_key_new(h, HSM_BACKEND_PKCS11, label, &k)) != 0)
			goto out;
		snprintf(k->name, sizeof(k->name), "pkcs11:token=%s;object=%s", p->label, label);
		snprintf(k->label, sizeof(k->label), "%s", label);
		k->has_label = 1;
		k->handle = priv;
		if ((r = object_public(p, s, pub, k->name, &k->pub, &k->bits)) != 0)
			goto out;
		/* CKA_ID = SHA-256(point) prefix, as other tools name keys by their point. */
		if ((r = pkey_to_point(k->pub, pt)) != 0 || (r = pkey_sha256(pt, sizeof(pt), md)) != 0)
			goto out;
		memcpy(id, md, sizeof(id));
		if (p->f->C_SetAttributeValue(s, pub, &idattr, 1) != CKR_OK ||
		    p->f->C_SetAttributeValue(s, priv, &idattr, 1) != CKR_OK) {
			/* Both keep the random id (still unique and shared), or the
			 * public one was renamed: make them agree again. */
			log_debug("key %s: token refused a new CKA_ID; keeping the random one",
				  k->name);
			idattr.pValue = rid;
			(void)p->f->C_SetAttributeValue(s, pub, &idattr, 1);
			memcpy(k->id, rid, sizeof(rid));
			k->id_len = sizeof(rid);
		} else {
			memcpy(k->id, id, sizeof(id));
			k->id_len = sizeof(id);
		}
	}
	*out = k;
	k = NULL;
	priv = pub = CK_INVALID_HANDLE;
	r = 0;
out:
	if (priv != CK_INVALID_HANDLE && s != CK_INVALID_HANDLE)
		(void)p->f->C_DestroyObject(s, priv);
	if (pub != CK_INVALID_HANDLE && s != CK_INVALID_HANDLE)
		(void)p->f->C_DestroyObject(s, pub);
	sess_put(p, s);
	hsm_key_free(k);
	return r;
}

int hsm_p11_import_public(struct hsm *h, const char *label, EVP_PKEY *pubkey)
{
	struct hsm_p11 *p = h->p11;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	uint8_t pt[P256_POINT_LEN], wrapped[2 + P256_POINT_LEN], id[IDENTITY_LEN];
	CK_OBJECT_HANDLE o;
	int r, taken;
	CK_RV rv;

	if (!pkey_is_p256(pubkey))
		return err_set(ERR_UNSUPPORTED, "import public key '%s': only P-256 keys", label);
	if ((r = pkey_to_point(pubkey, pt)) != 0 || (r = pkey_identity(pubkey, id)) != 0)
		return r;
	wrapped[0] = 0x04; /* DER OCTET STRING */
	wrapped[1] = P256_POINT_LEN;
	memcpy(wrapped + 2, pt, sizeof(pt));
	{
		CK_ATTRIBUTE tmpl[] = {
			{ CKA_CLASS, &cls, sizeof(cls) },
			{ CKA_KEY_TYPE, &kt, sizeof(kt) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &no, sizeof(no) },
			{ CKA_VERIFY, &yes, sizeof(yes) },
			{ CKA_EC_PARAMS, (void *)oid_p256, sizeof(oid_p256) },
			{ CKA_EC_POINT, wrapped, sizeof(wrapped) },
			{ CKA_LABEL, (void *)label, strlen(label) },
			{ CKA_ID, id, HSM_P11_ID_LEN },
		};

		if ((r = sess_get(p, &s)) != 0)
			goto out;
		if ((r = label_taken(p, s, label, &taken)) != 0)
			goto out;
		if (taken) {
			r = err_set(ERR_EXISTS, "import public key: token '%s' already has '%s'",
				    p->label, label);
			goto out;
		}
		rv = p->f->C_CreateObject(s, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &o);
		if (rv != CKR_OK) {
			r = err_ckr(rv, "import public key '%s' into token '%s' (C_CreateObject)",
				    label, p->label);
			goto out;
		}
	}
	r = 0;
out:
	sess_put(p, s);
	return r;
}

int hsm_p11_find_public(struct hsm *h, const char *label, EVP_PKEY **out)
{
	struct hsm_p11 *p = h->p11;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_OBJECT_HANDLE o;
	CK_ULONG count;
	char what[HSM_NAME_MAX];
	CK_RV rv;
	int r;

	snprintf(what, sizeof(what), "public key '%.200s' on token '%s'", label, p->label);
	if ((r = sess_get(p, &s)) != 0)
		goto out;
	if ((rv = find_one(p, s, tmpl, 2, &o, &count)) != CKR_OK) {
		r = err_ckr(rv, "find %s", what);
		goto out;
	}
	if (count != 1) {
		r = err_set(count == 0 ? ERR_NOT_FOUND : ERR_INVALID_ARG, "%s %s", what,
			    count == 0 ? "not found" : "is ambiguous (several objects)");
		goto out;
	}
	if ((r = object_public(p, s, o, what, out, NULL)) == ERR_NOT_FOUND)
		r = err_set(ERR_NOT_FOUND, "%s has no CKA_EC_POINT", what);
out:
	sess_put(p, s);
	return r;
}

static int list_class(struct hsm_p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
		      int (*fn)(const struct hsm_key_info *, void *), void *arg)
{
	CK_BBOOL yes = CK_TRUE;
	/* The token's objects, not the working copies of our session. */
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_TOKEN, &yes, sizeof(yes) } };
	CK_OBJECT_HANDLE *objs = NULL;
	CK_ULONG n = 0, i, len;
	struct hsm_key_info info;
	char label[256], idhex[2 * 64 + 1];
	uint8_t id[64];
	CK_RV rv, rv2;
	int r;

	if ((objs = calloc(HSM_P11_MAX_OBJECTS, sizeof(*objs))) == NULL)
		return ERR_ALLOC;
	if ((rv = p->f->C_FindObjectsInit(s, tmpl, 2)) != CKR_OK) {
		r = err_ckr(rv, "list objects on token '%s'", p->label);
		goto out;
	}
	rv = p->f->C_FindObjects(s, objs, HSM_P11_MAX_OBJECTS, &n);
	rv2 = p->f->C_FindObjectsFinal(s);
	if (rv != CKR_OK || rv2 != CKR_OK) {
		r = err_ckr(rv != CKR_OK ? rv : rv2, "list objects on token '%s'", p->label);
		goto out;
	}
	for (i = 0; i < n; i++) {
		memset(&info, 0, sizeof(info));
		len = sizeof(label) - 1;
		if (get_attr(p, s, objs[i], CKA_LABEL, label, &len) != CKR_OK ||
		    len >= sizeof(label))
			len = 0;
		label[len] = '\0';
		len = sizeof(id);
		if (get_attr(p, s, objs[i], CKA_ID, id, &len) != CKR_OK || len > sizeof(id))
			len = 0;
		hex_encode(id, len, idhex);
		info.label = label;
		info.id_hex = idhex;
		info.is_private = cls == CKO_PRIVATE_KEY;
		{
			uint8_t params[64];
			CK_ULONG plen = sizeof(params);

			if (get_attr(p, s, objs[i], CKA_EC_PARAMS, params, &plen) == CKR_OK)
				info.key_bits = curve_bits(params, plen);
		}
		if ((r = fn(&info, arg)) != 0)
			goto out;
	}
	r = 0;
out:
	free(objs);
	return r;
}

int hsm_p11_list(struct hsm *h, int (*fn)(const struct hsm_key_info *, void *), void *arg)
{
	struct hsm_p11 *p = h->p11;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	int r;

	if ((r = sess_get(p, &s)) != 0)
		goto out;
	if ((r = list_class(p, s, CKO_PRIVATE_KEY, fn, arg)) != 0)
		goto out;
	r = list_class(p, s, CKO_PUBLIC_KEY, fn, arg);
out:
	sess_put(p, s);
	return r;
}

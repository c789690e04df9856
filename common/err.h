// SPDX-License-Identifier: ISC
#ifndef COFFER_ERR_H
#define COFFER_ERR_H

/*
 * Status codes. 0 is success; every failure is a negative ERR_* code.
 * A code says what kind of failure it was; the thread-local detail
 * (err_detail()) says which operation, file or token call, with the PKCS#11
 * CKR name, the TSS2 return code text or the last OpenSSL reason attached.
 */

#include <stdarg.h>

#define WARN_UNUSED __attribute__((warn_unused_result))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

enum {
	ERR_OK = 0,
	ERR_INTERNAL = -1,      /* impossible state reached: a bug */
	ERR_ALLOC = -2,         /* out of memory */
	ERR_INCOMPLETE = -3,    /* more bytes needed */
	ERR_FORMAT = -4,        /* malformed input */
	ERR_TOO_LARGE = -5,     /* a length or value beyond its cap */
	ERR_TRAILING_DATA = -6, /* bytes left after a complete object */
	ERR_SYSTEM = -7,        /* a system call failed; see errno in the detail */
	ERR_CRYPTO = -8,        /* OpenSSL failed; reason in the detail */
	ERR_HSM = -9,           /* PKCS#11 call failed; CKR in the detail */
	ERR_TPM = -10,          /* TSS2 call failed; return code in the detail */
	ERR_INVALID_ARG = -11,  /* the caller asked for something impossible */
	ERR_NOT_FOUND = -12,    /* no such key, file, client, entry */
	ERR_PERMISSION = -13,   /* refused: file mode, ownership, policy */
	ERR_AUTH = -14,         /* authentication failed (tag, signature, PIN) */
	ERR_PROTOCOL = -15,     /* the peer broke the protocol */
	ERR_REPLAY = -16,       /* an old or repeated message */
	ERR_UNSUPPORTED = -17,  /* mechanism, version or feature not available */
	ERR_IO = -18,           /* network or file I/O ended early */
	ERR_TIMEOUT = -19,      /* a deadline passed */
	ERR_EXISTS = -20,       /* refusing to overwrite */
	ERR_BUSY = -21,         /* over a limit for now; try later */
	ERR_MAX_ = -22
};

/* Static text for a code; never NULL. */
const char *err_str(int code);

/*
 * Record a detail for the failure being returned, on this thread.
 * Returns `code` so a caller can write `return err_set(ERR_FORMAT, "...")`.
 */
int err_set(int code, const char *fmt, ...) PRINTF_LIKE(2, 3);
int err_setv(int code, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);

/* Prefix the current detail with more context ("open bundle: <old detail>"). */
int err_wrap(int code, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* System error: detail is "<what>: strerror(errno)". Returns ERR_SYSTEM. */
int err_sys(const char *fmt, ...) PRINTF_LIKE(1, 2);

/*
 * OpenSSL error: drains the OpenSSL error queue (logged at debug), detail is
 * "<what>: <last reason>". Returns ERR_CRYPTO.
 */
int err_crypto(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* PKCS#11 error: detail is "<what>: CKR_NAME (0x..)". Returns ERR_HSM. */
int err_ckr(unsigned long rv, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* Name of a PKCS#11 return value ("CKR_PIN_INCORRECT"), or "CKR_0x%lx". */
const char *err_ckr_name(unsigned long rv);

/* The detail recorded on this thread ("" if none). Valid until the next set. */
const char *err_detail(void);

/* Clear the detail on this thread. */
void err_clear(void);

/* "err_str(code): detail" or just err_str(code), in a thread-local buffer. */
const char *err_msg(int code);

#endif

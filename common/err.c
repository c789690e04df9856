// SPDX-License-Identifier: ISC
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <p11-kit/pkcs11.h>

#include "log.h"

#define ERR_DETAIL_MAX 512

static _Thread_local char detail[ERR_DETAIL_MAX];
static _Thread_local char msgbuf[ERR_DETAIL_MAX + 64];

static const char *const names[] = {
	[0] = "success",
	[-ERR_INTERNAL] = "internal error",
	[-ERR_ALLOC] = "out of memory",
	[-ERR_INCOMPLETE] = "incomplete data",
	[-ERR_FORMAT] = "invalid format",
	[-ERR_TOO_LARGE] = "too large",
	[-ERR_TRAILING_DATA] = "trailing data",
	[-ERR_SYSTEM] = "system error",
	[-ERR_CRYPTO] = "cryptographic library error",
	[-ERR_HSM] = "token (PKCS#11) error",
	[-ERR_TPM] = "TPM error",
	[-ERR_INVALID_ARG] = "invalid argument",
	[-ERR_NOT_FOUND] = "not found",
	[-ERR_PERMISSION] = "permission denied",
	[-ERR_AUTH] = "authentication failed",
	[-ERR_PROTOCOL] = "protocol error",
	[-ERR_REPLAY] = "replayed message",
	[-ERR_UNSUPPORTED] = "not supported",
	[-ERR_IO] = "input/output error",
	[-ERR_TIMEOUT] = "timed out",
	[-ERR_EXISTS] = "already exists",
	[-ERR_BUSY] = "busy",
};

const char *err_str(int code)
{
	if (code > 0 || code <= ERR_MAX_ || names[-code] == NULL)
		return "unknown error";
	return names[-code];
}

int err_setv(int code, const char *fmt, va_list ap)
{
	vsnprintf(detail, sizeof(detail), fmt, ap);
	return code;
}

int err_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_setv(code, fmt, ap);
	va_end(ap);
	return code;
}

int err_wrap(int code, const char *fmt, ...)
{
	char prefix[ERR_DETAIL_MAX], old[ERR_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	snprintf(old, sizeof(old), "%s", detail);
	if (old[0] != '\0')
		snprintf(detail, sizeof(detail), "%s: %s", prefix, old);
	else
		snprintf(detail, sizeof(detail), "%s", prefix);
	return code;
}

int err_sys(const char *fmt, ...)
{
	char what[ERR_DETAIL_MAX];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(detail, sizeof(detail), "%s: %s", what, strerror(saved));
	errno = saved;
	return ERR_SYSTEM;
}

int err_crypto(const char *fmt, ...)
{
	char what[ERR_DETAIL_MAX], reason[256] = "no reason given";
	unsigned long e;
	const char *file, *func, *data;
	int line, flags;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	while ((e = ERR_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
		ERR_error_string_n(e, reason, sizeof(reason));
		log_debug("openssl: %s (%s:%d %s)", reason, file, line,
			  (flags & ERR_TXT_STRING) ? data : "");
	}
	snprintf(detail, sizeof(detail), "%s: %s", what, reason);
	return ERR_CRYPTO;
}

struct ckr_name {
	unsigned long rv;
	const char *name;
};

#define CKR(x) {x, #x}
static const struct ckr_name ckr_names[] = {
	CKR(CKR_OK),
	CKR(CKR_CANCEL),
	CKR(CKR_HOST_MEMORY),
	CKR(CKR_SLOT_ID_INVALID),
	CKR(CKR_GENERAL_ERROR),
	CKR(CKR_FUNCTION_FAILED),
	CKR(CKR_ARGUMENTS_BAD),
	CKR(CKR_NO_EVENT),
	CKR(CKR_NEED_TO_CREATE_THREADS),
	CKR(CKR_CANT_LOCK),
	CKR(CKR_ATTRIBUTE_READ_ONLY),
	CKR(CKR_ATTRIBUTE_SENSITIVE),
	CKR(CKR_ATTRIBUTE_TYPE_INVALID),
	CKR(CKR_ATTRIBUTE_VALUE_INVALID),
	CKR(CKR_DATA_INVALID),
	CKR(CKR_DATA_LEN_RANGE),
	CKR(CKR_DEVICE_ERROR),
	CKR(CKR_DEVICE_MEMORY),
	CKR(CKR_DEVICE_REMOVED),
	CKR(CKR_ENCRYPTED_DATA_INVALID),
	CKR(CKR_ENCRYPTED_DATA_LEN_RANGE),
	CKR(CKR_FUNCTION_CANCELED),
	CKR(CKR_FUNCTION_NOT_PARALLEL),
	CKR(CKR_FUNCTION_NOT_SUPPORTED),
	CKR(CKR_KEY_HANDLE_INVALID),
	CKR(CKR_KEY_SIZE_RANGE),
	CKR(CKR_KEY_TYPE_INCONSISTENT),
	CKR(CKR_KEY_NOT_NEEDED),
	CKR(CKR_KEY_CHANGED),
	CKR(CKR_KEY_NEEDED),
	CKR(CKR_KEY_INDIGESTIBLE),
	CKR(CKR_KEY_FUNCTION_NOT_PERMITTED),
	CKR(CKR_KEY_NOT_WRAPPABLE),
	CKR(CKR_KEY_UNEXTRACTABLE),
	CKR(CKR_MECHANISM_INVALID),
	CKR(CKR_MECHANISM_PARAM_INVALID),
	CKR(CKR_OBJECT_HANDLE_INVALID),
	CKR(CKR_OPERATION_ACTIVE),
	CKR(CKR_OPERATION_NOT_INITIALIZED),
	CKR(CKR_PIN_INCORRECT),
	CKR(CKR_PIN_INVALID),
	CKR(CKR_PIN_LEN_RANGE),
	CKR(CKR_PIN_EXPIRED),
	CKR(CKR_PIN_LOCKED),
	CKR(CKR_SESSION_CLOSED),
	CKR(CKR_SESSION_COUNT),
	CKR(CKR_SESSION_HANDLE_INVALID),
	CKR(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
	CKR(CKR_SESSION_READ_ONLY),
	CKR(CKR_SESSION_EXISTS),
	CKR(CKR_SESSION_READ_ONLY_EXISTS),
	CKR(CKR_SESSION_READ_WRITE_SO_EXISTS),
	CKR(CKR_SIGNATURE_INVALID),
	CKR(CKR_SIGNATURE_LEN_RANGE),
	CKR(CKR_TEMPLATE_INCOMPLETE),
	CKR(CKR_TEMPLATE_INCONSISTENT),
	CKR(CKR_TOKEN_NOT_PRESENT),
	CKR(CKR_TOKEN_NOT_RECOGNIZED),
	CKR(CKR_TOKEN_WRITE_PROTECTED),
	CKR(CKR_UNWRAPPING_KEY_HANDLE_INVALID),
	CKR(CKR_UNWRAPPING_KEY_SIZE_RANGE),
	CKR(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
	CKR(CKR_USER_ALREADY_LOGGED_IN),
	CKR(CKR_USER_NOT_LOGGED_IN),
	CKR(CKR_USER_PIN_NOT_INITIALIZED),
	CKR(CKR_USER_TYPE_INVALID),
	CKR(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
	CKR(CKR_USER_TOO_MANY_TYPES),
	CKR(CKR_WRAPPED_KEY_INVALID),
	CKR(CKR_WRAPPED_KEY_LEN_RANGE),
	CKR(CKR_WRAPPING_KEY_HANDLE_INVALID),
	CKR(CKR_WRAPPING_KEY_SIZE_RANGE),
	CKR(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
	CKR(CKR_RANDOM_SEED_NOT_SUPPORTED),
	CKR(CKR_RANDOM_NO_RNG),
	CKR(CKR_DOMAIN_PARAMS_INVALID),
	CKR(CKR_BUFFER_TOO_SMALL),
	CKR(CKR_SAVED_STATE_INVALID),
	CKR(CKR_INFORMATION_SENSITIVE),
	CKR(CKR_STATE_UNSAVEABLE),
	CKR(CKR_CRYPTOKI_NOT_INITIALIZED),
	CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED),
	CKR(CKR_MUTEX_BAD),
	CKR(CKR_MUTEX_NOT_LOCKED),
	CKR(CKR_FUNCTION_REJECTED),
};
#undef CKR

const char *err_ckr_name(unsigned long rv)
{
	static _Thread_local char unknown[32];
	size_t i;

	for (i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); i++)
		if (ckr_names[i].rv == rv)
			return ckr_names[i].name;
	snprintf(unknown, sizeof(unknown), "CKR_0x%08lx", rv);
	return unknown;
}

int err_ckr(unsigned long rv, const char *fmt, ...)
{
	char what[ERR_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(detail, sizeof(detail), "%s: %s (0x%08lx)", what, err_ckr_name(rv), rv);
	return ERR_HSM;
}

const char *err_detail(void)
{
	return detail;
}

void err_clear(void)
{
	detail[0] = '\0';
}

const char *err_msg(int code)
{
	if (detail[0] != '\0')
		snprintf(msgbuf, sizeof(msgbuf), "%s: %s", err_str(code), detail);
	else
		snprintf(msgbuf, sizeof(msgbuf), "%s", err_str(code));
	return msgbuf;
}

// SPDX-License-Identifier: ISC
/*
 * A fault-injecting PKCS#11 module for tests: forwards every call to the real
 * module named by $COFFER_FAULT_MODULE (SoftHSM2 by default) and makes chosen
 * calls fail on cue. The cue is the control file named by
 * $COFFER_FAULT_CONTROL, read at every intercepted call, one line per rule:
 *
 *     C_DeriveKey CKR_DEVICE_ERROR
 *     C_Sign 0x30
 *
 * An absent or empty file means no faults. Intercepted: C_Login,
 * C_OpenSession, C_DeriveKey, C_Sign, C_CopyObject. Each injected failure is counted in
 * "$COFFER_FAULT_CONTROL.count" (one line appended per fault) so tests can see
 * that the fault was hit.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST shim;

static const struct {
	const char *name;
	CK_RV rv;
} rv_names[] = {
	{"CKR_DEVICE_ERROR", CKR_DEVICE_ERROR},
	{"CKR_DEVICE_REMOVED", CKR_DEVICE_REMOVED},
	{"CKR_GENERAL_ERROR", CKR_GENERAL_ERROR},
	{"CKR_FUNCTION_FAILED", CKR_FUNCTION_FAILED},
	{"CKR_PIN_INCORRECT", CKR_PIN_INCORRECT},
	{"CKR_SESSION_HANDLE_INVALID", CKR_SESSION_HANDLE_INVALID},
	{"CKR_USER_NOT_LOGGED_IN", CKR_USER_NOT_LOGGED_IN},
	{"CKR_TOKEN_NOT_PRESENT", CKR_TOKEN_NOT_PRESENT},
	{"CKR_SESSION_COUNT", CKR_SESSION_COUNT},
	{"CKR_FUNCTION_NOT_SUPPORTED", CKR_FUNCTION_NOT_SUPPORTED},
	{"CKR_ACTION_PROHIBITED", CKR_ACTION_PROHIBITED},
};

/* The CK_RV to inject for `fn`, or CKR_OK. */
static CK_RV fault_for(const char *fn)
{
	const char *ctl = getenv("COFFER_FAULT_CONTROL");
	char line[256], name[128], val[128];
	CK_RV rv = CKR_OK;
	FILE *f;
	size_t i;

	if (ctl == NULL || (f = fopen(ctl, "r")) == NULL)
		return CKR_OK;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%127s %127s", name, val) != 2 || strcmp(name, fn) != 0)
			continue;
		for (i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
			if (strcmp(val, rv_names[i].name) == 0)
				rv = rv_names[i].rv;
		if (rv == CKR_OK)
			rv = (CK_RV)strtoul(val, NULL, 0);
		break;
	}
	fclose(f);
	if (rv != CKR_OK) {
		char cpath[4096];
		int fd;
		snprintf(cpath, sizeof(cpath), "%s.count", ctl);
		if ((fd = open(cpath, O_WRONLY | O_APPEND | O_CREAT, 0600)) >= 0) {
			dprintf(fd, "%s 0x%lx\n", fn, (unsigned long)rv);
			close(fd);
		}
	}
	return rv;
}

static CK_RV shim_login(CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	CK_RV rv = fault_for("C_Login");
	return rv != CKR_OK ? rv : real->C_Login(s, u, pin, len);
}

static CK_RV shim_open_session(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
			       CK_SESSION_HANDLE_PTR s)
{
	CK_RV rv = fault_for("C_OpenSession");
	return rv != CKR_OK ? rv : real->C_OpenSession(slot, flags, app, notify, s);
}

static CK_RV shim_derive_key(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE base,
			     CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR key)
{
	CK_RV rv = fault_for("C_DeriveKey");
	return rv != CKR_OK ? rv : real->C_DeriveKey(s, m, base, t, n, key);
}

static CK_RV shim_copy_object(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t,
			      CK_ULONG n, CK_OBJECT_HANDLE_PTR copy)
{
	CK_RV rv = fault_for("C_CopyObject");
	return rv != CKR_OK ? rv : real->C_CopyObject(s, o, t, n, copy);
}

static CK_RV shim_sign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
		       CK_ULONG_PTR siglen)
{
	CK_RV rv = fault_for("C_Sign");
	/* A failed C_Sign ends the operation (PKCS#11 5.12); do so in the real token. */
	if (rv != CKR_OK) {
		CK_BYTE dummy[256];
		CK_ULONG dl = sizeof(dummy);
		(void)real->C_Sign(s, data, len, dummy, &dl);
		return rv;
	}
	return real->C_Sign(s, data, len, sig, siglen);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	const char *path = getenv("COFFER_FAULT_MODULE");
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	void *h;
	CK_RV rv;

	if (list == NULL)
		return CKR_ARGUMENTS_BAD;
	if (real == NULL) {
		if (path == NULL)
			path = "/usr/lib/softhsm/libsofthsm2.so";
		if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
			return CKR_GENERAL_ERROR;
		*(void **)(&get) = dlsym(h, "C_GetFunctionList");
		if (get == NULL)
			return CKR_GENERAL_ERROR;
		if ((rv = get(&real)) != CKR_OK)
			return rv;
		shim = *real;
		shim.C_Login = shim_login;
		shim.C_OpenSession = shim_open_session;
		shim.C_DeriveKey = shim_derive_key;
		shim.C_Sign = shim_sign;
		shim.C_CopyObject = shim_copy_object;
	}
	*list = &shim;
	return CKR_OK;
}

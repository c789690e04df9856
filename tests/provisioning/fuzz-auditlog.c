// SPDX-License-Identifier: ISC
/* libFuzzer target: the audit log verifier (a file an attacker may edit). */
#include "../../provisioning/auditlog.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The audit key of the seed corpus/audit-log/signed-start (a real run). */
static const char audit_public[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGoM389AkBvMym15icbnFiaflob+1\n"
    "+BT9JXhyRgnWlv/1HEfpp7K3fIjvmM4rt0fv1H3+u807K5F3XqALOf0dLA==\n"
    "-----END PUBLIC KEY-----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *key;
	struct auditlog_report rep;
	int r;

	if (key == NULL && pkey_public_from_pem((const uint8_t *)audit_public,
	                                        sizeof(audit_public) - 1, &key) != 0)
		abort();
	r = auditlog_check(data, size, &key, 1, &rep);
	/* Accepted: every line was read; refused: a line is named. */
	if (r == 0 && (rep.bad_line != 0 || rep.checkpoints > rep.lines))
		abort();
	if (r != 0 && rep.bad_line == 0)
		abort();
	err_clear();
	return 0;
}

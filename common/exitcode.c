// SPDX-License-Identifier: ISC
#include "exitcode.h"

#include "err.h"

int exit_code(int r)
{
	switch (r) {
	case 0:
		return EXIT_OK;
	case ERR_INVALID_ARG:
		return EXIT_USAGE;
	case ERR_HSM:
	case ERR_TPM:
	case ERR_SYSTEM:
	case ERR_IO:
	case ERR_ALLOC:
	case ERR_CRYPTO:
	case ERR_UNSUPPORTED:
	case ERR_TIMEOUT:
	case ERR_BUSY:
	case ERR_INTERNAL:
		return EXIT_TOKEN;
	default:
		return EXIT_REFUSED;
	}
}

int exit_code_token(int r)
{
	if (r == 0)
		return EXIT_OK;
	if (r == ERR_EXISTS)
		return EXIT_REFUSED; /* a key of that label exists: a refusal, as for a file */
	return r == ERR_INVALID_ARG ? EXIT_USAGE : EXIT_TOKEN;
}

// SPDX-License-Identifier: ISC
#ifndef COFFER_EXITCODE_H
#define COFFER_EXITCODE_H

/*
 * One table of exit statuses for the five tools (appliance-server,
 * coffer-get, coffer-seal, coffer-hsm, provision-master): the same kind of
 * failure exits with the same number in every tool. Each man page repeats
 * the rows that apply to it.
 *
 *   0    success
 *   1    refused: a check failed or the input is not acceptable (a bundle,
 *        definition, sealed file or key PEM that is malformed, tampered or
 *        missing; verification failed; a file that would be overwritten; an
 *        output target that is not a regular file; a secret name that may
 *        not enter an environment)
 *   2    usage: the command line or the configuration is wrong (unknown
 *        option, missing or malformed argument, bad config file); nothing
 *        was done
 *   3    token or system: the PKCS#11 module, token or TPM failed (wrong
 *        PIN, missing key or mechanism), or the machine did (out of
 *        memory, a read or write error)
 *   4..9 coffer-get only: no server reachable (4), the server did not
 *        prove the pinned key (5), the server does not know this client
 *        (6), the server answered an Error (7), the server broke the
 *        protocol (8), a named secret is not in the shard (9)
 *   126, 127  coffer-get exec mode: the command is not executable, not found
 */

enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,
	EXIT_USAGE = 2,
	EXIT_TOKEN = 3,
	EXIT_NETWORK = 4,
	EXIT_SERVER_AUTH = 5,
	EXIT_UNKNOWN_CLIENT = 6,
	EXIT_SERVER = 7,
	EXIT_PROTOCOL = 8,
	EXIT_NOT_FOUND = 9,
	EXIT_CANNOT_EXEC = 126,
	EXIT_EXEC_NOT_FOUND = 127,
};

/*
 * The exit status for a failure with status code r (err.h): 0 for 0;
 * EXIT_USAGE for ERR_INVALID_ARG; EXIT_TOKEN for the token, TPM and system
 * codes (ERR_HSM, ERR_TPM, ERR_SYSTEM, ERR_IO, ERR_ALLOC, ERR_CRYPTO,
 * ERR_UNSUPPORTED, ERR_TIMEOUT, ERR_BUSY, ERR_INTERNAL); EXIT_REFUSED for
 * every other code (the input or the check said no).
 */
int exit_code(int r);

/*
 * The exit status for a failure of a token step (opening a module, logging
 * in, finding, generating or using a key): EXIT_USAGE for ERR_INVALID_ARG,
 * EXIT_REFUSED for ERR_EXISTS (a key of that label is there already: not
 * overwritten, like a file), else EXIT_TOKEN, whatever the code (a wrong PIN
 * is ERR_AUTH, a key missing from the token ERR_NOT_FOUND: both are token
 * errors here). 0 for 0.
 */
int exit_code_token(int r);

#endif

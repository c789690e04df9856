// SPDX-License-Identifier: ISC
#ifndef COFFER_CLIENTS_ENVP_H
#define COFFER_CLIENTS_ENVP_H

/*
 * Exec mode: a new environment for the child, built beside the parent's
 * (the parent's own environment, /proc/self/environ, is never modified),
 * then execve of the command with a PATH search as execvp does.
 */

#include <stddef.h>

#include "err.h"
#include "secret.h"

/*
 * A new NULL-terminated envp: every entry of base (may be NULL) whose name
 * is not set by a secret, in order, then prefix+key=text for each secret in
 * shard order (a later secret of the same name replaces an earlier one).
 * Names and values are checked first (output_check_env, with allow):
 * ERR_FORMAT or ERR_PERMISSION names the key. Free with envp_free, which
 * wipes every entry.
 */
int envp_build(char *const *base, const struct secret *items, size_t n, const char *prefix,
               const char *const *allow, char ***envpp) WARN_UNUSED;
/* Wipe and free an envp made by envp_build; NULL is fine. */
void envp_free(char **envp);
/* Number of entries (without the final NULL). */
size_t envp_count(char *const *envp);

/*
 * execve(file, argv, envp), searching the PATH of the calling process when
 * file has no '/' (as execvp; a script without #! runs under /bin/sh).
 * Returns only on failure: ERR_NOT_FOUND (no such command), ERR_PERMISSION
 * or ERR_SYSTEM, detail naming the command.
 */
int envp_exec(const char *file, char *const argv[], char *const envp[]) WARN_UNUSED;

#endif

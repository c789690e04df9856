// SPDX-License-Identifier: ISC
#ifndef COFFER_ENVNAME_H
#define COFFER_ENVNAME_H

/*
 * Environment variable names, shared by coffer-get (which refuses a shard
 * that would set a dangerous one) and coffer-seal check (which warns about
 * them before anything is sealed).
 */

#include <stddef.h>

/* 1 if name[0..len) matches [A-Za-z_][A-Za-z0-9_]*, else 0. */
int envname_ok(const char *name, size_t len);

/*
 * 1 if name[0..len) is on the one list of names that change how programs
 * load or run: exact names (BASH_ENV, ENV, PATH, IFS, PS4, SHELLOPTS,
 * BASHOPTS, GLIBC_TUNABLES, GCONV_PATH, NODE_OPTIONS, RUBYOPT,
 * JAVA_TOOL_OPTIONS, OPENSSL_CONF, ...) and prefixes (LD_, DYLD_,
 * BASH_FUNC_, PYTHON, PERL5, LUA_INIT, GIT_CONFIG_). The full list is in
 * envname.c and coffer-get(1). Case matters (ld_preload is not special).
 */
int envname_refused(const char *name, size_t len);

#endif

// SPDX-License-Identifier: ISC
#ifndef COFFER_APPLIANCE_PRIVDROP_H
#define COFFER_APPLIANCE_PRIVDROP_H

/*
 * Dropping privileges after the sockets are bound and the token is open:
 * setgroups() to the user's groups, setresgid(), setresuid(), then verify
 * the drop stuck (setuid(0) / setgid(0) must fail when we were root).
 * NO_NEW_PRIVS is set in every case.
 */

#include "err.h"

/*
 * Become `user` (NULL: stay who we are). ERR_NOT_FOUND for an unknown
 * user, ERR_PERMISSION if not running as root (and not already that user)
 * or if the old ids could be regained, ERR_SYSTEM for a failed call.
 */
int privdrop_to_user(const char *user) WARN_UNUSED;

/* prctl(PR_SET_NO_NEW_PRIVS, 1). */
int privdrop_no_new_privs(void) WARN_UNUSED;

#endif

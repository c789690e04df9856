// SPDX-License-Identifier: ISC
#ifndef COFFER_TESTS_PROTOCOL_VECTOR_KEYS_H
#define COFFER_TESTS_PROTOCOL_VECTOR_KEYS_H

/* The fixed keys of tests/vectors/coffer-p256.json (also used by the fuzz
 * harnesses, so their seed corpora authenticate). Test-only. */

/* Fixed private scalars (any value in [1, n-1] would do). */
#define SERVER_STATIC "1f4d33a6c7a2b0b5e4b3c8d0f2a1e9c7b6d5a4f3e2d1c0b9a8f7e6d5c4b3a291"
#define CLIENT_STATIC "7c0ffee15a5ec2e70b5e55ed0f1e1dca7c0ffee15a5ec2e70b5e55ed0f1e1dca"
#define CLIENT_EPHEMERAL "2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe"
#define SERVER_EPHEMERAL "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
#define TIMESTAMP_NS 1795000000123456789ULL /* 2026-11-18T... UTC */

#endif

// SPDX-License-Identifier: ISC
#ifndef COFFER_AUDITLOG_H
#define COFFER_AUDITLOG_H

/*
 * The appliance's audit log as evidence: the format both the writer
 * (appliance/audit.c) and the verifier (provision-master audit-verify) rely
 * on. One JSON object per line, ASCII only, each line starting with
 *
 *   {"seq":N,"prev":"<64 lower-case hex>",
 *
 * seq counts records from 0 without gaps; prev is the SHA-256 of the
 * previous line's bytes as written, its '\n' included (64 zeros for seq 0).
 * A checkpoint record is
 *
 *   {"seq":N,"prev":"H","ts":"T","event":"checkpoint","reason":R,"every":E,
 *    "audit_key":"sha256:<hex>","sig":"<hex of a DER ECDSA signature>"}
 *
 * (one line) whose signature, by the audit key, covers the line's bytes
 * before `,"sig":"` (SHA-256, as `openssl dgst -sha256 -verify` checks it):
 * its seq and prev are the chain head it vouches for. reason is "start"
 * (the appliance started), "interval" (E records since the last one),
 * "reload" or "shutdown". Only a start checkpoint may follow a shutdown
 * checkpoint, and at most E records may follow a checkpoint before the next.
 */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "err.h"
#include "pkey.h"

#define AUDITLOG_MAX_LINE 16384 /* bytes of one record, '\n' included */
#define AUDITLOG_MAX_KEYS 4     /* --audit-public keys in one verification */
#define AUDITLOG_HEAD_MAX 96    /* bytes of {"seq":N,"prev":"...", */
#define AUDITLOG_SIG_TAG ",\"sig\":\""
#define AUDITLOG_SIG_MAX 80 /* DER bytes of a P-256 (or P-384) ECDSA signature, at most */

/*
 * Write the chain fields that open a record, `{"seq":N,"prev":"<hex>",`,
 * into out (AUDITLOG_HEAD_MAX bytes). Returns the length.
 */
size_t auditlog_head(uint64_t seq, const uint8_t prev[static SHA256_LEN], char *out);

/*
 * Read the chain fields at the start of a line (exactly the form
 * auditlog_head writes). ERR_FORMAT if the line does not start that way.
 */
int auditlog_parse_head(const uint8_t *line, size_t len, uint64_t *seq,
                        uint8_t prev[static SHA256_LEN]) WARN_UNUSED;

/*
 * The signed part of a checkpoint line (with or without its '\n'): the
 * bytes before the last `,"sig":"`, whose length goes to *signed_len; the
 * signature is decoded into sig (AUDITLOG_SIG_MAX bytes), *siglen. The line
 * must end `"}` (then '\n' if present). ERR_FORMAT otherwise.
 */
int auditlog_split_sig(const uint8_t *line, size_t len, size_t *signed_len, uint8_t *sig,
                       size_t *siglen) WARN_UNUSED;

/* What a verification found. */
struct auditlog_report {
	size_t lines;             /* records read */
	size_t checkpoints;       /* of them, checkpoints (all verified) */
	size_t last_checkpoint;   /* line of the last checkpoint, 0 if none */
	char last_reason[16];     /* its reason */
	size_t tail;              /* records after the last checkpoint: signed by nothing */
	uint64_t next_seq;        /* seq the next record would carry */
	uint8_t head[SHA256_LEN]; /* SHA-256 of the last line (zeros if empty) */
	size_t bad_line;          /* on failure: the line named in the detail */
};

/*
 * Check a whole log held in memory (untrusted) against the audit public
 * keys (P-256 or P-384; at least one). ERR_AUTH with the detail
 * "line N: ..." (and rep->bad_line = N) for the first record that breaks the
 * chain, a checkpoint whose signature or key is wrong, or a record where no
 * record may be; ERR_FORMAT likewise for a malformed or incomplete record.
 * rep is filled as far as the check got.
 */
int auditlog_check(const uint8_t *data, size_t len, EVP_PKEY *const *keys, size_t nkeys,
                   struct auditlog_report *rep) WARN_UNUSED;

/*
 * auditlog_check() over the file at path, read as a stream (any size).
 * ERR_NOT_FOUND, ERR_SYSTEM, ERR_PERMISSION (not a regular file) besides.
 */
int auditlog_verify(const char *path, EVP_PKEY *const *keys, size_t nkeys,
                    struct auditlog_report *rep) WARN_UNUSED;

#endif

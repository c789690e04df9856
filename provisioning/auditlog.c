// SPDX-License-Identifier: ISC
#include "auditlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "encoding.h"

#define SEQ_TAG "{\"seq\":"
#define PREV_TAG ",\"prev\":\""
#define HEX_LEN (2 * SHA256_LEN)

size_t auditlog_head(uint64_t seq, const uint8_t prev[static SHA256_LEN], char *out)
{
	char hex[HEX_LEN + 1];
	int n;

	hex_encode(prev, SHA256_LEN, hex);
	n = snprintf(out, AUDITLOG_HEAD_MAX, SEQ_TAG "%" PRIu64 PREV_TAG "%s\",", seq, hex);
	return n > 0 && n < AUDITLOG_HEAD_MAX ? (size_t)n : 0;
}

int auditlog_parse_head(const uint8_t *line, size_t len, uint64_t *seq,
                        uint8_t prev[static SHA256_LEN])
{
	const size_t st = sizeof(SEQ_TAG) - 1, pt = sizeof(PREV_TAG) - 1;
	uint64_t v = 0;
	size_t i = st, digits = 0;

	if (len < st || memcmp(line, SEQ_TAG, st) != 0)
		return err_set(ERR_FORMAT, "does not start with {\"seq\":");
	/* Decimal, no sign, no leading zero (one spelling per number). */
	while (i < len && line[i] >= '0' && line[i] <= '9') {
		if (v > (UINT64_MAX - 9) / 10 || (digits == 1 && v == 0))
			return err_set(ERR_FORMAT, "seq is not a plain decimal number");
		v = v * 10 + (uint64_t)(line[i] - '0');
		i++;
		digits++;
	}
	if (digits == 0)
		return err_set(ERR_FORMAT, "seq is not a number");
	if (len - i < pt + HEX_LEN + 2 || memcmp(line + i, PREV_TAG, pt) != 0)
		return err_set(ERR_FORMAT, "seq is not followed by \"prev\"");
	i += pt;
	for (size_t k = 0; k < HEX_LEN; k++) {
		uint8_t c = line[i + k];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return err_set(ERR_FORMAT, "prev is not 64 lower-case hex digits");
	}
	if (hex_decode((const char *)line + i, HEX_LEN, prev, SHA256_LEN) != 0)
		return err_set(ERR_FORMAT, "prev is not hex");
	if (line[i + HEX_LEN] != '"' || line[i + HEX_LEN + 1] != ',')
		return err_set(ERR_FORMAT, "prev is not 64 lower-case hex digits");
	*seq = v;
	return 0;
}

int auditlog_split_sig(const uint8_t *line, size_t len, size_t *signed_len, uint8_t *sig,
                       size_t *siglen)
{
	const size_t tl = sizeof(AUDITLOG_SIG_TAG) - 1;
	size_t i, start, hexlen;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len < tl + 2 || line[len - 1] != '}' || line[len - 2] != '"')
		return err_set(ERR_FORMAT, "a checkpoint must end with \"sig\":\"<hex>\"}");
	/* The last tag: hex digits hold no quote, so nothing else can follow it. */
	for (i = len - 2; i >= tl; i--)
		if (memcmp(line + i - tl, AUDITLOG_SIG_TAG, tl) == 0)
			break;
	if (i < tl)
		return err_set(ERR_FORMAT, "a checkpoint without \"sig\"");
	start = i;
	hexlen = len - 2 - start;
	if (hexlen == 0 || hexlen % 2 != 0 || hexlen / 2 > AUDITLOG_SIG_MAX ||
	    hex_decode((const char *)line + start, hexlen, sig, hexlen / 2) != 0)
		return err_set(ERR_FORMAT, "\"sig\" is not the hex of a signature");
	*signed_len = start - tl;
	*siglen = hexlen / 2;
	return 0;
}

struct checker {
	EVP_PKEY *const *keys;
	size_t nkeys;
	char fprs[AUDITLOG_MAX_KEYS][PKEY_FPR_TEXT_LEN + 1];
	struct auditlog_report *rep;
	uint8_t prev[SHA256_LEN]; /* SHA-256 of the previous line */
	int after_shutdown;       /* the previous record was a shutdown checkpoint */
	uint64_t every;           /* promised by the last checkpoint; 0 before one */
	uint64_t since;           /* records since the last checkpoint */
};

static int bad(struct checker *ck, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);

static int bad(struct checker *ck, int code, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ck->rep->bad_line = ck->rep->lines + 1;
	return err_set(code, "line %zu: %s", ck->rep->bad_line, why);
}

static const char *str_field(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A checkpoint line: its fields, the key it names, its signature. */
static int check_checkpoint(struct checker *ck, json_t *o, const uint8_t *line, size_t len)
{
	static const char *const reasons[] = {"start", "interval", "reload", "shutdown"};
	const char *reason = str_field(o, "reason"), *key = str_field(o, "audit_key"), *hex;
	json_t *every = json_object_get(o, "every");
	uint8_t sig[AUDITLOG_SIG_MAX];
	size_t signed_len, siglen, i, k;

	for (i = 0; reason != NULL && i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(reason, reasons[i]) == 0)
			break;
	if (reason == NULL || i == sizeof(reasons) / sizeof(reasons[0]))
		return bad(ck, ERR_FORMAT, "checkpoint without a known \"reason\"");
	if (!json_is_integer(every) || json_integer_value(every) < 1)
		return bad(ck, ERR_FORMAT, "checkpoint without a positive \"every\"");
	if (key == NULL)
		return bad(ck, ERR_FORMAT, "checkpoint without \"audit_key\"");
	for (k = 0; k < ck->nkeys; k++)
		if (strcmp(key, ck->fprs[k]) == 0)
			break;
	if (k == ck->nkeys) {
		char esc[PKEY_FPR_TEXT_LEN + 1];
		snprintf(esc, sizeof(esc), "%s", key);
		for (i = 0; esc[i] != '\0'; i++)
			if (esc[i] < 0x20 || esc[i] > 0x7e)
				esc[i] = '?';
		return bad(ck, ERR_AUTH,
		           "checkpoint names audit key %s, not one of the --audit-public keys",
		           esc);
	}
	if (auditlog_split_sig(line, len, &signed_len, sig, &siglen) != 0)
		return bad(ck, ERR_FORMAT, "%s", err_detail());
	/* What JSON reads as "sig" must be what was split off and verified. */
	hex = str_field(o, "sig");
	if (hex == NULL || strlen(hex) != 2 * siglen ||
	    memcmp(hex, line + signed_len + sizeof(AUDITLOG_SIG_TAG) - 1, 2 * siglen) != 0)
		return bad(ck, ERR_FORMAT, "\"sig\" is not the checkpoint's last field");
	if (pkey_verify(ck->keys[k], line, signed_len, sig, siglen) != 0)
		return bad(ck, ERR_AUTH,
		           "the checkpoint's signature does not verify with %s (the checkpoint "
		           "was altered or forged)",
		           ck->fprs[k]);
	ck->rep->checkpoints++;
	ck->rep->last_checkpoint = ck->rep->lines + 1;
	snprintf(ck->rep->last_reason, sizeof(ck->rep->last_reason), "%s", reason);
	ck->after_shutdown = strcmp(reason, "shutdown") == 0;
	ck->every = (uint64_t)json_integer_value(every);
	ck->since = 0;
	ck->rep->tail = 0;
	return 0;
}

/* One line, '\n' included when `terminated`. */
static int check_line(struct checker *ck, const uint8_t *line, size_t len, int terminated)
{
	struct auditlog_report *rep = ck->rep;
	uint8_t prev[SHA256_LEN];
	uint64_t seq;
	json_error_t je;
	json_t *o = NULL;
	const char *event, *reason;
	int r, is_cp;

	if (!terminated)
		return bad(ck, ERR_FORMAT,
		           "incomplete record: the file ends mid-record (cut "
		           "off, or a write that did not finish)");
	if (len > AUDITLOG_MAX_LINE)
		return bad(ck, ERR_FORMAT, "longer than %d bytes", AUDITLOG_MAX_LINE);
	if (auditlog_parse_head(line, len, &seq, prev) != 0)
		return bad(ck, ERR_FORMAT, "not a chained audit record (%s)", err_detail());
	if (seq != rep->next_seq) {
		if (rep->lines == 0)
			return bad(ck, ERR_AUTH,
			           "seq %" PRIu64 ", but a log starts at seq 0 (its beginning "
			           "is missing)",
			           seq);
		return bad(ck, ERR_AUTH, "seq %" PRIu64 " where %" PRIu64 " was expected (%s)", seq,
		           rep->next_seq,
		           seq > rep->next_seq
		               ? "a record was removed before it, or records were reordered"
		               : "records were reordered or repeated");
	}
	if (CRYPTO_memcmp(prev, ck->prev, SHA256_LEN) != 0) {
		if (rep->lines == 0)
			return bad(ck, ERR_AUTH, "the first record's prev must be 64 zeros");
		return bad(ck, ERR_AUTH,
		           "prev is not the SHA-256 of line %zu (line %zu was changed, or a "
		           "record was removed or inserted between them)",
		           rep->lines, rep->lines);
	}
	if ((o = json_loadb((const char *)line, len - 1, JSON_REJECT_DUPLICATES, &je)) == NULL ||
	    !json_is_object(o)) {
		r = bad(ck, ERR_FORMAT, "not a JSON object%s%.200s", o == NULL ? ": " : "",
		        o == NULL ? je.text : "");
		goto out;
	}
	if ((event = str_field(o, "event")) == NULL) {
		r = bad(ck, ERR_FORMAT, "no \"event\"");
		goto out;
	}
	is_cp = strcmp(event, "checkpoint") == 0;
	reason = str_field(o, "reason");
	if (ck->after_shutdown && !(is_cp && reason != NULL && strcmp(reason, "start") == 0)) {
		r = bad(ck, ERR_AUTH,
		        "a record after the shutdown checkpoint of line %zu that is not a "
		        "start checkpoint (added after the appliance stopped)",
		        rep->lines);
		goto out;
	}
	if (is_cp) {
		if ((r = check_checkpoint(ck, o, line, len)) != 0)
			goto out;
	} else {
		if (ck->every != 0 && ck->since >= ck->every) {
			r = bad(ck, ERR_AUTH,
			        "%" PRIu64 " records after the checkpoint of line %zu, which "
			        "promised one every %" PRIu64
			        " (a checkpoint was removed, or the appliance could not sign)",
			        ck->since + 1, rep->last_checkpoint, ck->every);
			goto out;
		}
		ck->since++;
		rep->tail++;
	}
	if ((r = pkey_sha256(line, len, ck->prev)) != 0)
		goto out;
	memcpy(rep->head, ck->prev, SHA256_LEN);
	rep->lines++;
	rep->next_seq = seq + 1;
	r = 0;
out:
	json_decref(o);
	return r;
}

static int checker_init(struct checker *ck, EVP_PKEY *const *keys, size_t nkeys,
                        struct auditlog_report *rep)
{
	size_t i;
	int r;

	memset(ck, 0, sizeof(*ck));
	memset(rep, 0, sizeof(*rep));
	ck->rep = rep;
	if (nkeys == 0 || nkeys > AUDITLOG_MAX_KEYS)
		return err_set(ERR_INVALID_ARG, "give 1 to %d audit public keys",
		               AUDITLOG_MAX_KEYS);
	ck->keys = keys;
	ck->nkeys = nkeys;
	for (i = 0; i < nkeys; i++)
		if ((r = pkey_fingerprint(keys[i], ck->fprs[i])) != 0)
			return r;
	return 0;
}

int auditlog_check(const uint8_t *data, size_t len, EVP_PKEY *const *keys, size_t nkeys,
                   struct auditlog_report *rep)
{
	struct checker ck;
	size_t off = 0;
	int r;

	if ((r = checker_init(&ck, keys, nkeys, rep)) != 0)
		return r;
	while (off < len) {
		const uint8_t *nl = memchr(data + off, '\n', len - off);
		size_t ll = nl != NULL ? (size_t)(nl - (data + off)) + 1 : len - off;
		if ((r = check_line(&ck, data + off, ll, nl != NULL)) != 0)
			return r;
		off += ll;
	}
	return 0;
}

int auditlog_verify(const char *path, EVP_PKEY *const *keys, size_t nkeys,
                    struct auditlog_report *rep)
{
	struct checker ck;
	struct stat st;
	uint8_t *b = NULL;
	size_t have = 0;
	int fd = -1, r, eof = 0;

	if ((r = checker_init(&ck, keys, nkeys, rep)) != 0)
		return r;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		if (errno == ENOENT)
			return err_set(ERR_NOT_FOUND, "%.200s: no such file", path);
		return err_sys("open %.200s", path);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = err_set(ERR_PERMISSION, "%.200s is not a regular file", path);
		goto out;
	}
	if ((b = malloc(AUDITLOG_MAX_LINE + 1)) == NULL) {
		r = err_set(ERR_ALLOC, "audit log buffer");
		goto out;
	}
	while (!eof || have > 0) {
		uint8_t *nl;
		size_t ll;
		if (!eof && have <= AUDITLOG_MAX_LINE) {
			ssize_t n = read(fd, b + have, AUDITLOG_MAX_LINE + 1 - have);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				r = err_sys("read %.200s", path);
				goto out;
			}
			if (n == 0)
				eof = 1;
			have += (size_t)n;
		}
		nl = memchr(b, '\n', have);
		if (nl == NULL && !eof && have <= AUDITLOG_MAX_LINE)
			continue;
		if (nl == NULL && have > AUDITLOG_MAX_LINE) {
			r = bad(&ck, ERR_FORMAT, "longer than %d bytes", AUDITLOG_MAX_LINE);
			goto out;
		}
		if (nl == NULL && have == 0)
			break;
		ll = nl != NULL ? (size_t)(nl - b) + 1 : have;
		if ((r = check_line(&ck, b, ll, nl != NULL)) != 0)
			goto out;
		memmove(b, b + ll, have - ll);
		have -= ll;
	}
	r = 0;
out:
	if (r != 0 && rep->bad_line != 0)
		err_wrap(r, "%.200s", path);
	free(b);
	close(fd);
	return r;
}

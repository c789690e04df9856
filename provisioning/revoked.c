// SPDX-License-Identifier: ISC
#include "revoked.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "bundle.h"
#include "log.h"

#define REVOKED_ESC_MAX 128

struct revoked_entry {
	uint8_t id[IDENTITY_LEN];
	char *reason;
	char *time;
};

struct revoked {
	struct revoked_entry *e; /* in the order of the file */
	size_t n, cap;
	uint8_t (*sorted)[IDENTITY_LEN]; /* the same identities, sorted, for lookups */
};

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, IDENTITY_LEN);
}

int revoked_new(struct revoked **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return err_set(ERR_ALLOC, "revocation list");
	return 0;
}

void revoked_free(struct revoked *rv)
{
	size_t i;

	if (rv == NULL)
		return;
	for (i = 0; i < rv->n; i++) {
		free(rv->e[i].reason);
		free(rv->e[i].time);
	}
	free(rv->e);
	free(rv->sorted);
	free(rv);
}

size_t revoked_count(const struct revoked *rv)
{
	return rv->n;
}

const uint8_t *revoked_id(const struct revoked *rv, size_t i)
{
	if (i >= rv->n)
		fatal("revoked_id: index %zu out of %zu", i, rv->n);
	return rv->e[i].id;
}

int revoked_contains(const struct revoked *rv, const uint8_t id[static IDENTITY_LEN])
{
	if (rv == NULL || rv->n == 0)
		return 0;
	return bsearch(id, rv->sorted, rv->n, IDENTITY_LEN, id_cmp) != NULL;
}

/* Text without control characters, at most max bytes (UTF-8 is checked by jansson). */
static int text_ok(const char *s, size_t len, size_t min, size_t max, int ascii)
{
	size_t i;

	if (len < min || len > max || strlen(s) != len)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || (ascii && c > 0x7f))
			return 0;
	}
	return 1;
}

/* Append an entry (strings copied), keeping the sorted index. */
static int entry_add(struct revoked *rv, const uint8_t id[IDENTITY_LEN], const char *reason,
		     const char *time)
{
	struct revoked_entry *e;
	uint8_t(*sorted)[IDENTITY_LEN];
	size_t lo = 0, hi = rv->n;

	if (revoked_contains(rv, id))
		return ERR_EXISTS;
	if (rv->n >= LIMIT_REVOKED)
		return err_set(ERR_TOO_LARGE, "more than %d revoked identities", LIMIT_REVOKED);
	if (rv->n == rv->cap) {
		size_t cap = rv->cap ? rv->cap * 2 : 8;
		if (cap > LIMIT_REVOKED)
			cap = LIMIT_REVOKED;
		if ((e = realloc(rv->e, cap * sizeof(*e))) == NULL)
			return ERR_ALLOC;
		rv->e = e;
		if ((sorted = realloc(rv->sorted, cap * sizeof(*sorted))) == NULL)
			return ERR_ALLOC;
		rv->sorted = sorted;
		rv->cap = cap;
	}
	e = &rv->e[rv->n];
	memset(e, 0, sizeof(*e));
	if ((e->reason = strdup(reason)) == NULL || (e->time = strdup(time)) == NULL) {
		free(e->reason);
		free(e->time);
		return ERR_ALLOC;
	}
	memcpy(e->id, id, IDENTITY_LEN);
	/* Insertion keeps the index sorted: revocations are few and added one by one. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(rv->sorted[mid], id, IDENTITY_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(rv->sorted[lo + 1], rv->sorted[lo], (rv->n - lo) * IDENTITY_LEN);
	memcpy(rv->sorted[lo], id, IDENTITY_LEN);
	rv->n++;
	return 0;
}

static int parse_entry(struct revoked *rv, json_t *o, size_t idx)
{
	const char *key;
	json_t *v, *jid, *jreason, *jtime;
	uint8_t id[IDENTITY_LEN];
	char esc[REVOKED_ESC_MAX];
	int r;

	if (!json_is_object(o))
		return err_set(ERR_FORMAT, "revoked[%zu]: not an object", idx);
	json_object_foreach(o, key, v)
	{
		if (strcmp(key, "identity") != 0 && strcmp(key, "reason") != 0 &&
		    strcmp(key, "time") != 0)
			return err_set(ERR_FORMAT, "revoked[%zu]: unknown key \"%s\"", idx,
				       log_untrusted(esc, sizeof(esc), key, 60));
	}
	jid = json_object_get(o, "identity");
	jreason = json_object_get(o, "reason");
	jtime = json_object_get(o, "time");
	if (jid == NULL || !json_is_string(jid) || identity_parse(json_string_value(jid), id) != 0)
		return err_set(ERR_FORMAT, "revoked[%zu]: \"identity\" missing or not an identity",
			       idx);
	if (jreason == NULL || !json_is_string(jreason) ||
	    !text_ok(json_string_value(jreason), json_string_length(jreason), 0,
		     LIMIT_REVOKE_REASON, 0))
		return err_set(ERR_FORMAT,
			       "revoked[%zu]: \"reason\" missing, longer than %d bytes or holds a "
			       "control character",
			       idx, LIMIT_REVOKE_REASON);
	if (jtime == NULL || !json_is_string(jtime) ||
	    !text_ok(json_string_value(jtime), json_string_length(jtime), 1, REVOKED_TIME_MAX, 1))
		return err_set(ERR_FORMAT, "revoked[%zu]: \"time\" missing or not 1 to %d printable "
					   "characters",
			       idx, REVOKED_TIME_MAX);
	r = entry_add(rv, id, json_string_value(jreason), json_string_value(jtime));
	if (r == ERR_EXISTS) {
		char text[IDENTITY_TEXT_LEN + 1];
		identity_format(id, text);
		return err_set(ERR_FORMAT, "revoked[%zu]: %s is listed twice", idx, text);
	}
	return r;
}

int revoked_parse(const uint8_t *data, size_t len, struct revoked **out)
{
	struct revoked *rv = NULL;
	json_t *root = NULL, *v, *list;
	json_error_t jerr;
	const char *key;
	char esc[REVOKED_ESC_MAX];
	size_t i;
	int r;

	*out = NULL;
	if (len > LIMIT_REVOKED_FILE)
		return err_set(ERR_TOO_LARGE, "%zu bytes, more than %d", len, LIMIT_REVOKED_FILE);
	/* json_loadb refuses trailing data (other than white space) by default. */
	if ((root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return err_set(ERR_FORMAT, "not valid JSON (line %d, column %d): %s", jerr.line,
			       jerr.column, log_untrusted(esc, sizeof(esc), jerr.text, 100));
	if ((r = revoked_new(&rv)) != 0)
		goto out;
	if (!json_is_object(root)) {
		r = err_set(ERR_FORMAT, "not a JSON object");
		goto out;
	}
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "version") != 0 && strcmp(key, "revoked") != 0) {
			r = err_set(ERR_FORMAT, "unknown key \"%s\"",
				    log_untrusted(esc, sizeof(esc), key, 60));
			goto out;
		}
	}
	v = json_object_get(root, "version");
	if (v == NULL || !json_is_integer(v) || json_integer_value(v) != REVOKED_VERSION) {
		r = err_set(ERR_FORMAT, "\"version\" missing or not %d", REVOKED_VERSION);
		goto out;
	}
	list = json_object_get(root, "revoked");
	if (list == NULL || !json_is_array(list)) {
		r = err_set(ERR_FORMAT, "\"revoked\" missing or not an array");
		goto out;
	}
	if (json_array_size(list) > LIMIT_REVOKED) {
		r = err_set(ERR_TOO_LARGE, "more than %d revoked identities", LIMIT_REVOKED);
		goto out;
	}
	for (i = 0; i < json_array_size(list); i++)
		if ((r = parse_entry(rv, json_array_get(list, i), i)) != 0)
			goto out;
	*out = rv;
	rv = NULL;
	r = 0;
out:
	revoked_free(rv);
	json_decref(root);
	return r;
}

int revoked_add(struct revoked *rv, const uint8_t id[static IDENTITY_LEN], const char *reason,
		time_t when)
{
	char ts[BUNDLE_TIME_LEN + 1], text[IDENTITY_TEXT_LEN + 1];
	json_t *probe;
	int r;

	if (reason == NULL)
		reason = "";
	if (!text_ok(reason, strlen(reason), 0, LIMIT_REVOKE_REASON, 0))
		return err_set(ERR_INVALID_ARG,
			       "the reason is longer than %d bytes or holds a control character",
			       LIMIT_REVOKE_REASON);
	/* jansson refuses strings that are not UTF-8: find out now, not at format time. */
	if ((probe = json_string(reason)) == NULL)
		return err_set(ERR_INVALID_ARG, "the reason is not valid UTF-8");
	json_decref(probe);
	bundle_time_format(when, ts);
	r = entry_add(rv, id, reason, ts);
	if (r == ERR_EXISTS) {
		identity_format(id, text);
		return err_set(ERR_EXISTS, "%s is already revoked", text);
	}
	return r;
}

int revoked_format(const struct revoked *rv, struct buf *out)
{
	json_t *root = NULL, *list = NULL, *o;
	char id[IDENTITY_TEXT_LEN + 1];
	size_t i;
	int r = ERR_ALLOC;

	if ((root = json_object()) == NULL || (list = json_array()) == NULL)
		goto out;
	for (i = 0; i < rv->n; i++) {
		identity_format(rv->e[i].id, id);
		if ((o = json_object()) == NULL)
			goto out;
		if (json_array_append_new(list, o) != 0 ||
		    json_object_set_new(o, "identity", json_string(id)) != 0 ||
		    json_object_set_new(o, "reason", json_string(rv->e[i].reason)) != 0 ||
		    json_object_set_new(o, "time", json_string(rv->e[i].time)) != 0)
			goto out;
	}
	if (json_object_set_new(root, "version", json_integer(REVOKED_VERSION)) != 0 ||
	    json_object_set(root, "revoked", list) != 0)
		goto out;
	r = bundle_json_put(root, out);
out:
	json_decref(list);
	json_decref(root);
	return r;
}

int revoked_from_bundle(const struct bundle *b, struct revoked **out)
{
	struct buf *data = NULL;
	int r;

	*out = NULL;
	if (bundle_manifest_find(bundle_get_manifest(b), BUNDLE_REVOKED) == NULL)
		return revoked_new(out);
	if ((r = bundle_read_file(b, BUNDLE_REVOKED, LIMIT_REVOKED_FILE, &data)) != 0)
		return err_wrap(r, "%s", BUNDLE_REVOKED);
	if ((r = revoked_parse(buf_ptr(data), buf_len(data), out)) != 0)
		err_wrap(r, "%s", BUNDLE_REVOKED);
	buf_free(data);
	return r;
}

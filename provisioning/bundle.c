// SPDX-License-Identifier: ISC
#include "bundle.h"

#include <dirent.h>
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
#include <openssl/evp.h>

#include "buf.h"
#include "encoding.h"
#include "file.h"
#include "log.h"

#define HASH_CHUNK (64 * 1024)
#define CREATED_MAX 64
#define ESC_MAX 256

struct bundle_manifest {
	uint64_t serial;
	char *created;
	struct bundle_entry *entries; /* sorted by path */
	size_t count;
};

struct bundle {
	int dirfd;
	struct bundle_manifest *m;
	EVP_PKEY *master;
	char fpr[PKEY_FPR_TEXT_LEN + 1];
	size_t n_signers;
	char signers[LIMIT_ANCHORS][PKEY_FPR_TEXT_LEN + 1];
};

/* Untrusted names (directory entries) are escaped before they reach a message. */
static const char *esc(char out[ESC_MAX], const char *s)
{
	return log_untrusted(out, ESC_MAX, s, 200);
}

/* ---- signature file names ----------------------------------------------- */

void bundle_signature_name(const uint8_t fpr[static SHA256_LEN],
                           char out[static BUNDLE_SIG_NAME_LEN + 1])
{
	char hex[2 * SHA256_LEN + 1];

	hex_encode(fpr, SHA256_LEN, hex);
	snprintf(out, BUNDLE_SIG_NAME_LEN + 1, "sha256-%s.sig", hex);
}

/* The fingerprint a signature file is named for; ERR_FORMAT for any other name. */
static int sig_name_parse(const char *name, uint8_t fpr[static SHA256_LEN])
{
	size_t i;

	if (strlen(name) != BUNDLE_SIG_NAME_LEN || strncmp(name, "sha256-", 7) != 0 ||
	    strcmp(name + 7 + 2 * SHA256_LEN, ".sig") != 0)
		return ERR_FORMAT;
	/* Lower case only: one file name per key. */
	for (i = 7; i < 7 + 2 * SHA256_LEN; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return ERR_FORMAT;
	return hex_decode(name + 7, 2 * SHA256_LEN, fpr, SHA256_LEN);
}

static int is_sig_name(const char *name)
{
	uint8_t fpr[SHA256_LEN];

	return sig_name_parse(name, fpr) == 0;
}

/* NAME_public.pem with NAME of [A-Za-z0-9._-]: the names provision-master writes. */
static int is_key_name(const char *name)
{
	size_t n = strlen(name), k = strlen(BUNDLE_KEY_SUFFIX), i;

	if (n <= k || strcmp(name + n - k, BUNDLE_KEY_SUFFIX) != 0)
		return 0;
	for (i = 0; i < n - k; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '.' || name[i] == '_' ||
		      name[i] == '-'))
			return 0;
	return 1;
}

/* ---- manifest parsing ---------------------------------------------------- */

void bundle_manifest_free(struct bundle_manifest *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->count; i++)
		free((char *)m->entries[i].path);
	free(m->entries);
	free(m->created);
	free(m);
}

uint64_t bundle_manifest_serial(const struct bundle_manifest *m)
{
	return m->serial;
}

const char *bundle_manifest_created(const struct bundle_manifest *m)
{
	return m->created;
}

size_t bundle_manifest_count(const struct bundle_manifest *m)
{
	return m->count;
}

const struct bundle_entry *bundle_manifest_entry(const struct bundle_manifest *m, size_t i)
{
	if (i >= m->count)
		fatal("bundle_manifest_entry: index %zu out of %zu", i, m->count);
	return &m->entries[i];
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct bundle_entry *)a)->path,
	              ((const struct bundle_entry *)b)->path);
}

const struct bundle_entry *bundle_manifest_find(const struct bundle_manifest *m, const char *path)
{
	struct bundle_entry key = {.path = path};

	if (m->count == 0)
		return NULL;
	return bsearch(&key, m->entries, m->count, sizeof(key), entry_cmp);
}

int bundle_path_check(const char *path, size_t len)
{
	size_t i, start = 0;

	if (len == 0)
		return err_set(ERR_FORMAT, "empty path");
	if (len > BUNDLE_PATH_MAX)
		return err_set(ERR_FORMAT, "path longer than %d bytes", BUNDLE_PATH_MAX);
	if (path[0] == '/')
		return err_set(ERR_FORMAT, "absolute path");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c == '\0')
			return err_set(ERR_FORMAT, "NUL byte in path");
		if (c == '\\')
			return err_set(ERR_FORMAT, "backslash in path");
		if (c < 0x20 || c == 0x7f)
			return err_set(ERR_FORMAT, "control character in path");
	}
	for (i = 0; i <= len; i++) {
		size_t n;

		if (i < len && path[i] != '/')
			continue;
		n = i - start;
		if (n == 0)
			return err_set(ERR_FORMAT, "empty path component");
		if ((n == 1 && path[start] == '.') ||
		    (n == 2 && path[start] == '.' && path[start + 1] == '.'))
			return err_set(ERR_FORMAT, "'.' or '..' component (the path would leave "
			                           "or alias a directory)");
		if (start == 0 && n == 4 && memcmp(path, ".git", 4) == 0 && i < len)
			return err_set(ERR_FORMAT,
			               "the top-level .git directory is not part of a bundle");
		if (start == 0 && n == strlen(BUNDLE_SIGNATURES_DIR) &&
		    memcmp(path, BUNDLE_SIGNATURES_DIR, n) == 0)
			return err_set(ERR_FORMAT, "%s/ holds only the signatures over the manifest "
			                           "(sha256-<64 hex>.sig); it is not listed in it",
			               BUNDLE_SIGNATURES_DIR);
		start = i + 1;
	}
	if ((len == strlen(BUNDLE_MANIFEST) && memcmp(path, BUNDLE_MANIFEST, len) == 0) ||
	    (len == strlen(BUNDLE_SIGNATURE) && memcmp(path, BUNDLE_SIGNATURE, len) == 0))
		return err_set(ERR_FORMAT, "the manifest and its signature are not listed in it");
	return 0;
}

static int parse_files(json_t *files, struct bundle_manifest *m)
{
	const char *key;
	json_t *val;
	char e1[ESC_MAX];
	size_t n = json_object_size(files), i = 0;
	int r;

	if (n > LIMIT_BUNDLE_FILES)
		return err_set(ERR_TOO_LARGE, "manifest lists %zu files, more than %d", n,
		               LIMIT_BUNDLE_FILES);
	if (n > 0 && (m->entries = calloc(n, sizeof(*m->entries))) == NULL)
		return ERR_ALLOC;
	json_object_foreach(files, key, val)
	{
		struct bundle_entry *e;
		const char *hex;
		size_t j;

		if (i >= n)
			return err_set(ERR_INTERNAL, "manifest object changed size");
		if ((r = bundle_path_check(key, strlen(key))) != 0)
			return err_wrap(r, "check 'path' failed for %s", esc(e1, key));
		if (!json_is_string(val) || json_string_length(val) != 2 * SHA256_LEN)
			return err_set(ERR_FORMAT,
			               "files.\"%.200s\": not a string of %d hex digits", key,
			               2 * SHA256_LEN);
		hex = json_string_value(val);
		for (j = 0; j < 2 * SHA256_LEN; j++)
			if (!((hex[j] >= '0' && hex[j] <= '9') || (hex[j] >= 'a' && hex[j] <= 'f')))
				return err_set(ERR_FORMAT,
				               "files.\"%.200s\": not lower-case hex digits", key);
		e = &m->entries[i];
		if ((r = hex_decode(hex, 2 * SHA256_LEN, e->sha256, SHA256_LEN)) != 0)
			return err_set(r, "files.\"%.200s\": bad hex", key);
		if ((e->path = strdup(key)) == NULL)
			return ERR_ALLOC;
		m->count = ++i;
	}
	if (m->count > 1)
		qsort(m->entries, m->count, sizeof(*m->entries), entry_cmp);
	return 0;
}

int bundle_manifest_parse(const uint8_t *data, size_t len, struct bundle_manifest **out)
{
	struct bundle_manifest *m = NULL;
	json_t *root = NULL, *v;
	json_error_t jerr;
	const char *key;
	char e1[ESC_MAX];
	json_int_t iv;
	size_t i;
	int r;

	*out = NULL;
	if (len > LIMIT_MANIFEST)
		return err_set(ERR_TOO_LARGE, "manifest is %zu bytes, more than %d", len,
		               LIMIT_MANIFEST);
	/* json_loadb refuses trailing data (other than white space) by default. */
	if ((root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		r = err_set(ERR_FORMAT, "not valid JSON (line %d, column %d): %s", jerr.line,
		            jerr.column, esc(e1, jerr.text));
		goto out;
	}
	if (!json_is_object(root)) {
		r = err_set(ERR_FORMAT, "not a JSON object");
		goto out;
	}
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "version") != 0 && strcmp(key, "serial") != 0 &&
		    strcmp(key, "created") != 0 && strcmp(key, "files") != 0) {
			r = err_set(ERR_FORMAT, "unknown key \"%s\"", esc(e1, key));
			goto out;
		}
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	v = json_object_get(root, "version");
	if (v == NULL || !json_is_integer(v)) {
		r = err_set(ERR_FORMAT, "\"version\" missing or not an integer");
		goto out;
	}
	if (json_integer_value(v) != BUNDLE_MANIFEST_VERSION) {
		r = err_set(ERR_FORMAT, "manifest version %lld; only %d is known",
		            (long long)json_integer_value(v), BUNDLE_MANIFEST_VERSION);
		goto out;
	}
	v = json_object_get(root, "serial");
	if (v == NULL || !json_is_integer(v) || (iv = json_integer_value(v)) < 1) {
		r = err_set(ERR_FORMAT, "\"serial\" missing or not a positive integer");
		goto out;
	}
	m->serial = (uint64_t)iv;
	v = json_object_get(root, "created");
	if (v == NULL || !json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > CREATED_MAX) {
		r = err_set(ERR_FORMAT, "\"created\" missing or not a string of 1 to %d bytes",
		            CREATED_MAX);
		goto out;
	}
	for (i = 0; i < json_string_length(v); i++) {
		unsigned char c = (unsigned char)json_string_value(v)[i];
		if (c < 0x20 || c >= 0x7f) {
			r = err_set(ERR_FORMAT, "\"created\" holds a non-printable character");
			goto out;
		}
	}
	if ((m->created = strdup(json_string_value(v))) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	v = json_object_get(root, "files");
	if (v == NULL || !json_is_object(v)) {
		r = err_set(ERR_FORMAT, "\"files\" missing or not an object");
		goto out;
	}
	if ((r = parse_files(v, m)) != 0)
		goto out;
	*out = m;
	m = NULL;
	r = 0;
out:
	bundle_manifest_free(m);
	json_decref(root);
	return r;
}

/* ---- files beneath a directory descriptor -------------------------------- */

/*
 * Open the listed file rel beneath dirfd, one component at a time, refusing
 * symbolic links anywhere and anything but a regular file at the end.
 */
static int open_beneath(int dirfd, const char *rel, int *fdp)
{
	char tmp[BUNDLE_PATH_MAX + 1], *comp, *slash;
	int cur = dirfd, fd = -1, r;
	struct stat st;

	*fdp = -1;
	if (strlen(rel) > BUNDLE_PATH_MAX)
		return err_set(ERR_FORMAT, "check 'path' failed for %.200s: too long", rel);
	snprintf(tmp, sizeof(tmp), "%s", rel);
	comp = tmp;
	while ((slash = strchr(comp, '/')) != NULL) {
		int next;

		*slash = '\0';
		next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			int e = errno;
			*slash = '/';
			if (e == ENOENT)
				r = err_set(ERR_NOT_FOUND,
				            "check 'missing' failed for %.200s: "
				            "directory %.200s does not exist",
				            rel, tmp);
			else if (e == ELOOP || e == ENOTDIR)
				r = err_set(ERR_PERMISSION,
				            "check 'type' failed for %.200s: %.200s is "
				            "a symbolic link or not a directory",
				            rel, tmp);
			else
				r = (errno = e, err_sys("open directory of %.200s", rel));
			goto out;
		}
		if (cur != dirfd)
			close(cur);
		cur = next;
		*slash = '/';
		comp = slash + 1;
	}
	/* O_NONBLOCK: opening a FIFO must not hang; it is refused just below. */
	fd = openat(cur, comp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			r = err_set(ERR_NOT_FOUND,
			            "check 'missing' failed for %.200s: no such file", rel);
		else if (errno == ELOOP)
			r = err_set(ERR_PERMISSION,
			            "check 'type' failed for %.200s: symbolic link "
			            "(links are not allowed in a bundle)",
			            rel);
		else
			r = err_sys("open %.200s", rel);
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		r = err_sys("stat %.200s", rel);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = err_set(ERR_PERMISSION, "check 'type' failed for %.200s: not a regular file",
		            rel);
		goto out;
	}
	*fdp = fd;
	fd = -1;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (cur != dirfd)
		close(cur);
	return r;
}

/* Read fd to its end (at most max bytes), hashing; keep the bytes in `keep` if given. */
static int hash_fd(int fd, size_t max, const char *rel, uint8_t out[static SHA256_LEN],
                   struct buf *keep)
{
	EVP_MD_CTX *ctx = NULL;
	uint8_t *chunk = NULL;
	struct stat st;
	size_t total = 0;
	int r;

	if (fstat(fd, &st) != 0)
		return err_sys("stat %.200s", rel);
	if ((uint64_t)st.st_size > max)
		return err_set(ERR_TOO_LARGE,
		               "check 'size' failed for %.200s: %lld bytes, more "
		               "than %zu",
		               rel, (long long)st.st_size, max);
	if ((ctx = EVP_MD_CTX_new()) == NULL || (chunk = malloc(HASH_CHUNK)) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		r = err_crypto("SHA-256 of %.200s", rel);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, HASH_CHUNK);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = err_sys("read %.200s", rel);
			goto out;
		}
		if (n == 0)
			break;
		total += (size_t)n;
		if (total > max) {
			r = err_set(ERR_TOO_LARGE,
			            "check 'size' failed for %.200s: grew beyond %zu "
			            "bytes",
			            rel, max);
			goto out;
		}
		if (EVP_DigestUpdate(ctx, chunk, (size_t)n) != 1) {
			r = err_crypto("SHA-256 of %.200s", rel);
			goto out;
		}
		if (keep != NULL && (r = buf_put(keep, chunk, (size_t)n)) != 0) {
			if (r == ERR_TOO_LARGE)
				err_set(r, "check 'size' failed for %.200s: larger than %zu bytes",
				        rel, buf_max(keep));
			goto out;
		}
	}
	if (EVP_DigestFinal_ex(ctx, out, NULL) != 1) {
		r = err_crypto("SHA-256 of %.200s", rel);
		goto out;
	}
	r = 0;
out:
	free(chunk);
	EVP_MD_CTX_free(ctx);
	return r;
}

/* Read a whole top-level file of the bundle (manifest, signature, master key). */
static int read_top(int dirfd, const char *name, size_t max, const char *check, struct buf **out)
{
	struct buf *b = NULL;
	uint8_t h[SHA256_LEN];
	int fd = -1, r;

	*out = NULL;
	if ((r = open_beneath(dirfd, name, &fd)) == 0) {
		if ((b = buf_new(max + 1)) == NULL) {
			r = ERR_ALLOC;
			goto out;
		}
		r = hash_fd(fd, max, name, h, b);
	}
	/* Name the check the caller is performing, with what was found. */
	switch (r) {
	case 0:
		break;
	case ERR_NOT_FOUND:
		r = err_set(r, "check '%s' failed for %s: no such file", check, name);
		break;
	case ERR_PERMISSION:
		r = err_set(r,
		            "check '%s' failed for %s: not a regular file (symbolic links "
		            "are refused)",
		            check, name);
		break;
	case ERR_TOO_LARGE:
		r = err_set(r, "check '%s' failed for %s: larger than %zu bytes", check, name, max);
		break;
	default:
		goto out;
	}
	if (r != 0)
		goto out;
	*out = b;
	b = NULL;
out:
	buf_free(b);
	if (fd >= 0)
		close(fd);
	return r;
}

static void names_free(char **names, size_t n)
{
	size_t i;

	if (names == NULL)
		return;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The names in the directory `sub` beneath dirfd that `keep` accepts,
 * sorted. A missing directory, or one that is a link or not a directory
 * (the tree walk refuses those), gives none. More than `max` names:
 * ERR_TOO_LARGE. Free with names_free().
 */
static int list_names(int dirfd, const char *sub, int (*keep)(const char *), size_t max,
                      char ***namesp, size_t *np)
{
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	DIR *d = NULL;
	int fd, r = 0;

	*namesp = NULL;
	*np = 0;
	fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR)
			return 0;
		return err_sys("open directory %s", sub);
	}
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return err_sys("open directory %s", sub);
	}
	if ((names = calloc(max + 1, sizeof(*names))) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	for (;;) {
		errno = 0;
		if ((e = readdir(d)) == NULL) {
			if (errno != 0)
				r = err_sys("read directory %s", sub);
			break;
		}
		if (!keep(e->d_name))
			continue;
		if (n >= max) {
			r = err_set(ERR_TOO_LARGE, "%s/ holds more than %zu such files", sub, max);
			break;
		}
		if ((names[n] = strdup(e->d_name)) == NULL) {
			r = ERR_ALLOC;
			break;
		}
		n++;
	}
	if (r != 0)
		goto out;
	qsort(names, n, sizeof(*names), name_cmp);
	*namesp = names;
	*np = n;
	names = NULL;
out:
	names_free(names, n);
	closedir(d);
	return r;
}

/* ---- master keys --------------------------------------------------------- */

struct master {
	char path[BUNDLE_PATH_MAX + 1];
	EVP_PKEY *key;
	uint8_t id[SHA256_LEN];
	char fpr[PKEY_FPR_TEXT_LEN + 1];
};

struct masters {
	struct master m[LIMIT_MASTERS + 1];
	size_t n;
	int top;                 /* index of master_signing_public.pem, or -1 */
	int top_code;            /* why master_signing_public.pem is not among them */
	char top_why[ESC_MAX];
};

static void masters_free(struct masters *ms)
{
	size_t i;

	if (ms == NULL)
		return;
	for (i = 0; i < ms->n; i++)
		EVP_PKEY_free(ms->m[i].key);
	free(ms);
}

/* Read and parse one master public key; ERR_NOT_FOUND etc. from read_top. */
static int master_load(int dirfd, const char *path, struct master *m)
{
	struct buf *pem = NULL;
	int r;

	memset(m, 0, sizeof(*m));
	if ((r = read_top(dirfd, path, PKEY_PEM_MAX, "trust-anchor", &pem)) != 0)
		return r;
	r = pkey_public_from_pem(buf_ptr(pem), buf_len(pem), &m->key);
	buf_free(pem);
	if (r != 0) {
		err_clear();
		return err_set(ERR_AUTH, "check 'trust-anchor' failed for %s: not a PEM public key",
		               path);
	}
	if ((r = pkey_identity(m->key, m->id)) != 0 || (r = pkey_fingerprint(m->key, m->fpr)) != 0) {
		EVP_PKEY_free(m->key);
		m->key = NULL;
		return r;
	}
	snprintf(m->path, sizeof(m->path), "%s", path);
	return 0;
}

/*
 * Every master public key of the bundle: master_signing_public.pem and
 * masters/NAME_public.pem. Unreadable keys are left out (the hash check
 * names them later); why master_signing_public.pem is missing is kept for
 * the 'trust-anchor' message. Only the machine's own failures are errors.
 */
static int masters_load(int dirfd, struct masters **out)
{
	struct masters *ms;
	char **names = NULL, path[BUNDLE_PATH_MAX + 1];
	size_t n = 0, i;
	int r;

	*out = NULL;
	if ((ms = calloc(1, sizeof(*ms))) == NULL)
		return ERR_ALLOC;
	ms->top = -1;
	r = master_load(dirfd, BUNDLE_MASTER_PUBLIC, &ms->m[0]);
	if (r == 0) {
		ms->top = 0;
		ms->n = 1;
	} else if (r == ERR_NOT_FOUND || r == ERR_PERMISSION || r == ERR_TOO_LARGE ||
	           r == ERR_AUTH) {
		ms->top_code = r;
		snprintf(ms->top_why, sizeof(ms->top_why), "%s", err_detail());
		err_clear();
	} else {
		goto out;
	}
	if ((r = list_names(dirfd, BUNDLE_MASTERS_DIR, is_key_name, LIMIT_MASTERS, &names, &n)) !=
	    0) {
		if (r == ERR_TOO_LARGE)
			r = err_set(r, "check 'trust-anchor' failed for %s/: more than %d master keys",
			            BUNDLE_MASTERS_DIR, LIMIT_MASTERS);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", BUNDLE_MASTERS_DIR, names[i]) >=
		    sizeof(path))
			continue;
		r = master_load(dirfd, path, &ms->m[ms->n]);
		if (r == 0)
			ms->n++;
		else if (r == ERR_NOT_FOUND || r == ERR_PERMISSION || r == ERR_TOO_LARGE ||
		         r == ERR_AUTH)
			err_clear();
		else
			goto out;
	}
	*out = ms;
	ms = NULL;
	r = 0;
out:
	names_free(names, n);
	masters_free(ms);
	return r;
}

static const struct master *masters_find(const struct masters *ms, const uint8_t id[SHA256_LEN])
{
	size_t i;

	for (i = 0; i < ms->n; i++)
		if (CRYPTO_memcmp(ms->m[i].id, id, SHA256_LEN) == 0)
			return &ms->m[i];
	return NULL;
}

/* ---- the tree walk ------------------------------------------------------- */

struct walk {
	int build; /* messages for building (else for verifying) */
	size_t count;
	char rel[BUNDLE_PATH_MAX + 2];
	/* Called for each regular file, with its directory and name. */
	int (*fn)(struct walk *w, int dfd, const char *name);
	json_t *files;                   /* build */
	const struct bundle_manifest *m; /* verify */
};

static int walk_fail(struct walk *w, int code, const char *check, const char *fmt, ...)
    PRINTF_LIKE(4, 5);
static int walk_fail(struct walk *w, int code, const char *check, const char *fmt, ...)
{
	char why[ESC_MAX], name[ESC_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	esc(name, w->rel);
	if (w->build)
		return err_set(code, "%s in the bundle: %s", name, why);
	return err_set(code, "check '%s' failed for %s: %s", check, name, why);
}

static int walk_dir(struct walk *w, int dfd, size_t rlen, int depth)
{
	struct dirent *e;
	DIR *d = NULL;
	int fd2, r = 0;

	if ((fd2 = dup(dfd)) < 0)
		return err_sys("dup directory descriptor");
	if ((d = fdopendir(fd2)) == NULL) {
		close(fd2);
		return err_sys("open directory %s", rlen ? w->rel : ".");
	}
	rewinddir(d);
	for (;;) {
		struct stat st;
		size_t nlen;

		errno = 0;
		if ((e = readdir(d)) == NULL) {
			if (errno != 0)
				r = err_sys("read directory %s", rlen ? w->rel : ".");
			break;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		nlen = strlen(e->d_name);
		if (rlen + 1 + nlen > BUNDLE_PATH_MAX) {
			r = walk_fail(w, ERR_FORMAT, "path", "a name below is longer than %d bytes",
			              BUNDLE_PATH_MAX);
			break;
		}
		if (rlen > 0) {
			w->rel[rlen] = '/';
			memcpy(w->rel + rlen + 1, e->d_name, nlen + 1);
		} else {
			memcpy(w->rel, e->d_name, nlen + 1);
		}
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			char n[ESC_MAX];
			r = err_sys("stat %s", esc(n, w->rel));
			break;
		}
		if (depth == 0 && S_ISDIR(st.st_mode) && strcmp(e->d_name, ".git") == 0) {
			/* The only thing ignored: the bundle may be a git checkout. */
		} else if (S_ISLNK(st.st_mode)) {
			r = walk_fail(w, ERR_PERMISSION, "type",
			              "symbolic link (links are not allowed in a bundle)");
		} else if (S_ISDIR(st.st_mode)) {
			int sub;

			if (depth + 1 >= BUNDLE_DEPTH_MAX) {
				r = walk_fail(w, ERR_TOO_LARGE, "path",
				              "directories nested deeper than %d",
				              BUNDLE_DEPTH_MAX);
			} else if ((sub = openat(dfd, e->d_name,
			                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
			           0) {
				char n[ESC_MAX];
				r = err_sys("open directory %s", esc(n, w->rel));
			} else {
				r = walk_dir(w, sub, strlen(w->rel), depth + 1);
				close(sub);
			}
		} else if (S_ISREG(st.st_mode)) {
			if (++w->count > LIMIT_BUNDLE_FILES)
				r = walk_fail(w, ERR_TOO_LARGE, "unlisted",
				              "more than %d files in the bundle",
				              LIMIT_BUNDLE_FILES);
			else
				r = w->fn(w, dfd, e->d_name);
		} else {
			r = walk_fail(w, ERR_PERMISSION, "type",
			              "not a regular file or directory (device, socket or FIFO)");
		}
		w->rel[rlen] = '\0';
		if (r != 0)
			break;
	}
	closedir(d);
	return r;
}

/* The manifest and the signatures over it: never listed, skipped by the walk. */
static int is_top_excluded(const char *rel)
{
	size_t n = strlen(BUNDLE_SIGNATURES_DIR);

	if (strcmp(rel, BUNDLE_MANIFEST) == 0 || strcmp(rel, BUNDLE_SIGNATURE) == 0)
		return 1;
	return strncmp(rel, BUNDLE_SIGNATURES_DIR, n) == 0 && rel[n] == '/' &&
	       is_sig_name(rel + n + 1);
}

static int build_file(struct walk *w, int dfd, const char *name)
{
	uint8_t h[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1], n[ESC_MAX];
	struct stat st;
	int fd, r;

	if (is_top_excluded(w->rel))
		return 0;
	if (file_is_atomic_temp(name))
		return walk_fail(w, ERR_FORMAT, "type",
		                 "a temporary file left by an interrupted write; remove it and "
		                 "run this step again");
	if ((r = bundle_path_check(w->rel, strlen(w->rel))) != 0) {
		char why[ESC_MAX];
		snprintf(why, sizeof(why), "%s", err_detail());
		return walk_fail(w, r, "path", "name not allowed: %s", why);
	}
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return err_sys("open %s", esc(n, w->rel));
	/* Replaced since the walk saw it? */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return walk_fail(w, ERR_PERMISSION, "type", "changed into a non-regular file");
	}
	r = hash_fd(fd, LIMIT_BUNDLE_FILE, w->rel, h, NULL);
	close(fd);
	if (r != 0)
		return r;
	hex_encode(h, sizeof(h), hex);
	if (json_object_set_new(w->files, w->rel, json_string(hex)) != 0)
		return walk_fail(w, ERR_FORMAT, "path",
		                 "name is not valid UTF-8 (or out of memory)");
	return 0;
}

static int verify_walk_file(struct walk *w, int dfd, const char *name)
{
	if (is_top_excluded(w->rel))
		return 0;
	if (bundle_manifest_find(w->m, w->rel) == NULL)
		return walk_fail(w, ERR_AUTH, "unlisted",
		                 "file not listed in the signed manifest (added or renamed?)");
	return 0;
}

/* ---- building ------------------------------------------------------------ */

void bundle_time_format(time_t t, char out[static BUNDLE_TIME_LEN + 1])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, BUNDLE_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) != BUNDLE_TIME_LEN)
		snprintf(out, BUNDLE_TIME_LEN + 1, "1970-01-01T00:00:00Z");
}

static int open_dir(const char *dir, int *fdp)
{
	*fdp = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fdp < 0) {
		if (errno == ENOENT)
			return err_set(ERR_NOT_FOUND, "bundle directory %.200s does not exist",
			               dir);
		return err_sys("open bundle directory %.200s", dir);
	}
	return 0;
}

int bundle_json_put(const struct json_t *root, struct buf *out)
{
	char *text;
	int r;

	if ((text = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(2))) == NULL)
		return ERR_ALLOC;
	if ((r = buf_put(out, text, strlen(text))) == 0)
		r = buf_put_u8(out, '\n');
	free(text);
	return r;
}

static int build_json(const char *dir, uint64_t serial, const char *created, struct buf *out)
{
	struct walk *w = NULL;
	json_t *root = NULL;
	int dfd = -1, r;

	if (serial < 1 || serial > INT64_MAX)
		return err_set(ERR_INVALID_ARG, "serial %" PRIu64 " out of range", serial);
	if ((r = open_dir(dir, &dfd)) != 0)
		return r;
	if ((w = calloc(1, sizeof(*w))) == NULL || (root = json_object()) == NULL ||
	    (w->files = json_object()) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	w->build = 1;
	w->fn = build_file;
	if ((r = walk_dir(w, dfd, 0, 0)) != 0)
		goto out;
	if (json_object_set_new(root, "version", json_integer(BUNDLE_MANIFEST_VERSION)) != 0 ||
	    json_object_set_new(root, "serial", json_integer((json_int_t)serial)) != 0 ||
	    json_object_set_new(root, "created", json_string(created)) != 0 ||
	    json_object_set(root, "files", w->files) != 0) {
		r = ERR_ALLOC;
		goto out;
	}
	if ((r = bundle_json_put(root, out)) != 0)
		goto out;
	r = 0;
out:
	if (w != NULL)
		json_decref(w->files);
	free(w);
	json_decref(root);
	if (dfd >= 0)
		close(dfd);
	return r;
}

int bundle_manifest_build(const char *dir, uint64_t serial, time_t created, struct buf *out)
{
	char ts[BUNDLE_TIME_LEN + 1];

	bundle_time_format(created, ts);
	return build_json(dir, serial, ts, out);
}

static int join(char *out, size_t outlen, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, outlen, "%s/%s", dir, name) >= outlen)
		return err_set(ERR_INVALID_ARG, "path too long: %.200s/%s", dir, name);
	return 0;
}

/* The current manifest of dir, parsed; *mp NULL if there is none. */
int bundle_manifest_read(const char *dir, struct bundle_manifest **mp)
{
	char path[4096];
	struct buf *b = NULL;
	int r;

	*mp = NULL;
	if ((r = join(path, sizeof(path), dir, BUNDLE_MANIFEST)) != 0)
		return r;
	r = file_read_all(path, LIMIT_MANIFEST, &b);
	if (r == ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	if ((r = bundle_manifest_parse(buf_ptr(b), buf_len(b), mp)) != 0)
		err_wrap(r, "existing %.200s", path);
	buf_free(b);
	return r;
}

int bundle_next_serial(const char *dir, uint64_t *serial)
{
	struct bundle_manifest *m = NULL;
	int r;

	*serial = 0;
	if ((r = bundle_manifest_read(dir, &m)) != 0)
		return r;
	if (m != NULL && m->serial >= INT64_MAX) {
		bundle_manifest_free(m);
		return err_set(ERR_TOO_LARGE, "serial cannot grow any more");
	}
	*serial = m != NULL ? m->serial + 1 : 1;
	bundle_manifest_free(m);
	return 0;
}

/* Remove every signature over the current manifest: the legacy file and signatures/. */
static int remove_signatures(const char *dir)
{
	char path[4096], **names = NULL;
	size_t n = 0, i;
	int dfd = -1, sfd = -1, r;

	if ((r = join(path, sizeof(path), dir, BUNDLE_SIGNATURE)) != 0)
		return r;
	if (unlink(path) != 0 && errno != ENOENT)
		return err_sys("remove stale %.200s", path);
	if ((r = open_dir(dir, &dfd)) != 0)
		return r;
	/* A link or a file named signatures is refused by the walk, with its name. */
	if ((r = list_names(dfd, BUNDLE_SIGNATURES_DIR, is_sig_name, LIMIT_BUNDLE_FILES, &names,
	                    &n)) != 0 ||
	    n == 0)
		goto out;
	if ((sfd = openat(dfd, BUNDLE_SIGNATURES_DIR,
	                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		r = err_sys("open %.200s/%s", dir, BUNDLE_SIGNATURES_DIR);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (unlinkat(sfd, names[i], 0) != 0 && errno != ENOENT) {
			r = err_sys("remove stale %.200s/%s/%s", dir, BUNDLE_SIGNATURES_DIR, names[i]);
			goto out;
		}
	}
	if (fsync(sfd) != 0)
		r = err_sys("fsync %.200s/%s", dir, BUNDLE_SIGNATURES_DIR);
out:
	if (sfd >= 0)
		close(sfd);
	names_free(names, n);
	close(dfd);
	return r;
}

int bundle_signature_count(const char *dir, size_t *count)
{
	char **names = NULL;
	size_t n = 0;
	struct stat st;
	int dfd = -1, r;

	*count = 0;
	if ((r = open_dir(dir, &dfd)) != 0)
		return r;
	/* Every name counts here, however many: the caller only asks "any?". */
	r = list_names(dfd, BUNDLE_SIGNATURES_DIR, is_sig_name, LIMIT_BUNDLE_FILES, &names, &n);
	if (r == 0) {
		*count = n;
		/* The legacy file is a copy of the first master's: it counts alone only. */
		if (fstatat(dfd, BUNDLE_SIGNATURE, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (n == 0)
				*count = 1;
		} else if (errno != ENOENT) {
			r = err_sys("stat %.200s/%s", dir, BUNDLE_SIGNATURE);
		}
	}
	names_free(names, n);
	close(dfd);
	return r;
}

int bundle_manifest_write(const char *dir, time_t created, uint64_t *serialp)
{
	struct buf *b = NULL;
	char path[4096];
	uint64_t serial;
	int r;

	if (serialp != NULL)
		*serialp = 0;
	if ((r = join(path, sizeof(path), dir, BUNDLE_MANIFEST)) != 0 ||
	    (r = bundle_next_serial(dir, &serial)) != 0)
		goto out;
	if ((b = buf_new(LIMIT_MANIFEST)) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	if ((r = bundle_manifest_build(dir, serial, created, b)) != 0 ||
	    (r = remove_signatures(dir)) != 0 ||
	    (r = file_write_atomic(path, buf_ptr(b), buf_len(b), 0644)) != 0)
		goto out;
	if (serialp != NULL)
		*serialp = serial;
out:
	buf_free(b);
	return r;
}

/*
 * Rebuild the manifest of dir with its own serial and time into *bp and
 * compare it with the one on disk: only `path` (NULL: nothing) may differ.
 */
static int manifest_rebuild(const char *dir, const char *path, struct buf **bp)
{
	struct bundle_manifest *old = NULL, *new = NULL;
	struct buf *b = NULL;
	size_t i;
	int r;

	*bp = NULL;
	if ((r = bundle_manifest_read(dir, &old)) != 0)
		goto out;
	if (old == NULL) {
		r = err_set(ERR_NOT_FOUND, "%.200s/%s: no manifest yet; run manifest first", dir,
		            BUNDLE_MANIFEST);
		goto out;
	}
	if ((b = buf_new(LIMIT_MANIFEST)) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	if ((r = build_json(dir, old->serial, old->created, b)) != 0 ||
	    (r = bundle_manifest_parse(buf_ptr(b), buf_len(b), &new)) != 0)
		goto out;
	if (new->count != old->count) {
		r = err_set(ERR_AUTH, "files were added or removed since the manifest was "
		                      "built; run manifest again");
		goto out;
	}
	for (i = 0; i < new->count; i++) {
		const struct bundle_entry *a = &old->entries[i], *n = &new->entries[i];
		if (strcmp(a->path, n->path) != 0) {
			r = err_set(ERR_AUTH,
			            "%.200s is new since the manifest was built; run "
			            "manifest again",
			            n->path);
			goto out;
		}
		if ((path == NULL || strcmp(a->path, path) != 0) &&
		    memcmp(a->sha256, n->sha256, SHA256_LEN) != 0) {
			r = err_set(ERR_AUTH,
			            "%.200s changed since the manifest was built; run "
			            "manifest again",
			            a->path);
			goto out;
		}
	}
	*bp = b;
	b = NULL;
out:
	buf_free(b);
	bundle_manifest_free(old);
	bundle_manifest_free(new);
	return r;
}

int bundle_manifest_refresh(const char *dir, const char *path)
{
	struct buf *b = NULL;
	char mpath[4096];
	int r;

	if ((r = join(mpath, sizeof(mpath), dir, BUNDLE_MANIFEST)) != 0 ||
	    (r = manifest_rebuild(dir, path, &b)) != 0)
		return r;
	if ((r = remove_signatures(dir)) == 0)
		r = file_write_atomic(mpath, buf_ptr(b), buf_len(b), 0644);
	buf_free(b);
	return r;
}

int bundle_manifest_unchanged(const char *dir)
{
	struct buf *b = NULL;
	int r;

	r = manifest_rebuild(dir, NULL, &b);
	buf_free(b);
	return r;
}

/* ---- signing ------------------------------------------------------------- */

/* The master of the bundle open at dfd whose key is pub, or ERR_AUTH. */
static int master_of(int dfd, const char *dir, EVP_PKEY *pub, struct masters **msp,
                     const struct master **mp)
{
	uint8_t id[SHA256_LEN];
	char fpr[PKEY_FPR_TEXT_LEN + 1];
	int r;

	*mp = NULL;
	if ((r = pkey_identity(pub, id)) != 0 || (r = pkey_fingerprint(pub, fpr)) != 0 ||
	    (r = masters_load(dfd, msp)) != 0)
		return r;
	if ((*mp = masters_find(*msp, id)) == NULL)
		return err_set(ERR_AUTH,
		               "the signing key %s is not the bundle's master key (%.200s/%s) nor "
		               "one of %s/*%s: register it with add-master first",
		               fpr, dir, BUNDLE_MASTER_PUBLIC, BUNDLE_MASTERS_DIR, BUNDLE_KEY_SUFFIX);
	return 0;
}

int bundle_master_find(const char *dir, EVP_PKEY *pub, char path[static BUNDLE_PATH_MAX + 1])
{
	const struct master *m = NULL;
	struct masters *ms = NULL;
	int dfd = -1, r;

	path[0] = '\0';
	if ((r = open_dir(dir, &dfd)) != 0)
		return r;
	if ((r = master_of(dfd, dir, pub, &ms, &m)) == 0)
		snprintf(path, BUNDLE_PATH_MAX + 1, "%s", m->path);
	masters_free(ms);
	close(dfd);
	return r;
}

int bundle_sign(const char *dir, bundle_sign_fn fn, void *ctx, EVP_PKEY *pub,
                struct bundle_signed *out)
{
	struct bundle_signed res;
	struct bundle_manifest *m = NULL;
	struct masters *ms = NULL;
	const struct master *mk = NULL;
	struct buf *data = NULL, *sig = NULL;
	char mpath[4096], spath[4096], sdir[4096], name[BUNDLE_SIG_NAME_LEN + 1];
	int dfd = -1, r;

	memset(&res, 0, sizeof(res));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if ((r = join(mpath, sizeof(mpath), dir, BUNDLE_MANIFEST)) != 0 ||
	    (r = join(sdir, sizeof(sdir), dir, BUNDLE_SIGNATURES_DIR)) != 0 ||
	    (r = open_dir(dir, &dfd)) != 0)
		goto out;
	if ((r = master_of(dfd, dir, pub, &ms, &mk)) != 0)
		goto out;
	if ((r = file_read_all(mpath, LIMIT_MANIFEST, &data)) != 0)
		goto out;
	if ((r = bundle_manifest_parse(buf_ptr(data), buf_len(data), &m)) != 0) {
		err_wrap(r, "%.200s", mpath);
		goto out;
	}
	if ((sig = buf_new(LIMIT_SIGNATURE)) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	if ((r = fn(ctx, buf_ptr(data), buf_len(data), sig)) != 0) {
		err_wrap(r, "sign %.200s", mpath);
		goto out;
	}
	if ((r = pkey_verify(mk->key, buf_ptr(data), buf_len(data), buf_ptr(sig), buf_len(sig))) !=
	    0) {
		err_clear();
		r = err_set(ERR_AUTH,
		            "the signature made does not verify with %.200s (SHA-256): the "
		            "signing key is not the bundle's master key %s",
		            mk->path, mk->fpr);
		goto out;
	}
	bundle_signature_name(mk->id, name);
	if ((r = join(spath, sizeof(spath), sdir, name)) != 0 ||
	    (r = file_mkdirs(sdir, 0755)) != 0 ||
	    (r = file_write_atomic(spath, buf_ptr(sig), buf_len(sig), 0644)) != 0)
		goto out;
	if (ms->top >= 0 && mk == &ms->m[ms->top]) {
		if ((r = join(spath, sizeof(spath), dir, BUNDLE_SIGNATURE)) != 0 ||
		    (r = file_write_atomic(spath, buf_ptr(sig), buf_len(sig), 0644)) != 0)
			goto out;
		res.legacy = 1;
	}
	if ((r = pkey_sha256(buf_ptr(data), buf_len(data), res.digest)) != 0)
		goto out;
	res.serial = m->serial;
	snprintf(res.fpr, sizeof(res.fpr), "%s", mk->fpr);
	snprintf(res.master, sizeof(res.master), "%s", mk->path);
	snprintf(res.sigfile, sizeof(res.sigfile), "%s/%s", BUNDLE_SIGNATURES_DIR, name);
	if (out != NULL)
		*out = res;
out:
	masters_free(ms);
	if (dfd >= 0)
		close(dfd);
	buf_free(sig);
	buf_free(data);
	bundle_manifest_free(m);
	return r;
}

/* ---- verification -------------------------------------------------------- */

int bundle_fingerprint_parse(const char *text, uint8_t out[static SHA256_LEN])
{
	_Static_assert(SHA256_LEN == IDENTITY_LEN, "a fingerprint is an identity");
	/* One notation for one hash: sha256:<hex> or the grouped 7F3A-09C1-... */
	if (identity_parse(text, out) != 0)
		return err_set(ERR_FORMAT, "a fingerprint is \"sha256:\" and %d hex digits, or "
		                           "the same digits in groups of four joined by '-'",
		               2 * SHA256_LEN);
	return 0;
}

int bundle_state_read(const char *path, uint64_t *serial)
{
	struct buf *b = NULL;
	char text[BUNDLE_STATE_MAX + 1], *end;
	size_t n;
	int r;

	*serial = 0;
	r = file_read_all(path, BUNDLE_STATE_MAX, &b);
	if (r == ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	n = buf_len(b);
	memcpy(text, buf_ptr(b), n);
	text[n] = '\0';
	buf_free(b);
	if (n > 0 && text[n - 1] == '\n')
		text[--n] = '\0';
	errno = 0;
	if (n == 0 || text[0] < '0' || text[0] > '9' || (text[0] == '0' && n > 1))
		return err_set(ERR_FORMAT, "state file %.200s: not a decimal serial", path);
	*serial = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0' || *serial > INT64_MAX) {
		*serial = 0;
		return err_set(ERR_FORMAT, "state file %.200s: not a decimal serial", path);
	}
	return 0;
}

int bundle_state_write(const char *path, uint64_t serial)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", serial);

	return file_write_atomic(path, text, (size_t)n, 0600);
}

void bundle_free(struct bundle *b)
{
	if (b == NULL)
		return;
	if (b->dirfd >= 0)
		close(b->dirfd);
	bundle_manifest_free(b->m);
	EVP_PKEY_free(b->master);
	free(b);
}

const struct bundle_manifest *bundle_get_manifest(const struct bundle *b)
{
	return b->m;
}

uint64_t bundle_serial(const struct bundle *b)
{
	return b->m->serial;
}

const char *bundle_master_fingerprint(const struct bundle *b)
{
	return b->fpr;
}

EVP_PKEY *bundle_master_key(const struct bundle *b)
{
	return b->master;
}

size_t bundle_signer_count(const struct bundle *b)
{
	return b->n_signers;
}

const char *bundle_signer(const struct bundle *b, size_t i)
{
	if (i >= b->n_signers)
		fatal("bundle_signer: index %zu out of %zu", i, b->n_signers);
	return b->signers[i];
}

/* The anchors of o, decoded: distinct, at most LIMIT_ANCHORS, K reachable. */
static int anchors_parse(const struct bundle_verify_opts *o, uint8_t ids[][SHA256_LEN],
                         size_t *np, unsigned *kp)
{
	const char *const *a = o->anchors;
	const char *one[1];
	char e1[ESC_MAX], fpr[2 * SHA256_LEN + 1];
	size_t n = o->n_anchors, i, j;
	unsigned k = o->threshold != 0 ? o->threshold : 1;

	if (a == NULL) {
		if (o->trust_anchor == NULL)
			fatal("bundle_verify: no trust anchor");
		one[0] = o->trust_anchor;
		a = one;
		n = 1;
	}
	if (n == 0)
		return err_set(ERR_INVALID_ARG, "no trust anchor given");
	if (n > LIMIT_ANCHORS)
		return err_set(ERR_INVALID_ARG, "%zu trust anchors given; at most %d", n,
		               LIMIT_ANCHORS);
	for (i = 0; i < n; i++) {
		if (a[i] == NULL || identity_parse(a[i], ids[i]) != 0)
			return err_set(ERR_INVALID_ARG,
			               "trust anchor %s: a fingerprint is \"sha256:\" and %d hex "
			               "digits",
			               a[i] != NULL ? esc(e1, a[i]) : "(none)", 2 * SHA256_LEN);
		for (j = 0; j < i; j++) {
			if (memcmp(ids[j], ids[i], SHA256_LEN) == 0) {
				hex_encode(ids[i], SHA256_LEN, fpr);
				return err_set(ERR_INVALID_ARG,
				               "trust anchor sha256:%s is given twice (each anchor "
				               "counts once towards the threshold)",
				               fpr);
			}
		}
	}
	if (k > n)
		return err_set(ERR_INVALID_ARG,
		               "threshold %u is more than the %zu trust anchor%s given: no bundle "
		               "could ever be accepted",
		               k, n, n == 1 ? "" : "s");
	*np = n;
	*kp = k;
	return 0;
}

/* Counting the signatures over the manifest bytes. */
struct sigcount {
	const struct bundle_verify_opts *o;
	const uint8_t (*ids)[SHA256_LEN];
	size_t n;
	int counted[LIMIT_ANCHORS];
	size_t n_counted;
	size_t n_read;            /* signature files of anchors' keys that could be read */
	char why[ESC_MAX];        /* the notes that matter, for the error */
	int legacy_code;          /* why crypto_manifest.json.sig could not be read */
	char legacy_why[ESC_MAX];
};

static int anchor_index(const struct sigcount *sc, const uint8_t id[SHA256_LEN])
{
	size_t i;

	for (i = 0; i < sc->n; i++)
		if (CRYPTO_memcmp(sc->ids[i], id, SHA256_LEN) == 0)
			return (int)i;
	return -1;
}

/* Report a signature file that does not count; `matters` keeps it for the error. */
static void sig_note(struct sigcount *sc, const char *file, int matters, const char *fmt, ...)
    PRINTF_LIKE(4, 5);
static void sig_note(struct sigcount *sc, const char *file, int matters, const char *fmt, ...)
{
	char why[ESC_MAX];
	size_t o = strlen(sc->why);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (sc->o->note != NULL)
		sc->o->note(sc->o->note_arg, file, why);
	if (matters && o + 1 < sizeof(sc->why))
		snprintf(sc->why + o, sizeof(sc->why) - o, "%s%s: %s", o ? "; " : "", file, why);
}

/* One signature file over the manifest, by master mk. */
static int sig_check(struct sigcount *sc, const char *file, const struct master *mk,
                     const struct buf *man, const struct buf *sig)
{
	int a = anchor_index(sc, mk->id), r;

	if (a < 0) {
		sig_note(sc, file, 0, "by %s, which is not a trust anchor (ignored)", mk->fpr);
		return 0;
	}
	sc->n_read++;
	r = pkey_verify(mk->key, buf_ptr(man), buf_len(man), buf_ptr(sig), buf_len(sig));
	if (r == ERR_ALLOC)
		return r;
	if (r != 0) {
		err_clear();
		sig_note(sc, file, 1, "does not verify over %s with %s (%s); not counted",
		         BUNDLE_MANIFEST, mk->path, mk->fpr);
		return 0;
	}
	if (!sc->counted[a]) {
		sc->counted[a] = 1;
		sc->n_counted++;
	}
	return 0;
}

/* Read a signature file; 1 in *ok if it could be read, else noted. */
static int sig_read(struct sigcount *sc, int dirfd, const char *file, struct buf **sig, int *ok)
{
	int r;

	*ok = 0;
	r = read_top(dirfd, file, LIMIT_SIGNATURE, "signature", sig);
	if (r == ERR_NOT_FOUND || r == ERR_PERMISSION || r == ERR_TOO_LARGE) {
		char why[ESC_MAX], *p;
		/* "check 'signature' failed for FILE: WHY" -> WHY */
		snprintf(why, sizeof(why), "%s", err_detail());
		p = strstr(why, ": ");
		err_clear();
		sig_note(sc, file, 1, "%s; not counted", p != NULL ? p + 2 : why);
		return 0;
	}
	if (r == 0)
		*ok = 1;
	return r;
}

/*
 * Count the distinct anchors whose masters signed the manifest bytes:
 * crypto_manifest.json.sig (the key in master_signing_public.pem) and every
 * signatures/sha256-<fpr>.sig. sc->legacy_code says why the legacy file
 * could not be read (0 if it could): with no other signature to go on, that
 * is the failure to report.
 */
static int sig_count(struct sigcount *sc, int dirfd, const struct masters *ms,
                     const struct buf *man)
{
	char **names = NULL, file[BUNDLE_PATH_MAX + 1];
	struct buf *sig = NULL;
	uint8_t id[SHA256_LEN];
	size_t n = 0, i;
	int r, ok;

	r = read_top(dirfd, BUNDLE_SIGNATURE, LIMIT_SIGNATURE, "signature", &sig);
	if (r == ERR_NOT_FOUND || r == ERR_PERMISSION || r == ERR_TOO_LARGE) {
		sc->legacy_code = r;
		snprintf(sc->legacy_why, sizeof(sc->legacy_why), "%s", err_detail());
		err_clear();
	} else if (r != 0) {
		return r;
	} else if (ms->top < 0) {
		sig_note(sc, BUNDLE_SIGNATURE, 1, "%s is missing or not a public key; not counted",
		         BUNDLE_MASTER_PUBLIC);
	} else if ((r = sig_check(sc, BUNDLE_SIGNATURE, &ms->m[ms->top], man, sig)) != 0) {
		goto out;
	}
	buf_free(sig);
	sig = NULL;
	if ((r = list_names(dirfd, BUNDLE_SIGNATURES_DIR, is_sig_name, LIMIT_SIGNATURES, &names,
	                    &n)) != 0) {
		if (r == ERR_TOO_LARGE)
			r = err_set(r, "check 'signature' failed for %s/: more than %d signature files",
			            BUNDLE_SIGNATURES_DIR, LIMIT_SIGNATURES);
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct master *mk;

		snprintf(file, sizeof(file), "%s/%s", BUNDLE_SIGNATURES_DIR, names[i]);
		if ((r = sig_name_parse(names[i], id)) != 0)
			goto out;
		if (anchor_index(sc, id) < 0) {
			sig_note(sc, file, 0, "not by a trust anchor (ignored)");
			continue;
		}
		if ((mk = masters_find(ms, id)) == NULL) {
			sig_note(sc, file, 1,
			         "the bundle holds no master public key with this fingerprint; "
			         "not counted");
			continue;
		}
		buf_free(sig);
		sig = NULL;
		if ((r = sig_read(sc, dirfd, file, &sig, &ok)) != 0)
			goto out;
		if (ok && (r = sig_check(sc, file, mk, man, sig)) != 0)
			goto out;
	}
	r = 0;
out:
	buf_free(sig);
	names_free(names, n);
	return r;
}

/* 'trust-anchor': some master key of the bundle is an anchor; else say why not. */
static int check_anchors(const struct masters *ms, const struct sigcount *sc)
{
	size_t i;

	for (i = 0; i < ms->n; i++)
		if (anchor_index(sc, ms->m[i].id) >= 0)
			return 0;
	if (ms->top < 0)
		return err_set(ms->top_code, "%s%s", ms->top_why,
		               ms->n > 0 ? " (and no key in " BUNDLE_MASTERS_DIR
		                           "/ has an anchor's fingerprint)"
		                         : "");
	if (sc->n == 1)
		return err_set(ERR_AUTH,
		               "check 'trust-anchor' failed for %s: its fingerprint %s is not the "
		               "trust anchor",
		               BUNDLE_MASTER_PUBLIC, ms->m[ms->top].fpr);
	return err_set(ERR_AUTH,
	               "check 'trust-anchor' failed for %s: its fingerprint %s is none of the "
	               "%zu trust anchors, nor is any key in %s/",
	               BUNDLE_MASTER_PUBLIC, ms->m[ms->top].fpr, sc->n, BUNDLE_MASTERS_DIR);
}

static int check_file(int dirfd, const struct bundle_entry *e)
{
	uint8_t h[SHA256_LEN];
	int fd, r;

	if ((r = open_beneath(dirfd, e->path, &fd)) != 0)
		return r;
	r = hash_fd(fd, LIMIT_BUNDLE_FILE, e->path, h, NULL);
	close(fd);
	if (r != 0)
		return r;
	if (CRYPTO_memcmp(h, e->sha256, SHA256_LEN) != 0)
		return err_set(ERR_AUTH,
		               "check 'hash' failed for %.200s: its SHA-256 differs "
		               "from the signed manifest (file changed)",
		               e->path);
	return 0;
}

int bundle_verify(const char *dir, const struct bundle_verify_opts *opts, struct bundle **out)
{
	struct bundle *b = NULL;
	struct buf *man = NULL;
	struct masters *ms = NULL;
	struct walk *w = NULL;
	struct sigcount sc;
	uint8_t ids[LIMIT_ANCHORS][SHA256_LEN];
	uint64_t recorded = 0;
	unsigned threshold = 1;
	size_t i, n_anchors = 0;
	int r;

	*out = NULL;
	if (opts == NULL)
		fatal("bundle_verify: no options");
	if ((r = anchors_parse(opts, ids, &n_anchors, &threshold)) != 0)
		return r;
	memset(&sc, 0, sizeof(sc));
	sc.o = opts;
	sc.ids = (const uint8_t(*)[SHA256_LEN])ids;
	sc.n = n_anchors;
	if (opts->state_file != NULL && (r = bundle_state_read(opts->state_file, &recorded)) != 0)
		return r;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return ERR_ALLOC;
	b->dirfd = -1;
	if ((r = open_dir(dir, &b->dirfd)) != 0)
		goto out;

	/* trust-anchor: the masters' keys, trusted only through the anchors */
	if ((r = masters_load(b->dirfd, &ms)) != 0 || (r = check_anchors(ms, &sc)) != 0)
		goto out;

	/* signature, over the exact bytes, before the manifest is parsed */
	if ((r = read_top(b->dirfd, BUNDLE_MANIFEST, LIMIT_MANIFEST, "signature", &man)) != 0 ||
	    (r = sig_count(&sc, b->dirfd, ms, man)) != 0)
		goto out;
	if (sc.n_counted < threshold) {
		if (sc.legacy_code != 0 && sc.n_read == 0) {
			/* Nothing else to go on: the missing legacy file is the failure. */
			r = err_set(sc.legacy_code, "%s (no signature by a trust anchor: 0 of %u)",
			            sc.legacy_why, threshold);
		} else {
			r = err_set(ERR_AUTH,
			            "check 'signature' failed for %s: signed by %zu of the trust "
			            "anchors, %u required%s%s",
			            BUNDLE_MANIFEST, sc.n_counted, threshold, sc.why[0] ? "; " : "",
			            sc.why);
		}
		goto out;
	}
	/* The first master that counted names the bundle in messages. */
	for (i = 0; i < n_anchors; i++) {
		const struct master *mk = masters_find(ms, ids[i]);
		if (!sc.counted[i] || mk == NULL)
			continue;
		snprintf(b->signers[b->n_signers++], sizeof(b->signers[0]), "%s", mk->fpr);
		if (b->master == NULL || (ms->top >= 0 && mk == &ms->m[ms->top])) {
			EVP_PKEY_free(b->master);
			if (EVP_PKEY_up_ref(mk->key) != 1) {
				b->master = NULL;
				r = err_crypto("keep the master key");
				goto out;
			}
			b->master = mk->key;
			snprintf(b->fpr, sizeof(b->fpr), "%s", mk->fpr);
		}
	}

	/* manifest (and path: bundle_manifest_parse checks every path) */
	if ((r = bundle_manifest_parse(buf_ptr(man), buf_len(man), &b->m)) != 0) {
		char why[ESC_MAX];
		snprintf(why, sizeof(why), "%s", err_detail());
		if (strncmp(why, "check '", 7) == 0)
			err_set(r, "%s (in %s)", why, BUNDLE_MANIFEST);
		else
			err_set(r, "check 'manifest' failed for %s: %s", BUNDLE_MANIFEST, why);
		goto out;
	}

	/* serial */
	if (b->m->serial < opts->min_serial || b->m->serial < recorded) {
		r = err_set(ERR_REPLAY,
		            "check 'serial' failed for %s: serial %" PRIu64
		            " is older than %" PRIu64 " (rollback refused)",
		            BUNDLE_MANIFEST, b->m->serial,
		            recorded > opts->min_serial ? recorded : opts->min_serial);
		goto out;
	}

	/* type, unlisted (the masters' keys among them: they must be listed) */
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	w->fn = verify_walk_file;
	w->m = b->m;
	if ((r = walk_dir(w, b->dirfd, 0, 0)) != 0)
		goto out;

	/* missing, type, size, hash */
	for (i = 0; i < b->m->count; i++)
		if ((r = check_file(b->dirfd, &b->m->entries[i])) != 0)
			goto out;

	if (opts->update_state && opts->state_file != NULL && b->m->serial != recorded &&
	    (r = bundle_state_write(opts->state_file, b->m->serial)) != 0)
		goto out;
	*out = b;
	b = NULL;
	r = 0;
out:
	free(w);
	masters_free(ms);
	buf_free(man);
	bundle_free(b);
	return r;
}

int bundle_read_file(const struct bundle *b, const char *path, size_t max, struct buf **out)
{
	const struct bundle_entry *e;
	struct buf *data = NULL;
	uint8_t h[SHA256_LEN];
	int fd = -1, r;

	*out = NULL;
	if ((e = bundle_manifest_find(b->m, path)) == NULL)
		return err_set(ERR_NOT_FOUND, "%.200s is not listed in the verified manifest",
		               path);
	if (max > BUF_MAX_DEFAULT - 1)
		max = BUF_MAX_DEFAULT - 1;
	if ((r = open_beneath(b->dirfd, e->path, &fd)) != 0)
		goto out;
	if ((data = buf_new(max + 1)) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	if ((r = hash_fd(fd, max, e->path, h, data)) != 0)
		goto out;
	if (CRYPTO_memcmp(h, e->sha256, SHA256_LEN) != 0) {
		r = err_set(ERR_AUTH,
		            "check 'hash' failed for %.200s: changed since the bundle "
		            "was verified",
		            e->path);
		goto out;
	}
	*out = data;
	data = NULL;
out:
	buf_free(data);
	if (fd >= 0)
		close(fd);
	return r;
}

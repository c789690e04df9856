// SPDX-License-Identifier: ISC
#include "ceremony.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "encoding.h"
#include "log.h"

#define PREV_TAG "prev="
#define PREV_TAG_LEN 5
#define HEX_LEN (2 * SHA256_LEN)

int ceremony_check(const uint8_t *data, size_t len, size_t *lines, uint8_t head[SHA256_LEN])
{
	uint8_t expect[SHA256_LEN] = {0}, got[SHA256_LEN];
	size_t off = 0, n = 0;
	int r;

	*lines = 0;
	if (head != NULL)
		memset(head, 0, SHA256_LEN);
	if (len > CEREMONY_LOG_MAX)
		return err_set(ERR_TOO_LARGE, "log is %zu bytes, more than %d", len,
		               CEREMONY_LOG_MAX);
	while (off < len) {
		const uint8_t *line = data + off, *nl;
		size_t llen, i;

		n++;
		nl = memchr(line, '\n', len - off);
		if (nl == NULL)
			return err_set(ERR_FORMAT,
			               "line %zu: no newline at the end (truncated log)", n);
		llen = (size_t)(nl - line);
		if (llen + 1 > CEREMONY_LINE_MAX)
			return err_set(ERR_FORMAT, "line %zu: longer than %d bytes", n,
			               CEREMONY_LINE_MAX);
		for (i = 0; i < llen; i++)
			if (line[i] < 0x20 || line[i] == 0x7f)
				return err_set(ERR_FORMAT,
				               "line %zu: control character at column %zu", n,
				               i + 1);
		if (llen < PREV_TAG_LEN + HEX_LEN + 1 ||
		    memcmp(line, PREV_TAG, PREV_TAG_LEN) != 0 ||
		    line[PREV_TAG_LEN + HEX_LEN] != ' ')
			return err_set(ERR_FORMAT, "line %zu: does not start with prev=<64 hex> ",
			               n);
		for (i = 0; i < HEX_LEN; i++) {
			uint8_t c = line[PREV_TAG_LEN + i];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
				return err_set(ERR_FORMAT, "line %zu: prev is not lower-case hex",
				               n);
		}
		if ((r = hex_decode((const char *)line + PREV_TAG_LEN, HEX_LEN, got,
		                    sizeof(got))) != 0)
			return err_set(ERR_FORMAT, "line %zu: prev is not hex", n);
		if (memmem(line, llen, " time=", 6) == NULL ||
		    memmem(line, llen, " step=", 6) == NULL)
			return err_set(ERR_FORMAT, "line %zu: time= or step= missing", n);
		if (CRYPTO_memcmp(got, expect, SHA256_LEN) != 0) {
			if (n == 1)
				return err_set(ERR_AUTH,
				               "check 'chain' failed at line 1: the first "
				               "line must carry prev=0...0 (lines were "
				               "removed or reordered)");
			return err_set(ERR_AUTH,
			               "check 'chain' failed at line %zu: prev does not "
			               "match line %zu (a line was removed, changed, "
			               "inserted or reordered)",
			               n, n - 1);
		}
		if ((r = pkey_sha256(line, llen, expect)) != 0)
			return r;
		off += llen + 1;
	}
	*lines = n;
	if (head != NULL)
		memcpy(head, expect, SHA256_LEN);
	return 0;
}

/* Read fd from its start into a new buffer (at most CEREMONY_LOG_MAX bytes). */
static int read_log(int fd, const char *path, struct buf **out)
{
	struct buf *b = NULL;
	uint8_t chunk[8192];
	off_t pos = 0;
	int r;

	*out = NULL;
	if ((b = buf_new(CEREMONY_LOG_MAX)) == NULL)
		return ERR_ALLOC;
	for (;;) {
		ssize_t n = pread(fd, chunk, sizeof(chunk), pos);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = err_sys("read %.200s", path);
			goto out;
		}
		if (n == 0)
			break;
		if ((r = buf_put(b, chunk, (size_t)n)) != 0) {
			if (r == ERR_TOO_LARGE)
				err_set(r, "%.200s is larger than %d bytes", path,
				        CEREMONY_LOG_MAX);
			goto out;
		}
		pos += n;
	}
	*out = b;
	b = NULL;
	r = 0;
out:
	buf_free(b);
	return r;
}

static int open_log(const char *path, int flags, int *fdp)
{
	struct stat st;
	int fd;

	*fdp = -1;
	if ((fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0644)) < 0) {
		if (errno == ENOENT)
			return err_set(ERR_NOT_FOUND, "%.200s: no such file", path);
		if (errno == ELOOP)
			return err_set(ERR_PERMISSION, "%.200s is a symbolic link; refused", path);
		return err_sys("open %.200s", path);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(ERR_PERMISSION, "%.200s is not a regular file", path);
	}
	*fdp = fd;
	return 0;
}

int ceremony_verify(const char *path, size_t *lines, uint8_t head[SHA256_LEN])
{
	struct buf *b = NULL;
	int fd, r;

	*lines = 0;
	if (head != NULL)
		memset(head, 0, SHA256_LEN);
	if ((r = open_log(path, O_RDONLY, &fd)) != 0)
		return r;
	if ((r = read_log(fd, path, &b)) == 0 &&
	    (r = ceremony_check(buf_ptr(b), buf_len(b), lines, head)) != 0)
		err_wrap(r, "%.200s", path);
	buf_free(b);
	close(fd);
	return r;
}

static int valid_step(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > 32)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '-'))
			return 0;
	return 1;
}

static int valid_fields(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < 0x20 || s[i] >= 0x7f || s[i] == '"')
			return 0;
	return i < CEREMONY_LINE_MAX / 2;
}

int ceremony_append(const char *path, const char *step, const char *fields, const char *note,
                    time_t now, uint8_t head[SHA256_LEN])
{
	char line[CEREMONY_LINE_MAX], ts[32], esc[CEREMONY_NOTE_MAX * 4 + 1];
	char prevhex[HEX_LEN + 1];
	uint8_t prev[SHA256_LEN];
	struct buf *old = NULL;
	struct tm tm;
	size_t lines, len, done = 0;
	int fd = -1, r, n;

	if (head != NULL)
		memset(head, 0, SHA256_LEN);
	if (!valid_step(step))
		return err_set(ERR_INVALID_ARG, "ceremony log: bad step name");
	if (fields != NULL && !valid_fields(fields))
		return err_set(ERR_INVALID_ARG, "ceremony log: bad fields for step %s", step);
	if (note != NULL && strlen(note) > CEREMONY_NOTE_MAX)
		return err_set(ERR_INVALID_ARG, "--note is longer than %d bytes",
		               CEREMONY_NOTE_MAX);
	log_untrusted(esc, sizeof(esc), note != NULL ? note : "", CEREMONY_NOTE_MAX);
	if (gmtime_r(&now, &tm) == NULL || strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return err_set(ERR_INVALID_ARG, "ceremony log: bad time");

	if ((r = open_log(path, O_RDWR | O_APPEND | O_CREAT, &fd)) != 0)
		return r;
	/* One writer at a time: the chain is computed from what is on disk. */
	if (flock(fd, LOCK_EX) != 0) {
		r = err_sys("lock %.200s", path);
		goto out;
	}
	if ((r = read_log(fd, path, &old)) != 0)
		goto out;
	if ((r = ceremony_check(buf_ptr(old), buf_len(old), &lines, prev)) != 0) {
		err_wrap(r, "%.200s (refusing to extend a broken log)", path);
		goto out;
	}
	hex_encode(prev, sizeof(prev), prevhex);
	n = snprintf(line, sizeof(line), "prev=%s time=%s step=%s%s%s note=\"%s\"\n", prevhex, ts,
	             step, fields != NULL && fields[0] != '\0' ? " " : "",
	             fields != NULL ? fields : "", esc);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		r = err_set(ERR_TOO_LARGE, "ceremony log line longer than %d bytes",
		            CEREMONY_LINE_MAX);
		goto out;
	}
	len = (size_t)n;
	if (buf_len(old) + len > CEREMONY_LOG_MAX) {
		r = err_set(ERR_TOO_LARGE, "%.200s would grow beyond %d bytes", path,
		            CEREMONY_LOG_MAX);
		goto out;
	}
	while (done < len) {
		ssize_t w = write(fd, line + done, len - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			r = err_sys("append to %.200s", path);
			goto out;
		}
		done += (size_t)w;
	}
	if (fsync(fd) != 0) {
		r = err_sys("fsync %.200s", path);
		goto out;
	}
	if (head != NULL && (r = pkey_sha256(line, len - 1, head)) != 0)
		goto out;
	r = 0;
out:
	buf_free(old);
	if (fd >= 0)
		close(fd);
	return r;
}

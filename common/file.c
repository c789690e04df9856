// SPDX-License-Identifier: ISC
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

static int write_full(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The directory part of path ("." when there is none) into dir[PATH_MAX]. */
static void dir_of(const char *path, char *dir)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(dir, PATH_MAX, ".");
	else if (slash == path)
		snprintf(dir, PATH_MAX, "/");
	else
		snprintf(dir, PATH_MAX, "%.*s", (int)(slash - path), path);
}

static const char *node_kind(mode_t m)
{
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

int file_check_target(const char *path)
{
	char dir[PATH_MAX];
	struct stat st;

	if (path == NULL || path[0] == '\0' || strlen(path) >= PATH_MAX - 16)
		return err_set(ERR_INVALID_ARG, "output path is empty or too long");
	if (path[strlen(path) - 1] == '/')
		return err_set(ERR_PERMISSION, "refusing to write %.200s: it names a directory",
		               path);
	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return err_set(ERR_PERMISSION,
			               "refusing to write %.200s: it is %s, not a regular file", path,
			               node_kind(st.st_mode));
	} else if (errno != ENOENT && errno != ENOTDIR) {
		return err_sys("stat %.200s", path);
	}
	dir_of(path, dir);
	if (stat(dir, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return err_set(ERR_NOT_FOUND, "cannot write %.200s: no directory %.200s",
			               path, dir);
		return err_sys("stat directory %.200s", dir);
	}
	if (!S_ISDIR(st.st_mode))
		return err_set(ERR_NOT_FOUND, "cannot write %.200s: %.200s is not a directory", path,
		               dir);
	if (access(dir, W_OK | X_OK) != 0)
		return err_set(ERR_PERMISSION, "cannot write %.200s: directory %.200s is not writable",
		               path, dir);
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	int fd, r = 0;

	dir_of(path, dir);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return err_sys("open directory %s", dir);
	if (fsync(fd) != 0 && errno != EINVAL)
		r = err_sys("fsync directory %s", dir);
	close(fd);
	return r;
}

#define TEMP_SUFFIX ".tmp."
#define TEMP_RANDOM 6 /* the XXXXXX of mkostemp */

int file_is_atomic_temp(const char *name)
{
	size_t n = strlen(name), s = sizeof(TEMP_SUFFIX) - 1;

	return n > s + TEMP_RANDOM &&
	       memcmp(name + n - TEMP_RANDOM - s, TEMP_SUFFIX, s) == 0;
}

static int write_atomic(const char *path, const void *data, size_t len, mode_t mode, int excl)
{
	char tmp[PATH_MAX];
	int fd = -1, r;
	struct stat st;

	if (snprintf(tmp, sizeof(tmp), "%s" TEMP_SUFFIX "XXXXXX", path) >= (int)sizeof(tmp))
		return err_set(ERR_INVALID_ARG, "path too long: %.100s", path);
	if (excl && lstat(path, &st) == 0)
		return err_set(ERR_EXISTS, "%s already exists; refusing to overwrite", path);
	if ((r = file_check_target(path)) != 0)
		return r;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return err_sys("create temporary file for %s", path);
	if (fchmod(fd, mode) != 0) {
		r = err_sys("chmod %s", tmp);
		goto fail;
	}
	if (write_full(fd, data, len) != 0) {
		r = errno == ENOSPC || errno == EFBIG || errno == EDQUOT
			    ? err_set(ERR_IO, "write %s: %s", path, strerror(errno))
			    : err_sys("write %s", path);
		goto fail;
	}
	if (fsync(fd) != 0) {
		r = err_sys("fsync %s", path);
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = err_sys("close %s", path);
		goto fail;
	}
	fd = -1;
	if (excl) {
		/* link() fails if the target appeared meanwhile; rename() would not. */
		if (link(tmp, path) != 0) {
			r = errno == EEXIST
				    ? err_set(ERR_EXISTS, "%s already exists; refusing to overwrite", path)
				    : err_sys("link %s", path);
			goto fail;
		}
		unlink(tmp);
	} else if (rename(tmp, path) != 0) {
		r = err_sys("rename %s to %s", tmp, path);
		goto fail;
	}
	return fsync_dir_of(path);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}

int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_atomic(path, data, len, mode, 0);
}

int file_write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_atomic(path, data, len, mode, 1);
}

static int read_all(const char *path, size_t max, struct buf **bp, int private)
{
	struct buf *b = NULL;
	struct stat st;
	uint8_t *p;
	int fd, r;
	size_t got = 0;

	*bp = NULL;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)) < 0) {
		if (errno == ENOENT)
			return err_set(ERR_NOT_FOUND, "%s: no such file", path);
		if (errno == ELOOP)
			return err_set(ERR_PERMISSION, "%s is a symbolic link; refused", path);
		return err_sys("open %s", path);
	}
	if (fstat(fd, &st) != 0) {
		r = err_sys("stat %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = err_set(ERR_PERMISSION, "%s is not a regular file", path);
		goto out;
	}
	if (private && (st.st_mode & 077) != 0) {
		r = err_set(ERR_PERMISSION,
			    "%s is accessible by group or others (mode %04o); run chmod 600 %s",
			    path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		r = err_set(ERR_TOO_LARGE, "%s is %lld bytes, more than the %zu allowed", path,
			    (long long)st.st_size, max);
		goto out;
	}
	/* One byte of slack so that a file growing past max is noticed. */
	if (max >= BUF_MAX_DEFAULT) {
		r = err_set(ERR_INVALID_ARG, "read %s: a cap of %zu bytes is beyond any buffer",
			    path, max);
		goto out;
	}
	if ((b = buf_new(max + 1)) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	/* Read to EOF rather than trusting st_size (the file may change). */
	for (;;) {
		size_t want = max + 1 - got < 65536 ? max + 1 - got : 65536;
		ssize_t n;

		if (want == 0) {
			r = err_set(ERR_TOO_LARGE, "%s grew beyond %zu bytes", path, max);
			goto out;
		}
		if ((r = buf_reserve(b, want, &p)) != 0)
			goto out;
		do
			n = read(fd, p, want);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			r = err_sys("read %s", path);
			goto out;
		}
		if ((r = buf_consume_end(b, want - (size_t)n)) != 0)
			goto out;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > max) {
		r = err_set(ERR_TOO_LARGE, "%s grew beyond %zu bytes", path, max);
		goto out;
	}
	*bp = b;
	b = NULL;
	r = 0;
out:
	buf_free(b);
	close(fd);
	return r;
}

int file_read_all(const char *path, size_t max, struct buf **bp)
{
	return read_all(path, max, bp, 0);
}

int file_read_private(const char *path, size_t max, struct buf **bp)
{
	return read_all(path, max, bp, 1);
}

int file_mkdirs(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t i, len;

	if ((len = strlen(path)) >= sizeof(tmp) || len == 0)
		return err_set(ERR_INVALID_ARG, "bad directory path");
	memcpy(tmp, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, mode) != 0 && errno != EEXIST)
			return err_sys("mkdir %s", tmp);
		if (i < len)
			tmp[i] = '/';
	}
	return 0;
}

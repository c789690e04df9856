// SPDX-License-Identifier: ISC
#ifndef COFFER_FILE_H
#define COFFER_FILE_H

/*
 * Files: atomic replacement and bounded reads. Every write of a key, bundle
 * file or sealed file goes through file_write_atomic(): a temporary file in
 * the same directory, written in full, fsync()ed, renamed over the target,
 * and the directory fsync()ed. Any failure removes the temporary file and
 * leaves the old target untouched.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct buf;

/*
 * May path be the target of a write? It must be absent or a regular file
 * (never a device, FIFO, socket, directory or symbolic link, dangling or
 * not: the write would replace the node, or the link, with a new file), and
 * its directory must exist, be a directory and be writable by us. Tools call
 * it for every output path before any work (a fetch, a token operation);
 * file_write_atomic() and file_write_new() check again. Returns 0,
 * ERR_PERMISSION (not a regular file, directory not writable), ERR_NOT_FOUND
 * (no such directory) or ERR_INVALID_ARG (empty or too long a path); the
 * detail names the path and what it is.
 */
int file_check_target(const char *path) WARN_UNUSED;

/* Atomically replace path with len bytes at data, mode `mode` (e.g. 0600).
 * Returns 0, ERR_SYSTEM or ERR_IO (short write), detail names the path. */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode) WARN_UNUSED;

/* Like file_write_atomic but refuses (ERR_EXISTS) if path already exists.
 * Both refuse a target that file_check_target() refuses. */
int file_write_new(const char *path, const void *data, size_t len, mode_t mode) WARN_UNUSED;

/*
 * Read a whole regular file of at most `max` bytes into a new buffer
 * (*bp, freed by the caller with buf_free). Refuses symlinks for the last
 * component (O_NOFOLLOW) and non-regular files: ERR_PERMISSION; larger files:
 * ERR_TOO_LARGE; missing: ERR_NOT_FOUND.
 */
int file_read_all(const char *path, size_t max, struct buf **bp) WARN_UNUSED;

/*
 * Same, for files that hold secrets (private keys, PIN files): also refuses
 * (ERR_PERMISSION) a file readable or writable by group or others.
 */
int file_read_private(const char *path, size_t max, struct buf **bp) WARN_UNUSED;

/*
 * Is `name` (a file name, no directory) a temporary file of
 * file_write_atomic ("NAME.tmp.XXXXXX")? Such a file is left behind only when
 * the writer was killed mid-write (SIGKILL, SIGXFSZ).
 */
int file_is_atomic_temp(const char *name);

/* mkdir -p with mode for the created components. 0 or ERR_SYSTEM. */
int file_mkdirs(const char *path, mode_t mode) WARN_UNUSED;

#endif

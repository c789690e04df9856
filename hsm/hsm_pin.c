// SPDX-License-Identifier: ISC
/*
 * PIN sources. A PIN never comes from argv: it is read from a private file,
 * an environment variable (removed after), a systemd credential, the
 * terminal without echo, or unsealed by the TPM. It lives in secure memory
 * only.
 */
#include "hsm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "bounds.h"
#include "buf.h"
#include "file.h"
#include "hsm_int.h"
#include "log.h"
#include "secmem.h"

/* Copy the first line of p[0..len) into a new secure, NUL-terminated PIN. */
static int pin_from_bytes(const uint8_t *p, size_t len, const char *what, char **pin)
{
	size_t n = 0;
	char *out;

	*pin = NULL;
	while (n < len && p[n] != '\n' && p[n] != '\r')
		n++;
	if (n == 0)
		return err_set(ERR_FORMAT, "PIN from %s is empty", what);
	if (n > LIMIT_PIN_LEN)
		return err_set(ERR_TOO_LARGE, "PIN from %s is longer than %d bytes", what,
			       LIMIT_PIN_LEN);
	if (memchr(p, '\0', n) != NULL)
		return err_set(ERR_FORMAT, "PIN from %s contains a NUL byte", what);
	if ((out = secmem_alloc(n + 1)) == NULL)
		return ERR_ALLOC;
	memcpy(out, p, n);
	*pin = out;
	return 0;
}

static int pin_file(const char *path, char **pin)
{
	struct buf *b = NULL;
	int r;

	if (*path == '\0')
		return err_set(ERR_INVALID_ARG, "PIN source file: needs a path");
	if ((r = file_read_private(path, LIMIT_PIN_FILE, &b)) != 0)
		return err_wrap(r, "PIN file");
	r = pin_from_bytes(buf_ptr(b), buf_len(b), path, pin);
	buf_free(b);
	return r;
}

static int pin_env(const char *name, char **pin)
{
	char *v;
	int r;

	if (*name == '\0')
		return err_set(ERR_INVALID_ARG, "PIN source env: needs a variable name");
	if ((v = getenv(name)) == NULL)
		return err_set(ERR_NOT_FOUND, "PIN variable %s is not set", name);
	r = pin_from_bytes((const uint8_t *)v, strlen(v), name, pin);
	/* Child processes must not inherit it. */
	secmem_zero(v, strlen(v));
	(void)unsetenv(name);
	return r;
}

/*
 * credential:NAME: $CREDENTIALS_DIRECTORY/NAME, which systemd fills from
 * LoadCredential= or LoadCredentialEncrypted= (decrypted with the TPM or the
 * host key) in a private, unswappable mount, readable by the service only.
 */
static int pin_credential(const char *name, char **pin)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[PATH_MAX];
	size_t i, len = strlen(name);
	int n;

	if (len == 0 || len > NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return err_set(ERR_INVALID_ARG, "PIN source credential: needs a credential name");
	for (i = 0; i < len; i++)
		if (name[i] == '/' || (unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return err_set(ERR_INVALID_ARG,
				       "PIN source credential:%.100s: not a credential name", name);
	if (dir == NULL || dir[0] != '/')
		return err_set(ERR_NOT_FOUND,
			       "PIN source credential:%s: $CREDENTIALS_DIRECTORY is not set (give "
			       "the unit LoadCredential= or LoadCredentialEncrypted=%s:...)",
			       name, name);
	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return err_set(ERR_TOO_LARGE, "PIN source credential:%s: path too long", name);
	return pin_file(path, pin);
}

static int pin_prompt(char **pin)
{
	struct termios old, raw;
	char line[LIMIT_PIN_LEN + 2];
	size_t n = 0;
	ssize_t got;
	int fd, r, restored = 1;
	char c;

	*pin = NULL;
	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return err_set(ERR_UNSUPPORTED, "PIN prompt: no controlling terminal (%s)",
			       strerror(errno));
	if (tcgetattr(fd, &old) != 0) {
		r = err_sys("PIN prompt: tcgetattr");
		goto out;
	}
	raw = old;
	raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	raw.c_lflag |= ICANON;
	if (tcsetattr(fd, TCSAFLUSH, &raw) != 0) {
		r = err_sys("PIN prompt: tcsetattr");
		goto out;
	}
	restored = 0;
	if (write(fd, "PIN: ", 5) != 5) {
		r = err_sys("PIN prompt: write");
		goto out;
	}
	for (;;) {
		got = read(fd, &c, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || c == '\n')
			break;
		if (n < sizeof(line))
			line[n++] = c;
	}
	if (n > LIMIT_PIN_LEN) {
		r = err_set(ERR_TOO_LARGE, "PIN from the prompt is longer than %d bytes",
			    LIMIT_PIN_LEN);
		goto out;
	}
	r = pin_from_bytes((const uint8_t *)line, n, "the prompt", pin);
out:
	if (!restored) {
		(void)tcsetattr(fd, TCSAFLUSH, &old);
		if (write(fd, "\n", 1) < 0) {
			/* the PIN is read; a lost newline on the tty does not matter */
		}
	}
	secmem_zero(line, sizeof(line));
	secmem_zero(&c, sizeof(c));
	close(fd);
	return r;
}

static int pin_sealed(const char *path, const char *tcti, char **pin)
{
	uint8_t *secret = NULL;
	size_t len = 0;
	int r;

	if ((r = hsm_tpm_unseal(tcti, path, &secret, &len)) != 0)
		return err_wrap(r, "PIN sealed in %s", path);
	r = pin_from_bytes(secret, len, path, pin);
	secmem_free(secret);
	return r;
}

int hsm_pin_read(const char *source, const char *tcti, char **pin)
{
	if (source == NULL || pin == NULL)
		fatal("hsm_pin_read: NULL argument");
	*pin = NULL;
	if (strncmp(source, "file:", 5) == 0) {
		source += 5;
		/* file:///path (RFC 8089) as well as file:/path and file:path */
		if (strncmp(source, "//", 2) == 0)
			source += 2;
		return pin_file(source, pin);
	}
	if (strncmp(source, "env:", 4) == 0)
		return pin_env(source + 4, pin);
	if (strncmp(source, "credential:", 11) == 0)
		return pin_credential(source + 11, pin);
	if (strcmp(source, "prompt") == 0)
		return pin_prompt(pin);
	if (strncmp(source, "tpm2-sealed:", 12) == 0)
		return pin_sealed(source + 12, tcti, pin);
	return err_set(ERR_INVALID_ARG,
		       "PIN source \"%.100s\": use file:PATH, env:NAME, credential:NAME, prompt or "
		       "tpm2-sealed:PATH",
		       source);
}

int hsm_pin_from_uri_source(const char *source, const char *tcti, char **pin)
{
	/* RFC 7512 allows a bare path as pin-source. */
	if (source[0] == '/')
		return pin_file(source, pin);
	return hsm_pin_read(source, tcti, pin);
}

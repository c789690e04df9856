// SPDX-License-Identifier: ISC
#include "envp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "output.h"
#include "secmem.h"

/* buf_put of nothing is a no-op here (common/buf.c would compute NULL + 0 on
 * a fresh buffer, which UBSan reports). */
static int put_bytes(struct buf *b, const void *p, size_t n)
{
	return n == 0 ? 0 : buf_put(b, p, n);
}

size_t envp_count(char *const *envp)
{
	size_t n = 0;

	while (envp != NULL && envp[n] != NULL)
		n++;
	return n;
}

void envp_free(char **envp)
{
	size_t i;

	if (envp == NULL)
		return;
	for (i = 0; envp[i] != NULL; i++) {
		secmem_zero(envp[i], strlen(envp[i]));
		free(envp[i]);
	}
	free(envp);
}

/* Is entry "NAME=..." named exactly name[0..len)? */
static int entry_is(const char *entry, const char *name, size_t len)
{
	return strncmp(entry, name, len) == 0 && entry[len] == '=';
}

/* "prefix key=text" as a new C string. */
static int make_entry(const struct secret *s, const char *prefix, char **out)
{
	struct buf *b = NULL;
	char *e = NULL;
	int r;

	*out = NULL;
	if ((b = buf_new(0)) == NULL)
		return ERR_ALLOC;
	if ((prefix != NULL && (r = put_bytes(b, prefix, strlen(prefix))) != 0) ||
	    (r = put_bytes(b, s->key, s->key_len)) != 0 || (r = buf_put_u8(b, '=')) != 0 ||
	    (r = output_value_text(s, b)) != 0)
		goto out;
	if ((e = malloc(buf_len(b) + 1)) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	memcpy(e, buf_ptr(b), buf_len(b));
	e[buf_len(b)] = '\0';
	*out = e;
	r = 0;
out:
	buf_free(b);
	return r;
}

int envp_build(char *const *base, const struct secret *items, size_t n, const char *prefix,
               const char *const *allow, char ***envpp)
{
	char **env = NULL, **mine = NULL;
	size_t nbase = envp_count(base), i, j, k = 0;
	int r;

	*envpp = NULL;
	for (i = 0; i < n; i++)
		if ((r = output_check_env(&items[i], prefix, allow)) != 0)
			return r;
	if (nbase > SIZE_MAX / sizeof(char *) - n - 1 ||
	    (env = calloc(nbase + n + 1, sizeof(char *))) == NULL ||
	    (mine = calloc(n + 1, sizeof(char *))) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((r = make_entry(&items[i], prefix, &mine[i])) != 0)
			goto out;
	for (i = 0; i < nbase; i++) {
		int shadowed = 0;
		for (j = 0; j < n && !shadowed; j++)
			shadowed = entry_is(base[i], mine[j], strcspn(mine[j], "="));
		if (shadowed)
			continue;
		if ((env[k] = strdup(base[i])) == NULL) {
			r = ERR_ALLOC;
			goto out;
		}
		k++;
	}
	for (i = 0; i < n; i++) {
		size_t nl = strcspn(mine[i], "=");
		int later = 0;
		for (j = i + 1; j < n && !later; j++)
			later = strncmp(mine[i], mine[j], nl + 1) == 0;
		if (later)
			continue; /* a later secret of the same name wins */
		env[k++] = mine[i];
		mine[i] = NULL;
	}
	*envpp = env;
	env = NULL;
	r = 0;
out:
	envp_free(env);
	if (mine != NULL) {
		for (i = 0; i < n; i++)
			if (mine[i] != NULL) {
				secmem_zero(mine[i], strlen(mine[i]));
				free(mine[i]);
			}
		free(mine);
	}
	return r;
}

int envp_exec(const char *file, char *const argv[], char *const envp[])
{
	char tmp[300];

	execvpe(file, argv, envp);
	log_untrusted(tmp, sizeof(tmp), file, 200);
	if (errno == ENOENT || errno == ENOTDIR)
		return err_set(ERR_NOT_FOUND, "exec %s: command not found", tmp);
	if (errno == EACCES || errno == EPERM)
		return err_set(ERR_PERMISSION, "exec %s: permission denied", tmp);
	return err_sys("exec %s", tmp);
}

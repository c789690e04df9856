// SPDX-License-Identifier: ISC
#include "envname.h"

#include <string.h>

static int is_alpha_(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

int envname_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || !is_alpha_(name[0]))
		return 0;
	for (i = 1; i < len; i++)
		if (!is_alpha_(name[i]) && !(name[i] >= '0' && name[i] <= '9'))
			return 0;
	return 1;
}

/*
 * The one list of names a shard may not set (coffer-get(1), "Refused
 * names"): each changes how the dynamic loader, libc, a shell or an
 * interpreter loads or runs code, so a compromised appliance or a typo in a
 * definition would run code on every host that evals the output or uses
 * exec mode.
 */
static const char *const refused_names[] = {
    "BASH_ENV",     "ENV",          "PATH",        "IFS",           "PS4",
    "SHELLOPTS",    "BASHOPTS",     "CDPATH",      "PROMPT_COMMAND", "GLIBC_TUNABLES",
    "GCONV_PATH",   "LOCPATH",      "NLSPATH",     "HOSTALIASES",   "RESOLV_HOST_CONF",
    "NODE_OPTIONS", "NODE_PATH",  "RUBYOPT",       "RUBYLIB",
    "PERLLIB",      "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH",
    "OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES", "SSLKEYLOGFILE", "LUA_PATH",
    "LUA_CPATH",    "TCLLIBPATH",   "GIT_SSH",     "GIT_SSH_COMMAND", "GIT_EXEC_PATH",
    "GIT_CONFIG_GLOBAL", "EDITOR",  "VISUAL",      "PAGER",         "BROWSER",
};
/* ... and every name that starts with one of these. */
static const char *const refused_prefixes[] = {
    "LD_", "DYLD_", "BASH_FUNC_", "PYTHON", "PERL5", "LUA_INIT", "GIT_CONFIG_",
};

int envname_refused(const char *name, size_t len)
{
	size_t i, l;

	for (i = 0; i < sizeof(refused_names) / sizeof(refused_names[0]); i++)
		if (strlen(refused_names[i]) == len && memcmp(refused_names[i], name, len) == 0)
			return 1;
	for (i = 0; i < sizeof(refused_prefixes) / sizeof(refused_prefixes[0]); i++) {
		l = strlen(refused_prefixes[i]);
		if (len >= l && memcmp(refused_prefixes[i], name, l) == 0)
			return 1;
	}
	return 0;
}

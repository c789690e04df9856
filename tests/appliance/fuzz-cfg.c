// SPDX-License-Identifier: ISC
/*
 * libFuzzer harness for the appliance's configuration as the operator gives
 * it: a YAML config file (the input as it is), or, when the input starts with
 * a NUL byte, a command line (the rest, split at NUL bytes, after the program
 * name). Either way the result goes through the cross-option checks. A command
 * line naming --config (or a prefix of it) is skipped: it would read a file.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cfg.h"
#include "err.h"
#include "fuzz.h"

#define MAX_ARGS 64

/* Does this argument name --config (getopt_long takes unique prefixes)? */
static int names_config(const char *arg)
{
	size_t n;

	if (strncmp(arg, "--", 2) != 0)
		return 0;
	arg += 2;
	n = strcspn(arg, "=");
	return n > 0 && n <= strlen("config") && strncmp(arg, "config", n) == 0;
}

static int command_line(struct cfg *c, const uint8_t *data, size_t size)
{
	static char text[4096];
	char *argv[MAX_ARGS + 1];
	enum cfg_action action;
	size_t off = 0;
	int argc = 0;

	if (size > sizeof(text) - 1)
		return ERR_TOO_LARGE;
	memcpy(text, data, size);
	text[size] = '\0';
	argv[argc++] = "appliance-server";
	while (off < size && argc < MAX_ARGS) {
		argv[argc] = text + off;
		if (names_config(argv[argc]))
			return ERR_INVALID_ARG;
		off += strlen(argv[argc++]) + 1;
	}
	argv[argc] = NULL;
	return cfg_parse(c, argc, argv, &action);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg c;
	int r;

	cfg_init(&c);
	if (size > 0 && data[0] == '\0')
		r = command_line(&c, data + 1, size - 1);
	else
		r = cfg_parse_yaml(&c, data, size, "fuzz.yaml", NULL);
	if (r == 0 && cfg_validate(&c) != 0)
		err_clear();
	cfg_clear(&c);
	err_clear();
	return 0;
}

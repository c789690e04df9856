// SPDX-License-Identifier: ISC
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "exitcode.h"
#include "log.h"

#define CLI_WORD_MAX 64

/* Edit distance with adjacent swaps (optimal string alignment), capped. */
static size_t distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t d[CLI_WORD_MAX + 1][CLI_WORD_MAX + 1], i, j;

	if (la > CLI_WORD_MAX || lb > CLI_WORD_MAX)
		return (size_t)-1;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1, best = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* The word without its dashes and "=value". */
static void bare(const char *word, const char **p, size_t *len)
{
	while (*word == '-')
		word++;
	*p = word;
	*len = strcspn(word, "=");
}

const char *cli_suggest(const char *word, const char *const *names, size_t n)
{
	const char *w, *best = NULL;
	size_t wl, i, bd = (size_t)-1;

	bare(word, &w, &wl);
	if (wl == 0)
		return NULL;
	for (i = 0; i < n; i++) {
		size_t d = distance(w, wl, names[i], strlen(names[i]));
		/* A typed word that starts a name ("--pkcs11") is close to it. */
		if (strncmp(names[i], w, wl) == 0 && d > 1)
			d = 1;
		if (d < bd) {
			bd = d;
			best = names[i];
		}
	}
	/* Close: one edit in a short word, about a third of a longer one. */
	if (best == NULL || bd * 3 > wl + 2 || strcmp(word, best) == 0)
		return NULL;
	return best;
}

const char *cli_suggest_option(const char *word, const struct option *longopts)
{
	const char *names[128];
	size_t n = 0;

	for (; longopts != NULL && longopts->name != NULL && n < 128; longopts++)
		names[n++] = longopts->name;
	return cli_suggest(word, names, n);
}

/* Is opt (getopt's optopt) one of the options, as a short letter or a long one's value? */
static const char *known_option(int opt, const char *shortopts, const struct option *longopts,
                                char *shortname)
{
	const char *p;

	for (; longopts != NULL && longopts->name != NULL; longopts++)
		if (longopts->val == opt && longopts->flag == NULL)
			return longopts->name;
	if (opt > 0 && opt < 256 && opt != ':' && shortopts != NULL &&
	    (p = strchr(shortopts, opt)) != NULL) {
		shortname[0] = '-';
		shortname[1] = (char)opt;
		shortname[2] = '\0';
		return shortname;
	}
	return NULL;
}

int cli_bad_option(const char *who, char *const *argv, int next, int opt,
                   const char *shortopts, const struct option *longopts)
{
	char safe[CLI_WORD_MAX * 4 + 8], shortname[3];
	const char *typed = next > 0 ? argv[next - 1] : "", *name, *hint;

	log_untrusted(safe, sizeof(safe), typed != NULL ? typed : "", CLI_WORD_MAX);
	if (opt != 0 && (name = known_option(opt, shortopts, longopts, shortname)) != NULL) {
		fprintf(stderr, "%s: option '%s%s' needs a value (see '%s --help')\n", who,
		        name[0] == '-' ? "" : "--", name, who);
		return EXIT_USAGE;
	}
	if (opt != 0) {
		snprintf(safe, sizeof(safe), "-%c", opt > 32 && opt < 127 ? opt : '?');
		hint = NULL;
	} else {
		hint = cli_suggest_option(typed != NULL ? typed : "", longopts);
	}
	if (hint != NULL)
		fprintf(stderr, "%s: unknown option '%s'; did you mean '--%s'? (see '%s --help')\n",
		        who, safe, hint, who);
	else
		fprintf(stderr, "%s: unknown option '%s' (see '%s --help')\n", who, safe, who);
	return EXIT_USAGE;
}

int cli_unknown_command(const char *prog, const char *word, const char *const *names, size_t n)
{
	char safe[CLI_WORD_MAX * 4 + 8];
	const char *hint = cli_suggest(word, names, n);

	log_untrusted(safe, sizeof(safe), word, CLI_WORD_MAX);
	if (hint != NULL)
		fprintf(stderr, "%s: unknown command '%s'; did you mean '%s'? (see '%s --help')\n",
		        prog, safe, hint, prog);
	else
		fprintf(stderr, "%s: unknown command '%s' (see '%s --help')\n", prog, safe, prog);
	return EXIT_USAGE;
}

int cli_usage_error(const char *who, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '%s --help')\n", who);
	return EXIT_USAGE;
}

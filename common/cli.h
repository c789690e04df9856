// SPDX-License-Identifier: ISC
#ifndef COFFER_CLI_H
#define COFFER_CLI_H

/*
 * Command-line messages shared by the five tools, so that a mistake reads
 * the same everywhere:
 *
 *   coffer-get: unknown option '--onyl'; did you mean '--only'? (see 'coffer-get --help')
 *   provision-master: unknown command 'verfy'; did you mean 'verify'? (see 'provision-master --help')
 *   coffer-seal seal: option '--output' needs a value (see 'coffer-seal seal --help')
 *
 * The suggestion is the known name nearest to what was typed (edit
 * distance, a swap of two neighbours counting one), offered only when it is
 * close: at most 2 edits, or a third of the word's length. Untrusted text
 * (what was typed) is printed escaped and cut to 64 bytes.
 */

#include <stddef.h>

struct option;

/*
 * The name among names[0..n) nearest to word, or NULL when none is close
 * enough to suggest. A leading "--" or "-" on word is ignored, as is an
 * "=value" tail.
 */
const char *cli_suggest(const char *word, const char *const *names, size_t n);

/* Same, over the long options of a getopt_long table (ended by a zero entry). */
const char *cli_suggest_option(const char *word, const struct option *longopts);

/*
 * Print the message for a getopt_long() error (it returned '?' or ':' with
 * opterr = 0) to stderr: an unknown option with a suggestion, or an option
 * that needs a value. who is "prog" or "prog command"; argv is what
 * getopt_long() read, next and opt its optind and optopt after the error;
 * shortopts and longopts its tables. Returns EXIT_USAGE so a caller can
 * write `return cli_bad_option(...)`.
 */
int cli_bad_option(const char *who, char *const *argv, int next, int opt,
                   const char *shortopts, const struct option *longopts);

/* "prog: unknown command 'word'[; did you mean 'x'?] (see 'prog --help')". EXIT_USAGE. */
int cli_unknown_command(const char *prog, const char *word, const char *const *names, size_t n);

/* "who: MESSAGE (see 'who --help')", the form of every other usage error. EXIT_USAGE. */
int cli_usage_error(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

// SPDX-License-Identifier: ISC
/*
 * provision-master: the offline ceremony of the security officer. Creates
 * the master signing key in a token, registers appliance and companion
 * public keys, builds and signs the bundle manifest, verifies a bundle as an
 * appliance would, and keeps a hash-chained ceremony log. See
 * docs/ceremony.md for the runbook.
 *
 * Exit codes (common/exitcode.h, the table of the five tools): 0 success;
 * 1 verification failed or the step was refused (bad input, existing file,
 * not a bundle, broken log); 2 usage error; 3 token or system error (a wrong
 * PIN included).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

#include "bounds.h"
#include "buf.h"
#include "bundle.h"
#include "ceremony.h"
#include "cli.h"
#include "encoding.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "log.h"
#include "pkey.h"
#include "revoked.h"
#include "secmem.h"

#include "hsm.h"

#define PROG "provision-master"
#define PM_EXIT_OK EXIT_OK
#define PM_EXIT_USAGE EXIT_USAGE

#define PM_NAME_MAX 64
#define PM_PATH_MAX 4096
#define PM_FIELDS_MAX 1536
#define PM_DEFAULT_MASTER_LABEL "coffer-master"

/* Options a subcommand accepts. */
enum pm_opt {
	O_BUNDLE = 1U << 0,
	O_NOTE = 1U << 1,
	O_TOKEN = 1U << 2, /* --pkcs11-module, --token, --pin-source, --label */
	O_TPM = 1U << 3,   /* --tpm2, --key-blob */
	O_FORCE = 1U << 4,
	O_VERIFY = 1U << 5, /* --trust-anchor, --threshold, --min-serial, --state, --update-state */
	O_RECORD = 1U << 6, /* --record FILE */
	O_REASON = 1U << 7, /* --reason TEXT */
	O_COMPANION = 1U << 8, /* --companion */
};

struct pm_opts {
	const char *bundle;
	const char *note;
	const char *module, *token, *pin_source, *label;
	const char *tcti, *key_blob;
	const char *trust_anchors[LIMIT_ANCHORS];
	size_t n_anchors;
	unsigned threshold;
	const char *state, *record, *reason;
	uint64_t min_serial;
	int update_state, force, companion;
	int token_failed; /* the failure came from a token step: exit 3 */
	const char *cmd;
	int nargs;
	char **args;
};

struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
	const char *usage;
};

static const struct subcommand *find_subcommand(const char *name);

/* ---- helpers ------------------------------------------------------------- */

static int fail(const struct pm_opts *o, int r)
{
	fprintf(stderr, "%s %s: %s\n", PROG, o->cmd, err_msg(r));
	return o->token_failed ? exit_code_token(r) : exit_code(r);
}

static int usage_error(const char *cmd, const char *fmt, ...) PRINTF_LIKE(2, 3);
static int usage_error(const char *cmd, const char *fmt, ...)
{
	char who[80], text[512];
	va_list ap;

	snprintf(who, sizeof(who), "%s %s", PROG, cmd);
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return cli_usage_error(who, "%s", text);
}

static int join(char *out, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, PM_PATH_MAX, "%s/%s", dir, name) >= PM_PATH_MAX)
		return err_set(ERR_INVALID_ARG, "path too long: %.200s/%.200s", dir, name);
	return 0;
}

/*
 * Every step but init works on a bundle: a directory holding the master
 * public key that init wrote. Refusing anything else keeps a mistyped
 * --bundle (or none: the current directory) from having private keys, PIN
 * files or a token store hashed into a manifest, or keys written into it.
 */
static int need_bundle(const struct pm_opts *o)
{
	char path[PM_PATH_MAX];
	struct stat st;
	int r;

	if ((r = join(path, o->bundle, BUNDLE_MASTER_PUBLIC)) != 0)
		return r;
	if (lstat(o->bundle, &st) != 0 || !S_ISDIR(st.st_mode))
		return err_set(ERR_NOT_FOUND, "%.200s is not a directory: not a bundle", o->bundle);
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return err_set(ERR_NOT_FOUND,
		               "%.200s is not a bundle (no %s there; make one with '%s init', or "
		               "give --bundle DIR)",
		               o->bundle, BUNDLE_MASTER_PUBLIC, PROG);
	return 0;
}

/* NAME of a key: [A-Za-z0-9._-], 1..64 characters, not "." or "..". */
static int name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > PM_NAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

/* Append " key=value" to fields, value %-escaped outside a safe set. */
static void field_add(char *fields, const char *key, const char *val)
{
	size_t o = strlen(fields), i;
	const char *safe = "._-:/=;@+,";

	if (o + strlen(key) + 3 >= PM_FIELDS_MAX)
		return;
	o += (size_t)snprintf(fields + o, PM_FIELDS_MAX - o, "%s%s=", o ? " " : "", key);
	for (i = 0; val[i] != '\0' && o + 4 < PM_FIELDS_MAX; i++) {
		unsigned char c = (unsigned char)val[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (c != '\0' && strchr(safe, c) != NULL))
			fields[o++] = (char)c;
		else
			o += (size_t)snprintf(fields + o, PM_FIELDS_MAX - o, "%%%02X", c);
	}
	fields[o] = '\0';
}

/* Before a step changes the bundle: refuse early if its log is broken. */
static int log_ready(const struct pm_opts *o)
{
	char path[PM_PATH_MAX];
	size_t lines;
	int r;

	if ((r = join(path, o->bundle, CEREMONY_LOG)) != 0)
		return r;
	r = ceremony_verify(path, &lines, NULL);
	if (r == ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		err_wrap(r, "refusing to extend a broken log");
	return r;
}

static int log_step(const struct pm_opts *o, const char *step, const char *fields)
{
	char path[PM_PATH_MAX];
	int r;

	if ((r = join(path, o->bundle, CEREMONY_LOG)) != 0)
		return r;
	return ceremony_append(path, step, fields, o->note, time(NULL), NULL);
}

/* ---- options ------------------------------------------------------------- */

enum {
	OPT_HELP = 'h',
	OPT_BUNDLE = 'b',
	OPT_NOTE = 256,
	OPT_MODULE,
	OPT_TOKEN,
	OPT_PIN_SOURCE,
	OPT_LABEL,
	OPT_TPM2,
	OPT_KEY_BLOB,
	OPT_FORCE,
	OPT_TRUST_ANCHOR,
	OPT_MIN_SERIAL,
	OPT_STATE,
	OPT_UPDATE_STATE,
	OPT_RECORD,
	OPT_THRESHOLD,
	OPT_REASON,
	OPT_COMPANION,
};

static const struct {
	struct option opt;
	unsigned group;
} all_options[] = {
    {{"help", no_argument, NULL, OPT_HELP}, 0},
    {{"bundle", required_argument, NULL, OPT_BUNDLE}, O_BUNDLE},
    {{"note", required_argument, NULL, OPT_NOTE}, O_NOTE},
    {{"pkcs11-module", required_argument, NULL, OPT_MODULE}, O_TOKEN},
    {{"token", required_argument, NULL, OPT_TOKEN}, O_TOKEN},
    {{"pin-source", required_argument, NULL, OPT_PIN_SOURCE}, O_TOKEN},
    {{"label", required_argument, NULL, OPT_LABEL}, O_TOKEN},
    {{"tpm2", required_argument, NULL, OPT_TPM2}, O_TPM},
    {{"key-blob", required_argument, NULL, OPT_KEY_BLOB}, O_TPM},
    {{"force", no_argument, NULL, OPT_FORCE}, O_FORCE},
    {{"trust-anchor", required_argument, NULL, OPT_TRUST_ANCHOR}, O_VERIFY},
    {{"min-serial", required_argument, NULL, OPT_MIN_SERIAL}, O_VERIFY},
    {{"state", required_argument, NULL, OPT_STATE}, O_VERIFY},
    {{"update-state", no_argument, NULL, OPT_UPDATE_STATE}, O_VERIFY},
    {{"record", required_argument, NULL, OPT_RECORD}, O_RECORD},
    {{"threshold", required_argument, NULL, OPT_THRESHOLD}, O_VERIFY},
    {{"reason", required_argument, NULL, OPT_REASON}, O_REASON},
    {{"companion", no_argument, NULL, OPT_COMPANION}, O_COMPANION},
};
#define N_OPTIONS (sizeof(all_options) / sizeof(all_options[0]))

static int print_help(const char *cmd)
{
	const struct subcommand *sc = find_subcommand(cmd);

	if (sc == NULL)
		fatal("no subcommand %s", cmd);
	printf("usage: %s %s %s\n\n%s\n", PROG, sc->name, sc->usage, sc->help);
	if (strcmp(sc->name, "help") != 0)
		printf("\nexit codes: 0 ok, 1 verification failed or step refused, 2 usage, "
		       "3 token or system error\n");
	return PM_EXIT_OK;
}

/*
 * Parse argv of one subcommand. Returns -1 to go on, else the exit code
 * (help printed, or a usage error).
 */
static int parse_opts(int argc, char **argv, unsigned groups, int min_args, int max_args,
                      struct pm_opts *o)
{
	struct option longopts[N_OPTIONS + 1];
	const char *shortopts = groups & O_BUNDLE ? ":hb:" : ":h";
	size_t i, n = 0;
	unsigned long ul;
	char *end, who[80];
	int c;

	memset(o, 0, sizeof(*o));
	o->cmd = argv[0];
	o->bundle = ".";
	for (i = 0; i < N_OPTIONS; i++)
		if (all_options[i].group == 0 || (all_options[i].group & groups) != 0)
			longopts[n++] = all_options[i].opt;
	memset(&longopts[n], 0, sizeof(longopts[n]));
	optind = 1;
	opterr = 0;
	snprintf(who, sizeof(who), "%s %s", PROG, o->cmd);
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case OPT_HELP:
			return print_help(o->cmd);
		case OPT_BUNDLE:
			o->bundle = optarg;
			break;
		case OPT_NOTE:
			o->note = optarg;
			break;
		case OPT_MODULE:
			o->module = optarg;
			break;
		case OPT_TOKEN:
			o->token = optarg;
			break;
		case OPT_PIN_SOURCE:
			o->pin_source = optarg;
			break;
		case OPT_LABEL:
			o->label = optarg;
			break;
		case OPT_TPM2:
			o->tcti = optarg;
			break;
		case OPT_KEY_BLOB:
			o->key_blob = optarg;
			break;
		case OPT_FORCE:
			o->force = 1;
			break;
		case OPT_TRUST_ANCHOR:
			if (o->n_anchors >= LIMIT_ANCHORS)
				return usage_error(o->cmd, "at most %d --trust-anchor", LIMIT_ANCHORS);
			o->trust_anchors[o->n_anchors++] = optarg;
			break;
		case OPT_THRESHOLD:
			errno = 0;
			if (optarg[0] < '1' || optarg[0] > '9' ||
			    (ul = strtoul(optarg, &end, 10), errno != 0) || *end != '\0' ||
			    ul > LIMIT_ANCHORS)
				return usage_error(o->cmd, "--threshold takes a number from 1 to %d",
				                   LIMIT_ANCHORS);
			o->threshold = (unsigned)ul;
			break;
		case OPT_REASON:
			o->reason = optarg;
			break;
		case OPT_MIN_SERIAL:
			errno = 0;
			if (optarg[0] < '0' || optarg[0] > '9' ||
			    (o->min_serial = strtoull(optarg, &end, 10), errno != 0) ||
			    *end != '\0' || o->min_serial > INT64_MAX)
				return usage_error(o->cmd, "--min-serial takes a decimal number");
			break;
		case OPT_STATE:
			o->state = optarg;
			break;
		case OPT_UPDATE_STATE:
			o->update_state = 1;
			break;
		case OPT_RECORD:
			o->record = optarg;
			break;
		case OPT_COMPANION:
			o->companion = 1;
			break;
		default:
			return cli_bad_option(who, argv, optind, optopt, shortopts, longopts);
		}
	}
	o->nargs = argc - optind;
	o->args = argv + optind;
	if (o->nargs < min_args || o->nargs > max_args) {
		if (min_args == max_args)
			return usage_error(o->cmd, "expected %d argument%s, got %d", min_args,
			                   min_args == 1 ? "" : "s", o->nargs);
		return usage_error(o->cmd, "expected %d to %d arguments, got %d", min_args,
		                   max_args, o->nargs);
	}
	if (o->note != NULL && strlen(o->note) > CEREMONY_NOTE_MAX)
		return usage_error(o->cmd, "--note is longer than %d bytes", CEREMONY_NOTE_MAX);
	return -1;
}

/* ---- token steps (hsm/) -------------------------------------------------- */

static int token_open(const struct pm_opts *o, unsigned need, struct hsm **h)
{
	struct hsm_config cfg = {0};

	if (o->tcti != NULL) {
		cfg.backend = HSM_BACKEND_TPM2;
		cfg.tcti = o->tcti;
	} else {
		cfg.backend = HSM_BACKEND_PKCS11;
		cfg.module = o->module;
		cfg.token = o->token;
		cfg.pin_source = o->pin_source;
	}
	cfg.need = need;
	return hsm_open(&cfg, h);
}

/* Generate a key pair in the token; *pub gets its public key. */
static int token_generate(struct pm_opts *o, const char *label, unsigned usage, unsigned need,
                          EVP_PKEY **pub)
{
	struct hsm *h = NULL;
	struct hsm_key *k = NULL;
	int r;

	*pub = NULL;
	if ((r = token_open(o, need, &h)) != 0 ||
	    (r = hsm_generate(h, label, usage, o->tcti != NULL ? o->key_blob : NULL, &k)) != 0 ||
	    (r = hsm_key_public(k, pub)) != 0)
		goto out;
out:
	o->token_failed = r != 0;
	hsm_key_free(k);
	hsm_close(h);
	return r;
}

static int sign_with_key(void *ctx, const uint8_t *data, size_t len, struct buf *sig)
{
	return hsm_key_sign_data(ctx, data, len, sig);
}

struct token_signer {
	struct hsm *h;
	struct hsm_key *k;
};

static int signer_open(struct pm_opts *o, struct token_signer *s)
{
	int r;

	memset(s, 0, sizeof(*s));
	if ((r = token_open(o, HSM_NEED_SIGN, &s->h)) == 0)
		r = hsm_key_open(s->h, o->label, &s->k);
	o->token_failed = r != 0;
	return r;
}

static void signer_close(struct token_signer *s)
{
	hsm_key_free(s->k);
	hsm_close(s->h);
	memset(s, 0, sizeof(*s));
}

static int check_token_opts(const struct pm_opts *o, int tpm_allowed)
{
	if (o->tcti != NULL) {
		if (!tpm_allowed)
			return usage_error(o->cmd, "--tpm2 is not available here");
		if (o->module != NULL || o->token != NULL || o->pin_source != NULL)
			return usage_error(o->cmd,
			                   "--tpm2 and --pkcs11-module/--token/--pin-source "
			                   "exclude each other");
		if (o->key_blob == NULL)
			return usage_error(o->cmd, "--tpm2 needs --key-blob FILE");
		return -1;
	}
	if (o->key_blob != NULL)
		return usage_error(o->cmd, "--key-blob goes with --tpm2");
	if (o->module == NULL)
		return usage_error(o->cmd, "--pkcs11-module PATH is required");
	return -1;
}

/* ---- subcommands --------------------------------------------------------- */

/* Log the step that made a master key; tell the officer what its fingerprint is for. */
static int master_made(const struct pm_opts *o, const char *step, const char *name,
                       const char *fpr, const char *path, const char *advice)
{
	char fields[PM_FIELDS_MAX] = "";
	int r;

	if (name != NULL)
		field_add(fields, "name", name);
	field_add(fields, "fpr", fpr);
	field_add(fields, "label", o->label);
	field_add(fields, "token", o->token != NULL ? o->token : "(only token)");
	if ((r = log_step(o, step, fields)) != 0)
		return r;
	fprintf(stderr, "master key '%s' generated in the token; public key in %s\n%s\n", o->label,
	        path, advice);
	printf("%s\n", fpr);
	return 0;
}

static int init_main(int argc, char **argv)
{
	char path[PM_PATH_MAX], fpr[PKEY_FPR_TEXT_LEN + 1];
	struct pm_opts o;
	struct buf *pem = NULL;
	EVP_PKEY *pub = NULL;
	struct stat st;
	int r, x;

	if ((x = parse_opts(argc, argv, O_BUNDLE | O_NOTE | O_TOKEN, 0, 0, &o)) >= 0 ||
	    (x = check_token_opts(&o, 0)) >= 0)
		return x;
	if (o.label == NULL)
		o.label = PM_DEFAULT_MASTER_LABEL;
	if ((r = file_mkdirs(o.bundle, 0755)) != 0 ||
	    (r = join(path, o.bundle, BUNDLE_MASTER_PUBLIC)) != 0)
		goto out;
	/* Refuse before the token makes a key nobody will use. */
	if ((r = log_ready(&o)) != 0)
		goto out;
	if (lstat(path, &st) == 0) {
		r = err_set(ERR_EXISTS, "%.200s already exists: this bundle has a master key",
		            path);
		goto out;
	}
	if ((r = token_generate(&o, o.label, HSM_USAGE_SIGN, HSM_NEED_SIGN | HSM_NEED_KEYGEN,
	                        &pub)) != 0 ||
	    (r = pkey_fingerprint(pub, fpr)) != 0)
		goto out;
	if ((pem = buf_new(PKEY_PEM_MAX)) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	if ((r = pkey_public_pem(pub, pem)) != 0 ||
	    (r = file_write_new(path, buf_ptr(pem), buf_len(pem), 0644)) != 0)
		goto out;
	r = master_made(&o, "init", NULL, fpr, path,
	                "pin this fingerprint on every appliance (--trust-anchor):");
out:
	buf_free(pem);
	EVP_PKEY_free(pub);
	return r != 0 ? fail(&o, r) : PM_EXIT_OK;
}

/*
 * Refuse a key that is registered in the other directory already: a
 * companion must never be an appliance's or a client's key, and the other
 * way round (a key that may seal must not be one an appliance holds).
 */
static int registered_elsewhere(const struct pm_opts *o, const char *sub, EVP_PKEY *pub)
{
	const char *other = strcmp(sub, BUNDLE_COMPANIONS_DIR) == 0 ? BUNDLE_KEYS_DIR
	                    : strcmp(sub, BUNDLE_KEYS_DIR) == 0     ? BUNDLE_COMPANIONS_DIR
	                                                            : NULL;
	char dir[PM_PATH_MAX], path[PM_PATH_MAX];
	uint8_t want[IDENTITY_LEN], id[IDENTITY_LEN];
	struct dirent *e;
	DIR *d;
	int r = 0;

	if (other == NULL)
		return 0; /* masters/ are checked by their own rules */
	if ((r = pkey_identity(pub, want)) != 0 || (r = join(dir, o->bundle, other)) != 0)
		return r;
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : err_sys("open %.200s", dir);
	while (r == 0 && (e = readdir(d)) != NULL) {
		EVP_PKEY *k = NULL;
		size_t l = strlen(e->d_name);
		if (l < 11 || strcmp(e->d_name + l - 11, "_public.pem") != 0 ||
		    join(path, dir, e->d_name) != 0 || pkey_load_public(path, &k) != 0) {
			err_clear();
			continue;
		}
		if (pkey_identity(k, id) == 0 && memcmp(id, want, IDENTITY_LEN) == 0)
			r = err_set(ERR_EXISTS,
			            "this key is registered as %.200s/%s already; a key that may "
			            "seal (companions/) must not be an appliance's or a client's "
			            "(keys/)",
			            other, e->d_name);
		EVP_PKEY_free(k);
	}
	closedir(d);
	return r;
}

/* Write SUB/NAME_public.pem (SUB: keys, companions, masters) for pub (new file unless force). */
/* Write SUB/NAME_public.pem (SUB: keys, masters) for pub (new file unless force). */
static int write_key(const struct pm_opts *o, const char *sub, const char *name, EVP_PKEY *pub,
                     char *path)
{
	char dir[PM_PATH_MAX], file[PM_NAME_MAX + 16];
	struct buf *pem = NULL;
	int r;

	snprintf(file, sizeof(file), "%s%s", name, BUNDLE_KEY_SUFFIX);
	if ((r = registered_elsewhere(o, sub, pub)) != 0)
		return r;
	if ((r = join(dir, o->bundle, sub)) != 0 || (r = join(path, dir, file)) != 0 ||
	    (r = file_mkdirs(dir, 0755)) != 0)
		return r;
	if ((pem = buf_new(PKEY_PEM_MAX)) == NULL)
		return ERR_ALLOC;
	if ((r = pkey_public_pem(pub, pem)) == 0)
		r = o->force ? file_write_atomic(path, buf_ptr(pem), buf_len(pem), 0644)
		             : file_write_new(path, buf_ptr(pem), buf_len(pem), 0644);
	if (r == ERR_EXISTS)
		err_set(r, "%.200s already exists (use --force to replace it)", path);
	buf_free(pem);
	return r;
}

static int key_exists(const struct pm_opts *o, const char *sub, const char *name)
{
	char path[PM_PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s%s", o->bundle, sub, name,
	                     BUNDLE_KEY_SUFFIX) >= sizeof(path))
		return err_set(ERR_INVALID_ARG, "path too long");
	if (!o->force && lstat(path, &st) == 0)
		return err_set(ERR_EXISTS, "%.200s already exists (use --force to replace it)",
		               path);
	return 0;
}

/* NAME, the first argument: -1 if it is good, else the usage error's exit code. */
static int name_arg(const struct pm_opts *o, const char **name)
{
	*name = o->args[0];
	if (!name_ok(*name))
		return usage_error(o->cmd, "NAME must be 1 to %d of [A-Za-z0-9._-]", PM_NAME_MAX);
	return -1;
}

/* A new key pair in the token for SUB/NAME_public.pem, refused first if that exists. */
static int generate_named(struct pm_opts *o, const char *sub, const char *name,
                          unsigned usage, unsigned need, EVP_PKEY **pub)
{
	int r;

	*pub = NULL;
	/* Refuse before the token makes a key nobody will use. */
	if ((r = need_bundle(o)) != 0 || (r = log_ready(o)) != 0 ||
	    (r = key_exists(o, sub, name)) != 0)
		return r;
	return token_generate(o, o->label, usage, need | HSM_NEED_KEYGEN, pub);
}

static int server_key_main(int argc, char **argv)
{
	char path[PM_PATH_MAX], fpr[PKEY_FPR_TEXT_LEN + 1], fields[PM_FIELDS_MAX] = "";
	struct pm_opts o;
	EVP_PKEY *pub = NULL;
	const char *name;
	int r, x;

	if ((x = parse_opts(argc, argv, O_BUNDLE | O_NOTE | O_TOKEN | O_TPM | O_FORCE, 1, 1, &o)) >=
	        0 ||
	    (x = check_token_opts(&o, 1)) >= 0 || (x = name_arg(&o, &name)) >= 0)
		return x;
	if (o.label == NULL)
		o.label = name;
	if ((r = generate_named(&o, BUNDLE_KEYS_DIR, name, HSM_USAGE_DERIVE, HSM_NEED_ECDH, &pub)) !=
	    0)
		goto out;
	if (!pkey_is_p256(pub)) {
		r = err_set(ERR_UNSUPPORTED, "the token made a key that is not P-256");
		goto out;
	}
	if ((r = pkey_fingerprint(pub, fpr)) != 0 || (r = write_key(&o, BUNDLE_KEYS_DIR, name, pub, path)) != 0)
		goto out;
	field_add(fields, "name", name);
	field_add(fields, "fpr", fpr);
	field_add(fields, "backend", o.tcti != NULL ? "tpm2" : "pkcs11");
	field_add(fields, "token",
	          o.tcti != NULL    ? o.tcti
	          : o.token != NULL ? o.token
	                            : "(only token)");
	field_add(fields, "label", o.label);
	if ((r = log_step(&o, "server-key", fields)) != 0)
		goto out;
	fprintf(stderr, "appliance key '%s' generated; public key in %s\n", name, path);
	printf("%s\n", fpr);
out:
	EVP_PKEY_free(pub);
	return r != 0 ? fail(&o, r) : PM_EXIT_OK;
}

static int add_key_main(int argc, char **argv)
{
	char path[PM_PATH_MAX], fpr[PKEY_FPR_TEXT_LEN + 1], fields[PM_FIELDS_MAX] = "";
	struct pm_opts o;
	EVP_PKEY *pub = NULL;
	const char *name;
	int r, x;

	if ((x = parse_opts(argc, argv, O_BUNDLE | O_NOTE | O_FORCE | O_COMPANION, 2, 2, &o)) >= 0 ||
	    (x = name_arg(&o, &name)) >= 0)
		return x;
	if ((r = need_bundle(&o)) != 0 || (r = log_ready(&o)) != 0)
		goto out;
	if ((r = pkey_load_public(o.args[1], &pub)) != 0) {
		/* Not a public key PEM is bad input, not a failure of this machine. */
		if (r == ERR_CRYPTO)
			r = ERR_FORMAT;
		goto out;
	}
	if (!pkey_is_p256(pub)) {
		r = err_set(ERR_FORMAT, "%.200s is not a P-256 public key", o.args[1]);
		goto out;
	}
	if ((r = pkey_fingerprint(pub, fpr)) != 0 || (r = write_key(&o, o.companion ? BUNDLE_COMPANIONS_DIR : BUNDLE_KEYS_DIR, name, pub,
	                                                       path)) != 0)
		goto out;
	field_add(fields, "name", name);
	field_add(fields, "fpr", fpr);
	if (o.companion)
		field_add(fields, "role", "companion");
	if ((r = log_step(&o, "add-key", fields)) != 0)
		goto out;
	{
		/* Both notations of the one fingerprint: each is accepted wherever one is read. */
		uint8_t id[IDENTITY_LEN];
		char grouped[IDENTITY_TEXT_LEN + 1];
		if ((r = pkey_identity(pub, id)) != 0)
			goto out;
		identity_format(id, grouped);
		fprintf(stderr, "registered '%s' as %s\nfingerprint %s\n         also %s\n", name,
		        path, fpr, grouped);
	}
	printf("%s\n", fpr);
out:
	EVP_PKEY_free(pub);
	return r != 0 ? fail(&o, r) : PM_EXIT_OK;
}

/*
 * Log `step` (its fields name serial, the next manifest's), then write that
 * manifest: it covers the log line. Every earlier signature goes.
 */
static int logged_manifest(const struct pm_opts *o, const char *step, const char *fields,
                           uint64_t serial)
{
	uint64_t written = 0;
	int r;

	if ((r = log_step(o, step, fields)) != 0 ||
	    (r = bundle_manifest_write(o->bundle, time(NULL), &written)) != 0)
		return r;
	if (written != serial)
		return err_set(ERR_BUSY, "the manifest changed meanwhile (serial %" PRIu64 ")",
		               written);
	return 0;
}

static int add_master_main(int argc, char **argv)
{
	char path[PM_PATH_MAX], fpr[PKEY_FPR_TEXT_LEN + 1];
	char master[BUNDLE_PATH_MAX + 1];
	struct pm_opts o;
	EVP_PKEY *pub = NULL;
	const char *name;
	int r, x;

	if ((x = parse_opts(argc, argv, O_BUNDLE | O_NOTE | O_TOKEN, 1, 1, &o)) >= 0 ||
	    (x = check_token_opts(&o, 0)) >= 0 || (x = name_arg(&o, &name)) >= 0)
		return x;
	if (o.label == NULL)
		o.label = PM_DEFAULT_MASTER_LABEL;
	if ((r = generate_named(&o, BUNDLE_MASTERS_DIR, name, HSM_USAGE_SIGN, HSM_NEED_SIGN,
	                        &pub)) != 0 ||
	    (r = pkey_fingerprint(pub, fpr)) != 0)
		goto out;
	/* The same key twice would count twice towards nothing: refuse it. */
	if ((r = bundle_master_find(o.bundle, pub, master)) == 0) {
		r = err_set(ERR_EXISTS, "this key is already the bundle's master %s", master);
		goto out;
	}
	err_clear();
	if ((r = write_key(&o, BUNDLE_MASTERS_DIR, name, pub, path)) != 0)
		goto out;
	r = master_made(&o, "add-master", name, fpr, path,
	                "add this fingerprint to the trust anchors of every appliance "
	                "(--trust-anchor)\nand set --threshold as your policy asks; then run "
	                "manifest and have the\nmasters sign:");
out:
	EVP_PKEY_free(pub);
	return r != 0 ? fail(&o, r) : PM_EXIT_OK;
}

/* An operator's text for the log and revoked.json: bounded, no control characters. */
static int reason_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n > LIMIT_REVOKE_REASON)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int revoke_main(int argc, char **argv)
{
	char path[PM_PATH_MAX], fields[PM_FIELDS_MAX] = "", num[32], text[IDENTITY_TEXT_LEN + 1];
	struct revoked *rv = NULL;
	struct buf *data = NULL, *out = NULL;
	uint8_t id[IDENTITY_LEN];
	uint64_t serial = 0;
	struct pm_opts o;
	int r, x;

	if ((x = parse_opts(argc, argv, O_BUNDLE | O_NOTE | O_REASON, 1, 1, &o)) >= 0)
		return x;
	if (identity_parse(o.args[0], id) != 0)
		return usage_error(o.cmd, "IDENTITY is a client identity: 7F3A-09C1-... (64 hex "
		                          "digits in groups of four) or sha256:<64 hex>");
	if (o.reason != NULL && !reason_ok(o.reason))
		return usage_error(o.cmd, "--reason is at most %d bytes without control characters",
		                   LIMIT_REVOKE_REASON);
	identity_format(id, text);
	if ((r = need_bundle(&o)) != 0 || (r = join(path, o.bundle, BUNDLE_REVOKED)) != 0 ||
	    (r = log_ready(&o)) != 0 ||
	    (r = bundle_next_serial(o.bundle, &serial)) != 0)
		goto out;
	r = file_read_all(path, LIMIT_REVOKED_FILE, &data);
	if (r == ERR_NOT_FOUND)
		r = revoked_new(&rv);
	else if (r == 0 && (r = revoked_parse(buf_ptr(data), buf_len(data), &rv)) != 0)
		err_wrap(r, "existing %.200s (fix or restore it first)", path);
	if (r != 0)
		goto out;
	if ((r = revoked_add(rv, id, o.reason, time(NULL))) != 0)
		goto out;
	if ((out = buf_new(LIMIT_REVOKED_FILE)) == NULL) {
		r = ERR_ALLOC;
		goto out;
	}
	if ((r = revoked_format(rv, out)) != 0)
		goto out;
	/* revoked.json, then the log line, then the manifest that covers both. */
	snprintf(num, sizeof(num), "%" PRIu64, serial);
	field_add(fields, "identity", text);
	field_add(fields, "serial", num);
	field_add(fields, "reason", o.reason != NULL ? o.reason : "");
	if ((r = file_write_atomic(path, buf_ptr(out), buf_len(out), 0644)) != 0 ||
	    (r = logged_manifest(&o, "revoke", fields, serial)) != 0)
		goto out;
	fprintf(stderr,
	        "revoked %s (%zu in %s); %s/%s written with serial %" PRIu64 ", every earlier\n"
	        "signature removed: review it, then the masters sign ('%s sign')\n",
	        text, revoked_count(rv), BUNDLE_REVOKED, o.bundle, BUNDLE_MANIFEST, serial, PROG);
	printf("serial %" PRIu64 "\n", serial);
out:
	buf_free(out);
	buf_free(data);
	revoked_free(rv);
	return r != 0 ? fail(&o, r) : PM_EXIT_OK;
}

static int manifest_main(int argc, char **argv)
{
	char fields[PM_FIELDS_MAX] = "", num[32];
	struct pm_opts o;
	uint64_t serial = 0;
	int r, x;

	if ((x = parse_opts(argc, argv, O_BUNDLE | O_NOTE, 0, 0, &o)) >= 0)
		return x;
	/* The log line comes first so that the manifest covers it. */
	if ((r = need_bundle(&o)) != 0 || (r = log_ready(&o)) != 0 || (r = bundle_next_serial(o.bundle, &serial)) != 0)
		goto out;
	snprintf(num, sizeof(num), "%" PRIu64, serial);
	field_add(fields, "serial", num);
	if ((r = logged_manifest(&o, "manifest", fields, serial)) != 0)
		goto out;
	fprintf(stderr, "%s/%s written; review it, then run '%s sign'\n", o.bundle, BUNDLE_MANIFEST,
	        PROG);
	printf("serial %" PRIu64 "\n", serial);
out:
	return r != 0 ? fail(&o, r) : PM_EXIT_OK;
}

static int record_step(const struct pm_opts *o, const char *step, const char *fields);

static int sign_main(int argc, char **argv)
{
	char fields[PM_FIELDS_MAX] = "", num[32], hex[2 * SHA256_LEN + 1];
	char fpr[PKEY_FPR_TEXT_LEN + 1], master[BUNDLE_PATH_MAX + 1];
	struct bundle_manifest *m = NULL;
	struct bundle_signed res;
	struct token_signer s;
	struct pm_opts o;
	EVP_PKEY *pub = NULL;
	size_t nsig = 0;
	int r, x;

	memset(&s, 0, sizeof(s));
	if ((x = parse_opts(argc, argv, O_BUNDLE | O_NOTE | O_TOKEN | O_RECORD, 0, 0, &o)) >= 0 ||
	    (x = check_token_opts(&o, 0)) >= 0)
		return x;
	if (o.label == NULL)
		o.label = PM_DEFAULT_MASTER_LABEL;
	if ((r = need_bundle(&o)) != 0 || (r = bundle_manifest_read(o.bundle, &m)) != 0)
		goto out;
	if (m == NULL) {
		r = err_set(ERR_NOT_FOUND, "%.200s/%s: no manifest yet; run '%s manifest' first",
		            o.bundle, BUNDLE_MANIFEST, PROG);
		goto out;
	}
	/*
	 * Open the key (and log in) and make sure it is one of the bundle's
	 * masters before anything in the bundle changes.
	 */
	if ((r = signer_open(&o, &s)) != 0 || (r = hsm_key_public(s.k, &pub)) != 0 ||
	    (r = pkey_fingerprint(pub, fpr)) != 0 ||
	    (r = bundle_master_find(o.bundle, pub, master)) != 0 ||
	    (r = bundle_signature_count(o.bundle, &nsig)) != 0)
		goto out;
	snprintf(num, sizeof(num), "%" PRIu64, bundle_manifest_serial(m));
	field_add(fields, "serial", num);
	field_add(fields, "fpr", fpr);
	field_add(fields, "key", o.label);
	field_add(fields, "master", master);
	if (nsig > 0) {
		/*
		 * Another master signed these very bytes: neither the manifest
		 * nor the log it lists may change now, or that signature breaks.
		 */
		if ((r = bundle_manifest_unchanged(o.bundle)) != 0)
			goto out;
		fprintf(stderr,
		        "note: the manifest already carries %zu signature%s, so this step is not "
		        "added to %s (that would change the signed bytes)%s\n",
		        nsig, nsig == 1 ? "" : "s", CEREMONY_LOG,
		        o.record != NULL ? "; it goes to the --record log"
		                         : "; keep it in your own log with --record LOG");
	} else if (bundle_manifest_find(m, CEREMONY_LOG) != NULL) {
		/*
		 * The log is a listed file: append this step's line, then
		 * refresh only the log's entry. The refresh refuses if
		 * anything else changed since `manifest` (checked before the
		 * line is written, too, so a stale manifest leaves no trace).
		 */
		if ((r = bundle_manifest_refresh(o.bundle, CEREMONY_LOG)) != 0 ||
		    (r = log_step(&o, "sign", fields)) != 0 ||
		    (r = bundle_manifest_refresh(o.bundle, CEREMONY_LOG)) != 0)
			goto out;
	} else {
		fprintf(stderr, "warning: the manifest lists no %s; this step is not logged\n",
		        CEREMONY_LOG);
	}
	if ((r = bundle_sign(o.bundle, sign_with_key, s.k, pub, &res)) != 0 ||
	    (r = record_step(&o, "sign", fields)) != 0)
		goto out;
	hex_encode(res.digest, sizeof(res.digest), hex);
	fprintf(stderr, "%s/%s signed by %s (%s): %s%s\n", o.bundle, BUNDLE_MANIFEST, res.fpr,
	        res.master, res.sigfile, res.legacy ? " and " BUNDLE_SIGNATURE : "");
	printf("serial %" PRIu64 " sha256:%s\n", res.serial, hex);
out:
	signer_close(&s);
	bundle_manifest_free(m);
	EVP_PKEY_free(pub);
	return r != 0 ? fail(&o, r) : PM_EXIT_OK;
}

/* Append a line to an external log given by --record (not the bundle's). */
static int record_step(const struct pm_opts *o, const char *step, const char *fields)
{
	char inside[PM_PATH_MAX], *a = NULL, *b = NULL;
	int r = 0;

	if (o->record == NULL)
		return 0;
	/* The bundle's own log is signed: a line there would break the bundle. */
	if (join(inside, o->bundle, CEREMONY_LOG) == 0 && (a = realpath(inside, NULL)) != NULL &&
	    (b = realpath(o->record, NULL)) != NULL && strcmp(a, b) == 0)
		r = err_set(ERR_INVALID_ARG, "--record must name a log outside the bundle (the "
		                             "bundle's log is covered by the signature)");
	free(a);
	free(b);
	if (r == 0)
		r = ceremony_append(o->record, step, fields, o->note, time(NULL), NULL);
	return r;
}

/* A signature file bundle_verify did not count: said on stderr, by name. */
static void verify_note(void *arg, const char *file, const char *why)
{
	const struct pm_opts *o = arg;
	char e1[256];

	fprintf(stderr, "%s %s: note: %s: %s\n", PROG, o->cmd, log_untrusted(e1, sizeof(e1), file, 120),
	        why);
}

static int verify_main(int argc, char **argv)
{
	char fields[PM_FIELDS_MAX] = "", num[32], detail[600];
	struct bundle_verify_opts vo = {0};
	struct revoked *rv = NULL;
	struct bundle *b = NULL;
	struct pm_opts o;
	size_t i;
	int r, r2, x;

	if ((x = parse_opts(argc, argv, O_BUNDLE | O_NOTE | O_VERIFY | O_RECORD, 0, 0, &o)) >= 0)
		return x;
	if (o.n_anchors == 0)
		return usage_error(o.cmd, "--trust-anchor sha256:HEX is required");
	if (o.update_state && o.state == NULL)
		return usage_error(o.cmd, "--update-state needs --state FILE");
	/* Files this step writes: refused before any work if they are not regular files. */
	if ((o.record != NULL && (r = file_check_target(o.record)) != 0) ||
	    (o.update_state && (r = file_check_target(o.state)) != 0))
		return fail(&o, r);
	if (o.threshold > o.n_anchors)
		return usage_error(o.cmd,
		                   "--threshold %u is more than the %zu --trust-anchor given: no "
		                   "bundle could ever pass",
		                   o.threshold, o.n_anchors);
	vo.anchors = o.trust_anchors;
	vo.n_anchors = o.n_anchors;
	vo.threshold = o.threshold;
	vo.min_serial = o.min_serial;
	vo.state_file = o.state;
	vo.update_state = o.update_state;
	vo.note = verify_note;
	vo.note_arg = &o;
	r = bundle_verify(o.bundle, &vo, &b);
	/* The revocation list is read exactly as the appliance reads it. */
	if (r == 0 && (r = revoked_from_bundle(b, &rv)) != 0) {
		bundle_free(b);
		b = NULL;
	}
	snprintf(detail, sizeof(detail), "%s", err_msg(r));
	if (r == 0) {
		snprintf(num, sizeof(num), "%" PRIu64, bundle_serial(b));
		field_add(fields, "result", "ok");
		field_add(fields, "serial", num);
		field_add(fields, "fpr", bundle_master_fingerprint(b));
		snprintf(num, sizeof(num), "%zu", bundle_signer_count(b));
		field_add(fields, "signatures", num);
	} else {
		field_add(fields, "result", "failed");
		field_add(fields, "reason", err_str(r));
	}
	if ((r2 = record_step(&o, "verify", fields)) != 0) {
		revoked_free(rv);
		bundle_free(b);
		return fail(&o, r2);
	}
	if (r != 0) {
		fprintf(stderr, "%s verify: verification FAILED: %s\n", PROG, detail);
		if (r == ERR_INVALID_ARG)
			fprintf(stderr, "(see '%s verify --help')\n", PROG);
		return exit_code(r);
	}
	printf("OK serial %" PRIu64 " files %zu master %s\n", bundle_serial(b),
	       bundle_manifest_count(bundle_get_manifest(b)), bundle_master_fingerprint(b));
	printf("signatures %zu of threshold %u:", bundle_signer_count(b),
	       o.threshold != 0 ? o.threshold : 1);
	for (i = 0; i < bundle_signer_count(b); i++)
		printf(" %s", bundle_signer(b, i));
	printf("\nrevoked %zu\n", revoked_count(rv));
	revoked_free(rv);
	bundle_free(b);
	return PM_EXIT_OK;
}

static int log_verify_main(int argc, char **argv)
{
	char path[PM_PATH_MAX], hex[2 * SHA256_LEN + 1], fields[PM_FIELDS_MAX] = "", num[32];
	uint8_t head[SHA256_LEN] = {0};
	struct pm_opts o;
	size_t lines = 0;
	int r, r2, x;

	if ((x = parse_opts(argc, argv, O_BUNDLE | O_NOTE | O_RECORD, 0, 1, &o)) >= 0)
		return x;
	if (o.record != NULL && (r = file_check_target(o.record)) != 0)
		return fail(&o, r);
	if (o.nargs == 1)
		snprintf(path, sizeof(path), "%s", o.args[0]);
	else if ((r = need_bundle(&o)) != 0 || (r = join(path, o.bundle, CEREMONY_LOG)) != 0)
		return fail(&o, r);
	r = ceremony_verify(path, &lines, head);
	hex_encode(head, sizeof(head), hex);
	snprintf(num, sizeof(num), "%zu", lines);
	field_add(fields, "result", r == 0 ? "ok" : "failed");
	field_add(fields, "lines", num);
	field_add(fields, "head", hex);
	if (r != 0) {
		fprintf(stderr, "%s log-verify: %s\n", PROG, err_msg(r));
		x = exit_code(r);
	} else {
		printf("OK lines %zu head sha256:%s\n", lines, hex);
		x = PM_EXIT_OK;
	}
	if ((r2 = record_step(&o, "log-verify", fields)) != 0)
		return fail(&o, r2);
	return x;
}

static int help_main(int argc, char **argv);

static const struct subcommand subcommands[] = {
    {"init", init_main,
     "Create the master signing key in a token; print the trust anchor.\n"
     "Generate the master signing key pair in a token (non-extractable, sign only), write\n"
     "master_signing_public.pem into the bundle directory (created if needed) and print\n"
     "its fingerprint, the trust anchor every appliance pins.",
     "--pkcs11-module PATH [--token URI|LABEL] [--pin-source SRC]\n"
     "       [--label LABEL (coffer-master)] [--bundle DIR (.)] [--note TEXT]"},
    {"server-key", server_key_main,
     "Create an appliance key in its token or TPM; export its public key.\n"
     "Generate an appliance key pair (ECDH) in the appliance's token, or in a TPM as a\n"
     "wrapped key blob, and export keys/NAME_public.pem. NAME: 1 to 64 of [A-Za-z0-9._-].",
     "NAME (--pkcs11-module PATH [--token URI|LABEL] [--pin-source SRC] [--label LABEL (NAME)]\n"
     "       | --tpm2 TCTI --key-blob FILE) [--force] [--bundle DIR] [--note TEXT]"},
    {"add-key", add_key_main,
     "Register a public key made elsewhere (appliance, client, companion).\n"
     "Register a P-256 public key made elsewhere as keys/NAME_public.pem (another\n"
     "appliance, or a client's key for the ss cache), or with --companion as\n"
     "companions/NAME_public.pem: only those keys may seal coffer.sealed. A key is\n"
     "never both. Refuses to replace an existing key without --force.",
     "NAME PEM [--companion] [--force] [--bundle DIR] [--note TEXT]"},
    {"add-master", add_master_main,
     "Create a further master signing key in its own token (k-of-n).\n"
     "Generate another master signing key pair in a token (non-extractable, sign only),\n"
     "write masters/NAME_public.pem into the bundle, log the step and print the key's\n"
     "fingerprint: a further trust anchor for the appliances. NAME: 1 to 64 of\n"
     "[A-Za-z0-9._-].",
     "NAME --pkcs11-module PATH [--token URI|LABEL] [--pin-source SRC]\n"
     "       [--label LABEL (coffer-master)] [--bundle DIR] [--note TEXT]"},
    {"manifest", manifest_main,
     "Write crypto_manifest.json for the bundle (serial + 1).\n"
     "Write crypto_manifest.json: every regular file of the bundle with its SHA-256,\n"
     "serial = previous serial + 1. Symbolic links and special files are refused.\n"
     "Every signature of the previous manifest is removed.",
     "[--bundle DIR] [--note TEXT]"},
    {"revoke", revoke_main,
     "Revoke a client identity (officer's brake); write a new manifest.\n"
     "Add IDENTITY (7F3A-09C1-... or sha256:<hex>) to revoked.json, log the step and\n"
     "write a new manifest (serial + 1) without signatures, ready for the masters to\n"
     "sign. Appliances then refuse that client even while the sealed definition lists\n"
     "it.",
     "IDENTITY [--reason TEXT] [--bundle DIR] [--note TEXT]"},
    {"sign", sign_main,
     "Sign the manifest with one master key in its token.\n"
     "Sign the exact bytes of crypto_manifest.json with a master key in the token\n"
     "(ECDSA P-256, SHA-256, DER) into signatures/sha256-<fingerprint>.sig; the key of\n"
     "master_signing_public.pem also writes crypto_manifest.json.sig. The key must be one\n"
     "of the bundle's masters. The first signer adds the step to ceremony.log and\n"
     "refreshes only its entry in the manifest; later signers change nothing but their\n"
     "signature file (--record keeps their line in a log outside the bundle). Anything\n"
     "else changed since 'manifest' is refused.",
     "--pkcs11-module PATH [--token URI|LABEL] [--pin-source SRC]\n"
     "       [--label LABEL|URI (coffer-master)] [--record LOG] [--bundle DIR] [--note TEXT]"},
    {"verify", verify_main,
     "Verify a bundle exactly as an appliance does at start.\n"
     "Check a bundle as an appliance does: trust anchors, K distinct master signatures\n"
     "(--threshold, default 1), manifest, serial, paths, types, unlisted files, hashes,\n"
     "revoked.json. Signature files that do not count are named. Exit 0 ok, 1 failed (the\n"
     "check and the file are named), 2 usage, 3 system error. The bundle is not changed;\n"
     "--record appends this step's line to a ceremony log outside the bundle.",
     "--trust-anchor sha256:HEX... [--threshold K] [--min-serial N]\n"
     "       [--state FILE [--update-state]] [--record LOG] [--bundle DIR] [--note TEXT]"},
    {"log-verify", log_verify_main,
     "Check the hash chain of the ceremony log.\n"
     "Check the hash chain of the ceremony log (the bundle's, or FILE) and print its line\n"
     "count and head (SHA-256 of the last line) to compare with the paper record.",
     "[FILE] [--record LOG] [--bundle DIR] [--note TEXT]"},
    {"help", help_main, "Show the subcommands, or the help of one.", "[SUBCOMMAND]"},
};
#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static const struct subcommand *find_subcommand(const char *name)
{
	size_t i;

	for (i = 0; i < N_SUBCOMMANDS; i++)
		if (strcmp(subcommands[i].name, name) == 0)
			return &subcommands[i];
	return NULL;
}

static void show_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s SUBCOMMAND [OPTIONS]   (%s SUBCOMMAND --help)\n\n", PROG, PROG);
	for (i = 0; i < N_SUBCOMMANDS; i++) {
		const char *nl = strchr(subcommands[i].help, '\n');
		int len =
		    nl != NULL ? (int)(nl - subcommands[i].help) : (int)strlen(subcommands[i].help);
		fprintf(f, "  %-11s %.*s\n", subcommands[i].name, len, subcommands[i].help);
	}
	fprintf(f, "\nexit codes: 0 ok, 1 verification failed or step refused, 2 usage, "
	           "3 token or system error\n");
}

static int help_main(int argc, char **argv)
{
	if (argc > 1) {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
			return print_help("help");
		if (find_subcommand(argv[1]) == NULL)
			return usage_error("help", "no subcommand '%s'", argv[1]);
		return print_help(argv[1]);
	}
	show_usage(stdout);
	return PM_EXIT_OK;
}

int main(int argc, char **argv)
{
	const struct subcommand *sc;

	log_init(PROG, LOG_LEVEL_WARN);
	/* PINs pass through this process: no core dumps, no ptrace by the same user. */
	if (secmem_harden_process() != 0)
		log_warn("could not disable core dumps: %s", err_detail());
	if (argc < 2) {
		show_usage(stderr);
		return PM_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		show_usage(stdout);
		return PM_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("%s %s\n", PROG, COFFER_VERSION);
		return PM_EXIT_OK;
	}
	if ((sc = find_subcommand(argv[1])) == NULL) {
		const char *names[N_SUBCOMMANDS];
		size_t i;
		for (i = 0; i < N_SUBCOMMANDS; i++)
			names[i] = subcommands[i].name;
		return cli_unknown_command(PROG, argv[1], names, N_SUBCOMMANDS);
	}
	return sc->fn(argc - 1, argv + 1);
}

// SPDX-License-Identifier: ISC
/*
 * coffer-seal: the companion's tool. Makes companion keys, seals a coffer
 * definition (TOML or YAML) to one or more appliances, checks a sealed file
 * the way an appliance opens it, and prints key identities.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#include "bounds.h"
#include "buf.h"
#include "cli.h"
#include "bundle.h"
#include "definition.h"
#include "encoding.h"
#include "envname.h"
#include "exitcode.h"
#include "file.h"
#include "hsm.h"
#include "log.h"
#include "pkey.h"
#include "sealed.h"
#include "secmem.h"

#define MAX_RECIPIENTS LIMIT_RECIPIENTS
#define MAX_COMPANIONS 256

/* Exit codes: the five tools' table (common/exitcode.h, coffer-seal(1)):
 * 1 the operation was refused (bad definition, not sealed to us, tampered,
 * an unsafe output), 2 usage, 3 token, key file or system error. */
#define EXIT_FAIL EXIT_REFUSED
#define EXIT_LOCAL EXIT_TOKEN

static int key_open(const struct hsm_key_spec *o, struct hsm **hp, struct hsm_key **kp)
{
	struct hsm_key_spec spec = *o;

	spec.need = HSM_NEED_ECDH;
	return hsm_key_open_spec(&spec, hp, kp);
}

static void key_close(struct hsm *h, struct hsm_key *k)
{
	hsm_key_free(k);
	hsm_close(h);
}

static int fail(int code, int r, const char *what)
{
	fprintf(stderr, "coffer-seal: %s: %s\n", what, err_msg(r));
	return code;
}

static int local_or_fail(int r)
{
	return r == ERR_HSM || r == ERR_TPM || r == ERR_SYSTEM || r == ERR_ALLOC ||
			       r == ERR_PERMISSION
		       ? EXIT_LOCAL
		       : EXIT_FAIL;
}

/* ---- keygen ---- */

static void keygen_usage(FILE *f)
{
	fprintf(f, "usage: coffer-seal keygen --out KEY.pem [--public-out PUB.pem]\n"
		   "       coffer-seal keygen --pkcs11-module M --token URI --pin-source SRC\n"
		   "                          --label L [--public-out PUB.pem]\n"
		   "Make a companion key pair: a PEM file (mode 0600, never overwritten) or a\n"
		   "non-extractable key in a PKCS#11 token. Prints the public key's identity.\n");
}

static int keygen_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"out", required_argument, NULL, 'o'},
		{"public-out", required_argument, NULL, 'p'},
		{"pkcs11-module", required_argument, NULL, 'm'},
		{"token", required_argument, NULL, 't'},
		{"pin-source", required_argument, NULL, 's'},
		{"label", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *out = NULL, *pubout = NULL, *module = NULL, *token = NULL, *pin = NULL,
		   *label = NULL;
	EVP_PKEY *k = NULL, *pub = NULL;
	struct hsm *h = NULL;
	struct hsm_key *hk = NULL;
	uint8_t id[IDENTITY_LEN];
	char idt[IDENTITY_TEXT_LEN + 1];
	int c, r, rc = EXIT_LOCAL;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'p': pubout = optarg; break;
		case 'm': module = optarg; break;
		case 't': token = optarg; break;
		case 's': pin = optarg; break;
		case 'l': label = optarg; break;
		case 'h': keygen_usage(stdout); return EXIT_OK;
		default:
			return cli_bad_option("coffer-seal keygen", argv, optind, optopt, ":o:h",
					      opts);
		}
	}
	if (optind != argc || (out == NULL) == (module == NULL) ||
	    (module != NULL && label == NULL)) {
		keygen_usage(stderr);
		return EXIT_USAGE;
	}
	/* Refuse an existing or unsafe target before a key is made. */
	if ((out != NULL && (r = file_check_target(out)) != 0) ||
	    (pubout != NULL && (r = file_check_target(pubout)) != 0))
		return fail(exit_code(r), r, "keygen");
	if (out != NULL) {
		if ((r = pkey_generate_p256(&k)) != 0 || (r = pkey_save_private(k, out)) != 0) {
			rc = fail(EXIT_LOCAL, r, "keygen");
			goto out;
		}
		if ((pub = k) != NULL)
			EVP_PKEY_up_ref(pub);
	} else {
		struct hsm_config cfg = {.backend = HSM_BACKEND_PKCS11,
					 .module = module,
					 .token = token,
					 .pin_source = pin,
					 .need = HSM_NEED_ECDH | HSM_NEED_KEYGEN};
		if ((r = hsm_open(&cfg, &h)) != 0 ||
		    (r = hsm_generate(h, label, HSM_USAGE_DERIVE, NULL, &hk)) != 0 ||
		    (r = hsm_key_public(hk, &pub)) != 0) {
			rc = fail(EXIT_LOCAL, r, "keygen in token");
			goto out;
		}
	}
	if (pubout != NULL && (r = pkey_save_public(pub, pubout)) != 0) {
		rc = fail(EXIT_LOCAL, r, "write public key");
		goto out;
	}
	if ((r = pkey_identity(pub, id)) != 0) {
		rc = fail(EXIT_LOCAL, r, "identity");
		goto out;
	}
	identity_format(id, idt);
	{
		/* Both notations on stderr; stdout keeps the one value for scripts. */
		char hex[2 * IDENTITY_LEN + 1];
		hex_encode(id, IDENTITY_LEN, hex);
		fprintf(stderr, "coffer-seal: identity %s, also written sha256:%s\n", idt, hex);
	}
	printf("%s\n", idt);
	rc = EXIT_OK;
out:
	EVP_PKEY_free(k);
	EVP_PKEY_free(pub);
	key_close(h, hk);
	return rc;
}

/* ---- lint ---- */

/*
 * What a definition may hold but probably should not: a secret name that
 * coffer-get cannot put into an environment (not [A-Za-z_][A-Za-z0-9_]*),
 * or one it refuses there (LD_*, PATH, BASH_ENV, ... unless the host gives
 * --env-prefix or --allow-env), and a client listed in [clients] without a
 * table (an empty shard). A table without a client is an error already.
 * Prints one warning per finding; returns their number.
 */
static size_t lint(const struct definition *def, const char *file)
{
	size_t i, j, n = 0;
	char name[300], key[300];

	for (i = 0; i < definition_client_count(def); i++) {
		const struct def_client *cl = definition_client_at(def, i);
		struct secret_list l = def_client_secrets(cl);
		log_untrusted(name, sizeof(name), def_client_name(cl), 64);
		if (l.n == 0) {
			fprintf(stderr, "coffer-seal: %s: warning: client '%s' has no table: its "
					"shard is empty\n",
				file, name);
			n++;
		}
		for (j = 0; j < l.n; j++) {
			const struct secret *s = &l.items[j];
			log_untrusted(key, sizeof(key), s->key, 64);
			if (!envname_ok(s->key, s->key_len)) {
				fprintf(stderr,
					"coffer-seal: %s: warning: secret '%s' of client '%s' is "
					"not a valid environment name: coffer-get's env, dotenv and "
					"exec mode refuse it unless an --env-prefix makes it one\n",
					file, key, name);
				n++;
			} else if (envname_refused(s->key, s->key_len)) {
				fprintf(stderr,
					"coffer-seal: %s: warning: secret '%s' of client '%s' changes "
					"how programs load or run: coffer-get's env, dotenv and exec "
					"mode refuse it without --env-prefix or --allow-env %s\n",
					file, key, name, key);
				n++;
			}
		}
	}
	return n;
}

/* ---- seal ---- */

static void seal_usage(FILE *f)
{
	fprintf(f,
		"usage: coffer-seal seal --companion KEY --recipient PUB.pem [--recipient ...]\n"
		"                        [--pkcs11-module M --pin-source SRC] DEFINITION -o OUT\n"
		"Validate DEFINITION (TOML, or YAML for .yaml/.yml) and seal it to every\n"
		"recipient appliance. KEY is a PEM file or a pkcs11: URI. OUT is replaced\n"
		"atomically; on any failure the old OUT stays as it was.\n");
}

static int seal_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"companion", required_argument, NULL, 'c'},
		{"recipient", required_argument, NULL, 'r'},
		{"output", required_argument, NULL, 'o'},
		{"pkcs11-module", required_argument, NULL, 'm'},
		{"pin-source", required_argument, NULL, 's'},
		{"format", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct hsm_key_spec ko = {0};
	const char *rpaths[MAX_RECIPIENTS], *out = NULL, *deffile, *fmtname = NULL;
	EVP_PKEY *recips[MAX_RECIPIENTS];
	size_t nr = 0, i;
	struct buf *text = NULL, *sealed = NULL;
	struct definition *def = NULL;
	enum definition_format fmt;
	struct hsm *h = NULL;
	struct hsm_key *hk = NULL;
	int c, r, rc = EXIT_LOCAL;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': ko.key = optarg; break;
		case 'r':
			if (nr == MAX_RECIPIENTS) {
				fprintf(stderr, "coffer-seal: more than %d recipients\n",
					MAX_RECIPIENTS);
				return EXIT_USAGE;
			}
			rpaths[nr++] = optarg;
			break;
		case 'o': out = optarg; break;
		case 'm': ko.module = optarg; break;
		case 's': ko.pin_source = optarg; break;
		case 'f': fmtname = optarg; break;
		case 'h': seal_usage(stdout); return EXIT_OK;
		default:
			return cli_bad_option("coffer-seal seal", argv, optind, optopt, ":o:h", opts);
		}
	}
	if (optind + 1 != argc || ko.key == NULL || nr == 0 || out == NULL) {
		seal_usage(stderr);
		return EXIT_USAGE;
	}
	deffile = argv[optind];
	/* The output is checked before anything is read, opened or sealed. */
	if ((r = file_check_target(out)) != 0)
		return fail(exit_code(r), r, "-o");
	if (fmtname == NULL)
		fmt = definition_format_of(deffile);
	else if (strcmp(fmtname, "toml") == 0)
		fmt = DEF_TOML;
	else if (strcmp(fmtname, "yaml") == 0)
		fmt = DEF_YAML;
	else {
		fprintf(stderr, "coffer-seal: --format is toml or yaml\n");
		return EXIT_USAGE;
	}
	memset(recips, 0, sizeof(recips));
	for (i = 0; i < nr; i++) {
		if ((r = pkey_load_public(rpaths[i], &recips[i])) != 0) {
			rc = fail(EXIT_FAIL, r, "recipient");
			goto out;
		}
		if (!pkey_is_p256(recips[i])) {
			fprintf(stderr, "coffer-seal: recipient %s is not a P-256 key\n", rpaths[i]);
			rc = EXIT_FAIL;
			goto out;
		}
	}
	/* Validate first: never seal a definition the appliance would refuse. */
	if ((r = file_read_all(deffile, LIMIT_DEFINITION, &text)) != 0) {
		rc = fail(EXIT_FAIL, r, "read definition");
		goto out;
	}
	if ((r = definition_parse(buf_ptr(text), buf_len(text), deffile, fmt, &def)) != 0) {
		rc = fail(EXIT_FAIL, r, "definition refused");
		goto out;
	}
	(void)lint(def, deffile);
	if ((r = key_open(&ko, &h, &hk)) != 0) {
		rc = fail(EXIT_LOCAL, r, "companion key");
		goto out;
	}
	if ((sealed = buf_new(0)) == NULL) {
		r = ERR_ALLOC;
		rc = fail(EXIT_LOCAL, r, "seal");
		goto out;
	}
	if ((r = sealed_seal(hk, recips, nr,
			     fmt == DEF_YAML ? SEALED_FORMAT_YAML : SEALED_FORMAT_TOML,
			     buf_ptr(text), buf_len(text), sealed)) != 0) {
		rc = fail(local_or_fail(r), r, "seal");
		goto out;
	}
	if ((r = file_write_atomic(out, buf_ptr(sealed), buf_len(sealed), 0644)) != 0) {
		rc = fail(EXIT_LOCAL, r, "write sealed file");
		goto out;
	}
	fprintf(stderr, "coffer-seal: sealed %zu clients, %zu secrets to %zu appliance%s: %s\n",
		definition_client_count(def), definition_secret_count(def), nr, nr == 1 ? "" : "s",
		out);
	rc = EXIT_OK;
out:
	for (i = 0; i < nr; i++)
		EVP_PKEY_free(recips[i]);
	definition_free(def);
	buf_free(text);
	buf_free(sealed);
	key_close(h, hk);
	return rc;
}

/* ---- check ---- */

static void check_usage(FILE *f)
{
	fprintf(f,
		"usage: coffer-seal check --key KEY [--pkcs11-module M --pin-source SRC | --tpm2 TCTI]\n"
		"                         (--bundle DIR | --companion-public PUB.pem ...) [--strict]\n"
		"                         SEALED\n"
		"Open SEALED as the appliance holding KEY would (KEY: pkcs11: URI, TPM key\n"
		"blob with --tpm2, or PEM), accepting only companion keys from the bundle's\n"
		"companions/*_public.pem (or those given), and print each client's name,\n"
		"identity and number of secrets. Values are never printed. Warns about secret\n"
		"names that are not valid environment names or that coffer-get refuses (LD_*,\n"
		"PATH, ...), and clients without a table; --strict makes warnings errors.\n");
}

/* The companions/NAME_public.pem files of a bundle directory: the only keys
 * that may seal (an appliance's or a client's key in keys/ never does). */
static int load_bundle_keys(const char *bundle, EVP_PKEY **keys, size_t *n, size_t max)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int r = 0;

	snprintf(dir, sizeof(dir), "%s/%s", bundle, BUNDLE_COMPANIONS_DIR);
	if ((d = opendir(dir)) == NULL)
		return err_sys("open %s", dir);
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 11 || strcmp(e->d_name + l - 11, "_public.pem") != 0)
			continue;
		if (*n == max) {
			r = err_set(ERR_TOO_LARGE, "more than %zu keys in %s", max, dir);
			break;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((r = pkey_load_public(path, &keys[*n])) != 0)
			break;
		(*n)++;
	}
	closedir(d);
	return r;
}

static int check_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"key", required_argument, NULL, 'k'},
		{"pkcs11-module", required_argument, NULL, 'm'},
		{"pin-source", required_argument, NULL, 's'},
		{"tpm2", required_argument, NULL, 't'},
		{"bundle", required_argument, NULL, 'b'},
		{"companion-public", required_argument, NULL, 'c'},
		{"strict", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct hsm_key_spec ko = {0};
	const char *bundle = NULL;
	int strict = 0;
	size_t warnings;
	EVP_PKEY *comps[MAX_COMPANIONS];
	size_t nc = 0, i, len = 0, ci = 0;
	struct buf *file = NULL;
	struct hsm *h = NULL;
	struct hsm_key *hk = NULL;
	struct definition *def = NULL;
	enum sealed_format fmt;
	uint8_t *text = NULL;
	int c, r, rc = EXIT_LOCAL;

	memset(comps, 0, sizeof(comps));
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': ko.key = optarg; break;
		case 'm': ko.module = optarg; break;
		case 's': ko.pin_source = optarg; break;
		case 't': ko.tcti = optarg; break;
		case 'b': bundle = optarg; break;
		case 'c':
			if (nc == MAX_COMPANIONS)
				return EXIT_USAGE;
			if ((r = pkey_load_public(optarg, &comps[nc])) != 0) {
				rc = fail(EXIT_FAIL, r, "companion key");
				goto out;
			}
			nc++;
			break;
		case 'S': strict = 1; break;
		case 'h': check_usage(stdout); rc = EXIT_OK; goto out;
		default:
			rc = cli_bad_option("coffer-seal check", argv, optind, optopt, ":h", opts);
			goto out;
		}
	}
	if (optind + 1 != argc || ko.key == NULL || (bundle == NULL && nc == 0)) {
		check_usage(stderr);
		rc = EXIT_USAGE;
		goto out;
	}
	if (bundle != NULL && (r = load_bundle_keys(bundle, comps, &nc, MAX_COMPANIONS)) != 0) {
		rc = fail(EXIT_FAIL, r, "bundle keys");
		goto out;
	}
	if ((r = file_read_all(argv[optind], LIMIT_SEALED, &file)) != 0) {
		rc = fail(EXIT_FAIL, r, "read sealed file");
		goto out;
	}
	if ((r = key_open(&ko, &h, &hk)) != 0) {
		rc = fail(EXIT_LOCAL, r, "appliance key");
		goto out;
	}
	if ((r = sealed_open(buf_ptr(file), buf_len(file), hk, comps, nc, &text, &len, &fmt,
			     &ci)) != 0) {
		rc = fail(local_or_fail(r), r, argv[optind]);
		goto out;
	}
	if ((r = definition_parse(text, len, argv[optind],
				  fmt == SEALED_FORMAT_YAML ? DEF_YAML : DEF_TOML, &def)) != 0) {
		rc = fail(EXIT_FAIL, r, "sealed definition");
		goto out;
	}
	{
		char fpr[PKEY_FPR_TEXT_LEN + 1];
		if ((r = pkey_fingerprint(comps[ci], fpr)) != 0) {
			rc = fail(EXIT_LOCAL, r, "fingerprint");
			goto out;
		}
		printf("sealed by companion %s (%s), %zu clients, %zu secrets\n", fpr,
		       fmt == SEALED_FORMAT_YAML ? "yaml" : "toml", definition_client_count(def),
		       definition_secret_count(def));
	}
	for (i = 0; i < definition_client_count(def); i++) {
		const struct def_client *cl = definition_client_at(def, i);
		char idt[IDENTITY_TEXT_LEN + 1];
		identity_format(def_client_id(cl), idt);
		printf("%s %s %zu\n", def_client_name(cl), idt, def_client_secrets(cl).n);
	}
	warnings = lint(def, argv[optind]);
	if (strict && warnings > 0) {
		fprintf(stderr, "coffer-seal: check --strict: %zu warning%s\n", warnings,
			warnings == 1 ? "" : "s");
		rc = EXIT_FAIL;
		goto out;
	}
	rc = EXIT_OK;
out:
	for (i = 0; i < nc; i++)
		EVP_PKEY_free(comps[i]);
	definition_free(def);
	secmem_free(text);
	buf_free(file);
	key_close(h, hk);
	return rc;
}

/* ---- id ---- */

static int id_main(int argc, char **argv)
{
	EVP_PKEY *k = NULL;
	uint8_t id[IDENTITY_LEN];
	char idt[IDENTITY_TEXT_LEN + 1];
	int r, i, rc = EXIT_OK;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: coffer-seal id KEY.pem...\n"
			"Print the identity (SHA-256 of the public key, 7F3A-09C1-... form) of\n"
			"each public or private key PEM file.\n");
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (i = 1; i < argc; i++) {
		if ((r = pkey_load_public(argv[i], &k)) != 0 &&
		    (r = pkey_load_private(argv[i], &k)) != 0) {
			rc = fail(EXIT_FAIL, r, argv[i]);
			continue;
		}
		if ((r = pkey_identity(k, id)) != 0) {
			rc = fail(EXIT_FAIL, r, argv[i]);
		} else {
			identity_format(id, idt);
			printf("%s%s%s\n", argc > 2 ? argv[i] : "", argc > 2 ? " " : "", idt);
		}
		EVP_PKEY_free(k);
		k = NULL;
	}
	return rc;
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} commands[] = {
	{"keygen", keygen_main, "make a companion key pair (PEM file or token)"},
	{"seal", seal_main, "validate a definition and seal it to appliances"},
	{"check", check_main, "open a sealed file as an appliance would; print names and counts"},
	{"id", id_main, "print the identity of a key"},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: coffer-seal COMMAND [OPTIONS]\n\nCommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n`coffer-seal COMMAND --help` describes each. Exit codes: 0 ok, 1 failed,\n"
		   "2 usage, 3 token, key file or system error.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	log_init("coffer-seal", LOG_LEVEL_WARN);
	if (secmem_harden_process() != 0)
		log_warn("cannot disable core dumps: %s", err_msg(ERR_SYSTEM));
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("coffer-seal %s\n", COFFER_VERSION);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	{
		const char *names[sizeof(commands) / sizeof(commands[0])];
		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			names[i] = commands[i].name;
		return cli_unknown_command("coffer-seal", argv[1], names, i);
	}
}

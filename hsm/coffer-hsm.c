// SPDX-License-Identifier: ISC
/*
 * coffer-hsm: key generation and inspection in PKCS#11 tokens and the TPM,
 * trust anchors, PIN sealing, and the appliance's TPM rollback counter.
 * Exit status (common/exitcode.h, shared by the five tools): 0 success,
 * 1 refused (bad input file, existing or unsafe output), 2 usage, 3 token or
 * system error (a wrong PIN included).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "config.h"
#include "exitcode.h"
#include "file.h"
#include "hsm.h"
#include "log.h"
#include "secmem.h"

enum opt_bit {
	O_MODULE = 1U << 0,
	O_TOKEN = 1U << 1,
	O_PIN = 1U << 2,
	O_LABEL = 1U << 3,
	O_USAGE = 1U << 4,
	O_TPM2 = 1U << 5,
	O_BLOB = 1U << 6,
	O_OUT = 1U << 7,
	O_PCRS = 1U << 8,
	O_PLAIN = 1U << 9,
	O_KEY = 1U << 10,
	O_IN = 1U << 11,
	O_DEFINE = 1U << 12,
};
#define O_BACKEND (O_MODULE | O_TOKEN | O_PIN | O_TPM2 | O_PLAIN)

struct opts {
	const char *module, *token, *pin_source, *label, *tcti, *blob, *out, *pcrs, *key, *in;
	unsigned usage;
	int plain, define;
	unsigned seen;
	int nargs;
	char **args;
};

struct subcommand {
	const char *name;
	int (*fn)(struct opts *o);
	unsigned allowed;
	int min_args, max_args;
	const char *usage;
	const char *help;
};

static const char *prog = "coffer-hsm";

static int parse_usage(const char *s, unsigned *out)
{
	char buf[64], *tok, *save = NULL;

	*out = 0;
	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "derive") == 0)
			*out |= HSM_USAGE_DERIVE;
		else if (strcmp(tok, "sign") == 0)
			*out |= HSM_USAGE_SIGN;
		else
			return -1;
	}
	return *out == 0 ? -1 : 0;
}

/* A failure of a token step: exit 3 whatever the code (a wrong PIN is ERR_AUTH). */
static int fail(int r, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, err_msg(r));
	return exit_code_token(r);
}

/* A failure of the input or output files: exit by the code (1 refused, 3 system). */
static int fail_file(int r, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, err_msg(r));
	return exit_code(r);
}

/* Refuse an output path before any work (a key made in the token, a PIN sealed). */
static int check_outputs(const struct opts *o)
{
	int r;

	if (o->out != NULL && (r = file_check_target(o->out)) != 0)
		return fail_file(r, "--out");
	if (o->blob != NULL && (r = file_check_target(o->blob)) != 0)
		return fail_file(r, "--key-blob");
	return 0;
}

/* Open the backend the options name: --tpm2, --pkcs11-module, or software. */
static int open_backend(struct opts *o, unsigned need, struct hsm **h)
{
	struct hsm_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.need = need;
	if (o->tcti != NULL) {
		cfg.backend = HSM_BACKEND_TPM2;
		cfg.tcti = o->tcti;
		cfg.tpm_plain_session = o->plain;
	} else if (o->module != NULL) {
		cfg.backend = HSM_BACKEND_PKCS11;
		cfg.module = o->module;
		cfg.token = o->token;
		cfg.pin_source = o->pin_source;
	} else
		cfg.backend = HSM_BACKEND_SOFT;
	return hsm_open(&cfg, h);
}

static int write_or_print_pem(EVP_PKEY *pub, const char *out)
{
	struct buf *b = NULL;
	int r;

	if (out != NULL) {
		if ((r = pkey_save_public(pub, out)) != 0)
			return r;
		printf("%s\n", out);
		return 0;
	}
	if ((b = buf_new(0)) == NULL)
		return ERR_ALLOC;
	if ((r = pkey_public_pem(pub, b)) == 0 &&
	    fwrite(buf_ptr(b), 1, buf_len(b), stdout) != buf_len(b))
		r = err_sys("write to stdout");
	buf_free(b);
	return r;
}

static int cmd_keygen(struct opts *o)
{
	struct hsm *h = NULL;
	struct hsm_key *k = NULL;
	EVP_PKEY *pub = NULL;
	unsigned usage = o->usage ? o->usage : HSM_USAGE_DERIVE | HSM_USAGE_SIGN;
	unsigned need = HSM_NEED_KEYGEN;
	char fpr[PKEY_FPR_TEXT_LEN + 1];
	int r, rc = 1;

	if (o->tcti == NULL && o->module == NULL) {
		fprintf(stderr, "%s keygen: --pkcs11-module or --tpm2 is required\n", prog);
		return EXIT_USAGE;
	}
	if (o->module != NULL && o->label == NULL) {
		fprintf(stderr, "%s keygen: --label is required for a PKCS#11 token\n", prog);
		return EXIT_USAGE;
	}
	if (o->tcti != NULL && o->blob == NULL) {
		fprintf(stderr, "%s keygen: --key-blob is required with --tpm2\n", prog);
		return EXIT_USAGE;
	}
	if ((rc = check_outputs(o)) != 0)
		return rc;
	rc = 1;
	if (usage & HSM_USAGE_DERIVE)
		need |= HSM_NEED_ECDH;
	if (usage & HSM_USAGE_SIGN)
		need |= HSM_NEED_SIGN;
	if ((r = open_backend(o, need, &h)) != 0) {
		rc = fail(r, "open token");
		goto out;
	}
	if ((r = hsm_generate(h, o->label, usage, o->blob, &k)) != 0) {
		rc = fail(r, "keygen");
		goto out;
	}
	if ((r = hsm_key_public(k, &pub)) != 0 || (r = pkey_fingerprint(pub, fpr)) != 0) {
		rc = fail(r, "keygen: public key");
		goto out;
	}
	fprintf(stderr, "%s: generated %s in %s (%s)\n", prog, hsm_key_name(k), hsm_describe(h),
		fpr);
	if ((r = write_or_print_pem(pub, o->out)) != 0) {
		rc = fail_file(r, "keygen: write public key");
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(pub);
	hsm_key_free(k);
	hsm_close(h);
	return rc;
}

static int cmd_pubkey(struct opts *o)
{
	struct hsm *h = NULL;
	struct hsm_key *k = NULL;
	EVP_PKEY *pub = NULL;
	int i, r, rc = 1;

	if (o->out != NULL && o->nargs != 1) {
		fprintf(stderr, "%s pubkey: --out takes exactly one KEY\n", prog);
		return EXIT_USAGE;
	}
	if ((rc = check_outputs(o)) != 0)
		return rc;
	rc = 1;
	if ((r = open_backend(o, 0, &h)) != 0) {
		rc = fail(r, "open token");
		goto out;
	}
	for (i = 0; i < o->nargs; i++) {
		r = hsm_key_open(h, o->args[i], &k);
		/* Without a PIN only public objects are visible: a bare label may
		 * still name the key's public half. */
		if (r == ERR_NOT_FOUND && o->module != NULL && o->pin_source == NULL &&
		    strncmp(o->args[i], "pkcs11:", 7) != 0 &&
		    hsm_find_public(h, o->args[i], &pub) == 0)
			r = 0;
		else if (r == 0)
			r = hsm_key_public(k, &pub);
		if (r != 0) {
			rc = fail(r, "pubkey");
			goto out;
		}
		if ((r = write_or_print_pem(pub, o->out)) != 0) {
			rc = fail_file(r, "pubkey");
			goto out;
		}
		EVP_PKEY_free(pub);
		pub = NULL;
		hsm_key_free(k);
		k = NULL;
	}
	rc = 0;
out:
	EVP_PKEY_free(pub);
	hsm_key_free(k);
	hsm_close(h);
	return rc;
}

static int print_info(const struct hsm_key_info *ki, void *arg)
{
	(void)arg;
	printf("%-7s  P-%-3d  id=%-40s  label=%s\n", ki->is_private ? "private" : "public",
	       ki->key_bits, ki->id_hex[0] ? ki->id_hex : "-", ki->label);
	return 0;
}

static int cmd_list(struct opts *o)
{
	struct hsm *h = NULL;
	int r, rc = 1;

	if (o->module == NULL) {
		fprintf(stderr, "%s list: --pkcs11-module is required\n", prog);
		return EXIT_USAGE;
	}
	if ((r = open_backend(o, 0, &h)) != 0) {
		rc = fail(r, "open token");
		goto out;
	}
	printf("# %s\n", hsm_describe(h));
	if ((r = hsm_list(h, print_info, NULL)) != 0) {
		rc = fail(r, "list");
		goto out;
	}
	rc = 0;
out:
	hsm_close(h);
	return rc;
}

static int cmd_seal_pin(struct opts *o)
{
	char *pin = NULL;
	int r, rc = 1;

	if (o->tcti == NULL || o->pin_source == NULL || o->out == NULL) {
		fprintf(stderr, "%s seal-pin: --tpm2, --pin-source and --out are required\n", prog);
		return EXIT_USAGE;
	}
	if (strncmp(o->pin_source, "tpm2-sealed:", 12) == 0) {
		fprintf(stderr, "%s seal-pin: the PIN source cannot be a sealed PIN itself\n", prog);
		return EXIT_USAGE;
	}
	if ((rc = check_outputs(o)) != 0)
		return rc;
	rc = 1;
	if ((r = hsm_pin_read(o->pin_source, o->tcti, &pin)) != 0) {
		rc = fail(r, "seal-pin: read PIN");
		goto out;
	}
	if ((r = hsm_tpm_seal(o->tcti, (const uint8_t *)pin, strlen(pin), o->pcrs, o->out)) != 0) {
		rc = fail(r, "seal-pin");
		goto out;
	}
	fprintf(stderr, "%s: PIN sealed to %s%s%s; use --pin-source tpm2-sealed:%s\n", prog,
		o->tcti, o->pcrs ? " under PCR policy " : "", o->pcrs ? o->pcrs : "", o->out);
	rc = 0;
out:
	secmem_free(pin);
	return rc;
}

static int cmd_import_anchor(struct opts *o)
{
	struct hsm *h = NULL;
	EVP_PKEY *pub = NULL;
	char fpr[PKEY_FPR_TEXT_LEN + 1];
	int r, rc = 1;

	if (o->module == NULL || o->label == NULL) {
		fprintf(stderr, "%s import-anchor: --pkcs11-module and --label are required\n",
			prog);
		return EXIT_USAGE;
	}
	if ((r = pkey_load_public(o->args[0], &pub)) != 0) {
		rc = fail_file(r == ERR_CRYPTO ? ERR_FORMAT : r, "import-anchor");
		goto out;
	}
	if ((r = open_backend(o, 0, &h)) != 0) {
		rc = fail(r, "open token");
		goto out;
	}
	if ((r = hsm_import_public(h, o->label, pub)) != 0 ||
	    (r = pkey_fingerprint(pub, fpr)) != 0) {
		rc = fail(r, "import-anchor");
		goto out;
	}
	printf("%s %s\n", o->label, fpr);
	rc = 0;
out:
	EVP_PKEY_free(pub);
	hsm_close(h);
	return rc;
}

static int cmd_sign(struct opts *o)
{
	struct hsm *h = NULL;
	struct hsm_key *k = NULL;
	struct buf *data = NULL, *sig = NULL;
	int r, rc = 1;

	if (o->key == NULL || o->in == NULL || o->out == NULL) {
		fprintf(stderr, "%s sign: --key, --in and --out are required\n", prog);
		return EXIT_USAGE;
	}
	if ((rc = check_outputs(o)) != 0)
		return rc;
	rc = 1;
	if ((r = file_read_all(o->in, BUF_MAX_DEFAULT - 1, &data)) != 0) {
		rc = fail_file(r, "sign: read input");
		goto out;
	}
	if ((sig = buf_new(0)) == NULL) {
		rc = fail(ERR_ALLOC, "sign");
		goto out;
	}
	if ((r = open_backend(o, HSM_NEED_SIGN, &h)) != 0) {
		rc = fail(r, "open token");
		goto out;
	}
	if ((r = hsm_key_open(h, o->key, &k)) != 0 ||
	    (r = hsm_key_sign_data(k, buf_ptr(data), buf_len(data), sig)) != 0 ||
	    (r = file_write_atomic(o->out, buf_ptr(sig), buf_len(sig), 0644)) != 0) {
		rc = fail(r, "sign");
		goto out;
	}
	rc = 0;
out:
	buf_free(data);
	buf_free(sig);
	hsm_key_free(k);
	hsm_close(h);
	return rc;
}

static int cmd_rollback_counter(struct opts *o)
{
	uint64_t value = 0;
	int r, written = 1;

	if (o->tcti == NULL) {
		fprintf(stderr, "%s rollback-counter: --tpm2 is required\n", prog);
		return EXIT_USAGE;
	}
	if (o->define)
		r = hsm_counter_define(o->tcti, HSM_ROLLBACK_NV_INDEX, &value);
	else
		r = hsm_counter_read(o->tcti, HSM_ROLLBACK_NV_INDEX, &value, &written);
	if (r != 0)
		return fail(r, "rollback-counter");
	if (!written) {
		printf("nv-index 0x%08x never written\n", HSM_ROLLBACK_NV_INDEX);
		return 0;
	}
	printf("nv-index 0x%08x value %llu\n", HSM_ROLLBACK_NV_INDEX, (unsigned long long)value);
	if (o->define && value > 1)
		fprintf(stderr,
			"%s: this TPM held counters before: the rollback counter starts at %llu, so "
			"appliances using it refuse bundles with a serial below %llu\n",
			prog, (unsigned long long)value, (unsigned long long)value);
	return 0;
}

static const struct subcommand subcommands[] = {
	{ "keygen", cmd_keygen, O_BACKEND | O_LABEL | O_USAGE | O_BLOB | O_OUT, 0, 0,
	  "keygen (--pkcs11-module M [--token URI] --pin-source S --label L | --tpm2 TCTI "
	  "--key-blob FILE) [--usage derive,sign] [--out PEM]",
	  "generate a P-256 key pair in the token or TPM; print or write its public key" },
	{ "pubkey", cmd_pubkey, O_BACKEND | O_OUT, 1, 1000,
	  "pubkey [--pkcs11-module M --token URI [--pin-source S] | --tpm2 TCTI] [--out PEM] KEY...",
	  "public key PEM of keys (PKCS#11 URIs or labels, TPM blobs, or private PEM files)" },
	{ "list", cmd_list, O_MODULE | O_TOKEN | O_PIN, 0, 0,
	  "list --pkcs11-module M [--token URI] [--pin-source S]",
	  "list the key objects of a token" },
	{ "seal-pin", cmd_seal_pin, O_TPM2 | O_PCRS | O_PIN | O_OUT, 0, 0,
	  "seal-pin --tpm2 TCTI [--pcrs sha256:16] --pin-source S --out BLOB",
	  "seal a token PIN to the TPM (optionally under a PCR policy)" },
	{ "import-anchor", cmd_import_anchor, O_MODULE | O_TOKEN | O_PIN | O_LABEL, 1, 1,
	  "import-anchor --pkcs11-module M [--token URI] --pin-source S --label L PEM",
	  "store a public key (trust anchor) in the token" },
	{ "sign", cmd_sign, O_BACKEND | O_KEY | O_IN | O_OUT, 0, 0,
	  "sign (--pkcs11-module M --token URI --pin-source S | --tpm2 TCTI) --key KEY --in FILE "
	  "--out SIG",
	  "SHA-256 + ECDSA over FILE in the token; DER signature (openssl dgst -verify)" },
	{ "rollback-counter", cmd_rollback_counter, O_TPM2 | O_DEFINE, 0, 0,
	  "rollback-counter --tpm2 TCTI [--define]",
	  "show (or define, once) the TPM NV counter of appliance-server --rollback-counter" },
};
#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void show_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s COMMAND [OPTIONS]\n\n", prog);
	for (i = 0; i < N_SUBCOMMANDS; i++)
		fprintf(f, "  %-16s %s\n", subcommands[i].name, subcommands[i].help);
	fprintf(f, "\nPIN sources (never on the command line): file:PATH, env:NAME, prompt, "
		   "tpm2-sealed:PATH\n");
	fprintf(f, "Keys: pkcs11:token=T;object=L URIs (RFC 7512) or bare labels; TPM key blobs.\n");
	fprintf(f, "Run '%s COMMAND --help' for a command's options; '%s --version' for the version.\n", prog, prog);
	fprintf(f, "Exit: 0 ok, 1 refused (input file, existing or unsafe output), 2 usage,\n"
		   "3 token or system error (a wrong PIN included).\n");
}

static const struct option long_opts[] = {
	{ "pkcs11-module", required_argument, NULL, 'm' },
	{ "token", required_argument, NULL, 't' },
	{ "pin-source", required_argument, NULL, 'p' },
	{ "label", required_argument, NULL, 'l' },
	{ "usage", required_argument, NULL, 'u' },
	{ "tpm2", required_argument, NULL, 'T' },
	{ "key-blob", required_argument, NULL, 'b' },
	{ "out", required_argument, NULL, 'o' },
	{ "pcrs", required_argument, NULL, 'P' },
	{ "plain-session", no_argument, NULL, 'x' },
	{ "key", required_argument, NULL, 'k' },
	{ "in", required_argument, NULL, 'i' },
	{ "define", no_argument, NULL, 'D' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	const struct subcommand *cmd = NULL;
	struct opts o;
	unsigned bit;
	size_t i;
	char who[64];
	int c;

	log_init(prog, LOG_LEVEL_WARN);
	/* tpm2-tss logs every TPM error to stderr; our messages already carry them. */
	if (getenv("TSS2_LOG") == NULL)
		setenv("TSS2_LOG", "all+none", 0);
	if (argc < 2) {
		show_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		show_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("%s %s\n", prog, COFFER_VERSION);
		return 0;
	}
	for (i = 0; i < N_SUBCOMMANDS; i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			cmd = &subcommands[i];
	if (cmd == NULL) {
		const char *names[N_SUBCOMMANDS];
		for (i = 0; i < N_SUBCOMMANDS; i++)
			names[i] = subcommands[i].name;
		return cli_unknown_command(prog, argv[1], names, N_SUBCOMMANDS);
	}
	snprintf(who, sizeof(who), "%s %s", prog, cmd->name);
	memset(&o, 0, sizeof(o));
	argv++;
	argc--;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hv", long_opts, NULL)) != -1) {
		bit = 0;
		switch (c) {
		case 'm': o.module = optarg; bit = O_MODULE; break;
		case 't': o.token = optarg; bit = O_TOKEN; break;
		case 'p': o.pin_source = optarg; bit = O_PIN; break;
		case 'l': o.label = optarg; bit = O_LABEL; break;
		case 'u':
			bit = O_USAGE;
			if (parse_usage(optarg, &o.usage) != 0) {
				fprintf(stderr, "%s %s: --usage is derive, sign or derive,sign\n",
					prog, cmd->name);
				return EXIT_USAGE;
			}
			break;
		case 'T': o.tcti = optarg; bit = O_TPM2; break;
		case 'b': o.blob = optarg; bit = O_BLOB; break;
		case 'o': o.out = optarg; bit = O_OUT; break;
		case 'P': o.pcrs = optarg; bit = O_PCRS; break;
		case 'x': o.plain = 1; bit = O_PLAIN; break;
		case 'k': o.key = optarg; bit = O_KEY; break;
		case 'i': o.in = optarg; bit = O_IN; break;
		case 'D': o.define = 1; bit = O_DEFINE; break;
		case 'v':
			log_set_level(LOG_LEVEL_DEBUG);
			setenv("TSS2_LOG", "all+warning", 1);
			break;
		case 'h':
			printf("usage: %s %s\n  %s\n", prog, cmd->usage, cmd->help);
			return 0;
		default:
			return cli_bad_option(who, argv, optind, optopt, ":hv", long_opts);
		}
		if (bit != 0 && !(cmd->allowed & bit))
			return cli_usage_error(who, "option '%s' does not apply (usage: %s %s)",
					       argv[optind - 1], prog, cmd->usage);
	}
	if (o.module != NULL && o.tcti != NULL) {
		fprintf(stderr, "%s %s: --pkcs11-module and --tpm2 exclude each other\n", prog,
			cmd->name);
		return EXIT_USAGE;
	}
	o.args = argv + optind;
	o.nargs = argc - optind;
	if (o.nargs < cmd->min_args || o.nargs > cmd->max_args) {
		fprintf(stderr, "usage: %s %s\n", prog, cmd->usage);
		return EXIT_USAGE;
	}
	return cmd->fn(&o);
}

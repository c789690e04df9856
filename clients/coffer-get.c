// SPDX-License-Identifier: ISC
/*
 * coffer-get: fetch this host's secrets from Coffer appliances and print
 * them (env, dotenv, json, one raw value), write them to a file atomically,
 * or exec a command with them in its environment only. See coffer-get(1).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "clicfg.h"
#include "coffer.h"
#include "config.h"
#include "encoding.h"
#include "envp.h"
#include "exitcode.h"
#include "file.h"
#include "hsm.h"
#include "log.h"
#include "output.h"
#include "pkey.h"
#include "secmem.h"
#include "secret.h"

extern char **environ;

#define DEFAULT_CONFIG COFFER_SYSCONFDIR "/coffer/client.yaml"

static const char *prog = "coffer-get";

static void msg(const char *fmt, ...) PRINTF_LIKE(1, 2);

static void msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The exit status (common/exitcode.h) for a libcoffer status. */
static int exit_for_status(int st)
{
	switch (st) {
	case COFFER_OK:
		return EXIT_OK;
	case COFFER_E_CONFIG:
		return EXIT_USAGE;
	case COFFER_E_NETWORK:
		return EXIT_NETWORK;
	case COFFER_E_SERVER_AUTH:
		return EXIT_SERVER_AUTH;
	case COFFER_E_UNKNOWN_CLIENT:
		return EXIT_UNKNOWN_CLIENT;
	case COFFER_E_SERVER:
		return EXIT_SERVER;
	case COFFER_E_PROTOCOL:
		return EXIT_PROTOCOL;
	case COFFER_E_NOT_FOUND:
		return EXIT_NOT_FOUND;
	default:
		return EXIT_TOKEN;
	}
}

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: coffer-get [options] [--format env|dotenv|json] [--out FILE]\n"
	       "       coffer-get [options] --get KEY [--out FILE]\n"
	       "       coffer-get [options] [--env-prefix P] -- COMMAND [ARG...]\n"
	       "       coffer-get keygen --out FILE\n"
	       "       coffer-get keygen --pkcs11-module M --token URI --pin-source S --label L\n"
	       "       coffer-get keygen --tpm2 TCTI --out BLOB\n"
	       "       coffer-get id [--key KEY [--pkcs11-module M --pin-source S | --tpm2 TCTI]]\n"
	       "       coffer-get id --public PEM\n"
	       "\n"
	       "Connection (override the config file):\n"
	       "  -c, --config FILE       config file (default " DEFAULT_CONFIG ")\n"
	       "  -s, --server HOST:PORT  server, repeatable, tried in order ([v6addr]:port)\n"
	       "  -S, --server-key PEM    pinned server public key (repeat: one per server)\n"
	       "  -k, --key KEY           client key: PEM file, pkcs11: URI, or TPM blob\n"
	       "      --pkcs11-module M   PKCS#11 module for a pkcs11: key\n"
	       "      --pin-source S      file:PATH, env:NAME or prompt\n"
	       "      --tpm2 TCTI         the key is a TPM 2.0 blob used through TCTI\n"
	       "  -t, --timeout T         per-server timeout: seconds, Ns or Nms (default 5)\n"
	       "Output:\n"
	       "  -f, --format F          env (default), dotenv, json\n"
	       "  -g, --get KEY           print one value, exactly its bytes (no newline)\n"
	       "  -o, --out FILE          write atomically to FILE (mode 0600) instead of stdout\n"
	       "      --only K1,K2        fetch only these secrets\n"
	       "      --env-prefix P      prefix names in env, dotenv and exec mode\n"
	       "      --allow-env NAME    let a secret set NAME although it changes how programs\n"
	       "                          run (LD_*, PATH, BASH_ENV, ...; see coffer-get(1))\n"
	       "  -h, --help              this help;  -V, --version  the version\n"
	       "\n"
	       "Exit: 0 ok, 1 refused (a name, a value or the output target), 2 usage or\n"
	       "config, 3 token or system, 4 network, 5 server authentication, 6 unknown\n"
	       "client, 7 server error, 8 protocol error, 9 secret not found.\n");
}

/* ---- options ---- */

struct opts {
	const char *config;
	const char *servers[64];
	size_t n_servers;
	const char *server_keys[64];
	size_t n_server_keys;
	const char *key, *pkcs11_module, *pin_source, *tpm2, *timeout;
	const char *format, *get, *out, *only, *env_prefix;
	const char *allow_env[65]; /* NULL-terminated */
	size_t n_allow_env;
	/* keygen / id */
	const char *token, *label, *public_pem;
	char **cmd; /* exec mode: argv after "--" */
};

enum {
	OPT_PKCS11_MODULE = 256,
	OPT_PIN_SOURCE,
	OPT_TPM2,
	OPT_ONLY,
	OPT_ENV_PREFIX,
	OPT_TOKEN,
	OPT_LABEL,
	OPT_PUBLIC,
	OPT_ALLOW_ENV,
};

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"server", required_argument, NULL, 's'},
    {"server-key", required_argument, NULL, 'S'},
    {"key", required_argument, NULL, 'k'},
    {"pkcs11-module", required_argument, NULL, OPT_PKCS11_MODULE},
    {"pin-source", required_argument, NULL, OPT_PIN_SOURCE},
    {"tpm2", required_argument, NULL, OPT_TPM2},
    {"timeout", required_argument, NULL, 't'},
    {"format", required_argument, NULL, 'f'},
    {"get", required_argument, NULL, 'g'},
    {"out", required_argument, NULL, 'o'},
    {"only", required_argument, NULL, OPT_ONLY},
    {"env-prefix", required_argument, NULL, OPT_ENV_PREFIX},
    {"allow-env", required_argument, NULL, OPT_ALLOW_ENV},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"label", required_argument, NULL, OPT_LABEL},
    {"public", required_argument, NULL, OPT_PUBLIC},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* 0 ok, -1 exit 0 (help shown), else an exit code. */
static int parse_opts(int argc, char **argv, const char *who, struct opts *o)
{
	static const char shortopts[] = "+c:s:S:k:t:f:g:o:hV";
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, long_opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 's':
			if (o->n_servers >= 64) {
				msg("too many --server options (at most 64)");
				return EXIT_USAGE;
			}
			o->servers[o->n_servers++] = optarg;
			break;
		case 'S':
			if (o->n_server_keys >= 64) {
				msg("too many --server-key options (at most 64)");
				return EXIT_USAGE;
			}
			o->server_keys[o->n_server_keys++] = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case OPT_PKCS11_MODULE:
			o->pkcs11_module = optarg;
			break;
		case OPT_PIN_SOURCE:
			o->pin_source = optarg;
			break;
		case OPT_TPM2:
			o->tpm2 = optarg;
			break;
		case 't':
			o->timeout = optarg;
			break;
		case 'f':
			o->format = optarg;
			break;
		case 'g':
			o->get = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case OPT_ONLY:
			o->only = optarg;
			break;
		case OPT_ENV_PREFIX:
			o->env_prefix = optarg;
			break;
		case OPT_ALLOW_ENV:
			if (o->n_allow_env >= 64)
				return cli_usage_error(who, "too many --allow-env options (at most 64)");
			if (!output_env_name_ok(optarg, strlen(optarg)))
				return cli_usage_error(who, "--allow-env takes an environment name "
				                            "([A-Za-z_][A-Za-z0-9_]*)");
			o->allow_env[o->n_allow_env++] = optarg;
			break;
		case OPT_TOKEN:
			o->token = optarg;
			break;
		case OPT_LABEL:
			o->label = optarg;
			break;
		case OPT_PUBLIC:
			o->public_pem = optarg;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case 'V':
			printf("coffer-get %s\n", COFFER_VERSION);
			return -1;
		default:
			return cli_bad_option(who, argv, optind, optopt, shortopts, long_opts);
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--") != 0) {
			char tmp[300];
			return cli_usage_error(who,
			                       "unexpected argument '%s'; a command to run goes "
			                       "after --",
			                       log_untrusted(tmp, sizeof(tmp), argv[optind], 64));
		}
		o->cmd = &argv[optind];
	}
	return 0;
}

/* ---- shared: the client configuration from the file and the flags ---- */

static int key_config(struct coffer_config *cfg, const char *key, const char *module,
                      const char *pin_source, const char *tpm2)
{
	if (key == NULL) {
		msg("no client key: give --key or `key:` in the config file");
		return COFFER_E_CONFIG;
	}
	if (strncmp(key, "pkcs11:", 7) == 0) {
		if (module == NULL) {
			msg("a pkcs11: key needs --pkcs11-module");
			return COFFER_E_CONFIG;
		}
		return coffer_config_set_key_pkcs11(cfg, key, module, pin_source);
	}
	if (tpm2 != NULL)
		return coffer_config_set_key_tpm2(cfg, key, tpm2);
	return coffer_config_set_key_file(cfg, key);
}

static int build_config(const struct opts *o, struct coffer_config **out)
{
	struct coffer_config *cfg = NULL;
	struct clicfg *file = NULL;
	const char *path = o->config != NULL ? o->config : DEFAULT_CONFIG;
	const char *const *servers, *const *skeys;
	const char *key, *module, *pin, *tpm2;
	size_t ns, nk, i;
	unsigned tmo = 0;
	int r, st;

	*out = NULL;
	r = clicfg_load(path, &file);
	if (r == ERR_NOT_FOUND && o->config == NULL) {
		r = 0; /* the default config file is optional */
	} else if (r != 0) {
		msg("config: %s", err_msg(r));
		st = COFFER_E_CONFIG;
		goto out;
	}
	if ((cfg = coffer_config_new()) == NULL) {
		msg("out of memory");
		st = COFFER_E_LOCAL;
		goto out;
	}
	servers =
	    o->n_servers > 0 ? o->servers : (file ? (const char *const *)file->servers : NULL);
	ns = o->n_servers > 0 ? o->n_servers : (file ? file->n_servers : 0);
	skeys = o->n_server_keys > 0 ? o->server_keys
	                             : (file ? (const char *const *)file->server_keys : NULL);
	nk = o->n_server_keys > 0 ? o->n_server_keys : (file ? file->n_server_keys : 0);
	if (ns == 0) {
		msg("no server: give --server HOST:PORT or `servers:` in %s", path);
		st = COFFER_E_CONFIG;
		goto out;
	}
	if (nk == 0) {
		msg("no pinned server key: give --server-key PEM or `server-key:` in %s", path);
		st = COFFER_E_CONFIG;
		goto out;
	}
	if (nk != 1 && nk != ns) {
		msg("%zu server keys for %zu servers: give one for all, or one per server", nk, ns);
		st = COFFER_E_CONFIG;
		goto out;
	}
	for (i = 0; i < ns; i++) {
		if ((st = coffer_config_add_server(cfg, servers[i],
		                                   nk == 1 ? skeys[0] : skeys[i])) != 0) {
			msg("%s", coffer_last_error());
			goto out;
		}
	}
	if (o->timeout != NULL) {
		if (clicfg_parse_timeout(o->timeout, &tmo) != 0) {
			msg("--timeout: expected seconds (1-3600), Ns or Nms");
			st = COFFER_E_CONFIG;
			goto out;
		}
	} else if (file != NULL) {
		tmo = file->timeout_ms;
	}
	if ((st = coffer_config_set_timeout_ms(cfg, tmo)) != 0) {
		msg("%s", coffer_last_error());
		goto out;
	}
	key = o->key ? o->key : (file ? file->key : NULL);
	module = o->pkcs11_module ? o->pkcs11_module : (file ? file->pkcs11_module : NULL);
	pin = o->pin_source ? o->pin_source : (file ? file->pin_source : NULL);
	tpm2 = o->tpm2 ? o->tpm2 : (file ? file->tpm2 : NULL);
	if ((st = key_config(cfg, key, module, pin, tpm2)) != 0) {
		if (coffer_last_error()[0] != '\0')
			msg("%s", coffer_last_error());
		goto out;
	}
	*out = cfg;
	cfg = NULL;
	st = 0;
out:
	coffer_config_free(cfg);
	clicfg_free(file);
	return st;
}

/* ---- get (the default command) ---- */

/* Split "a,b,c" into a new array of pointers into a copy. */
static int split_names(const char *list, char **copyp, const char ***namesp, size_t *np)
{
	char *copy, *tok, *save = NULL;
	const char **names;
	size_t n = 1, i = 0;
	const char *p;

	*copyp = NULL;
	*namesp = NULL;
	*np = 0;
	for (p = list; *p != '\0'; p++)
		n += *p == ',';
	if ((copy = strdup(list)) == NULL || (names = calloc(n, sizeof(*names))) == NULL) {
		free(copy);
		return ERR_ALLOC;
	}
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
		names[i++] = tok;
	if (i == 0) {
		free(copy);
		free(names);
		return ERR_FORMAT;
	}
	*copyp = copy;
	*namesp = names;
	*np = i;
	return 0;
}

static int write_stdout(const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(STDOUT_FILENO, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_sys("write to standard output");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* After KeyNotFound: tell the host its own identity, ready to register. */
static void say_unknown_client(struct coffer_client *client)
{
	char idt[COFFER_IDENTITY_TEXT_LEN + 1];

	if (coffer_client_identity(client, idt) == COFFER_OK)
		msg("this client's identity is %s: register it in the definition's [clients] "
		    "table (name = \"%s\")",
		    idt, idt);
}

static int get_main(int argc, char **argv)
{
	struct opts o;
	struct coffer_config *cfg = NULL;
	struct coffer_client *client = NULL;
	struct coffer_result *res = NULL;
	struct secret *items = NULL;
	struct buf *text = NULL;
	enum output_format fmt = OUTPUT_ENV;
	const char **names = NULL;
	char *names_copy = NULL, **envp = NULL, tmp[300];
	size_t n_names = 0, n = 0, i;
	int rc, st, r;

	if ((rc = parse_opts(argc, argv, prog, &o)) != 0)
		return rc < 0 ? EXIT_OK : rc;
	if (o.token != NULL || o.label != NULL || o.public_pem != NULL)
		return cli_usage_error(prog, "--token, --label and --public belong to keygen / id");
	if (o.format != NULL && (output_format_parse(o.format, &fmt) != 0 || fmt == OUTPUT_RAW))
		return cli_usage_error(prog, "--format: expected env, dotenv or json");
	if (o.get != NULL && (o.format != NULL || o.only != NULL))
		return cli_usage_error(prog, "--get prints one value: it takes no --format or --only");
	if (o.cmd != NULL && (o.format != NULL || o.get != NULL || o.out != NULL))
		return cli_usage_error(prog, "exec mode (-- COMMAND) takes no --format, --get or --out");
	if (o.env_prefix != NULL && !output_env_name_ok(o.env_prefix, strlen(o.env_prefix)))
		return cli_usage_error(prog, "--env-prefix must match [A-Za-z_][A-Za-z0-9_]*");
	/* Refuse a target we would destroy, or cannot write, before the fetch (an audited release). */
	if (o.out != NULL && (r = file_check_target(o.out)) != 0) {
		msg("--out: %s", err_msg(r));
		return exit_code(r);
	}
	if (o.get != NULL) {
		names = calloc(1, sizeof(*names));
		if (names == NULL) {
			msg("out of memory");
			return EXIT_TOKEN;
		}
		names[0] = o.get;
		n_names = 1;
	} else if (o.only != NULL && split_names(o.only, &names_copy, &names, &n_names) != 0) {
		return cli_usage_error(prog, "--only: expected a comma-separated list of secret names");
	}
	if ((st = build_config(&o, &cfg)) != 0) {
		rc = exit_for_status(st);
		goto out;
	}
	if ((st = coffer_client_new(cfg, &client)) != 0 ||
	    (st = coffer_fetch(client, names, n_names, &res)) != 0) {
		if (st == COFFER_E_NOT_FOUND)
			msg("%s (asked for %s)", coffer_last_error(),
			    log_untrusted(tmp, sizeof(tmp), o.get != NULL ? o.get : o.only, 200));
		else
			msg("%s", coffer_last_error());
		if (st == COFFER_E_UNKNOWN_CLIENT)
			say_unknown_client(client);
		rc = exit_for_status(st);
		goto out;
	}
	n = coffer_result_count(res);
	if ((items = calloc(n + 1, sizeof(*items))) == NULL) {
		msg("out of memory");
		rc = EXIT_TOKEN;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct coffer_item *it = coffer_result_item(res, i);
		items[i].key = it->key;
		items[i].key_len = it->key_len;
		items[i].type = (enum secret_type)it->type;
		memcpy(&items[i].v, &it->v, sizeof(items[i].v));
	}
	for (i = 0; i < n_names; i++) {
		if (coffer_result_find(res, names[i]) == NULL) {
			msg("secret '%s' is not in this client's shard",
			    log_untrusted(tmp, sizeof(tmp), names[i], 100));
			rc = EXIT_NOT_FOUND;
			goto out;
		}
	}
	if (o.cmd != NULL) {
		if ((r = envp_build(environ, items, n, o.env_prefix, o.allow_env, &envp)) != 0) {
			msg("exec mode: %s; nothing was run", err_msg(r));
			rc = exit_code(r);
			goto out;
		}
		/* The values live on only in envp: wipe the fetched copies first. */
		secmem_zero(items, n * sizeof(*items));
		coffer_result_free(res);
		res = NULL;
		r = envp_exec(o.cmd[0], o.cmd, envp);
		msg("%s", err_msg(r));
		rc = r == ERR_NOT_FOUND ? EXIT_EXEC_NOT_FOUND : EXIT_CANNOT_EXEC;
		goto out;
	}
	if ((text = buf_new(0)) == NULL) {
		msg("out of memory");
		rc = EXIT_TOKEN;
		goto out;
	}
	if (o.get != NULL) {
		for (i = 0; i < n; i++)
			if (strlen(o.get) == items[i].key_len &&
			    memcmp(items[i].key, o.get, items[i].key_len) == 0)
				break;
		r = output_render(OUTPUT_RAW, &items[i], 1, NULL, NULL, text);
	} else
		r = output_render(fmt, items, n, o.env_prefix, o.allow_env, text);
	if (r != 0) {
		msg("output: %s; nothing was written", err_msg(r));
		rc = exit_code(r);
		goto out;
	}
	if (o.out != NULL)
		r = file_write_atomic(o.out, buf_ptr(text), buf_len(text), 0600);
	else
		r = write_stdout(buf_ptr(text), buf_len(text));
	if (r != 0) {
		msg("%s", err_msg(r));
		rc = exit_code(r);
		goto out;
	}
	rc = EXIT_OK;
out:
	if (items != NULL) {
		secmem_zero(items, (n + 1) * sizeof(*items));
		free(items);
	}
	envp_free(envp);
	buf_free(text);
	coffer_result_free(res);
	coffer_client_free(client);
	coffer_config_free(cfg);
	free(names);
	free(names_copy);
	return rc;
}

/* ---- keygen ---- */

/* The identity on stdout (the value for [clients]); both notations on stderr. */
static int print_identity(EVP_PKEY *pub)
{
	uint8_t id[IDENTITY_LEN];
	char text[IDENTITY_TEXT_LEN + 1], hex[2 * IDENTITY_LEN + 1];
	int r;

	if ((r = pkey_identity(pub, id)) != 0)
		return r;
	identity_format(id, text);
	hex_encode(id, IDENTITY_LEN, hex);
	fprintf(stderr, "%s: identity %s, also written sha256:%s ([clients] takes either)\n",
	        prog, text, hex);
	printf("%s\n", text);
	return fflush(stdout) == 0 ? 0 : err_sys("write to standard output");
}

static int keygen_main(int argc, char **argv)
{
	struct opts o;
	struct hsm_config hc;
	struct hsm *h = NULL;
	struct hsm_key *key = NULL;
	EVP_PKEY *k = NULL, *pub = NULL;
	int rc, r;

	if ((rc = parse_opts(argc, argv, "coffer-get keygen", &o)) != 0)
		return rc < 0 ? EXIT_OK : rc;
	if (o.cmd != NULL || o.n_servers || o.n_server_keys || o.format || o.get || o.only)
		return cli_usage_error("coffer-get keygen",
		                       "takes --out FILE, --pkcs11-module --token --pin-source "
		                       "--label, or --tpm2 TCTI --out BLOB");
	memset(&hc, 0, sizeof(hc));
	if (o.tpm2 != NULL) {
		/* A key wrapped by the TPM, kept as a blob file (0600, never overwritten). */
		if (o.out == NULL || o.pkcs11_module != NULL || o.token != NULL)
			return cli_usage_error("coffer-get keygen", "--tpm2 TCTI: give --out BLOB");
		hc.backend = HSM_BACKEND_TPM2;
		hc.tcti = o.tpm2;
	} else if (o.pkcs11_module == NULL) {
		if (o.out == NULL || o.token != NULL || o.label != NULL)
			return cli_usage_error("coffer-get keygen",
			                       "give --out FILE (a PEM file), or --pkcs11-module M "
			                       "--token URI --pin-source S --label L (a key in a "
			                       "token)");
	} else {
		if (o.label == NULL || o.out != NULL)
			return cli_usage_error("coffer-get keygen",
			                       "in a token: give --label L (and --token URI, "
			                       "--pin-source S), not --out");
		hc.backend = HSM_BACKEND_PKCS11;
		hc.module = o.pkcs11_module;
		hc.token = o.token;
		hc.pin_source = o.pin_source;
	}
	/* Refuse an existing or unsafe target before the token makes a key. */
	if (o.out != NULL && (r = file_check_target(o.out)) == 0 && access(o.out, F_OK) == 0)
		r = err_set(ERR_EXISTS, "%.200s already exists; refusing to overwrite a key", o.out);
	if (o.out != NULL && r != 0) {
		msg("keygen: %s", err_msg(r));
		return exit_code(r);
	}
	if (hc.backend == 0) {
		/* A PEM file, mode 0600, never overwritten. */
		if ((r = pkey_generate_p256(&k)) == 0 && (r = pkey_save_private(k, o.out)) == 0 &&
		    EVP_PKEY_up_ref(k) == 1)
			pub = k;
	} else {
		hc.need = HSM_NEED_ECDH | HSM_NEED_KEYGEN;
		if ((r = hsm_open(&hc, &h)) == 0 &&
		    (r = hsm_generate(h, o.label != NULL ? o.label : "coffer-client",
				      HSM_USAGE_DERIVE, hc.backend == HSM_BACKEND_TPM2 ? o.out : NULL,
				      &key)) == 0)
			r = hsm_key_public(key, &pub);
	}
	if (r != 0 || pub == NULL) {
		msg("keygen: %s", err_msg(r != 0 ? r : ERR_ALLOC));
		rc = hc.backend == 0 ? exit_code(r != 0 ? r : ERR_ALLOC)
		                     : exit_code_token(r != 0 ? r : ERR_ALLOC);
		goto out;
	}
	if ((r = print_identity(pub)) != 0) {
		msg("%s", err_msg(r));
		rc = exit_code(r);
		goto out;
	}
	rc = EXIT_OK;
out:
	EVP_PKEY_free(k);
	EVP_PKEY_free(pub);
	hsm_key_free(key);
	hsm_close(h);
	return rc;
}

/* ---- id ---- */

static int id_main(int argc, char **argv)
{
	struct opts o;
	struct clicfg *file = NULL;
	struct hsm *h = NULL;
	struct hsm_key *key = NULL;
	EVP_PKEY *pub = NULL;
	const char *k, *module, *pin, *tpm2;
	int rc, r;

	if ((rc = parse_opts(argc, argv, "coffer-get id", &o)) != 0)
		return rc < 0 ? EXIT_OK : rc;
	if (o.cmd != NULL || o.format || o.get || o.only || o.out)
		return cli_usage_error("coffer-get id",
		                       "takes --key KEY (with --pkcs11-module/--pin-source or "
		                       "--tpm2) or --public PEM");
	if (o.public_pem != NULL) {
		if ((r = pkey_load_public(o.public_pem, &pub)) != 0) {
			msg("%s", err_msg(r));
			rc = r == ERR_CRYPTO ? EXIT_REFUSED : exit_code(r);
			goto out;
		}
	} else {
		if (o.key == NULL || o.config != NULL) {
			r = clicfg_load(o.config != NULL ? o.config : DEFAULT_CONFIG, &file);
			if (r != 0 && !(r == ERR_NOT_FOUND && o.config == NULL)) {
				msg("config: %s", err_msg(r));
				rc = EXIT_USAGE;
				goto out;
			}
		}
		k = o.key ? o.key : (file ? file->key : NULL);
		module = o.pkcs11_module ? o.pkcs11_module : (file ? file->pkcs11_module : NULL);
		pin = o.pin_source ? o.pin_source : (file ? file->pin_source : NULL);
		tpm2 = o.tpm2 ? o.tpm2 : (file ? file->tpm2 : NULL);
		if (k == NULL) {
			rc = cli_usage_error("coffer-get id", "give --key KEY or --public PEM");
			goto out;
		}
		{
			struct hsm_key_spec spec = {k, module, pin, tpm2, 0};
			if (strncmp(k, "pkcs11:", 7) == 0 && module == NULL) {
				msg("a pkcs11: key needs --pkcs11-module");
				rc = EXIT_USAGE;
				goto out;
			}
			r = hsm_key_open_spec(&spec, &h, &key);
		}
		if (r == 0)
			r = hsm_key_public(key, &pub);
		if (r != 0) {
			msg("%s", err_msg(r));
			rc = strncmp(k, "pkcs11:", 7) == 0 || tpm2 != NULL ? exit_code_token(r)
			                                                 : exit_code(r);
			goto out;
		}
	}
	if ((r = print_identity(pub)) != 0) {
		msg("%s", err_msg(r));
		rc = exit_code(r);
		goto out;
	}
	rc = EXIT_OK;
out:
	EVP_PKEY_free(pub);
	hsm_key_free(key);
	hsm_close(h);
	clicfg_free(file);
	return rc;
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} subcommands[] = {
    {"keygen", keygen_main, "make a client key (PEM file or in a token), print its identity"},
    {"id", id_main, "print the identity of a client key or public key"},
};

int main(int argc, char **argv)
{
	size_t i;
	int r;

	log_init(prog, LOG_LEVEL_WARN);
	/* No core dumps and no same-uid ptrace while we hold secrets. */
	if ((r = secmem_harden_process()) != 0)
		msg("warning: %s", err_msg(r));
	if (argc >= 2) {
		for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
			if (strcmp(argv[1], subcommands[i].name) == 0)
				return subcommands[i].fn(argc - 1, argv + 1);
	}
	return get_main(argc, argv);
}

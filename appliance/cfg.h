// SPDX-License-Identifier: ISC
#ifndef COFFER_APPLIANCE_CFG_H
#define COFFER_APPLIANCE_CFG_H

/*
 * appliance-server configuration: command-line options and the YAML config
 * file (--config), whose keys are the long option names. Flags win over the
 * file. Every limit has a named default below; docs/operations.md lists them.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bounds.h"
#include "config.h" /* the build's paths */
#include "encoding.h"
#include "err.h"

#define CFG_MAX_LISTEN 16
#define CFG_MAX_KEYS 4 /* --key / --key-blob: appliance keys served at once */
#define CFG_DEFAULT_STATE_FILE COFFER_STATEDIR "/appliance.state"
#define CFG_DEFAULT_MAX_CONNECTIONS 1024
#define CFG_DEFAULT_MAX_FRAME 65538         /* header + WIRE_MAX_BODY */
#define CFG_MIN_MAX_FRAME 512
#define CFG_DEFAULT_HANDSHAKE_TIMEOUT 10    /* seconds */
#define CFG_DEFAULT_IDLE_TIMEOUT 60         /* seconds */
#define CFG_DEFAULT_MAX_HANDSHAKES 64       /* concurrent Hellos in the token queue */
#define CFG_DEFAULT_RATE 20                 /* handshakes per second per source address */
#define CFG_DEFAULT_BURST 40                /* bucket size per source address */
#define CFG_DEFAULT_GRACE 10                /* seconds to finish in-flight work at exit */
#define CFG_DEFAULT_PER_SOURCE 0            /* connections per source: 0 is 32, or a quarter
					     * of --max-connections if that is less */
#define CFG_DEFAULT_STARTUPS_START 128      /* unauthenticated connections: drops begin */
#define CFG_DEFAULT_STARTUPS_RATE 30        /* ... with this probability, percent */
#define CFG_DEFAULT_STARTUPS_FULL 512       /* ... and every new one is dropped from here */
#define CFG_DEFAULT_SESSION_TIMEOUT 30      /* seconds from Link to the end of a conversation */
#define CFG_DEFAULT_TOKEN_BUDGET 2000       /* token operations per second, all sources */
#define CFG_DEFAULT_CLOCK_SKEW 120          /* seconds a Hello's timestamp may be off */
#define CFG_MAX_WORKERS 256
#define CFG_MAX_SECONDS 86400
#define CFG_MAX_LABEL 64                  /* token:LABEL of --trust-anchor */
#define CFG_DEFAULT_AUDIT_CHECKPOINT 1000 /* records between two signed checkpoints */
#define CFG_MAX_AUDIT_CHECKPOINT 1000000

enum cfg_action {
	CFG_RUN = 0,
	CFG_HELP = 1,
	CFG_VERSION = 2,
};

struct cfg_listen {
	struct sockaddr_storage addr;
	socklen_t len;
	char text[64]; /* as configured, for messages */
};

/* An option that may be given up to CFG_MAX_KEYS times, in order. */
struct cfg_strlist {
	char *v[CFG_MAX_KEYS];
	size_t n;
};

struct cfg {
	/* token */
	char *pkcs11_module;
	char *token;    /* token URI or label (PKCS#11); NULL: from --key's URI, else the only one */
	struct cfg_strlist keys;      /* --key: appliance keys served, the first is the main one */
	char *pin_source;
	char *tpm2;     /* TCTI */
	struct cfg_strlist key_blobs; /* --key-blob: TPM key blobs, likewise */
	/* bundle and state */
	char *bundle;
	/* "sha256:<64 hex>", the grouped notation, or "token:LABEL", as given */
	char *trust_anchors[LIMIT_ANCHORS];
	size_t n_trust_anchors;
	unsigned threshold;     /* distinct anchors whose signatures the bundle needs (1) */
	char *state_file;
	char *rollback_counter; /* "tpm2:TCTI": the TPM NV counter beside the state file */
	/* network */
	struct cfg_listen listen[CFG_MAX_LISTEN];
	size_t n_listen;
	unsigned workers; /* 0: number of CPUs */
	unsigned max_connections;
	unsigned max_frame;
	unsigned handshake_timeout;
	unsigned idle_timeout;
	unsigned max_handshakes;
	unsigned rate;
	unsigned burst;
	unsigned grace;
	unsigned max_per_source;
	unsigned startups[3]; /* --max-startups START:RATE:FULL */
	unsigned session_timeout;
	unsigned token_budget; /* 0: no budget */
	unsigned clock_skew;   /* seconds: Hello timestamps in (start - skew, now + skew] */
	int cache_ss;
	/* audit, logging, process */
	char *audit_log; /* NULL: stderr */
	int audit_required;
	char *audit_key;        /* checkpoint signing key: PKCS#11 URI or label; TPM key blob */
	char *audit_pin_source; /* its token's PIN (PKCS#11) */
	unsigned audit_checkpoint; /* records between two checkpoints */
	char *user;
	char *log_level;
	char *config; /* the YAML file read, if any */
	int check;
	/* Not an option: the network process binary, for tests that run the
	 * server from a test program (NULL: beside appliance-server, else the
	 * build's libexec directory). Not freed by cfg_clear. */
	const char *net_path;
};

/* Defaults for every option. */
void cfg_init(struct cfg *c);
/* Free the strings; the struct itself is the caller's. NULL is fine. */
void cfg_clear(struct cfg *c);

/*
 * Parse argv (argv[0] is the program), then the YAML file named by --config
 * (if any) for the options the command line did not set. *action tells the
 * caller to print help or the version instead of running. Errors:
 * ERR_INVALID_ARG (unknown option, bad value, missing argument), ERR_FORMAT
 * (YAML: detail has file:line:column), ERR_NOT_FOUND (config file missing).
 * Does not check cross-option consistency: see cfg_validate().
 */
int cfg_parse(struct cfg *c, int argc, char **argv, enum cfg_action *action) WARN_UNUSED;

/*
 * Apply YAML text (a mapping of long option names to scalars; `listen` may
 * also be a sequence) to c, skipping options whose bit is set in `locked`
 * (see cfg_parse). `name` is used in messages. ERR_FORMAT with
 * "name:line:column: reason" on any unknown key, bad value or shape.
 */
int cfg_parse_yaml(struct cfg *c, const uint8_t *text, size_t len, const char *name,
		   const uint64_t *locked) WARN_UNUSED;

/* Cross-option checks: one backend (--token and token: anchors need PKCS#11,
 * --pin-source is refused with --tpm2), bundle, trust anchors (distinct, at
 * least --threshold of them), --rollback-counter tpm2:TCTI, listen (unless
 * --check), the audit key's options. */
int cfg_validate(const struct cfg *c) WARN_UNUSED;

/* Parse "127.0.0.1:9187", "[::1]:9187" (numeric hosts only). ERR_INVALID_ARG. */
int cfg_parse_listen(const char *s, struct cfg_listen *out) WARN_UNUSED;

/* Print the option summary to f. */
void cfg_usage(void *f);

#endif

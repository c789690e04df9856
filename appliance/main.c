// SPDX-License-Identifier: ISC
/*
 * appliance-server: start-up in a fail-closed order (config, token, bundle,
 * unseal, index), then bind, drop privileges and serve. Nothing listens
 * before every check passed; any failure exits non-zero with the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "config.h" /* the build's: COFFER_VERSION */

#include "audit.h"
#include "cfg.h"
#include "exitcode.h"
#include "listenfds.h"
#include "pkey.h"
#include "log.h"
#include "privdrop.h"
#include "secmem.h"
#include "server.h"
#include "state.h"
#include "token.h"

/* SIGHUP: the new state as always, then a checkpoint, whatever the load gave. */
struct reload_ctx {
	const struct cfg *cfg;
	struct token *tok;
	struct audit *audit;
	int sign;
};

static int reload(void *p, struct appl_state **out)
{
	struct reload_ctx *rc = p;
	int r, cr;

	r = state_load(rc->cfg, rc->tok, 1, out);
	if (rc->sign && (cr = audit_checkpoint(rc->audit, "reload")) != 0)
		error_fr(cr, "%s", "audit checkpoint at reload");
	return r;
}

/* The signed start checkpoint: the audit key works, and the chain goes on. */
static int audit_begin(struct audit *audit, struct token *akey, const struct cfg *c)
{
	uint64_t seq;
	int clean, r;

	audit_chain_state(audit, &seq, &clean);
	if (clean == 0)
		log_warn("audit log %s: the last run did not end with a shutdown checkpoint (a "
			 "crash, or records added since): audit-verify tells which",
			 c->audit_log);
	if (seq > 0)
		log_info("audit log %s: the chain goes on at seq %llu", c->audit_log,
			 (unsigned long long)seq);
	if (akey == NULL) {
		log_warn("audit log: hash-chained but not signed (no --audit-key): anyone who can "
			 "write it can rewrite it whole");
		return 0;
	}
	if ((r = audit_set_signer(audit, token_sign_callback, akey, token_fingerprint(akey, 0),
				  c->audit_checkpoint)) != 0 ||
	    (r = audit_checkpoint(audit, "start")) != 0)
		return r;
	log_info("audit checkpoints signed by %s (%s), every %u records", token_fingerprint(akey, 0),
		 token_describe(akey), c->audit_checkpoint);
	return 0;
}

/* Exit statuses are the five tools' table (common/exitcode.h): 1 a check
 * refused, 2 usage, 3 token or system. */
static int die(int r, const char *what)
{
	log_error("%s: %s", what, err_msg(r));
	return exit_code(r);
}

/* Cheap checks before the token is touched, so the common mistakes get a clear
 * message even when the token is slow or absent. */
static int precheck(const struct cfg *c)
{
	struct stat st;
	size_t i;

	if (stat(c->bundle, &st) != 0)
		return errno == ENOENT ? err_set(ERR_NOT_FOUND, "bundle %s: no such directory", c->bundle)
				       : err_sys("bundle %s", c->bundle);
	if (!S_ISDIR(st.st_mode))
		return err_set(ERR_FORMAT, "bundle %s: not a directory", c->bundle);
	if (c->pkcs11_module != NULL && access(c->pkcs11_module, R_OK) != 0)
		return err_sys("PKCS#11 module %s", c->pkcs11_module);
	for (i = 0; i < c->key_blobs.n; i++)
		if (access(c->key_blobs.v[i], R_OK) != 0)
			return err_sys("TPM key blob %s", c->key_blobs.v[i]);
	return 0;
}

/* The directory of the state file ("." if none). */
static void state_dir(const struct cfg *c, char *dir, size_t cap)
{
	char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s", c->state_file);
	snprintf(dir, cap, "%s", dirname(tmp));
}

/*
 * Before dropping to --user: the files the service writes later (the state
 * file, replaced on every reload that accepts a new serial) must be that
 * user's. The state file is ours: it is handed over. Its directory is
 * handed over only if this start created it; one that existed must already
 * be writable by the user (checked after the drop).
 */
static int hand_over_state(const struct cfg *c, int dir_existed)
{
	struct passwd *pw;
	char dir[4096];
	int fd, r = 0;

	if (c->user == NULL || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(c->user)) == NULL)
		return err_set(ERR_NOT_FOUND, "--user %s: no such user", c->user);
	state_dir(c, dir, sizeof(dir));
	if (!dir_existed && chown(dir, pw->pw_uid, pw->pw_gid) != 0)
		return err_sys("hand the state directory %s to %s", dir, c->user);
	if ((fd = open(c->state_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_sys("state file %s", c->state_file);
	}
	if (fchown(fd, pw->pw_uid, pw->pw_gid) != 0)
		r = err_sys("hand the state file %s to %s", c->state_file, c->user);
	close(fd);
	return r;
}

/*
 * After the drop: what serving needs still works as this user. The state
 * directory takes the next serial; the token answers one DH (a token store
 * the user cannot read would otherwise fail every handshake); the TPM
 * rollback counter, if any, can be read (or every reload would fail).
 */
static int check_after_drop(const struct cfg *c, struct token *t)
{
	uint8_t z[P256_DH_LEN];
	char dir[4096];
	uint64_t floor;
	int r, written;

	state_dir(c, dir, sizeof(dir));
	if (access(dir, W_OK | X_OK) != 0)
		return err_sys("state directory %s: not writable by user %s, so no reload could "
			       "record a new serial (give the directory to that user)",
			       dir, c->user);
	if (access(c->state_file, R_OK | W_OK) != 0 && errno != ENOENT)
		return err_sys("state file %s as user %s", c->state_file, c->user);
	/* The keys' working copies were made as root: the DH goes to the token
	 * object again, as this user. */
	token_renew(t);
	r = token_dh(t, 0, token_point(t, 0), z);
	secmem_zero(z, sizeof(z));
	if (r != 0)
		return err_wrap(ERR_HSM, "the token does not answer as user %s (can that user read the "
				"token's store or device?)",
				c->user);
	if ((r = state_rollback_floor(c, &floor, &written)) != 0)
		return err_wrap(r, "as user %s (can that user use the TPM device?)", c->user);
	return 0;
}

/* The --listen addresses, else the sockets systemd passed (appliance-server.socket). */
static int listen_or_adopt(const struct cfg *c, struct server *srv)
{
	struct listenfds l;
	int r;

	if (c->n_listen > 0)
		return server_bind(srv);
	if ((r = listenfds_take(LISTENFDS_INET, &l)) != 0)
		return err_wrap(r, "no --listen given");
	return server_adopt(srv, &l);
}

int main(int argc, char **argv)
{
	struct cfg cfg;
	enum cfg_action action;
	struct token *tok = NULL, *akey = NULL;
	struct reload_ctx rctx;
	struct appl_state *st = NULL;
	struct audit *audit = NULL;
	struct server *srv = NULL;
	enum log_level level = LOG_LEVEL_INFO;
	char dir[4096];
	struct stat dst;
	int r, rc = EXIT_FAILURE, dir_existed;

	log_init("appliance-server", LOG_LEVEL_INFO);
	cfg_init(&cfg);
	if ((r = cfg_parse(&cfg, argc, argv, &action)) != 0) {
		log_error("%s", err_msg(r));
		rc = EXIT_USAGE;
		goto out;
	}
	if (action == CFG_HELP) {
		cfg_usage(stdout);
		rc = EXIT_SUCCESS;
		goto out;
	}
	if (action == CFG_VERSION) {
		printf("appliance-server %s\n", COFFER_VERSION);
		rc = EXIT_SUCCESS;
		goto out;
	}
	if ((r = cfg_validate(&cfg)) != 0) {
		log_error("%s", err_msg(r));
		rc = EXIT_USAGE;
		goto out;
	}
	if (cfg.log_level != NULL && log_level_parse(cfg.log_level, &level) == 0)
		log_set_level(level);
	if (cfg.state_file == NULL && (cfg.state_file = strdup(CFG_DEFAULT_STATE_FILE)) == NULL) {
		rc = die(ERR_ALLOC, "start");
		goto out;
	}
	if ((r = secmem_harden_process()) != 0) {
		rc = die(r, "harden process");
		goto out;
	}
	if ((r = precheck(&cfg)) != 0) {
		rc = die(r, "start-up check");
		goto out;
	}
	if ((r = token_open(&cfg, &tok)) != 0) {
		(void)die(r, "start-up check 'token'");
		rc = exit_code_token(r);
		goto out;
	}
	log_info("token: %s", token_describe(tok));
	for (size_t k = 0; k < token_count(tok); k++)
		log_info("appliance key %zu of %zu: %s", k + 1, token_count(tok),
			 token_fingerprint(tok, k));
	if (cfg.audit_key != NULL && (r = token_open_audit(&cfg, &akey)) != 0) {
		(void)die(r, "start-up check 'audit key'");
		rc = exit_code_token(r);
		goto out;
	}
	state_dir(&cfg, dir, sizeof(dir));
	dir_existed = stat(dir, &dst) == 0;
	/* --check verifies without recording the serial: it changes nothing. */
	if ((r = state_load(&cfg, tok, !cfg.check, &st)) != 0) {
		rc = die(r, "start-up check 'bundle'");
		goto out;
	}
	log_info("bundle %s: serial %llu, master %s, %zu clients (%zu ss cached)", cfg.bundle,
		 (unsigned long long)st->serial, st->master_fpr, st->n, st->n_cached);
	if (cfg.check) {
		printf("ok: bundle serial %llu, %zu clients, token %s\n",
		       (unsigned long long)st->serial, st->n, token_describe(tok));
		rc = EXIT_SUCCESS;
		goto out;
	}
	if ((r = audit_open(cfg.audit_log, &audit)) != 0) {
		rc = die(r, "audit log");
		goto out;
	}
	if ((r = audit_begin(audit, akey, &cfg)) != 0) {
		rc = die(r, "audit log");
		goto out;
	}
	if ((r = server_new(&cfg, tok, audit, st, &srv)) != 0 || (r = server_signals(srv)) != 0 ||
	    (r = listen_or_adopt(&cfg, srv)) != 0) {
		rc = die(r, "listen");
		goto out;
	}
	rctx.cfg = &cfg;
	rctx.tok = tok;
	rctx.audit = audit;
	rctx.sign = akey != NULL;
	server_set_loader(srv, reload, &rctx);
	/* The network process takes the sockets (and, started as root, chroots
	 * before it drops): from here on this process holds no network socket. */
	if ((r = server_start_net(srv)) != 0) {
		rc = die(r, "start the network process");
		goto out;
	}
	if ((r = hand_over_state(&cfg, dir_existed)) != 0 || (r = privdrop_to_user(cfg.user)) != 0 ||
	    (r = privdrop_no_new_privs()) != 0) {
		rc = die(r, "drop privileges");
		goto out;
	}
	if (cfg.user != NULL && (r = check_after_drop(&cfg, tok)) != 0) {
		rc = die(r, "start-up check after dropping privileges");
		goto out;
	}
	/* From here on records are written by their own thread: a slow audit
	 * log never holds up the event loop. */
	if ((r = audit_start(audit)) != 0) {
		rc = die(r, "audit log");
		goto out;
	}
	rc = (r = server_run(srv)) != 0 ? die(r, "serve") : EXIT_SUCCESS;
	for (size_t k = 0; k < token_count(tok); k++)
		log_info("appliance key %s: %lu token DHs", token_fingerprint(tok, k),
			 token_dh_count(tok, k));
	/* Every worker has stopped, cleanly or not (the network process died):
	 * this is the run's last record, and it signs how the run ended. */
	if (akey != NULL && (r = audit_checkpoint(audit, "shutdown")) != 0)
		rc = die(r, "audit checkpoint at shutdown");
out:
	server_free(srv);
	state_unref(st);
	token_close(akey);
	token_close(tok);
	audit_close(audit);
	cfg_clear(&cfg);
	return rc;
}

// SPDX-License-Identifier: ISC
/*
 * token-rate: ECDH/s and ECDSA/s of one hsm/ key on 1 and 2 threads (not a
 * meson test; see token-rate.sh). Every ECDH result is checked against
 * OpenSSL's, so a fast wrong answer cannot look good.
 *
 *   token-rate --pkcs11-module M --token URI --pin-source S --key KEY
 *   token-rate --tpm2 TCTI --key-blob FILE [--session salted|plain|both]
 *   token-rate --soft            (OpenSSL in-process, the reference)
 *   common: [--seconds N] [--threads 1,2]
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "buf.h"
#include "hsm.h"
#include "log.h"
#include "pkey.h"

#define MAX_THREADS 16

struct run {
	struct hsm_key *k;
	int sign;
	double seconds;
	uint8_t peer[P256_POINT_LEN], want[P256_DH_LEN], digest[32];
	atomic_int stop;
	atomic_long ops, bad;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
	struct run *r = arg;
	uint8_t out[P256_DH_LEN];
	struct buf *sig = buf_new(0);
	long ops = 0, bad = 0;

	while (!atomic_load(&r->stop)) {
		if (r->sign) {
			buf_reset(sig);
			if (hsm_key_sign(r->k, r->digest, sizeof(r->digest), sig) != 0)
				bad++;
		} else if (hsm_key_ecdh(r->k, r->peer, sizeof(r->peer), out) != 0 ||
			   memcmp(out, r->want, sizeof(out)) != 0)
			bad++;
		ops++;
	}
	atomic_fetch_add(&r->ops, ops);
	atomic_fetch_add(&r->bad, bad);
	buf_free(sig);
	return NULL;
}

/* This process' CPU seconds (user + system), all threads. */
static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Operations per second; *us_cpu gets this process' CPU microseconds per operation
 * (load on the machine does not change it; a TPM's own work is not in it). */
static double rate(struct run *r, int threads, int sign, double *us_cpu)
{
	pthread_t th[MAX_THREADS];
	struct timespec ts;
	double t0, t1, c0, c1;
	int i;

	atomic_store(&r->stop, 0);
	atomic_store(&r->ops, 0);
	atomic_store(&r->bad, 0);
	r->sign = sign;
	t0 = now();
	c0 = cpu();
	for (i = 0; i < threads; i++)
		if (pthread_create(&th[i], NULL, worker, r) != 0)
			fatal("pthread_create");
	ts.tv_sec = (time_t)r->seconds;
	ts.tv_nsec = (long)((r->seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0)
		;
	atomic_store(&r->stop, 1);
	for (i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	t1 = now();
	c1 = cpu();
	*us_cpu = atomic_load(&r->ops) ? (c1 - c0) * 1e6 / (double)atomic_load(&r->ops) : 0;
	if (atomic_load(&r->bad) != 0) {
		fprintf(stderr, "token-rate: %ld failed or wrong %s results: %s\n",
			atomic_load(&r->bad), sign ? "ECDSA" : "ECDH", err_detail());
		exit(1);
	}
	return (double)atomic_load(&r->ops) / (t1 - t0);
}

static void table(const char *what, struct hsm_key *k, const int *threads, int nthreads,
		  double seconds)
{
	struct run r;
	EVP_PKEY *peer = NULL, *pub = NULL;
	int i;

	memset(&r, 0, sizeof(r));
	r.k = k;
	r.seconds = seconds;
	memset(r.digest, 0x42, sizeof(r.digest));
	if (pkey_generate_p256(&peer) != 0 || pkey_to_point(peer, r.peer) != 0 ||
	    hsm_key_public(k, &pub) != 0 || pkey_ecdh(peer, pub, r.want) != 0)
		fatal("set up: %s", err_detail());
	for (i = 0; i < nthreads; i++) {
		double ec, sc;
		double e = rate(&r, threads[i], 0, &ec);
		double s = rate(&r, threads[i], 1, &sc);

		printf("| %-44.44s | %7d | %9.0f | %9.0f | %13.0f | %14.0f |\n", what, threads[i],
		       e, s, ec, sc);
		fflush(stdout);
	}
	EVP_PKEY_free(peer);
	EVP_PKEY_free(pub);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: token-rate (--pkcs11-module M --token URI --pin-source S --key KEY |\n"
		"                   --tpm2 TCTI --key-blob FILE [--session salted|plain|both] |\n"
		"                   --soft) [--seconds N] [--threads 1,2]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pkcs11-module", required_argument, NULL, 'm' },
		{ "token", required_argument, NULL, 't' },
		{ "pin-source", required_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ "tpm2", required_argument, NULL, 'T' },
		{ "key-blob", required_argument, NULL, 'b' },
		{ "session", required_argument, NULL, 'S' },
		{ "soft", no_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *module = NULL, *token = NULL, *pin = NULL, *key = NULL, *tcti = NULL;
	const char *blob = NULL, *session = "both";
	int threads[MAX_THREADS] = { 1, 2 }, nthreads = 2, soft = 0, c, mode, r;
	double seconds = 2;
	char *end, *tok, *save = NULL;
	struct hsm_config cfg;
	struct hsm *h = NULL;
	struct hsm_key *k = NULL;
	EVP_PKEY *sk = NULL;
	char what[128];

	log_init("token-rate", LOG_LEVEL_WARN);
	if (getenv("TSS2_LOG") == NULL)
		setenv("TSS2_LOG", "all+none", 0);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': module = optarg; break;
		case 't': token = optarg; break;
		case 'p': pin = optarg; break;
		case 'k': key = optarg; break;
		case 'T': tcti = optarg; break;
		case 'b': blob = optarg; break;
		case 'S': session = optarg; break;
		case 's': soft = 1; break;
		case 'n':
			seconds = strtod(optarg, &end);
			if (*end != '\0' || seconds <= 0 || seconds > 600)
				usage();
			break;
		case 'j':
			nthreads = 0;
			for (tok = strtok_r(optarg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				long v = strtol(tok, &end, 10);

				if (*end != '\0' || v < 1 || v > MAX_THREADS || nthreads == MAX_THREADS)
					usage();
				threads[nthreads++] = (int)v;
			}
			if (nthreads == 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (!!module + !!tcti + soft) != 1 || (module && !key) ||
	    (tcti && !blob))
		usage();
	printf("| %-44s | threads | ECDH/s    | ECDSA/s   | ECDH µs CPU/op | ECDSA µs CPU/op |\n",
	       "backend");
	printf("|%s|---------|-----------|-----------|---------------|----------------|\n",
	       "----------------------------------------------");
	if (soft) {
		if (pkey_generate_p256(&sk) != 0 || hsm_key_from_pkey(sk, &k) != 0)
			fatal("software key: %s", err_detail());
		table("OpenSSL (software, in process)", k, threads, nthreads, seconds);
		hsm_key_free(k);
		EVP_PKEY_free(sk);
		return 0;
	}
	for (mode = 0; mode < 2; mode++) {
		memset(&cfg, 0, sizeof(cfg));
		if (module != NULL) {
			if (mode == 1)
				break;
			cfg.backend = HSM_BACKEND_PKCS11;
			cfg.module = module;
			cfg.token = token;
			cfg.pin_source = pin;
			cfg.need = HSM_NEED_ECDH | HSM_NEED_SIGN;
		} else {
			if ((mode == 0 && strcmp(session, "plain") == 0) ||
			    (mode == 1 && strcmp(session, "salted") == 0))
				continue;
			cfg.backend = HSM_BACKEND_TPM2;
			cfg.tcti = tcti;
			cfg.tpm_plain_session = mode;
		}
		if ((r = hsm_open(&cfg, &h)) != 0 ||
		    (r = hsm_key_open(h, module ? key : blob, &k)) != 0) {
			fprintf(stderr, "token-rate: %s\n", err_msg(r));
			hsm_close(h);
			return 1;
		}
		if (module != NULL)
			snprintf(what, sizeof(what), "PKCS#11 raw Cryptoki, %s", hsm_describe(h) + 8);
		else
			snprintf(what, sizeof(what), "TPM 2.0 swtpm, %s",
				 mode ? "password session" : "salted encrypting session");
		table(what, k, threads, nthreads, seconds);
		hsm_key_free(k);
		k = NULL;
		hsm_close(h);
		h = NULL;
	}
	return 0;
}

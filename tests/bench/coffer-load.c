// SPDX-License-Identifier: ISC
/*
 * coffer-load: the load generator of the benchmark (tests/bench/run.sh; not a
 * meson test, it prints figures and asserts no timing).
 *
 *   coffer-load fetch --server ADDR --server-key PEM --keys DIR --threads N
 *                     [--seconds S] [--warmup S] [--server-pid PID]
 *                     [--floor-us US] [--label TEXT] [--header]
 *	N threads on libcoffer (clients/coffer.h only), thread i as client key
 *	DIR/client-i.pem (its own key: concurrent Hellos of one key are replays by
 *	design). Each loop is one coffer_fetch: connect, Hello, Link, Get, OkGet,
 *	Bye, close; nothing reused. Prints one markdown table row: fetches/s,
 *	p50/p99/p99.9 latency, errors, and with --server-pid the server's CPU
 *	per fetch (utime+stime from /proc/PID/stat over the measured window,
 *	summed over PID and its children: the monitor and its network
 *	process), its ratio to --floor-us, and the server's RSS and private
 *	memory (both processes) sampled half-way through the window
 *	(/proc/PID/smaps_rollup), and this process' own CPU per fetch (the
 *	load generator shares the cores).
 *
 *   coffer-load hold --server ADDR --count N
 *	Open N TCP connections that never send a byte, print "held N" and keep
 *	them until stdin reaches EOF (or is closed), then close them.
 *
 *   coffer-load floor [--seconds S]
 *	OpenSSL's software P-256 cost on this machine, one thread, in this
 *	process' CPU time: ephemeral key generation, ECDH without and with the
 *	peer validation OpenSSL 3 adds by default (µs per operation);
 *	the server's floor is one token ECDH + keygen + 2 ECDH (ee, se).
 *
 * Exit status: 0, 1 on a failure to set up (or when every fetch failed), 2 on
 * usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "coffer.h"

#define MAX_THREADS 1024
#define MAX_HOLD 1000000

enum phase {
	PH_WARMUP = 0,
	PH_MEASURE = 1,
	PH_STOP = 2,
};

struct opts {
	const char *server, *server_key, *keys, *label;
	unsigned threads, count;
	double seconds, warmup, floor_us;
	long server_pid;
	int header;
};

struct worker {
	pthread_t th;
	const struct opts *o;
	unsigned idx;
	struct coffer_client *client;
	uint32_t *lat_us; /* latencies of the fetches that completed in the window */
	size_t n, cap;
	unsigned long errors;
	int setup_rc;
	char first_error[256];
};

static atomic_int phase;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: coffer-load fetch --server ADDR --server-key PEM --keys DIR --threads N\n"
		"                         [--seconds S] [--warmup S] [--server-pid PID]\n"
		"                         [--floor-us US] [--label TEXT] [--header]\n"
		"       coffer-load hold --server ADDR --count N\n"
		"       coffer-load floor [--seconds S]\n");
	exit(2);
}

/* ---- the server process, from /proc ---- */

/* utime + stime of PID in seconds; -1 if unreadable. */
static double proc_cpu(long pid)
{
	char path[64], line[4096], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	/* The command name is in parentheses and may hold spaces: skip past ')'. */
	if ((p = strrchr(line, ')')) == NULL)
		return -1;
	/* Fields after ')': 3 state ... 14 utime 15 stime (1-based in proc(5)). */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Rss and private (clean + dirty) of PID in KiB from smaps_rollup; 0 if unreadable. */
static int proc_mem(long pid, unsigned long *rss_kb, unsigned long *priv_kb)
{
	char path[64], line[256];
	unsigned long v;
	FILE *f;

	*rss_kb = *priv_kb = 0;
	snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "Rss: %lu kB", &v) == 1)
			*rss_kb = v;
		else if (sscanf(line, "Private_Clean: %lu kB", &v) == 1 ||
			 sscanf(line, "Private_Dirty: %lu kB", &v) == 1)
			*priv_kb += v;
	}
	fclose(f);
	return 0;
}

/* PID and its live children (the network process of a monitor), up to cap. */
static size_t proc_family(long pid, long *out, size_t cap)
{
	char path[96];
	size_t n = 0;
	long child;
	FILE *f;

	out[n++] = pid;
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", pid, pid);
	if ((f = fopen(path, "r")) == NULL)
		return n;
	while (n < cap && fscanf(f, "%ld", &child) == 1)
		out[n++] = child;
	fclose(f);
	return n;
}

/* CPU seconds of the server: the process and its children. */
static double server_cpu(long pid)
{
	long fam[8];
	size_t n = proc_family(pid, fam, 8), i;
	double sum = 0, c;

	for (i = 0; i < n; i++)
		if ((c = proc_cpu(fam[i])) > 0)
			sum += c;
	return sum;
}

/* Memory of the server, summed over the process and its children. */
static void server_mem(long pid, unsigned long *rss_kb, unsigned long *priv_kb)
{
	long fam[8];
	size_t n = proc_family(pid, fam, 8), i;
	unsigned long r, p;

	*rss_kb = *priv_kb = 0;
	for (i = 0; i < n; i++) {
		if (proc_mem(fam[i], &r, &p) == 0) {
			*rss_kb += r;
			*priv_kb += p;
		}
	}
}

/* ---- fetch ---- */

/* This process' CPU seconds, all threads. */
static double self_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int lat_push(struct worker *w, uint32_t us)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 1024;
		uint32_t *p = realloc(w->lat_us, cap * sizeof(*p));
		if (p == NULL)
			return -1;
		w->lat_us = p;
		w->cap = cap;
	}
	w->lat_us[w->n++] = us;
	return 0;
}

static void *fetch_worker(void *arg)
{
	struct worker *w = arg;

	while (atomic_load(&phase) != PH_STOP) {
		struct coffer_result *res = NULL;
		double t0 = now_s(), t1;
		int st = coffer_fetch(w->client, NULL, 0, &res);

		t1 = now_s();
		if (st == COFFER_OK && coffer_result_count(res) == 0)
			st = COFFER_E_PROTOCOL; /* every bench client has secrets */
		coffer_result_free(res);
		if (atomic_load(&phase) != PH_MEASURE)
			continue;
		if (st != COFFER_OK) {
			if (w->errors++ == 0)
				snprintf(w->first_error, sizeof(w->first_error), "%s: %s",
					 coffer_strerror(st), coffer_last_error());
			/* Do not spin on a dead server. */
			sleep_s(0.01);
			continue;
		}
		if (lat_push(w, (uint32_t)((t1 - t0) * 1e6)) != 0) {
			w->errors++;
			break;
		}
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v (n > 0), in milliseconds. */
static double pct_ms(const uint32_t *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)n + 0.999999);

	if (i < 1)
		i = 1;
	if (i > n)
		i = n;
	return (double)v[i - 1] / 1000.0;
}

static int make_client(const struct opts *o, unsigned idx, struct coffer_client **out)
{
	struct coffer_config *cfg = NULL;
	char path[4096];
	int st;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/client-%u.pem", o->keys, idx);
	if ((cfg = coffer_config_new()) == NULL) {
		st = COFFER_E_LOCAL;
		goto out;
	}
	if ((st = coffer_config_add_server(cfg, o->server, NULL)) != COFFER_OK ||
	    (st = coffer_config_set_server_key_file(cfg, o->server_key)) != COFFER_OK ||
	    (st = coffer_config_set_key_file(cfg, path)) != COFFER_OK ||
	    (st = coffer_config_set_timeout_ms(cfg, 30000)) != COFFER_OK ||
	    (st = coffer_client_new(cfg, out)) != COFFER_OK)
		fprintf(stderr, "coffer-load: client %s: %s\n", path, coffer_last_error());
out:
	coffer_config_free(cfg);
	return st;
}

static int cmd_fetch(const struct opts *o)
{
	struct worker *w = NULL;
	uint32_t *all = NULL;
	size_t total = 0, k;
	unsigned long errors = 0, rss = 0, priv = 0;
	unsigned i, started = 0;
	double t0 = 0, t1 = 0, c0 = -1, c1 = -1, cpu_us = 0, s0 = 0, s1 = 0;
	const char *first_error = NULL;
	char cpu_txt[32] = "-", ratio_txt[32] = "-", mem_txt[48] = "-";
	int rc = 1;

	if (o->server == NULL || o->server_key == NULL || o->keys == NULL || o->threads == 0 ||
	    o->threads > MAX_THREADS)
		usage();
	if ((w = calloc(o->threads, sizeof(*w))) == NULL) {
		fprintf(stderr, "coffer-load: out of memory\n");
		goto out;
	}
	for (i = 0; i < o->threads; i++) {
		w[i].o = o;
		w[i].idx = i;
		if (make_client(o, i, &w[i].client) != COFFER_OK)
			goto out;
	}
	atomic_store(&phase, PH_WARMUP);
	for (i = 0; i < o->threads; i++) {
		if (pthread_create(&w[i].th, NULL, fetch_worker, &w[i]) != 0) {
			fprintf(stderr, "coffer-load: pthread_create: %s\n", strerror(errno));
			atomic_store(&phase, PH_STOP);
			goto join;
		}
		started++;
	}
	sleep_s(o->warmup);
	if (o->server_pid > 0)
		c0 = server_cpu(o->server_pid);
	s0 = self_cpu();
	t0 = now_s();
	atomic_store(&phase, PH_MEASURE);
	sleep_s(o->seconds / 2);
	if (o->server_pid > 0)
		server_mem(o->server_pid, &rss, &priv);
	sleep_s(o->seconds - (now_s() - t0));
	atomic_store(&phase, PH_STOP);
	t1 = now_s();
	s1 = self_cpu();
	if (o->server_pid > 0)
		c1 = server_cpu(o->server_pid);
join:
	for (i = 0; i < started; i++)
		pthread_join(w[i].th, NULL);
	if (started != o->threads)
		goto out;
	for (i = 0; i < o->threads; i++) {
		total += w[i].n;
		errors += w[i].errors;
		if (first_error == NULL && w[i].errors != 0)
			first_error = w[i].first_error;
	}
	if (total == 0) {
		fprintf(stderr, "coffer-load: no fetch succeeded (%lu errors): %s\n", errors,
			first_error ? first_error : "none completed in the window");
		goto out;
	}
	if ((all = malloc(total * sizeof(*all))) == NULL) {
		fprintf(stderr, "coffer-load: out of memory\n");
		goto out;
	}
	for (i = 0, k = 0; i < o->threads; i++) {
		memcpy(all + k, w[i].lat_us, w[i].n * sizeof(*all));
		k += w[i].n;
	}
	qsort(all, total, sizeof(*all), cmp_u32);
	if (c0 >= 0 && c1 >= 0) {
		cpu_us = (c1 - c0) * 1e6 / (double)total;
		snprintf(cpu_txt, sizeof(cpu_txt), "%.0f", cpu_us);
		if (o->floor_us > 0)
			snprintf(ratio_txt, sizeof(ratio_txt), "%.2f", cpu_us / o->floor_us);
	}
	if (rss != 0)
		snprintf(mem_txt, sizeof(mem_txt), "%.1f / %.1f", (double)rss / 1024.0,
			 (double)priv / 1024.0);
	if (o->header) {
		printf("| %-22s | clients | fetches | fetches/s | p50 ms | p99 ms | p99.9 ms | errors "
		       "| server CPU µs/fetch | × floor | server RSS / private MiB | load-gen CPU µs/fetch |\n",
		       "run");
		printf("|------------------------|---------|---------|-----------|--------|--------|"
		       "----------|--------|---------------------|---------|--------------------------|"
		       "-----------------------|\n");
	}
	printf("| %-22s | %7u | %7zu | %9.0f | %6.2f | %6.2f | %8.2f | %6lu | %19s | %7s | %24s "
	       "| %21.0f |\n",
	       o->label ? o->label : "fetch", o->threads, total, (double)total / (t1 - t0),
	       pct_ms(all, total, 50), pct_ms(all, total, 99), pct_ms(all, total, 99.9), errors,
	       cpu_txt, ratio_txt, mem_txt, (s1 - s0) * 1e6 / (double)total);
	fflush(stdout);
	if (first_error != NULL)
		fprintf(stderr, "coffer-load: %lu failed fetches; first: %s\n", errors, first_error);
	rc = 0;
out:
	if (w != NULL) {
		for (i = 0; i < o->threads; i++) {
			coffer_client_free(w[i].client);
			free(w[i].lat_us);
		}
	}
	free(w);
	free(all);
	return rc;
}

/* ---- hold ---- */

static int parse_addr(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	size_t hl;
	long port;
	char *end;

	memset(a, 0, sizeof(*a));
	if (colon == NULL || (hl = (size_t)(colon - s)) == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
		return -1;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static int cmd_hold(const struct opts *o)
{
	struct sockaddr_in a;
	int *fds = NULL;
	unsigned i, n = 0;
	char c;
	int rc = 1;

	if (o->server == NULL || o->count == 0 || o->count > MAX_HOLD)
		usage();
	if (parse_addr(o->server, &a) != 0) {
		fprintf(stderr, "coffer-load: hold: --server must be IPv4:PORT\n");
		usage();
	}
	if ((fds = calloc(o->count, sizeof(*fds))) == NULL) {
		fprintf(stderr, "coffer-load: out of memory\n");
		goto out;
	}
	for (i = 0; i < o->count; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			fprintf(stderr, "coffer-load: socket %u: %s\n", i, strerror(errno));
			goto out;
		}
		fds[n++] = fd;
		/* Blocking connect: the server's accept queue drains as it accepts. */
		if (connect(fd, (const struct sockaddr *)&a, sizeof(a)) != 0) {
			fprintf(stderr, "coffer-load: connect %u: %s\n", i, strerror(errno));
			goto out;
		}
	}
	printf("held %u\n", n);
	fflush(stdout);
	/* Until the parent closes our stdin. */
	while (read(STDIN_FILENO, &c, 1) > 0 || errno == EINTR)
		errno = 0;
	rc = 0;
out:
	for (i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	return rc;
}

/* ---- floor ---- */


static EVP_PKEY *gen_p256(void)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;

	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_group_name(ctx, "P-256") != 1 || EVP_PKEY_keygen(ctx, &k) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	return k;
}

/* validate: also the full public-key check of the peer (OpenSSL 3's default). */
static int ecdh(EVP_PKEY *priv, EVP_PKEY *peer, int validate, unsigned char out[32])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(priv, NULL);
	size_t len = 32;
	int ok;

	ok = ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
	     EVP_PKEY_derive_set_peer_ex(ctx, peer, validate) == 1 &&
	     EVP_PKEY_derive(ctx, out, &len) == 1 && len == 32;
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int cmd_floor(const struct opts *o)
{
	EVP_PKEY *a = NULL, *b = NULL;
	unsigned char z[32];
	double t, c0, kg_us, dh_us[2];
	unsigned long n;
	int rc = 1, v;

	if ((a = gen_p256()) == NULL || (b = gen_p256()) == NULL) {
		fprintf(stderr, "coffer-load: P-256 key generation failed\n");
		goto out;
	}
	c0 = self_cpu();
	t = now_s() + o->seconds;
	for (n = 0; now_s() < t; n++) {
		EVP_PKEY *k = gen_p256();
		if (k == NULL) {
			fprintf(stderr, "coffer-load: P-256 key generation failed\n");
			goto out;
		}
		EVP_PKEY_free(k);
	}
	kg_us = (self_cpu() - c0) * 1e6 / (double)n;
	for (v = 0; v < 2; v++) {
		c0 = self_cpu();
		t = now_s() + o->seconds;
		for (n = 0; now_s() < t; n++) {
			if (ecdh(a, b, v, z) != 0) {
				fprintf(stderr, "coffer-load: P-256 ECDH failed\n");
				goto out;
			}
		}
		dh_us[v] = (self_cpu() - c0) * 1e6 / (double)n;
	}
	printf("keygen_us %.1f\necdh_us %.1f\necdh_validated_us %.1f\n", kg_us, dh_us[0], dh_us[1]);
	rc = 0;
out:
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "server-key", required_argument, NULL, 'k' },
		{ "keys", required_argument, NULL, 'K' },
		{ "threads", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "server-pid", required_argument, NULL, 'p' },
		{ "floor-us", required_argument, NULL, 'f' },
		{ "label", required_argument, NULL, 'l' },
		{ "header", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o;
	const char *cmd;
	char *end;
	int c;

	if (argc < 2)
		usage();
	cmd = argv[1];
	memset(&o, 0, sizeof(o));
	o.seconds = 5;
	o.warmup = 1;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		errno = 0;
		switch (c) {
		case 's': o.server = optarg; break;
		case 'k': o.server_key = optarg; break;
		case 'K': o.keys = optarg; break;
		case 'l': o.label = optarg; break;
		case 'H': o.header = 1; break;
		case 't':
		case 'c':
		case 'p': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || optarg[0] == '\0' || v > MAX_HOLD)
				usage();
			if (c == 't')
				o.threads = (unsigned)v;
			else if (c == 'c')
				o.count = (unsigned)v;
			else
				o.server_pid = (long)v;
			break;
		}
		case 'n':
		case 'w':
		case 'f': {
			double v = strtod(optarg, &end);
			if (errno != 0 || *end != '\0' || v < 0 || v > 3600)
				usage();
			if (c == 'n')
				o.seconds = v;
			else if (c == 'w')
				o.warmup = v;
			else
				o.floor_us = v;
			break;
		}
		default:
			usage();
		}
	}
	if (optind != argc || o.seconds <= 0)
		usage();
	if (strcmp(cmd, "fetch") == 0)
		return cmd_fetch(&o);
	if (strcmp(cmd, "hold") == 0)
		return cmd_hold(&o);
	if (strcmp(cmd, "floor") == 0)
		return cmd_floor(&o);
	usage();
	return 2;
}

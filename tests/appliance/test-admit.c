// SPDX-License-Identifier: ISC
/* Unit tests of the network process's admission control (appliance/admit.h). */
#include "admit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "unit.h"

static struct sockaddr_in v4(const char *a)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	inet_pton(AF_INET, a, &s.sin_addr);
	return s;
}

static struct sockaddr_in6 v6(const char *a)
{
	struct sockaddr_in6 s;

	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	inet_pton(AF_INET6, a, &s.sin6_addr);
	return s;
}

#define SA(x) ((struct sockaddr *)&(x))

static struct admit *make(unsigned rate, unsigned burst, unsigned per_source, unsigned budget)
{
	struct admit_config c;

	memset(&c, 0, sizeof(c));
	c.max_connections = 1024;
	c.max_per_source = per_source;
	c.rate = rate;
	c.burst = burst;
	c.token_budget = budget;
	return admit_new(&c);
}

static void test_rate(void)
{
	struct admit *l;
	struct sockaddr_in a = v4("10.0.0.1"), b = v4("10.0.0.2");
	struct sockaddr_in6 x = v6("2001:db8::1"), y = v6("2001:db8::2"), z = v6("2001:db8:1::1");
	int i, n;

	TEST_START("Hello rate: burst, then refused, then refilled at the rate");
	l = make(10, 5, 100, 0);
	ASSERT_TRUE(l != NULL);
	for (i = 0, n = 0; i < 20; i++)
		n += admit_hello(l, SA(a), 1000) == ADMIT_OK;
	ASSERT_INT_EQ(n, 5);
	/* 100 ms at 10/s: one more token. */
	ASSERT_INT_EQ(admit_hello(l, SA(a), 1100), ADMIT_OK);
	ASSERT_INT_EQ(admit_hello(l, SA(a), 1100), ADMIT_RATE);
	ASSERT_INT_EQ(admit_hello(l, SA(a), 1149), ADMIT_RATE);
	ASSERT_INT_EQ(admit_hello(l, SA(a), 1200), ADMIT_OK);
	/* A long pause refills only up to the burst. */
	for (i = 0, n = 0; i < 20; i++)
		n += admit_hello(l, SA(a), 1000000) == ADMIT_OK;
	ASSERT_INT_EQ(n, 5);
	TEST_DONE();

	TEST_START("sources are independent; IPv6 by /64");
	ASSERT_INT_EQ(admit_hello(l, SA(b), 1000000), ADMIT_OK);
	for (i = 0, n = 0; i < 10; i++) {
		n += admit_hello(l, SA(x), 5000) == ADMIT_OK;
		n += admit_hello(l, SA(y), 5000) == ADMIT_OK;
	}
	ASSERT_INT_EQ(n, 5); /* same /64 shares one bucket */
	ASSERT_INT_EQ(admit_hello(l, SA(z), 5000), ADMIT_OK);
	TEST_DONE();

	TEST_START("a flood of addresses never grows memory and recycles idle entries");
	for (i = 0; i < 100000; i++) {
		struct sockaddr_in s;
		memset(&s, 0, sizeof(s));
		s.sin_family = AF_INET;
		s.sin_addr.s_addr = htonl(0x0b000000u + (uint32_t)i);
		ASSERT_INT_EQ(admit_hello(l, SA(s), 6000), ADMIT_OK);
	}
	admit_free(l);
	admit_free(NULL);
	TEST_DONE();
}

static void test_connections(void)
{
	struct admit *l = make(10, 10, 3, 0);
	struct sockaddr_in a = v4("10.0.0.1"), a2 = v4("10.0.0.1"), b = v4("10.0.0.2");
	struct sockaddr_in6 x = v6("2001:db8::1"), y = v6("2001:db8::ffff:1");
	int i;

	TEST_START("connections per source: the limit, then room again after a close");
	a2.sin_port = htons(4444); /* another port of the same host */
	ASSERT_INT_EQ(admit_conn_open(l, SA(a), 0, 1), ADMIT_OK);
	ASSERT_INT_EQ(admit_conn_open(l, SA(a2), 0, 1), ADMIT_OK);
	ASSERT_INT_EQ(admit_conn_open(l, SA(a), 0, 1), ADMIT_OK);
	ASSERT_INT_EQ(admit_conn_open(l, SA(a), 0, 1), ADMIT_PER_SOURCE);
	ASSERT_INT_EQ(admit_conn_open(l, SA(b), 0, 1), ADMIT_OK);
	admit_conn_close(l, SA(a2));
	ASSERT_INT_EQ(admit_conn_open(l, SA(a), 0, 1), ADMIT_OK);
	ASSERT_INT_EQ(admit_conn_open(l, SA(x), 0, 1), ADMIT_OK);
	ASSERT_INT_EQ(admit_conn_open(l, SA(y), 0, 1), ADMIT_OK);
	ASSERT_INT_EQ(admit_conn_open(l, SA(x), 0, 1), ADMIT_OK);
	ASSERT_INT_EQ(admit_conn_open(l, SA(y), 0, 1), ADMIT_PER_SOURCE); /* one /64 */
	TEST_DONE();

	TEST_START("a source with open connections is never recycled by a flood of others");
	for (i = 0; i < 200000; i++) {
		struct sockaddr_in s;
		memset(&s, 0, sizeof(s));
		s.sin_family = AF_INET;
		s.sin_addr.s_addr = htonl(0x0c000000u + (uint32_t)i);
		(void)admit_hello(l, SA(s), 100 + (uint64_t)i);
	}
	ASSERT_INT_EQ(admit_conn_open(l, SA(a), 0, 300000), ADMIT_PER_SOURCE);
	admit_free(l);
	TEST_DONE();
}

static void test_startups(void)
{
	struct admit_config c;
	struct admit *l;
	struct sockaddr_in a = v4("10.1.0.1");
	int i, dropped;

	memset(&c, 0, sizeof(c));
	c.max_connections = 1024;
	c.max_per_source = 100000;
	c.rate = c.burst = 1;
	c.startups_start = 10;
	c.startups_rate = 30;
	c.startups_full = 100;
	l = admit_new(&c);
	TEST_START("MaxStartups: none dropped below start, about rate% at start, all at full");
	ASSERT_TRUE(l != NULL);
	for (i = 0; i < 1000; i++) {
		ASSERT_INT_EQ(admit_conn_open(l, SA(a), 9, 1), ADMIT_OK);
		admit_conn_close(l, SA(a));
	}
	for (i = 0, dropped = 0; i < 10000; i++) {
		if (admit_conn_open(l, SA(a), 10, 1) == ADMIT_STARTUPS)
			dropped++;
		else
			admit_conn_close(l, SA(a));
	}
	ASSERT_TRUE(dropped > 2500 && dropped < 3500);
	for (i = 0, dropped = 0; i < 10000; i++) {
		if (admit_conn_open(l, SA(a), 55, 1) == ADMIT_STARTUPS)
			dropped++;
		else
			admit_conn_close(l, SA(a));
	}
	ASSERT_TRUE(dropped > 6000 && dropped < 7000); /* 30 + 70 * 45/90 = 65% */
	for (i = 0; i < 1000; i++)
		ASSERT_INT_EQ(admit_conn_open(l, SA(a), 100, 1), ADMIT_STARTUPS);
	admit_free(l);
	TEST_DONE();
}

static void test_budget(void)
{
	struct admit *l = make(1000, 1000, 100, 100);
	struct sockaddr_in good = v4("10.2.0.1"), stranger = v4("10.2.0.2");
	int i, n;

	TEST_START("token budget: strangers cost two and may not take the last quarter");
	for (i = 0, n = 0; i < 100; i++)
		n += admit_hello(l, SA(stranger), 1000) == ADMIT_OK;
	ASSERT_INT_EQ(n, 37); /* 100 tokens: 2 each while 25 + 2 are left */
	ASSERT_INT_EQ(admit_hello(l, SA(stranger), 1000), ADMIT_BUDGET);
	TEST_DONE();

	TEST_START("token budget: a source that completed a handshake still gets in, at one each");
	admit_good(l, SA(good), 1000);
	for (i = 0, n = 0; i < 100; i++)
		n += admit_hello(l, SA(good), 1000) == ADMIT_OK;
	ASSERT_INT_EQ(n, 26);
	ASSERT_INT_EQ(admit_hello(l, SA(good), 1000), ADMIT_BUDGET);
	/* Half a second refills 50 operations. */
	ASSERT_INT_EQ(admit_hello(l, SA(good), 1500), ADMIT_OK);
	/* ... and strangers again, above the reserve. */
	ASSERT_INT_EQ(admit_hello(l, SA(stranger), 1500), ADMIT_OK);
	admit_free(l);
	TEST_DONE();
}

static void test_seen(void)
{
	struct admit *l = make(1, 1, 1, 0);
	uint8_t e[ADMIT_POINT_LEN];
	uint32_t i;
	int again = 0;

	TEST_START("ephemeral keys: a repeat is seen, fresh ones are not, memory is bounded");
	memset(e, 0x42, sizeof(e));
	ASSERT_INT_EQ(admit_ephemeral_seen(l, e), 0);
	ASSERT_INT_EQ(admit_ephemeral_seen(l, e), 1);
	for (i = 0; i < 3 * ADMIT_SEEN; i++) {
		memcpy(e + 1, &i, sizeof(i));
		again += admit_ephemeral_seen(l, e);
	}
	ASSERT_INT_EQ(again, 0);
	/* The last ADMIT_SEEN / 2 are remembered. */
	for (i = 3 * ADMIT_SEEN - ADMIT_SEEN / 2; i < 3 * ADMIT_SEEN; i++) {
		memcpy(e + 1, &i, sizeof(i));
		ASSERT_INT_EQ(admit_ephemeral_seen(l, e), 1);
	}
	admit_free(l);
	TEST_DONE();
}

int main(void)
{
	test_rate();
	test_connections();
	test_startups();
	test_budget();
	test_seen();
	return unit_finish("appliance/admit");
}

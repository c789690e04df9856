// SPDX-License-Identifier: ISC
/* Unit tests of the per-address handshake token bucket. */
#include "ratelimit.h"

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

int main(void)
{
	struct ratelimit *rl;
	struct sockaddr_in a = v4("10.0.0.1"), b = v4("10.0.0.2");
	struct sockaddr_in6 x = v6("2001:db8::1"), y = v6("2001:db8::2"), z = v6("2001:db8:1::1");
	int i, n;

	TEST_START("burst, then refused, then refilled at the rate");
	rl = ratelimit_new(10, 5);
	ASSERT_TRUE(rl != NULL);
	for (i = 0, n = 0; i < 20; i++)
		n += ratelimit_allow(rl, (struct sockaddr *)&a, 1000);
	ASSERT_INT_EQ(n, 5);
	/* 100 ms at 10/s: one more token. */
	ASSERT_INT_EQ(ratelimit_allow(rl, (struct sockaddr *)&a, 1100), 1);
	ASSERT_INT_EQ(ratelimit_allow(rl, (struct sockaddr *)&a, 1100), 0);
	ASSERT_INT_EQ(ratelimit_allow(rl, (struct sockaddr *)&a, 1149), 0);
	ASSERT_INT_EQ(ratelimit_allow(rl, (struct sockaddr *)&a, 1200), 1);
	/* A long pause refills only up to the burst. */
	for (i = 0, n = 0; i < 20; i++)
		n += ratelimit_allow(rl, (struct sockaddr *)&a, 1000000);
	ASSERT_INT_EQ(n, 5);
	TEST_DONE();

	TEST_START("addresses are independent; IPv6 by /64");
	ASSERT_INT_EQ(ratelimit_allow(rl, (struct sockaddr *)&b, 1000000), 1);
	for (i = 0, n = 0; i < 10; i++) {
		n += ratelimit_allow(rl, (struct sockaddr *)&x, 5000);
		n += ratelimit_allow(rl, (struct sockaddr *)&y, 5000);
	}
	ASSERT_INT_EQ(n, 5); /* same /64 shares one bucket */
	ASSERT_INT_EQ(ratelimit_allow(rl, (struct sockaddr *)&z, 5000), 1);
	TEST_DONE();

	TEST_START("a flood of addresses never grows memory and recycles slots");
	for (i = 0; i < 100000; i++) {
		struct sockaddr_in s;
		memset(&s, 0, sizeof(s));
		s.sin_family = AF_INET;
		s.sin_addr.s_addr = htonl(0x0b000000u + (uint32_t)i);
		ASSERT_INT_EQ(ratelimit_allow(rl, (struct sockaddr *)&s, 6000), 1);
	}
	ratelimit_free(rl);
	ratelimit_free(NULL);
	TEST_DONE();
	return unit_finish("appliance/ratelimit");
}

// SPDX-License-Identifier: ISC
/* Server addresses, connect deadlines and frame I/O over a socketpair. */
#include "net.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "unit.h"

static void addr_ok(const char *a, const char *host, const char *port)
{
	char h[NET_HOST_MAX], p[NET_PORT_MAX];

	ASSERT_INT_EQ(net_parse_addr(a, h, p), 0);
	ASSERT_STR_EQ(h, host);
	ASSERT_STR_EQ(p, port);
}

static void addr_bad(const char *a)
{
	char h[NET_HOST_MAX], p[NET_PORT_MAX];

	ASSERT_INT_EQ(net_parse_addr(a, h, p), ERR_FORMAT);
}

int main(void)
{
	int sv[2], fd = -1, lfd;
	struct buf *b = buf_new(0);
	uint8_t type = 0, body[300];
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	uint64_t t0;

	TEST_START("addresses");
	addr_ok("example.org:9187", "example.org", "9187");
	addr_ok("127.0.0.1:1", "127.0.0.1", "1");
	addr_ok("[::1]:65535", "::1", "65535");
	addr_ok("[fe80::1%eth0]:22", "fe80::1%eth0", "22");
	addr_bad("::1:22");
	addr_bad("example.org");
	addr_bad("example.org:");
	addr_bad(":22");
	addr_bad("h:0");
	addr_bad("h:65536");
	addr_bad("h:22x");
	addr_bad("h:+22");
	addr_bad("[::1]22");
	addr_bad("[::1");
	addr_bad("[]:22");
	addr_bad("h:0000022");
	TEST_DONE();

	TEST_START("frames over a socketpair");
	ASSERT_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(body, 0xab, sizeof(body));
	ASSERT_INT_EQ(net_write_frame(sv[0], 0x03, body, sizeof(body), net_now_ms() + 1000), 0);
	ASSERT_INT_EQ(net_write_frame(sv[0], 0x99, NULL, 0, net_now_ms() + 1000), 0);
	ASSERT_INT_EQ(net_read_frame(sv[1], &type, b, net_now_ms() + 1000), 0);
	ASSERT_INT_EQ(type, 0x03);
	ASSERT_SIZE_EQ(buf_len(b), sizeof(body));
	ASSERT_MEM_EQ(buf_ptr(b), body, sizeof(body));
	ASSERT_INT_EQ(net_read_frame(sv[1], &type, b, net_now_ms() + 1000), 0);
	ASSERT_INT_EQ(type, 0x99);
	ASSERT_SIZE_EQ(buf_len(b), 0);
	TEST_DONE();

	TEST_START("read deadline, early close");
	t0 = net_now_ms();
	ASSERT_INT_EQ(net_read_frame(sv[1], &type, b, net_now_ms() + 200), ERR_TIMEOUT);
	ASSERT_TRUE(net_now_ms() - t0 >= 190 && net_now_ms() - t0 < 2000);
	ASSERT_INT_EQ(write(sv[0],
	                    "\x00\x05\x03"
	                    "ab",
	                    5),
	              5);
	close(sv[0]);
	ASSERT_INT_EQ(net_read_frame(sv[1], &type, b, net_now_ms() + 1000), ERR_IO);
	close(sv[1]);
	TEST_DONE();

	TEST_START("connect: refused, and a listener that accepts");
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_INT_EQ(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ASSERT_INT_EQ(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	{
		char a[64];
		snprintf(a, sizeof(a), "127.0.0.1:%u", ntohs(sin.sin_port));
		/* Bound but not listening: refused. */
		ASSERT_INT_EQ(net_connect(a, net_now_ms() + 1000, &fd), ERR_IO);
		ASSERT_TRUE(fd == -1);
		ASSERT_INT_EQ(listen(lfd, 1), 0);
		ASSERT_INT_EQ(net_connect(a, net_now_ms() + 1000, &fd), 0);
		ASSERT_TRUE(fd >= 0);
		close(fd);
		ASSERT_INT_EQ(net_connect("no-such-host.invalid:1", net_now_ms() + 1000, &fd),
		              ERR_NOT_FOUND);
	}
	close(lfd);
	TEST_DONE();

	buf_free(b);
	return unit_finish("clients/net");
}

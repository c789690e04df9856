// SPDX-License-Identifier: ISC
/* Unit tests of audit record formatting and writing. */
#include "audit.h"
#include "ipc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

int main(void)
{
	struct audit_event ev;
	struct audit *a = NULL;
	char out[AUDIT_MAX_LINE], path[] = "/tmp/coffer-audit-XXXXXX", back[1024];
	const char *names[] = {"db_password", "we\"ird\n"};
	struct sockaddr_in6 s6;
	int n, fd;

	TEST_START("handshake record");
	memset(&ev, 0, sizeof(ev));
	ev.type = AUDIT_HANDSHAKE;
	ev.time_ns = 1795000000123456789ULL;
	ev.peer = "127.0.0.1:4000";
	ev.have_identity = 1;
	memset(ev.identity, 0xab, sizeof(ev.identity));
	ev.name = "web";
	ev.result = "ok";
	ev.keys = -1;
	n = audit_format(&ev, out, sizeof(out));
	ASSERT_TRUE(n > 0);
	ASSERT_STR_EQ(out, "{\"ts\":\"2026-11-18T11:06:40.123Z\",\"event\":\"handshake\","
			   "\"peer\":\"127.0.0.1:4000\",\"client\":\"ABAB-ABAB-ABAB-ABAB-ABAB-ABAB-"
			   "ABAB-ABAB-ABAB-ABAB-ABAB-ABAB-ABAB-ABAB-ABAB-ABAB\",\"name\":\"web\","
			   "\"result\":\"ok\"}\n");
	TEST_DONE();

	TEST_START("release record: names escaped, never values");
	ev.type = AUDIT_RELEASE;
	ev.keys = 2;
	ev.requested = names;
	ev.n_requested = 2;
	n = audit_format(&ev, out, sizeof(out));
	ASSERT_TRUE(n > 0);
	ASSERT_TRUE(strstr(out, "\"keys\":2,\"requested\":[\"db_password\",\"we\\\"ird\\u000a\"]}\n") !=
		    NULL);
	ev.requested = NULL;
	ev.n_requested = 0;
	n = audit_format(&ev, out, sizeof(out));
	ASSERT_TRUE(strstr(out, "\"requested\":\"all\"") != NULL);
	ASSERT_INT_EQ(audit_format(&ev, out, 40), ERR_TOO_LARGE);
	TEST_DONE();

	TEST_START("peer text");
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_port = htons(9187);
	inet_pton(AF_INET6, "::1", &s6.sin6_addr);
	ipc_peer_text((struct sockaddr *)&s6, out, sizeof(out));
	ASSERT_STR_EQ(out, "[::1]:9187");
	TEST_DONE();

	TEST_START("written with O_APPEND, one line per record");
	fd = mkstemp(path);
	ASSERT_TRUE(fd >= 0);
	ASSERT_INT_EQ(write(fd, "old\n", 4), 4);
	close(fd);
	ASSERT_INT_EQ(audit_open(path, &a), 0);
	ev.type = AUDIT_HANDSHAKE;
	ASSERT_INT_EQ(audit_write(a, &ev), 0);
	ASSERT_INT_EQ(audit_write(a, &ev), 0);
	audit_close(a);
	fd = open(path, O_RDONLY);
	n = (int)read(fd, back, sizeof(back) - 1);
	close(fd);
	ASSERT_TRUE(n > 0);
	back[n > 0 ? n : 0] = '\0';
	ASSERT_TRUE(strncmp(back, "old\n{", 5) == 0);
	ASSERT_TRUE(strchr(strchr(back + 4, '\n') + 1, '\n') != NULL);
	unlink(path);
	ASSERT_INT_EQ(audit_open("/nonexistent-dir/audit.log", &a), ERR_SYSTEM);
	ASSERT_TRUE(a == NULL);
	audit_close(NULL);
	TEST_DONE();
	return unit_finish("appliance/audit");
}

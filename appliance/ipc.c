// SPDX-License-Identifier: ISC
#include "ipc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

const char *ipc_type_name(uint8_t type)
{
	switch (type) {
	case IPC_CONFIG: return "CONFIG";
	case IPC_SEND: return "SEND";
	case IPC_CLOSE: return "CLOSE";
	case IPC_SHUTDOWN: return "SHUTDOWN";
	case IPC_READY: return "READY";
	case IPC_OPEN: return "OPEN";
	case IPC_FRAME: return "FRAME";
	case IPC_CLOSED: return "CLOSED";
	case IPC_REFUSED: return "REFUSED";
	}
	return "unknown";
}

static int type_known(uint8_t type)
{
	return strcmp(ipc_type_name(type), "unknown") != 0;
}

int ipc_put_hdr(struct buf *out, uint8_t type, uint8_t flags, uint64_t conn, size_t len)
{
	int r;

	if (len > IPC_MAX_BODY)
		return err_set(ERR_TOO_LARGE, "IPC %s: %zu bytes", ipc_type_name(type), len);
	if ((r = buf_put_u32(out, (uint32_t)len)) != 0 || (r = buf_put_u8(out, type)) != 0 ||
	    (r = buf_put_u8(out, flags)) != 0 || (r = buf_put_u16(out, 0)) != 0 ||
	    (r = buf_put_u64(out, conn)) != 0)
		return r;
	return 0;
}

int ipc_put(struct buf *out, uint8_t type, uint8_t flags, uint64_t conn, const void *body,
	    size_t len)
{
	int r;

	if ((r = ipc_put_hdr(out, type, flags, conn, len)) != 0 || (r = buf_put(out, body, len)) != 0)
		return r;
	return 0;
}

int ipc_get(struct buf *in, struct ipc_msg *m)
{
	const uint8_t *h;
	uint32_t len;
	int r;

	memset(m, 0, sizeof(*m));
	if (buf_len(in) < IPC_HDR_LEN)
		return ERR_INCOMPLETE;
	h = buf_ptr(in);
	len = buf_peek_be32(h);
	/* The header is judged before waiting for the body. */
	if (!type_known(h[4]))
		return err_set(ERR_PROTOCOL, "IPC: unknown message type %u", h[4]);
	if ((h[5] & ~(IPC_F_CLOSE | IPC_F_MORE)) != 0 || h[6] != 0 || h[7] != 0)
		return err_set(ERR_PROTOCOL, "IPC %s: reserved bits set", ipc_type_name(h[4]));
	if (len > IPC_MAX_BODY)
		return err_set(ERR_PROTOCOL, "IPC %s: body of %u bytes", ipc_type_name(h[4]), len);
	if (buf_len(in) - IPC_HDR_LEN < len)
		return ERR_INCOMPLETE;
	m->type = h[4];
	m->flags = h[5];
	m->conn = (uint64_t)buf_peek_be32(h + 8) << 32 | buf_peek_be32(h + 12);
	m->len = len;
	if ((r = buf_consume(in, IPC_HDR_LEN)) != 0 || (r = buf_get_direct(in, &m->body, len)) != 0)
		return r;
	return 0;
}

int ipc_peer_put(struct buf *out, const struct sockaddr *sa)
{
	uint8_t addr[16];
	uint16_t port;
	int r;

	memset(addr, 0, sizeof(addr));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
		memcpy(addr, &in4->sin_addr, 4);
		port = ntohs(in4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		memcpy(addr, &in6->sin6_addr, 16);
		port = ntohs(in6->sin6_port);
	} else {
		return err_set(ERR_PROTOCOL, "IPC: address family %d", sa->sa_family);
	}
	if ((r = buf_put_u8(out, sa->sa_family == AF_INET ? 4 : 6)) != 0 ||
	    (r = buf_put_u16(out, port)) != 0 || (r = buf_put(out, addr, sizeof(addr))) != 0)
		return r;
	return 0;
}

int ipc_peer_get(struct buf *in, struct sockaddr_storage *ss)
{
	uint8_t fam, addr[16];
	uint16_t port;
	int r;

	memset(ss, 0, sizeof(*ss));
	if ((r = buf_get_u8(in, &fam)) != 0 || (r = buf_get_u16(in, &port)) != 0 ||
	    (r = buf_get(in, addr, sizeof(addr))) != 0)
		return err_set(ERR_PROTOCOL, "IPC: short peer address");
	if (fam == 4) {
		struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
		static const uint8_t zero[12];
		if (memcmp(addr + 4, zero, sizeof(zero)) != 0)
			return err_set(ERR_PROTOCOL, "IPC: IPv4 peer with 16 address bytes");
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		memcpy(&in4->sin_addr, addr, 4);
	} else if (fam == 6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, addr, 16);
	} else {
		return err_set(ERR_PROTOCOL, "IPC: peer address family %u", fam);
	}
	return 0;
}

void ipc_peer_text(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
		snprintf(out, outlen, "%s:%u", host, ntohs(a4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
		snprintf(out, outlen, "[%s]:%u", host, ntohs(a6->sin6_port));
	} else {
		snprintf(out, outlen, "unknown");
	}
}

int ipc_config_put(struct buf *out, const struct ipc_config *c)
{
	const uint32_t v[] = {c->version,        c->max_connections, c->max_frame,
			      c->handshake_timeout, c->idle_timeout, c->max_handshakes,
			      c->rate,           c->burst,           c->grace,
			      c->max_per_source, c->startups_start,  c->startups_rate,
			      c->startups_full,  c->session_timeout, c->token_budget,
			      c->uid,            c->gid};
	size_t i;
	int r;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if ((r = buf_put_u32(out, v[i])) != 0)
			return r;
	if ((r = buf_put_u8(out, c->drop)) != 0 || (r = buf_put_u8(out, c->log_level)) != 0 ||
	    (r = buf_put_u8(out, c->n_listen)) != 0)
		return r;
	return 0;
}

int ipc_config_get(const uint8_t *p, size_t len, struct ipc_config *c)
{
	struct buf *b;
	uint32_t *v[] = {&c->version,        &c->max_connections, &c->max_frame,
			 &c->handshake_timeout, &c->idle_timeout, &c->max_handshakes,
			 &c->rate,           &c->burst,           &c->grace,
			 &c->max_per_source, &c->startups_start,  &c->startups_rate,
			 &c->startups_full,  &c->session_timeout, &c->token_budget,
			 &c->uid,            &c->gid};
	size_t i;
	int r = 0;

	memset(c, 0, sizeof(*c));
	if (len != IPC_CONFIG_LEN)
		return err_set(ERR_PROTOCOL, "IPC CONFIG: %zu bytes, expected %d", len,
			       IPC_CONFIG_LEN);
	if ((b = buf_from(p, len)) == NULL)
		return err_set(ERR_ALLOC, "IPC CONFIG");
	for (i = 0; i < sizeof(v) / sizeof(v[0]) && r == 0; i++)
		r = buf_get_u32(b, v[i]);
	if (r == 0 && ((r = buf_get_u8(b, &c->drop)) != 0 || (r = buf_get_u8(b, &c->log_level)) != 0 ||
		       (r = buf_get_u8(b, &c->n_listen)) != 0))
		r = ERR_PROTOCOL;
	buf_free(b);
	if (r != 0)
		return err_set(ERR_PROTOCOL, "IPC CONFIG: short");
	if (c->version != IPC_VERSION)
		return err_set(ERR_PROTOCOL,
			       "IPC version %u, this appliance-net speaks %d (binaries from two builds?)",
			       c->version, IPC_VERSION);
	if (c->n_listen > IPC_MAX_LISTEN || c->drop > 1 || c->max_connections == 0 ||
	    c->max_frame < WIRE_HEADER_LEN || c->max_frame > WIRE_MAX_FRAME ||
	    c->max_handshakes == 0 || c->log_level > 3 ||
	    c->startups_rate > 100 || c->startups_start > c->startups_full ||
	    c->session_timeout == 0)
		return err_set(ERR_PROTOCOL, "IPC CONFIG: a value out of range");
	return 0;
}

/* ---- connections by id ---- */

static size_t bucket(const struct ipc_map *m, uint64_t id)
{
	/* Fibonacci hashing: sequential ids spread over the buckets. */
	return (size_t)((id * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & m->mask;
}

int ipc_map_init(struct ipc_map *m, size_t expected)
{
	size_t n = 64;

	memset(m, 0, sizeof(*m));
	while (n < expected && n < (SIZE_MAX >> 2))
		n <<= 1;
	if ((m->buckets = calloc(n, sizeof(*m->buckets))) == NULL)
		return err_set(ERR_ALLOC, "connection table");
	m->mask = n - 1;
	return 0;
}

void ipc_map_clear(struct ipc_map *m)
{
	free(m->buckets);
	memset(m, 0, sizeof(*m));
}

struct ipc_link *ipc_map_find(const struct ipc_map *m, uint64_t id)
{
	struct ipc_link *l;

	for (l = m->buckets[bucket(m, id)]; l != NULL; l = l->hnext)
		if (l->id == id)
			return l;
	return NULL;
}

void ipc_map_add(struct ipc_map *m, struct ipc_link *l)
{
	struct ipc_link **head = &m->buckets[bucket(m, l->id)];

	l->hnext = *head;
	*head = l;
	m->n++;
}

void ipc_map_del(struct ipc_map *m, struct ipc_link *l)
{
	struct ipc_link **p;

	for (p = &m->buckets[bucket(m, l->id)]; *p != NULL; p = &(*p)->hnext) {
		if (*p == l) {
			*p = l->hnext;
			l->hnext = NULL;
			m->n--;
			return;
		}
	}
}

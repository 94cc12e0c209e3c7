/* PROXY protocol header encoder (see proxyproto.h and HAProxy's
 * proxy-protocol.txt, sections 2.1 and 2.2). */
#include "xconnect/proxyproto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Section 2.2: the 12 bytes that start every v2 header. */
static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
				   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

#define V2_VERSION 0x20
#define V2_CMD_LOCAL 0x00
#define V2_CMD_PROXY 0x01
#define V2_FAM_UNSPEC 0x00
#define V2_FAM_TCP4 0x11 /* AF_INET, SOCK_STREAM */
#define V2_FAM_TCP6 0x21 /* AF_INET6, SOCK_STREAM */

int pvx_pp_parse(const char *s, enum pvx_pp_version *v)
{
	if (s && strcmp(s, "v1") == 0)
		*v = PVX_PP_V1;
	else if (s && strcmp(s, "v2") == 0)
		*v = PVX_PP_V2;
	else
		return -EINVAL;
	return 0;
}

const char *pvx_pp_name(enum pvx_pp_version v)
{
	switch (v) {
	case PVX_PP_V1:
		return "v1";
	case PVX_PP_V2:
		return "v2";
	default:
		return "off";
	}
}

/* One end as an IP address: family AF_INET (4 bytes) or AF_INET6 (16),
 * an IPv4-mapped IPv6 address turned into IPv4. 0 when not IP. */
struct ip_end {
	int family;
	uint8_t addr[16];
	uint16_t port; /* network byte order */
};

static int ip_end_of(const struct sockaddr *sa, struct ip_end *e)
{
	const struct sockaddr_in *in = (const void *)sa;
	const struct sockaddr_in6 *in6 = (const void *)sa;

	memset(e, 0, sizeof(*e));
	if (!sa)
		return 0;
	if (sa->sa_family == AF_INET) {
		e->family = AF_INET;
		memcpy(e->addr, &in->sin_addr, 4);
		e->port = in->sin_port;
	} else if (sa->sa_family == AF_INET6) {
		e->port = in6->sin6_port;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			e->family = AF_INET;
			memcpy(e->addr, &in6->sin6_addr.s6_addr[12], 4);
		} else {
			e->family = AF_INET6;
			memcpy(e->addr, &in6->sin6_addr, 16);
		}
	}
	return e->family;
}

static int encode_v1(const struct ip_end *s, const struct ip_end *d, bool known,
		     uint8_t *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	int n;

	if (!known) {
		n = snprintf((char *)buf, len, "PROXY UNKNOWN\r\n");
	} else {
		inet_ntop(s->family, s->addr, a, sizeof(a));
		inet_ntop(d->family, d->addr, b, sizeof(b));
		n = snprintf((char *)buf, len, "PROXY %s %s %s %u %u\r\n",
			     s->family == AF_INET ? "TCP4" : "TCP6", a, b,
			     ntohs(s->port), ntohs(d->port));
	}
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n; /* the NUL snprintf added is not part of the header */
}

static int encode_v2(const struct ip_end *s, const struct ip_end *d, bool known,
		     uint8_t *buf, size_t len)
{
	size_t alen = 0, total;
	uint8_t *p;

	if (known)
		alen = s->family == AF_INET ? 12 : 36;
	total = sizeof(v2_sig) + 4 + alen;
	if (len < total)
		return -ENOSPC;
	memcpy(buf, v2_sig, sizeof(v2_sig));
	p = buf + sizeof(v2_sig);
	p[0] = V2_VERSION | (known ? V2_CMD_PROXY : V2_CMD_LOCAL);
	p[1] = !known		      ? V2_FAM_UNSPEC
	       : s->family == AF_INET ? V2_FAM_TCP4
				      : V2_FAM_TCP6;
	p[2] = (uint8_t)(alen >> 8);
	p[3] = (uint8_t)(alen & 0xff);
	p += 4;
	if (known) {
		size_t al = s->family == AF_INET ? 4 : 16;

		/* source address, destination address, source port,
		 * destination port; ports in network byte order. */
		memcpy(p, s->addr, al);
		memcpy(p + al, d->addr, al);
		memcpy(p + 2 * al, &s->port, 2);
		memcpy(p + 2 * al + 2, &d->port, 2);
	}
	return (int)total;
}

int pvx_pp_encode(enum pvx_pp_version v, const struct sockaddr *src,
		  const struct sockaddr *dst, bool local, uint8_t *buf,
		  size_t len)
{
	struct ip_end s, d;
	bool known;

	ip_end_of(src, &s);
	ip_end_of(dst, &d);
	known = !local && s.family && s.family == d.family;
	switch (v) {
	case PVX_PP_V1:
		return encode_v1(&s, &d, known, buf, len);
	case PVX_PP_V2:
		return encode_v2(&s, &d, known, buf, len);
	default:
		return -EINVAL;
	}
}

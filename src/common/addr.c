/* Address parsing shared by both planes; see addr.h. */
#include "common/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define FAIL(...)                                                              \
	do {                                                                   \
		if (err && errlen)                                             \
			snprintf(err, errlen, __VA_ARGS__);                    \
		return -EINVAL;                                                \
	} while (0)

int pvx_port_parse(const char *s, uint16_t *port, char *err, size_t errlen)
{
	unsigned long v = 0;
	size_t i;

	if (!s || !*s)
		FAIL("empty port");
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			FAIL("port '%.16s' is not a number", s);
		if (v <= 65535)
			v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (i > 5 || v < 1 || v > 65535)
		FAIL("port %.16s out of range (1-65535)", s);
	*port = (uint16_t)v;
	return 0;
}

/* Splits "host:port" / "[v6]:port" into the two parts; host is copied
 * without brackets. end points after the port digits' start. */
static int split_hostport(const char *s, char *host, size_t hostlen,
			  const char **port, int *bracketed, char *err,
			  size_t errlen)
{
	const char *colon;
	size_t hl;

	if (!s || !*s)
		FAIL("empty address");
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb)
			FAIL("'%.64s': missing ']'", s);
		if (rb[1] != ':')
			FAIL("'%.64s': expected ':PORT' after ']'", s);
		hl = (size_t)(rb - s - 1);
		colon = rb + 1;
		*bracketed = 1;
		if (hl >= hostlen)
			FAIL("'%.64s': address too long", s);
		memcpy(host, s + 1, hl);
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			FAIL("'%.64s': expected IP:PORT", s);
		hl = (size_t)(colon - s);
		*bracketed = 0;
		if (hl >= hostlen)
			FAIL("'%.64s': address too long", s);
		memcpy(host, s, hl);
	}
	host[hl] = '\0';
	*port = colon + 1;
	return 0;
}

static int parse_ip(const char *host, int bracketed, struct pvx_hostport *hp,
		    const char *s, char *err, size_t errlen)
{
	if (bracketed) {
		if (inet_pton(AF_INET6, host, &hp->ip.v6) != 1)
			FAIL("'%.64s': invalid IPv6 address '%s'", s, host);
		hp->family = AF_INET6;
		return 0;
	}
	if (strchr(host, ':'))
		FAIL("'%.64s': IPv6 address must be written [addr]:port", s);
	if (inet_pton(AF_INET, host, &hp->ip.v4) != 1)
		FAIL("'%.64s': invalid IPv4 address '%s'", s, host);
	hp->family = AF_INET;
	return 0;
}

static int hostport_parse_until(const char *s, size_t n,
				struct pvx_hostport *hp, char *err,
				size_t errlen)
{
	char buf[PVX_ADDRSTRLEN + 8], host[PVX_ADDRSTRLEN];
	const char *port;
	int br, r;

	if (n >= sizeof(buf))
		FAIL("'%.64s…': address too long", s);
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(hp, 0, sizeof(*hp));
	r = split_hostport(buf, host, sizeof(host), &port, &br, err, errlen);
	if (r)
		return r;
	r = parse_ip(host, br, hp, buf, err, errlen);
	if (r)
		return r;
	return pvx_port_parse(port, &hp->port, err, errlen);
}

int pvx_hostport_parse(const char *s, struct pvx_hostport *hp, char *err,
		       size_t errlen)
{
	if (!s)
		FAIL("empty address");
	return hostport_parse_until(s, strlen(s), hp, err, errlen);
}

int pvx_hostport_parse_http(const char *s, struct pvx_hostport *hp, char *path,
			    size_t pathlen, char *err, size_t errlen)
{
	const char *slash, *start;
	size_t n;
	int r;

	if (!s)
		FAIL("empty address");
	/* The path starts at the first '/' after the port (after ']' for
	 * IPv6, whose address holds no '/'). */
	start = s;
	if (s[0] == '[') {
		start = strchr(s, ']');
		if (!start)
			FAIL("'%.64s': missing ']'", s);
	}
	slash = strchr(start, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	r = hostport_parse_until(s, n, hp, err, errlen);
	if (r)
		return r;
	if (!slash) {
		if (pathlen)
			path[0] = '\0';
		return 0;
	}
	n = strlen(slash);
	while (n > 1 && slash[n - 1] == '/')
		n--;
	if (n >= pathlen)
		FAIL("path prefix too long");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)slash[i];
		if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#')
			FAIL("path prefix '%.64s': invalid character", slash);
	}
	if (strstr(slash, "/../") || strstr(slash, "/./") ||
	    strstr(slash, "//"))
		FAIL("path prefix '%.64s': not a normalized path", slash);
	if ((n >= 3 && memcmp(slash + n - 3, "/..", 3) == 0) ||
	    (n >= 2 && memcmp(slash + n - 2, "/.", 2) == 0))
		FAIL("path prefix '%.64s': not a normalized path", slash);
	if (n == 1) /* "/" is the same as no prefix */
		n = 0;
	memcpy(path, slash, n);
	path[n] = '\0';
	return 0;
}

void pvx_hostport_format(const struct pvx_hostport *hp, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (hp->family == AF_INET6) {
		inet_ntop(AF_INET6, &hp->ip.v6, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, hp->port);
	} else {
		inet_ntop(AF_INET, &hp->ip.v4, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, hp->port);
	}
}

socklen_t pvx_hostport_to_sockaddr(const struct pvx_hostport *hp,
				   struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (hp->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = hp->ip.v6;
		s6->sin6_port = htons(hp->port);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_addr = hp->ip.v4;
	s4->sin_port = htons(hp->port);
	return sizeof(*s4);
}

bool pvx_hostport_is_wildcard(const struct pvx_hostport *hp)
{
	if (hp->family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&hp->ip.v6);
	return hp->ip.v4.s_addr == htonl(INADDR_ANY);
}

static bool ip_equal(const struct pvx_hostport *a, const struct pvx_hostport *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET6)
		return memcmp(&a->ip.v6, &b->ip.v6, sizeof(a->ip.v6)) == 0;
	return a->ip.v4.s_addr == b->ip.v4.s_addr;
}

bool pvx_hostport_equal(const struct pvx_hostport *a,
			const struct pvx_hostport *b)
{
	return a->port == b->port && ip_equal(a, b);
}

bool pvx_hostport_collides(const struct pvx_hostport *a,
			   const struct pvx_hostport *b)
{
	if (a->family != b->family || a->port != b->port)
		return false;
	return ip_equal(a, b) || pvx_hostport_is_wildcard(a) ||
	       pvx_hostport_is_wildcard(b);
}

int pvx_ipv4_parse(const char *s, struct in_addr *ip, char *err, size_t errlen)
{
	if (!s || inet_pton(AF_INET, s, ip) != 1)
		FAIL("invalid IPv4 address '%.64s'", s ? s : "");
	return 0;
}

uint32_t pvx_cidr_mask(uint8_t prefix)
{
	return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

int pvx_ipv4_cidr_or_bare_parse(const char *s, struct in_addr *ip, int *prefix,
				char *err, size_t errlen)
{
	char buf[INET_ADDRSTRLEN];
	const char *slash;
	size_t n;

	if (!s || !*s)
		FAIL("empty address");
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (n >= sizeof(buf))
		FAIL("invalid IPv4 address '%.64s'", s);
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, ip) != 1)
		FAIL("invalid IPv4 address '%.64s'", s);
	*prefix = -1;
	if (slash) {
		unsigned v = 0;
		const char *p = slash + 1;
		if (!*p || strlen(p) > 2)
			FAIL("'%.64s': invalid prefix length", s);
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				FAIL("'%.64s': invalid prefix length", s);
			v = v * 10 + (unsigned)(*p - '0');
		}
		if (v > 32)
			FAIL("'%.64s': prefix length %u out of range (0-32)", s,
			     v);
		*prefix = (int)v;
	}
	return 0;
}

int pvx_cidr_parse(const char *s, struct pvx_cidr *c, char *err, size_t errlen)
{
	int prefix, r;

	r = pvx_ipv4_cidr_or_bare_parse(s, &c->addr, &prefix, err, errlen);
	if (r)
		return r;
	if (prefix < 0)
		FAIL("'%.64s': expected ADDRESS/PREFIX", s);
	c->prefix = (uint8_t)prefix;
	if (ntohl(c->addr.s_addr) & ~pvx_cidr_mask(c->prefix))
		FAIL("'%.64s': host bits set (network address expected)", s);
	return 0;
}

bool pvx_cidr_contains(const struct pvx_cidr *c, struct in_addr ip)
{
	uint32_t m = pvx_cidr_mask(c->prefix);
	return (ntohl(ip.s_addr) & m) == (ntohl(c->addr.s_addr) & m);
}

bool pvx_cidr_overlaps(const struct pvx_cidr *a, const struct pvx_cidr *b)
{
	uint8_t p = a->prefix < b->prefix ? a->prefix : b->prefix;
	uint32_t m = pvx_cidr_mask(p);
	return (ntohl(a->addr.s_addr) & m) == (ntohl(b->addr.s_addr) & m);
}

struct in_addr pvx_cidr_broadcast(const struct pvx_cidr *c)
{
	struct in_addr b;
	b.s_addr = htonl(ntohl(c->addr.s_addr) | ~pvx_cidr_mask(c->prefix));
	return b;
}

void pvx_sockaddr_format(const struct sockaddr *sa, socklen_t len, char *buf,
			 size_t buflen)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa && len >= sizeof(struct sockaddr_in) &&
	    sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(buf, buflen, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa && len >= sizeof(struct sockaddr_in6) &&
		   sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, buflen, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, buflen, "unix");
	}
}

int pvx_prefix_parse(const char *s, struct pvx_prefix *p, char *err,
		     size_t errlen)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash;
	unsigned v = 0, max;
	uint8_t *b;
	size_t n;

	memset(p, 0, sizeof(*p));
	if (!s || !*s)
		FAIL("empty address");
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(buf))
		FAIL("'%.64s' is not an IP address or CIDR", s);
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &p->ip.v4) == 1)
		p->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, &p->ip.v6) == 1)
		p->family = AF_INET6;
	else
		FAIL("'%.64s' is not an IP address or CIDR", s);
	max = p->family == AF_INET ? 32 : 128;
	if (!slash) {
		p->len = (uint8_t)max;
		return 0;
	}
	if (!slash[1] || strlen(slash + 1) > 3)
		FAIL("'%.64s': invalid prefix length", s);
	for (const char *q = slash + 1; *q; q++) {
		if (*q < '0' || *q > '9')
			FAIL("'%.64s': invalid prefix length", s);
		v = v * 10 + (unsigned)(*q - '0');
	}
	if (v > max)
		FAIL("'%.64s': prefix length %u out of range (0-%u)", s, v,
		     max);
	p->len = (uint8_t)v;
	b = p->family == AF_INET ? (uint8_t *)&p->ip.v4 : p->ip.v6.s6_addr;
	for (unsigned bit = v; bit < max; bit++)
		if (b[bit / 8] & (0x80u >> (bit % 8)))
			FAIL("'%.64s': host bits set (network address "
			     "expected)",
			     s);
	return 0;
}

static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned full = len / 8, rest = len % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ b[full]) & (0xff00u >> rest)) == 0;
}

bool pvx_prefix_match(const struct pvx_prefix *p, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *in6 = (const void *)sa;
	const struct sockaddr_in *in = (const void *)sa;

	if (!sa)
		return false;
	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		if (p->family != AF_INET)
			return false;
		return bits_equal(&in6->sin6_addr.s6_addr[12],
				  (const uint8_t *)&p->ip.v4, p->len);
	}
	if (sa->sa_family != p->family)
		return false;
	if (p->family == AF_INET)
		return bits_equal((const uint8_t *)&in->sin_addr,
				  (const uint8_t *)&p->ip.v4, p->len);
	return bits_equal(in6->sin6_addr.s6_addr, p->ip.v6.s6_addr, p->len);
}

bool pvx_prefix_list_match(const struct pvx_prefix *v, size_t n,
			   const struct sockaddr *sa)
{
	for (size_t i = 0; i < n; i++)
		if (pvx_prefix_match(&v[i], sa))
			return true;
	return false;
}

int pvx_path_check(const char *s, char *err, size_t errlen)
{
	const char *p;

	if (!s || !*s)
		FAIL("empty path");
	if (s[0] != '/')
		FAIL("'%.64s' is not an absolute path", s);
	if (strlen(s) >= PVX_PATH_MAX)
		FAIL("'%.64s…' longer than %d bytes", s, PVX_PATH_MAX - 1);
	for (p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			FAIL("'%.64s' contains a control character", s);
	if (strstr(s, "//"))
		FAIL("'%.64s' contains an empty path component", s);
	for (p = s; (p = strstr(p, "..")) != NULL; p += 2) {
		bool start = p == s || p[-1] == '/';
		bool end = p[2] == '\0' || p[2] == '/';
		if (start && end)
			FAIL("'%.64s' contains a '..' component", s);
	}
	return 0;
}

bool pvx_name_is_safe(const char *s)
{
	size_t n;

	if (!s || !*s || s[0] == '.' || s[0] == '-')
		return false;
	for (n = 0; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
		if (n >= 64)
			return false;
	}
	return true;
}

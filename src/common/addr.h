/* Address parsing shared by both planes: IP:PORT, [IPv6]:PORT, the
 * ingress form IP:PORT[/path], IPv4 CIDR, absolute socket paths and safe
 * names. Pure functions: each takes a caller's error buffer and writes a
 * short reason there ("port 70000 out of range (1-65535)"), never logs. */
#ifndef PVX_ADDR_H
#define PVX_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PVX_ADDRSTRLEN 64 /* "[ffff:…:ffff]:65535" fits with room */
#define PVX_PATH_MAX 108  /* sun_path: a Unix socket path must fit */

struct pvx_hostport {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} ip;
	uint16_t port; /* host byte order, 1-65535 */
};

/* An IPv4 or IPv6 network, for source allowlists. */
struct pvx_prefix {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} ip;	     /* network byte order, host bits zero */
	uint8_t len; /* 0-32 or 0-128 */
};

struct pvx_cidr {
	struct in_addr addr; /* network byte order */
	uint8_t prefix;	     /* 0-32 */
};

/* "1-65535" as a decimal string without sign, spaces or leading '+'. */
int pvx_port_parse(const char *s, uint16_t *port, char *err, size_t errlen);
/* "10.0.4.2:80" or "[fd00::2]:80". Returns 0 or -EINVAL. */
int pvx_hostport_parse(const char *s, struct pvx_hostport *hp, char *err,
		       size_t errlen);
/* "IP:PORT[/path-prefix]" of an http ingress. path gets the prefix
 * ("/api"; "" when absent); it must start with '/', hold no "..", spaces
 * or control bytes. A trailing '/' is dropped ("/api/" -> "/api"). */
int pvx_hostport_parse_http(const char *s, struct pvx_hostport *hp, char *path,
			    size_t pathlen, char *err, size_t errlen);
/* Formats back to the canonical "IP:PORT" / "[IPv6]:PORT". */
void pvx_hostport_format(const struct pvx_hostport *hp, char *buf, size_t len);
socklen_t pvx_hostport_to_sockaddr(const struct pvx_hostport *hp,
				   struct sockaddr_storage *ss);
bool pvx_hostport_is_wildcard(const struct pvx_hostport *hp);
bool pvx_hostport_equal(const struct pvx_hostport *a,
			const struct pvx_hostport *b);
/* Whether two listeners could not both be bound: same family and port,
 * and the same address or either one the wildcard. IPv6 listeners are
 * bound IPV6_V6ONLY, so [::] does not collide with IPv4 addresses. */
bool pvx_hostport_collides(const struct pvx_hostport *a,
			   const struct pvx_hostport *b);

/* A bare IPv4 address. */
int pvx_ipv4_parse(const char *s, struct in_addr *ip, char *err, size_t errlen);
/* "10.0.4.0/24": the host bits must be zero. */
int pvx_cidr_parse(const char *s, struct pvx_cidr *c, char *err, size_t errlen);
/* "10.0.4.5/24" or "10.0.4.5": prefix is set to -1 when absent. */
int pvx_ipv4_cidr_or_bare_parse(const char *s, struct in_addr *ip, int *prefix,
				char *err, size_t errlen);
bool pvx_cidr_contains(const struct pvx_cidr *c, struct in_addr ip);
bool pvx_cidr_overlaps(const struct pvx_cidr *a, const struct pvx_cidr *b);
struct in_addr pvx_cidr_broadcast(const struct pvx_cidr *c);
/* Host-order helpers for IPAM arithmetic. */
uint32_t pvx_cidr_mask(uint8_t prefix);

/* A peer's address as "ip:port" / "[ip6]:port", "unix" otherwise. */
void pvx_sockaddr_format(const struct sockaddr *sa, socklen_t len, char *buf,
			 size_t buflen);
/* "10.0.0.0/8", "fd00::/8"; a bare address is a host (/32, /128). The
 * host bits must be zero. */
int pvx_prefix_parse(const char *s, struct pvx_prefix *p, char *err,
		     size_t errlen);
/* Whether sa (AF_INET, or AF_INET6: an IPv4-mapped address counts as
 * IPv4) is inside p. Other families never match. */
bool pvx_prefix_match(const struct pvx_prefix *p, const struct sockaddr *sa);
/* Whether sa is inside one of the n prefixes. */
bool pvx_prefix_list_match(const struct pvx_prefix *v, size_t n,
			   const struct sockaddr *sa);

/* An absolute path with no ".." component, no empty name, shorter than
 * PVX_PATH_MAX. */
int pvx_path_check(const char *s, char *err, size_t errlen);
/* A name usable as a file-name and interface-name part: 1-64 bytes of
 * [A-Za-z0-9._-], not starting with '.' or '-'. */
bool pvx_name_is_safe(const char *s);

#endif

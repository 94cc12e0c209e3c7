/* PROXY protocol headers (versions 1 and 2, as specified by HAProxy's
 * proxy-protocol.txt): what a backend reads first to learn the client's
 * address. Pure: builds bytes, no sockets, no logging. docs/xconnect.md. */
#ifndef PVX_PROXYPROTO_H
#define PVX_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum pvx_pp_version {
	PVX_PP_OFF = 0, /* no header */
	PVX_PP_V1,	/* text: "PROXY TCP4 src dst sport dport\r\n" */
	PVX_PP_V2,	/* binary: 12-byte signature, 4-byte head, addresses */
};

/* Longest header written: v2 with two IPv6 addresses is 52 bytes, v1
 * with two IPv6 addresses 104. */
#define PVX_PP_MAX 108

/* "v1" / "v2" into *v; -EINVAL for anything else. */
int pvx_pp_parse(const char *s, enum pvx_pp_version *v);
/* "v1", "v2", "off". */
const char *pvx_pp_name(enum pvx_pp_version v);

/* Writes the header for a connection from src (the client) to dst (the
 * listener's address) into buf, returns its length or -ENOSPC / -EINVAL.
 * IPv4-mapped IPv6 addresses are written as IPv4. When local is set, or
 * the addresses are not both IP of one family (a Unix client), the
 * header says so instead: v1 "PROXY UNKNOWN\r\n", v2 the LOCAL command
 * with family AF_UNSPEC and no addresses; the receiver then uses the
 * connection's own endpoints. */
int pvx_pp_encode(enum pvx_pp_version v, const struct sockaddr *src,
		  const struct sockaddr *dst, bool local, uint8_t *buf,
		  size_t len);

#endif

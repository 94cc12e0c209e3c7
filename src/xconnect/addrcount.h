/* Live connections per client address, for the per-client connection cap
 * of a link (docs/xconnect.md, "Slow and idle clients"): an open-addressing
 * hash table keyed by IP address, hashed with a per-table secret seed so
 * that a client cannot choose colliding addresses. Pure: no I/O, no logs. */
#ifndef PVX_ADDRCOUNT_H
#define PVX_ADDRCOUNT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An IPv6 address; IPv4 as ::ffff:a.b.c.d, so both families share it. */
struct pvx_addr_key {
	uint8_t b[16];
};

/* The key of a peer address: 0, or -EAFNOSUPPORT for anything but IPv4
 * and IPv6 (Unix clients are not counted), -EINVAL when len is short. */
int pvx_addr_key_of(const struct sockaddr *sa, socklen_t len,
		    struct pvx_addr_key *k);

/* "10.0.4.2" for IPv4 (mapped) keys, "fd00::2" for the others. */
void pvx_addr_key_format(const struct pvx_addr_key *k, char *buf, size_t len);

/* A random seed for pvx_addrcount_init (getrandom, else the clock): the
 * one helper here that is not pure. */
uint64_t pvx_addrcount_seed(void);

struct pvx_addrcount {
	struct pvx_addrcount_slot *slots; /* cap of them; NULL when empty */
	size_t cap;			  /* 0 or a power of two */
	size_t n;			  /* addresses with a count > 0 */
	uint64_t seed;
};

/* Empty table; seed should be random (it keeps hashes unpredictable). */
void pvx_addrcount_init(struct pvx_addrcount *ac, uint64_t seed);
/* Frees the memory; the table is empty and usable again. */
void pvx_addrcount_clear(struct pvx_addrcount *ac);
/* Connections counted for k now. */
unsigned pvx_addrcount_get(const struct pvx_addrcount *ac,
			   const struct pvx_addr_key *k);
/* Counts one more connection of k unless it has limit already (limit 0:
 * no limit). Returns the new count, -EUSERS over the limit (nothing
 * counted), -ENOMEM. */
int pvx_addrcount_take(struct pvx_addrcount *ac, const struct pvx_addr_key *k,
		       unsigned limit);
/* One connection of k less (one that take counted). */
void pvx_addrcount_put(struct pvx_addrcount *ac, const struct pvx_addr_key *k);

#endif

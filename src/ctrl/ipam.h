/* IPAM: one IPv4 lease per pool interface of every pool-mode container,
 * stable across restarts through a lease file. Assignment is pure (state +
 * previous leases -> new leases); the file I/O is separate. SPEC §4. */
#ifndef PVC_IPAM_H
#define PVC_IPAM_H

#include <netinet/in.h>
#include <stdint.h>
#include <time.h>

#include "common/errlist.h"
#include "ctrl/state.h"

struct pvc_lease {
	char *container;
	char *iface;
	char *pool;
	struct in_addr ip;
	uint8_t prefix; /* the pool's prefix length */
	uint8_t mac[6];
};

struct pvc_leases {
	struct pvc_lease *v; /* sorted by (container, iface) */
	size_t n;
};

/* Computes the leases of st: previous leases of containers still present
 * (and still valid for their pool) are kept, static addresses are reserved
 * first, then dynamic ones take the lowest free address. A container that
 * cannot be served (pool exhausted) gets no lease and one message in el
 * ("ipam: X: pool P exhausted (10.0.4.0/30)"); the others are served.
 * Returns 0, or -ENOMEM. */
int pvc_ipam_assign(const struct pvc_state *st, const struct pvc_leases *prev,
		    struct pvc_leases *out, struct pvx_errlist *el);
/* The first lease of a container (its eth0 or its first interface). */
const struct pvc_lease *pvc_leases_find(const struct pvc_leases *l,
					const char *container);
void pvc_leases_free(struct pvc_leases *l);
/* The lease of one interface of a container, or NULL. */
const struct pvc_lease *pvc_leases_find_iface(const struct pvc_leases *l,
					      const char *container,
					      const char *iface);
/* Restores the (container, iface) order after building l by hand. */
void pvc_leases_sort(struct pvc_leases *l);
/* "aa:bb:cc:dd:ee:ff" (either case) -> 6 bytes; 0 or -EINVAL. */
int pvc_mac_parse(const char *s, uint8_t mac[6]);
/* 6 bytes -> "aa:bb:cc:dd:ee:ff" (len >= 18). */
void pvc_mac_format(const uint8_t mac[6], char *buf, size_t len);

/* Lease file (JSON). A missing file is an empty set. */
int pvc_leases_load(const char *path, struct pvc_leases *out,
		    struct pvx_errlist *el);
/* Atomic: write temp, fsync, rename, fsync dir. The file it replaces
 * becomes PATH.prev first when it is valid (a damaged one is moved aside
 * to PATH.damaged-<time>). Returns 0 or -errno. */
int pvc_leases_save(const char *path, const struct pvc_leases *l);

/* Generations of the lease file: [0] PATH, [1] PATH.prev. */
#define PVC_LEASE_GENS 2
enum pvc_lease_gen {
	PVC_LEASE_GEN_MISSING,	  /* no file */
	PVC_LEASE_GEN_VALID,	  /* read, every lease valid */
	PVC_LEASE_GEN_DAMAGED,	  /* empty, truncated, invalid: moved aside */
	PVC_LEASE_GEN_UNREADABLE, /* I/O or permission error: left alone */
};
/* What a load result (0 or -errno) says about a generation. Pure. */
enum pvc_lease_gen pvc_lease_gen_of(int load_result);
/* The generation to use: the newest valid one, or -1. Pure. */
int pvc_leases_pick(const enum pvc_lease_gen *g, size_t n);
/* Loads the newest valid generation of PATH into out (*used: 0, 1, or
 * -1 with out empty). Each damaged generation is renamed to
 * PATH.damaged-<UTC time of now> (never read again, never overwritten);
 * every damage, the fallback used and a total loss are said in warnings.
 * Returns 0 or -ENOMEM. */
int pvc_leases_recover(const char *path, time_t now, struct pvc_leases *out,
		       int *used, struct pvx_errlist *warnings);

#endif

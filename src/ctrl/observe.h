/* Addresses seen on the device, for when no generation of the lease file
 * is valid (docs/graph.md, generations). A container that outlived an
 * earlier pv-ctrld (an adopted one: pv-ctrld's own processes die with it)
 * still has its veth: the host end, named after "container/iface", in the
 * device, the peer with the leased address in the container's namespace.
 * This must run before the runtime removes those leftover links. */
#ifndef PVC_OBSERVE_H
#define PVC_OBSERVE_H

#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errlist.h"
#include "ctrl/ipam.h"
#include "ctrl/state.h"

/* One IPv4 address on the peer of a host veth. */
struct pvc_seen {
	char veth[IFNAMSIZ];  /* host end, "pvx…" */
	char iface[IFNAMSIZ]; /* peer, inside the container */
	struct in_addr ip;
	uint8_t prefix;
};

struct pvc_seen_set {
	struct pvc_seen *v;
	size_t n;
};

/* Every address on the peers of the "pvx…" veths of the calling thread's
 * network namespace whose peer lives in another namespace. Returns 0 or
 * -errno (netlink); what was seen goes to warnings too. */
int pvc_leases_observe(struct pvc_seen_set *out, struct pvx_errlist *warnings);
/* Pure: the seen addresses as previous leases of st. A seen address is
 * the lease of the pool interface of st whose host veth has that name
 * (pvc_netdev_veth_name), in that interface's pool. Returns 0 or -ENOMEM. */
int pvc_leases_from_seen(const struct pvc_state *st,
			 const struct pvc_seen_set *seen,
			 struct pvc_leases *out);
void pvc_seen_free(struct pvc_seen_set *s);

#endif

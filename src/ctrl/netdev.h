/* Network device operations of the runtime, built on nl.h: pool bridges,
 * container veths, and wiring inside a container's network namespace.
 * Every function returns 0 or -errno and, on failure, a reason naming the
 * step ("veth pvx1a2b3c4d: File exists") in the caller's buffer. */
#ifndef PVC_NETDEV_H
#define PVC_NETDEV_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctrl/nl.h"

/* Host-side veth names are "pvx" + 8 hex digits of a hash of
 * "container/iface": stable across restarts, 11 bytes, recognisable. */
#define PVC_NETDEV_PREFIX "pvx"
#define PVC_NETDEV_NAMELEN 16
void pvc_netdev_veth_name(const char *container, const char *iface,
			  char name[PVC_NETDEV_NAMELEN]);

/* Looks a link up by name. -ENODEV when there is none. */
int pvc_netdev_get(struct pvc_nl *nl, const char *name, struct pvc_nl_link *l);
/* Makes sure bridge name exists, is up and holds gw/prefix. *created tells
 * whether the bridge was made here, *addr_added whether the address was
 * (false when it was there already). An existing link of another kind is
 * refused (-EEXIST). */
int pvc_netdev_bridge_ensure(struct pvc_nl *nl, const char *name,
			     struct in_addr gw, uint8_t prefix, bool *created,
			     bool *addr_added, char *err, size_t errlen);
/* Removes ip/prefix from link name; a missing link or address is not an
 * error. */
int pvc_netdev_addr_del(struct pvc_nl *nl, const char *name, struct in_addr ip,
			uint8_t prefix, char *err, size_t errlen);
/* Deletes a link by name; a missing link is not an error. */
int pvc_netdev_del(struct pvc_nl *nl, const char *name, char *err,
		   size_t errlen);

/* Marks link name as ours: its alias becomes alias. */
int pvc_netdev_mark(struct pvc_nl *nl, const char *name, const char *alias,
		    char *err, size_t errlen);
/* Deletes every link whose alias is alias (what pvc_netdev_mark made) and
 * writes their names, space-separated, into names. Returns how many were
 * deleted, or -errno (reason in err). */
int pvc_netdev_del_marked(struct pvc_nl *nl, const char *alias, char *names,
			  size_t nameslen, char *err, size_t errlen);

/* What a container interface gets. */
struct pvc_netdev_wire {
	const char *bridge; /* pool bridge on the device */
	const char *host;   /* host-side veth name */
	const char *peer;   /* name inside the container, "eth0" */
	struct in_addr ip;  /* lease */
	uint8_t prefix;
	const uint8_t *mac; /* 6 bytes */
	struct in_addr gateway;
	bool default_route; /* only the first interface gets one */
};

/* Creates the veth pair with the peer born inside netns_fd, enslaves the
 * host end to the bridge and brings it up, then inside the namespace sets
 * the address, brings the peer and lo up and adds the default route. A
 * stale host end of the same name (ours, from a crash) is replaced. */
int pvc_netdev_wire(struct pvc_nl *nl, int netns_fd,
		    const struct pvc_netdev_wire *w, char *err, size_t errlen);
/* A macvlan pool's interface: a macvlan on parent born inside netns_fd
 * as w->peer, then set up inside like a veth's peer (w->bridge and
 * w->host unused). It lives and dies with the namespace. */
int pvc_netdev_macvlan_wire(struct pvc_nl *nl, int netns_fd, const char *parent,
			    const struct pvc_netdev_wire *w, char *err,
			    size_t errlen);
/* Brings lo up inside netns_fd. */
int pvc_netdev_lo_up(int netns_fd, char *err, size_t errlen);

#endif

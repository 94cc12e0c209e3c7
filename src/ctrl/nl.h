/* rtnetlink over libmnl for the runtime: builders that lay one request into
 * a caller's buffer (pure, testable without root) and a socket that sends a
 * request and waits for its acknowledgement, returning the kernel's -errno. */
#ifndef PVC_NL_H
#define PVC_NL_H

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* Every request built here fits; MNL_SOCKET_BUFFER_SIZE is at least 8 KiB
 * and is what replies are read into. */
#define PVC_NL_BUFSZ 8192

struct pvc_nl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
};

/* Opens a NETLINK_ROUTE socket in the calling thread's current network
 * namespace (a socket stays bound to the namespace it was born in). */
int pvc_nl_open(struct pvc_nl *nl);
void pvc_nl_close(struct pvc_nl *nl);

/* Called for every reply message of a request (dumps: once per object);
 * returns MNL_CB_OK to go on, MNL_CB_ERROR to stop. */
typedef int (*pvc_nl_cb)(const struct nlmsghdr *nlh, void *data);

/* Sends nlh (its nlmsg_seq is set here) and reads until the ack, the end of
 * a dump, or an error. Returns 0 or the kernel's -errno. */
int pvc_nl_talk(struct pvc_nl *nl, struct nlmsghdr *nlh, pvc_nl_cb cb,
		void *data);

/* Builders: each writes one request at the start of buf (PVC_NL_BUFSZ
 * bytes) and returns it. Requests that change something ask for an ack. */

/* RTM_NEWLINK create-exclusive: kind bridge, STP off, forward_delay 0. */
struct nlmsghdr *pvc_nl_build_bridge_new(char *buf, const char *name);
/* RTM_NEWLINK create-exclusive: veth host_name whose peer is born as
 * peer_name inside the network namespace netns_fd, with peer_mac (NULL:
 * kernel's choice). */
struct nlmsghdr *pvc_nl_build_veth_new(char *buf, const char *host_name,
				       const char *peer_name, int netns_fd,
				       const uint8_t *peer_mac);
/* RTM_NEWLINK on an existing link (by ifindex): up or down, and when
 * master_ifindex > 0 enslaves it to that bridge. */
/* A macvlan (bridge mode) on parent_ifindex, born inside netns_fd as
 * name, with mac (6 bytes) or a random one (NULL). */
struct nlmsghdr *pvc_nl_build_macvlan_new(char *buf, const char *name,
					  int parent_ifindex, int netns_fd,
					  const uint8_t *mac);
struct nlmsghdr *pvc_nl_build_link_set(char *buf, int ifindex, bool up,
				       int master_ifindex);
/* RTM_NEWLINK on an existing link (by ifindex): sets its alias
 * (IFLA_IFALIAS, what `ip link` shows as "alias"). */
struct nlmsghdr *pvc_nl_build_link_alias(char *buf, int ifindex,
					 const char *alias);
/* RTM_DELLINK by name. */
struct nlmsghdr *pvc_nl_build_link_del(char *buf, const char *name);
/* RTM_GETLINK by name (one reply), or a dump of all links when name is
 * NULL. */
struct nlmsghdr *pvc_nl_build_link_get(char *buf, const char *name);
/* RTM_NEWADDR: ip/prefix on ifindex, with the broadcast address. */
struct nlmsghdr *pvc_nl_build_addr_add(char *buf, int ifindex,
				       struct in_addr ip, uint8_t prefix);
/* RTM_DELADDR: ip/prefix from ifindex. */
struct nlmsghdr *pvc_nl_build_addr_del(char *buf, int ifindex,
				       struct in_addr ip, uint8_t prefix);
/* RTM_NEWROUTE in the main table: default route via gateway on ifindex. */
struct nlmsghdr *pvc_nl_build_route_default(char *buf, struct in_addr gateway,
					    int ifindex);

/* What a link reply says about one link. */
struct pvc_nl_link {
	int ifindex;
	unsigned flags; /* IFF_* */
	int master;	/* 0: none */
	char name[16];
	char kind[16];	 /* "bridge", "veth", "" */
	char alias[256]; /* IFLA_IFALIAS, "" if none */
};
/* Parses an RTM_NEWLINK reply. Returns 0 or -EINVAL. */
int pvc_nl_parse_link(const struct nlmsghdr *nlh, struct pvc_nl_link *l);

#endif

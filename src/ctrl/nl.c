/* rtnetlink requests over libmnl: message builders (pure) and one
 * request/ack exchange at a time. Synchronous on purpose: the runtime does
 * a handful of link operations per container, and a blocking exchange keeps
 * each operation's error next to the call that caused it. */
#include "ctrl/nl.h"

#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

int pvc_nl_open(struct pvc_nl *nl)
{
	memset(nl, 0, sizeof(*nl));
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock)
		return -errno;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		mnl_socket_close(nl->sock);
		nl->sock = NULL;
		return -e;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (uint32_t)time(NULL);
	return 0;
}

void pvc_nl_close(struct pvc_nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

int pvc_nl_talk(struct pvc_nl *nl, struct nlmsghdr *nlh, pvc_nl_cb cb,
		void *data)
{
	char buf[PVC_NL_BUFSZ];
	uint32_t seq = ++nl->seq;
	int r;

	/* Whatever an earlier, aborted exchange left unread would fail this
	 * one's sequence check: drop it first. */
	while (recv(mnl_socket_get_fd(nl->sock), buf, sizeof(buf),
		    MSG_DONTWAIT) > 0)
		;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		r = mnl_cb_run(buf, (size_t)n, seq, nl->portid, cb, data);
		if (r < 0)
			return errno ? -errno : -EIO;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

static struct nlmsghdr *put_header(char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, PVC_NL_BUFSZ);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
	return nlh;
}

static struct ifinfomsg *put_ifinfo(struct nlmsghdr *nlh, int ifindex)
{
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return ifi;
}

struct nlmsghdr *pvc_nl_build_bridge_new(char *buf, const char *name)
{
	struct nlmsghdr *nlh =
	    put_header(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
	struct nlattr *info, *data;

	put_ifinfo(nlh, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	/* No STP and no forward delay: a pool bridge has no loops to fear,
	 * and a port must forward the moment its container is wired. */
	mnl_attr_put_u32(nlh, IFLA_BR_STP_STATE, 0);
	mnl_attr_put_u32(nlh, IFLA_BR_FORWARD_DELAY, 0);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nlh;
}

struct nlmsghdr *pvc_nl_build_veth_new(char *buf, const char *host_name,
				       const char *peer_name, int netns_fd,
				       const uint8_t *peer_mac)
{
	struct nlmsghdr *nlh =
	    put_header(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
	struct nlattr *info, *data, *peer;

	put_ifinfo(nlh, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, host_name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	/* The peer is described by its own ifinfomsg and attributes; with
	 * IFLA_NET_NS_FD it is born inside the container's namespace, so no
	 * container-side interface ever appears on the device. */
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	put_ifinfo(nlh, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)netns_fd);
	if (peer_mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, peer_mac);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nlh;
}

struct nlmsghdr *pvc_nl_build_macvlan_new(char *buf, const char *name,
					  int parent_ifindex, int netns_fd,
					  const uint8_t *mac)
{
	struct nlmsghdr *nlh =
	    put_header(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
	struct nlattr *info, *data;

	put_ifinfo(nlh, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	/* The parent is looked up in the requester's (the device's)
	 * namespace; the new link is born in the container's. */
	mnl_attr_put_u32(nlh, IFLA_LINK, (uint32_t)parent_ifindex);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)netns_fd);
	if (mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "macvlan");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u32(nlh, IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nlh;
}

struct nlmsghdr *pvc_nl_build_link_set(char *buf, int ifindex, bool up,
				       int master_ifindex)
{
	struct nlmsghdr *nlh = put_header(buf, RTM_NEWLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = put_ifinfo(nlh, ifindex);

	ifi->ifi_flags = up ? IFF_UP : 0;
	ifi->ifi_change = IFF_UP;
	if (master_ifindex > 0)
		mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master_ifindex);
	return nlh;
}

struct nlmsghdr *pvc_nl_build_link_alias(char *buf, int ifindex,
					 const char *alias)
{
	struct nlmsghdr *nlh = put_header(buf, RTM_NEWLINK, NLM_F_ACK);

	put_ifinfo(nlh, ifindex);
	mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
	return nlh;
}

struct nlmsghdr *pvc_nl_build_link_del(char *buf, const char *name)
{
	struct nlmsghdr *nlh = put_header(buf, RTM_DELLINK, NLM_F_ACK);

	put_ifinfo(nlh, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nlh;
}

struct nlmsghdr *pvc_nl_build_link_get(char *buf, const char *name)
{
	struct nlmsghdr *nlh =
	    put_header(buf, RTM_GETLINK, name ? NLM_F_ACK : NLM_F_DUMP);

	put_ifinfo(nlh, 0);
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nlh;
}

struct nlmsghdr *pvc_nl_build_addr_add(char *buf, int ifindex,
				       struct in_addr ip, uint8_t prefix)
{
	struct nlmsghdr *nlh =
	    put_header(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, sizeof(ip), &ip);
	mnl_attr_put(nlh, IFA_ADDRESS, sizeof(ip), &ip);
	if (prefix < 31) {
		uint32_t mask = prefix ? ~0u << (32 - prefix) : 0;
		struct in_addr bc = {htonl(ntohl(ip.s_addr) | ~mask)};
		mnl_attr_put(nlh, IFA_BROADCAST, sizeof(bc), &bc);
	}
	return nlh;
}

struct nlmsghdr *pvc_nl_build_addr_del(char *buf, int ifindex,
				       struct in_addr ip, uint8_t prefix)
{
	struct nlmsghdr *nlh = put_header(buf, RTM_DELADDR, NLM_F_ACK);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = prefix;
	ifa->ifa_index = (uint32_t)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, sizeof(ip), &ip);
	return nlh;
}

struct nlmsghdr *pvc_nl_build_route_default(char *buf, struct in_addr gateway,
					    int ifindex)
{
	struct nlmsghdr *nlh = put_header(
	    buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_GATEWAY, sizeof(gateway), &gateway);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return nlh;
}

static int linkinfo_cb(const struct nlattr *a, void *data)
{
	struct pvc_nl_link *l = data;

	if (mnl_attr_get_type(a) == IFLA_INFO_KIND &&
	    mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
		strncpy(l->kind, mnl_attr_get_str(a), sizeof(l->kind) - 1);
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	struct pvc_nl_link *l = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
			strncpy(l->name, mnl_attr_get_str(a),
				sizeof(l->name) - 1);
		break;
	case IFLA_IFALIAS:
		if (mnl_attr_validate(a, MNL_TYPE_STRING) >= 0)
			strncpy(l->alias, mnl_attr_get_str(a),
				sizeof(l->alias) - 1);
		break;
	case IFLA_MASTER:
		if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			l->master = (int)mnl_attr_get_u32(a);
		break;
	case IFLA_LINKINFO:
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) >= 0)
			mnl_attr_parse_nested(a, linkinfo_cb, l);
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

int pvc_nl_parse_link(const struct nlmsghdr *nlh, struct pvc_nl_link *l)
{
	const struct ifinfomsg *ifi;

	memset(l, 0, sizeof(*l));
	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)))
		return -EINVAL;
	ifi = mnl_nlmsg_get_payload(nlh);
	l->ifindex = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	if (mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, l) < 0)
		return -EINVAL;
	return 0;
}

/* Netlink requests of the runtime, built without root and without a socket:
 * each builder's header, fixed part and attributes are parsed back and
 * checked, plus link-reply parsing and host-side veth names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <string.h>

#include "ctrl/netdev.h"
#include "ctrl/nl.h"

#define TB_MAX 64 /* above every IFLA_/IFA_/RTA_/IFLA_BR_ type used */

struct tb {
	const struct nlattr *a[TB_MAX + 1];
	int count[TB_MAX + 1];
};

static int tb_cb(const struct nlattr *a, void *data)
{
	struct tb *tb = data;
	uint16_t t = mnl_attr_get_type(a);

	if (t <= TB_MAX) {
		tb->a[t] = a;
		tb->count[t]++;
	}
	return MNL_CB_OK;
}

static void parse_top(const struct nlmsghdr *nlh, size_t hdrlen, struct tb *tb)
{
	memset(tb, 0, sizeof(*tb));
	assert_true(mnl_nlmsg_ok(nlh, (int)nlh->nlmsg_len));
	assert_int_equal(mnl_attr_parse(nlh, (unsigned)hdrlen, tb_cb, tb),
			 MNL_CB_OK);
}

static void parse_nested(const struct nlattr *a, struct tb *tb)
{
	memset(tb, 0, sizeof(*tb));
	assert_non_null(a);
	assert_int_equal(mnl_attr_validate(a, MNL_TYPE_NESTED), 0);
	assert_int_equal(mnl_attr_parse_nested(a, tb_cb, tb), MNL_CB_OK);
}

static void assert_str_attr(const struct nlattr *a, const char *want)
{
	assert_non_null(a);
	assert_int_equal(mnl_attr_validate(a, MNL_TYPE_NUL_STRING), 0);
	assert_string_equal(mnl_attr_get_str(a), want);
}

static void assert_u32_attr(const struct nlattr *a, uint32_t want)
{
	assert_non_null(a);
	assert_int_equal(mnl_attr_validate(a, MNL_TYPE_U32), 0);
	assert_int_equal(mnl_attr_get_u32(a), want);
}

static void assert_ip_attr(const struct nlattr *a, const char *want)
{
	struct in_addr ip;

	assert_non_null(a);
	assert_int_equal(mnl_attr_get_payload_len(a), 4);
	memcpy(&ip, mnl_attr_get_payload(a), 4);
	assert_string_equal(inet_ntoa(ip), want);
}

static void assert_flags(const struct nlmsghdr *nlh, uint16_t type,
			 uint16_t flags)
{
	assert_int_equal(nlh->nlmsg_type, type);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | flags);
	assert_true(nlh->nlmsg_len <= PVC_NL_BUFSZ);
}

static struct in_addr ip4(const char *s)
{
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

/* ---------------------------------------------------------------- links */

static void test_bridge_new(void **state)
{
	static const char *const names[] = {"br0", "pvxbr", "br-internal12"};
	char buf[PVC_NL_BUFSZ];
	struct tb top, info, data;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct nlmsghdr *nlh = pvc_nl_build_bridge_new(buf, names[i]);
		const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

		assert_flags(nlh, RTM_NEWLINK,
			     NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
		assert_int_equal(ifi->ifi_family, AF_UNSPEC);
		assert_int_equal(ifi->ifi_index, 0);
		parse_top(nlh, sizeof(*ifi), &top);
		assert_str_attr(top.a[IFLA_IFNAME], names[i]);
		assert_int_equal(top.count[IFLA_IFNAME], 1);
		parse_nested(top.a[IFLA_LINKINFO], &info);
		assert_str_attr(info.a[IFLA_INFO_KIND], "bridge");
		parse_nested(info.a[IFLA_INFO_DATA], &data);
		assert_u32_attr(data.a[IFLA_BR_STP_STATE], 0);
		assert_u32_attr(data.a[IFLA_BR_FORWARD_DELAY], 0);
	}
}

struct veth_case {
	const char *host, *peer;
	int fd;
	const uint8_t *mac;
};

static const uint8_t mac1[6] = {0x02, 0x00, 0x0a, 0x00, 0x04, 0x02};
static const uint8_t mac2[6] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

static const struct veth_case veth_cases[] = {
    {"pvx1a2b3c4d", "eth0", 7, mac1},
    {"pvxffffffff", "eth1", 1023, mac2},
    {"pvx00000000", "net0", 3, NULL},
};

static void test_veth_new(void **state)
{
	char buf[PVC_NL_BUFSZ];
	struct tb top, info, data, peer;

	(void)state;
	for (size_t i = 0; i < sizeof(veth_cases) / sizeof(veth_cases[0]);
	     i++) {
		const struct veth_case *c = &veth_cases[i];
		struct nlmsghdr *nlh =
		    pvc_nl_build_veth_new(buf, c->host, c->peer, c->fd, c->mac);
		const struct nlattr *pa;
		const struct ifinfomsg *pifi;

		assert_flags(nlh, RTM_NEWLINK,
			     NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
		parse_top(nlh, sizeof(struct ifinfomsg), &top);
		assert_str_attr(top.a[IFLA_IFNAME], c->host);
		/* the namespace belongs to the peer, never the host end */
		assert_null(top.a[IFLA_NET_NS_FD]);
		parse_nested(top.a[IFLA_LINKINFO], &info);
		assert_str_attr(info.a[IFLA_INFO_KIND], "veth");
		parse_nested(info.a[IFLA_INFO_DATA], &data);
		pa = data.a[VETH_INFO_PEER];
		assert_non_null(pa);
		/* The peer nest starts with its own ifinfomsg. */
		assert_true(mnl_attr_get_payload_len(pa) >=
			    MNL_ALIGN(sizeof(struct ifinfomsg)));
		pifi = mnl_attr_get_payload(pa);
		assert_int_equal(pifi->ifi_family, AF_UNSPEC);
		memset(&peer, 0, sizeof(peer));
		{
			const struct nlattr *a;
			const char *start = (const char *)pifi +
					    MNL_ALIGN(sizeof(struct ifinfomsg));
			const char *end =
			    (const char *)mnl_attr_get_payload(pa) +
			    mnl_attr_get_payload_len(pa);
			for (a = (const struct nlattr *)start;
			     mnl_attr_ok(a, (int)(end - (const char *)a));
			     a = mnl_attr_next(a))
				tb_cb(a, &peer);
		}
		assert_str_attr(peer.a[IFLA_IFNAME], c->peer);
		assert_u32_attr(peer.a[IFLA_NET_NS_FD], (uint32_t)c->fd);
		if (c->mac) {
			assert_non_null(peer.a[IFLA_ADDRESS]);
			assert_int_equal(
			    mnl_attr_get_payload_len(peer.a[IFLA_ADDRESS]), 6);
			assert_memory_equal(
			    mnl_attr_get_payload(peer.a[IFLA_ADDRESS]), c->mac,
			    6);
		} else {
			assert_null(peer.a[IFLA_ADDRESS]);
		}
	}
}

struct set_case {
	int ifindex;
	bool up;
	int master;
};

static const struct set_case set_cases[] = {
    {1, true, 0},
    {42, true, 3},
    {7, false, 0},
    {9, false, 12},
};

static void test_link_set(void **state)
{
	char buf[PVC_NL_BUFSZ];
	struct tb top;

	(void)state;
	for (size_t i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]); i++) {
		const struct set_case *c = &set_cases[i];
		struct nlmsghdr *nlh =
		    pvc_nl_build_link_set(buf, c->ifindex, c->up, c->master);
		const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

		/* a change, never a creation */
		assert_flags(nlh, RTM_NEWLINK, NLM_F_ACK);
		assert_int_equal(ifi->ifi_index, c->ifindex);
		assert_int_equal(ifi->ifi_change, IFF_UP);
		assert_int_equal(ifi->ifi_flags, c->up ? IFF_UP : 0);
		parse_top(nlh, sizeof(*ifi), &top);
		if (c->master)
			assert_u32_attr(top.a[IFLA_MASTER],
					(uint32_t)c->master);
		else
			assert_null(top.a[IFLA_MASTER]);
		assert_null(top.a[IFLA_IFNAME]);
	}
}

static void test_link_alias(void **state)
{
	static const char *const aliases[] = {"pv-ctrld /var/lib/pvx",
					      "pv-ctrld #0123456789abcdef", "",
					      "pv-ctrld /a path/with spaces"};
	char buf[PVC_NL_BUFSZ];
	struct pvc_nl_link l;
	struct tb top;

	(void)state;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		struct nlmsghdr *nlh =
		    pvc_nl_build_link_alias(buf, (int)i + 2, aliases[i]);
		const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

		/* a change of an existing link, never a creation */
		assert_flags(nlh, RTM_NEWLINK, NLM_F_ACK);
		assert_int_equal(ifi->ifi_index, (int)i + 2);
		assert_int_equal(ifi->ifi_change, 0);
		parse_top(nlh, sizeof(*ifi), &top);
		assert_str_attr(top.a[IFLA_IFALIAS], aliases[i]);
		assert_null(top.a[IFLA_IFNAME]);
		/* what a link reply with that alias parses back to */
		nlh->nlmsg_type = RTM_NEWLINK;
		assert_int_equal(pvc_nl_parse_link(nlh, &l), 0);
		assert_string_equal(l.alias, aliases[i]);
	}
}

static void test_link_del_get(void **state)
{
	static const char *const names[] = {"pvx1a2b3c4d", "br0", "eth0"};
	char buf[PVC_NL_BUFSZ];
	struct tb top;
	struct nlmsghdr *nlh;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		nlh = pvc_nl_build_link_del(buf, names[i]);
		assert_flags(nlh, RTM_DELLINK, NLM_F_ACK);
		parse_top(nlh, sizeof(struct ifinfomsg), &top);
		assert_str_attr(top.a[IFLA_IFNAME], names[i]);

		nlh = pvc_nl_build_link_get(buf, names[i]);
		assert_flags(nlh, RTM_GETLINK, NLM_F_ACK);
		parse_top(nlh, sizeof(struct ifinfomsg), &top);
		assert_str_attr(top.a[IFLA_IFNAME], names[i]);
	}
	nlh = pvc_nl_build_link_get(buf, NULL);
	assert_flags(nlh, RTM_GETLINK, NLM_F_DUMP);
	parse_top(nlh, sizeof(struct ifinfomsg), &top);
	assert_null(top.a[IFLA_IFNAME]);
}

/* ---------------------------------------------------------- addr, route */

struct addr_case {
	const char *ip;
	uint8_t prefix;
	int ifindex;
	const char *bcast; /* NULL: none expected */
};

static const struct addr_case addr_cases[] = {
    {"10.0.4.1", 24, 3, "10.0.4.255"},
    {"10.0.4.2", 24, 2, "10.0.4.255"},
    {"192.168.7.9", 16, 5, "192.168.255.255"},
    {"10.1.2.3", 8, 9, "10.255.255.255"},
    {"172.16.0.1", 30, 4, "172.16.0.3"},
    {"10.9.9.8", 31, 4, NULL}, /* point-to-point: no broadcast */
    {"10.9.9.9", 32, 4, NULL},
};

static void test_addr_add(void **state)
{
	char buf[PVC_NL_BUFSZ];
	struct tb top;

	(void)state;
	for (size_t i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]);
	     i++) {
		const struct addr_case *c = &addr_cases[i];
		struct nlmsghdr *nlh = pvc_nl_build_addr_add(
		    buf, c->ifindex, ip4(c->ip), c->prefix);
		const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

		assert_flags(nlh, RTM_NEWADDR,
			     NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
		assert_int_equal(ifa->ifa_family, AF_INET);
		assert_int_equal(ifa->ifa_prefixlen, c->prefix);
		assert_int_equal(ifa->ifa_index, c->ifindex);
		assert_int_equal(ifa->ifa_scope, RT_SCOPE_UNIVERSE);
		parse_top(nlh, sizeof(*ifa), &top);
		assert_ip_attr(top.a[IFA_LOCAL], c->ip);
		assert_ip_attr(top.a[IFA_ADDRESS], c->ip);
		if (c->bcast)
			assert_ip_attr(top.a[IFA_BROADCAST], c->bcast);
		else
			assert_null(top.a[IFA_BROADCAST]);
	}
}

static void test_addr_del(void **state)
{
	char buf[PVC_NL_BUFSZ];
	struct tb top;

	(void)state;
	for (size_t i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]);
	     i++) {
		const struct addr_case *c = &addr_cases[i];
		struct nlmsghdr *nlh = pvc_nl_build_addr_del(
		    buf, c->ifindex, ip4(c->ip), c->prefix);
		const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

		assert_flags(nlh, RTM_DELADDR, NLM_F_ACK);
		assert_int_equal(ifa->ifa_family, AF_INET);
		assert_int_equal(ifa->ifa_prefixlen, c->prefix);
		assert_int_equal(ifa->ifa_index, c->ifindex);
		parse_top(nlh, sizeof(*ifa), &top);
		assert_ip_attr(top.a[IFA_LOCAL], c->ip);
	}
}

static void test_route_default(void **state)
{
	static const struct {
		const char *gw;
		int oif;
	} cases[] = {{"10.0.4.1", 2}, {"192.168.1.254", 17}};
	char buf[PVC_NL_BUFSZ];
	struct tb top;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nlmsghdr *nlh = pvc_nl_build_route_default(
		    buf, ip4(cases[i].gw), cases[i].oif);
		const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

		assert_flags(nlh, RTM_NEWROUTE,
			     NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
		assert_int_equal(rtm->rtm_family, AF_INET);
		assert_int_equal(rtm->rtm_dst_len, 0); /* default */
		assert_int_equal(rtm->rtm_table, RT_TABLE_MAIN);
		assert_int_equal(rtm->rtm_type, RTN_UNICAST);
		assert_int_equal(rtm->rtm_scope, RT_SCOPE_UNIVERSE);
		parse_top(nlh, sizeof(*rtm), &top);
		assert_ip_attr(top.a[RTA_GATEWAY], cases[i].gw);
		assert_u32_attr(top.a[RTA_OIF], (uint32_t)cases[i].oif);
		assert_null(top.a[RTA_DST]);
	}
}

/* ---------------------------------------------------------- link replies */

static struct nlmsghdr *fake_reply(char *buf, uint16_t type, int ifindex,
				   const char *name, int master,
				   const char *kind)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	memset(buf, 0, PVC_NL_BUFSZ);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (master)
		mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
	if (kind) {
		struct nlattr *n = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
		mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
		mnl_attr_nest_end(nlh, n);
	}
	return nlh;
}

static void test_parse_link(void **state)
{
	char buf[PVC_NL_BUFSZ];
	struct pvc_nl_link l;
	struct nlmsghdr *nlh;

	(void)state;
	nlh = fake_reply(buf, RTM_NEWLINK, 5, "pvx1a2b3c4d", 3, "veth");
	assert_int_equal(pvc_nl_parse_link(nlh, &l), 0);
	assert_int_equal(l.ifindex, 5);
	assert_int_equal(l.master, 3);
	assert_true(l.flags & IFF_UP);
	assert_string_equal(l.name, "pvx1a2b3c4d");
	assert_string_equal(l.kind, "veth");

	nlh = fake_reply(buf, RTM_NEWLINK, 3, "br0", 0, "bridge");
	assert_int_equal(pvc_nl_parse_link(nlh, &l), 0);
	assert_string_equal(l.kind, "bridge");
	assert_int_equal(l.master, 0);

	nlh = fake_reply(buf, RTM_NEWLINK, 1, "lo", 0, NULL);
	assert_int_equal(pvc_nl_parse_link(nlh, &l), 0);
	assert_string_equal(l.kind, "");

	/* bad replies */
	nlh = fake_reply(buf, RTM_NEWADDR, 1, "lo", 0, NULL);
	assert_int_equal(pvc_nl_parse_link(nlh, &l), -EINVAL);
	nlh = fake_reply(buf, RTM_NEWLINK, 1, NULL, 0, NULL);
	nlh->nlmsg_len = (uint32_t)mnl_nlmsg_size(0); /* no ifinfomsg */
	assert_int_equal(pvc_nl_parse_link(nlh, &l), -EINVAL);
}

/* ---------------------------------------------------------- veth names */

static void test_veth_name(void **state)
{
	static const struct {
		const char *ct, *iface;
	} cases[] = {
	    {"web", "eth0"},
	    {"web", "eth1"},
	    {"webx", "eth0"},
	    {"example-nginx-ingress", "eth0"},
	    {"a", "b"},
	    {"0123456789012345678901234567890123456789012345678901234567"
	     "890123",
	     "eth0"},
	};
	char names[6][PVC_NETDEV_NAMELEN], again[PVC_NETDEV_NAMELEN];

	(void)state;
	for (size_t i = 0; i < 6; i++) {
		pvc_netdev_veth_name(cases[i].ct, cases[i].iface, names[i]);
		assert_int_equal(strlen(names[i]), 11);
		assert_true(strlen(names[i]) < IFNAMSIZ);
		assert_memory_equal(names[i], PVC_NETDEV_PREFIX, 3);
		pvc_netdev_veth_name(cases[i].ct, cases[i].iface, again);
		assert_string_equal(names[i], again); /* stable */
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(names[i], names[k]);
	}
	/* The separator keeps ("ab","c") apart from ("a","bc"). */
	pvc_netdev_veth_name("ab", "c", names[0]);
	pvc_netdev_veth_name("a", "bc", names[1]);
	assert_string_not_equal(names[0], names[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bridge_new),
	    cmocka_unit_test(test_veth_new),
	    cmocka_unit_test(test_link_set),
	    cmocka_unit_test(test_link_alias),
	    cmocka_unit_test(test_link_del_get),
	    cmocka_unit_test(test_addr_add),
	    cmocka_unit_test(test_addr_del),
	    cmocka_unit_test(test_route_default),
	    cmocka_unit_test(test_parse_link),
	    cmocka_unit_test(test_veth_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

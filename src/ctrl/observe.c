/* Reading the leased addresses of containers that outlived an earlier
 * pv-ctrld (see observe.h): a link dump of the device finds our host
 * veths and their peers' namespace ids; one address dump per peer, with
 * IFA_TARGET_NETNSID, reads what the peer holds without entering its
 * namespace (Linux 4.20+, strict netlink checking). */
#include "ctrl/observe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ctrl/netdev.h"
#include "ctrl/nl.h"

#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

struct peer {
	char veth[IFNAMSIZ];
	int nsid;
	int ifindex; /* in the peer's namespace */
};

struct links {
	struct peer v[256];
	size_t n;
};

static int link_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(a, IFLA_MAX) >= 0)
		tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[IFLA_MAX + 1] = {0};
	struct links *ls = data;
	struct pvc_nl_link l;
	struct peer *p;

	if (pvc_nl_parse_link(nlh, &l) < 0 || strcmp(l.kind, "veth") != 0 ||
	    strncmp(l.name, PVC_NETDEV_PREFIX, strlen(PVC_NETDEV_PREFIX)) ||
	    ls->n == sizeof(ls->v) / sizeof(ls->v[0]))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr, tb);
	/* No IFLA_LINK_NETNSID: the peer is in this namespace, not ours. */
	if (!tb[IFLA_LINK] || !tb[IFLA_LINK_NETNSID] ||
	    mnl_attr_get_payload_len(tb[IFLA_LINK]) != 4 ||
	    mnl_attr_get_payload_len(tb[IFLA_LINK_NETNSID]) != 4)
		return MNL_CB_OK;
	p = &ls->v[ls->n++];
	snprintf(p->veth, sizeof(p->veth), "%s", l.name);
	p->ifindex = (int)mnl_attr_get_u32(tb[IFLA_LINK]);
	p->nsid = (int)mnl_attr_get_u32(tb[IFLA_LINK_NETNSID]);
	return MNL_CB_OK;
}

struct addrs {
	const struct peer *peer;
	struct pvc_seen_set *out;
	int r;
};

static int addr_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(a, IFA_MAX) >= 0)
		tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1] = {0};
	struct addrs *a = data;
	struct pvc_seen *s, *v;
	const char *label;

	if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET ||
	    (int)ifa->ifa_index != a->peer->ifindex)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr, tb);
	if (!tb[IFA_LOCAL] || mnl_attr_get_payload_len(tb[IFA_LOCAL]) != 4)
		return MNL_CB_OK;
	label = tb[IFA_LABEL] ? mnl_attr_get_str(tb[IFA_LABEL]) : "";
	v = realloc(a->out->v, (a->out->n + 1) * sizeof(*v));
	if (!v) {
		a->r = -ENOMEM;
		return MNL_CB_ERROR;
	}
	a->out->v = v;
	s = &v[a->out->n++];
	memset(s, 0, sizeof(*s));
	snprintf(s->veth, sizeof(s->veth), "%s", a->peer->veth);
	snprintf(s->iface, sizeof(s->iface), "%.*s", IFNAMSIZ - 1, label);
	memcpy(&s->ip, mnl_attr_get_payload(tb[IFA_LOCAL]), 4);
	s->prefix = ifa->ifa_prefixlen;
	return MNL_CB_OK;
}

int pvc_leases_observe(struct pvc_seen_set *out, struct pvx_errlist *warnings)
{
	char buf[PVC_NL_BUFSZ];
	struct links ls = {0};
	struct nlmsghdr *nlh;
	struct pvc_nl nl;
	int one = 1, r;

	out->v = NULL;
	out->n = 0;
	r = pvc_nl_open(&nl);
	if (r < 0)
		return r;
	r = pvc_nl_talk(&nl, pvc_nl_build_link_get(buf, NULL), link_cb, &ls);
	if (r < 0)
		goto out;
	/* Strict checking: the kernel honours ifa_index and the target
	 * namespace of a dump request instead of ignoring them. */
	if (setsockopt(mnl_socket_get_fd(nl.sock), SOL_NETLINK,
		       NETLINK_GET_STRICT_CHK, &one, sizeof(one)) < 0) {
		r = -errno;
		goto out;
	}
	for (size_t i = 0; i < ls.n; i++) {
		struct addrs a = {.peer = &ls.v[i], .out = out};
		struct ifaddrmsg *ifa;
		size_t before = out->n;

		memset(buf, 0, sizeof(buf));
		nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = RTM_GETADDR;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
		ifa->ifa_family = AF_INET;
		ifa->ifa_index = (uint32_t)ls.v[i].ifindex;
		mnl_attr_put_u32(nlh, IFA_TARGET_NETNSID,
				 (uint32_t)ls.v[i].nsid);
		r = pvc_nl_talk(&nl, nlh, addr_cb, &a);
		if (a.r < 0) {
			r = a.r;
			goto out;
		}
		if (r < 0) {
			pvx_errlist_add(warnings,
					"leases: veth %s: cannot read the "
					"addresses of its peer: %s",
					ls.v[i].veth, strerror(-r));
			r = 0;
			continue;
		}
		for (size_t k = before; k < out->n; k++) {
			char ip[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &out->v[k].ip, ip, sizeof(ip));
			pvx_errlist_add(warnings,
					"leases: seen on a running container: "
					"%s/%u on %s (peer of %s)",
					ip, (unsigned)out->v[k].prefix,
					out->v[k].iface, out->v[k].veth);
		}
	}
out:
	pvc_nl_close(&nl);
	if (r < 0)
		pvc_seen_free(out);
	return r;
}

int pvc_leases_from_seen(const struct pvc_state *st,
			 const struct pvc_seen_set *seen,
			 struct pvc_leases *out)
{
	out->v = NULL;
	out->n = 0;
	for (size_t i = 0; i < st->n_containers; i++) {
		const struct pvc_container *c = &st->containers[i];
		if (c->mode != PVC_NET_POOL)
			continue;
		for (size_t k = 0; k < c->n_ifaces; k++) {
			const struct pvc_iface *ifc = &c->ifaces[k];
			char veth[PVC_NETDEV_NAMELEN];
			const struct pvc_seen *s = NULL;
			struct pvc_lease *l, *v;

			pvc_netdev_veth_name(c->name, ifc->name, veth);
			for (size_t j = 0; j < seen->n && !s; j++)
				if (strcmp(seen->v[j].veth, veth) == 0)
					s = &seen->v[j];
			if (!s || !ifc->pool)
				continue;
			v = realloc(out->v, (out->n + 1) * sizeof(*v));
			if (!v)
				goto nomem;
			out->v = v;
			l = &v[out->n++];
			memset(l, 0, sizeof(*l));
			l->container = strdup(c->name);
			l->iface = strdup(ifc->name);
			l->pool = strdup(ifc->pool);
			if (!l->container || !l->iface || !l->pool)
				goto nomem;
			l->ip = s->ip;
			l->prefix = s->prefix;
		}
	}
	pvc_leases_sort(out);
	return 0;
nomem:
	pvc_leases_free(out);
	return -ENOMEM;
}

void pvc_seen_free(struct pvc_seen_set *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

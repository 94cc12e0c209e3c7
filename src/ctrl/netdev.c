/* Bridges, veths, addresses and routes for the runtime. Work inside a
 * container's namespace is done through a netlink socket opened while the
 * thread is switched into that namespace, then the thread switches back
 * before anything else happens (pv-ctrld is single-threaded). */
#include "ctrl/netdev.h"

#include "common/ns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pvc_netdev_veth_name(const char *container, const char *iface,
			  char name[PVC_NETDEV_NAMELEN])
{
	/* FNV-1a, 32 bit: stable, no dependency, collisions improbable for
	 * the few containers of a device (and detected as EEXIST if ever). */
	uint32_t h = 2166136261u;
	const char *parts[] = {container, "/", iface};

	for (size_t i = 0; i < 3; i++)
		for (const char *p = parts[i]; *p; p++) {
			h ^= (uint8_t)*p;
			h *= 16777619u;
		}
	snprintf(name, PVC_NETDEV_NAMELEN, PVC_NETDEV_PREFIX "%08x", h);
}

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	if (pvc_nl_parse_link(nlh, data) < 0)
		return MNL_CB_ERROR;
	return MNL_CB_OK;
}

int pvc_netdev_get(struct pvc_nl *nl, const char *name, struct pvc_nl_link *l)
{
	char buf[PVC_NL_BUFSZ];
	int r;

	memset(l, 0, sizeof(*l));
	r = pvc_nl_talk(nl, pvc_nl_build_link_get(buf, name), get_cb, l);
	if (r == 0 && l->ifindex <= 0)
		r = -ENODEV;
	return r;
}

static int link_up(struct pvc_nl *nl, int ifindex, int master)
{
	char buf[PVC_NL_BUFSZ];
	return pvc_nl_talk(
	    nl, pvc_nl_build_link_set(buf, ifindex, true, master), NULL, NULL);
}

/* 1: added, 0: was there already (what we want), or -errno. */
static int addr_add(struct pvc_nl *nl, int ifindex, struct in_addr ip,
		    uint8_t prefix)
{
	char buf[PVC_NL_BUFSZ];
	int r = pvc_nl_talk(nl, pvc_nl_build_addr_add(buf, ifindex, ip, prefix),
			    NULL, NULL);
	if (r == -EEXIST)
		return 0;
	return r < 0 ? r : 1;
}

int pvc_netdev_addr_del(struct pvc_nl *nl, const char *name, struct in_addr ip,
			uint8_t prefix, char *err, size_t errlen)
{
	char buf[PVC_NL_BUFSZ], a[INET_ADDRSTRLEN];
	struct pvc_nl_link l;
	int r = pvc_netdev_get(nl, name, &l);

	if (r == 0)
		r = pvc_nl_talk(
		    nl, pvc_nl_build_addr_del(buf, l.ifindex, ip, prefix), NULL,
		    NULL);
	if (r == -ENODEV || r == -EADDRNOTAVAIL)
		return 0;
	if (r < 0) {
		inet_ntop(AF_INET, &ip, a, sizeof(a));
		snprintf(err, errlen, "%s: delete address %s/%u: %s", name, a,
			 prefix, strerror(-r));
	}
	return r;
}

int pvc_netdev_bridge_ensure(struct pvc_nl *nl, const char *name,
			     struct in_addr gw, uint8_t prefix, bool *created,
			     bool *addr_added, char *err, size_t errlen)
{
	char buf[PVC_NL_BUFSZ], ip[INET_ADDRSTRLEN];
	struct pvc_nl_link l;
	int r;

	*created = false;
	*addr_added = false;
	r = pvc_netdev_get(nl, name, &l);
	if (r == -ENODEV) {
		r = pvc_nl_talk(nl, pvc_nl_build_bridge_new(buf, name), NULL,
				NULL);
		if (r < 0) {
			snprintf(err, errlen, "bridge %s: %s", name,
				 strerror(-r));
			return r;
		}
		*created = true;
		r = pvc_netdev_get(nl, name, &l);
	}
	if (r < 0) {
		snprintf(err, errlen, "bridge %s: %s", name, strerror(-r));
		return r;
	}
	if (strcmp(l.kind, "bridge") != 0) {
		snprintf(err, errlen, "bridge %s: exists and is a '%s' link",
			 name, l.kind);
		return -EEXIST;
	}
	r = link_up(nl, l.ifindex, 0);
	if (r < 0) {
		snprintf(err, errlen, "bridge %s: up: %s", name, strerror(-r));
		return r;
	}
	r = addr_add(nl, l.ifindex, gw, prefix);
	if (r < 0) {
		inet_ntop(AF_INET, &gw, ip, sizeof(ip));
		snprintf(err, errlen, "bridge %s: address %s/%u: %s", name, ip,
			 prefix, strerror(-r));
		return r;
	}
	*addr_added = r == 1;
	return 0;
}

int pvc_netdev_del(struct pvc_nl *nl, const char *name, char *err,
		   size_t errlen)
{
	char buf[PVC_NL_BUFSZ];
	int r = pvc_nl_talk(nl, pvc_nl_build_link_del(buf, name), NULL, NULL);

	if (r == -ENODEV)
		return 0;
	if (r < 0)
		snprintf(err, errlen, "delete %s: %s", name, strerror(-r));
	return r;
}

int pvc_netdev_mark(struct pvc_nl *nl, const char *name, const char *alias,
		    char *err, size_t errlen)
{
	char buf[PVC_NL_BUFSZ];
	struct pvc_nl_link l;
	int r = pvc_netdev_get(nl, name, &l);

	if (r == 0)
		r = pvc_nl_talk(nl,
				pvc_nl_build_link_alias(buf, l.ifindex, alias),
				NULL, NULL);
	if (r < 0)
		snprintf(err, errlen, "%s: alias: %s", name, strerror(-r));
	return r;
}

struct marked {
	const char *alias;
	char (*names)[16];
	size_t n, cap;
};

static int marked_cb(const struct nlmsghdr *nlh, void *data)
{
	struct marked *m = data;
	struct pvc_nl_link l;
	char(*nn)[16];

	if (pvc_nl_parse_link(nlh, &l) < 0 || strcmp(l.alias, m->alias) != 0)
		return MNL_CB_OK;
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 8;
		nn = realloc(m->names, m->cap * sizeof(*nn));
		if (!nn)
			return MNL_CB_ERROR;
		m->names = nn;
	}
	memcpy(m->names[m->n++], l.name, sizeof(l.name));
	return MNL_CB_OK;
}

int pvc_netdev_del_marked(struct pvc_nl *nl, const char *alias, char *names,
			  size_t nameslen, char *err, size_t errlen)
{
	char buf[PVC_NL_BUFSZ];
	struct marked m = {.alias = alias};
	size_t off = 0;
	int r, n = 0;

	if (nameslen)
		names[0] = '\0';
	/* Collect first: the socket cannot delete while it dumps. */
	r = pvc_nl_talk(nl, pvc_nl_build_link_get(buf, NULL), marked_cb, &m);
	if (r < 0) {
		snprintf(err, errlen, "list links: %s", strerror(-r));
		goto out;
	}
	for (size_t i = 0; i < m.n; i++) {
		/* A veth goes with its peer: a name may be gone already. */
		if (pvc_netdev_del(nl, m.names[i], err, errlen) < 0)
			continue;
		n++;
		if (off < nameslen)
			off += (size_t)snprintf(names + off, nameslen - off,
						"%s%s", off ? " " : "",
						m.names[i]);
	}
	r = n;
out:
	free(m.names);
	return r;
}

struct inside {
	const struct pvc_netdev_wire *w; /* NULL: lo only */
	char *err;
	size_t errlen;
};

/* Inside the container's namespace (through pvx_ns_run_fd): address, links
 * up, default route. */
static int wire_inside(void *arg)
{
	const struct inside *in = arg;
	const struct pvc_netdev_wire *w = in->w;
	char *err = in->err;
	size_t errlen = in->errlen;
	struct pvc_nl nl;
	struct pvc_nl_link eth, lo;
	char buf[PVC_NL_BUFSZ];
	int r = pvc_nl_open(&nl);

	if (r < 0) {
		snprintf(err, errlen, "netlink in container: %s", strerror(-r));
		return r;
	}
	if ((r = pvc_netdev_get(&nl, w->peer, &eth)) < 0) {
		snprintf(err, errlen, "%s: %s", w->peer, strerror(-r));
		goto out;
	}
	if ((r = addr_add(&nl, eth.ifindex, w->ip, w->prefix)) < 0) {
		snprintf(err, errlen, "%s: address: %s", w->peer, strerror(-r));
		goto out;
	}
	if ((r = link_up(&nl, eth.ifindex, 0)) < 0) {
		snprintf(err, errlen, "%s: up: %s", w->peer, strerror(-r));
		goto out;
	}
	if ((r = pvc_netdev_get(&nl, "lo", &lo)) < 0 ||
	    (r = link_up(&nl, lo.ifindex, 0)) < 0) {
		snprintf(err, errlen, "lo: up: %s", strerror(-r));
		goto out;
	}
	if (w->default_route) {
		r = pvc_nl_talk(
		    &nl,
		    pvc_nl_build_route_default(buf, w->gateway, eth.ifindex),
		    NULL, NULL);
		if (r == -EEXIST)
			r = 0;
		if (r < 0) {
			snprintf(err, errlen, "default route: %s",
				 strerror(-r));
			goto out;
		}
	}
out:
	pvc_nl_close(&nl);
	return r;
}

int pvc_netdev_wire(struct pvc_nl *nl, int netns_fd,
		    const struct pvc_netdev_wire *w, char *err, size_t errlen)
{
	char buf[PVC_NL_BUFSZ];
	struct pvc_nl_link br, host;
	int r;

	if ((r = pvc_netdev_get(nl, w->bridge, &br)) < 0) {
		snprintf(err, errlen, "bridge %s: %s", w->bridge, strerror(-r));
		return r;
	}
	/* Our name (prefix + hash of this container): a leftover of ours. */
	if ((r = pvc_netdev_del(nl, w->host, err, errlen)) < 0)
		return r;
	r = pvc_nl_talk(
	    nl, pvc_nl_build_veth_new(buf, w->host, w->peer, netns_fd, w->mac),
	    NULL, NULL);
	if (r < 0) {
		snprintf(err, errlen, "veth: %s", strerror(-r));
		return r;
	}
	if ((r = pvc_netdev_get(nl, w->host, &host)) < 0 ||
	    (r = link_up(nl, host.ifindex, br.ifindex)) < 0) {
		snprintf(err, errlen, "veth %s: up on %s: %s", w->host,
			 w->bridge, strerror(-r));
		goto fail;
	}
	{
		struct inside in = {w, err, errlen};
		/* wire_inside's own failures are -errno too; a failed switch
		 * leaves err empty. */
		err[0] = '\0';
		r = pvx_ns_run_fd(netns_fd, PVX_NS_NET, wire_inside, &in);
		if (r < 0 && !err[0])
			snprintf(err, errlen, "setns: %s", strerror(-r));
	}
	if (r < 0)
		goto fail;
	return 0;
fail:
	/* Deleting the host end removes the peer too: nothing half-done. */
	pvc_netdev_del(nl, w->host, buf, sizeof(buf));
	return r;
}

int pvc_netdev_macvlan_wire(struct pvc_nl *nl, int netns_fd, const char *parent,
			    const struct pvc_netdev_wire *w, char *err,
			    size_t errlen)
{
	char buf[PVC_NL_BUFSZ];
	struct pvc_nl_link pl;
	struct inside in = {w, err, errlen};
	int r;

	if ((r = pvc_netdev_get(nl, parent, &pl)) < 0) {
		snprintf(err, errlen, "parent %s: %s", parent, strerror(-r));
		return r;
	}
	r = pvc_nl_talk(nl,
			pvc_nl_build_macvlan_new(buf, w->peer, pl.ifindex,
						 netns_fd, w->mac),
			NULL, NULL);
	if (r < 0) {
		snprintf(err, errlen, "macvlan %s on %s: %s", w->peer, parent,
			 strerror(-r));
		return r;
	}
	err[0] = '\0';
	r = pvx_ns_run_fd(netns_fd, PVX_NS_NET, wire_inside, &in);
	if (r < 0 && !err[0])
		snprintf(err, errlen, "setns: %s", strerror(-r));
	return r;
}

static int lo_inside(void *arg)
{
	struct pvc_nl nl;
	struct pvc_nl_link lo;
	int r = pvc_nl_open(&nl);

	(void)arg;
	if (r < 0)
		return r;
	if ((r = pvc_netdev_get(&nl, "lo", &lo)) == 0)
		r = link_up(&nl, lo.ifindex, 0);
	pvc_nl_close(&nl);
	return r;
}

int pvc_netdev_lo_up(int netns_fd, char *err, size_t errlen)
{
	int r = pvx_ns_run_fd(netns_fd, PVX_NS_NET, lo_inside, NULL);

	if (r < 0)
		snprintf(err, errlen, "lo: up: %s", strerror(-r));
	return r;
}

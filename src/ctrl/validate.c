/* Cross-checks of a parsed device state (SPEC §3.4): pools against each
 * other, static addresses against their pools, ingress rules against each
 * other and against the containers, requirements against the exports.
 * Robust to a half-parsed model: what did not parse (NULL, invalid) is
 * skipped, so that the loader can report every problem at once. */
#include "ctrl/state.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vctx {
	struct pvx_errlist *el;
	size_t n0;
};

/* Adds "<file>: <path>: <reason>". */
__attribute__((format(printf, 4, 5))) static void
verr(struct vctx *v, const char *file, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* The state is refused by the messages' presence: never lose one. */
	if (pvx_errlist_vadd_at(v->el, file, path, fmt, ap) < 0)
		pvx_errlist_add(v->el, "%s: %s: (out of memory)", file, path);
	va_end(ap);
}

static bool str_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static const char *ntoa(struct in_addr a, char *buf)
{
	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
	return buf;
}

static const char *cidr_fmt(const struct pvx_cidr *c, char *buf)
{
	char ip[INET_ADDRSTRLEN];

	snprintf(buf, INET_ADDRSTRLEN + 4, "%s/%u", ntoa(c->addr, ip),
		 c->prefix);
	return buf;
}

static void check_pools(struct vctx *v, const struct pvc_state *st)
{
	char path[256], a[INET_ADDRSTRLEN + 4], b[INET_ADDRSTRLEN + 4];
	char ip[INET_ADDRSTRLEN];

	for (size_t i = 0; i < st->n_pools; i++) {
		const struct pvc_pool *p = &st->pools[i];
		struct in_addr bc;

		if (!p->name)
			continue;
		if (!p->invalid) {
			snprintf(path, sizeof(path), "network.pools.%s.gateway",
				 p->name);
			bc = pvx_cidr_broadcast(&p->subnet);
			cidr_fmt(&p->subnet, a);
			if (!pvx_cidr_contains(&p->subnet, p->gateway))
				verr(v, "device.json", path,
				     "gateway %s outside subnet %s",
				     ntoa(p->gateway, ip), a);
			else if (p->gateway.s_addr == p->subnet.addr.s_addr)
				verr(v, "device.json", path,
				     "gateway %s is the network address of %s",
				     ntoa(p->gateway, ip), a);
			else if (p->gateway.s_addr == bc.s_addr)
				verr(v, "device.json", path,
				     "gateway %s is the broadcast address of "
				     "%s",
				     ntoa(p->gateway, ip), a);
		}
		for (size_t j = 0; j < i; j++) {
			const struct pvc_pool *q = &st->pools[j];
			if (!q->name)
				continue;
			if (!p->invalid && !q->invalid &&
			    pvx_cidr_overlaps(&p->subnet, &q->subnet)) {
				snprintf(path, sizeof(path),
					 "network.pools.%s.subnet", p->name);
				verr(v, "device.json", path,
				     "subnet %s overlaps pool %s (%s)",
				     cidr_fmt(&p->subnet, a), q->name,
				     cidr_fmt(&q->subnet, b));
			}
			if (str_eq(p->bridge, q->bridge)) {
				snprintf(path, sizeof(path),
					 "network.pools.%s.bridge", p->name);
				verr(v, "device.json", path,
				     "bridge '%s' also used by pool %s",
				     p->bridge, q->name);
			}
		}
	}
}

/* Formats where an interface's pool or address was written. */
static void iface_path(const struct pvc_iface *f, const char *field, char *buf,
		       size_t len)
{
	if (strcmp(field, "ipv4_address") == 0 && f->ip_short)
		snprintf(buf, len, "network.ip"); /* Pantavisor's shorthand */
	else if (f->src_index < 0)
		snprintf(buf, len, "network.%s", field);
	else if (strcmp(field, "pool") == 0 && f->pool_default)
		snprintf(buf, len, "network.pool");
	else
		snprintf(buf, len, "network.interfaces[%d].%s", f->src_index,
			 field);
}

static void check_static(struct vctx *v, const char *file,
			 const struct pvc_iface *f, const struct pvc_pool *p,
			 const char *path)
{
	char ip[INET_ADDRSTRLEN], a[INET_ADDRSTRLEN + 4];
	struct in_addr bc = pvx_cidr_broadcast(&p->subnet);

	ntoa(f->static_ip, ip);
	cidr_fmt(&p->subnet, a);
	if (!pvx_cidr_contains(&p->subnet, f->static_ip))
		verr(v, file, path, "%s outside pool %s (%s)", ip, p->name, a);
	else if (f->static_prefix >= 0 && f->static_prefix != p->subnet.prefix)
		verr(v, file, path, "prefix /%d differs from pool %s (%s)",
		     f->static_prefix, p->name, a);
	else if (f->static_ip.s_addr == p->gateway.s_addr)
		verr(v, file, path, "%s is the gateway of pool %s", ip,
		     p->name);
	else if (f->static_ip.s_addr == p->subnet.addr.s_addr)
		verr(v, file, path, "%s is the network address of pool %s (%s)",
		     ip, p->name, a);
	else if (f->static_ip.s_addr == bc.s_addr)
		verr(v, file, path,
		     "%s is the broadcast address of pool %s (%s)", ip, p->name,
		     a);
}

/* A static address already taken by an earlier interface, or NULL. */
static const struct pvc_container *static_taken(const struct pvc_state *st,
						size_t ci, size_t fi,
						const struct pvc_iface **by)
{
	const struct pvc_iface *f = &st->containers[ci].ifaces[fi];

	for (size_t i = 0; i <= ci; i++) {
		const struct pvc_container *c = &st->containers[i];
		size_t n = i == ci ? fi : c->n_ifaces;
		for (size_t j = 0; j < n; j++) {
			const struct pvc_iface *g = &c->ifaces[j];
			if (g->has_static &&
			    g->static_ip.s_addr == f->static_ip.s_addr) {
				*by = g;
				return c;
			}
		}
	}
	return NULL;
}

static void check_containers(struct vctx *v, const struct pvc_state *st)
{
	char file[320], path[256], ip[INET_ADDRSTRLEN];

	for (size_t ci = 0; ci < st->n_containers; ci++) {
		const struct pvc_container *c = &st->containers[ci];
		bool netpool_reported = false;

		if (!c->name)
			continue;
		snprintf(file, sizeof(file), "%s/run.json", c->name);
		for (size_t fi = 0; fi < c->n_ifaces; fi++) {
			const struct pvc_iface *f = &c->ifaces[fi];
			const struct pvc_iface *by = NULL;
			const struct pvc_container *o;
			const struct pvc_pool *p;

			if (!f->pool)
				continue;
			p = pvc_state_find_pool(st, f->pool);
			if (!p) {
				iface_path(f, "pool", path, sizeof(path));
				if (f->pool_default && netpool_reported)
					continue;
				netpool_reported |= f->pool_default;
				verr(v, file, path, "unknown pool '%s'",
				     f->pool);
				continue;
			}
			if (!f->has_static)
				continue;
			iface_path(f, "ipv4_address", path, sizeof(path));
			if (!p->invalid)
				check_static(v, file, f, p, path);
			o = static_taken(st, ci, fi, &by);
			if (o)
				verr(v, file, path,
				     "%s already used by %s (%s)",
				     ntoa(f->static_ip, ip), o->name,
				     by->name ? by->name : "?");
		}
		snprintf(file, sizeof(file), "%s/services.json", c->name);
		for (size_t i = 0; i < c->n_exports; i++) {
			for (size_t j = 0; j < i; j++) {
				if (!str_eq(c->exports[i].name,
					    c->exports[j].name))
					continue;
				snprintf(path, sizeof(path),
					 "services[%zu].name", i);
				verr(v, file, path,
				     "duplicate service '%s' (also "
				     "services[%zu])",
				     c->exports[i].name, j);
				break;
			}
		}
	}
}

/* How many containers export service; *first gets one of them. */
static size_t count_providers(const struct pvc_state *st, const char *service,
			      const struct pvc_container **first,
			      const struct pvc_container **second)
{
	size_t n = 0;

	*first = *second = NULL;
	for (size_t i = 0; i < st->n_containers; i++) {
		if (!pvc_container_find_export(&st->containers[i], service))
			continue;
		if (n == 0)
			*first = &st->containers[i];
		else if (n == 1)
			*second = &st->containers[i];
		n++;
	}
	return n;
}

/* Whether a container did not parse: a missing provider may be there. */
static bool any_invalid(const struct pvc_state *st)
{
	for (size_t i = 0; i < st->n_containers; i++)
		if (st->containers[i].invalid)
			return true;
	return false;
}

static void check_requires(struct vctx *v, const struct pvc_state *st)
{
	char file[320], path[256];

	for (size_t ci = 0; ci < st->n_containers; ci++) {
		const struct pvc_container *c = &st->containers[ci];
		size_t nreq = 0, nopt = 0;

		if (!c->name)
			continue;
		snprintf(file, sizeof(file), "%s/run.json", c->name);
		for (size_t i = 0; i < c->n_requires; i++) {
			const struct pvc_require *r = &c->requires[i];
			const struct pvc_container *a, *b;
			size_t idx = r->optional ? nopt++ : nreq++;
			size_t n;

			if (!r->name)
				continue;
			snprintf(path, sizeof(path), "services.%s[%zu]",
				 r->optional ? "optional" : "required", idx);
			n = count_providers(st, r->name, &a, &b);
			if (n == 0 && !r->optional && !any_invalid(st))
				verr(v, file, path,
				     "no container exports service '%s'",
				     r->name);
			else if (n > 1)
				verr(v, file, path,
				     "service '%s' is exported by several "
				     "containers (%s, %s): ambiguous",
				     r->name, a->name, b->name);
		}
	}
}

static void check_ingress_refs(struct vctx *v, const struct pvc_state *st,
			       size_t i)
{
	const struct pvc_ingress *g = &st->ingress[i];
	const struct pvc_container *c;
	const struct pvc_export *e;
	char path[64];

	if (!g->provider)
		return;
	c = pvc_state_find(st, g->provider);
	if (!c) {
		snprintf(path, sizeof(path), "ingress[%zu].provider", i);
		verr(v, "device.json", path, "unknown container '%s'",
		     g->provider);
		return;
	}
	if (!g->service || c->invalid)
		return; /* its exports and mode are not known for sure */
	snprintf(path, sizeof(path), "ingress[%zu].service", i);
	e = pvc_container_find_export(c, g->service);
	if (!e) {
		verr(v, "device.json", path,
		     "container '%s' exports no service '%s'", g->provider,
		     g->service);
		return;
	}
	/* A port is reached at the container's address; mode none has
	 * none (a socket path is reached through its root instead). */
	if (e->port && !e->socket && c->mode == PVC_NET_NONE)
		verr(v, "device.json", path,
		     "service '%s' has a port but container '%s' has network "
		     "mode none (no address to reach it at)",
		     g->service, g->provider);
}

static bool is_type(const struct pvc_ingress *g, const char *t)
{
	return g->type && strcmp(g->type, t) == 0;
}

static void check_ingress(struct vctx *v, const struct pvc_state *st)
{
	char path[64], a[PVX_ADDRSTRLEN], b[PVX_ADDRSTRLEN];

	for (size_t i = 0; i < st->n_ingress; i++) {
		const struct pvc_ingress *g = &st->ingress[i];

		for (size_t j = 0; j < i && g->name; j++) {
			if (!str_eq(g->name, st->ingress[j].name))
				continue;
			snprintf(path, sizeof(path), "ingress[%zu].name", i);
			verr(v, "device.json", path,
			     "duplicate ingress name '%s' (also ingress[%zu])",
			     g->name, j);
			break;
		}
		check_ingress_refs(v, st, i);
		if (!g->ext.family)
			continue; /* type or external did not parse */
		snprintf(path, sizeof(path), "ingress[%zu].external", i);
		pvx_hostport_format(&g->ext, a, sizeof(a));
		for (size_t j = 0; j < i; j++) {
			const struct pvc_ingress *h = &st->ingress[j];
			bool tcp_g = is_type(g, "tcp"),
			     tcp_h = is_type(h, "tcp");

			if (!h->ext.family)
				continue;
			pvx_hostport_format(&h->ext, b, sizeof(b));
			if ((tcp_g || tcp_h) &&
			    pvx_hostport_collides(&g->ext, &h->ext)) {
				verr(v, "device.json", path,
				     "%s %s collides with %s ingress[%zu] '%s' "
				     "(%s)",
				     g->type, a, h->type, j,
				     h->name ? h->name : "", b);
				break;
			}
			if (!tcp_g && !tcp_h &&
			    pvx_hostport_equal(&g->ext, &h->ext) &&
			    str_eq(g->path, h->path)) {
				verr(v, "device.json", path,
				     "http %s path '%s' already routed by "
				     "ingress[%zu] '%s'",
				     a, g->path[0] ? g->path : "/", j,
				     h->name ? h->name : "");
				break;
			}
		}
	}
}

int pvc_state_validate(const struct pvc_state *st, struct pvx_errlist *el)
{
	struct vctx v = {.el = el, .n0 = el->n};

	check_pools(&v, st);
	check_containers(&v, st);
	check_requires(&v, st);
	check_ingress(&v, st);
	return el->n > v.n0 ? -EINVAL : 0;
}

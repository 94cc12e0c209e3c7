/* IPAM assignment (SPEC §4): from a state and the previous leases to the new
 * leases. Pure and deterministic: statics first, then surviving previous
 * leases, then the lowest free address in container-name order. */
#include "ctrl/ipam.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One pool interface of one container: the unit IPAM serves. */
struct ipam_item {
	const struct pvc_container *c;
	const struct pvc_iface *ifc;
	size_t pool;   /* index into st->pools */
	bool assigned; /* ip is set */
	uint32_t ip;   /* host byte order */
};

/* Addresses of one pool that can no longer be handed out, sorted, host
 * byte order. Leases per device are few, so a sorted array beats a bitmap
 * (a /8 pool would need 2 MiB of bits). */
struct ipam_taken {
	uint32_t *v;
	size_t n, cap;
};

static size_t taken_pos(const struct ipam_taken *t, uint32_t ip)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->v[mid] < ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool taken_has(const struct ipam_taken *t, uint32_t ip)
{
	size_t i = taken_pos(t, ip);
	return i < t->n && t->v[i] == ip;
}

static int taken_add(struct ipam_taken *t, uint32_t ip)
{
	size_t i = taken_pos(t, ip);

	if (i < t->n && t->v[i] == ip)
		return 0;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		uint32_t *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(*t->v));
	t->v[i] = ip;
	t->n++;
	return 0;
}

static uint32_t pool_net(const struct pvc_pool *p)
{
	return ntohl(p->subnet.addr.s_addr) & pvx_cidr_mask(p->subnet.prefix);
}

static uint32_t pool_bcast(const struct pvc_pool *p)
{
	return pool_net(p) | ~pvx_cidr_mask(p->subnet.prefix);
}

/* Whether ip may be leased at all in pool p: inside the subnet, and neither
 * the network, the broadcast nor the gateway address. */
static bool pool_usable(const struct pvc_pool *p, uint32_t ip)
{
	struct in_addr a = {.s_addr = htonl(ip)};

	if (!pvx_cidr_contains(&p->subnet, a))
		return false;
	return ip != pool_net(p) && ip != pool_bcast(p) &&
	       ip != ntohl(p->gateway.s_addr);
}

/* Lowest address of p that is neither reserved nor taken; false when the
 * pool is exhausted. /31 and /32 pools have no host range to give. */
static bool pool_lowest_free(const struct pvc_pool *p,
			     const struct ipam_taken *t, uint32_t *ip)
{
	uint64_t cand, last;
	size_t i;

	if (p->subnet.prefix > 30)
		return false;
	cand = (uint64_t)pool_net(p) + 1;
	last = (uint64_t)pool_bcast(p) - 1;
	/* t is sorted: walk it once, stepping over each taken address. */
	for (i = taken_pos(t, (uint32_t)cand); i < t->n; i++) {
		if (t->v[i] != cand)
			break;
		cand++;
	}
	if (cand > last)
		return false;
	*ip = (uint32_t)cand;
	return true;
}

int pvc_mac_parse(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char ch = s[i * 3 + k];
			v <<= 4;
			if (ch >= '0' && ch <= '9')
				v |= (unsigned)(ch - '0');
			else if (ch >= 'a' && ch <= 'f')
				v |= (unsigned)(ch - 'a' + 10);
			else if (ch >= 'A' && ch <= 'F')
				v |= (unsigned)(ch - 'A' + 10);
			else
				return -EINVAL;
		}
		if (s[i * 3 + 2] != (i == 5 ? '\0' : ':'))
			return -EINVAL;
		mac[i] = (uint8_t)v;
	}
	return 0;
}

void pvc_mac_format(const uint8_t mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
}

static void mac_from_ip(uint32_t ip, uint8_t mac[6])
{
	mac[0] = 0x02; /* locally administered, unicast */
	mac[1] = 0x00;
	mac[2] = (uint8_t)(ip >> 24);
	mac[3] = (uint8_t)(ip >> 16);
	mac[4] = (uint8_t)(ip >> 8);
	mac[5] = (uint8_t)ip;
}

static int lease_cmp(const void *a, const void *b)
{
	const struct pvc_lease *x = a, *y = b;
	int r = strcmp(x->container, y->container);
	return r ? r : strcmp(x->iface, y->iface);
}

void pvc_leases_sort(struct pvc_leases *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), lease_cmp);
}

static int item_cmp(const void *a, const void *b)
{
	const struct ipam_item *x = a, *y = b;
	int r = strcmp(x->c->name, y->c->name);
	if (r)
		return r;
	/* Same container: keep the declared interface order. */
	return x->ifc < y->ifc ? -1 : x->ifc > y->ifc;
}

static ssize_t pool_index(const struct pvc_state *st, const char *name)
{
	for (size_t i = 0; name && i < st->n_pools; i++)
		if (strcmp(st->pools[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static const struct pvc_lease *prev_find(const struct pvc_leases *prev,
					 const char *container,
					 const char *iface)
{
	for (size_t i = 0; prev && i < prev->n; i++)
		if (strcmp(prev->v[i].container, container) == 0 &&
		    strcmp(prev->v[i].iface, iface) == 0)
			return &prev->v[i];
	return NULL;
}

/* Collects every pool interface of every pool-mode container, sorted by
 * container name (then declared order), the order IPAM serves them in. */
static int collect_items(const struct pvc_state *st, struct ipam_item **out,
			 size_t *n_out, struct pvx_errlist *el)
{
	struct ipam_item *items = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < st->n_containers; i++) {
		const struct pvc_container *c = &st->containers[i];
		if (c->mode != PVC_NET_POOL)
			continue;
		for (size_t k = 0; k < c->n_ifaces; k++) {
			ssize_t p = pool_index(st, c->ifaces[k].pool);
			if (p < 0) {
				/* The validator refuses this; stay safe. */
				pvx_errlist_add(
				    el, "ipam: %s: unknown pool %s", c->name,
				    c->ifaces[k].pool ? c->ifaces[k].pool
						      : "(none)");
				continue;
			}
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				struct ipam_item *v =
				    realloc(items, ncap * sizeof(*v));
				if (!v) {
					free(items);
					return -ENOMEM;
				}
				items = v;
				cap = ncap;
			}
			items[n++] = (struct ipam_item){
			    .c = c, .ifc = &c->ifaces[k], .pool = (size_t)p};
		}
	}
	if (n > 1)
		qsort(items, n, sizeof(*items), item_cmp);
	*out = items;
	*n_out = n;
	return 0;
}

static char *xstrdup(const char *s, int *r)
{
	char *d = strdup(s);
	if (!d)
		*r = -ENOMEM;
	return d;
}

int pvc_ipam_assign(const struct pvc_state *st, const struct pvc_leases *prev,
		    struct pvc_leases *out, struct pvx_errlist *el)
{
	struct ipam_item *items = NULL;
	struct ipam_taken *taken = NULL;
	size_t n = 0, i;
	int r;

	out->v = NULL;
	out->n = 0;
	r = collect_items(st, &items, &n, el);
	if (r < 0)
		return r;
	taken = calloc(st->n_pools ? st->n_pools : 1, sizeof(*taken));
	if (!taken) {
		r = -ENOMEM;
		goto fail;
	}
	/* Gateways are never handed out; network and broadcast are outside
	 * the range pool_lowest_free() walks. */
	for (i = 0; i < st->n_pools; i++) {
		r = taken_add(&taken[i], ntohl(st->pools[i].gateway.s_addr));
		if (r < 0)
			goto fail;
	}

	/* 1. Statics win: reserved before any previous lease is considered,
	 * so a dynamic lease that now collides with one is moved. */
	for (i = 0; i < n; i++) {
		struct ipam_item *it = &items[i];
		uint32_t ip = ntohl(it->ifc->static_ip.s_addr);
		if (!it->ifc->has_static)
			continue;
		if (taken_has(&taken[it->pool], ip)) {
			/* Refused by the validator (duplicate static or the
			 * gateway); never give one address twice. */
			char a[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &it->ifc->static_ip, a, sizeof(a));
			pvx_errlist_add(el,
					"ipam: %s: %s: static address %s "
					"already taken",
					it->c->name, it->ifc->name, a);
			it->assigned = false;
			continue;
		}
		r = taken_add(&taken[it->pool], ip);
		if (r < 0)
			goto fail;
		it->ip = ip;
		it->assigned = true;
	}

	/* 2. Previous leases of the same container, interface and pool that
	 * are still valid and free are kept: restarts and additions never
	 * move an address. */
	for (i = 0; i < n; i++) {
		struct ipam_item *it = &items[i];
		const struct pvc_pool *p = &st->pools[it->pool];
		const struct pvc_lease *pl;
		uint32_t ip;

		if (it->ifc->has_static)
			continue;
		pl = prev_find(prev, it->c->name, it->ifc->name);
		if (!pl || strcmp(pl->pool, p->name) != 0)
			continue;
		ip = ntohl(pl->ip.s_addr);
		if (!pool_usable(p, ip) || taken_has(&taken[it->pool], ip))
			continue;
		r = taken_add(&taken[it->pool], ip);
		if (r < 0)
			goto fail;
		it->ip = ip;
		it->assigned = true;
	}

	/* 3. Everything else: lowest free address, in name order. */
	for (i = 0; i < n; i++) {
		struct ipam_item *it = &items[i];
		const struct pvc_pool *p = &st->pools[it->pool];

		if (it->assigned || it->ifc->has_static)
			continue;
		if (!pool_lowest_free(p, &taken[it->pool], &it->ip)) {
			char sub[INET_ADDRSTRLEN];
			char msg[256];
			inet_ntop(AF_INET, &p->subnet.addr, sub, sizeof(sub));
			snprintf(msg, sizeof(msg),
				 "ipam: %s: pool %s exhausted (%s/%u)",
				 it->c->name, p->name, sub,
				 (unsigned)p->subnet.prefix);
			/* One message per container and pool, even when
			 * several of its interfaces go unserved. */
			if (!pvx_errlist_find(el, msg))
				pvx_errlist_add(el, "%s", msg);
			continue;
		}
		r = taken_add(&taken[it->pool], it->ip);
		if (r < 0)
			goto fail;
		it->assigned = true;
	}

	out->v = calloc(n ? n : 1, sizeof(*out->v));
	if (!out->v) {
		r = -ENOMEM;
		goto fail;
	}
	r = 0;
	for (i = 0; i < n; i++) {
		const struct ipam_item *it = &items[i];
		const struct pvc_pool *p = &st->pools[it->pool];
		struct pvc_lease *l;

		if (!it->assigned)
			continue;
		l = &out->v[out->n++];
		l->container = xstrdup(it->c->name, &r);
		l->iface = xstrdup(it->ifc->name, &r);
		l->pool = xstrdup(p->name, &r);
		l->ip.s_addr = htonl(it->ip);
		l->prefix = p->subnet.prefix;
		if (!it->ifc->mac || pvc_mac_parse(it->ifc->mac, l->mac) < 0) {
			if (it->ifc->mac)
				pvx_errlist_add(
				    el,
				    "ipam: %s: %s: bad mac_address "
				    "'%.32s', using the derived one",
				    it->c->name, it->ifc->name, it->ifc->mac);
			mac_from_ip(it->ip, l->mac);
		}
		if (r < 0)
			goto fail;
	}
	pvc_leases_sort(out);
	r = 0;
fail:
	for (i = 0; taken && i < st->n_pools; i++)
		free(taken[i].v);
	free(taken);
	free(items);
	if (r < 0)
		pvc_leases_free(out);
	return r;
}

const struct pvc_lease *pvc_leases_find_iface(const struct pvc_leases *l,
					      const char *container,
					      const char *iface)
{
	return prev_find(l, container, iface);
}

const struct pvc_lease *pvc_leases_find(const struct pvc_leases *l,
					const char *container)
{
	const struct pvc_lease *first = NULL;

	for (size_t i = 0; l && i < l->n; i++) {
		if (strcmp(l->v[i].container, container) != 0)
			continue;
		if (strcmp(l->v[i].iface, "eth0") == 0)
			return &l->v[i];
		if (!first)
			first = &l->v[i]; /* sorted: lowest iface name */
	}
	return first;
}

void pvc_leases_free(struct pvc_leases *l)
{
	if (!l)
		return;
	for (size_t i = 0; l->v && i < l->n; i++) {
		free(l->v[i].container);
		free(l->v[i].iface);
		free(l->v[i].pool);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Builds struct pvc_state values by hand for the IPAM and graph tests, so
 * that they depend on the model only, not on the loader. Fixed-capacity
 * arrays: pointers returned stay valid while more is added. */
#ifndef PVC_FAKE_STATE_H
#define PVC_FAKE_STATE_H

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/state.h"

#define FAKE_MAX 64

static inline char *fake_dup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static inline struct pvc_state *fake_state_new(void)
{
	struct pvc_state *st = calloc(1, sizeof(*st));
	st->pools = calloc(FAKE_MAX, sizeof(*st->pools));
	st->containers = calloc(FAKE_MAX, sizeof(*st->containers));
	st->ingress = calloc(FAKE_MAX, sizeof(*st->ingress));
	return st;
}

/* subnet "10.0.4.0/24", gateway "10.0.4.1". */
static inline struct pvc_pool *fake_pool(struct pvc_state *st, const char *name,
					 const char *subnet, const char *gw)
{
	struct pvc_pool *p = &st->pools[st->n_pools++];
	char err[128];

	p->name = fake_dup(name);
	p->type = fake_dup("bridge");
	p->bridge = fake_dup("br-fake");
	p->isolate = true;
	if (pvx_cidr_parse(subnet, &p->subnet, err, sizeof(err)) < 0)
		abort();
	if (inet_pton(AF_INET, gw, &p->gateway) != 1)
		abort();
	return p;
}

static inline struct pvc_container *
fake_container(struct pvc_state *st, const char *name, enum pvc_net_mode mode)
{
	struct pvc_container *c = &st->containers[st->n_containers++];

	c->name = fake_dup(name);
	c->type = fake_dup("process");
	c->mode = mode;
	c->ifaces = calloc(FAKE_MAX, sizeof(*c->ifaces));
	c->requires = calloc(FAKE_MAX, sizeof(*c->requires));
	c->exports = calloc(FAKE_MAX, sizeof(*c->exports));
	return c;
}

/* static_ip: bare address or NULL; mac: NULL for the derived one. */
static inline struct pvc_iface *fake_iface(struct pvc_container *c,
					   const char *name, const char *pool,
					   const char *static_ip,
					   const char *mac)
{
	struct pvc_iface *i = &c->ifaces[c->n_ifaces++];

	i->name = fake_dup(name);
	i->pool = fake_dup(pool);
	i->mac = fake_dup(mac);
	if (static_ip) {
		i->has_static = true;
		if (inet_pton(AF_INET, static_ip, &i->static_ip) != 1)
			abort();
	}
	return i;
}

/* A pool-mode container with one dynamic eth0 in pool. */
static inline struct pvc_container *
fake_pooled(struct pvc_state *st, const char *name, const char *pool)
{
	struct pvc_container *c = fake_container(st, name, PVC_NET_POOL);
	fake_iface(c, "eth0", pool, NULL, NULL);
	return c;
}

static inline struct pvc_export *fake_export(struct pvc_container *c,
					     const char *name, const char *type,
					     const char *socket, uint16_t port)
{
	struct pvc_export *e = &c->exports[c->n_exports++];

	e->name = fake_dup(name);
	e->type = fake_dup(type);
	e->socket = fake_dup(socket);
	e->port = port;
	return e;
}

static inline struct pvc_require *
fake_require(struct pvc_container *c, const char *name, const char *type,
	     const char *target, const char *role, const char *interface,
	     bool optional)
{
	struct pvc_require *q = &c->requires[c->n_requires++];

	q->name = fake_dup(name);
	q->type = fake_dup(type);
	q->target = fake_dup(target);
	q->role = fake_dup(role);
	q->interface = fake_dup(interface);
	q->optional = optional;
	return q;
}

static inline struct pvc_ingress *
fake_ingress(struct pvc_state *st, const char *name, const char *type,
	     const char *external, const char *provider, const char *service)
{
	struct pvc_ingress *g = &st->ingress[st->n_ingress++];

	g->name = fake_dup(name);
	g->type = fake_dup(type);
	g->external = fake_dup(external);
	g->path = fake_dup("");
	g->provider = fake_dup(provider);
	g->service = fake_dup(service);
	return g;
}

static inline void fake_container_clear(struct pvc_container *c)
{
	free(c->name);
	free(c->type);
	for (size_t k = 0; k < c->n_ifaces; k++) {
		free(c->ifaces[k].name);
		free(c->ifaces[k].pool);
		free(c->ifaces[k].mac);
	}
	for (size_t k = 0; k < c->n_requires; k++) {
		free(c->requires[k].name);
		free(c->requires[k].type);
		free(c->requires[k].target);
		free(c->requires[k].role);
		free(c->requires[k].interface);
	}
	for (size_t k = 0; k < c->n_exports; k++) {
		free(c->exports[k].name);
		free(c->exports[k].type);
		free(c->exports[k].socket);
	}
	free(c->ifaces);
	free(c->requires);
	free(c->exports);
}

/* Drops container i (as if it left the state), keeping the others in
 * order. */
static inline void fake_remove_container(struct pvc_state *st, size_t i)
{
	fake_container_clear(&st->containers[i]);
	memmove(&st->containers[i], &st->containers[i + 1],
		(st->n_containers - i - 1) * sizeof(*st->containers));
	st->n_containers--;
	memset(&st->containers[st->n_containers], 0, sizeof(*st->containers));
}

static inline int fake_cmp(const void *a, const void *b)
{
	const struct pvc_container *x = a, *y = b;
	return strcmp(x->name, y->name);
}

/* The model promises containers sorted by name. */
static inline void fake_sort(struct pvc_state *st)
{
	qsort(st->containers, st->n_containers, sizeof(*st->containers),
	      fake_cmp);
}

static inline void fake_state_free(struct pvc_state *st)
{
	for (size_t i = 0; i < st->n_pools; i++) {
		free(st->pools[i].name);
		free(st->pools[i].type);
		free(st->pools[i].bridge);
	}
	for (size_t i = 0; i < st->n_containers; i++)
		fake_container_clear(&st->containers[i]);
	for (size_t i = 0; i < st->n_ingress; i++) {
		free(st->ingress[i].name);
		free(st->ingress[i].type);
		free(st->ingress[i].external);
		free(st->ingress[i].path);
		free(st->ingress[i].provider);
		free(st->ingress[i].interface);
		free(st->ingress[i].service);
	}
	free(st->pools);
	free(st->containers);
	free(st->ingress);
	free(st);
}

#endif

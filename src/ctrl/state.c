/* The device state model's helpers: freeing (also of half-built states, as
 * the loader leaves them on errors), look-ups by name, and deep comparison.
 * Loading is in state_load.c, the cross-checks in validate.c. */
#include "ctrl/state.h"

#include <stdlib.h>
#include <string.h>

static void free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static void free_container(struct pvc_container *c)
{
	free(c->name);
	free(c->type);
	free_strv(c->exec);
	free_strv(c->env);
	free(c->hostname);
	for (size_t i = 0; c->ifaces && i < c->n_ifaces; i++) {
		free(c->ifaces[i].name);
		free(c->ifaces[i].pool);
		free(c->ifaces[i].mac);
	}
	free(c->ifaces);
	for (size_t i = 0; c->requires && i < c->n_requires; i++) {
		struct pvc_require *r = &c->requires[i];
		free(r->name);
		free(r->type);
		free(r->target);
		free(r->role);
		free(r->interface);
	}
	free(c->requires);
	for (size_t i = 0; c->exports && i < c->n_exports; i++) {
		free(c->exports[i].name);
		free(c->exports[i].type);
		free(c->exports[i].socket);
	}
	free(c->exports);
}

void pvc_state_free(struct pvc_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; st->pools && i < st->n_pools; i++) {
		free(st->pools[i].name);
		free(st->pools[i].type);
		free(st->pools[i].bridge);
		free(st->pools[i].parent);
	}
	free(st->pools);
	for (size_t i = 0; st->containers && i < st->n_containers; i++)
		free_container(&st->containers[i]);
	free(st->containers);
	for (size_t i = 0; st->ingress && i < st->n_ingress; i++) {
		struct pvc_ingress *g = &st->ingress[i];
		free(g->name);
		free(g->type);
		free(g->external);
		free(g->path);
		free(g->provider);
		free(g->service);
		free(g->interface);
		free(g->proxy_protocol);
		for (size_t k = 0; g->allow && k < g->n_allow; k++)
			free(g->allow[k]);
		free(g->allow);
	}
	free(st->ingress);
	pvx_errlist_clear(&st->warnings);
	free(st);
}

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

const struct pvc_container *pvc_state_find(const struct pvc_state *st,
					   const char *name)
{
	if (!st || !name)
		return NULL;
	for (size_t i = 0; i < st->n_containers; i++)
		if (str_eq(st->containers[i].name, name))
			return &st->containers[i];
	return NULL;
}

const struct pvc_pool *pvc_state_find_pool(const struct pvc_state *st,
					   const char *name)
{
	if (!st || !name)
		return NULL;
	for (size_t i = 0; i < st->n_pools; i++)
		if (str_eq(st->pools[i].name, name))
			return &st->pools[i];
	return NULL;
}

const struct pvc_export *
pvc_container_find_export(const struct pvc_container *c, const char *name)
{
	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < c->n_exports; i++)
		if (str_eq(c->exports[i].name, name))
			return &c->exports[i];
	return NULL;
}

const struct pvc_container *
pvc_state_find_provider(const struct pvc_state *st, const char *service,
			const struct pvc_export **exp)
{
	const struct pvc_container *found = NULL;
	const struct pvc_export *fexp = NULL;

	if (exp)
		*exp = NULL;
	if (!st || !service)
		return NULL;
	for (size_t i = 0; i < st->n_containers; i++) {
		const struct pvc_export *e =
		    pvc_container_find_export(&st->containers[i], service);
		if (!e)
			continue;
		if (found) /* ambiguous: the validator refuses such states */
			return NULL;
		found = &st->containers[i];
		fexp = e;
	}
	if (exp)
		*exp = fexp;
	return found;
}

const char *pvc_net_mode_name(enum pvc_net_mode mode)
{
	switch (mode) {
	case PVC_NET_POOL:
		return "pool";
	case PVC_NET_HOST:
		return "host";
	case PVC_NET_NONE:
		break;
	}
	return "none";
}

static bool strv_eq(char *const *a, char *const *b)
{
	if (!a || !b)
		return a == b;
	for (; *a && *b; a++, b++)
		if (strcmp(*a, *b) != 0)
			return false;
	return !*a && !*b;
}

static bool iface_eq(const struct pvc_iface *a, const struct pvc_iface *b)
{
	return str_eq(a->name, b->name) && str_eq(a->pool, b->pool) &&
	       a->has_static == b->has_static &&
	       (!a->has_static || a->static_ip.s_addr == b->static_ip.s_addr) &&
	       str_eq(a->mac, b->mac);
}

static bool require_eq(const struct pvc_require *a, const struct pvc_require *b)
{
	return str_eq(a->name, b->name) && str_eq(a->type, b->type) &&
	       str_eq(a->target, b->target) && str_eq(a->role, b->role) &&
	       str_eq(a->interface, b->interface) && a->optional == b->optional;
}

static bool export_eq(const struct pvc_export *a, const struct pvc_export *b)
{
	return str_eq(a->name, b->name) && str_eq(a->type, b->type) &&
	       str_eq(a->socket, b->socket) && a->port == b->port;
}

bool pvc_container_equal(const struct pvc_container *a,
			 const struct pvc_container *b)
{
	if (!str_eq(a->name, b->name) || !str_eq(a->type, b->type) ||
	    !strv_eq(a->exec, b->exec) || !strv_eq(a->env, b->env) ||
	    memcmp(&a->recovery, &b->recovery, sizeof(a->recovery)) != 0 ||
	    a->mode != b->mode || !str_eq(a->hostname, b->hostname) ||
	    a->n_ifaces != b->n_ifaces || a->n_requires != b->n_requires ||
	    a->n_exports != b->n_exports)
		return false;
	for (size_t i = 0; i < a->n_ifaces; i++)
		if (!iface_eq(&a->ifaces[i], &b->ifaces[i]))
			return false;
	for (size_t i = 0; i < a->n_requires; i++)
		if (!require_eq(&a->requires[i], &b -> requires[i]))
			return false;
	for (size_t i = 0; i < a->n_exports; i++)
		if (!export_eq(&a->exports[i], &b->exports[i]))
			return false;
	return true;
}

bool pvc_pool_is_macvlan(const struct pvc_pool *p)
{
	return p->type && strcmp(p->type, "macvlan") == 0;
}

static bool pool_eq(const struct pvc_pool *a, const struct pvc_pool *b)
{
	return str_eq(a->name, b->name) && str_eq(a->type, b->type) &&
	       str_eq(a->bridge, b->bridge) && str_eq(a->parent, b->parent) &&
	       a->subnet.addr.s_addr == b->subnet.addr.s_addr &&
	       a->subnet.prefix == b->subnet.prefix &&
	       a->gateway.s_addr == b->gateway.s_addr && a->nat == b->nat &&
	       a->isolate == b->isolate;
}

static bool allow_eq(const struct pvc_ingress *a, const struct pvc_ingress *b)
{
	if (!a->allow || !b->allow)
		return a->allow == b->allow;
	if (a->n_allow != b->n_allow)
		return false;
	for (size_t i = 0; i < a->n_allow; i++)
		if (!str_eq(a->allow[i], b->allow[i]))
			return false;
	return true;
}

static bool ingress_eq(const struct pvc_ingress *a, const struct pvc_ingress *b)
{
	return str_eq(a->name, b->name) && str_eq(a->type, b->type) &&
	       str_eq(a->external, b->external) &&
	       pvx_hostport_equal(&a->ext, &b->ext) &&
	       str_eq(a->path, b->path) && str_eq(a->provider, b->provider) &&
	       str_eq(a->service, b->service) &&
	       str_eq(a->interface, b->interface) &&
	       str_eq(a->proxy_protocol, b->proxy_protocol) && allow_eq(a, b) &&
	       a->max_conns == b->max_conns &&
	       a->connect_timeout_ms == b->connect_timeout_ms &&
	       a->idle_timeout_s == b->idle_timeout_s &&
	       a->keep_prefix == b->keep_prefix;
}

bool pvc_state_equal(const struct pvc_state *a, const struct pvc_state *b)
{
	if (!a || !b)
		return a == b;
	if (a->n_pools != b->n_pools || a->n_containers != b->n_containers ||
	    a->n_ingress != b->n_ingress)
		return false;
	for (size_t i = 0; i < a->n_pools; i++)
		if (!pool_eq(&a->pools[i], &b->pools[i]))
			return false;
	for (size_t i = 0; i < a->n_containers; i++)
		if (!pvc_container_equal(&a->containers[i], &b->containers[i]))
			return false;
	for (size_t i = 0; i < a->n_ingress; i++)
		if (!ingress_eq(&a->ingress[i], &b->ingress[i]))
			return false;
	return true;
}

const char *pvc_recovery_policy_name(enum pvc_recovery_policy p)
{
	switch (p) {
	case PVC_RECOVER_NO:
		return "no";
	case PVC_RECOVER_ALWAYS:
		return "always";
	case PVC_RECOVER_ON_FAILURE:
		return "on-failure";
	case PVC_RECOVER_UNLESS_STOPPED:
		return "unless-stopped";
	}
	return "?";
}

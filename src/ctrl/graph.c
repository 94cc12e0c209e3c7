/* The xconnect graph (SPEC §5, docs/graph.md): one JSON object per link,
 * field-compatible with Pantavisor's /xconnect-graph. Pure and
 * deterministic, because the daemon's ETag is a hash of pvc_graph_dump(). */
#include "ctrl/graph.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The unique exporter of a service, as an index into st->containers;
 * -1 when none (or, against the validator, several) export it. */
static ssize_t provider_index(const struct pvc_state *st, const char *name,
			      const struct pvc_export **exp)
{
	const struct pvc_container *p = pvc_state_find_provider(st, name, exp);
	return p ? p - st->containers : -1;
}

static const char *str_or(const char *s, const char *dflt)
{
	return s ? s : dflt;
}

static pid_t pid_of(const pid_t *pids, ssize_t i)
{
	return pids && i >= 0 ? pids[i] : 0;
}

/* Where the provider's service is reached: its socket path, else
 * "IP:PORT" of its address; "" while it has none (no lease yet, or no
 * network at all). A socket path is a path inside the provider's root
 * and means nothing while it does not run: published as "" then, so that
 * no reader of the graph resolves a container's path on the host
 * (docs/security.md). A plan (no pids at all, --check) shows it. */
static void backend_of(const struct pvc_container *p, bool running,
		       const struct pvc_export *e,
		       const struct pvc_leases *leases, char *buf, size_t len)
{
	struct pvx_hostport hp = {.family = AF_INET, .port = e->port};
	const struct pvc_lease *l;

	buf[0] = '\0';
	if (e->socket && e->socket[0]) {
		if (running)
			snprintf(buf, len, "%s", e->socket);
		return;
	}
	if (e->port == 0)
		return;
	switch (p->mode) {
	case PVC_NET_HOST:
		hp.ip.v4.s_addr = htonl(INADDR_LOOPBACK);
		break;
	case PVC_NET_POOL:
		l = pvc_leases_find(leases, p->name);
		if (!l)
			return;
		hp.ip.v4 = l->ip;
		break;
	case PVC_NET_NONE:
	default:
		return;
	}
	pvx_hostport_format(&hp, buf, len);
}

/* The upstream fields, in Pantavisor's order (docs/graph.md): its
 * consumer finds a key by the first matching string token, so a value
 * equal to a key word must come after that key. json objects keep
 * insertion order and the dump preserves it; added keys are set after. */
static json_t *link_new(const char *type, const char *name,
			const char *consumer, pid_t consumer_pid,
			const char *provider, pid_t provider_pid,
			const char *role, const char *interface,
			const char *target, const char *socket)
{
	return json_pack("{s:s, s:I, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s}",
			 "consumer", consumer, "consumer_pid",
			 (json_int_t)consumer_pid, "provider", provider,
			 "provider_pid", (json_int_t)provider_pid, "name", name,
			 "type", type, "role", role, "interface", interface,
			 "target", target, "socket", socket);
}

static int order_cmp(const void *a, const void *b, void *arg)
{
	const struct pvc_state *st = arg;
	const size_t *x = a, *y = b;
	return strcmp(st->containers[*x].name, st->containers[*y].name);
}

/* Container indices in name order (the loader sorts already; this makes
 * the graph's order independent of that). */
static size_t *name_order(const struct pvc_state *st)
{
	size_t *order =
	    calloc(st->n_containers ? st->n_containers : 1, sizeof(*order));
	if (!order)
		return NULL;
	for (size_t i = 0; i < st->n_containers; i++)
		order[i] = i;
	qsort_r(order, st->n_containers, sizeof(*order), order_cmp, (void *)st);
	return order;
}

static int add_mesh_links(const struct pvc_state *st,
			  const struct pvc_leases *leases, const pid_t *pids,
			  const size_t *order, json_t *graph)
{
	char sock[PVX_PATH_MAX + PVX_ADDRSTRLEN];

	for (size_t k = 0; k < st->n_containers; k++) {
		size_t ci = order[k];
		const struct pvc_container *c = &st->containers[ci];

		for (size_t r = 0; r < c->n_requires; r++) {
			const struct pvc_require *q = &c->requires[r];
			const struct pvc_export *e;
			ssize_t pi = provider_index(st, q->name, &e);
			const struct pvc_container *p;
			json_t *link;

			/* No provider: nothing to connect to. An optional
			 * requirement may be absent; a required one is the
			 * validator's business. A container needs no link to
			 * itself. */
			if (pi < 0 || (size_t)pi == ci)
				continue;
			p = &st->containers[pi];
			backend_of(p, !pids || pid_of(pids, pi) > 0, e, leases,
				   sock, sizeof(sock));
			link =
			    link_new(str_or(q->type, ""), q->name, c->name,
				     pid_of(pids, (ssize_t)ci), p->name,
				     pid_of(pids, pi), str_or(q->role, "any"),
				     str_or(q->interface, str_or(q->type, "")),
				     str_or(q->target, ""), sock);
			if (!link || json_array_append_new(graph, link))
				return -1;
		}
	}
	return 0;
}

/* The rule's added fields, after "ingress", only when written: a state
 * without them gives the graph it always gave. */
static int add_rule_fields(json_t *link, const struct pvc_ingress *g)
{
	json_t *a;

	if (g->proxy_protocol &&
	    json_object_set_new(link, "proxy_protocol",
				json_string(g->proxy_protocol)))
		return -1;
	if (g->allow) {
		a = json_array();
		if (!a || json_object_set_new(link, "allow", a))
			return -1;
		for (size_t i = 0; i < g->n_allow; i++)
			if (json_array_append_new(a, json_string(g->allow[i])))
				return -1;
	}
	if (g->max_conns &&
	    json_object_set_new(link, "max_conns", json_integer(g->max_conns)))
		return -1;
	if (g->connect_timeout_ms &&
	    json_object_set_new(link, "connect_timeout_ms",
				json_integer(g->connect_timeout_ms)))
		return -1;
	if (g->idle_timeout_s &&
	    json_object_set_new(link, "idle_timeout_s",
				json_integer(g->idle_timeout_s)))
		return -1;
	if (g->keep_prefix &&
	    json_object_set_new(link, "strip_prefix", json_false()))
		return -1;
	return 0;
}

static int add_ingress_links(const struct pvc_state *st,
			     const struct pvc_leases *leases, const pid_t *pids,
			     json_t *graph)
{
	char sock[PVX_PATH_MAX + PVX_ADDRSTRLEN];

	for (size_t i = 0; i < st->n_ingress; i++) {
		const struct pvc_ingress *g = &st->ingress[i];
		const struct pvc_container *p = pvc_state_find(st, g->provider);
		const struct pvc_export *e;
		ssize_t pi;
		json_t *link;

		/* Refused by the validator; never emit a half link. */
		if (!p || !(e = pvc_container_find_export(p, g->service)))
			continue;
		pi = p - st->containers;
		backend_of(&st->containers[pi], !pids || pid_of(pids, pi) > 0,
			   e, leases, sock, sizeof(sock));
		link = link_new(str_or(g->type, ""), g->service, "EXTERNAL", 0,
				g->provider, pid_of(pids, pi), "EXTERNAL",
				str_or(g->interface, ""),
				str_or(g->external, ""), sock);
		if (!link)
			return -1;
		if (json_object_set_new(link, "ingress",
					json_string(g->name)) ||
		    add_rule_fields(link, g) < 0) {
			json_decref(link);
			return -1;
		}
		if (json_array_append_new(graph, link))
			return -1;
	}
	return 0;
}

json_t *pvc_graph_build(const struct pvc_state *st,
			const struct pvc_leases *leases, const pid_t *pids)
{
	json_t *graph = json_array();
	size_t *order = name_order(st);

	if (!graph || !order)
		goto fail;
	/* Container links in consumer-name order, then ingress links in
	 * rule order. */
	if (add_mesh_links(st, leases, pids, order, graph) < 0 ||
	    add_ingress_links(st, leases, pids, graph) < 0)
		goto fail;
	free(order);
	return graph;
fail:
	free(order);
	json_decref(graph);
	return NULL;
}

char *pvc_graph_dump(const json_t *graph)
{
	return json_dumps(graph, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

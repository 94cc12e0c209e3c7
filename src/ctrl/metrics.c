/* Prometheus metrics of the control plane (see metrics.h). */
#include "ctrl/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/prom.h"

/* The container states of docs/runtime.md; any other status a container
 * reports is counted under its own name too. */
static const char *const known_states[] = {"running", "stopping", "stopped",
					   "exited",  "error",	  "restarting"};

static uint64_t count_status(json_t *containers, const char *status)
{
	uint64_t n = 0;
	size_t i;
	json_t *c;

	json_array_foreach(containers, i, c)
	{
		const char *s = json_string_value(json_object_get(c, "status"));
		n += s && strcmp(s, status) == 0;
	}
	return n;
}

static bool is_known(const char *s)
{
	for (size_t k = 0; k < sizeof(known_states) / sizeof(*known_states);
	     k++)
		if (strcmp(s, known_states[k]) == 0)
			return true;
	return false;
}

static uint64_t jnum(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) > 0
		   ? (uint64_t)json_integer_value(v)
		   : 0;
}

/* Addresses IPAM may hand out in a pool: the subnet without network,
 * broadcast and gateway (a /31 or /32 has none). */
static uint64_t pool_size(const struct pvc_pool *p)
{
	unsigned bits = 32u - p->subnet.prefix;
	uint64_t n;

	if (bits < 2)
		return 0;
	n = ((uint64_t)1 << bits) - 2;
	return n > 0 ? n - 1 : 0;
}

static void containers_metrics(FILE *f, json_t *cs)
{
	size_t i;
	json_t *c;

	pvx_prom_family(f, "pvc_containers", "gauge",
			"Containers of the state by status.");
	for (size_t k = 0; k < sizeof(known_states) / sizeof(*known_states);
	     k++) {
		const char *labels[] = {"state", known_states[k], NULL};
		pvx_prom_sample(f, "pvc_containers", labels,
				count_status(cs, known_states[k]));
	}
	/* Statuses beyond the known ones, once each. */
	json_array_foreach(cs, i, c)
	{
		const char *s = json_string_value(json_object_get(c, "status"));
		bool seen = false;

		if (!s || is_known(s))
			continue;
		for (size_t j = 0; j < i && !seen; j++) {
			const char *o = json_string_value(
			    json_object_get(json_array_get(cs, j), "status"));
			seen = o && strcmp(o, s) == 0;
		}
		if (!seen) {
			const char *labels[] = {"state", s, NULL};
			pvx_prom_sample(f, "pvc_containers", labels,
					count_status(cs, s));
		}
	}
	pvx_prom_family(f, "pvc_container_up", "gauge",
			"1 while the container runs.");
	json_array_foreach(cs, i, c)
	{
		const char *s = json_string_value(json_object_get(c, "status"));
		const char *labels[] = {
		    "name", json_string_value(json_object_get(c, "name")),
		    "type", json_string_value(json_object_get(c, "type")),
		    NULL};
		pvx_prom_sample(f, "pvc_container_up", labels,
				s && strcmp(s, "running") == 0);
	}
	pvx_prom_family(f, "pvc_container_restarts_total", "counter",
			"Restarts of the container after it exited "
			"(auto_recovery).");
	json_array_foreach(cs, i, c)
	{
		const char *labels[] = {
		    "name", json_string_value(json_object_get(c, "name")),
		    NULL};
		pvx_prom_sample(f, "pvc_container_restarts_total", labels,
				jnum(c, "restarts"));
	}
	pvx_prom_family(f, "pvc_container_exits_total", "counter",
			"Exits of the container's process seen by pv-ctrld.");
	json_array_foreach(cs, i, c)
	{
		const char *labels[] = {
		    "name", json_string_value(json_object_get(c, "name")),
		    NULL};
		pvx_prom_sample(f, "pvc_container_exits_total", labels,
				jnum(c, "exits"));
	}
}

char *pvc_metrics_text(const struct pvc_state *st,
		       const struct pvc_leases *leases, json_t *containers,
		       uint64_t generation, size_t *len)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	if (!f)
		return NULL;
	pvx_prom_family(
	    f, "pvc_graph_generation", "gauge",
	    "Changes of the xconnect graph since pv-ctrld started.");
	pvx_prom_sample(f, "pvc_graph_generation", NULL, generation);
	containers_metrics(f, containers);
	pvx_prom_family(f, "pvc_pool_leases", "gauge",
			"Addresses leased in the pool.");
	for (size_t p = 0; st && p < st->n_pools; p++) {
		const char *labels[] = {"pool", st->pools[p].name, NULL};
		uint64_t k = 0;

		for (size_t i = 0; i < leases->n; i++)
			k += strcmp(leases->v[i].pool, st->pools[p].name) == 0;
		pvx_prom_sample(f, "pvc_pool_leases", labels, k);
	}
	pvx_prom_family(f, "pvc_pool_addresses", "gauge",
			"Addresses IPAM can hand out in the pool.");
	for (size_t p = 0; st && p < st->n_pools; p++) {
		const char *labels[] = {"pool", st->pools[p].name, NULL};
		pvx_prom_sample(f, "pvc_pool_addresses", labels,
				pool_size(&st->pools[p]));
	}
	if (fclose(f) != 0) {
		free(text);
		errno = ENOMEM;
		return NULL;
	}
	*len = n;
	return text;
}

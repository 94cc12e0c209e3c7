/* GET /metrics of pv-ctrld's control socket: containers by state, per
 * container status and restarts, leases per pool, graph generation, in the
 * Prometheus text format (docs/api.md). Pure. */
#ifndef PVC_METRICS_H
#define PVC_METRICS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ctrl/ipam.h"
#include "ctrl/state.h"

/* st may be NULL (no state yet); containers is the array of GET
 * /containers. Returns a new string (free it) and its length, or NULL and
 * errno. */
char *pvc_metrics_text(const struct pvc_state *st,
		       const struct pvc_leases *leases, json_t *containers,
		       uint64_t generation, size_t *len);

#endif

/* Building the xconnect graph (SPEC §5) from a state, its leases and the
 * containers' PIDs. Pure: returns a new JSON array, field-compatible with
 * Pantavisor's /xconnect-graph. */
#ifndef PVC_GRAPH_H
#define PVC_GRAPH_H

#include <jansson.h>
#include <sys/types.h>

#include "ctrl/ipam.h"
#include "ctrl/state.h"

/* pids[i] is the init PID of st->containers[i] (0: not running: its Unix
 * socket paths are published as ""). pids NULL is a plan (pv-ctrld
 * --check): every pid 0, socket paths shown. */
json_t *pvc_graph_build(const struct pvc_state *st,
			const struct pvc_leases *leases, const pid_t *pids);
/* Compact serialization used for the ETag and responses; keys in the
 * upstream field order (docs/graph.md), byte-identical for equal inputs. */
char *pvc_graph_dump(const json_t *graph);

#endif

/* Backend health probes of a link (docs/xconnect.md): while the link
 * dials nothing (no traffic), a light TCP connect to its backend every
 * --health-interval keeps its health (up / down since T) current. */
#ifndef PVX_HEALTH_H
#define PVX_HEALTH_H

#include "xconnect/link.h"

struct pvx_probe;

/* Probes link's backend from now on (NULL when probes are off or out of
 * memory: the link then learns only from its own dials). */
struct pvx_probe *pvx_probe_new(struct pvx_link *link);
/* Stops probing; closes a probe in flight. NULL is fine. */
void pvx_probe_free(struct pvx_probe *p);

#endif

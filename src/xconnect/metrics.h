/* GET /metrics of pv-xconnect's status socket: every link's counters and
 * gauges in the Prometheus text format (docs/xconnect.md). */
#ifndef PVX_METRICS_H
#define PVX_METRICS_H

#include <stddef.h>

#include "xconnect/reconcile.h"

/* The whole exposition as a new string (free it), its length in *len;
 * NULL and errno on failure. */
char *pvx_metrics_text(struct pvx_reconciler *rc, size_t *len);

#endif

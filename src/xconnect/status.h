/* The status socket of pv-xconnect: a Unix socket (mode 0600) answering
 * GET /links with every link's state and counters as JSON, for
 * `pvcontrol links` and for tests. Format in docs/xconnect.md. */
#ifndef PVX_STATUS_H
#define PVX_STATUS_H

#include <stddef.h>

#include <event2/event.h>
#include <jansson.h>

#include "xconnect/reconcile.h"

struct pvx_status;

/* Binds path (a stale socket there is replaced). NULL with a reason in
 * err on failure. */
struct pvx_status *pvx_status_new(struct event_base *base, const char *path,
				  struct pvx_reconciler *rc, char *err,
				  size_t errlen);
void pvx_status_free(struct pvx_status *st);
/* Why a link is in its state, in words, for people: "bound", "bind
 * failed: Address already in use", "provider stopped", "waiting for
 * address", "waiting for consumer", … (docs/xconnect.md). */
void pvx_status_reason(const struct pvx_rc_info *info, char *buf, size_t len);
/* The body of GET /links: a new JSON array. */
json_t *pvx_status_links_json(struct pvx_reconciler *rc);
/* {"mode": "auto", "active": true, "reason": ""}: the kernel relay. */
json_t *pvx_status_kernel_relay_json(void);
/* The body of GET /sessions: {"kernel_relay": {...}, "sessions": [{link,
 * client, backend, mode, bytes_in, bytes_out}, ...]}. */
json_t *pvx_status_sessions_json(void);

#endif

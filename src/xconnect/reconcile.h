/* The reconciler of pv-xconnect: keeps the running links equal to the last
 * accepted graph. Links are keyed by identity (consumer, name, target); a
 * new one is started (retried with backoff while it fails), a changed one
 * is updated in place, a vanished one is stopped and drains. */
#ifndef PVX_RECONCILE_H
#define PVX_RECONCILE_H

#include <stddef.h>

#include "xconnect/link.h"

enum pvx_rc_state {
	PVX_RC_LISTENING,   /* started by its plugin */
	PVX_RC_FAILED,	    /* start failed; a retry is scheduled */
	PVX_RC_UNSUPPORTED, /* no plugin for its type; only listed */
	PVX_RC_DRAINING,    /* gone from the graph; sessions finishing */
	PVX_RC_WAITING,	    /* consumer is a container not running (pid 0):
			     * no namespace to listen in, nothing bound */
};

const char *pvx_rc_state_name(enum pvx_rc_state s);

/* What the status socket and SIGUSR1 show of one link. */
struct pvx_rc_info {
	const struct pvx_link_conf *conf;
	const struct pvx_link_stats *stats;
	enum pvx_rc_state state;
	const char *error; /* last start error of a failed link, else "" */
};

typedef const struct pvx_plugin *(*pvx_plugin_lookup_fn)(const char *type);

struct pvx_reconciler;

/* find is pvx_plugin_find in the program; tests pass a fake. */
struct pvx_reconciler *pvx_reconciler_new(struct event_base *base,
					  pvx_plugin_lookup_fn find);
/* Makes the running links match confs (copied; the caller keeps them). */
void pvx_reconciler_apply(struct pvx_reconciler *r,
			  const struct pvx_link_conf *confs, size_t n);
/* Draining links come last. */
void pvx_reconciler_foreach(struct pvx_reconciler *r,
			    void (*cb)(const struct pvx_rc_info *info,
				       void *arg),
			    void *arg);
/* Number of links in the graph (draining ones not counted). */
size_t pvx_reconciler_count(const struct pvx_reconciler *r);
/* Retry delays of failed links, in ms (tests shorten them). */
void pvx_reconciler_set_backoff(struct pvx_reconciler *r, int first_ms,
				int max_ms);
/* Stops every link and frees the reconciler; draining links are left to
 * their plugins. NULL is fine. */
void pvx_reconciler_free(struct pvx_reconciler *r);

#endif

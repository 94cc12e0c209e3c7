/* Pool NAT and isolation through nftables, in pvx's own table (`ip pvx`):
 * masquerade of nat pools out of the device's other interfaces, IPv4
 * forwarding for them, and pools kept apart from each other and from the
 * device's addresses other than their gateway (docs/runtime.md). The
 * script is built by a pure function; applying it is the effect. */
#ifndef PVC_NAT_H
#define PVC_NAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctrl/state.h"

#define PVC_NAT_TABLE "pvx" /* family ip */

/* Whether st needs IPv4 forwarding: a nat pool, or two pools that are
 * both not isolated. */
bool pvc_nat_wants_forward(const struct pvc_state *st);
/* The nft script that replaces pvx's table by the one st needs (atomic:
 * one transaction), or the one that deletes it when st needs none (no
 * bridge pool). guard: pvx turned forwarding on itself, so its forward
 * chain lets through only what the pools need and drops the rest, and the
 * device does not become a router for anything else. New string. */
char *pvc_nat_script(const struct pvc_state *st, bool guard);

/* What pvx changed, for its removal and for runtime.json. */
struct pvc_nat {
	bool table;	 /* pvx's table may exist */
	int fwd_saved;	 /* -1: ip_forward untouched; else its old value */
	bool forward_on; /* forwarding is on for the pools */
};

void pvc_nat_init(struct pvc_nat *n);
/* Makes the table and ip_forward match st. record(arg) is called before
 * anything is created, so that a crash can never leave a change that
 * runtime.json does not name. Returns 0 or -errno (reason in err). */
int pvc_nat_apply(struct pvc_nat *n, const struct pvc_state *st,
		  void (*record)(void *), void *arg, char *err, size_t errlen);
/* Deletes the table and restores ip_forward (shutdown). */
int pvc_nat_remove(struct pvc_nat *n, char *err, size_t errlen);
/* {"table": "pvx", "ip_forward": 0} or NULL when pvx changed nothing. */
json_t *pvc_nat_record(const struct pvc_nat *n);
/* After a crash: undoes what a record of pvc_nat_record names. */
int pvc_nat_cleanup(const json_t *rec, char *err, size_t errlen);

#endif

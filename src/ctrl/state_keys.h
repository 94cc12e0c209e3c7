/* The keys pvx knows at each level of a device state, in one table, and the
 * check that warns about any other key ("did you mean 'required'?"), so
 * that a typo is not silently ignored. Pantavisor's own fields that pvx
 * does not use are listed too and never warned about. Pure. See
 * docs/formats.md, "Unknown keys". */
#ifndef PVC_STATE_KEYS_H
#define PVC_STATE_KEYS_H

#include <jansson.h>
#include <stddef.h>

#include "common/errlist.h"

/* A level of the state: an object whose keys the table lists. */
enum pvc_klevel {
	PVC_KL_NONE,	     /* a leaf: its value is not walked */
	PVC_KL_ANY,	     /* names the user chooses (env): never warned */
	PVC_KL_DEVICE,	     /* device.json */
	PVC_KL_DEVICE_NET,   /* device.json network */
	PVC_KL_POOLS,	     /* device.json network.pools: pool names */
	PVC_KL_POOL,	     /* one pool */
	PVC_KL_INGRESS,	     /* device.json ingress[] */
	PVC_KL_RUN,	     /* <container>/run.json */
	PVC_KL_RUN_NET,	     /* run.json network */
	PVC_KL_IFACE,	     /* run.json network.interfaces[] */
	PVC_KL_RUN_SERVICES, /* run.json services */
	PVC_KL_REQUIRE,	     /* run.json services.required[], optional[] */
	PVC_KL_RECOVERY,     /* run.json auto_recovery */
	PVC_KL_SERVICES,     /* <container>/services.json (object form) */
	PVC_KL_EXPORT,	     /* services.json services[] (or the bare array) */
};

/* Who reads a key. */
enum pvc_kuse {
	PVC_KEY_PVX,	    /* pvx reads it */
	PVC_KEY_PANTAVISOR, /* Pantavisor's own, ignored by pvx */
};

struct pvc_known_key {
	enum pvc_klevel level; /* where the key is */
	const char *name;      /* the key; "*": any key at this level */
	/* The level of its value (an object, or an array of objects), or
	 * PVC_KL_NONE when the value is not walked. */
	enum pvc_klevel child;
	enum pvc_kuse use;
};

extern const struct pvc_known_key pvc_known_keys[];
extern const size_t pvc_n_known_keys;

/* Adds a warning "<file>: <path>.<key>: unknown key (did you mean
 * '<closest>'?)" to warn for every key of v, and of the levels below it,
 * that the table does not list at that level. v is the JSON of level (a
 * value of another shape is skipped: the parser reports it). path is the
 * JSON path of v ("" for a file's root). */
void pvc_keys_check(const json_t *v, enum pvc_klevel level, const char *file,
		    const char *path, struct pvx_errlist *warn);

/* The key of level closest to key (case-insensitive edit distance, a
 * transposition counting as one edit), or NULL when none is close. */
const char *pvc_keys_closest(enum pvc_klevel level, const char *key);

/* The accepted container types, NULL-terminated: "process" (started by
 * pv-ctrld) and Pantavisor's "lxc" (started by something else). */
extern const char *const pvc_container_types[];

#endif

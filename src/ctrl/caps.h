/* The privileges pv-ctrld's runtime needs (docs/runtime.md): checked at
 * start so that a daemon without them refuses with a reason instead of
 * failing every operation with "Operation not permitted". */
#ifndef PVC_CAPS_H
#define PVC_CAPS_H

#include <stddef.h>
#include <stdint.h>

/* Writes the needed capabilities missing from the effective set eff (bit
 * n: capability n) into buf as "CAP_NET_ADMIN (what for), …"; returns how
 * many are missing. Pure. */
int pvc_caps_missing(uint64_t eff, char *buf, size_t len);
/* The effective capability set of this process; 0 with errno on error. */
int pvc_caps_effective(uint64_t *eff);

#endif

/* A pool container's own /etc/hosts and /etc/resolv.conf (docs/runtime.md,
 * "What a process container sees"): the texts are built by pure
 * functions; the child installs them in its private mount namespace
 * before exec, bind-mounted over the device's files, so that only the
 * container sees them. */
#ifndef PVC_ETCFILES_H
#define PVC_ETCFILES_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctrl/state.h"

/* Largest /etc/resolv.conf of the device read. */
#define PVC_ETC_RESOLV_MAX (64u * 1024)

/* localhost, and hostname at ip (127.0.1.1 when ip is NULL: no lease).
 * New string, NULL on ENOMEM. */
char *pvc_etc_hosts(const char *hostname, const struct in_addr *ip);
/* With nat: the device's resolvers (nameserver lines of device_resolv,
 * without loopback ones, which the container cannot reach; search,
 * domain and options lines kept). Without nat: no resolver at all.
 * device_resolv may be NULL (none). New string, NULL on ENOMEM. */
char *pvc_etc_resolv(const char *device_resolv, bool nat, const char *pool);

/* Both texts for pool-mode container c (its first lease, its pool's nat,
 * the device's /etc/resolv.conf); *hosts = *resolv = NULL for other modes.
 * Returns 0 or -ENOMEM. */
struct pvc_leases;
int pvc_etc_texts(const struct pvc_state *st, const struct pvc_leases *l,
		  const struct pvc_container *c, char **hosts, char **resolv);

/* In the child, in its private mount namespace, after /run got its
 * private tmpfs: writes the texts under /run/pvx/ and bind-mounts them
 * over /etc/hosts and /etc/resolv.conf (a NULL text is skipped). On
 * failure returns -errno and the failing step in step. */
int pvc_etc_install(const char *hosts, const char *resolv, char *step,
		    size_t len);

#endif

/* The control API of pv-ctrld (SPEC §6): HTTP/1.1 over a Unix socket,
 * served by libevent's evhttp. Translates requests into pvc_daemon calls
 * and holds the long-poll waiters of GET /xconnect-graph?wait=<etag>. */
#ifndef PVC_API_H
#define PVC_API_H

#include <event2/event.h>
#include <stddef.h>
#include <sys/types.h>

#include "ctrl/daemon.h"

#define PVC_API_MAX_BODY (1024 * 1024)
#define PVC_API_MAX_HEADERS (8 * 1024)
#define PVC_API_IDLE_TIMEOUT_S 10
#define PVC_API_WAIT_TIMEOUT_S 30
#define PVC_API_MAX_WAITERS 1024

struct pvc_api_conf {
	const char *path;   /* control socket */
	mode_t mode;	    /* of the socket file, e.g. 0600 */
	int wait_timeout_s; /* long-poll hold time before 304 */
	int idle_timeout_s; /* a request being read, an idle keep-alive */
};

struct pvc_api;

/* Opens a listening Unix socket at path with the given file mode:
 * creates missing parent directories, removes a stale socket file, and
 * refuses (-EADDRINUSE) if a server still answers there or (-EEXIST) if
 * path is not a socket. Returns the fd or -errno with a reason in err. */
int pvc_api_listen_unix(const char *path, mode_t mode, char *err,
			size_t errlen);

/* Serves the API of d on conf->path. NULL with errno and err on failure. */
struct pvc_api *pvc_api_new(struct event_base *base, struct pvc_daemon *d,
			    const struct pvc_api_conf *conf, char *err,
			    size_t errlen);
/* Drops the waiters, closes every connection and removes the socket. */
void pvc_api_free(struct pvc_api *api);

#endif

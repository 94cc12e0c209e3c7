/* The pure part of the control API's request handling: which resource a
 * path names, which methods it allows, the ?wait= of a query and the body
 * of PUT /containers/<name>. No I/O, no logs: api.c answers, this decides
 * (fuzzed by tests/fuzz/fuzz_api.c). */
#ifndef PVC_API_REQ_H
#define PVC_API_REQ_H

#include <event2/http.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum pvc_api_route {
	PVC_ROUTE_NONE,	      /* unknown path: 404 */
	PVC_ROUTE_GRAPH,      /* /xconnect-graph */
	PVC_ROUTE_CONTAINERS, /* /containers */
	PVC_ROUTE_CONTAINER,  /* /containers/<name> */
	PVC_ROUTE_STATE,      /* /state */
	PVC_ROUTE_RELOAD,     /* /state/reload */
	PVC_ROUTE_LOAD,	      /* /state/load */
	PVC_ROUTE_METRICS,    /* /metrics */
	PVC_ROUTE_LOGS,	      /* /containers/<name>/logs */
};

/* The resource of path (without the query). For PVC_ROUTE_CONTAINER and
 * PVC_ROUTE_LOGS, *name gets the decoded container name (caller frees); a
 * name that is not a safe name ('/', %00, bytes that are not UTF-8 …)
 * names nothing.
 * Returns 0 or -ENOMEM. */
int pvc_api_route(const char *path, enum pvc_api_route *rt, char **name);
/* Whether method m is allowed on rt; *allow gets the Allow header value
 * ("" for PVC_ROUTE_NONE). */
bool pvc_api_method_ok(enum pvc_api_route rt, enum evhttp_cmd_type m,
		       const char **allow);
/* The value of "wait" in a query string (*wait NULL when absent; caller
 * frees). 0, -EINVAL (not a query string) or -ENOMEM. */
int pvc_api_query_wait(const char *query, char **wait);

/* PUT /containers/<name>: exactly one of {"pid": N} (adopt) or
 * {"action": "..."}. */
struct pvc_api_put {
	pid_t pid;    /* > 0: adopt this pid */
	char *action; /* else: the action (owned) */
};
/* Parses the body; on -EINVAL err holds the reason for a 400 ("pid:
 * expected a positive integer"), -ENOMEM otherwise. */
int pvc_api_put_parse(const char *buf, size_t len, struct pvc_api_put *out,
		      char *err, size_t errlen);
void pvc_api_put_clear(struct pvc_api_put *p);

#endif

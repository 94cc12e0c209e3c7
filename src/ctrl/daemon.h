/* The core of pv-ctrld: the state in force, its leases, the runtime that
 * acts on them and the xconnect graph text with its ETag. Every change of
 * state (apply, adopt, a container starting or exiting) goes through here;
 * the HTTP layer (api.c) only translates requests into these calls. */
#ifndef PVC_DAEMON_H
#define PVC_DAEMON_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/errlist.h"
#include "ctrl/ipam.h"
#include "ctrl/runtime.h"
#include "ctrl/state.h"

/* "\"0123456789abcdef\"": quotes, 16 hex digits, NUL. */
#define PVC_ETAG_LEN 19

struct pvc_daemon_conf {
	const char *state_path; /* the --state source, reread on reload */
	const char *state_dir;	/* holds leases.json; created if missing */
	struct pvc_runtime_conf runtime;
};

struct pvc_daemon;

/* Creates the state dir and loads the lease file (problems with it are
 * put in warnings: the daemon starts with what could be read). Returns
 * NULL and sets errno on failure, with a reason in errors. */
struct pvc_daemon *pvc_daemon_new(struct event_base *base,
				  const struct pvc_daemon_conf *conf,
				  struct pvx_errlist *errors,
				  struct pvx_errlist *warnings);

/* Puts a validated state in force, taking ownership of st (freed on
 * failure too): IPAM with the current leases, lease file saved, runtime
 * applied, graph rebuilt. IPAM and runtime messages about single
 * containers go to warnings; the state still applies. On failure (lease
 * file not writable, …) nothing changes and errors says why. */
int pvc_daemon_apply(struct pvc_daemon *d, struct pvc_state *st,
		     struct pvx_errlist *errors, struct pvx_errlist *warnings);
/* Loads and validates, then applies. -EINVAL: the state is invalid,
 * every problem is in errors and nothing changed; other -errno: it could
 * not be applied (errors says why). */
int pvc_daemon_load_path(struct pvc_daemon *d, const char *path,
			 struct pvx_errlist *errors,
			 struct pvx_errlist *warnings);
int pvc_daemon_load_buf(struct pvc_daemon *d, const char *buf, size_t len,
			struct pvx_errlist *errors,
			struct pvx_errlist *warnings);
/* Loads path (a state directory or state.json) like load_path and, once
 * applied, makes it the source: process containers run in its folder and
 * a reload rereads it (docs/api.md, POST /state/load). Refused: nothing
 * changes, the source neither. */
int pvc_daemon_load_source(struct pvc_daemon *d, const char *path,
			   struct pvx_errlist *errors,
			   struct pvx_errlist *warnings);
/* Rereads the state source (conf->state_path, or the last one loaded
 * with pvc_daemon_load_source). */
int pvc_daemon_reload(struct pvc_daemon *d, struct pvx_errlist *errors,
		      struct pvx_errlist *warnings);

/* The graph as sent to clients (compact, key-sorted JSON text) and its
 * ETag (quoted). Both stay valid until the next change. */
const char *pvc_daemon_graph(const struct pvc_daemon *d);
const char *pvc_daemon_etag(const struct pvc_daemon *d);
/* changed(arg) is called after the graph text changed (not when a
 * rebuild gave the same text). One listener: the API's waiters. */
void pvc_daemon_set_graph_cb(struct pvc_daemon *d, void (*changed)(void *arg),
			     void *arg);

/* GET /metrics: the Prometheus text of ctrl/metrics.c (new string, its
 * length in *len; NULL and errno on failure). */
char *pvc_daemon_metrics(const struct pvc_daemon *d, size_t *len);

/* [{name, type, mode, status, pid, addresses, error}, …] (new reference). */
json_t *pvc_daemon_containers(const struct pvc_daemon *d);
/* A process container's output from offset on, as pvc_runtime_logs
 * (-ENOENT: not in the state; -ENODATA: no log). */
int pvc_daemon_logs(struct pvc_daemon *d, const char *name, uint64_t offset,
		    char **buf, size_t *len, uint64_t *end);
/* One container's object, or NULL if unknown. */
json_t *pvc_daemon_container(const struct pvc_daemon *d, const char *name);
/* As pvc_runtime_adopt / pvc_runtime_action, with a log line. */
int pvc_daemon_adopt(struct pvc_daemon *d, const char *name, pid_t pid,
		     char *err, size_t errlen);
int pvc_daemon_action(struct pvc_daemon *d, const char *name,
		      const char *action, char *err, size_t errlen);

/* Operations that change what runs (a state, a reload, an action, an
 * adoption) are queued and run one at a time: one that stops processes
 * completes only once they are gone (and restarted ones started), without
 * ever blocking the event loop; the next waits for it. Reads (graph,
 * containers) are answered from what is in force meanwhile. */
enum pvc_op_kind {
	PVC_OP_STATE,  /* apply buf (a state.json text) */
	PVC_OP_RELOAD, /* reread the --state source */
	PVC_OP_LOAD,   /* load path and make it the source */
	PVC_OP_ACTION, /* action on container name */
	PVC_OP_ADOPT,  /* register pid as container name's */
};

struct pvc_op_req {
	enum pvc_op_kind kind;
	const char *buf; /* copied */
	size_t len;
	const char *path;   /* PVC_OP_LOAD; copied */
	const char *name;   /* copied */
	const char *action; /* copied */
	pid_t pid;
};

/* What an operation came to: r as the synchronous calls above return it
 * (0, -EINVAL for an invalid state, …), errors and warnings of a state or
 * reload, err of an action or adoption. Valid during the callback only. */
struct pvc_op_result {
	enum pvc_op_kind kind;
	const char *name;
	int r;
	struct pvx_errlist *errors, *warnings;
	const char *err;
};

struct pvc_op;
typedef void (*pvc_op_done)(const struct pvc_op_result *res, void *arg);

/* Queues an operation; done (may be NULL) is called once it is complete.
 * When it completes at once, done is called before this returns, *completed
 * is true and the result is NULL. Otherwise the result is the handle of
 * the pending operation (valid until done is called), or NULL with errno
 * ENOMEM when it could not be queued (done is never called then). */
struct pvc_op *pvc_daemon_submit(struct pvc_daemon *d,
				 const struct pvc_op_req *req, pvc_op_done done,
				 void *arg, bool *completed);
/* The requester is gone: the operation still runs, done is not called. */
void pvc_daemon_op_forget(struct pvc_op *op);

/* Frees the runtime (which stops its containers), then everything else. */
void pvc_daemon_free(struct pvc_daemon *d);

/* Pure helpers, unit-tested. */
/* The quoted hex of a 64-bit FNV-1a hash of text into buf. */
void pvc_etag_compute(const char *text, char buf[PVC_ETAG_LEN]);
/* Whether a client's ETag (quotes optional, a W/ prefix ignored, spaces
 * around it ignored) names etag. */
bool pvc_etag_match(const char *given, const char *etag);
/* A lease as {interface, pool, address "10.0.4.2/24", mac}. */
json_t *pvc_lease_to_json(const struct pvc_lease *l);
/* The planned view of --check: {"leases": […], "graph": […]}. */
json_t *pvc_plan_to_json(const struct pvc_leases *leases, json_t *graph);

#endif

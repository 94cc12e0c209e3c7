/* The device runtime of pv-ctrld (SPEC §7): pool bridges, veths, process
 * containers in their own namespaces, adoption of external containers by
 * PID. The effects live here; the daemon asks, the runtime does and says
 * when something changed (a container started, exited, was adopted). */
#ifndef PVC_RUNTIME_H
#define PVC_RUNTIME_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/errlist.h"
#include "ctrl/ipam.h"
#include "ctrl/state.h"

struct pvc_runtime_conf {
	/* false (--no-runtime): never touch the network, never start a
	 * process; containers are only tracked (adopt works, actions are
	 * refused with -ENOTSUP). */
	bool enabled;
	int stop_grace_ms; /* SIGTERM -> SIGKILL delay on stop */
	/* Working directory and $PVX_STATE_DIR of process containers: the
	 * directory holding the --state source (NULL: "/"). */
	const char *workdir;
	/* Directory of pv-ctrld's state (--state-dir): the runtime keeps
	 * runtime.json there, the record of the bridges, veths and processes
	 * it created, so that a restart after a crash removes exactly those
	 * (NULL: no record, no crash cleanup). */
	const char *state_dir;
	/* Cap of one container log file (<state_dir>/logs/<name>.log, and
	 * one rotated .1); 0: PVC_CTLOG_DEFAULT. */
	size_t log_max;
};

struct pvc_runtime;

/* changed(arg) is called from the event loop whenever a container's
 * status or pid changed (never from inside a call into the runtime).
 * Enabled and with a state_dir, it first removes what runtime.json of an
 * earlier pv-ctrld names: the leftovers of a crash (docs/runtime.md). */
struct pvc_runtime *pvc_runtime_new(struct event_base *base,
				    const struct pvc_runtime_conf *conf,
				    void (*changed)(void *arg), void *arg);
/* Makes the running system match st and leases: containers that left are
 * stopped and unwired, new pools get bridges, new process containers are
 * started, changed ones restarted. st and leases must stay valid until the
 * next apply or free. Problems of single containers are recorded in their
 * status (and el), never abort the others. Returns 0 or -errno. */
int pvc_runtime_apply(struct pvc_runtime *rt, const struct pvc_state *st,
		      const struct pvc_leases *leases, struct pvx_errlist *el);
pid_t pvc_runtime_pid(const struct pvc_runtime *rt, const char *name);
/* "running", "stopping" (a stop under way), "stopped", "exited", "error",
 * "restarting" (auto_recovery will start it again), or NULL if unknown. */
const char *pvc_runtime_status(const struct pvc_runtime *rt, const char *name);
/* What GET /containers shows beyond the status: the last exit. */
struct pvc_runtime_info {
	bool has_exit;		   /* its process exited at least once */
	int exit_code;		   /* of the last exit */
	int exit_signal;	   /* the signal that ended it, 0 if none */
	struct timespec exited_at; /* CLOCK_REALTIME */
	unsigned exits;		   /* exits seen */
	unsigned restarts;	   /* by auto_recovery */
	const char *log_path;	   /* its log file, NULL if none */
};
int pvc_runtime_info(const struct pvc_runtime *rt, const char *name,
		     struct pvc_runtime_info *out);
/* A process container's output from offset on (see ctlog.h); -ENOENT:
 * no such container, -ENODATA: it has no log (external, no state dir,
 * never started). */
int pvc_runtime_logs(struct pvc_runtime *rt, const char *name, uint64_t offset,
		     char **buf, size_t *len, uint64_t *end);
/* Last error of a container ("" if none). */
const char *pvc_runtime_error(const struct pvc_runtime *rt, const char *name);
/* Registers the init PID of an external container and wires its network.
 * -ENOENT: no such container; -ESRCH: no such process; other -errno with a
 * reason in err. */
int pvc_runtime_adopt(struct pvc_runtime *rt, const char *name, pid_t pid,
		      char *err, size_t errlen);
/* action: "start", "stop", "restart". -ENOENT, -EINVAL (unknown action),
 * -ENOTSUP (not possible for this container or runtime disabled).
 * A start is done on return (exec'd or failed). A stop never blocks: on
 * return SIGTERM is sent and the runtime is busy until the process is
 * reaped (SIGKILL after stop_grace_ms); a restart starts the new process
 * then. Stops of apply() work the same way. */
int pvc_runtime_action(struct pvc_runtime *rt, const char *name,
		       const char *action, char *err, size_t errlen);
/* Whether stops (and the starts that follow them) are under way; when the
 * last one ends, changed() is called. */
bool pvc_runtime_busy(const struct pvc_runtime *rt);
/* Moves the errors of starts that followed a stop (restarts) into el. */
void pvc_runtime_take_errors(struct pvc_runtime *rt, struct pvx_errlist *el);
/* Stops own containers (SIGTERM, then SIGKILL after the grace period),
 * removes the links and bridges it created, frees everything. */
/* The working directory of process containers started from now on (the
 * folder of the state source). 0 or -ENOMEM (the old one is kept). */
int pvc_runtime_set_workdir(struct pvc_runtime *rt, const char *workdir);
void pvc_runtime_free(struct pvc_runtime *rt);

#endif

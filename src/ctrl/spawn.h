/* Process containers: a child cloned into new PID, mount, UTS, IPC and
 * (unless the container shares the device's network) network namespaces,
 * held on a pipe until the parent has wired its network, then set up
 * (hostname, private mounts, /proc, /tmp and /run tmpfs, cwd, environment).
 * The child stays as pid 1 of the container (a minimal init that reaps and
 * waits); it forks the container's main process, which is exec'd. When the
 * main process exits, the init exits with its status, and the kernel kills
 * every other process of the PID namespace: nothing of a container
 * outlives it (docs/runtime.md). */
#ifndef PVC_SPAWN_H
#define PVC_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pvc_spawn_conf {
	char *const *argv;    /* argv[0] looked up in $PATH */
	char *const *env;     /* extra "K=V" entries, or NULL */
	const char *hostname; /* of the new UTS namespace */
	const char *workdir;  /* cwd and $PVX_STATE_DIR; NULL: "/" */
	bool new_net;	      /* false: host-mode, shares the device's net */
	/* Texts of its own /etc/hosts and /etc/resolv.conf (etcfiles.h),
	 * NULL: the device's are seen. */
	const char *hosts, *resolv;
	/* stdout and stderr of the child (a pipe's write end, which the
	 * caller closes after pvc_spawn_start); -1: pv-ctrld's own. */
	int out_fd;
};

struct pvc_spawn {
	pid_t pid;	/* the init: our child, pid 1 of the container */
	pid_t main_pid; /* after release: the exec'd process (pid 2) */
	int go_fd;	/* parent -> child socket: one byte means "go on" */
	int status_fd;	/* child -> parent: a failure report, EOF on exec */
};

/* Clones the child; it waits on go_fd. Returns 0 or -errno (reason in
 * err). */
int pvc_spawn_start(const struct pvc_spawn_conf *c, struct pvc_spawn *sp,
		    char *err, size_t errlen);
/* Lets the child go on and waits until the main process has exec'd; sets
 * main_pid (its pid in our namespace). Returns 0, or the -errno of the
 * step that failed in the child ("exec sleepx: No such file or directory"
 * in err); the child has then exited (not yet reaped). */
int pvc_spawn_release(struct pvc_spawn *sp, char *err, size_t errlen);
/* Gives up on a child not released yet: it exits without exec'ing. The
 * pid is left to the caller to reap. */
void pvc_spawn_abort(struct pvc_spawn *sp);

#endif

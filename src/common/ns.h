/* Namespace helpers: run one short action inside another process's network
 * or mount namespace (/proc/<pid>/ns/...) and come back, checking that the
 * switch back worked. Only sound in a single-threaded process. */
#ifndef PVX_NS_H
#define PVX_NS_H

#include <stdbool.h>
#include <sys/types.h>

enum pvx_ns_kind {
	PVX_NS_NET, /* network namespace: sockets created inside stay there */
	PVX_NS_MNT, /* mount namespace: paths are resolved there */
};

/* Opens /proc/<pid>/ns/<net|mnt> (O_RDONLY|O_CLOEXEC). pid 0 is the
 * calling thread. Returns an fd or -errno. */
int pvx_ns_open(pid_t pid, enum pvx_ns_kind kind);

/* Whether the namespace of kind of pid is the caller's own (same inode).
 * Returns 1, 0, or -errno (no such process, no permission). */
int pvx_ns_is_own(pid_t pid, enum pvx_ns_kind kind);

/* A namespace's identity (the inode of its nsfs file): two namespaces
 * are the same one exactly when their identities are equal, whatever
 * pids they were reached through. */
struct pvx_ns_id {
	dev_t dev;
	ino_t ino;
};

/* The identity of the namespace of kind of pid (pid <= 0: the calling
 * thread's). Returns 0 or -errno (no such process, no permission). */
int pvx_ns_id_of(pid_t pid, enum pvx_ns_kind kind, struct pvx_ns_id *id);

/* The same for an fd from pvx_ns_open. */
int pvx_ns_id_of_fd(int nsfd, struct pvx_ns_id *id);

static inline bool pvx_ns_id_equal(const struct pvx_ns_id *a,
				   const struct pvx_ns_id *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

/* Calls fn(arg) inside the namespace nsfd (as from pvx_ns_open), then
 * switches back and verifies that the caller is home again. Returns fn's
 * result, or -errno when the switch in failed (fn not called). If the
 * switch back fails the process is in a namespace it cannot reason about:
 * that is a broken invariant and aborts. For PVX_NS_MNT the working
 * directory is restored too (setns resets it). */
int pvx_ns_run_fd(int nsfd, enum pvx_ns_kind kind, int (*fn)(void *arg),
		  void *arg);

/* Same with /proc/<pid>/ns/<kind>. pid <= 0 or the caller's own namespace:
 * fn runs right here without any switch. */
int pvx_ns_run(pid_t pid, enum pvx_ns_kind kind, int (*fn)(void *arg),
	       void *arg);

/* For good (no way back): joins the IPC, UTS, network, PID, cgroup and
 * mount namespaces of pid (those that differ from the caller's) and its
 * working directory, as `pvcontrol container exec` does before it forks
 * the command (the PID namespace applies to children only). Every
 * /proc/<pid>/ns/ fd is opened before the first switch (after the mount
 * switch, /proc may be another one). Returns 0, or -errno with the
 * failing step in err ("setns net: Operation not permitted"). */
int pvx_ns_enter_all(pid_t pid, char *err, size_t errlen);

#endif

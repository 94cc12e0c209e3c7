/* Paths inside a container, resolved so that nothing outside the
 * container's root is ever reached, whatever its symlinks, ".." and
 * /proc magic links say (docs/security.md). Every path pvx opens, binds
 * or connects under /proc/<pid>/root goes through here. */
#ifndef PVX_INROOT_H
#define PVX_INROOT_H

#include <stdint.h>
#include <sys/types.h>

/* A root to resolve paths in: an O_PATH fd of the directory and the
 * openat2(2) RESOLVE_* flags that confine lookups to it. */
struct pvx_root {
	int fd;
	uint64_t resolve;
	/* The process has no root of its own (same mount namespace and
	 * same root directory as pv-xconnect): there is nothing to confine
	 * a symlink to, so none is followed. */
	int shared;
};

#define PVX_ROOT_INIT                                                          \
	{                                                                      \
		.fd = -1                                                       \
	}

/* Opens the root of pid: /proc/<pid>/root with RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS, plus RESOLVE_NO_SYMLINKS when the process
 * shares pv-xconnect's mount namespace and root. pid <= 0 is the host's
 * "/" with ordinary resolution (the path came from the graph, not from a
 * container). Returns 0 or -errno (-ESRCH: no such process). */
int pvx_root_open(pid_t pid, struct pvx_root *root);

/* Closes root's fd (idempotent). */
void pvx_root_close(struct pvx_root *root);

/* openat2(root, path, flags) with root's confinement; path is absolute
 * (taken from the root) or relative to it. Returns an fd or -errno:
 * -ELOOP for a symlink or magic link that may not be followed, -EXDEV
 * for one that would leave the root, -ENOSYS where the kernel has no
 * openat2 (pvx refuses rather than resolving unconfined). */
int pvx_root_openat(const struct pvx_root *root, const char *path, int flags);

/* The directory holding path's last component, opened O_PATH |
 * O_DIRECTORY inside root; *name points at that component in path. With
 * mkdir_mode != 0, missing directories on the way are created with that
 * mode (each one confined like the rest of the walk). Refuses a path
 * that is not absolute, ends in '/', or has an empty, "." or ".."
 * component (-EINVAL). Returns the fd or -errno. */
int pvx_root_open_parent(const struct pvx_root *root, const char *path,
			 mode_t mkdir_mode, const char **name);

#endif

/* Confined path resolution under a container's root (see inroot.h and
 * docs/security.md). The kernel does the confining: openat2(2) with
 * RESOLVE_IN_ROOT treats the root fd as "/" for the whole walk, symlink
 * targets and ".." included, and RESOLVE_NO_MAGICLINKS refuses the
 * /proc/<pid>/{root,cwd,fd/N} links that would jump anywhere. A path is
 * never handed back to the kernel as a string to resolve again. */
#include "common/inroot.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/ns.h"

static int openat2_fd(int dirfd, const char *path, int flags, uint64_t resolve)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve = resolve,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : (int)fd;
}

/* Whether rootfd is the very directory pv-xconnect's own "/" is. */
static int same_as_own_root(int rootfd)
{
	struct stat a, b;

	if (fstat(rootfd, &a) < 0 || stat("/", &b) < 0)
		return -errno;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int pvx_root_open(pid_t pid, struct pvx_root *root)
{
	char path[48];
	int r, own_mnt;

	*root = (struct pvx_root)PVX_ROOT_INIT;
	if (pid <= 0) {
		root->fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		return root->fd < 0 ? -errno : 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	root->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root->fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	root->resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	own_mnt = pvx_ns_is_own(pid, PVX_NS_MNT);
	r = own_mnt == 1 ? same_as_own_root(root->fd) : own_mnt;
	if (r < 0) {
		pvx_root_close(root);
		return r;
	}
	if (r == 1) {
		root->shared = 1;
		root->resolve |= RESOLVE_NO_SYMLINKS;
	}
	return 0;
}

void pvx_root_close(struct pvx_root *root)
{
	if (root->fd >= 0)
		close(root->fd);
	root->fd = -1;
}

int pvx_root_openat(const struct pvx_root *root, const char *path, int flags)
{
	return openat2_fd(root->fd, path, flags, root->resolve);
}

static bool component_ok(const char *c, size_t n)
{
	return n > 0 && !(n == 1 && c[0] == '.') &&
	       !(n == 2 && c[0] == '.' && c[1] == '.');
}

/* One step of the walk: the directory prefix (path up to, not including,
 * end), created in parent when missing and mkdir_mode allows. */
static int open_step(const struct pvx_root *root, const char *prefix,
		     int parent, const char *comp, mode_t mkdir_mode)
{
	int fd = pvx_root_openat(root, prefix, O_PATH | O_DIRECTORY);
	mode_t old;

	if (fd != -ENOENT || !mkdir_mode)
		return fd;
	/* mkdirat does not follow a symlink in comp's place: a dangling
	 * one gives EEXIST and the confined open below resolves it. The
	 * umask is pv-xconnect's own and the process single-threaded:
	 * clearing it for one call gives exactly mkdir_mode. */
	old = umask(0);
	if (mkdirat(parent, comp, mkdir_mode) < 0 && errno != EEXIST) {
		int r = -errno;
		umask(old);
		return r;
	}
	umask(old);
	return pvx_root_openat(root, prefix, O_PATH | O_DIRECTORY);
}

int pvx_root_open_parent(const struct pvx_root *root, const char *path,
			 mode_t mkdir_mode, const char **name)
{
	char prefix[4096], comp[256];
	const char *p, *slash;
	int dir, next;
	size_t n;

	if (path[0] != '/' || strlen(path) >= sizeof(prefix))
		return path[0] != '/' ? -EINVAL : -ENAMETOOLONG;
	dir = pvx_root_openat(root, "/", O_PATH | O_DIRECTORY);
	if (dir < 0)
		return dir;
	for (p = path + 1;; p = slash + 1) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (!component_ok(p, n) || n >= sizeof(comp)) {
			close(dir);
			return n >= sizeof(comp) ? -ENAMETOOLONG : -EINVAL;
		}
		if (!slash)
			break;
		memcpy(comp, p, n);
		comp[n] = '\0';
		n = (size_t)(slash - path);
		memcpy(prefix, path, n);
		prefix[n] = '\0';
		next = open_step(root, prefix, dir, comp, mkdir_mode);
		close(dir);
		if (next < 0)
			return next;
		dir = next;
	}
	*name = p;
	return dir;
}

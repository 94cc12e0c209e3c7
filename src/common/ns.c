/* Entering another process's network or mount namespace for one action and
 * coming back (see ns.h). setns(2) acts on the calling thread only, so this
 * stays correct as long as the daemons are single-threaded. */
#include "common/ns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *ns_name(enum pvx_ns_kind kind)
{
	return kind == PVX_NS_MNT ? "mnt" : "net";
}

static int ns_flag(enum pvx_ns_kind kind)
{
	return kind == PVX_NS_MNT ? CLONE_NEWNS : CLONE_NEWNET;
}

int pvx_ns_open(pid_t pid, enum pvx_ns_kind kind)
{
	char path[64];
	int fd;

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid,
			 ns_name(kind));
	else
		/* thread-self: the namespace of this very thread, which is
		 * the one setns() changes. */
		snprintf(path, sizeof(path), "/proc/thread-self/ns/%s",
			 ns_name(kind));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int ns_same_fd(int a, int b)
{
	struct stat sa, sb;

	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return -errno;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int pvx_ns_id_of_fd(int nsfd, struct pvx_ns_id *id)
{
	struct stat st;

	if (fstat(nsfd, &st) < 0)
		return -errno;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return 0;
}

int pvx_ns_id_of(pid_t pid, enum pvx_ns_kind kind, struct pvx_ns_id *id)
{
	int fd = pvx_ns_open(pid, kind), r;

	if (fd < 0)
		return fd;
	r = pvx_ns_id_of_fd(fd, id);
	close(fd);
	return r;
}

int pvx_ns_is_own(pid_t pid, enum pvx_ns_kind kind)
{
	int self, other, r;

	self = pvx_ns_open(0, kind);
	if (self < 0)
		return self;
	other = pvx_ns_open(pid, kind);
	if (other < 0) {
		close(self);
		return other;
	}
	r = ns_same_fd(self, other);
	close(self);
	close(other);
	return r;
}

int pvx_ns_run_fd(int nsfd, enum pvx_ns_kind kind, int (*fn)(void *arg),
		  void *arg)
{
	int home, cwd = -1, r, back;

	home = pvx_ns_open(0, kind);
	if (home < 0)
		return home;
	if (kind == PVX_NS_MNT) {
		/* setns(CLONE_NEWNS) moves cwd and root to the namespace's
		 * root; keep the old cwd to return to it. */
		cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cwd < 0) {
			r = -errno;
			close(home);
			return r;
		}
	}
	if (setns(nsfd, ns_flag(kind)) < 0) {
		r = -errno;
		close(home);
		if (cwd >= 0)
			close(cwd);
		return r;
	}
	r = fn(arg);
	if (setns(home, ns_flag(kind)) < 0) {
		fprintf(stderr, "pvx: setns back to own %s namespace: %m\n",
			ns_name(kind));
		abort();
	}
	/* Check that we really are home: a wrong namespace here would bind
	 * later sockets or resolve later paths in a container. */
	back = pvx_ns_open(0, kind);
	if (back < 0 || ns_same_fd(back, home) != 1) {
		fprintf(stderr, "pvx: not back in own %s namespace\n",
			ns_name(kind));
		abort();
	}
	close(back);
	close(home);
	if (cwd >= 0) {
		if (fchdir(cwd) < 0) {
			fprintf(stderr, "pvx: fchdir back after setns: %m\n");
			abort();
		}
		close(cwd);
	}
	return r;
}

int pvx_ns_run(pid_t pid, enum pvx_ns_kind kind, int (*fn)(void *arg),
	       void *arg)
{
	int fd, r;

	if (pid <= 0)
		return fn(arg);
	r = pvx_ns_is_own(pid, kind);
	if (r < 0)
		return r;
	if (r == 1)
		return fn(arg);
	fd = pvx_ns_open(pid, kind);
	if (fd < 0)
		return fd;
	r = pvx_ns_run_fd(fd, kind, fn, arg);
	close(fd);
	return r;
}

int pvx_ns_enter_all(pid_t pid, char *err, size_t errlen)
{
	/* nsenter's order: the mount namespace last, so that the others
	 * are still found through this /proc. */
	static const struct {
		const char *name;
		int type;
	} nss[] = {
	    {"ipc", CLONE_NEWIPC},	 {"uts", CLONE_NEWUTS},
	    {"net", CLONE_NEWNET},	 {"pid", CLONE_NEWPID},
	    {"cgroup", CLONE_NEWCGROUP}, {"mnt", CLONE_NEWNS},
	};
	enum { N = sizeof(nss) / sizeof(nss[0]) };
	int fd[N], cwd = -1, r = 0;
	char path[64], own[64];
	struct stat a, b;
	size_t i;

	for (i = 0; i < N; i++)
		fd[i] = -1;
	for (i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid,
			 nss[i].name);
		snprintf(own, sizeof(own), "/proc/self/ns/%s", nss[i].name);
		if (stat(path, &a) < 0) {
			r = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		/* The same namespace as ours: nothing to join. */
		if (stat(own, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			continue;
		fd[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fd[i] < 0) {
			r = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
	cwd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (i = 0; i < N; i++) {
		if (fd[i] >= 0 && setns(fd[i], nss[i].type) < 0) {
			r = -errno;
			snprintf(err, errlen, "setns %s: %s", nss[i].name,
				 strerror(errno));
			goto out;
		}
	}
	/* Its working directory, else its root's. */
	if (cwd < 0 || fchdir(cwd) < 0) {
		if (chdir("/") < 0) {
			r = -errno;
			snprintf(err, errlen, "chdir /: %s", strerror(errno));
		}
	}
out:
	for (i = 0; i < N; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	if (cwd >= 0)
		close(cwd);
	return r;
}

/* The unix plugin (SPEC §8): one Unix stream listening socket per link at
 * target (a path), created inside the consumer's mount namespace or on the
 * host; the rest (accepting, sessions, drain) is the stream listener's
 * (stream.h). The socket file is removed again when the link goes. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/inroot.h"
#include "common/log.h"
#include "xconnect/link.h"
#include "xconnect/plugins/stream.h"

/* Runs fn(arg) with dir as the working directory, so that a socket call
 * given a bare name acts in exactly that directory, and comes back. */
static int in_dir(int dir, int (*fn)(int fd, const struct sockaddr_un *sa),
		  int fd, const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int cwd, r;

	if (strlen(name) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, name, strlen(name) + 1);
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0)
		return -errno;
	r = fchdir(dir) < 0 ? -errno : fn(fd, &sa);
	if (fchdir(cwd) < 0) {
		/* Later relative paths would land in a container. */
		pvx_err("fchdir back: %s", strerror(errno));
		abort();
	}
	close(cwd);
	return r;
}

static int do_bind(int fd, const struct sockaddr_un *sa)
{
	/* The file gets the socket inode's mode (set by fchmod before)
	 * less the umask: cleared for this one call, pv-xconnect is
	 * single-threaded. */
	mode_t old = umask(0);
	int r =
	    bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ? -errno : 0;
	umask(old);
	return r;
}

/* Whether a live server answers on the socket file at (dir, name): 1, 0
 * (refused: stale), or -errno. The file is opened without following a
 * link in its place and reached through this process's /proc, so the
 * probe touches that very socket and nothing a link could name. */
static int socket_live(int dir, const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int pfd, fd, r;

	pfd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d", pfd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		close(pfd);
		return r;
	}
	r = connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno
								      : 0;
	close(fd);
	close(pfd);
	if (r == 0 || r == -EAGAIN)
		return 1;
	return r == -ECONNREFUSED ? 0 : r;
}

/* What is at (dir, name) must not stop the bind: nothing, or a socket
 * nobody listens on any more (left by a crash), which is removed.
 * Anything else is left alone and refused: -EEXIST (not a socket: a
 * file, a directory, a symlink) or -EADDRINUSE (a live socket), with the
 * reason in *why. */
static int clear_stale(int dir, const char *name, const char **why)
{
	struct stat st;
	int r;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		*why = S_ISREG(st.st_mode)   ? "path is a regular file, not a "
					       "socket; not replacing it"
		       : S_ISDIR(st.st_mode) ? "path is a directory, not a "
					       "socket; not replacing it"
		       : S_ISLNK(st.st_mode) ? "path is a symlink, not a "
					       "socket; not replacing it"
					     : "path is not a socket; not "
					       "replacing it";
		return -EEXIST;
	}
	r = socket_live(dir, name);
	if (r == 1) {
		*why = "a live socket is there (another process listens on "
		       "it); not replacing it";
		return -EADDRINUSE;
	}
	if (r < 0)
		return r;
	if (unlinkat(dir, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static const char *root_why(int r)
{
	switch (r) {
	case -ELOOP:
		return "the path uses a link that may not be followed in the "
		       "consumer's root (refused)";
	case -EXDEV:
		return "the path leads out of the consumer's root (refused)";
	case -ENOSYS:
		return "kernel without openat2: cannot confine the path to "
		       "the consumer's root (refused)";
	default:
		return NULL;
	}
}

/* Binds inside the consumer's root, reached from here through
 * /proc/<pid>/root with every lookup confined to it (common/inroot.h):
 * the parent directory is resolved (and created) once, and everything
 * after acts on that directory fd and the bare last name. */
static int unix_bind(const struct pvx_link_conf *c,
		     struct pvx_stream_listener *l, const char **step,
		     const char **why)
{
	struct pvx_root root;
	const char *name;
	struct stat st;
	int dir = -1, fd = -1, r;

	if (strlen(c->target) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		*step = "bind";
		*why = "path longer than a Unix socket address allows "
		       "(107 bytes)";
		return -ENAMETOOLONG;
	}
	*step = "open the root of the consumer for";
	r = pvx_root_open(c->consumer_pid, &root);
	if (r < 0)
		return r;
	*step = "mkdir parents of";
	dir = pvx_root_open_parent(&root, c->target, 0755, &name);
	pvx_root_close(&root);
	if (dir < 0) {
		*why = root_why(dir);
		return dir;
	}
	*step = "bind";
	r = clear_stale(dir, name, why);
	if (r < 0)
		goto fail;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*step = "socket";
		r = -errno;
		goto fail;
	}
	/* Consumers need write permission to connect, and may not be root:
	 * the mode is set on the socket before bind creates the file, so no
	 * chmod ever follows a path the consumer could swap. */
	if (fchmod(fd, pvx_limits.unix_mode) < 0) {
		*step = "fchmod";
		r = -errno;
		goto fail;
	}
	r = in_dir(dir, do_bind, fd, name);
	if (r < 0)
		goto fail;
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		*step = "stat";
		r = -errno;
		goto unlink;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		*step = "listen";
		r = -errno;
		goto unlink;
	}
	l->fd = fd;
	l->dirfd = dir;
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	return 0;
unlink:
	unlinkat(dir, name, 0);
fail:
	if (fd >= 0)
		close(fd);
	close(dir);
	return r;
}

/* Removes the socket file, unless it is not the one bind created any more
 * (replaced by someone else, or by a listener of this link that moved).
 * Works on the directory fd kept since bind: the consumer may be gone. */
static void unix_unbind(const struct pvx_link_conf *c,
			struct pvx_stream_listener *l)
{
	const char *name = strrchr(c->target, '/');
	struct stat st;

	if (l->dirfd < 0)
		return;
	name = name ? name + 1 : c->target;
	if (fstatat(l->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISSOCK(st.st_mode) && st.st_dev == l->dev && st.st_ino == l->ino)
		unlinkat(l->dirfd, name, 0);
	close(l->dirfd);
	l->dirfd = -1;
}

static const struct pvx_stream_ops unix_ops = {
    .ns = PVX_NS_MNT,
    .outside = true,
    .nodelay = false,
    .bind = unix_bind,
    .unbind = unix_unbind,
};

static int unix_start(struct pvx_link *link, char *err, size_t errlen)
{
	return pvx_stream_start(link, &unix_ops, err, errlen);
}

const struct pvx_plugin pvx_plugin_unix = {
    .type = "unix",
    .start = unix_start,
    .update = pvx_stream_update,
    .stop = pvx_stream_stop,
};

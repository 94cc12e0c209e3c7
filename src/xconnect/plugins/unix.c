/* The unix plugin (SPEC §8): one Unix stream listening socket per link at
 * target (a path), created inside the consumer's mount namespace or on the
 * host; the rest (accepting, sessions, drain) is the stream listener's
 * (stream.h). The socket file is removed again when the link goes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "xconnect/link.h"
#include "xconnect/plugins/stream.h"

/* Creates the missing directories above path, mode 0755 whatever the
 * umask: a consumer that is not root must be able to reach the socket. */
static int make_parents(const char *path)
{
	char buf[PVX_PATH_MAX];
	size_t n = strlen(path);
	int r;

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = strchr(buf + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(buf, 0755) == 0)
			r = chmod(buf, 0755) < 0 ? -errno : 0;
		else
			r = errno == EEXIST ? 0 : -errno;
		*p = '/';
		if (r < 0)
			return r;
	}
	return 0;
}

/* What is at path must not stop the bind: nothing, or a socket nobody
 * listens on any more (left by a crash), which is removed. Anything else
 * is left alone and refused: -EEXIST (not a socket) or -EADDRINUSE (a
 * live socket), with the reason in *why. */
static int clear_stale(const char *path, const struct sockaddr_un *sa,
		       const char **why)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		*why = S_ISREG(st.st_mode)   ? "path is a regular file, not a "
					       "socket; not replacing it"
		       : S_ISDIR(st.st_mode) ? "path is a directory, not a "
					       "socket; not replacing it"
					     : "path is not a socket; not "
					       "replacing it";
		return -EEXIST;
	}
	/* A socket: stale if connecting is refused. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ? -errno
								      : 0;
	close(fd);
	if (r == 0 || r == -EAGAIN) {
		*why = "a live socket is there (another process listens on "
		       "it); not replacing it";
		return -EADDRINUSE;
	}
	if (r != -ECONNREFUSED)
		return r;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Runs inside the consumer's mount namespace when there is one: the path
 * is resolved there. */
static int unix_bind(const struct pvx_link_conf *c,
		     struct pvx_stream_listener *l, const char **step,
		     const char **why)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = c->target;
	struct stat st;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		*step = "bind";
		*why = "path longer than a Unix socket address allows "
		       "(107 bytes)";
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	*step = "mkdir parents of";
	r = make_parents(path);
	if (r < 0)
		return r;
	*step = "bind";
	r = clear_stale(path, &sa, why);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*step = "socket";
		return -errno;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		*step = "bind";
		r = -errno;
		close(fd);
		return r;
	}
	/* bind applied the umask; consumers need write permission to
	 * connect, and may not be root. */
	if (chmod(path, pvx_limits.unix_mode) < 0) {
		*step = "chmod";
		goto fail;
	}
	if (lstat(path, &st) < 0) {
		*step = "stat";
		goto fail;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		*step = "listen";
		goto fail;
	}
	l->fd = fd;
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	return 0;
fail:
	r = -errno;
	close(fd);
	unlink(path);
	return r;
}

/* Removes the socket file, unless it is not the one bind created any more
 * (replaced by someone else, or by a listener of this link that moved). */
static void unix_unbind(const struct pvx_link_conf *c,
			struct pvx_stream_listener *l)
{
	struct stat st;

	if (lstat(c->target, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == l->dev && st.st_ino == l->ino)
		unlink(c->target);
}

static const struct pvx_stream_ops unix_ops = {
    .ns = PVX_NS_MNT,
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

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
#include "common/sock.h"
#include "xconnect/link.h"
#include "xconnect/plugins/stream.h"

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
	struct pvx_sock_err e = {0};
	struct pvx_root root;
	const char *name;
	struct stat st;
	int dir, fd, r;

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
	/* The socket's mode is exact (no umask, no chmod by path): consumers
	 * need write permission to connect, and may not be root. */
	fd = pvx_sock_listen_unix(dir, name, pvx_limits.unix_mode, 0, &st, &e);
	if (fd < 0) {
		*step = e.step;
		*why = e.why;
		close(dir);
		return fd;
	}
	l->fd = fd;
	l->dirfd = dir;
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	return 0;
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

/* Socket set-ups shared by both planes (sock.h): listeners with one
 * stale-socket policy, non-blocking connects, mkdir -p, peer addresses.
 * Pure in the sense of the tree: no logging, no globals kept. */
#include "common/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

static int fail_at(struct pvx_sock_err *e, const char *step, const char *why,
		   int r)
{
	if (e) {
		e->step = step;
		e->why = why;
	}
	return r;
}

const char *pvx_sock_strerror(const struct pvx_sock_err *e, int r)
{
	return e && e->why ? e->why : strerror(r < 0 ? -r : r);
}

static int sockopt_on(int fd, int level, int opt)
{
	int one = 1;

	return setsockopt(fd, level, opt, &one, sizeof(one)) < 0 ? -errno : 0;
}

int pvx_sock_listen_tcp(const struct pvx_hostport *hp, int backlog,
			unsigned flags, struct pvx_sock_err *e)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, r;

	fd = socket(hp->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_at(e, "socket", NULL, -errno);
	/* A restarted daemon binds again while old connections linger in
	 * TIME_WAIT. */
	r = sockopt_on(fd, SOL_SOCKET, SO_REUSEADDR);
	if (r < 0) {
		fail_at(e, "setsockopt SO_REUSEADDR", NULL, r);
		goto fail;
	}
	/* Accepted sockets inherit it: one setsockopt per listener, not one
	 * per connection. */
	if ((flags & PVX_SOCK_NODELAY) &&
	    (r = sockopt_on(fd, IPPROTO_TCP, TCP_NODELAY)) < 0) {
		fail_at(e, "setsockopt TCP_NODELAY", NULL, r);
		goto fail;
	}
	/* [::]:P must not take IPv4 P too: listeners on 0.0.0.0:P can
	 * coexist whatever net.ipv6.bindv6only says. */
	if (hp->family == AF_INET6 &&
	    (r = sockopt_on(fd, IPPROTO_IPV6, IPV6_V6ONLY)) < 0) {
		fail_at(e, "setsockopt IPV6_V6ONLY", NULL, r);
		goto fail;
	}
	sl = pvx_hostport_to_sockaddr(hp, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		r = fail_at(e, "bind", NULL, -errno);
		goto fail;
	}
	if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
		r = fail_at(e, "listen", NULL, -errno);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

/* Whether a live server accepts on the socket file pfd (an O_PATH fd):
 * 1, 0 (refused: stale), or -errno. It is reached through this
 * process's /proc, so the probe touches that very inode, not whatever a
 * path names by now. */
static int socket_live(int pfd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, r;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d", pfd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno
								      : 0;
	close(fd);
	/* EAGAIN: a server whose backlog is full, alive all the same. */
	if (r == 0 || r == -EAGAIN)
		return 1;
	return r == -ECONNREFUSED ? 0 : r;
}

static const char *not_socket_why(mode_t m)
{
	if (S_ISREG(m))
		return "path is a regular file, not a socket; not replacing it";
	if (S_ISDIR(m))
		return "path is a directory, not a socket; not replacing it";
	if (S_ISLNK(m))
		return "path is a symlink, not a socket; not replacing it";
	return "path is not a socket; not replacing it";
}

/* The stale-socket policy (sock.h): what is at (dir, name) must not stop
 * the bind. Errors are the bind's. */
static int clear_stale(int dir, const char *name, struct pvx_sock_err *e)
{
	struct stat st, now;
	int pfd, r;

	pfd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return errno == ENOENT ? 0 : fail_at(e, "bind", NULL, -errno);
	if (fstat(pfd, &st) < 0) {
		r = fail_at(e, "bind", NULL, -errno);
		goto out;
	}
	if (!S_ISSOCK(st.st_mode)) {
		r = fail_at(e, "bind", not_socket_why(st.st_mode), -EEXIST);
		goto out;
	}
	r = socket_live(pfd);
	if (r == 1) {
		r = fail_at(e, "bind",
			    "a live socket is there (another server answers "
			    "on it); not replacing it",
			    -EADDRINUSE);
		goto out;
	}
	if (r < 0) {
		fail_at(e, "bind", NULL, r);
		goto out;
	}
	/* Only the file probed goes: a name replaced meanwhile is left to
	 * fail the bind. */
	if (fstatat(dir, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
	    now.st_dev == st.st_dev && now.st_ino == st.st_ino &&
	    unlinkat(dir, name, 0) < 0 && errno != ENOENT) {
		r = fail_at(e, "unlink stale socket", NULL, -errno);
		goto out;
	}
	r = 0;
out:
	close(pfd);
	return r;
}

/* bind(2) takes no directory fd: the bare name is bound with dir as the
 * working directory (pv-xconnect and pv-ctrld are single-threaded), so
 * no path string is resolved again. The umask is cleared for the call:
 * the file gets the socket inode's mode, set by fchmod before. */
static int bind_at(int fd, int dir, const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old;
	int cwd = -1, r;

	memcpy(sa.sun_path, name, strlen(name) + 1);
	if (dir != AT_FDCWD) {
		cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cwd < 0)
			return -errno;
		if (fchdir(dir) < 0) {
			r = -errno;
			close(cwd);
			return r;
		}
	}
	old = umask(0);
	r = bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (cwd >= 0) {
		/* Going on elsewhere would land later relative paths in a
		 * container: a broken invariant. */
		if (fchdir(cwd) < 0)
			abort();
		close(cwd);
	}
	return r;
}

int pvx_sock_listen_unix(int dir, const char *name, mode_t mode, int backlog,
			 struct stat *st, struct pvx_sock_err *e)
{
	struct stat sb;
	int fd, r;

	if (!name[0] || (dir != AT_FDCWD && strchr(name, '/')))
		return fail_at(e, "bind", "not a bare file name", -EINVAL);
	if (strlen(name) >= SUN_PATH_MAX)
		return fail_at(e, "bind",
			       "path longer than a Unix socket address allows "
			       "(107 bytes)",
			       -ENAMETOOLONG);
	r = clear_stale(dir, name, e);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_at(e, "socket", NULL, -errno);
	/* The mode is set on the socket before bind creates the file: there
	 * is no moment the file is more open than asked, and no chmod ever
	 * follows a path someone could swap. */
	if (fchmod(fd, mode & 07777) < 0) {
		r = fail_at(e, "fchmod", NULL, -errno);
		goto fail;
	}
	r = bind_at(fd, dir, name);
	if (r < 0) {
		fail_at(e, "bind", NULL, r);
		goto fail;
	}
	if (fstatat(dir, name, st ? st : &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		r = fail_at(e, "stat", NULL, -errno);
		goto unlink;
	}
	if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
		r = fail_at(e, "listen", NULL, -errno);
		goto unlink;
	}
	return fd;
unlink:
	unlinkat(dir, name, 0);
fail:
	close(fd);
	return r;
}

int pvx_sock_connect(const struct sockaddr *sa, socklen_t len, unsigned flags,
		     int *fd)
{
	int s, r;

	*fd = -1;
	s = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		   0);
	if (s < 0)
		return -errno;
	/* Best effort: a relay adds latency to small writes without it,
	 * but still works. */
	if ((flags & PVX_SOCK_NODELAY) && sa->sa_family != AF_UNIX)
		sockopt_on(s, IPPROTO_TCP, TCP_NODELAY);
	if (connect(s, sa, len) == 0) {
		*fd = s;
		return 0;
	}
	/* EINTR: the connect goes on in the background, as EINPROGRESS. */
	if (errno == EINPROGRESS || errno == EINTR) {
		*fd = s;
		return -EINPROGRESS;
	}
	r = -errno;
	close(s);
	return r;
}

int pvx_sock_connect_tcp(const struct pvx_hostport *hp, unsigned flags, int *fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = pvx_hostport_to_sockaddr(hp, &ss);

	return pvx_sock_connect((struct sockaddr *)&ss, sl, flags, fd);
}

int pvx_sock_connect_unix(const char *path, int *fd)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	*fd = -1;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	return pvx_sock_connect((struct sockaddr *)&sun, sizeof(sun), 0, fd);
}

int pvx_sock_connect_result(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	if (err != 0)
		return -err;
	/* No error yet is not connected yet: ask for the peer. */
	len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return errno == ENOTCONN ? -EINPROGRESS : -errno;
	return 0;
}

int pvx_sock_peer(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
		if (len)
			buf[0] = '\0';
		return -errno;
	}
	pvx_sockaddr_format((struct sockaddr *)&ss, sl, buf, len);
	return 0;
}

static int mkdir_one(const char *p, mode_t mode)
{
	struct stat st;

	if (mkdir(p, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (stat(p, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int pvx_mkdir_p(const char *path, mode_t mode)
{
	char *p = strdup(path);
	int r = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s && r == 0; s++) {
		if (*s != '/' || s[-1] == '/')
			continue;
		*s = '\0';
		r = mkdir_one(p, mode);
		*s = '/';
	}
	if (r == 0 && p[0] && strcmp(p, "/") != 0 && p[strlen(p) - 1] != '/')
		r = mkdir_one(p, mode);
	free(p);
	return r;
}

int pvx_mkdir_parents(const char *path, mode_t mode)
{
	char *p = strdup(path), *s;
	int r = 0;

	if (!p)
		return -ENOMEM;
	s = strrchr(p, '/');
	if (s && s != p) {
		*s = '\0';
		r = pvx_mkdir_p(p, mode);
	}
	free(p);
	return r;
}

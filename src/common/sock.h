/* Socket set-ups shared by both planes, in the spirit of Redis' anet.c:
 * TCP and Unix listeners (one stale-socket policy), non-blocking
 * connects, mkdir -p, a peer's address. No logging: each call returns an
 * fd or 0 / -errno and names what failed in a caller's pvx_sock_err, so
 * every caller can say "bind /run/x.sock: ..." its own way
 * (docs/ARCHITECTURE.md, "Shared helpers"). */
#ifndef PVX_SOCK_H
#define PVX_SOCK_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "common/addr.h"

/* What failed, for the caller's message. Both are static strings. */
struct pvx_sock_err {
	const char *step; /* the failing call: "socket", "bind",
			     "setsockopt SO_REUSEADDR", "listen", … */
	const char *why;  /* a reason strerror would not give, or NULL */
};

/* e->why when set, strerror(-r) otherwise. */
const char *pvx_sock_strerror(const struct pvx_sock_err *e, int r);

/* Flags of the listen and connect calls. */
#define PVX_SOCK_NODELAY 0x1 /* TCP_NODELAY (accepted sockets inherit it) */

/* A TCP listener on hp: non-blocking, close-on-exec, SO_REUSEADDR, and
 * IPV6_V6ONLY for IPv6 (so [::]:P and 0.0.0.0:P can coexist). backlog <= 0
 * is SOMAXCONN. Returns the fd or -errno (e may be NULL). */
int pvx_sock_listen_tcp(const struct pvx_hostport *hp, int backlog,
			unsigned flags, struct pvx_sock_err *e);

/* A Unix stream listener, non-blocking and close-on-exec, at name inside
 * the directory dir: dir is an fd and name a bare name (no '/'), and the
 * socket is bound there without resolving any path string again; or dir
 * is AT_FDCWD and name a path.
 *
 * The stale-socket policy, the same everywhere: nothing at the name is
 * fine; a socket file nobody accepts on any more (left by a crash) is
 * removed; a socket a live server answers on is never touched
 * (-EADDRINUSE); anything else, a symlink included, is left alone and
 * refused (-EEXIST). The probe reaches the file through an O_PATH fd
 * opened without following a symlink, so it connects to that very
 * socket and nothing a link could name.
 *
 * The file is created with exactly mode (the umask does not apply, and
 * no chmod by path follows). backlog <= 0 is SOMAXCONN. When st is not
 * NULL it gets the created file's stat (its dev/ino identify it when the
 * time comes to remove it). Returns the fd or -errno; nothing is left
 * behind on failure. */
int pvx_sock_listen_unix(int dir, const char *name, mode_t mode, int backlog,
			 struct stat *st, struct pvx_sock_err *e);

/* A non-blocking stream socket of sa's family, connecting to sa. Returns 0
 * (connected) or -EINPROGRESS (in flight: wait for writable, then
 * pvx_sock_connect_result) with the fd in *fd, or another -errno with *fd
 * -1 (a Unix socket whose backlog is full says -EAGAIN). */
int pvx_sock_connect(const struct sockaddr *sa, socklen_t len, unsigned flags,
		     int *fd);
/* The same to a TCP address. */
int pvx_sock_connect_tcp(const struct pvx_hostport *hp, unsigned flags,
			 int *fd);
/* The same to a Unix socket path (-ENAMETOOLONG if it does not fit). */
int pvx_sock_connect_unix(const char *path, int *fd);
/* Whether a connect in flight is done: 0 connected, -EINPROGRESS not yet,
 * another -errno failed. */
int pvx_sock_connect_result(int fd);

/* The peer of a connected socket as pvx_sockaddr_format writes it
 * ("1.2.3.4:80", "[::1]:80", "unix"). Returns 0 or -errno. */
int pvx_sock_peer(int fd, char *buf, size_t len);

/* mkdir -p path with mode for the directories it creates; symlinks to
 * directories on the way are followed, as mkdir(1) does (host paths
 * only: container paths go through common/inroot). An existing
 * non-directory is -ENOTDIR. Returns 0 or -errno. */
int pvx_mkdir_p(const char *path, mode_t mode);
/* mkdir -p of the directory holding path's last component. */
int pvx_mkdir_parents(const char *path, mode_t mode);

#endif

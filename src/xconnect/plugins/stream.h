/* The part of the stream plugins (tcp, unix) that does not depend on the
 * kind of listening socket: accepting with an fd reserve and a pause when
 * out of fds, the per-link connection limit, relay sessions, stats, moving
 * the listener on update and draining on stop. A plugin only says how its
 * listener is bound, and in which kind of namespace of the consumer. */
#ifndef PVX_STREAM_H
#define PVX_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/ns.h"
#include "xconnect/link.h"

/* One listening socket and where it lives. */
struct pvx_stream_listener {
	int fd;
	/* The consumer's namespace it was bound in, kept open so that
	 * unbind can go back there even after the consumer died; -1 when
	 * that is pv-xconnect's own namespace. */
	int nsfd;
	/* The identity of that namespace (ours too), set before bind: a new
	 * consumer_pid in the same namespace does not move the listener. */
	struct pvx_ns_id ns;
	/* Set by a bind that creates a file (unix): the file's identity, so
	 * that unbind removes that file and never one that replaced it. */
	dev_t dev;
	ino_t ino;
	/* Set by a bind that works from outside (unix): an O_PATH fd of
	 * the directory holding the file, for unbind; -1 otherwise. */
	int dirfd;
};

struct pvx_stream_ops {
	/* Which namespace of consumer_pid the listener belongs to: bind
	 * runs inside it, and a new consumer_pid in another one moves it. */
	enum pvx_ns_kind ns;
	/* bind and unbind run in pv-xconnect's own namespaces and reach
	 * into the consumer themselves (unix: through its root, confined by
	 * common/inroot.h; entering its mount namespace would resolve our
	 * own /proc paths in the container's /proc). */
	bool outside;
	/* Accepted sockets inherit TCP_NODELAY from the listener. */
	bool nodelay;
	/* Runs inside the namespace: creates, binds and listens on a
	 * non-blocking socket (l->fd). On failure returns -errno, leaves
	 * nothing open, names the failed call in *step and, when strerror
	 * would not say it, the reason in *why. */
	int (*bind)(const struct pvx_link_conf *c,
		    struct pvx_stream_listener *l, const char **step,
		    const char **why);
	/* Optional; runs inside the namespace after l->fd was closed:
	 * removes what bind left behind (the socket file). */
	void (*unbind)(const struct pvx_link_conf *c,
		       struct pvx_stream_listener *l);
};

/* The plugin functions (link.h), ops saying how to bind. */
int pvx_stream_start(struct pvx_link *link, const struct pvx_stream_ops *ops,
		     char *err, size_t errlen);
/* A new consumer_pid whose namespace differs from the listener's moves
 * the listener there (the old one stays if the new one cannot be
 * bound); anything else needs nothing: the backend is read at accept. */
void pvx_stream_update(struct pvx_link *link);
void pvx_stream_stop(struct pvx_link *link);

#endif

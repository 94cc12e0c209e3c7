/* The tcp plugin (SPEC §8): one TCP listening socket per link on target
 * (IP:PORT), in the host network namespace or inside the consumer's; the
 * rest (accepting, sessions, drain) is the stream listener's (stream.h). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xconnect/link.h"
#include "xconnect/plugins/stream.h"

/* Runs inside the consumer's network namespace when there is one: the
 * socket belongs to the namespace it was created in. */
static int tcp_bind(const struct pvx_link_conf *c,
		    struct pvx_stream_listener *l, const char **step,
		    const char **why)
{
	const struct pvx_hostport *hp = &c->listen;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, r;

	(void)why;
	fd = socket(hp->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*step = "socket";
		return -errno;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		*step = "setsockopt SO_REUSEADDR";
		goto fail;
	}
	/* Accepted sockets inherit it: one setsockopt per link, not one
	 * per connection. A relay adds latency to small writes otherwise. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		*step = "setsockopt TCP_NODELAY";
		goto fail;
	}
	/* [::]:P must not take IPv4 P too: links on 0.0.0.0:P can coexist. */
	if (hp->family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
		*step = "setsockopt IPV6_V6ONLY";
		goto fail;
	}
	sl = pvx_hostport_to_sockaddr(hp, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		*step = "bind";
		goto fail;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		*step = "listen";
		goto fail;
	}
	l->fd = fd;
	return 0;
fail:
	r = -errno;
	close(fd);
	return r;
}

static const struct pvx_stream_ops tcp_ops = {
    .ns = PVX_NS_NET,
    .nodelay = true,
    .bind = tcp_bind,
};

static int tcp_start(struct pvx_link *link, char *err, size_t errlen)
{
	return pvx_stream_start(link, &tcp_ops, err, errlen);
}

const struct pvx_plugin pvx_plugin_tcp = {
    .type = "tcp",
    .start = tcp_start,
    .update = pvx_stream_update,
    .stop = pvx_stream_stop,
};

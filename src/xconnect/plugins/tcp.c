/* The tcp plugin (SPEC §8): one TCP listening socket per link on target
 * (IP:PORT), in the host network namespace or inside the consumer's; the
 * rest (accepting, sessions, drain) is the stream listener's (stream.h). */
#include "common/sock.h"
#include "xconnect/link.h"
#include "xconnect/plugins/stream.h"

/* Runs inside the consumer's network namespace when there is one: the
 * socket belongs to the namespace it was created in. TCP_NODELAY is set
 * on the listener, so accepted sockets inherit it: a relay adds latency
 * to small writes otherwise. */
static int tcp_bind(const struct pvx_link_conf *c,
		    struct pvx_stream_listener *l, const char **step,
		    const char **why)
{
	struct pvx_sock_err e = {0};
	int fd;

	fd = pvx_sock_listen_tcp(&c->listen, 0, PVX_SOCK_NODELAY, &e);
	if (fd < 0) {
		*step = e.step;
		*why = e.why;
		return fd;
	}
	l->fd = fd;
	return 0;
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

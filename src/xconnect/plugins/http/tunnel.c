/* After a 101 Switching Protocols the connection is a byte tunnel: once
 * the 101 head and the request are written, both sockets (and any bytes
 * read already either way) go to the relay core (xconnect/relay.h), which
 * gives tunnels splice, half-close, the idle timer and the byte counts of
 * tcp links (docs/xconnect.md, "Upgrade"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "xconnect/plugins/http/http.h"

/* What a tunnel session needs when it closes: its listener still counts
 * the client (max_conns) and its route stays until then. */
struct http_tunnel {
	struct http_listener *l;
	struct http_route *r;
};

static void tunnel_closed(void *arg, struct pvx_session *s)
{
	struct http_tunnel *t = arg;
	const struct sockaddr *sa;
	socklen_t len;

	sa = pvx_session_peer(s, &len);
	pvx_acceptor_release(&t->l->acc, sa, len);
	t->l->ntunnels--;
	http_listener_maybe_free(t->l);
	http_route_unref(t->r);
	free(t);
}

/* The fd of bev, which keeps its buffers but no longer owns the fd. */
static int take_fd(struct bufferevent *bev)
{
	int fd = bufferevent_getfd(bev);

	bufferevent_setfd(bev, -1);
	return fd;
}

/* Hands both sockets to the relay core; c is freed. */
static void handoff(struct http_conn *c)
{
	struct evbuffer *cin = bufferevent_get_input(c->cb);
	struct evbuffer *bin = bufferevent_get_input(c->bb);
	struct http_route *r = c->route;
	struct pvx_link *link = r->link;
	struct http_tunnel *t = calloc(1, sizeof(*t));
	struct pvx_session_params p = {
	    .base = c->l->base,
	    .link_name =
		link->conf.ingress ? link->conf.ingress : link->conf.name,
	    .link_type = "http",
	    .stats = &link->stats,
	    .limits = http_conn_limits(c),
	    .list = &r->tunnels,
	    .on_close = tunnel_closed,
	    .arg = t,
	};
	struct pvx_preload pre = {
	    .to_backend_len = evbuffer_get_length(cin),
	    .to_client_len = evbuffer_get_length(bin),
	};
	int cfd, bfd;

	if (!t) {
		http_conn_error(c, 500, "out of memory");
		return;
	}
	pre.to_backend = evbuffer_pullup(cin, -1);
	pre.to_client = evbuffer_pullup(bin, -1);
	http_access_end(c, 101, "upgraded");
	cfd = take_fd(c->cb);
	bfd = take_fd(c->bb);
	t->l = c->l;
	t->r = r;
	if (!pvx_session_adopt(&p, cfd, bfd, (struct sockaddr *)&c->peer,
			       c->peerlen, &c->be, &pre)) {
		pvx_warn("http %s client=%s: tunnel not started: %s",
			 c->l->name, c->client, strerror(errno));
		free(t);
		c->client_gone = true; /* its socket went with the attempt */
		http_conn_close(c, "tunnel not started");
		return;
	}
	/* The tunnel holds the route and the listener's count of the
	 * client now. */
	r->inflight++;
	c->l->ntunnels++;
	c->handed = true;
	http_conn_close(c, "upgraded");
}

void http_upgrade_try(struct http_conn *c)
{
	if (evbuffer_get_length(bufferevent_get_output(c->cb)) > 0 ||
	    evbuffer_get_length(bufferevent_get_output(c->bb)) > 0)
		return; /* the write callbacks come back here */
	handoff(c);
}

void http_upgrade_start(struct http_conn *c)
{
	c->state = C_UPGRADING;
	bufferevent_disable(c->cb, EV_READ);
	bufferevent_disable(c->bb, EV_READ);
	http_upgrade_try(c);
}

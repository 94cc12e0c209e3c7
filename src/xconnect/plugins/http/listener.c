/* The http plugin's listeners (one per address, port and network
 * namespace, shared by the http links on it; each link a route), the
 * callbacks of the accept layer and the plugin's start/update/stop
 * (docs/xconnect.md). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/ns.h"
#include "common/sock.h"
#include "xconnect/health.h"
#include "xconnect/plugins/http/http.h"

static LIST_HEAD(, http_listener) listeners = LIST_HEAD_INITIALIZER(listeners);

/* --- listeners --------------------------------------------------------- */

struct bind_req {
	const struct pvx_hostport *hp;
	int fd;
	struct pvx_sock_err e;
};

/* Runs inside the consumer's network namespace: the socket stays there. */
static int bind_listener(void *arg)
{
	struct bind_req *req = arg;

	req->fd = pvx_sock_listen_tcp(req->hp, 0, 0, &req->e);
	return req->fd < 0 ? req->fd : 0;
}

void http_listener_maybe_free(struct http_listener *l)
{
	if (!LIST_EMPTY(&l->routes) || !LIST_EMPTY(&l->conns) || l->busy ||
	    l->ntunnels > 0)
		return;
	LIST_REMOVE(l, le);
	pvx_acceptor_clear(&l->acc);
	if (l->lfd >= 0)
		close(l->lfd);
	pvx_bepool_free(l->pool);
	free(l);
}

/* Stops accepting once no route is left; idle connections go at once,
 * busy ones after their answer. */
static void listener_unroute(struct http_listener *l)
{
	struct http_conn *c, *next;

	if (!LIST_EMPTY(&l->routes))
		return;
	pvx_acceptor_stop(&l->acc);
	if (l->lfd >= 0) {
		close(l->lfd);
		l->lfd = -1;
	}
	l->busy = true; /* keeps l while its connections are closed */
	for (c = LIST_FIRST(&l->conns); c; c = next) {
		next = LIST_NEXT(c, le);
		if (http_conn_idle(c))
			http_conn_close(c, "listener closed");
	}
	l->busy = false;
	http_listener_maybe_free(l);
}

/* A connection not routed yet concerns every link of its listener. */
void http_count_on_routes(struct http_listener *l, size_t field)
{
	struct http_route *r;

	LIST_FOREACH(r, &l->routes, le)
	(*(uint64_t *)(void *)((char *)&r->link->stats + field))++;
}

/* --- the accept layer's callbacks (xconnect/accept.h) ------------------- */

/* The command line's limits: the listener is shared by routes that may
 * each have their own max_conns, checked when a request is routed. */
static struct pvx_limits acc_limits(void *arg)
{
	(void)arg;
	return pvx_limits;
}

static void acc_count(void *arg, enum pvx_accept_event ev)
{
	struct http_listener *l = arg;

	switch (ev) {
	case PVX_ACCEPT_REFUSED_MAX:
		COUNT_ON_ROUTES(l, refused_max_conns);
		break;
	case PVX_ACCEPT_REFUSED_CLIENT:
		COUNT_ON_ROUTES(l, refused_per_client);
		break;
	case PVX_ACCEPT_SHED:
		COUNT_ON_ROUTES(l, failed);
		break;
	case PVX_ACCEPT_OK:
	case PVX_ACCEPT_DENIED: /* the allowlist is per route: 403 */
		break;
	}
}

/* An admitted client becomes a connection of the listener, waiting for
 * its first request head. */
static int acc_take(void *arg, int fd, const struct sockaddr *sa, socklen_t len)
{
	struct http_listener *l = arg;
	struct http_conn *c = calloc(1, sizeof(*c));
	struct timeval tv = http_ms_tv(pvx_limits.idle_timeout_ms);
	struct pvx_addr_key k;

	if (c) {
		c->cb =
		    bufferevent_socket_new(l->base, fd, BEV_OPT_CLOSE_ON_FREE);
		c->head_ev = evtimer_new(l->base, http_on_head_deadline, c);
	}
	if (!c || !c->cb || !c->head_ev) {
		if (c && c->cb)
			bufferevent_free(c->cb);
		else
			close(fd);
		if (c && c->head_ev)
			event_free(c->head_ev);
		free(c);
		return -ENOMEM;
	}
	c->l = l;
	c->bfd = -1;
	LIST_INSERT_HEAD(&l->conns, c, le);
	if (len <= sizeof(c->peer)) {
		memcpy(&c->peer, sa, len);
		c->peerlen = len;
	}
	pvx_sockaddr_format(sa, len, c->client, sizeof(c->client));
	if (pvx_addr_key_of(sa, len, &k) == 0)
		pvx_addr_key_format(&k, c->client_ip, sizeof(c->client_ip));
	else
		snprintf(c->client_ip, sizeof(c->client_ip), "unknown");
	bufferevent_setcb(c->cb, http_client_read_cb, http_client_write_cb,
			  http_client_event_cb, c);
	/* Room for a whole head, whatever --buf-size says. */
	bufferevent_setwatermark(c->cb, EV_READ, 0,
				 http_room(PVX_HTTP1_MAX_HEAD + 4));
	bufferevent_set_timeouts(c->cb, &tv, &tv);
	bufferevent_enable(c->cb, EV_READ | EV_WRITE);
	http_head_clock_start(c, true);
	return 0;
}

/* Out of fds: idle backend connections hold fds too. */
static void acc_exhausted(void *arg)
{
	struct http_listener *l = arg;

	pvx_bepool_flush(l->pool, NULL);
}

static const struct pvx_accept_ops acc_ops = {
    .limits = acc_limits,
    .count = acc_count,
    .take = acc_take,
    .exhausted = acc_exhausted,
};

static void bind_error(const struct pvx_link_conf *conf,
		       const struct bind_req *req, int r, char *err,
		       size_t errlen)
{
	const char *why = pvx_sock_strerror(&req->e, r);

	if (conf->consumer_pid > 0)
		snprintf(err, errlen, "%s %s in netns of pid %d: %s",
			 req->e.step ? req->e.step : "enter netns",
			 conf->target, (int)conf->consumer_pid, why);
	else
		snprintf(err, errlen, "%s %s: %s",
			 req->e.step ? req->e.step : "socket", conf->target,
			 why);
}

/* The listener of conf's address in its consumer's network namespace:
 * shared with the links there already, else bound. Namespaces are
 * compared by identity: another pid in the same namespace shares it. */
static struct http_listener *listener_get(struct event_base *base,
					  const struct pvx_link_conf *conf,
					  char *err, size_t errlen)
{
	struct bind_req req = {.hp = &conf->listen, .fd = -1};
	struct http_listener *l;
	struct pvx_ns_id ns;
	char name[PVX_ADDRSTRLEN + 8];
	int r;

	r = pvx_ns_id_of(conf->consumer_pid, PVX_NS_NET, &ns);
	if (r < 0) {
		bind_error(conf, &req, r, err, errlen);
		return NULL;
	}
	LIST_FOREACH(l, &listeners, le)
	if (l->base == base && pvx_ns_id_equal(&l->ns, &ns) && l->lfd >= 0 &&
	    pvx_hostport_equal(&l->hp, &conf->listen))
		return l;
	r = pvx_ns_run(conf->consumer_pid, PVX_NS_NET, bind_listener, &req);
	if (r < 0) {
		bind_error(conf, &req, r, err, errlen);
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (l) {
		/* A listener's backend connections at once are at most its
		 * clients: so are its idle ones. */
		struct pvx_bepool_limits pl = {
		    .per_backend = pvx_limits.http_pool_size,
		    .total = pvx_limits.max_conns,
		    .idle_ms = pvx_limits.http_pool_idle_ms,
		};

		l->pool = pvx_bepool_new(base, &pl);
	}
	if (!l || !l->pool) {
		free(l);
		close(req.fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->base = base;
	l->hp = conf->listen;
	l->ns = ns;
	l->lfd = req.fd;
	LIST_INIT(&l->routes);
	LIST_INIT(&l->conns);
	pvx_hostport_format(&l->hp, l->name, sizeof(l->name));
	snprintf(name, sizeof(name), "http %s", l->name);
	LIST_INSERT_HEAD(&listeners, l, le);
	if (pvx_acceptor_start(&l->acc, base, l->lfd, name, &acc_ops, l) < 0) {
		http_listener_maybe_free(l);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return l;
}

/* The request of c uses route r until http_route_release. */
void http_route_take(struct http_conn *c, struct http_route *r)
{
	c->route = r;
	LIST_INSERT_HEAD(&r->conns, c, rle);
	r->inflight++;
	r->link->stats.active++;
}

/* One use of r (a request or a tunnel) ended: a stopped route goes with
 * its last one. */
void http_route_unref(struct http_route *r)
{
	struct pvx_link *link = r->link;

	r->inflight--;
	if (!r->stopping || r->inflight > 0 || r->draining)
		return;
	if (r->drain_ev)
		event_free(r->drain_ev);
	free(r);
	link->priv = NULL;
	pvx_link_free(link);
}

void http_route_release(struct http_conn *c)
{
	struct http_route *r = c->route;

	if (!r)
		return;
	c->route = NULL;
	LIST_REMOVE(c, rle);
	r->link->stats.active--;
	http_route_unref(r);
}

/* --- plugin -------------------------------------------------------------- */

static int route_attach(struct http_route *r, struct pvx_link *link, char *err,
			size_t errlen)
{
	struct http_listener *l;
	struct http_route *o;

	l = listener_get(link->base, &link->conf, err, errlen);
	if (!l)
		return -EADDRINUSE;
	LIST_FOREACH(o, &l->routes, le)
	if (o->plen == r->plen && strcmp(o->prefix, r->prefix) == 0) {
		snprintf(err, errlen, "%s: prefix '%s' already routed to %s",
			 link->conf.target, r->prefix, o->link->conf.name);
		listener_unroute(l);
		return -EEXIST;
	}
	r->l = l;
	LIST_INSERT_HEAD(&l->routes, r, le);
	return 0;
}

static void route_detach(struct http_route *r)
{
	struct http_listener *l = r->l;

	if (!l)
		return;
	LIST_REMOVE(r, le);
	r->l = NULL;
	listener_unroute(l);
}

static int http_start(struct pvx_link *link, char *err, size_t errlen)
{
	struct http_route *r;
	struct pvx_hostport hp;
	int ret;

	signal(SIGPIPE, SIG_IGN);
	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->link = link;
	LIST_INIT(&r->conns);
	LIST_INIT(&r->tunnels);
	ret = pvx_hostport_parse_http(link->conf.target, &hp, r->prefix,
				      sizeof(r->prefix), err, errlen);
	if (ret == 0) {
		r->plen = strlen(r->prefix);
		ret = route_attach(r, link, err, errlen);
	}
	if (ret < 0) {
		free(r);
		return ret;
	}
	r->probe = pvx_probe_new(link);
	pvx_backend_from_conf(&r->be, &link->conf);
	link->priv = r;
	return 0;
}

/* The backend is read from link->conf at each request (the idle
 * connections kept for an old one are closed); a new consumer_pid moves
 * the route to a listener in that process's network namespace. */
static void http_update(struct pvx_link *link)
{
	struct http_route *r = link->priv;
	struct http_listener *old;
	struct pvx_backend be;
	struct pvx_ns_id ns;
	char err[256];

	if (!r || !r->l)
		return;
	pvx_backend_from_conf(&be, &link->conf);
	if (!pvx_backend_same(&be, &r->be))
		pvx_bepool_flush(r->l->pool, &r->be);
	r->be = be;
	/* Another pid in the same namespace: the listener is right. */
	if (pvx_ns_id_of(link->conf.consumer_pid, PVX_NS_NET, &ns) == 0 &&
	    pvx_ns_id_equal(&ns, &r->l->ns))
		return;
	pvx_bepool_flush(r->l->pool, &r->be);
	old = r->l;
	LIST_REMOVE(r, le);
	r->l = NULL;
	if (route_attach(r, link, err, sizeof(err)) < 0) {
		pvx_warn("link=%s: keeping the old listener: %s",
			 link->conf.name, err);
		r->l = old;
		LIST_INSERT_HEAD(&old->routes, r, le);
		return;
	}
	listener_unroute(old);
}

static void on_drain_end(evutil_socket_t fd, short what, void *arg)
{
	struct http_route *r = arg;
	struct pvx_session *s;
	struct http_conn *c;

	(void)fd;
	(void)what;
	/* Each close releases the route; the last use frees it, after. */
	r->draining = true;
	while ((c = LIST_FIRST(&r->conns)))
		http_conn_close(c, "link removed, drain period over");
	while ((s = LIST_FIRST(&r->tunnels)))
		pvx_session_close(s, "link removed, drain period over");
	r->draining = false;
	r->inflight++;
	http_route_unref(r);
}

static void http_stop(struct pvx_link *link)
{
	struct http_route *r = link->priv;
	struct timeval tv;
	int ms;

	if (!r) {
		pvx_link_free(link);
		return;
	}
	if (r->l) /* its kept backend connections serve nobody now */
		pvx_bepool_flush(r->l->pool, &r->be);
	route_detach(r);
	pvx_probe_free(r->probe);
	r->probe = NULL;
	r->stopping = true;
	if (r->inflight == 0) {
		free(r);
		link->priv = NULL;
		pvx_link_free(link);
		return;
	}
	r->drain_ev = evtimer_new(link->base, on_drain_end, r);
	ms = pvx_limits.drain_ms >= 0 ? pvx_limits.drain_ms : 0;
	tv = pvx_ms_tv((uint64_t)ms);
	if (!r->drain_ev || evtimer_add(r->drain_ev, &tv) < 0)
		on_drain_end(-1, 0, r);
}

const struct pvx_plugin pvx_plugin_http = {
    .type = "http",
    .start = http_start,
    .update = http_update,
    .stop = http_stop,
};

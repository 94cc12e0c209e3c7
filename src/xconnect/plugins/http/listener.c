/* The http plugin's listeners (one per address, port and network
 * namespace, shared by the http links on it; each link a route), the
 * accept loop and the plugin's start/update/stop (docs/xconnect.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/ns.h"
#include "xconnect/health.h"
#include "xconnect/plugins/http/http.h"

struct http_conn_list http_conns = LIST_HEAD_INITIALIZER(http_conns);
static LIST_HEAD(, http_listener) listeners = LIST_HEAD_INITIALIZER(listeners);

/* --- listeners --------------------------------------------------------- */

struct bind_req {
	const struct pvx_hostport *hp;
	int fd;
	const char *step;
};

static int bind_listener(void *arg)
{
	struct bind_req *req = arg;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, r;

	fd = socket(req->hp->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		req->step = "socket";
		return -errno;
	}
	req->step = "setsockopt";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	/* [::]:P must not take IPv4 P too (as in the tcp plugin). */
	if (req->hp->family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	sl = pvx_hostport_to_sockaddr(req->hp, &ss);
	req->step = "bind";
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	req->step = "listen";
	if (listen(fd, SOMAXCONN) < 0)
		goto fail;
	req->fd = fd;
	return 0;
fail:
	r = -errno;
	close(fd);
	return r;
}

void http_listener_maybe_free(struct http_listener *l)
{
	if (!LIST_EMPTY(&l->routes) || l->nconns > 0)
		return;
	LIST_REMOVE(l, le);
	if (l->accept_ev)
		event_free(l->accept_ev);
	if (l->pause_ev)
		event_free(l->pause_ev);
	if (l->lfd >= 0)
		close(l->lfd);
	pvx_addrcount_clear(&l->clients);
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
	if (l->accept_ev) {
		event_free(l->accept_ev);
		l->accept_ev = NULL;
	}
	if (l->pause_ev) {
		event_free(l->pause_ev);
		l->pause_ev = NULL;
	}
	if (l->lfd >= 0) {
		close(l->lfd);
		l->lfd = -1;
	}
	l->nconns++; /* keeps l while its connections are closed */
	for (c = LIST_FIRST(&http_conns); c; c = next) {
		next = LIST_NEXT(c, le);
		if (c->l == l && c->state == C_HEAD)
			http_conn_free(c);
	}
	l->nconns--;
	http_listener_maybe_free(l);
}

static void format_peer(const struct sockaddr_storage *ss, char *ip,
			size_t iplen, char *both, size_t bothlen)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, (socklen_t)iplen);
		snprintf(both, bothlen, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, (socklen_t)iplen);
		snprintf(both, bothlen, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		snprintf(ip, iplen, "unknown");
		snprintf(both, bothlen, "unknown");
	}
}

/* A connection not routed yet concerns every link of its listener. */
void http_count_on_routes(struct http_listener *l, size_t field)
{
	struct http_route *r;

	LIST_FOREACH(r, &l->routes, le)
	(*(uint64_t *)(void *)((char *)&r->link->stats + field))++;
}
#define COUNT_ON_ROUTES(l, f)                                                  \
	http_count_on_routes(l, offsetof(struct pvx_link_stats, f))

/* Whether an accepted connection may stay: under --max-conns on the
 * listener and under --max-conns-per-client for its address (then
 * counted under *k, *counted set). A refusal is counted and logged at
 * most once a second. */
static bool conn_admit(struct http_listener *l,
		       const struct sockaddr_storage *ss, socklen_t sl,
		       struct pvx_addr_key *k, bool *counted)
{
	char ip[PVX_ADDRSTRLEN];
	unsigned suppressed;
	int r;

	*counted = false;
	if (l->nconns >= pvx_limits.max_conns) {
		COUNT_ON_ROUTES(l, refused_max_conns);
		if (pvx_ratelimit_ok(&l->warn_full, &suppressed))
			pvx_warn("http %s: %u connections, the limit: closing "
				 "new ones suppressed=%u",
				 l->name, l->nconns, suppressed);
		return false;
	}
	if (pvx_limits.max_conns_per_client == 0 ||
	    pvx_addr_key_of((const struct sockaddr *)ss, sl, k) < 0)
		return true;
	r = pvx_addrcount_take(&l->clients, k, pvx_limits.max_conns_per_client);
	if (r > 0) {
		*counted = true;
		return true;
	}
	if (r != -EUSERS)
		return false; /* out of memory: so would the connection be */
	COUNT_ON_ROUTES(l, refused_per_client);
	if (pvx_ratelimit_ok(&l->warn_client, &suppressed)) {
		pvx_addr_key_format(k, ip, sizeof(ip));
		pvx_warn("http %s: client %s has %u connections, the "
			 "per-client limit: closing new ones suppressed=%u",
			 l->name, ip, pvx_limits.max_conns_per_client,
			 suppressed);
	}
	return false;
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct http_listener *l = arg;
	struct sockaddr_storage ss;
	struct pvx_addr_key key;
	bool counted;
	socklen_t sl;
	struct http_conn *c;
	struct timeval tv;
	int fd;

	(void)what;
	for (int n = 0; n < 64; n++) {
		sl = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* The listener stays readable: pause
				 * instead of spinning on it. */
				struct timeval ptv =
				    http_ms_tv(ACCEPT_PAUSE_MS);

				pvx_warn("http accept %s: %s; pausing accepts "
					 "for %d ms",
					 l->name, strerror(errno),
					 ACCEPT_PAUSE_MS);
				/* Idle backend connections hold fds too. */
				pvx_bepool_flush(l->pool, NULL);
				event_del(l->accept_ev);
				evtimer_add(l->pause_ev, &ptv);
				return;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				pvx_warn("http accept %s: %s", l->name,
					 strerror(errno));
			return;
		}
		if (!conn_admit(l, &ss, sl, &key, &counted)) {
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c) {
			c->cb = bufferevent_socket_new(l->base, fd,
						       BEV_OPT_CLOSE_ON_FREE);
			c->head_ev =
			    evtimer_new(l->base, http_on_head_deadline, c);
		}
		if (!c || !c->cb || !c->head_ev) {
			if (c && c->cb)
				bufferevent_free(c->cb);
			else
				close(fd);
			if (c && c->head_ev)
				event_free(c->head_ev);
			free(c);
			if (counted)
				pvx_addrcount_put(&l->clients, &key);
			continue;
		}
		c->l = l;
		c->bfd = -1;
		c->key = key;
		c->counted = counted;
		l->nconns++;
		LIST_INSERT_HEAD(&http_conns, c, le);
		format_peer(&ss, c->client_ip, sizeof(c->client_ip), c->client,
			    sizeof(c->client));
		c->peer = ss;
		c->peerlen = sl;
		bufferevent_setcb(c->cb, http_client_read_cb,
				  http_client_write_cb, http_client_event_cb,
				  c);
		/* Room for a whole head, whatever --buf-size says. */
		bufferevent_setwatermark(c->cb, EV_READ, 0,
					 http_room(PVX_HTTP1_MAX_HEAD + 4));
		tv.tv_sec = pvx_limits.idle_timeout_ms / 1000;
		tv.tv_usec = (pvx_limits.idle_timeout_ms % 1000) * 1000;
		bufferevent_set_timeouts(c->cb, &tv, &tv);
		bufferevent_enable(c->cb, EV_READ | EV_WRITE);
		http_head_clock_start(c, true);
	}
}

static void on_pause_end(evutil_socket_t fd, short what, void *arg)
{
	struct http_listener *l = arg;

	(void)fd;
	(void)what;
	if (l->accept_ev)
		event_add(l->accept_ev, NULL);
}

static struct http_listener *listener_get(struct event_base *base,
					  const struct pvx_link_conf *conf,
					  char *err, size_t errlen)
{
	struct bind_req req = {.hp = &conf->listen, .fd = -1};
	struct http_listener *l;
	int r;

	LIST_FOREACH(l, &listeners, le)
	if (l->base == base && l->pid == conf->consumer_pid && l->lfd >= 0 &&
	    pvx_hostport_equal(&l->hp, &conf->listen))
		return l;
	r = pvx_ns_run(conf->consumer_pid, PVX_NS_NET, bind_listener, &req);
	if (r < 0) {
		if (conf->consumer_pid > 0)
			snprintf(err, errlen, "%s %s in netns of pid %d: %s",
				 req.step ? req.step : "enter netns",
				 conf->target, (int)conf->consumer_pid,
				 strerror(-r));
		else
			snprintf(err, errlen, "%s %s: %s",
				 req.step ? req.step : "socket", conf->target,
				 strerror(-r));
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

		l->accept_ev =
		    event_new(base, req.fd, EV_READ | EV_PERSIST, on_accept, l);
		l->pause_ev = evtimer_new(base, on_pause_end, l);
		l->pool = pvx_bepool_new(base, &pl);
	}
	if (!l || !l->accept_ev || !l->pause_ev || !l->pool ||
	    event_add(l->accept_ev, NULL) < 0) {
		if (l && l->accept_ev)
			event_free(l->accept_ev);
		if (l && l->pause_ev)
			event_free(l->pause_ev);
		if (l)
			pvx_bepool_free(l->pool);
		free(l);
		close(req.fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->base = base;
	l->hp = conf->listen;
	l->pid = conf->consumer_pid;
	l->lfd = req.fd;
	LIST_INIT(&l->routes);
	pvx_addrcount_init(&l->clients, pvx_addrcount_seed());
	pvx_hostport_format(&l->hp, l->name, sizeof(l->name));
	LIST_INSERT_HEAD(&listeners, l, le);
	return l;
}

void http_route_release(struct http_conn *c)
{
	struct http_route *r = c->route;
	struct pvx_link *link;

	if (!r)
		return;
	c->route = NULL;
	r->inflight--;
	r->link->stats.active--;
	if (r->stopping && r->inflight == 0) {
		link = r->link;
		if (r->drain_ev)
			event_free(r->drain_ev);
		free(r);
		link->priv = NULL;
		pvx_link_free(link);
	}
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
	char err[256];

	if (!r || !r->l)
		return;
	pvx_backend_from_conf(&be, &link->conf);
	if (!pvx_backend_same(&be, &r->be))
		pvx_bepool_flush(r->l->pool, &r->be);
	r->be = be;
	if (r->l->pid == link->conf.consumer_pid)
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
	struct http_conn *c, *next;

	(void)fd;
	(void)what;
	/* Each close releases the route; the last one frees it. */
	for (c = LIST_FIRST(&http_conns); c; c = next) {
		next = LIST_NEXT(c, le);
		if (c->route == r) {
			if (r->inflight == 1) {
				http_conn_free(c);
				return;
			}
			http_conn_free(c);
		}
	}
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
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (!r->drain_ev || evtimer_add(r->drain_ev, &tv) < 0)
		on_drain_end(-1, 0, r);
}

const struct pvx_plugin pvx_plugin_http = {
    .type = "http",
    .start = http_start,
    .update = http_update,
    .stop = http_stop,
};

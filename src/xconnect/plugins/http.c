/* The http plugin (SPEC §8): one listener per address and port (and
 * network namespace) shared by all http links on it; each link is a route
 * (its target's path prefix). A client connection carries HTTP/1.1
 * requests one after the other; each is routed by the longest prefix,
 * forwarded with the prefix stripped over a new backend connection, and
 * its answer streamed back. Bodies are streamed through bounded buffers;
 * Upgrade turns the connection into a byte tunnel after a 101. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/ns.h"
#include "xconnect/access.h"
#include "xconnect/addrcount.h"
#include "xconnect/http_parse.h"
#include "xconnect/health.h"
#include "xconnect/link.h"
#include "xconnect/relay.h"

/* Limits of the protocol layer (the byte buffers follow pvx_limits). */
#define MAX_BODY ((int64_t)64 << 20) /* request body: 413 beyond */
#define MAX_RESP_HEAD 65536	     /* backend header block: 502 beyond */
#define RESP_HEAD_TIMEOUT_S 30 /* no response head by then (or idle): 504 */
#define FEED_STEP 16384	       /* bytes parsed per step */
#define ACCEPT_PAUSE_MS 100    /* out of fds: accepting pauses that long */
#define LINGER_S 2 /* reading after the last answer, before the close */

struct http_listener;

/* One http link: a route on a shared listener. link->priv. */
struct http_route {
	LIST_ENTRY(http_route) le;
	struct pvx_link *link;
	struct http_listener *l;   /* NULL once the route was removed */
	char prefix[PVX_PATH_MAX]; /* "" (everything) or "/api" */
	size_t plen;
	unsigned inflight; /* requests using the route now */
	bool stopping;	   /* stop() was called: free with the last request */
	struct event *drain_ev;
	struct pvx_probe *probe; /* health probes until stop() */
};

/* Listening socket of one (netns, address, port). */
struct http_listener {
	LIST_ENTRY(http_listener) le;
	struct event_base *base;
	struct pvx_hostport hp;
	pid_t pid; /* consumer_pid whose netns it is in (0: ours) */
	int lfd;
	struct event *accept_ev;
	struct event *pause_ev; /* accepting again after running out of fds */
	LIST_HEAD(, http_route) routes;
	unsigned nconns;
	char name[PVX_ADDRSTRLEN];
	/* Live connections per client address (--max-conns-per-client). */
	struct pvx_addrcount clients;
	struct pvx_ratelimit warn_full, warn_client;
};

enum conn_state {
	C_HEAD,	      /* reading a request head (idle between requests) */
	C_CONNECTING, /* request head read, backend connect in progress */
	C_EXCHANGE,   /* request body and response flowing */
	C_TUNNEL,     /* after 101: bytes both ways */
	C_CLOSING,    /* writing the last bytes to the client, then close */
	C_LINGER,     /* written and shut down: discarding input until EOF */
};

struct http_conn {
	LIST_ENTRY(http_conn) le;
	struct http_listener *l;
	enum conn_state state;
	struct bufferevent *cb;	  /* client */
	struct bufferevent *bb;	  /* backend, during a request */
	int bfd;		  /* backend socket while connecting */
	struct event *conn_ev;	  /* connect completion or timeout */
	struct http_route *route; /* of the current request */
	struct pvx_backend be;
	struct pvx_http req, resp;
	struct evbuffer *pending;    /* request bytes before the connect */
	char client[PVX_ADDRSTRLEN]; /* "ip:port" */
	char client_ip[INET6_ADDRSTRLEN];
	struct sockaddr_storage peer; /* the client, for allow and PROXY */
	socklen_t peerlen;
	struct event *hold_ev;		/* retry of a refused backend dial */
	struct pvx_link_stats *held_in; /* stats counting this as held */
	unsigned attempts;		/* refused dials of this request */
	struct timespec t_req;		/* request head routed */
	struct timespec t_dial;		/* current dial started */
	int64_t body_in;		/* request body bytes so far */
	bool req_chunked;	 /* re-encode the request body as chunks */
	bool resp_chunked;	 /* re-encode the response body as chunks */
	bool resp_started;	 /* bytes of the answer went to the client */
	bool close_after;	 /* no keep-alive after this answer */
	bool head_request;	 /* HEAD: the response has no body */
	bool resp_clock;	 /* the response-head timeout runs */
	bool upgrade;		 /* the request asks for Upgrade */
	struct event *idle_ev;	 /* tunnel: closes it after idle_timeout_ms */
	struct timespec last_io; /* tunnel: last byte moved either way */
	bool client_eof;	 /* tunnel: the client has finished sending */
	bool backend_shut;	 /* tunnel: that EOF was passed on */
	/* The request being served, for its access log line. */
	bool req_open;		  /* a head was read, no line written yet */
	struct timespec req_t0;	  /* when its head was complete */
	uint64_t req_in, req_out; /* bytes of it each way */
	char req_method[16];
	char req_path[256];
	struct pvx_addr_key key; /* the client's address ... */
	bool counted;		 /* ... counted in l->clients */
	/* Waiting for a request head (docs/xconnect.md, "Slow and idle
	 * clients"): one deadline from the start of the wait, never pushed
	 * back by a byte. */
	struct event *head_ev;
	uint64_t head_t0; /* ms, monotonic: the wait began */
	bool head_fresh;  /* the first request of the connection */
	bool head_bytes;  /* a byte of the awaited head arrived */
};

static LIST_HEAD(, http_listener) listeners = LIST_HEAD_INITIALIZER(listeners);
static LIST_HEAD(, http_conn) conns = LIST_HEAD_INITIALIZER(conns);

static size_t hwm(void)
{
	return pvx_limits.buf_size ? pvx_limits.buf_size : 65536;
}

/* An input high-water mark of at least min bytes. */
static size_t room(size_t min)
{
	return hwm() > min ? hwm() : min;
}

static struct timeval ms_tv(int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	return tv;
}

static void conn_free(struct http_conn *c);
static void access_end(struct http_conn *c, int status, const char *reason);
static void count_in(struct http_conn *c, size_t n);
static void count_out(struct http_conn *c, size_t n);
static void conn_error(struct http_conn *c, int status, const char *why);
static void on_head_deadline(evutil_socket_t fd, short what, void *arg);
static void client_read_cb(struct bufferevent *bev, void *arg);
static void backend_read_cb(struct bufferevent *bev, void *arg);
static void pump_request(struct http_conn *c);
static void pump_response(struct http_conn *c);

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

static void listener_maybe_free(struct http_listener *l)
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
	for (c = LIST_FIRST(&conns); c; c = next) {
		next = LIST_NEXT(c, le);
		if (c->l == l && c->state == C_HEAD)
			conn_free(c);
	}
	l->nconns--;
	listener_maybe_free(l);
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

static void client_event_cb(struct bufferevent *bev, short what, void *arg);
static void client_write_cb(struct bufferevent *bev, void *arg);

/* --- slow and idle clients (docs/xconnect.md) ---------------------------- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A connection not routed yet concerns every link of its listener. */
static void count_on_routes(struct http_listener *l, size_t field)
{
	struct http_route *r;

	LIST_FOREACH(r, &l->routes, le)
	(*(uint64_t *)(void *)((char *)&r->link->stats + field))++;
}
#define COUNT_ON_ROUTES(l, f)                                                  \
	count_on_routes(l, offsetof(struct pvx_link_stats, f))

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

/* Starts the wait for a request head: the first of a connection has the
 * first-byte deadline too when it is shorter. */
static void head_clock_start(struct http_conn *c, bool fresh)
{
	int ms = pvx_limits.header_timeout_ms;
	int fb = pvx_limits.first_byte_timeout_ms;
	struct timeval tv;

	c->head_t0 = mono_ms();
	c->head_fresh = fresh;
	c->head_bytes = false;
	if (fresh && fb > 0 && (fb < ms || ms <= 0))
		ms = fb;
	if (ms <= 0)
		return;
	tv = ms_tv(ms);
	evtimer_add(c->head_ev, &tv);
}

static void head_clock_stop(struct http_conn *c)
{
	evtimer_del(c->head_ev);
}

/* Nothing of a head: the first-byte timeout (a fresh connection) or the
 * end of a keep-alive wait, closed without an answer. Part of a head:
 * 408. */
static void on_head_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;
	uint64_t waited = mono_ms() - c->head_t0;
	int hto = pvx_limits.header_timeout_ms;
	struct timeval tv;

	(void)fd;
	(void)what;
	if (c->state != C_HEAD)
		return;
	if (evbuffer_get_length(bufferevent_get_input(c->cb)) > 0)
		c->head_bytes = true;
	if (!c->head_bytes && c->head_fresh) {
		COUNT_ON_ROUTES(c->l, timeout_first_byte);
		pvx_debug("http %s client=%s: first byte timeout", c->l->name,
			  c->client);
		conn_free(c);
		return;
	}
	if (c->head_fresh && hto > 0 && waited < (uint64_t)hto) {
		/* The first-byte deadline passed with bytes: the head
		 * deadline goes on from the accept. */
		tv = ms_tv(hto - (int)waited);
		evtimer_add(c->head_ev, &tv);
		return;
	}
	if (!c->head_bytes) {
		pvx_debug("http %s client=%s: keep-alive wait over", c->l->name,
			  c->client);
		conn_free(c);
		return;
	}
	COUNT_ON_ROUTES(c->l, timeout_header);
	conn_error(c, 408, "request head timeout");
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
				struct timeval ptv = ms_tv(ACCEPT_PAUSE_MS);

				pvx_warn("http accept %s: %s; pausing accepts "
					 "for %d ms",
					 l->name, strerror(errno),
					 ACCEPT_PAUSE_MS);
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
			c->head_ev = evtimer_new(l->base, on_head_deadline, c);
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
		LIST_INSERT_HEAD(&conns, c, le);
		format_peer(&ss, c->client_ip, sizeof(c->client_ip), c->client,
			    sizeof(c->client));
		c->peer = ss;
		c->peerlen = sl;
		bufferevent_setcb(c->cb, client_read_cb, client_write_cb,
				  client_event_cb, c);
		/* Room for a whole head, whatever --buf-size says. */
		bufferevent_setwatermark(c->cb, EV_READ, 0,
					 room(PVX_HTTP_MAX_HEAD + 4));
		tv.tv_sec = pvx_limits.idle_timeout_ms / 1000;
		tv.tv_usec = (pvx_limits.idle_timeout_ms % 1000) * 1000;
		bufferevent_set_timeouts(c->cb, &tv, &tv);
		bufferevent_enable(c->cb, EV_READ | EV_WRITE);
		head_clock_start(c, true);
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
		l->accept_ev =
		    event_new(base, req.fd, EV_READ | EV_PERSIST, on_accept, l);
		l->pause_ev = evtimer_new(base, on_pause_end, l);
	}
	if (!l || !l->accept_ev || !l->pause_ev ||
	    event_add(l->accept_ev, NULL) < 0) {
		if (l && l->accept_ev)
			event_free(l->accept_ev);
		if (l && l->pause_ev)
			event_free(l->pause_ev);
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

/* --- answers of our own -------------------------------------------------- */

static const char *status_text(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Error";
	}
}

/* --- access log and byte counts ---------------------------------------- */

static void count_in(struct http_conn *c, size_t n)
{
	c->route->link->stats.bytes_in += n;
	c->req_in += n;
}

static void count_out(struct http_conn *c, size_t n)
{
	c->route->link->stats.bytes_out += n;
	c->req_out += n;
}

/* A request head was parsed: its line starts now. */
static void access_begin(struct http_conn *c)
{
	const struct pvx_http_head *hd = &c->req.head;

	c->req_open = true;
	c->req_in = c->req_out = 0;
	clock_gettime(CLOCK_MONOTONIC, &c->req_t0);
	snprintf(c->req_method, sizeof(c->req_method), "%s", hd->method);
	snprintf(c->req_path, sizeof(c->req_path), "%.*s",
		 (int)(hd->url_len < sizeof(c->req_path)
			   ? hd->url_len
			   : sizeof(c->req_path) - 1),
		 hd->url);
}

/* The access log line of the request (or of a head that could not be
 * read: no method, path or duration then). Once per request. */
static void access_end(struct http_conn *c, int status, const char *reason)
{
	const struct pvx_link_conf *lc =
	    c->route ? &c->route->link->conf : NULL;
	char be[PVX_PATH_MAX + 32];
	struct timespec now;
	bool had = c->req_open;
	struct pvx_access_rec r = {
	    .type = "http",
	    .client = c->client,
	    .status = status,
	    .reason = reason,
	};

	c->req_open = false;
	if (!pvx_access_enabled())
		return;
	if (lc) {
		r.link = lc->ingress ? lc->ingress : lc->name;
		pvx_backend_format(&c->be, be, sizeof(be));
		r.backend = be;
	}
	if (had) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		r.ms = (uint64_t)((now.tv_sec - c->req_t0.tv_sec) * 1000 +
				  (now.tv_nsec - c->req_t0.tv_nsec) / 1000000);
		r.method = c->req_method;
		r.path = c->req_path;
		r.bytes_in = c->req_in;
		r.bytes_out = c->req_out;
	}
	pvx_access_log(&r);
}

/* The status the client got so far (0: none yet). */
static int resp_status(const struct http_conn *c)
{
	return c->resp.head_done ? c->resp.head.status : 0;
}

static void hold_end(struct http_conn *c)
{
	if (c->hold_ev) {
		event_free(c->hold_ev);
		c->hold_ev = NULL;
	}
	if (c->held_in) {
		c->held_in->held--;
		c->held_in = NULL;
	}
}

static void backend_drop(struct http_conn *c)
{
	hold_end(c);
	if (c->conn_ev) {
		event_free(c->conn_ev);
		c->conn_ev = NULL;
	}
	if (c->bfd >= 0) {
		close(c->bfd);
		c->bfd = -1;
	}
	if (c->bb) {
		bufferevent_free(c->bb);
		c->bb = NULL;
	}
	if (c->pending) {
		evbuffer_free(c->pending);
		c->pending = NULL;
	}
}

static void route_release(struct http_conn *c)
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

static void conn_free(struct http_conn *c)
{
	struct http_listener *l = c->l;

	LIST_REMOVE(c, le);
	if (c->req_open)
		access_end(c, resp_status(c),
			   c->state == C_TUNNEL ? "tunnel closed"
						: "client closed");
	backend_drop(c);
	route_release(c);
	if (c->counted)
		pvx_addrcount_put(&l->clients, &c->key);
	if (c->head_ev)
		event_free(c->head_ev);
	if (c->idle_ev)
		event_free(c->idle_ev);
	if (c->cb)
		bufferevent_free(c->cb);
	free(c);
	l->nconns--;
	listener_maybe_free(l);
}

/* The answer is out: end our side, and read (discarding) what the client
 * still sends for a moment, so that unread bytes do not turn the close into
 * a reset that could destroy the answer before the client read it. */
static void conn_linger(struct http_conn *c)
{
	struct timeval tv = {LINGER_S, 0};

	c->state = C_LINGER;
	shutdown(bufferevent_getfd(c->cb), SHUT_WR);
	evbuffer_drain(bufferevent_get_input(c->cb),
		       evbuffer_get_length(bufferevent_get_input(c->cb)));
	bufferevent_setwatermark(c->cb, EV_READ, 0, 0);
	bufferevent_set_timeouts(c->cb, &tv, NULL);
	bufferevent_enable(c->cb, EV_READ);
}

/* Closes once what is queued for the client was written. */
static void conn_close_after_write(struct http_conn *c)
{
	struct timeval tv = {5, 0};

	if (c->req_open)
		access_end(c, resp_status(c),
			   c->state == C_TUNNEL ? "tunnel closed" : "closed");
	backend_drop(c);
	route_release(c);
	c->state = C_CLOSING;
	bufferevent_disable(c->cb, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->cb)) == 0) {
		conn_linger(c);
		return;
	}
	bufferevent_set_timeouts(c->cb, NULL, &tv);
}

/* An error answer (or a plain close once the real answer has begun). */
static void conn_error(struct http_conn *c, int status, const char *why)
{
	char body[256];
	int n;

	if (c->route && (status == 502 || status == 503 || status == 504))
		c->route->link->stats.failed++;
	pvx_debug("http %s client=%s: %d %s", c->l->name, c->client, status,
		  why);
	if (c->req_open || !c->resp_started)
		access_end(c, c->resp_started ? resp_status(c) : status, why);
	if (!c->resp_started) {
		/* why goes into a JSON string: no quote, backslash or
		 * control byte. */
		n = snprintf(body, sizeof(body), "{\"error\":\"%.200s\"}\n",
			     why);
		for (int i = 10; i < n - 3; i++)
			if (body[i] == '"' || body[i] == '\\' ||
			    (unsigned char)body[i] < 0x20)
				body[i] = '\'';
		evbuffer_add_printf(bufferevent_get_output(c->cb),
				    "HTTP/1.1 %d %s\r\nContent-Type: "
				    "application/json\r\nContent-Length: "
				    "%d\r\nConnection: close\r\n\r\n%s",
				    status, status_text(status), n, body);
		c->resp_started = true;
	}
	conn_close_after_write(c);
}

/* --- request head -------------------------------------------------------- */

static struct http_route *route_find(struct http_listener *l, const char *url,
				     size_t len)
{
	struct http_route *r, *best = NULL;

	LIST_FOREACH(r, &l->routes, le)
	{
		if (r->plen > len || strncmp(url, r->prefix, r->plen) != 0)
			continue;
		if (r->plen < len && url[r->plen] != '/' && url[r->plen] != '?')
			continue;
		if (!best || r->plen > best->plen)
			best = r;
	}
	return best;
}

/* "/." or "/.." as a path segment: could escape a prefix at the backend. */
static bool has_dot_segment(const char *url, size_t len)
{
	for (size_t i = 0; i < len && url[i] != '?'; i++) {
		size_t j = i + 1;

		if (url[i] != '/')
			continue;
		while (j < len && url[j] == '.' && j - i <= 2)
			j++;
		if (j > i + 1 && j - i <= 3 &&
		    (j == len || url[j] == '/' || url[j] == '?'))
			return true;
	}
	return false;
}

static bool hop_by_hop(const struct pvx_http_header *x,
		       const struct pvx_http_header *conn_hdr)
{
	static const char *const names[] = {
	    "connection", "keep-alive",	       "te",
	    "trailer",	  "transfer-encoding", "upgrade",
	};
	char name[64];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (x->name_len == strlen(names[i]) &&
		    strncasecmp(x->name, names[i], x->name_len) == 0)
			return true;
	if (x->name_len >= 6 && strncasecmp(x->name, "proxy-", 6) == 0)
		return true;
	/* Headers the sender listed in Connection are for this hop only. */
	if (conn_hdr && x->name_len < sizeof(name)) {
		memcpy(name, x->name, x->name_len);
		name[x->name_len] = '\0';
		if (pvx_http_list_has(conn_hdr->value, conn_hdr->value_len,
				      name))
			return true;
	}
	return false;
}

static int req_body_cb(void *arg, const char *buf, size_t len)
{
	struct http_conn *c = arg;
	struct evbuffer *out =
	    c->bb ? bufferevent_get_output(c->bb) : c->pending;

	if (len == 0) /* "0" would end a chunked body */
		return 0;
	c->body_in += (int64_t)len;
	if (c->body_in > MAX_BODY)
		return 1;
	if (c->req_chunked)
		evbuffer_add_printf(out, "%zx\r\n", len);
	evbuffer_add(out, buf, len);
	if (c->req_chunked)
		evbuffer_add(out, "\r\n", 2);
	count_in(c, len);
	return 0;
}

static void backend_event_cb(struct bufferevent *bev, short what, void *arg);
static void backend_write_cb(struct bufferevent *bev, void *arg);

/* The limits of the current request's route (the graph may set its own
 * max_conns and timeouts), else the command line's. */
static struct pvx_limits conn_limits(const struct http_conn *c)
{
	return c->route ? pvx_link_limits(&c->route->link->conf) : pvx_limits;
}

static void backend_connected(struct http_conn *c)
{
	struct timeval tv = ms_tv(conn_limits(c).idle_timeout_ms);
	int fd = c->bfd;

	c->bfd = -1;
	c->bb = bufferevent_socket_new(c->l->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bb) {
		close(fd);
		conn_error(c, 502, "out of memory");
		return;
	}
	bufferevent_setcb(c->bb, backend_read_cb, backend_write_cb,
			  backend_event_cb, c);
	bufferevent_setwatermark(c->bb, EV_READ, 0, room(MAX_RESP_HEAD));
	/* While the request is being sent, only a backend that stops
	 * taking it times out; the answer's clock starts after it. */
	bufferevent_set_timeouts(c->bb, NULL, &tv);
	bufferevent_write_buffer(c->bb, c->pending);
	evbuffer_free(c->pending);
	c->pending = NULL;
	bufferevent_enable(c->bb, EV_READ | EV_WRITE);
	c->state = C_EXCHANGE;
	pvx_http_init(&c->resp, false, NULL, NULL);
	c->resp.skip_body = c->head_request;
	pump_request(c);
}

static bool http_hold(struct http_conn *c, int err);

static uint64_t since_us(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)((now.tv_sec - t0->tv_sec) * 1000000 +
			  (now.tv_nsec - t0->tv_nsec) / 1000);
}

static void on_connect(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;
	int err = 0;
	socklen_t sl = sizeof(err);
	char be[PVX_PATH_MAX + 32];

	event_free(c->conn_ev);
	c->conn_ev = NULL;
	if (what & EV_TIMEOUT) {
		pvx_health_down(&c->route->link->stats, strerror(ETIMEDOUT));
		conn_error(c, 504, "backend connect timeout");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
		err = errno;
	if (err) {
		close(c->bfd);
		c->bfd = -1;
		if (http_hold(c, err))
			return;
		pvx_health_down(&c->route->link->stats, strerror(err));
		pvx_backend_format(&c->be, be, sizeof(be));
		pvx_warn("http link=%s backend %s: %s",
			 c->route->link->conf.name, be, strerror(err));
		conn_error(c, pvx_backend_err_retryable(err) ? 503 : 502,
			   "backend unreachable");
		return;
	}
	pvx_health_up(&c->route->link->stats, since_us(&c->t_dial));
	hold_end(c);
	backend_connected(c);
}

/* Whether the route's prefix is cut from the path (the default; a rule's
 * "strip_prefix": false keeps it). */
static bool route_strips(const struct http_route *r)
{
	return r->plen > 0 && !r->link->conf.keep_prefix;
}

/* A backend behind a stripped prefix answers Location: /sub/ for what
 * the client knows as /api/sub/: an absolute-path Location (one '/', not
 * "//host") gets the prefix back in front. Absolute URLs and relative
 * references are left as they are (docs/xconnect.md). */
static void location_prefix(struct http_conn *c,
			    const struct pvx_http_header *x, struct evbuffer *o)
{
	if (x->name_len == 8 && strncasecmp(x->name, "location", 8) == 0 &&
	    c->route && route_strips(c->route) && x->value_len >= 1 &&
	    x->value[0] == '/' && (x->value_len == 1 || x->value[1] != '/'))
		evbuffer_add(o, c->route->prefix, c->route->plen);
}

/* Builds the head for the backend in c->pending from the parsed request. */
static void build_request(struct http_conn *c, const char *url, size_t len)
{
	const struct pvx_http_head *hd = &c->req.head;
	const struct pvx_http_header *ch = pvx_http_find(hd, "connection");
	struct evbuffer *o = c->pending;
	size_t cut = route_strips(c->route) ? c->route->plen : 0;
	const char *rest = url + cut;
	size_t rlen = len - cut;
	bool xff = false;

	evbuffer_add_printf(o, "%s ", hd->method);
	if (rlen == 0 || rest[0] == '?')
		evbuffer_add(o, "/", 1);
	evbuffer_add(o, rest, rlen);
	evbuffer_add_printf(o, " HTTP/1.1\r\n");
	for (size_t i = 0; i < hd->nh; i++) {
		const struct pvx_http_header *x = &hd->h[i];

		if (hop_by_hop(x, ch))
			continue;
		if ((x->name_len == 11 &&
		     strncasecmp(x->name, "x-pv-client", 11) == 0) ||
		    (x->name_len == 9 &&
		     strncasecmp(x->name, "x-pv-role", 9) == 0))
			continue; /* ours alone: a client cannot forge them */
		if (x->name_len == 18 &&
		    strncasecmp(x->name, "x-forwarded-prefix", 18) == 0)
			continue; /* ours alone, below */
		if (x->name_len == 15 &&
		    strncasecmp(x->name, "x-forwarded-for", 15) == 0) {
			if (xff)
				continue; /* folded into the first one */
			xff = true;
			evbuffer_add_printf(o, "X-Forwarded-For: ");
			for (size_t j = i; j < hd->nh; j++)
				if (hd->h[j].name_len == 15 &&
				    strncasecmp(hd->h[j].name,
						"x-forwarded-for", 15) == 0) {
					evbuffer_add(o, hd->h[j].value,
						     hd->h[j].value_len);
					evbuffer_add(o, ", ", 2);
				}
			evbuffer_add_printf(o, "%s\r\n", c->client_ip);
			continue;
		}
		evbuffer_add(o, x->name, x->name_len);
		evbuffer_add(o, ": ", 2);
		evbuffer_add(o, x->value, x->value_len);
		evbuffer_add(o, "\r\n", 2);
	}
	if (!xff)
		evbuffer_add_printf(o, "X-Forwarded-For: %s\r\n", c->client_ip);
	/* HTTP/1.0 may come without Host; what goes out is HTTP/1.1. */
	if (!pvx_http_find(hd, "host"))
		evbuffer_add_printf(o, "Host: %s\r\n", c->l->name);
	evbuffer_add_printf(o, "X-PV-Client: %s\r\nX-PV-Role: %s\r\n",
			    c->client, c->route->link->conf.role);
	if (cut)
		evbuffer_add_printf(o, "X-Forwarded-Prefix: %s\r\n",
				    c->route->prefix);
	if (c->req_chunked)
		evbuffer_add_printf(o, "Transfer-Encoding: chunked\r\n");
	if (c->upgrade) {
		const struct pvx_http_header *u = pvx_http_find(hd, "upgrade");

		evbuffer_add_printf(o, "Connection: Upgrade\r\nUpgrade: ");
		evbuffer_add(o, u->value, u->value_len);
		evbuffer_add(o, "\r\n\r\n", 4);
	} else {
		evbuffer_add_printf(o, "Connection: close\r\n\r\n");
	}
	count_in(c, evbuffer_get_length(o));
}

/* One line per second at most for denied clients, with the number left
 * out (one limiter for the plugin: denials come in floods). */
static void log_denied(const struct pvx_link *link, const char *client)
{
	static time_t last;
	static unsigned quiet;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (last != 0 && ts.tv_sec <= last) {
		quiet++;
		return;
	}
	last = ts.tv_sec;
	pvx_warn("http link=%s target=%s: client %s not in allow: 403 "
		 "suppressed=%u",
		 link->conf.name, link->conf.target, client, quiet);
	quiet = 0;
}

/* The PROXY protocol header goes first on the backend connection: each
 * request has a connection of its own (no reuse), so the header always
 * names this request's client. A Unix backend gets LOCAL. */
static int add_proxy_header(struct http_conn *c)
{
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);
	uint8_t hdr[PVX_PP_MAX];
	int n;

	if (getsockname(bufferevent_getfd(c->cb), (struct sockaddr *)&local,
			&ll) < 0)
		ll = 0;
	n = pvx_pp_encode(c->route->link->conf.proxy_protocol,
			  c->peerlen ? (struct sockaddr *)&c->peer : NULL,
			  ll ? (struct sockaddr *)&local : NULL,
			  c->be.kind == PVX_BACKEND_UNIX, hdr, sizeof(hdr));
	if (n < 0)
		return n;
	return evbuffer_prepend(c->pending, hdr, (size_t)n) == 0 ? 0 : -ENOMEM;
}

static void http_dial(struct http_conn *c);

static void on_hold_end(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)fd;
	(void)what;
	http_dial(c);
}

/* The backend refused (err): the request is held (the client is not
 * read) and the dial retried after 25 ms doubling to 500 ms, until the
 * route's connect timeout from the request's routing. false: not
 * retryable or no time left. */
static bool http_hold(struct http_conn *c, int err)
{
	uint64_t ct = (uint64_t)conn_limits(c).connect_timeout_ms;
	uint64_t spent = since_us(&c->t_req) / 1000, wait;
	struct timeval tv;

	if (!pvx_backend_err_retryable(err) || spent >= ct)
		return false;
	pvx_health_down(&c->route->link->stats, c->be.kind == PVX_BACKEND_NONE
						    ? "no backend address yet"
						    : strerror(err));
	if (!c->hold_ev) {
		c->hold_ev = evtimer_new(c->l->base, on_hold_end, c);
		if (!c->hold_ev)
			return false;
	}
	if (!c->held_in) {
		c->held_in = &c->route->link->stats;
		c->held_in->held++;
	}
	wait = pvx_hold_backoff_ms(c->attempts++);
	if (spent + wait > ct)
		wait = ct - spent;
	tv = ms_tv((int)wait);
	evtimer_add(c->hold_ev, &tv);
	return true;
}

/* Dials the route's backend as the link says now (a graph update during
 * a hold counts). */
static void http_dial(struct http_conn *c)
{
	struct pvx_link *link = c->route->link;
	char be[PVX_PATH_MAX + 32];
	struct timeval tv;
	int ret;

	pvx_backend_from_conf(&c->be, &link->conf);
	clock_gettime(CLOCK_MONOTONIC, &c->t_dial);
	ret = pvx_backend_connect(&c->be, &c->bfd);
	if (ret < 0 && ret != -EINPROGRESS) {
		c->bfd = -1;
		if (http_hold(c, -ret))
			return;
		pvx_health_down(&link->stats,
				c->be.kind == PVX_BACKEND_NONE
				    ? "no backend address yet"
				    : pvx_backend_strerror(&c->be, -ret));
		pvx_backend_format(&c->be, be, sizeof(be));
		if (c->be.kind != PVX_BACKEND_NONE)
			pvx_warn("http link=%s backend %s: %s", link->conf.name,
				 be, pvx_backend_strerror(&c->be, -ret));
		/* Refused until the connect timeout: unavailable (503);
		 * anything else: a bad gateway. */
		conn_error(c, pvx_backend_err_retryable(-ret) ? 503 : 502,
			   c->be.kind == PVX_BACKEND_NONE
			       ? "no backend address yet"
			       : "backend unreachable");
		return;
	}
	if (ret == 0) {
		pvx_health_up(&link->stats, since_us(&c->t_dial));
		hold_end(c);
		backend_connected(c);
		return;
	}
	{
		uint64_t ct = (uint64_t)conn_limits(c).connect_timeout_ms;
		uint64_t spent = since_us(&c->t_req) / 1000;

		tv = ms_tv((int)(spent < ct ? ct - spent : 1));
	}
	c->conn_ev = event_new(c->l->base, c->bfd, EV_WRITE, on_connect, c);
	if (!c->conn_ev || event_add(c->conn_ev, &tv) < 0) {
		conn_error(c, 502, "out of memory");
		return;
	}
}

/* A request head is complete at the start of the client's input. */
static void start_request(struct http_conn *c, char *buf, size_t hlen)
{
	struct pvx_http_head *hd = &c->req.head;
	struct http_route *r;
	struct pvx_link *link;

	head_clock_stop(c);
	pvx_http_init(&c->req, true, req_body_cb, c);
	if (pvx_http_parse_head(&c->req, buf, hlen) < 0) {
		conn_error(c, c->req.status, c->req.err);
		return;
	}
	access_begin(c);
	if (hd->url_len == 0 || hd->url[0] != '/') {
		conn_error(c, 400, "request target must be a path");
		return;
	}
	if (has_dot_segment(hd->url, hd->url_len)) {
		conn_error(c, 400, "dot segment in path");
		return;
	}
	if (hd->content_length > MAX_BODY) {
		conn_error(c, 413, "request body too large");
		return;
	}
	r = route_find(c->l, hd->url, hd->url_len);
	if (!r) {
		conn_error(c, 404, "no route");
		return;
	}
	link = r->link;
	if (!pvx_link_allows(&link->conf, (struct sockaddr *)&c->peer)) {
		/* Per route: a sibling route on this listener may serve
		 * the same client. */
		link->stats.denied++;
		log_denied(link, c->client);
		conn_error(c, 403, "client not allowed on this route");
		return;
	}
	if (link->conf.max_conns && r->inflight >= link->conf.max_conns) {
		link->stats.failed++;
		conn_error(c, 503, "route at its max_conns");
		return;
	}
	c->route = r;
	r->inflight++;
	link->stats.accepted++;
	link->stats.active++;
	c->upgrade = hd->upgrade && pvx_http_find(hd, "upgrade");
	c->close_after = !hd->keep_alive || hd->minor == 0 || c->upgrade;
	c->head_request = hd->method_id == HTTP_HEAD;
	c->req_chunked = hd->chunked;
	c->resp_started = false;
	c->resp_clock = false;
	c->body_in = 0;
	c->pending = evbuffer_new();
	if (!c->pending) {
		conn_error(c, 500, "out of memory");
		return;
	}
	build_request(c, hd->url, hd->url_len);
	/* The head was copied out: the client's bytes can go. */
	evbuffer_drain(bufferevent_get_input(c->cb), hlen);
	if (c->req.msg_done && c->req_chunked)
		evbuffer_add(c->pending, "0\r\n\r\n", 5);
	c->state = C_CONNECTING;
	bufferevent_disable(c->cb, EV_READ);
	clock_gettime(CLOCK_MONOTONIC, &c->t_req);
	c->attempts = 0;
	pvx_backend_from_conf(&c->be, &link->conf);
	if (link->conf.proxy_protocol != PVX_PP_OFF &&
	    add_proxy_header(c) < 0) {
		conn_error(c, 500, "out of memory");
		return;
	}
	http_dial(c);
}

static void read_head(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->cb);
	size_t len;
	char *buf;
	ssize_t hlen;

	/* Empty lines before a request are allowed (RFC 9112 2.2). */
	while ((len = evbuffer_get_length(in)) >= 2) {
		buf = (char *)evbuffer_pullup(in, 2);
		if (buf[0] != '\r' || buf[1] != '\n')
			break;
		evbuffer_drain(in, 2);
	}
	len = evbuffer_get_length(in);
	if (len == 0)
		return;
	if (len > PVX_HTTP_MAX_HEAD + 4)
		len = PVX_HTTP_MAX_HEAD + 4;
	buf = (char *)evbuffer_pullup(in, (ssize_t)len);
	hlen = pvx_http_head_len(buf, len);
	if (hlen < 0) {
		conn_error(c, 400, "malformed header block");
		return;
	}
	if (hlen == 0 || hlen > PVX_HTTP_MAX_HEAD) {
		if (hlen > PVX_HTTP_MAX_HEAD || len > PVX_HTTP_MAX_HEAD)
			conn_error(c, 431, "header block over 16 KiB");
		return;
	}
	start_request(c, buf, (size_t)hlen);
}

/* --- streaming ----------------------------------------------------------- */

/* Moves request body bytes from the client to the backend while the
 * backend's output has room. */
static void pump_request(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->cb);
	struct evbuffer *out = bufferevent_get_output(c->bb);
	size_t len;
	ssize_t n;
	char *buf;

	while (!c->req.msg_done) {
		if (evbuffer_get_length(out) >= hwm()) {
			bufferevent_disable(c->cb, EV_READ);
			return;
		}
		len = evbuffer_get_length(in);
		if (len == 0)
			break;
		if (len > FEED_STEP)
			len = FEED_STEP;
		buf = (char *)evbuffer_pullup(in, (ssize_t)len);
		n = pvx_http_feed_body(&c->req, buf, len);
		if (n < 0) {
			if (c->body_in > MAX_BODY)
				conn_error(c, 413, "request body too large");
			else
				conn_error(c, 400, c->req.err);
			return;
		}
		evbuffer_drain(in, (size_t)n);
		if (c->req.msg_done && c->req_chunked)
			evbuffer_add(out, "0\r\n\r\n", 5);
	}
	/* After the request, the next one waits for this answer. */
	if (c->req.msg_done) {
		bufferevent_disable(c->cb, EV_READ);
		if (!c->resp.head_done && !c->resp_clock) {
			int ms = conn_limits(c).idle_timeout_ms <
					 RESP_HEAD_TIMEOUT_S * 1000
				     ? conn_limits(c).idle_timeout_ms
				     : RESP_HEAD_TIMEOUT_S * 1000;
			struct timeval rt = ms_tv(ms),
				       wt = ms_tv(
					   conn_limits(c).idle_timeout_ms);

			bufferevent_set_timeouts(c->bb, &rt, &wt);
			c->resp_clock = true;
		}
	} else {
		bufferevent_enable(c->cb, EV_READ);
	}
}

static int resp_body_cb(void *arg, const char *buf, size_t len)
{
	struct http_conn *c = arg;
	struct evbuffer *out = bufferevent_get_output(c->cb);

	if (len == 0)
		return 0;
	if (c->resp_chunked)
		evbuffer_add_printf(out, "%zx\r\n", len);
	evbuffer_add(out, buf, len);
	if (c->resp_chunked)
		evbuffer_add(out, "\r\n", 2);
	count_out(c, len);
	return 0;
}

static void send_response_head(struct http_conn *c)
{
	const struct pvx_http_head *hd = &c->resp.head;
	const struct pvx_http_header *ch = pvx_http_find(hd, "connection");
	struct evbuffer *o = evbuffer_new();
	bool upgrade = hd->status == 101;
	bool body = !c->resp.msg_done;

	if (!o)
		return;
	evbuffer_add_printf(o, "HTTP/1.1 %d ", hd->status);
	evbuffer_add(o, hd->reason, hd->reason_len);
	evbuffer_add(o, "\r\n", 2);
	for (size_t i = 0; i < hd->nh; i++) {
		const struct pvx_http_header *x = &hd->h[i];

		if (hop_by_hop(x, ch))
			continue;
		evbuffer_add(o, x->name, x->name_len);
		evbuffer_add(o, ": ", 2);
		location_prefix(c, x, o);
		evbuffer_add(o, x->value, x->value_len);
		evbuffer_add(o, "\r\n", 2);
	}
	/* A body framed by the backend's close is sent chunked, so that the
	 * client connection can stay open (HTTP/1.0 clients: closed). */
	c->resp_chunked = false;
	if (upgrade) {
		const struct pvx_http_header *u = pvx_http_find(hd, "upgrade");

		evbuffer_add_printf(o, "Connection: Upgrade\r\n");
		if (u) {
			evbuffer_add_printf(o, "Upgrade: ");
			evbuffer_add(o, u->value, u->value_len);
			evbuffer_add(o, "\r\n", 2);
		}
	} else if (hd->status >= 200) {
		if (body && (hd->chunked || hd->content_length < 0)) {
			if (c->req.head.minor >= 1)
				c->resp_chunked = true;
			else
				c->close_after = true;
		}
		if (c->resp_chunked)
			evbuffer_add_printf(o,
					    "Transfer-Encoding: chunked\r\n");
		if (c->close_after)
			evbuffer_add_printf(o, "Connection: close\r\n");
	}
	evbuffer_add(o, "\r\n", 2);
	count_out(c, evbuffer_get_length(o));
	bufferevent_write_buffer(c->cb, o);
	evbuffer_free(o);
	c->resp_started = true;
}

static void tunnel_start(struct http_conn *c);

/* The answer is complete: next request, or close. */
static void response_done(struct http_conn *c)
{
	bool again = !c->close_after && c->req.msg_done && c->l->lfd >= 0;

	if (c->resp_chunked)
		evbuffer_add(bufferevent_get_output(c->cb), "0\r\n\r\n", 5);
	access_end(c, c->resp.head.status, "done");
	if (!again) {
		conn_close_after_write(c);
		return;
	}
	backend_drop(c);
	route_release(c);
	c->state = C_HEAD;
	c->resp_started = false;
	head_clock_start(c, false);
	bufferevent_enable(c->cb, EV_READ);
	read_head(c);
}

/* Parses what the backend sent: head, then body, within the room the
 * client's output has. */
static void pump_response(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bb);
	struct evbuffer *out = bufferevent_get_output(c->cb);
	size_t len;
	ssize_t n;
	char *buf;

	while (c->state == C_EXCHANGE) {
		len = evbuffer_get_length(in);
		if (!c->resp.head_done) {
			if (len == 0)
				return;
			if (len > MAX_RESP_HEAD)
				len = MAX_RESP_HEAD;
			buf = (char *)evbuffer_pullup(in, (ssize_t)len);
			n = pvx_http_head_len(buf, len);
			if (n < 0 || (n == 0 && len >= MAX_RESP_HEAD)) {
				conn_error(c, 502, "bad response head");
				return;
			}
			if (n == 0)
				return;
			c->resp.on_body = resp_body_cb;
			c->resp.arg = c;
			if (pvx_http_parse_head(&c->resp, buf, (size_t)n) < 0) {
				conn_error(c, 502, c->resp.err);
				return;
			}
			if (c->resp.head.status == 101 && !c->upgrade) {
				conn_error(c, 502, "101 without Upgrade asked");
				return;
			}
			send_response_head(c);
			evbuffer_drain(in, (size_t)n);
			if (c->resp.head.status == 101) {
				tunnel_start(c);
				return;
			}
			if (c->resp.head.status < 200) {
				/* 100 Continue and friends: the real answer
				 * follows. */
				pvx_http_init(&c->resp, false, NULL, NULL);
				c->resp.skip_body = c->head_request;
				continue;
			}
			{
				struct timeval tv = {
				    conn_limits(c).idle_timeout_ms / 1000,
				    (conn_limits(c).idle_timeout_ms % 1000) *
					1000};
				bufferevent_set_timeouts(c->bb, &tv, &tv);
			}
			if (c->resp.msg_done) {
				response_done(c);
				return;
			}
			continue;
		}
		if (evbuffer_get_length(out) >= hwm()) {
			bufferevent_disable(c->bb, EV_READ);
			return;
		}
		if (len == 0) {
			bufferevent_enable(c->bb, EV_READ);
			return;
		}
		if (len > FEED_STEP)
			len = FEED_STEP;
		buf = (char *)evbuffer_pullup(in, (ssize_t)len);
		n = pvx_http_feed_body(&c->resp, buf, len);
		if (n < 0) {
			conn_error(c, 502, c->resp.err);
			return;
		}
		evbuffer_drain(in, (size_t)n);
		if (c->resp.msg_done) {
			response_done(c);
			return;
		}
	}
}

/* --- tunnel -------------------------------------------------------------- */

static void tunnel_move(struct http_conn *c, struct bufferevent *from,
			struct bufferevent *to)
{
	struct evbuffer *in = bufferevent_get_input(from);
	struct evbuffer *out = bufferevent_get_output(to);

	if (evbuffer_get_length(in) > 0)
		clock_gettime(CLOCK_MONOTONIC, &c->last_io);
	if (from == c->cb)
		count_in(c, evbuffer_get_length(in));
	else
		count_out(c, evbuffer_get_length(in));
	evbuffer_add_buffer(out, in);
	if (evbuffer_get_length(out) >= hwm() ||
	    (from == c->cb && c->client_eof))
		bufferevent_disable(from, EV_READ);
	else
		bufferevent_enable(from, EV_READ);
	/* The client's EOF goes on once what it sent before is written. */
	if (c->client_eof && !c->backend_shut &&
	    evbuffer_get_length(bufferevent_get_output(c->bb)) == 0) {
		shutdown(bufferevent_getfd(c->bb), SHUT_WR);
		c->backend_shut = true;
	}
}

/* A tunnel is idle when no byte moved either way (one side may be silent
 * for long, as with server push): checked by one timer, not per side. */
static void on_tunnel_idle(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;
	struct timespec now;
	int64_t ms;
	struct timeval tv;

	(void)fd;
	(void)what;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(now.tv_sec - c->last_io.tv_sec) * 1000 +
	     (now.tv_nsec - c->last_io.tv_nsec) / 1000000;
	if (ms >= conn_limits(c).idle_timeout_ms) {
		pvx_debug("http %s client=%s: tunnel idle", c->l->name,
			  c->client);
		conn_free(c);
		return;
	}
	tv = ms_tv((int)(conn_limits(c).idle_timeout_ms - ms));
	evtimer_add(c->idle_ev, &tv);
}

static void tunnel_start(struct http_conn *c)
{
	struct timeval tv = ms_tv(conn_limits(c).idle_timeout_ms);

	c->state = C_TUNNEL;
	c->close_after = true;
	clock_gettime(CLOCK_MONOTONIC, &c->last_io);
	/* Writes that stall still time out per side. */
	bufferevent_set_timeouts(c->bb, NULL, &tv);
	bufferevent_set_timeouts(c->cb, NULL, &tv);
	c->idle_ev = evtimer_new(c->l->base, on_tunnel_idle, c);
	if (!c->idle_ev || evtimer_add(c->idle_ev, &tv) < 0) {
		conn_error(c, 500, "out of memory");
		return;
	}
	tunnel_move(c, c->cb, c->bb);
	tunnel_move(c, c->bb, c->cb);
}

/* --- callbacks ----------------------------------------------------------- */

static void client_read_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	switch (c->state) {
	case C_HEAD:
		c->head_bytes = true;
		read_head(c);
		break;
	case C_LINGER:
		evbuffer_drain(
		    bufferevent_get_input(c->cb),
		    evbuffer_get_length(bufferevent_get_input(c->cb)));
		break;
	case C_EXCHANGE:
		pump_request(c);
		break;
	case C_TUNNEL:
		tunnel_move(c, c->cb, c->bb);
		break;
	default:
		break;
	}
}

static void client_write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	switch (c->state) {
	case C_CLOSING:
		conn_linger(c);
		break;
	case C_EXCHANGE:
		pump_response(c);
		break;
	case C_TUNNEL:
		tunnel_move(c, c->bb, c->cb);
		break;
	default:
		break;
	}
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	if (c->state == C_TUNNEL && (what & BEV_EVENT_EOF)) {
		/* Pass on what is left, then the EOF; the backend's close
		 * ends the connection. */
		c->client_eof = true;
		tunnel_move(c, c->cb, c->bb);
		return;
	}
	/* EOF, error or timeout on the client side: nothing more to do. */
	conn_free(c);
}

static void backend_read_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	if (c->state == C_TUNNEL)
		tunnel_move(c, c->bb, c->cb);
	else
		pump_response(c);
}

static void backend_write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	if (c->state == C_TUNNEL)
		tunnel_move(c, c->cb, c->bb);
	else if (c->state == C_EXCHANGE)
		pump_request(c);
}

static void backend_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	if (c->state == C_TUNNEL) {
		tunnel_move(c, c->bb, c->cb);
		conn_close_after_write(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		conn_error(c, 504,
			   c->resp.head_done ? "backend idle"
					     : "backend response "
					       "timeout");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		pump_response(c);
		if (c->state != C_EXCHANGE)
			return;
		if (!c->resp.head_done) {
			conn_error(c, 502, "backend closed without answer");
			return;
		}
		if (pvx_http_eof(&c->resp) == 0) {
			response_done(c);
			return;
		}
	}
	conn_error(c, 502, "backend connection lost");
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
	link->priv = r;
	return 0;
}

/* The backend is read from link->conf at each request; a new consumer_pid
 * moves the route to a listener in that process's network namespace. */
static void http_update(struct pvx_link *link)
{
	struct http_route *r = link->priv;
	struct http_listener *old;
	char err[256];

	if (!r || !r->l || r->l->pid == link->conf.consumer_pid)
		return;
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
	for (c = LIST_FIRST(&conns); c; c = next) {
		next = LIST_NEXT(c, le);
		if (c->route == r) {
			if (r->inflight == 1) {
				conn_free(c);
				return;
			}
			conn_free(c);
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

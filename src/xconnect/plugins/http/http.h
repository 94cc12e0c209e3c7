/* Internal to the http plugin (docs/xconnect.md, "The http plugin"): the
 * objects shared by its files. listener.c: listeners, routes, accept and
 * the plugin's start/update/stop; route.c: routing and the rewrite of
 * heads; backend.c: dialling the backend; conn.c: a client connection's
 * life (head clock, access log, close); exchange.c: request and response
 * pumping and the bufferevent callbacks; tunnel.c: the hand-over of a
 * connection upgraded by a 101 to the relay core. */
#ifndef PVX_PLUGINS_HTTP_H
#define PVX_PLUGINS_HTTP_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include "common/clock.h"
#include "common/http1.h"
#include "common/ns.h"
#include "xconnect/accept.h"
#include "xconnect/bepool.h"
#include "xconnect/link.h"
#include "xconnect/relay.h"

/* Limits of the protocol layer (the byte buffers follow pvx_limits). */
#define MAX_BODY ((int64_t)64 << 20) /* request body: 413 beyond */
#define MAX_RESP_HEAD 65536	     /* backend header block: 502 beyond */
#define RESP_HEAD_TIMEOUT_S 30 /* no response head by then (or idle): 504 */
#define FEED_STEP 16384	       /* bytes parsed per step */
#define LINGER_S 2 /* reading after the last answer, before the close */

struct http_listener;
struct http_conn;
LIST_HEAD(http_conn_list, http_conn);

/* One http link: a route on a shared listener. link->priv. */
struct http_route {
	LIST_ENTRY(http_route) le;
	struct pvx_link *link;
	struct http_listener *l;   /* NULL once the route was removed */
	char prefix[PVX_PATH_MAX]; /* "" (everything) or "/api" */
	size_t plen;
	unsigned inflight; /* requests using the route now */
	bool stopping;	   /* stop() was called: free with the last request */
	struct http_conn_list conns;	 /* those with a request on it now */
	struct pvx_session_list tunnels; /* relay sessions after a 101 */
	bool draining; /* closing all of them: not to be freed yet */
	struct event *drain_ev;
	struct pvx_probe *probe; /* health probes until stop() */
	/* The backend of the link's conf as last seen: its idle connections
	 * are flushed when it changes or the route goes. */
	struct pvx_backend be;
};

/* Listening socket of one (netns, address, port); it owns its client
 * connections. */
struct http_listener {
	LIST_ENTRY(http_listener) le;
	struct event_base *base;
	struct pvx_hostport hp;
	struct pvx_ns_id ns; /* the network namespace it was bound in */
	int lfd;
	struct pvx_acceptor acc; /* accepting from lfd */
	LIST_HEAD(, http_route) routes;
	struct http_conn_list conns;
	bool busy;	   /* closing its connections: not to be freed yet */
	unsigned ntunnels; /* relay sessions of its clients (tunnel.c) */
	char name[PVX_ADDRSTRLEN];
	/* Idle backend connections of its requests (docs/xconnect.md,
	 * "Backend keep-alive"). */
	struct pvx_bepool *pool;
};

enum conn_state {
	C_HEAD,	      /* reading a request head (idle between requests) */
	C_CONNECTING, /* request head read, backend connect in progress */
	C_EXCHANGE,   /* request body and response flowing */
	C_UPGRADING,  /* after 101: writing what is queued, then the relay
			 core takes both sockets (tunnel.c) */
	C_CLOSING,    /* writing the last bytes to the client, then close */
	C_LINGER,     /* written and shut down: discarding input until EOF */
};

struct http_conn {
	LIST_ENTRY(http_conn) le;  /* on l->conns */
	LIST_ENTRY(http_conn) rle; /* on route->conns while it has one */
	struct http_listener *l;
	enum conn_state state;
	struct bufferevent *cb;	  /* client */
	struct bufferevent *bb;	  /* backend, during a request */
	int bfd;		  /* backend socket while connecting */
	struct event *conn_ev;	  /* connect completion or timeout */
	struct http_route *route; /* of the current request */
	struct pvx_backend be;
	struct pvx_http1 req, resp;
	struct evbuffer *pending;    /* request bytes before the connect */
	char client[PVX_ADDRSTRLEN]; /* "ip:port" */
	char client_ip[INET6_ADDRSTRLEN];
	struct sockaddr_storage peer; /* the client, for allow and PROXY */
	socklen_t peerlen;
	struct event *hold_ev;		/* retry of a refused backend dial */
	struct pvx_link_stats *held_in; /* stats counting this as held */
	unsigned attempts;		/* refused dials of this request */
	uint64_t t_req_us;		/* request head routed (pvx_now_us) */
	uint64_t t_dial_us;		/* current dial started */
	int64_t body_in;		/* request body bytes so far */
	bool req_chunked;      /* re-encode the request body as chunks */
	bool resp_chunked;     /* re-encode the response body as chunks */
	bool resp_started;     /* bytes of the answer went to the client */
	bool close_after;      /* no keep-alive after this answer */
	bool head_request;     /* HEAD: the response has no body */
	bool resp_clock;       /* the response-head timeout runs */
	bool upgrade;	       /* the request asks for Upgrade */
	bool handed;	       /* its sockets went to a tunnel session */
	bool client_gone;      /* EOF, error or timeout on the client side */
	unsigned nreq;	       /* requests read on it */
	char close_reason[96]; /* for the close line */
	/* The request being served, for its access log line. */
	bool req_open;		  /* a head was read, no line written yet */
	uint64_t req_t0_us;	  /* when its head was complete */
	uint64_t req_in, req_out; /* bytes of it each way */
	char req_method[16];
	char req_path[256];
	/* Waiting for a request head (docs/xconnect.md, "Slow and idle
	 * clients"): one deadline from the start of the wait, never pushed
	 * back by a byte. */
	struct event *head_ev;
	uint64_t head_t0; /* ms, monotonic: the wait began */
	bool head_fresh;  /* the first request of the connection */
	bool head_bytes;  /* a byte of the awaited head arrived */
	/* Backend keep-alive (docs/xconnect.md): */
	bool counted_accept; /* the connection is in a link's accepted */
	bool be_keep;	     /* the backend may keep its connection */
	bool be_reused;	     /* the backend connection came from the pool */
	bool resp_any;	     /* a byte of the answer came from it */
	bool retried;	     /* the request went again on a new connection */
	/* Between requests the kept backend connection stays with the
	 * client connection (bb, parked) for its next request. */
	bool be_parked;
	struct pvx_backend park_be; /* where the parked one leads */
	struct evbuffer *head_copy; /* the request head sent, for a retry */
	uint8_t tag[PVX_PP_MAX];    /* PROXY header: first on a new backend */
	size_t tag_len;		    /* connection, and its key in the pool */
};

/* Predicates derived from the state, the one source of truth. Waiting
 * for a request head: no request holds a route. */
static inline bool http_conn_idle(const struct http_conn *c)
{
	return c->state == C_HEAD;
}

/* Closing: writing the last bytes or lingering. */
static inline bool http_conn_ending(const struct http_conn *c)
{
	return c->state == C_CLOSING || c->state == C_LINGER;
}

/* A request holds a route (dialling, exchanging, handing a tunnel over). */
static inline bool http_conn_busy(const struct http_conn *c)
{
	return !http_conn_idle(c) && !http_conn_ending(c);
}

static inline size_t http_hwm(void)
{
	return pvx_limits.buf_size ? pvx_limits.buf_size : 65536;
}

/* An input high-water mark of at least min bytes. */
static inline size_t http_room(size_t min)
{
	return http_hwm() > min ? http_hwm() : min;
}

/* A timer's timeval from the plugin's int limits (negative: now). */
static inline struct timeval http_ms_tv(int ms)
{
	return pvx_ms_tv(ms > 0 ? (uint64_t)ms : 0);
}

/* listener.c */
void http_count_on_routes(struct http_listener *l, size_t field);
#define COUNT_ON_ROUTES(l, f)                                                  \
	http_count_on_routes(l, offsetof(struct pvx_link_stats, f))
void http_listener_maybe_free(struct http_listener *l);
void http_route_take(struct http_conn *c, struct http_route *r);
void http_route_release(struct http_conn *c);
void http_route_unref(struct http_route *r);

/* conn.c */
void http_head_clock_start(struct http_conn *c, bool fresh);
void http_head_clock_stop(struct http_conn *c);
void http_on_head_deadline(evutil_socket_t fd, short what, void *arg);
void http_count_in(struct http_conn *c, size_t n);
void http_count_out(struct http_conn *c, size_t n);
void http_access_begin(struct http_conn *c);
void http_access_end(struct http_conn *c, int status, const char *reason);
int http_resp_status(const struct http_conn *c);
/* The one way a connection ends (idempotent while it exists): the open
 * request's access log line and one close line get reason; what is queued
 * for the client is written and our side shut, unless the client is gone
 * (c->client_gone) or nothing of an answer was sent: then c is freed at
 * once. Called again while closing, it takes the next step. */
void http_conn_close(struct http_conn *c, const char *reason);
/* An error answer (or, once the real answer has begun, a plain close). */
void http_conn_error(struct http_conn *c, int status, const char *why);
struct pvx_limits http_conn_limits(const struct http_conn *c);

/* route.c */
struct http_route *http_route_find(struct http_listener *l, const char *url,
				   size_t len);
bool http_has_dot_segment(const char *url, size_t len);
bool http_route_strips(const struct http_route *r);
void http_location_prefix(struct http_conn *c, const struct pvx_http1_header *x,
			  struct evbuffer *o);
void http_build_request(struct http_conn *c, const char *url, size_t len);
void http_log_denied(const struct pvx_link *link, const char *client);
int http_proxy_header(struct http_conn *c);

/* backend.c */
void http_hold_end(struct http_conn *c);
void http_backend_drop(struct http_conn *c);
void http_dial(struct http_conn *c);
/* Backend keep-alive (docs/xconnect.md): the request's backend connection
 * ends, into the listener's pool when keep; whether it may
 * (backend_reusable); whether a request whose kept connection closed
 * before any answer byte goes again on a new one, and sending it. */
void http_backend_close(struct http_conn *c, bool keep);
/* The answer is complete: the backend connection is parked on the client
 * connection (again: it carries another request), pooled or closed. */
void http_backend_done(struct http_conn *c, bool again);
bool http_backend_reusable(const struct http_conn *c);
bool http_may_retry(const struct http_conn *c);
void http_backend_retry(struct http_conn *c);

/* tunnel.c */
void http_upgrade_start(struct http_conn *c);
void http_upgrade_try(struct http_conn *c);

/* exchange.c */
int http_req_body_cb(void *arg, const char *buf, size_t len);
void http_read_head(struct http_conn *c);
void http_pump_request(struct http_conn *c);
void http_pump_response(struct http_conn *c);
void http_client_read_cb(struct bufferevent *bev, void *arg);
void http_client_write_cb(struct bufferevent *bev, void *arg);
void http_client_event_cb(struct bufferevent *bev, short what, void *arg);
void http_backend_read_cb(struct bufferevent *bev, void *arg);
void http_backend_write_cb(struct bufferevent *bev, void *arg);
void http_backend_event_cb(struct bufferevent *bev, short what, void *arg);

#endif

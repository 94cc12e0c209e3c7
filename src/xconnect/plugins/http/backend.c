/* The backend connection of a request: the dial (or a kept connection
 * from the listener's pool), holding a request while the backend refuses,
 * the connect completion, giving the connection back to the pool or
 * dropping it, and the one retry of a request whose kept connection the
 * backend closed (docs/xconnect.md, "Backend keep-alive"). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "xconnect/health.h"
#include "xconnect/plugins/http/http.h"

static bool http_hold(struct http_conn *c, int err);

void http_hold_end(struct http_conn *c)
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

void http_backend_close(struct http_conn *c, bool keep)
{
	bool parked = c->be_parked;
	int fd;

	if (!c->bb)
		return;
	fd = bufferevent_getfd(c->bb);
	/* Its events go now, not when a callback running it returns: the
	 * fd may be closed (and its number reused) or pooled at once. */
	bufferevent_setfd(c->bb, -1);
	bufferevent_free(c->bb);
	c->bb = NULL;
	c->be_parked = false;
	if (!keep) {
		if (fd >= 0) /* -1: a tunnel took it (tunnel.c) */
			close(fd);
	} else if (parked) /* parked only without a tag */
		pvx_bepool_put(c->l->pool, &c->park_be, NULL, 0, fd);
	else
		pvx_bepool_put(c->l->pool, &c->be, c->tag, c->tag_len, fd);
}

/* Parked: watched like a pooled connection (a readable event or the
 * pool's idle timeout closes it, exchange.c's callbacks), without the
 * trip through the pool (its events and allocations) for each request
 * of a keep-alive client. Links with a PROXY header use the pool: the
 * header is its key. */
void http_backend_done(struct http_conn *c, bool again)
{
	bool keep = http_backend_reusable(c);
	struct timeval tv = http_ms_tv(pvx_limits.http_pool_idle_ms);

	if (!keep || !again || c->tag_len) {
		http_backend_close(c, keep);
		http_backend_drop(c);
		return;
	}
	c->be_parked = true;
	c->park_be = c->be;
	bufferevent_disable(c->bb, EV_WRITE);
	bufferevent_set_timeouts(c->bb, &tv, NULL);
	bufferevent_enable(c->bb, EV_READ);
}

/* The backend was asked to keep the connection, the request went out
 * whole, the answer was framed by its length or chunks (not by the close:
 * keep_alive says so) and allows keep-alive, nothing more came, and the
 * route still leads to that backend. */
bool http_backend_reusable(const struct http_conn *c)
{
	struct pvx_backend now;

	if (!c->be_keep || !c->bb || !c->route || c->route->stopping ||
	    !c->req.msg_done || !c->resp.msg_done || !c->resp.head.keep_alive ||
	    evbuffer_get_length(bufferevent_get_output(c->bb)) > 0 ||
	    evbuffer_get_length(bufferevent_get_input(c->bb)) > 0)
		return false;
	pvx_backend_from_conf(&now, &c->route->link->conf);
	return pvx_backend_same(&now, &c->be);
}

/* Once, for an idempotent method whose body (if any) has not started: a
 * POST never goes twice. */
bool http_may_retry(const struct http_conn *c)
{
	switch (c->req.head.method_id) {
	case HTTP_GET:
	case HTTP_HEAD:
	case HTTP_OPTIONS:
	case HTTP_PUT:
	case HTTP_DELETE:
		break;
	default:
		return false;
	}
	return c->be_reused && !c->retried && !c->resp_any && c->body_in == 0 &&
	       !c->req_chunked && c->state == C_EXCHANGE;
}

/* The request again on a new backend connection (never a kept one): its
 * head as sent, after the PROXY header if any. */
void http_backend_retry(struct http_conn *c)
{
	pvx_debug("http %s client=%s: kept backend connection closed "
		  "before the answer; sending the request again",
		  c->l->name, c->client);
	http_backend_close(c, false);
	c->retried = true;
	c->be_reused = false;
	c->resp_clock = false;
	c->pending = evbuffer_new();
	if (!c->pending ||
	    evbuffer_add(c->pending, evbuffer_pullup(c->head_copy, -1),
			 evbuffer_get_length(c->head_copy)) < 0) {
		http_conn_error(c, 502, "out of memory");
		return;
	}
	c->state = C_CONNECTING;
	bufferevent_disable(c->cb, EV_READ);
	http_dial(c);
}

void http_backend_drop(struct http_conn *c)
{
	http_hold_end(c);
	if (c->conn_ev) {
		event_free(c->conn_ev);
		c->conn_ev = NULL;
	}
	if (c->bfd >= 0) {
		close(c->bfd);
		c->bfd = -1;
	}
	http_backend_close(c, c->be_parked); /* a parked one is clean */
	if (c->pending) {
		evbuffer_free(c->pending);
		c->pending = NULL;
	}
}

/* The request goes out on c->bb (new, pooled or parked). */
static void backend_start(struct http_conn *c)
{
	struct timeval tv = http_ms_tv(http_conn_limits(c).idle_timeout_ms);

	/* While the request is being sent, only a backend that stops
	 * taking it times out; the answer's clock starts after it. */
	bufferevent_set_timeouts(c->bb, NULL, &tv);
	/* The PROXY header opens a new connection only: a kept one was
	 * opened for the same client (the header is its key in the pool). */
	if (!c->be_reused && c->tag_len)
		bufferevent_write(c->bb, c->tag, c->tag_len);
	bufferevent_write_buffer(c->bb, c->pending);
	evbuffer_free(c->pending);
	c->pending = NULL;
	bufferevent_enable(c->bb, EV_READ | EV_WRITE);
	c->state = C_EXCHANGE;
	pvx_http1_init(&c->resp, false, NULL, NULL);
	c->resp.skip_body = c->head_request;
	http_pump_request(c);
}

static void backend_connected(struct http_conn *c)
{
	int fd = c->bfd;

	c->bfd = -1;
	/* The fd is ours (http_backend_close): it may go back to the pool. */
	c->bb = bufferevent_socket_new(c->l->base, fd, 0);
	if (!c->bb) {
		close(fd);
		http_conn_error(c, 502, "out of memory");
		return;
	}
	bufferevent_setcb(c->bb, http_backend_read_cb, http_backend_write_cb,
			  http_backend_event_cb, c);
	bufferevent_setwatermark(c->bb, EV_READ, 0, http_room(MAX_RESP_HEAD));
	backend_start(c);
}

static uint64_t since_us(uint64_t t0_us)
{
	return pvx_now_us() - t0_us;
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
		http_conn_error(c, 504, "backend connect timeout");
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
		http_conn_error(c, pvx_backend_err_retryable(err) ? 503 : 502,
				"backend unreachable");
		return;
	}
	pvx_health_up(&c->route->link->stats, since_us(c->t_dial_us));
	c->route->link->stats.backend_connects++;
	http_hold_end(c);
	backend_connected(c);
}

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
	uint64_t ct = (uint64_t)http_conn_limits(c).connect_timeout_ms;
	uint64_t spent = since_us(c->t_req_us) / 1000, wait;
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
	tv = http_ms_tv((int)wait);
	evtimer_add(c->hold_ev, &tv);
	return true;
}

/* Dials the route's backend as the link says now (a graph update during
 * a hold counts). */
/* A kept connection for c: the client connection's parked one (same
 * backend, no PROXY header), else one from the pool; a retry dials anew.
 * True when c goes on with it. */
static bool dial_kept(struct http_conn *c)
{
	struct pvx_link *link = c->route->link;
	int fd;

	if (c->be_parked) {
		bool alive = pvx_bepool_alive(bufferevent_getfd(c->bb));

		if (alive && !c->retried && !c->tag_len &&
		    pvx_backend_same(&c->park_be, &c->be)) {
			c->be_parked = false;
			c->be_reused = true;
			link->stats.backend_reused++;
			http_hold_end(c);
			backend_start(c);
			return true;
		}
		http_backend_close(c, alive);
	}
	/* A kept connection serves any request (one whose client closes
	 * after it is closed after it too). */
	if (c->retried || c->be.kind == PVX_BACKEND_NONE)
		return false;
	fd = pvx_bepool_get(c->l->pool, &c->be, c->tag, c->tag_len);
	if (fd < 0)
		return false;
	c->bfd = fd;
	c->be_reused = true;
	link->stats.backend_reused++;
	http_hold_end(c);
	backend_connected(c);
	return true;
}

/* The dial failed with err and the client is not held for it. */
static void dial_failed(struct http_conn *c, int err)
{
	struct pvx_link *link = c->route->link;
	bool none = c->be.kind == PVX_BACKEND_NONE;
	char be[PVX_PATH_MAX + 32];

	pvx_health_down(&link->stats, none ? "no backend address yet"
					   : pvx_backend_strerror(&c->be, err));
	pvx_backend_format(&c->be, be, sizeof(be));
	if (!none)
		pvx_warn("http link=%s backend %s: %s", link->conf.name, be,
			 pvx_backend_strerror(&c->be, err));
	/* Refused until the connect timeout: unavailable (503); anything
	 * else: a bad gateway. */
	http_conn_error(c, pvx_backend_err_retryable(err) ? 503 : 502,
			none ? "no backend address yet"
			     : "backend unreachable");
}

void http_dial(struct http_conn *c)
{
	struct pvx_link *link = c->route->link;
	uint64_t ct, spent;
	struct timeval tv;
	int ret;

	pvx_backend_from_conf(&c->be, &link->conf);
	if (dial_kept(c))
		return;
	c->t_dial_us = pvx_now_us();
	ret = pvx_backend_connect(&c->be, &c->bfd);
	if (ret < 0 && ret != -EINPROGRESS) {
		c->bfd = -1;
		if (!http_hold(c, -ret))
			dial_failed(c, -ret);
		return;
	}
	if (ret == 0) {
		pvx_health_up(&link->stats, since_us(c->t_dial_us));
		link->stats.backend_connects++;
		http_hold_end(c);
		backend_connected(c);
		return;
	}
	ct = (uint64_t)http_conn_limits(c).connect_timeout_ms;
	spent = since_us(c->t_req_us) / 1000;
	tv = http_ms_tv((int)(spent < ct ? ct - spent : 1));
	c->conn_ev = event_new(c->l->base, c->bfd, EV_WRITE, on_connect, c);
	if (!c->conn_ev || event_add(c->conn_ev, &tv) < 0)
		http_conn_error(c, 502, "out of memory");
}

/* The exchange of the http plugin: a request head read, routed and sent
 * on; request and response bodies streamed through bounded buffers; the
 * byte tunnel after a 101; the bufferevent callbacks of both sides. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "xconnect/plugins/http/http.h"

int http_req_body_cb(void *arg, const char *buf, size_t len)
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
	http_count_in(c, len);
	return 0;
}

/* The checks of a parsed request head and its route: NULL once an error
 * answer is on its way. */
static struct http_route *request_route(struct http_conn *c)
{
	struct pvx_http1_head *hd = &c->req.head;
	struct http_route *r;
	struct pvx_link *link;

	if (hd->url_len == 0 || hd->url[0] != '/') {
		http_conn_error(c, 400, "request target must be a path");
		return NULL;
	}
	if (http_has_dot_segment(hd->url, hd->url_len)) {
		http_conn_error(c, 400, "dot segment in path");
		return NULL;
	}
	if (hd->content_length > MAX_BODY) {
		http_conn_error(c, 413, "request body too large");
		return NULL;
	}
	r = http_route_find(c->l, hd->url, hd->url_len);
	if (!r) {
		http_conn_error(c, 404, "no route");
		return NULL;
	}
	link = r->link;
	if (!pvx_link_allows(&link->conf, (struct sockaddr *)&c->peer)) {
		/* Per route: a sibling route on this listener may serve
		 * the same client. */
		link->stats.denied++;
		http_log_denied(link, c->client);
		http_conn_error(c, 403, "client not allowed on this route");
		return NULL;
	}
	if (link->conf.max_conns && r->inflight >= link->conf.max_conns) {
		link->stats.failed++;
		http_conn_error(c, 503, "route at its max_conns");
		return NULL;
	}
	return r;
}

/* A request head is complete at the start of the client's input. */
static void start_request(struct http_conn *c, char *buf, size_t hlen)
{
	struct pvx_http1_head *hd = &c->req.head;
	struct http_route *r;
	struct pvx_link *link;

	http_head_clock_stop(c);
	pvx_http1_init(&c->req, true, http_req_body_cb, c);
	if (pvx_http1_parse_head(&c->req, buf, hlen) < 0) {
		http_conn_error(c, c->req.status, c->req.err);
		return;
	}
	http_access_begin(c);
	r = request_route(c);
	if (!r)
		return;
	link = r->link;
	http_route_take(c, r);
	link->stats.requests++;
	if (!c->counted_accept) {
		/* A client connection counts once, on the link of its first
		 * request. */
		c->counted_accept = true;
		link->stats.accepted++;
	}
	c->upgrade = hd->upgrade && pvx_http1_find(hd, "upgrade");
	c->close_after = !hd->keep_alive || hd->minor == 0 || c->upgrade;
	/* The backend keeps its connection unless the client ends its own
	 * (its Connection: close goes on) or it becomes a tunnel. */
	c->be_keep = pvx_limits.http_pool_size > 0 && !c->close_after;
	c->be_reused = c->resp_any = c->retried = false;
	c->tag_len = 0;
	c->head_request = hd->method_id == HTTP_HEAD;
	c->req_chunked = hd->chunked;
	c->resp_started = false;
	c->resp_clock = false;
	c->body_in = 0;
	c->pending = evbuffer_new();
	if (!c->pending) {
		http_conn_error(c, 500, "out of memory");
		return;
	}
	http_build_request(c, hd->url, hd->url_len);
	if (c->head_copy)
		evbuffer_free(c->head_copy);
	c->head_copy = evbuffer_new(); /* kept for a retry */
	if (!c->head_copy ||
	    evbuffer_add(c->head_copy, evbuffer_pullup(c->pending, -1),
			 evbuffer_get_length(c->pending)) < 0) {
		http_conn_error(c, 500, "out of memory");
		return;
	}
	/* The head was copied out: the client's bytes can go. */
	evbuffer_drain(bufferevent_get_input(c->cb), hlen);
	if (c->req.msg_done && c->req_chunked)
		evbuffer_add(c->pending, "0\r\n\r\n", 5);
	c->state = C_CONNECTING;
	bufferevent_disable(c->cb, EV_READ);
	c->t_req_us = pvx_now_us();
	c->attempts = 0;
	pvx_backend_from_conf(&c->be, &link->conf);
	if (link->conf.proxy_protocol != PVX_PP_OFF &&
	    http_proxy_header(c) < 0) {
		http_conn_error(c, 500, "out of memory");
		return;
	}
	http_dial(c);
}

void http_read_head(struct http_conn *c)
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
	if (len > PVX_HTTP1_MAX_HEAD + 4)
		len = PVX_HTTP1_MAX_HEAD + 4;
	buf = (char *)evbuffer_pullup(in, (ssize_t)len);
	hlen = pvx_http1_head_len(buf, len);
	if (hlen < 0) {
		http_conn_error(c, 400, "malformed header block");
		return;
	}
	if (hlen == 0 || hlen > PVX_HTTP1_MAX_HEAD) {
		if (hlen > PVX_HTTP1_MAX_HEAD || len > PVX_HTTP1_MAX_HEAD)
			http_conn_error(c, 431, "header block over 16 KiB");
		return;
	}
	start_request(c, buf, (size_t)hlen);
}

/* --- streaming ----------------------------------------------------------- */

/* Moves request body bytes from the client to the backend while the
 * backend's output has room. */
void http_pump_request(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->cb);
	struct evbuffer *out = bufferevent_get_output(c->bb);
	size_t len;
	ssize_t n;
	char *buf;

	while (!c->req.msg_done) {
		if (evbuffer_get_length(out) >= http_hwm()) {
			bufferevent_disable(c->cb, EV_READ);
			return;
		}
		len = evbuffer_get_length(in);
		if (len == 0)
			break;
		if (len > FEED_STEP)
			len = FEED_STEP;
		buf = (char *)evbuffer_pullup(in, (ssize_t)len);
		n = pvx_http1_feed_body(&c->req, buf, len);
		if (n < 0) {
			if (c->body_in > MAX_BODY)
				http_conn_error(c, 413,
						"request body too large");
			else
				http_conn_error(c, 400, c->req.err);
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
			int ms = http_conn_limits(c).idle_timeout_ms <
					 RESP_HEAD_TIMEOUT_S * 1000
				     ? http_conn_limits(c).idle_timeout_ms
				     : RESP_HEAD_TIMEOUT_S * 1000;
			struct timeval rt = http_ms_tv(ms),
				       wt = http_ms_tv(
					   http_conn_limits(c).idle_timeout_ms);

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
	http_count_out(c, len);
	return 0;
}

static void send_response_head(struct http_conn *c)
{
	const struct pvx_http1_head *hd = &c->resp.head;
	const struct pvx_http1_header *ch = pvx_http1_find(hd, "connection");
	struct evbuffer *o = evbuffer_new();
	bool upgrade = hd->status == 101;
	bool body = !c->resp.msg_done;

	if (!o)
		return;
	evbuffer_add_printf(o, "HTTP/1.1 %d ", hd->status);
	evbuffer_add(o, hd->reason, hd->reason_len);
	evbuffer_add(o, "\r\n", 2);
	for (size_t i = 0; i < hd->nh; i++) {
		const struct pvx_http1_header *x = &hd->h[i];

		if (pvx_http1_hop_by_hop(x, ch))
			continue;
		evbuffer_add(o, x->name, x->name_len);
		evbuffer_add(o, ": ", 2);
		http_location_prefix(c, x, o);
		evbuffer_add(o, x->value, x->value_len);
		evbuffer_add(o, "\r\n", 2);
	}
	/* A body framed by the backend's close is sent chunked, so that the
	 * client connection can stay open (HTTP/1.0 clients: closed). */
	c->resp_chunked = false;
	if (upgrade) {
		const struct pvx_http1_header *u =
		    pvx_http1_find(hd, "upgrade");

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
	http_count_out(c, evbuffer_get_length(o));
	bufferevent_write_buffer(c->cb, o);
	evbuffer_free(o);
	c->resp_started = true;
}

/* The answer is complete: next request, or close. */
static void response_done(struct http_conn *c)
{
	bool again = !c->close_after && c->req.msg_done && c->l->lfd >= 0;

	if (c->resp_chunked)
		evbuffer_add(bufferevent_get_output(c->cb), "0\r\n\r\n", 5);
	http_backend_done(c, again);
	http_access_end(c, c->resp.head.status, "done");
	if (!again) {
		http_conn_close(c, "done");
		return;
	}
	http_route_release(c);
	c->state = C_HEAD;
	c->resp_started = false;
	http_head_clock_start(c, false);
	bufferevent_enable(c->cb, EV_READ);
	http_read_head(c);
}

/* The response head at the start of in (len bytes there): parsed, sent
 * on, and acted on. true: go on pumping (a body, or the real answer after
 * a 1xx); false: stop (incomplete head, done, error or upgrade). */
static bool response_head(struct http_conn *c, struct evbuffer *in, size_t len)
{
	struct timeval tv;
	ssize_t n;
	char *buf;

	if (len > MAX_RESP_HEAD)
		len = MAX_RESP_HEAD;
	buf = (char *)evbuffer_pullup(in, (ssize_t)len);
	n = pvx_http1_head_len(buf, len);
	if (n < 0 || (n == 0 && len >= MAX_RESP_HEAD)) {
		http_conn_error(c, 502, "bad response head");
		return false;
	}
	if (n == 0)
		return false;
	c->resp.on_body = resp_body_cb;
	c->resp.arg = c;
	if (pvx_http1_parse_head(&c->resp, buf, (size_t)n) < 0) {
		http_conn_error(c, 502, c->resp.err);
		return false;
	}
	if (c->resp.head.status == 101 && !c->upgrade) {
		http_conn_error(c, 502, "101 without Upgrade asked");
		return false;
	}
	send_response_head(c);
	evbuffer_drain(in, (size_t)n);
	if (c->resp.head.status == 101) {
		http_upgrade_start(c);
		return false;
	}
	if (c->resp.head.status < 200) {
		/* 100 Continue and friends: the real answer follows. */
		pvx_http1_init(&c->resp, false, NULL, NULL);
		c->resp.skip_body = c->head_request;
		return true;
	}
	tv = http_ms_tv(http_conn_limits(c).idle_timeout_ms);
	bufferevent_set_timeouts(c->bb, &tv, &tv);
	if (c->resp.msg_done) {
		response_done(c);
		return false;
	}
	return true;
}

/* Parses what the backend sent: head, then body, within the room the
 * client's output has. */
void http_pump_response(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bb);
	struct evbuffer *out = bufferevent_get_output(c->cb);
	size_t len;
	ssize_t n;
	char *buf;

	while (c->state == C_EXCHANGE) {
		len = evbuffer_get_length(in);
		if (!c->resp.head_done) {
			if (len == 0 || !response_head(c, in, len))
				return;
			continue;
		}
		if (evbuffer_get_length(out) >= http_hwm()) {
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
		n = pvx_http1_feed_body(&c->resp, buf, len);
		if (n < 0) {
			http_conn_error(c, 502, c->resp.err);
			return;
		}
		evbuffer_drain(in, (size_t)n);
		if (c->resp.msg_done) {
			response_done(c);
			return;
		}
	}
}

/* --- callbacks ----------------------------------------------------------- */

void http_client_read_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	switch (c->state) {
	case C_HEAD:
		c->head_bytes = true;
		http_read_head(c);
		break;
	case C_LINGER:
		evbuffer_drain(
		    bufferevent_get_input(c->cb),
		    evbuffer_get_length(bufferevent_get_input(c->cb)));
		break;
	case C_EXCHANGE:
		http_pump_request(c);
		break;
	default:
		break;
	}
}

void http_client_write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	switch (c->state) {
	case C_CLOSING:
		http_conn_close(c, NULL); /* written: the next step */
		break;
	case C_EXCHANGE:
		http_pump_response(c);
		break;
	case C_UPGRADING:
		http_upgrade_try(c);
		break;
	default:
		break;
	}
}

void http_client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	/* EOF, error or timeout on the client side: nothing more to do. */
	c->client_gone = true;
	http_conn_close(c, what & BEV_EVENT_EOF	      ? "client closed"
			   : what & BEV_EVENT_TIMEOUT ? "client timeout"
						      : "client error");
}

void http_backend_read_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	if (c->be_parked) { /* bytes nobody asked for */
		http_backend_close(c, false);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		c->resp_any = true;
	http_pump_response(c);
}

void http_backend_write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	if (c->state == C_UPGRADING)
		http_upgrade_try(c);
	else if (c->state == C_EXCHANGE)
		http_pump_request(c);
}

void http_backend_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	if (c->be_parked) { /* closed by the backend, or idle too long */
		http_backend_close(c, false);
		return;
	}
	if (c->state == C_UPGRADING) {
		/* The backend went before the tunnel was handed over. */
		http_conn_close(c, "backend closed before the tunnel");
		return;
	}
	/* A kept connection the backend closed before any answer byte. */
	if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) && http_may_retry(c)) {
		http_backend_retry(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		http_conn_error(c, 504,
				c->resp.head_done ? "backend idle"
						  : "backend response "
						    "timeout");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		http_pump_response(c);
		if (c->state != C_EXCHANGE)
			return;
		if (!c->resp.head_done) {
			http_conn_error(c, 502,
					"backend closed without answer");
			return;
		}
		if (pvx_http1_eof(&c->resp) == 0) {
			c->be_keep = false; /* framed by the close */
			response_done(c);
			return;
		}
	}
	http_conn_error(c, 502, "backend connection lost");
}

/* A client connection of the http plugin: the wait for a request head,
 * the access log line of each request, and its one end, http_conn_close
 * (an error answer first when one is due; what is queued written, then a
 * linger; one close line with the reason). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "xconnect/access.h"
#include "xconnect/plugins/http/http.h"

/* Starts the wait for a request head: the first of a connection has the
 * first-byte deadline too when it is shorter. */
void http_head_clock_start(struct http_conn *c, bool fresh)
{
	int ms = pvx_limits.header_timeout_ms;
	int fb = pvx_limits.first_byte_timeout_ms;
	struct timeval tv;

	c->head_t0 = pvx_now_ms();
	c->head_fresh = fresh;
	c->head_bytes = false;
	if (fresh && fb > 0 && (fb < ms || ms <= 0))
		ms = fb;
	if (ms <= 0)
		return;
	tv = http_ms_tv(ms);
	evtimer_add(c->head_ev, &tv);
}

void http_head_clock_stop(struct http_conn *c)
{
	evtimer_del(c->head_ev);
}

/* Nothing of a head: the first-byte timeout (a fresh connection) or the
 * end of a keep-alive wait, closed without an answer. Part of a head:
 * 408. */
void http_on_head_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;
	uint64_t waited = pvx_now_ms() - c->head_t0;
	int hto = pvx_limits.header_timeout_ms;
	struct timeval tv;

	(void)fd;
	(void)what;
	if (!http_conn_idle(c))
		return;
	if (evbuffer_get_length(bufferevent_get_input(c->cb)) > 0)
		c->head_bytes = true;
	if (!c->head_bytes && c->head_fresh) {
		COUNT_ON_ROUTES(c->l, timeout_first_byte);
		http_conn_close(c, "first byte timeout");
		return;
	}
	if (c->head_fresh && hto > 0 && waited < (uint64_t)hto) {
		/* The first-byte deadline passed with bytes: the head
		 * deadline goes on from the accept. */
		tv = http_ms_tv(hto - (int)waited);
		evtimer_add(c->head_ev, &tv);
		return;
	}
	if (!c->head_bytes) {
		http_conn_close(c, "keep-alive wait over");
		return;
	}
	COUNT_ON_ROUTES(c->l, timeout_header);
	http_conn_error(c, 408, "request head timeout");
}

/* --- access log and byte counts ---------------------------------------- */

void http_count_in(struct http_conn *c, size_t n)
{
	c->route->link->stats.bytes_in += n;
	c->req_in += n;
}

void http_count_out(struct http_conn *c, size_t n)
{
	c->route->link->stats.bytes_out += n;
	c->req_out += n;
}

/* A request head was parsed: its line starts now. */
void http_access_begin(struct http_conn *c)
{
	const struct pvx_http1_head *hd = &c->req.head;

	c->req_open = true;
	c->nreq++;
	c->req_in = c->req_out = 0;
	c->req_t0_us = pvx_now_us();
	snprintf(c->req_method, sizeof(c->req_method), "%s", hd->method);
	snprintf(c->req_path, sizeof(c->req_path), "%.*s",
		 (int)(hd->url_len < sizeof(c->req_path)
			   ? hd->url_len
			   : sizeof(c->req_path) - 1),
		 hd->url);
}

/* The access log line of the request (or of a head that could not be
 * read: no method, path or duration then). Once per request. */
void http_access_end(struct http_conn *c, int status, const char *reason)
{
	const struct pvx_link_conf *lc =
	    c->route ? &c->route->link->conf : NULL;
	char be[PVX_PATH_MAX + 32];
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
		r.ms = (pvx_now_us() - c->req_t0_us) / 1000;
		r.method = c->req_method;
		r.path = c->req_path;
		r.bytes_in = c->req_in;
		r.bytes_out = c->req_out;
	}
	pvx_access_log(&r);
}

/* The status the client got so far (0: none yet). */
int http_resp_status(const struct http_conn *c)
{
	return c->resp.head_done ? c->resp.head.status : 0;
}

/* Frees c at once, with its backend, its route and the listener's count
 * of its client (unless a tunnel session took them over). */
static void conn_teardown(struct http_conn *c)
{
	struct http_listener *l = c->l;

	pvx_debug("http %s client=%s: closed requests=%u reason=\"%s\"",
		  l->name, c->client, c->nreq, c->close_reason);
	LIST_REMOVE(c, le);
	http_backend_drop(c);
	http_route_release(c);
	if (!c->handed)
		pvx_acceptor_release(&l->acc, (struct sockaddr *)&c->peer,
				     c->peerlen);
	if (c->head_ev)
		event_free(c->head_ev);
	if (c->head_copy)
		evbuffer_free(c->head_copy);
	if (c->cb)
		bufferevent_free(c->cb);
	free(c);
	http_listener_maybe_free(l);
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

/* A close under way goes on: the queued answer written, then the linger;
 * the client gone (or the linger over), the end. */
static void conn_close_step(struct http_conn *c)
{
	if (c->client_gone || c->state == C_LINGER || c->handed) {
		conn_teardown(c);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(c->cb)) == 0)
		conn_linger(c);
}

void http_conn_close(struct http_conn *c, const char *reason)
{
	struct timeval tv = {5, 0};

	if (http_conn_ending(c)) {
		conn_close_step(c);
		return;
	}
	snprintf(c->close_reason, sizeof(c->close_reason), "%s",
		 reason ? reason : "closed");
	if (c->req_open)
		http_access_end(c, http_resp_status(c), reason);
	http_backend_drop(c);
	http_route_release(c);
	/* Nothing of an answer for the client in this request (an idle
	 * keep-alive connection, a client that went): no linger needed. */
	if (!c->resp_started || c->client_gone || c->handed) {
		conn_teardown(c);
		return;
	}
	c->state = C_CLOSING;
	bufferevent_disable(c->cb, EV_READ);
	bufferevent_set_timeouts(c->cb, NULL, &tv);
	conn_close_step(c);
}

/* An error answer (or a plain close once the real answer has begun). */
void http_conn_error(struct http_conn *c, int status, const char *why)
{
	char body[256];
	int n;

	if (c->route && (status == 502 || status == 503 || status == 504))
		c->route->link->stats.failed++;
	pvx_debug("http %s client=%s: %d %s", c->l->name, c->client, status,
		  why);
	if (c->req_open || !c->resp_started)
		http_access_end(
		    c, c->resp_started ? http_resp_status(c) : status, why);
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
				    status, pvx_http1_reason(status), n, body);
		c->resp_started = true;
	}
	http_conn_close(c, why);
}

/* The limits of the current request's route (the graph may set its own
 * max_conns and timeouts), else the command line's. */
struct pvx_limits http_conn_limits(const struct http_conn *c)
{
	return c->route ? pvx_link_limits(&c->route->link->conf) : pvx_limits;
}

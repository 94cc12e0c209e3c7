/* HTTP handlers of the control API over evhttp, the control socket, and
 * the long-poll waiters of GET /xconnect-graph?wait=<etag>. Every error is
 * a JSON {"error": …} with a fitting status; evhttp itself answers the
 * requests it cannot parse (400) or that are too large (413). */
#include "ctrl/api.h"
#include "ctrl/api_req.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/clock.h"
#include "common/fdlimit.h"
#include "common/log.h"
#include "common/prom.h"
#include "common/sock.h"

/* A held GET /xconnect-graph?wait=<etag>, answered when the graph changes
 * (200), when its timer fires (304) or dropped when the client goes. */
struct waiter {
	struct pvc_api *api;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct event *timer;
	struct event *gone; /* EV_CLOSED on the client's socket */
	struct waiter *prev, *next;
};

struct pvc_api {
	struct event_base *base;
	struct pvc_daemon *d;
	struct evhttp *http;
	char *path;
	struct stat sock_st; /* to remove only our own socket file */
	int wait_timeout_s;
	int idle_timeout_s;
	struct waiter *waiters;
	size_t n_waiters;
	struct held *helds;
};

/* A request that changes what runs (PUT /state, POST /state/reload,
 * PUT /containers/<name>), answered when its operation is complete: after
 * the stops it caused (never blocking the loop) or the operations queued
 * before it. */
struct held {
	struct pvc_api *api;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct pvc_op *op;
	struct held *prev, *next;
};

static const char *status_reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

static void reply_text(struct evhttp_request *req, int code, const char *text,
		       size_t len)
{
	struct evbuffer *buf = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "application/json");
	if (buf && text)
		evbuffer_add(buf, text, len);
	evhttp_send_reply(req, code, status_reason(code), buf);
	if (buf)
		evbuffer_free(buf);
}

/* Sends body (reference stolen) as compact, key-sorted JSON. */
static void reply_json(struct evhttp_request *req, int code, json_t *body)
{
	char *s = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(body);
	if (!s) {
		static const char oom[] = "{\"error\":\"out of memory\"}";
		reply_text(req, 500, oom, sizeof(oom) - 1);
		return;
	}
	reply_text(req, code, s, strlen(s));
	free(s);
}

static void reply_error(struct evhttp_request *req, int code, const char *fmt,
			...) __attribute__((format(printf, 3, 4)));
static void reply_error(struct evhttp_request *req, int code, const char *fmt,
			...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_json(req, code, json_pack("{s:s}", "error", msg));
}

static void reply_graph(struct pvc_api *api, struct evhttp_request *req)
{
	const char *g = pvc_daemon_graph(api->d);

	evhttp_add_header(evhttp_request_get_output_headers(req), "ETag",
			  pvc_daemon_etag(api->d));
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Cache-Control", "no-cache");
	reply_text(req, 200, g, strlen(g));
}

/* ---------------------------------------------------------- waiters */

static void waiter_unlink(struct waiter *w)
{
	struct pvc_api *api = w->api;

	if (w->prev)
		w->prev->next = w->next;
	else
		api->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	api->n_waiters--;
	if (w->timer)
		event_free(w->timer);
	if (w->gone)
		event_free(w->gone);
	free(w);
}

/* Detaches the waiter from its connection so that a later close of the
 * connection no longer reaches it; returns the request to answer. */
static struct evhttp_request *waiter_take(struct waiter *w)
{
	struct pvc_api *api = w->api;
	struct evhttp_request *req = w->req;

	evhttp_connection_set_closecb(w->evcon, NULL, NULL);
	/* Back to the idle timeout for the rest of this connection. */
	evhttp_connection_set_timeout(w->evcon, api->idle_timeout_s);
	waiter_unlink(w);
	return req;
}

static void waiter_closed(struct evhttp_connection *evcon, void *arg)
{
	struct waiter *w = arg;
	struct evhttp_request *req = w->req;

	(void)evcon;
	pvx_debug("long-poll client gone");
	waiter_unlink(w);
	/* evhttp detaches a request the user still owes an answer from a
	 * failed connection instead of freeing it; it is ours to free then.
	 * A request still attached is freed with its connection. */
	if (evhttp_request_get_connection(req) == NULL)
		evhttp_request_free(req);
}

static void waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;
	struct pvc_api *api = w->api;
	struct evhttp_request *req;

	(void)fd;
	(void)what;
	req = waiter_take(w);
	evhttp_add_header(evhttp_request_get_output_headers(req), "ETag",
			  pvc_daemon_etag(api->d));
	evhttp_send_reply(req, 304, status_reason(304), NULL);
}

/* evhttp stops reading a connection while its request is handled, so it
 * would notice a long-poll client that went away only when the answer is
 * written. EV_CLOSED (EPOLLRDHUP) tells at once: answer "unchanged" now;
 * the write fails and evhttp frees the connection the usual way. */
static void waiter_gone(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pvx_debug("long-poll client hung up");
	waiter_timeout(-1, 0, arg);
}

static void graph_changed(void *arg)
{
	struct pvc_api *api = arg;

	/* Answering cannot add waiters, but take each one off the list
	 * before its answer goes out all the same. */
	while (api->waiters)
		reply_graph(api, waiter_take(api->waiters));
}

static void hold_waiter(struct pvc_api *api, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct timeval tv = {.tv_sec = api->wait_timeout_s};
	struct waiter *w;

	if (api->n_waiters >= PVC_API_MAX_WAITERS) {
		reply_error(req, 503, "too many waiting clients");
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!w || !evcon) {
		free(w);
		reply_error(req, 500, "out of memory");
		return;
	}
	w->timer = evtimer_new(api->base, waiter_timeout, w);
	if (!w->timer || evtimer_add(w->timer, &tv) < 0) {
		if (w->timer)
			event_free(w->timer);
		free(w);
		reply_error(req, 500, "cannot arm timer");
		return;
	}
	{
		struct bufferevent *bev =
		    evhttp_connection_get_bufferevent(evcon);
		evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
		if (fd >= 0) {
			w->gone =
			    event_new(api->base, fd, EV_CLOSED, waiter_gone, w);
			if (w->gone && event_add(w->gone, NULL) < 0) {
				event_free(w->gone);
				w->gone = NULL;
			}
		}
	}
	w->api = api;
	w->req = req;
	w->evcon = evcon;
	w->next = api->waiters;
	if (api->waiters)
		api->waiters->prev = w;
	api->waiters = w;
	api->n_waiters++;
	/* evhttp's connection timeout must not end a held request. */
	evhttp_connection_set_timeout(evcon, api->wait_timeout_s + 10);
	evhttp_connection_set_closecb(evcon, waiter_closed, w);
}

/* --------------------------------------------------------- handlers */

static void handle_graph(struct pvc_api *api, struct evhttp_request *req,
			 const struct evhttp_uri *uri)
{
	char *wait = NULL;
	int r;

	r = pvc_api_query_wait(evhttp_uri_get_query(uri), &wait);
	if (r == -EINVAL) {
		reply_error(req, 400, "bad query string");
		return;
	}
	if (r < 0) {
		reply_error(req, 500, "out of memory");
		return;
	}
	if (wait && evhttp_request_get_command(req) == EVHTTP_REQ_GET &&
	    pvc_etag_match(wait, pvc_daemon_etag(api->d)))
		hold_waiter(api, req);
	else
		reply_graph(api, req);
	free(wait);
}

static void handle_containers(struct pvc_api *api, struct evhttp_request *req)
{
	reply_json(req, 200, pvc_daemon_containers(api->d));
}

/* ------------------------------------------------------ held requests */

static void held_unlink(struct held *h)
{
	struct pvc_api *api = h->api;

	if (h->prev)
		h->prev->next = h->next;
	else
		api->helds = h->next;
	if (h->next)
		h->next->prev = h->prev;
	evhttp_connection_set_closecb(h->evcon, NULL, NULL);
	evhttp_connection_set_timeout(h->evcon, api->idle_timeout_s);
	free(h);
}

/* The requester went away: its operation still runs, unanswered. */
static void held_closed(struct evhttp_connection *evcon, void *arg)
{
	struct held *h = arg;
	struct evhttp_request *req = h->req;

	(void)evcon;
	pvx_debug("client of a pending change gone");
	pvc_daemon_op_forget(h->op);
	held_unlink(h);
	/* As for a waiter: a detached request is ours to free. */
	if (evhttp_request_get_connection(req) == NULL)
		evhttp_request_free(req);
}

static void reply_apply(struct evhttp_request *req, int r,
			struct pvx_errlist *errors,
			struct pvx_errlist *warnings)
{
	if (r == 0)
		reply_json(req, 200,
			   json_pack("{s:s, s:o}", "status", "applied",
				     "warnings",
				     pvx_errlist_to_json(warnings)));
	else if (r == -EINVAL)
		reply_json(req, 400,
			   json_pack("{s:s, s:o}", "error", "invalid state",
				     "errors", pvx_errlist_to_json(errors)));
	else
		reply_json(req, 500,
			   json_pack("{s:s, s:o}", "error", "state not applied",
				     "errors", pvx_errlist_to_json(errors)));
}

static void reply_container_op(struct pvc_api *api, struct evhttp_request *req,
			       const struct pvc_op_result *res)
{
	int code;

	if (res->r < 0) {
		switch (res->r) {
		case -ENOENT:
			code = 404;
			break;
		case -ESRCH:
		case -EINVAL:
			code = 400;
			break;
		case -ENOTSUP:
			code = 409;
			break;
		default:
			code = 500;
		}
		reply_error(req, code, "%s",
			    res->err[0] ? res->err : strerror(-res->r));
		return;
	}
	{
		json_t *c = pvc_daemon_container(api->d, res->name);
		if (c)
			reply_json(req, 200, c);
		else
			reply_error(req, 404, "no container '%s'", res->name);
	}
}

static void op_done(const struct pvc_op_result *res, void *arg)
{
	struct held *h = arg;
	struct pvc_api *api = h->api;
	struct evhttp_request *req = h->req;

	held_unlink(h);
	if (res->kind == PVC_OP_STATE || res->kind == PVC_OP_RELOAD ||
	    res->kind == PVC_OP_LOAD)
		reply_apply(req, res->r, res->errors, res->warnings);
	else
		reply_container_op(api, req, res);
}

/* Submits the operation; the answer goes out when it is complete (at once
 * if nothing is under way). */
static void submit(struct pvc_api *api, struct evhttp_request *req,
		   const struct pvc_op_req *oreq)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct held *h = calloc(1, sizeof(*h));
	struct pvc_op *op;
	bool completed;

	if (!h || !evcon) {
		free(h);
		reply_error(req, 500, "out of memory");
		return;
	}
	h->api = api;
	h->req = req;
	h->evcon = evcon;
	h->next = api->helds;
	if (api->helds)
		api->helds->prev = h;
	api->helds = h;
	/* evhttp's idle timeout must not end a request held for stops. */
	evhttp_connection_set_timeout(evcon, api->wait_timeout_s + 10);
	evhttp_connection_set_closecb(evcon, held_closed, h);
	op = pvc_daemon_submit(api->d, oreq, op_done, h, &completed);
	if (completed)
		return; /* answered, h freed */
	if (!op) {
		held_unlink(h);
		reply_error(req, 500, "out of memory");
		return;
	}
	h->op = op;
}

static void handle_container_put(struct pvc_api *api,
				 struct evhttp_request *req, const char *name)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *p = len ? (const char *)evbuffer_pullup(in, -1) : "";
	struct pvc_op_req oreq = {.name = name};
	struct pvc_api_put put;
	char err[256] = "";
	int r;

	r = pvc_api_put_parse(p, len, &put, err, sizeof(err));
	if (r < 0) {
		if (r == -EINVAL)
			reply_error(req, 400, "%s", err);
		else
			reply_error(req, 500, "out of memory");
		return;
	}
	if (put.pid > 0) {
		oreq.kind = PVC_OP_ADOPT;
		oreq.pid = put.pid;
	} else {
		oreq.kind = PVC_OP_ACTION;
		oreq.action = put.action;
	}
	submit(api, req, &oreq);
	pvc_api_put_clear(&put);
}

static void handle_state_put(struct pvc_api *api, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *p = len ? (const char *)evbuffer_pullup(in, -1) : "";
	struct pvc_op_req oreq = {.kind = PVC_OP_STATE, .buf = p, .len = len};

	submit(api, req, &oreq);
}

/* POST /state/load {"path": "/abs/dir"}: the daemon reads the state from
 * its own file system and makes it the source (docs/api.md). */
static void handle_state_load(struct pvc_api *api, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *p = len ? (const char *)evbuffer_pullup(in, -1) : "";
	json_error_t je;
	json_t *body = json_loadb(p, len, 0, &je), *path;
	struct pvc_op_req oreq = {.kind = PVC_OP_LOAD};

	path = json_object_get(body, "path");
	if (!json_is_string(path) || json_string_value(path)[0] != '/') {
		reply_error(req, 400,
			    "body: expected {\"path\": \"/absolute/path\"} "
			    "(a state directory or state.json)");
		json_decref(body);
		return;
	}
	oreq.path = json_string_value(path);
	submit(api, req, &oreq);
	json_decref(body);
}

static void handle_state_reload(struct pvc_api *api, struct evhttp_request *req)
{
	struct pvc_op_req oreq = {.kind = PVC_OP_RELOAD};

	submit(api, req, &oreq);
}

/* GET /containers/<name>/logs[?offset=N]: the container's output from
 * the running offset N on (default 0: all that is kept), as text; the
 * ETag (and X-Log-Offset) is the offset to ask from next time, which is
 * how `pvcontrol container logs -f` follows (docs/api.md). */
static void handle_logs(struct pvc_api *api, struct evhttp_request *req,
			const struct evhttp_uri *uri, const char *name)
{
	const char *query = evhttp_uri_get_query(uri);
	struct evkeyvalq q = {0};
	unsigned long long offset = 0;
	const char *o;
	char *buf = NULL, *end, tag[32];
	size_t len = 0;
	uint64_t next = 0;
	struct evbuffer *b;
	int r;

	if (query && evhttp_parse_query_str(query, &q) < 0) {
		reply_error(req, 400, "bad query");
		return;
	}
	o = evhttp_find_header(&q, "offset");
	if (o) {
		errno = 0;
		offset = strtoull(o, &end, 10);
		if (errno || end == o || *end || *o == '-') {
			reply_error(req, 400, "offset: '%.32s' is not a number",
				    o);
			evhttp_clear_headers(&q);
			return;
		}
	}
	evhttp_clear_headers(&q);
	r = pvc_daemon_logs(api->d, name, offset, &buf, &len, &next);
	if (r == -ENOENT) {
		reply_error(req, 404, "no container '%s'", name);
		return;
	}
	if (r == -ENODATA) {
		reply_error(req, 404,
			    "container '%s' has no log (not a process "
			    "container, never started, or no state dir)",
			    name);
		return;
	}
	if (r < 0 || !(b = evbuffer_new())) {
		free(buf);
		reply_error(req, 500, "log: %s", strerror(r < 0 ? -r : ENOMEM));
		return;
	}
	evbuffer_add(b, buf, len);
	free(buf);
	snprintf(tag, sizeof(tag), "\"%llu\"", (unsigned long long)next);
	evhttp_add_header(evhttp_request_get_output_headers(req), "ETag", tag);
	snprintf(tag, sizeof(tag), "%llu", (unsigned long long)next);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "X-Log-Offset", tag);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "text/plain; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* GET /metrics: Prometheus text (ctrl/metrics.c). */
static void handle_metrics(struct pvc_api *api, struct evhttp_request *req)
{
	size_t len = 0;
	char *text = pvc_daemon_metrics(api->d, &len);
	struct evbuffer *b = evbuffer_new();

	if (!text || !b) {
		free(text);
		if (b)
			evbuffer_free(b);
		reply_error(req, 500, "out of memory");
		return;
	}
	evbuffer_add(b, text, len);
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", PVX_PROM_CONTENT_TYPE);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "?";
}

static void handle_request(struct evhttp_request *req, void *arg)
{
	struct pvc_api *api = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *allow;
	char *name = NULL;
	enum pvc_api_route rt;

	if (!path || !*path)
		path = "/";
	pvx_debug("request method=%s uri=%s", method_name(m),
		  evhttp_request_get_uri(req));
	if (pvc_api_route(path, &rt, &name) < 0) {
		reply_error(req, 500, "out of memory");
		return;
	}
	if (rt == PVC_ROUTE_NONE) {
		reply_error(req, 404, "no such resource");
		goto out;
	}
	if (!pvc_api_method_ok(rt, m, &allow)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Allow", allow);
		reply_error(req, 405, "method %s not allowed (allowed: %s)",
			    method_name(m), allow);
		goto out;
	}
	switch (rt) {
	case PVC_ROUTE_GRAPH:
		handle_graph(api, req, uri);
		break;
	case PVC_ROUTE_CONTAINERS:
		handle_containers(api, req);
		break;
	case PVC_ROUTE_CONTAINER:
		if (m == EVHTTP_REQ_PUT) {
			handle_container_put(api, req, name);
		} else {
			json_t *c = pvc_daemon_container(api->d, name);
			if (c)
				reply_json(req, 200, c);
			else
				reply_error(req, 404, "no container '%s'",
					    name);
		}
		break;
	case PVC_ROUTE_STATE:
		handle_state_put(api, req);
		break;
	case PVC_ROUTE_RELOAD:
		handle_state_reload(api, req);
		break;
	case PVC_ROUTE_LOAD:
		handle_state_load(api, req);
		break;
	case PVC_ROUTE_METRICS:
		handle_metrics(api, req);
		break;
	case PVC_ROUTE_LOGS:
		handle_logs(api, req, uri, name);
		break;
	case PVC_ROUTE_NONE:
		break;
	}
out:
	free(name);
}

/* ----------------------------------------------------------- socket */

static void accept_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evconnlistener_enable(arg);
}

/* Out of descriptors (EMFILE/ENFILE): the pending connection stays in the
 * backlog and the socket stays readable, so accepting again at once would
 * spin. The reserve descriptor takes one pending client and closes it (it
 * sees its connection end instead of hanging); then accepting pauses for a
 * moment, idle clients time out meanwhile. The listener's argument belongs
 * to evhttp: the timer gets the listener. */
static void accept_error(struct evconnlistener *lev, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = pvx_ms_tv(200);
	bool shed = false;

	(void)arg;
	if (err == EMFILE || err == ENFILE)
		shed = pvx_fdlimit_shed(evconnlistener_get_fd(lev)) == 0;
	pvx_warn("control socket: accept: %s; %spausing 200 ms", strerror(err),
		 shed ? "one client refused, " : "");
	evconnlistener_disable(lev);
	if (event_base_once(evconnlistener_get_base(lev), -1, EV_TIMEOUT,
			    accept_resume, lev, &tv) < 0)
		evconnlistener_enable(lev);
}

int pvc_api_listen_unix(const char *path, mode_t mode, char *err, size_t errlen)
{
	struct pvx_sock_err e = {0};
	int r;

	if (strlen(path) >= PVX_PATH_MAX) {
		snprintf(err, errlen, "%s: path too long for a socket", path);
		return -ENAMETOOLONG;
	}
	r = pvx_mkdir_parents(path, 0755);
	if (r < 0) {
		snprintf(err, errlen, "%s: mkdir: %s", path, strerror(-r));
		return r;
	}
	/* A crashed daemon's socket is replaced; a live one (another
	 * pv-ctrld) or anything else at the path is left alone. */
	r = pvx_sock_listen_unix(AT_FDCWD, path, mode, 64, NULL, &e);
	if (r < 0)
		snprintf(err, errlen, "%s %s: %s", e.step, path,
			 pvx_sock_strerror(&e, r));
	return r;
}

struct pvc_api *pvc_api_new(struct event_base *base, struct pvc_daemon *d,
			    const struct pvc_api_conf *conf, char *err,
			    size_t errlen)
{
	struct pvc_api *api = calloc(1, sizeof(*api));
	int fd = -1, r;

	if (!api || !(api->path = strdup(conf->path))) {
		snprintf(err, errlen, "out of memory");
		r = ENOMEM;
		goto fail;
	}
	api->base = base;
	api->d = d;
	api->wait_timeout_s = conf->wait_timeout_s > 0 ? conf->wait_timeout_s
						       : PVC_API_WAIT_TIMEOUT_S;
	api->idle_timeout_s = conf->idle_timeout_s > 0 ? conf->idle_timeout_s
						       : PVC_API_IDLE_TIMEOUT_S;
	api->http = evhttp_new(base);
	if (!api->http) {
		snprintf(err, errlen, "evhttp_new failed");
		r = ENOMEM;
		goto fail;
	}
	evhttp_set_timeout(api->http, api->idle_timeout_s);
	evhttp_set_max_headers_size(api->http, PVC_API_MAX_HEADERS);
	evhttp_set_max_body_size(api->http, PVC_API_MAX_BODY);
	/* Let every method through to our handler so that a wrong one gets
	 * 405 with Allow, not evhttp's 501. */
	evhttp_set_allowed_methods(
	    api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
			   EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
			   EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
			   EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	/* An oversized body is read and dropped before the 413 goes out, so
	 * that the client sees the answer rather than a reset. */
	evhttp_set_flags(api->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_gencb(api->http, handle_request, api);

	fd = pvc_api_listen_unix(conf->path, conf->mode, err, errlen);
	if (fd < 0) {
		r = -fd;
		goto fail;
	}
	if (stat(conf->path, &api->sock_st) < 0)
		memset(&api->sock_st, 0, sizeof(api->sock_st));
	{
		struct evhttp_bound_socket *bound =
		    evhttp_accept_socket_with_handle(api->http, fd);
		if (!bound) {
			snprintf(err, errlen, "%s: cannot serve", conf->path);
			unlink(conf->path);
			close(fd);
			r = EIO;
			goto fail;
		}
		evconnlistener_set_error_cb(
		    evhttp_bound_socket_get_listener(bound), accept_error);
	}
	pvc_daemon_set_graph_cb(d, graph_changed, api);
	return api;
fail:
	if (api) {
		if (api->http)
			evhttp_free(api->http);
		free(api->path);
		free(api);
	}
	errno = r;
	return NULL;
}

void pvc_api_free(struct pvc_api *api)
{
	struct stat sb;

	if (!api)
		return;
	pvc_daemon_set_graph_cb(api->d, NULL, NULL);
	/* The held requests are freed with their connections by evhttp;
	 * their operations are dropped with the daemon. */
	while (api->helds) {
		pvc_daemon_op_forget(api->helds->op);
		held_unlink(api->helds);
	}
	while (api->waiters) {
		struct waiter *w = api->waiters;
		evhttp_connection_set_closecb(w->evcon, NULL, NULL);
		waiter_unlink(w);
	}
	evhttp_free(api->http);
	/* Remove the socket file only if it is still ours: a successor may
	 * already have replaced it. */
	if (stat(api->path, &sb) == 0 && sb.st_ino == api->sock_st.st_ino &&
	    sb.st_dev == api->sock_st.st_dev)
		unlink(api->path);
	free(api->path);
	free(api);
}

/* Status socket: evhttp on a Unix socket, GET /links and GET /metrics. The
 * socket is created under umask 077 so that it is never reachable by
 * others, not even between bind and chmod. */
#include "xconnect/status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/prom.h"
#include "common/sock.h"
#include "xconnect/krelay.h"
#include "xconnect/metrics.h"
#include "xconnect/relay.h"

struct pvx_status {
	struct evhttp *http;
	struct pvx_reconciler *rc;
	char *path;
};

void pvx_status_reason(const struct pvx_rc_info *info, char *buf, size_t len)
{
	const struct pvx_link_conf *c = info->conf;
	const char *e = info->error ? info->error : "";
	const char *last;

	switch (info->state) {
	case PVX_RC_FAILED:
		/* Plugins write "<step> <where>: <reason>" (stream.c,
		 * http/listener.c): say which step failed and why, the
		 * where is in the listener column. */
		last = strrchr(e, ':');
		if (last && strncmp(e, "bind ", 5) == 0)
			snprintf(buf, len, "bind failed:%s", last + 1);
		else if (*e)
			snprintf(buf, len, "failed: %s", e);
		else
			snprintf(buf, len, "failed");
		return;
	case PVX_RC_UNSUPPORTED:
		snprintf(buf, len, "unsupported type '%s'", c->type);
		return;
	case PVX_RC_DRAINING:
		snprintf(buf, len, "draining (gone from the graph)");
		return;
	case PVX_RC_WAITING:
		snprintf(buf, len, "waiting for consumer (not running)");
		return;
	case PVX_RC_LISTENING:
		break;
	}
	/* Bound, but can it reach its backend? An empty socket: the provider
	 * has no address yet; pid 0: the provider container is not running
	 * (docs/graph.md). */
	if (!c->socket || !*c->socket)
		snprintf(buf, len, "waiting for address");
	else if (c->provider_pid == 0 && c->provider && *c->provider)
		snprintf(buf, len, "provider stopped");
	else
		snprintf(buf, len, "bound");
}

/* Counters of the slow and idle client guards (docs/xconnect.md). */
static void add_guard_counters(json_t *o, const struct pvx_link_stats *st)
{
	json_object_set_new(o, "refused_max_conns",
			    json_integer((json_int_t)st->refused_max_conns));
	json_object_set_new(o, "refused_per_client",
			    json_integer((json_int_t)st->refused_per_client));
	json_object_set_new(o, "timeout_first_byte",
			    json_integer((json_int_t)st->timeout_first_byte));
	json_object_set_new(o, "timeout_header",
			    json_integer((json_int_t)st->timeout_header));
}

/* http: requests and the backend connections they used (docs/xconnect.md,
 * "Backend keep-alive"); 0 for the stream plugins. */
static void add_http_counters(json_t *o, const struct pvx_link_stats *st)
{
	json_object_set_new(o, "requests",
			    json_integer((json_int_t)st->requests));
	json_object_set_new(o, "backend_connects",
			    json_integer((json_int_t)st->backend_connects));
	json_object_set_new(o, "backend_reused",
			    json_integer((json_int_t)st->backend_reused));
}

/* Backend health (docs/xconnect.md): state, since when it is down, the
 * last dial error, connect latency (last and mean, in ms), held clients. */
static void add_health(json_t *o, const struct pvx_link_stats *st)
{
	const struct pvx_link_health *h = &st->health;

	json_object_set_new(o, "health",
			    json_string(pvx_health_name(h->state)));
	if (h->state == PVX_HEALTH_DOWN)
		json_object_set_new(o, "down_since",
				    json_integer((json_int_t)h->down_since));
	if (h->last_error[0])
		json_object_set_new(o, "last_error",
				    json_string(h->last_error));
	if (h->connects) {
		json_object_set_new(
		    o, "connect_ms_last",
		    json_real((double)h->connect_us_last / 1000.0));
		json_object_set_new(o, "connect_ms_avg",
				    json_real((double)h->connect_us_sum /
					      (double)h->connects / 1000.0));
	}
	json_object_set_new(o, "held", json_integer((json_int_t)st->held));
}

static void add_link_json(const struct pvx_rc_info *info, void *arg)
{
	json_t *a = arg;
	const struct pvx_link_conf *c = info->conf;
	const struct pvx_link_stats *st = info->stats;
	char reason[300];
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:I, "
		      "s:I, s:I, s:I, s:I}",
		      "type", c->type, "name", c->name, "consumer", c->consumer,
		      "provider", c->provider, "target", c->target, "socket",
		      c->socket, "consumer_pid", (int)c->consumer_pid,
		      "provider_pid", (int)c->provider_pid, "state",
		      pvx_rc_state_name(info->state), "accepted",
		      (json_int_t)st->accepted, "active",
		      (json_int_t)st->active, "failed", (json_int_t)st->failed,
		      "bytes_in", (json_int_t)st->bytes_in, "bytes_out",
		      (json_int_t)st->bytes_out);
	if (!o)
		return;
	pvx_status_reason(info, reason, sizeof(reason));
	json_object_set_new(o, "reason", json_string(reason));
	if (c->ingress)
		json_object_set_new(o, "ingress", json_string(c->ingress));
	add_guard_counters(o, st);
	add_http_counters(o, st);
	if (info->error && *info->error)
		json_object_set_new(o, "error", json_string(info->error));
	json_object_set_new(o, "denied", json_integer((json_int_t)st->denied));
	add_health(o, st);
	json_object_set_new(o, "kernel_sessions",
			    json_integer((json_int_t)st->kernel_sessions));
	json_object_set_new(o, "kernel_bytes_in",
			    json_integer((json_int_t)st->kernel_bytes_in));
	json_object_set_new(o, "kernel_bytes_out",
			    json_integer((json_int_t)st->kernel_bytes_out));
	json_array_append_new(a, o);
}

json_t *pvx_status_kernel_relay_json(void)
{
	return json_pack("{s:s, s:b, s:s}", "mode",
			 pvx_krelay_mode_name(pvx_krelay_mode()), "active",
			 pvx_krelay_active(), "reason", pvx_krelay_reason());
}

static void add_session_json(const struct pvx_session_info *i, void *arg)
{
	json_t *o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:I, s:I}", "link", i->link, "client",
	    i->client, "backend", i->backend, "mode", i->mode, "bytes_in",
	    (json_int_t)i->bytes_in, "bytes_out", (json_int_t)i->bytes_out);

	if (o)
		json_array_append_new(arg, o);
}

json_t *pvx_status_sessions_json(void)
{
	json_t *a = json_array();

	if (!a)
		return NULL;
	pvx_relay_sync();
	pvx_session_foreach(add_session_json, a);
	return json_pack("{s:o, s:o}", "kernel_relay",
			 pvx_status_kernel_relay_json(), "sessions", a);
}

json_t *pvx_status_links_json(struct pvx_reconciler *rc)
{
	json_t *a = json_array();

	pvx_relay_sync();

	if (a)
		pvx_reconciler_foreach(rc, add_link_json, a);
	return a;
}

static void reply_json(struct evhttp_request *req, int code, const char *reason,
		       json_t *body)
{
	struct evbuffer *b = evbuffer_new();
	char *s =
	    body ? json_dumps(body, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;

	if (!b || !s) {
		free(s);
		if (b)
			evbuffer_free(b);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evbuffer_add(b, s, strlen(s));
	evbuffer_add(b, "\n", 1);
	free(s);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "application/json");
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

/* GET /metrics: the Prometheus text of every link (metrics.c). */
static void reply_metrics(struct evhttp_request *req, struct pvx_status *st)
{
	struct evbuffer *b;
	size_t len = 0;
	char *text;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		json_t *body =
		    json_pack("{s:s}", "error", "method not allowed");
		reply_json(req, 405, "Method Not Allowed", body);
		json_decref(body);
		return;
	}
	text = pvx_metrics_text(st->rc, &len);
	b = evbuffer_new();
	if (!text || !b) {
		free(text);
		if (b)
			evbuffer_free(b);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evbuffer_add(b, text, len);
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", PVX_PROM_CONTENT_TYPE);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct pvx_status *st = arg;
	const char *uri = evhttp_request_get_uri(req);
	size_t n = strcspn(uri, "?");
	json_t *body;

	if (n == 8 && strncmp(uri, "/metrics", 8) == 0) {
		reply_metrics(req, st);
		return;
	}
	if ((n == 6 && strncmp(uri, "/links", 6) == 0) ||
	    (n == 9 && strncmp(uri, "/sessions", 9) == 0)) {
		if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
			body =
			    json_pack("{s:s}", "error", "method not allowed");
			reply_json(req, 405, "Method Not Allowed", body);
		} else {
			body = n == 6 ? pvx_status_links_json(st->rc)
				      : pvx_status_sessions_json();
			reply_json(req, 200, "OK", body);
		}
	} else {
		body = json_pack("{s:s}", "error", "not found");
		reply_json(req, 404, "Not Found", body);
	}
	json_decref(body);
}

struct pvx_status *pvx_status_new(struct event_base *base, const char *path,
				  struct pvx_reconciler *rc, char *err,
				  size_t errlen)
{
	struct pvx_sock_err e = {0};
	struct pvx_status *st = NULL;
	int fd;

	/* A socket left by an earlier run is replaced; a live one (another
	 * pv-xconnect) or anything else at that path is not ours, and is
	 * left alone (common/sock.h). */
	fd = pvx_sock_listen_unix(AT_FDCWD, path, 0600, 16, NULL, &e);
	if (fd < 0) {
		snprintf(err, errlen, "%s %s: %s", e.step, path,
			 pvx_sock_strerror(&e, fd));
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st || !(st->path = strdup(path)) ||
	    !(st->http = evhttp_new(base))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	st->rc = rc;
	evhttp_set_allowed_methods(
	    st->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
			  EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(st->http, handle, st);
	evhttp_set_timeout(st->http, 10);
	/* Requests here are one line and no body: anything bigger is
	 * refused, not buffered, however much a client sends. */
	evhttp_set_max_headers_size(st->http, 8192);
	evhttp_set_max_body_size(st->http, 4096);
	if (evhttp_accept_socket(st->http, fd) < 0) {
		snprintf(err, errlen, "evhttp_accept_socket failed");
		goto fail;
	}
	return st;
fail:
	close(fd);
	if (st) {
		if (st->http)
			evhttp_free(st->http);
		free(st->path);
		free(st);
	}
	unlink(path);
	return NULL;
}

void pvx_status_free(struct pvx_status *st)
{
	if (!st)
		return;
	evhttp_free(st->http); /* closes the listening socket */
	unlink(st->path);
	free(st->path);
	free(st);
}

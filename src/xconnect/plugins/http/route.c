/* Routing of a request head to a route of its listener (longest
 * prefix) and the rewrite of heads: the request for the backend, the
 * Location of its answer, the PROXY protocol header. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "xconnect/plugins/http/http.h"

struct http_route *http_route_find(struct http_listener *l, const char *url,
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
bool http_has_dot_segment(const char *url, size_t len)
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

/* Whether the route's prefix is cut from the path (the default; a rule's
 * "strip_prefix": false keeps it). */
bool http_route_strips(const struct http_route *r)
{
	return r->plen > 0 && !r->link->conf.keep_prefix;
}

/* A backend behind a stripped prefix answers Location: /sub/ for what
 * the client knows as /api/sub/: an absolute-path Location (one '/', not
 * "//host") gets the prefix back in front. Absolute URLs and relative
 * references are left as they are (docs/xconnect.md). */
void http_location_prefix(struct http_conn *c, const struct pvx_http1_header *x,
			  struct evbuffer *o)
{
	if (x->name_len == 8 && strncasecmp(x->name, "location", 8) == 0 &&
	    c->route && http_route_strips(c->route) && x->value_len >= 1 &&
	    x->value[0] == '/' && (x->value_len == 1 || x->value[1] != '/'))
		evbuffer_add(o, c->route->prefix, c->route->plen);
}

static bool name_is(const struct pvx_http1_header *x, const char *name)
{
	size_t n = strlen(name);

	return x->name_len == n && strncasecmp(x->name, name, n) == 0;
}

/* One X-Forwarded-For: the client's ones folded, then its address. */
static void add_xff(struct evbuffer *o, const struct pvx_http1_head *hd,
		    const char *client_ip)
{
	evbuffer_add_printf(o, "X-Forwarded-For: ");
	for (size_t j = 0; j < hd->nh; j++)
		if (name_is(&hd->h[j], "x-forwarded-for")) {
			evbuffer_add(o, hd->h[j].value, hd->h[j].value_len);
			evbuffer_add(o, ", ", 2);
		}
	evbuffer_add_printf(o, "%s\r\n", client_ip);
}

/* The headers pvx adds, and the end of the head. */
static void add_own_headers(struct http_conn *c, struct evbuffer *o, size_t cut)
{
	const struct pvx_http1_head *hd = &c->req.head;

	/* HTTP/1.0 may come without Host; what goes out is HTTP/1.1. */
	if (!pvx_http1_find(hd, "host"))
		evbuffer_add_printf(o, "Host: %s\r\n", c->l->name);
	evbuffer_add_printf(o, "X-PV-Client: %s\r\nX-PV-Role: %s\r\n",
			    c->client, c->route->link->conf.role);
	if (cut)
		evbuffer_add_printf(o, "X-Forwarded-Prefix: %s\r\n",
				    c->route->prefix);
	if (c->req_chunked)
		evbuffer_add_printf(o, "Transfer-Encoding: chunked\r\n");
	if (c->upgrade) {
		const struct pvx_http1_header *u =
		    pvx_http1_find(hd, "upgrade");

		evbuffer_add_printf(o, "Connection: Upgrade\r\nUpgrade: ");
		evbuffer_add(o, u->value, u->value_len);
		evbuffer_add(o, "\r\n\r\n", 4);
	} else if (c->be_keep) {
		evbuffer_add(o, "\r\n", 2); /* HTTP/1.1: kept by default */
	} else {
		evbuffer_add_printf(o, "Connection: close\r\n\r\n");
	}
}

/* Builds the head for the backend in c->pending from the parsed request. */
void http_build_request(struct http_conn *c, const char *url, size_t len)
{
	const struct pvx_http1_head *hd = &c->req.head;
	const struct pvx_http1_header *ch = pvx_http1_find(hd, "connection");
	struct evbuffer *o = c->pending;
	size_t cut = http_route_strips(c->route) ? c->route->plen : 0;
	const char *rest = url + cut;
	size_t rlen = len - cut;

	evbuffer_add_printf(o, "%s ", hd->method);
	if (rlen == 0 || rest[0] == '?')
		evbuffer_add(o, "/", 1);
	evbuffer_add(o, rest, rlen);
	evbuffer_add_printf(o, " HTTP/1.1\r\n");
	for (size_t i = 0; i < hd->nh; i++) {
		const struct pvx_http1_header *x = &hd->h[i];

		if (pvx_http1_hop_by_hop(x, ch))
			continue;
		/* Ours alone (a client cannot forge them), added below. */
		if (name_is(x, "x-pv-client") || name_is(x, "x-pv-role") ||
		    name_is(x, "x-forwarded-prefix") ||
		    name_is(x, "x-forwarded-for"))
			continue;
		evbuffer_add(o, x->name, x->name_len);
		evbuffer_add(o, ": ", 2);
		evbuffer_add(o, x->value, x->value_len);
		evbuffer_add(o, "\r\n", 2);
	}
	add_xff(o, hd, c->client_ip);
	add_own_headers(c, o, cut);
	http_count_in(c, evbuffer_get_length(o));
}

/* One line per second at most for denied clients, with the number left
 * out (one limiter for the plugin: denials come in floods). */
void http_log_denied(const struct pvx_link *link, const char *client)
{
	static uint64_t last;
	static unsigned quiet;
	uint64_t now = pvx_now_ms();

	if (last != 0 && now - last < 1000) {
		quiet++;
		return;
	}
	last = now;
	pvx_warn("http link=%s target=%s: client %s not in allow: 403 "
		 "suppressed=%u",
		 link->conf.name, link->conf.target, client, quiet);
	quiet = 0;
}

/* The PROXY protocol header that opens each new backend connection of
 * this client (c->tag). It is also the connection's key in the pool: a
 * kept connection serves only the client its header names. A Unix backend
 * gets LOCAL. */
int http_proxy_header(struct http_conn *c)
{
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);
	int n;

	if (getsockname(bufferevent_getfd(c->cb), (struct sockaddr *)&local,
			&ll) < 0)
		ll = 0;
	n = pvx_pp_encode(c->route->link->conf.proxy_protocol,
			  c->peerlen ? (struct sockaddr *)&c->peer : NULL,
			  ll ? (struct sockaddr *)&local : NULL,
			  c->be.kind == PVX_BACKEND_UNIX, c->tag,
			  sizeof(c->tag));
	if (n < 0)
		return n;
	c->tag_len = (size_t)n;
	return 0;
}

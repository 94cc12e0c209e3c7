/* Graph sources of pv-xconnect: the control-socket client (HTTP over a
 * Unix socket, non-blocking in the event loop) and the graph file watcher.
 * Both keep the running links when their source fails: they only call
 * back with bodies they received whole. */
#include "xconnect/client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "common/clock.h"
#include "common/file.h"
#include "common/http1.h"
#include "common/log.h"
#include "common/sock.h"

/* Graph files are small; a larger one is a mistake, not a graph. */
#define GRAPH_FILE_MAX (8u << 20)

enum src_kind {
	SRC_CTRL, /* the control socket */
	SRC_FILE, /* --graph-file */
};

struct pvx_graph_src {
	enum src_kind kind;
	struct event_base *base;
	pvx_graph_cb cb;
	void *arg;
	struct event *timer; /* ctrl: next request; file: debounce */

	/* SRC_FILE */
	char *path;
	const char *fname; /* basename, inside path */
	int ifd;
	struct event *iev;
	bool file_failing; /* a failure was logged; log the recovery */
	/* Monotonic ms of the first change not read yet; 0: none pending. */
	uint64_t first_change;

	/* SRC_CTRL */
	char *sock;
	struct pvx_client_opts o;
	struct bufferevent *bev; /* the request in flight, if any */
	struct event *deadline;	 /* of the request in flight */
	bool sent_wait;		 /* the request in flight is a ?wait= */
	uint64_t sent_at;	 /* pvx_now_ms() */
	char etag[128];		 /* last one received; "" when none */
	int backoff_ms;
	bool failing; /* a failure was logged; quiet until recovery */
	size_t need;  /* bytes needed before parsing again (0: unknown) */
};

void pvx_client_opts_default(struct pvx_client_opts *o)
{
	o->interval_ms = 5000;
	o->backoff_first_ms = 100;
	o->backoff_max_ms = 5000;
	o->timeout_ms = 10000;
	/* The server holds a long-poll for up to ~30 s. */
	o->wait_timeout_ms = 65000;
	o->max_body = 8u << 20;
}

static void arm(struct event *ev, int ms)
{
	struct timeval tv = pvx_ms_tv((uint64_t)ms);

	evtimer_add(ev, &tv);
}

/* ------------------------------------------------------------------ */
/* HTTP answers, read by the one HTTP/1 layer (common/http1.h)         */

enum pvx_http_res pvx_http_resp_parse(const char *buf, size_t len, bool eof,
				      size_t max_body, struct pvx_http_resp *r)
{
	struct pvx_http1_resp *h = malloc(sizeof(*h));
	const struct pvx_http1_header *etag;
	int ret;

	memset(r, 0, sizeof(*r));
	if (!h) {
		snprintf(r->reason, sizeof(r->reason), "out of memory");
		return PVX_HTTP_BAD;
	}
	ret = pvx_http1_read_response(buf, len, eof, false, max_body, h);
	if (ret < 0) {
		snprintf(r->reason, sizeof(r->reason), "%s", h->h.err);
		free(h);
		return PVX_HTTP_BAD;
	}
	if (ret == 0) {
		r->need = h->need;
		free(h);
		return PVX_HTTP_MORE;
	}
	etag = pvx_http1_find(&h->h.head, "etag");
	if (etag && etag->value_len >= sizeof(r->etag)) {
		snprintf(r->reason, sizeof(r->reason),
			 "ETag longer than %zu bytes", sizeof(r->etag) - 1);
		pvx_http1_resp_free(h);
		free(h);
		return PVX_HTTP_BAD;
	}
	if (etag) {
		memcpy(r->etag, etag->value, etag->value_len);
		r->etag[etag->value_len] = '\0';
	}
	r->status = h->h.head.status;
	r->body = h->body; /* taken over */
	r->body_len = h->body_len;
	free(h);
	return PVX_HTTP_DONE;
}

void pvx_http_resp_free(struct pvx_http_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

/* ------------------------------------------------------------------ */
/* Control socket client                                               */

static void ctrl_request(struct pvx_graph_src *s);

static void ctrl_close(struct pvx_graph_src *s)
{
	if (s->bev) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	evtimer_del(s->deadline);
}

/* Any failure: keep the links, log once per streak, retry with backoff. */
static void ctrl_fail(struct pvx_graph_src *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void ctrl_fail(struct pvx_graph_src *s, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	ctrl_close(s);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!s->failing) {
		pvx_warn("control socket %s: %s; keeping the running links, "
			 "retrying",
			 s->sock, msg);
		s->failing = true;
	} else {
		pvx_debug("control socket %s: %s; retry in %d ms", s->sock, msg,
			  s->backoff_ms);
	}
	/* A server that answered without an ETag once may not have one
	 * after its restart either: start over with a plain GET. */
	s->etag[0] = '\0';
	arm(s->timer, s->backoff_ms);
	s->backoff_ms *= 2;
	if (s->backoff_ms > s->o.backoff_max_ms)
		s->backoff_ms = s->o.backoff_max_ms;
}

static void ctrl_done(struct pvx_graph_src *s, struct pvx_http_resp *r)
{
	bool was_wait = s->sent_wait;
	long took = (long)(pvx_now_ms() - s->sent_at);

	if (r->status != 200 && r->status != 304) {
		ctrl_fail(s, "HTTP status %d", r->status);
		return;
	}
	if (r->status == 304 && !was_wait) {
		ctrl_fail(s, "HTTP 304 to a plain request");
		return;
	}
	if (s->failing)
		pvx_info("control socket %s: answering again", s->sock);
	s->failing = false;
	s->backoff_ms = s->o.backoff_first_ms;
	if (r->status == 200) {
		bool same =
		    was_wait && r->etag[0] && strcmp(r->etag, s->etag) == 0;
		snprintf(s->etag, sizeof(s->etag), "%s", r->etag);
		s->cb(r->body, r->body_len, s->arg);
		/* Long-poll when the server gives ETags, unless it answered
		 * a wait at once with the same ETag: then it does not
		 * implement ?wait and we poll instead of spinning. */
		/* An answer to a wait that comes back at once means the graph
		 * changed meanwhile; a server that changes it on every
		 * request must not make us spin: at most one request per
		 * 10 ms then. */
		if (s->etag[0] && !same)
			arm(s->timer, was_wait && took < 10 ? 10 : 0);
		else
			arm(s->timer, s->o.interval_ms);
		return;
	}
	/* 304: unchanged. A server holds a wait for seconds; an immediate
	 * 304 means it does not, so do not spin on it. */
	arm(s->timer, took < 500 ? s->o.interval_ms : 0);
}

static void ctrl_read_cb(struct bufferevent *bev, void *arg)
{
	struct pvx_graph_src *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	struct pvx_http_resp r;
	enum pvx_http_res res;
	char *buf;

	if (s->need && len < s->need)
		return;
	if (len > s->o.max_body + 64 * 1024) {
		ctrl_fail(s, "answer larger than %zu bytes", s->o.max_body);
		return;
	}
	buf = (char *)evbuffer_pullup(in, -1);
	res = pvx_http_resp_parse(buf, len, false, s->o.max_body, &r);
	if (res == PVX_HTTP_BAD) {
		ctrl_fail(s, "bad answer: %s", r.reason);
		return;
	}
	if (res == PVX_HTTP_DONE) {
		ctrl_done(s, &r);
		pvx_http_resp_free(&r);
		ctrl_close(s);
		return;
	}
	/* With a Content-Length, do not copy the buffer together again
	 * before all of it is there. */
	s->need = r.need;
}

static void ctrl_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct pvx_graph_src *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct pvx_http_resp r;
	enum pvx_http_res res;
	size_t len;
	char *buf;

	if (what & BEV_EVENT_ERROR) {
		int e = EVUTIL_SOCKET_ERROR();
		ctrl_fail(s, "%s", e ? strerror(e) : "connection error");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		len = evbuffer_get_length(in);
		buf = (char *)evbuffer_pullup(in, -1);
		res = pvx_http_resp_parse(buf, len, true, s->o.max_body, &r);
		if (res != PVX_HTTP_DONE) {
			ctrl_fail(s, "bad answer: %s", r.reason);
			return;
		}
		ctrl_done(s, &r);
		pvx_http_resp_free(&r);
		ctrl_close(s);
	}
}

static void ctrl_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pvx_graph_src *s = arg;

	(void)fd;
	(void)what;
	ctrl_fail(s, "no complete answer within %d ms",
		  s->sent_wait ? s->o.wait_timeout_ms : s->o.timeout_ms);
}

static void urlencode(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in && o + 4 < outlen; in++) {
		unsigned char c = (unsigned char)*in;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

static void ctrl_request(struct pvx_graph_src *s)
{
	char q[3 * sizeof(s->etag) + 8];
	int fd, r;

	ctrl_close(s);
	s->need = 0;
	s->sent_wait = s->etag[0] != '\0';
	s->sent_at = pvx_now_ms();
	/* Connect by hand: a Unix connect succeeds or fails at once, and
	 * bufferevent_socket_connect would report that failure through a
	 * callback run inside the call. */
	r = pvx_sock_connect_unix(s->sock, &fd);
	if (r < 0 && r != -EINPROGRESS) {
		ctrl_fail(s, "connect: %s", strerror(-r));
		return;
	}
	s->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!s->bev) {
		close(fd);
		ctrl_fail(s, "out of memory");
		return;
	}
	bufferevent_setcb(s->bev, ctrl_read_cb, NULL, ctrl_event_cb, s);
	q[0] = '\0';
	if (s->sent_wait) {
		/* The ETag as sent, quotes included, percent-encoded. */
		char enc[3 * sizeof(s->etag)];
		urlencode(s->etag, enc, sizeof(enc));
		snprintf(q, sizeof(q), "?wait=%s", enc);
	}
	evbuffer_add_printf(bufferevent_get_output(s->bev),
			    "GET /xconnect-graph%s HTTP/1.1\r\n"
			    "Host: localhost\r\n"
			    "Accept: application/json\r\n"
			    "Connection: close\r\n\r\n",
			    q);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	arm(s->deadline, s->sent_wait ? s->o.wait_timeout_ms : s->o.timeout_ms);
}

static void ctrl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ctrl_request(arg);
}

struct pvx_graph_src *pvx_client_new(struct event_base *base,
				     const char *sock_path,
				     const struct pvx_client_opts *o,
				     pvx_graph_cb cb, void *arg)
{
	struct pvx_graph_src *s;

	if (strlen(sock_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->kind = SRC_CTRL;
	s->base = base;
	s->cb = cb;
	s->arg = arg;
	s->ifd = -1;
	s->o = *o;
	s->backoff_ms = o->backoff_first_ms;
	s->sock = strdup(sock_path);
	s->timer = evtimer_new(base, ctrl_timer_cb, s);
	s->deadline = evtimer_new(base, ctrl_deadline_cb, s);
	if (!s->sock || !s->timer || !s->deadline) {
		pvx_graph_src_free(s);
		errno = ENOMEM;
		return NULL;
	}
	arm(s->timer, 0);
	return s;
}

/* ------------------------------------------------------------------ */
/* Graph file                                                          */

static void file_load(struct pvx_graph_src *s)
{
	size_t len;
	char *buf;
	int r = pvx_file_read(s->path, GRAPH_FILE_MAX, &buf, &len);

	if (r < 0) {
		if (!s->file_failing)
			pvx_warn("graph file %s: %s; keeping the running links",
				 s->path, pvx_file_strerror(r));
		s->file_failing = true;
		return;
	}
	if (s->file_failing)
		pvx_info("graph file %s: readable again", s->path);
	s->file_failing = false;
	s->cb(buf, len, s->arg);
	free(buf);
}

/* Editors and atomic writers replace the file (rename over it) or write
 * it in several steps: every event re-arms the timer, so the file is read
 * after FILE_QUIET_MS without a change, but never later than FILE_MAX_MS
 * after the first change: a file rewritten without pause is still read. */
#define FILE_QUIET_MS 30
#define FILE_MAX_MS 500

static void file_debounce_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pvx_graph_src *s = arg;

	(void)fd;
	(void)what;
	s->first_change = 0;
	file_load(s);
}

/* The delay before reading after one more change. */
static int file_delay(struct pvx_graph_src *s)
{
	uint64_t now = pvx_now_ms(), left;

	if (s->first_change == 0)
		s->first_change = now ? now : 1;
	left = now - s->first_change >= FILE_MAX_MS
		   ? 0
		   : FILE_MAX_MS - (now - s->first_change);
	return left < FILE_QUIET_MS ? (int)left : FILE_QUIET_MS;
}

static void file_inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pvx_graph_src *s = arg;
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t n;

	(void)what;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			if (ev->len && strcmp(ev->name, s->fname) == 0)
				hit = true;
			if (ev->mask & IN_Q_OVERFLOW)
				hit = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (hit)
		arm(s->timer, file_delay(s));
}

struct pvx_graph_src *pvx_graph_file_new(struct event_base *base,
					 const char *path, pvx_graph_cb cb,
					 void *arg)
{
	struct pvx_graph_src *s = calloc(1, sizeof(*s));
	char *slash;
	char dir[PATH_MAX];
	int e = ENOMEM;

	if (!s)
		return NULL;
	s->kind = SRC_FILE;
	s->base = base;
	s->cb = cb;
	s->arg = arg;
	s->ifd = -1;
	s->path = strdup(path);
	if (!s->path)
		goto fail;
	slash = strrchr(s->path, '/');
	s->fname = slash ? slash + 1 : s->path;
	if (slash == s->path)
		snprintf(dir, sizeof(dir), "/");
	else if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - s->path),
			 s->path);
	else
		snprintf(dir, sizeof(dir), ".");
	if (!*s->fname) {
		e = EISDIR;
		goto fail;
	}
	s->timer = evtimer_new(base, file_debounce_cb, s);
	if (!s->timer)
		goto fail;
	s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->ifd < 0) {
		e = errno;
		goto fail;
	}
	if (inotify_add_watch(s->ifd, dir,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
				  IN_MODIFY | IN_DELETE | IN_MOVED_FROM) < 0) {
		e = errno;
		goto fail;
	}
	s->iev =
	    event_new(base, s->ifd, EV_READ | EV_PERSIST, file_inotify_cb, s);
	if (!s->iev || event_add(s->iev, NULL) < 0)
		goto fail;
	file_load(s);
	return s;
fail:
	pvx_graph_src_free(s);
	errno = e;
	return NULL;
}

void pvx_graph_src_refresh(struct pvx_graph_src *s)
{
	if (s->kind == SRC_FILE) {
		file_load(s);
		return;
	}
	/* Drop a long-poll in flight and ask again at once. */
	ctrl_close(s);
	s->etag[0] = '\0';
	s->backoff_ms = s->o.backoff_first_ms;
	arm(s->timer, 0);
}

void pvx_graph_src_free(struct pvx_graph_src *s)
{
	if (!s)
		return;
	if (s->bev)
		bufferevent_free(s->bev);
	if (s->deadline)
		event_free(s->deadline);
	if (s->timer)
		event_free(s->timer);
	if (s->iev)
		event_free(s->iev);
	if (s->ifd >= 0)
		close(s->ifd);
	free(s->path);
	free(s->sock);
	free(s);
}

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
/* HTTP response parsing (pure)                                        */

#define BAD(...)                                                               \
	do {                                                                   \
		snprintf(r->reason, sizeof(r->reason), __VA_ARGS__);           \
		return PVX_HTTP_BAD;                                           \
	} while (0)

static const char *find_crlfcrlf(const char *b, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++)
		if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' &&
		    b[i + 3] == '\n')
			return b + i;
	return NULL;
}

static bool parse_size(const char *s, size_t n, int base, size_t *out)
{
	size_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int d;
		char c = s[i];
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		if (v > (SIZE_MAX - (size_t)d) / (size_t)base)
			return false;
		v = v * (size_t)base + (size_t)d;
	}
	if (i == 0)
		return false;
	*out = v;
	return true;
}

/* Walks a chunked body from p; with decode, moves the data together in
 * place. Returns MORE until the last chunk and the trailer are in. */
static enum pvx_http_res chunked(char *p, size_t len, bool decode,
				 size_t max_body, struct pvx_http_resp *r)
{
	size_t pos = 0, out = 0;

	for (;;) {
		size_t sz, eol;
		char *nl = memchr(p + pos, '\n', len - pos);
		if (!nl)
			return PVX_HTTP_MORE;
		eol = (size_t)(nl - p);
		if (!parse_size(p + pos, eol - pos, 16, &sz))
			BAD("bad chunk size");
		pos = eol + 1;
		if (sz == 0) {
			/* Trailer fields up to an empty line. */
			for (;;) {
				nl = memchr(p + pos, '\n', len - pos);
				if (!nl)
					return PVX_HTTP_MORE;
				eol = (size_t)(nl - p);
				if (eol == pos ||
				    (eol == pos + 1 && p[pos] == '\r'))
					break;
				pos = eol + 1;
			}
			r->body = p;
			r->body_len = out;
			return PVX_HTTP_DONE;
		}
		if (sz > max_body || out + sz > max_body)
			BAD("body larger than %zu bytes", max_body);
		if (len - pos < sz + 2)
			return PVX_HTTP_MORE;
		if (p[pos + sz] == '\r' ? p[pos + sz + 1] != '\n'
					: p[pos + sz] != '\n')
			BAD("bad chunk end");
		if (decode)
			memmove(p + out, p + pos, sz);
		out += sz;
		pos += sz + (p[pos + sz] == '\r' ? 2 : 1);
	}
}

enum pvx_http_res pvx_http_resp_parse(char *buf, size_t len, bool eof,
				      size_t max_body, struct pvx_http_resp *r)
{
	const char *end, *line, *next;
	char *body;
	size_t clen = 0, avail;
	bool has_clen = false, is_chunked = false;
	int status;
	enum pvx_http_res res;

	memset(r, 0, sizeof(*r));
	end = find_crlfcrlf(buf, len);
	if (!end) {
		if (len > 64 * 1024)
			BAD("header larger than 64 KiB");
		if (eof)
			BAD(len ? "connection closed inside the header"
				: "connection closed without an answer");
		return PVX_HTTP_MORE;
	}
	/* "HTTP/1.x NNN": buf is not NUL-terminated, so no sscanf. */
	if (end - buf < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[7] < '0' ||
	    buf[7] > '9' || buf[8] != ' ' || buf[9] < '1' || buf[9] > '5' ||
	    buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9' ||
	    (end - buf > 12 && buf[12] != ' ' && buf[12] != '\r'))
		BAD("not an HTTP/1.x status line");
	status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	r->status = status;
	line = memchr(buf, '\n', (size_t)(end - buf));
	for (line = line ? line + 1 : end; line < end; line = next + 1) {
		const char *colon, *v, *ve;
		size_t nlen;

		next = memchr(line, '\n', (size_t)(end + 2 - line));
		if (!next)
			break;
		colon = memchr(line, ':', (size_t)(next - line));
		if (!colon)
			BAD("header line without ':'");
		nlen = (size_t)(colon - line);
		v = colon + 1;
		ve = next;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v &&
		       (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (nlen == 14 &&
		    strncasecmp(line, "Content-Length", 14) == 0) {
			size_t n2;
			if (!parse_size(v, (size_t)(ve - v), 10, &n2) ||
			    (size_t)(ve - v) > 18 || (has_clen && n2 != clen))
				BAD("bad Content-Length");
			for (const char *q = v; q < ve; q++)
				if (*q < '0' || *q > '9')
					BAD("bad Content-Length");
			clen = n2;
			has_clen = true;
		} else if (nlen == 17 &&
			   strncasecmp(line, "Transfer-Encoding", 17) == 0) {
			if ((size_t)(ve - v) >= 7 &&
			    strncasecmp(ve - 7, "chunked", 7) == 0)
				is_chunked = true;
		} else if (nlen == 4 && strncasecmp(line, "ETag", 4) == 0) {
			size_t n2 = (size_t)(ve - v);
			if (n2 >= sizeof(r->etag))
				BAD("ETag longer than %zu bytes",
				    sizeof(r->etag) - 1);
			memcpy(r->etag, v, n2);
			r->etag[n2] = '\0';
		}
	}
	body = (char *)end + 4;
	avail = len - (size_t)(body - buf);
	r->body = body;
	/* No body in 1xx, 204 and 304 answers whatever the headers say. */
	if (status == 304 || status == 204 || status < 200)
		return PVX_HTTP_DONE;
	if (is_chunked) {
		res = chunked(body, avail, false, max_body, r);
		if (res == PVX_HTTP_DONE)
			return chunked(body, avail, true, max_body, r);
		if (res == PVX_HTTP_MORE && eof)
			BAD("connection closed inside a chunked body");
		return res;
	}
	if (has_clen) {
		if (clen > max_body)
			BAD("body larger than %zu bytes", max_body);
		if (avail < clen) {
			r->need = (size_t)(body - buf) + clen;
			if (eof)
				BAD("connection closed after %zu of %zu body "
				    "bytes",
				    avail, clen);
			return PVX_HTTP_MORE;
		}
		r->body_len = clen;
		return PVX_HTTP_DONE;
	}
	/* HTTP/1.0 style: the body ends when the server closes. */
	if (avail > max_body)
		BAD("body larger than %zu bytes", max_body);
	if (!eof)
		return PVX_HTTP_MORE;
	r->body_len = avail;
	return PVX_HTTP_DONE;
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

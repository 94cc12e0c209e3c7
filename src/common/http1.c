/* The HTTP/1.x layer (see http1.h, docs/ARCHITECTURE.md): libhttp-parser
 * does the state machine; the raw header block is checked first, more
 * strictly than it does, so that the http plugin and any backend agree on
 * where each message ends (no request smuggling through it), and the
 * clients read answers by the same rules. */
#include "common/http1.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int fail(struct pvx_http1 *h, int status, const char *why)
{
	if (h->status == 0) {
		h->status = status;
		snprintf(h->err, sizeof(h->err), "%s", why);
	}
	return -EINVAL;
}

/* A malformed message: 400 for a request, 502 for a backend's answer. */
static int bad(struct pvx_http1 *h, const char *why)
{
	return fail(h, h->request ? 400 : 502, why);
}

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A header-value byte: visible, blank, or obs-text; no other control. */
static bool is_vbyte(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static struct pvx_http1 *of(http_parser *p)
{
	return p->data;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct pvx_http1_head *hd = &of(p)->head;

	if (!hd->url)
		hd->url = at;
	hd->url_len = (size_t)(at + len - hd->url);
	return 0;
}

static int on_status(http_parser *p, const char *at, size_t len)
{
	struct pvx_http1_head *hd = &of(p)->head;

	if (!hd->reason)
		hd->reason = at;
	hd->reason_len = (size_t)(at + len - hd->reason);
	return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
	struct pvx_http1 *h = of(p);
	struct pvx_http1_head *hd = &h->head;
	struct pvx_http1_header *x;

	if (h->in_value || hd->nh == 0) {
		if (hd->nh == PVX_HTTP1_MAX_HEADERS) {
			fail(h, 431, "too many header lines");
			return 1;
		}
		x = &hd->h[hd->nh++];
		*x = (struct pvx_http1_header){.name = at};
		h->in_value = false;
	}
	x = &hd->h[hd->nh - 1];
	x->name_len = (size_t)(at + len - x->name);
	return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
	struct pvx_http1 *h = of(p);
	struct pvx_http1_header *x = &h->head.h[h->head.nh - 1];

	if (!h->in_value) {
		x->value = at;
		h->in_value = true;
	}
	x->value_len = (size_t)(at + len - x->value);
	while (x->value_len && (x->value[x->value_len - 1] == ' ' ||
				x->value[x->value_len - 1] == '\t'))
		x->value_len--;
	return 0;
}

static bool name_is(const struct pvx_http1_header *x, const char *name)
{
	return x->name_len == strlen(name) &&
	       strncasecmp(x->name, name, x->name_len) == 0;
}

/* Whether a Connection token names a header that must not be dropped as
 * hop-by-hop: the framing headers (the body would be forwarded without
 * its length: smuggling) and, in requests, those the proxy routes on or
 * adds itself. docs/security.md. */
static bool protected_token(const char *t, size_t len, bool request)
{
	static const char *const framing[] = {"content-length",
					      "transfer-encoding"};
	static const char *const routing[] = {"host", "forwarded",
					      "x-forwarded-for"};
	static const char *const prefixes[] = {"x-pv-", "x-forwarded-"};

	for (size_t i = 0; i < sizeof(framing) / sizeof(framing[0]); i++)
		if (len == strlen(framing[i]) &&
		    strncasecmp(t, framing[i], len) == 0)
			return true;
	if (!request)
		return false;
	for (size_t i = 0; i < sizeof(routing) / sizeof(routing[0]); i++)
		if (len == strlen(routing[i]) &&
		    strncasecmp(t, routing[i], len) == 0)
			return true;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (len >= strlen(prefixes[i]) &&
		    strncasecmp(t, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

/* Every Connection header, every token of it. */
static int check_connection(struct pvx_http1 *h)
{
	const struct pvx_http1_head *hd = &h->head;
	char why[96];

	for (size_t i = 0; i < hd->nh; i++) {
		const struct pvx_http1_header *x = &hd->h[i];
		const char *v = x->value;
		size_t len = x->value_len, p = 0;

		if (!name_is(x, "connection"))
			continue;
		while (p < len) {
			size_t s, e;

			while (p < len &&
			       (v[p] == ' ' || v[p] == '\t' || v[p] == ','))
				p++;
			s = p;
			while (p < len && v[p] != ',')
				p++;
			e = p;
			while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
				e--;
			if (e > s &&
			    protected_token(v + s, e - s, h->request)) {
				snprintf(why, sizeof(why),
					 "Connection names %.*s", (int)(e - s),
					 v + s);
				return bad(h, why);
			}
		}
	}
	return 0;
}

/* The framing rules libhttp-parser is lenient about. */
static int check_head(struct pvx_http1 *h)
{
	struct pvx_http1_head *hd = &h->head;
	const struct pvx_http1_header *cl = NULL, *te = NULL;
	unsigned nhost = 0;

	for (size_t i = 0; i < hd->nh; i++) {
		const struct pvx_http1_header *x = &hd->h[i];

		if (name_is(x, "content-length")) {
			if (cl && (cl->value_len != x->value_len ||
				   memcmp(cl->value, x->value, x->value_len)))
				return bad(h, "differing Content-Length");
			cl = x;
		} else if (name_is(x, "transfer-encoding")) {
			if (te)
				return bad(h,
					   "more than one Transfer-Encoding");
			te = x;
		} else if (name_is(x, "host")) {
			nhost++;
		}
	}
	if (cl && te)
		return bad(h, "both Content-Length and Transfer-Encoding");
	if (hd->major != 1)
		return bad(h, "not HTTP/1.x");
	if (!h->request && (hd->status < 100 || hd->status > 599))
		return bad(h, "status code out of range");
	if (check_connection(h) < 0)
		return -EINVAL;
	/* Anything else (gzip, a list) would leave the end of the body to
	 * guesswork, or to the close: refused both ways. */
	if (te &&
	    !(te->value_len == 7 && strncasecmp(te->value, "chunked", 7) == 0))
		return bad(h, "Transfer-Encoding other than chunked");
	if (!h->request)
		return 0;
	if (nhost > 1 || (nhost == 0 && hd->minor >= 1))
		return fail(h, 400, "HTTP/1.1 needs exactly one Host");
	if (hd->method_id == HTTP_CONNECT)
		return fail(h, 400, "CONNECT is not proxied");
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct pvx_http1 *h = of(p);
	struct pvx_http1_head *hd = &h->head;

	hd->major = p->http_major;
	hd->minor = p->http_minor;
	hd->status = (int)p->status_code;
	hd->method_id = (int)p->method;
	hd->method = h->request ? http_method_str(p->method) : NULL;
	hd->chunked = (p->flags & F_CHUNKED) != 0;
	hd->content_length =
	    (p->flags & F_CONTENTLENGTH) && p->content_length != ULLONG_MAX
		? (int64_t)p->content_length
		: -1;
	hd->keep_alive = http_should_keep_alive(p) != 0;
	if (check_head(h) < 0)
		return -1;
	h->head_done = true;
	if (h->request)
		hd->upgrade =
		    p->upgrade && !hd->chunked && hd->content_length <= 0;
	else
		hd->upgrade = hd->status == 101;
	/* 1xx, 204 and 304 answers have no body whatever their headers say
	 * (RFC 9112 6.3); a 101 ends the parser above anyway. */
	if (!h->request && hd->status != 101 &&
	    (hd->status < 200 || hd->status == 204 || hd->status == 304))
		return 1;
	return h->skip_body ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct pvx_http1 *h = of(p);

	if (h->on_body && h->on_body(h->arg, at, len)) {
		fail(h, 500, "body consumer failed");
		return 1;
	}
	return 0;
}

static int on_message_complete(http_parser *p)
{
	of(p)->msg_done = true;
	/* Stop right here: what follows is the next message. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_status = on_status,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void pvx_http1_init(struct pvx_http1 *h, bool request,
		    pvx_http1_body_fn on_body_fn, void *arg)
{
	memset(h, 0, sizeof(*h));
	http_parser_init(&h->p, request ? HTTP_REQUEST : HTTP_RESPONSE);
	h->p.data = h;
	h->request = request;
	h->on_body = on_body_fn;
	h->arg = arg;
	h->head.content_length = -1;
}

/* head_len, with the reason of a -1. */
static ssize_t scan_head(const char *buf, size_t len, const char **why)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\0') {
			*why = "NUL byte in the header block";
			return -1;
		}
		if (buf[i] == '\r' && i + 1 < len && buf[i + 1] != '\n') {
			*why = "CR without LF in the header block";
			return -1;
		}
		if (buf[i] != '\n')
			continue;
		if (i == 0 || buf[i - 1] != '\r') {
			*why = "bare LF (line end without CR) in the header "
			       "block";
			return -1;
		}
		if (i >= 3 && buf[i - 2] == '\n')
			return (ssize_t)(i + 1);
	}
	return 0;
}

ssize_t pvx_http1_head_len(const char *buf, size_t len)
{
	const char *why;

	return scan_head(buf, len, &why);
}

/* Line by line: the start line without control bytes, then "name:value"
 * lines with a token name right before the colon and no folding. */
static int check_raw(struct pvx_http1 *h, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len - 2; /* before the empty line */
	bool first = true;

	while (p < end) {
		const char *eol = memchr(p, '\r', (size_t)(end - p));
		const char *q = p;

		if (!eol)
			eol = end;
		if (first) {
			for (; q < eol; q++)
				if ((unsigned char)*q < 0x20 || *q == 0x7f)
					return bad(h, "control byte in "
						      "start line");
			first = false;
		} else {
			if (*p == ' ' || *p == '\t')
				return bad(h, "folded header line (obs-fold)");
			while (q < eol && is_tchar((unsigned char)*q))
				q++;
			if (q == p || q == eol || *q != ':')
				return bad(h, "malformed header name");
			for (q++; q < eol; q++)
				if (!is_vbyte((unsigned char)*q))
					return bad(h, "control byte in header "
						      "value");
		}
		p = eol + 2;
	}
	return 0;
}

static int parser_error(struct pvx_http1 *h)
{
	enum http_errno e = HTTP_PARSER_ERRNO(&h->p);
	char why[96];

	if (h->status)
		return -EINVAL;
	/* Before the first header name: the start line is at fault. */
	if (!h->head_done && h->head.nh == 0) {
		snprintf(why, sizeof(why), "not an HTTP/1.x %s line (%s)",
			 h->request ? "request" : "status",
			 http_errno_description(e));
		return bad(h, why);
	}
	return bad(h, http_errno_description(e));
}

static ssize_t execute(struct pvx_http1 *h, const char *buf, size_t len)
{
	size_t n;
	enum http_errno e;

	if (h->status)
		return -EINVAL;
	if (h->msg_done)
		return 0;
	n = http_parser_execute(&h->p, &settings, buf, len);
	e = HTTP_PARSER_ERRNO(&h->p);
	if (h->status || (e != HPE_OK && e != HPE_PAUSED))
		return parser_error(h);
	return (ssize_t)n;
}

int pvx_http1_parse_head(struct pvx_http1 *h, const char *buf, size_t len)
{
	ssize_t n;

	if (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0)
		return bad(h, "incomplete header block");
	if (check_raw(h, buf, len) < 0)
		return -EINVAL;
	n = execute(h, buf, len);
	if (n < 0)
		return -EINVAL;
	if (!h->head_done)
		return bad(h, "malformed header block");
	/* An upgrade request stops the parser after the head: the rest is
	 * another protocol. */
	if (h->request && h->head.upgrade)
		h->msg_done = true;
	return 0;
}

enum {
	CK_SIZE,	  /* hex digits of a chunk size */
	CK_EXT,		  /* after the size: blanks, ";name=value" */
	CK_SIZE_LF,	  /* CR seen after the size line */
	CK_DATA,	  /* chunk bytes */
	CK_DATA_CR,	  /* CR expected after the chunk data */
	CK_DATA_LF,	  /* LF expected after that CR */
	CK_TRAILER_START, /* start of a trailer line or the final CRLF */
	CK_TRAILER,	  /* inside a trailer line (discarded) */
	CK_TRAILER_LF,	  /* CR seen at the end of a trailer line */
	CK_END_LF,	  /* CR of the final empty line seen */
};

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static ssize_t chunk_fail(struct pvx_http1 *h, const char *why)
{
	return bad(h, why);
}

/* Strict chunked decoding (RFC 9112 7.1): every line ends in CRLF, sizes
 * are 1-15 hex digits, data is followed by CRLF; trailers are dropped. */
static ssize_t feed_chunked(struct pvx_http1 *h, const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char ch = buf[i];
		unsigned char u = (unsigned char)ch;
		int v;

		switch (h->ck_state) {
		case CK_SIZE:
			v = hexval(ch);
			if (v >= 0) {
				if (++h->ck_digits > 15)
					return chunk_fail(h, "chunk size too "
							     "large");
				h->ck_left = h->ck_left * 16 + (unsigned)v;
				break;
			}
			if (h->ck_digits == 0)
				return chunk_fail(h, "bad chunk size");
			if (ch == '\r')
				h->ck_state = CK_SIZE_LF;
			else if (ch == ';' || ch == ' ' || ch == '\t')
				h->ck_state = CK_EXT;
			else if (ch == '\n')
				return chunk_fail(h, "chunk size line without "
						     "CRLF");
			else
				return chunk_fail(h, "bad chunk size");
			break;
		case CK_EXT:
			if (ch == '\r')
				h->ck_state = CK_SIZE_LF;
			else if (!is_vbyte(u))
				return chunk_fail(h, "bad chunk extension");
			break;
		case CK_SIZE_LF:
			if (ch != '\n')
				return chunk_fail(h, "chunk size line without "
						     "CRLF");
			h->ck_state = h->ck_left ? CK_DATA : CK_TRAILER_START;
			break;
		case CK_DATA: {
			size_t k = len - i;

			if (k > h->ck_left)
				k = (size_t)h->ck_left;
			if (h->on_body && h->on_body(h->arg, buf + i, k))
				return fail(h, 500, "body consumer failed");
			h->ck_left -= k;
			i += k - 1;
			if (h->ck_left == 0)
				h->ck_state = CK_DATA_CR;
			break;
		}
		case CK_DATA_CR:
			if (ch != '\r')
				return chunk_fail(h, "chunk data not followed "
						     "by CRLF");
			h->ck_state = CK_DATA_LF;
			break;
		case CK_DATA_LF:
			if (ch != '\n')
				return chunk_fail(h, "chunk data not followed "
						     "by CRLF");
			h->ck_state = CK_SIZE;
			h->ck_digits = 0;
			break;
		case CK_TRAILER_START:
			if (ch == '\r') {
				h->ck_state = CK_END_LF;
				break;
			}
			if (ch == ' ' || ch == '\t' || !is_tchar(u))
				return chunk_fail(h, "bad trailer line");
			h->ck_state = CK_TRAILER;
			break;
		case CK_TRAILER:
			if (++h->ck_trailer > PVX_HTTP1_MAX_HEAD)
				return chunk_fail(h, "trailers too large");
			if (ch == '\r')
				h->ck_state = CK_TRAILER_LF;
			else if (!is_vbyte(u))
				return chunk_fail(h, "bad trailer line");
			break;
		case CK_TRAILER_LF:
			if (ch != '\n')
				return chunk_fail(h, "trailer line without "
						     "CRLF");
			h->ck_state = CK_TRAILER_START;
			break;
		case CK_END_LF:
			if (ch != '\n')
				return chunk_fail(h, "last chunk without CRLF");
			h->msg_done = true;
			return (ssize_t)(i + 1);
		}
	}
	return (ssize_t)i;
}

ssize_t pvx_http1_feed_body(struct pvx_http1 *h, const char *buf, size_t len)
{
	if (!h->head_done)
		return fail(h, 500, "body before head");
	if (h->status)
		return -EINVAL;
	/* No bytes is not the end: libhttp-parser would take it for EOF. */
	if (h->msg_done || len == 0)
		return 0;
	if (h->head.chunked)
		return feed_chunked(h, buf, len);
	return execute(h, buf, len);
}

int pvx_http1_eof(struct pvx_http1 *h)
{
	if (h->msg_done)
		return 0;
	if (h->head.chunked || execute(h, NULL, 0) < 0 || !h->msg_done)
		return bad(h, "message cut short");
	return 0;
}

bool pvx_http1_until_close(const struct pvx_http1 *h)
{
	const struct pvx_http1_head *hd = &h->head;

	return !h->request && h->head_done && !h->msg_done && !hd->upgrade &&
	       !h->skip_body && !hd->chunked && hd->content_length < 0 &&
	       hd->status >= 200 && hd->status != 204 && hd->status != 304;
}

const struct pvx_http1_header *pvx_http1_find(const struct pvx_http1_head *hd,
					      const char *name)
{
	for (size_t i = 0; i < hd->nh; i++)
		if (name_is(&hd->h[i], name))
			return &hd->h[i];
	return NULL;
}

bool pvx_http1_list_has(const char *v, size_t len, const char *token)
{
	size_t tl = strlen(token), i = 0;

	while (i < len) {
		size_t s, e;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, token, tl) == 0)
			return true;
	}
	return false;
}

bool pvx_http1_hop_by_hop(const struct pvx_http1_header *x,
			  const struct pvx_http1_header *conn)
{
	static const char *const names[] = {
	    "connection", "keep-alive",	       "te",
	    "trailer",	  "transfer-encoding", "upgrade",
	};
	char name[64];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (name_is(x, names[i]))
			return true;
	if (x->name_len >= 6 && strncasecmp(x->name, "proxy-", 6) == 0)
		return true;
	/* Headers the sender listed in Connection are for this hop only. */
	if (conn && x->name_len < sizeof(name)) {
		memcpy(name, x->name, x->name_len);
		name[x->name_len] = '\0';
		if (pvx_http1_list_has(conn->value, conn->value_len, name))
			return true;
	}
	return false;
}

const char *pvx_http1_reason(int status)
{
	static const struct {
		int status;
		const char *text;
	} table[] = {
	    {100, "Continue"},
	    {101, "Switching Protocols"},
	    {200, "OK"},
	    {201, "Created"},
	    {202, "Accepted"},
	    {204, "No Content"},
	    {206, "Partial Content"},
	    {301, "Moved Permanently"},
	    {302, "Found"},
	    {303, "See Other"},
	    {304, "Not Modified"},
	    {307, "Temporary Redirect"},
	    {308, "Permanent Redirect"},
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {408, "Request Timeout"},
	    {409, "Conflict"},
	    {411, "Length Required"},
	    {412, "Precondition Failed"},
	    {413, "Content Too Large"},
	    {414, "URI Too Long"},
	    {415, "Unsupported Media Type"},
	    {422, "Unprocessable Content"},
	    {429, "Too Many Requests"},
	    {431, "Request Header Fields Too Large"},
	    {500, "Internal Server Error"},
	    {501, "Not Implemented"},
	    {502, "Bad Gateway"},
	    {503, "Service Unavailable"},
	    {504, "Gateway Timeout"},
	    {505, "HTTP Version Not Supported"},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].status == status)
			return table[i].text;
	return "Unknown";
}

/* --- a whole response in one buffer ------------------------------------ */

static int resp_body(void *arg, const char *buf, size_t len)
{
	struct pvx_http1_resp *r = arg;

	if (len > r->max_body - r->body_len) {
		char why[64];

		snprintf(why, sizeof(why), "body larger than %zu bytes",
			 r->max_body);
		bad(&r->h, why);
		return 1;
	}
	if (r->keep)
		memcpy(r->body + r->body_len, buf, len);
	r->body_len += len;
	return 0;
}

static int resp_bad(struct pvx_http1_resp *r, const char *why)
{
	bad(&r->h, why);
	return -EBADMSG;
}

/* One pass over buf: 1 complete, 0 more, -EBADMSG. With r->keep, the body
 * is copied into r->body, which has room for r->body_len + 1 bytes of the
 * pass before. */
static int resp_pass(const char *buf, size_t len, bool eof, bool head,
		     struct pvx_http1_resp *r)
{
	const char *why = NULL;
	ssize_t hl = scan_head(buf, len, &why);
	const struct pvx_http1_head *hd = &r->h.head;
	char msg[96];

	pvx_http1_init(&r->h, false, resp_body, r);
	r->h.skip_body = head;
	r->body_len = 0;
	if (hl < 0)
		return resp_bad(r, why);
	if (hl > PVX_HTTP1_MAX_HEAD || (hl == 0 && len > PVX_HTTP1_MAX_HEAD)) {
		snprintf(msg, sizeof(msg), "header block larger than %d bytes",
			 PVX_HTTP1_MAX_HEAD);
		return resp_bad(r, msg);
	}
	if (hl == 0) {
		if (!eof)
			return 0;
		return resp_bad(r, len ? "connection closed inside the header"
				       : "connection closed without an answer");
	}
	if (pvx_http1_parse_head(&r->h, buf, (size_t)hl) < 0)
		return -EBADMSG;
	if (hd->content_length > 0 &&
	    (uint64_t)hd->content_length > r->max_body && !r->h.msg_done) {
		snprintf(msg, sizeof(msg), "body larger than %zu bytes",
			 r->max_body);
		return resp_bad(r, msg);
	}
	if (!r->h.msg_done &&
	    pvx_http1_feed_body(&r->h, buf + hl, len - (size_t)hl) < 0)
		return -EBADMSG;
	if (r->h.msg_done)
		return 1;
	if (hd->content_length > 0)
		r->need = (size_t)hl + (size_t)hd->content_length;
	if (!eof)
		return 0;
	if (hd->chunked)
		return resp_bad(r, "connection closed inside a chunked body");
	if (hd->content_length > 0) {
		snprintf(msg, sizeof(msg),
			 "connection closed after %zu of %lld body bytes",
			 r->body_len, (long long)hd->content_length);
		return resp_bad(r, msg);
	}
	return pvx_http1_eof(&r->h) < 0 ? -EBADMSG : 1;
}

int pvx_http1_read_response(const char *buf, size_t len, bool eof, bool head,
			    size_t max_body, struct pvx_http1_resp *r)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->max_body = max_body;
	/* Count first; copy only once the answer is whole, so that a caller
	 * parsing again as bytes arrive does not copy the body each time. */
	ret = resp_pass(buf, len, eof, head, r);
	if (ret != 1)
		return ret;
	r->body = malloc(r->body_len + 1);
	if (!r->body)
		return resp_bad(r, "out of memory");
	r->keep = true;
	ret = resp_pass(buf, len, eof, head, r);
	if (ret != 1) {
		pvx_http1_resp_free(r);
		return ret;
	}
	r->body[r->body_len] = '\0';
	return 1;
}

void pvx_http1_resp_free(struct pvx_http1_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

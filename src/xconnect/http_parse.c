/* HTTP/1.x framing for the http plugin (see http_parse.h): libhttp-parser
 * does the state machine; the raw header block is checked first, more
 * strictly than it does, so that the plugin and any backend agree on where
 * each message ends (no request smuggling through it). */
#include "xconnect/http_parse.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int fail(struct pvx_http *h, int status, const char *why)
{
	if (h->status == 0) {
		h->status = status;
		snprintf(h->err, sizeof(h->err), "%s", why);
	}
	return -EINVAL;
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

static struct pvx_http *of(http_parser *p)
{
	return p->data;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct pvx_http_head *hd = &of(p)->head;

	if (!hd->url)
		hd->url = at;
	hd->url_len = (size_t)(at + len - hd->url);
	return 0;
}

static int on_status(http_parser *p, const char *at, size_t len)
{
	struct pvx_http_head *hd = &of(p)->head;

	if (!hd->reason)
		hd->reason = at;
	hd->reason_len = (size_t)(at + len - hd->reason);
	return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
	struct pvx_http *h = of(p);
	struct pvx_http_head *hd = &h->head;
	struct pvx_http_header *x;

	if (h->in_value || hd->nh == 0) {
		if (hd->nh == PVX_HTTP_MAX_HEADERS) {
			fail(h, 431, "too many header lines");
			return 1;
		}
		x = &hd->h[hd->nh++];
		*x = (struct pvx_http_header){.name = at};
		h->in_value = false;
	}
	x = &hd->h[hd->nh - 1];
	x->name_len = (size_t)(at + len - x->name);
	return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
	struct pvx_http *h = of(p);
	struct pvx_http_header *x = &h->head.h[h->head.nh - 1];

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

static bool name_is(const struct pvx_http_header *x, const char *name)
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
static int check_connection(struct pvx_http *h)
{
	const struct pvx_http_head *hd = &h->head;
	char why[96];

	for (size_t i = 0; i < hd->nh; i++) {
		const struct pvx_http_header *x = &hd->h[i];
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
				return fail(h, h->request ? 400 : 502, why);
			}
		}
	}
	return 0;
}

/* The framing rules libhttp-parser is lenient about. */
static int check_head(struct pvx_http *h)
{
	struct pvx_http_head *hd = &h->head;
	const struct pvx_http_header *cl = NULL, *te = NULL;
	unsigned nhost = 0;

	for (size_t i = 0; i < hd->nh; i++) {
		const struct pvx_http_header *x = &hd->h[i];

		if (name_is(x, "content-length")) {
			if (cl && (cl->value_len != x->value_len ||
				   memcmp(cl->value, x->value, x->value_len)))
				return fail(h, 400, "differing Content-Length");
			cl = x;
		} else if (name_is(x, "transfer-encoding")) {
			if (te && h->request)
				return fail(h, 400,
					    "more than one Transfer-Encoding");
			te = x;
		} else if (name_is(x, "host")) {
			nhost++;
		}
	}
	if (cl && te)
		return fail(h, 400,
			    "both Content-Length and Transfer-Encoding");
	if (hd->major != 1)
		return fail(h, h->request ? 400 : 502, "not HTTP/1.x");
	if (check_connection(h) < 0)
		return -EINVAL;
	if (!h->request)
		return 0;
	if (te &&
	    !(te->value_len == 7 && strncasecmp(te->value, "chunked", 7) == 0))
		return fail(h, 400, "Transfer-Encoding other than chunked");
	if (nhost > 1 || (nhost == 0 && hd->minor >= 1))
		return fail(h, 400, "HTTP/1.1 needs exactly one Host");
	if (hd->method_id == HTTP_CONNECT)
		return fail(h, 400, "CONNECT is not proxied");
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct pvx_http *h = of(p);
	struct pvx_http_head *hd = &h->head;

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
	return h->skip_body ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct pvx_http *h = of(p);

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

void pvx_http_init(struct pvx_http *h, bool request,
		   pvx_http_body_fn on_body_fn, void *arg)
{
	memset(h, 0, sizeof(*h));
	http_parser_init(&h->p, request ? HTTP_REQUEST : HTTP_RESPONSE);
	h->p.data = h;
	h->request = request;
	h->on_body = on_body_fn;
	h->arg = arg;
	h->head.content_length = -1;
}

ssize_t pvx_http_head_len(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\0')
			return -1;
		if (buf[i] == '\r' && i + 1 < len && buf[i + 1] != '\n')
			return -1;
		if (buf[i] != '\n')
			continue;
		if (i == 0 || buf[i - 1] != '\r')
			return -1;
		if (i >= 3 && buf[i - 2] == '\n')
			return (ssize_t)(i + 1);
	}
	return 0;
}

/* Line by line: the start line without control bytes, then "name:value"
 * lines with a token name right before the colon and no folding. */
static int check_raw(struct pvx_http *h, const char *buf, size_t len)
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
					return fail(
					    h, 400,
					    "control byte in start line");
			first = false;
		} else {
			if (*p == ' ' || *p == '\t')
				return fail(h, 400,
					    "folded header line (obs-fold)");
			while (q < eol && is_tchar((unsigned char)*q))
				q++;
			if (q == p || q == eol || *q != ':')
				return fail(h, 400, "malformed header name");
			for (q++; q < eol; q++)
				if (!is_vbyte((unsigned char)*q))
					return fail(h, 400,
						    "control byte in header "
						    "value");
		}
		p = eol + 2;
	}
	return 0;
}

static int parser_error(struct pvx_http *h)
{
	enum http_errno e = HTTP_PARSER_ERRNO(&h->p);

	if (h->status)
		return -EINVAL;
	return fail(h, h->request ? 400 : 502, http_errno_description(e));
}

static ssize_t execute(struct pvx_http *h, const char *buf, size_t len)
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

int pvx_http_parse_head(struct pvx_http *h, const char *buf, size_t len)
{
	ssize_t n;

	if (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0)
		return fail(h, h->request ? 400 : 502,
			    "incomplete header block");
	if (check_raw(h, buf, len) < 0)
		return -EINVAL;
	n = execute(h, buf, len);
	if (n < 0)
		return -EINVAL;
	if (!h->head_done)
		return fail(h, h->request ? 400 : 502,
			    "malformed header block");
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

static ssize_t chunk_fail(struct pvx_http *h, const char *why)
{
	return fail(h, h->request ? 400 : 502, why);
}

/* Strict chunked decoding (RFC 9112 7.1): every line ends in CRLF, sizes
 * are 1-15 hex digits, data is followed by CRLF; trailers are dropped. */
static ssize_t feed_chunked(struct pvx_http *h, const char *buf, size_t len)
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
			if (++h->ck_trailer > PVX_HTTP_MAX_HEAD)
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

ssize_t pvx_http_feed_body(struct pvx_http *h, const char *buf, size_t len)
{
	if (!h->head_done)
		return fail(h, 500, "body before head");
	if (h->status)
		return -EINVAL;
	if (h->msg_done)
		return 0;
	if (h->head.chunked)
		return feed_chunked(h, buf, len);
	return execute(h, buf, len);
}

int pvx_http_eof(struct pvx_http *h)
{
	if (h->msg_done)
		return 0;
	if (h->head.chunked || execute(h, NULL, 0) < 0 || !h->msg_done)
		return fail(h, h->request ? 400 : 502, "message cut short");
	return 0;
}

bool pvx_http_until_close(const struct pvx_http *h)
{
	const struct pvx_http_head *hd = &h->head;

	return !h->request && h->head_done && !h->msg_done && !hd->upgrade &&
	       !h->skip_body && !hd->chunked && hd->content_length < 0 &&
	       hd->status >= 200 && hd->status != 204 && hd->status != 304;
}

const struct pvx_http_header *pvx_http_find(const struct pvx_http_head *hd,
					    const char *name)
{
	for (size_t i = 0; i < hd->nh; i++)
		if (name_is(&hd->h[i], name))
			return &hd->h[i];
	return NULL;
}

bool pvx_http_list_has(const char *v, size_t len, const char *token)
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

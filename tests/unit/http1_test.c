/* The HTTP/1 layer (common/http1.c): table-driven good requests,
 * smuggling attempts, oversize heads, bad chunks, responses, whole answers
 * as the clients read them, the reason table and the hop-by-hop rule. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http1.h"

struct body {
	char buf[4096];
	size_t len;
};

static int collect(void *arg, const char *buf, size_t len)
{
	struct body *b = arg;

	if (b->len + len > sizeof(b->buf))
		return 1;
	memcpy(b->buf + b->len, buf, len);
	b->len += len;
	return 0;
}

struct req_case {
	const char *msg;
	int status;	  /* 0: good; else the answer expected */
	const char *body; /* good: the decoded body */
	const char *rest; /* good: what is left for the next message */
};

#define H "GET / HTTP/1.1\r\nHost: x\r\n"
#define P "POST /u HTTP/1.1\r\nHost: x\r\n"

static const struct req_case req_cases[] = {
    /* good */
    {H "\r\n", 0, "", ""},
    {"GET /a?b=c HTTP/1.0\r\n\r\n", 0, "", ""},
    {H "X-A: 1\r\nX-B:2\r\n\r\nGET / HTTP/1.1\r\n", 0, "",
     "GET / HTTP/1.1\r\n"},
    {P "Content-Length: 5\r\n\r\nhello", 0, "hello", ""},
    {P "Content-Length: 5\r\n\r\nhelloGET", 0, "hello", "GET"},
    {P "Content-Length: 0\r\n\r\n", 0, "", ""},
    {P "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0, "hello",
     ""},
    {P "Transfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3;ext=1\r\nllo\r\n"
       "0\r\n\r\nX",
     0, "hello", "X"},
    {P "Transfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n"
       "Trailer-X: 1\r\n\r\n",
     0, "0123456789", ""},
    {P "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400, NULL,
     NULL}, /* identical duplicates: libhttp-parser refuses them too */
    {"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
     "Connection: Upgrade\r\n\r\nraw bytes",
     0, "", "raw bytes"},
    /* smuggling */
    {P "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
     NULL, NULL},
    {P "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400,
     NULL, NULL},
    {P "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400, NULL, NULL},
    {P "Content-Length: 5, 5\r\n\r\nhello", 400, NULL, NULL},
    {P "Content-Length: +5\r\n\r\nhello", 400, NULL, NULL},
    {P "Content-Length: -1\r\n\r\n", 400, NULL, NULL},
    {P "Content-Length : 5\r\n\r\nhello", 400, NULL, NULL},
    {P " Content-Length: 5\r\n\r\nhello", 400, NULL, NULL},
    {P "X-A: 1\r\n folded\r\n\r\n", 400, NULL, NULL},
    {P "X-A: 1\r\n\tfolded\r\n\r\n", 400, NULL, NULL},
    {P "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400, NULL, NULL},
    {P "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n",
     400, NULL, NULL},
    {P "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400, NULL, NULL},
    {P "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400, NULL,
     NULL},
    /* Connection naming a framing or routing header: dropping it as
     * hop-by-hop would unframe the body or unset what the proxy adds */
    {P "Connection: Content-Length\r\nContent-Length: 5\r\n\r\nhello", 400,
     NULL, NULL},
    {P "Content-Length: 5\r\nConnection: keep-alive, content-length\r\n\r\n"
       "hello",
     400, NULL, NULL},
    {P "Connection: close\r\nConnection:  Transfer-Encoding \r\n"
       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     400, NULL, NULL},
    {H "Connection: Host\r\n\r\n", 400, NULL, NULL},
    {H "Connection: X-PV-Role\r\n\r\n", 400, NULL, NULL},
    {H "Connection: x-pv-client\r\n\r\n", 400, NULL, NULL},
    {H "Connection: X-Forwarded-For\r\n\r\n", 400, NULL, NULL},
    {H "Connection: x-forwarded-proto\r\n\r\n", 400, NULL, NULL},
    {H "Connection: Forwarded\r\n\r\n", 400, NULL, NULL},
    {H "Connection: ,,X-Secret, ,Content-Length,\r\n\r\n", 400, NULL, NULL},
    /* ... while ordinary tokens stay fine */
    {H "Connection: keep-alive, X-Secret, close, te\r\nTE: trailers\r\n\r\n", 0,
     "", ""},
    {H "Connection: Content-Lengthy, X-PV\r\n\r\n", 0, "", ""},
    {P "Connection: upgrade\r\nContent-Length: 2\r\n\r\nok", 0, "ok", ""},
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, NULL, NULL},
    {"GET / HTTP/1.1\r\n\r\n", 400, NULL, NULL},
    {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400, NULL, NULL},
    {"CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400, NULL, NULL},
    {"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", 400, NULL, NULL},
    {"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400, NULL, NULL},
    {"GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400, NULL, NULL},
    {"GET / HTTP/1.1\r\nHost: x\r\nX\"A: 1\r\n\r\n", 400, NULL, NULL},
    {"GET / HTTP/1.1\r\nHost: x\r\n: 1\r\n\r\n", 400, NULL, NULL},
    {"GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400, NULL, NULL},
    {"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, NULL, NULL},
    {"GET / FTP/1.1\r\nHost: x\r\n\r\n", 400, NULL, NULL},
    /* bad chunks */
    {P "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400, NULL,
     NULL},
    {P "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400, NULL,
     NULL},
    {P "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", 400, NULL,
     NULL},
    {P "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nx\r\n", 400,
     NULL, NULL},
    {P "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400, NULL,
     NULL},
    {P "Transfer-Encoding: chunked\r\n\r\n\r\nhello\r\n", 400, NULL, NULL},
    {P "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400, NULL,
     NULL},
    {P "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", 400, NULL,
     NULL},
    {P "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: 1\n\r\n", 400,
     NULL, NULL},
    {P "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\n", 400, NULL,
     NULL},
    {P "Transfer-Encoding: chunked\r\n\r\n5;a\x01\r\nhello\r\n0\r\n\r\n", 400,
     NULL, NULL},
    {P "Transfer-Encoding: chunked\r\n\r\n;5\r\nhello\r\n0\r\n\r\n", 400, NULL,
     NULL},
    {P "Transfer-Encoding: chunked\r\n\r\n5 ;x\r\nhello\r\n0\r\n\r\n", 0,
     "hello", ""},
    {P "Transfer-Encoding: chunked\r\n\r\n000000000000005\r\nhello\r\n"
       "0\r\n\r\n",
     0, "hello", ""},
    {P "Transfer-Encoding: chunked\r\n\r\n0000000000000005\r\nhello\r\n"
       "0\r\n\r\n",
     400, NULL, NULL},
};

/* Feeds msg as the plugin does: head whole, then the body in steps. */
static int run_request(const char *msg, size_t step, struct body *b,
		       size_t *rest_off, struct pvx_http1 *h)
{
	size_t len = strlen(msg), off;
	ssize_t hl, n;

	pvx_http1_init(h, true, collect, b);
	hl = pvx_http1_head_len(msg, len);
	if (hl < 0)
		return 400;
	assert_true(hl > 0);
	if (pvx_http1_parse_head(h, msg, (size_t)hl) < 0)
		return h->status;
	off = (size_t)hl;
	while (!h->msg_done && off < len) {
		size_t k = len - off < step ? len - off : step;

		n = pvx_http1_feed_body(h, msg + off, k);
		if (n < 0)
			return h->status;
		off += (size_t)n;
		if ((size_t)n < k)
			break;
	}
	*rest_off = off;
	return h->msg_done ? 0 : -1;
}

static void test_requests(void **state)
{
	static const size_t steps[] = {1, 3, 4096};
	static struct pvx_http1 h;

	(void)state;
	for (size_t i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
		const struct req_case *c = &req_cases[i];

		for (size_t s = 0; s < 3; s++) {
			struct body b = {.len = 0};
			size_t rest = 0;
			int r = run_request(c->msg, steps[s], &b, &rest, &h);

			if (r != c->status)
				fail_msg(
				    "case %zu step %zu: %d, wanted %d (%s): "
				    "%s",
				    i, steps[s], r, c->status, h.err, c->msg);
			if (c->status)
				continue;
			assert_int_equal(b.len, strlen(c->body));
			assert_memory_equal(b.buf, c->body, b.len);
			assert_string_equal(c->msg + rest, c->rest);
		}
	}
}

static void test_request_fields(void **state)
{
	static struct pvx_http1 h;
	const char *m = "PUT /a/b?c HTTP/1.1\r\nHost: x\r\n"
			"Content-Length: 12\r\nX-Forwarded-For:  1.2.3.4  \r\n"
			"Connection: keep-alive, X-Drop\r\n\r\n";
	const struct pvx_http1_header *x;

	(void)state;
	pvx_http1_init(&h, true, NULL, NULL);
	assert_int_equal(pvx_http1_parse_head(&h, m, strlen(m)), 0);
	assert_string_equal(h.head.method, "PUT");
	assert_int_equal(h.head.url_len, 6);
	assert_memory_equal(h.head.url, "/a/b?c", 6);
	assert_int_equal(h.head.content_length, 12);
	assert_false(h.head.chunked);
	assert_true(h.head.keep_alive);
	assert_false(h.msg_done);
	x = pvx_http1_find(&h.head, "x-forwarded-for");
	assert_non_null(x);
	assert_int_equal(x->value_len, 7);
	assert_memory_equal(x->value, "1.2.3.4", 7);
	x = pvx_http1_find(&h.head, "connection");
	assert_true(pvx_http1_list_has(x->value, x->value_len, "x-drop"));
	assert_true(pvx_http1_list_has(x->value, x->value_len, "Keep-Alive"));
	assert_false(pvx_http1_list_has(x->value, x->value_len, "keep"));
	assert_null(pvx_http1_find(&h.head, "upgrade"));
}

static void test_head_len(void **state)
{
	static const struct {
		const char *s;
		ssize_t want;
	} cases[] = {
	    {"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody", 27},
	    {"GET / HTTP/1.1\r\nHost: x\r\n", 0},
	    {"GET / HTTP/1.1\r\nHost: x\r\n\r", 0},
	    {"GET / HTTP/1.1\r", 0},
	    {"GET / HTTP/1.1\nHost: x\n\n", -1},
	    {"GET / HTTP/1.1\r\nHost: x\n\r\n", -1},
	    {"GET / HTTP/1.1\rHost: x\r\n\r\n", -1},
	    {"", 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(
		    pvx_http1_head_len(cases[i].s, strlen(cases[i].s)),
		    cases[i].want);
	/* A NUL inside the block. */
	assert_int_equal(pvx_http1_head_len("GET /\0 HTTP/1.1\r\n\r\n", 20),
			 -1);
}

/* The plugin answers 431 past PVX_HTTP1_MAX_HEAD without a complete head;
 * a head of many lines is refused by the line count. */
static void test_oversize(void **state)
{
	static struct pvx_http1 h;
	size_t cap = 200 * 16 + 64, off = 0;
	char *m = malloc(cap);

	(void)state;
	assert_non_null(m);
	off += (size_t)snprintf(m + off, cap - off, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 200; i++)
		off += (size_t)snprintf(m + off, cap - off, "X-%03d: v\r\n", i);
	off += (size_t)snprintf(m + off, cap - off, "Host: x\r\n\r\n");
	pvx_http1_init(&h, true, NULL, NULL);
	assert_int_equal(pvx_http1_head_len(m, off), (ssize_t)off);
	assert_int_equal(pvx_http1_parse_head(&h, m, off), -EINVAL);
	assert_int_equal(h.status, 431);
	free(m);
}

struct resp_case {
	const char *msg;
	bool head_req;
	int status;	  /* 0: good */
	int code;	  /* good: the status code */
	const char *body; /* good: decoded body */
	bool until_close;
};

static const struct resp_case resp_cases[] = {
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 0, 200, "ok",
     false},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n"
     "\r\n",
     false, 0, 200, "ok", false},
    {"HTTP/1.1 200 OK\r\n\r\nall of it", false, 0, 200, "all of it", true},
    {"HTTP/1.0 200 OK\r\n\r\nold", false, 0, 200, "old", true},
    {"HTTP/1.1 204 No Content\r\n\r\n", false, 0, 204, "", false},
    {"HTTP/1.1 304 Not Modified\r\n\r\n", false, 0, 304, "", false},
    {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true, 0, 200, "", false},
    {"HTTP/1.1 100 Continue\r\n\r\n", false, 0, 100, "", false},
    {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
     "Connection: Upgrade\r\n\r\n",
     false, 0, 101, "", false},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n"
     "\r\n",
     false, 502, 0, NULL, false},
    {"HTTP/1.1 2x0 OK\r\n\r\n", false, 502, 0, NULL, false},
    {"HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 2\r\n"
     "\r\nok",
     false, 502, 0, NULL, false},
    {"HTTP/1.1 200 OK\r\nConnection: transfer-encoding\r\n"
     "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
     false, 502, 0, NULL, false},
    {"HTTP/1.1 200 OK\r\nConnection: X-PV-Role, close\r\n"
     "Content-Length: 2\r\n\r\nok",
     false, 0, 200, "ok", false},

    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nqq\r\n", false, 502,
     0, NULL, false},
    /* a Transfer-Encoding other than chunked: refused as in requests */
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz", false, 502, 0,
     NULL, false},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
     "2\r\nok\r\n0\r\n\r\n",
     false, 502, 0, NULL, false},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     false, 502, 0, NULL, false},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
     false, 502, 0, NULL, false},
    {"HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n", false, 502, 0, NULL,
     false},
    {"HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n", false, 502, 0, NULL,
     false},
    {"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, 502, 0, NULL,
     false},
    {"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n", false, 502, 0, NULL,
     false},
    {"HTTP/1.1 200 O\x01K\r\n\r\n", false, 502, 0, NULL, false},
    {"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", false, 0, 200, "x", false},
};

static void test_responses(void **state)
{
	static struct pvx_http1 h;

	(void)state;
	for (size_t i = 0; i < sizeof(resp_cases) / sizeof(resp_cases[0]);
	     i++) {
		const struct resp_case *c = &resp_cases[i];
		struct body b = {.len = 0};
		size_t len = strlen(c->msg);
		ssize_t hl = pvx_http1_head_len(c->msg, len), n;
		int r = 0;

		pvx_http1_init(&h, false, collect, &b);
		h.skip_body = c->head_req;
		assert_true(hl > 0);
		if (pvx_http1_parse_head(&h, c->msg, (size_t)hl) < 0) {
			r = h.status;
		} else {
			bool uc = pvx_http1_until_close(&h);

			assert_int_equal(uc, c->until_close);
			n = pvx_http1_feed_body(&h, c->msg + hl,
						len - (size_t)hl);
			if (n < 0)
				r = h.status;
			else if (uc)
				assert_int_equal(pvx_http1_eof(&h), 0);
		}
		if (r != c->status)
			fail_msg("response case %zu: %d, wanted %d (%s)", i, r,
				 c->status, h.err);
		if (r)
			continue;
		assert_true(h.msg_done);
		assert_int_equal(h.head.status, c->code);
		assert_int_equal(b.len, strlen(c->body));
		assert_memory_equal(b.buf, c->body, b.len);
	}
}

static void test_cut_short(void **state)
{
	static struct pvx_http1 h;
	const char *m = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";

	(void)state;
	pvx_http1_init(&h, false, NULL, NULL);
	assert_int_equal(pvx_http1_parse_head(&h, m, strlen(m)), 0);
	assert_int_equal(pvx_http1_feed_body(&h, "abc", 3), 3);
	assert_int_equal(pvx_http1_eof(&h), -EINVAL);
	assert_int_equal(h.status, 502);
}

/* Random byte changes to the good requests: whatever the outcome, no
 * crash, a known answer, and an accepted body never beyond the input. */
static void test_mutations(void **state)
{
	static struct pvx_http1 h;
	static const char alphabet[] = "\r\n :;0aZ\t\x01\x80,-";
	char buf[512];
	unsigned seed = 12345;

	(void)state;
	for (int it = 0; it < 40000; it++) {
		const struct req_case *c =
		    &req_cases[(size_t)it %
			       (sizeof(req_cases) / sizeof(req_cases[0]))];
		size_t len = strlen(c->msg), rest = 0;
		struct body b = {.len = 0};
		int r, k;

		if (c->status || len >= sizeof(buf))
			continue;
		memcpy(buf, c->msg, len + 1);
		k = 1 + (int)(rand_r(&seed) % 3);
		while (k--) {
			size_t at = (size_t)rand_r(&seed) % len;

			buf[at] = alphabet[(size_t)rand_r(&seed) %
					   (sizeof(alphabet) - 1)];
		}
		if (memchr(buf, '\0', len))
			continue;
		buf[len] = '\0';
		if (pvx_http1_head_len(buf, len) <= 0)
			continue;
		r = run_request(buf, 1 + (size_t)(it % 7), &b, &rest, &h);
		assert_true(r == 0 || r == -1 || r == 400 || r == 431);
		assert_true(b.len <= len);
		if (r == 0)
			assert_true(rest <= len);
	}
}

/* Whole answers as pvcontrol and the graph client read them. */
struct whole_case {
	const char *msg;
	bool eof, head;
	int ret;	  /* 1, 0 or -EBADMSG */
	int code;	  /* 1: the status code */
	const char *body; /* 1: the body */
	const char *why;  /* -EBADMSG: part of the reason */
	size_t need;	  /* 0: the total length announced */
};

#define OK200 "HTTP/1.1 200 OK\r\n"

static const struct whole_case whole_cases[] = {
    {OK200 "Content-Length: 2\r\nETag: \"a\"\r\n\r\n[]", false, false, 1, 200,
     "[]", NULL, 0},
    {OK200 "Content-Length: 2\r\n\r\n[]trailing", false, false, 1, 200, "[]",
     NULL, 0},
    {OK200 "Content-Length: 4\r\n\r\n[]", false, false, 0, 0, NULL, NULL, 42},
    {OK200 "Content-Length: 4\r\n\r\n[]", true, false, -EBADMSG, 0, NULL,
     "closed after 2 of 4 body bytes", 0},
    /* HTTP/1.0 and close-framed bodies (Pantavisor's server) */
    {"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[1,2]", true,
     false, 1, 200, "[1,2]", NULL, 0},
    {"HTTP/1.0 200 OK\r\n\r\n[1,2]", false, false, 0, 0, NULL, NULL, 0},
    {"HTTP/1.0 200 OK\r\n\r\n", true, false, 1, 200, "", NULL, 0},
    {OK200 "\r\nuntil close", true, false, 1, 200, "until close", NULL, 0},
    {"HTTP/1.0 200 OK\r\n\r\n0123456789abcdefg", true, false, -EBADMSG, 0, NULL,
     "larger than 16 bytes", 0},
    {"HTTP/1.0 404 Not Found\r\nContent-Length: 2\r\n\r\n{}", true, false, 1,
     404, "{}", NULL, 0},
    /* chunked */
    {OK200 "Transfer-Encoding: chunked\r\n\r\n2\r\n[1\r\n3;x=y\r\n,2]\r\n"
	   "0\r\nX-T: 1\r\n\r\n",
     false, false, 1, 200, "[1,2]", NULL, 0},
    {OK200 "Transfer-Encoding: chunked\r\n\r\n2\r\n[1\r\n", false, false, 0, 0,
     NULL, NULL, 0},
    {OK200 "Transfer-Encoding: chunked\r\n\r\n2\r\n[1\r\n", true, false,
     -EBADMSG, 0, NULL, "inside a chunked body", 0},
    {OK200 "Transfer-Encoding: chunked\r\n\r\nzz\r\n", false, false, -EBADMSG,
     0, NULL, "bad chunk size", 0},
    {OK200 "Transfer-Encoding: chunked\r\n\r\n2\n[1\r\n0\r\n\r\n", false, false,
     -EBADMSG, 0, NULL, "CRLF", 0},
    {OK200 "Transfer-Encoding: chunked\r\n\r\n11\r\n0123456789abcdefg\r\n"
	   "0\r\n\r\n",
     false, false, -EBADMSG, 0, NULL, "larger than 16 bytes", 0},
    /* no body whatever the headers say */
    {"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", false, false, 1, 304,
     "", NULL, 0},
    {"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false, false, 1,
     204, "", NULL, 0},
    {OK200 "Content-Length: 5\r\n\r\n", false, true, 1, 200, "", NULL, 0},
    /* refused */
    {OK200 "Content-Length: 20\r\n\r\n", false, false, -EBADMSG, 0, NULL,
     "larger than 16 bytes", 0},
    {"HTTP/1.1 200 OK\nContent-Length: 2\n\n[]", false, false, -EBADMSG, 0,
     NULL, "bare LF", 0},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\n[]", true, false, -EBADMSG, 0,
     NULL, "bare LF", 0},
    {"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", false, false, -EBADMSG, 0, NULL,
     "CR without LF", 0},
    {OK200 "Transfer-Encoding: gzip\r\n\r\n[]", true, false, -EBADMSG, 0, NULL,
     "Transfer-Encoding other than chunked", 0},
    {OK200 "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", true, false,
     -EBADMSG, 0, NULL, "Transfer-Encoding other than chunked", 0},
    {OK200 "Content-Length: 2\r\nContent-Length: 3\r\n\r\nabc", false, false,
     -EBADMSG, 0, NULL, "content-length header", 0},
    {OK200 "Content-Length: x\r\n\r\n", false, false, -EBADMSG, 0, NULL,
     "content-length header", 0},
    {OK200 "no colon here\r\n\r\n", false, false, -EBADMSG, 0, NULL,
     "malformed header name", 0},
    {"HTTP/2 200\r\n\r\n", false, false, -EBADMSG, 0, NULL, "", 0},
    {"SSH-2.0-OpenSSH\r\n\r\n", false, false, -EBADMSG, 0, NULL, "", 0},
    {OK200 "Content-Length: 2\r\n", false, false, 0, 0, NULL, NULL, 0},
    {OK200 "Content-Length: 2\r\n", true, false, -EBADMSG, 0, NULL,
     "closed inside the header", 0},
    {"", true, false, -EBADMSG, 0, NULL, "without an answer", 0},
    {"", false, false, 0, 0, NULL, NULL, 0},
};

static void test_whole_responses(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(whole_cases) / sizeof(whole_cases[0]);
	     i++) {
		const struct whole_case *c = &whole_cases[i];
		size_t len = strlen(c->msg);
		/* Exactly sized, so that ASan sees any read beyond. */
		char *buf = malloc(len ? len : 1);
		struct pvx_http1_resp *r = malloc(sizeof(*r));
		int ret;

		assert_non_null(buf);
		assert_non_null(r);
		memcpy(buf, c->msg, len);
		ret = pvx_http1_read_response(buf, len, c->eof, c->head, 16, r);
		if (ret != c->ret)
			fail_msg("whole case %zu: %d, wanted %d (%s)", i, ret,
				 c->ret, r->h.err);
		if (ret == 1) {
			assert_int_equal(r->h.head.status, c->code);
			assert_int_equal(r->body_len, strlen(c->body));
			assert_string_equal(r->body, c->body);
			pvx_http1_resp_free(r);
		} else if (ret < 0) {
			if (!strstr(r->h.err, c->why))
				fail_msg(
				    "whole case %zu: \"%s\", wanted \"%s\"", i,
				    r->h.err, c->why);
			assert_true(r->h.err[0] != '\0');
			assert_null(r->body);
		} else {
			assert_null(r->body);
			assert_int_equal(r->need, c->need);
		}
		free(r);
		free(buf);
	}
}

/* Every prefix of an answer needs more; the whole one is complete. */
static void test_whole_prefixes(void **state)
{
	static const char *const msgs[] = {
	    OK200 "Content-Length: 5\r\nETag: \"e\"\r\n\r\nhello",
	    OK200 "Transfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n"
		  "0\r\n\r\n",
	};
	static struct pvx_http1_resp r;

	(void)state;
	for (size_t m = 0; m < 2; m++) {
		size_t len = strlen(msgs[m]);

		for (size_t i = 0; i < len; i++)
			assert_int_equal(pvx_http1_read_response(msgs[m], i,
								 false, false,
								 1 << 20, &r),
					 0);
		assert_int_equal(pvx_http1_read_response(msgs[m], len, false,
							 false, 1 << 20, &r),
				 1);
		assert_string_equal(r.body, "hello");
		pvx_http1_resp_free(&r);
	}
}

static void test_reason(void **state)
{
	(void)state;
	assert_string_equal(pvx_http1_reason(200), "OK");
	assert_string_equal(pvx_http1_reason(404), "Not Found");
	assert_string_equal(pvx_http1_reason(408), "Request Timeout");
	assert_string_equal(pvx_http1_reason(431),
			    "Request Header Fields Too Large");
	assert_string_equal(pvx_http1_reason(502), "Bad Gateway");
	assert_string_equal(pvx_http1_reason(504), "Gateway Timeout");
	assert_string_equal(pvx_http1_reason(299), "Unknown");
	assert_string_equal(pvx_http1_reason(-1), "Unknown");
}

static void test_hop_by_hop(void **state)
{
	static const struct {
		const char *name;
		bool hop;
	} cases[] = {
	    {"Connection", true},
	    {"keep-alive", true},
	    {"TE", true},
	    {"Trailer", true},
	    {"Transfer-Encoding", true},
	    {"UPGRADE", true},
	    {"Proxy-Authorization", true},
	    {"proxy-x", true},
	    {"X-Drop", true},
	    {"x-also", true},
	    {"Host", false},
	    {"Content-Length", false},
	    {"X-Dropped", false},
	    {"Proxy", false},
	    {"Trailers", false},
	    {"Accept", false},
	};
	const struct pvx_http1_header conn = {
	    .name = "Connection",
	    .name_len = 10,
	    .value = "close, X-Drop ,X-Also",
	    .value_len = 21,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pvx_http1_header x = {
		    .name = cases[i].name,
		    .name_len = strlen(cases[i].name),
		    .value = "v",
		    .value_len = 1,
		};

		if (pvx_http1_hop_by_hop(&x, &conn) != cases[i].hop)
			fail_msg("%s: wanted %d", cases[i].name, cases[i].hop);
	}
	/* Without a Connection header, only the fixed names. */
	{
		const struct pvx_http1_header x = {.name = "X-Drop",
						   .name_len = 6};
		const struct pvx_http1_header y = {.name = "TE", .name_len = 2};

		assert_false(pvx_http1_hop_by_hop(&x, NULL));
		assert_true(pvx_http1_hop_by_hop(&y, NULL));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_requests),
	    cmocka_unit_test(test_request_fields),
	    cmocka_unit_test(test_head_len),
	    cmocka_unit_test(test_oversize),
	    cmocka_unit_test(test_responses),
	    cmocka_unit_test(test_cut_short),
	    cmocka_unit_test(test_mutations),
	    cmocka_unit_test(test_whole_responses),
	    cmocka_unit_test(test_whole_prefixes),
	    cmocka_unit_test(test_reason),
	    cmocka_unit_test(test_hop_by_hop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

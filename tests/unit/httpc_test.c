/* pvcontrol's client reading answers (on common/http1) and the ETag
 * helpers of pv-ctrld: table-driven good, partial and malformed inputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/http1.h"
#include "common/httpc.h"
#include "ctrl/daemon.h"

struct resp_case {
	const char *in;
	bool eof;
	bool head;
	int ret;	    /* 1 complete, 0 more, -EBADMSG */
	int status;	    /* when complete */
	const char *body;   /* when complete */
	const char *etag;   /* when complete; NULL: none */
	const char *reason; /* substring of the error, when -EBADMSG */
};

static const struct resp_case resp_cases[] = {
    /* Content-Length framing. */
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", false, false, 1, 200,
     "[]", NULL, NULL},
    {"HTTP/1.1 200 OK\r\ncontent-length:  2 \r\nETag: \"ab\"\r\n\r\n[]", false,
     false, 1, 200, "[]", "\"ab\"", NULL},
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n[]", false, false, 0, 0, NULL,
     NULL, NULL},
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n[]", true, false, -EBADMSG, 0,
     NULL, NULL, "closed after 2 of 5 body bytes"},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]junk", false, false, 1, 200,
     "[]", NULL, NULL},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n[]",
     false, false, -EBADMSG, 0, NULL, NULL, "content-length header"},
    /* even identical duplicates, as the proxy */
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n[]",
     false, false, -EBADMSG, 0, NULL, NULL, "content-length header"},
    {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, false, -EBADMSG, 0,
     NULL, NULL, "content-length"},
    {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", false,
     false, -EBADMSG, 0, NULL, NULL, "content-length"},
    {"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", false, false, -EBADMSG, 0,
     NULL, NULL, "content-length"},
    /* No length: to EOF (HTTP/1.0 servers). */
    {"HTTP/1.0 200 OK\r\n\r\n[1]", false, false, 0, 0, NULL, NULL, NULL},
    {"HTTP/1.0 200 OK\r\n\r\n[1]", true, false, 1, 200, "[1]", NULL, NULL},
    {"HTTP/1.0 200\r\n\r\n", true, false, 1, 200, "", NULL, NULL},
    /* No body whatever the headers say. */
    {"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", false, false, 1, 304,
     "", "\"x\"", NULL},
    {"HTTP/1.1 204 No Content\r\n\r\n", false, false, 1, 204, "", NULL, NULL},
    {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", false, true, 1, 200, "",
     NULL, NULL},
    /* Chunked. */
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "2\r\n[1\r\n1;ext=1\r\n]\r\n0\r\n\r\n",
     false, false, 1, 200, "[1]", NULL, NULL},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "A\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
     false, false, 1, 200, "0123456789", NULL, NULL},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[1\r\n", false,
     false, 0, 0, NULL, NULL, NULL},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[1\r\n", true,
     false, -EBADMSG, 0, NULL, NULL, "inside a chunked body"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false,
     false, -EBADMSG, 0, NULL, NULL, "chunk size"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[1]]\r\n",
     false, false, -EBADMSG, 0, NULL, NULL, "CRLF"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "fffffffffffffffffff\r\n",
     false, false, -EBADMSG, 0, NULL, NULL, "too large"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, false,
     -EBADMSG, 0, NULL, NULL, "Transfer-Encoding"},
    /* Status lines and headers. */
    {"HTTP/1.1 400 Bad Request\r\nContent-Length: 13\r\n\r\n{\"error\":\"x\"}",
     false, false, 1, 400, "{\"error\":\"x\"}", NULL, NULL},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", false, false, 0, 0, NULL, NULL,
     NULL},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", true, false, -EBADMSG, 0, NULL,
     NULL, "closed inside the header"},
    {"", true, false, -EBADMSG, 0, NULL, NULL, "without an answer"},
    {"", false, false, 0, 0, NULL, NULL, NULL},
    {"HTTP/2 200 OK\r\n\r\n", true, false, -EBADMSG, 0, NULL, NULL,
     "status line"},
    {"HTTP/1.1 20 OK\r\n\r\n", true, false, -EBADMSG, 0, NULL, NULL,
     "status code"},
    {"HTTP/1.1 2000 OK\r\n\r\n", true, false, -EBADMSG, 0, NULL, NULL,
     "status code"},
    {"HTTP/1.1 099 X\r\n\r\n", true, false, -EBADMSG, 0, NULL, NULL,
     "status code"},
    {"HTTP/1.1 600 X\r\n\r\n", true, false, -EBADMSG, 0, NULL, NULL,
     "status code"},
    {"SSH-2.0-OpenSSH\r\n\r\n", true, false, -EBADMSG, 0, NULL, NULL,
     "status line"},
    {"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", true, false, -EBADMSG, 0, NULL,
     NULL, "malformed header name"},
    {"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", true, false, -EBADMSG, 0, NULL,
     NULL, "malformed header name"},
};

static void test_parse_response(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(resp_cases) / sizeof(resp_cases[0]);
	     i++) {
		const struct resp_case *c = &resp_cases[i];
		struct pvx_http_response r;
		char err[128] = "";
		int ret;

		memset(&r, 0, sizeof(r));
		ret = pvx_http_parse_response(c->in, strlen(c->in), c->eof,
					      c->head, &r, err, sizeof(err));
		if (ret != c->ret)
			fail_msg("case %zu: ret %d, want %d (%s)", i, ret,
				 c->ret, err);
		if (ret == 1) {
			assert_int_equal(r.status, c->status);
			assert_non_null(r.body);
			assert_int_equal(r.body_len, strlen(c->body));
			assert_string_equal(r.body, c->body);
			if (c->etag)
				assert_string_equal(r.etag, c->etag);
			else
				assert_null(r.etag);
		} else {
			assert_null(r.body);
		}
		if (ret < 0 && !strstr(err, c->reason))
			fail_msg("case %zu: error '%s', want '%s'", i, err,
				 c->reason);
		pvx_http_response_free(&r);
	}
}

/* Byte-by-byte arrival: "more" until the last byte, then the same. */
static void test_parse_incremental(void **state)
{
	static const char in[] =
	    "HTTP/1.1 200 OK\r\nETag: \"e\"\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
	size_t n = strlen(in);

	(void)state;
	for (size_t len = 0; len < n; len++) {
		struct pvx_http_response r;
		char err[128];
		memset(&r, 0, sizeof(r));
		assert_int_equal(pvx_http_parse_response(in, len, false, false,
							 &r, err, sizeof(err)),
				 0);
	}
	{
		struct pvx_http_response r;
		char err[128];
		memset(&r, 0, sizeof(r));
		assert_int_equal(pvx_http_parse_response(in, n, false, false,
							 &r, err, sizeof(err)),
				 1);
		assert_string_equal(r.body, "abc");
		pvx_http_response_free(&r);
	}
}

/* A header block over the cap is refused, not waited for. */
static void test_parse_header_cap(void **state)
{
	size_t n = PVX_HTTP1_MAX_HEAD + 100;
	char *in = malloc(n + 1);
	struct pvx_http_response r;
	char err[128] = "";

	(void)state;
	assert_non_null(in);
	memcpy(in, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(in + 20, 'a', n - 20);
	in[n] = '\0';
	memset(&r, 0, sizeof(r));
	assert_int_equal(
	    pvx_http_parse_response(in, n, false, false, &r, err, sizeof(err)),
	    -EBADMSG);
	assert_non_null(strstr(err, "header block larger than"));
	free(in);
}

static void test_etag(void **state)
{
	char a[PVC_ETAG_LEN], b[PVC_ETAG_LEN], c[PVC_ETAG_LEN];

	(void)state;
	pvc_etag_compute("[]", a);
	pvc_etag_compute("[]", b);
	pvc_etag_compute("[ ]", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), PVC_ETAG_LEN - 1);
	assert_int_equal(a[0], '"');
	assert_int_equal(a[PVC_ETAG_LEN - 2], '"');
	/* FNV-1a 64 of "" is its offset basis. */
	pvc_etag_compute("", c);
	assert_string_equal(c, "\"cbf29ce484222325\"");
}

struct match_case {
	const char *given;
	const char *etag;
	bool match;
};

static const struct match_case match_cases[] = {
    {"\"0123456789abcdef\"", "\"0123456789abcdef\"", true},
    {"0123456789abcdef", "\"0123456789abcdef\"", true},
    {" \"0123456789abcdef\" ", "\"0123456789abcdef\"", true},
    {"W/\"0123456789abcdef\"", "\"0123456789abcdef\"", true},
    {"\"0123456789abcdee\"", "\"0123456789abcdef\"", false},
    {"0123456789abcde", "\"0123456789abcdef\"", false},
    {"0123456789abcdef0", "\"0123456789abcdef\"", false},
    {"\"0123456789abcdef", "\"0123456789abcdef\"", false},
    {"", "\"0123456789abcdef\"", false},
    {"\"\"", "\"0123456789abcdef\"", false},
    {"*", "\"0123456789abcdef\"", false},
    {NULL, "\"0123456789abcdef\"", false},
};

static void test_etag_match(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]);
	     i++)
		if (pvc_etag_match(match_cases[i].given, match_cases[i].etag) !=
		    match_cases[i].match)
			fail_msg("case %zu: '%s' vs '%s'", i,
				 match_cases[i].given ? match_cases[i].given
						      : "(null)",
				 match_cases[i].etag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_response),
	    cmocka_unit_test(test_parse_incremental),
	    cmocka_unit_test(test_parse_header_cap),
	    cmocka_unit_test(test_etag),
	    cmocka_unit_test(test_etag_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Fuzz target: the HTTP/1 layer (common/http1), as the http plugin uses it:
 * head length, head parsing and body decoding, fed in pieces whose size
 * the first byte picks, as requests or responses; responses also whole, as
 * the clients read them (pvx_http1_read_response). A refusal always comes
 * with a status and a reason; a body never decodes to more bytes than
 * were fed; messages that follow a complete one are parsed in turn. */
#include "fuzz.h"

#include <errno.h>
#include <string.h>

#include "common/http1.h"

struct body {
	size_t n;
};

static int on_body(void *arg, const char *buf, size_t len)
{
	struct body *b = arg;
	(void)buf;
	b->n += len;
	return 0;
}

/* As the clients read answers: the whole buffer, then a prefix, with and
 * without the close. */
static void whole_response(const char *p, size_t len, size_t piece)
{
	static struct pvx_http1_resp r;
	size_t cut = piece < len ? len - piece : len;

	for (int eof = 0; eof < 2; eof++) {
		for (int k = 0; k < 2; k++) {
			size_t n = k ? cut : len;
			int ret = pvx_http1_read_response(p, n, eof, piece == 1,
							  1024, &r);

			FUZZ_CHECK(ret == 1 || ret == 0 || ret == -EBADMSG);
			if (ret < 0)
				FUZZ_CHECK(r.h.err[0] != '\0' && !r.body);
			if (ret == 0)
				FUZZ_CHECK(!eof && !r.body);
			if (ret == 1) {
				FUZZ_CHECK(r.body && r.body_len <= n &&
					   r.body_len <= 1024 &&
					   r.body[r.body_len] == '\0');
				FUZZ_CHECK(r.h.head.status >= 100 &&
					   r.h.head.status <= 599);
				pvx_http1_resp_free(&r);
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p;
	size_t left, piece;
	bool request;
	int msgs = 0;

	if (size < 1)
		return 0;
	request = !(data[0] & 1);
	piece = (size_t)(data[0] >> 1) + 1; /* 1-128 bytes per feed */
	p = (const char *)data + 1;
	left = size - 1;
	if (!request)
		whole_response(p, left, piece);
	while (left > 0 && msgs++ < 8) {
		struct pvx_http1 h;
		struct body b = {0};
		size_t fed = 0;
		ssize_t hl;

		pvx_http1_init(&h, request, on_body, &b);
		hl = pvx_http1_head_len(p, left);
		FUZZ_CHECK(hl >= -1 && hl <= (ssize_t)left);
		if (hl <= 0)
			break;
		if (pvx_http1_parse_head(&h, p, (size_t)hl) < 0) {
			FUZZ_CHECK(h.status >= 400 && h.status <= 599);
			FUZZ_CHECK(h.err[0] != '\0');
			break;
		}
		FUZZ_CHECK(h.head_done);
		FUZZ_CHECK(h.head.nh <= PVX_HTTP1_MAX_HEADERS);
		p += hl;
		left -= (size_t)hl;
		while (!h.msg_done && left > 0) {
			size_t k = left < piece ? left : piece;
			ssize_t used = pvx_http1_feed_body(&h, p, k);
			if (used < 0) {
				FUZZ_CHECK(h.err[0] != '\0');
				return 0;
			}
			FUZZ_CHECK((size_t)used <= k);
			if (used == 0 && !h.msg_done)
				return 0; /* nothing taken: stuck input */
			fed += (size_t)used;
			p += used;
			left -= (size_t)used;
		}
		FUZZ_CHECK(b.n <= fed);
		if (!h.msg_done) {
			if (pvx_http1_eof(&h) < 0)
				FUZZ_CHECK(h.err[0] != '\0');
			break;
		}
		/* 1xx, 204, 304: no body whatever the headers say. */
		if (h.head.content_length >= 0 && !h.head.chunked &&
		    !h.skip_body &&
		    (request || (h.head.status >= 200 && h.head.status != 204 &&
				 h.head.status != 304)))
			FUZZ_CHECK(b.n == (size_t)h.head.content_length);
	}
	return 0;
}

/* Fuzz target: the HTTP/1 layer (common/http1), as the http plugin uses it:
 * head length, head parsing and body decoding, fed in pieces whose size
 * the first byte picks, as requests or responses. A refusal always comes
 * with a status and a reason; a body never decodes to more bytes than
 * were fed; messages that follow a complete one are parsed in turn. */
#include "fuzz.h"

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

/* A small blocking HTTP/1.1 client over a Unix socket, for command-line
 * tools: one request per connection, the whole answer read (by
 * Content-Length, chunked, or to EOF) up to a size cap. The answer is
 * parsed by the one HTTP/1 layer (common/http1.h). */
#ifndef PVX_HTTPC_H
#define PVX_HTTPC_H

#include <stdbool.h>
#include <stddef.h>

#define PVX_HTTPC_MAX_RESPONSE (16 * 1024 * 1024)

struct pvx_http_response {
	int status;	    /* 100-599 */
	char *etag;	    /* ETag header as sent, or NULL */
	char *content_type; /* or NULL */
	char *body;	    /* NUL-terminated (the body may hold NULs) */
	size_t body_len;
	bool connected; /* the connection was made (else: cannot connect) */
};

/* Parses the response in buf[0..len). eof: the peer closed after these
 * bytes. head: it answers a HEAD request (no body whatever the headers
 * say). Returns 1 when complete (resp filled), 0 when more bytes are
 * needed, -EBADMSG on a malformed or truncated answer, -ENOMEM (reason in
 * err). */
int pvx_http_parse_response(const char *buf, size_t len, bool eof, bool head,
			    struct pvx_http_response *resp, char *err,
			    size_t errlen);

/* Sends "method path" with body (Content-Type application/json when body
 * is not NULL) to the Unix socket sock and reads the answer, giving up
 * after timeout_ms in all. Returns 0 with resp filled, or -errno with a
 * reason in err; resp->connected tells a connect failure from a later
 * one. */
int pvx_httpc_request(const char *sock, const char *method, const char *path,
		      const char *body, size_t body_len, int timeout_ms,
		      struct pvx_http_response *resp, char *err, size_t errlen);

void pvx_http_response_free(struct pvx_http_response *resp);

#endif

/* Where pv-xconnect gets its graph from: the control socket (GET
 * /xconnect-graph, long-polled with ?wait=<etag> when the server sends an
 * ETag, else polled) or a file (reloaded on change and on demand). Either
 * source hands every graph body it fetches to one callback; parsing and
 * reconciling are the caller's. */
#ifndef PVX_CLIENT_H
#define PVX_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

/* body is not NUL-terminated; it is only valid during the call. */
typedef void (*pvx_graph_cb)(const char *body, size_t len, void *arg);

struct pvx_graph_src;

struct pvx_client_opts {
	int interval_ms;      /* polling period without ETag */
	int backoff_first_ms; /* retry after a failure, doubling */
	int backoff_max_ms;
	int timeout_ms;	     /* a plain request */
	int wait_timeout_ms; /* a ?wait= long-poll */
	size_t max_body;     /* larger answers are refused */
};
void pvx_client_opts_default(struct pvx_client_opts *o);

struct pvx_graph_src *pvx_client_new(struct event_base *base,
				     const char *sock_path,
				     const struct pvx_client_opts *o,
				     pvx_graph_cb cb, void *arg);
/* Follows path: reads it now, again when it is written, renamed over or
 * created (inotify on its directory). */
struct pvx_graph_src *pvx_graph_file_new(struct event_base *base,
					 const char *path, pvx_graph_cb cb,
					 void *arg);
/* SIGHUP: re-read the file / ask the server now. */
void pvx_graph_src_refresh(struct pvx_graph_src *s);
void pvx_graph_src_free(struct pvx_graph_src *s);

/* One HTTP response being received (exposed for unit tests), read by the
 * one HTTP/1 layer (common/http1.h): HTTP/1.0 and 1.1, the body framed by
 * Content-Length, chunked encoding, or the close; a bare LF, a
 * Transfer-Encoding other than chunked and the other framing faults the
 * proxy refuses are refused with the reason. */
enum pvx_http_res {
	PVX_HTTP_MORE, /* need more bytes (or EOF) */
	PVX_HTTP_DONE, /* complete: free with pvx_http_resp_free */
	PVX_HTTP_BAD,  /* malformed or too large */
};
struct pvx_http_resp {
	int status;
	char etag[128]; /* "" when absent; as sent, quotes included */
	char *body;	/* DONE: decoded, NUL-terminated, malloc'd */
	size_t body_len;
	size_t need;	  /* MORE: total length needed, when known */
	char reason[128]; /* when PVX_HTTP_BAD */
};
/* buf holds everything received so far; eof says the peer closed. */
enum pvx_http_res pvx_http_resp_parse(const char *buf, size_t len, bool eof,
				      size_t max_body, struct pvx_http_resp *r);
void pvx_http_resp_free(struct pvx_http_resp *r);

#endif

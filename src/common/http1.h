/* The one HTTP/1.x layer of pvx (docs/ARCHITECTURE.md): message framing
 * for the http plugin, pv-xconnect's graph client and pvcontrol's client,
 * a thin layer over libhttp-parser with stricter checks against request
 * smuggling (CL+TE, differing Content-Length, a Transfer-Encoding other
 * than chunked, obs-fold, bare LF, control bytes, bad chunk sizes). The
 * header block is parsed whole from one contiguous buffer; the body is then
 * fed in pieces and handed out decoded. Also the status reason table and
 * the hop-by-hop header rule. Pure: no I/O, no logs. */
#ifndef PVX_HTTP1_H
#define PVX_HTTP1_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PVX_HTTP1_MAX_HEAD 16384  /* header block (431 / refused beyond) */
#define PVX_HTTP1_MAX_HEADERS 128 /* header lines per message */

/* Points into the caller's header block: valid while it is. */
struct pvx_http1_header {
	const char *name;
	size_t name_len;
	const char *value; /* without surrounding blanks */
	size_t value_len;
};

struct pvx_http1_head {
	const char *method; /* request: "GET", … */
	int method_id;	    /* enum http_method */
	const char *url;    /* request target as sent */
	size_t url_len;
	int status; /* response */
	const char *reason;
	size_t reason_len;
	unsigned short major, minor;
	struct pvx_http1_header h[PVX_HTTP1_MAX_HEADERS];
	size_t nh;
	int64_t content_length; /* -1: none */
	bool chunked;		/* Transfer-Encoding: chunked */
	bool upgrade; /* request: Upgrade asked without a body; response: 101 */
	bool keep_alive; /* the sender allows another message after this */
};

/* Body bytes, decoded (chunk framing removed). Nonzero return aborts. */
typedef int (*pvx_http1_body_fn)(void *arg, const char *buf, size_t len);

struct pvx_http1 {
	http_parser p;
	struct pvx_http1_head head;
	bool request;
	bool skip_body; /* response to HEAD: set before parsing its head */
	bool head_done; /* the head was parsed */
	bool msg_done;	/* the whole message (head and body) was parsed */
	bool in_value;	/* libhttp-parser callback bookkeeping */
	/* Chunked bodies are decoded here, not by libhttp-parser, which is
	 * lenient about the CRLF after chunk data. */
	int ck_state;
	uint64_t ck_left;   /* bytes of the current chunk still to come */
	unsigned ck_digits; /* hex digits of the size line so far */
	size_t ck_trailer;  /* trailer bytes so far */
	pvx_http1_body_fn on_body;
	void *arg;
	int status;    /* on error: the answer to give (400, 431, 502) */
	char err[128]; /* on error: why */
};

/* Ready for one message. The body callback may be NULL (body discarded). */
void pvx_http1_init(struct pvx_http1 *h, bool request,
		    pvx_http1_body_fn on_body, void *arg);
/* Length of the header block at the start of buf, empty line included; 0
 * while it is incomplete; -1 when what is there is already malformed (a
 * bare LF, a CR not followed by LF, a NUL). */
ssize_t pvx_http1_head_len(const char *buf, size_t len);
/* Parses the complete header block buf[0..len) (len from head_len). A
 * message without a body is done at once (msg_done). 0, or -EINVAL with
 * status and err set. */
int pvx_http1_parse_head(struct pvx_http1 *h, const char *buf, size_t len);
/* Feeds body bytes; returns how many were consumed (fewer than len once
 * the message ends: the rest belongs to the next one), or -EINVAL. */
ssize_t pvx_http1_feed_body(struct pvx_http1 *h, const char *buf, size_t len);
/* The peer closed: ends a body delimited by the close (0), or -EINVAL
 * when the message was cut short. */
int pvx_http1_eof(struct pvx_http1 *h);
/* Whether the body runs until the connection closes (a response without
 * Content-Length or chunked framing). Valid after parse_head. */
bool pvx_http1_until_close(const struct pvx_http1 *h);

/* The first header of that name (case-insensitive), or NULL. */
const struct pvx_http1_header *pvx_http1_find(const struct pvx_http1_head *hd,
					      const char *name);
/* Whether the comma-separated list v[0..len) holds token (any case). */
bool pvx_http1_list_has(const char *v, size_t len, const char *token);
/* Whether header x is for this hop only and must not be forwarded: the
 * hop-by-hop names (Connection, Keep-Alive, TE, Trailer,
 * Transfer-Encoding, Upgrade, Proxy-*) and those the message's Connection
 * header conn (or NULL) lists. */
bool pvx_http1_hop_by_hop(const struct pvx_http1_header *x,
			  const struct pvx_http1_header *conn);
/* The reason phrase of a status code ("Not Found"); "Unknown" when the
 * table has none. */
const char *pvx_http1_reason(int status);

/* A whole response held in one buffer, for clients that read an answer
 * to the end before using it (pvcontrol, the graph client). */
struct pvx_http1_resp {
	struct pvx_http1 h; /* the head: header pointers into the buffer */
	char *body;	    /* DONE: decoded, NUL-terminated, malloc'd */
	size_t body_len;
	/* MORE: total bytes (head and body) needed before the answer can be
	 * complete, when the head is in and gives a Content-Length; else 0. */
	size_t need;
	size_t max_body; /* bookkeeping of the parse */
	bool keep;	 /* bookkeeping: copy the body out */
};
/* Parses the response in buf[0..len). eof: the peer closed after these
 * bytes (a body without Content-Length or chunked framing ends there: an
 * HTTP/1.0 answer). head: it answers a HEAD request. Returns 1 when
 * complete (r filled; free it with pvx_http1_resp_free), 0 when more bytes
 * are needed, -EBADMSG when malformed, cut short, or the body is over
 * max_body (r->h.err says why; nothing to free). */
int pvx_http1_read_response(const char *buf, size_t len, bool eof, bool head,
			    size_t max_body, struct pvx_http1_resp *r);
void pvx_http1_resp_free(struct pvx_http1_resp *r);

#endif

/* Blocking HTTP/1.1 client over a Unix socket (pvcontrol's transport).
 * Strict on what it accepts: a status line it understands, one
 * Content-Length, a bounded header block and a bounded answer. */
#include "common/httpc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/sock.h"

static char *dup_range(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static const char *find_crlf(const char *p, const char *end)
{
	for (; p + 1 < end; p++)
		if (p[0] == '\r' && p[1] == '\n')
			return p;
	return NULL;
}

/* Decodes a chunked body from p..end into a new buffer. Returns 1 when
 * the last chunk and the trailers are in, 0 when more is needed, -1 on a
 * malformed body. */
static int dechunk(const char *p, const char *end, char **out, size_t *outlen,
		   char *err, size_t errlen)
{
	char *buf = NULL;
	size_t blen = 0;

	for (;;) {
		const char *eol = find_crlf(p, end);
		uint64_t size = 0;
		const char *q = p;

		if (!eol)
			goto more;
		if (q == eol || !isxdigit((unsigned char)*q)) {
			snprintf(err, errlen, "bad chunk size line");
			goto bad;
		}
		for (; q < eol && isxdigit((unsigned char)*q); q++) {
			if (size > (PVX_HTTPC_MAX_RESPONSE >> 4)) {
				snprintf(err, errlen, "chunk too large");
				goto bad;
			}
			size = size * 16 +
			       (uint64_t)(isdigit((unsigned char)*q)
					      ? *q - '0'
					      : (tolower((unsigned char)*q) -
						 'a' + 10));
		}
		/* Chunk extensions (";name=value") are allowed and ignored. */
		if (q < eol && *q != ';' && *q != ' ' && *q != '\t') {
			snprintf(err, errlen, "bad chunk size line");
			goto bad;
		}
		p = eol + 2;
		if (size == 0) {
			/* Trailers until an empty line. */
			for (;;) {
				eol = find_crlf(p, end);
				if (!eol)
					goto more;
				if (eol == p)
					break;
				p = eol + 2;
			}
			if (!buf && !(buf = malloc(1))) {
				snprintf(err, errlen, "out of memory");
				goto bad;
			}
			buf[blen] = '\0';
			*out = buf;
			*outlen = blen;
			return 1;
		}
		if ((uint64_t)(end - p) < size + 2)
			goto more;
		if (p[size] != '\r' || p[size + 1] != '\n') {
			snprintf(err, errlen, "chunk not followed by CRLF");
			goto bad;
		}
		{
			char *nb = realloc(buf, blen + size + 1);
			if (!nb) {
				snprintf(err, errlen, "out of memory");
				goto bad;
			}
			buf = nb;
			memcpy(buf + blen, p, size);
			blen += size;
		}
		p += size + 2;
	}
more:
	free(buf);
	return 0;
bad:
	free(buf);
	return -1;
}

int pvx_http_parse_response(const char *buf, size_t len, bool eof, bool head,
			    struct pvx_http_response *resp, char *err,
			    size_t errlen)
{
	const char *end = buf + len, *hdr_end = NULL, *p, *eol;
	bool chunked = false, has_cl = false;
	uint64_t cl = 0;
	int status;

	for (p = buf; p + 3 < end; p++)
		if (memcmp(p, "\r\n\r\n", 4) == 0) {
			hdr_end = p + 2; /* at the empty line */
			break;
		}
	if (!hdr_end) {
		if (len > PVX_HTTPC_MAX_HEADERS) {
			snprintf(err, errlen, "response headers too large");
			return -EBADMSG;
		}
		if (eof) {
			snprintf(err, errlen,
				 len ? "truncated response headers"
				     : "empty response");
			return -EBADMSG;
		}
		return 0;
	}
	if (hdr_end - buf > PVX_HTTPC_MAX_HEADERS) {
		snprintf(err, errlen, "response headers too large");
		return -EBADMSG;
	}
	/* "HTTP/1.x NNN[ reason]" */
	eol = find_crlf(buf, hdr_end + 2);
	if (eol - buf < 12 || memcmp(buf, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)buf[7]) || buf[8] != ' ' ||
	    !isdigit((unsigned char)buf[9]) ||
	    !isdigit((unsigned char)buf[10]) ||
	    !isdigit((unsigned char)buf[11]) ||
	    (eol - buf > 12 && buf[12] != ' ')) {
		snprintf(err, errlen, "bad status line");
		return -EBADMSG;
	}
	status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (status < 100 || status > 599) {
		snprintf(err, errlen, "bad status code %d", status);
		return -EBADMSG;
	}
	memset(resp, 0, sizeof(*resp));
	resp->connected = true;
	resp->status = status;
	for (p = eol + 2; p < hdr_end; p = eol + 2) {
		const char *colon, *v, *vend;
		size_t nlen;

		eol = find_crlf(p, hdr_end + 2);
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p) {
			snprintf(err, errlen, "bad header line");
			goto bad;
		}
		nlen = (size_t)(colon - p);
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (vend = eol;
		     vend > v && (vend[-1] == ' ' || vend[-1] == '\t'); vend--)
			;
		if (nlen == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
			uint64_t n = 0;
			if (v == vend) {
				snprintf(err, errlen, "bad Content-Length");
				goto bad;
			}
			for (const char *q = v; q < vend; q++) {
				if (!isdigit((unsigned char)*q) ||
				    n > PVX_HTTPC_MAX_RESPONSE) {
					snprintf(err, errlen,
						 "bad Content-Length");
					goto bad;
				}
				n = n * 10 + (uint64_t)(*q - '0');
			}
			if (has_cl && n != cl) {
				snprintf(err, errlen,
					 "conflicting Content-Length");
				goto bad;
			}
			has_cl = true;
			cl = n;
		} else if (nlen == 17 &&
			   strncasecmp(p, "Transfer-Encoding", 17) == 0) {
			/* Only "chunked" (last) is something we decode. */
			size_t vl = (size_t)(vend - v);
			if (vl >= 7 && strncasecmp(vend - 7, "chunked", 7) == 0)
				chunked = true;
			else {
				snprintf(err, errlen,
					 "unsupported Transfer-Encoding");
				goto bad;
			}
		} else if (nlen == 4 && strncasecmp(p, "ETag", 4) == 0) {
			free(resp->etag);
			resp->etag = dup_range(v, (size_t)(vend - v));
		} else if (nlen == 12 &&
			   strncasecmp(p, "Content-Type", 12) == 0) {
			free(resp->content_type);
			resp->content_type = dup_range(v, (size_t)(vend - v));
		}
	}
	p = hdr_end + 2; /* first body byte */
	if (head || status < 200 || status == 204 || status == 304) {
		resp->body = dup_range("", 0);
	} else if (chunked) {
		int r =
		    dechunk(p, end, &resp->body, &resp->body_len, err, errlen);
		if (r < 0)
			goto bad;
		if (r == 0) {
			if (eof) {
				snprintf(err, errlen, "truncated chunked body");
				goto bad;
			}
			goto more;
		}
	} else if (has_cl) {
		if ((uint64_t)(end - p) < cl) {
			if (eof) {
				snprintf(err, errlen,
					 "truncated body (%zu of %llu bytes)",
					 (size_t)(end - p),
					 (unsigned long long)cl);
				goto bad;
			}
			goto more;
		}
		resp->body = dup_range(p, (size_t)cl);
		resp->body_len = (size_t)cl;
	} else {
		/* No length: the body ends with the connection (HTTP/1.0
		 * style servers). */
		if (!eof)
			goto more;
		resp->body = dup_range(p, (size_t)(end - p));
		resp->body_len = (size_t)(end - p);
	}
	if (!resp->body) {
		snprintf(err, errlen, "out of memory");
		goto bad;
	}
	return 1;
more:
	pvx_http_response_free(resp);
	return 0;
bad:
	pvx_http_response_free(resp);
	return -EBADMSG;
}

void pvx_http_response_free(struct pvx_http_response *resp)
{
	bool connected = resp->connected;

	free(resp->etag);
	free(resp->content_type);
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
	resp->connected = connected;
}

/* Waits for fd to be ready for events before the deadline. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	for (;;) {
		int64_t left = deadline - (int64_t)pvx_now_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int connect_unix(const char *path, int64_t deadline, char *err,
			size_t errlen)
{
	int fd, r;

	/* EAGAIN: the server's backlog is full; try again for a while. */
	while ((r = pvx_sock_connect_unix(path, &fd)) == -EAGAIN) {
		if ((int64_t)pvx_now_ms() >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		usleep(10000);
	}
	if (r == -ENAMETOOLONG)
		snprintf(err, errlen, "%s: path too long", path);
	else if (r < 0)
		snprintf(err, errlen, "connect %s: %s", path, strerror(-r));
	/* In progress: writing waits for it (wait_fd). */
	return r < 0 && r != -EINPROGRESS ? r : fd;
}

int pvx_httpc_request(const char *sock, const char *method, const char *path,
		      const char *body, size_t body_len, int timeout_ms,
		      struct pvx_http_response *resp, char *err, size_t errlen)
{
	int64_t deadline = (int64_t)pvx_now_ms() + timeout_ms;
	bool head = strcmp(method, "HEAD") == 0;
	char *hdr = NULL, *in = NULL;
	size_t hlen, inlen = 0, incap = 0, off;
	int fd, r, n;

	memset(resp, 0, sizeof(*resp));
	fd = connect_unix(sock, deadline, err, errlen);
	if (fd < 0)
		return fd;
	resp->connected = true;
	n = asprintf(&hdr,
		     "%s %s HTTP/1.1\r\nHost: localhost\r\n"
		     "User-Agent: pvcontrol\r\nAccept: application/json\r\n"
		     "Connection: close\r\n%s"
		     "Content-Length: %zu\r\n\r\n",
		     method, path,
		     body ? "Content-Type: application/json\r\n" : "",
		     body ? body_len : 0);
	if (n < 0) {
		hdr = NULL;
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	hlen = (size_t)n;
	/* Header then body; a server may answer (413) and close before it
	 * read everything: a failed send still lets us read its answer. */
	for (off = 0; off < hlen + (body ? body_len : 0);) {
		const char *p = off < hlen ? hdr + off : body + (off - hlen);
		size_t left = off < hlen ? hlen - off : body_len - (off - hlen);
		ssize_t w = send(fd, p, left, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			r = wait_fd(fd, POLLOUT, deadline);
			if (r < 0) {
				snprintf(err, errlen, "send: %s", strerror(-r));
				goto out;
			}
			continue;
		}
		break; /* EPIPE/ECONNRESET: read what the server said */
	}
	for (;;) {
		ssize_t got;

		if (inlen == incap) {
			size_t cap = incap ? incap * 2 : 16384;
			char *nb;
			if (incap >= PVX_HTTPC_MAX_RESPONSE) {
				snprintf(err, errlen,
					 "response larger than %d bytes",
					 PVX_HTTPC_MAX_RESPONSE);
				r = -EFBIG;
				goto out;
			}
			nb = realloc(in, cap);
			if (!nb) {
				snprintf(err, errlen, "out of memory");
				r = -ENOMEM;
				goto out;
			}
			in = nb;
			incap = cap;
		}
		got = recv(fd, in + inlen, incap - inlen, 0);
		if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
			r = wait_fd(fd, POLLIN, deadline);
			if (r < 0) {
				snprintf(err, errlen, "waiting for answer: %s",
					 strerror(-r));
				goto out;
			}
			continue;
		}
		if (got < 0 && errno != ECONNRESET) {
			r = -errno;
			snprintf(err, errlen, "recv: %s", strerror(errno));
			goto out;
		}
		if (got > 0)
			inlen += (size_t)got;
		r = pvx_http_parse_response(in, inlen, got <= 0, head, resp,
					    err, errlen);
		if (r == 1) {
			r = 0;
			goto out;
		}
		if (r < 0)
			goto out;
	}
out:
	resp->connected = true;
	free(hdr);
	free(in);
	close(fd);
	return r;
}

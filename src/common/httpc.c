/* Blocking HTTP/1.1 client over a Unix socket (pvcontrol's transport).
 * Answers are read by the one HTTP/1 layer (common/http1.h), as strict as
 * the proxy: a bounded header block and a bounded answer. */
#include "common/httpc.h"

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
#include "common/http1.h"
#include "common/sock.h"

static char *header_dup(const struct pvx_http1_head *hd, const char *name)
{
	const struct pvx_http1_header *x = pvx_http1_find(hd, name);

	return x ? strndup(x->value, x->value_len) : NULL;
}

int pvx_http_parse_response(const char *buf, size_t len, bool eof, bool head,
			    struct pvx_http_response *resp, char *err,
			    size_t errlen)
{
	struct pvx_http1_resp *r = malloc(sizeof(*r));
	const struct pvx_http1_head *hd;
	int ret;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = pvx_http1_read_response(buf, len, eof, head,
				      PVX_HTTPC_MAX_RESPONSE, r);
	if (ret <= 0) {
		if (ret < 0)
			snprintf(err, errlen, "%s", r->h.err);
		free(r);
		return ret;
	}
	hd = &r->h.head;
	memset(resp, 0, sizeof(*resp));
	resp->connected = true;
	resp->status = hd->status;
	resp->body = r->body; /* taken over */
	resp->body_len = r->body_len;
	resp->etag = header_dup(hd, "etag");
	resp->content_type = header_dup(hd, "content-type");
	ret = 1;
	if ((pvx_http1_find(hd, "etag") && !resp->etag) ||
	    (pvx_http1_find(hd, "content-type") && !resp->content_type)) {
		snprintf(err, errlen, "out of memory");
		pvx_http_response_free(resp);
		ret = -ENOMEM;
	}
	free(r);
	return ret;
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

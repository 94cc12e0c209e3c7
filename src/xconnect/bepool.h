/* Idle backend connections kept for reuse (HTTP keep-alive to backends,
 * docs/xconnect.md "Backend keep-alive"): keyed by backend identity and an
 * optional tag (bytes the connection began with, e.g. a PROXY header),
 * bounded per key and in all. An idle connection is watched: any readable
 * event (EOF, or bytes nobody asked for) or the idle timeout closes it. */
#ifndef PVX_BEPOOL_H
#define PVX_BEPOOL_H

#include <event2/event.h>
#include <stddef.h>

#include "xconnect/relay.h"

/* Longest tag: a PROXY protocol header (proxyproto.h's PVX_PP_MAX). */
#define PVX_BEPOOL_TAG_MAX 108

struct pvx_bepool_limits {
	unsigned per_backend; /* idle connections per key; 0: never pool */
	unsigned total;	      /* idle connections in all */
	int idle_ms;	      /* an idle connection is closed after this */
};

struct pvx_bepool;

/* A pool on base with a copy of lim; NULL and errno on failure. */
struct pvx_bepool *pvx_bepool_new(struct event_base *base,
				  const struct pvx_bepool_limits *lim);
/* Closes every idle connection and frees the pool. NULL is fine. */
void pvx_bepool_free(struct pvx_bepool *p);

/* Offers fd, a connection to be that is idle (its last answer read
 * whole, nothing unsent), whose first bytes were tag (tag_len 0: none).
 * Takes fd in every case: 0 when kept, else it was closed and -ENOSPC
 * (the key or the pool is full, or per_backend is 0), -EINVAL (be has no
 * address, tag too long) or -ENOMEM. */
int pvx_bepool_put(struct pvx_bepool *p, const struct pvx_backend *be,
		   const void *tag, size_t tag_len, int fd);
/* The most recently pooled idle connection to be with that tag, now the
 * caller's (no longer watched); -ENOENT when there is none. Connections
 * found closed or readable on the way are closed and skipped. */
int pvx_bepool_get(struct pvx_bepool *p, const struct pvx_backend *be,
		   const void *tag, size_t tag_len);
/* Closes every idle connection to be, whatever its tag (a route removed, a
 * backend changed); be NULL: every one (the process is out of fds).
 * Returns how many were closed. */
size_t pvx_bepool_flush(struct pvx_bepool *p, const struct pvx_backend *be);
/* Idle connections to be (any tag) held now; be NULL: in all. */
size_t pvx_bepool_count(const struct pvx_bepool *p,
			const struct pvx_backend *be);

/* Whether the idle connection fd is still open and silent (nothing to
 * read, no EOF, no error): one recv(MSG_PEEK), for a close the event
 * loop has not reported yet. */
bool pvx_bepool_alive(int fd);

/* Whether a and b are the same backend: kind, address or path, and
 * provider pid (a provider restarted at the same address is another
 * backend: its old connections are gone). */
bool pvx_backend_same(const struct pvx_backend *a, const struct pvx_backend *b);

#endif

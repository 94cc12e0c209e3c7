/* Idle backend connections kept for reuse (see bepool.h). One bucket per
 * (backend, tag) with its connections most recent first: reuse takes the
 * newest (the least likely to have been closed by the backend, and the
 * older ones age out), and the buckets are few (one per backend, or per
 * client connection when a tag is used). */
#include "xconnect/bepool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"

struct idle_conn {
	TAILQ_ENTRY(idle_conn) le;
	struct bucket *b;
	struct event *ev; /* readable or idle timeout: closed */
	int fd;
};

struct bucket {
	LIST_ENTRY(bucket) le;
	struct pvx_backend be;
	unsigned char tag[PVX_BEPOOL_TAG_MAX];
	size_t tag_len;
	unsigned n;
	TAILQ_HEAD(, idle_conn) conns; /* most recently pooled first */
	struct pvx_bepool *p;
};

struct pvx_bepool {
	struct event_base *base;
	struct pvx_bepool_limits lim;
	unsigned n; /* idle connections in all */
	LIST_HEAD(, bucket) buckets;
};

bool pvx_backend_same(const struct pvx_backend *a, const struct pvx_backend *b)
{
	if (a->kind != b->kind || a->pid != b->pid)
		return false;
	switch (a->kind) {
	case PVX_BACKEND_TCP:
		return pvx_hostport_equal(&a->hp, &b->hp);
	case PVX_BACKEND_UNIX:
		return strcmp(a->path, b->path) == 0;
	default:
		return true;
	}
}

struct pvx_bepool *pvx_bepool_new(struct event_base *base,
				  const struct pvx_bepool_limits *lim)
{
	struct pvx_bepool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->base = base;
	p->lim = *lim;
	LIST_INIT(&p->buckets);
	return p;
}

static struct bucket *bucket_find(const struct pvx_bepool *p,
				  const struct pvx_backend *be, const void *tag,
				  size_t tag_len)
{
	struct bucket *b;

	LIST_FOREACH(b, &p->buckets, le)
	if (b->tag_len == tag_len && pvx_backend_same(&b->be, be) &&
	    (tag_len == 0 || memcmp(b->tag, tag, tag_len) == 0))
		return b;
	return NULL;
}

/* Takes c out of its bucket (freed with its last connection); the fd is
 * left to the caller. */
static int conn_take(struct idle_conn *c)
{
	struct bucket *b = c->b;
	int fd = c->fd;

	event_free(c->ev);
	TAILQ_REMOVE(&b->conns, c, le);
	b->n--;
	b->p->n--;
	free(c);
	if (b->n == 0) {
		LIST_REMOVE(b, le);
		free(b);
	}
	return fd;
}

/* The backend closed it, sent bytes nobody asked for, or it idled out. */
static void on_idle_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	close(conn_take(arg));
}

int pvx_bepool_put(struct pvx_bepool *p, const struct pvx_backend *be,
		   const void *tag, size_t tag_len, int fd)
{
	struct timeval tv = pvx_ms_tv((uint64_t)p->lim.idle_ms);
	struct bucket *b;
	struct idle_conn *c = NULL;
	int r;

	if (be->kind == PVX_BACKEND_NONE || tag_len > PVX_BEPOOL_TAG_MAX) {
		r = -EINVAL;
		goto fail;
	}
	r = -ENOSPC;
	if (p->lim.per_backend == 0 || p->n >= p->lim.total ||
	    p->lim.idle_ms <= 0)
		goto fail;
	b = bucket_find(p, be, tag, tag_len);
	if (b && b->n >= p->lim.per_backend)
		goto fail;
	r = -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	c->fd = fd;
	c->ev = event_new(p->base, fd, EV_READ, on_idle_event, c);
	if (!c->ev || event_add(c->ev, &tv) < 0)
		goto fail;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			goto fail;
		b->be = *be;
		if (tag_len)
			memcpy(b->tag, tag, tag_len);
		b->tag_len = tag_len;
		b->p = p;
		TAILQ_INIT(&b->conns);
		LIST_INSERT_HEAD(&p->buckets, b, le);
	}
	c->b = b;
	TAILQ_INSERT_HEAD(&b->conns, c, le);
	b->n++;
	p->n++;
	return 0;
fail:
	if (c && c->ev)
		event_free(c->ev);
	free(c);
	close(fd);
	return r;
}

bool pvx_bepool_alive(int fd)
{
	char byte;

	return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
	       (errno == EAGAIN || errno == EWOULDBLOCK);
}

int pvx_bepool_get(struct pvx_bepool *p, const struct pvx_backend *be,
		   const void *tag, size_t tag_len)
{
	struct bucket *b;
	int fd;

	if (tag_len > PVX_BEPOOL_TAG_MAX)
		return -ENOENT;
	while ((b = bucket_find(p, be, tag, tag_len))) {
		fd = conn_take(TAILQ_FIRST(&b->conns));
		if (pvx_bepool_alive(fd))
			return fd;
		close(fd);
	}
	return -ENOENT;
}

size_t pvx_bepool_flush(struct pvx_bepool *p, const struct pvx_backend *be)
{
	struct bucket *b, *next;
	size_t n = 0;

	if (!p)
		return 0;
	for (b = LIST_FIRST(&p->buckets); b; b = next) {
		next = LIST_NEXT(b, le);
		if (be && !pvx_backend_same(&b->be, be))
			continue;
		/* The last conn_take frees b. */
		for (unsigned left = b->n; left > 0; left--, n++)
			close(conn_take(TAILQ_FIRST(&b->conns)));
	}
	return n;
}

size_t pvx_bepool_count(const struct pvx_bepool *p,
			const struct pvx_backend *be)
{
	const struct bucket *b;
	size_t n = 0;

	if (!p)
		return 0;
	if (!be)
		return p->n;
	LIST_FOREACH(b, &p->buckets, le)
	if (pvx_backend_same(&b->be, be))
		n += b->n;
	return n;
}

void pvx_bepool_free(struct pvx_bepool *p)
{
	if (!p)
		return;
	pvx_bepool_flush(p, NULL);
	free(p);
}

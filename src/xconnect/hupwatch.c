/* See hupwatch.h. */
#include "xconnect/hupwatch.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct pvx_hupw {
	int ep;
	struct event *ev;
};

/* Callbacks may delete (and free) other items: one event per epoll_wait,
 * so that no event of a deleted item is ever looked at. Bounded, so that
 * the loop's other events get their turn. */
static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct pvx_hupw *w = arg;
	struct epoll_event e;

	(void)fd;
	(void)what;
	for (int n = 0; n < 64; n++) {
		if (epoll_wait(w->ep, &e, 1, 0) != 1)
			return;
		struct pvx_hupw_item *it = e.data.ptr;
		it->cb(it);
	}
}

struct pvx_hupw *pvx_hupw_new(struct event_base *base)
{
	struct pvx_hupw *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return NULL;
	errno = 0;
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (w->ep < 0)
		goto fail;
	w->ev = event_new(base, w->ep, EV_READ | EV_PERSIST, on_ready, w);
	if (!w->ev || event_add(w->ev, NULL) < 0)
		goto fail;
	return w;
fail:
	err = errno ? errno : ENOMEM;
	pvx_hupw_free(w);
	errno = err;
	return NULL;
}

void pvx_hupw_free(struct pvx_hupw *w)
{
	if (!w)
		return;
	if (w->ev)
		event_free(w->ev);
	if (w->ep >= 0)
		close(w->ep);
	free(w);
}

int pvx_hupw_add(struct pvx_hupw *w, struct pvx_hupw_item *it)
{
	struct epoll_event e = {.events = EPOLLRDHUP, .data.ptr = it};

	return epoll_ctl(w->ep, EPOLL_CTL_ADD, it->fd, &e) < 0 ? -errno : 0;
}

int pvx_hupw_del(struct pvx_hupw *w, struct pvx_hupw_item *it)
{
	return epoll_ctl(w->ep, EPOLL_CTL_DEL, it->fd, NULL) < 0 ? -errno : 0;
}

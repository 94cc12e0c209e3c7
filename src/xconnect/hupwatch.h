/* Watches sockets for their peer's end (FIN, reset) without waking on
 * data: the kernel relay's sessions (docs/ARCHITECTURE.md, "The session's
 * life on the kernel path") must hear of a close while the BPF program
 * moves their bytes. libevent cannot do it: EV_CLOSED alone is never
 * dispatched when epoll reports EPOLLHUP or EPOLLERR (a reset), which it
 * then reports again on every loop: a busy loop. So these sockets live in
 * an epoll set of their own, itself watched by the event loop. */
#ifndef PVX_HUPWATCH_H
#define PVX_HUPWATCH_H

#include <event2/event.h>

struct pvx_hupw;

/* What a watched socket calls: once per wakeup of the loop while its
 * peer's end stays unhandled (level-triggered), until pvx_hupw_del. */
struct pvx_hupw_item {
	void (*cb)(struct pvx_hupw_item *it);
	int fd;
};

/* NULL with errno on failure. */
struct pvx_hupw *pvx_hupw_new(struct event_base *base);
void pvx_hupw_free(struct pvx_hupw *w);
/* Watches it->fd for EPOLLRDHUP, EPOLLHUP, EPOLLERR. it stays ours until
 * pvx_hupw_del; an item is deleted before its memory goes (even from
 * inside another item's callback). 0 or -errno. */
int pvx_hupw_add(struct pvx_hupw *w, struct pvx_hupw_item *it);
int pvx_hupw_del(struct pvx_hupw *w, struct pvx_hupw_item *it);

#endif

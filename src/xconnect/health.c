/* Backend health probes (see health.h): one timer per link; a probe is a
 * non-blocking connect that is closed as soon as it is answered, so the
 * backend sees a connection without a byte. Unix backends are probed only
 * with --health-unix (a Unix server may count or log every connection). */
#include "xconnect/health.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/sock.h"
#include "xconnect/relay.h"

struct pvx_probe {
	struct pvx_link *link;
	struct event *timer;   /* every health_interval_ms */
	struct event *conn_ev; /* the probe's connect, while in flight */
	int fd;
	uint64_t t0_us; /* the dial's start, pvx_now_us() */
};

static void probe_end(struct pvx_probe *p)
{
	if (p->conn_ev) {
		event_free(p->conn_ev);
		p->conn_ev = NULL;
	}
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
}

static void on_probe(evutil_socket_t fd, short what, void *arg)
{
	struct pvx_probe *p = arg;
	int err = 0;

	if (what & EV_TIMEOUT)
		err = ETIMEDOUT;
	else
		err = -pvx_sock_connect_result(fd);
	if (err)
		pvx_health_down(&p->link->stats, strerror(err));
	else
		pvx_health_up(&p->link->stats, pvx_now_us() - p->t0_us);
	probe_end(p);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct pvx_probe *p = arg;
	struct pvx_link *link = p->link;
	int interval = pvx_limits.health_interval_ms, ms, r;
	struct pvx_backend be;
	struct timeval tv;

	(void)fd;
	(void)what;
	if (p->conn_ev)
		return; /* the last one is still in flight */
	/* A dial in the last interval told already. */
	if (link->stats.health.last_dial_ms &&
	    pvx_now_ms() - link->stats.health.last_dial_ms < (uint64_t)interval)
		return;
	pvx_backend_from_conf(&be, &link->conf);
	if (be.kind == PVX_BACKEND_NONE ||
	    (be.kind == PVX_BACKEND_UNIX && !pvx_limits.health_unix))
		return;
	p->t0_us = pvx_now_us();
	r = pvx_backend_connect(&be, &p->fd);
	if (r == 0) {
		pvx_health_up(&link->stats, pvx_now_us() - p->t0_us);
		probe_end(p);
		return;
	}
	if (r != -EINPROGRESS) {
		p->fd = -1;
		pvx_health_down(&link->stats, strerror(-r));
		return;
	}
	ms = pvx_link_limits(&link->conf).connect_timeout_ms;
	if (ms > interval)
		ms = interval;
	tv = pvx_ms_tv((uint64_t)ms);
	p->conn_ev = event_new(link->base, p->fd, EV_WRITE, on_probe, p);
	if (!p->conn_ev || event_add(p->conn_ev, &tv) < 0)
		probe_end(p);
}

struct pvx_probe *pvx_probe_new(struct pvx_link *link)
{
	int ms = pvx_limits.health_interval_ms;
	struct pvx_probe *p;
	struct timeval tv;

	if (ms <= 0 || !link->base)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->link = link;
	p->fd = -1;
	p->timer = event_new(link->base, -1, EV_PERSIST, on_tick, p);
	tv = pvx_ms_tv((uint64_t)ms);
	if (!p->timer || event_add(p->timer, &tv) < 0) {
		pvx_probe_free(p);
		return NULL;
	}
	return p;
}

void pvx_probe_free(struct pvx_probe *p)
{
	if (!p)
		return;
	probe_end(p);
	if (p->timer)
		event_free(p->timer);
	free(p);
}

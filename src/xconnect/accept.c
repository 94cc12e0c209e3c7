/* The accept layer (see accept.h): one accept loop for the tcp, unix and
 * http plugins, with the fd reserve, the limits and the rate-limited
 * warnings in one place. */
#include "xconnect/accept.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/fdlimit.h"
#include "common/log.h"
#include "xconnect/pipes.h"

/* How long accepting pauses when the process is out of fds: long enough
 * not to spin, short enough that service resumes quickly. */
#define ACCEPT_PAUSE_MS 100
/* Accepts per readiness callback, so one busy listener cannot starve
 * the others. */
#define ACCEPT_BATCH 64

static void process_setup(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	/* A write to a peer that went away must be an EPIPE error, not a
	 * signal that kills the daemon. */
	signal(SIGPIPE, SIG_IGN);
	/* Each session holds up to six fds (two sockets, two pipes): use
	 * what the hard limit allows, with one fd in reserve for EMFILE. */
	pvx_fdlimit_raise();
}

/* Out of fds: answer one pending client by closing it (with the reserve
 * fd), then stop accepting for a while instead of spinning on a listener
 * that stays readable. */
static void exhausted(struct pvx_acceptor *a, int err)
{
	struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
	unsigned suppressed;

	if (!a->pause_ev)
		return;	   /* stopped meanwhile */
	pvx_pipes_flush(); /* pooled pipes hold fds too */
	if (a->ops->exhausted)
		a->ops->exhausted(a->arg);
	if (pvx_fdlimit_shed(a->fd) == 0)
		a->ops->count(a->arg, PVX_ACCEPT_SHED);
	if (pvx_ratelimit_ok(&a->warn_err, &suppressed))
		pvx_warn("accept %s: %s; pausing accepts for %d ms "
			 "suppressed=%u",
			 a->name, strerror(err), ACCEPT_PAUSE_MS, suppressed);
	if (a->ev)
		event_del(a->ev);
	a->paused = true;
	evtimer_add(a->pause_ev, &tv);
}

static void on_pause_end(evutil_socket_t fd, short what, void *arg)
{
	struct pvx_acceptor *a = arg;

	(void)fd;
	(void)what;
	a->paused = false;
	pvx_fdlimit_rearm();
	if (a->ev)
		event_add(a->ev, NULL);
}

static void log_denied(struct pvx_acceptor *a, const struct sockaddr *sa,
		       socklen_t len)
{
	char peer[PVX_ADDRSTRLEN];
	unsigned suppressed;

	if (!pvx_ratelimit_ok(&a->warn_denied, &suppressed))
		return;
	pvx_sockaddr_format(sa, len, peer, sizeof(peer));
	pvx_warn("%s: client %s not in allow: closed suppressed=%u", a->name,
		 peer, suppressed);
}

/* Whether one more connection from sa fits under the per-client cap;
 * counts it if so (pvx_acceptor_release gives it back). Unix clients
 * are not capped. */
static bool client_admit(struct pvx_acceptor *a, const struct pvx_limits *lim,
			 const struct sockaddr *sa, socklen_t len)
{
	struct pvx_addr_key k;
	char ip[PVX_ADDRSTRLEN];
	unsigned suppressed;
	int r;

	if (lim->max_conns_per_client == 0 || pvx_addr_key_of(sa, len, &k) < 0)
		return true;
	r = pvx_addrcount_take(&a->clients, &k, lim->max_conns_per_client);
	if (r > 0)
		return true;
	if (r != -EUSERS)
		return false; /* out of memory: so would the connection be */
	a->ops->count(a->arg, PVX_ACCEPT_REFUSED_CLIENT);
	if (pvx_ratelimit_ok(&a->warn_client, &suppressed)) {
		pvx_addr_key_format(&k, ip, sizeof(ip));
		pvx_warn("%s: client %s has %u connections, the per-client "
			 "limit: closing new ones suppressed=%u",
			 a->name, ip, lim->max_conns_per_client, suppressed);
	}
	return false;
}

/* The checks of one accepted connection, then the owner takes it.
 * Returns the owner's -EMFILE/-ENFILE (accepting must pause), else 0. */
static int admit(struct pvx_acceptor *a, int fd, const struct sockaddr *sa,
		 socklen_t len)
{
	struct pvx_limits lim;
	unsigned suppressed;
	int r;

	if (a->ops->allows && !a->ops->allows(a->arg, sa)) {
		/* Before any dial: the backend never sees it. */
		close(fd);
		a->ops->count(a->arg, PVX_ACCEPT_DENIED);
		log_denied(a, sa, len);
		return 0;
	}
	a->ops->count(a->arg, PVX_ACCEPT_OK);
	lim = a->ops->limits(a->arg);
	if (a->nconns >= lim.max_conns) {
		close(fd);
		a->ops->count(a->arg, PVX_ACCEPT_REFUSED_MAX);
		if (pvx_ratelimit_ok(&a->warn_full, &suppressed))
			pvx_warn("%s: %u connections, the limit: closing new "
				 "ones suppressed=%u",
				 a->name, a->nconns, suppressed);
		return 0;
	}
	if (!client_admit(a, &lim, sa, len)) {
		close(fd);
		return 0;
	}
	a->nconns++;
	r = a->ops->take(a->arg, fd, sa, len);
	if (r == 0)
		return 0;
	pvx_acceptor_release(a, sa, len);
	return r == -EMFILE || r == -ENFILE ? r : 0;
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct pvx_acceptor *a = arg;
	struct sockaddr_storage ss;
	unsigned suppressed;
	socklen_t sl;
	int fd, r;

	(void)what;
	for (int n = 0; n < ACCEPT_BATCH && a->ev; n++) {
		sl = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				exhausted(a, errno);
				return;
			}
			if (pvx_ratelimit_ok(&a->warn_err, &suppressed))
				pvx_warn("accept %s: %s suppressed=%u", a->name,
					 strerror(errno), suppressed);
			return;
		}
		r = admit(a, fd, (struct sockaddr *)&ss, sl);
		if (r < 0) {
			/* The owner found no fd for its side: accepting
			 * more now would only close them the same way. */
			exhausted(a, -r);
			return;
		}
	}
}

int pvx_acceptor_start(struct pvx_acceptor *a, struct event_base *base, int fd,
		       const char *name, const struct pvx_accept_ops *ops,
		       void *arg)
{
	process_setup();
	*a = (struct pvx_acceptor){.ops = ops, .arg = arg, .base = base};
	snprintf(a->name, sizeof(a->name), "%s", name);
	pvx_addrcount_init(&a->clients, pvx_addrcount_seed());
	a->fd = fd;
	a->ev = event_new(base, fd, EV_READ | EV_PERSIST, on_accept, a);
	a->pause_ev = evtimer_new(base, on_pause_end, a);
	if (!a->ev || !a->pause_ev || event_add(a->ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

int pvx_acceptor_move(struct pvx_acceptor *a, int fd)
{
	struct event *ev;

	ev = event_new(a->base, fd, EV_READ | EV_PERSIST, on_accept, a);
	if (!ev)
		return -ENOMEM;
	if (a->ev)
		event_free(a->ev);
	a->ev = ev;
	a->fd = fd;
	if (!a->paused)
		event_add(a->ev, NULL);
	return 0;
}

void pvx_acceptor_stop(struct pvx_acceptor *a)
{
	if (a->ev)
		event_free(a->ev);
	a->ev = NULL;
	if (a->pause_ev)
		event_free(a->pause_ev);
	a->pause_ev = NULL;
	a->paused = false;
	a->fd = -1;
}

void pvx_acceptor_release(struct pvx_acceptor *a, const struct sockaddr *sa,
			  socklen_t len)
{
	struct pvx_addr_key k;

	if (a->nconns > 0)
		a->nconns--;
	/* Nothing was counted for it when the cap is off: then no client
	 * of this acceptor has a count, and put finds nothing. */
	if (sa && pvx_addr_key_of(sa, len, &k) == 0 &&
	    pvx_addrcount_get(&a->clients, &k) > 0)
		pvx_addrcount_put(&a->clients, &k);
}

void pvx_acceptor_clear(struct pvx_acceptor *a)
{
	pvx_acceptor_stop(a);
	pvx_addrcount_clear(&a->clients);
}

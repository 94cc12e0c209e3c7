/* The tcp plugin (SPEC §8): one listening socket per link, in the host
 * network namespace or inside the consumer's; every accepted connection
 * becomes a relay session to the link's current backend. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/ns.h"
#include "xconnect/link.h"
#include "xconnect/pipes.h"
#include "xconnect/relay.h"

/* How long accepting pauses when the process is out of fds: long enough
 * not to spin, short enough that service resumes quickly. */
#define ACCEPT_PAUSE_MS 100
/* Accepts per readiness callback, so one busy link cannot starve others. */
#define ACCEPT_BATCH 64

struct tcp_link {
	struct pvx_link *link;
	int lfd;
	pid_t bound_pid; /* consumer_pid the listener was created for */
	struct event *accept_ev;
	struct event *pause_ev; /* resumes accepting after ACCEPT_PAUSE_MS */
	bool paused;
	struct event *drain_ev; /* after stop: closes what is left */
	struct pvx_session_list sessions;
	unsigned nsessions;
	bool stopping; /* stop() was called: free when the last one goes */
	bool draining; /* closing all sessions now: on_close must not free */
	uint64_t last_warn; /* rate limit of accept warnings, in s */
};

/* One fd kept in reserve for the whole process: on EMFILE it is released
 * to accept the pending connection and close it at once (the client gets
 * an answer instead of hanging), then taken again. */
static int reserve_fd = -1;

static void process_setup(void)
{
	static bool done;
	struct rlimit rl;

	if (done)
		return;
	done = true;
	/* A write to a peer that went away must be an EPIPE error, not a
	 * signal that kills the daemon. */
	signal(SIGPIPE, SIG_IGN);
	/* Each session holds up to six fds (two sockets, two pipes): use
	 * what the hard limit allows. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

struct bind_req {
	const struct pvx_hostport *hp;
	int fd;
	const char *step; /* the call that failed */
};

/* Runs inside the consumer's network namespace when there is one: the
 * socket belongs to the namespace it was created in. */
static int bind_listener(void *arg)
{
	struct bind_req *req = arg;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, r;

	fd = socket(req->hp->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		req->step = "socket";
		return -errno;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		req->step = "setsockopt SO_REUSEADDR";
		goto fail;
	}
	/* Accepted sockets inherit it: one setsockopt per link, not one
	 * per connection. A relay adds latency to small writes otherwise. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		req->step = "setsockopt TCP_NODELAY";
		goto fail;
	}
	/* [::]:P must not take IPv4 P too: links on 0.0.0.0:P can coexist. */
	if (req->hp->family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
		req->step = "setsockopt IPV6_V6ONLY";
		goto fail;
	}
	sl = pvx_hostport_to_sockaddr(req->hp, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		req->step = "bind";
		goto fail;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		req->step = "listen";
		goto fail;
	}
	req->fd = fd;
	return 0;
fail:
	r = -errno;
	close(fd);
	return r;
}

static int listener_open(const struct pvx_link_conf *c, int *fd, char *err,
			 size_t errlen)
{
	struct bind_req req = {.hp = &c->listen, .fd = -1, .step = NULL};
	char where[48] = "";
	int r;

	r = pvx_ns_run(c->consumer_pid, PVX_NS_NET, bind_listener, &req);
	if (r < 0) {
		if (c->consumer_pid > 0)
			snprintf(where, sizeof(where), " in netns of pid %d",
				 (int)c->consumer_pid);
		snprintf(err, errlen, "%s %s%s: %s",
			 req.step ? req.step : "enter netns", c->target, where,
			 strerror(-r));
		return r;
	}
	*fd = req.fd;
	return 0;
}

static void tcp_free(struct tcp_link *t)
{
	struct pvx_link *link = t->link;

	if (t->accept_ev)
		event_free(t->accept_ev);
	if (t->lfd >= 0)
		close(t->lfd);
	if (t->pause_ev)
		event_free(t->pause_ev);
	if (t->drain_ev)
		event_free(t->drain_ev);
	free(t);
	link->priv = NULL;
}

static void on_session_close(void *arg, struct pvx_session *s)
{
	struct tcp_link *t = arg;
	struct pvx_link *link = t->link;

	(void)s;
	t->nsessions--;
	if (t->stopping && !t->draining && t->nsessions == 0) {
		tcp_free(t);
		pvx_link_free(link);
	}
}

static bool warn_allowed(struct tcp_link *t)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (t->last_warn != 0 && (uint64_t)ts.tv_sec <= t->last_warn)
		return false;
	t->last_warn = (uint64_t)ts.tv_sec;
	return true;
}

/* Out of fds: answer one pending client by closing it (with the reserve
 * fd), then stop accepting for a while instead of spinning on a listener
 * that stays readable. */
static void accept_exhausted(struct tcp_link *t, int err)
{
	struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
	int fd;

	pvx_pipes_flush(); /* pooled pipes hold fds too */
	if (reserve_fd >= 0) {
		close(reserve_fd);
		fd = accept4(t->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			t->link->stats.accepted++;
			t->link->stats.failed++;
		}
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (warn_allowed(t))
		pvx_warn("accept link=%s target=%s: %s; pausing accepts for "
			 "%d ms",
			 t->link->conf.name, t->link->conf.target,
			 strerror(err), ACCEPT_PAUSE_MS);
	event_del(t->accept_ev);
	t->paused = true;
	evtimer_add(t->pause_ev, &tv);
}

static void on_pause_end(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_link *t = arg;

	(void)fd;
	(void)what;
	t->paused = false;
	if (reserve_fd < 0)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	event_add(t->accept_ev, NULL);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct tcp_link *t = arg;
	struct pvx_link *link = t->link;
	struct pvx_session_params p;
	struct pvx_backend be;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	(void)what;
	for (int n = 0; n < ACCEPT_BATCH; n++) {
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
				accept_exhausted(t, errno);
				return;
			}
			if (warn_allowed(t))
				pvx_warn("accept link=%s target=%s: %s",
					 link->conf.name, link->conf.target,
					 strerror(errno));
			return;
		}
		link->stats.accepted++;
		if (t->nsessions >= pvx_limits.max_conns) {
			close(fd);
			link->stats.failed++;
			if (warn_allowed(t))
				pvx_warn("link=%s target=%s: %u connections, "
					 "the limit: closing new ones",
					 link->conf.name, link->conf.target,
					 t->nsessions);
			continue;
		}
		/* The backend as the link says now: a later update does
		 * not touch this session. */
		pvx_backend_from_conf(&be, &link->conf);
		p = (struct pvx_session_params){
		    .base = link->base,
		    .link_name = link->conf.name,
		    .stats = &link->stats,
		    .limits = pvx_limits,
		    .list = &t->sessions,
		    .client_nodelay = true,
		    .on_close = on_session_close,
		    .arg = t,
		};
		if (pvx_session_start(&p, fd, (struct sockaddr *)&ss, sl,
				      &be)) {
			t->nsessions++;
		} else if (errno == EMFILE || errno == ENFILE) {
			/* The backend socket found no fd: accepting more
			 * now would only close them the same way. */
			accept_exhausted(t, errno);
			return;
		}
	}
}

static int tcp_start(struct pvx_link *link, char *err, size_t errlen)
{
	struct tcp_link *t;
	int r;

	process_setup();
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->link = link;
	t->lfd = -1;
	LIST_INIT(&t->sessions);
	r = listener_open(&link->conf, &t->lfd, err, errlen);
	if (r < 0)
		goto fail;
	t->bound_pid = link->conf.consumer_pid;
	t->accept_ev =
	    event_new(link->base, t->lfd, EV_READ | EV_PERSIST, on_accept, t);
	t->pause_ev = evtimer_new(link->base, on_pause_end, t);
	if (!t->accept_ev || !t->pause_ev || event_add(t->accept_ev, NULL)) {
		snprintf(err, errlen, "event setup failed");
		r = -ENOMEM;
		goto fail;
	}
	link->priv = t;
	return 0;
fail:
	tcp_free(t);
	return r;
}

/* The backend is read from link->conf at each accept, so a new socket or
 * provider_pid needs nothing here. A new consumer_pid moves the listener
 * into that process's network namespace. */
static void tcp_update(struct pvx_link *link)
{
	struct tcp_link *t = link->priv;
	struct event *ev;
	char err[256];
	int fd;

	if (!t || link->conf.consumer_pid == t->bound_pid)
		return;
	if (listener_open(&link->conf, &fd, err, sizeof(err)) < 0) {
		pvx_warn("link=%s: keeping the old listener: %s",
			 link->conf.name, err);
		return;
	}
	ev = event_new(link->base, fd, EV_READ | EV_PERSIST, on_accept, t);
	if (!ev) {
		close(fd);
		pvx_warn("link=%s: keeping the old listener: out of memory",
			 link->conf.name);
		return;
	}
	event_free(t->accept_ev);
	close(t->lfd);
	t->accept_ev = ev;
	t->lfd = fd;
	t->bound_pid = link->conf.consumer_pid;
	if (!t->paused)
		event_add(t->accept_ev, NULL);
	pvx_info("link=%s: listener %s moved to netns of pid %d",
		 link->conf.name, link->conf.target, (int)t->bound_pid);
}

static void on_drain_end(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_link *t = arg;
	struct pvx_link *link = t->link;
	struct pvx_session *s;

	(void)fd;
	(void)what;
	t->draining = true;
	while ((s = LIST_FIRST(&t->sessions)))
		pvx_session_close(s, "link removed, drain period over");
	tcp_free(t);
	pvx_link_free(link);
}

static void tcp_stop(struct pvx_link *link)
{
	struct tcp_link *t = link->priv;
	struct timeval tv;
	int ms;

	if (!t) {
		pvx_link_free(link);
		return;
	}
	/* The port refuses new connections from now on. */
	event_free(t->accept_ev);
	t->accept_ev = NULL;
	close(t->lfd);
	t->lfd = -1;
	event_free(t->pause_ev);
	t->pause_ev = NULL;
	t->stopping = true;
	if (t->nsessions == 0) {
		tcp_free(t);
		pvx_link_free(link);
		return;
	}
	t->drain_ev = evtimer_new(link->base, on_drain_end, t);
	if (!t->drain_ev) {
		on_drain_end(-1, 0, t);
		return;
	}
	ms = pvx_limits.drain_ms >= 0 ? pvx_limits.drain_ms : 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(t->drain_ev, &tv);
}

const struct pvx_plugin pvx_plugin_tcp = {
    .type = "tcp",
    .start = tcp_start,
    .update = tcp_update,
    .stop = tcp_stop,
};

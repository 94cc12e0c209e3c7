/* Stream listeners shared by the tcp and unix plugins (see stream.h): one
 * listening socket per link, in pv-xconnect's own namespace or inside the
 * consumer's; every accepted connection becomes a relay session to the
 * link's current backend. */
#include "xconnect/plugins/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fdlimit.h"
#include "common/log.h"
#include "xconnect/addrcount.h"
#include "xconnect/health.h"
#include "xconnect/pipes.h"
#include "xconnect/relay.h"

/* How long accepting pauses when the process is out of fds: long enough
 * not to spin, short enough that service resumes quickly. */
#define ACCEPT_PAUSE_MS 100
/* Accepts per readiness callback, so one busy link cannot starve others. */
#define ACCEPT_BATCH 64

struct stream_link {
	struct pvx_link *link;
	const struct pvx_stream_ops *ops;
	struct pvx_stream_listener l;
	pid_t bound_pid; /* consumer_pid the listener was created for */
	struct event *accept_ev;
	struct event *pause_ev; /* resumes accepting after ACCEPT_PAUSE_MS */
	bool paused;
	struct event *drain_ev;	 /* after stop: closes what is left */
	struct pvx_probe *probe; /* health probes while listening */
	struct pvx_session_list sessions;
	unsigned nsessions;
	bool stopping; /* stop() was called: free when the last one goes */
	bool draining; /* closing all sessions now: on_close must not free */
	uint64_t last_warn;    /* rate limit of accept warnings, in s */
	uint64_t last_deny;    /* rate limit of "denied" lines, in s */
	unsigned denied_quiet; /* denied clients not logged since */
	/* Live sessions per client address, for --max-conns-per-client. */
	struct pvx_addrcount clients;
	struct pvx_ratelimit client_warn;
};

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

static const char *ns_label(enum pvx_ns_kind kind)
{
	return kind == PVX_NS_MNT ? "mount namespace" : "netns";
}

/* The namespace of kind of pid in *fd: an open fd, or -1 for
 * pv-xconnect's own (no switch needed). Returns 0 or -errno (the process
 * is gone). */
static int ns_fd_of(pid_t pid, enum pvx_ns_kind kind, int *fd)
{
	int r;

	*fd = -1;
	if (pid <= 0)
		return 0;
	r = pvx_ns_is_own(pid, kind);
	if (r < 0)
		return r;
	if (r == 1)
		return 0;
	r = pvx_ns_open(pid, kind);
	if (r < 0)
		return r;
	*fd = r;
	return 0;
}

/* Whether two namespaces of ns_fd_of are the same: 1, 0 or -errno. */
static int ns_same(int a, int b, enum pvx_ns_kind kind)
{
	struct stat sa, sb;
	int own = -1, r;

	if (a < 0 && b < 0)
		return 1;
	if (a < 0 || b < 0) {
		own = pvx_ns_open(0, kind);
		if (own < 0)
			return own;
		if (a < 0)
			a = own;
		else
			b = own;
	}
	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		r = -errno;
	else
		r = sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	if (own >= 0)
		close(own);
	return r;
}

struct ns_call {
	struct stream_link *t;
	const struct pvx_link_conf *c;
	struct pvx_stream_listener *l;
	const char *step, *why;
};

static int call_bind(void *arg)
{
	struct ns_call *nc = arg;

	return nc->t->ops->bind(nc->c, nc->l, &nc->step, &nc->why);
}

static int call_unbind(void *arg)
{
	struct ns_call *nc = arg;

	nc->t->ops->unbind(nc->c, nc->l);
	return 0;
}

static int run_in(struct stream_link *t, int nsfd, int (*fn)(void *), void *arg)
{
	if (nsfd < 0 || t->ops->outside)
		return fn(arg);
	return pvx_ns_run_fd(nsfd, t->ops->ns, fn, arg);
}

/* Binds a listener for c inside the consumer's namespace. */
static int listener_open(struct stream_link *t, const struct pvx_link_conf *c,
			 struct pvx_stream_listener *l, char *err,
			 size_t errlen)
{
	struct ns_call nc = {.t = t, .c = c, .l = l};
	enum pvx_ns_kind kind = t->ops->ns;
	char where[48] = "";
	int r;

	*l = (struct pvx_stream_listener){.fd = -1, .nsfd = -1, .dirfd = -1};
	if (c->consumer_pid > 0)
		snprintf(where, sizeof(where), " in %s of pid %d",
			 ns_label(kind), (int)c->consumer_pid);
	r = ns_fd_of(c->consumer_pid, kind, &l->nsfd);
	if (r < 0)
		goto fail;
	r = run_in(t, l->nsfd, call_bind, &nc);
	if (r >= 0)
		return 0;
fail:
	if (nc.step || !where[0])
		snprintf(err, errlen, "%s %s%s: %s", nc.step ? nc.step : "bind",
			 c->target, where, nc.why ? nc.why : strerror(-r));
	else /* setns failed, bind was not called */
		snprintf(err, errlen, "enter %s for %s: %s", where + 4,
			 c->target, strerror(-r));
	if (l->nsfd >= 0)
		close(l->nsfd);
	l->nsfd = -1;
	return r;
}

/* Closes the listener now; the plugin then cleans up after it in the
 * namespace it lives in. */
static void listener_close(struct stream_link *t, struct pvx_stream_listener *l)
{
	struct ns_call nc = {.t = t, .c = &t->link->conf, .l = l};

	if (l->fd < 0)
		return;
	close(l->fd);
	l->fd = -1;
	if (t->ops->unbind && run_in(t, l->nsfd, call_unbind, &nc) < 0)
		pvx_warn("link=%s: cannot enter the %s of %s to clean up",
			 t->link->conf.name, ns_label(t->ops->ns),
			 t->link->conf.target);
	if (l->nsfd >= 0)
		close(l->nsfd);
	l->nsfd = -1;
}

static void stream_free(struct stream_link *t)
{
	struct pvx_link *link = t->link;

	if (t->accept_ev)
		event_free(t->accept_ev);
	listener_close(t, &t->l);
	if (t->pause_ev)
		event_free(t->pause_ev);
	if (t->drain_ev)
		event_free(t->drain_ev);
	pvx_addrcount_clear(&t->clients);
	pvx_probe_free(t->probe);
	free(t);
	link->priv = NULL;
}

/* The per-client cap (docs/xconnect.md, "Slow and idle clients"): whether
 * one more connection from this address may have a session; counts it if
 * so (client_release gives it back), counts and logs (at most once a
 * second) the refusal if not. Unix clients are not capped. */
static bool client_admit(struct stream_link *t, const struct pvx_limits *lim,
			 const struct sockaddr *sa, socklen_t len)
{
	struct pvx_link *link = t->link;
	struct pvx_addr_key k;
	char ip[PVX_ADDRSTRLEN];
	unsigned suppressed;
	int r;

	if (lim->max_conns_per_client == 0 || pvx_addr_key_of(sa, len, &k) < 0)
		return true;
	r = pvx_addrcount_take(&t->clients, &k, lim->max_conns_per_client);
	if (r > 0)
		return true;
	link->stats.failed++;
	if (r != -EUSERS)
		return false; /* out of memory: so would the session be */
	link->stats.refused_per_client++;
	if (pvx_ratelimit_ok(&t->client_warn, &suppressed)) {
		pvx_addr_key_format(&k, ip, sizeof(ip));
		pvx_warn("link=%s target=%s: client %s has %u connections, "
			 "the per-client limit: closing new ones "
			 "suppressed=%u",
			 link->conf.name, link->conf.target, ip,
			 lim->max_conns_per_client, suppressed);
	}
	return false;
}

/* Gives back what client_admit counted for a session's client (nothing
 * when the cap is off: then no client of the link was counted). */
static void client_release(struct stream_link *t, const struct sockaddr *sa,
			   socklen_t len)
{
	struct pvx_addr_key k;

	if (pvx_addr_key_of(sa, len, &k) == 0)
		pvx_addrcount_put(&t->clients, &k);
}

static void on_session_close(void *arg, struct pvx_session *s)
{
	struct stream_link *t = arg;
	struct pvx_link *link = t->link;
	const struct sockaddr *sa;
	socklen_t len;

	sa = pvx_session_peer(s, &len);
	client_release(t, sa, len);
	t->nsessions--;
	if (t->stopping && !t->draining && t->nsessions == 0) {
		stream_free(t);
		pvx_link_free(link);
	}
}

static bool warn_allowed(struct stream_link *t)
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
static void accept_exhausted(struct stream_link *t, int err)
{
	struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};

	pvx_pipes_flush(); /* pooled pipes hold fds too */
	/* The reserve fd answers one pending client by closing it. */
	if (pvx_fdlimit_shed(t->l.fd) == 0) {
		t->link->stats.accepted++;
		t->link->stats.failed++;
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
	struct stream_link *t = arg;

	(void)fd;
	(void)what;
	t->paused = false;
	pvx_fdlimit_rearm();
	event_add(t->accept_ev, NULL);
}

/* For a held client: the backend the link has now. */
static void backend_now(void *arg, struct pvx_backend *be)
{
	struct stream_link *t = arg;

	pvx_backend_from_conf(be, &t->link->conf);
}

/* The PROXY protocol header for a client of the link into hdr (its
 * length; 0 when the link sends none): the client's address and the
 * address it reached. A Unix backend gets LOCAL (docs/xconnect.md). */
static size_t proxy_header(const struct pvx_link *link, int fd,
			   const struct sockaddr_storage *peer, socklen_t pl,
			   const struct pvx_backend *be, uint8_t *hdr)
{
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);
	int n;

	if (link->conf.proxy_protocol == PVX_PP_OFF)
		return 0;
	if (getsockname(fd, (struct sockaddr *)&local, &ll) < 0)
		ll = 0;
	n = pvx_pp_encode(link->conf.proxy_protocol,
			  pl ? (const struct sockaddr *)peer : NULL,
			  ll ? (const struct sockaddr *)&local : NULL,
			  be->kind == PVX_BACKEND_UNIX, hdr, PVX_PP_MAX);
	return n > 0 ? (size_t)n : 0;
}

/* One line per second at most for clients outside the allowlist, with
 * the number left out. */
static void log_denied(struct stream_link *t, const struct sockaddr_storage *ss,
		       socklen_t sl)
{
	char peer[PVX_ADDRSTRLEN];
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (t->last_deny != 0 && (uint64_t)ts.tv_sec <= t->last_deny) {
		t->denied_quiet++;
		return;
	}
	t->last_deny = (uint64_t)ts.tv_sec;
	pvx_sockaddr_format((const struct sockaddr *)ss, sl, peer,
			    sizeof(peer));
	pvx_warn("link=%s target=%s: client %s not in allow: closed "
		 "suppressed=%u",
		 t->link->conf.name, t->link->conf.target, peer,
		 t->denied_quiet);
	t->denied_quiet = 0;
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct stream_link *t = arg;
	struct pvx_link *link = t->link;
	struct pvx_session_params p;
	struct pvx_limits lim;
	struct pvx_backend be;
	uint8_t hdr[PVX_PP_MAX];
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
		if (!pvx_link_allows(&link->conf, (struct sockaddr *)&ss)) {
			/* Before any dial: the backend never sees it. */
			close(fd);
			link->stats.denied++;
			log_denied(t, &ss, sl);
			continue;
		}
		link->stats.accepted++;
		lim = pvx_link_limits(&link->conf);
		if (t->nsessions >= lim.max_conns) {
			close(fd);
			link->stats.failed++;
			link->stats.refused_max_conns++;
			if (warn_allowed(t))
				pvx_warn("link=%s target=%s: %u connections, "
					 "the limit: closing new ones",
					 link->conf.name, link->conf.target,
					 t->nsessions);
			continue;
		}
		if (!client_admit(t, &lim, (struct sockaddr *)&ss, sl)) {
			close(fd);
			continue;
		}
		/* The backend as the link says now: a later update does
		 * not touch this session. */
		pvx_backend_from_conf(&be, &link->conf);
		p = (struct pvx_session_params){
		    .base = link->base,
		    .link_name = link->conf.ingress ? link->conf.ingress
						    : link->conf.name,
		    .link_type = link->plugin->type,
		    .stats = &link->stats,
		    .limits = lim,
		    .list = &t->sessions,
		    .client_nodelay = t->ops->nodelay,
		    .on_close = on_session_close,
		    .arg = t,
		    .backend_now = backend_now,
		};
		p.hdr_len = proxy_header(link, fd, &ss, sl, &be, hdr);
		p.hdr = hdr;
		if (pvx_session_start(&p, fd, (struct sockaddr *)&ss, sl,
				      &be)) {
			t->nsessions++;
			continue;
		}
		client_release(t, (struct sockaddr *)&ss, sl);
		if (errno == EMFILE || errno == ENFILE) {
			/* The backend socket found no fd: accepting more
			 * now would only close them the same way. */
			accept_exhausted(t, errno);
			return;
		}
	}
}

int pvx_stream_start(struct pvx_link *link, const struct pvx_stream_ops *ops,
		     char *err, size_t errlen)
{
	struct stream_link *t;
	int r;

	process_setup();
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->link = link;
	t->ops = ops;
	t->l = (struct pvx_stream_listener){.fd = -1, .nsfd = -1, .dirfd = -1};
	LIST_INIT(&t->sessions);
	pvx_addrcount_init(&t->clients, pvx_addrcount_seed());
	r = listener_open(t, &link->conf, &t->l, err, errlen);
	if (r < 0)
		goto fail;
	t->bound_pid = link->conf.consumer_pid;
	t->accept_ev =
	    event_new(link->base, t->l.fd, EV_READ | EV_PERSIST, on_accept, t);
	t->pause_ev = evtimer_new(link->base, on_pause_end, t);
	if (!t->accept_ev || !t->pause_ev || event_add(t->accept_ev, NULL)) {
		snprintf(err, errlen, "event setup failed");
		r = -ENOMEM;
		goto fail;
	}
	t->probe = pvx_probe_new(link);
	link->priv = t;
	return 0;
fail:
	stream_free(t);
	return r;
}

void pvx_stream_update(struct pvx_link *link)
{
	struct stream_link *t = link->priv;
	struct pvx_stream_listener nl, old;
	enum pvx_ns_kind kind;
	struct event *ev;
	char err[256];
	int nsfd;

	if (!t || link->conf.consumer_pid == t->bound_pid)
		return;
	kind = t->ops->ns;
	/* A new pid in the same namespace (or the host's): the listener is
	 * where it should be already. */
	if (ns_fd_of(link->conf.consumer_pid, kind, &nsfd) == 0 &&
	    ns_same(nsfd, t->l.nsfd, kind) == 1) {
		if (nsfd >= 0)
			close(nsfd);
		t->bound_pid = link->conf.consumer_pid;
		return;
	}
	if (nsfd >= 0)
		close(nsfd);
	if (listener_open(t, &link->conf, &nl, err, sizeof(err)) < 0) {
		pvx_warn("link=%s: keeping the old listener: %s",
			 link->conf.name, err);
		return;
	}
	ev = event_new(link->base, nl.fd, EV_READ | EV_PERSIST, on_accept, t);
	if (!ev) {
		listener_close(t, &nl);
		pvx_warn("link=%s: keeping the old listener: out of memory",
			 link->conf.name);
		return;
	}
	event_free(t->accept_ev);
	old = t->l;
	t->accept_ev = ev;
	t->l = nl;
	listener_close(t, &old);
	t->bound_pid = link->conf.consumer_pid;
	if (!t->paused)
		event_add(t->accept_ev, NULL);
	pvx_info("link=%s: listener %s moved to %s of pid %d", link->conf.name,
		 link->conf.target, ns_label(kind), (int)t->bound_pid);
}

static void on_drain_end(evutil_socket_t fd, short what, void *arg)
{
	struct stream_link *t = arg;
	struct pvx_link *link = t->link;
	struct pvx_session *s;

	(void)fd;
	(void)what;
	t->draining = true;
	while ((s = LIST_FIRST(&t->sessions)))
		pvx_session_close(s, "link removed, drain period over");
	stream_free(t);
	pvx_link_free(link);
}

void pvx_stream_stop(struct pvx_link *link)
{
	struct stream_link *t = link->priv;
	struct timeval tv;
	int ms;

	if (!t) {
		pvx_link_free(link);
		return;
	}
	pvx_probe_free(t->probe);
	t->probe = NULL;
	/* The listener refuses new connections from now on. */
	event_free(t->accept_ev);
	t->accept_ev = NULL;
	listener_close(t, &t->l);
	event_free(t->pause_ev);
	t->pause_ev = NULL;
	t->stopping = true;
	if (t->nsessions == 0) {
		stream_free(t);
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

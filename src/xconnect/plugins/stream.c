/* Stream listeners shared by the tcp and unix plugins (see stream.h): one
 * listening socket per link, in pv-xconnect's own namespace or inside the
 * consumer's; every accepted connection becomes a relay session to the
 * link's current backend. */
#include "xconnect/plugins/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "xconnect/accept.h"
#include "xconnect/health.h"
#include "xconnect/relay.h"

struct stream_link {
	struct pvx_link *link;
	const struct pvx_stream_ops *ops;
	struct pvx_stream_listener l;
	pid_t bound_pid; /* consumer_pid the listener was created for */
	struct pvx_acceptor acc;
	struct event *drain_ev;	 /* after stop: closes what is left */
	struct pvx_probe *probe; /* health probes while listening */
	struct pvx_session_list sessions;
	unsigned nsessions;
	bool stopping; /* stop() was called: free when the last one goes */
	bool draining; /* closing all sessions now: on_close must not free */
};

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
	r = l->nsfd >= 0 ? pvx_ns_id_of_fd(l->nsfd, &l->ns)
			 : pvx_ns_id_of(0, kind, &l->ns);
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

	pvx_acceptor_clear(&t->acc);
	listener_close(t, &t->l);
	if (t->drain_ev)
		event_free(t->drain_ev);
	pvx_probe_free(t->probe);
	free(t);
	link->priv = NULL;
}

static void on_session_close(void *arg, struct pvx_session *s)
{
	struct stream_link *t = arg;
	struct pvx_link *link = t->link;
	const struct sockaddr *sa;
	socklen_t len;

	sa = pvx_session_peer(s, &len);
	pvx_acceptor_release(&t->acc, sa, len);
	t->nsessions--;
	if (t->stopping && !t->draining && t->nsessions == 0) {
		stream_free(t);
		pvx_link_free(link);
	}
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

static struct pvx_limits acc_limits(void *arg)
{
	struct stream_link *t = arg;

	return pvx_link_limits(&t->link->conf);
}

static bool acc_allows(void *arg, const struct sockaddr *sa)
{
	struct stream_link *t = arg;

	return pvx_link_allows(&t->link->conf, sa);
}

static void acc_count(void *arg, enum pvx_accept_event ev)
{
	struct pvx_link_stats *st = &((struct stream_link *)arg)->link->stats;

	switch (ev) {
	case PVX_ACCEPT_OK:
		st->accepted++;
		break;
	case PVX_ACCEPT_DENIED:
		st->denied++;
		break;
	case PVX_ACCEPT_REFUSED_MAX:
		st->failed++;
		st->refused_max_conns++;
		break;
	case PVX_ACCEPT_REFUSED_CLIENT:
		st->failed++;
		st->refused_per_client++;
		break;
	case PVX_ACCEPT_SHED:
		st->accepted++;
		st->failed++;
		break;
	}
}

/* An admitted client becomes a relay session to the backend as the link
 * says now: a later update does not touch this session. */
static int acc_take(void *arg, int fd, const struct sockaddr *sa, socklen_t len)
{
	struct stream_link *t = arg;
	struct pvx_link *link = t->link;
	struct pvx_session_params p;
	uint8_t hdr[PVX_PP_MAX];
	struct pvx_backend be;

	pvx_backend_from_conf(&be, &link->conf);
	p = (struct pvx_session_params){
	    .base = link->base,
	    .link_name =
		link->conf.ingress ? link->conf.ingress : link->conf.name,
	    .link_type = link->plugin->type,
	    .stats = &link->stats,
	    .limits = pvx_link_limits(&link->conf),
	    .list = &t->sessions,
	    .client_nodelay = t->ops->nodelay,
	    .on_close = on_session_close,
	    .arg = t,
	    .backend_now = backend_now,
	};
	p.hdr_len = proxy_header(link, fd, (const struct sockaddr_storage *)sa,
				 len, &be, hdr);
	p.hdr = hdr;
	if (!pvx_session_start(&p, fd, sa, len, &be))
		return -errno;
	t->nsessions++;
	return 0;
}

static const struct pvx_accept_ops acc_ops = {
    .limits = acc_limits,
    .allows = acc_allows,
    .count = acc_count,
    .take = acc_take,
};

static int acceptor_start(struct stream_link *t)
{
	char name[160];

	snprintf(name, sizeof(name), "link=%s target=%s", t->link->conf.name,
		 t->link->conf.target);
	return pvx_acceptor_start(&t->acc, t->link->base, t->l.fd, name,
				  &acc_ops, t);
}

int pvx_stream_start(struct pvx_link *link, const struct pvx_stream_ops *ops,
		     char *err, size_t errlen)
{
	struct stream_link *t;
	int r;

	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->link = link;
	t->ops = ops;
	t->l = (struct pvx_stream_listener){.fd = -1, .nsfd = -1, .dirfd = -1};
	LIST_INIT(&t->sessions);
	r = listener_open(t, &link->conf, &t->l, err, errlen);
	if (r < 0)
		goto fail;
	t->bound_pid = link->conf.consumer_pid;
	r = acceptor_start(t);
	if (r < 0) {
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
	struct pvx_ns_id id;
	char err[256];

	if (!t || link->conf.consumer_pid == t->bound_pid)
		return;
	kind = t->ops->ns;
	/* A new pid in the same namespace (or the host's): the listener is
	 * where it should be already. Compared by identity, not by pid. */
	if (pvx_ns_id_of(link->conf.consumer_pid, kind, &id) == 0 &&
	    pvx_ns_id_equal(&id, &t->l.ns)) {
		t->bound_pid = link->conf.consumer_pid;
		return;
	}
	if (listener_open(t, &link->conf, &nl, err, sizeof(err)) < 0) {
		pvx_warn("link=%s: keeping the old listener: %s",
			 link->conf.name, err);
		return;
	}
	if (pvx_acceptor_move(&t->acc, nl.fd) < 0) {
		listener_close(t, &nl);
		pvx_warn("link=%s: keeping the old listener: out of memory",
			 link->conf.name);
		return;
	}
	old = t->l;
	t->l = nl;
	listener_close(t, &old);
	t->bound_pid = link->conf.consumer_pid;
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
	pvx_acceptor_stop(&t->acc);
	listener_close(t, &t->l);
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
	tv = pvx_ms_tv((uint64_t)ms);
	evtimer_add(t->drain_ev, &tv);
}

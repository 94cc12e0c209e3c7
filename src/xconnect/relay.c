/* The relay core (see relay.h): the life of one proxied connection, from the
 * backend connect to the close with a reason. Read and write interest are
 * derived from the state of the two directions after every step, so that
 * backpressure and half-close fall out of one function (update_interest). */
#include "xconnect/relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/inroot.h"
#include "common/log.h"
#include "common/sock.h"
#include "xconnect/access.h"
#include "xconnect/hupwatch.h"
#include "xconnect/krelay.h"
#include "xconnect/pipes.h"

/* While the backend connect is in flight the session already relays: the
 * client is read and its bytes wait for the backend like for any slow
 * destination. The first byte the backend takes (or gives) proves the
 * connect; no wait for writability first, which would cost two epoll_ctl
 * and a getsockopt per connection. */
enum sess_state {
	SESS_HOLDING,	 /* the backend refused: client held, retry timer */
	SESS_CONNECTING, /* backend connect in flight */
	SESS_RELAYING,	 /* the backend is connected */
};

/* The two ends; a direction is named after the end it reads from. */
enum { END_CLIENT = 0, END_BACKEND = 1 };

/* One direction: bytes read from end i, written to end 1 - i. Bytes wait
 * either in a pipe (splice, zero-copy) or in a heap buffer (copy: when
 * splice is refused with EINVAL, or no pipe could be had); never more than
 * cap of them. The pipe or buffer is held only while bytes are in flight:
 * an idle session holds its two sockets and nothing else. */
struct dir {
	int pipe[2];	 /* while bytes wait in a pipe; else -1 */
	int pipe_cap;	 /* as returned by pvx_pipe_get */
	bool copy;	 /* never splice (refused, or switched off) */
	char *buf;	 /* copy mode, allocated at first use */
	size_t off, len; /* copy mode: pending bytes are buf[off, len) */
	size_t pending;	 /* bytes read but not yet written */
	size_t cap;	 /* high-water mark: no read beyond it */
	/* splice into the pipe said EAGAIN while bytes were held: the pipe
	 * may be full by slots (one per socket fragment) although pending
	 * < cap. Reading waits for the next write progress, not to spin. */
	bool full;
	/* The last read filled a scratch buffer: the source is streaming,
	 * splice the next read. A short read goes back to copying. */
	bool big;
	/* The source's peer shut its side (EPOLLRDHUP seen with this
	 * wakeup): a short read took the last bytes, EOF is known without
	 * one more read returning 0. */
	bool hup;
	bool eof;	/* the source said EOF */
	bool shut;	/* EOF passed on with shutdown(SHUT_WR): done */
	uint64_t bytes; /* written to the destination */
};

/* A direction of a session on the kernel path (docs/ARCHITECTURE.md, "The
 * session's life on the kernel path"). Byte counts are since the insert. */
struct kdir {
	/* The program passes this direction's bytes to user space (after an
	 * insert, over the budget, at EOF): its source is read as usual. */
	bool user;
	/* Bytes the program redirected may still wait in the kernel on
	 * their way into the destination: user space does not write to it
	 * until the destination's stream holds them all (kr_may_write).
	 * gsent: the program's sent when that was last seen true. */
	bool gate;
	uint64_t gsent;
	bool asked; /* a hand-back is asked, for consumed == asked_at */
	/* The source's peer ended (EPOLLRDHUP): user space keeps the
	 * direction to pass the EOF on, whatever the program says later. */
	bool ended;
	/* Read from the source by user space since the insert: every such
	 * byte was passed by the program (see kr_maybe_insert). */
	uint64_t consumed;
	uint64_t asked_at;
	uint64_t uw;   /* written to the destination by user space */
	uint64_t w0;   /* the destination's stream (acked + queued) */
	uint64_t r0;   /* the source's bytes received */
	uint64_t seen; /* of the program's sent, counted in bytes */
};

/* An end of a session on the kernel path, watched for its peer's end. */
struct khup {
	struct pvx_hupw_item it; /* first: the callback's argument */
	struct pvx_session *s;
	int end;
};

struct pvx_session {
	LIST_ENTRY(pvx_session) entry;
	/* On all_sessions: an index for the status socket and for
	 * pvx_relay_sync, not an owner (the link owns the session). */
	LIST_ENTRY(pvx_session) all;
	struct pvx_session_params p;
	enum sess_state state;
	int fd[2];
	struct event *rev[2], *wev[2];
	bool ron[2], won[2];	/* whether rev/wev are added */
	struct event *timer;	/* hold retry, connect timeout, idle */
	struct event *fb_timer; /* first-byte deadline, see fb_arm */
	struct sockaddr_storage peer_sa;
	socklen_t peer_len;
	struct dir d[2];
	struct pvx_backend be;
	/* Own copy: the link's conf (and its name) is replaced on update
	 * while this session goes on. */
	char *link_name;
	char peer[PVX_ADDRSTRLEN];
	uint64_t t_start, t_active; /* ms, monotonic */
	uint64_t t_dial_us;	    /* start of the current dial */
	unsigned attempts;	    /* refused dials so far */
	bool held;		    /* counted in stats->held */
	size_t hdr_left;	    /* header bytes not yet written */
	size_t hdr_len;		    /* the whole header */
	/* Replay (docs/xconnect.md): the bytes written to the backend before
	 * its first byte back, sent again to a new dial when it closes or
	 * resets without answering (a backend that died while restarting).
	 * Meanwhile the client's direction copies (no splice), so that every
	 * byte written passes through user space once. */
	char *replay;
	size_t replay_len;
	size_t replay_cap; /* grown as needed up to the direction's cap */
	bool replay_on;
	bool copy_saved; /* the direction's copy flag before */
	bool closing;
	bool spliced; /* a direction ran in splice mode */
	/* The kernel path: the sockets are in the BPF program's map. */
	bool kernel;
	bool knever; /* not for this session (not TCP, insert failed) */
	struct pvx_kpair kp;
	struct kdir kd[2];
	struct khup kh[2]; /* EPOLLRDHUP alone, no EPOLLIN: hupwatch.h */
	bool kon[2];
	struct event *ktimer; /* re-checks what has no event, see kr_arm */
	unsigned kwait;	      /* ms of the next ktimer */
};

bool pvx_relay_splice = true;
size_t pvx_relay_kbudget = 1 << 20;

static struct pvx_session_list all_sessions =
    LIST_HEAD_INITIALIZER(all_sessions);

/* Small messages (requests, answers) are copied: read(2) into this
 * buffer and send(2) at once cost the same two syscalls as splicing in
 * and out, without the pipe's page bookkeeping, and need no pipe or heap
 * buffer. A read that fills it switches the direction to splice, a splice
 * of less than a quarter of it back to copying. Shared:
 * pv-xconnect is single-threaded and nothing stays in it between calls. */
#define SCRATCH_SIZE (16 * 1024)
static char scratch[SCRATCH_SIZE];

bool pvx_backend_err_retryable(int err)
{
	switch (err) {
	case ECONNREFUSED: /* nobody listens (yet) */
	case ENOENT:	   /* no socket file (yet), or the pid is gone */
	case ESRCH:	   /* the provider's process is gone (restarting) */
	case EDESTADDRREQ: /* socket "": no address yet */
	case EAGAIN:	   /* Unix backlog full */
	case ECONNRESET:
	case ECONNABORTED:
	case EHOSTUNREACH: /* the container's address is not up (yet) */
	case ENETUNREACH:
		return true;
	default:
		return false;
	}
}

unsigned pvx_hold_backoff_ms(unsigned attempt)
{
	unsigned ms = 25;

	while (attempt-- > 0 && ms < 500)
		ms *= 2;
	return ms < 500 ? ms : 500;
}

/* Backend failures repeat in bursts (a backend down and many clients):
 * one line per second with the number of lines left out. */
static void log_backend_failure(const char *link, const char *backend,
				const char *why)
{
	static uint64_t last;
	static bool logged;
	static unsigned suppressed;
	uint64_t now = pvx_now_ms();

	if (logged && now - last < 1000) {
		suppressed++;
		return;
	}
	pvx_warn("backend connect failed link=%s backend=%s reason=\"%s\" "
		 "suppressed=%u",
		 link, backend, why, suppressed);
	last = now;
	logged = true;
	suppressed = 0;
}

void pvx_backend_from_conf(struct pvx_backend *be,
			   const struct pvx_link_conf *c)
{
	memset(be, 0, sizeof(*be));
	be->kind = c->backend;
	be->hp = c->backend_hp;
	snprintf(be->path, sizeof(be->path), "%s", c->backend_path);
	be->pid = c->provider_pid;
}

void pvx_backend_format(const struct pvx_backend *be, char *buf, size_t len)
{
	switch (be->kind) {
	case PVX_BACKEND_TCP:
		pvx_hostport_format(&be->hp, buf, len);
		break;
	case PVX_BACKEND_UNIX:
		if (be->pid > 0)
			snprintf(buf, len, "/proc/%d/root%s", (int)be->pid,
				 be->path);
		else
			snprintf(buf, len, "%s", be->path);
		break;
	default:
		snprintf(buf, len, "none");
		break;
	}
}

/* Sockets no backend may be: pv-ctrld's control socket and pv-xconnect's
 * own status socket. Whoever writes a graph or a services.json, the
 * proxy never hands a network client to the control plane. */
static const char *protected_paths[4];

void pvx_backend_protect(const char *path)
{
	for (size_t i = 0;
	     i < sizeof(protected_paths) / sizeof(*protected_paths); i++) {
		if (!protected_paths[i]) {
			protected_paths[i] = path;
			return;
		}
	}
}

static bool is_protected(const struct stat *st)
{
	struct stat p;

	for (size_t i = 0;
	     i < sizeof(protected_paths) / sizeof(*protected_paths); i++) {
		/* Looked up at each dial: pv-ctrld recreates its socket
		 * on restart. */
		if (protected_paths[i] && stat(protected_paths[i], &p) == 0 &&
		    p.st_dev == st->st_dev && p.st_ino == st->st_ino)
			return true;
	}
	return false;
}

/* Resolves the backend's socket inside the provider's root (common/
 * inroot.h: no symlink, ".." or magic link leads out of it) to an O_PATH
 * fd in *pathfd, and fills sun with "/proc/self/fd/N": connect then
 * reaches exactly that inode, never a path resolved again. */
static int unix_sockaddr(const struct pvx_backend *be, struct sockaddr_un *sun,
			 socklen_t *sl, int *pathfd)
{
	struct pvx_root root;
	struct stat st;
	int n, r;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (be->path[0] != '/')
		return -EINVAL;
	r = pvx_root_open(be->pid, &root);
	if (r < 0)
		return r;
	*pathfd = pvx_root_openat(&root, be->path, O_PATH);
	pvx_root_close(&root);
	if (*pathfd < 0)
		return *pathfd;
	if (fstat(*pathfd, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	if (is_protected(&st))
		return -EPERM;
	n = snprintf(sun->sun_path, sizeof(sun->sun_path), "/proc/self/fd/%d",
		     *pathfd);
	*sl =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
	return 0;
}

const char *pvx_backend_strerror(const struct pvx_backend *be, int err)
{
	if (be->kind != PVX_BACKEND_UNIX)
		return strerror(err);
	switch (err) {
	case ELOOP:
		return be->pid > 0 ? "socket path uses a link that may not be "
				     "followed in the provider's root (refused)"
				   : strerror(err);
	case EXDEV:
		return "socket path leads out of the provider's root (refused)";
	case ENOTSOCK:
		return "socket path is not a socket";
	case EPERM:
		return "socket path is pvx's own control or status socket "
		       "(refused)";
	case ENOSYS:
		return "kernel without openat2: cannot confine the path to "
		       "the provider's root (refused)";
	case ESRCH:
		return "provider process is gone";
	default:
		return strerror(err);
	}
}

int pvx_backend_connect(const struct pvx_backend *be, int *fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	int r, pathfd = -1;

	*fd = -1;
	switch (be->kind) {
	case PVX_BACKEND_TCP:
		sl = pvx_hostport_to_sockaddr(&be->hp, &ss);
		break;
	case PVX_BACKEND_UNIX:
		r = unix_sockaddr(be, (struct sockaddr_un *)&ss, &sl, &pathfd);
		if (r < 0) {
			if (pathfd >= 0)
				close(pathfd);
			return r;
		}
		break;
	default:
		return -EDESTADDRREQ;
	}
	/* Unix sockets say EAGAIN when the backlog is full: a failure like
	 * a refusal, the client is closed. */
	r = pvx_sock_connect((struct sockaddr *)&ss, sl, PVX_SOCK_NODELAY, fd);
	if (pathfd >= 0)
		close(pathfd);
	return r;
}

/* The access log line of a closed session (docs/xconnect.md). */
static void access_log_session(const char *type, const char *link,
			       const char *peer, const struct pvx_backend *be,
			       uint64_t in, uint64_t out, uint64_t ms,
			       const char *reason)
{
	char bes[PVX_PATH_MAX + 32];
	struct pvx_access_rec r = {
	    .type = type,
	    .link = link,
	    .client = peer,
	    .backend = bes,
	    .bytes_in = in,
	    .bytes_out = out,
	    .ms = ms,
	    .reason = reason,
	};

	if (!pvx_access_enabled())
		return;
	pvx_backend_format(be, bes, sizeof(bes));
	pvx_access_log(&r);
}

static void kr_drop(struct pvx_session *s);

void pvx_session_close(struct pvx_session *s, const char *reason)
{
	char be[PVX_PATH_MAX + 32];

	if (s->closing)
		return;
	s->closing = true;
	LIST_REMOVE(s, entry);
	LIST_REMOVE(s, all);
	kr_drop(s);
	if (pvx_log_enabled(PVX_LOG_DEBUG)) {
		pvx_backend_format(&s->be, be, sizeof(be));
		pvx_debug("session closed link=%s peer=%s backend=%s "
			  "in=%" PRIu64 " out=%" PRIu64 " ms=%" PRIu64
			  " mode=%s reason=\"%s\"",
			  s->link_name, s->peer, be, s->d[END_CLIENT].bytes,
			  s->d[END_BACKEND].bytes, pvx_now_ms() - s->t_start,
			  pvx_session_mode(s), reason);
	}
	access_log_session(s->p.link_type, s->link_name, s->peer, &s->be,
			   s->d[END_CLIENT].bytes, s->d[END_BACKEND].bytes,
			   pvx_now_ms() - s->t_start, reason);
	for (int i = 0; i < 2; i++) {
		if (s->rev[i])
			event_free(s->rev[i]);
		if (s->wev[i])
			event_free(s->wev[i]);
		if (s->fd[i] >= 0)
			close(s->fd[i]);
		pvx_pipe_put(s->d[i].pipe, s->d[i].pipe_cap,
			     s->d[i].pending == 0);
		free(s->d[i].buf);
	}
	if (s->timer)
		event_free(s->timer);
	if (s->fb_timer)
		event_free(s->fb_timer);
	if (s->held)
		s->p.stats->held--;
	free(s->replay);
	s->p.stats->active--;
	s->p.on_close(s->p.arg, s);
	free(s->link_name);
	free(s);
}

static void connect_failed(struct pvx_session *s, int err);
static void backend_up(struct pvx_session *s);
static bool kr_may_write(struct pvx_session *s, int i);
static bool kr_fin_ready(struct pvx_session *s, int i);
static bool hold(struct pvx_session *s, int err);
static bool replay(struct pvx_session *s);

/* Closes with "<what> <end>: <strerror>"; returns -1 for the callers. An
 * error of the backend before it was known connected is the connect's. */
static int close_errno(struct pvx_session *s, const char *what, int end,
		       int err)
{
	char reason[128];

	if (s->state == SESS_CONNECTING && end == END_BACKEND) {
		connect_failed(s, err);
		return -1;
	}
	/* A reset (not a clean EOF: a server that answers nothing is
	 * legitimate) before the backend's first byte: a backend going
	 * away under a restart. */
	if (end == END_BACKEND && (err == ECONNRESET || err == EPIPE) &&
	    replay(s))
		return -1;

	snprintf(reason, sizeof(reason), "%s %s: %s", what,
		 end == END_CLIENT ? "client" : "backend", strerror(err));
	pvx_session_close(s, reason);
	return -1;
}

static void set_event(struct event *ev, bool *on, bool want)
{
	if (*on == want)
		return;
	if (want)
		event_add(ev, NULL);
	else
		event_del(ev);
	*on = want;
}

/* Bytes a direction may hold now: a pipe smaller than the buffer size
 * (F_SETPIPE_SZ refused) holds less. */
static size_t dir_limit(const struct dir *d)
{
	if (d->pipe[0] >= 0 && (size_t)d->pipe_cap < d->cap)
		return (size_t)d->pipe_cap;
	return d->cap;
}

/* Watches end i for its peer's end (see struct khup), or stops. */
static void kr_watch(struct pvx_session *s, int i, bool want)
{
	if (s->kon[i] == want)
		return;
	/* A failed add (ENOMEM) is tried again at the next look. */
	if (want && pvx_hupw_add(pvx_krelay_hupw(), &s->kh[i].it) < 0)
		return;
	if (!want)
		pvx_hupw_del(pvx_krelay_hupw(), &s->kh[i].it);
	s->kon[i] = want;
}

/* The only place that decides what to wait for: read a source while its
 * direction has room and no EOF yet; write a destination while its
 * direction holds bytes. Memory per session is bounded by 2 * cap. */
static void update_interest(struct pvx_session *s)
{
	bool rd[2], wr[2];

	if (s->state == SESS_HOLDING) {
		/* Held: the client is not read; there is no backend socket. */
		set_event(s->rev[END_CLIENT], &s->ron[END_CLIENT], false);
		set_event(s->wev[END_CLIENT], &s->won[END_CLIENT], false);
		return;
	}
	for (int i = 0; i < 2; i++) {
		const struct dir *d = &s->d[i];
		rd[i] = !d->eof && !d->full && d->pending < dir_limit(d);
		wr[1 - i] = d->pending > 0;
		if (s->kernel) {
			/* On the kernel path a source is read only while the
			 * program passes to user space; else EPOLLRDHUP
			 * alone (kh, hupwatch.h): EPOLLIN would wake us per
			 * packet. */
			rd[i] = rd[i] && s->kd[i].user;
			wr[1 - i] = wr[1 - i] && !s->kd[i].gate;
			/* Once the source ended, its EOF is read like in
			 * user space: the watch (level-triggered) would
			 * fire on every loop while the direction is full. */
			kr_watch(s, i, !rd[i] && !d->eof && !s->kd[i].ended);
		}
	}
	/* The client's EOF waits for the connect (see dir_flush). */
	if (s->state == SESS_CONNECTING && s->d[END_CLIENT].eof &&
	    !s->d[END_CLIENT].shut)
		wr[END_BACKEND] = true;
	for (int i = 0; i < 2; i++) {
		set_event(s->rev[i], &s->ron[i], rd[i]);
		set_event(s->wev[i], &s->won[i], wr[i]);
	}
}

/* Moves the bytes held in a pipe to a heap buffer, for a destination that
 * refuses splice. */
static int dir_to_copy_mode(struct dir *d)
{
	ssize_t n;

	if (!d->buf) {
		d->buf = malloc(d->cap);
		if (!d->buf)
			return -ENOMEM;
	}
	d->off = 0;
	d->len = 0;
	while (d->len < d->pending) {
		n = read(d->pipe[0], d->buf + d->len, d->pending - d->len);
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		d->len += (size_t)n;
	}
	pvx_pipe_put(d->pipe, d->pipe_cap, true);
	d->full = false;
	d->copy = true;
	return 0;
}

static void replay_off(struct pvx_session *s)
{
	if (!s->replay_on)
		return;
	free(s->replay);
	s->replay = NULL;
	s->replay_len = 0;
	s->replay_cap = 0;
	s->replay_on = false;
	s->d[END_CLIENT].copy = s->copy_saved;
}

/* n bytes at p were written to the backend. */
static void replay_keep(struct pvx_session *s, const char *p, size_t n)
{
	size_t cap = s->d[END_CLIENT].cap, want = s->replay_len + n, grow;
	char *nb;

	if (!s->replay_on || n == 0)
		return;
	if (want > cap) {
		replay_off(s); /* too much to keep: no replay */
		return;
	}
	/* Mostly a request head: start small and grow. A buffer of the
	 * direction's full size per session made each new connection pay
	 * for a heap grow and trim. */
	if (want > s->replay_cap) {
		grow = s->replay_cap ? s->replay_cap : 1024;
		while (grow < want)
			grow *= 2;
		if (grow > cap)
			grow = cap;
		nb = realloc(s->replay, grow);
		if (!nb) {
			replay_off(s);
			return;
		}
		s->replay = nb;
		s->replay_cap = grow;
	}
	memcpy(s->replay + s->replay_len, p, n);
	s->replay_len += n;
}

static void count_written(struct pvx_session *s, int i, size_t n)
{
	if (i == END_BACKEND && n > 0)
		replay_off(s); /* the backend answered */
	s->d[i].bytes += (uint64_t)n;
	if (s->kernel)
		s->kd[i].uw += (uint64_t)n;
	if (i == END_CLIENT && s->hdr_left) {
		/* The PROXY header is ours, not the client's. */
		size_t h = n < s->hdr_left ? n : s->hdr_left;
		s->hdr_left -= h;
		n -= h;
	}
	if (i == END_CLIENT)
		s->p.stats->bytes_in += (uint64_t)n;
	else
		s->p.stats->bytes_out += (uint64_t)n;
}

/* The copy fast path of dir_fill for a direction holding nothing: reads
 * into scratch and writes to the destination in the same step; only what
 * the destination does not take now is kept, in the direction's heap
 * buffer. Same contract as dir_fill. */
static int dir_fill_scratch(struct pvx_session *s, int i, size_t *got,
			    bool *more)
{
	struct dir *d = &s->d[i];
	size_t want = d->cap < SCRATCH_SIZE ? d->cap : SCRATCH_SIZE;
	ssize_t n, w;
	int dst = 1 - i, werr = 0;

	n = read(s->fd[i], scratch, want);
	if (n == 0) {
		d->eof = true;
		return 0;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		return close_errno(s, "read", i, errno);
	}
	*got = (size_t)n;
	*more = (size_t)n == want;
	d->big = *more;
	if (!*more && d->hup)
		d->eof = true;
	if (s->kernel)
		s->kd[i].consumed += (uint64_t)n;
	if (s->kernel && !kr_may_write(s, i)) {
		w = -1;
		errno = EAGAIN;
	} else {
		do
			w = send(s->fd[dst], scratch, (size_t)n,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		while (w < 0 && errno == EINTR);
	}
	if (w < 0 && errno != EAGAIN) {
		werr = errno;
		/* A backend that fails its connect may be held and dialled
		 * again: the bytes read stay for it. */
		if (!(dst == END_BACKEND && s->state == SESS_CONNECTING))
			return close_errno(s, "write", dst, werr);
	}
	if (w < 0)
		w = 0;
	if (w > 0 && dst == END_BACKEND)
		replay_keep(s, scratch, (size_t)w);
	if (w > 0) {
		count_written(s, i, (size_t)w);
		if (dst == END_BACKEND)
			backend_up(s);
	}
	if (w < n) {
		if (!d->buf)
			d->buf = malloc(d->cap);
		if (!d->buf)
			return close_errno(s, "buffer", i, ENOMEM);
		d->off = 0;
		d->len = (size_t)(n - w);
		memcpy(d->buf, scratch + w, d->len);
		d->pending = d->len;
	}
	if (werr)
		return close_errno(s, "write", dst, werr);
	return 0;
}

/* Reads once from end i into direction i. *got: bytes read; *more:
 * whether reading again may give more (the read filled all the room, or
 * there was no room). A short read means the socket is drained for now:
 * asking again would only cost an EAGAIN. -1: the session is gone. */
static int dir_fill(struct pvx_session *s, int i, size_t *got, bool *more)
{
	struct dir *d = &s->d[i];
	size_t want;
	ssize_t n;
	int r, cap;

	*got = 0;
	*more = false;
	if (d->eof || d->full)
		return 0;
	if (d->pending == 0 && (d->copy || !d->big))
		return dir_fill_scratch(s, i, got, more);
	if (!d->copy && d->pipe[0] < 0 && d->pending == 0) {
		/* From the pool, so mostly without a syscall. Without a
		 * pipe (out of fds) this round copies. */
		cap = pvx_pipe_get(d->pipe, d->cap);
		if (cap > 0)
			d->pipe_cap = cap;
	}
	if (d->pending >= dir_limit(d)) {
		*more = true;
		return 0;
	}
	if (d->pipe[0] >= 0) {
		want = dir_limit(d) - d->pending;
		n = splice(s->fd[i], NULL, d->pipe[1], NULL, want,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0 && errno == EINVAL) {
			/* This source cannot splice: copy from now on. */
			r = dir_to_copy_mode(d);
			if (r < 0)
				return close_errno(s, "buffer", i, -r);
		} else {
			goto done;
		}
	}
	if (!d->buf) {
		d->buf = malloc(d->cap);
		if (!d->buf)
			return close_errno(s, "buffer", i, ENOMEM);
	}
	if (d->off == d->len) {
		d->off = 0;
		d->len = 0;
	} else if (d->len == d->cap) {
		memmove(d->buf, d->buf + d->off, d->len - d->off);
		d->len -= d->off;
		d->off = 0;
	}
	want = d->cap - d->len;
	n = read(s->fd[i], d->buf + d->len, want);
	if (n > 0)
		d->len += (size_t)n;
	if (n > 0 && s->kernel)
		s->kd[i].consumed += (uint64_t)n;
done:
	if (n > 0) {
		d->pending += (size_t)n;
		*got = (size_t)n;
		*more = (size_t)n == want;
		/* Hysteresis: a stream whose reads vary in size keeps
		 * splicing; only small reads (messages) go back to copying. */
		d->big = (size_t)n >= SCRATCH_SIZE / 4 || *more;
		return 0;
	}
	if (n == 0) {
		d->eof = true;
		return 0;
	}
	if (errno == EAGAIN || errno == EINTR) {
		if (d->pipe[0] >= 0 && d->pending > 0)
			d->full = true;
		return 0;
	}
	return close_errno(s, "read", i, errno);
}

/* The backend closed cleanly before its first byte back while the client
 * still talks (no EOF from it yet): a backend going away under a restart
 * (nginx's fast shutdown closes the connections it accepted), replayed
 * like a reset (see replay). A server that takes a one-way stream and
 * closes saw the client's EOF first, and is not replayed. */
static bool replay_after_eof(struct pvx_session *s)
{
	struct dir *b = &s->d[END_BACKEND];
	bool hup = b->hup;

	b->eof = b->hup = false;
	if (replay(s))
		return true;
	b->eof = true;
	b->hup = hup;
	return false;
}

/* Writes what direction i holds to end 1 - i, and passes EOF on once all
 * is written. -1: the session is gone. */
static int dir_flush(struct pvx_session *s, int i)
{
	struct dir *d = &s->d[i];
	int dst = 1 - i, r;
	ssize_t n;

	while (d->pending > 0) {
		if (s->kernel && !kr_may_write(s, i))
			return 0;
		if (d->pipe[0] >= 0) {
			n = splice(d->pipe[0], NULL, s->fd[dst], NULL,
				   d->pending,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0 && errno == EINVAL) {
				r = dir_to_copy_mode(d);
				if (r < 0)
					return close_errno(s, "buffer", dst,
							   -r);
				continue;
			}
			if (n > 0)
				s->spliced = true;
		} else {
			n = send(s->fd[dst], d->buf + d->off, d->len - d->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0 && dst == END_BACKEND)
				replay_keep(s, d->buf + d->off, (size_t)n);
			if (n > 0) {
				d->off += (size_t)n;
				if (d->off == d->len)
					d->off = d->len = 0;
			}
		}
		if (n > 0) {
			d->pending -= (size_t)n;
			count_written(s, i, (size_t)n);
			if (dst == END_BACKEND)
				backend_up(s);
			d->full = false;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		return close_errno(s, "write", dst, n < 0 ? errno : EIO);
	}
	if (i == END_BACKEND && d->eof && d->pending == 0 && !d->shut &&
	    !s->d[END_CLIENT].eof && replay_after_eof(s))
		return -1;
	if (d->eof && d->pending == 0 && !d->shut &&
	    !(dst == END_BACKEND && s->state == SESS_CONNECTING) &&
	    (!s->kernel || kr_fin_ready(s, i))) {
		/* Half-close: the destination sees EOF, and may still
		 * answer in the other direction. When that direction is
		 * done too, the session closes now and close() sends the
		 * FIN: no shutdown needed. */
		if (!s->d[1 - i].shut && shutdown(s->fd[dst], SHUT_WR) < 0 &&
		    errno != ENOTCONN)
			return close_errno(s, "shutdown", dst, errno);
		d->shut = true;
	}
	if (d->pending == 0) {
		/* Nothing in flight: the pipe goes back to the pool and the
		 * buffer is freed, so idle sessions cost no fds or memory. */
		pvx_pipe_put(d->pipe, d->pipe_cap, true);
		free(d->buf);
		d->buf = NULL;
		d->off = d->len = 0;
		d->full = false;
	}
	return 0;
}

/* Moves bytes of direction i until neither side can go on, a bounded
 * number of rounds so that one busy session cannot starve the others.
 * -1: the session is gone. */
static int dir_pump(struct pvx_session *s, int i)
{
	struct dir *d = &s->d[i];
	uint64_t before = d->bytes, written;
	bool moved = false, more;
	size_t got = 0;

	for (int round = 0; round < 16; round++) {
		written = d->bytes;
		if (dir_fill(s, i, &got, &more) < 0)
			return -1;
		if (dir_flush(s, i) < 0)
			return -1;
		if (got > 0)
			moved = true;
		if (!more || (got == 0 && d->bytes == written))
			break;
	}
	if (moved || d->bytes != before)
		s->t_active = pvx_now_ms();
	if (s->d[0].shut && s->d[1].shut) {
		pvx_session_close(s, "done");
		return -1;
	}
	return 0;
}

static void on_timer(evutil_socket_t fd, short what, void *arg);
static void kr_sync(struct pvx_session *s);
static int kr_recheck(struct pvx_session *s);
static void kr_after_pump(struct pvx_session *s, int i);
static void kr_maybe_insert(struct pvx_session *s);

/* The backend is connected: the timer turns from connect to idle timeout. */
static void backend_up(struct pvx_session *s)
{
	struct timeval tv;

	if (s->state != SESS_CONNECTING)
		return;
	s->state = SESS_RELAYING;
	s->t_active = pvx_now_ms();
	pvx_health_up(s->p.stats, pvx_now_us() - s->t_dial_us);
	if (s->held) {
		s->held = false;
		s->p.stats->held--;
	}
	evtimer_del(s->timer);
	if (s->p.limits.idle_timeout_ms > 0) {
		tv = pvx_ms_tv((uint64_t)s->p.limits.idle_timeout_ms);
		evtimer_add(s->timer, &tv);
	}
}

static uint64_t connect_timeout_ms(const struct pvx_session *s)
{
	return s->p.limits.connect_timeout_ms > 0
		   ? (uint64_t)s->p.limits.connect_timeout_ms
		   : 5000;
}

static void connect_failed(struct pvx_session *s, int err)
{
	char be[PVX_PATH_MAX + 32];
	char reason[160];

	if (hold(s, err))
		return;
	pvx_health_down(s->p.stats, s->be.kind == PVX_BACKEND_NONE
					? "no backend address yet"
					: pvx_backend_strerror(&s->be, err));
	s->p.stats->failed++;
	pvx_backend_format(&s->be, be, sizeof(be));
	log_backend_failure(s->link_name, be,
			    pvx_backend_strerror(&s->be, err));
	snprintf(reason, sizeof(reason), "backend connect: %s",
		 pvx_backend_strerror(&s->be, err));
	pvx_session_close(s, reason);
}

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);

/* The backend end's events, for a new backend socket. */
static int backend_events_new(struct pvx_session *s)
{
	int b = END_BACKEND;

	s->rev[b] = event_new(s->p.base, s->fd[b],
			      EV_READ | EV_CLOSED | EV_PERSIST, on_read, s);
	s->wev[b] =
	    event_new(s->p.base, s->fd[b], EV_WRITE | EV_PERSIST, on_write, s);
	s->ron[b] = s->won[b] = false;
	return s->rev[b] && s->wev[b] ? 0 : -ENOMEM;
}

static void backend_drop(struct pvx_session *s)
{
	int b = END_BACKEND;

	if (s->rev[b])
		event_free(s->rev[b]);
	if (s->wev[b])
		event_free(s->wev[b]);
	s->rev[b] = s->wev[b] = NULL;
	s->ron[b] = s->won[b] = false;
	if (s->fd[b] >= 0)
		close(s->fd[b]);
	s->fd[b] = -1;
}

/* The backend refused (err): hold the client and dial again after the
 * backoff, while the connect timeout (counted from the accept) allows.
 * Nothing was written to the backend yet, so the client's bytes read so
 * far (and the PROXY header) wait in their direction. false: not
 * retryable or no time left, the caller fails the session. */
static bool hold(struct pvx_session *s, int err)
{
	uint64_t now = pvx_now_ms(),
		 deadline = s->t_start + connect_timeout_ms(s);
	uint64_t wait;
	struct timeval tv;

	if (!pvx_backend_err_retryable(err) || now >= deadline ||
	    s->state == SESS_RELAYING)
		return false;
	pvx_health_down(s->p.stats, s->be.kind == PVX_BACKEND_NONE
					? "no backend address yet"
					: strerror(err));
	backend_drop(s);
	if (!s->held) {
		s->held = true;
		s->p.stats->held++;
	}
	s->state = SESS_HOLDING;
	wait = pvx_hold_backoff_ms(s->attempts++);
	if (now + wait > deadline)
		wait = deadline - now;
	tv = pvx_ms_tv(wait);
	evtimer_del(s->timer);
	evtimer_add(s->timer, &tv);
	update_interest(s);
	return true;
}

/* The backend reset the connection before its first byte back,
 * within the connect timeout (counted from the accept), and what it was
 * sent is all kept: it is taken as a backend that was going away (a
 * restart), and the client is held and its bytes replayed to the next
 * dial. false: none of that holds, the caller goes on as before. */
static bool replay(struct pvx_session *s)
{
	struct dir *d = &s->d[END_CLIENT];
	uint64_t deadline = s->t_start + connect_timeout_ms(s);
	size_t n = s->replay_len, hdr;
	char *nb;

	if (!s->replay_on || s->state != SESS_RELAYING ||
	    s->d[END_BACKEND].bytes || s->d[END_BACKEND].pending ||
	    pvx_now_ms() >= deadline || d->pipe[0] >= 0 ||
	    n + d->pending > d->cap)
		return false;
	nb = malloc(d->cap);
	if (!nb)
		return false;
	/* Copy mode: the direction's pending bytes are buf[off, len). */
	memcpy(nb, s->replay, n);
	if (d->pending)
		memcpy(nb + n, d->buf + d->off, d->pending);
	free(d->buf);
	d->buf = nb;
	d->off = 0;
	d->len = d->pending = n + d->pending;
	d->shut = false;
	d->full = false;
	/* The replayed bytes are counted again when written. */
	hdr = n < s->hdr_len ? n : s->hdr_len;
	d->bytes -= n;
	s->p.stats->bytes_in -= n - hdr;
	s->hdr_left = hdr + s->hdr_left;
	s->replay_len = 0;
	s->state = SESS_CONNECTING;
	if (!hold(s, ECONNRESET)) {
		/* Cannot happen (checked above); fail like a refusal. */
		connect_failed(s, ECONNRESET);
	}
	return true;
}

/* Dials the backend again for a held client: the owner's backend of now
 * (a graph update during the hold counts). */
static void hold_retry(struct pvx_session *s)
{
	uint64_t ct = connect_timeout_ms(s), now;
	struct timeval tv;
	int r;

	if (s->p.backend_now)
		s->p.backend_now(s->p.arg, &s->be);
	s->t_dial_us = pvx_now_us();
	r = pvx_backend_connect(&s->be, &s->fd[END_BACKEND]);
	if (r < 0 && r != -EINPROGRESS) {
		s->fd[END_BACKEND] = -1;
		connect_failed(s, -r); /* holds again, or closes */
		return;
	}
	if (backend_events_new(s) < 0) {
		connect_failed(s, ENOMEM);
		return;
	}
	s->state = SESS_CONNECTING;
	if (r == 0) {
		backend_up(s);
	} else {
		now = pvx_now_ms();
		tv = pvx_ms_tv(now - s->t_start < ct ? ct - (now - s->t_start)
						     : 1);
		evtimer_del(s->timer);
		evtimer_add(s->timer, &tv);
	}
	update_interest(s);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pvx_session *s = arg;
	uint64_t idle, now;
	struct timeval tv;

	(void)fd;
	(void)what;
	now = pvx_now_ms();
	if (s->state == SESS_HOLDING) {
		hold_retry(s);
		return;
	}
	if (s->state == SESS_CONNECTING) {
		/* Connected but nothing moved yet (both ends wait for the
		 * other) is not a connect timeout, and the idle timeout
		 * counts from the accept. */
		int r = pvx_sock_connect_result(s->fd[END_BACKEND]);
		uint64_t ct = connect_timeout_ms(s);
		if (r == -EINPROGRESS && now - s->t_start < ct) {
			tv = pvx_ms_tv(ct - (now - s->t_start));
			evtimer_add(s->timer, &tv);
			return;
		}
		if (r < 0) {
			connect_failed(s, r == -EINPROGRESS ? ETIMEDOUT : -r);
			return;
		}
		backend_up(s); /* arms the idle timer */
		if (dir_pump(s, END_CLIENT) < 0)
			return;
		update_interest(s);
		return;
	}
	/* The timer is not pushed back on every byte (that would cost a
	 * heap update per read); it checks the last activity instead, the
	 * kernel path's bytes included. */
	kr_sync(s);
	if (kr_recheck(s) < 0)
		return;
	idle = (uint64_t)s->p.limits.idle_timeout_ms;
	if (now - s->t_active >= idle) {
		pvx_session_close(s, "idle timeout");
		return;
	}
	tv = pvx_ms_tv(idle - (now - s->t_active));
	evtimer_add(s->timer, &tv);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct pvx_session *s = arg;
	int end = fd == s->fd[END_CLIENT] ? END_CLIENT : END_BACKEND;

	if (s->state == SESS_CONNECTING && end == END_BACKEND) {
		/* Data (a server speaking first), EOF or the connect's
		 * error: which one, the socket says. */
		int r = pvx_sock_connect_result(s->fd[END_BACKEND]);
		if (r < 0 && r != -EINPROGRESS) {
			connect_failed(s, -r);
			return;
		}
		if (r == 0)
			backend_up(s);
	}
	s->d[end].hup = (what & EV_CLOSED) != 0;
	if (dir_pump(s, end) < 0)
		return;
	s->d[end].hup = false;
	kr_after_pump(s, end);
	update_interest(s);
	kr_maybe_insert(s);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct pvx_session *s = arg;
	int end = fd == s->fd[END_CLIENT] ? END_CLIENT : END_BACKEND;
	socklen_t len = sizeof(int);
	int err = 0;

	(void)what;
	if (s->state == SESS_CONNECTING && end == END_BACKEND) {
		if (getsockopt(s->fd[END_BACKEND], SOL_SOCKET, SO_ERROR, &err,
			       &len) < 0)
			err = errno;
		if (err != 0) {
			connect_failed(s, err);
			return;
		}
		backend_up(s);
	}
	/* end is writable: the direction that writes to it can move, and
	 * with room made, read its source again right away. */
	if (dir_pump(s, 1 - end) < 0)
		return;
	kr_after_pump(s, 1 - end);
	update_interest(s);
	kr_maybe_insert(s);
}

const struct sockaddr *pvx_session_peer(const struct pvx_session *s,
					socklen_t *len)
{
	*len = s->peer_len;
	return (const struct sockaddr *)&s->peer_sa;
}

/* The first-byte deadline (docs/xconnect.md, "Slow and idle clients"): a
 * session where neither side has sent a byte is closed. Either side: a
 * server that speaks first (SMTP, SSH, MySQL) keeps its silent client. */
static void on_first_byte_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct pvx_session *s = arg;

	(void)fd;
	(void)what;
	kr_sync(s);
	if (s->d[0].bytes || s->d[1].bytes || s->d[0].pending ||
	    s->d[1].pending)
		return;
	s->p.stats->timeout_first_byte++;
	pvx_session_close(s, "first byte timeout");
}

/* Arms it when it comes before the idle timeout; 0 or -ENOMEM. */
static int fb_arm(struct pvx_session *s)
{
	int ms = s->p.limits.first_byte_timeout_ms;
	struct timeval tv;

	if (ms <= 0 || (s->p.limits.idle_timeout_ms > 0 &&
			ms >= s->p.limits.idle_timeout_ms))
		return 0;
	s->fb_timer = evtimer_new(s->p.base, on_first_byte_deadline, s);
	if (!s->fb_timer)
		return -ENOMEM;
	tv = pvx_ms_tv((uint64_t)ms);
	evtimer_add(s->fb_timer, &tv);
	return 0;
}

struct pvx_session *pvx_session_start(const struct pvx_session_params *p,
				      int cfd, const struct sockaddr *peer,
				      socklen_t peerlen,
				      const struct pvx_backend *be)
{
	struct pvx_session *s;
	struct timeval tv;
	char bes[PVX_PATH_MAX + 32];
	int r, err, one = 1;
	bool refused = false;

	s = calloc(1, sizeof(*s));
	if (!s) {
		close(cfd);
		p->stats->failed++;
		errno = ENOMEM;
		return NULL;
	}
	s->p = *p;
	s->p.link_name = NULL; /* only valid during this call */
	s->p.hdr = NULL;
	s->be = *be;
	s->fd[END_CLIENT] = cfd;
	s->fd[END_BACKEND] = -1;
	for (int i = 0; i < 2; i++)
		s->d[i].pipe[0] = s->d[i].pipe[1] = -1;
	s->t_start = pvx_now_ms();
	s->t_active = s->t_start;
	s->t_dial_us = pvx_now_us();
	pvx_sockaddr_format(peer, peerlen, s->peer, sizeof(s->peer));
	if (peer && peerlen <= sizeof(s->peer_sa)) {
		memcpy(&s->peer_sa, peer, peerlen);
		s->peer_len = peerlen;
	}
	if (!p->client_nodelay && peer &&
	    (peer->sa_family == AF_INET || peer->sa_family == AF_INET6))
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	r = pvx_backend_connect(be, &s->fd[END_BACKEND]);
	if (r < 0 && r != -EINPROGRESS) {
		s->fd[END_BACKEND] = -1;
		/* Not there yet (a restart, no address yet): held below. */
		refused = pvx_backend_err_retryable(-r);
		if (!refused) {
			pvx_health_down(p->stats, pvx_backend_strerror(be, -r));
			pvx_backend_format(be, bes, sizeof(bes));
			log_backend_failure(p->link_name, bes,
					    pvx_backend_strerror(be, -r));
			access_log_session(p->link_type, p->link_name, s->peer,
					   be, 0, 0, 0,
					   "backend connect failed");
			goto fail;
		}
	}
	s->rev[END_CLIENT] = event_new(
	    p->base, cfd, EV_READ | EV_CLOSED | EV_PERSIST, on_read, s);
	s->wev[END_CLIENT] =
	    event_new(p->base, cfd, EV_WRITE | EV_PERSIST, on_write, s);
	if (!s->rev[END_CLIENT] || !s->wev[END_CLIENT])
		goto fail;
	if (!refused && backend_events_new(s) < 0)
		goto fail;
	s->timer = evtimer_new(p->base, on_timer, s);
	s->link_name = strdup(p->link_name ? p->link_name : "");
	if (!s->timer || !s->link_name || fb_arm(s) < 0)
		goto fail;
	for (int i = 0; i < 2; i++) {
		s->d[i].cap = s->p.limits.buf_size;
		s->d[i].copy = !pvx_relay_splice;
	}
	s->copy_saved = s->d[END_CLIENT].copy;
	s->d[END_CLIENT].copy = true;
	s->replay_on = true;
	if (p->hdr_len > 0) {
		/* The header waits in the client's direction like bytes
		 * of the client, ahead of them. */
		struct dir *d = &s->d[END_CLIENT];

		if (p->hdr_len > d->cap || !(d->buf = malloc(d->cap)))
			goto fail;
		memcpy(d->buf, p->hdr, p->hdr_len);
		d->len = d->pending = p->hdr_len;
		s->hdr_left = s->hdr_len = p->hdr_len;
	}

	LIST_INSERT_HEAD(p->list, s, entry);
	LIST_INSERT_HEAD(&all_sessions, s, all);
	p->stats->active++;
	s->state = SESS_CONNECTING;
	if (refused) {
		if (hold(s, -r))
			return s;
		/* No time left to wait (a tiny connect timeout). */
		LIST_REMOVE(s, entry);
		LIST_REMOVE(s, all);
		p->stats->active--;
		goto fail;
	}
	if (r == 0) {
		backend_up(s);
	} else {
		/* The first of connect and idle timeout: a silent session
		 * is idle from the accept on. */
		uint64_t ms = connect_timeout_ms(s);
		if (p->limits.idle_timeout_ms > 0 &&
		    (uint64_t)p->limits.idle_timeout_ms < ms)
			ms = (uint64_t)p->limits.idle_timeout_ms;
		tv = pvx_ms_tv(ms);
		evtimer_add(s->timer, &tv);
	}
	update_interest(s);
	return s;

fail:
	err = r < 0 && r != -EINPROGRESS ? -r : ENOMEM;
	p->stats->failed++;
	for (int i = 0; i < 2; i++) {
		if (s->rev[i])
			event_free(s->rev[i]);
		if (s->wev[i])
			event_free(s->wev[i]);
		if (s->fd[i] >= 0)
			close(s->fd[i]);
		free(s->d[i].buf);
	}
	if (s->timer)
		event_free(s->timer);
	if (s->fb_timer)
		event_free(s->fb_timer);
	free(s->link_name);
	free(s);
	errno = err;
	return NULL;
}

const char *pvx_session_mode(const struct pvx_session *s)
{
	if (s->kernel)
		return "kernel";
	return s->spliced ? "splice" : "copy";
}

void pvx_session_foreach(void (*fn)(const struct pvx_session_info *i,
				    void *arg),
			 void *arg)
{
	struct pvx_session_info info;
	struct pvx_session *s;

	LIST_FOREACH(s, &all_sessions, all)
	{
		info.link = s->link_name;
		info.client = s->peer;
		pvx_backend_format(&s->be, info.backend, sizeof(info.backend));
		info.mode = pvx_session_mode(s);
		info.bytes_in = s->d[END_CLIENT].bytes;
		info.bytes_out = s->d[END_BACKEND].bytes;
		if (s->hdr_len - s->hdr_left <= info.bytes_in)
			info.bytes_in -= s->hdr_len - s->hdr_left;
		fn(&info, arg);
	}
}

void pvx_relay_sync(void)
{
	struct pvx_session *s;

	LIST_FOREACH(s, &all_sessions, all)
	kr_sync(s);
}

/* The kernel path (docs/ARCHITECTURE.md, "The session's life on the kernel
 * path"). A session goes on it once both ends are established TCP sockets
 * and nothing is in flight in user space; the BPF program then moves its
 * bytes, and user space only hears of the session again on EPOLLRDHUP, an
 * event of the program (budget spent, hand-back done) or its timers. */

/* TCP_ESTABLISHED and TCP_CLOSE of the kernel's TCP states (linux/tcp.h
 * does not have them, netinet/tcp.h clashes with it). */
#define KR_TCP_ESTABLISHED 1
#define KR_TCP_CLOSE 7

/* An end's TCP counters: bytes received, and the length of the stream
 * written to it so far (acknowledged + still queued). 1: the connection
 * is gone (reset, or closed under us): what was queued to it was thrown
 * away, the counters will never add up. */
static int kr_tcp(int fd, uint64_t *received, uint64_t *stream)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int outq = 0;

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    ioctl(fd, SIOCOUTQ, &outq) < 0)
		return -errno;
	if (received)
		*received = ti.tcpi_bytes_received;
	if (stream)
		*stream = ti.tcpi_bytes_acked + (uint64_t)outq;
	return ti.tcpi_state == KR_TCP_CLOSE ? 1 : 0;
}

/* Adds what the program moved since the last call to the session, its
 * link's counters and its activity time. */
static void kr_sync(struct pvx_session *s)
{
	struct pvx_kdir_view v;
	uint64_t delta;

	if (!s->kernel)
		return;
	for (int i = 0; i < 2; i++) {
		pvx_krelay_view(&s->kp, i, &v);
		delta = v.sent - s->kd[i].seen;
		if (!delta)
			continue;
		s->kd[i].seen = v.sent;
		s->d[i].bytes += delta;
		if (i == END_CLIENT) {
			s->p.stats->bytes_in += delta;
			s->p.stats->kernel_bytes_in += delta;
		} else {
			s->p.stats->bytes_out += delta;
			s->p.stats->kernel_bytes_out += delta;
		}
		s->t_active = pvx_now_ms();
	}
}

static bool kr_established(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	       ti.tcpi_state == KR_TCP_ESTABLISHED;
}

/* Re-checks what no event announces (kr_may_write, kr_fin_ready, a
 * hand-back waiting for the destination to drain): 1 ms doubling to
 * 64 ms, and only for a session in such a transition. */
static void kr_arm(struct pvx_session *s)
{
	struct timeval tv;

	if (evtimer_pending(s->ktimer, NULL))
		return;
	s->kwait = s->kwait ? (s->kwait < 64 ? s->kwait * 2 : 64) : 1;
	tv = pvx_ms_tv(s->kwait);
	evtimer_add(s->ktimer, &tv);
}

/* Whether user space may write direction i's destination: every byte the
 * program redirected is in the destination's stream, none still queued in
 * the kernel ahead of it (bytes would overtake each other otherwise). */
static bool kr_may_write(struct pvx_session *s, int i)
{
	struct kdir *k = &s->kd[i];
	struct pvx_kdir_view v;
	uint64_t stream;
	int r;

	/* The program may have taken the direction, redirected and passed
	 * again before its events reach us: whenever it redirected since
	 * the last look, look again. */
	pvx_krelay_view(&s->kp, i, &v);
	if (!k->gate && v.sent == k->gsent)
		return true;
	r = kr_tcp(s->fd[1 - i], NULL, &stream);
	/* A destination that is gone never takes the bytes: the write (or
	 * shutdown) that follows meets its error and ends the session. */
	if (r == 1 || (r == 0 && stream - k->w0 == k->uw + v.sent)) {
		k->gate = false;
		k->gsent = v.sent;
		s->kwait = 0;
		return true;
	}
	k->gate = true;
	kr_arm(s);
	return false;
}

/* Whether the source's EOF may be passed on: every byte it received was
 * redirected or read by user space (its FIN counts one), and is in the
 * destination's stream. Else bytes may still come out of the kernel: the
 * source is read again. */
static bool kr_fin_ready(struct pvx_session *s, int i)
{
	struct kdir *k = &s->kd[i];
	struct pvx_kdir_view v;
	uint64_t received;
	int r;

	if (!kr_may_write(s, i))
		return false;
	pvx_krelay_view(&s->kp, i, &v);
	r = kr_tcp(s->fd[i], &received, NULL);
	/* A source that is gone gives nothing more. */
	if (r == 1 || (r == 0 && received - k->r0 <= v.sent + k->consumed + 1))
		return true;
	s->d[i].eof = false; /* more to read: see kr_on_timer */
	kr_arm(s);
	return false;
}

/* After user space moved direction i: once all it read is written, the
 * program may take the direction back, when it has passed no byte user
 * space has not read. */
static void kr_after_pump(struct pvx_session *s, int i)
{
	struct kdir *k = &s->kd[i];
	struct dir *d = &s->d[i];

	if (!s->kernel || !k->user || d->eof || d->hup || d->pending ||
	    (k->asked && k->asked_at == k->consumed) || !kr_may_write(s, i))
		return;
	/* Bounded without looking at the destination's queue: that is
	 * charged to its socket (its send buffer); the program's bytes
	 * beyond it wait in the kernel, at most one budget, since every
	 * byte of the last one is in the destination (kr_may_write). */
	pvx_krelay_handback(&s->kp, i, k->consumed, pvx_relay_kbudget);
	k->asked = true;
	k->asked_at = k->consumed;
	/* The source stays read (EPOLLIN) until PVX_KEV_KERNEL says the
	 * program took over: bytes passed meanwhile are read, and the
	 * hand-back asked again. */
}

static void kr_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pvx_session *s = arg;

	(void)fd;
	(void)what;
	for (int i = 0; i < 2; i++) {
		if (!s->kd[i].user)
			continue;
		if (dir_pump(s, i) < 0)
			return;
		kr_after_pump(s, i);
	}
	update_interest(s);
}

static int kr_pass(struct pvx_session *s, int dir);

/* An event of the program about direction dir. */
static void kr_on_event(void *arg, int dir, enum pvx_kev what)
{
	struct pvx_session *s = arg;
	struct kdir *k = &s->kd[dir];

	if (what == PVX_KEV_KERNEL) {
		/* A hand-back that took effect before the source ended, told
		 * after: the EOF is user space's to pass on. */
		if (k->ended)
			return;
		k->user = false;
		k->asked = false;
		update_interest(s);
		return;
	}
	kr_pass(s, dir);
}

/* Over the budget (or no peer): the bytes stay on the source and push its
 * sender back; user space relays them, after the kernel's own bytes
 * reached the destination. -1: the session is gone. */
static int kr_pass(struct pvx_session *s, int dir)
{
	struct kdir *k = &s->kd[dir];

	k->user = true;
	k->gate = true;
	k->asked = false;
	if (dir_pump(s, dir) < 0)
		return -1;
	kr_after_pump(s, dir);
	update_interest(s);
	return 0;
}

/* A ring buffer full loses the program's events: the session's timers
 * look again. -1: the session is gone. */
static int kr_recheck(struct pvx_session *s)
{
	struct pvx_kdir_view v;

	for (int i = 0; s->kernel && i < 2; i++) {
		pvx_krelay_view(&s->kp, i, &v);
		if (!s->kd[i].user && !v.kernel && kr_pass(s, i) < 0)
			return -1;
	}
	return 0;
}

/* EPOLLRDHUP on an end whose direction is on the kernel path: its peer
 * sent FIN (or RST). User space takes the direction to pass the EOF on
 * once everything before it arrived (kr_fin_ready). */
static void kr_on_closed(struct pvx_hupw_item *it)
{
	struct khup *h = (struct khup *)it;
	struct pvx_session *s = h->s;
	int i = h->end;

	s->kd[i].user = true;
	s->kd[i].ended = true;
	s->kd[i].gate = true;
	s->d[i].hup = true;
	if (dir_pump(s, i) < 0)
		return;
	s->d[i].hup = false;
	update_interest(s);
}

static void kr_drop(struct pvx_session *s)
{
	if (!s->kernel)
		return;
	kr_sync(s);
	for (int i = 0; pvx_log_enabled(PVX_LOG_DEBUG) && i < 2; i++) {
		struct pvx_kdir_view v;

		/* What each path carried: for reading a test's log. */
		pvx_krelay_view(&s->kp, i, &v);
		pvx_debug("kernel path link=%s peer=%s dir=%s kernel=%" PRIu64
			  " user=%" PRIu64 " fin_drops=%" PRIu64,
			  s->link_name, s->peer, i ? "out" : "in", v.sent,
			  s->kd[i].uw, v.drops);
	}
	pvx_krelay_remove(&s->kp);
	for (int i = 0; i < 2; i++)
		kr_watch(s, i, false);
	if (s->ktimer)
		event_free(s->ktimer);
	s->p.stats->kernel_sessions--;
	/* s->kernel stays: the close line names the mode. */
}

static bool kr_is_tcp(const struct pvx_session *s)
{
	return s->be.kind == PVX_BACKEND_TCP &&
	       (s->peer_sa.ss_family == AF_INET ||
		s->peer_sa.ss_family == AF_INET6);
}

/* Whether --kernel-relay=auto takes this session now: see
 * docs/performance.md for the measurements behind it. */
static bool kr_auto_wants(struct pvx_session *s)
{
	const struct dir *c = &s->d[END_CLIENT], *b = &s->d[END_BACKEND];

	/* Request/response: both sides spoke, message-sized. A session
	 * past that size before it could go on is a stream: never. */
	if (c->bytes - s->hdr_len > SCRATCH_SIZE || b->bytes > SCRATCH_SIZE) {
		s->knever = true;
		return false;
	}
	return c->bytes > s->hdr_len && b->bytes && !c->big && !b->big;
}

static void kr_insert(struct pvx_session *s)
{
	int sz = (int)pvx_relay_kbudget, r;

	/* Relayed sockets' buffers stop auto-tuning: without fixed sizes
	 * the window stalls at the default (docs/ARCHITECTURE.md). */
	for (int i = 0; i < 2; i++) {
		if (setsockopt(s->fd[i], SOL_SOCKET, SO_RCVBUFFORCE, &sz,
			       sizeof(sz)) < 0)
			setsockopt(s->fd[i], SOL_SOCKET, SO_RCVBUF, &sz,
				   sizeof(sz));
		if (setsockopt(s->fd[i], SOL_SOCKET, SO_SNDBUFFORCE, &sz,
			       sizeof(sz)) < 0)
			setsockopt(s->fd[i], SOL_SOCKET, SO_SNDBUF, &sz,
				   sizeof(sz));
	}
	memset(s->kd, 0, sizeof(s->kd));
	for (int i = 0; i < 2; i++) {
		/* Sockets in the map give passed bytes to read(2) only: no
		 * splice from them; what a pipe holds goes to a buffer. */
		if (s->d[i].pipe[0] >= 0 && dir_to_copy_mode(&s->d[i]) < 0) {
			s->knever = true;
			return;
		}
		/* Bytes read so far from source i. */
		s->kd[i].r0 = s->d[i].bytes + s->d[i].pending -
			      (i == END_CLIENT ? s->hdr_len : 0);
		if (kr_tcp(s->fd[1 - i], NULL, &s->kd[i].w0) < 0) {
			s->knever = true;
			return;
		}
	}
	s->ktimer = evtimer_new(s->p.base, kr_on_timer, s);
	for (int i = 0; i < 2; i++)
		s->kh[i] = (struct khup){{kr_on_closed, s->fd[i]}, s, i};
	if (!s->ktimer) {
		r = -ENOMEM;
		goto fail;
	}
	r = pvx_krelay_insert(s->fd, kr_on_event, s, &s->kp);
	if (r < 0)
		goto fail; /* e.g. EOPNOTSUPP: an end no longer established */
	s->kernel = true;
	s->p.stats->kernel_sessions++;
	for (int i = 0; i < 2; i++) {
		s->d[i].copy = true;
		s->d[i].big = false;
		/* In pass mode until the first hand-back. */
		s->kd[i].user = true;
		kr_after_pump(s, i);
	}
	pvx_debug("session on the kernel path link=%s peer=%s", s->link_name,
		  s->peer);
	return;
fail:
	pvx_debug("kernel path refused link=%s peer=%s: %s", s->link_name,
		  s->peer, strerror(-r));
	if (s->ktimer)
		event_free(s->ktimer);
	s->ktimer = NULL;
	s->knever = true;
}

static void kr_maybe_insert(struct pvx_session *s)
{
	if (s->kernel || s->knever || s->closing)
		return;
	if (!pvx_krelay_active() || !kr_is_tcp(s)) {
		s->knever = true;
		return;
	}
	if (s->state != SESS_RELAYING || s->replay_on || s->hdr_left)
		return;
	for (int i = 0; i < 2; i++) {
		const struct dir *d = &s->d[i];
		if (d->eof || d->shut || d->hup)
			return;
	}
	if (pvx_krelay_mode() == PVX_KRELAY_AUTO && !kr_auto_wants(s))
		return;
	/* Only between reads: this kernel hands a socket's queued bytes
	 * to the program whole, the part user space read already too,
	 * so a half-read segment would reach the peer twice. An empty
	 * queue has none; what arrives after this check is whole, and
	 * goes through the program before user space can read it: from
	 * the insert on, each byte read is one the program passed. */
	for (int i = 0; i < 2; i++) {
		int inq = 0;
		if (ioctl(s->fd[i], SIOCINQ, &inq) < 0 || inq > 0)
			return;
	}
	/* An end that is no longer established (its peer's FIN is in,
	 * unread) is refused by the map, after the other end went in:
	 * taken out again, that end would lose what the program passed
	 * it meanwhile. Checked first, so that only a FIN arriving in
	 * the microseconds between can get there. */
	if (!kr_established(s->fd[0]) || !kr_established(s->fd[1])) {
		s->knever = true;
		return;
	}
	kr_insert(s);
}

/* Bytes an adopted session read already from one end, for the other: they
 * wait in the direction's buffer like bytes it read itself (its high-water
 * mark grows to hold them all). 0 or -ENOMEM. */
static int dir_preload(struct dir *d, const void *bytes, size_t n)
{
	if (n == 0)
		return 0;
	if (n > d->cap)
		d->cap = n;
	d->buf = malloc(d->cap);
	if (!d->buf)
		return -ENOMEM;
	memcpy(d->buf, bytes, n);
	d->len = d->pending = n;
	return 0;
}

struct pvx_session *
pvx_session_adopt(const struct pvx_session_params *p, int cfd, int bfd,
		  const struct sockaddr *peer, socklen_t peerlen,
		  const struct pvx_backend *be, const struct pvx_preload *pre)
{
	struct pvx_session *s = calloc(1, sizeof(*s));
	struct timeval tv;

	if (!s)
		goto fail;
	s->p = *p;
	s->p.link_name = NULL; /* only valid during this call */
	s->p.hdr = NULL;
	s->p.hdr_len = 0;
	s->be = *be;
	s->fd[END_CLIENT] = cfd;
	s->fd[END_BACKEND] = bfd;
	for (int i = 0; i < 2; i++) {
		s->d[i].pipe[0] = s->d[i].pipe[1] = -1;
		s->d[i].cap = s->p.limits.buf_size;
		s->d[i].copy = !pvx_relay_splice;
	}
	s->t_start = s->t_active = pvx_now_ms();
	pvx_sockaddr_format(peer, peerlen, s->peer, sizeof(s->peer));
	if (peer && peerlen <= sizeof(s->peer_sa)) {
		memcpy(&s->peer_sa, peer, peerlen);
		s->peer_len = peerlen;
	}
	for (int i = 0; i < 2; i++) {
		s->rev[i] =
		    event_new(p->base, s->fd[i],
			      EV_READ | EV_CLOSED | EV_PERSIST, on_read, s);
		s->wev[i] = event_new(p->base, s->fd[i], EV_WRITE | EV_PERSIST,
				      on_write, s);
		if (!s->rev[i] || !s->wev[i])
			goto fail_s;
	}
	s->timer = evtimer_new(p->base, on_timer, s);
	s->link_name = strdup(p->link_name ? p->link_name : "");
	if (!s->timer || !s->link_name)
		goto fail_s;
	if (pre && (dir_preload(&s->d[END_CLIENT], pre->to_backend,
				pre->to_backend_len) < 0 ||
		    dir_preload(&s->d[END_BACKEND], pre->to_client,
				pre->to_client_len) < 0))
		goto fail_s;
	LIST_INSERT_HEAD(p->list, s, entry);
	LIST_INSERT_HEAD(&all_sessions, s, all);
	p->stats->active++;
	/* Not on the kernel path (yet): a tunnel stays in user space,
	 * splicing (docs/xconnect.md, "The http plugin"). */
	s->knever = true;
	s->state = SESS_RELAYING;
	if (p->limits.idle_timeout_ms > 0) {
		tv = pvx_ms_tv((uint64_t)p->limits.idle_timeout_ms);
		evtimer_add(s->timer, &tv);
	}
	update_interest(s);
	return s;

fail_s:
	for (int i = 0; i < 2; i++) {
		if (s->rev[i])
			event_free(s->rev[i]);
		if (s->wev[i])
			event_free(s->wev[i]);
		free(s->d[i].buf);
	}
	if (s->timer)
		event_free(s->timer);
	free(s->link_name);
	free(s);
fail:
	close(cfd);
	close(bfd);
	p->stats->failed++;
	errno = ENOMEM;
	return NULL;
}

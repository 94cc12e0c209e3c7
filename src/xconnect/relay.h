/* The relay core of pv-xconnect: a session joins one accepted client to one
 * backend connection and moves bytes both ways with bounded buffering,
 * splice(2) where possible, half-close, timeouts and one close function.
 * Plugins accept connections and hand them here. */
#ifndef PVX_RELAY_H
#define PVX_RELAY_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "xconnect/link.h"

/* Where a session connects to: copied from the link's conf at accept, so
 * that a later update of the link never touches a live session. */
struct pvx_backend {
	enum pvx_backend_kind kind;
	struct pvx_hostport hp;	 /* PVX_BACKEND_TCP */
	char path[PVX_PATH_MAX]; /* PVX_BACKEND_UNIX, as in the graph */
	pid_t pid;		 /* provider_pid: path is under its root */
};

void pvx_backend_from_conf(struct pvx_backend *be,
			   const struct pvx_link_conf *c);
/* "10.0.4.2:80", "/run/x.sock", "pid 42:/run/x.sock", "none". */
void pvx_backend_format(const struct pvx_backend *be, char *buf, size_t len);
/* Starts a non-blocking connect to be. On 0 (connected) or -EINPROGRESS,
 * *fd holds the new socket; on any other -errno nothing is left open.
 * A Unix path is resolved inside the provider's root (common/inroot.h):
 * -ELOOP/-EXDEV when it would lead out, -ENOTSOCK, -EPERM for a socket
 * given to pvx_backend_protect. */
int pvx_backend_connect(const struct pvx_backend *be, int *fd);
/* The reason for a failed connect, in words an operator can act on. */
const char *pvx_backend_strerror(const struct pvx_backend *be, int err);
/* Never dial the socket at path (looked up at each dial): pv-xconnect's
 * control and status sockets. At most four; path must stay valid. */
void pvx_backend_protect(const char *path);

/* Whether new sessions may splice (default true). Off, every direction
 * copies through a heap buffer: for tests of that path and benchmarks. */
extern bool pvx_relay_splice;
/* The kernel path's in-flight budget per direction (docs/ARCHITECTURE.md,
 * "The session's life on the kernel path"), also the buffer size forced
 * on its sockets. */
extern size_t pvx_relay_kbudget;

struct pvx_session;
LIST_HEAD(pvx_session_list, pvx_session);

/* What a session needs from its owner (the plugin's link). */
struct pvx_session_params {
	struct event_base *base;
	const char *link_name;	       /* for log lines; copied */
	const char *link_type;	       /* static (the plugin's): access log */
	struct pvx_link_stats *stats;  /* must outlive the session */
	struct pvx_limits limits;      /* copied */
	struct pvx_session_list *list; /* the session is on it while open */
	/* The client socket has TCP_NODELAY already (accepted sockets
	 * inherit it from their listener): saves a syscall per session. */
	bool client_nodelay;
	/* Bytes the backend gets before any client byte (a PROXY protocol
	 * header, docs/xconnect.md); copied. */
	const uint8_t *hdr;
	size_t hdr_len;
	/* A dial the backend refuses (nobody listens yet, no address yet)
	 * is retried, the client held and not read, until the connect
	 * timeout. Before each retry this fills be with the owner's backend
	 * of now, so that a graph update during the hold is used; NULL:
	 * the same backend again. */
	void (*backend_now)(void *arg, struct pvx_backend *be);
	/* Called once when the session closes, after it left list and
	 * updated stats, before it is freed: the owner may free itself here
	 * (stats, list, link_name included) if nothing else needs it. */
	void (*on_close)(void *arg, struct pvx_session *s);
	void *arg;
};

/* Whether a failed dial means "not there yet" (refused, no socket file,
 * no address yet, backlog full): the client is held and the dial
 * retried. */
bool pvx_backend_err_retryable(int err);
/* The pause before the next retry of a held client: 25 ms doubling to
 * 500 ms (attempt 0, 1, …). */
unsigned pvx_hold_backoff_ms(unsigned attempt);

/* Takes cfd (a connected, non-blocking stream socket) in every case and
 * starts connecting to be. stats->active counts it from here. Returns NULL
 * (cfd closed, stats->failed counted, on_close not called, errno set)
 * when the session could not even start: refused at once for good (not
 * a retryable refusal, see above), no fd (EMFILE, ENFILE), no memory. */
struct pvx_session *pvx_session_start(const struct pvx_session_params *p,
				      int cfd, const struct sockaddr *peer,
				      socklen_t peerlen,
				      const struct pvx_backend *be);
/* Bytes read already from one end of an adopted session, for the other
 * (copied by pvx_session_adopt). */
struct pvx_preload {
	const void *to_backend; /* read from the client */
	size_t to_backend_len;
	const void *to_client; /* read from the backend */
	size_t to_client_len;
};

/* Like pvx_session_start for a backend connected already: takes cfd and
 * bfd (both connected, non-blocking) in every case and relays at once,
 * with the preloaded bytes first (pre may be NULL). The http plugin hands
 * a tunnel over after a 101 this way (docs/xconnect.md). NULL: both fds
 * closed, stats->failed counted, errno ENOMEM. */
struct pvx_session *
pvx_session_adopt(const struct pvx_session_params *p, int cfd, int bfd,
		  const struct sockaddr *peer, socklen_t peerlen,
		  const struct pvx_backend *be, const struct pvx_preload *pre);
/* Closes the session with a reason (the log line's). Idempotent while the
 * session exists; the session is freed on return. */
void pvx_session_close(struct pvx_session *s, const char *reason);
/* The client's address as given to pvx_session_start (*len 0 when none):
 * lets the owner release what it counted for that client in on_close. */
const struct sockaddr *pvx_session_peer(const struct pvx_session *s,
					socklen_t *len);

/* How a session moves its bytes now, for the status socket: "kernel"
 * (BPF sockmap), "splice", "copy". */
const char *pvx_session_mode(const struct pvx_session *s);
/* What the status socket lists of a session. */
struct pvx_session_info {
	const char *link;
	const char *client;
	char backend[PVX_PATH_MAX + 32];
	const char *mode;
	uint64_t bytes_in, bytes_out; /* kernel bytes included */
};
/* Calls fn for every open session of every link (oldest last). */
void pvx_session_foreach(void (*fn)(const struct pvx_session_info *i,
				    void *arg),
			 void *arg);
/* Brings the counters of sessions on the kernel path up to date: the BPF
 * program counts their bytes; this adds what it moved since the last call
 * to the sessions and their links' stats (bytes_in, kernel_bytes_in, ...).
 * The status socket calls it before answering. */
void pvx_relay_sync(void);

#endif

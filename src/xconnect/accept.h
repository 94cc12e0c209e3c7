/* The accept layer every plugin sits on (docs/xconnect.md, "Accepting"):
 * accepting from a listening socket in batches; out of fds, one pending
 * client closed with the reserve fd and accepting paused; the allowlist,
 * the connection limit and the per-client cap checked at accept and
 * counted; warnings at most once a second. The plugin owns the listening
 * socket and what it makes of an accepted connection. */
#ifndef PVX_ACCEPT_H
#define PVX_ACCEPT_H

#include <event2/event.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "xconnect/addrcount.h"
#include "xconnect/link.h"

/* What happened at accept, for the owner's counters. */
enum pvx_accept_event {
	PVX_ACCEPT_OK,		   /* accepted (before the checks below) */
	PVX_ACCEPT_DENIED,	   /* not in the allowlist: closed */
	PVX_ACCEPT_REFUSED_MAX,	   /* over max_conns: closed */
	PVX_ACCEPT_REFUSED_CLIENT, /* over max_conns_per_client: closed */
	PVX_ACCEPT_SHED,	   /* out of fds: closed with the reserve fd */
};

struct pvx_accept_ops {
	/* The limits in force now (max_conns, max_conns_per_client). */
	struct pvx_limits (*limits)(void *arg);
	/* Optional: whether a client at sa may connect at all. */
	bool (*allows)(void *arg, const struct sockaddr *sa);
	/* Counts ev in the owner's stats. */
	void (*count)(void *arg, enum pvx_accept_event ev);
	/* Takes an admitted connection (fd is the owner's in every case).
	 * 0: taken, it ends with pvx_acceptor_release; -errno: not taken
	 * (fd closed by then); -EMFILE and -ENFILE pause accepting. */
	int (*take)(void *arg, int fd, const struct sockaddr *sa,
		    socklen_t len);
	/* Optional: out of fds, before the reserve fd is used: closes what
	 * the owner can spare (idle backend connections). */
	void (*exhausted)(void *arg);
};

struct pvx_acceptor {
	const struct pvx_accept_ops *ops;
	void *arg;
	struct event_base *base;
	char name[160]; /* log lines: "link=web target=0.0.0.0:80" */
	int fd;		/* the owner's listening socket; -1: none */
	struct event *ev;
	struct event *pause_ev; /* resumes accepting after a pause */
	bool paused;
	unsigned nconns; /* connections taken and not released */
	/* Live connections per client address (max_conns_per_client). */
	struct pvx_addrcount clients;
	struct pvx_ratelimit warn_err, warn_full, warn_client, warn_denied;
};

/* Starts accepting from fd. name is copied. 0 or -ENOMEM (nothing kept,
 * pvx_acceptor_clear is still fine). */
int pvx_acceptor_start(struct pvx_acceptor *a, struct event_base *base, int fd,
		       const char *name, const struct pvx_accept_ops *ops,
		       void *arg);
/* Accepts from another listening socket from now on (a listener moved to
 * another namespace); live connections stay counted. 0 or -ENOMEM (the
 * old socket is still used). */
int pvx_acceptor_move(struct pvx_acceptor *a, int fd);
/* Stops accepting for good; the counts of live connections remain until
 * their release. */
void pvx_acceptor_stop(struct pvx_acceptor *a);
/* A connection taken from a client at sa ended. */
void pvx_acceptor_release(struct pvx_acceptor *a, const struct sockaddr *sa,
			  socklen_t len);
/* Stops and frees everything (idempotent; fine on a zeroed acceptor). */
void pvx_acceptor_clear(struct pvx_acceptor *a);

#endif

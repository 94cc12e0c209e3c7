/* Links of the data plane: one per xconnect-graph entry. A link embeds its
 * parsed configuration (what was asked) by value and holds the plugin's
 * runtime state (what is running). The reconciler diffs configurations by
 * identity (consumer, name, target); plugins act on single links. */
#ifndef PVX_LINK_H
#define PVX_LINK_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/addr.h"
#include "common/errlist.h"
#include "xconnect/proxyproto.h"

enum pvx_backend_kind {
	PVX_BACKEND_NONE, /* socket "": no backend yet (IPAM not done) */
	PVX_BACKEND_TCP,  /* "IP:PORT" or "[IPv6]:PORT" */
	PVX_BACKEND_UNIX, /* absolute path (via /proc/<provider_pid>/root) */
};

/* One graph entry, parsed and validated. Immutable; owned strings. */
struct pvx_link_conf {
	char *type;	/* plugin: "tcp", "unix", … */
	char *name;	/* service name */
	char *consumer; /* "EXTERNAL" for ingress */
	char *provider;
	char *role;
	char *interface;
	char *target;  /* as written */
	char *socket;  /* as written */
	char *ingress; /* optional added field; NULL when absent */
	pid_t consumer_pid;
	pid_t provider_pid;
	/* parsed */
	struct pvx_hostport listen; /* target, for tcp/http */
	enum pvx_backend_kind backend;
	struct pvx_hostport backend_hp;	 /* PVX_BACKEND_TCP */
	char backend_path[PVX_PATH_MAX]; /* PVX_BACKEND_UNIX, as given */
	/* Added fields of ingress links (docs/graph.md); absent: off,
	 * everyone, and the command line's limits. */
	enum pvx_pp_version proxy_protocol;
	struct pvx_prefix *allow; /* owned; NULL: every client */
	size_t n_allow;
	unsigned max_conns;	/* 0: --max-conns */
	int connect_timeout_ms; /* 0: --connect-timeout */
	int idle_timeout_s;	/* 0: --idle-timeout */
	bool keep_prefix;	/* http: "strip_prefix": false */
};

/* Parses a graph (JSON array). Entries of types without a plugin are kept
 * (and listed as unsupported), entries that are malformed make the whole
 * graph refused: returns -EINVAL with one message per problem in el
 * ("graph[3].socket: …"). On success *out holds n confs. */
int pvx_graph_parse(const char *buf, size_t len, struct pvx_link_conf **out,
		    size_t *n, struct pvx_errlist *el);
void pvx_link_conf_clear(struct pvx_link_conf *c);
void pvx_link_confs_free(struct pvx_link_conf *v, size_t n);
int pvx_link_conf_copy(struct pvx_link_conf *dst,
		       const struct pvx_link_conf *src);
/* Whether the added fields (proxy_protocol, allow, limits) are equal. */
bool pvx_link_conf_extra_equal(const struct pvx_link_conf *a,
			       const struct pvx_link_conf *b);
/* Same identity: (consumer, name, target). */
bool pvx_link_conf_same_identity(const struct pvx_link_conf *a,
				 const struct pvx_link_conf *b);

enum pvx_health_state {
	PVX_HEALTH_UNKNOWN, /* no dial yet */
	PVX_HEALTH_UP,	    /* the last dial (or probe) connected */
	PVX_HEALTH_DOWN,    /* the last dial (or probe) failed */
};

/* What the dials to a link's backend said (docs/xconnect.md): learnt from
 * every session's connect, and from probes while the link is idle. */
struct pvx_link_health {
	enum pvx_health_state state;
	int64_t down_since;  /* wall clock (s) of the first failure in a row */
	char last_error[96]; /* of the last failed dial, "" if none */
	uint64_t connect_us_last; /* latency of the last successful dial */
	uint64_t connect_us_sum;  /* of all successful dials, for the mean */
	uint64_t connects;	  /* successful dials */
	uint64_t last_dial_ms;	  /* monotonic time of the last dial result */
};

struct pvx_link_stats {
	uint64_t accepted;  /* connections accepted */
	uint64_t active;    /* sessions open now */
	uint64_t failed;    /* backend connect failures, refused for limits */
	uint64_t bytes_in;  /* client -> backend */
	uint64_t bytes_out; /* backend -> client */
	uint64_t denied;    /* closed at accept: source not in allow */
	uint64_t held;	    /* clients waiting for a refusing backend now */
	struct pvx_link_health health;
	/* Slow and idle clients (docs/xconnect.md). On an http listener
	 * shared by several links, events before a request is routed count
	 * on each of them. */
	uint64_t refused_max_conns;  /* closed at accept: over --max-conns */
	uint64_t refused_per_client; /* same: its address over the cap */
	uint64_t timeout_first_byte; /* nothing sent either way in time */
	uint64_t timeout_header;     /* http: 408, request head too slow */
	/* http: backend keep-alive (docs/xconnect.md). */
	uint64_t requests;	   /* requests routed to the link */
	uint64_t backend_connects; /* new backend connections opened */
	uint64_t backend_reused;   /* requests sent on a pooled one */
	/* The kernel relay (docs/ARCHITECTURE.md): sessions on the kernel
	 * path now, and the bytes the BPF program moved (also counted in
	 * bytes_in / bytes_out; brought up to date by pvx_relay_sync). */
	uint64_t kernel_sessions;
	uint64_t kernel_bytes_in;
	uint64_t kernel_bytes_out;
};

/* A dial to the backend connected after us microseconds. */
void pvx_health_up(struct pvx_link_stats *st, uint64_t us);
/* A dial to the backend failed with reason (strerror, or a text). */
void pvx_health_down(struct pvx_link_stats *st, const char *reason);
/* "up", "down", "unknown". */
const char *pvx_health_name(enum pvx_health_state s);

struct pvx_link;

/* A plugin acts on links of one type. */
struct pvx_plugin {
	const char *type;
	/* Sets the link up (binds its listener). -errno with a reason. On
	 * failure the plugin keeps nothing of the link (priv is NULL again):
	 * the caller may call start again later (retry) or pvx_link_free. */
	int (*start)(struct pvx_link *link, char *err, size_t errlen);
	/* link->conf was replaced by one of the same identity (new socket or
	 * pids): new connections use it at once, old sessions go on. Strings
	 * that did not change (always consumer, name, target) keep their
	 * address; a changed one (socket) is freed: do not keep pointers
	 * to it. */
	void (*update)(struct pvx_link *link);
	/* Closes the listener; live sessions are closed after the drain
	 * period. The plugin frees the link (pvx_link_free) once its last
	 * session is gone: the caller must not touch it afterwards. */
	void (*stop)(struct pvx_link *link);
};

struct pvx_link {
	struct pvx_link_conf conf;
	const struct pvx_plugin *plugin;
	struct event_base *base;
	struct pvx_link_stats stats;
	void *priv; /* the plugin's state */
	/* Set by the reconciler, called by pvx_link_free just before the
	 * link is freed, so that a draining link can be listed until then. */
	void (*on_free)(struct pvx_link *link, void *arg);
	void *on_free_arg;
};

/* Limits and timeouts shared by the plugins (set from the command line). */
struct pvx_limits {
	int connect_timeout_ms; /* backend connect */
	int idle_timeout_ms;	/* no byte either way */
	int drain_ms;		/* after a link is removed */
	unsigned max_conns;	/* per link */
	size_t buf_size;	/* per direction high-water mark */
	unsigned unix_mode;	/* unix plugin: mode of its socket files */
	/* A connection where neither side sent a byte is closed after this
	 * (0: never). */
	int first_byte_timeout_ms;
	int header_timeout_ms; /* http: a request head must be complete */
	/* Concurrent connections from one client address per link (per
	 * listener for http); 0: no cap. Unix clients are not capped. */
	unsigned max_conns_per_client;
	/* Not given: pvx_link_limits derives it from each link's max_conns
	 * (pvx_limits_default_per_client). */
	bool per_client_auto;
	int health_interval_ms; /* probe of an idle link's backend; 0: off */
	bool health_unix;	/* probe Unix-socket backends too */
	/* http: idle backend connections kept per backend (0: none) and how
	 * long one may idle (docs/xconnect.md, "Backend keep-alive"). */
	unsigned http_pool_size;
	int http_pool_idle_ms;
};
extern struct pvx_limits pvx_limits;
/* The limits of one link: pvx_limits with the link's own max_conns,
 * connect_timeout_ms and idle_timeout_s where the graph sets them. */
struct pvx_limits pvx_link_limits(const struct pvx_link_conf *c);
/* Whether a client at sa may use the link (its allowlist; no list:
 * everyone). */
bool pvx_link_allows(const struct pvx_link_conf *c, const struct sockaddr *sa);

/* The per-client cap when not given: a quarter of max_conns, at least 64,
 * so that one address cannot take every slot of a link. */
unsigned pvx_limits_default_per_client(unsigned max_conns);

/* Rate limit of a repeating log line: true at most once per second; then
 * *suppressed says how many were left out since the last one. */
struct pvx_ratelimit {
	uint64_t last_ms; /* 0: never logged */
	unsigned suppressed;
};
bool pvx_ratelimit_ok(struct pvx_ratelimit *rl, unsigned *suppressed);

const struct pvx_plugin *pvx_plugin_find(const char *type);
/* A new link holding a copy of conf; NULL and errno on failure. */
struct pvx_link *pvx_link_new(struct event_base *base,
			      const struct pvx_plugin *plugin,
			      const struct pvx_link_conf *conf);
/* Calls on_free, frees conf and the link (not priv: the plugin frees its
 * own state first). NULL is fine. */
void pvx_link_free(struct pvx_link *link);

#endif

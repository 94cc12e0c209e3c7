/* The device state model: what was asked (pools, containers, services,
 * ingress rules), parsed from a Pantavisor state.json or a directory, and
 * validated as a whole. Immutable once loaded. Pure: no sockets, no logging,
 * no globals. See SPEC §3. */
#ifndef PVC_STATE_H
#define PVC_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/addr.h"
#include "common/errlist.h"

#define PVC_STATE_SPEC "pantavisor-service-system@1"
#define PVC_SERVICES_SPEC "service-manifest-xconnect@1"
/* Largest state file (or file of a state directory) read. */
#define PVC_STATE_FILE_MAX (16u << 20)

enum pvc_net_mode {
	PVC_NET_NONE, /* no network namespace wiring: no address */
	PVC_NET_POOL, /* veth on a pool bridge, IPAM lease */
	PVC_NET_HOST, /* shares the device's network: reached on 127.0.0.1 */
};

struct pvc_pool {
	char *name;
	char *type;   /* "bridge" or "macvlan" */
	char *bridge; /* bridge pools: interface name, <= 15 bytes */
	char *parent; /* macvlan pools: the device's interface, or NULL */
	struct pvx_cidr subnet;
	struct in_addr gateway;
	bool nat;     /* masquerade out of the device (docs/runtime.md) */
	bool isolate; /* no traffic to other pools or device addresses */
	/* Set by the loader while it checks a state with errors (the subnet
	 * or gateway did not parse); never true in a returned state. */
	bool invalid;
};

struct pvc_iface {
	char *name; /* "eth0" by default */
	char *pool; /* pool name */
	bool has_static;
	struct in_addr static_ip;
	char *mac;	   /* "aa:bb:…" as written, or NULL */
	int static_prefix; /* prefix written with ipv4_address, -1: bare */
	/* Where it was written, for messages: position in
	 * network.interfaces[] (-1: the implied eth0), and whether pool came
	 * from network.pool. */
	int src_index;
	bool pool_default;
	bool ip_short; /* the address came from network.ip */
};

/* A service the container exports (services.json). */
struct pvc_export {
	char *name;
	char *type;    /* "tcp", "unix", "http", "rest", … */
	char *socket;  /* absolute path or NULL */
	uint16_t port; /* 0 when absent */
};

/* A service the container requires (run.json services.required/optional). */
struct pvc_require {
	char *name;
	char *type;
	char *target;
	char *role;	 /* NULL: "any" */
	char *interface; /* NULL: the type */
	bool optional;
};

/* run.json "auto_recovery" (docs/formats.md): what pv-ctrld does when a
 * process container's process ends without being asked to. */
enum pvc_recovery_policy {
	PVC_RECOVER_NO,		    /* never restart (default) */
	PVC_RECOVER_ALWAYS,	    /* restart whatever the exit status */
	PVC_RECOVER_ON_FAILURE,	    /* restart on a non-zero exit or a signal */
	PVC_RECOVER_UNLESS_STOPPED, /* as always; a stop asked for holds */
};

struct pvc_recovery {
	enum pvc_recovery_policy policy;
	unsigned max_retries;  /* restarts in a row; 0: no limit */
	double retry_delay;    /* seconds before the first restart */
	double backoff_factor; /* each further delay: the last times this */
	double reset_window;   /* seconds of running that reset the count */
};

#define PVC_RECOVERY_DELAY_MAX 300.0 /* a backed-off delay stops growing */

struct pvc_container {
	char *name;
	char *type;  /* "process", "lxc", … */
	char **exec; /* NULL-terminated argv for "process", else NULL */
	char **env;  /* NULL-terminated "K=V" list, or NULL */
	struct pvc_recovery recovery;
	enum pvc_net_mode mode;
	char *hostname;		  /* NULL: the name */
	struct pvc_iface *ifaces; /* pool mode: at least one (default eth0) */
	size_t n_ifaces;
	struct pvc_require *requires;
	size_t n_requires;
	struct pvc_export *exports;
	size_t n_exports;
	/* Set by the loader while it checks a state with errors (its run.json
	 * or services.json had one); never true in a returned state. */
	bool invalid;
};

struct pvc_ingress {
	char *name;
	char *type;	/* "tcp" or "http" */
	char *external; /* as written */
	struct pvx_hostport ext;
	char *path; /* http path prefix, "" when none */
	char *provider;
	char *service;
	char *interface; /* as written, or NULL: echoed in the graph */
	/* Added fields (docs/formats.md); absent: NULL / 0, the data
	 * plane's defaults. */
	char *proxy_protocol; /* "v1", "v2" or NULL (off) */
	char **allow;	      /* source CIDRs as written; NULL: everyone */
	size_t n_allow;
	int max_conns;		/* 0: pv-xconnect's --max-conns */
	int connect_timeout_ms; /* 0: pv-xconnect's --connect-timeout */
	int idle_timeout_s;	/* 0: pv-xconnect's --idle-timeout */
	/* http: "strip_prefix": false, the path goes to the backend with
	 * its prefix (default: stripped, /api/x -> /x). */
	bool keep_prefix;
};

/* Bounds of the per-rule limits (docs/formats.md). */
#define PVC_MAX_CONNS_MAX 1000000
#define PVC_CONNECT_TIMEOUT_MS_MAX 600000
#define PVC_IDLE_TIMEOUT_S_MAX 604800
#define PVC_ALLOW_MAX 256

struct pvc_state {
	struct pvc_pool *pools;
	size_t n_pools;
	struct pvc_container *containers; /* sorted by name */
	size_t n_containers;
	struct pvc_ingress *ingress;
	size_t n_ingress;
	/* What the loader warns about in a state it accepts: unknown keys
	 * (typos), no container. Not part of what was asked: ignored by
	 * pvc_state_equal. */
	struct pvx_errlist warnings;
};

/* Loads a state from a state.json file or a directory and validates it.
 * Returns NULL (and fills el with every problem) on any error; a returned
 * state carries its warnings in st->warnings. */
struct pvc_state *pvc_state_load_path(const char *path, struct pvx_errlist *el);
/* Same from a state.json text (e.g. a PUT /state body). origin names the
 * input in syntax errors ("state.json"). */
struct pvc_state *pvc_state_load_buf(const char *buf, size_t len,
				     const char *origin,
				     struct pvx_errlist *el);
void pvc_state_free(struct pvc_state *st);

const struct pvc_container *pvc_state_find(const struct pvc_state *st,
					   const char *name);
const struct pvc_pool *pvc_state_find_pool(const struct pvc_state *st,
					   const char *name);
const struct pvc_export *
pvc_container_find_export(const struct pvc_container *c, const char *name);
/* The unique container exporting service (and its export in *exp, if exp
 * is not NULL), or NULL when none or several do. */
const struct pvc_container *
pvc_state_find_provider(const struct pvc_state *st, const char *service,
			const struct pvc_export **exp);
/* "no", "always", "on-failure", "unless-stopped". */
const char *pvc_recovery_policy_name(enum pvc_recovery_policy p);
/* "pool", "host", "none". */
const char *pvc_net_mode_name(enum pvc_net_mode mode);
/* Whether p is a macvlan pool (else a bridge pool). */
bool pvc_pool_is_macvlan(const struct pvc_pool *p);
/* Deep comparison of what was asked (e.g. to restart only the containers
 * whose definition changed on a reload). */
bool pvc_container_equal(const struct pvc_container *a,
			 const struct pvc_container *b);
bool pvc_state_equal(const struct pvc_state *a, const struct pvc_state *b);

/* Cross-checks of SPEC §3.4 on a parsed model (references, duplicates,
 * collisions, static addresses, pools). pvc_state_load_* already run it;
 * adds "file: path: reason" messages to el and returns -EINVAL if any. */
int pvc_state_validate(const struct pvc_state *st, struct pvx_errlist *el);

#endif

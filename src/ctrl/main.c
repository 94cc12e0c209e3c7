/* pv-ctrld: the control plane daemon. Loads the device state, serves the
 * control API on a Unix socket and applies new states on request or
 * SIGHUP; `--check` validates a state and shows what would be applied. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/fdlimit.h"
#include "common/log.h"
#include "common/defaults.h"
#include "ctrl/api.h"
#include "ctrl/caps.h"
#include "ctrl/ctlog.h"
#include "ctrl/daemon.h"
#include "ctrl/graph.h"
#include "ctrl/ipam.h"
#include "ctrl/state.h"

#define DEFAULT_CTRL "/run/pantavisor/pv/pv-ctrl"
#define DEFAULT_STATE_DIR "/var/lib/pvx"

struct opts {
	const char *state;
	const char *check;
	const char *ctrl;
	const char *state_dir;
	bool state_dir_given;
	bool no_runtime;
	int wait_timeout_s;
	mode_t socket_mode;
	bool verbose;
	size_t log_size; /* per container log file; 0: default */
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: pv-ctrld --state PATH [--ctrl SOCK] [--state-dir DIR]\n"
	    "                [--no-runtime] [--wait-timeout SEC]\n"
	    "                [--socket-mode MODE] [--container-log-size BYTES] "
	    "[-v]\n"
	    "       pv-ctrld --check PATH [--state-dir DIR]\n"
	    "\n"
	    "  --state PATH        state.json file or state directory\n"
	    "  --ctrl SOCK         control socket (default $PVX_CTRL or "
	    "%s)\n"
	    "  --state-dir DIR     lease file directory (default %s)\n"
	    "  --no-runtime        track containers only: no network "
	    "changes,\n"
	    "                      no processes started\n"
	    "  --wait-timeout SEC  long-poll hold time (default %d)\n"
	    "  --socket-mode MODE  octal mode of the socket (default 0600)\n"
	    "  --container-log-size BYTES  cap of a process container's log "
	    "file\n"
	    "                      (<state-dir>/logs/NAME.log, one rotation; "
	    "default 1048576)\n"
	    "  --check PATH        validate PATH; print planned leases and "
	    "graph\n"
	    "  -v, --verbose       debug logging\n"
	    "  --version           print the version and exit\n",
	    DEFAULT_CTRL, DEFAULT_STATE_DIR, PVC_API_WAIT_TIMEOUT_S);
}

static int parse_int(const char *s, long min, long max, int base, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, base);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"state", required_argument, NULL, 's'},
	    {"check", required_argument, NULL, 'C'},
	    {"ctrl", required_argument, NULL, 'c'},
	    {"state-dir", required_argument, NULL, 'd'},
	    {"no-runtime", no_argument, NULL, 'n'},
	    {"wait-timeout", required_argument, NULL, 'w'},
	    {"socket-mode", required_argument, NULL, 'm'},
	    {"container-log-size", required_argument, NULL, 'L'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *env = getenv("PVX_CTRL");
	long v;
	int c;

	*o = (struct opts){
	    .ctrl = env && *env ? env : DEFAULT_CTRL,
	    .state_dir = DEFAULT_STATE_DIR,
	    .wait_timeout_s = PVC_API_WAIT_TIMEOUT_S,
	    .socket_mode = 0600,
	};
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->state = optarg;
			break;
		case 'C':
			o->check = optarg;
			break;
		case 'c':
			o->ctrl = optarg;
			break;
		case 'd':
			o->state_dir = optarg;
			o->state_dir_given = true;
			break;
		case 'n':
			o->no_runtime = true;
			break;
		case 'w':
			if (parse_int(optarg, 1, 86400, 10, &v) < 0) {
				fprintf(stderr,
					"pv-ctrld: --wait-timeout: expected "
					"1-86400 seconds\n");
				return 2;
			}
			o->wait_timeout_s = (int)v;
			break;
		case 'm':
			if (parse_int(optarg, 0, 0777, 8, &v) < 0) {
				fprintf(stderr, "pv-ctrld: --socket-mode: "
						"expected an octal mode\n");
				return 2;
			}
			o->socket_mode = (mode_t)v;
			break;
		case 'L':
			if (parse_int(optarg, PVC_CTLOG_MIN, 1L << 30, 10, &v) <
			    0) {
				fprintf(stderr,
					"pv-ctrld: --container-log-size: "
					"expected %d-%ld bytes\n",
					PVC_CTLOG_MIN, 1L << 30);
				return 2;
			}
			o->log_size = (size_t)v;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("pv-ctrld (pvx) %s\n", PVX_VERSION);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (!o->state == !o->check)) {
		usage(stderr);
		return 2;
	}
	return 0;
}

static void print_errors(const char *what, const struct pvx_errlist *el)
{
	for (size_t i = 0; i < el->n; i++)
		fprintf(stderr, "%s%s\n", what, el->msgs[i]);
}

/* --check: everything of an apply that has no effect. */
static int run_check(const struct opts *o)
{
	struct pvx_errlist errors = {0}, warnings = {0};
	struct pvc_leases prev = {0}, next = {0};
	struct pvc_state *st;
	json_t *graph = NULL, *plan = NULL;
	char *text = NULL;
	int rc = 1;

	st = pvc_state_load_path(o->check, &errors);
	if (!st) {
		if (pvx_errlist_empty(&errors))
			pvx_errlist_add(&errors, "%s: cannot load", o->check);
		print_errors("", &errors);
		goto out;
	}
	if (o->state_dir_given) {
		char *lpath = NULL;
		if (asprintf(&lpath, "%s/leases.json", o->state_dir) < 0)
			goto oom;
		if (pvc_leases_load(lpath, &prev, &warnings) < 0) {
			pvx_errlist_add(&warnings,
					"%s: unreadable; planning without it",
					lpath);
			pvc_leases_free(&prev);
			memset(&prev, 0, sizeof(prev));
		}
		free(lpath);
	}
	pvx_errlist_merge(&warnings, &st->warnings, NULL);
	if (pvc_ipam_assign(st, &prev, &next, &warnings) < 0)
		goto oom;
	/* Nothing runs under --check: no pids makes it a plan, which
	 * shows the Unix socket paths a running provider would have. */
	graph = pvc_graph_build(st, &next, NULL);
	if (!graph)
		goto oom;
	plan = pvc_plan_to_json(&next, graph);
	text = plan ? json_dumps(plan, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	if (!text)
		goto oom;
	print_errors("warning: ", &warnings);
	printf("%s\n", text);
	rc = 0;
	goto out;
oom:
	fprintf(stderr, "pv-ctrld: out of memory\n");
out:
	free(text);
	json_decref(plan);
	json_decref(graph);
	pvc_leases_free(&prev);
	pvc_leases_free(&next);
	if (st)
		pvc_state_free(st);
	pvx_errlist_clear(&errors);
	pvx_errlist_clear(&warnings);
	return rc;
}

struct ctx {
	struct event_base *base;
	struct pvc_daemon *d;
};

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct ctx *ctx = arg;
	struct pvc_op_req req = {.kind = PVC_OP_RELOAD};
	bool completed;

	(void)what;
	if (sig == SIGHUP) {
		pvx_info("SIGHUP: reloading the state");
		/* Queued behind a change under way; logged by the daemon. */
		if (!pvc_daemon_submit(ctx->d, &req, NULL, NULL, &completed) &&
		    !completed)
			pvx_err("SIGHUP: reload: %s", strerror(errno));
		return;
	}
	pvx_info("signal %d: shutting down", (int)sig);
	event_base_loopexit(ctx->base, NULL);
}

static int run_daemon(const struct opts *o)
{
	struct pvc_daemon_conf dconf = {
	    .state_path = o->state,
	    .state_dir = o->state_dir,
	    .runtime = {.enabled = !o->no_runtime,
			.stop_grace_ms = 3000,
			.log_max = o->log_size},
	};
	struct pvc_api_conf aconf = {
	    .path = o->ctrl,
	    .mode = o->socket_mode,
	    .wait_timeout_s = o->wait_timeout_s,
	    .idle_timeout_s = PVC_API_IDLE_TIMEOUT_S,
	};
	struct pvx_errlist errors = {0}, warnings = {0};
	struct event *sigs[3] = {NULL};
	const int signums[3] = {SIGTERM, SIGINT, SIGHUP};
	struct ctx ctx = {0};
	struct pvc_state *st = NULL;
	struct pvc_api *api = NULL;
	char err[512] = "";
	long nofile;
	int rc = 1;

	/* A client that goes away must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	/* Every API client holds a descriptor: an inherited soft limit of
	 * 1024 would let ~1020 idle local clients lock everyone out. */
	nofile = pvx_fdlimit_raise();
	if (nofile < 0)
		pvx_warn("open files limit: %s", strerror((int)-nofile));

	/* Without its privileges the runtime would fail every step with
	 * EPERM after having started: refuse now, saying what is missing. */
	if (!o->no_runtime) {
		char missing[512];
		uint64_t eff = 0;
		int r = pvc_caps_effective(&eff);
		if (r < 0) {
			pvx_err("cannot read own capabilities: %s",
				strerror(-r));
			goto out;
		}
		if (pvc_caps_missing(eff, missing, sizeof(missing)) > 0) {
			pvx_err("the runtime needs privileges this process "
				"lacks: %s; run as root (or give these "
				"capabilities), or pass --no-runtime to only "
				"serve the control API",
				missing);
			goto out;
		}
	}

	/* Validate first: a bad state must not touch anything. */
	st = pvc_state_load_path(o->state, &errors);
	if (!st) {
		if (pvx_errlist_empty(&errors))
			pvx_errlist_add(&errors, "%s: cannot load", o->state);
		pvx_err("state refused source=%s errors=%zu", o->state,
			errors.n);
		print_errors("", &errors);
		goto out;
	}
	ctx.base = event_base_new();
	if (!ctx.base) {
		pvx_err("event_base_new failed");
		goto out;
	}
	ctx.d = pvc_daemon_new(ctx.base, &dconf, &errors, &warnings);
	for (size_t i = 0; i < warnings.n; i++)
		pvx_warn("%s", warnings.msgs[i]);
	pvx_errlist_clear(&warnings);
	if (!ctx.d) {
		for (size_t i = 0; i < errors.n; i++)
			pvx_err("%s", errors.msgs[i]);
		goto out;
	}
	/* Take the socket before the state goes into effect, so that a
	 * second daemon refuses before it changes the device. */
	api = pvc_api_new(ctx.base, ctx.d, &aconf, err, sizeof(err));
	if (!api) {
		pvx_err("control socket: %s", err);
		goto out;
	}
	if (pvc_daemon_apply(ctx.d, st, &errors, &warnings) < 0) {
		st = NULL;
		pvx_err("state not applied source=%s", o->state);
		for (size_t i = 0; i < errors.n; i++)
			pvx_err("%s", errors.msgs[i]);
		goto out;
	}
	st = NULL;
	pvx_info("state applied source=%s warnings=%zu", o->state, warnings.n);
	for (size_t i = 0; i < warnings.n; i++)
		pvx_warn("state %s", warnings.msgs[i]);
	for (size_t i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(ctx.base, signums[i], on_signal, &ctx);
		if (!sigs[i] || evsignal_add(sigs[i], NULL) < 0) {
			pvx_err("cannot handle signal %d", signums[i]);
			goto out;
		}
	}
	pvx_info("serving ctrl=%s state-dir=%s runtime=%s wait-timeout=%d "
		 "nofile=%ld",
		 o->ctrl, o->state_dir, o->no_runtime ? "off" : "on",
		 o->wait_timeout_s, nofile);
	if (event_base_dispatch(ctx.base) < 0) {
		pvx_err("event loop failed");
		goto out;
	}
	rc = 0;
out:
	pvc_api_free(api);
	pvc_daemon_free(ctx.d);
	for (size_t i = 0; i < 3; i++)
		if (sigs[i])
			event_free(sigs[i]);
	if (ctx.base)
		event_base_free(ctx.base);
	if (st)
		pvc_state_free(st);
	pvx_errlist_clear(&errors);
	pvx_errlist_clear(&warnings);
	if (rc == 0)
		pvx_info("stopped");
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	int r = parse_opts(argc, argv, &o);

	if (r)
		return r;
	pvx_log_init("pv-ctrld", o.verbose ? PVX_LOG_DEBUG : PVX_LOG_INFO);
	if (o.check)
		return run_check(&o);
	return run_daemon(&o);
}

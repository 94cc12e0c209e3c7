/* pv-xconnect: the data plane. Follows the xconnect graph (control socket
 * or file), keeps the links equal to it through the reconciler, serves
 * the status socket. Single-threaded: plugins switch network namespaces
 * around a bind, which is only sound with one thread. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "common/log.h"
#include "xconnect/access.h"
#include "xconnect/client.h"
#include "xconnect/krelay.h"
#include "xconnect/link.h"
#include "xconnect/reconcile.h"
#include "xconnect/relay.h"
#include "xconnect/status.h"
#include "common/defaults.h"

#define DEFAULT_CTRL "/run/pantavisor/pv/pv-ctrl"

struct app {
	struct event_base *base;
	struct pvx_reconciler *rc;
	struct pvx_graph_src *src;
	struct pvx_status *status;
	/* The last graph seen, applied or refused: the same body again is
	 * not parsed, reconciled or logged again. */
	char *last;
	size_t last_len;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pv-xconnect [--ctrl SOCK | --graph-file FILE] "
		"[--status SOCK | --no-status]\n"
		"                   [--interval SEC] [--connect-timeout MS] "
		"[--idle-timeout SEC]\n"
		"                   [--drain SEC] [--max-conns N] "
		"[--max-conns-per-client N]\n"
		"                   [--first-byte-timeout SEC] "
		"[--header-timeout SEC]\n"
		"                   [--buf-size BYTES] [--unix-mode MODE]\n"
		"                   [--access-log PATH|-] "
		"[--access-log-format kv|json]\n"
		"                   [--health-interval MS] [--health-unix]\n"
		"                   [--http-pool-size N] "
		"[--http-pool-idle-ms MS]\n"
		"                   [--kernel-relay auto|on|off] [-v]\n"
		"  --ctrl SOCK          control socket (default $PVX_CTRL or "
		"%s)\n"
		"  --graph-file FILE    read the graph from FILE instead "
		"(reloaded on change, SIGHUP)\n"
		"  --status SOCK        serve GET /links on this Unix socket "
		"(default\n"
		"                       $PVX_STATUS or " PVX_DEFAULT_STATUS
		")\n"
		"  --no-status          no status socket\n"
		"  --interval SEC       poll period when the server has no "
		"ETag (5)\n"
		"  --connect-timeout MS backend connect timeout (5000)\n"
		"  --idle-timeout SEC   close connections idle this long "
		"(300)\n"
		"  --drain SEC          a removed link's connections are "
		"closed after this (10)\n"
		"  --max-conns N        concurrent connections per link "
		"(512)\n"
		"  --max-conns-per-client N\n"
		"                       of them from one client address "
		"(max-conns/4, at least\n"
		"                       64; 0: no cap)\n"
		"  --first-byte-timeout SEC\n"
		"                       close a connection where neither "
		"side sent a byte (5;\n"
		"                       0: never)\n"
		"  --header-timeout SEC http: a request head must be "
		"complete within this (10)\n"
		"  --buf-size BYTES     buffer per direction and connection "
		"(65536)\n"
		"  --unix-mode MODE     octal mode of unix links' sockets "
		"(0666)\n"
		"  --access-log PATH|-  one line per closed connection and "
		"per HTTP request\n"
		"                       (appended to PATH, reopened on "
		"SIGHUP; - is stdout)\n"
		"  --access-log-format kv|json  access log lines (kv)\n"
		"  --health-interval MS probe an idle link's backend this "
		"often (2000; 0: off)\n"
		"  --health-unix        probe Unix-socket backends too\n"
		"  --http-pool-size N   http: idle backend connections kept "
		"per backend (32;\n"
		"                       0: a new one per request)\n"
		"  --http-pool-idle-ms MS\n"
		"                       http: an idle backend connection is "
		"closed after this\n"
		"                       (2000)\n"
		"  --kernel-relay auto|on|off\n"
		"                       relay established TCP sessions in "
		"the kernel (BPF\n"
		"                       sockmap) where it is faster, "
		"always, or never\n"
		"                       (auto; docs/performance.md)\n"
		"  -v                   debug logging\n"
		"  --version            print the version and exit\n",
		DEFAULT_CTRL);
}

static void on_graph(const char *body, size_t len, void *arg)
{
	struct app *a = arg;
	struct pvx_errlist el = {0};
	struct pvx_link_conf *confs = NULL;
	size_t n = 0;
	char *copy;
	int r;

	if (a->last && a->last_len == len && memcmp(a->last, body, len) == 0)
		return;
	copy = malloc(len ? len : 1);
	if (copy) {
		memcpy(copy, body, len);
		free(a->last);
		a->last = copy;
		a->last_len = len;
	}
	r = pvx_graph_parse(body, len, &confs, &n, &el);
	if (r == -ENOMEM) {
		/* Not the graph's fault: the same text is tried again. */
		pvx_err("graph not applied: out of memory");
		free(a->last);
		a->last = NULL;
		pvx_errlist_clear(&el);
		return;
	}
	if (r < 0) {
		pvx_err("graph refused (%zu problem%s); running links kept",
			el.n, el.n == 1 ? "" : "s");
		for (size_t i = 0; i < el.n; i++)
			pvx_err("graph refused: %s", el.msgs[i]);
		pvx_errlist_clear(&el);
		return;
	}
	pvx_debug("graph accepted links=%zu", n);
	pvx_reconciler_apply(a->rc, confs, n);
	pvx_link_confs_free(confs, n);
}

static void log_counters(const struct pvx_rc_info *i, void *arg)
{
	(void)arg;
	pvx_info("link stats type=%s name=%s consumer=%s target=%s socket=%s "
		 "state=%s accepted=%llu active=%llu failed=%llu "
		 "bytes_in=%llu bytes_out=%llu refused_max_conns=%llu "
		 "refused_per_client=%llu timeout_first_byte=%llu "
		 "timeout_header=%llu requests=%llu backend_connects=%llu "
		 "backend_reused=%llu",
		 i->conf->type, i->conf->name, i->conf->consumer,
		 i->conf->target, *i->conf->socket ? i->conf->socket : "(none)",
		 pvx_rc_state_name(i->state),
		 (unsigned long long)i->stats->accepted,
		 (unsigned long long)i->stats->active,
		 (unsigned long long)i->stats->failed,
		 (unsigned long long)i->stats->bytes_in,
		 (unsigned long long)i->stats->bytes_out,
		 (unsigned long long)i->stats->refused_max_conns,
		 (unsigned long long)i->stats->refused_per_client,
		 (unsigned long long)i->stats->timeout_first_byte,
		 (unsigned long long)i->stats->timeout_header,
		 (unsigned long long)i->stats->requests,
		 (unsigned long long)i->stats->backend_connects,
		 (unsigned long long)i->stats->backend_reused);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct app *a = arg;
	int r;

	(void)what;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		pvx_info("signal %d: stopping all links", (int)sig);
		event_base_loopbreak(a->base);
		break;
	case SIGHUP:
		pvx_info("SIGHUP: reloading the graph");
		r = pvx_access_reopen();
		if (r < 0)
			pvx_err("access log: reopen: %s", strerror(-r));
		/* Read again even if unchanged: a failed link is retried. */
		free(a->last);
		a->last = NULL;
		pvx_graph_src_refresh(a->src);
		break;
	case SIGUSR1:
		pvx_info("links=%zu", pvx_reconciler_count(a->rc));
		pvx_reconciler_foreach(a->rc, log_counters, NULL);
		break;
	}
}

static int parse_num(const char *opt, const char *s, long min, long max,
		     long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr,
			"pv-xconnect: %s: '%s' is not a number in "
			"%ld-%ld\n",
			opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* An octal file mode such as 0660 (permission bits only). */
static int parse_mode(const char *s, unsigned *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 8);
	if (errno || end == s || *end || v < 0 || v > 0777) {
		fprintf(stderr,
			"pv-xconnect: --unix-mode: '%s' is not an octal mode "
			"in 0-0777\n",
			s);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

enum {
	OPT_CTRL = 256,
	OPT_FILE,
	OPT_STATUS,
	OPT_INTERVAL,
	OPT_CONNECT_TIMEOUT,
	OPT_IDLE_TIMEOUT,
	OPT_DRAIN,
	OPT_MAX_CONNS,
	OPT_BUF_SIZE,
	OPT_UNIX_MODE,
	OPT_ACCESS_LOG,
	OPT_ACCESS_FMT,
	OPT_NO_STATUS,
	OPT_VERSION,
	OPT_MAX_CONNS_PER_CLIENT,
	OPT_FIRST_BYTE_TIMEOUT,
	OPT_HEADER_TIMEOUT,
	OPT_HEALTH_INTERVAL,
	OPT_HEALTH_UNIX,
	OPT_HTTP_POOL_SIZE,
	OPT_HTTP_POOL_IDLE,
	OPT_KERNEL_RELAY,
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"ctrl", required_argument, NULL, OPT_CTRL},
	    {"graph-file", required_argument, NULL, OPT_FILE},
	    {"status", required_argument, NULL, OPT_STATUS},
	    {"interval", required_argument, NULL, OPT_INTERVAL},
	    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
	    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
	    {"drain", required_argument, NULL, OPT_DRAIN},
	    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
	    {"buf-size", required_argument, NULL, OPT_BUF_SIZE},
	    {"unix-mode", required_argument, NULL, OPT_UNIX_MODE},
	    {"access-log", required_argument, NULL, OPT_ACCESS_LOG},
	    {"access-log-format", required_argument, NULL, OPT_ACCESS_FMT},
	    {"no-status", no_argument, NULL, OPT_NO_STATUS},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {"max-conns-per-client", required_argument, NULL,
	     OPT_MAX_CONNS_PER_CLIENT},
	    {"first-byte-timeout", required_argument, NULL,
	     OPT_FIRST_BYTE_TIMEOUT},
	    {"header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT},
	    {"health-interval", required_argument, NULL, OPT_HEALTH_INTERVAL},
	    {"health-unix", no_argument, NULL, OPT_HEALTH_UNIX},
	    {"http-pool-size", required_argument, NULL, OPT_HTTP_POOL_SIZE},
	    {"http-pool-idle-ms", required_argument, NULL, OPT_HTTP_POOL_IDLE},
	    {"kernel-relay", required_argument, NULL, OPT_KERNEL_RELAY},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
	struct event *sigev[sizeof(sigs) / sizeof(sigs[0])] = {0};
	struct pvx_client_opts co;
	struct app a = {0};
	const char *ctrl = NULL, *file = NULL, *status = NULL;
	const char *access_log = NULL;
	enum pvx_access_fmt access_fmt = PVX_ACCESS_KV;
	/* Off by default: a client that closes while its answer is on the way
	 * leaves its session on the kernel path, spinning (docs/performance.md,
	 * "Kernel relay"). */
	enum pvx_krelay_mode krelay = PVX_KRELAY_AUTO;
	bool verbose = false, no_status = false, status_default = false;
	bool per_client_set = false;
	int c, rc = 1;
	long v;

	pvx_client_opts_default(&co);
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_CTRL:
			ctrl = optarg;
			break;
		case OPT_FILE:
			file = optarg;
			break;
		case OPT_STATUS:
			status = optarg;
			no_status = false;
			break;
		case OPT_NO_STATUS:
			no_status = true;
			status = NULL;
			break;
		case OPT_VERSION:
			printf("pv-xconnect (pvx) %s\n", PVX_VERSION);
			return 0;
		case OPT_INTERVAL:
			if (parse_num("--interval", optarg, 1, 86400, &v))
				return 2;
			co.interval_ms = (int)v * 1000;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (parse_num("--connect-timeout", optarg, 1, 3600000,
				      &v))
				return 2;
			pvx_limits.connect_timeout_ms = (int)v;
			break;
		case OPT_IDLE_TIMEOUT:
			if (parse_num("--idle-timeout", optarg, 1, 86400 * 7,
				      &v))
				return 2;
			pvx_limits.idle_timeout_ms = (int)v * 1000;
			break;
		case OPT_DRAIN:
			if (parse_num("--drain", optarg, 0, 86400, &v))
				return 2;
			pvx_limits.drain_ms = (int)v * 1000;
			break;
		case OPT_MAX_CONNS:
			if (parse_num("--max-conns", optarg, 1, 1000000, &v))
				return 2;
			pvx_limits.max_conns = (unsigned)v;
			break;
		case OPT_BUF_SIZE:
			if (parse_num("--buf-size", optarg, 1024, 64 << 20, &v))
				return 2;
			pvx_limits.buf_size = (size_t)v;
			break;
		case OPT_UNIX_MODE:
			if (parse_mode(optarg, &pvx_limits.unix_mode))
				return 2;
			break;
		case OPT_ACCESS_LOG:
			access_log = optarg;
			break;
		case OPT_ACCESS_FMT:
			if (pvx_access_fmt_parse(optarg, &access_fmt) < 0) {
				fprintf(stderr,
					"pv-xconnect: --access-log-format: "
					"'%s' is not kv or json\n",
					optarg);
				return 2;
			}
			break;
		case OPT_MAX_CONNS_PER_CLIENT:
			if (parse_num("--max-conns-per-client", optarg, 0,
				      1000000, &v))
				return 2;
			pvx_limits.max_conns_per_client = (unsigned)v;
			per_client_set = true;
			break;
		case OPT_FIRST_BYTE_TIMEOUT:
			if (parse_num("--first-byte-timeout", optarg, 0, 86400,
				      &v))
				return 2;
			pvx_limits.first_byte_timeout_ms = (int)v * 1000;
			break;
		case OPT_HEADER_TIMEOUT:
			if (parse_num("--header-timeout", optarg, 1, 86400, &v))
				return 2;
			pvx_limits.header_timeout_ms = (int)v * 1000;
			break;
		case OPT_HEALTH_INTERVAL:
			if (parse_num("--health-interval", optarg, 0, 3600000,
				      &v))
				return 2;
			pvx_limits.health_interval_ms = (int)v;
			break;
		case OPT_HEALTH_UNIX:
			pvx_limits.health_unix = true;
			break;
		case OPT_HTTP_POOL_SIZE:
			if (parse_num("--http-pool-size", optarg, 0, 100000,
				      &v))
				return 2;
			pvx_limits.http_pool_size = (unsigned)v;
			break;
		case OPT_HTTP_POOL_IDLE:
			if (parse_num("--http-pool-idle-ms", optarg, 1, 3600000,
				      &v))
				return 2;
			pvx_limits.http_pool_idle_ms = (int)v;
			break;
		case OPT_KERNEL_RELAY:
			if (pvx_krelay_mode_parse(optarg, &krelay) < 0) {
				fprintf(stderr,
					"pv-xconnect: --kernel-relay: '%s' is "
					"not auto, on or off\n",
					optarg);
				return 2;
			}
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (ctrl && file)) {
		usage(stderr);
		return 2;
	}
	/* Not given: each link's follows its own max_conns (link.c). */
	pvx_limits.per_client_auto = !per_client_set;
	if (!per_client_set)
		pvx_limits.max_conns_per_client =
		    pvx_limits_default_per_client(pvx_limits.max_conns);
	if (!file && !ctrl) {
		ctrl = getenv("PVX_CTRL");
		if (!ctrl || !*ctrl)
			ctrl = DEFAULT_CTRL;
	}
	if (!status && !no_status) {
		status = getenv("PVX_STATUS");
		if (!status || !*status) {
			status = PVX_DEFAULT_STATUS;
			status_default = true;
		}
	}
	/* No link may lead a network client to the control plane, even when
	 * the graph comes from a file (docs/security.md). */
	pvx_backend_protect(ctrl ? ctrl : DEFAULT_CTRL);
	if (!ctrl && getenv("PVX_CTRL") && *getenv("PVX_CTRL"))
		pvx_backend_protect(getenv("PVX_CTRL"));
	if (status)
		pvx_backend_protect(status);
	pvx_log_init("pv-xconnect", verbose ? PVX_LOG_DEBUG : PVX_LOG_INFO);
	/* A peer closing mid-write must be an EPIPE, not our death. */
	signal(SIGPIPE, SIG_IGN);

	if (access_log) {
		int r = pvx_access_open(access_log, access_fmt);

		if (r < 0) {
			pvx_err("access log %s: %s", access_log, strerror(-r));
			return 1;
		}
	}
	a.base = event_base_new();
	if (!a.base) {
		pvx_err("event_base_new failed");
		return 1;
	}
	/* Before any session, and never a reason not to start. */
	pvx_krelay_init(a.base, krelay, PVX_KRELAY_MAX_SESSIONS);
	if (pvx_krelay_active())
		pvx_info("kernel relay: on%s",
			 krelay == PVX_KRELAY_AUTO ? " (auto)" : "");
	else if (krelay == PVX_KRELAY_ON)
		pvx_warn("kernel relay: off (%s)", pvx_krelay_reason());
	else
		pvx_info("kernel relay: off (%s)", pvx_krelay_reason());
	a.rc = pvx_reconciler_new(a.base, pvx_plugin_find);
	if (!a.rc) {
		pvx_err("out of memory");
		goto out;
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigev[i] = evsignal_new(a.base, sigs[i], on_signal, &a);
		if (!sigev[i] || evsignal_add(sigev[i], NULL) < 0) {
			pvx_err("cannot handle signal %d", sigs[i]);
			goto out;
		}
	}
	if (status) {
		char err[256];
		/* The default's folder is ours to make (systemd's
		 * RuntimeDirectory= makes it too). */
		if (status_default && mkdir("/run/pvx", 0755) < 0 &&
		    errno != EEXIST)
			pvx_debug("mkdir /run/pvx: %s", strerror(errno));
		a.status =
		    pvx_status_new(a.base, status, a.rc, err, sizeof(err));
		if (!a.status && status_default) {
			/* Not asked for by name: run without it. */
			pvx_warn("status socket: %s; running without one "
				 "(--status SOCK to choose another)",
				 err);
		} else if (!a.status) {
			pvx_err("status socket: %s", err);
			goto out;
		}
	}
	if (file) {
		pvx_info("following graph file %s", file);
		a.src = pvx_graph_file_new(a.base, file, on_graph, &a);
	} else {
		pvx_info("following control socket %s", ctrl);
		a.src = pvx_client_new(a.base, ctrl, &co, on_graph, &a);
	}
	if (!a.src) {
		pvx_err("%s: %s", file ? file : ctrl, strerror(errno));
		goto out;
	}
	event_base_dispatch(a.base);
	rc = 0;
out:
	/* Links first: stopping them may still log through the loop's
	 * objects, which go after. */
	pvx_reconciler_free(a.rc);
	pvx_graph_src_free(a.src);
	pvx_status_free(a.status);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigev[i])
			event_free(sigev[i]);
	free(a.last);
	pvx_access_close();
	pvx_krelay_free();
	/* Draining sessions of the plugins may still hold events: the base
	 * is left to the exit rather than freed under them. */
	pvx_info("stopped");
	return rc;
}

/* pv-ctrld's core: applies states as a whole (validate, IPAM, lease file,
 * runtime, graph), keeps the graph text and its ETag current, and tells
 * the API when the graph changed so that long-polls can be answered. */
#include "ctrl/daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "common/log.h"
#include "common/sock.h"
#include "ctrl/graph.h"
#include "ctrl/metrics.h"
#include "ctrl/observe.h"

struct pvc_op {
	struct pvc_daemon *d;
	enum pvc_op_kind kind;
	char *buf;
	size_t len;
	char *name, *action;
	pid_t pid;
	pvc_op_done done;
	void *arg;
	bool started; /* executed; completes once the runtime settles */
	int r;
	struct pvx_errlist errors, warnings;
	char err[256];
	struct pvc_op *next;
};

struct pvc_daemon {
	struct event_base *base;
	char *state_path;
	char *state_dir;
	char *leases_path;
	char *workdir;
	/* flock'ed <state-dir>/pv-ctrld.lock: one daemon per state dir. */
	int lock_fd;
	struct pvc_runtime_conf rt_conf;
	struct pvc_runtime *rt;

	/* What is in force. The runtime keeps pointers into both, so the
	 * previous ones are freed only after the next runtime apply. */
	struct pvc_state *st;
	struct pvc_leases leases;
	/* No valid lease file at start: addresses seen on containers that
	 * outlived the previous pv-ctrld, the previous leases of the first
	 * apply (ctrl/observe.h). */
	struct pvc_seen_set seen;

	char *graph;
	char etag[PVC_ETAG_LEN];
	uint64_t generation; /* graph changes so far (GET /metrics) */
	void (*graph_changed)(void *arg);
	void *graph_arg;
	/* Set while the runtime applies a new state: its change callbacks
	 * would see the old state and new runtime; the graph is rebuilt
	 * once the apply is over instead. */
	bool applying;
	/* Operations in order; the head one may be under way. */
	struct pvc_op *ops, **ops_tail;
	bool running_ops;	   /* run_ops() is on the stack */
	struct pvc_op *submitting; /* NULL once it completed */
};

void pvc_etag_compute(const char *text, char buf[PVC_ETAG_LEN])
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 offset basis */

	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	snprintf(buf, PVC_ETAG_LEN, "\"%016llx\"", (unsigned long long)h);
}

bool pvc_etag_match(const char *given, const char *etag)
{
	const char *g = given, *e = etag;
	size_t gl, el;

	if (!given || !etag)
		return false;
	while (*g == ' ' || *g == '\t')
		g++;
	if (strncmp(g, "W/", 2) == 0)
		g += 2;
	gl = strlen(g);
	while (gl > 0 && (g[gl - 1] == ' ' || g[gl - 1] == '\t'))
		gl--;
	if (gl >= 2 && g[0] == '"' && g[gl - 1] == '"') {
		g++;
		gl -= 2;
	}
	el = strlen(e);
	if (el >= 2 && e[0] == '"' && e[el - 1] == '"') {
		e++;
		el -= 2;
	}
	return gl == el && gl > 0 && strncmp(g, e, gl) == 0;
}

json_t *pvc_lease_to_json(const struct pvc_lease *l)
{
	char ip[INET_ADDRSTRLEN], addr[INET_ADDRSTRLEN + 4], mac[18];

	inet_ntop(AF_INET, &l->ip, ip, sizeof(ip));
	snprintf(addr, sizeof(addr), "%s/%u", ip, (unsigned)l->prefix);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", l->mac[0],
		 l->mac[1], l->mac[2], l->mac[3], l->mac[4], l->mac[5]);
	return json_pack("{s:s, s:s, s:s, s:s}", "interface",
			 l->iface ? l->iface : "", "pool",
			 l->pool ? l->pool : "", "address", addr, "mac", mac);
}

json_t *pvc_plan_to_json(const struct pvc_leases *leases, json_t *graph)
{
	json_t *ls = json_array();

	for (size_t i = 0; ls && i < leases->n; i++) {
		json_t *o = pvc_lease_to_json(&leases->v[i]);
		if (o)
			json_object_set_new(
			    o, "container",
			    json_string(leases->v[i].container));
		json_array_append_new(ls, o);
	}
	return json_pack("{s:o, s:O}", "leases", ls ? ls : json_array(),
			 "graph", graph);
}

/* Rebuilds the graph text from what is in force; tells the listener if
 * the text changed. */
static void rebuild_graph(struct pvc_daemon *d)
{
	pid_t *pids = NULL;
	json_t *g;
	char *text;
	char etag[PVC_ETAG_LEN];

	if (!d->st)
		return;
	if (d->st->n_containers > 0) {
		pids = calloc(d->st->n_containers, sizeof(*pids));
		if (!pids) {
			pvx_err("graph: out of memory");
			return;
		}
		for (size_t i = 0; i < d->st->n_containers; i++)
			pids[i] =
			    pvc_runtime_pid(d->rt, d->st->containers[i].name);
	}
	g = pvc_graph_build(d->st, &d->leases, pids);
	free(pids);
	text = g ? pvc_graph_dump(g) : NULL;
	json_decref(g);
	if (!text) {
		/* The old graph stays published: better stale than empty. */
		pvx_err("graph: cannot build (out of memory)");
		return;
	}
	if (d->graph && strcmp(d->graph, text) == 0) {
		free(text);
		return;
	}
	pvc_etag_compute(text, etag);
	free(d->graph);
	d->graph = text;
	d->generation++;
	memcpy(d->etag, etag, sizeof(etag));
	pvx_info("graph changed etag=%s bytes=%zu", d->etag, strlen(text));
	if (d->graph_changed)
		d->graph_changed(d->graph_arg);
}

static void run_ops(struct pvc_daemon *d);

static void runtime_changed(void *arg)
{
	struct pvc_daemon *d = arg;

	if (d->applying)
		return;
	rebuild_graph(d);
	/* The runtime may have settled: the operation it worked for is
	 * complete, the next one can go. */
	run_ops(d);
}

/* The directory of the state source: itself, or the dirname of a file. */
static char *state_workdir(const char *path)
{
	struct stat sb;
	char *w, *slash;

	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		return realpath(path, NULL);
	w = realpath(path, NULL);
	if (!w)
		w = strdup(path);
	if (!w)
		return NULL;
	slash = strrchr(w, '/');
	if (!slash) {
		free(w);
		return strdup(".");
	}
	if (slash == w)
		slash[1] = '\0';
	else
		*slash = '\0';
	return w;
}

struct pvc_daemon *pvc_daemon_new(struct event_base *base,
				  const struct pvc_daemon_conf *conf,
				  struct pvx_errlist *errors,
				  struct pvx_errlist *warnings)
{
	struct pvc_daemon *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		goto nomem;
	d->lock_fd = -1;
	d->ops_tail = &d->ops;
	d->base = base;
	d->state_path = conf->state_path ? strdup(conf->state_path) : NULL;
	d->state_dir = strdup(conf->state_dir);
	if (!d->state_dir || (conf->state_path && !d->state_path))
		goto nomem;
	if (asprintf(&d->leases_path, "%s/leases.json", conf->state_dir) < 0) {
		d->leases_path = NULL;
		goto nomem;
	}
	d->rt_conf = conf->runtime;
	if (!d->rt_conf.state_dir)
		d->rt_conf.state_dir = d->state_dir;
	if (!d->rt_conf.workdir && d->state_path) {
		d->workdir = state_workdir(d->state_path);
		d->rt_conf.workdir = d->workdir;
	}
	pvc_etag_compute("[]", d->etag);
	d->graph = strdup("[]");
	if (!d->graph)
		goto nomem;

	r = pvx_mkdir_p(d->state_dir, 0755);
	if (r < 0) {
		pvx_errlist_add(errors, "state dir %s: %s", d->state_dir,
				strerror(-r));
		errno = -r;
		goto fail;
	}
	/* Before anything reads runtime.json or leases.json: a second
	 * daemon on the same state dir would "clean up" the first one's
	 * bridges and containers. */
	{
		char *lpath = NULL;
		pid_t holder = 0;

		if (asprintf(&lpath, "%s/pv-ctrld.lock", d->state_dir) < 0)
			goto nomem;
		r = pvx_file_lock(lpath, &holder);
		if (r == -EWOULDBLOCK && holder > 0)
			pvx_errlist_add(errors,
					"state dir %s: in use by pv-ctrld pid "
					"%d (lock %s)",
					d->state_dir, (int)holder, lpath);
		else if (r == -EWOULDBLOCK)
			pvx_errlist_add(errors,
					"state dir %s: in use by another "
					"pv-ctrld (lock %s)",
					d->state_dir, lpath);
		else if (r < 0)
			pvx_errlist_add(errors, "%s: %s", lpath, strerror(-r));
		free(lpath);
		if (r < 0) {
			errno = -r;
			goto fail;
		}
		d->lock_fd = r;
	}
	/* The newest valid generation of the lease file; damaged ones are
	 * moved aside and said in warnings (docs/graph.md). */
	{
		int used;
		r = pvc_leases_recover(d->leases_path, time(NULL), &d->leases,
				       &used, warnings);
		if (r < 0)
			goto nomem;
		/* Before the runtime removes their links as leftovers. */
		if (used < 0 && d->rt_conf.enabled) {
			r = pvc_leases_observe(&d->seen, warnings);
			if (r == -ENOMEM)
				goto nomem;
			if (r < 0)
				pvx_errlist_add(warnings,
						"leases: cannot look at the "
						"running containers: %s",
						strerror(-r));
		}
	}
	d->rt = pvc_runtime_new(base, &d->rt_conf, runtime_changed, d);
	if (!d->rt) {
		pvx_errlist_add(errors, "runtime: %s", strerror(errno));
		goto fail;
	}
	return d;
nomem:
	pvx_errlist_add(errors, "out of memory");
	errno = ENOMEM;
fail:
	r = errno;
	pvc_daemon_free(d);
	errno = r;
	return NULL;
}

int pvc_daemon_apply(struct pvc_daemon *d, struct pvc_state *st,
		     struct pvx_errlist *errors, struct pvx_errlist *warnings)
{
	struct pvc_leases nl = {0}, old_leases, seen = {0};
	struct pvc_state *old_st;
	struct pvx_errlist rel = {0};
	int r;

	/* The loader's warnings first (unknown keys, no container). */
	pvx_errlist_merge(warnings, &st->warnings, NULL);
	if (d->seen.n && !d->leases.n) {
		r = pvc_leases_from_seen(st, &d->seen, &seen);
		if (r < 0) {
			pvx_errlist_add(errors, "ipam: %s", strerror(-r));
			goto fail;
		}
	}
	r = pvc_ipam_assign(st, seen.n ? &seen : &d->leases, &nl, warnings);
	pvc_leases_free(&seen);
	if (r < 0) {
		pvx_errlist_add(errors, "ipam: %s", strerror(-r));
		goto fail;
	}
	r = pvc_leases_save(d->leases_path, &nl);
	if (r < 0) {
		pvx_errlist_add(errors, "%s: cannot save leases: %s",
				d->leases_path, strerror(-r));
		goto fail;
	}

	d->applying = true;
	r = pvc_runtime_apply(d->rt, st, &nl, &rel);
	d->applying = false;
	/* From here on the runtime may point into st and nl: they are in
	 * force whatever it says; its problems are per container. */
	pvx_errlist_merge(warnings, &rel, "runtime");
	pvx_errlist_clear(&rel);
	if (r < 0)
		pvx_errlist_add(warnings, "runtime: apply: %s", strerror(-r));

	old_st = d->st;
	old_leases = d->leases;
	d->st = st;
	d->leases = nl;
	if (old_st)
		pvc_state_free(old_st);
	pvc_leases_free(&old_leases);
	pvc_seen_free(&d->seen); /* in the lease file from now on */
	rebuild_graph(d);
	return 0;
fail:
	pvc_leases_free(&nl);
	pvc_state_free(st);
	return r;
}

static void log_result(const char *what, int r,
		       const struct pvx_errlist *errors,
		       const struct pvx_errlist *warnings)
{
	if (r == 0) {
		pvx_info("state applied source=%s warnings=%zu", what,
			 warnings->n);
		for (size_t i = 0; i < warnings->n; i++)
			pvx_warn("state %s", warnings->msgs[i]);
		return;
	}
	pvx_warn("state refused source=%s errors=%zu", what, errors->n);
	for (size_t i = 0; i < errors->n; i++)
		pvx_warn("state error: %s", errors->msgs[i]);
}

int pvc_daemon_load_path(struct pvc_daemon *d, const char *path,
			 struct pvx_errlist *errors,
			 struct pvx_errlist *warnings)
{
	struct pvc_state *st = pvc_state_load_path(path, errors);
	int r;

	if (!st) {
		if (pvx_errlist_empty(errors))
			pvx_errlist_add(errors, "%s: cannot load", path);
		r = -EINVAL;
	} else {
		r = pvc_daemon_apply(d, st, errors, warnings);
	}
	log_result(path, r, errors, warnings);
	return r;
}

int pvc_daemon_load_buf(struct pvc_daemon *d, const char *buf, size_t len,
			struct pvx_errlist *errors,
			struct pvx_errlist *warnings)
{
	struct pvc_state *st =
	    pvc_state_load_buf(buf, len, "state.json", errors);
	int r;

	if (!st) {
		if (pvx_errlist_empty(errors))
			pvx_errlist_add(errors, "state.json: cannot load");
		r = -EINVAL;
	} else {
		r = pvc_daemon_apply(d, st, errors, warnings);
	}
	log_result("request", r, errors, warnings);
	return r;
}

int pvc_daemon_load_source(struct pvc_daemon *d, const char *path,
			   struct pvx_errlist *errors,
			   struct pvx_errlist *warnings)
{
	char *abs = realpath(path, NULL), *wd = NULL;
	int r;

	if (!abs) {
		r = -errno;
		pvx_errlist_add(errors, "%s: %s", path, strerror(-r));
		return r;
	}
	wd = state_workdir(abs);
	if (!wd) {
		free(abs);
		pvx_errlist_add(errors, "out of memory");
		return -ENOMEM;
	}
	/* Containers (re)started by this apply already run in its folder;
	 * a refusal puts the old folder back. */
	r = pvc_runtime_set_workdir(d->rt, wd);
	if (r == 0)
		r = pvc_daemon_load_path(d, abs, errors, warnings);
	else
		pvx_errlist_add(errors, "out of memory");
	if (r < 0) {
		if (pvc_runtime_set_workdir(d->rt, d->workdir) < 0)
			pvx_err("runtime: workdir not restored: out of memory");
		free(abs);
		free(wd);
		return r;
	}
	free(d->state_path);
	free(d->workdir);
	d->state_path = abs;
	d->workdir = wd;
	d->rt_conf.workdir = wd;
	pvx_info("state source now %s (workdir %s)", abs, wd);
	return 0;
}

int pvc_daemon_reload(struct pvc_daemon *d, struct pvx_errlist *errors,
		      struct pvx_errlist *warnings)
{
	if (!d->state_path) {
		pvx_errlist_add(errors, "no state source to reload");
		return -ENOENT;
	}
	return pvc_daemon_load_path(d, d->state_path, errors, warnings);
}

const char *pvc_daemon_graph(const struct pvc_daemon *d)
{
	return d->graph;
}

const char *pvc_daemon_etag(const struct pvc_daemon *d)
{
	return d->etag;
}

void pvc_daemon_set_graph_cb(struct pvc_daemon *d, void (*changed)(void *arg),
			     void *arg)
{
	d->graph_changed = changed;
	d->graph_arg = arg;
}

/* The last exit of a container and its log, added to its object:
 * "exit": {"code", "signal" ("SIGKILL" or null), "time" (UTC)} or null,
 * "exits", "log" (docs/api.md). */
static void add_exit_json(const struct pvc_daemon *d, const char *name,
			  json_t *o)
{
	struct pvc_runtime_info in;
	char t[40], sig[24];
	struct tm tm;

	if (!o || pvc_runtime_info(d->rt, name, &in) < 0)
		return;
	if (in.has_exit) {
		gmtime_r(&in.exited_at.tv_sec, &tm);
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(t + strlen(t), sizeof(t) - strlen(t), ".%03ldZ",
			 in.exited_at.tv_nsec / 1000000);
		snprintf(sig, sizeof(sig), "SIG%s",
			 sigabbrev_np(in.exit_signal)
			     ? sigabbrev_np(in.exit_signal)
			     : "?");
		json_object_set_new(
		    o, "exit",
		    json_pack("{s:i, s:o, s:s}", "code", in.exit_code, "signal",
			      in.exit_signal ? json_string(sig) : json_null(),
			      "time", t));
	} else {
		json_object_set_new(o, "exit", json_null());
	}
	json_object_set_new(o, "exits", json_integer(in.exits));
	json_object_set_new(o, "restarts", json_integer(in.restarts));
	json_object_set_new(
	    o, "log", in.log_path ? json_string(in.log_path) : json_null());
}

static json_t *container_json(const struct pvc_daemon *d,
			      const struct pvc_container *c)
{
	const char *status = pvc_runtime_status(d->rt, c->name);
	const char *error = pvc_runtime_error(d->rt, c->name);
	json_t *addrs = json_array(), *o;

	for (size_t i = 0; addrs && i < d->leases.n; i++)
		if (strcmp(d->leases.v[i].container, c->name) == 0)
			json_array_append_new(
			    addrs, pvc_lease_to_json(&d->leases.v[i]));
	o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:i, s:o, s:s}", "name", c->name, "type",
	    c->type ? c->type : "", "mode", pvc_net_mode_name(c->mode),
	    "status", status ? status : "unknown", "pid",
	    (int)pvc_runtime_pid(d->rt, c->name), "addresses",
	    addrs ? addrs : json_array(), "error", error ? error : "");
	add_exit_json(d, c->name, o);
	return o;
}

int pvc_daemon_logs(struct pvc_daemon *d, const char *name, uint64_t offset,
		    char **buf, size_t *len, uint64_t *end)
{
	if (!d->st || !pvc_state_find(d->st, name))
		return -ENOENT;
	return pvc_runtime_logs(d->rt, name, offset, buf, len, end);
}

char *pvc_daemon_metrics(const struct pvc_daemon *d, size_t *len)
{
	json_t *cs = pvc_daemon_containers(d);
	char *text;
	int err;

	if (!cs) {
		errno = ENOMEM;
		return NULL;
	}
	text = pvc_metrics_text(d->st, &d->leases, cs, d->generation, len);
	err = errno;
	json_decref(cs);
	errno = err;
	return text;
}

json_t *pvc_daemon_containers(const struct pvc_daemon *d)
{
	json_t *a = json_array();

	for (size_t i = 0; a && d->st && i < d->st->n_containers; i++)
		json_array_append_new(a,
				      container_json(d, &d->st->containers[i]));
	return a;
}

json_t *pvc_daemon_container(const struct pvc_daemon *d, const char *name)
{
	const struct pvc_container *c =
	    d->st ? pvc_state_find(d->st, name) : NULL;

	return c ? container_json(d, c) : NULL;
}

int pvc_daemon_adopt(struct pvc_daemon *d, const char *name, pid_t pid,
		     char *err, size_t errlen)
{
	int r = pvc_runtime_adopt(d->rt, name, pid, err, errlen);

	if (r < 0)
		pvx_warn("adopt refused container=%s pid=%d reason=\"%s\"",
			 name, (int)pid, err);
	else
		pvx_info("adopted container=%s pid=%d", name, (int)pid);
	/* Whatever the runtime reported through its callback, the graph
	 * must reflect the new PID before the answer goes out. */
	rebuild_graph(d);
	return r;
}

int pvc_daemon_action(struct pvc_daemon *d, const char *name,
		      const char *action, char *err, size_t errlen)
{
	int r = pvc_runtime_action(d->rt, name, action, err, errlen);

	if (r < 0)
		pvx_warn("action refused container=%s action=%s reason=\"%s\"",
			 name, action, err);
	else
		pvx_info("action container=%s action=%s", name, action);
	rebuild_graph(d);
	return r;
}

/* ------------------------------------------------------ operations */

static void op_free(struct pvc_op *op)
{
	free(op->buf);
	free(op->name);
	free(op->action);
	pvx_errlist_clear(&op->errors);
	pvx_errlist_clear(&op->warnings);
	free(op);
}

static void op_execute(struct pvc_daemon *d, struct pvc_op *op)
{
	switch (op->kind) {
	case PVC_OP_STATE:
		op->r = pvc_daemon_load_buf(d, op->buf, op->len, &op->errors,
					    &op->warnings);
		break;
	case PVC_OP_RELOAD:
		op->r = pvc_daemon_reload(d, &op->errors, &op->warnings);
		break;
	case PVC_OP_LOAD:
		op->r = pvc_daemon_load_source(d, op->buf, &op->errors,
					       &op->warnings);
		break;
	case PVC_OP_ACTION:
		op->r = pvc_daemon_action(d, op->name, op->action, op->err,
					  sizeof(op->err));
		break;
	case PVC_OP_ADOPT:
		op->r = pvc_daemon_adopt(d, op->name, op->pid, op->err,
					 sizeof(op->err));
		break;
	}
}

/* The runtime has settled after op: what the stops led to is its result. */
static void op_finish(struct pvc_daemon *d, struct pvc_op *op)
{
	struct pvc_op_result res = {
	    .kind = op->kind,
	    .name = op->name,
	    .errors = &op->errors,
	    .warnings = &op->warnings,
	    .err = op->err,
	};
	struct pvx_errlist late = {0};
	const char *status;

	pvc_runtime_take_errors(d->rt, &late);
	if (op->kind == PVC_OP_STATE || op->kind == PVC_OP_RELOAD ||
	    op->kind == PVC_OP_LOAD) {
		for (size_t i = 0; i < late.n; i++)
			pvx_warn("state runtime: %s", late.msgs[i]);
		if (op->r == 0)
			pvx_errlist_merge(&op->warnings, &late, "runtime");
	} else if (op->kind == PVC_OP_ACTION && op->r == 0 &&
		   strcmp(op->action, "stop") != 0) {
		/* A restart whose start failed after the stop. */
		status = pvc_runtime_status(d->rt, op->name);
		if (status && strcmp(status, "error") == 0) {
			op->r = -EIO;
			snprintf(op->err, sizeof(op->err), "%s",
				 pvc_runtime_error(d->rt, op->name));
			pvx_warn("action failed container=%s action=%s "
				 "reason=\"%s\"",
				 op->name, op->action, op->err);
		}
	}
	pvx_errlist_clear(&late);
	if (op->kind == PVC_OP_ACTION)
		rebuild_graph(d);
	res.r = op->r;
	if (op->done)
		op->done(&res, op->arg);
}

/* Runs queued operations in order until one leaves the runtime busy
 * (stops under way); called again when the runtime settles. */
static void run_ops(struct pvc_daemon *d)
{
	if (d->running_ops)
		return;
	d->running_ops = true;
	while (d->ops) {
		struct pvc_op *op = d->ops;

		if (pvc_runtime_busy(d->rt))
			break;
		if (!op->started) {
			op->started = true;
			op_execute(d, op);
			if (pvc_runtime_busy(d->rt))
				break;
		}
		d->ops = op->next;
		if (!d->ops)
			d->ops_tail = &d->ops;
		if (d->submitting == op)
			d->submitting = NULL;
		op_finish(d, op);
		op_free(op);
	}
	d->running_ops = false;
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *c = s ? strdup(s) : NULL;

	if (s && !c)
		*oom = true;
	return c;
}

struct pvc_op *pvc_daemon_submit(struct pvc_daemon *d,
				 const struct pvc_op_req *req, pvc_op_done done,
				 void *arg, bool *completed)
{
	struct pvc_op *op = calloc(1, sizeof(*op));
	bool oom = false;

	*completed = false;
	if (!op) {
		errno = ENOMEM;
		return NULL;
	}
	op->d = d;
	op->kind = req->kind;
	op->pid = req->pid;
	op->done = done;
	op->arg = arg;
	op->name = dup_or_null(req->name, &oom);
	op->action = dup_or_null(req->action, &oom);
	if (req->kind == PVC_OP_LOAD)
		op->buf = dup_or_null(req->path, &oom);
	if (req->kind == PVC_OP_STATE) {
		op->buf = malloc(req->len + 1);
		if (op->buf) {
			memcpy(op->buf, req->buf, req->len);
			op->buf[req->len] = '\0';
			op->len = req->len;
		} else {
			oom = true;
		}
	}
	if (oom) {
		op_free(op);
		errno = ENOMEM;
		return NULL;
	}
	if (!d->ops_tail)
		d->ops_tail = &d->ops;
	*d->ops_tail = op;
	d->ops_tail = &op->next;
	d->submitting = op;
	run_ops(d);
	if (!d->submitting) {
		*completed = true;
		return NULL;
	}
	d->submitting = NULL;
	return op;
}

void pvc_daemon_op_forget(struct pvc_op *op)
{
	if (op)
		op->done = NULL;
}

void pvc_daemon_free(struct pvc_daemon *d)
{
	if (!d)
		return;
	/* Pending operations are dropped: their requesters go with the
	 * API, which is freed first. */
	while (d->ops) {
		struct pvc_op *op = d->ops;
		d->ops = op->next;
		op_free(op);
	}
	/* The runtime goes first: it points into the state and leases. */
	if (d->rt)
		pvc_runtime_free(d->rt);
	if (d->st)
		pvc_state_free(d->st);
	pvc_leases_free(&d->leases);
	pvc_seen_free(&d->seen);
	free(d->graph);
	free(d->state_path);
	free(d->state_dir);
	free(d->leases_path);
	free(d->workdir);
	/* Last: the cleanup above ran under the lock. */
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	free(d);
}

/* The device runtime of pv-ctrld (SPEC §7): makes bridges, veths and
 * process containers match the state in force, watches container pids, and
 * keeps a record (runtime.json in the state dir) of everything it created so
 * that shutdown and a restart after a crash remove exactly that. */
#include "ctrl/runtime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/file.h"
#include "common/log.h"
#include "common/ns.h"
#include "ctrl/etcfiles.h"
#include "ctrl/nat.h"
#include "ctrl/ctlog.h"
#include "ctrl/netdev.h"
#include "ctrl/spawn.h"

enum ct_status {
	CT_STOPPED,    /* not running: never started, stopped, external gone */
	CT_RUNNING,    /* pid > 0 */
	CT_EXITED,     /* own process ended by itself */
	CT_ERROR,      /* could not be started or wired: see err */
	CT_RESTARTING, /* own process ended; auto_recovery restarts it soon */
};

static const char *const status_names[] = {
    [CT_STOPPED] = "stopped",	    [CT_RUNNING] = "running",
    [CT_EXITED] = "exited",	    [CT_ERROR] = "error",
    [CT_RESTARTING] = "restarting",
};

/* What to do once a stopping process is reaped. */
enum ct_after {
	AFTER_NOTHING, /* stop action: stays stopped */
	AFTER_START,   /* restart, or a changed definition: start again */
	AFTER_FREE,    /* left the state: unwired and forgotten */
};

struct rt_ct {
	char *name;
	const struct pvc_container *conf; /* into the state in force */
	char *fp;  /* what it was started/wired with (conf + leases) */
	bool own;  /* type "process": pv-ctrld starts it */
	pid_t pid; /* 0: not running; own: the main process (signalled) */
	unsigned long long start; /* start time of pid (pid reuse guard) */
	/* Own: pid 1 of the container's PID namespace, our child: reaped,
	 * and SIGKILLed to end the whole container (docs/runtime.md). */
	pid_t init;
	unsigned long long init_start;
	enum ct_status status;
	/* The stop of an own process, one state machine per container:
	 * SIGTERM sent and the grace timer (stop_ev) armed; the timer sends
	 * SIGKILL; the SIGCHLD handler reaps it and does what `after` says.
	 * The event loop never waits for a process. */
	bool stopping; /* exit was asked for: "stopped", not "exited" */
	bool killed;   /* the grace period ended: SIGKILL sent */
	enum ct_after after;
	struct event *stop_ev;
	char err[256];
	int pidfd; /* external: death watch */
	struct event *pid_ev;
	char **veths; /* host ends created for it */
	size_t n_veths;
	/* Output of own processes (docs/runtime.md): a pipe read by the
	 * loop into the container's log file; complete lines also go to
	 * pv-ctrld's log at debug level, with the container's name. */
	struct pvc_ctlog log; /* log.fd -1: no file (no state dir) */
	int out_fd;	      /* read end of the output pipe, or -1 */
	struct event *out_ev;
	char line[512]; /* a line not yet complete */
	size_t line_len;
	/* The last exit of its process, kept until the next one. */
	bool has_exit;
	int exit_code;		   /* when it exited */
	int exit_signal;	   /* when a signal ended it (0: none) */
	struct timespec exited_at; /* CLOCK_REALTIME */
	unsigned exits;		   /* exits seen */
	/* auto_recovery (docs/runtime.md). */
	struct pvc_runtime *rt; /* for the retry timer */
	struct event *retry_ev; /* pending restart */
	unsigned restarts;	/* done by auto_recovery */
	unsigned retries;	/* restarts in a row (reset_window) */
	uint64_t started_ms;	/* pvx_now_ms() of the last start */
};

struct rt_br {
	char *name;
	bool ours; /* created by this runtime: deleted with it */
	/* On a bridge that was there before: the gateway address was added
	 * by this runtime, and is removed with it. */
	bool addr_added;
	struct in_addr gw;
	uint8_t prefix;
};

struct pvc_runtime {
	struct event_base *base;
	struct pvc_runtime_conf conf; /* strings owned (copied) */
	void (*changed)(void *);
	void *arg;
	struct pvc_nl nl; /* in the device's namespace */
	struct event *sigchld_ev, *notify_ev;
	const struct pvc_state *st;
	/* A shallow copy: the daemon may keep the leases' array but move the
	 * struct holding it. */
	struct pvc_leases leases;
	struct rt_ct **cts;
	size_t n;
	/* Containers that left the state while their process is stopping
	 * (AFTER_FREE): still recorded, reaped, then freed. */
	struct rt_ct **dying;
	size_t n_dying;
	size_t n_stopping; /* stops in flight (cts and dying) */
	/* Start failures of restarts that ran after a stop, for whoever
	 * waits for the runtime to settle (pvc_runtime_take_errors). */
	struct pvx_errlist deferred;
	struct rt_br *brs;
	size_t n_brs;
	char *record_path;
	bool record_failing; /* the last write failed (logged once) */
	/* Alias of every link this runtime creates ("pv-ctrld <state dir>"):
	 * what proves a link ours when runtime.json cannot. */
	char alias[256];
	struct pvc_nat nat; /* pool NAT and isolation (nat.c) */
};

/* ------------------------------------------------------------ helpers */

static struct rt_ct *find(const struct pvc_runtime *rt, const char *name)
{
	for (size_t i = 0; i < rt->n; i++)
		if (strcmp(rt->cts[i]->name, name) == 0)
			return rt->cts[i];
	return NULL;
}

/* changed() runs from the loop, never from inside an API call into the
 * runtime: the daemon may be in the middle of rebuilding its view. */
static void notify(struct pvc_runtime *rt)
{
	if (rt->notify_ev)
		event_active(rt->notify_ev, EV_TIMEOUT, 1);
}

static void notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pvc_runtime *rt = arg;

	(void)fd;
	(void)what;
	if (rt->changed)
		rt->changed(rt->arg);
}

static void set_err(struct rt_ct *c, const char *msg)
{
	snprintf(c->err, sizeof(c->err), "%s", msg);
}

/* Field 22 of /proc/<pid>/stat; 0 when gone or a zombie. */
static unsigned long long proc_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	char state;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may hold spaces and parens */
	if (!p || sscanf(p + 1, " %c", &state) != 1 || state == 'Z')
		return 0;
	/* after ") " come fields 3..: skip 19 of them to reach field 22 */
	p += 2;
	for (int i = 0; i < 19 && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || sscanf(p, "%llu", &v) != 1)
		return 0;
	return v;
}

static int strv_add(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ------------------------------------------------------------ record */

/* runtime.json: {"bridges": [...], "veths": [...], "pids": [{"name",
 * "pid", "start"}]}: written before a veth is made and after a bridge or a
 * process is, rewritten on every change; atomic (temp + rename). */
static void record_save(struct pvc_runtime *rt)
{
	json_t *j, *brs, *veths, *pids, *addrs, *nat;
	char *tmp = NULL, ip[INET_ADDRSTRLEN];
	const char *step;
	int fd, e;

	if (!rt->record_path)
		return;
	j = json_object();
	brs = json_array();
	veths = json_array();
	pids = json_array();
	addrs = json_array();
	json_object_set_new(j, "addresses", addrs);
	json_object_set_new(j, "bridges", brs);
	json_object_set_new(j, "veths", veths);
	json_object_set_new(j, "pids", pids);
	nat = pvc_nat_record(&rt->nat);
	if (nat)
		json_object_set_new(j, "nat", nat);
	for (size_t i = 0; i < rt->n_brs; i++) {
		const struct rt_br *b = &rt->brs[i];
		if (b->ours) {
			json_array_append_new(brs, json_string(b->name));
		} else if (b->addr_added) {
			inet_ntop(AF_INET, &b->gw, ip, sizeof(ip));
			json_array_append_new(
			    addrs,
			    json_pack("{s:s,s:s,s:i}", "bridge", b->name, "ip",
				      ip, "prefix", (int)b->prefix));
		}
	}
	for (size_t i = 0; i < rt->n + rt->n_dying; i++) {
		struct rt_ct *c = i < rt->n ? rt->cts[i] : rt->dying[i - rt->n];
		if (!c) /* taken off the list by an apply under way */
			continue;
		for (size_t k = 0; k < c->n_veths; k++)
			json_array_append_new(veths, json_string(c->veths[k]));
		if (c->own && c->init > 0)
			json_array_append_new(
			    pids, json_pack("{s:s,s:i,s:I,s:i,s:I}", "name",
					    c->name, "pid", (int)c->pid,
					    "start", (json_int_t)c->start,
					    "init", (int)c->init, "init_start",
					    (json_int_t)c->init_start));
	}
	if (asprintf(&tmp, "%s.tmp", rt->record_path) < 0) {
		tmp = NULL;
		step = "out of memory";
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		step = "open";
		goto out;
	}
	if (json_dumpfd(j, fd, JSON_INDENT(1) | JSON_SORT_KEYS) < 0 ||
	    fsync(fd) < 0) {
		step = "write";
		e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		goto out;
	}
	close(fd);
	if (rename(tmp, rt->record_path) < 0) {
		step = "rename";
		e = errno;
		unlink(tmp);
		errno = e;
		goto out;
	}
	step = NULL;
out:
	/* Once per failure streak: a record that cannot be written means a
	 * crash now leaves what it does not name (the links still carry
	 * their alias). */
	if (step && !rt->record_failing)
		pvx_err("%s: cannot write (%s: %s): a crash now would leave "
			"processes or addresses behind",
			rt->record_path, step, errno ? strerror(errno) : "?");
	else if (!step && rt->record_failing)
		pvx_info("%s: written again", rt->record_path);
	rt->record_failing = step != NULL;
	free(tmp);
	json_decref(j);
}

/* Waits up to ms for pid (not our child) to be gone. */
static bool wait_gone(pid_t pid, unsigned long long start, int ms)
{
	for (int t = 0; t <= ms; t += 10) {
		if (proc_start(pid) != start)
			return true;
		usleep(10000);
	}
	return proc_start(pid) != start;
}

/* The shape of runtime.json: an object whose known members are arrays. */
static bool record_valid(json_t *j, char *err, size_t errlen)
{
	static const char *const arrays[] = {"addresses", "bridges", "pids",
					     "veths"};

	if (!json_is_object(j)) {
		snprintf(err, errlen, "not a JSON object");
		return false;
	}
	for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) {
		json_t *v = json_object_get(j, arrays[i]);
		if (v && !json_is_array(v)) {
			snprintf(err, errlen, "%s: not an array", arrays[i]);
			return false;
		}
	}
	return true;
}

/* A damaged record is kept for a human, never overwritten: moved to
 * runtime.json.damaged-<UTC time>, said loudly. */
static void record_set_aside(struct pvc_runtime *rt, const char *why)
{
	char *aside = NULL;
	int r = pvx_file_move_aside(rt->record_path, rt->record_path,
				    time(NULL), &aside);

	if (!aside)
		pvx_err("%s: damaged (%s); cannot move it aside: %s",
			rt->record_path, why, strerror(-r));
	else
		pvx_err("%s: damaged (%s); moved to %s. Links with alias "
			"\"%s\" are removed; addresses it gave foreign "
			"bridges must be removed by hand",
			rt->record_path, why, aside, rt->alias);
	free(aside);
}

/* After a crash: the processes, veths and bridges the record names are
 * leftovers of a previous pv-ctrld of ours. */
static void cleanup_leftovers(struct pvc_runtime *rt)
{
	json_t *j, *v;
	json_error_t jerr;
	size_t i;
	char err[256], names[512];
	bool damaged = false;
	int n;

	j = json_load_file(rt->record_path, JSON_REJECT_DUPLICATES, &jerr);
	if (!j && access(rt->record_path, F_OK) == 0) {
		snprintf(err, sizeof(err), "line %d column %d: %s", jerr.line,
			 jerr.column, jerr.text);
		damaged = true;
	} else if (j && !record_valid(j, err, sizeof(err))) {
		damaged = true;
		json_decref(j);
		j = NULL;
	}
	if (damaged) {
		/* The table is pvx's by its name; only the old ip_forward
		 * value is lost with the record. */
		json_t *t = json_pack("{s:s}", "table", PVC_NAT_TABLE);
		record_set_aside(rt, err);
		pvc_nat_cleanup(t, err, sizeof(err));
		json_decref(t);
	}
	/* Whatever the record says: every link with our alias is a leftover
	 * (a record that is damaged, or a crash between creating a link and
	 * writing the record). */
	n = pvc_netdev_del_marked(&rt->nl, rt->alias, names, sizeof(names), err,
				  sizeof(err));
	if (n < 0)
		pvx_err("leftover links (alias \"%s\"): %s", rt->alias, err);
	else if (n > 0)
		pvx_info("removed leftover links alias=\"%s\" links=\"%s\"",
			 rt->alias, names);
	if (!j)
		return;
	json_array_foreach(json_object_get(j, "pids"), i, v)
	{
		pid_t pid =
		    (pid_t)json_integer_value(json_object_get(v, "pid"));
		unsigned long long st = (unsigned long long)json_integer_value(
		    json_object_get(v, "start"));
		pid_t init =
		    (pid_t)json_integer_value(json_object_get(v, "init"));
		unsigned long long ist = (unsigned long long)json_integer_value(
		    json_object_get(v, "init_start"));

		/* Same pid and start time, or it is someone else's now. The
		 * init of a container's PID namespace takes all of it. */
		if (init > 0 && ist && proc_start(init) == ist) {
			kill(init, SIGKILL);
			wait_gone(init, ist, 1000);
		}
		if (pid <= 0 || !st || proc_start(pid) != st)
			continue;
		kill(pid, SIGTERM);
		if (!wait_gone(pid, st, rt->conf.stop_grace_ms))
			kill(pid, SIGKILL);
		wait_gone(pid, st, 1000);
	}
	json_array_foreach(json_object_get(j, "veths"), i, v)
	{
		const char *name = json_string_value(v);
		if (name && strncmp(name, PVC_NETDEV_PREFIX,
				    strlen(PVC_NETDEV_PREFIX)) == 0)
			pvc_netdev_del(&rt->nl, name, err, sizeof(err));
	}
	json_array_foreach(json_object_get(j, "bridges"), i, v)
	{
		const char *name = json_string_value(v);
		if (name)
			pvc_netdev_del(&rt->nl, name, err, sizeof(err));
	}
	json_array_foreach(json_object_get(j, "addresses"), i, v)
	{
		const char *br =
		    json_string_value(json_object_get(v, "bridge"));
		const char *ip = json_string_value(json_object_get(v, "ip"));
		json_int_t prefix =
		    json_integer_value(json_object_get(v, "prefix"));
		struct in_addr a;
		if (br && ip && inet_pton(AF_INET, ip, &a) == 1 &&
		    prefix >= 0 && prefix <= 32)
			pvc_netdev_addr_del(&rt->nl, br, a, (uint8_t)prefix,
					    err, sizeof(err));
	}
	pvc_nat_cleanup(json_object_get(j, "nat"), err, sizeof(err));
	json_decref(j);
	unlink(rt->record_path);
}

static void record_cb(void *rt)
{
	record_save(rt);
}

/* ------------------------------------------------------------ wiring */

static void unwire(struct pvc_runtime *rt, struct rt_ct *c)
{
	char err[256];

	for (size_t i = 0; i < c->n_veths; i++)
		pvc_netdev_del(&rt->nl, c->veths[i], err, sizeof(err));
	strv_free(c->veths, c->n_veths);
	c->veths = NULL;
	c->n_veths = 0;
	record_save(rt);
}

/* A lease on a macvlan pool: its interface is born in the container's
 * namespace and dies with it; nothing of it on the device to record. */
static int macvlan_wire(struct pvc_runtime *rt, int fd,
			const struct pvc_pool *p, const struct pvc_lease *l,
			bool first, char *err, size_t errlen)
{
	struct pvc_netdev_wire w = {
	    .peer = l->iface,
	    .ip = l->ip,
	    .prefix = l->prefix,
	    .mac = l->mac,
	    .gateway = p->gateway,
	    .default_route = first,
	};
	return pvc_netdev_macvlan_wire(&rt->nl, fd, p->parent, &w, err, errlen);
}

/* Gives the namespace of pid one veth (or macvlan) per lease of the
 * container. */
static int wire(struct pvc_runtime *rt, struct rt_ct *c, pid_t pid, char *err,
		size_t errlen)
{
	const struct pvc_container *cc = c->conf;
	char path[64];
	bool first = true;
	int fd, r = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	if (cc->mode != PVC_NET_POOL) {
		r = pvc_netdev_lo_up(fd, err, errlen);
		goto out;
	}
	for (size_t i = 0; i < rt->leases.n; i++) {
		const struct pvc_lease *l = &rt->leases.v[i];
		const struct pvc_pool *p;
		struct pvc_netdev_wire w;
		char host[PVC_NETDEV_NAMELEN];

		if (strcmp(l->container, c->name) != 0)
			continue;
		p = pvc_state_find_pool(rt->st, l->pool);
		if (!p) {
			snprintf(err, errlen, "%s: unknown pool %s", l->iface,
				 l->pool);
			r = -ENOENT;
			goto fail;
		}
		pvc_netdev_veth_name(c->name, l->iface, host);
		if (pvc_pool_is_macvlan(p)) {
			if ((r = macvlan_wire(rt, fd, p, l, first, err,
					      errlen)) < 0)
				goto fail;
			first = false;
			continue;
		}
		w = (struct pvc_netdev_wire){
		    .bridge = p->bridge,
		    .host = host,
		    .peer = l->iface,
		    .ip = l->ip,
		    .prefix = l->prefix,
		    .mac = l->mac,
		    .gateway = p->gateway,
		    .default_route = first,
		};
		/* Recorded before it exists: a crash in between leaves a
		 * name to clean, never an unknown veth. */
		if ((r = strv_add(&c->veths, &c->n_veths, host)) < 0) {
			snprintf(err, errlen, "%s", strerror(-r));
			goto fail;
		}
		record_save(rt);
		r = pvc_netdev_wire(&rt->nl, fd, &w, err, errlen);
		if (r == 0)
			r = pvc_netdev_mark(&rt->nl, host, rt->alias, err,
					    errlen);
		if (r < 0)
			goto fail;
		first = false;
	}
	if (first) {
		/* No lease (pool exhausted): isolated, but with lo. */
		r = pvc_netdev_lo_up(fd, err, errlen);
		if (r == 0)
			snprintf(c->err, sizeof(c->err), "no address lease");
	}
	goto out;
fail:
	unwire(rt, c);
out:
	close(fd);
	return r;
}

/* conf + leases, as text: a change of either means restart / rewire. */
static char *fingerprint(const struct pvc_runtime *rt,
			 const struct pvc_container *cc)
{
	char *buf = NULL, ip[INET_ADDRSTRLEN];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "type=%s mode=%d host=%s\n", cc->type, (int)cc->mode,
		cc->hostname ? cc->hostname : "");
	for (char **a = cc->exec; a && *a; a++)
		fprintf(f, "exec=%s\n", *a);
	for (char **e = cc->env; e && *e; e++)
		fprintf(f, "env=%s\n", *e);
	for (size_t i = 0; cc->mode == PVC_NET_POOL && i < rt->leases.n; i++) {
		const struct pvc_lease *l = &rt->leases.v[i];
		const struct pvc_pool *p;

		if (strcmp(l->container, cc->name) != 0)
			continue;
		p = pvc_state_find_pool(rt->st, l->pool);
		inet_ntop(AF_INET, &l->ip, ip, sizeof(ip));
		fprintf(f, "if=%s pool=%s ip=%s/%u mac=", l->iface, l->pool, ip,
			l->prefix);
		for (int k = 0; k < 6; k++)
			fprintf(f, "%02x", l->mac[k]);
		if (p) {
			inet_ntop(AF_INET, &p->gateway, ip, sizeof(ip));
			/* nat: the container's resolv.conf depends on it */
			fprintf(f, " br=%s parent=%s gw=%s nat=%d",
				p->bridge ? p->bridge : "",
				p->parent ? p->parent : "", ip, p->nat);
		}
		fputc('\n', f);
	}
	fclose(f);
	return buf;
}

/* ------------------------------------------------------------ processes */

/* Records how the process ended; an exit nobody asked for is logged with
 * the container's name (a crash is a warning). */
static void ct_note_exit(struct rt_ct *c, int status)
{
	char sig[32] = "";

	c->has_exit = true;
	c->exits++;
	c->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
	c->exit_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	/* status is the init's: it ends with 128 + N when a signal N ended
	 * the main process (as a shell reports it); SIGKILL of the init
	 * itself is a signal of its own. */
	if (c->exit_code > 128 && c->exit_code < 128 + NSIG) {
		c->exit_signal = c->exit_code - 128;
		c->exit_code = 0;
	}
	clock_gettime(CLOCK_REALTIME, &c->exited_at);
	if (c->exit_signal)
		snprintf(sig, sizeof(sig), " (SIG%s)",
			 sigabbrev_np(c->exit_signal)
			     ? sigabbrev_np(c->exit_signal)
			     : "?");
	if (c->stopping)
		pvx_info("container %s stopped pid=%d exit_code=%d "
			 "signal=%d%s",
			 c->name, (int)c->pid, c->exit_code, c->exit_signal,
			 sig);
	else if (c->exit_signal || c->exit_code)
		pvx_warn("container %s crashed pid=%d exit_code=%d "
			 "signal=%d%s",
			 c->name, (int)c->pid, c->exit_code, c->exit_signal,
			 sig);
	else
		pvx_info("container %s exited pid=%d exit_code=0", c->name,
			 (int)c->pid);
}

static int ct_start(struct pvc_runtime *rt, struct rt_ct *c);
static void ct_free(struct rt_ct *c);

/* A pending restart is called off (an action, a new state, a stop). */
static void ct_cancel_retry(struct rt_ct *c)
{
	if (c->retry_ev)
		evtimer_del(c->retry_ev);
	if (c->status == CT_RESTARTING)
		c->status = CT_EXITED;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rt_ct *c = arg;

	(void)fd;
	(void)what;
	if (c->status != CT_RESTARTING)
		return;
	c->restarts++;
	pvx_info("container %s: restarting (auto_recovery %s, restart %u)",
		 c->name, pvc_recovery_policy_name(c->conf->recovery.policy),
		 c->restarts);
	if (ct_start(c->rt, c) < 0)
		pvx_err("container %s: restart failed: %s", c->name, c->err);
	record_save(c->rt);
}

/* After an exit nobody asked for: a restart per the container's
 * auto_recovery, after retry_delay * backoff_factor^(restarts in a row),
 * at most PVC_RECOVERY_DELAY_MAX; the count starts again when the process
 * ran reset_window seconds. */
static void ct_recover(struct pvc_runtime *rt, struct rt_ct *c)
{
	const struct pvc_recovery *r = &c->conf->recovery;
	struct timeval tv;
	double ran, delay;
	bool want;

	switch (r->policy) {
	case PVC_RECOVER_NO:
		return;
	case PVC_RECOVER_ON_FAILURE:
		want = c->exit_code != 0 || c->exit_signal != 0;
		break;
	default:
		want = true;
	}
	if (!want || !c->own || !rt->conf.enabled)
		return;
	ran = (double)(pvx_now_ms() - c->started_ms) / 1000;
	if (ran >= r->reset_window)
		c->retries = 0;
	if (r->max_retries && c->retries >= r->max_retries) {
		snprintf(c->err, sizeof(c->err),
			 "auto_recovery: gave up after %u restarts in a row",
			 c->retries);
		pvx_warn("container %s: not restarted: %u restarts in a row "
			 "(max_retries %u)",
			 c->name, c->retries, r->max_retries);
		return;
	}
	delay = r->retry_delay;
	for (unsigned i = 0; i < c->retries && delay < PVC_RECOVERY_DELAY_MAX;
	     i++)
		delay *= r->backoff_factor;
	if (delay > PVC_RECOVERY_DELAY_MAX)
		delay = PVC_RECOVERY_DELAY_MAX;
	if (!c->retry_ev)
		c->retry_ev = evtimer_new(rt->base, retry_cb, c);
	tv = pvx_ms_tv(delay > 0 ? (uint64_t)(delay * 1000) : 0);
	if (!c->retry_ev || evtimer_add(c->retry_ev, &tv) < 0) {
		pvx_err("container %s: cannot schedule its restart", c->name);
		return;
	}
	c->retries++;
	c->status = CT_RESTARTING;
	pvx_info("container %s: restart in %.1f s (auto_recovery %s, %u in a "
		 "row)",
		 c->name, delay, pvc_recovery_policy_name(r->policy),
		 c->retries);
}

static void dying_remove(struct pvc_runtime *rt, struct rt_ct *c)
{
	for (size_t i = 0; i < rt->n_dying; i++)
		if (rt->dying[i] == c) {
			rt->dying[i] = rt->dying[--rt->n_dying];
			return;
		}
}

/* The end of an own process, whoever noticed it: the stop state machine
 * ends here, and what was to follow the stop happens. */
static void ct_reaped(struct pvc_runtime *rt, struct rt_ct *c, int status)
{
	enum ct_after after = c->stopping ? c->after : AFTER_NOTHING;

	ct_note_exit(c, status);

	if (c->stopping) {
		rt->n_stopping--;
		if (c->stop_ev)
			evtimer_del(c->stop_ev);
	}
	c->pid = 0;
	c->start = 0;
	c->init = 0;
	c->init_start = 0;
	c->status = c->stopping ? CT_STOPPED : CT_EXITED;
	if (!c->stopping)
		ct_recover(rt, c);
	c->stopping = false;
	c->killed = false;
	c->after = AFTER_NOTHING;
	/* Usually gone with the namespace; not if something (a listener of
	 * pv-xconnect) keeps that namespace alive. */
	unwire(rt, c);
	switch (after) {
	case AFTER_START:
		if (ct_start(rt, c) < 0)
			pvx_errlist_add(&rt->deferred, "%s: %s", c->name,
					c->err);
		break;
	case AFTER_FREE:
		dying_remove(rt, c);
		ct_free(c);
		record_save(rt);
		break;
	case AFTER_NOTHING:
		break;
	}
	notify(rt);
}

static void reap_list(struct pvc_runtime *rt, struct rt_ct **v, size_t n)
{
	/* Backwards: a reaped dying entry is replaced by the last one. */
	for (size_t i = n; i-- > 0;) {
		struct rt_ct *c = v[i];
		int status;

		if (!c->own || c->init <= 0)
			continue;
		if (waitpid(c->init, &status, WNOHANG) == c->init)
			ct_reaped(rt, c, status);
	}
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct pvc_runtime *rt = arg;

	(void)sig;
	(void)what;
	/* Only our own pids: other children of pv-ctrld are not ours to
	 * reap. */
	reap_list(rt, rt->cts, rt->n);
	reap_list(rt, rt->dying, rt->n_dying);
}

/* The grace period is over: SIGKILL; SIGCHLD reaps. */
static void stop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rt_ct *c = arg;

	(void)fd;
	(void)what;
	/* The init: the kernel takes every process of the container. */
	if (c->stopping && c->init > 0) {
		c->killed = true;
		kill(c->init, SIGKILL);
	}
}

/* Starts the stop of an own running process: SIGTERM now, SIGKILL after
 * the grace period, `after` once reaped. Returns false when there is no
 * process to stop (after is not done then). A stop already under way
 * only gets its `after` updated. */
static bool ct_stop_begin(struct pvc_runtime *rt, struct rt_ct *c,
			  enum ct_after after)
{
	struct timeval tv = pvx_ms_tv((uint64_t)rt->conf.stop_grace_ms);

	if (!c->own || c->init <= 0)
		return false;
	c->after = after;
	if (c->stopping)
		return true;
	if (!c->stop_ev)
		c->stop_ev = evtimer_new(rt->base, stop_timeout_cb, c);
	c->stopping = true;
	c->killed = false;
	rt->n_stopping++;
	/* SIGTERM to the main process (pid 2 in its namespace: its own
	 * dispositions apply); its end ends the init and the rest. */
	kill(c->pid, SIGTERM);
	/* Without a timer (out of memory) the container is killed at once
	 * rather than waited for. */
	if (!c->stop_ev || evtimer_add(c->stop_ev, &tv) < 0) {
		c->killed = true;
		kill(c->init, SIGKILL);
	}
	return true;
}

/* Shutdown only (the loop is no longer running): every given own process
 * gets SIGTERM at once, SIGKILL after the grace period, and is reaped. */
static void stop_now(struct pvc_runtime *rt, struct rt_ct **v, size_t n)
{
	uint64_t t0;
	size_t left = 0;
	int status;

	for (size_t i = 0; i < n; i++) {
		if (!v[i]->own || v[i]->init <= 0)
			continue;
		if (!v[i]->stopping) {
			v[i]->stopping = true;
			rt->n_stopping++;
			kill(v[i]->pid, SIGTERM);
		}
		v[i]->after = AFTER_NOTHING;
		left++;
	}
	t0 = pvx_now_ms();
	while (left) {
		left = 0;
		for (size_t i = 0; i < n; i++) {
			if (!v[i]->own || v[i]->init <= 0)
				continue;
			if (waitpid(v[i]->init, &status, WNOHANG) == v[i]->init)
				ct_reaped(rt, v[i], status);
			else
				left++;
		}
		if (!left ||
		    pvx_now_ms() - t0 >= (uint64_t)rt->conf.stop_grace_ms)
			break;
		usleep(5000);
	}
	for (size_t i = 0; i < n; i++) {
		if (!v[i]->own || v[i]->init <= 0)
			continue;
		kill(v[i]->init, SIGKILL);
		if (waitpid(v[i]->init, &status, 0) == v[i]->init)
			ct_reaped(rt, v[i], status);
	}
}

static void ct_fail(struct rt_ct *c, const char *msg)
{
	set_err(c, msg);
	c->status = CT_ERROR;
	c->pid = 0;
	c->start = 0;
	c->init = 0;
	c->init_start = 0;
}

/* ------------------------------------------------------------ output */

/* Complete lines of buf to pv-ctrld's log (debug), the rest kept. */
static void out_forward(struct rt_ct *c, const char *buf, size_t n)
{
	if (!pvx_log_enabled(PVX_LOG_DEBUG))
		return;
	for (size_t i = 0; i < n; i++) {
		bool full = c->line_len == sizeof(c->line) - 1;

		if (buf[i] != '\n' && !full) {
			c->line[c->line_len++] = buf[i];
			continue;
		}
		pvx_debug("container %s: %.*s", c->name, (int)c->line_len,
			  c->line);
		c->line_len = 0;
		if (full && buf[i] != '\n')
			c->line[c->line_len++] = buf[i];
	}
}

/* Reads what is there (bounded per wakeup, so a chatty container does
 * not starve the loop); at EOF (every writer gone) the pipe is closed. */
static void out_read(struct rt_ct *c, int rounds)
{
	char buf[16384];
	ssize_t n;

	while (c->out_fd >= 0 && rounds-- > 0) {
		n = read(c->out_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			if (c->line_len)
				out_forward(c, "\n", 1);
			event_free(c->out_ev);
			c->out_ev = NULL;
			close(c->out_fd);
			c->out_fd = -1;
			return;
		}
		if (c->log.fd >= 0)
			pvc_ctlog_write(&c->log, buf, (size_t)n);
		out_forward(c, buf, (size_t)n);
	}
}

static void out_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	out_read(arg, 4);
}

/* Ends the capture of an earlier process: what it left in the pipe is
 * kept, a child of it still holding the pipe is not waited for. */
static void out_close(struct rt_ct *c)
{
	if (c->out_fd < 0)
		return;
	out_read(c, 64);
	if (c->out_fd < 0)
		return;
	if (c->line_len)
		out_forward(c, "\n", 1);
	event_free(c->out_ev);
	c->out_ev = NULL;
	close(c->out_fd);
	c->out_fd = -1;
}

/* A new output pipe; *wfd is the end for the child. Without one the
 * container writes to pv-ctrld's own stdout/stderr. */
static int out_open(struct pvc_runtime *rt, struct rt_ct *c, int *wfd)
{
	int p[2];
	char *dir = NULL;

	*wfd = -1;
	out_close(c);
	if (c->log.fd < 0 && !c->log.path && rt->conf.state_dir &&
	    asprintf(&dir, "%s/logs", rt->conf.state_dir) >= 0) {
		int r = pvc_ctlog_open(&c->log, dir, c->name,
				       rt->conf.log_max ? rt->conf.log_max
							: PVC_CTLOG_DEFAULT);
		if (r < 0)
			pvx_warn("container %s: log %s: %s", c->name, dir,
				 strerror(-r));
		free(dir);
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	/* Only our end is non-blocking: the container's writes block as
	 * they would on a terminal or file. */
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	c->out_ev = event_new(rt->base, p[0], EV_READ | EV_PERSIST, out_cb, c);
	if (!c->out_ev || event_add(c->out_ev, NULL) < 0) {
		if (c->out_ev)
			event_free(c->out_ev);
		c->out_ev = NULL;
		close(p[0]);
		close(p[1]);
		return -ENOMEM;
	}
	c->out_fd = p[0];
	c->line_len = 0;
	*wfd = p[1];
	return 0;
}

static int ct_start(struct pvc_runtime *rt, struct rt_ct *c)
{
	const struct pvc_container *cc = c->conf;
	struct pvc_spawn_conf sc = {
	    .argv = cc->exec,
	    .env = cc->env,
	    .hostname = cc->hostname ? cc->hostname : cc->name,
	    .workdir = rt->conf.workdir,
	    .new_net = cc->mode != PVC_NET_HOST,
	    .out_fd = -1,
	};
	struct pvc_spawn sp;
	char err[256], *hosts, *resolv;
	int r, status;

	c->err[0] = '\0';
	c->stopping = false;
	ct_cancel_retry(c);
	c->started_ms = pvx_now_ms();
	free(c->fp);
	c->fp = fingerprint(rt, cc);
	if ((r = out_open(rt, c, &sc.out_fd)) < 0)
		pvx_warn("container %s: output pipe: %s", c->name,
			 strerror(-r));
	if (pvc_etc_texts(rt->st, &rt->leases, cc, &hosts, &resolv) < 0) {
		if (sc.out_fd >= 0)
			close(sc.out_fd);
		ct_fail(c, "out of memory");
		notify(rt);
		return -ENOMEM;
	}
	sc.hosts = hosts;
	sc.resolv = resolv;
	r = pvc_spawn_start(&sc, &sp, err, sizeof(err));
	/* The child has its own copy of the texts and of the pipe. */
	free(hosts);
	free(resolv);
	if (sc.out_fd >= 0)
		close(sc.out_fd);
	if (r < 0) {
		ct_fail(c, err);
		notify(rt);
		return r;
	}
	/* Until the main process exists, the container is its init. */
	c->pid = c->init = sp.pid;
	c->start = c->init_start = proc_start(sp.pid);
	c->status = CT_RUNNING;
	record_save(rt);
	if (sc.new_net) {
		r = wire(rt, c, sp.pid, err, sizeof(err));
		if (r < 0) {
			pvc_spawn_abort(&sp);
			waitpid(sp.pid, &status, 0);
			ct_fail(c, err);
			record_save(rt);
			notify(rt);
			return r;
		}
	}
	r = pvc_spawn_release(&sp, err, sizeof(err));
	if (r < 0) {
		waitpid(sp.pid, &status, 0);
		unwire(rt, c);
		ct_fail(c, err);
	} else {
		c->pid = sp.main_pid;
		c->start = proc_start(sp.main_pid);
	}
	record_save(rt);
	notify(rt);
	return r;
}

/* ------------------------------------------------------------ external */

static void unwatch(struct rt_ct *c)
{
	if (c->pid_ev)
		event_free(c->pid_ev);
	c->pid_ev = NULL;
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
}

static void pid_died_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pvc_runtime *rt = arg;
	struct rt_ct *c = NULL;

	(void)what;
	for (size_t i = 0; i < rt->n; i++)
		if (rt->cts[i]->pidfd == fd)
			c = rt->cts[i];
	if (!c)
		return;
	unwatch(c);
	c->pid = 0;
	c->start = 0;
	if (c->status != CT_ERROR)
		c->status = CT_STOPPED;
	if (rt->conf.enabled)
		unwire(rt, c);
	notify(rt);
}

/* A pidfd becomes readable when the process exits: no polling. */
static int watch(struct pvc_runtime *rt, struct rt_ct *c, pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0)
		return -errno;
	c->pidfd = fd;
	c->pid_ev = event_new(rt->base, fd, EV_READ, pid_died_cb, rt);
	if (!c->pid_ev || event_add(c->pid_ev, NULL) < 0) {
		unwatch(c);
		return -ENOMEM;
	}
	return 0;
}

/* ------------------------------------------------------------ lifecycle */

static void ct_free(struct rt_ct *c)
{
	if (!c)
		return;
	unwatch(c);
	out_close(c);
	pvc_ctlog_close(&c->log);
	if (c->retry_ev)
		event_free(c->retry_ev);
	if (c->stop_ev)
		event_free(c->stop_ev);
	strv_free(c->veths, c->n_veths);
	free(c->fp);
	free(c->name);
	free(c);
}

/* "pv-ctrld <absolute state dir>"; a path too long for an alias is
 * replaced by its hash. Without a state dir: "pv-ctrld". */
static void set_alias(struct pvc_runtime *rt, const char *state_dir)
{
	char *abs = state_dir ? realpath(state_dir, NULL) : NULL;
	const char *p = abs ? abs : state_dir;

	if (!p) {
		snprintf(rt->alias, sizeof(rt->alias), "pv-ctrld");
	} else if (strlen(p) + 10 < sizeof(rt->alias)) {
		snprintf(rt->alias, sizeof(rt->alias), "pv-ctrld %s", p);
	} else {
		uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */
		for (const unsigned char *c = (const void *)p; *c; c++)
			h = (h ^ *c) * 0x100000001b3ULL;
		snprintf(rt->alias, sizeof(rt->alias), "pv-ctrld #%016llx",
			 (unsigned long long)h);
	}
	free(abs);
}

struct pvc_runtime *pvc_runtime_new(struct event_base *base,
				    const struct pvc_runtime_conf *conf,
				    void (*changed)(void *arg), void *arg)
{
	struct pvc_runtime *rt = calloc(1, sizeof(*rt));
	int r;

	if (!rt)
		return NULL;
	rt->base = base;
	rt->conf = *conf;
	rt->conf.workdir = NULL;
	rt->conf.state_dir = NULL;
	if (rt->conf.stop_grace_ms <= 0)
		rt->conf.stop_grace_ms = 3000;
	rt->changed = changed;
	rt->arg = arg;
	pvc_nat_init(&rt->nat);
	if ((conf->workdir && !(rt->conf.workdir = strdup(conf->workdir))) ||
	    (conf->state_dir &&
	     !(rt->conf.state_dir = strdup(conf->state_dir))))
		goto nomem;
	rt->notify_ev = event_new(base, -1, 0, notify_cb, rt);
	if (!rt->notify_ev)
		goto nomem;
	if (!conf->enabled)
		return rt;
	if (conf->state_dir && asprintf(&rt->record_path, "%s/runtime.json",
					conf->state_dir) < 0) {
		rt->record_path = NULL;
		goto nomem;
	}
	set_alias(rt, conf->state_dir);
	if ((r = pvc_nl_open(&rt->nl)) < 0) {
		errno = -r;
		goto fail;
	}
	rt->sigchld_ev = evsignal_new(base, SIGCHLD, sigchld_cb, rt);
	if (!rt->sigchld_ev || event_add(rt->sigchld_ev, NULL) < 0)
		goto nomem;
	if (rt->record_path)
		cleanup_leftovers(rt);
	return rt;
nomem:
	errno = ENOMEM;
fail:
	r = errno;
	pvc_runtime_free(rt);
	errno = r;
	return NULL;
}

static struct rt_br *find_br(struct pvc_runtime *rt, const char *name)
{
	for (size_t i = 0; i < rt->n_brs; i++)
		if (strcmp(rt->brs[i].name, name) == 0)
			return &rt->brs[i];
	return NULL;
}

/* Bridges of st's pools: made if missing, ours remembered; bridges of
 * pools that left are deleted if ours. */
static int apply_bridges(struct pvc_runtime *rt, const struct pvc_state *st,
			 struct pvx_errlist *el)
{
	struct rt_br *nb = calloc(st->n_pools + 1, sizeof(*nb));
	char err[256];
	size_t n = 0;

	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; i < st->n_pools; i++) {
		const struct pvc_pool *p = &st->pools[i];
		struct rt_br *old;
		bool created = false, added = false;

		if (pvc_pool_is_macvlan(p))
			continue; /* no bridge: the parent is the device's */
		old = find_br(rt, p->bridge);
		nb[n].name = strdup(p->bridge);
		if (!nb[n].name)
			goto nomem;
		nb[n].gw = p->gateway;
		nb[n].prefix = p->subnet.prefix;
		nb[n].ours = old && old->ours;
		nb[n].addr_added = old && old->addr_added &&
				   old->gw.s_addr == p->gateway.s_addr &&
				   old->prefix == p->subnet.prefix;
		if (pvc_netdev_bridge_ensure(&rt->nl, p->bridge, p->gateway,
					     p->subnet.prefix, &created, &added,
					     err, sizeof(err)) < 0)
			pvx_errlist_add(el, "pool %s: %s", p->name, err);
		if (created && pvc_netdev_mark(&rt->nl, p->bridge, rt->alias,
					       err, sizeof(err)) < 0)
			pvx_errlist_add(el, "pool %s: %s", p->name, err);
		nb[n].ours = nb[n].ours || created;
		nb[n].addr_added = nb[n].addr_added || added;
		n++;
	}
	for (size_t i = 0; i < rt->n_brs; i++) {
		const struct rt_br *b = &rt->brs[i], *now = NULL;
		for (size_t k = 0; k < n && !now; k++)
			if (strcmp(nb[k].name, b->name) == 0)
				now = &nb[k];
		/* A bridge of ours goes with its pool; a gateway address we
		 * gave a bridge goes when its pool goes (a foreign bridge
		 * stays) or changes address. */
		if (!now && b->ours) {
			if (pvc_netdev_del(&rt->nl, b->name, err, sizeof(err)) <
			    0)
				pvx_errlist_add(el, "bridge %s: %s", b->name,
						err);
		} else if (b->addr_added &&
			   (!now || now->gw.s_addr != b->gw.s_addr ||
			    now->prefix != b->prefix) &&
			   pvc_netdev_addr_del(&rt->nl, b->name, b->gw,
					       b->prefix, err,
					       sizeof(err)) < 0) {
			pvx_errlist_add(el, "bridge %s: %s", b->name, err);
		}
		free(rt->brs[i].name);
	}
	free(rt->brs);
	rt->brs = nb;
	rt->n_brs = n;
	record_save(rt);
	return 0;
nomem:
	for (size_t i = 0; i < n; i++)
		free(nb[i].name);
	free(nb);
	return -ENOMEM;
}

int pvc_runtime_apply(struct pvc_runtime *rt, const struct pvc_state *st,
		      const struct pvc_leases *leases, struct pvx_errlist *el)
{
	struct rt_ct **nv = calloc(st->n_containers + 1, sizeof(*nv));
	struct rt_ct **gone = calloc(rt->n + 1, sizeof(*gone));
	struct rt_ct **dying =
	    realloc(rt->dying, (rt->n_dying + rt->n + 1) * sizeof(*dying));
	size_t n_gone = 0;
	int r = 0;

	if (dying)
		rt->dying = dying;
	if (!nv || !gone || !dying) {
		free(nv);
		free(gone);
		return -ENOMEM;
	}
	/* 1. Containers that left the state (or changed between own and
	 * external): unwired and forgotten; a running own process first
	 * stops (asynchronously), as a dying entry that goes when reaped. */
	for (size_t i = 0; i < rt->n; i++) {
		struct rt_ct *c = rt->cts[i];
		const struct pvc_container *cc = pvc_state_find(st, c->name);
		if (!cc || c->own != (strcmp(cc->type, "process") == 0))
			gone[n_gone++] = c;
	}
	for (size_t i = 0; i < n_gone; i++) {
		struct rt_ct *c = gone[i];

		for (size_t k = 0; k < rt->n; k++)
			if (rt->cts[k] == c)
				rt->cts[k] = NULL;
		/* It points into the state that goes with this apply. */
		c->conf = NULL;
		if (rt->conf.enabled && ct_stop_begin(rt, c, AFTER_FREE)) {
			rt->dying[rt->n_dying++] = c;
			continue;
		}
		if (rt->conf.enabled)
			unwire(rt, c);
		ct_free(c);
	}
	free(gone);
	{
		size_t k = 0;
		for (size_t i = 0; i < rt->n; i++)
			if (rt->cts[i])
				rt->cts[k++] = rt->cts[i];
		rt->n = k;
	}

	/* 2. The new list, in the state's order; old entries carried over.
	 * From here on the runtime points into st and leases. */
	for (size_t i = 0; i < st->n_containers; i++) {
		const struct pvc_container *cc = &st->containers[i];
		struct rt_ct *c = NULL;
		for (size_t k = 0; k < rt->n && !c; k++)
			if (strcmp(rt->cts[k]->name, cc->name) == 0)
				c = rt->cts[k];
		if (!c) {
			c = calloc(1, sizeof(*c));
			if (!c || !(c->name = strdup(cc->name))) {
				free(c);
				r = -ENOMEM;
				break;
			}
			c->pidfd = -1;
			c->out_fd = -1;
			c->rt = rt;
			c->log.fd = -1;
			c->own = strcmp(cc->type, "process") == 0;
			c->status = CT_STOPPED;
		}
		c->conf = cc;
		nv[i] = c;
	}
	if (r < 0) {
		/* Keep every entry reachable: the old list stays. */
		for (size_t i = 0; i < st->n_containers; i++) {
			bool old = false;
			for (size_t k = 0; k < rt->n; k++)
				old = old || rt->cts[k] == nv[i];
			if (!old)
				ct_free(nv[i]);
		}
		free(nv);
		return r;
	}
	free(rt->cts);
	rt->cts = nv;
	rt->n = st->n_containers;
	rt->st = st;
	rt->leases = *leases;
	if (!rt->conf.enabled)
		return 0;

	/* 3. Bridges, then containers started, restarted or rewired. */
	r = apply_bridges(rt, st, el);
	{
		char err[256];
		if (pvc_nat_apply(&rt->nat, st, record_cb, rt, err,
				  sizeof(err)) < 0)
			pvx_errlist_add(el, "pools: %s", err);
	}
	for (size_t i = 0; i < rt->n; i++) {
		struct rt_ct *c = rt->cts[i];
		char *fp = fingerprint(rt, c->conf);
		bool same = fp && c->fp && strcmp(fp, c->fp) == 0;
		char err[256];

		if (c->own) {
			/* Changed while running: restarted once the old
			 * process is gone (asynchronously). New, or changed
			 * and not running: started now. Exited or stopped
			 * with the same definition stays as it is. */
			if (c->status == CT_RUNNING && !same &&
			    ct_stop_begin(rt, c, AFTER_START)) {
				free(fp);
				continue;
			}
			if (!c->fp || !same)
				if (ct_start(rt, c) < 0)
					pvx_errlist_add(el, "%s: %s", c->name,
							c->err);
		} else if (c->pid > 0 && !same) {
			unwire(rt, c);
			free(c->fp);
			c->fp = fingerprint(rt, c->conf);
			c->status = CT_RUNNING;
			c->err[0] = '\0';
			if (wire(rt, c, c->pid, err, sizeof(err)) < 0) {
				c->status = CT_ERROR;
				set_err(c, err);
				pvx_errlist_add(el, "%s: %s", c->name, err);
			}
		}
		free(fp);
	}
	record_save(rt);
	return r;
}

pid_t pvc_runtime_pid(const struct pvc_runtime *rt, const char *name)
{
	struct rt_ct *c = find(rt, name);
	return c ? c->pid : 0;
}

const char *pvc_runtime_status(const struct pvc_runtime *rt, const char *name)
{
	struct rt_ct *c = find(rt, name);

	if (c && c->stopping && c->pid > 0)
		return "stopping";
	return c ? status_names[c->status] : NULL;
}

int pvc_runtime_info(const struct pvc_runtime *rt, const char *name,
		     struct pvc_runtime_info *out)
{
	struct rt_ct *c = find(rt, name);

	if (!c)
		return -ENOENT;
	*out = (struct pvc_runtime_info){
	    .has_exit = c->has_exit,
	    .exit_code = c->exit_code,
	    .exit_signal = c->exit_signal,
	    .exited_at = c->exited_at,
	    .exits = c->exits,
	    .restarts = c->restarts,
	    .log_path = c->log.path,
	};
	return 0;
}

int pvc_runtime_logs(struct pvc_runtime *rt, const char *name, uint64_t offset,
		     char **buf, size_t *len, uint64_t *end)
{
	struct rt_ct *c = find(rt, name);

	if (!c)
		return -ENOENT;
	if (!c->log.path)
		return -ENODATA;
	/* What sits in the pipe now belongs to the answer. */
	out_read(c, 64);
	return pvc_ctlog_read(&c->log, offset, buf, len, end);
}

const char *pvc_runtime_error(const struct pvc_runtime *rt, const char *name)
{
	struct rt_ct *c = find(rt, name);
	return c ? c->err : "";
}

int pvc_runtime_adopt(struct pvc_runtime *rt, const char *name, pid_t pid,
		      char *err, size_t errlen)
{
	struct rt_ct *c = find(rt, name);
	char path[64];
	struct stat sb;
	int r;

	if (!c) {
		snprintf(err, errlen, "no container '%s'", name);
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (pid <= 0 || stat(path, &sb) < 0 || !proc_start(pid)) {
		snprintf(err, errlen, "no process with pid %d", (int)pid);
		return -ESRCH;
	}
	if (rt->conf.enabled && c->own) {
		snprintf(err, errlen,
			 "container '%s' is a process container started by "
			 "pv-ctrld",
			 name);
		return -ENOTSUP;
	}
	/* The same pid again: nothing to do, unless its wiring failed and
	 * is worth another try. */
	if (c->pid == pid && c->pid_ev && c->status == CT_RUNNING)
		return 0;
	unwatch(c);
	if (rt->conf.enabled && c->n_veths)
		unwire(rt, c);
	c->pid = pid;
	c->start = proc_start(pid);
	c->status = CT_RUNNING;
	c->err[0] = '\0';
	notify(rt);
	if ((r = watch(rt, c, pid)) < 0) {
		snprintf(err, errlen, "pidfd_open %d: %s", (int)pid,
			 strerror(-r));
		ct_fail(c, err);
		return r;
	}
	if (!rt->conf.enabled || c->conf->mode == PVC_NET_HOST)
		return 0;
	/* Wiring the device's own namespace would give the device an eth0
	 * and a default route: refuse a pid that shares it. */
	if (pvx_ns_is_own(pid, PVX_NS_NET) != 0) {
		snprintf(err, errlen,
			 "pid %d shares pv-ctrld's network namespace",
			 (int)pid);
		set_err(c, err);
		c->status = CT_ERROR;
		return -EINVAL;
	}
	free(c->fp);
	c->fp = fingerprint(rt, c->conf);
	r = wire(rt, c, pid, err, errlen);
	if (r < 0) {
		set_err(c, err);
		c->status = CT_ERROR;
	}
	return r;
}

int pvc_runtime_action(struct pvc_runtime *rt, const char *name,
		       const char *action, char *err, size_t errlen)
{
	struct rt_ct *c = find(rt, name);
	int r = 0;

	if (!c) {
		snprintf(err, errlen, "no container '%s'", name);
		return -ENOENT;
	}
	if (strcmp(action, "start") != 0 && strcmp(action, "stop") != 0 &&
	    strcmp(action, "restart") != 0) {
		snprintf(err, errlen, "unknown action '%s'", action);
		return -EINVAL;
	}
	if (!rt->conf.enabled) {
		snprintf(err, errlen,
			 "action '%s' not supported without runtime", action);
		return -ENOTSUP;
	}
	if (!c->own) {
		snprintf(err, errlen,
			 "container '%s' is external (type %s): started and "
			 "stopped by something else",
			 name, c->conf->type);
		return -ENOTSUP;
	}
	/* An action takes over from a pending auto_recovery restart. */
	ct_cancel_retry(c);
	if (strcmp(action, "stop") == 0 || strcmp(action, "restart") == 0) {
		if (c->status == CT_EXITED)
			c->status = CT_STOPPED;
		c->retries = 0;
	}
	/* stop and restart of a running process: under way on return
	 * (pvc_runtime_busy); the restart's start follows the reaping. */
	if (strcmp(action, "stop") == 0) {
		ct_stop_begin(rt, c, AFTER_NOTHING);
		return 0;
	}
	if (strcmp(action, "restart") == 0 && ct_stop_begin(rt, c, AFTER_START))
		return 0;
	if (c->pid > 0)
		return 0; /* start of a running container: done */
	r = ct_start(rt, c);
	if (r < 0)
		snprintf(err, errlen, "%s", c->err);
	record_save(rt);
	return r;
}

int pvc_runtime_set_workdir(struct pvc_runtime *rt, const char *workdir)
{
	char *w = workdir ? strdup(workdir) : NULL;

	if (workdir && !w)
		return -ENOMEM;
	free((char *)rt->conf.workdir);
	rt->conf.workdir = w;
	return 0;
}

bool pvc_runtime_busy(const struct pvc_runtime *rt)
{
	return rt->n_stopping > 0;
}

void pvc_runtime_take_errors(struct pvc_runtime *rt, struct pvx_errlist *el)
{
	pvx_errlist_merge(el, &rt->deferred, NULL);
	pvx_errlist_clear(&rt->deferred);
}

void pvc_runtime_free(struct pvc_runtime *rt)
{
	char err[256];

	if (!rt)
		return;
	if (rt->conf.enabled && rt->nl.sock) {
		stop_now(rt, rt->cts, rt->n);
		stop_now(rt, rt->dying, rt->n_dying);
		for (size_t i = 0; i < rt->n; i++)
			unwire(rt, rt->cts[i]);
		for (size_t i = 0; i < rt->n_dying; i++)
			unwire(rt, rt->dying[i]);
		for (size_t i = 0; i < rt->n_brs; i++) {
			const struct rt_br *b = &rt->brs[i];
			if (b->ours)
				pvc_netdev_del(&rt->nl, b->name, err,
					       sizeof(err));
			else if (b->addr_added)
				pvc_netdev_addr_del(&rt->nl, b->name, b->gw,
						    b->prefix, err,
						    sizeof(err));
		}
		pvc_nat_remove(&rt->nat, err, sizeof(err));
		if (rt->record_path)
			unlink(rt->record_path);
	}
	for (size_t i = 0; i < rt->n; i++)
		ct_free(rt->cts[i]);
	free(rt->cts);
	for (size_t i = 0; i < rt->n_dying; i++)
		ct_free(rt->dying[i]);
	free(rt->dying);
	pvx_errlist_clear(&rt->deferred);
	for (size_t i = 0; i < rt->n_brs; i++)
		free(rt->brs[i].name);
	free(rt->brs);
	if (rt->sigchld_ev)
		event_free(rt->sigchld_ev);
	if (rt->notify_ev)
		event_free(rt->notify_ev);
	pvc_nl_close(&rt->nl);
	free(rt->record_path);
	free((char *)rt->conf.workdir);
	free((char *)rt->conf.state_dir);
	free(rt);
}

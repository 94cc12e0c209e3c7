/* Placeholder runtime: tracks containers and adopted PIDs without touching
 * the network. Replaced by the real runtime (bridges, veths, processes). */
#include "ctrl/runtime.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rt_ct {
	char *name;
	pid_t pid;
};

struct pvc_runtime {
	struct pvc_runtime_conf conf;
	void (*changed)(void *);
	void *arg;
	struct rt_ct *cts;
	size_t n;
};

struct pvc_runtime *pvc_runtime_new(struct event_base *base,
				    const struct pvc_runtime_conf *conf,
				    void (*changed)(void *arg), void *arg)
{
	struct pvc_runtime *rt = calloc(1, sizeof(*rt));

	(void)base;
	if (!rt)
		return NULL;
	rt->conf = *conf;
	rt->changed = changed;
	rt->arg = arg;
	return rt;
}

static struct rt_ct *find(const struct pvc_runtime *rt, const char *name)
{
	for (size_t i = 0; i < rt->n; i++)
		if (strcmp(rt->cts[i].name, name) == 0)
			return &rt->cts[i];
	return NULL;
}

int pvc_runtime_apply(struct pvc_runtime *rt, const struct pvc_state *st,
		      const struct pvc_leases *leases, struct pvx_errlist *el)
{
	struct rt_ct *v = calloc(st->n_containers + 1, sizeof(*v));

	(void)leases;
	(void)el;
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < st->n_containers; i++) {
		struct rt_ct *old = find(rt, st->containers[i].name);
		v[i].name = strdup(st->containers[i].name);
		v[i].pid = old ? old->pid : 0;
	}
	for (size_t i = 0; i < rt->n; i++)
		free(rt->cts[i].name);
	free(rt->cts);
	rt->cts = v;
	rt->n = st->n_containers;
	return 0;
}

pid_t pvc_runtime_pid(const struct pvc_runtime *rt, const char *name)
{
	struct rt_ct *c = find(rt, name);
	return c ? c->pid : 0;
}

const char *pvc_runtime_status(const struct pvc_runtime *rt, const char *name)
{
	struct rt_ct *c = find(rt, name);
	if (!c)
		return NULL;
	return c->pid > 0 ? "running" : "stopped";
}

const char *pvc_runtime_error(const struct pvc_runtime *rt, const char *name)
{
	(void)rt;
	(void)name;
	return "";
}

int pvc_runtime_adopt(struct pvc_runtime *rt, const char *name, pid_t pid,
		      char *err, size_t errlen)
{
	struct rt_ct *c = find(rt, name);

	if (!c) {
		snprintf(err, errlen, "no container '%s'", name);
		return -ENOENT;
	}
	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH)) {
		snprintf(err, errlen, "no process with pid %d", (int)pid);
		return -ESRCH;
	}
	if (c->pid != pid) {
		c->pid = pid;
		if (rt->changed)
			rt->changed(rt->arg);
	}
	return 0;
}

int pvc_runtime_action(struct pvc_runtime *rt, const char *name,
		       const char *action, char *err, size_t errlen)
{
	if (!find(rt, name)) {
		snprintf(err, errlen, "no container '%s'", name);
		return -ENOENT;
	}
	snprintf(err, errlen, "action '%s' not supported without runtime",
		 action);
	return -ENOTSUP;
}

void pvc_runtime_free(struct pvc_runtime *rt)
{
	if (!rt)
		return;
	for (size_t i = 0; i < rt->n; i++)
		free(rt->cts[i].name);
	free(rt->cts);
	free(rt);
}

/* The reconciler (SPEC §8): diffs the accepted graph against the running
 * links by identity and calls the plugins. It is part of the daemon loop,
 * so it logs one line per link change. */
#include "xconnect/reconcile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "common/clock.h"
#include "common/log.h"

/* glibc's sys/queue.h lacks the _SAFE iterators of the BSDs. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                             \
	for ((var) = TAILQ_FIRST(head);                                        \
	     (var) && ((tvar) = TAILQ_NEXT(var, field), 1); (var) = (tvar))
#endif

struct rc_entry {
	TAILQ_ENTRY(rc_entry) next;
	struct pvx_reconciler *rc;
	struct pvx_link *link; /* always set; the plugin's once draining */
	enum pvx_rc_state state;
	struct event *retry; /* FAILED: next start attempt */
	int backoff_ms;
	bool seen; /* during apply: still in the graph */
	char error[160];
};
TAILQ_HEAD(rc_list, rc_entry);

struct pvx_reconciler {
	struct event_base *base;
	pvx_plugin_lookup_fn find;
	struct rc_list links;	 /* in the graph */
	struct rc_list draining; /* stopped, not yet freed by the plugin */
	size_t nlinks;
	int backoff_first_ms;
	int backoff_max_ms;
};

const char *pvx_rc_state_name(enum pvx_rc_state s)
{
	switch (s) {
	case PVX_RC_LISTENING:
		return "listening";
	case PVX_RC_FAILED:
		return "failed";
	case PVX_RC_UNSUPPORTED:
		return "unsupported";
	case PVX_RC_DRAINING:
		return "draining";
	case PVX_RC_WAITING:
		return "waiting";
	}
	return "?";
}

struct pvx_reconciler *pvx_reconciler_new(struct event_base *base,
					  pvx_plugin_lookup_fn find)
{
	struct pvx_reconciler *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->base = base;
	r->find = find ? find : pvx_plugin_find;
	TAILQ_INIT(&r->links);
	TAILQ_INIT(&r->draining);
	/* A consumer's namespace may come up a moment after the graph shows
	 * it: retry soon, then back off so a dead pid costs little. */
	r->backoff_first_ms = 1000;
	r->backoff_max_ms = 30000;
	return r;
}

void pvx_reconciler_set_backoff(struct pvx_reconciler *r, int first_ms,
				int max_ms)
{
	r->backoff_first_ms = first_ms;
	r->backoff_max_ms = max_ms;
}

static const char *socket_shown(const struct pvx_link_conf *c)
{
	return *c->socket ? c->socket : "(none)";
}

static void log_link(const char *what, const struct pvx_link_conf *c,
		     const char *extra)
{
	pvx_info("link %s type=%s name=%s consumer=%s consumer_pid=%d "
		 "provider=%s provider_pid=%d target=%s socket=%s%s",
		 what, c->type, c->name, c->consumer, (int)c->consumer_pid,
		 c->provider, (int)c->provider_pid, c->target, socket_shown(c),
		 extra ? extra : "");
}

static void schedule_retry(struct rc_entry *e)
{
	struct timeval tv = pvx_ms_tv((uint64_t)e->backoff_ms);

	if (e->retry)
		evtimer_add(e->retry, &tv);
}

/* Starts the link; on failure it stays listed as failed and is retried
 * with a doubling delay. A repeated identical error is logged at debug
 * level only, so a long-dead consumer does not flood the log. */
static void try_start(struct rc_entry *e, bool first)
{
	struct pvx_link *l = e->link;
	char err[sizeof(e->error)] = "";
	char extra[sizeof(err) + 48];
	int r;

	r = l->plugin->start(l, err, sizeof(err));
	if (r == 0) {
		e->state = PVX_RC_LISTENING;
		e->error[0] = '\0';
		log_link(first ? "added" : "added after retry", &l->conf, NULL);
		return;
	}
	if (!err[0])
		snprintf(err, sizeof(err), "%s", strerror(-r));
	if (first || strcmp(err, e->error) != 0) {
		snprintf(extra, sizeof(extra), " error=\"%s\" retry_ms=%d", err,
			 e->backoff_ms);
		log_link("failed", &l->conf, extra);
	} else {
		pvx_debug("link still failing name=%s target=%s error=\"%s\"",
			  l->conf.name, l->conf.target, err);
	}
	memcpy(e->error, err, sizeof(e->error));
	e->state = PVX_RC_FAILED;
	schedule_retry(e);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rc_entry *e = arg;

	(void)fd;
	(void)what;
	if (e->state != PVX_RC_FAILED)
		return;
	e->backoff_ms *= 2;
	if (e->backoff_ms > e->rc->backoff_max_ms)
		e->backoff_ms = e->rc->backoff_max_ms;
	try_start(e, false);
}

/* consumer_pid 0 means "the host" only for ingress: for a container it
 * means "not running", and binding its target on the host instead (a port,
 * or a socket path meant for the container's mount namespace) would be
 * wrong. Such links wait for the pid. */
static bool consumer_absent(const struct pvx_link_conf *c)
{
	return c->consumer_pid == 0 && strcmp(c->consumer, "EXTERNAL") != 0;
}

static void set_waiting(struct rc_entry *e)
{
	evtimer_del(e->retry);
	e->state = PVX_RC_WAITING;
	e->error[0] = '\0';
	e->backoff_ms = e->rc->backoff_first_ms;
	log_link("waiting", &e->link->conf, " reason=\"consumer not running\"");
}

static void draining_freed(struct pvx_link *l, void *arg);

/* Hands l to its plugin's stop(), listed as draining until freed. */
static void drain(struct pvx_reconciler *r, struct rc_entry *d,
		  struct pvx_link *l)
{
	d->rc = r;
	d->link = l;
	d->state = PVX_RC_DRAINING;
	/* Listed until the plugin frees the link, which may happen inside
	 * stop() already: nothing of d or l is touched after the call. */
	TAILQ_INSERT_TAIL(&r->draining, d, next);
	l->on_free = draining_freed;
	l->on_free_arg = d;
	l->plugin->stop(l);
}

static void add_link(struct pvx_reconciler *r, const struct pvx_link_conf *c)
{
	const struct pvx_plugin *p = r->find(c->type);
	struct rc_entry *e = calloc(1, sizeof(*e));

	if (!e)
		goto fail;
	e->rc = r;
	e->link = pvx_link_new(r->base, p, c);
	if (!e->link)
		goto fail;
	e->retry = evtimer_new(r->base, retry_cb, e);
	if (!e->retry)
		goto fail;
	e->backoff_ms = r->backoff_first_ms;
	TAILQ_INSERT_TAIL(&r->links, e, next);
	r->nlinks++;
	if (!p) {
		e->state = PVX_RC_UNSUPPORTED;
		log_link("unsupported", c,
			 " reason=\"no plugin for this type\"");
		return;
	}
	if (consumer_absent(c)) {
		set_waiting(e);
		return;
	}
	try_start(e, true);
	return;
fail:
	log_link("failed", c, " error=\"out of memory\"");
	if (e) {
		pvx_link_free(e->link);
		free(e);
	}
}

static void entry_free(struct rc_entry *e)
{
	if (e->retry)
		event_free(e->retry);
	free(e);
}

/* Called by pvx_link_free when the plugin lets go of a draining link. */
static void draining_freed(struct pvx_link *l, void *arg)
{
	struct rc_entry *e = arg;

	(void)l;
	TAILQ_REMOVE(&e->rc->draining, e, next);
	entry_free(e);
}

static void remove_link(struct pvx_reconciler *r, struct rc_entry *e,
			const char *why)
{
	struct pvx_link *l = e->link;

	TAILQ_REMOVE(&r->links, e, next);
	r->nlinks--;
	log_link("removed", &l->conf, why);
	if (e->state != PVX_RC_LISTENING) {
		pvx_link_free(l);
		entry_free(e);
		return;
	}
	evtimer_del(e->retry);
	drain(r, e, l);
}

static bool conf_equal(const struct pvx_link_conf *a,
		       const struct pvx_link_conf *b)
{
	return strcmp(a->type, b->type) == 0 &&
	       strcmp(a->provider, b->provider) == 0 &&
	       strcmp(a->role, b->role) == 0 &&
	       strcmp(a->interface, b->interface) == 0 &&
	       strcmp(a->socket, b->socket) == 0 &&
	       a->consumer_pid == b->consumer_pid &&
	       a->provider_pid == b->provider_pid &&
	       pvx_link_conf_extra_equal(a, b) &&
	       ((!a->ingress && !b->ingress) ||
		(a->ingress && b->ingress &&
		 strcmp(a->ingress, b->ingress) == 0));
}

/* Moves *oldp to *newp when both hold the same text. */
static void keep_string(char **newp, char **oldp)
{
	if (*newp && *oldp && strcmp(*newp, *oldp) == 0) {
		free(*newp);
		*newp = *oldp;
		*oldp = NULL;
	}
}

/* A listening link whose consumer stopped: its listener goes (the old
 * link drains like a removed one) and a fresh link waits for the pid. */
static void park_link(struct rc_entry *e, const struct pvx_link_conf *c)
{
	struct pvx_link *old = e->link, *nl;
	struct rc_entry *d = calloc(1, sizeof(*d));

	nl = d ? pvx_link_new(e->rc->base, old->plugin, c) : NULL;
	if (!nl) {
		free(d);
		log_link("update failed", c, " error=\"out of memory\"");
		return;
	}
	e->link = nl;
	set_waiting(e);
	drain(e->rc, d, old);
}

static void update_link(struct rc_entry *e, const struct pvx_link_conf *c)
{
	struct pvx_link *l = e->link;
	struct pvx_link_conf nc;
	char extra[PVX_PATH_MAX + 64];

	if (e->state == PVX_RC_LISTENING && consumer_absent(c)) {
		park_link(e, c);
		return;
	}
	if (pvx_link_conf_copy(&nc, c) < 0) {
		log_link("update failed", c, " error=\"out of memory\"");
		return;
	}
	snprintf(extra, sizeof(extra), " old_socket=%s old_consumer_pid=%d",
		 socket_shown(&l->conf), (int)l->conf.consumer_pid);
	/* Strings that did not change keep their address: sessions may
	 * hold the link's name (the identity never changes on update). */
	keep_string(&nc.type, &l->conf.type);
	keep_string(&nc.name, &l->conf.name);
	keep_string(&nc.consumer, &l->conf.consumer);
	keep_string(&nc.provider, &l->conf.provider);
	keep_string(&nc.role, &l->conf.role);
	keep_string(&nc.interface, &l->conf.interface);
	keep_string(&nc.target, &l->conf.target);
	keep_string(&nc.socket, &l->conf.socket);
	keep_string(&nc.ingress, &l->conf.ingress);
	pvx_link_conf_clear(&l->conf);
	l->conf = nc;
	log_link("updated", &l->conf, extra);
	switch (e->state) {
	case PVX_RC_LISTENING:
		l->plugin->update(l);
		break;
	case PVX_RC_FAILED:
	case PVX_RC_WAITING:
		/* The change (a new consumer pid, most often) may be what
		 * the link was waiting for: try at once. */
		evtimer_del(e->retry);
		e->backoff_ms = e->rc->backoff_first_ms;
		if (consumer_absent(&l->conf))
			set_waiting(e);
		else
			try_start(e, false);
		break;
	case PVX_RC_UNSUPPORTED:
	case PVX_RC_DRAINING:
		break;
	}
}

static struct rc_entry *find_entry(struct pvx_reconciler *r,
				   const struct pvx_link_conf *c)
{
	struct rc_entry *e;

	TAILQ_FOREACH(e, &r->links, next)
	{
		if (pvx_link_conf_same_identity(&e->link->conf, c))
			return e;
	}
	return NULL;
}

void pvx_reconciler_apply(struct pvx_reconciler *r,
			  const struct pvx_link_conf *confs, size_t n)
{
	struct rc_entry *e, *tmp;
	struct rc_entry **match = NULL;

	if (n) {
		match = calloc(n, sizeof(*match));
		if (!match) {
			pvx_err("graph not applied: out of memory");
			return;
		}
	}
	TAILQ_FOREACH(e, &r->links, next)
	e->seen = false;
	for (size_t i = 0; i < n; i++) {
		e = find_entry(r, &confs[i]);
		/* Another plugin for the same identity: a new link. */
		if (e && strcmp(e->link->conf.type, confs[i].type) != 0)
			e = NULL;
		if (e) {
			e->seen = true;
			match[i] = e;
		}
	}
	/* Removals first, so that a port given up by one link is free for
	 * a link added by the same graph. */
	TAILQ_FOREACH_SAFE(e, &r->links, next, tmp)
	{
		if (!e->seen)
			remove_link(r, e, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		if (match[i] && !conf_equal(&match[i]->link->conf, &confs[i]))
			update_link(match[i], &confs[i]);
	}
	for (size_t i = 0; i < n; i++) {
		if (!match[i])
			add_link(r, &confs[i]);
	}
	free(match);
}

void pvx_reconciler_foreach(struct pvx_reconciler *r,
			    void (*cb)(const struct pvx_rc_info *info,
				       void *arg),
			    void *arg)
{
	struct rc_list *lists[] = {&r->links, &r->draining};
	struct rc_entry *e;

	for (size_t i = 0; i < 2; i++) {
		TAILQ_FOREACH(e, lists[i], next)
		{
			struct pvx_rc_info info = {
			    .conf = &e->link->conf,
			    .stats = &e->link->stats,
			    .state = e->state,
			    .error = e->error,
			};
			cb(&info, arg);
		}
	}
}

size_t pvx_reconciler_count(const struct pvx_reconciler *r)
{
	return r->nlinks;
}

void pvx_reconciler_free(struct pvx_reconciler *r)
{
	struct rc_entry *e, *tmp;

	if (!r)
		return;
	TAILQ_FOREACH_SAFE(e, &r->links, next, tmp)
	remove_link(r, e, " reason=shutdown");
	/* The plugins may still hold draining links: they must not call
	 * back into this reconciler any more. */
	TAILQ_FOREACH_SAFE(e, &r->draining, next, tmp)
	{
		e->link->on_free = NULL;
		TAILQ_REMOVE(&r->draining, e, next);
		entry_free(e);
	}
	free(r);
}

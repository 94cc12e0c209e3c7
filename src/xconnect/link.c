/* Links of the data plane: allocation and release, the table of plugins
 * and the limits the plugins share (defaults here, overridden by main from
 * the command line). */
#include "xconnect/link.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"

struct pvx_limits pvx_limits = {
    .connect_timeout_ms = 5000,
    .idle_timeout_ms = 300 * 1000,
    .drain_ms = 10 * 1000,
    .max_conns = 512,
    .buf_size = 64 * 1024,
    .unix_mode = 0666,
    .first_byte_timeout_ms = 5 * 1000,
    .header_timeout_ms = 10 * 1000,
    .max_conns_per_client = 128, /* pvx_limits_default_per_client(512) */
    .per_client_auto = true,
    .health_interval_ms = 2000,
    .http_pool_size = 32,
    .http_pool_idle_ms = 2000,
};

unsigned pvx_limits_default_per_client(unsigned max_conns)
{
	return max_conns / 4 > 64 ? max_conns / 4 : 64;
}

bool pvx_ratelimit_ok(struct pvx_ratelimit *rl, unsigned *suppressed)
{
	uint64_t now = pvx_now_ms() + 1; /* 0 is "never" */

	if (rl->last_ms && now - rl->last_ms < 1000) {
		rl->suppressed++;
		return false;
	}
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	rl->last_ms = now;
	return true;
}

/* Plugins by type; each lives in plugins/<type>.c. */
extern const struct pvx_plugin pvx_plugin_tcp;
extern const struct pvx_plugin pvx_plugin_http;
extern const struct pvx_plugin pvx_plugin_unix;

static const struct pvx_plugin *const plugins[] = {
    &pvx_plugin_tcp,
    &pvx_plugin_http,
    &pvx_plugin_unix,
    NULL,
};

const struct pvx_plugin *pvx_plugin_find(const char *type)
{
	for (size_t i = 0; plugins[i]; i++)
		if (strcmp(plugins[i]->type, type) == 0)
			return plugins[i];
	return NULL;
}

struct pvx_link *pvx_link_new(struct event_base *base,
			      const struct pvx_plugin *plugin,
			      const struct pvx_link_conf *conf)
{
	struct pvx_link *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	if (pvx_link_conf_copy(&l->conf, conf) < 0) {
		free(l);
		errno = ENOMEM;
		return NULL;
	}
	l->base = base;
	l->plugin = plugin;
	return l;
}

void pvx_link_free(struct pvx_link *link)
{
	if (!link)
		return;
	if (link->on_free)
		link->on_free(link, link->on_free_arg);
	pvx_link_conf_clear(&link->conf);
	free(link);
}

struct pvx_limits pvx_link_limits(const struct pvx_link_conf *c)
{
	struct pvx_limits l = pvx_limits;

	if (c->max_conns > 0)
		l.max_conns = c->max_conns;
	if (c->connect_timeout_ms > 0)
		l.connect_timeout_ms = c->connect_timeout_ms;
	if (c->idle_timeout_s > 0)
		l.idle_timeout_ms = c->idle_timeout_s * 1000;
	if (l.per_client_auto)
		l.max_conns_per_client =
		    pvx_limits_default_per_client(l.max_conns);
	return l;
}

bool pvx_link_allows(const struct pvx_link_conf *c, const struct sockaddr *sa)
{
	return !c->allow || pvx_prefix_list_match(c->allow, c->n_allow, sa);
}

void pvx_health_up(struct pvx_link_stats *st, uint64_t us)
{
	struct pvx_link_health *h = &st->health;

	h->state = PVX_HEALTH_UP;
	h->down_since = 0;
	h->connect_us_last = us;
	h->connect_us_sum += us;
	h->connects++;
	h->last_dial_ms = pvx_now_ms();
}

void pvx_health_down(struct pvx_link_stats *st, const char *reason)
{
	struct pvx_link_health *h = &st->health;

	if (h->state != PVX_HEALTH_DOWN)
		h->down_since = (int64_t)time(NULL);
	h->state = PVX_HEALTH_DOWN;
	snprintf(h->last_error, sizeof(h->last_error), "%s", reason);
	h->last_dial_ms = pvx_now_ms();
}

const char *pvx_health_name(enum pvx_health_state s)
{
	switch (s) {
	case PVX_HEALTH_UP:
		return "up";
	case PVX_HEALTH_DOWN:
		return "down";
	default:
		return "unknown";
	}
}

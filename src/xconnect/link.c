/* Links of the data plane: allocation and release, the table of plugins
 * and the limits the plugins share (defaults here, overridden by main from
 * the command line). */
#include "xconnect/link.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct pvx_limits pvx_limits = {
    .connect_timeout_ms = 5000,
    .idle_timeout_ms = 300 * 1000,
    .drain_ms = 10 * 1000,
    .max_conns = 512,
    .buf_size = 64 * 1024,
    .unix_mode = 0666,
};

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

/* Prometheus metrics of the data plane (see metrics.h). The links are
 * listed once, then written family by family: the text format wants all
 * samples of a metric together after its header. */
#include "xconnect/metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/prom.h"
#include "xconnect/krelay.h"
#include "xconnect/relay.h"

struct snap {
	struct pvx_rc_info *v;
	size_t n, cap;
	int err;
};

/* The pointers in info stay valid while the reconciler is not touched:
 * the text is built in one go inside the event loop. */
static void collect(const struct pvx_rc_info *info, void *arg)
{
	struct snap *s = arg;

	if (s->err)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct pvx_rc_info *v = realloc(s->v, cap * sizeof(*v));
		if (!v) {
			s->err = ENOMEM;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *info;
}

/* The per-link families, in the order they are written: each a counter
 * of struct pvx_link_stats (docs/xconnect.md names them), or the link's
 * state for pvx_link_up. */
#define STAT(f) offsetof(struct pvx_link_stats, f), false
static const struct family {
	const char *name, *type, *help;
	size_t off; /* of the counter in struct pvx_link_stats */
	bool up;    /* no counter: whether the link listens */
} families[] = {
    {"pvx_link_up", "gauge", "1 while the link's listener is bound.", 0, true},
    {"pvx_link_accepted_total", "counter",
     "Client connections accepted on the link (http: on the link of their "
     "first request).",
     STAT(accepted)},
    {"pvx_link_failed_total", "counter",
     "Connections refused or failed (backend, limits).", STAT(failed)},
    {"pvx_link_denied_total", "counter",
     "Clients refused because their address is not in allow.", STAT(denied)},
    {"pvx_link_active", "gauge",
     "Connections (http: requests in flight) open now.", STAT(active)},
    {"pvx_link_bytes_in_total", "counter", "Bytes from clients to the backend.",
     STAT(bytes_in)},
    {"pvx_link_bytes_out_total", "counter",
     "Bytes from the backend to clients.", STAT(bytes_out)},
    /* docs/xconnect.md, "Slow and idle clients" */
    {"pvx_link_refused_max_conns_total", "counter",
     "Connections closed at accept over max_conns.", STAT(refused_max_conns)},
    {"pvx_link_refused_per_client_total", "counter",
     "Connections closed at accept: their address over "
     "max_conns_per_client.",
     STAT(refused_per_client)},
    {"pvx_link_timeout_first_byte_total", "counter",
     "Connections closed: neither side sent a byte in time.",
     STAT(timeout_first_byte)},
    {"pvx_link_timeout_header_total", "counter",
     "http: requests answered 408, their head too slow.", STAT(timeout_header)},
    /* http, "Backend keep-alive" */
    {"pvx_link_requests_total", "counter", "http: requests routed to the link.",
     STAT(requests)},
    {"pvx_link_backend_connects_total", "counter",
     "http: new backend connections opened.", STAT(backend_connects)},
    {"pvx_link_backend_reused_total", "counter",
     "http: requests sent on a kept-alive backend connection.",
     STAT(backend_reused)},
    /* the kernel relay, "Kernel relay" */
    {"pvx_link_kernel_sessions", "gauge",
     "Connections relayed by the kernel (BPF sockmap) now.",
     STAT(kernel_sessions)},
    {"pvx_link_kernel_bytes_in_total", "counter",
     "Of bytes_in, those the kernel relay moved.", STAT(kernel_bytes_in)},
    {"pvx_link_kernel_bytes_out_total", "counter",
     "Of bytes_out, those the kernel relay moved.", STAT(kernel_bytes_out)},
};
#undef STAT

static uint64_t stat_of(const struct pvx_rc_info *i, const struct family *fm)
{
	uint64_t v;

	if (fm->up)
		return i->state == PVX_RC_LISTENING;
	memcpy(&v, (const char *)i->stats + fm->off, sizeof(v));
	return v;
}

static void link_family(FILE *f, const struct snap *s, const struct family *fm)
{
	pvx_prom_family(f, fm->name, fm->type, fm->help);
	for (size_t k = 0; k < s->n; k++) {
		const struct pvx_link_conf *c = s->v[k].conf;
		const char *labels[] = {"type",	     c->type,	  "name",
					c->name,     "ingress",	  c->ingress,
					"consumer",  c->consumer, "provider",
					c->provider, "target",	  c->target,
					NULL};

		pvx_prom_sample(f, fm->name, labels, stat_of(&s->v[k], fm));
	}
}

char *pvx_metrics_text(struct pvx_reconciler *rc, size_t *len)
{
	static const enum pvx_rc_state states[] = {
	    PVX_RC_LISTENING, PVX_RC_FAILED,  PVX_RC_UNSUPPORTED,
	    PVX_RC_DRAINING,  PVX_RC_WAITING,
	};
	struct snap s = {0};
	char *text = NULL;
	size_t n = 0;
	FILE *f;

	pvx_relay_sync();
	pvx_reconciler_foreach(rc, collect, &s);
	if (s.err)
		goto out;
	f = open_memstream(&text, &n);
	if (!f) {
		s.err = errno;
		goto out;
	}
	pvx_prom_family(f, "pvx_links", "gauge",
			"Links of pv-xconnect by state.");
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		const char *labels[] = {"state", pvx_rc_state_name(states[i]),
					NULL};
		uint64_t count = 0;

		for (size_t k = 0; k < s.n; k++)
			count += s.v[k].state == states[i];
		pvx_prom_sample(f, "pvx_links", labels, count);
	}
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		link_family(f, &s, &families[i]);
	pvx_prom_family(f, "pvx_kernel_relay_active", "gauge",
			"1 while sessions may go on the kernel relay.");
	{
		const char *labels[] = {
		    "mode", pvx_krelay_mode_name(pvx_krelay_mode()), NULL};

		pvx_prom_sample(f, "pvx_kernel_relay_active", labels,
				pvx_krelay_active());
	}
	if (fclose(f) != 0) {
		s.err = ENOMEM;
		free(text);
		text = NULL;
	}
out:
	free(s.v);
	if (s.err) {
		errno = s.err;
		return NULL;
	}
	*len = n;
	return text;
}

/* Prometheus metrics of the data plane (see metrics.h). The links are
 * listed once, then written family by family: the text format wants all
 * samples of a metric together after its header. */
#include "xconnect/metrics.h"

#include <errno.h>
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

enum stat_id {
	ST_ACCEPTED,
	ST_FAILED,
	ST_DENIED,
	ST_ACTIVE,
	ST_IN,
	ST_OUT,
	ST_UP,
	ST_REFUSED_MAX,	   /* docs/xconnect.md, "Slow and idle clients" */
	ST_REFUSED_CLIENT, /* same */
	ST_TIMEOUT_FIRST,  /* same */
	ST_TIMEOUT_HEADER, /* same */
	ST_REQUESTS,	   /* http, "Backend keep-alive" */
	ST_BE_CONNECTS,	   /* same */
	ST_BE_REUSED,	   /* same */
	ST_KSESSIONS,	   /* the kernel relay, docs/xconnect.md */
	ST_KIN,		   /* same */
	ST_KOUT,	   /* same */
};

static uint64_t stat_of(const struct pvx_rc_info *i, enum stat_id id)
{
	switch (id) {
	case ST_ACCEPTED:
		return i->stats->accepted;
	case ST_FAILED:
		return i->stats->failed;
	case ST_DENIED:
		return i->stats->denied;
	case ST_ACTIVE:
		return i->stats->active;
	case ST_IN:
		return i->stats->bytes_in;
	case ST_OUT:
		return i->stats->bytes_out;
	case ST_UP:
		return i->state == PVX_RC_LISTENING;
	case ST_REFUSED_MAX:
		return i->stats->refused_max_conns;
	case ST_REFUSED_CLIENT:
		return i->stats->refused_per_client;
	case ST_TIMEOUT_FIRST:
		return i->stats->timeout_first_byte;
	case ST_TIMEOUT_HEADER:
		return i->stats->timeout_header;
	case ST_REQUESTS:
		return i->stats->requests;
	case ST_BE_CONNECTS:
		return i->stats->backend_connects;
	case ST_BE_REUSED:
		return i->stats->backend_reused;
	case ST_KSESSIONS:
		return i->stats->kernel_sessions;
	case ST_KIN:
		return i->stats->kernel_bytes_in;
	case ST_KOUT:
		return i->stats->kernel_bytes_out;
	}
	return 0;
}

static void link_family(FILE *f, const struct snap *s, const char *name,
			const char *type, const char *help, enum stat_id id)
{
	pvx_prom_family(f, name, type, help);
	for (size_t k = 0; k < s->n; k++) {
		const struct pvx_link_conf *c = s->v[k].conf;
		const char *labels[] = {"type",	     c->type,	  "name",
					c->name,     "ingress",	  c->ingress,
					"consumer",  c->consumer, "provider",
					c->provider, "target",	  c->target,
					NULL};

		pvx_prom_sample(f, name, labels, stat_of(&s->v[k], id));
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
	link_family(f, &s, "pvx_link_up", "gauge",
		    "1 while the link's listener is bound.", ST_UP);
	link_family(f, &s, "pvx_link_accepted_total", "counter",
		    "Client connections accepted on the link (http: on the "
		    "link of their first request).",
		    ST_ACCEPTED);
	link_family(f, &s, "pvx_link_failed_total", "counter",
		    "Connections refused or failed (backend, limits).",
		    ST_FAILED);
	link_family(f, &s, "pvx_link_denied_total", "counter",
		    "Clients refused because their address is not in allow.",
		    ST_DENIED);
	link_family(f, &s, "pvx_link_active", "gauge",
		    "Connections (http: requests in flight) open now.",
		    ST_ACTIVE);
	link_family(f, &s, "pvx_link_bytes_in_total", "counter",
		    "Bytes from clients to the backend.", ST_IN);
	link_family(f, &s, "pvx_link_bytes_out_total", "counter",
		    "Bytes from the backend to clients.", ST_OUT);
	link_family(f, &s, "pvx_link_refused_max_conns_total", "counter",
		    "Connections closed at accept over max_conns.",
		    ST_REFUSED_MAX);
	link_family(f, &s, "pvx_link_refused_per_client_total", "counter",
		    "Connections closed at accept: their address over "
		    "max_conns_per_client.",
		    ST_REFUSED_CLIENT);
	link_family(f, &s, "pvx_link_timeout_first_byte_total", "counter",
		    "Connections closed: neither side sent a byte in time.",
		    ST_TIMEOUT_FIRST);
	link_family(f, &s, "pvx_link_timeout_header_total", "counter",
		    "http: requests answered 408, their head too slow.",
		    ST_TIMEOUT_HEADER);
	link_family(f, &s, "pvx_link_requests_total", "counter",
		    "http: requests routed to the link.", ST_REQUESTS);
	link_family(f, &s, "pvx_link_backend_connects_total", "counter",
		    "http: new backend connections opened.", ST_BE_CONNECTS);
	link_family(f, &s, "pvx_link_backend_reused_total", "counter",
		    "http: requests sent on a kept-alive backend connection.",
		    ST_BE_REUSED);
	link_family(f, &s, "pvx_link_kernel_sessions", "gauge",
		    "Connections relayed by the kernel (BPF sockmap) now.",
		    ST_KSESSIONS);
	link_family(f, &s, "pvx_link_kernel_bytes_in_total", "counter",
		    "Of bytes_in, those the kernel relay moved.", ST_KIN);
	link_family(f, &s, "pvx_link_kernel_bytes_out_total", "counter",
		    "Of bytes_out, those the kernel relay moved.", ST_KOUT);
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

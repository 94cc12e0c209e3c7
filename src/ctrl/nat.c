/* Pool NAT and isolation (docs/runtime.md "NAT and isolation"): pvx's own
 * nftables table, replaced as a whole in one transaction whenever the
 * pools change, and IPv4 forwarding turned on only while a pool needs it.
 *
 * libnftables rather than libmnl + libnftnl: the table is written in nft's
 * own language, the one `nft list ruleset` prints back, and replaced
 * atomically by one batch; with libnftnl every match, payload offset and
 * register would be built by hand for the same result. The values put in
 * the text are parsed ones (CIDRs, addresses) and interface names the
 * loader checked (A-Za-z0-9._-), so nothing from the state is quoted
 * through. */
#include "ctrl/nat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IP_FORWARD "/proc/sys/net/ipv4/ip_forward"
/* Refused at once, not dropped: a blocked peer sees an error, no hang. */
#define REJECT "reject with icmp type admin-prohibited"

static bool is_bridge(const struct pvc_pool *p)
{
	return !pvc_pool_is_macvlan(p);
}

bool pvc_nat_wants_forward(const struct pvc_state *st)
{
	size_t open = 0;

	for (size_t i = 0; i < st->n_pools; i++) {
		const struct pvc_pool *p = &st->pools[i];
		if (!is_bridge(p))
			continue;
		if (p->nat)
			return true;
		open += !p->isolate;
	}
	return open >= 2;
}

static void cidr(const struct pvc_pool *p, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &p->subnet.addr, a, sizeof(a));
	snprintf(buf, len, "%s/%d", a, p->subnet.prefix);
}

/* Forwarded traffic between pools: an isolated pool neither sends to nor
 * receives from another pool (xconnect links do not go through here: the
 * data plane connects from the device). Then, under the guard, what the
 * pools need and nothing else. */
static void forward_chain(FILE *f, const struct pvc_state *st, bool guard)
{
	char a[40], b[40];

	fprintf(f, "\tchain forward {\n\t\ttype filter hook forward "
		   "priority filter; policy accept;\n");
	for (size_t i = 0; i < st->n_pools; i++) {
		const struct pvc_pool *p = &st->pools[i];
		if (!is_bridge(p))
			continue;
		cidr(p, a, sizeof(a));
		for (size_t j = 0; j < st->n_pools; j++) {
			const struct pvc_pool *q = &st->pools[j];
			if (j == i || !is_bridge(q) ||
			    (!p->isolate && !q->isolate))
				continue;
			cidr(q, b, sizeof(b));
			fprintf(f, "\t\tip saddr %s ip daddr %s " REJECT "\n",
				a, b);
		}
	}
	if (guard) {
		fprintf(f, "\t\tct state established,related accept\n");
		for (size_t i = 0; i < st->n_pools; i++) {
			const struct pvc_pool *p = &st->pools[i];
			if (!is_bridge(p))
				continue;
			cidr(p, a, sizeof(a));
			/* Within a pool (bridged frames pass here too when
			 * br_netfilter is loaded). */
			fprintf(f, "\t\tip saddr %s ip daddr %s accept\n", a,
				a);
			if (p->nat) {
				fprintf(f,
					"\t\tiifname \"%s\" ip saddr %s "
					"accept\n",
					p->bridge, a);
				continue;
			}
			for (size_t j = 0; j < st->n_pools && !p->isolate;
			     j++) {
				const struct pvc_pool *q = &st->pools[j];
				if (j == i || !is_bridge(q) || q->isolate)
					continue;
				cidr(q, b, sizeof(b));
				fprintf(f,
					"\t\tiifname \"%s\" ip saddr %s "
					"ip daddr %s accept\n",
					p->bridge, a, b);
			}
		}
		/* What the kernel answers with forwarding off. */
		fprintf(f, "\t\treject with icmp type host-unreachable\n");
	}
	fprintf(f, "\t}\n");
}

/* An isolated pool reaches the device at its gateway only. */
static bool input_chain(FILE *f, const struct pvc_state *st)
{
	char gw[INET_ADDRSTRLEN];
	bool any = false;

	for (size_t i = 0; i < st->n_pools; i++) {
		const struct pvc_pool *p = &st->pools[i];
		if (!is_bridge(p) || !p->isolate)
			continue;
		if (!any)
			fprintf(f, "\tchain input {\n\t\ttype filter hook "
				   "input priority filter; policy accept;\n");
		any = true;
		inet_ntop(AF_INET, &p->gateway, gw, sizeof(gw));
		fprintf(f,
			"\t\tiifname \"%s\" fib daddr type local ip daddr != "
			"%s " REJECT "\n",
			p->bridge, gw);
	}
	if (any)
		fprintf(f, "\t}\n");
	return any;
}

static void postrouting_chain(FILE *f, const struct pvc_state *st)
{
	char a[40];
	bool any = false;

	for (size_t i = 0; i < st->n_pools; i++) {
		const struct pvc_pool *p = &st->pools[i];
		if (!is_bridge(p) || !p->nat)
			continue;
		if (!any)
			fprintf(f, "\tchain postrouting {\n\t\ttype nat hook "
				   "postrouting priority srcnat; policy "
				   "accept;\n");
		any = true;
		cidr(p, a, sizeof(a));
		fprintf(f, "\t\tip saddr %s oifname != \"%s\" masquerade\n", a,
			p->bridge);
	}
	if (any)
		fprintf(f, "\t}\n");
}

static size_t n_bridge_pools(const struct pvc_state *st)
{
	size_t n = 0;

	for (size_t i = 0; st && i < st->n_pools; i++)
		n += is_bridge(&st->pools[i]);
	return n;
}

char *pvc_nat_script(const struct pvc_state *st, bool guard)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	/* "add, delete, add": the same transaction whether the table was
	 * there or not, and never a moment without it. */
	fprintf(f, "add table ip " PVC_NAT_TABLE "\n"
		   "delete table ip " PVC_NAT_TABLE "\n");
	if (n_bridge_pools(st)) {
		fprintf(f, "table ip " PVC_NAT_TABLE " {\n");
		forward_chain(f, st, guard);
		input_chain(f, st);
		postrouting_chain(f, st);
		fprintf(f, "}\n");
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- effects ---- */

static int nft_run(const char *script, char *err, size_t errlen)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *msg;
	int r = 0;

	if (!ctx) {
		snprintf(err, errlen, "nftables: out of memory");
		return -ENOMEM;
	}
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	if (nft_run_cmd_from_buffer(ctx, script) != 0) {
		msg = nft_ctx_get_error_buffer(ctx);
		snprintf(err, errlen, "nftables: %.*s",
			 msg ? (int)strcspn(msg, "\n") : 0, msg ? msg : "");
		r = -EIO;
	}
	nft_ctx_free(ctx);
	return r;
}

static int fwd_read(void)
{
	char c = 0;
	int fd = open(IP_FORWARD, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == '1';
}

static int fwd_write(int v, char *err, size_t errlen)
{
	int fd = open(IP_FORWARD, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0 || write(fd, v ? "1\n" : "0\n", 2) != 2) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", IP_FORWARD, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return r;
}

void pvc_nat_init(struct pvc_nat *n)
{
	n->table = false;
	n->fwd_saved = -1;
	n->forward_on = false;
}

int pvc_nat_apply(struct pvc_nat *n, const struct pvc_state *st,
		  void (*record)(void *), void *arg, char *err, size_t errlen)
{
	bool want_fwd = st && pvc_nat_wants_forward(st);
	bool want_table = n_bridge_pools(st) > 0;
	bool guard;
	char *script;
	int r, cur;

	if (!want_table && !n->table && n->fwd_saved < 0)
		return 0;
	cur = want_fwd && n->fwd_saved < 0 ? fwd_read() : 0;
	if (cur < 0) {
		snprintf(err, errlen, "%s: %s", IP_FORWARD, strerror(-cur));
		return cur;
	}
	/* Forwarding on before pvx came: the admin's routing stays as it
	 * is; off: pvx turns it on, guarded. */
	guard = want_fwd && (n->fwd_saved >= 0 || cur == 0);
	if (want_fwd && n->fwd_saved < 0 && cur == 0)
		n->fwd_saved = 0;
	if (want_table && !n->table) {
		n->table = true;
		record(arg);
	}
	script = pvc_nat_script(want_table ? st : NULL, guard);
	if (!script) {
		snprintf(err, errlen, "nftables: out of memory");
		return -ENOMEM;
	}
	r = nft_run(script, err, errlen);
	free(script);
	if (r < 0)
		return r;
	if (!want_table && n->table) {
		n->table = false;
		record(arg);
	}
	/* The guard is in place before forwarding goes on, and forwarding
	 * goes off before the guard goes away. */
	if (want_fwd && n->fwd_saved == 0 && !n->forward_on) {
		record(arg);
		r = fwd_write(1, err, errlen);
		if (r < 0)
			return r;
		n->forward_on = true;
	} else if (!want_fwd && n->fwd_saved >= 0) {
		r = fwd_write(n->fwd_saved, err, errlen);
		if (r < 0)
			return r;
		n->fwd_saved = -1;
		n->forward_on = false;
		record(arg);
	}
	return 0;
}

int pvc_nat_remove(struct pvc_nat *n, char *err, size_t errlen)
{
	int r = 0, r2 = 0;
	char *script;

	if (n->fwd_saved >= 0) {
		r = fwd_write(n->fwd_saved, err, errlen);
		n->fwd_saved = -1;
		n->forward_on = false;
	}
	if (n->table) {
		script = pvc_nat_script(NULL, false);
		r2 = script ? nft_run(script, err, errlen) : -ENOMEM;
		free(script);
		n->table = false;
	}
	return r < 0 ? r : r2;
}

json_t *pvc_nat_record(const struct pvc_nat *n)
{
	json_t *j;

	if (!n->table && n->fwd_saved < 0)
		return NULL;
	j = json_object();
	if (n->table)
		json_object_set_new(j, "table", json_string(PVC_NAT_TABLE));
	if (n->fwd_saved >= 0)
		json_object_set_new(j, "ip_forward",
				    json_integer(n->fwd_saved));
	return j;
}

int pvc_nat_cleanup(const json_t *rec, char *err, size_t errlen)
{
	struct pvc_nat n;
	json_t *v;

	pvc_nat_init(&n);
	if (!json_is_object(rec))
		return 0;
	v = json_object_get(rec, "table");
	n.table = json_is_string(v) &&
		  strcmp(json_string_value(v), PVC_NAT_TABLE) == 0;
	v = json_object_get(rec, "ip_forward");
	if (json_is_integer(v) &&
	    (json_integer_value(v) == 0 || json_integer_value(v) == 1))
		n.fwd_saved = (int)json_integer_value(v);
	return pvc_nat_remove(&n, err, errlen);
}

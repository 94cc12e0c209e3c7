/* Loading a device state (SPEC §3): a state.json text or a directory of
 * revision files becomes the model of state.h. The shape of every file and
 * each field on its own are checked here; the cross-checks (references,
 * duplicates, collisions) are in validate.c. Every problem is collected. */
#include "ctrl/state.h"
#include "common/file.h"
#include "common/words.h"
#include "ctrl/state_keys.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define JPATH_MAX 256
#define IFNAME_MAX 15 /* IFNAMSIZ - 1 */
#define SAFE_RULE "1-64 of A-Za-z0-9._-, not starting with '.' or '-'"

/* What the loader is working on: where messages go and which file they
 * name. */
struct ld {
	struct pvx_errlist *el;
	const char *file;
	bool oom;
};

/* Adds "<file>: <path>: <reason>" ("<file>: <reason>" when path is ""). */
__attribute__((format(printf, 3, 4))) static void
lerr(struct ld *l, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (pvx_errlist_vadd_at(l->el, l->file, path, fmt, ap) < 0)
		l->oom = true;
	va_end(ap);
}

static char *ldup(struct ld *l, const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		l->oom = true;
	return d;
}

static void *lcalloc(struct ld *l, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		l->oom = true;
	return p;
}

/* JSON paths for messages; an absurdly long one is cut (marked '~'), not
 * overflowed. */
static void jcut(char *buf, int n)
{
	if (n >= JPATH_MAX)
		buf[JPATH_MAX - 2] = '~';
}

static void jkey(char *buf, const char *path, const char *key)
{
	if (*path)
		jcut(buf, snprintf(buf, JPATH_MAX, "%s.%s", path, key));
	else
		jcut(buf, snprintf(buf, JPATH_MAX, "%s", key));
}

static void jidx(char *buf, const char *path, size_t i)
{
	jcut(buf, snprintf(buf, JPATH_MAX, "%s[%zu]", path, i));
}

enum kind {
	K_STRING, /* a JSON string */
	K_OBJECT, /* a JSON object */
	K_ARRAY,  /* a JSON array */
	K_BOOL,	  /* true or false */
};

static const char *const kind_names[] = {"string", "object", "array",
					 "boolean"};

static bool is_kind(const json_t *v, enum kind k)
{
	switch (k) {
	case K_STRING:
		return json_is_string(v);
	case K_OBJECT:
		return json_is_object(v);
	case K_ARRAY:
		return json_is_array(v);
	case K_BOOL:
		return json_is_boolean(v);
	}
	return false;
}

/* obj[key] of kind k; NULL when absent (null counts as absent) or of the
 * wrong kind, which is reported, as is a missing required member. */
static json_t *member(struct ld *l, const json_t *obj, const char *path,
		      const char *key, enum kind k, bool required)
{
	char p[JPATH_MAX];
	json_t *v = json_object_get(obj, key);

	jkey(p, path, key);
	if (!v || json_is_null(v)) {
		if (required)
			lerr(l, p, "missing (required)");
		return NULL;
	}
	if (!is_kind(v, k)) {
		lerr(l, p, "expected %s", kind_names[k]);
		return NULL;
	}
	return v;
}

static const char *mstr(struct ld *l, const json_t *obj, const char *path,
			const char *key, bool required)
{
	json_t *v = member(l, obj, path, key, K_STRING, required);
	char p[JPATH_MAX];

	if (!v)
		return NULL;
	if (required && !*json_string_value(v)) {
		jkey(p, path, key);
		lerr(l, p, "must not be empty");
		return NULL;
	}
	return json_string_value(v);
}

/* A port: integer 1-65535 or a numeric string. */
static int json_port(struct ld *l, const json_t *v, const char *p,
		     uint16_t *port)
{
	char err[128];

	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);
		if (n < 1 || n > 65535) {
			lerr(l, p,
			     "port %" JSON_INTEGER_FORMAT
			     " out of range (1-65535)",
			     n);
			return -EINVAL;
		}
		*port = (uint16_t)n;
		return 0;
	}
	if (json_is_string(v)) {
		if (pvx_port_parse(json_string_value(v), port, err,
				   sizeof(err))) {
			lerr(l, p, "%s", err);
			return -EINVAL;
		}
		return 0;
	}
	lerr(l, p, "expected integer (1-65535) or numeric string");
	return -EINVAL;
}

static bool ifname_ok(const char *s)
{
	return pvx_name_is_safe(s) && strlen(s) <= IFNAME_MAX;
}

/* "aa:bb:cc:dd:ee:ff", unicast (a veth refuses a multicast address). */
static int mac_check(const char *s, char *err, size_t errlen)
{
	static const char hex[] = "0123456789abcdefABCDEF";

	if (strlen(s) != 17)
		goto bad;
	for (size_t i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':')
				goto bad;
		} else if (!strchr(hex, s[i])) {
			goto bad;
		}
	}
	if (strtoul((char[]){s[0], s[1], 0}, NULL, 16) & 1) {
		snprintf(err, errlen, "'%s' is a multicast address", s);
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(err, errlen,
		 "'%.32s' is not a MAC address (aa:bb:cc:dd:ee:ff)", s);
	return -EINVAL;
}

/* ---- device.json ---- */

static void parse_pool(struct ld *l, const char *name, const json_t *v,
		       struct pvc_pool *p)
{
	char path[JPATH_MAX], sp[JPATH_MAX], err[128];
	const char *type, *bridge, *subnet, *gw, *parent;
	bool macvlan;
	json_t *nat;

	snprintf(path, sizeof(path), "network.pools.%s", name);
	p->name = ldup(l, name);
	p->invalid = true;
	if (!pvx_name_is_safe(name))
		lerr(l, path, "pool name '%s' is not safe (%s)", name,
		     SAFE_RULE);
	if (!json_is_object(v)) {
		lerr(l, path, "expected object");
		return;
	}
	type = mstr(l, v, path, "type", false);
	macvlan = type && strcmp(type, "macvlan") == 0;
	if (type && !macvlan && strcmp(type, "bridge") != 0) {
		jkey(sp, path, "type");
		lerr(l, sp,
		     "unsupported pool type '%s' (expected bridge or macvlan)",
		     type);
	}
	p->type = ldup(l, macvlan ? "macvlan" : "bridge");
	/* A macvlan pool hangs off the device's parent interface; no bridge
	 * of pvx's, no gateway address on the device. */
	parent = macvlan ? mstr(l, v, path, "parent", true) : NULL;
	if (parent) {
		jkey(sp, path, "parent");
		if (!ifname_ok(parent))
			lerr(l, sp,
			     "parent '%s' is not a valid interface name (%s, "
			     "at most %d bytes)",
			     parent, SAFE_RULE, IFNAME_MAX);
		else
			p->parent = ldup(l, parent);
	}
	bridge = macvlan ? NULL : mstr(l, v, path, "bridge", true);
	if (bridge) {
		jkey(sp, path, "bridge");
		if (strlen(bridge) > IFNAME_MAX)
			lerr(l, sp, "bridge name '%s' longer than %d bytes",
			     bridge, IFNAME_MAX);
		else if (!pvx_name_is_safe(bridge))
			lerr(l, sp,
			     "bridge name '%s' is not a valid "
			     "interface name (%s)",
			     bridge, SAFE_RULE);
		else
			p->bridge = ldup(l, bridge);
	}
	nat = member(l, v, path, "nat", K_BOOL, false);
	p->nat = nat && json_is_true(nat);
	if (p->nat && macvlan) {
		jkey(sp, path, "nat");
		lerr(l, sp,
		     "nat applies to bridge pools only (a macvlan pool's "
		     "traffic leaves through its parent, past the device)");
	}
	nat = member(l, v, path, "isolate", K_BOOL, false);
	p->isolate = !nat || json_is_true(nat);

	subnet = mstr(l, v, path, "subnet", true);
	if (!subnet)
		return;
	jkey(sp, path, "subnet");
	if (pvx_cidr_parse(subnet, &p->subnet, err, sizeof(err))) {
		lerr(l, sp, "%s", err);
		return;
	}
	/* A /30 holds the gateway and one container; smaller has no room. */
	if (p->subnet.prefix > 30) {
		lerr(l, sp, "subnet %s too small (at most /30)", subnet);
		return;
	}
	gw = mstr(l, v, path, "gateway", false);
	if (gw) {
		jkey(sp, path, "gateway");
		if (pvx_ipv4_parse(gw, &p->gateway, err, sizeof(err))) {
			lerr(l, sp, "%s", err);
			return;
		}
	} else if (!json_object_get(v, "gateway") ||
		   json_is_null(json_object_get(v, "gateway"))) {
		/* Not written: the first address of the subnet. */
		p->gateway.s_addr = htonl(ntohl(p->subnet.addr.s_addr) + 1);
	} else {
		return; /* wrong type, reported */
	}
	p->invalid = false;
}

static int cmp_pool(const void *a, const void *b)
{
	const struct pvc_pool *x = a, *y = b;
	return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

/* An optional integer member in [min, max]; 0 when absent. */
static void mint_range(struct ld *l, const json_t *obj, const char *path,
		       const char *key, json_int_t min, json_int_t max,
		       int *out)
{
	json_t *v = json_object_get(obj, key);
	char p[JPATH_MAX];
	json_int_t n;

	*out = 0;
	if (!v || json_is_null(v))
		return;
	jkey(p, path, key);
	if (!json_is_integer(v)) {
		lerr(l, p,
		     "expected integer (%" JSON_INTEGER_FORMAT
		     "-%" JSON_INTEGER_FORMAT ")",
		     min, max);
		return;
	}
	n = json_integer_value(v);
	if (n < min || n > max) {
		lerr(l, p,
		     "%" JSON_INTEGER_FORMAT
		     " out of range (%" JSON_INTEGER_FORMAT
		     "-%" JSON_INTEGER_FORMAT ")",
		     n, min, max);
		return;
	}
	*out = (int)n;
}

/* The added fields of an ingress rule: PROXY protocol, source
 * allowlist, per-rule limits (docs/formats.md). */
static void parse_ingress_extra(struct ld *l, const json_t *v, const char *path,
				struct pvc_ingress *g)
{
	char sp[JPATH_MAX], ip[JPATH_MAX], err[160];
	struct pvx_prefix pf;
	const char *s;
	json_t *a, *e;
	size_t i;

	s = mstr(l, v, path, "proxy_protocol", false);
	if (s) {
		jkey(sp, path, "proxy_protocol");
		if (strcmp(s, "v1") != 0 && strcmp(s, "v2") != 0)
			lerr(l, sp,
			     "unknown PROXY protocol version '%.32s' (expected "
			     "v1 or v2)",
			     s);
		else
			g->proxy_protocol = ldup(l, s);
	}
	a = member(l, v, path, "allow", K_ARRAY, false);
	if (a) {
		jkey(sp, path, "allow");
		if (json_array_size(a) == 0) {
			lerr(l, sp,
			     "empty list (it would refuse every client; omit "
			     "the field to allow everyone)");
		} else if (json_array_size(a) > PVC_ALLOW_MAX) {
			lerr(l, sp, "%zu entries (at most %d)",
			     json_array_size(a), PVC_ALLOW_MAX);
		} else {
			g->allow =
			    lcalloc(l, json_array_size(a), sizeof(*g->allow));
			if (!g->allow)
				return;
			json_array_foreach(a, i, e)
			{
				jidx(ip, sp, i);
				if (!json_is_string(e)) {
					lerr(l, ip, "expected string (CIDR)");
					continue;
				}
				if (pvx_prefix_parse(json_string_value(e), &pf,
						     err, sizeof(err))) {
					lerr(l, ip, "%s", err);
					continue;
				}
				g->allow[g->n_allow++] =
				    ldup(l, json_string_value(e));
			}
		}
	}
	mint_range(l, v, path, "max_conns", 1, PVC_MAX_CONNS_MAX,
		   &g->max_conns);
	mint_range(l, v, path, "connect_timeout_ms", 1,
		   PVC_CONNECT_TIMEOUT_MS_MAX, &g->connect_timeout_ms);
	mint_range(l, v, path, "idle_timeout_s", 1, PVC_IDLE_TIMEOUT_S_MAX,
		   &g->idle_timeout_s);
}

static void parse_ingress(struct ld *l, const json_t *v, const char *path,
			  struct pvc_ingress *g)
{
	char sp[JPATH_MAX], err[160], pbuf[PVX_PATH_MAX];
	const char *s;
	int r;

	if (!json_is_object(v)) {
		lerr(l, path, "expected object");
		return;
	}
	g->name = ldup(l, mstr(l, v, path, "name", true));
	g->type = ldup(l, mstr(l, v, path, "type", true));
	g->external = ldup(l, mstr(l, v, path, "external", true));
	g->provider = ldup(l, mstr(l, v, path, "provider", true));
	g->service = ldup(l, mstr(l, v, path, "service", true));
	g->interface = ldup(l, mstr(l, v, path, "interface", false));
	g->path = ldup(l, "");
	parse_ingress_extra(l, v, path, g);
	if (!g->type)
		return;
	if (strcmp(g->type, "tcp") != 0 && strcmp(g->type, "http") != 0) {
		jkey(sp, path, "type");
		lerr(l, sp, "unknown ingress type '%s' (expected tcp or http)",
		     g->type);
		return;
	}
	{
		json_t *b = member(l, v, path, "strip_prefix", K_BOOL, false);

		jkey(sp, path, "strip_prefix");
		if (b && strcmp(g->type, "http") != 0)
			lerr(l, sp,
			     "only for http rules (a %s rule has no path)",
			     g->type);
		else if (b)
			g->keep_prefix = json_is_false(b);
	}
	if (!g->external)
		return;
	s = g->external;
	jkey(sp, path, "external");
	if (strcmp(g->type, "tcp") == 0) {
		r = pvx_hostport_parse(s, &g->ext, err, sizeof(err));
	} else {
		r = pvx_hostport_parse_http(s, &g->ext, pbuf, sizeof(pbuf), err,
					    sizeof(err));
		if (!r) {
			free(g->path);
			g->path = ldup(l, pbuf);
		}
	}
	if (r) {
		lerr(l, sp, "%s", err);
		/* family 0 marks it unparsed for the cross-checks */
		memset(&g->ext, 0, sizeof(g->ext));
	}
}

static void parse_device(struct ld *l, const json_t *dev, struct pvc_state *st)
{
	json_t *net, *pools, *ingress, *v;
	const char *key;
	char p[JPATH_MAX];
	size_t i;

	if (!json_is_object(dev)) {
		lerr(l, "", "expected object");
		return;
	}
	net = member(l, dev, "", "network", K_OBJECT, false);
	pools =
	    net ? member(l, net, "network", "pools", K_OBJECT, false) : NULL;
	if (pools && json_object_size(pools)) {
		st->pools =
		    lcalloc(l, json_object_size(pools), sizeof(*st->pools));
		if (!st->pools)
			return;
		json_object_foreach(pools, key, v)
		{
			parse_pool(l, key, v, &st->pools[st->n_pools++]);
		}
		qsort(st->pools, st->n_pools, sizeof(*st->pools), cmp_pool);
	}
	ingress = member(l, dev, "", "ingress", K_ARRAY, false);
	if (ingress && json_array_size(ingress)) {
		st->ingress =
		    lcalloc(l, json_array_size(ingress), sizeof(*st->ingress));
		if (!st->ingress)
			return;
		json_array_foreach(ingress, i, v)
		{
			jidx(p, "ingress", i);
			parse_ingress(l, v, p, &st->ingress[st->n_ingress++]);
		}
	}
}

/* ---- <container>/run.json ---- */

static char **parse_exec(struct ld *l, const json_t *run)
{
	json_t *a = member(l, run, "", "exec", K_ARRAY, true), *v;
	char **argv, p[JPATH_MAX];
	size_t i;

	if (!a)
		return NULL;
	if (!json_array_size(a)) {
		lerr(l, "exec", "must not be empty for a process container");
		return NULL;
	}
	argv = lcalloc(l, json_array_size(a) + 1, sizeof(*argv));
	if (!argv)
		return NULL;
	json_array_foreach(a, i, v)
	{
		jidx(p, "exec", i);
		if (!json_is_string(v))
			lerr(l, p, "expected string");
		else if (i == 0 && !*json_string_value(v))
			lerr(l, p, "must not be empty");
		else
			argv[i] = ldup(l, json_string_value(v));
		if (!argv[i]) { /* keep the vector NULL-terminated */
			for (size_t j = 0; j < i; j++)
				free(argv[j]);
			free(argv);
			return NULL;
		}
	}
	return argv;
}

static char **parse_env(struct ld *l, const json_t *run)
{
	json_t *o = member(l, run, "", "env", K_OBJECT, false), *v;
	const char *key;
	char **env, p[JPATH_MAX];
	size_t n = 0;

	if (!o || !json_object_size(o))
		return NULL;
	env = lcalloc(l, json_object_size(o) + 1, sizeof(*env));
	if (!env)
		return NULL;
	json_object_foreach(o, key, v)
	{
		jkey(p, "env", key);
		if (!*key || strchr(key, '=')) {
			lerr(l, p, "invalid variable name '%s'", key);
			continue;
		}
		if (!json_is_string(v)) {
			lerr(l, p, "expected string");
			continue;
		}
		if (asprintf(&env[n], "%s=%s", key, json_string_value(v)) < 0) {
			env[n] = NULL;
			l->oom = true;
			continue;
		}
		n++;
	}
	return env;
}

static void parse_iface(struct ld *l, const json_t *v, const char *path,
			const char *netpool, struct pvc_iface *f)
{
	char sp[JPATH_MAX], err[128];
	const char *name, *pool, *ip, *mac;

	f->static_prefix = -1;
	if (!json_is_object(v)) {
		lerr(l, path, "expected object");
		return;
	}
	name = mstr(l, v, path, "name", false);
	if (name && !ifname_ok(name)) {
		jkey(sp, path, "name");
		lerr(l, sp,
		     "interface name '%s' is not valid (%s, at most %d "
		     "bytes)",
		     name, SAFE_RULE, IFNAME_MAX);
		name = NULL;
	}
	f->name = ldup(l, name ? name : "eth0");
	pool = mstr(l, v, path, "pool", false);
	if (!pool && !json_object_get(v, "pool")) {
		pool = netpool;
		f->pool_default = true;
		if (!pool)
			lerr(l, path,
			     "no pool (set pool here or network.pool)");
	}
	f->pool = ldup(l, pool);
	ip = mstr(l, v, path, "ipv4_address", false);
	if (ip) {
		jkey(sp, path, "ipv4_address");
		if (pvx_ipv4_cidr_or_bare_parse(
			ip, &f->static_ip, &f->static_prefix, err, sizeof(err)))
			lerr(l, sp, "%s", err);
		else
			f->has_static = true;
	}
	mac = mstr(l, v, path, "mac_address", false);
	if (mac) {
		jkey(sp, path, "mac_address");
		if (mac_check(mac, err, sizeof(err)))
			lerr(l, sp, "%s", err);
		else
			f->mac = ldup(l, mac);
	}
}

/* Pantavisor's shorthand for a static address of the default interface:
 * network.ip (bare or CIDR) and network.mac, beside network.pool. They set
 * eth0; written together with network.interfaces[], they must agree with
 * its eth0 entry (docs/formats.md). */
static void parse_short_static(struct ld *l, const json_t *net,
			       struct pvc_container *c)
{
	const char *ip = mstr(l, net, "network", "ip", false);
	const char *mac = mstr(l, net, "network", "mac", false);
	struct pvc_iface *f = NULL;
	struct in_addr a;
	char err[128], p[JPATH_MAX];
	int prefix;

	if (!ip && !mac)
		return;
	for (size_t i = 0; i < c->n_ifaces; i++)
		if (c->ifaces[i].name && strcmp(c->ifaces[i].name, "eth0") == 0)
			f = &c->ifaces[i];
	if (!f) {
		lerr(l, ip ? "network.ip" : "network.mac",
		     "sets eth0, which network.interfaces[] does not list");
		return;
	}
	if (ip &&
	    pvx_ipv4_cidr_or_bare_parse(ip, &a, &prefix, err, sizeof(err))) {
		lerr(l, "network.ip", "%s", err);
	} else if (ip && f->has_static &&
		   (f->static_ip.s_addr != a.s_addr ||
		    (prefix >= 0 && f->static_prefix >= 0 &&
		     prefix != f->static_prefix))) {
		snprintf(p, sizeof(p), "network.interfaces[%d].ipv4_address",
			 f->src_index);
		lerr(l, "network.ip", "'%s' disagrees with %s", ip, p);
	} else if (ip && !f->has_static) {
		f->has_static = true;
		f->ip_short = true;
		f->static_ip = a;
		f->static_prefix = prefix;
	} else if (ip && f->static_prefix < 0) {
		f->static_prefix = prefix;
	}
	if (mac && mac_check(mac, err, sizeof(err))) {
		lerr(l, "network.mac", "%s", err);
	} else if (mac && f->mac && strcasecmp(f->mac, mac) != 0) {
		snprintf(p, sizeof(p), "network.interfaces[%d].mac_address",
			 f->src_index);
		lerr(l, "network.mac", "'%s' disagrees with %s", mac, p);
	} else if (mac && !f->mac) {
		f->mac = ldup(l, mac);
	}
}

static void parse_network(struct ld *l, const json_t *run,
			  struct pvc_container *c)
{
	json_t *net = member(l, run, "", "network", K_OBJECT, false);
	json_t *ifs, *v;
	const char *mode, *pool, *host;
	char p[JPATH_MAX];
	size_t i;

	c->mode = PVC_NET_NONE;
	if (!net)
		return;
	mode = mstr(l, net, "network", "mode", false);
	pool = mstr(l, net, "network", "pool", false);
	host = mstr(l, net, "network", "hostname", false);
	ifs = member(l, net, "network", "interfaces", K_ARRAY, false);
	if (host) {
		if (pvx_name_is_safe(host))
			c->hostname = ldup(l, host);
		else
			lerr(l, "network.hostname",
			     "hostname '%s' is not valid (%s)", host,
			     SAFE_RULE);
	}
	if (!mode) {
		/* Interfaces naming their pools imply the pool mode too. */
		if (pool || (ifs && json_array_size(ifs)))
			c->mode = PVC_NET_POOL;
	} else if (strcmp(mode, "pool") == 0) {
		c->mode = PVC_NET_POOL;
	} else if (strcmp(mode, "host") == 0) {
		c->mode = PVC_NET_HOST;
	} else if (strcmp(mode, "none") == 0) {
		c->mode = PVC_NET_NONE;
	} else {
		lerr(l, "network.mode",
		     "unknown network mode '%s' (expected pool, host or none)",
		     mode);
		return;
	}
	if (c->mode != PVC_NET_POOL) {
		/* A static address must never be dropped without a word. */
		if (json_object_get(net, "ip") || json_object_get(net, "mac"))
			lerr(l,
			     json_object_get(net, "ip") ? "network.ip"
							: "network.mac",
			     "a static address needs network mode pool");
		return; /* interfaces only matter on a pool */
	}
	if (!ifs || !json_array_size(ifs)) {
		c->ifaces = lcalloc(l, 1, sizeof(*c->ifaces));
		if (!c->ifaces)
			return;
		c->n_ifaces = 1;
		c->ifaces[0].name = ldup(l, "eth0");
		c->ifaces[0].pool = ldup(l, pool);
		c->ifaces[0].static_prefix = -1;
		c->ifaces[0].src_index = -1;
		c->ifaces[0].pool_default = true;
		if (!pool)
			lerr(l, "network",
			     "mode pool needs a pool (network.pool or "
			     "network.interfaces[].pool)");
		parse_short_static(l, net, c);
		return;
	}
	c->ifaces = lcalloc(l, json_array_size(ifs), sizeof(*c->ifaces));
	if (!c->ifaces)
		return;
	json_array_foreach(ifs, i, v)
	{
		struct pvc_iface *f = &c->ifaces[c->n_ifaces++];
		jidx(p, "network.interfaces", i);
		f->src_index = (int)i;
		parse_iface(l, v, p, pool, f);
		for (size_t j = 0; j < i && f->name; j++) {
			if (c->ifaces[j].name &&
			    strcmp(c->ifaces[j].name, f->name) == 0) {
				lerr(l, p,
				     "duplicate interface '%s' (also "
				     "network.interfaces[%zu])",
				     f->name, j);
				break;
			}
		}
	}
	parse_short_static(l, net, c);
}

/* obj[key], or obj[alias] (Pantavisor's other spelling of it, read the
 * same way); both written and different is an error naming both. *used
 * (if not NULL) gets the key the value came from, for later messages. */
static const char *alias_str(struct ld *l, const json_t *obj, const char *path,
			     const char *key, const char *alias, bool required,
			     const char **used)
{
	bool has_k = json_object_get(obj, key) &&
		     !json_is_null(json_object_get(obj, key));
	bool has_a = json_object_get(obj, alias) &&
		     !json_is_null(json_object_get(obj, alias));
	const char *k, *a;
	char p[JPATH_MAX];

	if (used)
		*used = has_k || !has_a ? key : alias;
	if (!has_a)
		return mstr(l, obj, path, key, required);
	a = mstr(l, obj, path, alias, required);
	if (!has_k)
		return a;
	k = mstr(l, obj, path, key, required);
	if (k && a && strcmp(k, a) != 0) {
		jkey(p, path, key);
		lerr(l, p, "'%s' disagrees with %s '%s' (Pantavisor's alias)",
		     k, alias, a);
		return NULL;
	}
	return k && a ? k : NULL;
}

static void parse_require(struct ld *l, const json_t *v, const char *path,
			  bool optional, struct pvc_require *r)
{
	char sp[JPATH_MAX], err[160], pbuf[PVX_PATH_MAX];
	const char *tkey = "target";
	struct pvx_hostport hp;

	r->optional = optional;
	if (!json_is_object(v)) {
		lerr(l, path, "expected object");
		return;
	}
	r->name = ldup(l, alias_str(l, v, path, "name", "service", true, NULL));
	r->type = ldup(l, mstr(l, v, path, "type", true));
	r->target =
	    ldup(l, alias_str(l, v, path, "target", "external", true, &tkey));
	r->role =
	    ldup(l, alias_str(l, v, path, "role", "provider", false, NULL));
	r->interface = ldup(l, mstr(l, v, path, "interface", false));
	if (!r->type || !r->target)
		return;
	/* The target is where the consumer connects: a socket path for
	 * unix, an address for tcp, an address and path prefix for http.
	 * pv-xconnect refuses a graph with a bad target as a whole, so it
	 * must be refused here, with the state. */
	jkey(sp, path, tkey);
	if (strcmp(r->type, "unix") == 0 &&
	    pvx_path_check(r->target, err, sizeof(err)))
		lerr(l, sp, "%s", err);
	else if (strcmp(r->type, "tcp") == 0 &&
		 pvx_hostport_parse(r->target, &hp, err, sizeof(err)))
		lerr(l, sp, "%s", err);
	else if (strcmp(r->type, "http") == 0 &&
		 pvx_hostport_parse_http(r->target, &hp, pbuf, sizeof(pbuf),
					 err, sizeof(err)))
		lerr(l, sp, "%s", err);
}

/* Two requirements of one container with the same service name and target
 * would be two links of one identity (consumer, name, target). */
static void check_duplicate_requires(struct ld *l,
				     const struct pvc_container *c,
				     char (*paths)[JPATH_MAX])
{
	for (size_t i = 0; i < c->n_requires; i++) {
		const struct pvc_require *a = &c->requires[i];
		if (!a->name || !a->target)
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct pvc_require *b = &c->requires[j];
			if (b->name && b->target &&
			    strcmp(a->name, b->name) == 0 &&
			    strcmp(a->target, b->target) == 0) {
				lerr(l, paths[i],
				     "duplicate requirement of '%s' at '%s' "
				     "(also %s)",
				     a->name, a->target, paths[j]);
				break;
			}
		}
	}
}

static void parse_requires(struct ld *l, const json_t *run,
			   struct pvc_container *c)
{
	static const char *const keys[] = {"required", "optional"};
	json_t *svc = member(l, run, "", "services", K_OBJECT, false);
	json_t *a[2] = {NULL, NULL}, *v;
	char p[JPATH_MAX], base[JPATH_MAX];
	char(*paths)[JPATH_MAX];
	size_t i, n = 0;

	if (!svc)
		return;
	for (int k = 0; k < 2; k++) {
		a[k] = member(l, svc, "services", keys[k], K_ARRAY, false);
		n += a[k] ? json_array_size(a[k]) : 0;
	}
	if (!n)
		return;
	c->requires = lcalloc(l, n, sizeof(*c->requires));
	paths = lcalloc(l, n, sizeof(*paths));
	if (!c->requires || !paths) {
		free(paths);
		return;
	}
	for (int k = 0; k < 2; k++) {
		if (!a[k])
			continue;
		jkey(base, "services", keys[k]);
		json_array_foreach(a[k], i, v)
		{
			jidx(p, base, i);
			snprintf(paths[c->n_requires], JPATH_MAX, "%s", p);
			parse_require(l, v, p, k == 1,
				      &c->requires[c->n_requires++]);
		}
	}
	check_duplicate_requires(l, c, paths);
	free(paths);
}

static bool type_known(const char *type)
{
	for (const char *const *t = pvc_container_types; *t; t++)
		if (strcmp(*t, type) == 0)
			return true;
	return false;
}

/* "process or lxc" */
static void type_list(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const char *const *t = pvc_container_types; *t && n < len; t++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s",
				      t == pvc_container_types ? ""
				      : t[1]		       ? ", "
							       : " or ",
				      *t);
}

/* One of two spellings of a member (Pantavisor's docs use both): the
 * value, or NULL when neither is given; *which names the one used. Both
 * given and different is an error (reported, NULL returned). */
static json_t *alias_member(struct ld *l, const json_t *o, const char *path,
			    const char *key, const char *alias,
			    const char **which)
{
	json_t *a = json_object_get(o, key), *b = json_object_get(o, alias);
	char p[JPATH_MAX];

	if (a && json_is_null(a))
		a = NULL;
	if (b && json_is_null(b))
		b = NULL;
	if (a && b && !json_equal(a, b)) {
		jkey(p, path, key);
		lerr(l, p, "'%s' and '%s' are both given and differ", key,
		     alias);
		return NULL;
	}
	*which = a ? key : alias;
	return a ? a : b;
}

/* A number in [min, max] (integer or real) into *out; absent keeps *out. */
static void recovery_num(struct ld *l, const json_t *o, const char *key,
			 const char *what, double min, double max, double *out)
{
	json_t *v = json_object_get(o, key);
	char p[JPATH_MAX];

	if (!v || json_is_null(v))
		return;
	jkey(p, "auto_recovery", key);
	if (!json_is_number(v) || json_number_value(v) < min ||
	    json_number_value(v) > max) {
		lerr(l, p, "expected %s in %g-%g", what, min, max);
		return;
	}
	*out = json_number_value(v);
}

/* "auto_recovery": {"policy"|"type", "max_retries"|"maximum_retry_count",
 * "retry_delay", "backoff_factor", "reset_window"} (docs/formats.md). */
static void parse_recovery(struct ld *l, const json_t *run,
			   struct pvc_recovery *r)
{
	static const char *const names[] = {"no", "always", "on-failure",
					    "unless-stopped"};
	json_t *o = member(l, run, "", "auto_recovery", K_OBJECT, false), *v;
	const char *which;
	char p[JPATH_MAX];

	*r = (struct pvc_recovery){
	    .policy = PVC_RECOVER_NO,
	    .retry_delay = 1,
	    .backoff_factor = 2,
	    .reset_window = 60,
	};
	if (!o)
		return;
	v = alias_member(l, o, "auto_recovery", "policy", "type", &which);
	if (v) {
		size_t i = 0;

		jkey(p, "auto_recovery", which);
		while (i < 4 && !(json_is_string(v) &&
				  strcmp(json_string_value(v), names[i]) == 0))
			i++;
		if (i == 4)
			lerr(l, p,
			     "expected one of \"no\", \"always\", "
			     "\"on-failure\", \"unless-stopped\"");
		else
			r->policy = (enum pvc_recovery_policy)i;
	}
	v = alias_member(l, o, "auto_recovery", "max_retries",
			 "maximum_retry_count", &which);
	if (v) {
		jkey(p, "auto_recovery", which);
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 1000000)
			lerr(l, p,
			     "expected an integer in 0-1000000 (0: no "
			     "limit)");
		else
			r->max_retries = (unsigned)json_integer_value(v);
	}
	recovery_num(l, o, "retry_delay", "seconds", 0, 86400, &r->retry_delay);
	recovery_num(l, o, "backoff_factor", "a factor", 1, 100,
		     &r->backoff_factor);
	recovery_num(l, o, "reset_window", "seconds", 0, 7 * 86400,
		     &r->reset_window);
}

static void parse_run(struct ld *l, const char *name, const json_t *run,
		      struct pvc_container *c)
{
	const char *s;

	if (!pvx_name_is_safe(name))
		lerr(l, "", "container name '%s' is not safe (%s)", name,
		     SAFE_RULE);
	if (!json_is_object(run)) {
		lerr(l, "", "expected object");
		return;
	}
	s = mstr(l, run, "", "name", false);
	if (s && strcmp(s, name) != 0)
		lerr(l, "name", "'%s' differs from the folder name '%s'", s,
		     name);
	s = mstr(l, run, "", "type", false);
	if (s && !*s) {
		lerr(l, "type", "must not be empty");
		s = NULL;
	}
	if (s && !type_known(s)) {
		const char *near = pvx_closest_word(s, pvc_container_types);
		char list[128];
		type_list(list, sizeof(list));
		if (near)
			lerr(l, "type",
			     "unknown container type '%s' (did you mean "
			     "'%s'? expected %s)",
			     s, near, list);
		else
			lerr(l, "type",
			     "unknown container type '%s' (expected %s)", s,
			     list);
		s = NULL;
	}
	/* Pantavisor's containers are LXC ones: started by something else. */
	c->type = ldup(l, s ? s : "lxc");
	if (c->type && strcmp(c->type, "process") == 0)
		c->exec = parse_exec(l, run);
	c->env = parse_env(l, run);
	parse_recovery(l, run, &c->recovery);
	parse_network(l, run, c);
	parse_requires(l, run, c);
}

/* ---- <container>/services.json ---- */

static void parse_export(struct ld *l, const json_t *v, const char *path,
			 struct pvc_export *e)
{
	char sp[JPATH_MAX], err[160];
	json_t *port;
	const char *sock;
	bool has_sock;

	if (!json_is_object(v)) {
		lerr(l, path, "expected object");
		return;
	}
	e->name = ldup(l, mstr(l, v, path, "name", true));
	e->type = ldup(l, mstr(l, v, path, "type", true));
	port = json_object_get(v, "port");
	if (port && json_is_null(port))
		port = NULL;
	if (port) {
		jkey(sp, path, "port");
		json_port(l, port, sp, &e->port);
	}
	sock = mstr(l, v, path, "socket", false);
	has_sock = json_object_get(v, "socket") &&
		   !json_is_null(json_object_get(v, "socket"));
	if (sock) {
		jkey(sp, path, "socket");
		if (pvx_path_check(sock, err, sizeof(err)))
			lerr(l, sp, "%s", err);
		else
			e->socket = ldup(l, sock);
	}
	if (!e->type)
		return;
	if (strcmp(e->type, "tcp") == 0 && !port && !has_sock)
		lerr(l, path, "tcp service '%s' needs a port or a socket",
		     e->name ? e->name : "");
	else if ((strcmp(e->type, "unix") == 0 ||
		  strcmp(e->type, "rest") == 0 ||
		  strcmp(e->type, "http") == 0) &&
		 !has_sock)
		lerr(l, path, "%s service '%s' needs a socket", e->type,
		     e->name ? e->name : "");
}

static void parse_services(struct ld *l, const json_t *svc,
			   struct pvc_container *c)
{
	const json_t *a;
	json_t *v;
	const char *base = "";
	char p[JPATH_MAX];
	size_t i;

	if (json_is_array(svc)) {
		a = svc; /* older manifests: a bare array */
	} else if (json_is_object(svc)) {
		json_t *spec = json_object_get(svc, "#spec");
		if (spec &&
		    (!json_is_string(spec) ||
		     strcmp(json_string_value(spec), PVC_SERVICES_SPEC) != 0))
			lerr(l, "#spec", "unsupported spec (expected '%s')",
			     PVC_SERVICES_SPEC);
		a = member(l, svc, "", "services", K_ARRAY, true);
		base = "services";
		if (!a)
			return;
	} else {
		lerr(l, "", "expected object or array");
		return;
	}
	if (!json_array_size(a))
		return;
	c->exports = lcalloc(l, json_array_size(a), sizeof(*c->exports));
	if (!c->exports)
		return;
	json_array_foreach(a, i, v)
	{
		jidx(p, base, i);
		parse_export(l, v, p, &c->exports[c->n_exports++]);
	}
}

/* ---- sources: the files found, before parsing ---- */

struct src_ct {
	char *name;
	json_t *run; /* NULL: run.json could not be read */
	json_t *svc;
	bool has_run;	 /* a run.json exists (even if unreadable) */
	bool svc_broken; /* services.json exists but is unreadable */
};

struct src {
	json_t *device;
	struct src_ct *v;
	size_t n, cap;
};

static struct src_ct *src_get(struct src *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct src_ct *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		s->v = v;
		s->cap = cap;
	}
	memset(&s->v[s->n], 0, sizeof(s->v[s->n]));
	s->v[s->n].name = strdup(name);
	if (!s->v[s->n].name)
		return NULL;
	return &s->v[s->n++];
}

static void src_free(struct src *s)
{
	json_decref(s->device);
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].name);
		json_decref(s->v[i].run);
		json_decref(s->v[i].svc);
	}
	free(s->v);
}

static int cmp_src(const void *a, const void *b)
{
	const struct src_ct *x = a, *y = b;
	return strcmp(x->name, y->name);
}

/* Length of the "<file>" part of "<file>: …" / "<file>:<line>:…". */
static size_t file_part(const char *msg)
{
	size_t n = strcspn(msg, ":");
	return n;
}

static int cmp_file(const char *a, const char *b)
{
	size_t la = file_part(a), lb = file_part(b);
	int r = strncmp(a, b, la < lb ? la : lb);
	return r ? r : (la > lb) - (la < lb);
}

/* Stable sort of messages n0.. by file: parse errors and cross-checks of
 * one file end up together, each group in the order found. */
static void group_by_file(struct pvx_errlist *el, size_t n0)
{
	for (size_t i = n0 + 1; i < el->n; i++) {
		char *m = el->msgs[i];
		size_t j = i;
		while (j > n0 && cmp_file(el->msgs[j - 1], m) > 0) {
			el->msgs[j] = el->msgs[j - 1];
			j--;
		}
		el->msgs[j] = m;
	}
}

/* Parses and validates what was found. n0: the error count before
 * loading (syntax errors found on the way count). */
/* Unknown keys and a state without containers: warnings of a state that
 * is otherwise fine (docs/formats.md, "Unknown keys"). */
static void check_keys(const struct src *s, const char *origin,
		       struct pvx_errlist *warn)
{
	char file[PATH_MAX];
	size_t n = 0;

	if (s->device)
		pvc_keys_check(s->device, PVC_KL_DEVICE, "device.json", "",
			       warn);
	for (size_t i = 0; i < s->n; i++) {
		const struct src_ct *sc = &s->v[i];
		if (!sc->has_run)
			continue;
		n++;
		snprintf(file, sizeof(file), "%s/run.json", sc->name);
		if (sc->run)
			pvc_keys_check(sc->run, PVC_KL_RUN, file, "", warn);
		snprintf(file, sizeof(file), "%s/services.json", sc->name);
		if (sc->svc)
			pvc_keys_check(sc->svc,
				       json_is_array(sc->svc) ? PVC_KL_EXPORT
							      : PVC_KL_SERVICES,
				       file, "", warn);
	}
	if (!n)
		pvx_errlist_add(warn,
				"%s: no container (no <container>/run.json "
				"in the state)",
				origin);
}

static struct pvc_state *build(struct src *s, const char *origin,
			       struct pvx_errlist *el, size_t n0)
{
	struct ld l = {.el = el, .file = "device.json"};
	struct pvc_state *st = calloc(1, sizeof(*st));
	char file[PATH_MAX];
	size_t n = 0, nerr;

	if (!st)
		goto oom;
	if (s->device)
		parse_device(&l, s->device, st);
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), cmp_src);
	for (size_t i = 0; i < s->n; i++)
		n += s->v[i].has_run;
	if (n) {
		st->containers = lcalloc(&l, n, sizeof(*st->containers));
		if (!st->containers)
			goto oom;
	}
	/* Sorted by name: the graph and the API list them in this order. */
	for (size_t i = 0; i < s->n; i++) {
		struct src_ct *sc = &s->v[i];
		struct pvc_container *c;
		if (!sc->has_run)
			continue; /* services.json alone is not a container */
		c = &st->containers[st->n_containers++];
		c->name = ldup(&l, sc->name);
		c->invalid = true;
		if (!sc->run)
			continue; /* unreadable: already reported */
		nerr = el->n;
		snprintf(file, sizeof(file), "%s/run.json", sc->name);
		l.file = file;
		parse_run(&l, sc->name, sc->run, c);
		if (sc->svc) {
			snprintf(file, sizeof(file), "%s/services.json",
				 sc->name);
			parse_services(&l, sc->svc, c);
		}
		c->invalid = el->n > nerr || sc->svc_broken;
	}
	if (l.oom)
		goto oom;
	/* Cross-checks run even after errors, so that every problem is
	 * reported at once; they skip what did not parse. */
	pvc_state_validate(st, el);
	if (el->n > n0) {
		group_by_file(el, n0);
		goto fail;
	}
	check_keys(s, origin, &st->warnings);
	return st;
oom:
	pvx_errlist_add(el, "out of memory while loading the state");
fail:
	pvc_state_free(st);
	return NULL;
}

/* Registers a "<folder>/<file>" key or path; others are not ours. */
static int src_add_file(struct src *s, const char *key, json_t *v)
{
	const char *slash = strchr(key, '/');
	struct src_ct *c;
	char name[PATH_MAX];
	size_t n;
	bool run;

	if (!slash || slash == key || strchr(slash + 1, '/'))
		return 0;
	if (strcmp(slash + 1, "run.json") == 0)
		run = true;
	else if (strcmp(slash + 1, "services.json") == 0)
		run = false;
	else
		return 0;
	n = (size_t)(slash - key);
	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, key, n);
	name[n] = '\0';
	/* bsp/run.json is Pantavisor's board support package, _sigs/ and
	 * _config/ hold signatures and configuration: not containers. */
	if (strcmp(name, "bsp") == 0 || name[0] == '_')
		return 0;
	c = src_get(s, name);
	if (!c)
		return -ENOMEM;
	if (run) {
		c->has_run = true;
		c->run = json_incref(v);
	} else {
		c->svc = json_incref(v);
	}
	return 0;
}

static struct pvc_state *load_json(json_t *root, const char *origin,
				   struct pvx_errlist *el, size_t n0)
{
	struct src s = {0};
	struct pvc_state *st;
	const char *key;
	json_t *spec, *v;

	if (!json_is_object(root)) {
		pvx_errlist_add(el, "%s: expected a JSON object", origin);
		return NULL;
	}
	spec = json_object_get(root, "#spec");
	if (!spec)
		pvx_errlist_add(el, "%s: #spec: missing (expected '%s')",
				origin, PVC_STATE_SPEC);
	else if (!json_is_string(spec) ||
		 strcmp(json_string_value(spec), PVC_STATE_SPEC) != 0)
		pvx_errlist_add(el,
				"%s: #spec: unsupported spec (expected '%s')",
				origin, PVC_STATE_SPEC);
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "device.json") == 0) {
			s.device = json_incref(v);
		} else if (src_add_file(&s, key, v)) {
			pvx_errlist_add(el, "out of memory while loading the "
					    "state");
			src_free(&s);
			return NULL;
		}
	}
	st = build(&s, origin, el, n0);
	src_free(&s);
	return st;
}

struct pvc_state *pvc_state_load_buf(const char *buf, size_t len,
				     const char *origin, struct pvx_errlist *el)
{
	size_t n0 = el->n;
	struct pvc_state *st;
	json_error_t je;
	json_t *root;

	if (!origin)
		origin = "state.json";
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		pvx_errlist_add(el, "%s:%d:%d: %s", origin, je.line, je.column,
				je.text);
		return NULL;
	}
	st = load_json(root, origin, el, n0);
	json_decref(root);
	return st;
}

/* Parses the file at path as JSON; errors are reported against name
 * ("state.json", "web/run.json"). NULL when missing (*missing set, if
 * given) or broken (reported). */
static json_t *load_json_file(const char *path, const char *name,
			      struct pvx_errlist *el, bool *missing)
{
	json_error_t je;
	size_t len;
	char *buf;
	json_t *j;
	int r;

	if (missing)
		*missing = false;
	r = pvx_file_read(path, PVC_STATE_FILE_MAX, &buf, &len);
	if (r == -ENOENT && missing) {
		*missing = true;
		return NULL;
	}
	if (r < 0) {
		pvx_errlist_add(el, "%s: %s", name, pvx_file_strerror(r));
		return NULL;
	}
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (!j) {
		if (je.line > 0)
			pvx_errlist_add(el, "%s:%d:%d: %s", name, je.line,
					je.column, je.text);
		else
			pvx_errlist_add(el, "%s: %s", name, je.text);
	}
	return j;
}

/* Reads dir/rel: the JSON (new reference), or NULL when missing (*missing
 * set) or broken (reported). */
static json_t *load_file(const char *dir, const char *rel,
			 struct pvx_errlist *el, bool *missing)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, rel);

	if (n < 0 || (size_t)n >= sizeof(path)) {
		*missing = false;
		pvx_errlist_add(el, "%s: path too long", rel);
		return NULL;
	}
	return load_json_file(path, rel, el, missing);
}

static struct pvc_state *load_dir(const char *dir, struct pvx_errlist *el,
				  size_t n0)
{
	struct src s = {0};
	struct pvc_state *st = NULL;
	struct dirent *de;
	char rel[PATH_MAX], sub[PATH_MAX];
	struct stat sb;
	bool missing;
	DIR *d;

	s.device = load_file(dir, "device.json", el, &missing);
	d = opendir(dir);
	if (!d) {
		pvx_errlist_add(el, "%s: %s", dir, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		struct src_ct *c;
		json_t *run;

		/* Hidden folders and Pantavisor's non-container ones. */
		if (n[0] == '.' || n[0] == '_' || strcmp(n, "bsp") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, n);
		if (stat(sub, &sb) != 0 || !S_ISDIR(sb.st_mode))
			continue;
		snprintf(rel, sizeof(rel), "%s/run.json", n);
		run = load_file(dir, rel, el, &missing);
		if (missing)
			continue; /* a folder that is not a container */
		c = src_get(&s, n);
		if (!c) {
			json_decref(run);
			pvx_errlist_add(el, "out of memory while loading the "
					    "state");
			goto out;
		}
		c->has_run = true;
		c->run = run;
		snprintf(rel, sizeof(rel), "%s/services.json", n);
		c->svc = load_file(dir, rel, el, &missing);
		c->svc_broken = !c->svc && !missing;
	}
	st = build(&s, dir, el, n0);
out:
	if (d)
		closedir(d);
	src_free(&s);
	return st;
}

struct pvc_state *pvc_state_load_path(const char *path, struct pvx_errlist *el)
{
	size_t n0 = el->n;
	struct pvc_state *st;
	const char *base;
	struct stat sb;
	json_t *root;

	if (stat(path, &sb) != 0) {
		pvx_errlist_add(el, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (S_ISDIR(sb.st_mode))
		return load_dir(path, el, n0);
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	root = load_json_file(path, base, el, NULL);
	if (!root)
		return NULL;
	st = load_json(root, base, el, n0);
	json_decref(root);
	return st;
}

/* Parsing and validation of the xconnect graph (SPEC §5) into link
 * configurations, and the helpers that copy, compare and free them. Pure:
 * every problem goes to the caller's error list as "graph[i].field: …". */
#include "xconnect/link.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* A pid is an int on Linux; the kernel's maximum is 2^22. */
#define PID_LIMIT INT_MAX
/* Bounds of the added fields; the same as pv-ctrld's (ctrl/state.h). */
#define PVX_ALLOW_MAX 256
#define PVX_MAX_CONNS_MAX 1000000
#define PVX_CONNECT_TIMEOUT_MS_MAX 600000
#define PVX_IDLE_TIMEOUT_S_MAX 604800

void pvx_link_conf_clear(struct pvx_link_conf *c)
{
	if (!c)
		return;
	free(c->type);
	free(c->name);
	free(c->consumer);
	free(c->provider);
	free(c->role);
	free(c->interface);
	free(c->target);
	free(c->socket);
	free(c->ingress);
	free(c->allow);
	memset(c, 0, sizeof(*c));
}

void pvx_link_confs_free(struct pvx_link_conf *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		pvx_link_conf_clear(&v[i]);
	free(v);
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

int pvx_link_conf_copy(struct pvx_link_conf *dst,
		       const struct pvx_link_conf *src)
{
	/* Parsed fields (addresses, pids) by value, then the strings. */
	*dst = *src;
	dst->type = dst->name = dst->consumer = dst->provider = NULL;
	dst->role = dst->interface = dst->target = dst->socket = NULL;
	dst->ingress = NULL;
	dst->allow = NULL;
	if (src->allow) {
		dst->allow = calloc(src->n_allow, sizeof(*dst->allow));
		if (!dst->allow) {
			pvx_link_conf_clear(dst);
			return -ENOMEM;
		}
		memcpy(dst->allow, src->allow,
		       src->n_allow * sizeof(*dst->allow));
	}
	if (dup_str(&dst->type, src->type) || dup_str(&dst->name, src->name) ||
	    dup_str(&dst->consumer, src->consumer) ||
	    dup_str(&dst->provider, src->provider) ||
	    dup_str(&dst->role, src->role) ||
	    dup_str(&dst->interface, src->interface) ||
	    dup_str(&dst->target, src->target) ||
	    dup_str(&dst->socket, src->socket) ||
	    dup_str(&dst->ingress, src->ingress)) {
		pvx_link_conf_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool pvx_link_conf_extra_equal(const struct pvx_link_conf *a,
			       const struct pvx_link_conf *b)
{
	if (a->proxy_protocol != b->proxy_protocol ||
	    a->keep_prefix != b->keep_prefix || a->max_conns != b->max_conns ||
	    a->connect_timeout_ms != b->connect_timeout_ms ||
	    a->idle_timeout_s != b->idle_timeout_s)
		return false;
	if (!a->allow || !b->allow)
		return a->allow == b->allow;
	return a->n_allow == b->n_allow &&
	       memcmp(a->allow, b->allow, a->n_allow * sizeof(*a->allow)) == 0;
}

bool pvx_link_conf_same_identity(const struct pvx_link_conf *a,
				 const struct pvx_link_conf *b)
{
	return str_eq(a->consumer, b->consumer) && str_eq(a->name, b->name) &&
	       str_eq(a->target, b->target);
}

static const char *const str_fields[] = {
    "type", "name",	 "consumer", "provider",
    "role", "interface", "target",   "socket",
};

static char **str_field_ptr(struct pvx_link_conf *c, size_t i)
{
	char **p[] = {&c->type, &c->name,      &c->consumer, &c->provider,
		      &c->role, &c->interface, &c->target,   &c->socket};
	return p[i];
}

static int get_pid(json_t *o, const char *key, pid_t *pid, size_t idx,
		   struct pvx_errlist *el)
{
	json_t *v = json_object_get(o, key);
	json_int_t n;

	if (!v) {
		pvx_errlist_add(el, "graph[%zu].%s: missing", idx, key);
		return -EINVAL;
	}
	if (!json_is_integer(v)) {
		pvx_errlist_add(el, "graph[%zu].%s: expected an integer", idx,
				key);
		return -EINVAL;
	}
	n = json_integer_value(v);
	if (n < 0 || n > PID_LIMIT) {
		pvx_errlist_add(el,
				"graph[%zu].%s: %" JSON_INTEGER_FORMAT
				" is not a valid pid (0 or positive)",
				idx, key, n);
		return -EINVAL;
	}
	*pid = (pid_t)n;
	return 0;
}

/* socket: "" (no backend yet), "IP:PORT", "[v6]:PORT" or an absolute
 * path. Something that looks like neither is reported as a path problem
 * when it has no ':', since "run/x.sock" is a relative path, not an
 * address. */
static int parse_backend(struct pvx_link_conf *c, size_t idx,
			 struct pvx_errlist *el)
{
	const char *s = c->socket;
	char err[160];

	if (!*s) {
		c->backend = PVX_BACKEND_NONE;
		return 0;
	}
	if (s[0] == '/' || (!strchr(s, ':') && s[0] != '[')) {
		if (pvx_path_check(s, err, sizeof(err)) < 0) {
			pvx_errlist_add(el, "graph[%zu].socket: %s", idx, err);
			return -EINVAL;
		}
		c->backend = PVX_BACKEND_UNIX;
		strcpy(c->backend_path, s); /* fits: checked above */
		return 0;
	}
	if (pvx_hostport_parse(s, &c->backend_hp, err, sizeof(err)) < 0) {
		pvx_errlist_add(el, "graph[%zu].socket: %s", idx, err);
		return -EINVAL;
	}
	c->backend = PVX_BACKEND_TCP;
	return 0;
}

static int parse_target(struct pvx_link_conf *c, size_t idx,
			struct pvx_errlist *el)
{
	char err[160], path[PVX_PATH_MAX];
	int r = 0;

	if (strcmp(c->type, "tcp") == 0)
		r = pvx_hostport_parse(c->target, &c->listen, err, sizeof(err));
	else if (strcmp(c->type, "http") == 0)
		r = pvx_hostport_parse_http(c->target, &c->listen, path,
					    sizeof(path), err, sizeof(err));
	else if (strcmp(c->type, "unix") == 0)
		r = pvx_path_check(c->target, err, sizeof(err));
	if (r < 0) {
		pvx_errlist_add(el, "graph[%zu].target: %s", idx, err);
		return -EINVAL;
	}
	return 0;
}

/* An optional integer added field in [1, max]; 0 when absent. */
static void get_limit(json_t *o, const char *key, long max, long *out,
		      size_t idx, struct pvx_errlist *el)
{
	json_t *v = json_object_get(o, key);
	json_int_t n;

	*out = 0;
	if (!v)
		return;
	if (!json_is_integer(v)) {
		pvx_errlist_add(el, "graph[%zu].%s: expected an integer", idx,
				key);
		return;
	}
	n = json_integer_value(v);
	if (n < 1 || n > max) {
		pvx_errlist_add(el,
				"graph[%zu].%s: %" JSON_INTEGER_FORMAT
				" out of range (1-%ld)",
				idx, key, n, max);
		return;
	}
	*out = (long)n;
}

/* The added fields of ingress links (docs/graph.md): PROXY protocol,
 * source allowlist, per-link limits. Absent: off, everyone, defaults. */
static int parse_extra(json_t *o, size_t idx, struct pvx_link_conf *c,
		       struct pvx_errlist *el)
{
	char err[160];
	json_t *v, *e;
	long n;
	size_t i;

	v = json_object_get(o, "proxy_protocol");
	if (v && (!json_is_string(v) ||
		  pvx_pp_parse(json_string_value(v), &c->proxy_protocol) < 0))
		pvx_errlist_add(el,
				"graph[%zu].proxy_protocol: expected \"v1\" or "
				"\"v2\"",
				idx);
	v = json_object_get(o, "allow");
	if (v && (!json_is_array(v) || json_array_size(v) == 0 ||
		  json_array_size(v) > PVX_ALLOW_MAX)) {
		pvx_errlist_add(el,
				"graph[%zu].allow: expected an array of 1-%d "
				"CIDRs",
				idx, PVX_ALLOW_MAX);
	} else if (v) {
		c->allow = calloc(json_array_size(v), sizeof(*c->allow));
		if (!c->allow)
			return -ENOMEM;
		json_array_foreach(v, i, e)
		{
			if (!json_is_string(e)) {
				pvx_errlist_add(
				    el,
				    "graph[%zu].allow[%zu]: expected "
				    "a string",
				    idx, i);
				continue;
			}
			if (pvx_prefix_parse(json_string_value(e),
					     &c->allow[c->n_allow], err,
					     sizeof(err)) < 0) {
				pvx_errlist_add(el, "graph[%zu].allow[%zu]: %s",
						idx, i, err);
				continue;
			}
			c->n_allow++;
		}
	}
	get_limit(o, "max_conns", PVX_MAX_CONNS_MAX, &n, idx, el);
	c->max_conns = (unsigned)n;
	get_limit(o, "connect_timeout_ms", PVX_CONNECT_TIMEOUT_MS_MAX, &n, idx,
		  el);
	c->connect_timeout_ms = (int)n;
	get_limit(o, "idle_timeout_s", PVX_IDLE_TIMEOUT_S_MAX, &n, idx, el);
	c->idle_timeout_s = (int)n;
	v = json_object_get(o, "strip_prefix");
	if (v && !json_is_boolean(v))
		pvx_errlist_add(el,
				"graph[%zu].strip_prefix: expected true or "
				"false",
				idx);
	c->keep_prefix = v && json_is_false(v);
	return 0;
}

static bool type_is_known(const char *type)
{
	return strcmp(type, "tcp") == 0 || strcmp(type, "http") == 0 ||
	       strcmp(type, "unix") == 0;
}

static int parse_entry(json_t *o, size_t idx, struct pvx_link_conf *c,
		       struct pvx_errlist *el)
{
	size_t nerr = el->n;
	json_t *v;
	pid_t pid;

	if (!json_is_object(o)) {
		pvx_errlist_add(el, "graph[%zu]: expected an object", idx);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]);
	     i++) {
		v = json_object_get(o, str_fields[i]);
		if (!v) {
			pvx_errlist_add(el, "graph[%zu].%s: missing", idx,
					str_fields[i]);
			continue;
		}
		if (!json_is_string(v)) {
			pvx_errlist_add(el, "graph[%zu].%s: expected a string",
					idx, str_fields[i]);
			continue;
		}
		if (dup_str(str_field_ptr(c, i), json_string_value(v)) < 0)
			return -ENOMEM;
	}
	if (get_pid(o, "consumer_pid", &pid, idx, el) == 0)
		c->consumer_pid = pid;
	if (get_pid(o, "provider_pid", &pid, idx, el) == 0)
		c->provider_pid = pid;
	/* "ingress" is one of the added fields; kept when it is a string,
	 * ignored otherwise like any other added field. */
	v = json_object_get(o, "ingress");
	if (json_is_string(v) && dup_str(&c->ingress, json_string_value(v)))
		return -ENOMEM;
	if (c->type && !*c->type)
		pvx_errlist_add(el, "graph[%zu].type: empty", idx);
	if (c->name && !*c->name)
		pvx_errlist_add(el, "graph[%zu].name: empty", idx);
	if (c->consumer && !*c->consumer)
		pvx_errlist_add(el, "graph[%zu].consumer: empty", idx);
	/* Types without a plugin here are kept unparsed: their target and
	 * socket may follow other rules (dbus names, device paths). */
	if (c->type && type_is_known(c->type)) {
		if (parse_extra(o, idx, c, el) < 0)
			return -ENOMEM;
		if (c->target)
			parse_target(c, idx, el);
		if (c->socket)
			parse_backend(c, idx, el);
	}
	return el->n == nerr ? 0 : -EINVAL;
}

int pvx_graph_parse(const char *buf, size_t len, struct pvx_link_conf **out,
		    size_t *n, struct pvx_errlist *el)
{
	struct pvx_link_conf *v = NULL;
	json_error_t jerr;
	json_t *root;
	size_t cnt = 0, nerr = el->n;
	int r = 0;

	*out = NULL;
	*n = 0;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			  &jerr);
	if (!root) {
		pvx_errlist_add(el, "graph: line %d column %d: %s", jerr.line,
				jerr.column, jerr.text);
		return -EINVAL;
	}
	if (!json_is_array(root)) {
		pvx_errlist_add(el, "graph: expected a JSON array");
		r = -EINVAL;
		goto out;
	}
	cnt = json_array_size(root);
	if (cnt) {
		v = calloc(cnt, sizeof(*v));
		if (!v) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < cnt; i++) {
		r = parse_entry(json_array_get(root, i), i, &v[i], el);
		if (r == -ENOMEM)
			goto out;
	}
	r = 0;
	/* Identity (consumer, name, target) must be unique; quadratic, but
	 * graphs are a few dozen links. Only complete entries are compared. */
	for (size_t i = 0; i < cnt; i++) {
		if (!v[i].consumer || !v[i].name || !v[i].target)
			continue;
		for (size_t j = 0; j < i; j++) {
			if (!v[j].consumer || !v[j].name || !v[j].target)
				continue;
			if (pvx_link_conf_same_identity(&v[i], &v[j])) {
				pvx_errlist_add(
				    el,
				    "graph[%zu]: duplicate link (consumer "
				    "'%s', name '%s', target '%s') of "
				    "graph[%zu]",
				    i, v[i].consumer, v[i].name, v[i].target,
				    j);
				break;
			}
		}
	}
	if (el->n != nerr)
		r = -EINVAL;
out:
	json_decref(root);
	if (r < 0) {
		pvx_link_confs_free(v, cnt);
		return r;
	}
	*out = v;
	*n = cnt;
	return 0;
}

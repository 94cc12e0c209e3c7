/* The one table of the keys pvx knows in a device state, and the walk that
 * warns about the others. A helper adding a field to a parser adds its row
 * here; docs/formats.md ("Unknown keys") lists the same. */
#include "ctrl/state_keys.h"
#include "common/words.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define KPATH_MAX 256

#define PVX(l, n, c)                                                           \
	{                                                                      \
		PVC_KL_##l, n, PVC_KL_##c, PVC_KEY_PVX                         \
	}
#define PV(l, n)                                                               \
	{                                                                      \
		PVC_KL_##l, n, PVC_KL_NONE, PVC_KEY_PANTAVISOR                 \
	}

const struct pvc_known_key pvc_known_keys[] = {
    /* device.json */
    PV(DEVICE, "#spec"),
    PVX(DEVICE, "network", DEVICE_NET),
    PVX(DEVICE, "ingress", INGRESS),
    PV(DEVICE, "disks"),
    PV(DEVICE, "groups"),
    PV(DEVICE, "volumes"),
    PV(DEVICE, "storage"),
    PVX(DEVICE_NET, "pools", POOLS),
    PVX(POOLS, "*", POOL),
    PVX(POOL, "type", NONE),
    PVX(POOL, "bridge", NONE),
    PVX(POOL, "subnet", NONE),
    PVX(POOL, "gateway", NONE),
    PVX(POOL, "nat", NONE),
    PVX(POOL, "isolate", NONE),
    PVX(POOL, "parent", NONE), /* macvlan pools */
    PVX(INGRESS, "name", NONE),
    PVX(INGRESS, "type", NONE),
    PVX(INGRESS, "external", NONE),
    PVX(INGRESS, "provider", NONE),
    PVX(INGRESS, "service", NONE),
    PVX(INGRESS, "interface", NONE),
    /* ingress rule options (docs/formats.md, device.json) */
    PVX(INGRESS, "proxy_protocol", NONE),
    PVX(INGRESS, "allow", NONE),
    PVX(INGRESS, "max_conns", NONE),
    PVX(INGRESS, "connect_timeout_ms", NONE),
    PVX(INGRESS, "idle_timeout_s", NONE),
    PVX(INGRESS, "strip_prefix", NONE),

    /* <container>/run.json */
    PVX(RUN, "name", NONE),
    PVX(RUN, "type", NONE),
    PVX(RUN, "exec", NONE),
    PVX(RUN, "env", ANY),
    PVX(RUN, "network", RUN_NET),
    PVX(RUN, "services", RUN_SERVICES),
    PVX(RUN, "auto_recovery", RECOVERY),
    PV(RUN, "#spec"),
    PV(RUN, "config"),
    PV(RUN, "conditions"),
    PV(RUN, "drivers"),
    PV(RUN, "group"),
    PV(RUN, "lifecycle_goal"),
    PV(RUN, "logs"),
    PV(RUN, "restart_policy"),
    PV(RUN, "roles"),
    PV(RUN, "root-volume"),
    PV(RUN, "runlevel"),
    PV(RUN, "status_goal"),
    PV(RUN, "status_substate"),
    PV(RUN, "storage"),
    PV(RUN, "volumes"),
    PVX(RUN_NET, "mode", NONE),
    PVX(RUN_NET, "pool", NONE),
    PVX(RUN_NET, "hostname", NONE),
    PVX(RUN_NET, "interfaces", IFACE),
    PVX(RUN_NET, "ip", NONE),  /* shorthand: eth0's ipv4_address */
    PVX(RUN_NET, "mac", NONE), /* shorthand: eth0's mac_address */
    PVX(IFACE, "name", NONE),
    PVX(IFACE, "pool", NONE),
    PVX(IFACE, "ipv4_address", NONE),
    PVX(IFACE, "mac_address", NONE),
    PVX(RUN_SERVICES, "required", REQUIRE),
    PVX(RUN_SERVICES, "optional", REQUIRE),
    PVX(REQUIRE, "name", NONE),
    PVX(REQUIRE, "type", NONE),
    PVX(REQUIRE, "target", NONE),
    PVX(REQUIRE, "role", NONE),
    PVX(REQUIRE, "interface", NONE),
    PVX(REQUIRE, "service", NONE),  /* Pantavisor's name for name */
    PVX(REQUIRE, "provider", NONE), /* Pantavisor's name for role */
    PVX(REQUIRE, "external", NONE), /* Pantavisor's name for target */
    PVX(RECOVERY, "policy", NONE),
    PVX(RECOVERY, "type", NONE), /* Pantavisor's docs' name for policy */
    PVX(RECOVERY, "max_retries", NONE),
    PVX(RECOVERY, "maximum_retry_count", NONE),
    PVX(RECOVERY, "retry_delay", NONE),
    PVX(RECOVERY, "backoff_factor", NONE),
    PVX(RECOVERY, "reset_window", NONE),

    /* <container>/services.json */
    PVX(SERVICES, "#spec", NONE),
    PVX(SERVICES, "services", EXPORT),
    PVX(EXPORT, "name", NONE),
    PVX(EXPORT, "type", NONE),
    PVX(EXPORT, "port", NONE),
    PVX(EXPORT, "socket", NONE),
};

const char *const pvc_container_types[] = {"process", "lxc", NULL};

const size_t pvc_n_known_keys =
    sizeof(pvc_known_keys) / sizeof(pvc_known_keys[0]);

static const struct pvc_known_key *find(enum pvc_klevel level, const char *key)
{
	for (size_t i = 0; i < pvc_n_known_keys; i++) {
		const struct pvc_known_key *k = &pvc_known_keys[i];
		if (k->level == level &&
		    (strcmp(k->name, "*") == 0 || strcmp(k->name, key) == 0))
			return k;
	}
	return NULL;
}

const char *pvc_keys_closest(enum pvc_klevel level, const char *key)
{
	const char
	    *names[sizeof(pvc_known_keys) / sizeof(pvc_known_keys[0]) + 1];
	size_t n = 0;

	for (size_t i = 0; i < pvc_n_known_keys; i++) {
		const struct pvc_known_key *k = &pvc_known_keys[i];
		if (k->level == level && strcmp(k->name, "*") != 0)
			names[n++] = k->name;
	}
	names[n] = NULL;
	return pvx_closest_word(key, names);
}

static void kpath(char *buf, const char *path, const char *key)
{
	int n;

	if (*path)
		n = snprintf(buf, KPATH_MAX, "%s.%s", path, key);
	else
		n = snprintf(buf, KPATH_MAX, "%s", key);
	if (n >= KPATH_MAX)
		buf[KPATH_MAX - 2] = '~'; /* cut, marked */
}

static void warn_at(struct pvx_errlist *warn, const char *file,
		    const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void warn_at(struct pvx_errlist *warn, const char *file,
		    const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pvx_errlist_vadd_at(warn, file, path, fmt, ap);
	va_end(ap);
}

void pvc_keys_check(const json_t *v, enum pvc_klevel level, const char *file,
		    const char *path, struct pvx_errlist *warn)
{
	char p[KPATH_MAX];
	const char *key;
	json_t *m;
	size_t i;

	if (level == PVC_KL_NONE || level == PVC_KL_ANY)
		return;
	if (json_is_array(v)) {
		json_array_foreach(v, i, m)
		{
			int n = snprintf(p, sizeof(p), "%s[%zu]", path, i);
			if (n >= KPATH_MAX)
				p[KPATH_MAX - 2] = '~';
			if (json_is_object(m))
				pvc_keys_check(m, level, file, p, warn);
		}
		return;
	}
	if (!json_is_object(v))
		return;
	json_object_foreach((json_t *)v, key, m)
	{
		const struct pvc_known_key *k = find(level, key);
		kpath(p, path, key);
		if (k) {
			pvc_keys_check(m, k->child, file, p, warn);
			continue;
		}
		const char *near = pvc_keys_closest(level, key);
		if (near)
			warn_at(warn, file, p,
				"unknown key, ignored (did you mean '%s'?)",
				near);
		else
			warn_at(warn, file, p, "unknown key, ignored");
	}
}

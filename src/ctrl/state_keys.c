/* The one table of the keys pvx knows in a device state, and the walk that
 * warns about the others. A helper adding a field to a parser adds its row
 * here; docs/formats.md ("Unknown keys") lists the same. */
#include "ctrl/state_keys.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define KPATH_MAX 256
#define KEY_CMP_MAX 64 /* longer keys are never "close" to a known one */

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
    PVX(INGRESS, "name", NONE),
    PVX(INGRESS, "type", NONE),
    PVX(INGRESS, "external", NONE),
    PVX(INGRESS, "provider", NONE),
    PVX(INGRESS, "service", NONE),
    /* ingress rule options (docs/formats.md, device.json) */
    PVX(INGRESS, "proxy_protocol", NONE),
    PVX(INGRESS, "allow", NONE),
    PVX(INGRESS, "max_conns", NONE),
    PVX(INGRESS, "connect_timeout_ms", NONE),
    PVX(INGRESS, "idle_timeout_s", NONE),

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
    PVX(RUN_NET, "ip", NONE),  /* shorthand of interfaces[0] */
    PVX(RUN_NET, "mac", NONE), /* shorthand of interfaces[0] */
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

/* Optimal string alignment distance of two lower-cased strings of at most
 * KEY_CMP_MAX bytes: insertions, deletions, substitutions and swaps of two
 * neighbours ("requried") each count one. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[KEY_CMP_MAX + 1][KEY_CMP_MAX + 1];

	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

static bool lower(const char *s, char *out)
{
	size_t n = strlen(s);

	if (n > KEY_CMP_MAX)
		return false;
	for (size_t i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	return true;
}

/* Keeps name in *best when it is closer to lk (lower-cased, length len)
 * than *best_d and close enough: about one typo per three letters, at
 * least one. */
static void consider(const char *lk, const char *name, const char **best,
		     size_t *best_d)
{
	char lc[KEY_CMP_MAX + 1];
	size_t d, max, len = strlen(lk);

	if (!lower(name, lc))
		return;
	d = distance(lk, lc);
	max = (len < strlen(lc) ? len : strlen(lc)) / 3;
	if (max < 1)
		max = 1;
	if (d <= max && d < *best_d) {
		*best = name;
		*best_d = d;
	}
}

const char *pvc_keys_closest(enum pvc_klevel level, const char *key)
{
	char lk[KEY_CMP_MAX + 1];
	const char *best = NULL;
	size_t best_d = (size_t)-1;

	if (!lower(key, lk))
		return NULL;
	for (size_t i = 0; i < pvc_n_known_keys; i++) {
		const struct pvc_known_key *k = &pvc_known_keys[i];
		if (k->level == level && strcmp(k->name, "*") != 0)
			consider(lk, k->name, &best, &best_d);
	}
	return best;
}

const char *pvc_closest_word(const char *word, const char *const *words)
{
	char lw[KEY_CMP_MAX + 1];
	const char *best = NULL;
	size_t best_d = (size_t)-1;

	if (!lower(word, lw))
		return NULL;
	for (; *words; words++)
		consider(lw, *words, &best, &best_d);
	return best;
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

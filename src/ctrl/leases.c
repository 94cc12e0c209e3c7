/* The lease file: IPAM's memory across restarts of pv-ctrld (SPEC §4).
 * JSON {"version":1,"leases":[{container, interface, pool, ip, prefix,
 * mac}]}, read strictly (a corrupt file is reported, never half-used) and
 * replaced atomically so a crash leaves either the old or the new file.
 * Two generations (the file and PATH.prev) survive any single damaged
 * write; a damaged one is moved aside (docs/graph.md, generations). */
#include "ctrl/ipam.h"
#include "common/file.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LEASES_VERSION 1
/* Far above any real lease file: a device has at most a few /16 pools. */
#define LEASES_FILE_MAX (64u << 20)

/* A required non-empty string member; NULL (and a message) otherwise. */
static const char *get_str(json_t *o, const char *key, const char *file,
			   size_t idx, struct pvx_errlist *el)
{
	json_t *v = json_object_get(o, key);

	if (!v) {
		pvx_errlist_add(el, "%s: leases[%zu].%s: missing", file, idx,
				key);
		return NULL;
	}
	if (!json_is_string(v) || json_string_length(v) == 0) {
		pvx_errlist_add(el,
				"%s: leases[%zu].%s: expected a non-empty "
				"string",
				file, idx, key);
		return NULL;
	}
	return json_string_value(v);
}

static int parse_lease(json_t *o, const char *file, size_t idx,
		       struct pvc_lease *l, struct pvx_errlist *el)
{
	const char *c, *ifc, *pool, *ip, *mac;
	json_t *pfx;
	size_t before = el->n;

	if (!json_is_object(o)) {
		pvx_errlist_add(el, "%s: leases[%zu]: expected an object", file,
				idx);
		return -EINVAL;
	}
	c = get_str(o, "container", file, idx, el);
	ifc = get_str(o, "interface", file, idx, el);
	pool = get_str(o, "pool", file, idx, el);
	ip = get_str(o, "ip", file, idx, el);
	mac = get_str(o, "mac", file, idx, el);
	if (ip && inet_pton(AF_INET, ip, &l->ip) != 1)
		pvx_errlist_add(el,
				"%s: leases[%zu].ip: '%.64s' is not an IPv4 "
				"address",
				file, idx, ip);
	if (mac && pvc_mac_parse(mac, l->mac) < 0)
		pvx_errlist_add(el,
				"%s: leases[%zu].mac: '%.64s' is not a MAC "
				"address (aa:bb:cc:dd:ee:ff)",
				file, idx, mac);
	pfx = json_object_get(o, "prefix");
	l->prefix = 32;
	if (pfx && (!json_is_integer(pfx) || json_integer_value(pfx) < 0 ||
		    json_integer_value(pfx) > 32))
		pvx_errlist_add(el,
				"%s: leases[%zu].prefix: expected an "
				"integer 0-32",
				file, idx);
	else if (pfx)
		l->prefix = (uint8_t)json_integer_value(pfx);
	if (el->n != before)
		return -EINVAL;
	l->container = strdup(c);
	l->iface = strdup(ifc);
	l->pool = strdup(pool);
	if (!l->container || !l->iface || !l->pool)
		return -ENOMEM;
	return 0;
}

static int parse_root(json_t *root, const char *file, struct pvc_leases *out,
		      struct pvx_errlist *el)
{
	json_t *ver, *arr;
	size_t i, n;
	int r = 0;

	if (!json_is_object(root)) {
		pvx_errlist_add(el, "%s: expected a JSON object at top level",
				file);
		return -EINVAL;
	}
	ver = json_object_get(root, "version");
	if (!ver)
		pvx_errlist_add(el, "%s: version: missing", file);
	else if (!json_is_integer(ver) ||
		 json_integer_value(ver) != LEASES_VERSION)
		pvx_errlist_add(el, "%s: version: expected %d", file,
				LEASES_VERSION);
	arr = json_object_get(root, "leases");
	if (!arr) {
		pvx_errlist_add(el, "%s: leases: missing", file);
		return -EINVAL;
	}
	if (!json_is_array(arr)) {
		pvx_errlist_add(el, "%s: leases: expected an array", file);
		return -EINVAL;
	}
	n = json_array_size(arr);
	out->v = calloc(n ? n : 1, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct pvc_lease *l = &out->v[out->n];
		int e = parse_lease(json_array_get(arr, i), file, i, l, el);
		if (e == -ENOMEM) {
			out->n++; /* free what was copied */
			return e;
		}
		if (e < 0) {
			r = e;
			continue;
		}
		/* Two leases for one interface: which one is true? */
		if (pvc_leases_find_iface(out, l->container, l->iface)) {
			pvx_errlist_add(el,
					"%s: leases[%zu]: second lease for "
					"container %s interface %s",
					file, i, l->container, l->iface);
			r = -EINVAL;
		}
		out->n++; /* even a duplicate: it is freed with the rest */
	}
	if (!pvx_errlist_empty(el) && r == 0)
		r = -EINVAL; /* the version message */
	return r;
}

/* Parses the text of a lease file. */
static int parse_text(const char *path, const char *buf, size_t len,
		      struct pvc_leases *out, struct pvx_errlist *el)
{
	json_error_t jerr;
	json_t *root;
	size_t before = el->n;
	int r;

	out->v = NULL;
	out->n = 0;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		pvx_errlist_add(el, "%s:%d:%d: %s", path, jerr.line,
				jerr.column, jerr.text);
		return -EINVAL;
	}
	{
		/* parse_root checks only its own messages */
		struct pvx_errlist mine = {0};
		r = parse_root(root, path, out, &mine);
		pvx_errlist_merge(el, &mine, NULL);
		pvx_errlist_clear(&mine);
	}
	json_decref(root);
	if (r < 0 || el->n != before) {
		pvc_leases_free(out);
		return r < 0 ? r : -EINVAL;
	}
	pvc_leases_sort(out);
	return 0;
}

/* One generation: 0, -ENOENT (no file, no message) or another -errno
 * with a message. */
static int load_one(const char *path, struct pvc_leases *out,
		    struct pvx_errlist *el)
{
	size_t len;
	char *buf;
	int r;

	out->v = NULL;
	out->n = 0;
	r = pvx_file_read(path, LEASES_FILE_MAX, &buf, &len);
	if (r < 0) {
		if (r != -ENOENT)
			pvx_errlist_add(el, "%s: %s", path,
					pvx_file_strerror(r));
		return r;
	}
	r = parse_text(path, buf, len, out, el);
	free(buf);
	return r;
}

int pvc_leases_load(const char *path, struct pvc_leases *out,
		    struct pvx_errlist *el)
{
	int r = load_one(path, out, el);
	return r == -ENOENT ? 0 : r; /* first start: no leases yet */
}

/* ------------------------------------------------------ generations */

enum pvc_lease_gen pvc_lease_gen_of(int load_result)
{
	switch (load_result) {
	case 0:
		return PVC_LEASE_GEN_VALID;
	case -ENOENT:
		return PVC_LEASE_GEN_MISSING;
	case -EINVAL: /* syntax, content, not a regular file */
	case -EFBIG:  /* far too big to be ours */
		return PVC_LEASE_GEN_DAMAGED;
	default: /* EIO, EACCES, ENOMEM: the file may be fine */
		return PVC_LEASE_GEN_UNREADABLE;
	}
}

int pvc_leases_pick(const enum pvc_lease_gen *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (g[i] == PVC_LEASE_GEN_VALID)
			return (int)i;
	return -1;
}

static char *gen_path(const char *path, size_t gen)
{
	char *p;

	if (gen == 0)
		return strdup(path);
	if (asprintf(&p, "%s.prev", path) < 0)
		return NULL;
	return p;
}

int pvc_leases_recover(const char *path, time_t now, struct pvc_leases *out,
		       int *used, struct pvx_errlist *warnings)
{
	struct pvc_leases got[PVC_LEASE_GENS] = {0};
	enum pvc_lease_gen g[PVC_LEASE_GENS];
	struct pvx_errlist why[PVC_LEASE_GENS] = {0};
	char *paths[PVC_LEASE_GENS] = {0};
	int r = 0, pick;
	size_t i;

	out->v = NULL;
	out->n = 0;
	*used = -1;
	for (i = 0; i < PVC_LEASE_GENS; i++) {
		paths[i] = gen_path(path, i);
		if (!paths[i]) {
			r = -ENOMEM;
			goto out;
		}
		r = load_one(paths[i], &got[i], &why[i]);
		if (r == -ENOMEM)
			goto out;
		g[i] = pvc_lease_gen_of(r);
	}
	r = 0;
	pick = pvc_leases_pick(g, PVC_LEASE_GENS);
	for (i = 0; i < PVC_LEASE_GENS; i++) {
		char *moved = NULL, *reason = pvx_errlist_join(&why[i]);
		int e;

		if (g[i] == PVC_LEASE_GEN_UNREADABLE)
			pvx_errlist_add(warnings,
					"lease file unreadable, left alone: "
					"%s",
					reason ? reason : paths[i]);
		if (g[i] != PVC_LEASE_GEN_DAMAGED) {
			free(reason);
			continue;
		}
		/* Never overwritten, never read again: kept for a look. */
		e = pvx_file_move_aside(paths[i], path, now, &moved);
		if (e < 0)
			pvx_errlist_add(warnings,
					"LEASE FILE DAMAGED: %s; cannot move "
					"it aside: %s",
					reason ? reason : paths[i],
					strerror(-e));
		else
			pvx_errlist_add(warnings,
					"LEASE FILE DAMAGED: %s; moved aside "
					"to %s",
					reason ? reason : paths[i], moved);
		free(moved);
		free(reason);
	}
	if (pick > 0)
		pvx_errlist_add(warnings,
				"leases: using the previous generation %s "
				"(%zu leases)",
				paths[pick], got[pick].n);
	else if (pick < 0 && (g[0] != PVC_LEASE_GEN_MISSING ||
			      g[1] != PVC_LEASE_GEN_MISSING))
		pvx_errlist_add(warnings,
				"LEASES LOST: no valid generation of %s; "
				"addresses seen on running containers are "
				"kept, the rest assigned anew",
				path);
	if (pick >= 0) {
		*out = got[pick];
		got[pick] = (struct pvc_leases){0};
		*used = pick;
	}
out:
	for (i = 0; i < PVC_LEASE_GENS; i++) {
		pvc_leases_free(&got[i]);
		pvx_errlist_clear(&why[i]);
		free(paths[i]);
	}
	return r;
}

static json_t *leases_to_json(const struct pvc_leases *l)
{
	json_t *root = json_object(), *arr = json_array();

	if (!root || !arr)
		goto fail;
	if (json_object_set_new(root, "version", json_integer(LEASES_VERSION)))
		goto fail;
	for (size_t i = 0; i < l->n; i++) {
		const struct pvc_lease *x = &l->v[i];
		char ip[INET_ADDRSTRLEN], mac[18];
		json_t *o;

		inet_ntop(AF_INET, &x->ip, ip, sizeof(ip));
		pvc_mac_format(x->mac, mac, sizeof(mac));
		o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "container",
			      x->container, "interface", x->iface, "pool",
			      x->pool, "ip", ip, "prefix", (int)x->prefix,
			      "mac", mac);
		if (!o || json_array_append_new(arr, o))
			goto fail;
	}
	if (json_object_set_new(root, "leases", arr)) {
		arr = NULL;
		goto fail;
	}
	return root;
fail:
	json_decref(arr);
	json_decref(root);
	return NULL;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Writes text to path atomically: temp file beside it (rename() is atomic
 * only within one file system), fsync, rename, fsync of the directory. */
static int write_atomic(const char *path, const char *text, size_t len)
{
	char *tmp = NULL;
	int fd = -1, r;
	bool created = false;

	if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0) {
		tmp = NULL;
		r = -ENOMEM;
		goto fail;
	}
	fd = mkostemp(tmp, O_CLOEXEC); /* created 0600 */
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	created = true;
	if (fchmod(fd, 0600) < 0) {
		r = -errno;
		goto fail;
	}
	r = write_all(fd, text, len);
	if (r < 0)
		goto fail;
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	free(tmp);
	return pvx_file_fsync_dir(path);
fail:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	free(tmp);
	return r;
}

/* The file in place becomes the previous generation (PATH.prev) when it
 * is valid; a damaged one is moved aside, never made the fallback nor
 * overwritten. One that cannot be read is left as it is. */
static int rotate(const char *path)
{
	struct pvx_errlist el = {0};
	struct pvc_leases l = {0};
	char *buf = NULL, *prev = NULL, *moved = NULL;
	size_t len;
	int r;

	r = pvx_file_read(path, LEASES_FILE_MAX, &buf, &len);
	if (r == 0) {
		r = parse_text(path, buf, len, &l, &el);
		pvc_leases_free(&l);
		pvx_errlist_clear(&el);
	}
	switch (pvc_lease_gen_of(r)) {
	case PVC_LEASE_GEN_VALID:
		r = asprintf(&prev, "%s.prev", path) < 0
			? -ENOMEM
			: write_atomic(prev, buf, len);
		break;
	case PVC_LEASE_GEN_DAMAGED:
		r = pvx_file_move_aside(path, path, time(NULL), &moved);
		break;
	default:
		r = r == -ENOMEM ? r : 0;
		break;
	}
	free(moved);
	free(prev);
	free(buf);
	return r;
}

int pvc_leases_save(const char *path, const struct pvc_leases *l)
{
	json_t *root = leases_to_json(l);
	char *text, *file = NULL;
	int r;

	if (!root)
		return -ENOMEM;
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text || asprintf(&file, "%s\n", text) < 0) {
		free(text);
		return -ENOMEM;
	}
	free(text);
	r = rotate(path);
	if (r == 0)
		r = write_atomic(path, file, strlen(file));
	free(file);
	return r;
}

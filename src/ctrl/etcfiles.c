/* /etc/hosts and /etc/resolv.conf of a pool container (etcfiles.h). The
 * install step runs in the cloned child before exec: the container has run
 * no code yet, its root is the device's own and /run is the fresh tmpfs
 * the child just mounted, so no path here is under the container's
 * control. */
#include "ctrl/etcfiles.h"
#include "common/file.h"
#include "common/inroot.h"
#include "ctrl/ipam.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define ETC_DIR "/run/pvx"

char *pvc_etc_hosts(const char *hostname, const struct in_addr *ip)
{
	char a[INET_ADDRSTRLEN] = "127.0.1.1", *s;

	if (ip)
		inet_ntop(AF_INET, ip, a, sizeof(a));
	if (asprintf(&s,
		     "# written by pv-ctrld for this container\n"
		     "127.0.0.1\tlocalhost\n"
		     "::1\tlocalhost ip6-localhost ip6-loopback\n"
		     "%s\t%s\n",
		     a, hostname) < 0)
		return NULL;
	return s;
}

/* A nameserver the container can use: not loopback (the device's local
 * stub resolver is not in the container's namespace). */
static bool usable_ns(const char *addr)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (inet_pton(AF_INET, addr, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) != 127;
	if (inet_pton(AF_INET6, addr, &v6) == 1)
		return !IN6_IS_ADDR_LOOPBACK(&v6);
	return false;
}

static bool starts_word(const char *line, const char *w)
{
	size_t n = strlen(w);
	return strncmp(line, w, n) == 0 && (line[n] == ' ' || line[n] == '\t');
}

char *pvc_etc_resolv(const char *device_resolv, bool nat, const char *pool)
{
	char *buf = NULL, *copy = NULL, *save, *line;
	size_t len = 0;
	int kept = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "# written by pv-ctrld for this container\n");
	if (!nat) {
		fprintf(f, "# pool %s has no NAT: no resolver\n", pool);
		goto out;
	}
	copy = strdup(device_resolv ? device_resolv : "");
	if (!copy)
		goto fail;
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char addr[INET6_ADDRSTRLEN + 1];

		line += strspn(line, " \t");
		if (starts_word(line, "nameserver")) {
			if (sscanf(line + 10, " %46s", addr) == 1 &&
			    usable_ns(addr)) {
				fprintf(f, "nameserver %s\n", addr);
				kept++;
			}
		} else if (starts_word(line, "search") ||
			   starts_word(line, "domain") ||
			   starts_word(line, "options")) {
			fprintf(f, "%s\n", line);
		}
	}
	if (!kept)
		fprintf(f, "# the device has no resolver reachable from a "
			   "pool\n");
out:
	free(copy);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

int pvc_etc_texts(const struct pvc_state *st, const struct pvc_leases *l,
		  const struct pvc_container *c, char **hosts, char **resolv)
{
	const struct pvc_lease *ls = pvc_leases_find(l, c->name);
	const struct pvc_pool *p = NULL;
	char *dev = NULL;
	size_t len;
	bool world;

	*hosts = *resolv = NULL;
	if (c->mode != PVC_NET_POOL)
		return 0;
	if (ls)
		p = pvc_state_find_pool(st, ls->pool);
	else if (c->n_ifaces)
		p = pvc_state_find_pool(st, c->ifaces[0].pool);
	world = p && (p->nat || pvc_pool_is_macvlan(p));
	if (world && pvx_file_read("/etc/resolv.conf", PVC_ETC_RESOLV_MAX, &dev,
				   &len) < 0)
		dev = NULL; /* no resolver on the device: none here */
	*hosts = pvc_etc_hosts(c->hostname ? c->hostname : c->name,
			       ls ? &ls->ip : NULL);
	*resolv = pvc_etc_resolv(dev, world, p ? p->name : "?");
	free(dev);
	if (!*hosts || !*resolv) {
		free(*hosts);
		free(*resolv);
		*hosts = *resolv = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int write_new(const char *path, const char *text)
{
	int fd = open(
	    path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	size_t n = strlen(text);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n)
		r = errno ? -errno : -EIO;
	close(fd);
	return r;
}

/* Writes text at path (absolute, under /run), resolved inside the private
 * /run only (common/inroot.h): a symlink on the way cannot lead out of
 * it. Missing directories are made. */
static int write_in_run(const char *path, const char *text)
{
	struct pvx_root run = PVX_ROOT_INIT;
	const char *name;
	size_t n = strlen(text);
	int dir, fd, r = 0;

	run.fd = open("/run", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (run.fd < 0)
		return -errno;
	run.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	dir = pvx_root_open_parent(&run, path + 4, 0755, &name);
	if (dir < 0) {
		r = dir;
		goto out;
	}
	fd = openat(dir, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	close(dir);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (write(fd, text, n) != (ssize_t)n)
		r = errno ? -errno : -EIO;
	close(fd);
out:
	pvx_root_close(&run);
	return r;
}

/* Covers target with text. A target that is a symlink into /run (e.g.
 * systemd-resolved's /run/systemd/resolve/stub-resolv.conf) dangles on the
 * private /run: the file is then written where it points, on that tmpfs. */
static int install(const char *target, const char *name, const char *text,
		   char *step, size_t len)
{
	char src[64], link[PATH_MAX];
	struct stat sb;
	ssize_t n;
	int r;

	snprintf(src, sizeof(src), ETC_DIR "/%s", name);
	snprintf(step, len, "write %s", src);
	if ((r = write_new(src, text)) < 0)
		return r;
	snprintf(step, len, "bind %s", target);
	if (mount(src, target, NULL, MS_BIND, NULL) == 0)
		return 0;
	r = -errno;
	if (r != -ENOENT || lstat(target, &sb) < 0 || !S_ISLNK(sb.st_mode))
		return r;
	n = readlink(target, link, sizeof(link) - 1);
	if (n <= 0)
		return r;
	link[n] = '\0';
	if (strncmp(link, "/run/", 5) != 0)
		return r;
	snprintf(step, len, "write %s", link);
	return write_in_run(link, text);
}

int pvc_etc_install(const char *hosts, const char *resolv, char *step,
		    size_t len)
{
	int r;

	if (!hosts && !resolv)
		return 0;
	snprintf(step, len, "mkdir " ETC_DIR);
	if (mkdir(ETC_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (hosts && (r = install("/etc/hosts", "hosts", hosts, step, len)) < 0)
		return r;
	if (resolv && (r = install("/etc/resolv.conf", "resolv.conf", resolv,
				   step, len)) < 0)
		return r;
	return 0;
}

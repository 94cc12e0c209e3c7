/* Container output log with one rotation (see ctlog.h). */
#include "ctrl/ctlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode)
		   ? (uint64_t)sb.st_size
		   : 0;
}

static int open_log(const char *path, bool trunc)
{
	/* O_NOFOLLOW: the state dir is ours, but a symlink planted at the
	 * path must not redirect a container's output elsewhere. */
	return open(path,
		    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
			(trunc ? O_TRUNC : 0),
		    0600);
}

int pvc_ctlog_open(struct pvc_ctlog *l, const char *dir, const char *name,
		   size_t max)
{
	char *old = NULL;
	int r;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	l->max = max < PVC_CTLOG_MIN ? PVC_CTLOG_MIN : max;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (asprintf(&l->path, "%s/%s.log", dir, name) < 0 ||
	    asprintf(&old, "%s.1", l->path) < 0) {
		free(l->path);
		l->path = NULL;
		return -ENOMEM;
	}
	l->fd = open_log(l->path, false);
	if (l->fd < 0) {
		r = -errno;
		free(old);
		pvc_ctlog_close(l);
		return r;
	}
	l->size = file_size(l->path);
	l->total = l->size + file_size(old);
	free(old);
	return 0;
}

static int rotate(struct pvc_ctlog *l)
{
	char *old = NULL;
	int fd;

	if (asprintf(&old, "%s.1", l->path) < 0)
		return -ENOMEM;
	if (rename(l->path, old) < 0 && errno != ENOENT) {
		int r = -errno;
		free(old);
		return r;
	}
	free(old);
	fd = open_log(l->path, true);
	if (fd < 0)
		return -errno;
	close(l->fd);
	l->fd = fd;
	l->size = 0;
	return 0;
}

int pvc_ctlog_write(struct pvc_ctlog *l, const char *buf, size_t n)
{
	ssize_t w;
	int r = 0;

	if (l->fd < 0)
		return -EBADF;
	if (n > l->max) {
		/* Never on disk, but counted: as if rotated out at once. */
		l->total += n - l->max;
		buf += n - l->max;
		n = l->max;
	}
	if (l->size + n > l->max && (r = rotate(l)) < 0)
		return r;
	while (n > 0) {
		w = write(l->fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		l->size += (uint64_t)w;
		l->total += (uint64_t)w;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Appends the bytes of path from skip on to *buf. */
static int append_file(const char *path, uint64_t skip, char **buf, size_t *len,
		       size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (lseek(fd, (off_t)skip, SEEK_SET) < 0) {
		close(fd);
		return -errno;
	}
	while (*len < cap) {
		n = read(fd, *buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	close(fd);
	return 0;
}

int pvc_ctlog_read(const struct pvc_ctlog *l, uint64_t offset, char **buf,
		   size_t *len, uint64_t *end)
{
	uint64_t cur = file_size(l->path), prev, start;
	size_t cap;
	char *old = NULL;
	int r = 0;

	*buf = NULL;
	*len = 0;
	*end = l->total;
	if (asprintf(&old, "%s.1", l->path) < 0)
		return -ENOMEM;
	prev = file_size(old);
	/* The files cover [total - prev - cur, total). */
	start = l->total >= prev + cur ? l->total - prev - cur : 0;
	if (offset < start)
		offset = start;
	if (offset > l->total)
		offset = l->total;
	cap = (size_t)(l->total - offset);
	*buf = malloc(cap + 1);
	if (!*buf) {
		free(old);
		return -ENOMEM;
	}
	if (offset < start + prev)
		r = append_file(old, offset - start, buf, len, cap);
	if (r == 0)
		r = append_file(
		    l->path, offset > start + prev ? offset - start - prev : 0,
		    buf, len, cap);
	free(old);
	if (r < 0) {
		free(*buf);
		*buf = NULL;
		*len = 0;
		return r;
	}
	(*buf)[*len] = '\0';
	*end = offset + *len;
	return 0;
}

void pvc_ctlog_close(struct pvc_ctlog *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	free(l->path);
	l->path = NULL;
}

/* Reading whole input files safely; see file.h. */
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int pvx_file_read(const char *path, size_t max, char **buf, size_t *len)
{
	size_t cap, n = 0;
	struct stat st;
	char *b = NULL, *nb;
	ssize_t r;
	int fd, e;

	*buf = NULL;
	*len = 0;
	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		e = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		e = -EINVAL;
		goto fail;
	}
	if ((unsigned long long)st.st_size > max) {
		e = -EFBIG;
		goto fail;
	}
	/* Read to EOF, not to st_size: the file may change meanwhile. */
	cap = (size_t)st.st_size + 2;
	b = malloc(cap);
	if (!b) {
		e = -ENOMEM;
		goto fail;
	}
	for (;;) {
		if (n + 1 == cap) {
			size_t ncap = cap * 2 > max + 2 ? max + 2 : cap * 2;
			nb = realloc(b, ncap);
			if (!nb) {
				e = -ENOMEM;
				goto fail;
			}
			b = nb;
			cap = ncap;
		}
		r = read(fd, b + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			e = -errno;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			e = -EFBIG;
			goto fail;
		}
	}
	close(fd);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
fail:
	close(fd);
	free(b);
	return e;
}

const char *pvx_file_strerror(int r)
{
	switch (r) {
	case -EINVAL:
		return "not a regular file";
	case -EFBIG:
		return "file too large";
	default:
		return strerror(-r);
	}
}

int pvx_file_lock(const char *path, pid_t *holder)
{
	char buf[32];
	ssize_t n;
	int fd, e, len;

	*holder = 0;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW,
		  0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		e = -errno;
		if (e == -EWOULDBLOCK) {
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			*holder = (pid_t)atoi(buf);
		}
		close(fd);
		return e;
	}
	len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		e = -errno;
		close(fd);
		return e ? e : -EIO;
	}
	return fd;
}

int pvx_file_fsync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, r = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int pvx_file_move_aside(const char *src, const char *name, time_t now,
			char **moved)
{
	char stamp[32], *dst = NULL;
	struct tm tm;

	*moved = NULL;
	if (!gmtime_r(&now, &tm) ||
	    !strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm))
		snprintf(stamp, sizeof(stamp), "%lld", (long long)now);
	for (int i = 0; i < 100; i++) {
		int n = i ? asprintf(&dst, "%s.damaged-%s-%d", name, stamp, i)
			  : asprintf(&dst, "%s.damaged-%s", name, stamp);
		if (n < 0)
			return -ENOMEM;
		if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) ==
		    0) {
			*moved = dst;
			return pvx_file_fsync_dir(name);
		}
		free(dst);
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

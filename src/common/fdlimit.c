/* Descriptor limits and the EMFILE reserve; see fdlimit.h. */
#include "common/fdlimit.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* One per process: only the daemons' single-threaded loops use it. */
static int reserve_fd = -1;

void pvx_fdlimit_rearm(void)
{
	if (reserve_fd < 0)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

long pvx_fdlimit_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	pvx_fdlimit_rearm();
	return rl.rlim_cur > (rlim_t)0x7fffffff ? 0x7fffffffL
						: (long)rl.rlim_cur;
}

int pvx_fdlimit_shed(int lfd)
{
	int fd, r = 0;

	if (reserve_fd < 0)
		return -EMFILE;
	close(reserve_fd);
	reserve_fd = -1;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		close(fd);
	else
		r = -errno;
	pvx_fdlimit_rearm();
	return r;
}

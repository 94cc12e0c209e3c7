/* Pool of empty pipes reused across sessions (see pipes.h). The pool is
 * process-wide: pv-xconnect is single-threaded. */
#include "xconnect/pipes.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* Sessions hold a pipe only while bytes are in flight, so the pool must
 * cover the peak of busy directions, not of sessions. 128 pipes = 256 fds,
 * given back at once when the process runs out of fds. */
#define PIPE_POOL_MAX 128

struct pooled_pipe {
	int fds[2];
	int cap;
};

static struct pooled_pipe pool[PIPE_POOL_MAX];
static size_t pool_n;
static size_t pool_want; /* capacity the pooled pipes were sized for */

int pvx_pipe_get(int fds[2], size_t want)
{
	int cap;

	if (pool_n > 0 && pool_want == want) {
		pool_n--;
		fds[0] = pool[pool_n].fds[0];
		fds[1] = pool[pool_n].fds[1];
		return pool[pool_n].cap;
	}
	if (pool_n > 0)
		pvx_pipes_flush(); /* sized for another want: start over */
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	cap = fcntl(fds[1], F_GETPIPE_SZ);
	if (cap > 0 && (size_t)cap < want && want <= (1u << 20)) {
		/* Best effort: a pipe smaller than the buffer size just
		 * moves fewer bytes per splice. */
		int r = fcntl(fds[1], F_SETPIPE_SZ, (int)want);
		if (r > 0)
			cap = r;
	}
	if (cap <= 0) {
		int e = cap < 0 ? errno : EINVAL;
		close(fds[0]);
		close(fds[1]);
		fds[0] = fds[1] = -1;
		return -e;
	}
	pool_want = want;
	return cap;
}

void pvx_pipe_put(int fds[2], int cap, bool empty)
{
	if (fds[0] < 0)
		return;
	if (empty && cap > 0 && pool_n < PIPE_POOL_MAX) {
		pool[pool_n].fds[0] = fds[0];
		pool[pool_n].fds[1] = fds[1];
		pool[pool_n].cap = cap;
		pool_n++;
		fds[0] = fds[1] = -1;
		return;
	}
	close(fds[0]);
	close(fds[1]);
	fds[0] = fds[1] = -1;
}

void pvx_pipes_flush(void)
{
	while (pool_n > 0) {
		pool_n--;
		close(pool[pool_n].fds[0]);
		close(pool[pool_n].fds[1]);
	}
}

size_t pvx_pipes_pooled(void)
{
	return pool_n;
}

/* pvx_file_lock: one holder per lock file, the holder's pid readable by
 * the one refused, refusals of what is not a plain file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"

static char dir[] = "/tmp/pvx-file-test.XXXXXX";

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void test_lock_once(void **state)
{
	char p[256], text[32] = "";
	pid_t holder = -1;
	int fd, fd2, rfd;
	ssize_t n;

	(void)state;
	path_of(p, sizeof(p), "a.lock");
	fd = pvx_file_lock(p, &holder);
	assert_true(fd >= 0);
	assert_int_equal(holder, 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	rfd = open(p, O_RDONLY);
	n = read(rfd, text, sizeof(text) - 1);
	close(rfd);
	assert_true(n > 0);
	assert_int_equal(atoi(text), (int)getpid());
	/* a second open of the same file is a second holder: refused, and
	 * told who holds it */
	fd2 = pvx_file_lock(p, &holder);
	assert_int_equal(fd2, -EWOULDBLOCK);
	assert_int_equal(holder, getpid());
	close(fd);
	/* released with the descriptor; a stale pid in the file is simply
	 * replaced */
	fd2 = pvx_file_lock(p, &holder);
	assert_true(fd2 >= 0);
	close(fd2);
}

static void test_lock_refusals(void **state)
{
	char p[256], t[256];
	pid_t holder = -1;

	(void)state;
	/* a directory */
	path_of(p, sizeof(p), "d");
	assert_int_equal(mkdir(p, 0755), 0);
	assert_true(pvx_file_lock(p, &holder) < 0);
	/* a symlink (planted by someone else) is not followed */
	path_of(t, sizeof(t), "target");
	path_of(p, sizeof(p), "link.lock");
	assert_int_equal(symlink(t, p), 0);
	assert_int_equal(pvx_file_lock(p, &holder), -ELOOP);
	assert_int_equal(access(t, F_OK), -1);
	/* a missing directory */
	path_of(p, sizeof(p), "none/x.lock");
	assert_int_equal(pvx_file_lock(p, &holder), -ENOENT);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lock_once),
	    cmocka_unit_test(test_lock_refusals),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

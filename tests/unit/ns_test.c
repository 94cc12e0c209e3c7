/* Namespace helpers: opening, comparing, running an action in place or in
 * a namespace and coming back (cwd kept for the mount namespace). Entering
 * a namespace needs CAP_SYS_ADMIN; those cases are skipped without it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ns.h"

static int calls;

static int action(void *arg)
{
	calls++;
	return *(int *)arg;
}

static void test_open_and_own(void **state)
{
	static const enum pvx_ns_kind kinds[] = {PVX_NS_NET, PVX_NS_MNT};
	(void)state;
	for (size_t i = 0; i < 2; i++) {
		int fd = pvx_ns_open(0, kinds[i]);
		assert_true(fd >= 0);
		close(fd);
		fd = pvx_ns_open(getpid(), kinds[i]);
		assert_true(fd >= 0);
		close(fd);
		assert_int_equal(pvx_ns_is_own(getpid(), kinds[i]), 1);
		assert_int_equal(pvx_ns_is_own(0, kinds[i]), 1);
	}
}

/* Identities: the same namespace through pid 0, our pid, our parent's
 * (the test runner shares them) and an fd; net and mnt differ. */
static void test_ids(void **state)
{
	static const enum pvx_ns_kind kinds[] = {PVX_NS_NET, PVX_NS_MNT};
	struct pvx_ns_id a, b, c;
	(void)state;
	for (size_t i = 0; i < 2; i++) {
		int fd = pvx_ns_open(0, kinds[i]);
		assert_true(fd >= 0);
		assert_int_equal(pvx_ns_id_of(0, kinds[i], &a), 0);
		assert_int_equal(pvx_ns_id_of(getpid(), kinds[i], &b), 0);
		assert_int_equal(pvx_ns_id_of_fd(fd, &c), 0);
		close(fd);
		assert_true(pvx_ns_id_equal(&a, &b));
		assert_true(pvx_ns_id_equal(&a, &c));
		assert_int_equal(pvx_ns_id_of_fd(-1, &c), -EBADF);
	}
	assert_int_equal(pvx_ns_id_of(0, PVX_NS_NET, &a), 0);
	assert_int_equal(pvx_ns_id_of(0, PVX_NS_MNT, &b), 0);
	assert_false(pvx_ns_id_equal(&a, &b));
	assert_int_equal(pvx_ns_id_of(INT_MAX, PVX_NS_NET, &a), -ENOENT);
}

static void test_bad_pids(void **state)
{
	/* No such process: above pid_max and negative-looking values. */
	static const pid_t bad[] = {0x7ffffff0, 4194305, INT_MAX};
	int v = 7;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		calls = 0;
		assert_int_equal(pvx_ns_open(bad[i], PVX_NS_NET), -ENOENT);
		assert_int_equal(pvx_ns_is_own(bad[i], PVX_NS_MNT), -ENOENT);
		assert_int_equal(pvx_ns_run(bad[i], PVX_NS_NET, action, &v),
				 -ENOENT);
		assert_int_equal(calls, 0);
	}
}

static void test_run_in_place(void **state)
{
	int v = 42;
	(void)state;
	calls = 0;
	/* pid 0 and our own pid run fn right here, no setns needed. */
	assert_int_equal(pvx_ns_run(0, PVX_NS_NET, action, &v), 42);
	assert_int_equal(pvx_ns_run(-1, PVX_NS_MNT, action, &v), 42);
	assert_int_equal(pvx_ns_run(getpid(), PVX_NS_NET, action, &v), 42);
	v = -EBUSY; /* fn's errors come through unchanged */
	assert_int_equal(pvx_ns_run(getpid(), PVX_NS_MNT, action, &v), -EBUSY);
	assert_int_equal(calls, 4);
}

static int check_cwd_moved(void *arg)
{
	(void)arg;
	calls++;
	return 5;
}

static void test_run_fd(void **state)
{
	static const enum pvx_ns_kind kinds[] = {PVX_NS_NET, PVX_NS_MNT};
	char before[PATH_MAX], after[PATH_MAX];
	char dir[] = "/tmp/pvx-ns-test.XXXXXX";
	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(getcwd(before, sizeof(before)));
	assert_int_equal(chdir(dir), 0);
	for (size_t i = 0; i < 2; i++) {
		int fd = pvx_ns_open(0, kinds[i]), r;
		assert_true(fd >= 0);
		calls = 0;
		r = pvx_ns_run_fd(fd, kinds[i], check_cwd_moved, NULL);
		close(fd);
		if (r == -EPERM) {
			/* Not root: setns is refused before fn runs. */
			assert_int_equal(calls, 0);
			continue;
		}
		assert_int_equal(r, 5);
		assert_int_equal(calls, 1);
		assert_int_equal(pvx_ns_is_own(getpid(), kinds[i]), 1);
		/* setns(CLONE_NEWNS) resets cwd; it must be restored. */
		assert_non_null(getcwd(after, sizeof(after)));
		assert_string_equal(after, dir);
	}
	assert_int_equal(chdir(before), 0);
	rmdir(dir);
}

static void test_run_fd_not_a_namespace(void **state)
{
	int v = 1, fd;
	(void)state;
	fd = dup(0);
	calls = 0;
	/* An fd that is no namespace: EINVAL (or EPERM without root). */
	int r = pvx_ns_run_fd(fd, PVX_NS_NET, action, &v);
	assert_true(r == -EINVAL || r == -EPERM);
	assert_int_equal(calls, 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_and_own),
	    cmocka_unit_test(test_ids),
	    cmocka_unit_test(test_bad_pids),
	    cmocka_unit_test(test_run_in_place),
	    cmocka_unit_test(test_run_fd),
	    cmocka_unit_test(test_run_fd_not_a_namespace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

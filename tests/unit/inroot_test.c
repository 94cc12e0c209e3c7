/* common/inroot: every path resolved under a container's root stays in it
 * (absolute and ".." symlinks are taken from the root, never from the
 * host's "/"), links inside the root still work, a process sharing our
 * root follows no symlink at all, and parent directories are created
 * only inside the root. docs/security.md. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/inroot.h"

static char top[64], rootdir[80], outside[80];

/* mkdir dir/sub (sub may be ""). */
static void mkpath(const char *dir, const char *sub)
{
	char p[600];

	snprintf(p, sizeof(p), "%s%s", dir, sub);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void symlink_in_root(const char *target, const char *name)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/%s", rootdir, name);
	assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char target[600];
	int fd;

	(void)state;
	snprintf(top, sizeof(top), "/tmp/pvx-inroot-test.XXXXXX");
	if (!mkdtemp(top))
		return -1;
	snprintf(rootdir, sizeof(rootdir), "%s/root", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	mkpath(rootdir, "");
	mkpath(outside, "");
	mkpath(rootdir, "/run");
	mkpath(rootdir, "/run/sub");
	/* The same relative name exists outside too: a walk that escaped
	 * would find it. */
	mkpath(outside, "/run");
	close(open(strcat(strcpy(target, outside), "/run/secret"),
		   O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/run/real.sock", rootdir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	close(fd);
	snprintf(target, sizeof(target), "%s/run/secret", outside);
	symlink_in_root(target, "run/abs");
	snprintf(target, sizeof(target),
		 "../../../../../../../../..%s/run/secret", outside);
	symlink_in_root(target, "run/rel");
	symlink_in_root("../../outside/run/secret", "run/up");
	symlink_in_root("real.sock", "run/alias.sock");
	symlink_in_root("/run/real.sock", "run/absalias.sock");
	symlink_in_root("../real.sock", "run/sub/upalias.sock");
	symlink_in_root(outside, "esc");
	return 0;
}

static int teardown(void **state)
{
	char cmd[400];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	return system(cmd) == 0 ? 0 : -1;
}

/* A root over rootdir, confined as for a container with a root of its
 * own (what pvx_root_open gives for such a pid). */
static struct pvx_root test_root(void)
{
	struct pvx_root r = PVX_ROOT_INIT;

	r.fd = open(rootdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(r.fd >= 0);
	r.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	return r;
}

struct open_case {
	const char *path;
	int want; /* 0: opens the root's real.sock; else -errno */
};

static void test_openat_confined(void **state)
{
	static const struct open_case cases[] = {
	    {"/run/real.sock", 0},
	    {"run/real.sock", 0},
	    {"/run/alias.sock", 0},
	    {"/run/absalias.sock", 0},
	    {"/run/sub/upalias.sock", 0},
	    {"/../../run/real.sock", 0}, /* ".." stops at the root */
	    {"/run/abs", -ENOENT},	 /* absolute: from the root */
	    {"/run/rel", -ENOENT},	 /* "..": clamped at the root */
	    {"/run/up", -ENOENT},
	    {"/esc/run/secret", -ENOENT},
	    {"/run/missing.sock", -ENOENT},
	};
	struct pvx_root r = test_root();
	struct stat st, real;
	char p[600];

	(void)state;
	snprintf(p, sizeof(p), "%s/run/real.sock", rootdir);
	assert_int_equal(stat(p, &real), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int fd = pvx_root_openat(&r, cases[i].path, O_PATH);

		if (cases[i].want) {
			if (fd != cases[i].want)
				fail_msg("%s: got %d, want %d", cases[i].path,
					 fd, cases[i].want);
			continue;
		}
		if (fd < 0)
			fail_msg("%s: %s", cases[i].path, strerror(-fd));
		assert_int_equal(fstat(fd, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		assert_true(st.st_ino == real.st_ino);
		close(fd);
	}
	pvx_root_close(&r);
	pvx_root_close(&r); /* idempotent */
}

/* Our own pid shares our mount namespace and root: no symlink followed,
 * not even one that stays in place. */
static void test_shared_root_follows_no_symlink(void **state)
{
	struct pvx_root r;
	char p[600];
	int fd;

	(void)state;
	assert_int_equal(pvx_root_open(getpid(), &r), 0);
	assert_true(r.shared);
	snprintf(p, sizeof(p), "%s/run/real.sock", rootdir);
	fd = pvx_root_openat(&r, p, O_PATH);
	assert_true(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/run/alias.sock", rootdir);
	assert_int_equal(pvx_root_openat(&r, p, O_PATH), -ELOOP);
	snprintf(p, sizeof(p), "%s/esc/run/secret", rootdir);
	assert_int_equal(pvx_root_openat(&r, p, O_PATH), -ELOOP);
	pvx_root_close(&r);

	/* pid 0 is the host: ordinary resolution of a graph's own path. */
	assert_int_equal(pvx_root_open(0, &r), 0);
	assert_false(r.shared);
	snprintf(p, sizeof(p), "%s/run/alias.sock", rootdir);
	fd = pvx_root_openat(&r, p, O_PATH);
	assert_true(fd >= 0);
	close(fd);
	pvx_root_close(&r);

	assert_int_equal(pvx_root_open(0x7ffffff0, &r), -ESRCH);
	assert_int_equal(r.fd, -1);
}

static void test_open_parent(void **state)
{
	static const char *bad[] = {
	    "",		  "relative/x.sock", "/",
	    "/a//x.sock", "/a/./x.sock",     "/a/../x.sock",
	    "/run/",	  "/run/..",	     "/run/.",
	};
	struct pvx_root r = test_root();
	const char *name = NULL;
	struct stat st;
	char p[600];
	mode_t old;
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		fd = pvx_root_open_parent(&r, bad[i], 0755, &name);
		if (fd != -EINVAL)
			fail_msg("'%s': got %d, want -EINVAL", bad[i], fd);
	}

	/* Missing directories are made inside the root, with the mode
	 * asked whatever the umask. */
	old = umask(077);
	fd = pvx_root_open_parent(&r, "/new/dir/x.sock", 0755, &name);
	umask(old);
	assert_true(fd >= 0);
	assert_string_equal(name, "x.sock");
	close(fd);
	snprintf(p, sizeof(p), "%s/new/dir", rootdir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);

	/* Without a mode nothing is made. */
	assert_int_equal(pvx_root_open_parent(&r, "/none/x.sock", 0, &name),
			 -ENOENT);

	/* A symlinked directory leading out: nothing created outside. */
	fd = pvx_root_open_parent(&r, "/esc/made/x.sock", 0755, &name);
	assert_true(fd < 0);
	snprintf(p, sizeof(p), "%s/made", outside);
	assert_int_equal(stat(p, &st), -1);
	assert_int_equal(errno, ENOENT);

	/* A symlinked directory that stays inside is followed there. */
	fd = pvx_root_open_parent(&r, "/run/sub/x.sock", 0755, &name);
	assert_true(fd >= 0);
	close(fd);
	pvx_root_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_openat_confined),
	    cmocka_unit_test(test_shared_root_follows_no_symlink),
	    cmocka_unit_test(test_open_parent),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* common/sock: the one stale-socket policy (a live server kept, a dead
 * socket file replaced, anything else refused and left alone), binding
 * through a directory fd and a bare name, TCP listener options,
 * non-blocking connects, peer addresses and mkdir -p. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/sock.h"

static char top[64];

static void pathof(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", top, name);
}

/* A Unix socket bound at path: listening (live) or not (a dead file). */
static int unix_at(const char *path, int live)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (live)
		assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static int answers(const char *path)
{
	int fd, r = pvx_sock_connect_unix(path, &fd);

	if (fd >= 0)
		close(fd);
	return r == 0;
}

static void rm_rf(const char *dir)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(top, sizeof(top), "/tmp/pvx-sock-test.XXXXXX");
	return mkdtemp(top) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	rm_rf(top);
	return 0;
}

/* ------------------------------------------------ stale-socket policy */

enum occupant {
	NOTHING,   /* nothing at the name */
	DEAD_SOCK, /* a socket file nobody listens on */
	LIVE_SOCK, /* a socket a server listens on */
	REG_FILE,  /* a regular file */
	DIRECTORY, /* a directory */
	FIFO,	   /* a named pipe */
	LINK_LIVE, /* a symlink to a live socket */
	LINK_DEAD, /* a symlink to a dead socket file */
	LINK_NONE, /* a dangling symlink */
};

static const struct stale_case {
	const char *what;
	enum occupant occ;
	int want; /* 0: bound; -errno: refused */
	const char *why;
} stale_cases[] = {
    {"nothing there", NOTHING, 0, NULL},
    {"dead socket replaced", DEAD_SOCK, 0, NULL},
    {"live socket kept", LIVE_SOCK, -EADDRINUSE, "a live socket is there"},
    {"regular file refused", REG_FILE, -EEXIST, "path is a regular file"},
    {"directory refused", DIRECTORY, -EEXIST, "path is a directory"},
    {"fifo refused", FIFO, -EEXIST, "path is not a socket"},
    {"symlink to a live socket refused", LINK_LIVE, -EEXIST,
     "path is a symlink"},
    {"symlink to a dead socket refused", LINK_DEAD, -EEXIST,
     "path is a symlink"},
    {"dangling symlink refused", LINK_NONE, -EEXIST, "path is a symlink"},
};

/* Puts occ at path; returns a listening fd to close afterwards, or -1. */
static int occupy(enum occupant occ, const char *path, const char *aside)
{
	int fd = -1;

	switch (occ) {
	case NOTHING:
		break;
	case DEAD_SOCK:
		close(unix_at(path, 0));
		break;
	case LIVE_SOCK:
		fd = unix_at(path, 1);
		break;
	case REG_FILE:
		fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "keep", 4), 4);
		close(fd);
		fd = -1;
		break;
	case DIRECTORY:
		assert_int_equal(mkdir(path, 0755), 0);
		break;
	case FIFO:
		assert_int_equal(mkfifo(path, 0644), 0);
		break;
	case LINK_LIVE:
	case LINK_DEAD:
		if (occ == LINK_LIVE)
			fd = unix_at(aside, 1);
		else
			close(unix_at(aside, 0));
		assert_int_equal(symlink(aside, path), 0);
		break;
	case LINK_NONE:
		assert_int_equal(symlink(aside, path), 0);
		break;
	}
	return fd;
}

/* What was there is still there, untouched. */
static void check_left_alone(enum occupant occ, const char *path,
			     const char *aside)
{
	struct stat st;
	char buf[8] = "";
	int fd;

	assert_int_equal(lstat(path, &st), 0);
	switch (occ) {
	case LIVE_SOCK:
		assert_true(S_ISSOCK(st.st_mode));
		assert_true(answers(path));
		break;
	case REG_FILE:
		fd = open(path, O_RDONLY | O_CLOEXEC);
		assert_int_equal(read(fd, buf, sizeof(buf) - 1), 4);
		close(fd);
		assert_string_equal(buf, "keep");
		break;
	case DIRECTORY:
		assert_true(S_ISDIR(st.st_mode));
		break;
	case FIFO:
		assert_true(S_ISFIFO(st.st_mode));
		break;
	case LINK_LIVE:
	case LINK_DEAD:
	case LINK_NONE:
		assert_true(S_ISLNK(st.st_mode));
		if (occ != LINK_NONE)
			assert_int_equal(lstat(aside, &st), 0);
		if (occ == LINK_LIVE)
			assert_true(answers(aside));
		break;
	default:
		fail();
	}
}

static void run_stale(int use_dirfd)
{
	for (size_t i = 0; i < sizeof(stale_cases) / sizeof(*stale_cases);
	     i++) {
		const struct stale_case *c = &stale_cases[i];
		struct pvx_sock_err e = {0};
		char path[128], aside[128];
		int other, fd, dir = AT_FDCWD;
		struct stat st;

		print_message("%s (%s)\n", c->what,
			      use_dirfd ? "dirfd" : "path");
		pathof(path, sizeof(path), "s.sock");
		pathof(aside, sizeof(aside), "aside.sock");
		other = occupy(c->occ, path, aside);
		if (use_dirfd) {
			dir = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
			assert_true(dir >= 0);
		}
		fd = pvx_sock_listen_unix(dir, use_dirfd ? "s.sock" : path,
					  0600, 0, &st, &e);
		if (c->want == 0) {
			assert_true(fd >= 0);
			assert_true(answers(path));
			assert_int_equal(lstat(path, &st), 0);
			assert_true(S_ISSOCK(st.st_mode));
			close(fd);
		} else {
			assert_int_equal(fd, c->want);
			assert_string_equal(e.step, "bind");
			assert_non_null(e.why);
			assert_non_null(strstr(e.why, c->why));
			assert_ptr_equal(pvx_sock_strerror(&e, fd), e.why);
			check_left_alone(c->occ, path, aside);
		}
		if (other >= 0)
			close(other);
		if (dir != AT_FDCWD)
			close(dir);
		rm_rf(path);
		unlink(aside);
	}
}

static void test_stale_path(void **state)
{
	(void)state;
	run_stale(0);
}

static void test_stale_dirfd(void **state)
{
	(void)state;
	run_stale(1);
}

/* ------------------------------------------------ dirfd binding */

/* The socket lands in the directory the fd names even after its path
 * has been moved and replaced by a symlink elsewhere: no path string is
 * resolved again. The working directory is the same afterwards. */
static void test_dirfd_binds_in_that_directory(void **state)
{
	char d[128], moved[128], elsewhere[128], p[200], cwd0[256], cwd1[256];
	struct pvx_sock_err e = {0};
	struct stat st, got;
	int dir, fd;

	(void)state;
	pathof(d, sizeof(d), "d");
	pathof(moved, sizeof(moved), "moved");
	pathof(elsewhere, sizeof(elsewhere), "elsewhere");
	assert_int_equal(mkdir(d, 0755), 0);
	assert_int_equal(mkdir(elsewhere, 0755), 0);
	dir = open(d, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(dir >= 0);
	assert_int_equal(rename(d, moved), 0);
	assert_int_equal(symlink(elsewhere, d), 0);
	assert_non_null(getcwd(cwd0, sizeof(cwd0)));

	fd = pvx_sock_listen_unix(dir, "x.sock", 0660, 8, &got, &e);
	assert_true(fd >= 0);
	assert_non_null(getcwd(cwd1, sizeof(cwd1)));
	assert_string_equal(cwd0, cwd1);
	snprintf(p, sizeof(p), "%s/x.sock", moved);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	/* Exactly the mode asked, whatever the umask. */
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(got.st_ino, st.st_ino);
	assert_int_equal(got.st_dev, st.st_dev);
	assert_true(answers(p));
	snprintf(p, sizeof(p), "%s/x.sock", elsewhere);
	assert_int_equal(lstat(p, &st), -1);
	close(fd);
	close(dir);
	rm_rf(moved);
	rm_rf(elsewhere);
	unlink(d);
}

static void test_unix_bad_names(void **state)
{
	static const struct {
		int dirfd;
		const char *name;
		int want;
	} cases[] = {
	    {1, "a/b.sock", -EINVAL}, /* not a bare name */
	    {1, "", -EINVAL},
	    {0, "", -EINVAL},
	    {1,
	     "n123456789012345678901234567890123456789012345678901234567890"
	     "12345678901234567890123456789012345678901234567890",
	     -ENAMETOOLONG},
	    {1, "nodir/", -EINVAL},
	};
	char path[128];
	int dir;

	(void)state;
	dir = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(dir >= 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct pvx_sock_err e = {0};
		int r = pvx_sock_listen_unix(cases[i].dirfd ? dir : AT_FDCWD,
					     cases[i].name, 0600, 0, NULL, &e);
		print_message("'%s'\n", cases[i].name);
		assert_int_equal(r, cases[i].want);
		assert_string_equal(e.step, "bind");
		assert_non_null(e.why);
	}
	/* A missing directory on the way is the bind's error. */
	pathof(path, sizeof(path), "nodir/x.sock");
	{
		struct pvx_sock_err e = {0};
		assert_int_equal(
		    pvx_sock_listen_unix(AT_FDCWD, path, 0600, 0, NULL, &e),
		    -ENOENT);
		assert_string_equal(e.step, "bind");
		assert_null(e.why);
		assert_string_equal(pvx_sock_strerror(&e, -ENOENT),
				    strerror(ENOENT));
	}
	close(dir);
}

/* ------------------------------------------------ TCP */

static int wait_connected(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	/* A failure guard only: loopback answers at once. */
	assert_int_equal(poll(&p, 1, 10000), 1);
	return pvx_sock_connect_result(fd);
}

static int intopt(int fd, int level, int opt)
{
	int v = -1;
	socklen_t l = sizeof(v);

	assert_int_equal(getsockopt(fd, level, opt, &v, &l), 0);
	return v;
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	return ntohs(ss.ss_family == AF_INET
			 ? ((struct sockaddr_in *)&ss)->sin_port
			 : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void test_listen_tcp(void **state)
{
	static const struct {
		const char *addr;
		unsigned flags;
	} cases[] = {
	    {"127.0.0.1:1", 0},
	    {"127.0.0.1:1", PVX_SOCK_NODELAY},
	    {"[::1]:1", 0},
	    {"[::1]:1", PVX_SOCK_NODELAY},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct pvx_sock_err e = {0};
		struct pvx_hostport hp;
		char err[64];
		int fd, fd2, c;

		print_message("%s flags=%u\n", cases[i].addr, cases[i].flags);
		assert_int_equal(
		    pvx_hostport_parse(cases[i].addr, &hp, err, sizeof(err)),
		    0);
		hp.port = 0; /* any free port */
		fd = pvx_sock_listen_tcp(&hp, 0, cases[i].flags, &e);
		assert_true(fd >= 0);
		assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		assert_int_equal(intopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
		assert_int_equal(intopt(fd, SOL_SOCKET, SO_REUSEADDR), 1);
		assert_int_equal(intopt(fd, IPPROTO_TCP, TCP_NODELAY) != 0,
				 (cases[i].flags & PVX_SOCK_NODELAY) != 0);
		if (hp.family == AF_INET6)
			assert_int_equal(intopt(fd, IPPROTO_IPV6, IPV6_V6ONLY),
					 1);
		/* The same address again: the bind says why. */
		hp.port = local_port(fd);
		fd2 = pvx_sock_listen_tcp(&hp, 0, 0, &e);
		assert_int_equal(fd2, -EADDRINUSE);
		assert_string_equal(e.step, "bind");
		assert_null(e.why);
		/* And it accepts: a connect gets through. */
		fd2 = pvx_sock_connect_tcp(&hp, 0, &c);
		assert_true(fd2 == 0 || fd2 == -EINPROGRESS);
		assert_int_equal(fd2 == 0 ? 0 : wait_connected(c), 0);
		close(c);
		close(fd);
	}
}

/* ------------------------------------------------ connect */

static void test_connect_tcp(void **state)
{
	struct pvx_hostport hp;
	char err[64];
	int l, fd, r;

	(void)state;
	assert_int_equal(
	    pvx_hostport_parse("127.0.0.1:1", &hp, err, sizeof(err)), 0);
	hp.port = 0;
	l = pvx_sock_listen_tcp(&hp, 0, 0, NULL);
	assert_true(l >= 0);
	hp.port = local_port(l);

	/* Connecting to a live listener: done at once or in progress. */
	r = pvx_sock_connect_tcp(&hp, PVX_SOCK_NODELAY, &fd);
	assert_true(r == 0 || r == -EINPROGRESS);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(intopt(fd, IPPROTO_TCP, TCP_NODELAY) != 0, 1);
	assert_int_equal(
	    r == 0 ? pvx_sock_connect_result(fd) : wait_connected(fd), 0);
	close(fd);

	/* A port nobody listens on any more: refused, now or later. */
	close(l);
	r = pvx_sock_connect_tcp(&hp, 0, &fd);
	if (r == -EINPROGRESS) {
		assert_true(fd >= 0);
		assert_int_equal(wait_connected(fd), -ECONNREFUSED);
		close(fd);
	} else {
		assert_int_equal(r, -ECONNREFUSED);
		assert_int_equal(fd, -1);
	}
}

/* A socket that has not finished connecting is "in progress", not
 * connected and not failed. */
static void test_connect_in_progress(void **state)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(pvx_sock_connect_result(fd), -EINPROGRESS);
	close(fd);
	assert_int_equal(pvx_sock_connect_result(fd), -EBADF);
}

static void test_connect_unix(void **state)
{
	char live[128], dead[128], none[128], longp[200];
	int l, fd;

	(void)state;
	pathof(live, sizeof(live), "live.sock");
	pathof(dead, sizeof(dead), "dead.sock");
	pathof(none, sizeof(none), "none.sock");
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	l = unix_at(live, 1);
	close(unix_at(dead, 0));

	assert_int_equal(pvx_sock_connect_unix(live, &fd), 0);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_int_equal(pvx_sock_connect_result(fd), 0);
	close(fd);
	assert_int_equal(pvx_sock_connect_unix(dead, &fd), -ECONNREFUSED);
	assert_int_equal(fd, -1);
	assert_int_equal(pvx_sock_connect_unix(none, &fd), -ENOENT);
	assert_int_equal(fd, -1);
	assert_int_equal(pvx_sock_connect_unix(longp, &fd), -ENAMETOOLONG);
	assert_int_equal(fd, -1);
	close(l);
	unlink(live);
	unlink(dead);
}

/* ------------------------------------------------ peer addresses */

static void test_peer_format(void **state)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(80)};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6,
				   .sin6_port = htons(443)};
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct {
		const struct sockaddr *sa;
		socklen_t len;
		const char *want;
	} cases[] = {
	    {(struct sockaddr *)&in, sizeof(in), "1.2.3.4:80"},
	    {(struct sockaddr *)&in6, sizeof(in6), "[::1]:443"},
	    {(struct sockaddr *)&un, sizeof(un), "unix"},
	    {(struct sockaddr *)&in, 2, "unix"}, /* truncated: no address */
	    {NULL, 0, "unix"},
	};
	char buf[PVX_ADDRSTRLEN];

	(void)state;
	inet_pton(AF_INET, "1.2.3.4", &in.sin_addr);
	inet_pton(AF_INET6, "::1", &in6.sin6_addr);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		pvx_sockaddr_format(cases[i].sa, cases[i].len, buf,
				    sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
}

/* The peer of real connected sockets, of each kind. */
static void test_sock_peer(void **state)
{
	static const char *addrs[] = {"127.0.0.1:1", "[::1]:1"};
	char buf[PVX_ADDRSTRLEN], want[PVX_ADDRSTRLEN], err[64], path[128];
	struct pvx_hostport hp;
	int l, c, fd;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(
		    pvx_hostport_parse(addrs[i], &hp, err, sizeof(err)), 0);
		hp.port = 0;
		l = pvx_sock_listen_tcp(&hp, 0, 0, NULL);
		assert_true(l >= 0);
		hp.port = local_port(l);
		c = -1;
		fd = pvx_sock_connect_tcp(&hp, 0, &c);
		assert_true(fd == 0 || fd == -EINPROGRESS);
		assert_int_equal(fd == 0 ? 0 : wait_connected(c), 0);
		assert_int_equal(pvx_sock_peer(c, buf, sizeof(buf)), 0);
		pvx_hostport_format(&hp, want, sizeof(want));
		assert_string_equal(buf, want);
		close(c);
		close(l);
	}
	pathof(path, sizeof(path), "peer.sock");
	l = unix_at(path, 1);
	assert_int_equal(pvx_sock_connect_unix(path, &c), 0);
	assert_int_equal(pvx_sock_peer(c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "unix");
	close(c);
	close(l);
	unlink(path);
	/* Not connected: an error, and an empty string. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(pvx_sock_peer(fd, buf, sizeof(buf)), -ENOTCONN);
	assert_string_equal(buf, "");
	close(fd);
}

/* ------------------------------------------------ mkdir -p */

static void test_mkdir_p(void **state)
{
	char real[128], p[200];
	struct stat st;
	static const struct {
		const char *rel; /* under top */
		int parents;	 /* pvx_mkdir_parents */
		int want;
		const char *isdir;  /* must be a directory afterwards */
		const char *absent; /* must not exist afterwards */
	} cases[] = {
	    {"a/b/c", 0, 0, "a/b/c", NULL},
	    {"a/b/c", 0, 0, "a/b/c", NULL}, /* again: nothing to do */
	    {"a//d///e/", 0, 0, "a/d/e", NULL},
	    {"p/q/x.sock", 1, 0, "p/q", "p/q/x.sock"},
	    {"file/x", 0, -ENOTDIR, NULL, "file/x"},
	    {"file", 0, -ENOTDIR, NULL, NULL},
	    {"file/x/y.sock", 1, -ENOTDIR, NULL, NULL},
	    {"link/sub", 0, 0, "real/sub", NULL}, /* followed, as mkdir -p */
	};

	(void)state;
	pathof(p, sizeof(p), "file");
	close(open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	pathof(real, sizeof(real), "real");
	assert_int_equal(mkdir(real, 0755), 0);
	pathof(p, sizeof(p), "link");
	assert_int_equal(symlink(real, p), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		print_message("%s\n", cases[i].rel);
		pathof(p, sizeof(p), cases[i].rel);
		assert_int_equal(cases[i].parents ? pvx_mkdir_parents(p, 0750)
						  : pvx_mkdir_p(p, 0750),
				 cases[i].want);
		if (cases[i].isdir) {
			pathof(p, sizeof(p), cases[i].isdir);
			assert_int_equal(lstat(p, &st), 0);
			assert_true(S_ISDIR(st.st_mode));
			assert_int_equal(st.st_mode & 0777, 0750 & ~022 & 0777);
		}
		if (cases[i].absent) {
			pathof(p, sizeof(p), cases[i].absent);
			assert_int_equal(lstat(p, &st), -1);
		}
	}
	/* A bare name or "/" has no parent to make. */
	assert_int_equal(pvx_mkdir_parents("x.sock", 0755), 0);
	assert_int_equal(pvx_mkdir_parents("/x.sock", 0755), 0);
	assert_int_equal(pvx_mkdir_p("/", 0755), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stale_path),
	    cmocka_unit_test(test_stale_dirfd),
	    cmocka_unit_test(test_dirfd_binds_in_that_directory),
	    cmocka_unit_test(test_unix_bad_names),
	    cmocka_unit_test(test_listen_tcp),
	    cmocka_unit_test(test_connect_tcp),
	    cmocka_unit_test(test_connect_in_progress),
	    cmocka_unit_test(test_connect_unix),
	    cmocka_unit_test(test_peer_format),
	    cmocka_unit_test(test_sock_peer),
	    cmocka_unit_test(test_mkdir_p),
	};

	umask(022);
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* The relay core with real sockets on one event loop: backend formatting
 * and connecting (good and bad backends, long /proc/<pid>/root paths), a
 * session's bytes both ways with half-close, counters, the idle timeout
 * and failures at start. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "xconnect/pipes.h"
#include "xconnect/relay.h"

struct fmt_case {
	enum pvx_backend_kind kind;
	const char *hp;	  /* for TCP */
	const char *path; /* for UNIX */
	pid_t pid;
	const char *want;
};

static const struct fmt_case fmt_cases[] = {
    {PVX_BACKEND_TCP, "10.0.4.2:80", NULL, 0, "10.0.4.2:80"},
    {PVX_BACKEND_TCP, "[fd00::2]:443", NULL, 7, "[fd00::2]:443"},
    {PVX_BACKEND_UNIX, NULL, "/run/a.sock", 0, "/run/a.sock"},
    {PVX_BACKEND_UNIX, NULL, "/run/a.sock", 42, "/proc/42/root/run/a.sock"},
    {PVX_BACKEND_NONE, NULL, NULL, 0, "none"},
};

static void make_backend(struct pvx_backend *be, enum pvx_backend_kind kind,
			 const char *hp, const char *path, pid_t pid)
{
	char err[128];

	memset(be, 0, sizeof(*be));
	be->kind = kind;
	be->pid = pid;
	if (hp)
		assert_int_equal(
		    pvx_hostport_parse(hp, &be->hp, err, sizeof(err)), 0);
	if (path) {
		assert_true(strlen(path) < sizeof(be->path));
		memcpy(be->path, path, strlen(path) + 1);
	}
}

static void test_backend_format(void **state)
{
	struct pvx_backend be;
	char buf[160];
	(void)state;
	for (size_t i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
		const struct fmt_case *c = &fmt_cases[i];
		make_backend(&be, c->kind, c->hp, c->path, c->pid);
		pvx_backend_format(&be, buf, sizeof(buf));
		assert_string_equal(buf, c->want);
	}
}

static void test_backend_from_conf(void **state)
{
	struct pvx_link_conf c;
	struct pvx_backend be;
	char err[64];
	(void)state;
	memset(&c, 0, sizeof(c));
	c.backend = PVX_BACKEND_UNIX;
	strcpy(c.backend_path, "/run/x.sock");
	c.provider_pid = 9;
	c.consumer_pid = 3;
	pvx_backend_from_conf(&be, &c);
	assert_int_equal(be.kind, PVX_BACKEND_UNIX);
	assert_string_equal(be.path, "/run/x.sock");
	assert_int_equal(be.pid, 9);
	c.backend = PVX_BACKEND_TCP;
	assert_int_equal(
	    pvx_hostport_parse("127.0.0.1:9", &c.backend_hp, err, sizeof(err)),
	    0);
	pvx_backend_from_conf(&be, &c);
	assert_int_equal(be.kind, PVX_BACKEND_TCP);
	assert_int_equal(be.hp.port, 9);
}

static char tmpdir[64];

static int setup_tmp(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pvx-relay-test.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int unix_listener(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

struct connect_case {
	enum pvx_backend_kind kind;
	const char *path; /* relative to tmpdir when starting with '@' */
	int want;	  /* 0, or -errno */
};

static void test_backend_connect_bad(void **state)
{
	static const struct connect_case cases[] = {
	    {PVX_BACKEND_NONE, NULL, -EDESTADDRREQ},
	    {PVX_BACKEND_UNIX, "relative.sock", -EINVAL},
	    {PVX_BACKEND_UNIX, "", -EINVAL},
	    {PVX_BACKEND_UNIX, "@/missing.sock", -ENOENT},
	    {PVX_BACKEND_UNIX, "@/nodir/x.sock", -ENOENT},
	    {PVX_BACKEND_UNIX, "@/plainfile", -ENOTSOCK},
	};
	struct pvx_backend be;
	char path[PVX_PATH_MAX];
	int fd;
	(void)state;
	snprintf(path, sizeof(path), "%s/plainfile", tmpdir);
	close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct connect_case *c = &cases[i];
		if (c->path && c->path[0] == '@')
			snprintf(path, sizeof(path), "%s%s", tmpdir,
				 c->path + 1);
		else
			snprintf(path, sizeof(path), "%s",
				 c->path ? c->path : "");
		make_backend(&be, c->kind, NULL, path, 0);
		fd = 12345;
		assert_int_equal(pvx_backend_connect(&be, &fd), c->want);
		assert_int_equal(fd, -1);
	}
}

static void test_backend_connect_unix(void **state)
{
	struct pvx_backend be;
	char path[PVX_PATH_MAX + 16], dir[PVX_PATH_MAX];
	size_t n;
	int lfd, fd;
	(void)state;
	snprintf(path, sizeof(path), "%s/ok.sock", tmpdir);
	lfd = unix_listener(path);
	/* Plain path, then through our own /proc/<pid>/root. */
	for (int with_pid = 0; with_pid < 2; with_pid++) {
		make_backend(&be, PVX_BACKEND_UNIX, NULL, path,
			     with_pid ? getpid() : 0);
		assert_int_equal(pvx_backend_connect(&be, &fd), 0);
		assert_true(fd >= 0);
		assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		close(fd);
	}
	close(lfd);

	/* A path that fits sun_path alone but not under /proc/<pid>/root. */
	n = (size_t)snprintf(dir, sizeof(dir), "%s/", tmpdir);
	while (n < 96)
		dir[n++] = 'd';
	dir[n] = '\0';
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/l.sock", dir);
	assert_true(strlen(path) < 108 && strlen(path) + 12 >= 108);
	lfd = unix_listener(path);
	make_backend(&be, PVX_BACKEND_UNIX, NULL, path, getpid());
	assert_int_equal(pvx_backend_connect(&be, &fd), 0);
	close(fd);
	close(lfd);
}

static void test_backend_connect_tcp(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);
	struct pvx_backend be;
	char hp[32];
	int lfd, fd, r;
	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	snprintf(hp, sizeof(hp), "127.0.0.1:%u", ntohs(sin.sin_port));
	make_backend(&be, PVX_BACKEND_TCP, hp, NULL, 0);
	r = pvx_backend_connect(&be, &fd);
	assert_true(r == 0 || r == -EINPROGRESS);
	assert_true(fd >= 0);
	close(fd);
	close(lfd);
}

/* A session between a socketpair (the client) and a Unix listener (the
 * backend), driven by hand. */
struct rig {
	struct event_base *base;
	struct pvx_link_stats stats;
	struct pvx_session_list list;
	struct pvx_session *s;
	int closed;
	int client; /* the test's end of the client socketpair */
	int lfd;    /* backend listener */
	int bfd;    /* the backend's accepted connection */
};

static void on_close(void *arg, struct pvx_session *s)
{
	struct rig *r = arg;
	assert_ptr_equal(s, r->s);
	r->closed++;
}

static void rig_start(struct rig *r, int idle_ms, size_t buf)
{
	struct pvx_session_params p;
	struct pvx_backend be;
	char path[PVX_PATH_MAX];
	int sv[2];

	memset(r, 0, sizeof(*r));
	r->base = event_base_new();
	assert_non_null(r->base);
	LIST_INIT(&r->list);
	snprintf(path, sizeof(path), "%s/be.sock", tmpdir);
	r->lfd = unix_listener(path);
	assert_int_equal(socketpair(AF_UNIX,
				    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				    0, sv),
			 0);
	r->client = sv[0];
	make_backend(&be, PVX_BACKEND_UNIX, NULL, path, 0);
	p = (struct pvx_session_params){
	    .base = r->base,
	    .link_name = "unit",
	    .stats = &r->stats,
	    .limits = {.connect_timeout_ms = 1000,
		       .idle_timeout_ms = idle_ms,
		       .drain_ms = 0,
		       .max_conns = 10,
		       .buf_size = buf},
	    .list = &r->list,
	    .on_close = on_close,
	    .arg = r,
	};
	r->s = pvx_session_start(&p, sv[1], NULL, 0, &be);
	assert_non_null(r->s);
	assert_ptr_equal(LIST_FIRST(&r->list), r->s);
	assert_int_equal(r->stats.active, 1);
	r->bfd = accept4(r->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	assert_true(r->bfd >= 0);
}

static void rig_free(struct rig *r)
{
	if (!r->closed)
		pvx_session_close(r->s, "test over");
	close(r->client);
	close(r->bfd);
	close(r->lfd);
	event_base_free(r->base);
}

static void spin(struct rig *r, int rounds)
{
	for (int i = 0; i < rounds; i++)
		event_base_loop(r->base, EVLOOP_NONBLOCK);
}

/* Reads what fd has until EOF or nothing more comes; returns the count,
 * with *eof set when EOF was seen. */
static size_t drain(struct rig *r, int fd, char *buf, size_t cap, int *eof)
{
	size_t got = 0;
	ssize_t n;

	*eof = 0;
	for (int idle = 0; idle < 200 && got < cap;) {
		spin(r, 2);
		n = read(fd, buf + got, cap - got);
		if (n > 0) {
			got += (size_t)n;
			idle = 0;
		} else if (n == 0) {
			*eof = 1;
			break;
		} else {
			idle++;
		}
	}
	return got;
}

static void test_session_halfclose(void **state)
{
	static char big[300000], back[300000];
	struct rig r;
	char buf[16];
	int eof;
	(void)state;
	rig_start(&r, 0, 4096);
	/* The client sends a request and EOF. */
	assert_int_equal(write(r.client, "hello", 5), 5);
	assert_int_equal(shutdown(r.client, SHUT_WR), 0);
	assert_int_equal(drain(&r, r.bfd, buf, sizeof(buf), &eof), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_true(eof);
	assert_int_equal(r.closed, 0);
	/* The backend answers a lot (more than the buffer) after EOF. */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251);
	size_t off = 0, got = 0;
	while (off < sizeof(big) || !eof) {
		ssize_t n = 0;
		if (off < sizeof(big)) {
			n = write(r.bfd, big + off, sizeof(big) - off);
			if (n > 0)
				off += (size_t)n;
			if (off == sizeof(big))
				shutdown(r.bfd, SHUT_WR);
		}
		spin(&r, 2);
		n = read(r.client, back + got, sizeof(back) - got);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0)
			eof = 1;
		else
			eof = 0;
	}
	assert_int_equal(got, sizeof(big));
	assert_memory_equal(back, big, sizeof(big));
	spin(&r, 4);
	assert_int_equal(r.closed, 1);
	assert_true(LIST_EMPTY(&r.list));
	assert_int_equal(r.stats.active, 0);
	assert_int_equal(r.stats.bytes_in, 5);
	assert_int_equal(r.stats.bytes_out, sizeof(big));
	assert_int_equal(r.stats.failed, 0);
	rig_free(&r);
}

/* Accepts the next connection on r->lfd, running the loop meanwhile (the
 * replay dials after a retry pause). -1 when none came. */
static int accept_next(struct rig *r)
{
	struct pollfd pfd = {.fd = r->lfd, .events = POLLIN};

	for (int i = 0; i < 300; i++) {
		event_base_loop(r->base, EVLOOP_NONBLOCK);
		if (poll(&pfd, 1, 10) == 1)
			return accept4(r->lfd, NULL, NULL,
				       SOCK_NONBLOCK | SOCK_CLOEXEC);
	}
	return -1;
}

/* The bytes written to a backend that closes before answering are sent
 * again to the next dial: whole and in order, across several client
 * writes (the replay buffer grows); beyond the buffer size there is no
 * replay and the backend's EOF reaches the client. */
static void test_session_replay(void **state)
{
	static const size_t pieces[] = {100, 3000, 20000, 1};
	static char sent[32768], got[32768];
	size_t total = 0, n;
	struct rig r;
	int eof;
	(void)state;

	for (size_t i = 0; i < sizeof(sent); i++)
		sent[i] = (char)(i * 13 + i / 97);
	rig_start(&r, 0, 65536);
	for (size_t i = 0; i < sizeof(pieces) / sizeof(*pieces); i++) {
		assert_int_equal(write(r.client, sent + total, pieces[i]),
				 (ssize_t)pieces[i]);
		total += pieces[i];
		n = drain(&r, r.bfd, got, total, &eof);
		(void)n;
	}
	/* The first backend read everything, then goes away silently. */
	close(r.bfd);
	r.bfd = accept_next(&r);
	assert_true(r.bfd >= 0);
	n = drain(&r, r.bfd, got, sizeof(got), &eof);
	assert_int_equal(n, total);
	assert_memory_equal(got, sent, total);
	assert_int_equal(r.closed, 0);
	/* The second answers: no more replay, the answer reaches the client. */
	assert_int_equal(write(r.bfd, "ok", 2), 2);
	n = drain(&r, r.client, got, 2, &eof);
	assert_int_equal(n, 2);
	assert_memory_equal(got, "ok", 2);
	rig_free(&r);

	/* More than the buffer before the backend's first byte: not kept. */
	rig_start(&r, 0, 4096);
	for (total = 0; total < 6000;) {
		assert_int_equal(write(r.client, sent + total, 1000), 1000);
		total += 1000;
		n = drain(&r, r.bfd, got, 1000, &eof);
		assert_int_equal(n, 1000);
	}
	/* The backend's EOF is passed on (a replay would hold it back). */
	close(r.bfd);
	r.bfd = -1;
	assert_int_equal(drain(&r, r.client, got, sizeof(got), &eof), 0);
	assert_true(eof);
	rig_free(&r);
}

static void test_session_backpressure(void **state)
{
	static char chunk[65536];
	struct rig r;
	size_t sent = 0;
	ssize_t n;
	(void)state;
	rig_start(&r, 0, 4096);
	/* The backend reads nothing: the client must be stopped after
	 * the socket buffers and one bounded buffer are full. */
	for (int i = 0; i < 400; i++) {
		n = write(r.client, chunk, sizeof(chunk));
		if (n > 0)
			sent += (size_t)n;
		spin(&r, 1);
	}
	n = write(r.client, chunk, sizeof(chunk));
	assert_true(n < 0 && errno == EAGAIN);
	/* Far less than what was offered went anywhere. */
	assert_true(sent < 400 * sizeof(chunk) / 2);
	assert_int_equal(r.closed, 0);
	rig_free(&r);
}

/* The same two with heap buffers instead of pipes. */
static void test_session_copy_mode(void **state)
{
	pvx_relay_splice = false;
	test_session_halfclose(state);
	test_session_backpressure(state);
	pvx_relay_splice = true;
}

static void test_session_idle_timeout(void **state)
{
	struct rig r;
	struct timespec t0, t1;
	char c;
	(void)state;
	rig_start(&r, 60, 4096);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 300 && !r.closed; i++) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(r.base, &tv);
		event_base_dispatch(r.base);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(r.closed, 1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		  (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 40 && ms < 1000);
	/* Both ends were closed: the client sees EOF. */
	assert_int_equal(read(r.client, &c, 1), 0);
	assert_int_equal(r.stats.active, 0);
	close(r.client);
	close(r.bfd);
	close(r.lfd);
	event_base_free(r.base);
}

static void test_session_start_fails(void **state)
{
	/* Refused for good (no valid path): closed at once. */
	static const char *paths[] = {"relative", ""};
	struct pvx_link_stats stats = {0};
	struct pvx_session_list list;
	struct pvx_session_params p = {0};
	struct pvx_backend be;
	char path[PVX_PATH_MAX];
	int sv[2];
	(void)state;
	LIST_INIT(&list);
	p.base = event_base_new();
	p.link_name = "unit";
	p.stats = &stats;
	p.limits.connect_timeout_ms = 100;
	p.limits.buf_size = 4096;
	p.list = &list;
	p.on_close = on_close;
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s", paths[i]);
		make_backend(&be, PVX_BACKEND_UNIX, NULL, path, 0);
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		assert_null(pvx_session_start(&p, sv[1], NULL, 0, &be));
		/* The client's connection was closed at once. */
		char c;
		assert_int_equal(read(sv[0], &c, 1), 0);
		close(sv[0]);
		assert_int_equal(stats.failed, i + 1);
		assert_int_equal(stats.active, 0);
		assert_true(LIST_EMPTY(&list));
	}
	event_base_free(p.base);
}

/* Not there yet (no socket file, no address): the client is held, not
 * closed, and counted held; at the connect timeout it is closed and
 * counted failed, the backend marked down. */
static void on_close_count(void *arg, struct pvx_session *s)
{
	(void)s;
	(*(int *)arg)++;
}

static void test_session_held_then_fails(void **state)
{
	struct pvx_link_stats stats = {0};
	int closed = 0;
	struct pvx_session_list list;
	struct pvx_session_params p = {0};
	struct pvx_backend be;
	char path[PVX_PATH_MAX];
	int sv[2];
	(void)state;
	LIST_INIT(&list);
	p.base = event_base_new();
	p.link_name = "unit";
	p.stats = &stats;
	p.limits.connect_timeout_ms = 100;
	p.limits.buf_size = 4096;
	p.list = &list;
	p.on_close = on_close_count;
	p.arg = &closed;
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/none.sock", tmpdir);
		make_backend(&be, i == 0 ? PVX_BACKEND_UNIX : PVX_BACKEND_NONE,
			     NULL, path, 0);
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		assert_non_null(pvx_session_start(&p, sv[1], NULL, 0, &be));
		assert_int_equal(stats.held, 1);
		assert_int_equal(stats.active, 1);
		assert_int_equal(stats.failed, i);
		assert_int_equal(stats.health.state, PVX_HEALTH_DOWN);
		/* Retries until the timeout, then the close. */
		event_base_dispatch(p.base);
		char c;
		assert_int_equal(read(sv[0], &c, 1), 0);
		close(sv[0]);
		assert_int_equal(stats.failed, i + 1);
		assert_int_equal(closed, (int)i + 1);
		assert_int_equal(stats.held, 0);
		assert_int_equal(stats.active, 0);
		assert_true(LIST_EMPTY(&list));
	}
	event_base_free(p.base);
}

static void test_pipe_pool(void **state)
{
	static int many[130][2];
	int a[2], b[2], cap, cap2;
	(void)state;
	pvx_pipes_flush();
	cap = pvx_pipe_get(a, 65536);
	assert_true(cap >= 4096);
	assert_true(fcntl(a[0], F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(a[1], F_GETFD) & FD_CLOEXEC);
	int r0 = a[0], w0 = a[1];
	pvx_pipe_put(a, cap, true);
	assert_int_equal(a[0], -1);
	assert_int_equal(pvx_pipes_pooled(), 1);
	/* An empty pipe comes back from the pool. */
	cap2 = pvx_pipe_get(b, 65536);
	assert_int_equal(cap2, cap);
	assert_int_equal(b[0], r0);
	assert_int_equal(b[1], w0);
	assert_int_equal(pvx_pipes_pooled(), 0);
	/* One that may hold bytes is closed, not pooled. */
	assert_int_equal(write(b[1], "x", 1), 1);
	pvx_pipe_put(b, cap2, false);
	assert_int_equal(pvx_pipes_pooled(), 0);
	assert_int_equal(fcntl(r0, F_GETFD), -1);
	/* The pool is capped. */
	for (int i = 0; i < 130; i++)
		assert_true(pvx_pipe_get(many[i], 65536) > 0);
	for (int i = 0; i < 130; i++)
		pvx_pipe_put(many[i], cap, true);
	assert_int_equal(pvx_pipes_pooled(), 128);
	pvx_pipes_flush();
	assert_int_equal(pvx_pipes_pooled(), 0);
	/* Putting nothing is fine. */
	a[0] = a[1] = -1;
	pvx_pipe_put(a, 0, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pipe_pool),
	    cmocka_unit_test(test_backend_format),
	    cmocka_unit_test(test_backend_from_conf),
	    cmocka_unit_test(test_backend_connect_bad),
	    cmocka_unit_test(test_backend_connect_unix),
	    cmocka_unit_test(test_backend_connect_tcp),
	    cmocka_unit_test(test_session_halfclose),
	    cmocka_unit_test(test_session_replay),
	    cmocka_unit_test(test_session_backpressure),
	    cmocka_unit_test(test_session_copy_mode),
	    cmocka_unit_test(test_session_idle_timeout),
	    cmocka_unit_test(test_session_start_fails),
	    cmocka_unit_test(test_session_held_then_fails),
	};
	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}

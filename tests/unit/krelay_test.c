/* The kernel relay's BPF program and its user-space half (krelay.c), on
 * real loopback sockets: redirect within the budget, pass-back over it,
 * hand-back only once every passed byte was read, the FIN's empty skb
 * dropped, a missing peer passed instead of lost, refused inserts leaving
 * nothing behind. Skipped where BPF cannot load (the reason is printed). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xconnect/krelay.h"

static void test_mode_parse(void **state)
{
	static const struct {
		const char *in;
		int r;
		enum pvx_krelay_mode m;
	} cases[] = {
	    {"off", 0, PVX_KRELAY_OFF},	  {"on", 0, PVX_KRELAY_ON},
	    {"auto", 0, PVX_KRELAY_AUTO}, {"", -EINVAL, 0},
	    {"ON", -EINVAL, 0},		  {"1", -EINVAL, 0},
	    {"auto ", -EINVAL, 0},	  {"onn", -EINVAL, 0},
	    {"of", -EINVAL, 0},		  {"yes", -EINVAL, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum pvx_krelay_mode m = PVX_KRELAY_AUTO;
		int r = pvx_krelay_mode_parse(cases[i].in, &m);
		assert_int_equal(r, cases[i].r);
		if (r == 0) {
			assert_int_equal(m, cases[i].m);
			assert_string_equal(pvx_krelay_mode_name(m),
					    cases[i].in);
		}
	}
}

static void test_off(void **state)
{
	(void)state;
	pvx_krelay_init(NULL, PVX_KRELAY_OFF, 4);
	assert_false(pvx_krelay_active());
	assert_string_equal(pvx_krelay_reason(), "--kernel-relay=off");
	assert_int_equal(pvx_krelay_mode(), PVX_KRELAY_OFF);
	pvx_krelay_free();
}

static struct event_base *base;
static int events[2][3]; /* [dir][what] */

static void on_kev(void *arg, int dir, enum pvx_kev what)
{
	(void)arg;
	events[dir][what]++;
}

static void drain_events(void)
{
	usleep(20000);
	event_base_loop(base, EVLOOP_NONBLOCK);
}

/* a client connected to a fresh loopback listener: fd[0] dials, fd[1]
 * is accepted. */
static void pair(int fd[2])
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
	fd[0] = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd[0], (struct sockaddr *)&sa, sizeof(sa)), 0);
	fd[1] = accept(l, NULL, NULL);
	assert_true(fd[1] >= 0);
	close(l);
}

/* Reads what is there within 200 ms (up to len). */
static size_t take(int fd, char *buf, size_t len)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t got = 0;
	ssize_t n;

	while (got < len && poll(&p, 1, 200) > 0) {
		n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

struct rig {
	int a[2], b[2]; /* client a[0] -- a[1] proxy; proxy b[0] -- b[1] */
	struct pvx_kpair kp;
};

static int setup(void **state)
{
	static struct rig r;

	if (!base)
		base = event_base_new();
	pvx_krelay_init(base, PVX_KRELAY_ON, 8);
	if (!pvx_krelay_active()) {
		print_message("SKIPPED: kernel relay unavailable: %s\n",
			      pvx_krelay_reason());
		*state = NULL;
		return 0;
	}
	memset(events, 0, sizeof(events));
	pair(r.a);
	pair(r.b);
	*state = &r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	if (r) {
		pvx_krelay_remove(&r->kp);
		for (int i = 0; i < 2; i++) {
			close(r->a[i]);
			close(r->b[i]);
		}
	}
	pvx_krelay_free();
	return 0;
}

static void insert(struct rig *r)
{
	int fd[2] = {r->a[1], r->b[0]};

	assert_int_equal(pvx_krelay_insert(fd, on_kev, r, &r->kp), 0);
}

/* Fact 1: within the budget bytes are redirected; over it they stay on
 * the source (SK_PASS) and user space is told; the program takes the
 * direction back only once user space read every passed byte, and bytes
 * keep their order. */
static void test_budget(void **state)
{
	struct rig *r = *state;
	char out[6000], in[sizeof(out)];
	struct pvx_kdir_view v;

	if (!r)
		skip();
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 13);
	insert(r);
	/* Nothing redirected before the first hand-back. */
	assert_int_equal(send(r->a[0], out, 100, 0), 100);
	assert_int_equal(take(r->b[1], in, sizeof(in)), 0);
	assert_int_equal(take(r->a[1], in, sizeof(in)), 100);
	pvx_krelay_view(&r->kp, 0, &v);
	assert_int_equal(v.passed, 100);
	/* A hand-back for fewer bytes than were passed does nothing. */
	pvx_krelay_handback(&r->kp, 0, 0, 4096);
	assert_int_equal(send(r->a[0], out, 50, 0), 50);
	assert_int_equal(take(r->b[1], in, sizeof(in)), 0);
	assert_int_equal(take(r->a[1], in, sizeof(in)), 50);
	/* All read: the next bytes are redirected, up to the budget. */
	pvx_krelay_view(&r->kp, 0, &v);
	pvx_krelay_handback(&r->kp, 0, v.passed, 4096);
	assert_int_equal(send(r->a[0], out, 3000, 0), 3000);
	assert_int_equal(take(r->b[1], in, sizeof(in)), 3000);
	assert_memory_equal(in, out, 3000);
	drain_events();
	assert_int_equal(events[0][PVX_KEV_KERNEL], 1);
	pvx_krelay_view(&r->kp, 0, &v);
	assert_true(v.kernel);
	assert_int_equal(v.sent, 3000);
	/* Over the budget: passed, and told. */
	assert_int_equal(send(r->a[0], out + 3000, 3000, 0), 3000);
	assert_int_equal(take(r->b[1], in, sizeof(in)), 0);
	drain_events();
	assert_int_equal(events[0][PVX_KEV_PASS], 1);
	pvx_krelay_view(&r->kp, 0, &v);
	assert_false(v.kernel);
	assert_int_equal(v.passed, 3150);
	/* User space forwards them, hands back, and order holds. */
	assert_int_equal(take(r->a[1], in, sizeof(in)), 3000);
	assert_int_equal(send(r->b[0], in, 3000, 0), 3000);
	pvx_krelay_handback(&r->kp, 0, v.passed, 4096);
	assert_int_equal(send(r->a[0], out, 10, 0), 10);
	assert_int_equal(take(r->b[1], in, sizeof(in)), 3010);
	assert_memory_equal(in, out + 3000, 3000);
	assert_memory_equal(in + 3000, out, 10);
	drain_events();
	assert_int_equal(events[0][PVX_KEV_KERNEL], 2);
}

/* Fact 2: the FIN's empty skb is dropped, not redirected (the peer would
 * see EPIPE); the source reports EOF to user space. */
static void test_fin_dropped(void **state)
{
	struct rig *r = *state;
	struct pvx_kdir_view v;
	char buf[64];
	struct pollfd p;

	if (!r)
		skip();
	insert(r);
	pvx_krelay_handback(&r->kp, 0, 0, 1 << 20);
	assert_int_equal(send(r->a[0], "hello", 5, 0), 5);
	assert_int_equal(take(r->b[1], buf, sizeof(buf)), 5);
	assert_int_equal(shutdown(r->a[0], SHUT_WR), 0);
	usleep(20000);
	pvx_krelay_view(&r->kp, 0, &v);
	assert_true(v.drops >= 1);
	p = (struct pollfd){.fd = r->a[1], .events = POLLRDHUP};
	assert_int_equal(poll(&p, 1, 200), 1);
	assert_true(p.revents & POLLRDHUP);
	assert_int_equal(recv(r->a[1], buf, sizeof(buf), MSG_DONTWAIT), 0);
	/* The peer got no EOF and no error: its stream goes on. */
	p = (struct pollfd){.fd = r->b[1], .events = POLLIN};
	assert_int_equal(poll(&p, 1, 50), 0);
	assert_int_equal(send(r->b[0], "x", 1, MSG_NOSIGNAL), 1);
}

/* Fact 5: a peer no longer in the map (closed) gets nothing redirected:
 * the bytes stay on the source for user space, never lost. */
static void test_peer_gone(void **state)
{
	struct rig *r = *state;
	struct pvx_kdir_view v;
	char buf[64];

	if (!r)
		skip();
	insert(r);
	pvx_krelay_handback(&r->kp, 0, 0, 1 << 20);
	close(r->b[0]); /* leaves the map */
	r->b[0] = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(send(r->a[0], "abcdef", 6, 0), 6);
	assert_int_equal(take(r->a[1], buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "abcdef", 6);
	pvx_krelay_view(&r->kp, 0, &v);
	assert_int_equal(v.sent, 0);
	assert_int_equal(v.passed, 6);
}

/* Fact 5: a socket that is not established cannot go in the map; the
 * refusal leaves no slot taken. */
static void test_insert_refused(void **state)
{
	struct rig *r = *state;
	int fd[2], u = socket(AF_INET, SOCK_STREAM, 0);
	struct pvx_kpair kp;

	if (!r)
		skip();
	fd[0] = r->a[1];
	fd[1] = u;
	/* 8 sessions: 16 slots; refusals must not use them up. */
	for (int i = 0; i < 20; i++) {
		assert_true(pvx_krelay_insert(fd, on_kev, r, &kp) < 0);
		assert_int_equal(kp.slot[0], -1);
		assert_int_equal(kp.slot[1], -1);
	}
	close(u);
	insert(r); /* the established pair still goes in */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mode_parse),
	    cmocka_unit_test(test_off),
	    cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fin_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_peer_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_insert_refused, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

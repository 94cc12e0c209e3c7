/* xconnect/hupwatch: a watched socket's callback runs when its peer ends
 * (FIN) and when it resets, never for data; an item deleted by another
 * item's callback is not called; a deleted item is not called again.
 * The reset case is the one libevent's EV_CLOSED alone never dispatches
 * (and spins on). Loopback TCP only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xconnect/hupwatch.h"

/* A connected loopback pair: fd[0] the client, fd[1] the accepted end. */
static void tcp_pair(int fd[2])
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
	fd[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(fd[0], (struct sockaddr *)&sa, sizeof(sa)), 0);
	fd[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fd[1] >= 0);
	close(l);
}

struct item {
	struct pvx_hupw_item it; /* first */
	struct pvx_hupw *w;
	int calls;
	struct item *victim; /* deleted by this one's callback */
	bool del_self;
};

static void on_hup(struct pvx_hupw_item *it)
{
	struct item *x = (struct item *)it;

	x->calls++;
	if (x->victim) {
		assert_int_equal(pvx_hupw_del(x->w, &x->victim->it), 0);
		x->victim = NULL;
	}
	if (x->del_self)
		assert_int_equal(pvx_hupw_del(x->w, it), 0);
}

/* A few turns of the loop (EVLOOP_ONCE: a level-triggered item that
 * stays ready would keep EVLOOP_NONBLOCK alone looping). */
static void turn(struct event_base *base)
{
	for (int i = 0; i < 4; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static void test_data_does_not_wake(void **state)
{
	struct event_base *base = event_base_new();
	struct pvx_hupw *w = pvx_hupw_new(base);
	int fd[2];
	struct item x = {.it = {on_hup, -1}};

	(void)state;
	assert_non_null(w);
	tcp_pair(fd);
	x.it.fd = fd[1];
	x.w = w;
	assert_int_equal(pvx_hupw_add(w, &x.it), 0);
	assert_int_equal(send(fd[0], "hello", 5, 0), 5);
	turn(base);
	assert_int_equal(x.calls, 0);
	/* The FIN: called, and again on the next turn while it stays. */
	assert_int_equal(shutdown(fd[0], SHUT_WR), 0);
	turn(base);
	assert_true(x.calls >= 1);
	x.del_self = true;
	turn(base);
	int after = x.calls;
	turn(base);
	assert_int_equal(x.calls, after); /* deleted: never again */
	close(fd[0]);
	close(fd[1]);
	pvx_hupw_free(w);
	event_base_free(base);
}

static void test_reset_is_heard(void **state)
{
	struct event_base *base = event_base_new();
	struct pvx_hupw *w = pvx_hupw_new(base);
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	int fd[2];
	struct item x = {.it = {on_hup, -1}, .del_self = true};

	(void)state;
	assert_non_null(w);
	tcp_pair(fd);
	x.it.fd = fd[1];
	x.w = w;
	assert_int_equal(pvx_hupw_add(w, &x.it), 0);
	/* An abortive close: fd[1] sees EPOLLHUP|EPOLLERR|EPOLLRDHUP. */
	assert_int_equal(
	    setsockopt(fd[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(fd[0]);
	turn(base);
	assert_int_equal(x.calls, 1);
	close(fd[1]);
	pvx_hupw_free(w);
	event_base_free(base);
}

/* Two items ready at once; the first called deletes the other (a session
 * closing both its ends): the other is not called. */
static void test_deleted_by_another(void **state)
{
	struct event_base *base = event_base_new();
	struct pvx_hupw *w = pvx_hupw_new(base);
	int a[2], b[2];
	struct item x = {.it = {on_hup, -1}, .del_self = true};
	struct item y = {.it = {on_hup, -1}, .del_self = true};

	(void)state;
	assert_non_null(w);
	tcp_pair(a);
	tcp_pair(b);
	x.it.fd = a[1];
	y.it.fd = b[1];
	x.w = y.w = w;
	x.victim = &y;
	y.victim = &x;
	assert_int_equal(pvx_hupw_add(w, &x.it), 0);
	assert_int_equal(pvx_hupw_add(w, &y.it), 0);
	close(a[0]);
	close(b[0]);
	turn(base);
	assert_int_equal(x.calls + y.calls, 1);
	close(a[1]);
	close(b[1]);
	pvx_hupw_free(w);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_data_does_not_wake),
	    cmocka_unit_test(test_reset_is_heard),
	    cmocka_unit_test(test_deleted_by_another),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

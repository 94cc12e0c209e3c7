/* The relay while a TCP backend connect is still in flight: the client is
 * read at once and its bytes (and its EOF) wait for the connect; a connect
 * that never completes is a connect timeout, counted failed. A backend
 * whose accept queue is full drops the SYN, which keeps the connect
 * pending until the kernel's retransmit one second later. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xconnect/relay.h"

struct rig {
	struct event_base *base;
	struct pvx_link_stats stats;
	struct pvx_session_list list;
	struct pvx_session *s;
	int closed;
	int client; /* the test's end of the client socketpair */
	int lfd;    /* backend listener, backlog 0 */
	int filler; /* fills the listener's accept queue */
};

static void on_close(void *arg, struct pvx_session *s)
{
	struct rig *r = arg;
	assert_ptr_equal(s, r->s);
	r->closed++;
}

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop for about ms milliseconds (or until the session closed). */
static void spin_ms(struct rig *r, int ms)
{
	uint64_t end = ms_now() + (uint64_t)ms;
	while (ms_now() < end && !r->closed) {
		event_base_loop(r->base, EVLOOP_NONBLOCK);
		usleep(2000);
	}
}

/* A listener with a full accept queue: the session's SYN is dropped. */
static void rig_start(struct rig *r, int connect_ms)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);
	struct pvx_session_params p;
	struct pvx_backend be;
	char hp[32], err[128];
	int sv[2];

	memset(r, 0, sizeof(*r));
	r->base = event_base_new();
	assert_non_null(r->base);
	LIST_INIT(&r->list);
	r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(r->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(r->lfd, 0), 0);
	assert_int_equal(getsockname(r->lfd, (struct sockaddr *)&sin, &sl), 0);
	r->filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(
	    connect(r->filler, (struct sockaddr *)&sin, sizeof(sin)), 0);
	snprintf(hp, sizeof(hp), "127.0.0.1:%u", ntohs(sin.sin_port));
	memset(&be, 0, sizeof(be));
	be.kind = PVX_BACKEND_TCP;
	assert_int_equal(pvx_hostport_parse(hp, &be.hp, err, sizeof(err)), 0);
	assert_int_equal(socketpair(AF_UNIX,
				    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				    0, sv),
			 0);
	r->client = sv[0];
	p = (struct pvx_session_params){
	    .base = r->base,
	    .link_name = "unit",
	    .stats = &r->stats,
	    .limits = {.connect_timeout_ms = connect_ms,
		       .idle_timeout_ms = 0,
		       .max_conns = 10,
		       .buf_size = 4096},
	    .list = &r->list,
	    .on_close = on_close,
	    .arg = r,
	};
	r->s = pvx_session_start(&p, sv[1], NULL, 0, &be);
	assert_non_null(r->s);
}

static void rig_free(struct rig *r)
{
	if (!r->closed)
		pvx_session_close(r->s, "test over");
	close(r->client);
	if (r->filler >= 0)
		close(r->filler);
	close(r->lfd);
	event_base_free(r->base);
}

/* Bytes and EOF sent before the backend accepted arrive once it did. */
static void test_data_and_eof_wait_for_connect(void **state)
{
	struct rig r;
	char buf[64];
	ssize_t n;
	size_t got = 0;
	int afd, eof = 0;
	(void)state;
	rig_start(&r, 5000);
	assert_int_equal(write(r.client, "hello", 5), 5);
	assert_int_equal(shutdown(r.client, SHUT_WR), 0);
	spin_ms(&r, 200);
	assert_int_equal(r.closed, 0);
	assert_int_equal(r.stats.failed, 0);
	/* Room in the queue: the SYN retransmitted after ~1 s gets in. */
	afd = accept(r.lfd, NULL, NULL);
	assert_true(afd >= 0);
	close(afd);
	close(r.filler);
	r.filler = -1;
	afd = -1;
	for (int i = 0; i < 300 && afd < 0; i++) {
		spin_ms(&r, 10);
		afd = accept4(r.lfd, NULL, NULL, SOCK_NONBLOCK);
	}
	assert_true(afd >= 0);
	for (int i = 0; i < 300 && !eof; i++) {
		spin_ms(&r, 5);
		n = read(afd, buf + got, sizeof(buf) - got);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0)
			eof = 1;
	}
	assert_int_equal(got, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_true(eof);
	/* The backend answers and closes: the client gets it all. */
	assert_int_equal(write(afd, "world", 5), 5);
	close(afd);
	got = 0;
	eof = 0;
	for (int i = 0; i < 300 && !eof; i++) {
		spin_ms(&r, 5);
		n = read(r.client, buf + got, sizeof(buf) - got);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0)
			eof = 1;
	}
	assert_int_equal(got, 5);
	assert_memory_equal(buf, "world", 5);
	assert_true(eof);
	spin_ms(&r, 50);
	assert_int_equal(r.closed, 1);
	assert_int_equal(r.stats.failed, 0);
	assert_int_equal(r.stats.bytes_in, 5);
	assert_int_equal(r.stats.bytes_out, 5);
	assert_int_equal(r.stats.active, 0);
	rig_free(&r);
}

/* A connect that never completes closes the session at the connect
 * timeout, counted failed, although the client's bytes were read. */
static void test_connect_timeout_with_data(void **state)
{
	struct rig r;
	uint64_t t0 = ms_now();
	(void)state;
	rig_start(&r, 300);
	assert_int_equal(write(r.client, "hello", 5), 5);
	spin_ms(&r, 900);
	assert_int_equal(r.closed, 1);
	assert_true(ms_now() - t0 >= 290);
	assert_int_equal(r.stats.failed, 1);
	assert_int_equal(r.stats.active, 0);
	assert_int_equal(r.stats.bytes_in, 0);
	rig_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_data_and_eof_wait_for_connect),
	    cmocka_unit_test(test_connect_timeout_with_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

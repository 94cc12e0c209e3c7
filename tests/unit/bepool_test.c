/* The pool of idle backend connections (xconnect/bepool.c) with socketpairs
 * on a real event loop: backend identity, reuse newest first, bounds per
 * backend and in all, tags, a backend's close or stray bytes and the idle
 * timeout dropping a connection, flush by backend, bad offers. Each case
 * is a script of steps run against one pool. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xconnect/bepool.h"

/* --- backend identity ---------------------------------------------------- */

struct be_spec {
	enum pvx_backend_kind kind;
	const char *addr; /* hostport for TCP, path for UNIX */
	pid_t pid;
};

static void be_make(struct pvx_backend *be, const struct be_spec *s)
{
	char err[128];

	memset(be, 0, sizeof(*be));
	be->kind = s->kind;
	be->pid = s->pid;
	if (s->kind == PVX_BACKEND_TCP)
		assert_int_equal(
		    pvx_hostport_parse(s->addr, &be->hp, err, sizeof(err)), 0);
	else if (s->kind == PVX_BACKEND_UNIX)
		snprintf(be->path, sizeof(be->path), "%s", s->addr);
}

struct same_case {
	struct be_spec a, b;
	bool same;
};

static const struct same_case same_cases[] = {
    {{PVX_BACKEND_TCP, "10.0.4.2:80", 0},
     {PVX_BACKEND_TCP, "10.0.4.2:80", 0},
     true},
    {{PVX_BACKEND_TCP, "10.0.4.2:80", 0},
     {PVX_BACKEND_TCP, "10.0.4.2:81", 0},
     false},
    {{PVX_BACKEND_TCP, "10.0.4.2:80", 0},
     {PVX_BACKEND_TCP, "10.0.4.3:80", 0},
     false},
    {{PVX_BACKEND_TCP, "10.0.4.2:80", 7},
     {PVX_BACKEND_TCP, "10.0.4.2:80", 8},
     false},
    {{PVX_BACKEND_TCP, "[fd00::2]:80", 0},
     {PVX_BACKEND_TCP, "[fd00::2]:80", 0},
     true},
    {{PVX_BACKEND_TCP, "[fd00::2]:80", 0},
     {PVX_BACKEND_TCP, "[fd00::3]:80", 0},
     false},
    {{PVX_BACKEND_TCP, "127.0.0.1:80", 0},
     {PVX_BACKEND_TCP, "[::1]:80", 0},
     false},
    {{PVX_BACKEND_UNIX, "/run/a.sock", 0},
     {PVX_BACKEND_UNIX, "/run/a.sock", 0},
     true},
    {{PVX_BACKEND_UNIX, "/run/a.sock", 0},
     {PVX_BACKEND_UNIX, "/run/b.sock", 0},
     false},
    {{PVX_BACKEND_UNIX, "/run/a.sock", 0},
     {PVX_BACKEND_UNIX, "/run/a.sock", 42},
     false},
    {{PVX_BACKEND_UNIX, "/run/a.sock", 42},
     {PVX_BACKEND_UNIX, "/run/a.sock", 42},
     true},
    {{PVX_BACKEND_UNIX, "/run/a.sock", 0},
     {PVX_BACKEND_TCP, "10.0.4.2:80", 0},
     false},
    {{PVX_BACKEND_NONE, NULL, 0}, {PVX_BACKEND_TCP, "10.0.4.2:80", 0}, false},
};

static void test_backend_same(void **state)
{
	struct pvx_backend a, b;
	(void)state;
	for (size_t i = 0; i < sizeof(same_cases) / sizeof(same_cases[0]);
	     i++) {
		be_make(&a, &same_cases[i].a);
		be_make(&b, &same_cases[i].b);
		if (pvx_backend_same(&a, &b) != same_cases[i].same)
			fail_msg("case %zu: %s %s", i, same_cases[i].a.addr,
				 same_cases[i].b.addr);
		assert_true(pvx_backend_same(&b, &a) == same_cases[i].same);
	}
}

/* --- scripted pool cases ------------------------------------------------- */

/* The backends the scripts name by index. */
static const struct be_spec backends[] = {
    {PVX_BACKEND_TCP, "10.0.4.2:80", 0},
    {PVX_BACKEND_TCP, "10.0.4.3:80", 0},
    {PVX_BACKEND_UNIX, "/run/web.sock", 42},
    {PVX_BACKEND_NONE, NULL, 0},
};

enum op {
	END,
	PUT,	    /* a new connection to be[arg] (tag), want ret */
	PUT_SLOT,   /* connection slot arg2 (taken back by GET) again */
	GET,	    /* want: the slot (>= 0) or -ENOENT */
	PEER_CLOSE, /* the backend end of slot arg closes */
	PEER_WRITE, /* ... sends a byte nobody asked for */
	LOOP,	    /* run the loop until pending events are done */
	LOOP_UNTIL, /* run the loop until count(be[arg]) == want */
	COUNT,	    /* count(be[arg], -1: all) == want */
	FLUSH,	    /* flush(be[arg], -1: all) == want */
	CLOSED,	    /* slot arg was closed by the pool (peer sees EOF) */
	OPEN,	    /* slot arg is still open (peer sees no EOF) */
};

struct step {
	enum op op;
	int arg;	 /* backend index, or slot */
	const char *tag; /* NULL: none; "#300": a 300-byte tag */
	int want;
	int arg2;
};

struct pool_case {
	const char *name;
	struct pvx_bepool_limits lim;
	struct step steps[24];
};

#define DEF_LIM                                                                \
	{                                                                      \
		4, 8, 60000                                                    \
	}

static const struct pool_case pool_cases[] = {
    {"reuse, newest first, then empty",
     DEF_LIM,
     {{PUT, 0, NULL, 0, 0},
      {PUT, 0, NULL, 0, 0},
      {COUNT, 0, NULL, 2, 0},
      {GET, 0, NULL, 1, 0},
      {GET, 0, NULL, 0, 0},
      {GET, 0, NULL, -ENOENT, 0},
      {COUNT, -1, NULL, 0, 0},
      {OPEN, 0, NULL, 0, 0},
      {OPEN, 1, NULL, 0, 0}}},
    {"another backend, another pid, no address",
     DEF_LIM,
     {{PUT, 0, NULL, 0, 0},
      {GET, 1, NULL, -ENOENT, 0},
      {GET, 2, NULL, -ENOENT, 0},
      {PUT, 2, NULL, 0, 0},
      {GET, 0, NULL, 0, 0},
      {GET, 2, NULL, 1, 0},
      {PUT, 3, NULL, -EINVAL, 0},
      {CLOSED, 2, NULL, 0, 0},
      {COUNT, -1, NULL, 0, 0}}},
    {"tags keep clients apart",
     DEF_LIM,
     {{PUT, 0, "PROXY TCP4 1.2.3.4 5.6.7.8 1000 80\r\n", 0, 0},
      {GET, 0, NULL, -ENOENT, 0},
      {GET, 0, "PROXY TCP4 1.2.3.4 5.6.7.8 1001 80\r\n", -ENOENT, 0},
      {COUNT, 0, NULL, 1, 0},
      {GET, 0, "PROXY TCP4 1.2.3.4 5.6.7.8 1000 80\r\n", 0, 0},
      {PUT, 0, "#300", -EINVAL, 0},
      {CLOSED, 1, NULL, 0, 0},
      {GET, 0, "#300", -ENOENT, 0}}},
    {"bound per backend",
     {2, 8, 60000},
     {{PUT, 0, NULL, 0, 0},
      {PUT, 0, NULL, 0, 0},
      {PUT, 0, NULL, -ENOSPC, 0},
      {CLOSED, 2, NULL, 0, 0},
      {PUT, 1, NULL, 0, 0},
      {COUNT, 0, NULL, 2, 0},
      {COUNT, -1, NULL, 3, 0},
      {GET, 0, NULL, 1, 0},
      {PUT_SLOT, 0, NULL, 0, 1},
      {COUNT, 0, NULL, 2, 0}}},
    {"bound in all",
     {4, 3, 60000},
     {{PUT, 0, NULL, 0, 0},
      {PUT, 1, NULL, 0, 0},
      {PUT, 2, NULL, 0, 0},
      {PUT, 0, NULL, -ENOSPC, 0},
      {CLOSED, 3, NULL, 0, 0},
      {OPEN, 0, NULL, 0, 0},
      {GET, 1, NULL, 1, 0},
      {PUT, 0, NULL, 0, 0},
      {COUNT, 0, NULL, 2, 0}}},
    {"no pooling when the size is 0",
     {0, 8, 60000},
     {{PUT, 0, NULL, -ENOSPC, 0},
      {CLOSED, 0, NULL, 0, 0},
      {COUNT, -1, NULL, 0, 0}}},
    {"the backend closes an idle connection",
     DEF_LIM,
     {{PUT, 0, NULL, 0, 0},
      {PUT, 0, NULL, 0, 0},
      {PEER_CLOSE, 0, NULL, 0, 0},
      {LOOP, 0, NULL, 0, 0},
      {COUNT, 0, NULL, 1, 0},
      {GET, 0, NULL, 1, 0},
      {GET, 0, NULL, -ENOENT, 0}}},
    {"bytes nobody asked for",
     DEF_LIM,
     {{PUT, 0, NULL, 0, 0},
      {PUT, 0, NULL, 0, 0},
      {PEER_WRITE, 1, NULL, 0, 0},
      {LOOP, 0, NULL, 0, 0},
      {CLOSED, 1, NULL, 0, 0},
      {GET, 0, NULL, 0, 0},
      {GET, 0, NULL, -ENOENT, 0}}},
    /* No loop run in between: the check at reuse catches them. */
    {"closed or readable before the loop saw it",
     DEF_LIM,
     {{PUT, 0, NULL, 0, 0},
      {PUT, 0, NULL, 0, 0},
      {PUT, 0, NULL, 0, 0},
      {PEER_CLOSE, 2, NULL, 0, 0},
      {PEER_WRITE, 1, NULL, 0, 0},
      {GET, 0, NULL, 0, 0},
      {CLOSED, 1, NULL, 0, 0},
      {COUNT, -1, NULL, 0, 0}}},
    {"idle timeout",
     {4, 8, 30},
     {{PUT, 0, NULL, 0, 0},
      {PUT, 1, NULL, 0, 0},
      {LOOP_UNTIL, -1, NULL, 0, 0},
      {CLOSED, 0, NULL, 0, 0},
      {CLOSED, 1, NULL, 0, 0},
      {GET, 0, NULL, -ENOENT, 0}}},
    {"flush by backend",
     DEF_LIM,
     {{PUT, 0, NULL, 0, 0},
      {PUT, 0, "tag", 0, 0},
      {PUT, 1, NULL, 0, 0},
      {PUT, 2, NULL, 0, 0},
      {FLUSH, 0, NULL, 2, 0},
      {CLOSED, 0, NULL, 0, 0},
      {CLOSED, 1, NULL, 0, 0},
      {OPEN, 2, NULL, 0, 0},
      {COUNT, -1, NULL, 2, 0},
      {FLUSH, 0, NULL, 0, 0},
      {FLUSH, -1, NULL, 2, 0},
      {CLOSED, 2, NULL, 0, 0},
      {CLOSED, 3, NULL, 0, 0},
      {PUT, 0, NULL, 0, 0},
      {GET, 0, NULL, 4, 0}}},
};

#define MAX_SLOTS 16

struct run {
	struct event_base *base;
	struct pvx_bepool *pool;
	int ours[MAX_SLOTS], peer[MAX_SLOTS];
	bool owned[MAX_SLOTS]; /* taken back by GET: the test closes it */
	int nslots;
};

static const struct pvx_backend *be_at(int i, struct pvx_backend *buf)
{
	if (i < 0)
		return NULL;
	be_make(buf, &backends[i]);
	return buf;
}

static const char *tag_of(const char *t, size_t *len, char *buf, size_t blen)
{
	size_t n;

	*len = 0;
	if (!t)
		return NULL;
	if (t[0] == '#') {
		n = (size_t)atoi(t + 1);
		assert_true(n <= blen);
		memset(buf, 'x', n);
		*len = n;
		return buf;
	}
	*len = strlen(t);
	return t;
}

/* Whether the pool closed our end: the peer reads EOF (or a reset). */
static bool peer_sees_eof(int peer)
{
	struct pollfd pfd = {.fd = peer, .events = POLLIN};
	char c;

	if (poll(&pfd, 1, 0) <= 0)
		return false;
	return recv(peer, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

static void loop_until(struct run *r, const struct pvx_backend *be, size_t want)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (pvx_bepool_count(r->pool, be) != want) {
		event_base_loop(r->base, EVLOOP_ONCE);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 10) /* failure guard */
			fail_msg("count stays %zu, want %zu",
				 pvx_bepool_count(r->pool, be), want);
	}
}

static void run_step(struct run *r, const struct step *s)
{
	struct pvx_backend bebuf;
	const struct pvx_backend *be = be_at(s->arg, &bebuf);
	char tbuf[512];
	size_t tlen;
	const char *tag = tag_of(s->tag, &tlen, tbuf, sizeof(tbuf));
	int sv[2], fd;

	switch (s->op) {
	case PUT:
		assert_true(r->nslots < MAX_SLOTS);
		assert_int_equal(
		    socketpair(AF_UNIX,
			       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
			       sv),
		    0);
		r->ours[r->nslots] = sv[0];
		r->peer[r->nslots++] = sv[1];
		assert_int_equal(pvx_bepool_put(r->pool, be, tag, tlen, sv[0]),
				 s->want);
		break;
	case PUT_SLOT:
		r->owned[s->arg2] = false;
		assert_int_equal(
		    pvx_bepool_put(r->pool, be, tag, tlen, r->ours[s->arg2]),
		    s->want);
		break;
	case GET:
		fd = pvx_bepool_get(r->pool, be, tag, tlen);
		if (s->want < 0) {
			assert_int_equal(fd, s->want);
			break;
		}
		assert_int_equal(fd, r->ours[s->want]);
		r->owned[s->want] = true;
		/* Still connected to that slot's peer, and no longer
		 * watched: a byte from the peer is left to us. */
		assert_int_equal(write(r->peer[s->want], "p", 1), 1);
		event_base_loop(r->base, EVLOOP_NONBLOCK);
		{
			char c = 0;
			assert_int_equal(read(fd, &c, 1), 1);
			assert_int_equal(c, 'p');
		}
		break;
	case PEER_CLOSE:
		close(r->peer[s->arg]);
		r->peer[s->arg] = -1;
		break;
	case PEER_WRITE:
		assert_int_equal(write(r->peer[s->arg], "!", 1), 1);
		break;
	case LOOP:
		event_base_loop(r->base, EVLOOP_NONBLOCK);
		break;
	case LOOP_UNTIL:
		loop_until(r, be, (size_t)s->want);
		break;
	case COUNT:
		assert_int_equal(pvx_bepool_count(r->pool, be), s->want);
		break;
	case FLUSH:
		assert_int_equal(pvx_bepool_flush(r->pool, be), s->want);
		break;
	case CLOSED:
		assert_true(peer_sees_eof(r->peer[s->arg]));
		r->ours[s->arg] = -1; /* the pool closed it */
		break;
	case OPEN:
		assert_false(peer_sees_eof(r->peer[s->arg]));
		break;
	case END:
		break;
	}
}

static void test_pool_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pool_cases) / sizeof(pool_cases[0]);
	     i++) {
		const struct pool_case *pc = &pool_cases[i];
		struct run r = {0};

		print_message("case: %s\n", pc->name);
		r.base = event_base_new();
		assert_non_null(r.base);
		r.pool = pvx_bepool_new(r.base, &pc->lim);
		assert_non_null(r.pool);
		for (size_t j = 0; j < 24 && pc->steps[j].op != END; j++)
			run_step(&r, &pc->steps[j]);
		/* What is left pooled is closed with the pool; the slots
		 * taken back by GET are the test's. */
		pvx_bepool_free(r.pool);
		for (int k = 0; k < r.nslots; k++) {
			if (r.owned[k]) {
				assert_false(peer_sees_eof(r.peer[k]));
				close(r.ours[k]);
			}
			if (r.peer[k] >= 0) {
				if (!r.owned[k])
					assert_true(peer_sees_eof(r.peer[k]));
				close(r.peer[k]);
			}
		}
		event_base_free(r.base);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backend_same),
	    cmocka_unit_test(test_pool_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

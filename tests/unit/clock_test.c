/* common/clock: ms <-> struct timeval, and the monotonic clocks move
 * forward together. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "common/clock.h"

static void test_ms_tv(void **state)
{
	static const struct {
		uint64_t ms;
		long sec, usec;
	} cases[] = {
	    {0, 0, 0},	      {1, 0, 1000},
	    {999, 0, 999000}, {1000, 1, 0},
	    {1001, 1, 1000},  {25, 0, 25000},
	    {65000, 65, 0},   {86400123, 86400, 123000},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct timeval tv = pvx_ms_tv(cases[i].ms);
		assert_int_equal(tv.tv_sec, cases[i].sec);
		assert_int_equal(tv.tv_usec, cases[i].usec);
		assert_int_equal(pvx_tv_ms(&tv), cases[i].ms);
	}
}

static void test_tv_ms(void **state)
{
	static const struct {
		struct timeval tv;
		uint64_t ms;
	} cases[] = {
	    {{0, 999}, 0},	 /* under a ms: truncated */
	    {{2, 500999}, 2500}, /* µs below the ms dropped */
	    {{-1, 0}, 0},	 /* negative: nothing */
	    {{0, -5}, 0},	 {{3, -5}, 3000},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		assert_int_equal(pvx_tv_ms(&cases[i].tv), cases[i].ms);
}

/* Both clocks never go back, move on across a sleep, and tell the same
 * time (the coarse one lags the precise one by at most a tick). */
static void test_monotonic(void **state)
{
	struct timespec nap = {.tv_nsec = 30 * 1000000};
	uint64_t ms0, us0, ms = 0, us = 0;

	(void)state;
	ms0 = pvx_now_ms();
	us0 = pvx_now_us();
	for (int i = 0; i < 1000; i++) {
		uint64_t m = pvx_now_ms(), u = pvx_now_us();
		assert_true(m >= ms);
		assert_true(u >= us);
		ms = m;
		us = u;
	}
	assert_true(ms0 * 1000 <= us0 + 1000);
	nanosleep(&nap, NULL);
	assert_true(pvx_now_ms() > ms0);
	assert_true(pvx_now_us() > us0);
	assert_true(pvx_now_ms() * 1000 <= pvx_now_us() + 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ms_tv),
	    cmocka_unit_test(test_tv_ms),
	    cmocka_unit_test(test_monotonic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

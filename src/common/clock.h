/* The clock helpers: monotonic time in ms (coarse and cheap, for timeouts,
 * rate limits and durations) and in µs (precise, for latencies), and ms
 * to struct timeval for libevent timers. */
#ifndef PVX_CLOCK_H
#define PVX_CLOCK_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

/* Monotonic ms. CLOCK_MONOTONIC_COARSE: a vDSO read without a syscall,
 * at the resolution of the kernel tick (a few ms), which is plenty for
 * what it times. */
static inline uint64_t pvx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Monotonic µs, precise (CLOCK_MONOTONIC). */
static inline uint64_t pvx_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ms as a struct timeval (for event_add and evtimer_add). */
static inline struct timeval pvx_ms_tv(uint64_t ms)
{
	struct timeval tv = {
	    .tv_sec = (time_t)(ms / 1000),
	    .tv_usec = (suseconds_t)((ms % 1000) * 1000),
	};
	return tv;
}

/* A struct timeval as ms (negative parts count as 0). */
static inline uint64_t pvx_tv_ms(const struct timeval *tv)
{
	uint64_t s = tv->tv_sec > 0 ? (uint64_t)tv->tv_sec : 0;
	uint64_t us = tv->tv_usec > 0 ? (uint64_t)tv->tv_usec : 0;

	return s * 1000 + us / 1000;
}

#endif

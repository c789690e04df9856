// SPDX-License-Identifier: ISC
#ifndef COFFER_CLOCK_H
#define COFFER_CLOCK_H

/*
 * The two clocks the appliance reads: a monotonic one in milliseconds for
 * deadlines and intervals, and the wall clock in nanoseconds since 1970 for
 * what is compared with a peer's time or written into a record.
 * clock_gettime cannot fail for these clocks with a valid pointer.
 */

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline uint64_t clock_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif

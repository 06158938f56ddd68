/*
 * Time as Roost's programs read it, stated once: the monotonic clock for
 * durations and deadlines, the real-time clock for stored instants, and
 * the Gregorian calendar for dates clients write.
 */
#ifndef ROOST_CLOCK_H
#define ROOST_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Seconds from `a` to `b` (negative when b is earlier). */
double clock_seconds_between(const struct timespec *a, const struct timespec *b);
/* Seconds from `start` (CLOCK_MONOTONIC) to now. */
double clock_seconds_since(const struct timespec *start);
/* CLOCK_MONOTONIC in milliseconds: for caches and waits. */
int64_t clock_monotonic_ms(void);
/* CLOCK_REALTIME in microseconds since the epoch: for stored instants. */
int64_t clock_realtime_us(void);
/* The CLOCK_REALTIME instant `ms` milliseconds from now, as
 * pthread_cond_timedwait and sem_timedwait take their deadline. */
struct timespec clock_realtime_after_ms(int64_t ms);

bool clock_is_leap_year(int year);
/* Days in month `month` (1..12) of `year` in the proleptic Gregorian calendar. */
int clock_days_in_month(int year, int month);

#endif

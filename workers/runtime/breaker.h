/*
 * The database circuit breaker of a worker process. A background probe
 * pings the database every BREAKER_PROBE_UP_MS while it answers and every
 * BREAKER_PROBE_DOWN_MS while it does not. Slow is not dead: each step of
 * a ping (connection, handshake, answer) may take the probe's patience —
 * ROOST_DB_PROBE_TIMEOUT_MS, by default a quarter of the request deadline
 * (ROOST_REQUEST_TIMEOUT_MS) within BREAKER_PATIENCE_MIN_MS..MAX_MS. The
 * breaker opens when a ping gets no answer at all within the patience, or
 * when BREAKER_FAILURES pings in a row are refused or dropped (one may be a
 * blip); the runtime then answers every op that needs the database with
 * 503 database_unavailable and Retry-After at once, instead of letting
 * each request wait out a hung socket, so a context is never held by a
 * database that does not answer. The first good ping closes it, however
 * slow.
 */
#ifndef ROOST_BREAKER_H
#define ROOST_BREAKER_H

#include <stdbool.h>

#define BREAKER_PROBE_UP_MS 250
#define BREAKER_PROBE_DOWN_MS 100
#define BREAKER_FAILURES 2
#define BREAKER_PATIENCE_MIN_MS 1000
#define BREAKER_PATIENCE_MAX_MS 5000

/* Starts the probe thread against `uri`; false when it cannot. */
bool breaker_start(const char *uri);
void breaker_stop(void);

/* True while the database is known to be down. */
bool breaker_open(void);

#endif

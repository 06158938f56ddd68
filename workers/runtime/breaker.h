/*
 * The database circuit breaker of a worker process. Slow is not dead: the
 * breaker opens only when the database gives no answer at all for
 * BREAKER_PATIENCE — a quarter of the request deadline
 * (ROOST_REQUEST_TIMEOUT_MS), at least BREAKER_PATIENCE_MIN_MS — while a
 * background ping waits for it, and no op's database work succeeded
 * meanwhile (breaker_note_answer); or when BREAKER_FAILURES pings in a row
 * fail outright (connection refused or dropped, or no connection within
 * ROOST_DB_PROBE_TIMEOUT_MS, 500 ms). The probe pings every
 * BREAKER_PROBE_UP_MS while the database answers and every
 * BREAKER_PROBE_DOWN_MS while it does not. While it is open the runtime
 * answers every op that needs the database with 503 database_unavailable
 * and Retry-After at once, instead of letting each request wait out a hung
 * socket, so a context is never held by a database that does not answer.
 * Any answer closes it again.
 */
#ifndef ROOST_BREAKER_H
#define ROOST_BREAKER_H

#include <stdbool.h>

#define BREAKER_PROBE_UP_MS 250
#define BREAKER_PROBE_DOWN_MS 100
#define BREAKER_FAILURES 2
#define BREAKER_PATIENCE_MIN_MS 1000

/* Starts the probe thread against `uri`; false when it cannot. */
bool breaker_start(const char *uri);
void breaker_stop(void);

/* True while the database is known to be down. */
bool breaker_open(void);

/* The database answered an op's work: it is alive, however slow. */
void breaker_note_answer(void);

#endif

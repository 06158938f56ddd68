/*
 * The database circuit breaker of a worker process. A background probe
 * pings the database every BREAKER_PROBE_UP_MS while it answers and every
 * BREAKER_PROBE_DOWN_MS while it does not, each ping bounded by
 * ROOST_DB_PROBE_TIMEOUT_MS (default 500). Once BREAKER_FAILURES pings in
 * a row have failed (about 1.1 s after a hang begins) the breaker is open: the runtime answers every op that needs the database
 * with 503 database_unavailable and Retry-After at once, instead of letting
 * each request wait out server selection or a hung socket, and a context
 * is never held by a database that does not answer. The first good ping
 * closes it again.
 */
#ifndef ROOST_BREAKER_H
#define ROOST_BREAKER_H

#include <stdbool.h>

#define BREAKER_PROBE_UP_MS 250
#define BREAKER_PROBE_DOWN_MS 100
#define BREAKER_FAILURES 2

/* Starts the probe thread against `uri`; false when it cannot. */
bool breaker_start(const char *uri);
void breaker_stop(void);

/* True while the database is known to be down. */
bool breaker_open(void);

#endif

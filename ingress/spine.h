/*
 * The ingress's direct path to the workers: an SP REQ client (nng's wire
 * protocol, shared/sp.h) on each h2o loop, with no broker and no nng thread
 * between a request and its worker. A request is sent, answered and
 * rendered on its own loop thread.
 *
 * A service whose workers are listed (ROOST_WORKERS_URL_<SERVICE>, else
 * ROOST_WORKERS_URL: a comma list of "tcp://host:port", a name standing
 * for every address it resolves to, re-resolved every second and whenever
 * a connection fails) is served this way; any other goes through its
 * brokers over nng (call.c). Each loop keeps one connection per worker and
 * sends a request to the ready worker with the fewest requests in flight,
 * at most ROOST_WORKER_CAPACITY (16) each; the rest wait in the loop's
 * queue of that pool, under their deadline. A request's bytes are kept
 * until its reply comes: when its connection drops, it is sent again to
 * another worker (workers make writes idempotent per request id). With no
 * worker reachable a request is answered 503 after a short grace.
 */
#ifndef ROOST_SPINE_H
#define ROOST_SPINE_H

#include "call.h"
#include "routes.h"

#include <bson/bson.h>
#include <h2o.h>

/* Reads the worker lists of every routed service; false (logged) when one
 * is not a list of tcp:// URLs. `timeout_ms` bounds each call. */
bool spine_configure(int timeout_ms);

/* Whether `service`'s requests take the direct path. */
bool spine_serves(const char *service);

/* On each loop's thread, once, before it serves: its connections and timers. */
void spine_loop_start(h2o_context_t *ctx);

/* Sends `envelope` for `route` to a worker of its service, when that
 * service is reached directly: the response is given on this loop when the
 * reply comes, 504 at the deadline, 503 when no worker can be reached.
 * False (nothing answered) for a service reached through its brokers. */
bool spine_send(h2o_req_t *req, const route_t *route, const char *rid, const bson_t *envelope, const call_then_t *then);

/* Whether every direct pool has a worker connected on some loop (readiness). */
bool spine_all_ready(void);

/* Calls in flight on every loop (sent or queued, not yet answered). */
int spine_in_flight(void);

#endif

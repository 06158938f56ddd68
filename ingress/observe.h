/*
 * What the ingress tells an operator about each request: Prometheus
 * metrics (shared/metrics.h), served at GET /metrics on the ingress's own
 * listener, and one access-log line per request (at info level).
 *
 * Metrics (route = the route's pattern, e.g. "/api/v1/users/{id}", never a
 * raw path; "unmatched" when no route matched):
 *   roost_http_requests_total{route,method,status}        counter
 *   roost_http_request_duration_seconds{route}             histogram, from the
 *       request's arrival to the start of its response (Roost's bodies are
 *       whole in memory by then)
 *   roost_http_requests_in_flight                          gauge
 *   roost_nng_calls_total{outcome}                         counter: ok,
 *       unavailable (answered 503: no pool pipe took it), timeout (504)
 */
#ifndef ROOST_OBSERVE_H
#define ROOST_OBSERVE_H

#include "client.h"
#include "routes.h"

#include <h2o.h>

/* Registers the ingress's metric families; once, before serving. */
void observe_init(void);

/* Starts watching `req` (matched to `route`, or NULL): its status, route and
 * duration are recorded when its response starts, so a client that has its
 * answer finds it counted; or, if it never starts, when h2o releases `req`.
 * Call once per request, on its loop's thread. */
void observe_request(h2o_req_t *req, const route_t *route, const char *rid);

/* Counts the end of one nng call. */
void observe_call(client_result_t result);

#endif

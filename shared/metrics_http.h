/* Serving the metrics registry (metrics.h) over HTTP. */
#ifndef ROOST_METRICS_HTTP_H
#define ROOST_METRICS_HTTP_H

#include <stdbool.h>

/*
 * Serves GET /metrics on ROOST_METRICS_HOST (an IPv4 address, default
 * 127.0.0.1) and ROOST_METRICS_PORT from a thread of its own
 * (libmicrohttpd), when that port is set and not 0; idle connections are
 * closed after 5 s, and at most 16 (4 per client address) are served. For processes without an HTTP server (brokers,
 * workers); the ingress answers /metrics on its own listener. False (after
 * logging why) when the port cannot be served.
 */
bool metrics_serve(void);
void metrics_serve_stop(void);

#endif

/*
 * What the ingress answers itself, from memory: the pages people look at
 * ("/" and "/docs", read once at start, their assets served by h2o's file
 * handler), /openapi.json (compiled in), and /healthz.
 */
#ifndef ROOST_PAGES_H
#define ROOST_PAGES_H

#include "routes.h"

#include <h2o.h>

/* Reads the pages and registers their asset paths on `host`, before the
 * catch-all "/" that h2o would otherwise pick for them. */
void pages_register(h2o_hostconf_t *host);

/* Answers a ROUTE_LOCAL route. */
void pages_answer(h2o_req_t *req, const char *rid, const route_t *route);

#endif

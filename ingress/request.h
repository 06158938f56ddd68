/*
 * The request pipeline of the ingress, one h2o handler for every route:
 * request id, route match (404, 405, OPTIONS and CORS preflight), local
 * answers, bearer token, query string, body (size, media type, JSON or
 * form), preconditions, then the protocol envelope sent to the op's pool.
 * Every refusal is answered here in the route's error shape.
 */
#ifndef ROOST_REQUEST_H
#define ROOST_REQUEST_H

#include <h2o.h>
#include <stddef.h>

/* The h2o on_req callback. */
int request_handle(h2o_handler_t *self, h2o_req_t *req);

#endif

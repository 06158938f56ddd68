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

/* What a multipart/form-data photo upload may add to the photo's bytes. */
#define REQUEST_FORM_SLACK_BYTES (64 << 10)

/* The body limits: JSON and form bodies (ROOST_MAX_BODY_BYTES), photos
 * (ROOST_MAX_MEDIA_BYTES). Set once at start-up, before any request. */
void request_configure(int64_t max_body, int64_t max_media);

/* The h2o on_req callback. */
int request_handle(h2o_handler_t *self, h2o_req_t *req);

#endif

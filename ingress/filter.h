/*
 * An h2o filter that gives the errors h2o sends by itself (413 before the
 * body is read, broken framing, 404 of a static file, 417) Roost's error
 * shapes and a request id, and lets the ingress's metrics see every
 * response start.
 */
#ifndef ROOST_FILTER_H
#define ROOST_FILTER_H

#include <h2o.h>

/* Gives every error h2o itself sends on `pathconf` Roost's error shape. */
void filter_register(h2o_pathconf_t *pathconf);

/* Sets the function that filter calls as each response on its paths starts,
 * on the request's loop thread (the ingress's metrics: observe.h). Set once,
 * before serving; NULL by default. */
void filter_on_response_start(void (*hook)(h2o_req_t *req));

#endif

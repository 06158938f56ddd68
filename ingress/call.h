/*
 * The nng side of the ingress: one REQ socket per worker pool, and the life
 * of one call from the request's loop to the pool and back. A call is sent
 * on its own nng context; nng completes it on one of its own threads, which
 * hands it back to the request's loop through h2o's multithread queue, so a
 * loop never blocks on nng and h2o_send runs only on the loop that owns the
 * request.
 */
#ifndef ROOST_CALL_H
#define ROOST_CALL_H

#include "client.h"
#include "routes.h"

#include <bson/bson.h>
#include <h2o.h>

/*
 * Opens (dials) the pool of every routed op's service (ROOST_POOL_URL...),
 * services that share a URL sharing one socket. `timeout_ms` bounds each
 * whole call, send and reply. False (after logging why) on failure.
 */
bool call_open_pools(int timeout_ms);

/* Closes every pool socket: calls in flight complete with an error. */
void call_close_pools(void);

/* How many pool sockets call_open_pools opened. */
size_t call_pool_count(void);

/*
 * Sends `envelope` (a protocol request) for `route` to its pool. The
 * response is sent on the request's loop when the reply comes (reply.c),
 * or at once: 503 when the pool is not connected (for a readiness route:
 * when any pool is not), 504 when the deadline passes first.
 */
void call_send(h2o_req_t *req, const route_t *route, const char *rid, const bson_t *envelope);

/* What a call that is one step of a longer exchange (a photo's pieces,
 * upload.c and media.c) does with a reply, on the request's loop, instead
 * of rendering it: send the next step, or respond. Only replies come here;
 * a timeout or an unreachable pool is answered as for any call. */
typedef void (*call_then_fn)(h2o_req_t *req, void *arg, const uint8_t *reply, size_t len);
typedef struct {
    call_then_fn fn;
    void *arg; /* lives as long as the request (its pool) */
} call_then_t;

/* The response to a call that ended with `result` (client.h), and its
 * reply when CLIENT_OK: `then`'s to give when it has a function, else
 * reply_render's; 504 for a timeout, 503 otherwise. For call.c and
 * spine.c alike. */
void call_answer(h2o_req_t *req, const route_t *route, const char *rid, const call_then_t *then, client_result_t result,
                 const uint8_t *reply, size_t len);

/* call_send, with `then` (may be NULL) taking the reply. */
void call_send_then(h2o_req_t *req, const route_t *route, const char *rid, const bson_t *envelope,
                    const call_then_t *then);

/* How many calls are in flight now (sent, their response not yet given). */
int call_in_flight(void);

/* The receiver of completed calls that each loop registers (server.c). */
void call_on_replies(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);

#endif

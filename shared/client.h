/*
 * The one nng REQ side of Roost, for the ingress, the internal client API
 * (roost.h) and the pool's broker: a REQ socket with its count of connected
 * pipes, and request/reply calls on it, each on its own nng context.
 *
 * Every REQ socket is opened the same way: reconnect after 50 ms, backing
 * off to 1 s, and re-send a request only when the pipe it went out on
 * closes, never on a timer (NNG_OPT_REQ_RESENDTIME), so that a slow
 * request is not run twice for being slow (workers make writes idempotent
 * per request id for the re-send that remains).
 */
#ifndef ROOST_CLIENT_H
#define ROOST_CLIENT_H

#include <bson/bson.h>
#include <nng/nng.h>
#include <stdbool.h>

typedef struct client_req client_req_t;

/*
 * Opens a REQ socket that dials `url` (non-blocking: a pool that is not up
 * yet is dialled again in the background) or, with `listen`, listens on it
 * for the other side to dial in (the broker's side for workers). `url` may
 * be a comma list ("tcp://a:7100,tcp://b:7100"): every one is dialled (or
 * listened on), requests are spread over the connected pipes, and one whose
 * pipe closes is re-sent through another. NULL with `error` set on failure.
 */
client_req_t *client_req_open(const char *url, bool listen, bson_error_t *error);

/* The request envelope roost_client_call sends for `op` and `request`
 * (its "params", "query", "body", "auth", "rid", "if_match",
 * "expect_version"), into `env` (uninitialised on entry). */
void client_request_build(const char *op, const bson_t *request, bson_t *env);

/* How many pipes are connected now; 0 means nobody can answer. */
int client_req_pipes(const client_req_t *r);

/* Opens a new context on the socket (nng_ctx_open); 0 or an nng error. */
int client_req_context(client_req_t *r, nng_ctx *ctx);

/* Closes the socket: calls in flight end with CLIENT_CLOSED. NULL is a no-op. */
void client_req_close(client_req_t *r);

typedef enum {
    CLIENT_OK,          /* the reply came */
    CLIENT_TIMEOUT,     /* the deadline passed first */
    CLIENT_UNREACHABLE, /* no pipe took the request, or nng failed otherwise */
    CLIENT_CLOSED,      /* the socket was closed */
} client_result_t;

typedef struct client_call client_call_t;

/* Runs on an nng thread when a call ends; it must not block. */
typedef void (*client_done_fn)(client_call_t *call, void *arg);

/*
 * Starts one exchange: sends `len` bytes and receives the reply, within
 * `timeout_ms` for the whole. `done` runs once when it ends. NULL (error
 * set) when the call could not start; `done` does not run then.
 */
client_call_t *client_call_start(client_req_t *r, const void *data, size_t len, int timeout_ms, client_done_fn done,
                                 void *arg, bson_error_t *error);

client_result_t client_call_result(const client_call_t *call);

/* The reply's bytes, valid until client_call_free; NULL unless CLIENT_OK. */
const uint8_t *client_call_reply(const client_call_t *call, size_t *len);

/* Frees an ended call (after `done` ran). */
void client_call_free(client_call_t *call);

#endif

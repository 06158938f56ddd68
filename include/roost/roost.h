/*
 * Public API of Roost for internal services: send one BSON request to a
 * worker pool over nng and receive its BSON reply, without HTTP.
 * The message format is nng protocol 1.1 (docs/protocol.md).
 *
 * Installed as <roost/roost.h> with libroost (shared and static): link it
 * with CMake's find_package(Roost) and the target Roost::client (or
 * Roost::client_static), or with pkg-config's "roost". examples/c-service
 * is a small internal service built that way.
 */
#ifndef ROOST_H
#define ROOST_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

/* What libroost exports; everything else in it stays inside. */
#define ROOST_API __attribute__((visibility("default")))

#define ROOST_PROTOCOL_VERSION 1
#define ROOST_PROTOCOL_MINOR 1 /* 1.1: expect_version */

/* error->code of a failed roost_client_call (the values of the matching
 * nng errors, NNG_ECONNREFUSED and NNG_ETIMEDOUT, for older callers). */
#define ROOST_ERROR_UNREACHABLE 6 /* no connection to the pool */
#define ROOST_ERROR_TIMEOUT 5     /* no reply within the call's deadline */
#define ROOST_ERROR_BAD_REPLY 100 /* a reply came that is not a protocol envelope */

typedef struct roost_client roost_client_t;

/*
 * Dials a worker pool at `url` (e.g. "tcp://127.0.0.1:7100"). Each call
 * waits at most `timeout_ms` for its reply. Returns NULL and fills `error`
 * on failure. The dial is non-blocking: a pool that is not up yet is
 * retried in the background until a call's deadline.
 */
ROOST_API roost_client_t *roost_client_open(const char *url, int timeout_ms, bson_error_t *error);

/*
 * Sends `op` with the optional parts of `request` (any of the documents
 * "auth", "params", "query", "body", the array "expect_version" (the
 * versions a change may apply to, protocol 1.1), the string "if_match"
 * (protocol 1.0's HTTP-style precondition) and the string "rid";
 * NULL for none) and waits for the reply. Without a "rid" the call gets a
 * fresh one; a caller that sends the same request again with the same rid
 * gets the first answer instead of a second write. A rid is sent whole:
 * one the protocol cannot take (over 64 characters) is answered 400
 * bad_envelope, never cut into another request's id. On success `reply` (uninitialised on entry; the
 * caller must bson_destroy it) holds the whole reply envelope, whatever its
 * status. Returns false (reply untouched) when no reply came in time, the
 * reply was not a valid envelope, or the pool has no connection (then at
 * once, after a short grace; a client's first call waits for its first
 * connection up to its deadline, since a dial may still be in progress). error->code says which:
 * ROOST_ERROR_UNREACHABLE, ROOST_ERROR_TIMEOUT or ROOST_ERROR_BAD_REPLY.
 * Safe to call from several threads.
 */
ROOST_API bool roost_client_call(roost_client_t *client, const char *op, const bson_t *request, bson_t *reply,
                                 bson_error_t *error);

/* Closes the client; calls in flight end. NULL is a no-op. */
ROOST_API void roost_client_close(roost_client_t *client);

#endif

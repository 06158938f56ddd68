/*
 * nng protocol 1.1 envelopes (docs/protocol.md): one request document, one
 * reply document. Shared by the ingress, the workers and the client API so
 * that every party builds and reads them the same way. Requests of
 * protocol 1.0 (no "minor"; a precondition as the HTTP string "if_match")
 * are still read, so direct nng clients written for it keep working.
 */
#ifndef ROOST_ENVELOPE_H
#define ROOST_ENVELOPE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#define ENVELOPE_RID_MAX 64
#define ENVELOPE_OP_MAX 64
/* The protocol's minor version: 1 added expect_version. */
#define ENVELOPE_MINOR 1
/* The longest If-Match (HTTP) or if_match (protocol 1.0) read, in bytes. */
#define ENVELOPE_IF_MATCH_MAX 128
/* How deep documents inside an envelope may nest; deeper is malformed. */
#define ENVELOPE_MAX_DEPTH 100
/* The longest auth.token read, in bytes: longer than any token Roost issues. */
#define ENVELOPE_TOKEN_MAX 4096
/* The longest client.addr: an IPv6 address in text with a zone. */
#define ENVELOPE_ADDR_MAX 64
/* The most versions one precondition lists (a 128-byte If-Match names at most 32). */
#define ENVELOPE_EXPECT_MAX 32

/* A parsed request. The sub-documents are read-only views into the
 * caller's buffer, which must outlive this struct. */
typedef struct {
    char op[ENVELOPE_OP_MAX + 1];
    char rid[ENVELOPE_RID_MAX + 1];
    int64_t auth_sub; /* 0 when the caller is anonymous */
    /* auth.token: the bearer token the caller presented, a view into the
     * caller's buffer, NULL when absent. The worker verifies it (signature,
     * expiry, the user's token generation) and its subject becomes
     * auth_sub; a request that carries both must name the same user. */
    const char *auth_token;
    /* client.addr: the address the HTTP client is counted under (IPv4,
     * or an IPv6 /64; ingress/ratelimit.h), what per-address limits
     * count; "" when absent. */
    char client_addr[ENVELOPE_ADDR_MAX + 1];
    bson_t params; /* empty when absent */
    bson_t query;
    bson_t body;
    /* The precondition of a change (RFC 9110 §13.1.1 If-Match, compared
     * strongly by whoever read it): the op applies only when the target's
     * current version is one of expect[0 .. nexpect), which may be none.
     * has_expect is false when the request sets no precondition. */
    bool has_expect;
    size_t nexpect;
    int64_t expect[ENVELOPE_EXPECT_MAX];
} envelope_request_t;

/*
 * Parses and checks a request envelope (version, op, rid, types of auth,
 * params, query, body). Returns false and fills `error` with a message fit
 * to send back to the caller when the envelope is malformed.
 */
bool envelope_request_parse(const uint8_t *data, size_t len, envelope_request_t *out, bson_error_t *error);

/* The parts of a request to build; NULL or 0 members are left out. */
typedef struct {
    const char *op;
    const char *rid;
    int64_t auth_sub;        /* 0: anonymous */
    const char *auth_token;  /* NULL: none */
    const char *client_addr; /* NULL: not an HTTP client */
    const bson_t *params;
    const bson_t *query;
    const bson_t *body;
    bool has_expect; /* expect_version: the versions the change may apply to */
    size_t nexpect;
    const int64_t *expect;
    const char *if_match; /* protocol 1.0's precondition, passed through for the worker to read */
} envelope_request_parts_t;

/* The rid of a request, read without parsing the rest (what the broker
 * needs to answer a request it cannot pass on); "" when there is none.
 * Any bytes at all may be given. */
void envelope_peek_rid(const uint8_t *data, size_t len, char out[ENVELOPE_RID_MAX + 1]);

/* Builds a request envelope into `out` (uninitialised on entry). */
void envelope_request_build(bson_t *out, const envelope_request_parts_t *parts);

/* A fresh random request id: 32 hex characters and a NUL. */
void envelope_new_rid(char out[33]);

/* Builds a success reply into `out` (uninitialised on entry). */
void envelope_reply_ok(bson_t *out, const char *rid, int status, const bson_t *body);

/* Builds an error reply; `fields` is a BSON array of {field, message} or NULL. */
void envelope_reply_error(bson_t *out, const char *rid, int status, const char *code, const char *message,
                          const bson_t *fields);

/*
 * The state of one rate limit a reply reports (draft-ietf-httpapi-
 * ratelimit-headers-10 §3 and §4): `policy` (a name, token characters
 * only) allows `quota` requests per `window` seconds; `remaining` are left
 * and the window resets in `reset` seconds.
 */
typedef struct {
    const char *policy;
    int64_t quota, window, remaining, reset;
} envelope_rate_limit_t;

/* Appends "retry_after": seconds to a built reply (RFC 9110 §10.2.3):
 * when to try again after a 429 or 503. */
void envelope_reply_add_retry_after(bson_t *reply, int64_t seconds);

/* Appends "rate_limit": {policy, quota, window, remaining, reset}. */
void envelope_reply_add_rate_limit(bson_t *reply, const envelope_rate_limit_t *limit);

/* A parsed reply; views into the caller's buffer. */
typedef struct {
    int status;
    char rid[ENVELOPE_RID_MAX + 1];
    bson_t body; /* empty when absent */
    bool has_error;
    const char *code;    /* the error's code, when has_error */
    const char *message; /* the error's message, when has_error */
    bson_t fields;       /* the error's fields array (empty when absent) */
    int64_t retry_after; /* seconds, -1 when absent */
    bool has_rate_limit;
    envelope_rate_limit_t rate_limit; /* when has_rate_limit */
} envelope_reply_t;

/* The error object of a reply, {code, message, fields?}: `code` defaults
 * to "internal" (a reply that fails without saying how is the service's
 * fault), `message` to "", and `fields` (an initialised, empty document on
 * entry) becomes a view of its fields array when there is one. The one
 * reading of that object, for a reply and for each item of a 207. */
void envelope_error_read(const bson_t *err, const char **code, const char **message, bson_t *fields);

bool envelope_reply_parse(const uint8_t *data, size_t len, envelope_reply_t *out, bson_error_t *error);

#endif

/*
 * The one nng REQ client (client.h), and on it the internal client API
 * (roost.h): a REQ socket dialing a worker pool, one nng context per call
 * so that many threads may call at once.
 */
#include "client.h"
#include "config.h"
#include "transport.h"
#include "envelope.h"
#include "roost/roost.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long a call started while no pipe is connected waits for one before
 * it reports the pool unreachable: long enough for a fresh dial or a
 * restarted broker's redial (reconnects back off to 1 s), short enough to
 * fail fast when the pool is gone. */
#define CLIENT_CONNECT_GRACE_MS 1000

struct client_req {
    nng_socket sock;
    atomic_int pipes;
};

struct client_call {
    nng_ctx ctx;
    nng_aio *aio;      /* the exchange's steps: client_call_step on an nng thread */
    nng_aio *send_aio; /* the first, immediate send: no callback (client_call_start) */
    nng_msg *reply;
    int timeout_ms; /* of the reply, once sent */
    bool sent;
    client_result_t result;
    client_done_fn done;
    void *arg;
};

static void
client_pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    client_req_t *r = arg;
    atomic_fetch_add(&r->pipes, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
}

client_req_t *
client_req_open(const char *url, bool listen, bson_error_t *error)
{
    client_req_t *r = calloc(1, sizeof(*r));
    int rv = 0;
    if (r == NULL) {
        bson_set_error(error, 1, ROOST_ERROR_UNREACHABLE, "out of memory");
        return NULL;
    }
    if ((rv = nng_req0_open(&r->sock)) != 0) {
        bson_set_error(error, 1, ROOST_ERROR_UNREACHABLE, "cannot open REQ socket: %s", nng_strerror(rv));
        free(r);
        return NULL;
    }
    transport_defaults(r->sock);
    nng_setopt_ms(r->sock, NNG_OPT_REQ_RESENDTIME, 3600 * 1000);
    nng_pipe_notify(r->sock, NNG_PIPE_EV_ADD_POST, client_pipe_cb, r);
    nng_pipe_notify(r->sock, NNG_PIPE_EV_REM_POST, client_pipe_cb, r);
    /* A pool may have several brokers: REQ spreads requests over their
     * pipes and re-sends a request whose pipe closes through another. */
    bson_error_t why;
    if ((rv = transport_attach_all(r->sock, url, listen, &why)) != 0)
        bson_set_error(error, 1, ROOST_ERROR_UNREACHABLE, "%s", why.message);
    if (rv != 0) {
        nng_close(r->sock);
        free(r);
        return NULL;
    }
    return r;
}

int
client_req_pipes(const client_req_t *r)
{
    return atomic_load(&r->pipes);
}

int
client_req_context(client_req_t *r, nng_ctx *ctx)
{
    return nng_ctx_open(ctx, r->sock);
}

void
client_req_close(client_req_t *r)
{
    if (r == NULL)
        return;
    nng_close(r->sock);
    free(r);
}

/* On an nng thread: step the exchange (send, then receive), then report. */
static void
client_call_step(void *arg)
{
    client_call_t *call = arg;
    int rv = nng_aio_result(call->aio);
    if (rv == 0 && !call->sent) {
        call->sent = true;
        nng_aio_set_timeout(call->aio, call->timeout_ms);
        nng_ctx_recv(call->ctx, call->aio);
        return;
    }
    if (rv == 0) {
        call->reply = nng_aio_get_msg(call->aio);
        call->result = CLIENT_OK;
    } else if (!call->sent) {
        nng_msg_free(nng_aio_get_msg(call->aio)); /* the request never left: no pipe took it */
        call->result = rv == NNG_ECLOSED ? CLIENT_CLOSED : CLIENT_UNREACHABLE;
    } else {
        call->result = rv == NNG_ETIMEDOUT ? CLIENT_TIMEOUT : rv == NNG_ECLOSED ? CLIENT_CLOSED : CLIENT_UNREACHABLE;
    }
    call->done(call, call->arg);
}

client_call_t *
client_call_start(client_req_t *r, const void *data, size_t len, int timeout_ms, client_done_fn done, void *arg,
                  bson_error_t *error)
{
    client_call_t *call = calloc(1, sizeof(*call));
    nng_msg *msg = NULL;
    int rv;
    if (call == NULL) {
        bson_set_error(error, 1, ROOST_ERROR_UNREACHABLE, "out of memory");
        return NULL;
    }
    call->done = done;
    call->arg = arg;
    if ((rv = nng_ctx_open(&call->ctx, r->sock)) != 0) {
        bson_set_error(error, 1, ROOST_ERROR_UNREACHABLE, "cannot open a context: %s", nng_strerror(rv));
        free(call);
        return NULL;
    }
    if ((rv = nng_aio_alloc(&call->aio, client_call_step, call)) != 0 ||
        (rv = nng_aio_alloc(&call->send_aio, NULL, NULL)) != 0 || (rv = nng_msg_alloc(&msg, 0)) != 0 ||
        (rv = nng_msg_append(msg, data, len)) != 0) {
        bson_set_error(error, 1, ROOST_ERROR_UNREACHABLE, "cannot build the message: %s", nng_strerror(rv));
        if (msg != NULL)
            nng_msg_free(msg);
        nng_aio_free(call->aio);
        nng_aio_free(call->send_aio);
        nng_ctx_close(call->ctx);
        free(call);
        return NULL;
    }
    call->timeout_ms = timeout_ms;
    /*
     * First try to hand the request to a pipe that is free now, on an aio
     * without a callback and with a zero timeout: nng then completes the
     * send on this thread instead of waking one of its own to run a
     * callback, and the receive starts at once. That is one thread
     * hand-off less per call (bench/spine.py). When no pipe is free now,
     * the send waits on the callback aio below.
     */
    nng_aio_set_timeout(call->send_aio, NNG_DURATION_ZERO);
    nng_aio_set_msg(call->send_aio, msg);
    nng_ctx_send(call->ctx, call->send_aio);
    nng_aio_wait(call->send_aio); /* returns at once: a zero timeout never waits */
    if (nng_aio_result(call->send_aio) == 0) {
        call->sent = true;
        nng_aio_set_timeout(call->aio, timeout_ms);
        nng_ctx_recv(call->ctx, call->aio);
        return call;
    }
    msg = nng_aio_get_msg(call->send_aio); /* not taken: still ours */
    nng_aio_set_msg(call->send_aio, NULL);
    /* The send waits for a pipe: at most the grace when none is connected
     * now, else the deadline; the reply then gets the deadline. */
    nng_aio_set_timeout(call->aio, client_req_pipes(r) == 0 && timeout_ms > CLIENT_CONNECT_GRACE_MS
                                       ? CLIENT_CONNECT_GRACE_MS
                                       : timeout_ms);
    nng_aio_set_msg(call->aio, msg);
    nng_ctx_send(call->ctx, call->aio);
    return call;
}

client_result_t
client_call_result(const client_call_t *call)
{
    return call->result;
}

const uint8_t *
client_call_reply(const client_call_t *call, size_t *len)
{
    if (call->reply == NULL) {
        *len = 0;
        return NULL;
    }
    *len = nng_msg_len(call->reply);
    return nng_msg_body(call->reply);
}

void
client_call_free(client_call_t *call)
{
    if (call == NULL)
        return;
    if (call->reply != NULL)
        nng_msg_free(call->reply);
    nng_aio_free(call->aio);
    nng_aio_free(call->send_aio);
    nng_ctx_close(call->ctx);
    free(call);
}

typedef struct {
    nng_mtx *lock;
    nng_cv *ended;
    bool done;
} client_wait_t;

static void
client_wake(client_call_t *call, void *arg)
{
    client_wait_t *w = arg;
    nng_mtx_lock(w->lock);
    w->done = true;
    nng_cv_wake(w->ended);
    nng_mtx_unlock(w->lock);
}

/*
 * One exchange, waiting for its end on the calling thread. On CLIENT_OK,
 * *reply (uninitialised on entry) holds a copy of the reply's bytes as a
 * document, which the caller destroys.
 */
static client_result_t
client_call_sync(client_req_t *r, const void *data, size_t len, int timeout_ms, bson_t *reply, bson_error_t *error)
{
    client_wait_t w = {.done = false};
    if (nng_mtx_alloc(&w.lock) != 0 || nng_cv_alloc(&w.ended, w.lock) != 0) {
        bson_set_error(error, 1, ROOST_ERROR_UNREACHABLE, "out of memory");
        nng_mtx_free(w.lock);
        return CLIENT_UNREACHABLE;
    }
    client_call_t *call = client_call_start(r, data, len, timeout_ms, client_wake, &w, error);
    client_result_t result = CLIENT_UNREACHABLE;
    if (call != NULL) {
        nng_mtx_lock(w.lock);
        while (!w.done)
            nng_cv_wait(w.ended);
        nng_mtx_unlock(w.lock);
        size_t n;
        const uint8_t *bytes = client_call_reply(call, &n);
        result = client_call_result(call);
        if (result == CLIENT_OK && !bson_init_static(reply, bytes, n)) {
            bson_set_error(error, 1, ROOST_ERROR_BAD_REPLY, "the reply is not a BSON document");
            result = CLIENT_UNREACHABLE;
        } else if (result == CLIENT_OK) {
            bson_t view = *reply;
            bson_copy_to(&view, reply);
        } else {
            bson_set_error(error, 1, result == CLIENT_TIMEOUT ? ROOST_ERROR_TIMEOUT : ROOST_ERROR_UNREACHABLE,
                           result == CLIENT_TIMEOUT ? "no reply in time" : "the pool cannot be reached");
        }
        client_call_free(call);
    }
    nng_cv_free(w.ended);
    nng_mtx_free(w.lock);
    return result;
}

struct roost_client {
    client_req_t *req;
    int timeout_ms;
    bool connected_once; /* a pipe was seen: the dial is no longer in progress */
};

roost_client_t *
roost_client_open(const char *url, int timeout_ms, bson_error_t *error)
{
    roost_client_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        bson_set_error(error, 1, ROOST_ERROR_UNREACHABLE, "out of memory");
        return NULL;
    }
    c->timeout_ms = timeout_ms;
    if ((c->req = client_req_open(url, false, error)) == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void
client_request_build(const char *op, const bson_t *request, bson_t *env)
{
    bson_t params, query, body, auth;
    bson_iter_t it;
    char rid[ENVELOPE_RID_MAX + 1] = "";
    const char *given_rid = NULL;
    int64_t sub = 0;
    const char *if_match = NULL;
    int64_t expect[ENVELOPE_EXPECT_MAX];
    size_t nexpect = 0;
    bool has_expect = false;
    const char *token = NULL;

    bson_init(&params);
    bson_init(&query);
    bson_init(&body);
    if (request != NULL) {
        if (bson_iter_init_find(&it, request, "auth") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
            bson_iter_t s;
            uint32_t l;
            const uint8_t *d;
            bson_iter_document(&it, &l, &d);
            if (bson_init_static(&auth, d, l) && bson_iter_init_find(&s, &auth, "sub") && BSON_ITER_HOLDS_INT(&s))
                sub = bson_iter_as_int64(&s);
            /* The caller's bearer token, for the worker to check (revocation included). */
            if (bson_init_static(&auth, d, l) && bson_iter_init_find(&s, &auth, "token") && BSON_ITER_HOLDS_UTF8(&s))
                token = bson_iter_utf8(&s, NULL);
        }
#define CLIENT_SUBDOC(name, dst)                                                                                       \
    if (bson_iter_init_find(&it, request, name) && BSON_ITER_HOLDS_DOCUMENT(&it)) {                                    \
        uint32_t l;                                                                                                    \
        const uint8_t *d;                                                                                              \
        bson_iter_document(&it, &l, &d);                                                                               \
        bson_destroy(&dst);                                                                                            \
        bson_init_static(&dst, d, l);                                                                                  \
    }
        if (bson_iter_init_find(&it, request, "if_match") && BSON_ITER_HOLDS_UTF8(&it))
            if_match = bson_iter_utf8(&it, NULL);
        bson_iter_t v;
        if (bson_iter_init_find(&it, request, "expect_version") && BSON_ITER_HOLDS_ARRAY(&it) &&
            bson_iter_recurse(&it, &v)) {
            has_expect = true;
            while (bson_iter_next(&v) && nexpect < ENVELOPE_EXPECT_MAX)
                expect[nexpect++] = BSON_ITER_HOLDS_INT(&v) ? bson_iter_as_int64(&v) : 0;
        }
        /* The caller's rid whole: one the protocol cannot take (too long)
         * is refused by the worker with a 400 that says so, never cut
         * into another request's id. */
        if (bson_iter_init_find(&it, request, "rid") && BSON_ITER_HOLDS_UTF8(&it))
            given_rid = bson_iter_utf8(&it, NULL);
        CLIENT_SUBDOC("params", params)
        CLIENT_SUBDOC("query", query)
        CLIENT_SUBDOC("body", body)
#undef CLIENT_SUBDOC
    }
    if (given_rid == NULL || given_rid[0] == '\0')
        envelope_new_rid(rid);
    envelope_request_parts_t parts = {.op = op,
                                      .rid = given_rid != NULL && given_rid[0] != '\0' ? given_rid : rid,
                                      .auth_sub = sub,
                                      .auth_token = token,
                                      .params = &params,
                                      .query = &query,
                                      .body = &body,
                                      .if_match = if_match,
                                      .has_expect = has_expect,
                                      .nexpect = nexpect,
                                      .expect = expect};
    envelope_request_build(env, &parts);
}

bool
roost_client_call(roost_client_t *c, const char *op, const bson_t *request, bson_t *reply, bson_error_t *error)
{
    bson_t env;
    bool ok = false;
    client_request_build(op, request, &env);
    bson_t got;
    /* A client's first call waits for its first connection up to the
     * call's own deadline: a dial still in progress (a TLS handshake on a
     * busy machine, a slow link) is not a pool that is gone, which later
     * calls still learn within the short grace. */
    for (int waited = 0; !c->connected_once && client_req_pipes(c->req) == 0 && waited < c->timeout_ms; waited += 10)
        usleep(10 * 1000);
    c->connected_once = c->connected_once || client_req_pipes(c->req) > 0;
    if (client_call_sync(c->req, bson_get_data(&env), env.len, c->timeout_ms, &got, error) == CLIENT_OK) {
        envelope_reply_t parsed;
        if (envelope_reply_parse(bson_get_data(&got), got.len, &parsed, error)) {
            bson_steal(reply, &got);
            ok = true;
        } else {
            error->code = ROOST_ERROR_BAD_REPLY;
            bson_destroy(&got);
        }
    }
    bson_destroy(&env);
    return ok;
}

void
roost_client_close(roost_client_t *c)
{
    if (c == NULL)
        return;
    client_req_close(c->req);
    free(c);
}

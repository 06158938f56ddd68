/*
 * The internal client API (roost.h): a REQ socket dialing a worker pool,
 * one nng context per call so that many threads may call at once.
 */
#include "roost.h"
#include "envelope.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* How long a call waits for a first connection before it reports the pool
 * unreachable: long enough for a fresh dial, short enough to fail fast. */
#define CLIENT_CONNECT_GRACE_MS 300

struct roost_client {
    nng_socket sock;
    int timeout_ms;
    atomic_int pipes; /* connected pipes; 0 means the pool is unreachable */
};

static void
client_pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    roost_client_t *c = arg;
    atomic_fetch_add(&c->pipes, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
}

roost_client_t *
roost_client_open(const char *url, int timeout_ms, bson_error_t *error)
{
    roost_client_t *c = calloc(1, sizeof(*c));
    int rv;
    if (c == NULL) {
        bson_set_error(error, 1, 1, "out of memory");
        return NULL;
    }
    c->timeout_ms = timeout_ms;
    if ((rv = nng_req0_open(&c->sock)) != 0) {
        bson_set_error(error, 1, (uint32_t)rv, "cannot open REQ socket: %s", nng_strerror(rv));
        free(c);
        return NULL;
    }
    nng_setopt_ms(c->sock, NNG_OPT_RECONNMINT, 50);
    nng_setopt_ms(c->sock, NNG_OPT_RECONNMAXT, 1000);
    nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, client_pipe_cb, c);
    nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, client_pipe_cb, c);
    if ((rv = nng_dial(c->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
        bson_set_error(error, 1, (uint32_t)rv, "cannot dial %s: %s", url, nng_strerror(rv));
        nng_close(c->sock);
        free(c);
        return NULL;
    }
    return c;
}

bool
roost_client_call(roost_client_t *c, const char *op, const bson_t *request, bson_t *reply, bson_error_t *error)
{
    bson_t env, params, query, body, auth;
    bson_iter_t it;
    char rid[ENV_RID_MAX + 1] = "";
    nng_ctx ctx;
    nng_aio *aio = NULL;
    nng_msg *msg = NULL;
    int64_t sub = 0;
    const char *if_match = NULL;
    bool ok = false;
    int rv;

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
        if (bson_iter_init_find(&it, request, "rid") && BSON_ITER_HOLDS_UTF8(&it))
            bson_strncpy(rid, bson_iter_utf8(&it, NULL), sizeof(rid));
        CLIENT_SUBDOC("params", params)
        CLIENT_SUBDOC("query", query)
        CLIENT_SUBDOC("body", body)
#undef CLIENT_SUBDOC
    }
    for (int waited = 0; atomic_load(&c->pipes) == 0; waited += 10) {
        if (waited >= CLIENT_CONNECT_GRACE_MS) {
            bson_set_error(error, 1, NNG_ECONNREFUSED, "the pool is not reachable");
            bson_destroy(&params);
            bson_destroy(&query);
            bson_destroy(&body);
            return false;
        }
        nng_msleep(10);
    }
    if (rid[0] == '\0')
        env_new_rid(rid);
    env_request_parts_t parts = {.op = op, .rid = rid, .auth_sub = sub, .params = &params, .query = &query, .body = &body,
                                 .if_match = if_match};
    env_request_build(&env, &parts);

    if ((rv = nng_ctx_open(&ctx, c->sock)) != 0) {
        bson_set_error(error, 1, (uint32_t)rv, "cannot open context: %s", nng_strerror(rv));
        goto done_env;
    }
    if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0 || (rv = nng_msg_alloc(&msg, 0)) != 0 ||
        (rv = nng_msg_append(msg, bson_get_data(&env), env.len)) != 0) {
        bson_set_error(error, 1, (uint32_t)rv, "cannot build message: %s", nng_strerror(rv));
        goto done;
    }
    nng_aio_set_timeout(aio, c->timeout_ms);
    nng_aio_set_msg(aio, msg);
    nng_ctx_send(ctx, aio);
    nng_aio_wait(aio);
    if ((rv = nng_aio_result(aio)) != 0) {
        bson_set_error(error, 1, (uint32_t)rv, "send failed: %s", nng_strerror(rv));
        goto done; /* msg is still ours */
    }
    msg = NULL; /* owned by the socket once sent */
    nng_ctx_recv(ctx, aio);
    nng_aio_wait(aio);
    if ((rv = nng_aio_result(aio)) != 0) {
        bson_set_error(error, 1, (uint32_t)rv, "no reply: %s", nng_strerror(rv));
        goto done;
    }
    msg = nng_aio_get_msg(aio);
    env_reply_t parsed;
    if (!env_reply_parse(nng_msg_body(msg), nng_msg_len(msg), &parsed, error))
        goto done;
    bson_init_static(&auth, nng_msg_body(msg), nng_msg_len(msg));
    bson_copy_to(&auth, reply);
    ok = true;
done:
    if (msg != NULL)
        nng_msg_free(msg);
    if (aio != NULL)
        nng_aio_free(aio);
    nng_ctx_close(ctx);
done_env:
    bson_destroy(&env);
    return ok;
}

void
roost_client_close(roost_client_t *c)
{
    if (c == NULL)
        return;
    nng_close(c->sock);
    free(c);
}

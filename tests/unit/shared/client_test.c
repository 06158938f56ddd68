/* The one nng REQ client (shared/client.c): a pool's URL list, pipes
 * counted as brokers come and go, and a call answered by a real REP
 * socket on loopback. */
#include "roost_test.h"

#include "client.h"
#include "envelope.h"
#include "roost/roost.h"

#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void
a_bad_url_list_is_refused_with_its_reason(void **state)
{
    bson_error_t error;
    assert_null(client_req_open("", false, &error));
    assert_non_null(strstr(error.message, "no URL to dial"));
    assert_null(client_req_open("tcp://127.0.0.1:9,,tcp://127.0.0.1:10", false, &error));
    assert_non_null(strstr(error.message, "not a URL or a comma list"));
    client_req_close(NULL); /* a no-op */
}

/* The REP side of one exchange: echoes the request back. */
static void *
echo_once(void *arg)
{
    nng_socket *rep = arg;
    nng_msg *msg;
    if (nng_recvmsg(*rep, &msg, 0) == 0 && nng_sendmsg(*rep, msg, 0) != 0)
        nng_msg_free(msg);
    return NULL;
}

static void
a_call_reaches_a_listening_peer(void **state)
{
    bson_error_t error;
    nng_socket rep;
    nng_listener l;
    char url[64];
    assert_int_equal(nng_rep0_open(&rep), 0);
    assert_int_equal(nng_listen(rep, "tcp://127.0.0.1:0", &l, 0), 0);
    int port;
    assert_int_equal(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port), 0);
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    client_req_t *r = client_req_open(url, false, &error);
    assert_non_null(r);
    for (int waited = 0; waited < 5000 && client_req_pipes(r) == 0; waited += 10)
        usleep(10 * 1000);
    assert_int_equal(client_req_pipes(r), 1);
    pthread_t t;
    pthread_create(&t, NULL, echo_once, &rep);
    nng_ctx ctx;
    assert_int_equal(client_req_context(r, &ctx), 0);
    nng_msg *msg;
    assert_int_equal(nng_msg_alloc(&msg, 0), 0);
    assert_int_equal(nng_msg_append(msg, "ping", 4), 0);
    nng_aio *aio;
    assert_int_equal(nng_aio_alloc(&aio, NULL, NULL), 0);
    nng_aio_set_timeout(aio, 10000);
    nng_aio_set_msg(aio, msg);
    nng_ctx_send(ctx, aio);
    nng_aio_wait(aio);
    assert_int_equal(nng_aio_result(aio), 0);
    nng_ctx_recv(ctx, aio);
    nng_aio_wait(aio);
    assert_int_equal(nng_aio_result(aio), 0);
    nng_msg *reply = nng_aio_get_msg(aio);
    assert_int_equal(nng_msg_len(reply), 4);
    assert_memory_equal(nng_msg_body(reply), "ping", 4);
    nng_msg_free(reply);
    nng_aio_free(aio);
    nng_ctx_close(ctx);
    pthread_join(t, NULL);
    nng_close(rep);
    for (int waited = 0; waited < 5000 && client_req_pipes(r) > 0; waited += 10)
        usleep(10 * 1000);
    assert_int_equal(client_req_pipes(r), 0); /* the peer went away: its pipe is counted out */
    client_req_close(r);
}

/* The REP side that answers one request with a reply naming its rid,
 * and keeps the rid it was sent. */
static char received_rid[256];

static void *
answer_once(void *arg)
{
    nng_socket *rep = arg;
    nng_msg *msg;
    if (nng_recvmsg(*rep, &msg, 0) != 0)
        return NULL;
    bson_t req, reply;
    bson_iter_t it;
    received_rid[0] = '\0';
    if (bson_init_static(&req, nng_msg_body(msg), nng_msg_len(msg)) && bson_iter_init_find(&it, &req, "rid"))
        snprintf(received_rid, sizeof(received_rid), "%s", bson_iter_utf8(&it, NULL));
    envelope_reply_ok(&reply, "r", 200, NULL);
    nng_msg_clear(msg);
    nng_msg_append(msg, bson_get_data(&reply), reply.len);
    bson_destroy(&reply);
    if (nng_sendmsg(*rep, msg, 0) != 0)
        nng_msg_free(msg);
    return NULL;
}

/* libroost passes the caller's rid whole: one too long for the protocol is
 * the worker's to refuse, never cut into another request's id. */
static void
a_callers_rid_is_never_cut(void **state)
{
    nng_socket rep;
    nng_listener l;
    char url[64], rid[101];
    int port;
    bson_error_t error;
    assert_int_equal(nng_rep0_open(&rep), 0);
    assert_int_equal(nng_listen(rep, "tcp://127.0.0.1:0", &l, 0), 0);
    assert_int_equal(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port), 0);
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    roost_client_t *c = roost_client_open(url, 10000, &error);
    assert_non_null(c);
    memset(rid, 'r', 100);
    rid[100] = '\0';
    bson_t *request = BCON_NEW("rid", BCON_UTF8(rid)), reply;
    pthread_t t;
    pthread_create(&t, NULL, answer_once, &rep);
    assert_true(roost_client_call(c, "things.create", request, &reply, &error));
    pthread_join(t, NULL);
    assert_string_equal(received_rid, rid);
    bson_destroy(&reply);
    bson_destroy(request);
    roost_client_close(c);
    nng_close(rep);
}

/* A REP listener that starts late, then answers one request. */
typedef struct {
    int port, delay_ms;
} late_t;

static void *
listen_late(void *arg)
{
    late_t *l = arg;
    nng_socket rep;
    char url[64];
    usleep((useconds_t)l->delay_ms * 1000);
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", l->port);
    if (nng_rep0_open(&rep) != 0 || nng_listen(rep, url, NULL, 0) != 0)
        return NULL;
    nng_setopt_ms(rep, NNG_OPT_RECVTIMEO, 10000); /* a test that fails does not hang */
    answer_once(&rep);
    nng_close(rep);
    return NULL;
}

/* A first call waits for a connection still being made, up to its own
 * deadline: the pool is not gone, it is slow to answer the dial. */
static void
a_first_call_waits_for_its_first_connection(void **state)
{
    nng_socket probe;
    nng_listener l;
    int port;
    char url[64];
    bson_error_t error;
    assert_int_equal(nng_rep0_open(&probe), 0); /* a free loopback port */
    assert_int_equal(nng_listen(probe, "tcp://127.0.0.1:0", &l, 0), 0);
    assert_int_equal(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port), 0);
    nng_close(probe);
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    roost_client_t *c = roost_client_open(url, 20000, &error);
    assert_non_null(c);
    late_t late = {.port = port, .delay_ms = 1500}; /* past the 1 s grace */
    pthread_t t;
    pthread_create(&t, NULL, listen_late, &late);
    bson_t reply;
    bool ok = roost_client_call(c, "things.get", NULL, &reply, &error);
    pthread_join(t, NULL);
    if (!ok)
        print_error("%s\n", error.message);
    assert_true(ok);
    bson_destroy(&reply);
    roost_client_close(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_bad_url_list_is_refused_with_its_reason),
        cmocka_unit_test(a_call_reaches_a_listening_peer),
        cmocka_unit_test(a_callers_rid_is_never_cut),
        cmocka_unit_test(a_first_call_waits_for_its_first_connection),
    };
    return cmocka_run_group_tests_name("/shared/client", tests, NULL, NULL);
}

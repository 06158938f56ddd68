/* Asking another service over nng, with one client per pool shared by all threads. */
#include "service.h"
#include "client.h"
#include "config.h"
#include "log.h"
#include "pools.h"
#include "roost/roost.h"

#include <pthread.h>
#include <string.h>

/* One client per pool URL, opened on first use and shared by all threads. */
static pthread_mutex_t svc_clients_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const char *url;
    roost_client_t *client;
} svc_clients[16];

/* The shared client of `op`'s pool, opened on first use; NULL when it cannot be. */
static roost_client_t *
svc_client_for(const char *op, bson_error_t *error)
{
    char service[32];
    roost_client_t *client = NULL;
    size_t i;

    pools_service_of(op, service, sizeof(service));
    const char *url = pools_url(service);
    pthread_mutex_lock(&svc_clients_lock);
    for (i = 0; i < sizeof(svc_clients) / sizeof(svc_clients[0]) && svc_clients[i].url != NULL; i++)
        if (strcmp(svc_clients[i].url, url) == 0)
            client = svc_clients[i].client;
    if (client == NULL && i < sizeof(svc_clients) / sizeof(svc_clients[0])) {
        int timeout = cfg_request_timeout_ms() / 2;
        client = roost_client_open(url, timeout, error);
        if (client != NULL) {
            svc_clients[i].url = url;
            svc_clients[i].client = client;
        }
    } else if (client == NULL) {
        bson_set_error(error, 1, ROOST_ERROR_UNREACHABLE, "more than %zu pools", i);
    }
    pthread_mutex_unlock(&svc_clients_lock);
    return client;
}

static svc_ask_local_fn svc_local;
/* How many asks this thread is answering in process: one at most, so that
 * a context never holds more than two of the database pool's clients
 * (runtime/serve.c sizes the pool for that). */
static __thread int svc_local_depth;

void
svc_ask_locally(svc_ask_local_fn fn)
{
    svc_local = fn;
}

int
svc_ask(svc_call_t *call, const char *op, const bson_t *request, bson_t *reply)
{
    bson_error_t error;
    bson_iter_t it;
    char service[32];
    /* An op this process serves is answered here, on this thread: over
     * nng it would need a free context of this very pool, and when every
     * context holds a request that asks, none is free (a deadlock until
     * the ask's timeout). The same envelope, the same checks. */
    bool served = false;
    if (svc_local != NULL && svc_local_depth == 0) {
        bson_t env;
        client_request_build(op, request, &env);
        svc_local_depth++;
        served = svc_local(op, bson_get_data(&env), env.len, reply);
        svc_local_depth--;
        bson_destroy(&env);
    }
    roost_client_t *client = served ? NULL : svc_client_for(op, &error);
    if (!served && (client == NULL || !roost_client_call(client, op, request, reply, &error))) {
        pools_service_of(op, service, sizeof(service));
        bson_init(reply);
        svc_fail(call, 503, "service_unavailable", "the %s service %s: %s", service,
                 error.code == ROOST_ERROR_TIMEOUT ? "did not answer in time" : "cannot be reached", error.message);
        return -1;
    }
    return bson_iter_init_find(&it, reply, "status") ? (int)bson_iter_as_int64(&it) : 500;
}

int
svc_ask_id(svc_call_t *call, const char *op, int64_t id, bson_t *reply)
{
    bson_t *request = BCON_NEW("params", "{", "id", BCON_INT64(id), "}");
    int status = svc_ask(call, op, request, reply);
    bson_destroy(request);
    return status;
}

void
svc_fail_asked(svc_call_t *call, const char *op, int status)
{
    char service[32];
    pools_service_of(op, service, sizeof(service));
    if (status == 503) { /* its database is down or behind: as passing as for this op's own */
        svc_fail(call, 503, "service_unavailable", "the %s service is unavailable (it answered 503 to %s); retry later",
                 service, op);
        svc_retry_after(call, 1);
        return;
    }
    svc_fail(call, 502, "service_failed", "the %s service answered %d to %s", service, status, op);
}

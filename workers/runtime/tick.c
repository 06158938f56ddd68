/* The services' ticks (tick.h). */
#include "runtime/tick.h"
#include "runtime/answer.h"
#include "runtime/services.h"
#include "client.h"
#include "clock.h"
#include "log.h"

#include <pthread.h>
#include <stdbool.h>

#define TICK_INTERVAL_MS 1000

static pthread_t tick_thread;
static bool tick_running, tick_stopping;
static pthread_mutex_t tick_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tick_wake = PTHREAD_COND_INITIALIZER;

/* Runs every served service's tick op once. */
static void
tick_once(void)
{
    for (size_t s = 0; svc_services[s] != NULL; s++) {
        const char *op = svc_services[s]->tick_op;
        size_t served;
        if (op == NULL || services_find_op(op, &served) == NULL)
            continue;
        bson_t request = BSON_INITIALIZER, env, reply;
        client_request_build(op, &request, &env);
        worker_answer(bson_get_data(&env), env.len, &reply);
        bson_iter_t it;
        int status = bson_iter_init_find(&it, &reply, "status") ? (int)bson_iter_as_int64(&it) : 0;
        if (status != 200 && status != 503) /* 503: the database is down or behind; the probe says so */
            log_warn("tick %s answered %d", op, status);
        bson_destroy(&reply);
        bson_destroy(&env);
        bson_destroy(&request);
    }
}

static void *
tick_loop(void *arg)
{
    pthread_mutex_lock(&tick_lock);
    while (!tick_stopping) {
        struct timespec until = clock_realtime_after_ms(TICK_INTERVAL_MS);
        pthread_cond_timedwait(&tick_wake, &tick_lock, &until);
        if (tick_stopping)
            break;
        pthread_mutex_unlock(&tick_lock);
        tick_once();
        pthread_mutex_lock(&tick_lock);
    }
    pthread_mutex_unlock(&tick_lock);
    return NULL;
}

void
tick_start(void)
{
    bool any = false;
    for (size_t s = 0; svc_services[s] != NULL; s++) {
        size_t served;
        any = any || (svc_services[s]->tick_op != NULL && services_find_op(svc_services[s]->tick_op, &served));
    }
    if (any && pthread_create(&tick_thread, NULL, tick_loop, NULL) == 0)
        tick_running = true;
}

void
tick_stop(void)
{
    if (!tick_running)
        return;
    pthread_mutex_lock(&tick_lock);
    tick_stopping = true;
    pthread_cond_signal(&tick_wake);
    pthread_mutex_unlock(&tick_lock);
    pthread_join(tick_thread, NULL);
    tick_running = false;
}

/* The database circuit breaker's probe (breaker.h). */
#include "breaker.h"
#include "clock.h"
#include "config.h"
#include "log.h"

#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static atomic_bool breaker_is_open;
static atomic_bool breaker_stopping;
static pthread_t breaker_thread;
static bool breaker_running;
static mongoc_uri_t *breaker_uri;
static int breaker_patience_ms;

bool
breaker_open(void)
{
    return atomic_load(&breaker_is_open);
}

static void
breaker_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *
breaker_probe(void *arg)
{
    (void)arg;
    bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
    mongoc_client_t *client = NULL;
    int failures = 0;
    while (!atomic_load(&breaker_stopping)) {
        bson_error_t error;
        struct timespec asked;
        clock_gettime(CLOCK_MONOTONIC, &asked);
        /* A fresh client after every failure: a single-threaded mongoc
         * client keeps a failed server in a 5 s cooldown, and recovery
         * must be seen at the next probe. */
        if (client == NULL && (client = mongoc_client_new_from_uri(breaker_uri)) != NULL) {
            mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
            mongoc_client_set_appname(client, "roost-worker-probe");
        }
        bool up = client != NULL && mongoc_client_command_simple(client, "admin", ping, NULL, NULL, &error);
        if (!up && client == NULL)
            bson_set_error(&error, 0, 0, "no client");
        if (!up) {
            mongoc_client_destroy(client);
            client = NULL;
        }
        /* A ping that waited out the whole patience met a database that
         * gave no answer at all: open at once. One refused or dropped
         * fast may be a blip: open after BREAKER_FAILURES in a row. A good
         * one closes it, however slow it was. */
        bool silent = !up && clock_seconds_since(&asked) * 1000.0 >= breaker_patience_ms * 0.9;
        failures = up ? 0 : failures + 1;
        bool open = silent || failures >= BREAKER_FAILURES || (!up && atomic_load(&breaker_is_open));
        bool was_open = atomic_exchange(&breaker_is_open, open);
        if (was_open && !open)
            log_info("database answers again: serving");
        else if (!was_open && open)
            log_warn("database does not answer (%s): answering 503 until it does", error.message);
        breaker_sleep_ms(up ? BREAKER_PROBE_UP_MS : BREAKER_PROBE_DOWN_MS);
    }
    mongoc_client_destroy(client);
    bson_destroy(ping);
    return NULL;
}

bool
breaker_start(const char *uri_string)
{
    bson_error_t error;
    /* Patience proportional to the deadline: a quarter of it, within 1 to
     * 5 s (the pool's own socket timeout), unless set. */
    int deadline = cfg_request_timeout_ms(), quarter = deadline / 4;
    int fallback = quarter < BREAKER_PATIENCE_MIN_MS   ? BREAKER_PATIENCE_MIN_MS
                   : quarter > BREAKER_PATIENCE_MAX_MS ? BREAKER_PATIENCE_MAX_MS
                                                       : quarter;
    breaker_patience_ms = (int)cfg_int("ROOST_DB_PROBE_TIMEOUT_MS", fallback, 50, 60000);
    mongoc_uri_t *uri = breaker_uri = mongoc_uri_new_with_error(uri_string, &error);
    if (uri == NULL)
        return false;
    /* Every step of a ping (a connection, its handshake, the answer) may
     * take the patience, and no longer: a hang (SIGSTOP, a dead network)
     * fails within it, a refused connection at once. */
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, breaker_patience_ms);
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, breaker_patience_ms);
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, breaker_patience_ms);
    mongoc_uri_set_option_as_bool(uri, MONGOC_URI_SERVERSELECTIONTRYONCE, true);
    breaker_running = pthread_create(&breaker_thread, NULL, breaker_probe, NULL) == 0;
    return breaker_running;
}

void
breaker_stop(void)
{
    atomic_store(&breaker_stopping, true);
    if (breaker_running)
        pthread_join(breaker_thread, NULL);
    breaker_running = false;
    mongoc_uri_destroy(breaker_uri);
    breaker_uri = NULL;
}

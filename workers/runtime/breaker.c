/* The database circuit breaker's probe (breaker.h). */
#include "breaker.h"
#include "config.h"
#include "log.h"

#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static atomic_bool breaker_failed; /* BREAKER_FAILURES pings in a row failed */
static atomic_bool breaker_stopping;
static pthread_t breaker_thread;
static bool breaker_running;
static mongoc_uri_t *breaker_uri;
/* Monotonic ns: when the database last answered anything (a ping, or an
 * op that did not fail), and when the ping now waiting began (0: none). */
static atomic_int_fast64_t breaker_answered_ns, breaker_asking_ns;
static int64_t breaker_patience_ns;

static int64_t
breaker_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
breaker_note_answer(void)
{
    atomic_store(&breaker_answered_ns, breaker_now_ns());
}

bool
breaker_open(void)
{
    if (atomic_load(&breaker_failed))
        return true;
    int64_t asking = atomic_load(&breaker_asking_ns);
    if (asking == 0)
        return false;
    int64_t now = breaker_now_ns(), answered = atomic_load(&breaker_answered_ns);
    return now - asking > breaker_patience_ns && now - answered > breaker_patience_ns;
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
    bool was_open = false;
    while (!atomic_load(&breaker_stopping)) {
        bson_error_t error;
        /* A fresh client after every failure: a single-threaded mongoc
         * client keeps a failed server in a 5 s cooldown, and recovery
         * must be seen at the next probe. */
        if (client == NULL && (client = mongoc_client_new_from_uri(breaker_uri)) != NULL) {
            mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
            mongoc_client_set_appname(client, "roost-worker-probe");
        }
        atomic_store(&breaker_asking_ns, breaker_now_ns());
        bool up = client != NULL && mongoc_client_command_simple(client, "admin", ping, NULL, NULL, &error);
        if (up)
            breaker_note_answer();
        atomic_store(&breaker_asking_ns, 0);
        if (!up && client == NULL)
            bson_set_error(&error, 0, 0, "no client");
        if (!up) {
            mongoc_client_destroy(client);
            client = NULL;
        }
        /* Fails after BREAKER_FAILURES pings in a row fail (one in a load
         * spike is not an outage); a good one ends it. */
        failures = up ? 0 : failures + 1;
        atomic_store(&breaker_failed, failures >= BREAKER_FAILURES);
        bool open = breaker_open();
        if (was_open && !open)
            log_info("database answers again: serving");
        else if (!was_open && open)
            log_warn("database does not answer (%s): answering 503 until it does", error.message);
        was_open = open;
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
    int timeout = (int)cfg_int("ROOST_DB_PROBE_TIMEOUT_MS", 500, 50, 60000);
    int deadline = cfg_request_timeout_ms();
    mongoc_uri_t *uri = breaker_uri = mongoc_uri_new_with_error(uri_string, &error);
    if (uri == NULL)
        return false;
    /* A database that refuses or drops connections, or a network that
     * does not connect, fails the ping within the probe's timeout; one that
     * is connected but slow is waited for up to a request's deadline, while
     * breaker_open judges by BREAKER_PATIENCE (breaker.h). */
    breaker_patience_ns =
        (int64_t)(deadline / 4 > BREAKER_PATIENCE_MIN_MS ? deadline / 4 : BREAKER_PATIENCE_MIN_MS) * 1000000;
    breaker_note_answer();
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, timeout);
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, timeout);
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, deadline);
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

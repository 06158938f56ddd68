/* The worker's MongoDB client pool and the libraries it needs started once (database.h). */
#include "runtime/database.h"
#include "config.h"
#include "log.h"

#include <sodium.h>
#include <string.h>

static mongoc_client_pool_t *database_clients;

/* mongoc's own log lines, in ours. FerretDB lacks endSessions, which
 * mongoc tries once at shutdown: that warning is expected, not a problem. */
static void
database_log(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
    if (level <= MONGOC_LOG_LEVEL_ERROR)
        log_error("mongoc %s: %s", domain, message);
    else if (level == MONGOC_LOG_LEVEL_WARNING && strstr(message, "endSessions") == NULL)
        log_warn("mongoc %s: %s", domain, message);
    else
        log_debug("mongoc %s: %s", domain, message);
}

static mongoc_client_pool_t *
database_pool_new(int max_clients)
{
    bson_error_t error;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(cfg_str("ROOST_MONGODB_URI", CFG_DEFAULT_MONGODB_URI), &error);
    if (uri == NULL) {
        log_error("ROOST_MONGODB_URI is not a MongoDB URI: %s", error.message);
        return NULL;
    }
    /* Fail fast while the database is down, so clients get a quick 503 instead of a hang. */
    if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 2000);
    if (!mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, 2000);
    /* A database that hangs mid-request frees the context after this, not
     * after mongoc's default of five minutes; the breaker (breaker.h)
     * keeps later requests from waiting at all. */
    if (!mongoc_uri_has_option(uri, MONGOC_URI_SOCKETTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, 5000);
    /* After an outage the pool learns the server is back this soon. */
    if (!mongoc_uri_has_option(uri, MONGOC_URI_HEARTBEATFREQUENCYMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_HEARTBEATFREQUENCYMS, 500);
    mongoc_client_pool_t *pool = mongoc_client_pool_new(uri);
    mongoc_uri_destroy(uri);
    if (pool == NULL)
        return NULL;
    mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_pool_set_appname(pool, "roost-worker");
    mongoc_client_pool_max_size(pool, (uint32_t)max_clients);
    return pool;
}

bool
database_open(int max_clients)
{
    mongoc_log_set_handler(database_log, NULL);
    mongoc_init();
    if (sodium_init() < 0) {
        log_error("libsodium failed to initialise");
        return false;
    }
    return (database_clients = database_pool_new(max_clients)) != NULL;
}

mongoc_client_pool_t *
database_clients_pool(void)
{
    return database_clients;
}

void
database_close(void)
{
    mongoc_client_pool_destroy(database_clients);
    database_clients = NULL;
    mongoc_cleanup();
}

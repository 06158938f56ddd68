/*
 * What keeps password checks from taking the users service down (the
 * hardening issue): a bounded number of Argon2id hashes at once per
 * worker, and limits on failed logins per username and per client address
 * kept in the database, so that every worker shares them and they outlive
 * a worker's restart. docs/security.md gives the figures and their sources.
 */
#include "users.h"
#include "config.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sem_t users_hash_sem;
static pthread_once_t users_guard_once = PTHREAD_ONCE_INIT;
static int64_t users_hash_wait_ms;
static users_login_limits_t users_limits;

static void
users_guard_load(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t slots = cfg_int("ROOST_PASSWORD_HASH_CONCURRENCY", ncpu > 0 ? ncpu : 1, 1, 256);
    users_hash_wait_ms = cfg_int("ROOST_PASSWORD_HASH_WAIT_MS", 20, 0, 10000);
    sem_init(&users_hash_sem, 0, (unsigned)slots);
    users_limits.per_username = cfg_int("ROOST_LOGIN_LIMIT_PER_USERNAME", 10, 0, INT32_MAX);
    users_limits.per_address = cfg_int("ROOST_LOGIN_LIMIT_PER_ADDRESS", 100, 0, INT32_MAX);
    users_limits.window = cfg_int("ROOST_LOGIN_LIMIT_WINDOW_SECONDS", 300, 1, 86400);
}

const users_login_limits_t *
users_login_limits(void)
{
    pthread_once(&users_guard_once, users_guard_load);
    return &users_limits;
}

bool
users_hash_slot_take(bool login)
{
    pthread_once(&users_guard_once, users_guard_load);
    if (sem_trywait(&users_hash_sem) == 0)
        return true;
    int64_t wait_ms = login ? users_hash_wait_ms : USERS_HASH_WRITE_WAIT_MS;
    if (wait_ms == 0)
        return false;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    until.tv_sec += wait_ms / 1000 + until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    while (sem_timedwait(&users_hash_sem, &until) != 0)
        if (errno != EINTR)
            return false;
    return true;
}

void
users_hash_slot_give(void)
{
    sem_post(&users_hash_sem);
}

void
users_fail_hash_busy(svc_call_t *call)
{
    svc_fail(call, 503, "password_checks_busy",
             "every password check of this worker is taken (ROOST_PASSWORD_HASH_CONCURRENCY); retry shortly");
    svc_retry_after(call, 1);
}

/* The counter document of one key in the current window. */
static void
users_limit_id(char *out, size_t size, const char *kind, const char *key, int64_t window_start)
{
    snprintf(out, size, "%s:%lld:%s", kind, (long long)window_start, key);
}

int
users_login_allowed(svc_call_t *call, const char *username_key, envelope_rate_limit_t *state, bson_error_t *error)
{
    const users_login_limits_t *lim = users_login_limits();
    int64_t now = (int64_t)time(NULL), start = now - now % lim->window;
    const char *addr = call->req->client_addr;
    struct {
        const char *kind, *key;
        int64_t quota;
    } keys[] = {{"login-username", username_key, lim->per_username}, {"login-address", addr, lim->per_address}};
    mongoc_collection_t *coll = svc_collection(call->mongo, "users", "login_failures");
    int rv = 1;
    bool first = true;

    for (size_t i = 0; i < 2; i++) {
        if (keys[i].quota == 0 || keys[i].key[0] == '\0')
            continue;
        char id[ENVELOPE_ADDR_MAX + 600];
        users_limit_id(id, sizeof(id), keys[i].kind, keys[i].key, start);
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
        bson_t doc = BSON_INITIALIZER;
        bson_iter_t it;
        bool found;
        bool ok = svc_find_one(coll, filter, &doc, &found, error);
        bson_destroy(filter);
        int64_t failures = found && bson_iter_init_find(&it, &doc, "failures") && BSON_ITER_HOLDS_INT(&it)
                               ? bson_iter_as_int64(&it)
                               : 0;
        bson_destroy(&doc);
        if (!ok) {
            rv = -1;
            break;
        }
        envelope_rate_limit_t s = {.policy = keys[i].kind,
                                   .quota = keys[i].quota,
                                   .window = lim->window,
                                   .remaining = failures >= keys[i].quota ? 0 : keys[i].quota - failures,
                                   .reset = start + lim->window - now};
        /* The state reported is the username's, unless the address's is the one that refuses. */
        if (first || s.remaining == 0) {
            *state = s;
            first = false;
        }
        if (s.remaining == 0) {
            rv = 0;
            break;
        }
    }
    mongoc_collection_destroy(coll);
    return rv;
}

void
users_login_failed(svc_call_t *call, const char *username_key, envelope_rate_limit_t *state)
{
    const users_login_limits_t *lim = users_login_limits();
    int64_t now = (int64_t)time(NULL), start = now - now % lim->window;
    const char *addr = call->req->client_addr;
    const char *kinds[] = {"login-username", "login-address"}, *keys[] = {username_key, addr};
    int64_t quotas[] = {lim->per_username, lim->per_address};
    mongoc_collection_t *coll = svc_collection(call->mongo, "users", "login_failures");
    static atomic_llong swept_window;

    for (size_t i = 0; i < 2; i++) {
        if (quotas[i] == 0 || keys[i][0] == '\0')
            continue;
        char id[ENVELOPE_ADDR_MAX + 600];
        bson_error_t error;
        users_limit_id(id, sizeof(id), kinds[i], keys[i], start);
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
        /* $inc is atomic in MongoDB and in roost-embedded-db (one writer at
         * a time); two first failures racing to insert are told apart by
         * _id, and the loser's increment is retried once as an update. */
        bson_t *update =
            BCON_NEW("$inc", "{", "failures", BCON_INT64(1), "}", "$set", "{", "window_start", BCON_INT64(start), "}");
        bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
        if (!mongoc_collection_update_one(coll, filter, update, opts, NULL, &error) &&
            !(svc_is_duplicate(&error) && mongoc_collection_update_one(coll, filter, update, NULL, NULL, &error)))
            log_warn("rid=%s could not count a failed login: %s", call->req->rid, error.message);
        bson_destroy(opts);
        bson_destroy(update);
        bson_destroy(filter);
        if (state->policy != NULL && strcmp(state->policy, kinds[i]) == 0 && state->remaining > 0)
            state->remaining--;
    }
    /* Counters of windows gone by are removed once per window per worker. */
    long long last = atomic_load(&swept_window);
    if (last != start && atomic_compare_exchange_strong(&swept_window, &last, (long long)start)) {
        bson_t *old = BCON_NEW("window_start", "{", "$lt", BCON_INT64(start), "}");
        mongoc_collection_delete_many(coll, old, NULL, NULL, NULL);
        bson_destroy(old);
    }
    mongoc_collection_destroy(coll);
}

/*
 * What keeps password checks from taking the users service down (the
 * hardening issue): a bounded number of Argon2id hashes at once per
 * worker, and limits on failed logins per username and per client address
 * kept in the database, so that every worker shares them and they outlive
 * a worker's restart. docs/security.md gives the figures and their sources.
 */
#include "users.h"
#include "clock.h"
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
    /* Default: one per core, and never more than a quarter of the
     * worker's contexts, so hashing cannot hold most of them even where
     * the core count is the node's rather than the container's share
     * (Kubernetes sets it from the CPU limit instead: configmap.yaml). */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t contexts = cfg_int("ROOST_WORKER_CONCURRENCY", 16, 1, 1024);
    int64_t fallback = ncpu > 0 ? ncpu : 1;
    if (fallback > contexts / 4)
        fallback = contexts / 4 > 0 ? contexts / 4 : 1;
    int64_t slots = cfg_int("ROOST_PASSWORD_HASH_CONCURRENCY", fallback, 1, 256);
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
    struct timespec until = clock_realtime_after_ms(wait_ms);
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

void
users_fail_too_many(svc_call_t *call, const envelope_rate_limit_t *state)
{
    svc_fail(call, 429, "too_many_failed_logins",
             "too many failed logins for this %s; wait for the time in Retry-After",
             strcmp(state->policy, "login-address") == 0 ? "address" : "username");
    svc_retry_after(call, state->reset > 0 ? state->reset : 1);
    svc_rate_limit(call, state);
}

/*
 * Adds `delta` to the counter of one key in the current window and returns
 * its new value (-1 on a database error). findAndModify with $inc is atomic
 * in MongoDB and in roost-embedded-db (one writer at a time), so the value
 * each caller gets is its own; two first attempts racing to insert the
 * counter are told apart by _id, and the loser retries once as an update.
 */
static int64_t
users_count(mongoc_collection_t *coll, const char *id, int64_t window_start, int64_t delta, bson_error_t *error)
{
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    bson_t *update = BCON_NEW("$inc", "{", "failures", BCON_INT64(delta), "}", "$set", "{", "window_start",
                              BCON_INT64(window_start), "}");
    int64_t value = -1;
    for (int attempt = 0; attempt < 2 && value < 0; attempt++) {
        mongoc_find_and_modify_opts_t *opts = mongoc_find_and_modify_opts_new();
        bson_t reply;
        bson_iter_t it;
        mongoc_find_and_modify_opts_set_update(opts, update);
        mongoc_find_and_modify_opts_set_flags(opts, MONGOC_FIND_AND_MODIFY_UPSERT | MONGOC_FIND_AND_MODIFY_RETURN_NEW);
        if (svc_find_and_modify(coll, filter, opts, &reply, error) && bson_iter_init(&it, &reply) &&
            bson_iter_find_descendant(&it, "value.failures", &it) && BSON_ITER_HOLDS_INT(&it))
            value = bson_iter_as_int64(&it);
        bool retry = value < 0 && svc_is_duplicate(error);
        bson_destroy(&reply);
        mongoc_find_and_modify_opts_destroy(opts);
        if (!retry)
            break;
    }
    bson_destroy(update);
    bson_destroy(filter);
    return value;
}

/* The keys a password check counts against. */
static size_t
users_check_keys(svc_call_t *call, const char *username_key, users_check_t *check)
{
    const users_login_limits_t *lim = users_login_limits();
    int64_t now = (int64_t)time(NULL);
    const char *addr = call->req->client_addr;
    struct {
        const char *kind, *key;
        int64_t quota;
    } keys[] = {{"login-username", username_key, lim->per_username}, {"login-address", addr, lim->per_address}};
    memset(check, 0, sizeof(*check));
    check->window_start = now - now % lim->window;
    check->now = now;
    for (size_t i = 0; i < 2; i++) {
        if (keys[i].quota == 0 || keys[i].key[0] == '\0')
            continue;
        snprintf(check->ids[check->n], sizeof(check->ids[0]), "%s:%lld:%s", keys[i].kind,
                 (long long)check->window_start, keys[i].key);
        check->kinds[check->n] = keys[i].kind;
        check->quotas[check->n] = keys[i].quota;
        check->n++;
    }
    return check->n;
}

int
users_password_check_begin(svc_call_t *call, const char *username_key, users_check_t *check,
                           envelope_rate_limit_t *state, bson_error_t *error)
{
    const users_login_limits_t *lim = users_login_limits();
    mongoc_collection_t *coll = svc_collection(call->mongo, "users", "login_failures");
    int rv = 1;
    size_t counted = 0;

    users_check_keys(call, username_key, check);
    memset(state, 0, sizeof(*state));
    for (size_t i = 0; i < check->n; i++) {
        int64_t n = users_count(coll, check->ids[i], check->window_start, 1, error);
        if (n < 0) {
            rv = -1;
            break;
        }
        counted++;
        envelope_rate_limit_t s = {.policy = check->kinds[i],
                                   .quota = check->quotas[i],
                                   .window = lim->window,
                                   .remaining = n >= check->quotas[i] ? 0 : check->quotas[i] - n,
                                   .reset = check->window_start + lim->window - check->now};
        /* The state reported is the username's, unless the address's is the one that refuses. */
        if (i == 0 || n > check->quotas[i])
            *state = s;
        if (n > check->quotas[i]) {
            rv = 0;
            break;
        }
    }
    /* Refused or failed: this attempt counts against nothing. */
    bson_error_t ignored;
    if (rv != 1)
        for (size_t i = 0; i < counted; i++)
            users_count(coll, check->ids[i], check->window_start, -1, &ignored);
    check->n = rv == 1 ? check->n : 0;
    svc_collection_close(coll);
    return rv;
}

void
users_password_check_end(svc_call_t *call, const users_check_t *check, bool good)
{
    mongoc_collection_t *coll = svc_collection(call->mongo, "users", "login_failures");
    static atomic_llong swept_window;
    bson_error_t error;
    int64_t start = check->window_start;

    /* A right password is no failure: its attempt is taken back. */
    for (size_t i = 0; good && i < check->n; i++)
        if (users_count(coll, check->ids[i], start, -1, &error) < 0)
            log_warn("rid=%s could not take back a login attempt: %s", call->req->rid, error.message);
    /* Counters of windows gone by are removed once per window per worker. */
    long long last = atomic_load(&swept_window);
    if (last != start && atomic_compare_exchange_strong(&swept_window, &last, (long long)start)) {
        bson_t *old = BCON_NEW("window_start", "{", "$lt", BCON_INT64(start), "}");
        svc_delete(coll, old, true, NULL);
        bson_destroy(old);
    }
    svc_collection_close(coll);
}

/* Token generations and revoked token ids, read through a short cache (auth.h). */
#include "clock.h"
#include "auth.h"
#include "store.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#define SVC_AUTH_SLOTS 1024

typedef struct {
    int64_t sub; /* 0: empty */
    int64_t read_ms;
    bool exists;
    int64_t gen;
    size_t nrevoked;
    char revoked[SVC_AUTH_REVOKED_READ][33];
} svc_auth_entry_t;

static pthread_mutex_t svc_auth_lock = PTHREAD_MUTEX_INITIALIZER;
static svc_auth_entry_t svc_auth_cache[SVC_AUTH_SLOTS];

/* Reads the user's token_gen and revoked_tokens into *e. */
static bool
svc_auth_read(mongoc_client_t *mongo, int64_t sub, svc_auth_entry_t *e, bson_error_t *error)
{
    mongoc_collection_t *users = svc_collection(mongo, "users", "users");
    bson_t *filter = BCON_NEW("_id", BCON_INT64(sub));
    bson_t *opts = BCON_NEW("projection", "{", "token_gen", BCON_INT32(1), "revoked_tokens", BCON_INT32(1), "}",
                            "limit", BCON_INT64(1));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(users, filter, opts, NULL);
    const bson_t *doc;
    bson_iter_t it, list, one;

    memset(e, 0, sizeof(*e));
    e->sub = sub;
    if (mongoc_cursor_next(cursor, &doc)) {
        e->exists = true;
        if (bson_iter_init_find(&it, doc, "token_gen") && BSON_ITER_HOLDS_INT(&it))
            e->gen = bson_iter_as_int64(&it);
        if (bson_iter_init_find(&it, doc, "revoked_tokens") && BSON_ITER_HOLDS_ARRAY(&it) &&
            bson_iter_recurse(&it, &list))
            while (bson_iter_next(&list) && e->nrevoked < SVC_AUTH_REVOKED_READ)
                if (BSON_ITER_HOLDS_DOCUMENT(&list) && bson_iter_recurse(&list, &one) && bson_iter_find(&one, "jti") &&
                    BSON_ITER_HOLDS_UTF8(&one))
                    bson_strncpy(e->revoked[e->nrevoked++], bson_iter_utf8(&one, NULL), sizeof(e->revoked[0]));
    }
    bool ok = !mongoc_cursor_error(cursor, error);
    mongoc_cursor_destroy(cursor);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(users);
    return ok;
}

svc_auth_status_t
svc_auth_check(mongoc_client_t *mongo, const token_claims_t *claims, bson_error_t *error)
{
    svc_auth_entry_t e;
    svc_auth_entry_t *slot = &svc_auth_cache[(uint64_t)claims->sub % SVC_AUTH_SLOTS];
    int64_t now = clock_monotonic_ms();

    pthread_mutex_lock(&svc_auth_lock);
    bool fresh = slot->sub == claims->sub && now - slot->read_ms < SVC_AUTH_CACHE_MS;
    if (fresh)
        e = *slot;
    pthread_mutex_unlock(&svc_auth_lock);
    /* A token of a newer generation than the one remembered was issued
     * after it was read (a login right after a logout-all or a password
     * change): the memory is stale, not the token. A cache may make a
     * revocation late by its TTL, never a fresh grant wrong. */
    if (fresh && claims->gen > e.gen)
        fresh = false;
    if (!fresh) {
        if (!svc_auth_read(mongo, claims->sub, &e, error))
            return SVC_AUTH_DB_ERROR;
        e.read_ms = now;
        pthread_mutex_lock(&svc_auth_lock);
        *slot = e;
        pthread_mutex_unlock(&svc_auth_lock);
    }
    if (!e.exists || claims->gen != e.gen)
        return SVC_AUTH_REVOKED;
    for (size_t i = 0; i < e.nrevoked; i++)
        if (claims->jti[0] != '\0' && strcmp(e.revoked[i], claims->jti) == 0)
            return SVC_AUTH_REVOKED;
    return SVC_AUTH_GOOD;
}

void
svc_auth_forget(int64_t sub)
{
    pthread_mutex_lock(&svc_auth_lock);
    svc_auth_entry_t *slot = &svc_auth_cache[(uint64_t)sub % SVC_AUTH_SLOTS];
    if (slot->sub == sub)
        slot->sub = 0;
    pthread_mutex_unlock(&svc_auth_lock);
}

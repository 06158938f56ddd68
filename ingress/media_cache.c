/* The photos' cache (media_cache.h): a hash of keys and one LRU list, under one mutex. */
#include "media_cache.h"
#include "clock.h"
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MEDIA_CACHE_BUCKETS 4096

static struct {
    pthread_mutex_t lock;
    media_blob_t *buckets[MEDIA_CACHE_BUCKETS];
    media_blob_t *newest, *oldest;
    size_t bytes, max_bytes;
    int64_t ttl_ms;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

void
media_cache_configure(void)
{
    cache.max_bytes = (size_t)cfg_int("ROOST_MEDIA_CACHE_BYTES", 256 << 20, 0, (int64_t)1 << 40);
    cache.ttl_ms = cfg_int("ROOST_MEDIA_CACHE_TTL_S", 300, 1, 86400 * 365) * 1000;
}

static size_t
media_cache_hash(const char *key)
{
    size_t h = 5381;
    for (const char *p = key; *p != '\0'; p++)
        h = h * 33 + (unsigned char)*p;
    return h % MEDIA_CACHE_BUCKETS;
}

media_blob_t *
media_blob_new(const char *key, size_t len)
{
    media_blob_t *b = calloc(1, sizeof(*b) + (len > 0 ? len : 1));
    if (b == NULL)
        return NULL;
    atomic_init(&b->refs, 1);
    strncpy(b->key, key, sizeof(b->key) - 1);
    b->len = len;
    return b;
}

void
media_blob_release(media_blob_t *b)
{
    if (b != NULL && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

/* Unlinks `b` from the hash and the list; the lock is held. Returns the cache's reference to drop. */
static media_blob_t *
media_cache_unlink(media_blob_t *b)
{
    media_blob_t **p = &cache.buckets[media_cache_hash(b->key)];
    while (*p != NULL && *p != b)
        p = &(*p)->hash_next;
    if (*p == b)
        *p = b->hash_next;
    if (b->lru_prev != NULL)
        b->lru_prev->lru_next = b->lru_next;
    else
        cache.newest = b->lru_next;
    if (b->lru_next != NULL)
        b->lru_next->lru_prev = b->lru_prev;
    else
        cache.oldest = b->lru_prev;
    b->lru_prev = b->lru_next = b->hash_next = NULL;
    b->cached = false;
    cache.bytes -= b->len;
    return b;
}

media_blob_t *
media_cache_get(const char *key)
{
    media_blob_t *found = NULL, *stale = NULL;
    pthread_mutex_lock(&cache.lock);
    for (media_blob_t *b = cache.buckets[media_cache_hash(key)]; b != NULL; b = b->hash_next)
        if (strcmp(b->key, key) == 0) {
            if (clock_monotonic_ms() - b->made_ms > cache.ttl_ms) {
                stale = media_cache_unlink(b);
                break;
            }
            found = b;
            atomic_fetch_add(&found->refs, 1);
            /* to the front: the most recently used */
            if (cache.newest != b) {
                media_cache_unlink(b);
                cache.bytes += b->len;
                b->cached = true;
                b->hash_next = cache.buckets[media_cache_hash(key)];
                cache.buckets[media_cache_hash(key)] = b;
                b->lru_next = cache.newest;
                cache.newest->lru_prev = b;
                cache.newest = b;
            }
            break;
        }
    pthread_mutex_unlock(&cache.lock);
    media_blob_release(stale);
    return found;
}

void
media_cache_put(media_blob_t *b)
{
    media_blob_t *evicted[64];
    size_t n = 0;
    /* One photo may take a quarter of the cache at most: a few big ones
     * must not push out every small one. */
    if (b->len > cache.max_bytes / 4)
        return;
    pthread_mutex_lock(&cache.lock);
    for (media_blob_t *o = cache.buckets[media_cache_hash(b->key)]; o != NULL; o = o->hash_next)
        if (strcmp(o->key, b->key) == 0 && n < 64)
            evicted[n++] = media_cache_unlink(o); /* two loops read it at once: the newer copy stays */
    while (cache.bytes + b->len > cache.max_bytes && cache.oldest != NULL && n < 64)
        evicted[n++] = media_cache_unlink(cache.oldest);
    if (cache.bytes + b->len <= cache.max_bytes) {
        atomic_fetch_add(&b->refs, 1);
        b->cached = true;
        size_t h = media_cache_hash(b->key);
        b->hash_next = cache.buckets[h];
        cache.buckets[h] = b;
        b->lru_next = cache.newest;
        if (cache.newest != NULL)
            cache.newest->lru_prev = b;
        cache.newest = b;
        if (cache.oldest == NULL)
            cache.oldest = b;
        cache.bytes += b->len;
    }
    pthread_mutex_unlock(&cache.lock);
    for (size_t i = 0; i < n; i++)
        media_blob_release(evicted[i]);
}

/* Forgets every blob of photo `id`, or of property `property_id` when `id` is NULL. */
static void
media_cache_drop(const char *id, int64_t property_id)
{
    size_t len = id != NULL ? strlen(id) : 0;
    for (bool more = true; more;) {
        media_blob_t *gone[64];
        size_t n = 0;
        pthread_mutex_lock(&cache.lock);
        media_blob_t *b = cache.newest;
        for (media_blob_t *next; b != NULL && n < 64; b = next) {
            next = b->lru_next;
            if (id != NULL ? strncmp(b->key, id, len) == 0 && (b->key[len] == '\0' || b->key[len] == '-')
                           : b->property_id == property_id)
                gone[n++] = media_cache_unlink(b);
        }
        more = b != NULL;
        pthread_mutex_unlock(&cache.lock);
        for (size_t i = 0; i < n; i++)
            media_blob_release(gone[i]);
    }
}

void
media_cache_forget(const char *id)
{
    media_cache_drop(id, 0);
}

void
media_cache_forget_property(int64_t id)
{
    media_cache_drop(NULL, id);
}

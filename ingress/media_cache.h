/*
 * The ingress's cache of photos' bytes (GET /media/{id}): a photo read
 * from the workers once is answered from here by every loop of this
 * ingress, without a round trip, until it falls out: the least recently
 * used go first past ROOST_MEDIA_CACHE_BYTES (default 256 MiB, 0 turns
 * the cache off), and none is older than ROOST_MEDIA_CACHE_TTL_S (default
 * 300), which bounds how long another ingress serves a photo deleted
 * through this one (this one forgets it, or all of a deleted property's,
 * at once). A photo's bytes never
 * change under its id, so nothing else can be stale.
 *
 * Entries are reference-counted: a response holds its entry until its
 * request is freed, so an eviction never pulls bytes from under a send.
 * Safe from any thread.
 */
#ifndef ROOST_MEDIA_CACHE_H
#define ROOST_MEDIA_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEDIA_CACHE_KEY_MAX 48

typedef struct media_blob {
    atomic_int refs;
    char key[MEDIA_CACHE_KEY_MAX]; /* "<id>" or "<id>-w<w>.<jpeg|webp>" */
    char content_type[24];
    char etag[72];   /* "\"<sha256>\"" */
    int64_t made_ms; /* when it was read from the workers */
    int64_t property_id;
    size_t len;
    struct media_blob *lru_prev, *lru_next, *hash_next; /* the cache's */
    bool cached;
    uint8_t data[];
} media_blob_t;

/* Reads the limits; call once at start-up. */
void media_cache_configure(void);

/* A new blob of `len` bytes with one reference (the caller's). */
media_blob_t *media_blob_new(const char *key, size_t len);
void media_blob_release(media_blob_t *b);

/* The blob of `key` with a reference for the caller, or NULL. */
media_blob_t *media_cache_get(const char *key);
/* Keeps `b` (when it fits; it takes its own reference). */
void media_cache_put(media_blob_t *b);
/* Forgets every blob of photo `id` (its copies too). */
void media_cache_forget(const char *id);
/* Forgets every blob of property `id`'s photos. */
void media_cache_forget_property(int64_t id);

#endif

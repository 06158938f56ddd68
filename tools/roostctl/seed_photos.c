/*
 * roostctl seed --photos (seed_photos.h): each photo is drawn here with
 * libvips, no download, then sent as properties.media.piece (one 256 KiB
 * piece at most: a drawn 640 × 427 JPEG is far smaller) and
 * properties.media.add, as the ingress sends an upload.
 */
#include "seed_photos.h"
#include "config.h"
#include "image.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SEED_PHOTO_WIDTH 640
#define SEED_PHOTO_HEIGHT 427

typedef struct {
    const seed_photos_t *p;
    atomic_long next;
    atomic_bool failed;
} seed_photos_run_t;

/* Sends one op for photo (i, k) under its rid; false (said) unless it is 2xx. */
static bool
seed_photo_op(const seed_photos_t *p, long i, long k, const char *op, bson_t *body)
{
    bson_t request = BSON_INITIALIZER, auth, params, reply;
    bson_error_t error;
    bson_iter_t it;
    char rid[96], id[24];
    snprintf(rid, sizeof(rid), "seed-%llu-photo-%ld-%ld", (unsigned long long)p->seed, i, k);
    snprintf(id, sizeof(id), "%lld", (long long)p->properties[i]);
    BSON_APPEND_UTF8(&request, "rid", rid);
    BSON_APPEND_DOCUMENT_BEGIN(&request, "auth", &auth);
    BSON_APPEND_INT64(&auth, "sub", p->owners[i]);
    bson_append_document_end(&request, &auth);
    BSON_APPEND_DOCUMENT_BEGIN(&request, "params", &params);
    BSON_APPEND_UTF8(&params, "id", id);
    bson_append_document_end(&request, &params);
    BSON_APPEND_DOCUMENT(&request, "body", body);
    int status = 0;
    /* A 503 (a database restarting) is sent again a little later: the ops are idempotent per rid. */
    for (int attempt = 0; attempt < 20; attempt++) {
        if (!roost_client_call(p->client, op, &request, &reply, &error)) {
            fprintf(stderr, "\nroostctl seed: %s %s: %s\n", op, rid, error.message);
            bson_destroy(&request);
            return false;
        }
        status = bson_iter_init_find(&it, &reply, "status") ? (int)bson_iter_as_int64(&it) : 0;
        if (status != 503)
            break;
        bson_destroy(&reply);
        usleep(250 * 1000);
    }
    bool ok = status / 100 == 2;
    if (!ok) {
        char *json = bson_as_relaxed_extended_json(&reply, NULL);
        fprintf(stderr, "\nroostctl seed: %s %s answered %s\n", op, rid, json);
        bson_free(json);
    }
    bson_destroy(&reply);
    bson_destroy(&request);
    return ok;
}

/* Draws photo k of property i and uploads it. */
static bool
seed_photo(const seed_photos_t *p, long i, long k)
{
    uint8_t *jpeg = NULL;
    size_t len = 0;
    if (!image_generate(SEED_PHOTO_WIDTH, SEED_PHOTO_HEIGHT, p->seed * 1000003u + (uint64_t)i * 64 + (uint64_t)k, &jpeg,
                        &len)) {
        fprintf(stderr, "\nroostctl seed: libvips could not draw a photo\n");
        return false;
    }
    bool ok = true;
    size_t pieces = (len + CFG_MEDIA_PIECE_BYTES - 1) / CFG_MEDIA_PIECE_BYTES;
    for (size_t n = 0; n < pieces && ok; n++) {
        size_t at = n * CFG_MEDIA_PIECE_BYTES,
               take = len - at < CFG_MEDIA_PIECE_BYTES ? len - at : CFG_MEDIA_PIECE_BYTES;
        bson_t body = BSON_INITIALIZER;
        BSON_APPEND_INT64(&body, "n", (int64_t)n);
        BSON_APPEND_BINARY(&body, "data", BSON_SUBTYPE_BINARY, jpeg + at, (uint32_t)take);
        ok = seed_photo_op(p, i, k, "properties.media.piece", &body);
        bson_destroy(&body);
    }
    char caption[32], sha[2 * crypto_hash_sha256_BYTES + 1];
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, jpeg, len);
    sodium_bin2hex(sha, sizeof(sha), hash, sizeof(hash));
    image_free(jpeg);
    if (!ok)
        return false;
    snprintf(caption, sizeof(caption), "Photo %ld", k + 1);
    bson_t *body = BCON_NEW("pieces", BCON_INT64((int64_t)pieces), "content_type", BCON_UTF8("image/jpeg"), "sha256",
                            BCON_UTF8(sha), "caption", BCON_UTF8(caption));
    ok = seed_photo_op(p, i, k, "properties.media.add", body);
    bson_destroy(body);
    return ok;
}

static void *
seed_photos_worker(void *arg)
{
    seed_photos_run_t *run = arg;
    const seed_photos_t *p = run->p;
    /* A property's photos one after another, so that their order is k's. */
    for (;;) {
        long i = atomic_fetch_add(&run->next, 1);
        if (i >= p->count || atomic_load(&run->failed))
            break;
        for (long k = 0; k < p->per_property && !atomic_load(&run->failed); k++)
            if (!seed_photo(p, i, k))
                atomic_store(&run->failed, true);
    }
    return NULL;
}

bool
seed_photos(const seed_photos_t *p)
{
    long total = p->count * p->per_property;
    if (total == 0)
        return true;
    if (!image_init("roostctl")) {
        fprintf(stderr, "roostctl seed: libvips failed to start\n");
        return false;
    }
    seed_photos_run_t run = {.p = p};
    int jobs = (long)p->jobs < p->count ? p->jobs : (int)p->count;
    pthread_t threads[256];
    for (int t = 0; t < jobs; t++)
        pthread_create(&threads[t], NULL, seed_photos_worker, &run);
    for (int t = 0; t < jobs; t++)
        pthread_join(threads[t], NULL);
    image_shutdown();
    if (!p->quiet && !atomic_load(&run.failed))
        fprintf(stderr, "roostctl seed: %ld photos\n", total);
    return !atomic_load(&run.failed);
}

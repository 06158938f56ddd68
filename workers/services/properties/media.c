/*
 * A property's photos, their upload (docs/protocol.md, "Photos"): the
 * bytes come in numbered pieces (properties.media.piece, each idempotent
 * per request id and number, kept in media_pieces), then one
 * properties.media.add joins them, checks the picture (shared/image.h),
 * stores it cleaned as a GridFS file of the bucket "media", and adds it to
 * the property's `photos` through the property's own edit loop, so that a
 * photo is a new version of the property like any other change.
 *
 * Nothing half-made is ever visible: a file is written with
 * metadata.committed false and served only once the property lists it and
 * it is marked committed. A retried upload (the same caller, property and
 * request id) names the same photo id, so it makes one photo; what an
 * upload cut off half-way leaves is removed by the sweep (media_edit.c).
 */
#include "clock.h"
#include "config.h"
#include "image.h"
#include "properties.h"
#include "sdk/files.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest picture kept, in pixels (width × height), read from its header. */
#define MEDIA_MAX_PIXELS (50ull * 1000 * 1000)
#define MEDIA_CAPTION_MAX 500

void
properties_media_id(int64_t property_id, int64_t sub, const char *rid, const char *sha256,
                    char out[PROPERTIES_MEDIA_ID_LEN + 1])
{
    char seed[192];
    unsigned char hash[crypto_hash_sha256_BYTES];
    int n = snprintf(seed, sizeof(seed), "%lld:%lld:%s:%s", (long long)property_id, (long long)sub, rid, sha256);
    crypto_hash_sha256(hash, (const unsigned char *)seed, (unsigned long long)n);
    sodium_bin2hex(out, PROPERTIES_MEDIA_ID_LEN + 1, hash, PROPERTIES_MEDIA_ID_LEN / 2);
}

void
properties_sha256_hex(const uint8_t *bytes, size_t len, char out[PROPERTIES_SHA256_HEX + 1])
{
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, bytes, len);
    sodium_bin2hex(out, PROPERTIES_SHA256_HEX + 1, hash, sizeof(hash));
}

bool
properties_load_live(svc_call_t *call, int64_t id, bson_t *property)
{
    mongoc_collection_t *coll = svc_collection(call->mongo, "properties", "properties");
    bson_error_t error;
    bool found = false;
    bson_t *filter = BCON_NEW("_id", BCON_INT64(id));
    svc_filter_live(filter);
    bool ok = svc_find_one(coll, filter, property, &found, &error);
    bson_destroy(filter);
    svc_collection_close(coll);
    if (!ok)
        svc_fail_db(call, &error);
    else if (!found)
        svc_fail(call, 404, "not_found", "no property has id %lld", (long long)id);
    return ok && found;
}

bool
properties_media_owned(svc_call_t *call, int64_t id, bson_t *property)
{
    if (!properties_load_live(call, id, property))
        return false;
    if (properties_int(property, "owner_id") == call->req->auth_sub)
        return true;
    svc_fail(call, 403, "forbidden", "only the owner may change this property");
    return false;
}

int
properties_photo_count(const bson_t *property)
{
    bson_iter_t it, photos;
    int n = 0;
    if (bson_iter_init_find(&it, property, "photos") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &photos))
        while (bson_iter_next(&photos))
            n++;
    return n;
}

bool
properties_photo_find(const bson_t *property, const char *mid, bson_t *photo)
{
    bson_iter_t it, photos, f;
    if (!bson_iter_init_find(&it, property, "photos") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &photos))
        return false;
    while (bson_iter_next(&photos))
        if (bson_iter_recurse(&photos, &f) && bson_iter_find(&f, "id") && BSON_ITER_HOLDS_UTF8(&f) &&
            strcmp(bson_iter_utf8(&f, NULL), mid) == 0)
            return properties_view(&photos, photo);
    return false;
}

bool
properties_media_room(svc_call_t *call, const bson_t *property)
{
    if (properties_photo_count(property) < cfg_max_media_per_property())
        return true;
    svc_fail(call, 409, "too_many_media", "a property may have at most %d photos (ROOST_MAX_MEDIA_PER_PROPERTY)",
             cfg_max_media_per_property());
    return false;
}

/* What add checked and made: the stored photo's entry, and its bytes. */
typedef struct {
    char id[PROPERTIES_MEDIA_ID_LEN + 1];
    char upload[ENVELOPE_RID_MAX + 24]; /* the caller and request id that made it */
    const char *upload_sha256;          /* of the bytes uploaded (sha256 is of those served) */
    /* {id, width, height, content_type, bytes, sha256, caption, created_at,
     * upload, upload_sha256}: order comes in the edit */
    bson_t entry;
} media_new_t;

static bool
media_change_add(svc_call_t *call, const bson_t *current, bson_t *changes, void *arg)
{
    media_new_t *m = arg;
    bson_t photo, list, item;
    bson_iter_t it, photos;
    uint32_t n = 0;
    char key[16];
    bool listed = properties_photo_find(current, m->id, &photo);
    if (!listed && !properties_media_room(call, current))
        return false;
    bson_init(changes);
    BSON_APPEND_ARRAY_BEGIN(changes, "photos", &list);
    if (bson_iter_init_find(&it, current, "photos") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &photos))
        while (bson_iter_next(&photos)) {
            snprintf(key, sizeof(key), "%u", n++);
            bson_append_iter(&list, key, -1, &photos);
        }
    if (!listed) { /* a repeat whose first delivery was overtaken by another change adds nothing */
        snprintf(key, sizeof(key), "%u", n);
        BSON_APPEND_DOCUMENT_BEGIN(&list, key, &item);
        bson_concat(&item, &m->entry);
        BSON_APPEND_INT32(&item, "order", (int32_t)n + 1);
        bson_append_document_end(&list, &item);
    }
    bson_append_array_end(changes, &list);
    return true;
}

/* The upload checked, cleaned and written as a file not yet committed;
 * false when it replied. */
static bool
media_store(svc_call_t *call, int64_t id, const char *content_type, const properties_joined_t *j, media_new_t *m)
{
    image_type_t declared = image_type_of_mime(content_type);
    char why[256];
    int width, height;
    uint8_t *clean = NULL;
    size_t clean_len = 0;
    bson_error_t error;
    switch (image_probe(j->bytes, j->len, declared, MEDIA_MAX_PIXELS, &width, &height, why, sizeof(why))) {
    case IMAGE_OK:
        break;
    case IMAGE_TOO_LARGE:
        svc_fail(call, 422, "image_too_large", "%s", why);
        return false;
    case IMAGE_NOT_IMAGE:
        if (image_sniff(j->bytes, j->len) == declared) { /* its type, cut short or damaged */
            svc_fail(call, 422, "undecodable_image", "%s", why);
            return false;
        }
        svc_fail(call, 415, "unsupported_media_type", "%s", why); /* not the declared type at all */
        return false;
    default:
        svc_fail(call, 415, "unsupported_media_type", "%s", why);
        return false;
    }
    if (image_clean(j->bytes, j->len, &clean, &clean_len, &width, &height, why, sizeof(why)) != IMAGE_OK) {
        svc_fail(call, 422, "undecodable_image", "%s", why);
        return false;
    }
    char sha[PROPERTIES_SHA256_HEX + 1];
    properties_sha256_hex(clean, clean_len, sha);
    int64_t now = clock_realtime_us();
    bson_init(&m->entry);
    BSON_APPEND_UTF8(&m->entry, "id", m->id);
    BSON_APPEND_UTF8(&m->entry, "content_type", image_mime(declared));
    BSON_APPEND_INT64(&m->entry, "bytes", (int64_t)clean_len);
    BSON_APPEND_INT32(&m->entry, "width", width);
    BSON_APPEND_INT32(&m->entry, "height", height);
    BSON_APPEND_UTF8(&m->entry, "sha256", sha);
    BSON_APPEND_INT64(&m->entry, "created_at", now);
    BSON_APPEND_UTF8(&m->entry, "upload", m->upload);
    BSON_APPEND_UTF8(&m->entry, "upload_sha256", m->upload_sha256);
    bson_t meta = BSON_INITIALIZER;
    BSON_APPEND_INT64(&meta, "property_id", id);
    BSON_APPEND_UTF8(&meta, "media_id", m->id);
    BSON_APPEND_INT32(&meta, "w", 0);
    BSON_APPEND_UTF8(&meta, "content_type", image_mime(declared));
    BSON_APPEND_INT32(&meta, "width", width);
    BSON_APPEND_INT32(&meta, "height", height);
    BSON_APPEND_UTF8(&meta, "sha256", sha);
    BSON_APPEND_BOOL(&meta, "committed", false);
    /* A file already there, or being written by another delivery of this
     * request, is this request's: the same id is the same bytes. */
    bool ok = true;
    switch (svc_file_put(call->mongo, "properties", PROPERTIES_MEDIA_BUCKET, m->id, clean, clean_len, &meta, &error)) {
    case SVC_FILE_WRITTEN:
    case SVC_FILE_EXISTS:
        break;
    case SVC_FILE_BUSY: {
        bson_t file = BSON_INITIALIZER;
        bool found = false;
        ok = svc_file_wait(call->mongo, "properties", PROPERTIES_MEDIA_BUCKET, m->id, &file, &found, &error);
        bson_destroy(&file);
        if (ok && !found) {
            svc_fail(call, 503, "upload_busy", "another delivery of this upload is storing it: retry shortly");
            svc_retry_after(call, 1);
            bson_destroy(&meta);
            image_free(clean);
            return false;
        }
        break;
    }
    case SVC_FILE_FAILED:
        ok = false;
    }
    bson_destroy(&meta);
    image_free(clean);
    if (!ok)
        svc_fail_db(call, &error);
    return ok;
}

int
properties_media_edit(svc_call_t *call, int status, properties_change_fn change, void *arg, bson_t *after)
{
    svc_call_t edit;
    bson_error_t error;
    bool found = false;
    svc_call_quiet(call, &edit);
    properties_edit(&edit, status, change, arg);
    int got = svc_replied_status(&edit);
    if (got != status) {
        if (call->replied)
            bson_destroy(&call->reply);
        bson_copy_to(&edit.reply, &call->reply);
        call->replied = true;
        svc_call_quiet_end(&edit);
        return got;
    }
    svc_call_quiet_end(&edit);
    /* The stored document, read back: the photos' every field, which the
     * property's public shape leaves out. */
    field_errors_t errors;
    int64_t id = 0;
    field_errors_init(&errors);
    validate_id(&call->req->params, "id", &errors, &id);
    field_errors_destroy(&errors);
    mongoc_collection_t *coll = svc_collection(call->mongo, "properties", "properties");
    bson_t *filter = BCON_NEW("_id", BCON_INT64(id));
    bson_init(after);
    bool ok = svc_find_one(coll, filter, after, &found, &error);
    bson_destroy(filter);
    svc_collection_close(coll);
    if (!ok || !found) {
        bson_destroy(after);
        if (!ok)
            svc_fail_db(call, &error);
        else
            svc_fail(call, 500, "internal", "property %lld is gone after its change", (long long)id);
        return svc_replied_status(call);
    }
    return got;
}

/* Answers `status` with photo `mid` as `property` lists it. */
void
properties_media_reply_photo(svc_call_t *call, int status, int64_t id, const bson_t *property, const char *mid)
{
    bson_t photo, out;
    if (!properties_photo_find(property, mid, &photo)) {
        svc_fail(call, 500, "internal", "photo %s is not on property %lld after its change", mid, (long long)id);
        return;
    }
    properties_render_photo(id, &photo, true, &out);
    svc_reply(call, status, &out);
    bson_destroy(&out);
}

/* 409 when this caller's request id already made another photo of the
 * property, from other bytes (the same bytes name the same photo, which
 * the caller found first): an idempotency key names one request. */
static bool
media_request_unused(svc_call_t *call, const bson_t *property)
{
    char upload[ENVELOPE_RID_MAX + 24];
    bson_iter_t it, photos;
    bson_t photo;
    properties_media_upload_key(call, upload, sizeof(upload));
    if (bson_iter_init_find(&it, property, "photos") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &photos))
        while (bson_iter_next(&photos))
            if (properties_view(&photos, &photo) && strcmp(properties_str(&photo, "upload"), upload) == 0) {
                svc_fail(call, 409, "request_id_reused",
                         "X-Request-Id %s already made photo %s of this property, from other bytes: send this "
                         "one under a new request id",
                         call->req->rid, properties_str(&photo, "id"));
                return false;
            }
    return true;
}

/* 409 when the joined pieces are not the bytes the caller sent: pieces of
 * another upload under the same request id were mixed in. */
static bool
media_same_bytes(svc_call_t *call, const properties_joined_t *j, const char *sha256)
{
    char hex[PROPERTIES_SHA256_HEX + 1];
    properties_sha256_hex(j->bytes, j->len, hex);
    if (strcmp(hex, sha256) == 0)
        return true;
    svc_fail(call, 409, "upload_mismatch",
             "the pieces kept under X-Request-Id %s are not the bytes of this upload (another upload used the same "
             "request id): send it again under a new one",
             call->req->rid);
    return false;
}

/* After a refused change: removes file `mid` unless the property lists it
 * (another delivery of the same request may have made the photo). */
static void
media_drop_unlisted(svc_call_t *call, int64_t id, const char *mid)
{
    svc_call_t quiet;
    bson_t property = BSON_INITIALIZER, photo;
    bson_error_t error;
    svc_call_quiet(call, &quiet);
    if (properties_load_live(&quiet, id, &property) && !properties_photo_find(&property, mid, &photo))
        svc_file_delete(call->mongo, "properties", PROPERTIES_MEDIA_BUCKET, mid, &error);
    else if (svc_replied_status(&quiet) == 404)
        svc_file_delete(call->mongo, "properties", PROPERTIES_MEDIA_BUCKET, mid, &error);
    svc_call_quiet_end(&quiet);
    bson_destroy(&property);
}

/* properties.media.add {params: {id}, body: {pieces, content_type,
 * caption?}}: the caller's upload under this request id becomes a photo
 * of the property. 201 with the photo; the same again for a repeat. */
void
properties_media_add(svc_call_t *call)
{
    static const char *const fields[] = {"pieces", "content_type", "sha256", "caption", NULL};
    const bson_t *body = &call->req->body;
    field_errors_t errors;
    bson_iter_t it;
    bson_error_t error;
    int64_t id = 0, pieces = 0;
    const char *content_type = NULL, *caption = NULL, *sha256 = NULL;
    bson_t property = BSON_INITIALIZER, photo;
    properties_joined_t joined = {0};
    media_new_t m = {.entry = BSON_INITIALIZER};
    bool incomplete = false;

    field_errors_init(&errors);
    validate_id(&call->req->params, "id", &errors, &id);
    validate_known_fields(body, fields, &errors);
    if (!bson_iter_init_find(&it, body, "pieces") || !validate_as_int(&it, &pieces) || pieces < 1 ||
        pieces > PROPERTIES_MEDIA_MAX_PIECES)
        field_errors_add(&errors, "pieces", "must be how many pieces were sent, 1 to %d", PROPERTIES_MEDIA_MAX_PIECES);
    if (!bson_iter_init_find(&it, body, "content_type"))
        field_errors_add(&errors, "content_type", "is required");
    else
        validate_text(&it, &errors, "content_type", 1, 100, &content_type);
    if (bson_iter_init_find(&it, body, "caption") && !BSON_ITER_HOLDS_NULL(&it))
        validate_text(&it, &errors, "caption", 0, MEDIA_CAPTION_MAX, &caption);
    if (!bson_iter_init_find(&it, body, "sha256") || !BSON_ITER_HOLDS_UTF8(&it) ||
        strlen(sha256 = bson_iter_utf8(&it, NULL)) != PROPERTIES_SHA256_HEX ||
        strspn(sha256, "0123456789abcdef") != PROPERTIES_SHA256_HEX)
        field_errors_add(&errors, "sha256", "must be the SHA-256 of the whole upload, 64 lowercase hex digits");
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto forget; /* refused: the pieces are of no use */
    }
    if (image_type_of_mime(content_type) == IMAGE_UNKNOWN) {
        svc_fail(call, 415, "unsupported_media_type", "a photo is image/jpeg, image/png or image/webp, not %s",
                 content_type);
        goto forget;
    }
    if (!properties_media_owned(call, id, &property))
        goto forget;
    properties_media_id(id, call->req->auth_sub, call->req->rid, sha256, m.id);
    if (properties_photo_find(&property, m.id, &photo)) { /* a repeat: the photo this request made */
        /* Its first delivery may have stopped between listing it and
         * committing its file: committing again is harmless. */
        if (properties_media_commit_file(call, m.id, &error))
            properties_media_reply_photo(call, 201, id, &property, m.id);
        else
            svc_fail_db(call, &error);
        goto done;
    }
    if (!media_request_unused(call, &property) || !properties_media_room(call, &property))
        goto forget;
    if (!properties_media_join(call, pieces, &joined)) {
        /* a piece missing (400) is what a retry sends again: the others stay */
        incomplete = svc_replied_status(call) == 400;
        goto forget;
    }
    if (!media_same_bytes(call, &joined, sha256))
        goto forget;
    properties_media_upload_key(call, m.upload, sizeof(m.upload));
    m.upload_sha256 = sha256;
    if (!media_store(call, id, content_type, &joined, &m))
        goto forget;
    if (caption != NULL)
        BSON_APPEND_UTF8(&m.entry, "caption", caption);
    bson_t after;
    int status = properties_media_edit(call, 201, media_change_add, &m, &after);
    if (status == 201) {
        if (properties_media_commit_file(call, m.id, &error))
            properties_media_reply_photo(call, 201, id, &after, m.id);
        else
            svc_fail_db(call, &error);
        bson_destroy(&after);
    } else if (status >= 400 && status < 500) { /* refused: nothing of it stays */
        media_drop_unlisted(call, id, m.id);
    }
forget:
    if (svc_replied_status(call) != 503 && svc_replied_status(call) != 500 && !incomplete)
        properties_media_forget_pieces(call);
done:
    bson_free(joined.bytes);
    bson_destroy(&m.entry);
    bson_destroy(&property);
    field_errors_destroy(&errors);
}

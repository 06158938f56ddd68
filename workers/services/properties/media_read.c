/*
 * A photo's bytes, for GET /media/{id} (the ingress reads a photo in
 * reads of at most CFG_MEDIA_READ_BYTES and keeps it in its cache,
 * ingress/media.c): the cleaned original, or a copy `w` pixels wide as
 * JPEG or WebP, made the first time it is asked for and kept as a GridFS
 * file of its own beside the original ("<id>-w<w>.<jpeg|webp>").
 */
#include "clock.h"
#include "config.h"
#include "image.h"
#include "properties.h"
#include "sdk/files.h"

#include <stdio.h>
#include <string.h>

/* The widths a copy may have: a thumbnail, a list, a page, a screen. */
static const int64_t media_widths[] = {160, 320, 640, 1280};

/* A committed file's document by id into `file`; 0 found, 404 replied when
 * it is not there, -1 replied on a database error. */
static int
media_find_file(svc_call_t *call, const char *id, bson_t *file, bool *found)
{
    bson_error_t error;
    bson_iter_t it;
    if (!svc_file_find(call->mongo, "properties", PROPERTIES_MEDIA_BUCKET, id, file, found, &error)) {
        svc_fail_db(call, &error);
        return -1;
    }
    if (*found && !(bson_iter_init(&it, file) && bson_iter_find_descendant(&it, "metadata.committed", &it) &&
                    BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it)))
        *found = false; /* an upload not finished, or a photo being deleted */
    return 0;
}

static int64_t
media_meta_int(const bson_t *file, const char *path)
{
    bson_iter_t it;
    return bson_iter_init(&it, file) && bson_iter_find_descendant(&it, path, &it) && BSON_ITER_HOLDS_NUMBER(&it)
               ? bson_iter_as_int64(&it)
               : 0;
}

/* Makes the copy `copy_id` of original `file`, `w` wide as `as`; false when it replied. */
static bool
media_make_copy(svc_call_t *call, const bson_t *file, const char *mid, const char *copy_id, int64_t w, image_type_t as)
{
    bson_error_t error;
    int64_t length = media_meta_int(file, "length");
    uint8_t *original = bson_malloc(length > 0 ? (size_t)length : 1), *copy = NULL;
    size_t copy_len = 0;
    bool ok =
        svc_file_read(call->mongo, "properties", PROPERTIES_MEDIA_BUCKET, file, 0, (size_t)length, original, &error);
    if (!ok) {
        svc_fail_db(call, &error);
    } else if (!image_resize(original, (size_t)length, (int)w, as, &copy, &copy_len)) {
        svc_fail(call, 500, "internal", "photo %s could not be resized", mid);
        ok = false;
    } else {
        int64_t width = media_meta_int(file, "metadata.width"), height = media_meta_int(file, "metadata.height");
        int64_t cw = width < w ? width : w, ch = width > 0 ? (height * cw + width / 2) / width : 0;
        char sha[PROPERTIES_SHA256_HEX + 1];
        properties_sha256_hex(copy, copy_len, sha);
        bson_t meta = BSON_INITIALIZER;
        BSON_APPEND_INT64(&meta, "property_id", media_meta_int(file, "metadata.property_id"));
        BSON_APPEND_UTF8(&meta, "media_id", mid);
        BSON_APPEND_INT32(&meta, "w", (int32_t)w);
        BSON_APPEND_UTF8(&meta, "content_type", image_mime(as));
        BSON_APPEND_INT32(&meta, "width", (int32_t)cw);
        BSON_APPEND_INT32(&meta, "height", (int32_t)(ch > 0 ? ch : 1));
        BSON_APPEND_UTF8(&meta, "sha256", sha);
        BSON_APPEND_BOOL(&meta, "committed", true);
        /* Another worker making it at once: media_find_file waits for it. */
        ok = svc_file_put(call->mongo, "properties", PROPERTIES_MEDIA_BUCKET, copy_id, copy, copy_len, &meta, &error) !=
             SVC_FILE_FAILED;
        if (!ok)
            svc_fail_db(call, &error);
        bson_destroy(&meta);
    }
    image_free(copy);
    bson_free(original);
    return ok;
}

/* The copy `w` wide as `as_name` of photo `mid` (its original's files
 * document in *file, replaced by the copy's), made first when it is not
 * there, or waited for while another worker makes it; its id into
 * `made`. False when it replied. */
static bool
media_copy(svc_call_t *call, bson_t *file, const char *mid, int64_t w, const char *as_name,
           char made[PROPERTIES_MEDIA_ID_LEN + 16])
{
    char copy_id[PROPERTIES_MEDIA_ID_LEN + 16];
    bson_error_t error;
    bool found = false;
    image_type_t as = strcmp(as_name, "webp") == 0 ? IMAGE_WEBP : IMAGE_JPEG;
    snprintf(copy_id, sizeof(copy_id), "%s-w%lld.%s", mid, (long long)w, as_name);
    bson_t copy = BSON_INITIALIZER;
    if (media_find_file(call, copy_id, &copy, &found) < 0 ||
        (!found && !media_make_copy(call, file, mid, copy_id, w, as))) {
        bson_destroy(&copy);
        return false;
    }
    if (!found && !svc_file_wait(call->mongo, "properties", PROPERTIES_MEDIA_BUCKET, copy_id, &copy, &found, &error)) {
        svc_fail_db(call, &error);
        bson_destroy(&copy);
        return false;
    }
    /* Not `*file = copy`: an allocated bson_t points into itself. */
    bson_destroy(file);
    bson_steal(file, &copy);
    if (!found) {
        svc_fail(call, 503, "copy_busy", "the copy %s is being made: retry shortly", copy_id);
        svc_retry_after(call, 1);
        return false;
    }
    bson_strncpy(made, copy_id, PROPERTIES_MEDIA_ID_LEN + 16);
    return true;
}

/* properties.media.read {params: {mid}, query: {w?, as?, offset?}}: up to
 * CFG_MEDIA_READ_BYTES of the photo from `offset`, with what a response
 * says of it: {id, content_type, length, sha256, width, height, offset,
 * data}. A photo not (or no longer) kept is 404. */
void
properties_media_read(svc_call_t *call)
{
    static const char *const params[] = {"w", "as", "offset", NULL};
    const bson_t *query = &call->req->query;
    field_errors_t errors;
    bson_iter_t it;
    bson_error_t error;
    const char *mid = NULL, *as_name = "jpeg";
    int64_t w = 0, offset = 0;
    bson_t file = BSON_INITIALIZER;
    bool found = false;
    char made[PROPERTIES_MEDIA_ID_LEN + 16] = ""; /* the copy read, when it is one */

    field_errors_init(&errors);
    if (!properties_media_param_id(call, &mid))
        goto done;
    validate_known_fields(query, params, &errors);
    if (bson_has_field(query, "w")) {
        bool known = false;
        field_errors_t ignored; /* one message for every bad w */
        field_errors_init(&ignored);
        if (validate_query_int(query, "w", 0, 1, 100000, &ignored, &w))
            for (size_t i = 0; i < sizeof(media_widths) / sizeof(media_widths[0]); i++)
                known = known || media_widths[i] == w;
        field_errors_destroy(&ignored);
        if (!known)
            field_errors_add(&errors, "w", "must be one of 160, 320, 640 and 1280");
    }
    if (bson_iter_init_find(&it, query, "as"))
        validate_text(&it, &errors, "as", 1, 8, &as_name);
    if (strcmp(as_name, "jpeg") != 0 && strcmp(as_name, "webp") != 0)
        field_errors_add(&errors, "as", "must be jpeg or webp");
    validate_query_int(query, "offset", 0, 0, INT64_MAX / 2, &errors, &offset);
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    if (media_find_file(call, mid, &file, &found) < 0)
        goto done;
    if (!found) {
        svc_fail(call, 404, "not_found", "no photo has id %s", mid);
        goto done;
    }
    if (w > 0 && !media_copy(call, &file, mid, w, as_name, made))
        goto done;
    int64_t length = media_meta_int(&file, "length");
    int64_t take = offset >= length ? 0 : length - offset;
    if (take > CFG_MEDIA_READ_BYTES)
        take = CFG_MEDIA_READ_BYTES;
    uint8_t *data = bson_malloc(take > 0 ? (size_t)take : 1);
    if (!svc_file_read(call->mongo, "properties", PROPERTIES_MEDIA_BUCKET, &file, offset, (size_t)take, data, &error)) {
        /* A copy whose chunks are not all there is made again next time. */
        if (made[0] != '\0' && error.code == MONGOC_ERROR_GRIDFS_CHUNK_MISSING)
            svc_file_delete(call->mongo, "properties", PROPERTIES_MEDIA_BUCKET, made, NULL);
        svc_fail_db(call, &error);
    } else {
        bson_t body = BSON_INITIALIZER;
        BSON_APPEND_UTF8(&body, "id", mid);
        BSON_APPEND_INT64(&body, "property_id", media_meta_int(&file, "metadata.property_id"));
        if (bson_iter_init(&it, &file) && bson_iter_find_descendant(&it, "metadata.content_type", &it))
            bson_append_iter(&body, "content_type", -1, &it);
        BSON_APPEND_INT64(&body, "length", length);
        if (bson_iter_init(&it, &file) && bson_iter_find_descendant(&it, "metadata.sha256", &it))
            bson_append_iter(&body, "sha256", -1, &it);
        BSON_APPEND_INT64(&body, "width", media_meta_int(&file, "metadata.width"));
        BSON_APPEND_INT64(&body, "height", media_meta_int(&file, "metadata.height"));
        BSON_APPEND_INT64(&body, "offset", offset);
        BSON_APPEND_BINARY(&body, "data", BSON_SUBTYPE_BINARY, data, (uint32_t)take);
        svc_reply(call, 200, &body);
        bson_destroy(&body);
    }
    bson_free(data);
done:
    bson_destroy(&file);
    field_errors_destroy(&errors);
}

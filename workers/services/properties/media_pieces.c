/*
 * The pieces of a photo upload (media.c): each kept as it comes, under the
 * caller and its request id, in media_pieces; joined in order when the
 * add comes; removed after it, or by the sweep (media_edit.c) when no add
 * ever comes.
 */
#include "clock.h"
#include "config.h"
#include "properties.h"

#include <stdio.h>
#include <string.h>

void
properties_media_upload_key(const svc_call_t *call, char *out, size_t size)
{
    snprintf(out, size, "%lld:%s", (long long)call->req->auth_sub, call->req->rid);
}

/* properties.media.piece {params: {id}, body: {n, data}}: keeps piece n of
 * the caller's upload under this request id. 200 {n, bytes}. */
void
properties_media_piece(svc_call_t *call)
{
    static const char *const fields[] = {"n", "data", NULL};
    const bson_t *body = &call->req->body;
    field_errors_t errors;
    bson_iter_t it;
    bson_error_t error;
    int64_t id = 0, n = -1;
    const uint8_t *data = NULL;
    uint32_t len = 0;
    bson_subtype_t subtype;
    bson_t property = BSON_INITIALIZER;

    field_errors_init(&errors);
    validate_id(&call->req->params, "id", &errors, &id);
    validate_known_fields(body, fields, &errors);
    if (!bson_iter_init_find(&it, body, "n") || !validate_as_int(&it, &n) || n < 0 || n >= PROPERTIES_MEDIA_MAX_PIECES)
        field_errors_add(&errors, "n", "must be the piece's number, 0 to %d", PROPERTIES_MEDIA_MAX_PIECES - 1);
    if (bson_iter_init_find(&it, body, "data") && BSON_ITER_HOLDS_BINARY(&it))
        bson_iter_binary(&it, &subtype, &len, &data);
    if (data == NULL || len == 0 || len > CFG_MEDIA_PIECE_MAX)
        field_errors_add(&errors, "data", "must be the piece's bytes, BSON binary of 1 to %d bytes",
                         CFG_MEDIA_PIECE_MAX);
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    if (!properties_media_owned(call, id, &property) || (n == 0 && !properties_media_room(call, &property)))
        goto done;
    char upload[ENVELOPE_RID_MAX + 24], key[ENVELOPE_RID_MAX + 40];
    properties_media_upload_key(call, upload, sizeof(upload));
    snprintf(key, sizeof(key), "%s:%lld", upload, (long long)n);
    bson_t piece = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&piece, "_id", key);
    BSON_APPEND_UTF8(&piece, "upload", upload);
    BSON_APPEND_INT64(&piece, "property_id", id);
    BSON_APPEND_INT64(&piece, "n", n);
    BSON_APPEND_BINARY(&piece, "data", BSON_SUBTYPE_BINARY, data, len);
    BSON_APPEND_INT64(&piece, "at", clock_realtime_us());
    mongoc_collection_t *pieces = svc_collection(call->mongo, "properties", "media_pieces");
    bool ok = svc_insert(pieces, &piece, &error);
    if (!ok && svc_is_duplicate(&error)) { /* a piece sent again: the same bytes, or newer ones */
        bson_t *by_id = BCON_NEW("_id", BCON_UTF8(key));
        ok = svc_replace(pieces, by_id, &piece, &error);
        bson_destroy(by_id);
    }
    svc_collection_close(pieces);
    bson_destroy(&piece);
    if (!ok) {
        svc_fail_db(call, &error);
        goto done;
    }
    bson_t *reply = BCON_NEW("n", BCON_INT64(n), "bytes", BCON_INT64(len));
    svc_reply(call, 200, reply);
    bson_destroy(reply);
done:
    bson_destroy(&property);
    field_errors_destroy(&errors);
}

static bool
media_join_one(const bson_t *doc, void *arg)
{
    properties_joined_t *j = arg;
    bson_iter_t it;
    const uint8_t *data;
    uint32_t len;
    bson_subtype_t subtype;
    if (!bson_iter_init_find(&it, doc, "n") || bson_iter_as_int64(&it) != j->next_n ||
        !bson_iter_init_find(&it, doc, "data") || !BSON_ITER_HOLDS_BINARY(&it)) {
        j->broken = true;
        return false;
    }
    bson_iter_binary(&it, &subtype, &len, &data);
    if ((int64_t)(j->len + len) > j->max) {
        j->too_large = true;
        return false;
    }
    if (j->len + len > j->cap) {
        j->cap = (j->len + len) * 2;
        j->bytes = bson_realloc(j->bytes, j->cap);
    }
    memcpy(j->bytes + j->len, data, len);
    j->len += len;
    j->next_n++;
    return true;
}

void
properties_media_forget_pieces(svc_call_t *call)
{
    char upload[ENVELOPE_RID_MAX + 24];
    properties_media_upload_key(call, upload, sizeof(upload));
    mongoc_collection_t *pieces = svc_collection(call->mongo, "properties", "media_pieces");
    bson_t *filter = BCON_NEW("upload", BCON_UTF8(upload));
    svc_delete(pieces, filter, true, NULL);
    bson_destroy(filter);
    svc_collection_close(pieces);
}

bool
properties_media_join(svc_call_t *call, int64_t count, properties_joined_t *j)
{
    char upload[ENVELOPE_RID_MAX + 24];
    bson_error_t error;
    properties_media_upload_key(call, upload, sizeof(upload));
    mongoc_collection_t *pieces = svc_collection(call->mongo, "properties", "media_pieces");
    bson_t *filter = BCON_NEW("upload", BCON_UTF8(upload));
    bson_t *opts = BCON_NEW("sort", "{", "n", BCON_INT32(1), "}");
    *j = (properties_joined_t){.max = cfg_max_media_bytes()};
    bool ok = svc_find_each(pieces, filter, opts, media_join_one, j, &error);
    bson_destroy(filter);
    bson_destroy(opts);
    svc_collection_close(pieces);
    if (!ok)
        svc_fail_db(call, &error);
    else if (j->too_large)
        svc_fail(call, 413, "media_too_large", "a photo may have at most %lld bytes (ROOST_MAX_MEDIA_BYTES)",
                 (long long)j->max);
    else if (j->broken || j->next_n != count)
        svc_fail(call, 400, "upload_incomplete",
                 "%lld of the upload's %lld pieces were received under this request id: send every piece again, "
                 "then add",
                 (long long)j->next_n, (long long)count);
    else if (j->len == 0)
        svc_fail(call, 400, "empty_media", "the upload has no bytes");
    return svc_replied_status(call) == 0;
}

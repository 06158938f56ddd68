/*
 * A property's photos once they are kept: how they are shown, read one by
 * one or as a list, reordered and captioned, deleted (each a change of the
 * property through its edit loop), and the sweep that removes what uploads
 * left behind.
 */
#include "clock.h"
#include "config.h"
#include "properties.h"
#include "sdk/files.h"

#include <stdio.h>
#include <string.h>

#define MEDIA_CAPTION_MAX 500
#define MEDIA_SWEEP_BATCH 50

void
properties_render_photo(int64_t property_id, const bson_t *photo, bool full, bson_t *out)
{
    static const char *const shown[] = {"order", "width", "height", "caption", NULL};
    static const char *const more[] = {"content_type", "bytes", "sha256", "created_at", NULL};
    bson_iter_t it;
    const char *id = properties_str(photo, "id");
    char url[PROPERTIES_MEDIA_ID_LEN + 16];
    snprintf(url, sizeof(url), "/media/%s", id);
    bson_init(out);
    BSON_APPEND_UTF8(out, "id", id);
    if (full)
        BSON_APPEND_INT64(out, "property_id", property_id);
    BSON_APPEND_UTF8(out, "url", url);
    for (const char *const *f = shown; *f != NULL; f++)
        if (bson_iter_init_find(&it, photo, *f))
            bson_append_iter(out, *f, -1, &it);
    if (full && !bson_has_field(photo, "caption"))
        BSON_APPEND_NULL(out, "caption");
    for (const char *const *f = more; full && *f != NULL; f++)
        if (bson_iter_init_find(&it, photo, *f))
            bson_append_iter(out, *f, -1, &it);
}

void
properties_render_photos(const bson_t *doc, bson_t *out)
{
    bson_iter_t it, photos;
    bson_t list, photo, shown;
    char key[16], cover[PROPERTIES_MEDIA_ID_LEN + 16] = "";
    uint32_t n = 0;
    int64_t id = properties_int(doc, "_id") ? properties_int(doc, "_id") : properties_int(doc, "id");
    BSON_APPEND_ARRAY_BEGIN(out, "photos", &list);
    if (bson_iter_init_find(&it, doc, "photos") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &photos))
        while (bson_iter_next(&photos)) {
            if (!properties_view(&photos, &photo))
                continue;
            properties_render_photo(id, &photo, false, &shown);
            if (n == 0)
                snprintf(cover, sizeof(cover), "/media/%s", properties_str(&photo, "id"));
            snprintf(key, sizeof(key), "%u", n++);
            BSON_APPEND_DOCUMENT(&list, key, &shown);
            bson_destroy(&shown);
        }
    bson_append_array_end(out, &list);
    if (n > 0)
        BSON_APPEND_UTF8(out, "cover_url", cover);
    else
        BSON_APPEND_NULL(out, "cover_url");
    BSON_APPEND_INT32(out, "photos_count", (int32_t)n);
}

bool
properties_media_param_id(svc_call_t *call, const char **mid)
{
    bson_iter_t it;
    *mid = NULL;
    if (bson_iter_init_find(&it, &call->req->params, "mid") && BSON_ITER_HOLDS_UTF8(&it))
        *mid = bson_iter_utf8(&it, NULL);
    size_t len = *mid != NULL ? strlen(*mid) : 0;
    bool ok = len == PROPERTIES_MEDIA_ID_LEN && strspn(*mid, "0123456789abcdef") == len;
    if (!ok)
        svc_fail(call, 404, "not_found", "no photo has that id");
    return ok;
}

/* The live property params.id into `property` (initialised); false when it replied. */
static bool
media_property(svc_call_t *call, int64_t *id, bson_t *property)
{
    field_errors_t errors;
    field_errors_init(&errors);
    if (!validate_id(&call->req->params, "id", &errors, id)) {
        svc_fail_fields(call, &errors);
        field_errors_destroy(&errors);
        return false;
    }
    field_errors_destroy(&errors);
    return properties_load_live(call, *id, property);
}

/* properties.media.list {params: {id}}: the property's photos in order. */
void
properties_media_list(svc_call_t *call)
{
    int64_t id;
    bson_t property = BSON_INITIALIZER, body = BSON_INITIALIZER, items, photo, shown;
    bson_iter_t it, photos;
    uint32_t n = 0;
    if (media_property(call, &id, &property)) {
        BSON_APPEND_ARRAY_BEGIN(&body, "items", &items);
        if (bson_iter_init_find(&it, &property, "photos") && bson_iter_recurse(&it, &photos))
            while (bson_iter_next(&photos))
                if (properties_view(&photos, &photo)) {
                    char key[16];
                    snprintf(key, sizeof(key), "%u", n++);
                    properties_render_photo(id, &photo, true, &shown);
                    BSON_APPEND_DOCUMENT(&items, key, &shown);
                    bson_destroy(&shown);
                }
        bson_append_array_end(&body, &items);
        BSON_APPEND_INT64(&body, "total", n);
        svc_reply(call, 200, &body);
    }
    bson_destroy(&body);
    bson_destroy(&property);
}

/* properties.media.get {params: {id, mid}}: one photo of the property. */
void
properties_media_get(svc_call_t *call)
{
    int64_t id;
    const char *mid;
    bson_t property = BSON_INITIALIZER, photo;
    if (media_property(call, &id, &property) && properties_media_param_id(call, &mid)) {
        if (properties_photo_find(&property, mid, &photo))
            properties_media_reply_photo(call, 200, id, &property, mid);
        else
            svc_fail(call, 404, "not_found", "property %lld has no photo %s", (long long)id, mid);
    }
    bson_destroy(&property);
}

/* What a PATCH or DELETE of a photo changes. */
typedef struct {
    const char *mid;
    bool remove;
    int64_t order; /* 0: unchanged */
    bool set_caption;
    const char *caption; /* NULL with set_caption: removed */
} media_change_t;

/* Appends photo `src` as item `index` of `list` with `order`, and its caption as `c` says. */
static void
media_append(bson_t *list, uint32_t index, const bson_t *src, const media_change_t *c, bool target)
{
    bson_iter_t it;
    bson_t item;
    char key[16];
    snprintf(key, sizeof(key), "%u", index);
    BSON_APPEND_DOCUMENT_BEGIN(list, key, &item);
    bson_iter_init(&it, src);
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (strcmp(k, "order") == 0 || (target && c->set_caption && strcmp(k, "caption") == 0))
            continue;
        bson_append_iter(&item, k, -1, &it);
    }
    if (target && c->set_caption && c->caption != NULL)
        BSON_APPEND_UTF8(&item, "caption", c->caption);
    BSON_APPEND_INT32(&item, "order", (int32_t)index + 1);
    bson_append_document_end(list, &item);
}

/* The photos again, one moved, recaptioned or gone, numbered 1, 2, … in order. */
static bool
media_change(svc_call_t *call, const bson_t *current, bson_t *changes, void *arg)
{
    const media_change_t *c = arg;
    bson_t target, list;
    bson_iter_t it, items;
    uint32_t n = 0, at = UINT32_MAX;
    if (!properties_photo_find(current, c->mid, &target)) {
        svc_fail(call, 404, "not_found", "property %lld has no photo %s", (long long)properties_int(current, "_id"),
                 c->mid);
        return false;
    }
    uint32_t cap = (uint32_t)properties_photo_count(current);
    bson_t *photos = bson_malloc0((cap + 1) * sizeof(*photos));
    if (bson_iter_init_find(&it, current, "photos") && bson_iter_recurse(&it, &items))
        while (bson_iter_next(&items) && n < cap)
            if (properties_view(&items, &photos[n])) {
                if (strcmp(properties_str(&photos[n], "id"), c->mid) == 0)
                    at = n;
                n++;
            }
    uint32_t to = at; /* where the target goes */
    if (c->order > 0)
        to = (uint32_t)(c->order > (int64_t)n ? n : c->order) - 1;
    bson_init(changes);
    BSON_APPEND_ARRAY_BEGIN(changes, "photos", &list);
    uint32_t out = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i == at)
            continue;
        if (out == to && !c->remove)
            media_append(&list, out++, &photos[at], c, true);
        media_append(&list, out++, &photos[i], c, false);
    }
    if (out == to && !c->remove)
        media_append(&list, out++, &photos[at], c, true);
    bson_append_array_end(changes, &list);
    bson_free(photos);
    return true;
}

/* properties.media.update {params: {id, mid}, body: {order?, caption?}}. */
void
properties_media_update(svc_call_t *call)
{
    static const char *const fields[] = {"order", "caption", NULL};
    const bson_t *body = &call->req->body;
    field_errors_t errors;
    bson_iter_t it;
    media_change_t c = {0};
    bson_t after;
    field_errors_init(&errors);
    if (!properties_media_param_id(call, &c.mid))
        goto done;
    validate_known_fields(body, fields, &errors);
    if (bson_iter_init_find(&it, body, "order") && (!BSON_ITER_HOLDS_INT(&it) || !validate_as_int(&it, &c.order) ||
                                                    c.order < 1 || c.order > cfg_max_media_per_property()))
        field_errors_add(&errors, "order", "must be an integer from 1 (the cover) to %d", cfg_max_media_per_property());
    if (bson_iter_init_find(&it, body, "caption")) {
        c.set_caption = true;
        if (!BSON_ITER_HOLDS_NULL(&it))
            validate_text(&it, &errors, "caption", 0, MEDIA_CAPTION_MAX, &c.caption);
    }
    if (errors.count == 0 && c.order == 0 && !c.set_caption)
        field_errors_add(&errors, "order", "or caption is required");
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    if (properties_media_edit(call, 200, media_change, &c, &after) == 200) {
        properties_media_reply_photo(call, 200, properties_int(&after, "_id"), &after, c.mid);
        bson_destroy(&after);
    }
done:
    field_errors_destroy(&errors);
}

/* The ids of the files a removal finds. */
typedef struct {
    char ids[MEDIA_SWEEP_BATCH][PROPERTIES_MEDIA_ID_LEN + 32];
    int n;
} media_files_t;

static bool
media_collect_file(const bson_t *doc, void *arg)
{
    media_files_t *f = arg;
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it))
        bson_strncpy(f->ids[f->n++], bson_iter_utf8(&it, NULL), sizeof(f->ids[0]));
    return f->n < MEDIA_SWEEP_BATCH;
}

/* Removes the files `filter` finds (on media.files), in batches; how many. */
static int
media_remove_where(svc_call_t *call, const bson_t *filter)
{
    mongoc_collection_t *files = svc_collection(call->mongo, "properties", PROPERTIES_MEDIA_BUCKET ".files");
    bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}", "limit", BCON_INT64(MEDIA_SWEEP_BATCH));
    bson_error_t error;
    int removed = 0;
    /* Served no more from now on, whatever happens to the removal below:
     * what it leaves, the sweep finishes (properties_media_sweep). */
    bson_t *hide = BCON_NEW("$set", "{", "metadata.committed", BCON_BOOL(false), "}");
    svc_update(files, filter, hide, true, NULL);
    bson_destroy(hide);
    for (int round = 0; round < 100; round++) {
        media_files_t f = {.n = 0};
        if (!svc_find_each(files, filter, opts, media_collect_file, &f, &error) || f.n == 0)
            break;
        int before = removed;
        for (int i = 0; i < f.n; i++)
            removed += svc_file_delete(call->mongo, "properties", PROPERTIES_MEDIA_BUCKET, f.ids[i], NULL);
        if (removed == before)
            break; /* the database refuses: the sweep tries later */
    }
    bson_destroy(opts);
    svc_collection_close(files);
    return removed;
}

/* Removes photo `mid` of property `id`: its file and its sized copies (media_read.c). */
static void
media_remove_files(svc_call_t *call, int64_t id, const char *mid)
{
    bson_t *filter = BCON_NEW("metadata.property_id", BCON_INT64(id), "metadata.media_id", BCON_UTF8(mid));
    media_remove_where(call, filter);
    bson_destroy(filter);
}

void
properties_media_remove_all(svc_call_t *call, int64_t id)
{
    bson_t *filter = BCON_NEW("metadata.property_id", BCON_INT64(id));
    media_remove_where(call, filter);
    bson_destroy(filter);
}

bool
properties_media_commit_file(svc_call_t *call, const char *mid, bson_error_t *error)
{
    mongoc_collection_t *files = svc_collection(call->mongo, "properties", PROPERTIES_MEDIA_BUCKET ".files");
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(mid));
    bson_t *update = BCON_NEW("$set", "{", "metadata.committed", BCON_BOOL(true), "}");
    bool ok = svc_update(files, filter, update, false, error);
    bson_destroy(filter);
    bson_destroy(update);
    svc_collection_close(files);
    return ok;
}

/* What the sweep finds of one stale file. */
typedef struct {
    char ids[MEDIA_SWEEP_BATCH][PROPERTIES_MEDIA_ID_LEN + 32], media[MEDIA_SWEEP_BATCH][PROPERTIES_MEDIA_ID_LEN + 1];
    int64_t property[MEDIA_SWEEP_BATCH];
    int n;
} media_stale_t;

static bool
media_collect_stale(const bson_t *doc, void *arg)
{
    media_stale_t *s = arg;
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it))
        return true;
    bson_strncpy(s->ids[s->n], bson_iter_utf8(&it, NULL), sizeof(s->ids[0]));
    s->media[s->n][0] = '\0';
    if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, "metadata.media_id", &it) &&
        BSON_ITER_HOLDS_UTF8(&it))
        bson_strncpy(s->media[s->n], bson_iter_utf8(&it, NULL), sizeof(s->media[0]));
    s->property[s->n] = bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, "metadata.property_id", &it)
                            ? bson_iter_as_int64(&it)
                            : 0;
    return ++s->n < MEDIA_SWEEP_BATCH;
}

int
properties_media_sweep(svc_call_t *call)
{
    int64_t before_us = clock_realtime_us() - cfg_media_upload_timeout_s() * 1000000;
    mongoc_collection_t *pieces = svc_collection(call->mongo, "properties", "media_pieces");
    bson_t *old = BCON_NEW("at", "{", "$lt", BCON_INT64(before_us), "}");
    svc_delete(pieces, old, true, NULL);
    bson_destroy(old);
    svc_collection_close(pieces);
    /* Files not committed for longer than an upload may take: an add that
     * stopped between its file and its change of the property, or after
     * the change and before the commit (then the property lists it, and it
     * is committed now), and what a removal left. uploadDate is the
     * file's, set by the driver. */
    mongoc_collection_t *files = svc_collection(call->mongo, "properties", PROPERTIES_MEDIA_BUCKET ".files");
    bson_t *stale = BCON_NEW("metadata.committed", BCON_BOOL(false), "uploadDate", "{", "$lt",
                             BCON_DATE_TIME(before_us / 1000), "}");
    bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "metadata", BCON_INT32(1), "}", "limit",
                            BCON_INT64(MEDIA_SWEEP_BATCH));
    media_stale_t s = {.n = 0};
    bson_error_t error;
    int removed = 0;
    if (svc_find_each(files, stale, opts, media_collect_stale, &s, &error))
        for (int i = 0; i < s.n; i++) {
            svc_call_t quiet;
            bson_t property = BSON_INITIALIZER, photo;
            svc_call_quiet(call, &quiet);
            bool listed = s.property[i] > 0 && properties_load_live(&quiet, s.property[i], &property) &&
                          properties_photo_find(&property, s.media[i], &photo);
            bool failed = svc_replied_status(&quiet) >= 500;
            svc_call_quiet_end(&quiet);
            bson_destroy(&property);
            if (failed)
                continue; /* the database: next time */
            if (listed) {
                properties_media_commit_file(call, s.ids[i], &error); /* or the next sweep */
            } else {
                removed += svc_file_delete(call->mongo, "properties", PROPERTIES_MEDIA_BUCKET, s.ids[i], NULL);
            }
        }
    bson_destroy(opts);
    bson_destroy(stale);
    svc_collection_close(files);
    return removed;
}

/* properties.media.delete {params: {id, mid}}: 204; its files go too. */
void
properties_media_delete(svc_call_t *call)
{
    media_change_t c = {.remove = true};
    bson_t after;
    if (!properties_media_param_id(call, &c.mid))
        return;
    int status = properties_media_edit(call, 200, media_change, &c, &after);
    if (status == 200) {
        media_remove_files(call, properties_int(&after, "_id"), c.mid);
        bson_destroy(&after);
        svc_reply(call, 204, NULL);
    } else if (status == 404) {
        /* Perhaps a repeat of a delete that was made: the photo is gone
         * already, and its files may not be (the first delivery stopped
         * before them). Only this property's, and only for its owner. */
        field_errors_t errors;
        int64_t id;
        bson_t property = BSON_INITIALIZER;
        svc_call_t quiet;
        svc_call_quiet(call, &quiet);
        field_errors_init(&errors);
        if (validate_id(&call->req->params, "id", &errors, &id) && properties_media_owned(&quiet, id, &property))
            media_remove_files(call, id, c.mid);
        field_errors_destroy(&errors);
        svc_call_quiet_end(&quiet);
        bson_destroy(&property);
    }
}

/*
 * Places service: named places (a name unique case-insensitively, and a
 * country). The people of a place are users whose place_id points to it;
 * they live in the users service, so a list with embed=people asks it for
 * the whole page's people in one nng request (users.by_place), never one
 * request per place and never by reading its database.
 *
 * A place document is {_id, name, name_key (lowercase, unique), country,
 * created_at, updated_at, rid (the create's idempotency key)}.
 */
#include "clock.h"
#include "places.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLACES_PER_PAGE_MAX 100

static void
places_render(const bson_t *doc, bson_t *out)
{
    static const char *const fields[] = {"name", "country", "created_at", "updated_at", NULL};
    svc_render_fields(doc, fields, out);
}

static void
places_create(svc_call_t *call)
{
    static const char *const fields[] = {"name", "country", NULL};
    const envelope_request_t *req = call->req;
    field_errors_t errors;
    bson_iter_t it;
    bson_error_t error;
    const char *name = NULL, *country = NULL;
    char *key = NULL;
    bson_t doc = BSON_INITIALIZER, stored, out;

    field_errors_init(&errors);
    validate_known_fields(&req->body, fields, &errors);
    if (!bson_iter_init_find(&it, &req->body, "name"))
        field_errors_add(&errors, "name", "is required");
    else
        validate_text(&it, &errors, "name", 1, 100, &name);
    if (!bson_iter_init_find(&it, &req->body, "country"))
        field_errors_add(&errors, "country", "is required");
    else
        validate_text(&it, &errors, "country", 1, 100, &country);
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    int64_t now = clock_realtime_us();
    key = text_key(name, strlen(name));
    BSON_APPEND_UTF8(&doc, "name", name);
    BSON_APPEND_UTF8(&doc, "name_key", key);
    BSON_APPEND_UTF8(&doc, "country", country);
    BSON_APPEND_INT64(&doc, "created_at", now);
    BSON_APPEND_INT64(&doc, "updated_at", now);
    BSON_APPEND_UTF8(&doc, "rid", call->key);
    mongoc_collection_t *places = svc_collection(call->mongo, "places", "places");
    switch (svc_insert_next(places, &doc, call->key, &stored, &error)) {
    case SVC_INSERTED:
    case SVC_INSERT_REPEAT:
        places_render(&stored, &out);
        svc_reply(call, 201, &out);
        bson_destroy(&out);
        break;
    case SVC_INSERT_CONFLICT:
        svc_fail(call, 409, "place_name_taken", "a place named '%s' exists already", name);
        break;
    case SVC_INSERT_FAILED:
        svc_fail_db(call, &error);
        break;
    }
    bson_destroy(&stored);
    svc_collection_close(places);
done:
    free(key);
    field_errors_destroy(&errors);
    bson_destroy(&doc);
}

static void
places_get(svc_call_t *call)
{
    field_errors_t errors;
    int64_t id;
    bson_error_t error;
    bool found;
    bson_t doc = BSON_INITIALIZER, out;
    mongoc_collection_t *places = svc_collection(call->mongo, "places", "places");

    field_errors_init(&errors);
    if (!validate_id(&call->req->params, "id", &errors, &id)) {
        svc_fail_fields(call, &errors);
    } else {
        bson_t *filter = BCON_NEW("_id", BCON_INT64(id));
        if (!svc_find_one(places, filter, &doc, &found, &error)) {
            svc_fail_db(call, &error);
        } else if (!found) {
            svc_fail(call, 404, "not_found", "no place has id %lld", (long long)id);
        } else {
            places_render(&doc, &out);
            svc_reply(call, 200, &out);
            bson_destroy(&out);
        }
        bson_destroy(filter);
    }
    field_errors_destroy(&errors);
    bson_destroy(&doc);
    svc_collection_close(places);
}

/* The people array for place `id` in a users.by_place reply, appended to `out`. */
static void
places_append_people(bson_t *out, const bson_t *people_reply, int64_t id)
{
    bson_iter_t it, items, item, f;
    if (bson_iter_init(&it, people_reply) && bson_iter_find_descendant(&it, "body.items", &it) &&
        bson_iter_recurse(&it, &items)) {
        while (bson_iter_next(&items)) {
            if (!bson_iter_recurse(&items, &item) || !bson_iter_find(&item, "place_id") ||
                bson_iter_as_int64(&item) != id)
                continue;
            bson_iter_recurse(&items, &f);
            if (bson_iter_find(&f, "people") && BSON_ITER_HOLDS_ARRAY(&f)) {
                bson_append_iter(out, "people", -1, &f);
                return;
            }
        }
    }
    bson_t empty;
    BSON_APPEND_ARRAY_BEGIN(out, "people", &empty);
    bson_append_array_end(out, &empty);
}

/* What places_page_read collects: the page's documents and their ids. */
typedef struct {
    bson_t *docs, *ids;
    uint32_t n;
} places_page_t;

static bool
places_page_doc(const bson_t *doc, void *arg)
{
    places_page_t *p = arg;
    bson_iter_t it;
    char key[16];
    snprintf(key, sizeof(key), "%u", p->n++);
    BSON_APPEND_DOCUMENT(p->docs, key, doc);
    if (bson_iter_init_find(&it, doc, "_id"))
        BSON_APPEND_INT64(p->ids, key, bson_iter_as_int64(&it));
    return true;
}

/* The page with each place's people, asked of the users service in one
 * request for the whole page. Replies itself. */
static void
places_reply_with_people(svc_call_t *call, mongoc_collection_t *places, const bson_t *opts, int64_t page,
                         int64_t per_page, int64_t total)
{
    bson_t page_docs = BSON_INITIALIZER, people = BSON_INITIALIZER, body = BSON_INITIALIZER, items, filter;
    bson_t request = BSON_INITIALIZER, request_body, ids;
    bson_error_t error;
    bson_iter_t it;
    bson_init(&filter);
    BSON_APPEND_DOCUMENT_BEGIN(&request, "body", &request_body);
    BSON_APPEND_ARRAY_BEGIN(&request_body, "place_ids", &ids);
    places_page_t p = {.docs = &page_docs, .ids = &ids};
    bool ok = svc_find_each(places, &filter, opts, places_page_doc, &p, &error);
    bson_append_array_end(&request_body, &ids);
    bson_append_document_end(&request, &request_body);
    if (!ok) {
        svc_fail_db(call, &error);
        goto done;
    }
    if (p.n > 0) {
        bson_destroy(&people);
        int status = svc_ask(call, "users.by_place", &request, &people);
        if (status != 200) {
            if (status >= 0)
                svc_fail_asked(call, "users.by_place", status);
            goto done;
        }
    }
    BSON_APPEND_ARRAY_BEGIN(&body, "items", &items);
    bson_iter_init(&it, &page_docs);
    while (bson_iter_next(&it)) {
        bson_t place, rendered;
        uint32_t len;
        const uint8_t *data;
        bson_iter_t id;
        bson_iter_document(&it, &len, &data);
        bson_init_static(&place, data, len);
        places_render(&place, &rendered);
        bson_iter_init_find(&id, &place, "_id");
        places_append_people(&rendered, &people, bson_iter_as_int64(&id));
        BSON_APPEND_DOCUMENT(&items, bson_iter_key(&it), &rendered);
        bson_destroy(&rendered);
    }
    bson_append_array_end(&body, &items);
    BSON_APPEND_INT64(&body, "page", page);
    BSON_APPEND_INT64(&body, "per_page", per_page);
    BSON_APPEND_INT64(&body, "total", total);
    svc_reply(call, 200, &body);
done:
    bson_destroy(&filter);
    bson_destroy(&request);
    bson_destroy(&page_docs);
    bson_destroy(&people);
    bson_destroy(&body);
}

static void
places_list(svc_call_t *call)
{
    static const char *const params[] = {"page", "per_page", "embed", NULL};
    const bson_t *query = &call->req->query;
    field_errors_t errors;
    bson_iter_t it;
    bson_error_t error;
    int64_t page, per_page, total;
    bool embed = false;
    mongoc_collection_t *places = svc_collection(call->mongo, "places", "places");

    field_errors_init(&errors);
    validate_known_fields(query, params, &errors);
    validate_query_int(query, "page", 1, 1, VALIDATE_PAGE_MAX, &errors, &page);
    validate_query_int(query, "per_page", 10, 1, PLACES_PER_PAGE_MAX, &errors, &per_page);
    if (bson_iter_init_find(&it, query, "embed")) {
        embed = BSON_ITER_HOLDS_UTF8(&it) && strcmp(bson_iter_utf8(&it, NULL), "people") == 0;
        if (!embed)
            field_errors_add(&errors, "embed", "the only embedding is \"people\"");
    }
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    /* The total walks an index even without a filter; the page follows name_key's. */
    bson_t counted = BSON_INITIALIZER, filter = BSON_INITIALIZER;
    svc_filter_every_id(&counted);
    bool counted_ok = svc_count(places, &counted, NULL, &total, &error);
    bson_destroy(&counted);
    if (!counted_ok) {
        svc_fail_db(call, &error);
        goto done;
    }
    bson_t *opts = svc_page_opts("name_key", 1, page, per_page);
    if (embed) {
        places_reply_with_people(call, places, opts, page, per_page, total);
    } else {
        svc_page_t paging = {.items_key = "items", .page = page, .per_page = per_page, .total = total};
        svc_reply_page(call, places, &filter, opts, places_render, &paging);
    }
    bson_destroy(opts);
    bson_destroy(&filter);
done:
    field_errors_destroy(&errors);
    svc_collection_close(places);
}

static const svc_op_t places_ops[] = {
    {"places.create", places_create, SVC_AUTH_REQUIRED},
    {"places.get", places_get},
    {"places.list", places_list},
    {NULL, NULL},
};

const svc_service_t places_service = {.name = "places", .ops = places_ops};

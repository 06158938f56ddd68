/*
 * users.by_place: the people of some places, for the places service, which
 * joins them to its own documents over nng instead of reading this
 * database. One request answers a whole page of places.
 */
#include "users.h"

#include <stdio.h>
#include <string.h>

#define PEOPLE_PLACES_MAX 100
#define PEOPLE_PER_PLACE_MAX 100

/* The people of each asked place, in _id order, at most PEOPLE_PER_PLACE_MAX each. */
typedef struct {
    const int64_t *ids;
    size_t n;
    uint32_t *counts;
    bson_t *people;
} people_of_t;

static bool
people_add(const bson_t *doc, void *arg)
{
    people_of_t *p = arg;
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, "place_id"))
        return true;
    int64_t place = bson_iter_as_int64(&it);
    for (size_t i = 0; i < p->n; i++) {
        if (p->ids[i] != place || p->counts[i] >= PEOPLE_PER_PLACE_MAX)
            continue;
        char key[16];
        bson_t rendered;
        snprintf(key, sizeof(key), "%u", p->counts[i]++);
        users_render(doc, &rendered);
        BSON_APPEND_DOCUMENT(&p->people[i], key, &rendered);
        bson_destroy(&rendered);
    }
    return true;
}

void
users_by_place(svc_call_t *call)
{
    static const char *const fields[] = {"place_ids", NULL};
    field_errors_t errors;
    bson_iter_t it, list;
    bson_error_t error;
    int64_t ids[PEOPLE_PLACES_MAX];
    uint32_t counts[PEOPLE_PLACES_MAX] = {0};
    size_t n = 0;
    bson_t people[PEOPLE_PLACES_MAX];

    field_errors_init(&errors);
    validate_known_fields(&call->req->body, fields, &errors);
    if (!bson_iter_init_find(&it, &call->req->body, "place_ids") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &list)) {
        field_errors_add(&errors, "place_ids", "must be an array of 1 to %d place ids", PEOPLE_PLACES_MAX);
    } else {
        while (bson_iter_next(&list)) {
            if (n == PEOPLE_PLACES_MAX || !BSON_ITER_HOLDS_INT(&list) || bson_iter_as_int64(&list) <= 0) {
                field_errors_add(&errors, "place_ids", "must be an array of 1 to %d positive integer place ids",
                                 PEOPLE_PLACES_MAX);
                break;
            }
            ids[n++] = bson_iter_as_int64(&list);
        }
        if (n == 0 && errors.count == 0)
            field_errors_add(&errors, "place_ids", "must list at least one place id");
    }
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        field_errors_destroy(&errors);
        return;
    }
    field_errors_destroy(&errors);

    bson_t filter = BSON_INITIALIZER, cond, in;
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "place_id", &cond);
    BSON_APPEND_ARRAY_BEGIN(&cond, "$in", &in);
    for (size_t i = 0; i < n; i++) {
        char key[24];
        snprintf(key, sizeof(key), "%zu", i);
        BSON_APPEND_INT64(&in, key, ids[i]);
        bson_init(&people[i]);
    }
    bson_append_array_end(&cond, &in);
    bson_append_document_end(&filter, &cond);
    bson_t *opts =
        BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "limit", BCON_INT64((int64_t)n * PEOPLE_PER_PLACE_MAX));
    mongoc_collection_t *users = svc_collection(call->mongo, "users", "users");
    people_of_t p = {.ids = ids, .n = n, .counts = counts, .people = people};
    if (!svc_find_each(users, &filter, opts, people_add, &p, &error)) {
        svc_fail_db(call, &error);
    } else {
        bson_t body = BSON_INITIALIZER, items, item;
        BSON_APPEND_ARRAY_BEGIN(&body, "items", &items);
        for (size_t i = 0; i < n; i++) {
            char key[24];
            snprintf(key, sizeof(key), "%zu", i);
            BSON_APPEND_DOCUMENT_BEGIN(&items, key, &item);
            BSON_APPEND_INT64(&item, "place_id", ids[i]);
            BSON_APPEND_ARRAY(&item, "people", &people[i]);
            bson_append_document_end(&items, &item);
        }
        bson_append_array_end(&body, &items);
        svc_reply(call, 200, &body);
        bson_destroy(&body);
    }
    for (size_t i = 0; i < n; i++)
        bson_destroy(&people[i]);
    svc_collection_close(users);
    bson_destroy(opts);
    bson_destroy(&filter);
}

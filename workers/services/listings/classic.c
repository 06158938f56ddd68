/*
 * The listings side of the classic listings/users contract and of its
 * public API: shapes, defaults, ordering and messages exactly as existing
 * clients expect them. Errors are plain messages; the contract's envelopes,
 * {"result": true, ...} where it has one and {"result": false, "errors":
 * [...]}, are the ingress's to add (routes/classic.c).
 *
 * GET /public-api/listings embeds each listing's user. The users of a page
 * come from the users service in ONE request (users.list with an id list),
 * never one per listing, and never from the users database.
 */
#include "listings.h"

#include <stdio.h>
#include <string.h>

/* The filter (initialised on entry) and find options (the caller
 * destroys them) of a page of live listings, newest first. */
static bool
classic_page(svc_call_t *call, bson_t *filter, bson_t **opts)
{
    static const char *const params[] = {"page_num", "page_size", "user_id", NULL};
    const bson_t *query = &call->req->query;
    field_errors_t errors;
    bson_iter_t it;
    int64_t page_num, page_size, user_id;

    field_errors_init(&errors);
    validate_known_fields(query, params, &errors);
    validate_classic_paging(query, &errors, &page_num, &page_size);
    if (bson_iter_init_find(&it, query, "user_id")) {
        /* Any integer, as the original service takes it: one that is no
         * user's id (0, -1) lists nothing rather than failing. */
        if (!validate_as_int(&it, &user_id))
            field_errors_add(&errors, "user_id", "invalid user_id");
        else
            BSON_APPEND_INT64(filter, "user_id", user_id);
    }
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        field_errors_destroy(&errors);
        return false;
    }
    field_errors_destroy(&errors);
    svc_filter_live(filter);
    *opts = svc_page_opts("created_at", -1, page_num, page_size);
    return true;
}

void
listings_classic_list(svc_call_t *call)
{
    mongoc_collection_t *coll = svc_collection(call->mongo, "listings", "listings");
    bson_t filter = BSON_INITIALIZER, *opts = NULL;
    svc_page_t paging = {.items_key = "listings", .total = -1};
    if (classic_page(call, &filter, &opts))
        svc_reply_page(call, coll, &filter, opts, listings_render_classic, &paging);
    bson_destroy(opts);
    bson_destroy(&filter);
    svc_collection_close(coll);
}

/* Creates from {user_id, listing_type, price}: {"listing"} (the service
 * API's route adds "result": true). */
void
listings_classic_create(svc_call_t *call)
{
    field_errors_t errors;
    listings_new_t l;
    bson_error_t error;
    bson_t stored, out, body = BSON_INITIALIZER;

    field_errors_init(&errors);
    if (!listings_check_classic(&call->req->body, &errors, &l)) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    int exists = listings_user_exists(call, l.user_id);
    if (exists < 0)
        goto done;
    if (exists == 0) {
        svc_fail(call, 404, "not_found", "user not found");
        goto done;
    }
    if (!listings_insert(call, &l, &stored, &error)) {
        svc_fail_db(call, &error);
        goto done;
    }
    listings_render_classic(&stored, &out);
    BSON_APPEND_DOCUMENT(&body, "listing", &out);
    svc_reply(call, 200, &body);
    bson_destroy(&out);
    bson_destroy(&stored);
done:
    bson_destroy(&body);
    field_errors_destroy(&errors);
}

/* The user {id, name, created_at, updated_at} with `id` in a users.list
 * reply, appended under "user" (null when the user no longer exists). */
static void
public_append_user(bson_t *out, const bson_t *users_reply, int64_t id)
{
    bson_iter_t it, items;
    if (bson_iter_init(&it, users_reply) && bson_iter_find_descendant(&it, "body.items", &it) &&
        bson_iter_recurse(&it, &items)) {
        while (bson_iter_next(&items)) {
            bson_iter_t u, f;
            if (!bson_iter_recurse(&items, &u) || !bson_iter_find(&u, "id") || bson_iter_as_int64(&u) != id)
                continue;
            bson_t user;
            BSON_APPEND_DOCUMENT_BEGIN(out, "user", &user);
            BSON_APPEND_INT64(&user, "id", id);
            static const char *const fields[] = {"name", "created_at", "updated_at", NULL};
            for (const char *const *k = fields; *k != NULL; k++) {
                bson_iter_recurse(&items, &f);
                if (bson_iter_find(&f, *k))
                    bson_append_iter(&user, *k, -1, &f);
            }
            bson_append_document_end(out, &user);
            return;
        }
    }
    BSON_APPEND_NULL(out, "user");
}

/* What listings_public_list collects: the page, and its distinct user ids. */
typedef struct {
    bson_t *page;
    bson_string_t *ids;
    uint32_t n;
} public_page_t;

static bool
public_page_doc(const bson_t *doc, void *arg)
{
    public_page_t *p = arg;
    bson_iter_t it;
    char key[16];
    snprintf(key, sizeof(key), "%u", p->n++);
    BSON_APPEND_DOCUMENT(p->page, key, doc);
    if (bson_iter_init_find(&it, doc, "user_id")) {
        char id[24];
        snprintf(id, sizeof(id), "%lld", (long long)bson_iter_as_int64(&it));
        bool seen = false;
        for (char *s = p->ids->str; s && *s && !seen; s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL)
            seen = strncmp(s, id, strlen(id)) == 0 && (s[strlen(id)] == ',' || s[strlen(id)] == '\0');
        if (!seen) {
            if (p->ids->len > 0)
                bson_string_append_c(p->ids, ',');
            bson_string_append(p->ids, id);
        }
    }
    return true;
}

void
listings_public_list(svc_call_t *call)
{
    mongoc_collection_t *coll = svc_collection(call->mongo, "listings", "listings");
    bson_error_t error;
    bson_t page = BSON_INITIALIZER, body = BSON_INITIALIZER, list, users_reply = BSON_INITIALIZER;
    bson_t filter = BSON_INITIALIZER, *opts = NULL;
    bson_iter_t it;
    bson_string_t *ids = bson_string_new(NULL);
    public_page_t p = {.page = &page, .ids = ids};

    if (!classic_page(call, &filter, &opts))
        goto done;
    /* Collect the page first: its distinct user ids make one request. */
    bool failed = !svc_find_each(coll, &filter, opts, public_page_doc, &p, &error);
    if (failed) {
        svc_fail_db(call, &error);
        goto done;
    }
    if (p.n > 0) {
        bson_destroy(&users_reply);
        bson_t *request = BCON_NEW("query", "{", "id", BCON_UTF8(ids->str), "per_page", BCON_UTF8("100"), "}");
        int status = svc_ask(call, "users.list", request, &users_reply);
        bson_destroy(request);
        if (status < 0)
            goto done;
        if (status != 200) {
            svc_fail_asked(call, "users.list", status);
            goto done;
        }
    }
    BSON_APPEND_ARRAY_BEGIN(&body, "listings", &list);
    bson_iter_init(&it, &page);
    while (bson_iter_next(&it)) {
        bson_t listing, out;
        bson_iter_t f;
        uint32_t len;
        const uint8_t *data;
        bson_iter_document(&it, &len, &data);
        bson_init_static(&listing, data, len);
        BSON_APPEND_DOCUMENT_BEGIN(&list, bson_iter_key(&it), &out);
        if (bson_iter_init_find(&f, &listing, "_id"))
            BSON_APPEND_INT64(&out, "id", bson_iter_as_int64(&f));
        static const char *const fields[] = {"listing_type", "price", "created_at", "updated_at", NULL};
        for (const char *const *k = fields; *k != NULL; k++)
            if (bson_iter_init_find(&f, &listing, *k))
                bson_append_iter(&out, *k, -1, &f);
        bson_iter_init_find(&f, &listing, "user_id");
        public_append_user(&out, &users_reply, bson_iter_as_int64(&f));
        bson_append_document_end(&list, &out);
    }
    bson_append_array_end(&body, &list);
    svc_reply(call, 200, &body);
done:
    bson_destroy(opts);
    bson_destroy(&filter);
    bson_string_free(ids, true);
    bson_destroy(&page);
    bson_destroy(&body);
    bson_destroy(&users_reply);
    svc_collection_close(coll);
}

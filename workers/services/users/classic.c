/*
 * The users side of the classic listings/users contract, which existing
 * clients speak byte for byte: users are {id, name, created_at,
 * updated_at}, lists are newest first with page_num/page_size, and errors
 * are plain messages. The contract's envelopes, {"result": true, ...} and
 * {"result": false, "errors": [...]}, are the ingress's to add.
 *
 * A user made here has only a name: no username and no password, so it
 * cannot log in until one is set. It still needs a unique username_key;
 * it gets "~<request key>", which no username can be ('~' is not allowed
 * in one).
 */
#include "clock.h"
#include "users.h"

#include <stdio.h>
#include <string.h>

/* {id, name, created_at, updated_at} of a user document. */
static void
classic_render(const bson_t *doc, bson_t *out)
{
    static const char *const fields[] = {"name", "created_at", "updated_at", NULL};
    svc_render_fields(doc, fields, out);
}

/* Creates a user from {name}; replies {"user"} (the service API's route
 * adds "result": true). Idempotent per rid (unique index on rid). */
void
users_classic_create(svc_call_t *call)
{
    static const char *const fields[] = {"name", NULL};
    const envelope_request_t *req = call->req;
    field_errors_t errors;
    bson_iter_t it;
    bson_error_t error;
    const char *name = NULL;
    bson_t doc = BSON_INITIALIZER, user = BSON_INITIALIZER, body = BSON_INITIALIZER;
    mongoc_collection_t *users = svc_collection(call->mongo, "users", "users");

    field_errors_init(&errors);
    validate_known_fields(&req->body, fields, &errors);
    if (!bson_iter_init_find(&it, &req->body, "name"))
        field_errors_add(&errors, "name", "name is required");
    else if (!BSON_ITER_HOLDS_UTF8(&it))
        field_errors_add(&errors, "name", "invalid name. Must be a string");
    else {
        field_errors_t detail;
        field_errors_init(&detail);
        if (!users_check_name(&it, &detail, "name", &name))
            field_errors_add(&errors, "name", "invalid name. Must have 1 to 100 characters and no control characters");
        field_errors_destroy(&detail);
    }
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    int64_t now = clock_realtime_us();
    /* username_key is unique; "~" never starts a username, and the request
     * key makes it this user's own. */
    char *key = bson_strdup_printf("~%s", call->key);
    BSON_APPEND_UTF8(&doc, "username_key", key);
    bson_free(key);
    BSON_APPEND_UTF8(&doc, "name", name);
    BSON_APPEND_INT64(&doc, "version", 1);
    BSON_APPEND_INT64(&doc, "created_at", now);
    BSON_APPEND_INT64(&doc, "updated_at", now);
    BSON_APPEND_UTF8(&doc, "rid", call->key);
    bson_t stored;
    svc_insert_t inserted = svc_insert_next(users, &doc, call->key, &stored, &error);
    if (inserted == SVC_INSERT_FAILED || inserted == SVC_INSERT_CONFLICT) {
        if (inserted == SVC_INSERT_FAILED)
            svc_fail_db(call, &error);
        else /* only this request's own key could collide, and that is a repeat */
            svc_fail(call, 500, "internal", "a classic user's key collided");
        bson_destroy(&stored);
        goto done;
    }
    classic_render(&stored, &user);
    bson_destroy(&stored);
    BSON_APPEND_DOCUMENT(&body, "user", &user);
    svc_reply(call, 200, &body);
done:
    field_errors_destroy(&errors);
    bson_destroy(&doc);
    bson_destroy(&user);
    bson_destroy(&body);
    svc_collection_close(users);
}

void
users_classic_list(svc_call_t *call)
{
    static const char *const params[] = {"page_num", "page_size", NULL};
    field_errors_t errors;
    int64_t page_num, page_size;
    bson_t filter = BSON_INITIALIZER;
    mongoc_collection_t *users = svc_collection(call->mongo, "users", "users");

    field_errors_init(&errors);
    validate_known_fields(&call->req->query, params, &errors);
    validate_classic_paging(&call->req->query, &errors, &page_num, &page_size);
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    bson_t *opts = svc_page_opts("created_at", -1, page_num, page_size);
    svc_page_t paging = {.items_key = "users", .total = -1};
    svc_reply_page(call, users, &filter, opts, classic_render, &paging);
    bson_destroy(opts);
done:
    field_errors_destroy(&errors);
    bson_destroy(&filter);
    svc_collection_close(users);
}

void
users_classic_get(svc_call_t *call)
{
    bson_iter_t it;
    int64_t id = 0;
    bson_error_t error;
    bool found;
    bson_t doc = BSON_INITIALIZER, user = BSON_INITIALIZER, body = BSON_INITIALIZER;
    field_errors_t errors;

    field_errors_init(&errors);
    if (!bson_iter_init_find(&it, &call->req->params, "id") || !validate_as_int(&it, &id) || id <= 0) {
        field_errors_add(&errors, "id", "invalid user id");
        svc_fail_fields(call, &errors);
        goto done;
    }
    mongoc_collection_t *users = svc_collection(call->mongo, "users", "users");
    bson_t *filter = BCON_NEW("_id", BCON_INT64(id));
    if (!svc_find_one(users, filter, &doc, &found, &error)) {
        svc_fail_db(call, &error);
    } else if (!found) {
        svc_fail(call, 404, "not_found", "user not found");
    } else {
        classic_render(&doc, &user);
        BSON_APPEND_DOCUMENT(&body, "user", &user);
        svc_reply(call, 200, &body);
    }
    bson_destroy(filter);
    svc_collection_close(users);
done:
    field_errors_destroy(&errors);
    bson_destroy(&doc);
    bson_destroy(&user);
    bson_destroy(&body);
}

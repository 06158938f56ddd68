/*
 * Users service: the op table, the reads (get, me, list) and what every
 * handler shares. Account writes are in account.c, field rules in fields.c.
 */
#include "users.h"
#include "sdk/list.h"
#include "text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
users_render(const bson_t *doc, bson_t *out)
{
    static const char *const public_fields[] = {"username",   "email",    "first_name", "last_name",  "name",
                                                "birth_date", "place_id", "created_at", "updated_at", NULL};
    svc_render_fields(doc, public_fields, out);
    BSON_APPEND_INT64(out, "version", svc_version(doc));
}

int
users_claim_email(mongoc_client_t *mongo, const char *email_key, const char *rid, bson_error_t *error)
{
    mongoc_collection_t *emails = svc_collection(mongo, "users", "emails");
    bson_t *claim = BCON_NEW("_id", BCON_UTF8(email_key), "rid", BCON_UTF8(rid));
    int rv = 0;
    if (!svc_insert(emails, claim, error)) {
        rv = -1;
        if (svc_is_duplicate(error)) {
            bson_t *filter = BCON_NEW("_id", BCON_UTF8(email_key), "rid", BCON_UTF8(rid));
            int64_t mine;
            svc_count(emails, filter, NULL, &mine, error);
            rv = mine > 0 ? 0 : mine == 0 ? 409 : -1;
            bson_destroy(filter);
        }
    }
    bson_destroy(claim);
    svc_collection_close(emails);
    return rv;
}

void
users_release_email(mongoc_client_t *mongo, const char *email_key, const char *rid)
{
    mongoc_collection_t *emails = svc_collection(mongo, "users", "emails");
    bson_t *filter = rid != NULL ? BCON_NEW("_id", BCON_UTF8(email_key), "rid", BCON_UTF8(rid))
                                 : BCON_NEW("_id", BCON_UTF8(email_key));
    svc_delete(emails, filter, false, NULL);
    bson_destroy(filter);
    svc_collection_close(emails);
}

/* Replies with the user `id`, or 404. */
static void
users_reply_one(svc_call_t *call, int64_t id)
{
    bson_error_t error;
    bson_t doc = BSON_INITIALIZER, out = BSON_INITIALIZER;
    mongoc_collection_t *users = svc_collection(call->mongo, "users", "users");
    bson_t *filter = BCON_NEW("_id", BCON_INT64(id));
    bool found;
    if (!svc_find_one(users, filter, &doc, &found, &error)) {
        svc_fail_db(call, &error);
    } else if (!found) {
        svc_fail(call, 404, "not_found", "no user has id %lld", (long long)id);
    } else {
        users_render(&doc, &out);
        svc_reply(call, 200, &out);
    }
    bson_destroy(filter);
    bson_destroy(&doc);
    bson_destroy(&out);
    svc_collection_close(users);
}

static void
users_get(svc_call_t *call)
{
    field_errors_t errors;
    int64_t id;
    field_errors_init(&errors);
    if (validate_id(&call->req->params, "id", &errors, &id))
        users_reply_one(call, id);
    else
        svc_fail_fields(call, &errors);
    field_errors_destroy(&errors);
}

static void
users_me(svc_call_t *call)
{
    users_reply_one(call, call->req->auth_sub);
}

/* Appends `term` to `out` with every ASCII punctuation escaped, so that a
 * search for ".*[(" matches those characters literally. */
static void
users_regex_literal(const char *term, bson_string_t *out)
{
    for (const char *c = term; *c; c++) {
        if ((unsigned char)*c < 0x80 && strchr("\\^$.|?*+()[]{}/-", *c) != NULL)
            bson_string_append_c(out, '\\');
        bson_string_append_c(out, *c);
    }
}

/* Parses "3,5,8" into an $in list of at most USERS_ID_FILTER_MAX ids. */
static bool
users_parse_ids(const char *s, bson_t *in, field_errors_t *e)
{
    uint32_t n = 0;
    while (*s) {
        char *end;
        errno = 0;
        long long id = strtoll(s, &end, 10);
        if (end == s || errno != 0 || id <= 0 || (*end != ',' && *end != '\0') || (*end == ',' && end[1] == '\0')) {
            field_errors_add(e, "id", "must be a positive integer id or a comma-separated list of them");
            return false;
        }
        if (n == USERS_ID_FILTER_MAX) {
            field_errors_add(e, "id", "may list at most %d ids", USERS_ID_FILTER_MAX);
            return false;
        }
        char key[16];
        snprintf(key, sizeof(key), "%u", n++);
        BSON_APPEND_INT64(in, key, id);
        s = *end == ',' ? end + 1 : end;
    }
    if (n == 0) {
        field_errors_add(e, "id", "must list at least one id");
        return false;
    }
    return true;
}

static void
users_list(svc_call_t *call)
{
    static const char *const list_params[] = {"page", "per_page", "order_by", "username", "id", NULL};
    static const validate_order_t orders[] = {
        {"id", "_id"}, {"username", "username_key"}, {"created_at", "created_at"}, {"last_name", "last_name"}};
    const bson_t *query = &call->req->query;
    field_errors_t errors;
    int64_t page, per_page;
    bson_iter_t it;
    bson_t filter = BSON_INITIALIZER;
    mongoc_collection_t *users = svc_collection(call->mongo, "users", "users");
    const char *sort_field;
    int sort_dir;

    field_errors_init(&errors);
    validate_known_fields(query, list_params, &errors);
    validate_query_int(query, "page", 1, 1, VALIDATE_PAGE_MAX, &errors, &page);
    validate_query_int(query, "per_page", USERS_PER_PAGE_DEFAULT, 1, USERS_PER_PAGE_MAX, &errors, &per_page);
    validate_order_by(query, orders, sizeof(orders) / sizeof(orders[0]), &errors, &sort_field, &sort_dir);
    if (bson_iter_init_find(&it, query, "username")) {
        const char *term;
        if (validate_text(&it, &errors, "username", 1, 64, &term)) {
            char *folded = text_key(term, strlen(term)); /* keys are folded the same way */
            bson_string_t *re = bson_string_new(NULL);
            users_regex_literal(folded, re);
            free(folded);
            bson_t cond;
            BSON_APPEND_DOCUMENT_BEGIN(&filter, "username_key", &cond);
            BSON_APPEND_UTF8(&cond, "$regex", re->str);
            bson_append_document_end(&filter, &cond);
            bson_string_free(re, true);
        }
    }
    if (bson_iter_init_find(&it, query, "id")) {
        bson_t cond, in;
        const char *ids = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &cond);
        BSON_APPEND_ARRAY_BEGIN(&cond, "$in", &in);
        users_parse_ids(ids, &in, &errors);
        bson_append_array_end(&cond, &in);
        bson_append_document_end(&filter, &cond);
    }
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    /* The total walks an index even without a filter; the page follows order_by's own index. */
    bson_t counted;
    bson_copy_to(&filter, &counted);
    if (!bson_has_field(query, "id"))
        svc_filter_every_id(&counted);
    svc_list_page(call, users, &counted, &filter, sort_field, sort_dir, page, per_page, users_render);
    bson_destroy(&counted);
done:
    field_errors_destroy(&errors);
    bson_destroy(&filter);
    svc_collection_close(users);
}

static const svc_op_t users_ops[] = {
    {"users.create", users_create},
    {"users.login", users_login},
    {"users.logout", users_logout, SVC_AUTH_REQUIRED},
    {"users.logout_all", users_logout_all, SVC_AUTH_REQUIRED},
    {"users.get", users_get},
    {"users.me", users_me, SVC_AUTH_REQUIRED},
    {"users.update", users_update, SVC_AUTH_REQUIRED},
    {"users.list", users_list},
    {"users.by_place", users_by_place},
    {"users.classic_create", users_classic_create},
    {"users.public_create", users_classic_create},
    {"users.classic_list", users_classic_list},
    {"users.classic_get", users_classic_get},
    {NULL, NULL},
};

const svc_service_t users_service = {.name = "users", .ops = users_ops};

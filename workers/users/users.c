/*
 * Users service handlers: register, read one, list.
 *
 * A user document is {_id, username, username_key (lowercase, unique),
 * email?, password_hash, first_name, last_name, name, birth_date,
 * created_at, updated_at, rid}. Only users_render decides what leaves the
 * service, and it never includes the password hash, the key or the rid.
 *
 * Creates are idempotent per request id: nng may deliver a request twice
 * (a worker died before replying), and the second delivery must find the
 * user the first one made instead of failing with "username taken".
 */
#include "users.h"
#include "log.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

static const char *const users_create_fields[] = {"username", "password",   "first_name", "last_name",
                                                  "birth_date", "email", NULL};

static bool
users_valid_username(const char *s)
{
    if (!isalnum((unsigned char)s[0]))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
            return false;
    return true;
}

static bool
users_valid_email(const char *s)
{
    const char *at = strchr(s, '@');
    if (at == NULL || at == s || strchr(at + 1, '@') != NULL)
        return false;
    const char *dot = strrchr(at, '.');
    if (dot == NULL || dot == at + 1 || dot[1] == '\0')
        return false;
    for (; *s; s++)
        if (isspace((unsigned char)*s))
            return false;
    return true;
}

bool
users_validate_new(const bson_t *body, ferr_t *e, users_new_t *out)
{
    bson_iter_t it;
    uint32_t before = e->count;

    memset(out, 0, sizeof(*out));
    v_known_fields(body, users_create_fields, e);

    if (!bson_iter_init_find(&it, body, "username"))
        ferr_add(e, "username", "is required");
    else if (v_text(&it, e, "username", 3, 32, &out->username) && !users_valid_username(out->username))
        ferr_add(e, "username", "may hold only letters, digits, '_', '.' and '-', and must start with a letter or digit");

    if (!bson_iter_init_find(&it, body, "password"))
        ferr_add(e, "password", "is required");
    else if (!BSON_ITER_HOLDS_UTF8(&it))
        ferr_add(e, "password", "must be a string");
    else {
        uint32_t len;
        const char *p = bson_iter_utf8(&it, &len);
        size_t chars = 0;
        for (uint32_t i = 0; i < len; i++)
            chars += ((unsigned char)p[i] & 0xC0) != 0x80;
        if (chars < 8)
            ferr_add(e, "password", "must have at least 8 characters");
        else if (len > 128)
            ferr_add(e, "password", "must have at most 128 bytes");
        else if (memchr(p, '\0', len) != NULL)
            ferr_add(e, "password", "must not contain NUL characters");
        else
            out->password = p;
    }

    if (!bson_iter_init_find(&it, body, "first_name"))
        ferr_add(e, "first_name", "is required");
    else
        v_text(&it, e, "first_name", 1, 100, &out->first_name);

    if (!bson_iter_init_find(&it, body, "last_name"))
        ferr_add(e, "last_name", "is required");
    else
        v_text(&it, e, "last_name", 1, 100, &out->last_name);

    if (!bson_iter_init_find(&it, body, "birth_date")) {
        ferr_add(e, "birth_date", "is required");
    } else if (v_text(&it, e, "birth_date", 10, 10, &out->birth_date)) {
        char today[11];
        v_today(today);
        if (!v_is_date(out->birth_date))
            ferr_add(e, "birth_date", "must be a real date written YYYY-MM-DD");
        else if (strcmp(out->birth_date, "1900-01-01") < 0 || strcmp(out->birth_date, today) > 0)
            ferr_add(e, "birth_date", "must be between 1900-01-01 and today");
    }

    if (bson_iter_init_find(&it, body, "email") && v_text(&it, e, "email", 3, 254, &out->email) &&
        !users_valid_email(out->email))
        ferr_add(e, "email", "must be an email address such as name@example.org");

    return e->count == before;
}

/* The public shape of a user. */
static void
users_render(const bson_t *doc, bson_t *out)
{
    static const char *const public_fields[] = {"username",   "email",      "first_name", "last_name", "name",
                                                "birth_date", "place_id",   "created_at", "updated_at", NULL};
    bson_iter_t it;
    bson_init(out);
    if (bson_iter_init_find(&it, doc, "_id"))
        BSON_APPEND_INT64(out, "id", bson_iter_as_int64(&it));
    for (const char *const *f = public_fields; *f != NULL; f++)
        if (bson_iter_init_find(&it, doc, *f))
            bson_append_iter(out, *f, -1, &it);
}

static void
users_lower(const char *in, char *out, size_t size)
{
    size_t i = 0;
    for (; in[i] && i + 1 < size; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

/* Finds one user by `key` = `value`; *found tells whether it exists. */
static bool
users_find_one(mongoc_collection_t *users, const bson_t *filter, bson_t *out, bool *found, bson_error_t *error)
{
    bson_t opts = BSON_INITIALIZER;
    const bson_t *doc;
    BSON_APPEND_INT64(&opts, "limit", 1);
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(users, filter, &opts, NULL);
    *found = mongoc_cursor_next(cursor, &doc);
    if (*found)
        bson_copy_to(doc, out);
    bool ok = !mongoc_cursor_error(cursor, error);
    mongoc_cursor_destroy(cursor);
    bson_destroy(&opts);
    return ok;
}

/*
 * Claims an email address for a new account: a document keyed by the
 * lowercased address. Returns 0 when claimed (or already claimed by this
 * same request), 409 when another account holds it, -1 on a database error.
 */
static int
users_claim_email(mongoc_client_t *mongo, const char *email_key, const char *rid, bson_error_t *error)
{
    mongoc_collection_t *emails = svc_collection(mongo, "users", "emails");
    bson_t *claim = BCON_NEW("_id", BCON_UTF8(email_key), "rid", BCON_UTF8(rid));
    int rv = 0;
    if (!mongoc_collection_insert_one(emails, claim, NULL, NULL, error)) {
        rv = -1;
        if (svc_is_duplicate(error)) {
            bson_t *filter = BCON_NEW("_id", BCON_UTF8(email_key), "rid", BCON_UTF8(rid));
            int64_t mine = mongoc_collection_count_documents(emails, filter, NULL, NULL, NULL, error);
            rv = mine > 0 ? 0 : mine == 0 ? 409 : -1;
            bson_destroy(filter);
        }
    }
    bson_destroy(claim);
    mongoc_collection_destroy(emails);
    return rv;
}

static void
users_release_email(mongoc_client_t *mongo, const char *email_key, const char *rid)
{
    mongoc_collection_t *emails = svc_collection(mongo, "users", "emails");
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(email_key), "rid", BCON_UTF8(rid));
    mongoc_collection_delete_one(emails, filter, NULL, NULL, NULL);
    bson_destroy(filter);
    mongoc_collection_destroy(emails);
}

static void
users_create(svc_call_t *call)
{
    const env_request_t *req = call->req;
    ferr_t errors;
    users_new_t u;
    bson_error_t error;
    char hash[crypto_pwhash_STRBYTES], username_key[64], email_key[256] = "";
    bson_t doc = BSON_INITIALIZER, existing = BSON_INITIALIZER, out = BSON_INITIALIZER;
    mongoc_collection_t *users = svc_collection(call->mongo, "users", "users");
    bool email_claimed = false;
    int64_t id;

    ferr_init(&errors);
    if (!req->has_body) {
        ferr_add(&errors, "body", "a JSON object is required");
        svc_fail_fields(call, &errors);
        goto done;
    }
    if (!users_validate_new(&req->body, &errors, &u)) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    users_lower(u.username, username_key, sizeof(username_key));
    if (u.email != NULL) {
        users_lower(u.email, email_key, sizeof(email_key));
        int claim = users_claim_email(call->mongo, email_key, req->rid, &error);
        if (claim == 409) {
            svc_fail(call, 409, "email_taken", "the email address is already registered");
            goto done;
        }
        if (claim < 0) {
            svc_fail_db(call, &error);
            goto done;
        }
        email_claimed = true;
    }
    if (crypto_pwhash_str(hash, u.password, strlen(u.password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        svc_fail(call, 503, "overloaded", "not enough memory to hash the password; retry later");
        goto release;
    }
    if (!svc_next_id(call->mongo, "users", &id, &error)) {
        svc_fail_db(call, &error);
        goto release;
    }
    int64_t now = svc_now_us();
    char *name = bson_strdup_printf("%s %s", u.first_name, u.last_name);
    BSON_APPEND_INT64(&doc, "_id", id);
    BSON_APPEND_UTF8(&doc, "username", u.username);
    BSON_APPEND_UTF8(&doc, "username_key", username_key);
    if (u.email != NULL)
        BSON_APPEND_UTF8(&doc, "email", u.email);
    BSON_APPEND_UTF8(&doc, "password_hash", hash);
    BSON_APPEND_UTF8(&doc, "first_name", u.first_name);
    BSON_APPEND_UTF8(&doc, "last_name", u.last_name);
    BSON_APPEND_UTF8(&doc, "name", name);
    BSON_APPEND_UTF8(&doc, "birth_date", u.birth_date);
    BSON_APPEND_INT64(&doc, "created_at", now);
    BSON_APPEND_INT64(&doc, "updated_at", now);
    BSON_APPEND_UTF8(&doc, "rid", req->rid);
    bson_free(name);

    if (mongoc_collection_insert_one(users, &doc, NULL, NULL, &error)) {
        users_render(&doc, &out);
        svc_reply(call, 201, &out);
        goto done;
    }
    if (!svc_is_duplicate(&error)) {
        svc_fail_db(call, &error);
        goto release;
    }
    /* The username is taken: by an earlier delivery of this same request, or by someone else. */
    bson_t *filter = BCON_NEW("username_key", BCON_UTF8(username_key));
    bool found = false;
    bool ok = users_find_one(users, filter, &existing, &found, &error);
    bson_destroy(filter);
    bson_iter_t it;
    if (ok && found && bson_iter_init_find(&it, &existing, "rid") && BSON_ITER_HOLDS_UTF8(&it) &&
        strcmp(bson_iter_utf8(&it, NULL), req->rid) == 0) {
        users_render(&existing, &out);
        svc_reply(call, 201, &out);
        goto done;
    }
    if (!ok)
        svc_fail_db(call, &error);
    else
        svc_fail(call, 409, "username_taken", "the username '%s' is already taken", u.username);
release:
    if (email_claimed)
        users_release_email(call->mongo, email_key, req->rid);
done:
    ferr_destroy(&errors);
    bson_destroy(&doc);
    bson_destroy(&existing);
    bson_destroy(&out);
    mongoc_collection_destroy(users);
}

static void
users_get(svc_call_t *call)
{
    ferr_t errors;
    int64_t id;
    bson_error_t error;
    bson_t doc = BSON_INITIALIZER, out = BSON_INITIALIZER;
    mongoc_collection_t *users = svc_collection(call->mongo, "users", "users");

    ferr_init(&errors);
    if (!v_id(&call->req->params, "id", &errors, &id)) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    bson_t *filter = BCON_NEW("_id", BCON_INT64(id));
    bool found;
    bool ok = users_find_one(users, filter, &doc, &found, &error);
    bson_destroy(filter);
    if (!ok) {
        svc_fail_db(call, &error);
    } else if (!found) {
        svc_fail(call, 404, "not_found", "no user has id %lld", (long long)id);
    } else {
        users_render(&doc, &out);
        svc_reply(call, 200, &out);
    }
done:
    ferr_destroy(&errors);
    bson_destroy(&doc);
    bson_destroy(&out);
    mongoc_collection_destroy(users);
}

static void
users_list(svc_call_t *call)
{
    static const char *const list_params[] = {"page", "per_page", NULL};
    ferr_t errors;
    int64_t page, per_page, total;
    bson_error_t error;
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, body = BSON_INITIALIZER, items;
    mongoc_collection_t *users = svc_collection(call->mongo, "users", "users");
    mongoc_cursor_t *cursor = NULL;
    const bson_t *doc;

    ferr_init(&errors);
    v_known_fields(&call->req->query, list_params, &errors);
    v_query_int(&call->req->query, "page", 1, 1, 1000000, &errors, &page);
    v_query_int(&call->req->query, "per_page", USERS_PER_PAGE_DEFAULT, 1, USERS_PER_PAGE_MAX, &errors, &per_page);
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    total = mongoc_collection_count_documents(users, &filter, NULL, NULL, NULL, &error);
    if (total < 0) {
        svc_fail_db(call, &error);
        goto done;
    }
    bson_t sort;
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "_id", 1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_INT64(&opts, "skip", (page - 1) * per_page);
    BSON_APPEND_INT64(&opts, "limit", per_page);
    cursor = mongoc_collection_find_with_opts(users, &filter, &opts, NULL);

    BSON_APPEND_ARRAY_BEGIN(&body, "items", &items);
    uint32_t i = 0;
    while (mongoc_cursor_next(cursor, &doc)) {
        char key[16];
        bson_t rendered;
        snprintf(key, sizeof(key), "%u", i++);
        users_render(doc, &rendered);
        BSON_APPEND_DOCUMENT(&items, key, &rendered);
        bson_destroy(&rendered);
    }
    bson_append_array_end(&body, &items);
    if (mongoc_cursor_error(cursor, &error)) {
        svc_fail_db(call, &error);
        goto done;
    }
    BSON_APPEND_INT64(&body, "page", page);
    BSON_APPEND_INT64(&body, "per_page", per_page);
    BSON_APPEND_INT64(&body, "total", total);
    svc_reply(call, 200, &body);
done:
    if (cursor != NULL)
        mongoc_cursor_destroy(cursor);
    ferr_destroy(&errors);
    bson_destroy(&filter);
    bson_destroy(&opts);
    bson_destroy(&body);
    mongoc_collection_destroy(users);
}

static bool
users_prepare(mongoc_client_t *mongo, bson_error_t *error)
{
    bson_t *by_username = BCON_NEW("username_key", BCON_INT32(1));
    bson_t *by_created = BCON_NEW("created_at", BCON_INT32(-1));
    bool ok = svc_ensure_index(mongo, "users", "users", by_username, "username_key_unique", true, error) &&
              svc_ensure_index(mongo, "users", "users", by_created, "created_at", false, error);
    bson_destroy(by_username);
    bson_destroy(by_created);
    return ok;
}

static const svc_op_t users_ops[] = {
    {"users.create", users_create},
    {"users.get", users_get},
    {"users.list", users_list},
    {NULL, NULL},
};

const svc_service_t users_service = {.name = "users", .ops = users_ops, .prepare = users_prepare};

/* Field rules of the users service: pure functions, shared by register and
 * profile edits, unit-tested one value at a time. */
#include "users.h"

#include <ctype.h>
#include <string.h>

static const char *const users_create_fields[] = {"username",   "password", "first_name", "last_name",
                                                  "birth_date", "email",    "place_id",   NULL};

bool
users_check_username(const bson_iter_t *it, field_errors_t *e, const char **out)
{
    const char *s;
    if (!validate_text(it, e, "username", 3, 32, &s))
        return false;
    bool ok = isalnum((unsigned char)s[0]);
    for (const char *c = s; ok && *c; c++)
        ok = isalnum((unsigned char)*c) || *c == '_' || *c == '.' || *c == '-';
    if (!ok) {
        field_errors_add(e, "username",
                         "may hold only letters, digits, '_', '.' and '-', and must start with a letter or digit");
        return false;
    }
    *out = s;
    return true;
}

/* A password as sent, `min` to 128 characters (code points, never
 * normalised: what the user types is what is hashed), without NUL. */
static bool
users_check_secret(const bson_iter_t *it, field_errors_t *e, const char *field, size_t min, const char **out)
{
    uint32_t len;
    size_t chars = 0;
    if (!BSON_ITER_HOLDS_UTF8(it)) {
        field_errors_add(e, field, "must be a string");
        return false;
    }
    const char *p = bson_iter_utf8(it, &len);
    for (uint32_t i = 0; i < len; i++)
        chars += ((unsigned char)p[i] & 0xC0) != 0x80;
    if (chars < min)
        field_errors_add(e, field, "must have at least %zu characters", min);
    else if (chars > 128)
        field_errors_add(e, field, "must have at most 128 characters");
    else if (memchr(p, '\0', len) != NULL)
        field_errors_add(e, field, "must not contain NUL characters");
    else {
        *out = p;
        return true;
    }
    return false;
}

bool
users_check_password(const bson_iter_t *it, field_errors_t *e, const char *field, const char **out)
{
    return users_check_secret(it, e, field, 8, out);
}

bool
users_check_given_password(const bson_iter_t *it, field_errors_t *e, const char *field, const char **out)
{
    return users_check_secret(it, e, field, 1, out);
}

bool
users_check_name(const bson_iter_t *it, field_errors_t *e, const char *field, const char **out)
{
    return validate_text(it, e, field, 1, 100, out);
}

bool
users_check_birth_date(const bson_iter_t *it, field_errors_t *e, const char **out)
{
    const char *s;
    char today[11];
    if (!validate_text(it, e, "birth_date", 10, 10, &s))
        return false;
    validate_today(today);
    if (!validate_is_date(s)) {
        field_errors_add(e, "birth_date", "must be a real date written YYYY-MM-DD");
        return false;
    }
    if (strcmp(s, "1900-01-01") < 0 || strcmp(s, today) > 0) {
        field_errors_add(e, "birth_date", "must be between 1900-01-01 and today");
        return false;
    }
    *out = s;
    return true;
}

bool
users_check_email(const bson_iter_t *it, field_errors_t *e, const char **out)
{
    const char *s;
    if (!validate_text(it, e, "email", 3, 254, &s))
        return false;
    const char *at = strchr(s, '@');
    const char *dot = at != NULL ? strrchr(at, '.') : NULL;
    bool ok = at != NULL && at != s && strchr(at + 1, '@') == NULL && dot != NULL && dot != at + 1 && dot[1] != '\0';
    for (const char *c = s; ok && *c; c++)
        ok = !isspace((unsigned char)*c);
    if (!ok) {
        field_errors_add(e, "email", "must be an email address such as name@example.org");
        return false;
    }
    *out = s;
    return true;
}

bool
users_validate_new(const bson_t *body, field_errors_t *e, users_new_t *out)
{
    bson_iter_t it;
    uint32_t before = e->count;

    memset(out, 0, sizeof(*out));
    validate_known_fields(body, users_create_fields, e);
    if (!bson_iter_init_find(&it, body, "username"))
        field_errors_add(e, "username", "is required");
    else
        users_check_username(&it, e, &out->username);
    if (!bson_iter_init_find(&it, body, "password"))
        field_errors_add(e, "password", "is required");
    else
        users_check_password(&it, e, "password", &out->password);
    if (!bson_iter_init_find(&it, body, "first_name"))
        field_errors_add(e, "first_name", "is required");
    else
        users_check_name(&it, e, "first_name", &out->first_name);
    if (!bson_iter_init_find(&it, body, "last_name"))
        field_errors_add(e, "last_name", "is required");
    else
        users_check_name(&it, e, "last_name", &out->last_name);
    if (!bson_iter_init_find(&it, body, "birth_date"))
        field_errors_add(e, "birth_date", "is required");
    else
        users_check_birth_date(&it, e, &out->birth_date);
    if (bson_iter_init_find(&it, body, "email"))
        users_check_email(&it, e, &out->email);
    if (bson_iter_init_find(&it, body, "place_id") &&
        (!BSON_ITER_HOLDS_INT(&it) || (out->place_id = bson_iter_as_int64(&it)) <= 0))
        field_errors_add(e, "place_id", "must be a positive integer place id");
    return e->count == before;
}

/* Every rule of a user's fields, one bad value at a time. */
#include "roost_test.h"

#include "services/users/users.h"

#include <time.h>

#define GOOD                                                                                                           \
    "\"username\": \"ada_l\", \"password\": \"correct horse\", \"first_name\": \"Ada\", "                              \
    "\"last_name\": \"Lovelace\", \"birth_date\": \"1990-12-10\""

/* Validates GOOD with `field` replaced by `value` (raw JSON, or NULL to drop it). */
static void
expect_field_error(const char *field, const char *value, const char *expected_field)
{
    static const char *const names[] = {"username", "password", "first_name", "last_name", "birth_date", NULL};
    static const char *const goods[] = {"\"ada_l\"", "\"correct horse\"", "\"Ada\"", "\"Lovelace\"", "\"1990-12-10\""};
    char json[2048] = "{";
    size_t n = 1;
    bool placed = false;
    for (int i = 0; names[i] != NULL; i++) {
        const char *v = strcmp(names[i], field) == 0 ? (placed = true, value) : goods[i];
        if (v != NULL)
            n += (size_t)snprintf(json + n, sizeof(json) - n, "%s\"%s\": %s", n > 1 ? ", " : "", names[i], v);
    }
    if (!placed && value != NULL)
        n += (size_t)snprintf(json + n, sizeof(json) - n, ", \"%s\": %s", field, value);
    snprintf(json + n, sizeof(json) - n, "}");

    bson_t *body = roost_test_doc(json);
    field_errors_t e;
    users_new_t u;
    field_errors_init(&e);
    if (users_validate_new(body, &e, &u)) {
        print_error("accepted: %s\n", json);
        fail();
    }
    ASSERT_ERROR_FIELD(&e.list, expected_field);
    field_errors_destroy(&e);
    bson_destroy(body);
}

static void
users_valid_registration(void **state)
{
    bson_t *body = roost_test_doc("{" GOOD ", \"email\": \"ada@example.org\", \"place_id\": 3}");
    field_errors_t e;
    users_new_t u;
    field_errors_init(&e);
    assert_true(users_validate_new(body, &e, &u));
    assert_int_equal(u.place_id, 3);
    field_errors_destroy(&e);
    bson_destroy(body);

    body = roost_test_doc("{" GOOD ", \"email\": \"ada@example.org\"}");
    field_errors_init(&e);
    assert_true(users_validate_new(body, &e, &u));
    assert_string_equal(u.username, "ada_l");
    assert_string_equal(u.email, "ada@example.org");
    assert_string_equal(u.birth_date, "1990-12-10");
    field_errors_destroy(&e);
    bson_destroy(body);
}

static void
users_username_rules(void **state)
{
    expect_field_error("username", "\"ab\"", "username");
    expect_field_error("username", "\"abcdefghijklmnopqrstuvwxyz0123456\"", "username"); /* 33 */
    expect_field_error("username", "\"bad name\"", "username");
    expect_field_error("username", "\"_ada\"", "username");
    expect_field_error("username", "\"ada~1\"", "username");
    expect_field_error("username", "42", "username");
    expect_field_error("username", "{\"$ne\": null}", "username");
    expect_field_error("username", NULL, "username");
}

static void
users_password_rules(void **state)
{
    char long_password[160];
    memset(long_password, 0, sizeof(long_password));
    long_password[0] = '"';
    memset(long_password + 1, 'p', 129);
    long_password[130] = '"';
    expect_field_error("password", "\"seven77\"", "password");
    expect_field_error("password", long_password, "password");
    expect_field_error("password", "12345678", "password");
    expect_field_error("password", "[\"a\"]", "password");
    expect_field_error("password", NULL, "password");
}

static void
users_name_rules(void **state)
{
    char long_name[128];
    long_name[0] = '"';
    memset(long_name + 1, 'n', 101);
    strcpy(long_name + 102, "\"");
    expect_field_error("first_name", "\"\"", "first_name");
    expect_field_error("first_name", long_name, "first_name");
    expect_field_error("first_name", "7", "first_name");
    expect_field_error("last_name", "\"a\\u0001b\"", "last_name");
    expect_field_error("last_name", NULL, "last_name");
}

static void
users_birth_date_rules(void **state)
{
    char tomorrow[32];
    time_t t = time(NULL) + 86400 * 2;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(tomorrow, sizeof(tomorrow), "\"%Y-%m-%d\"", &tm);
    expect_field_error("birth_date", "\"1990-02-30\"", "birth_date");
    expect_field_error("birth_date", "\"1899-12-31\"", "birth_date");
    expect_field_error("birth_date", tomorrow, "birth_date");
    expect_field_error("birth_date", "19900101", "birth_date");
    expect_field_error("birth_date", "\"10/12/1990\"", "birth_date");
    expect_field_error("birth_date", NULL, "birth_date");
}

static void
users_email_and_unknown_fields(void **state)
{
    expect_field_error("email", "\"no-at\"", "email");
    expect_field_error("email", "\"a@b\"", "email");
    expect_field_error("email", "\"a b@c.de\"", "email");
    expect_field_error("email", "\"a@@b.de\"", "email");
    expect_field_error("email", "\"@b.de\"", "email");
    expect_field_error("place_id", "0", "place_id");
    expect_field_error("place_id", "\"3\"", "place_id");
    expect_field_error("is_admin", "true", "is_admin");
    expect_field_error("$where", "\"1\"", "$where");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(users_valid_registration), cmocka_unit_test(users_username_rules),
        cmocka_unit_test(users_password_rules),     cmocka_unit_test(users_name_rules),
        cmocka_unit_test(users_birth_date_rules),   cmocka_unit_test(users_email_and_unknown_fields),
    };
    return cmocka_run_group_tests_name("/users/fields", tests, NULL, NULL);
}

/* The joined resource's part of a $filter (workers/query/odata/join.c):
 * split off at the top-level and, in the joined resource's names, and
 * refused under or, not or a function when it mixes both sides. */
#include "expect.h"

static const odata_field_t join_fields[] = {
    {"ListPrice", "price", ODATA_INT, ODATA_ALL},
    {"City", "city", ODATA_STRING, ODATA_FILTER | ODATA_SELECT | ODATA_JOINED},
    {"RoomsTotal", "room_count", ODATA_INT, ODATA_FILTER | ODATA_JOINED},
};
static const odata_resource_t join_res = {join_fields, 3, "ListingKey", 10, 100, 1000};

/* $filter `text` on join_res: the local filter's JSON holds `local` and the
 * joined part is `joined` (NULL: none), or the error holds `error_words`. */
static void
expect_split(const char *text, const char *local, const char *joined, const char *error_words)
{
    bson_t *query = BCON_NEW("$filter", BCON_UTF8(text));
    field_errors_t e;
    odata_query_t q;
    field_errors_init(&e);
    bool ok = odata_query_parse(&join_res, query, NULL, &q, &e);
    char *got = bson_as_relaxed_extended_json(ok ? &q.filter : &e.list, NULL);
    if (error_words != NULL) {
        if (ok || strstr(got, error_words) == NULL) {
            print_error("%s: want an error with \"%s\", got %s\n", text, error_words, got);
            fail();
        }
    } else {
        if (!ok || (local != NULL && strstr(got, local) == NULL)) {
            print_error("%s: want a filter with %s, got %s\n", text, local, got);
            fail();
        }
        if ((joined == NULL) != (q.joined == NULL) || (joined != NULL && strcmp(joined, q.joined) != 0)) {
            print_error("%s: want joined %s, got %s\n", text, joined ? joined : "(none)",
                        q.joined ? q.joined : "(none)");
            fail();
        }
    }
    bson_free(got);
    odata_query_destroy(&q);
    field_errors_destroy(&e);
    bson_destroy(query);
}

static void
odata_joined_conditions_split_off(void **state)
{
    expect_split("ListPrice lt 5", "{ \"price\" : { \"$lt\" : 5 } }", NULL, NULL);
    expect_split("City eq 'Paris'", NULL, "city eq 'Paris'", NULL);
    expect_split("City eq 'Paris' and ListPrice lt 5 and RoomsTotal ge 2", "{ \"price\" : { \"$lt\" : 5 } }",
                 "(city eq 'Paris' and room_count ge 2)", NULL);
    expect_split("(City eq 'Paris' or City eq 'Lyon') and ListPrice lt 5", "\"price\"",
                 "(city eq 'Paris' or city eq 'Lyon')", NULL);
    expect_split("City eq 'Paris' or ListPrice lt 5", NULL, NULL, "combine such conditions with and only");
    expect_split("not (City eq 'Paris' and ListPrice lt 5)", NULL, NULL, "combine such conditions with and only");
    /* The whole is type-checked before it is split. */
    expect_split("City eq 5 and ListPrice lt 5", NULL, NULL, "City is a string");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(odata_joined_conditions_split_off),
    };
    return cmocka_run_group_tests_name("/query/odata/join", tests, NULL, NULL);
}

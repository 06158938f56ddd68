/* The ingress's pure response pieces (ingress/respond.h): request ids and Link headers. */
#include "roost_test.h"

#include "respond.h"

static void
request_ids_from_clients_are_sane(void **state)
{
    assert_true(respond_rid_acceptable("abc-DEF_1.2", 11));
    assert_false(respond_rid_acceptable("", 0));
    assert_false(respond_rid_acceptable("a b", 3));
    assert_false(respond_rid_acceptable("a\xc3\xa9", 3));
    char long_rid[ENVELOPE_RID_MAX + 2];
    memset(long_rid, 'a', sizeof(long_rid));
    assert_true(respond_rid_acceptable(long_rid, ENVELOPE_RID_MAX));
    assert_false(respond_rid_acceptable(long_rid, ENVELOPE_RID_MAX + 1));
}

static void
link_keeps_other_parameters_whole(void **state)
{
    const char *q = "city=Paris&page=2&per_page=10&type=villa";
    char *link = respond_link_value("/api/v1/properties", 18, q, strlen(q), 2, 10, 35);
    assert_string_equal(link, "</api/v1/properties?city=Paris&type=villa&page=1&per_page=10>; rel=\"first\", "
                              "</api/v1/properties?city=Paris&type=villa&page=1&per_page=10>; rel=\"prev\", "
                              "</api/v1/properties?city=Paris&type=villa&page=3&per_page=10>; rel=\"next\", "
                              "</api/v1/properties?city=Paris&type=villa&page=4&per_page=10>; rel=\"last\"");
    bson_free(link);
    /* A long query is kept whole, never cut at a buffer's end. */
    char longq[3000];
    memset(longq, 'x', sizeof(longq));
    memcpy(longq, "username=", 9);
    longq[sizeof(longq) - 1] = '\0';
    link = respond_link_value("/api/v1/users", 13, longq, strlen(longq), 1, 10, 0);
    assert_non_null(strstr(link, longq));
    bson_free(link);
    assert_null(respond_link_value("/x", 2, NULL, 0, 0, 10, 5));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_ids_from_clients_are_sane),
        cmocka_unit_test(link_keeps_other_parameters_whole),
    };
    return cmocka_run_group_tests_name("/ingress/respond", tests, NULL, NULL);
}

/* HTTP field syntax, rule by rule from the RFCs (shared/http.h). */
#include "roost_test.h"

#include "http.h"

#define S(x) (x), strlen(x)

static void
bearer_follows_rfc6750(void **state)
{
    const char *token;
    size_t len;
    assert_true(http_bearer(S("Bearer abc.def-ghi_jkl~mno+p/q=="), &token, &len));
    assert_int_equal(len, strlen("abc.def-ghi_jkl~mno+p/q=="));
    assert_true(http_bearer(S("bearer abc"), &token, &len)); /* the scheme is case-insensitive (RFC 9110 §11.1) */
    assert_true(http_bearer(S("BEARER abc"), &token, &len));
    assert_true(http_bearer(S("Bearer    abc"), &token, &len));  /* 1*SP */
    assert_true(http_bearer(S("  Bearer abc  "), &token, &len)); /* OWS around a field value */
    assert_int_equal(len, 3);
    assert_memory_equal(token, "abc", 3);

    assert_false(http_bearer(S("Bearer"), &token, &len));
    assert_false(http_bearer(S("Bearer "), &token, &len));
    assert_false(http_bearer(S("Bearer\tabc"), &token, &len)); /* a tab is not SP */
    assert_false(http_bearer(S("Bearerabc"), &token, &len));
    assert_false(http_bearer(S("Basic abc"), &token, &len));
    assert_false(http_bearer(S("Bearer a b"), &token, &len));
    assert_false(http_bearer(S("Bearer a=b"), &token, &len)); /* '=' only at the end */
    assert_false(http_bearer(S("Bearer a,b"), &token, &len));
    assert_false(http_bearer(S("Bearer \"abc\""), &token, &len));
    assert_false(http_bearer(S("Bearers abc"), &token, &len));
}

static void
if_match_compares_strongly(void **state)
{
    assert_int_equal(http_if_match(S("\"3\""), 3), HTTP_PRECONDITION_TRUE);
    assert_int_equal(http_if_match(S("\"2\""), 3), HTTP_PRECONDITION_FALSE);
    assert_int_equal(http_if_match(S("W/\"3\""), 3), HTTP_PRECONDITION_FALSE); /* weak never matches (§13.1.1) */
    assert_int_equal(http_if_match(S("*"), 3), HTTP_PRECONDITION_TRUE);
    assert_int_equal(http_if_match(S("*"), 0), HTTP_PRECONDITION_FALSE); /* no current representation */
    assert_int_equal(http_if_match(S("\"1\", \"3\""), 3), HTTP_PRECONDITION_TRUE);
    assert_int_equal(http_if_match(S("\"1\",\"3\""), 3), HTTP_PRECONDITION_TRUE);
    assert_int_equal(http_if_match(S("W/\"3\", \"4\""), 3), HTTP_PRECONDITION_FALSE);
    assert_int_equal(http_if_match(S(" , \"3\" ,"), 3), HTTP_PRECONDITION_TRUE); /* empty list elements (§5.6.1) */
    assert_int_equal(http_if_match(S("\"03\""), 3), HTTP_PRECONDITION_FALSE);    /* octet by octet */
    assert_int_equal(http_if_match(S("\"33\""), 3), HTTP_PRECONDITION_FALSE);

    assert_int_equal(http_if_match(S("3"), 3), HTTP_PRECONDITION_MALFORMED);
    assert_int_equal(http_if_match(S("\"3"), 3), HTTP_PRECONDITION_MALFORMED);
    assert_int_equal(http_if_match(S("w/\"3\""), 3), HTTP_PRECONDITION_MALFORMED); /* "W/" is case-sensitive */
    assert_int_equal(http_if_match(S("\"3\" \"4\""), 3), HTTP_PRECONDITION_MALFORMED);
    assert_int_equal(http_if_match(S("\"a b\""), 3), HTTP_PRECONDITION_MALFORMED); /* SP is no etagc */
    assert_int_equal(http_if_match(S("*, \"3\""), 3), HTTP_PRECONDITION_MALFORMED);
    assert_int_equal(http_if_match(S(""), 3), HTTP_PRECONDITION_MALFORMED);
}

static void
if_none_match_compares_weakly(void **state)
{
    assert_int_equal(http_if_none_match(S("\"3\""), 3), HTTP_PRECONDITION_FALSE); /* 304 */
    assert_int_equal(http_if_none_match(S("W/\"3\""), 3), HTTP_PRECONDITION_FALSE);
    assert_int_equal(http_if_none_match(S("\"1\", W/\"3\""), 3), HTTP_PRECONDITION_FALSE);
    assert_int_equal(http_if_none_match(S("\"2\""), 3), HTTP_PRECONDITION_TRUE); /* 200 */
    assert_int_equal(http_if_none_match(S("*"), 3), HTTP_PRECONDITION_FALSE);
    assert_int_equal(http_if_none_match(S("nonsense"), 3), HTTP_PRECONDITION_MALFORMED);
}

/* A coded body's tag ("3-gzip", "3-br") names the same version in every
 * condition; no other suffix does. */
static void
coded_tags_name_their_version(void **state)
{
    assert_int_equal(http_if_match(S("\"3-gzip\""), 3), HTTP_PRECONDITION_TRUE);
    assert_int_equal(http_if_match(S("\"3-br\""), 3), HTTP_PRECONDITION_TRUE);
    assert_int_equal(http_if_match(S("W/\"3-br\""), 3), HTTP_PRECONDITION_FALSE);
    assert_int_equal(http_if_match(S("\"2-gzip\""), 3), HTTP_PRECONDITION_FALSE);
    assert_int_equal(http_if_match(S("\"3-deflate\""), 3), HTTP_PRECONDITION_FALSE);
    assert_int_equal(http_if_match(S("\"3-\""), 3), HTTP_PRECONDITION_FALSE);
    assert_int_equal(http_if_match(S("\"-gzip\""), 3), HTTP_PRECONDITION_FALSE);
    assert_int_equal(http_if_match(S("\"3-gzip-gzip\""), 3), HTTP_PRECONDITION_FALSE);
    assert_int_equal(http_if_none_match(S("W/\"3-gzip\""), 3), HTTP_PRECONDITION_FALSE); /* 304 */
    assert_int_equal(http_if_none_match(S("\"4-br\""), 3), HTTP_PRECONDITION_TRUE);

    int64_t versions[4];
    size_t n;
    bool any;
    assert_true(http_if_match_versions(S("\"3-gzip\", \"5\", \"7-br\", W/\"9\""), versions, 4, &n, &any));
    assert_int_equal(n, 3);
    assert_int_equal(versions[0], 3);
    assert_int_equal(versions[2], 7);

    const char *tag;
    size_t len;
    assert_true(http_if_none_match_tag(S("\"2\", W/\"3-br\", \"3\""), 3, &tag, &len));
    assert_int_equal(len, 6);
    assert_memory_equal(tag, "\"3-br\"", 6);
    assert_false(http_if_none_match_tag(S("\"2\""), 3, &tag, &len));
    assert_false(http_if_none_match_tag(S("nonsense"), 3, &tag, &len));
}

static void
accept_encoding_weighs_qvalues(void **state)
{
    assert_int_equal(http_accept_encoding(S("gzip, br")), HTTP_ENCODING_BR);
    assert_int_equal(http_accept_encoding(S("gzip")), HTTP_ENCODING_GZIP);
    assert_int_equal(http_accept_encoding(S("br;q=0.5, gzip;q=1.0")), HTTP_ENCODING_GZIP);
    assert_int_equal(http_accept_encoding(S("br;q=0, gzip;q=0")), HTTP_ENCODING_IDENTITY);
    assert_int_equal(http_accept_encoding(S("*")), HTTP_ENCODING_BR);
    assert_int_equal(http_accept_encoding(S("*;q=0.3, br;q=0")), HTTP_ENCODING_GZIP);
    assert_int_equal(http_accept_encoding(S("identity")), HTTP_ENCODING_IDENTITY);
    assert_int_equal(http_accept_encoding(S("deflate")), HTTP_ENCODING_IDENTITY);
    assert_int_equal(http_accept_encoding(S("GZIP")), HTTP_ENCODING_GZIP);
    assert_int_equal(http_accept_encoding(S("x-gzip")), HTTP_ENCODING_GZIP);
    assert_int_equal(http_accept_encoding(S("br;q=2")), HTTP_ENCODING_IDENTITY); /* not a qvalue */
    assert_int_equal(http_accept_encoding(S("")), HTTP_ENCODING_IDENTITY);
}

static void
media_types_match_by_type_and_subtype(void **state)
{
    static const char *const json[] = {"application/json", "application/merge-patch+json", NULL};
    assert_true(http_media_type_is(S("application/json"), json));
    assert_true(http_media_type_is(S("Application/JSON; charset=utf-8"), json));
    assert_true(http_media_type_is(S("application/json ;charset=utf-8"), json));
    assert_true(http_media_type_is(S(" application/merge-patch+json"), json));
    assert_false(http_media_type_is(S("application/jsonx"), json));
    assert_false(http_media_type_is(S("text/json"), json));
    assert_false(http_media_type_is(S(""), json));
}

static void
range_reads_one_byte_range(void **state)
{
    uint64_t a = 0, b = 0;
    assert_int_equal(http_range(S("bytes=0-9"), 100, &a, &b), HTTP_RANGE_OK);
    assert_true(a == 0 && b == 9);
    assert_int_equal(http_range(S("bytes=90-"), 100, &a, &b), HTTP_RANGE_OK);
    assert_true(a == 90 && b == 99);
    assert_int_equal(http_range(S("bytes=-10"), 100, &a, &b), HTTP_RANGE_OK); /* the last ten */
    assert_true(a == 90 && b == 99);
    assert_int_equal(http_range(S("bytes=-500"), 100, &a, &b), HTTP_RANGE_OK); /* more than there is: all */
    assert_true(a == 0 && b == 99);
    assert_int_equal(http_range(S("bytes=50-500"), 100, &a, &b), HTTP_RANGE_OK); /* the end is cut to the size */
    assert_true(a == 50 && b == 99);
    assert_int_equal(http_range(S("Bytes=1-1"), 100, &a, &b), HTTP_RANGE_OK);
    assert_true(a == 1 && b == 1);

    assert_int_equal(http_range(S("bytes=100-"), 100, &a, &b), HTTP_RANGE_UNSATISFIABLE);
    assert_int_equal(http_range(S("bytes=5-2"), 100, &a, &b), HTTP_RANGE_UNSATISFIABLE);
    assert_int_equal(http_range(S("bytes=-0"), 100, &a, &b), HTTP_RANGE_UNSATISFIABLE);

    assert_int_equal(http_range(S("bytes=0-1,5-6"), 100, &a, &b), HTTP_RANGE_NONE); /* several: the whole */
    assert_int_equal(http_range(S("items=0-1"), 100, &a, &b), HTTP_RANGE_NONE);
    assert_int_equal(http_range(S("bytes=a-b"), 100, &a, &b), HTTP_RANGE_NONE);
    assert_int_equal(http_range(S("bytes=-"), 100, &a, &b), HTTP_RANGE_NONE);
    assert_int_equal(http_range(S("bytes="), 100, &a, &b), HTTP_RANGE_NONE);
    assert_int_equal(http_range(S("bytes=99999999999999999999-"), 100, &a, &b), HTTP_RANGE_NONE);
}

static void
none_match_lists_opaque_tags(void **state)
{
    assert_true(http_none_match_lists(S("\"ab12\""), "\"ab12\""));
    assert_true(http_none_match_lists(S("W/\"ab12\""), "\"ab12\"")); /* weak comparison (§13.1.2) */
    assert_true(http_none_match_lists(S("\"x\", \"ab12\""), "\"ab12\""));
    assert_true(http_none_match_lists(S("*"), "\"ab12\""));
    assert_false(http_none_match_lists(S("\"ab1\""), "\"ab12\""));
    assert_false(http_none_match_lists(S("ab12"), "\"ab12\""));
    assert_false(http_none_match_lists(S("\"ab12"), "\"ab12\""));
    assert_false(http_none_match_lists(S(""), "\"ab12\""));
}

static void
accept_names_a_type(void **state)
{
    assert_true(http_accepts_type(S("image/avif,image/webp,*/*"), "image/webp"));
    assert_true(http_accepts_type(S("image/webp;q=0.8"), "image/webp"));
    assert_true(http_accepts_type(S("IMAGE/WEBP"), "image/webp"));
    assert_false(http_accepts_type(S("image/webp;q=0"), "image/webp"));
    assert_false(http_accepts_type(S("image/*,*/*;q=0.8"), "image/webp")); /* only by its own name */
    assert_false(http_accepts_type(S("image/webpx"), "image/webp"));
    assert_false(http_accepts_type(S(""), "image/webp"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(media_types_match_by_type_and_subtype),
        cmocka_unit_test(bearer_follows_rfc6750),
        cmocka_unit_test(if_match_compares_strongly),
        cmocka_unit_test(if_none_match_compares_weakly),
        cmocka_unit_test(coded_tags_name_their_version),
        cmocka_unit_test(accept_encoding_weighs_qvalues),
        cmocka_unit_test(range_reads_one_byte_range),
        cmocka_unit_test(none_match_lists_opaque_tags),
        cmocka_unit_test(accept_names_a_type),
    };
    return cmocka_run_group_tests_name("/shared/http", tests, NULL, NULL);
}

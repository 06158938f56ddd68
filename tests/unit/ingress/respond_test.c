/* The ingress's response shapes, CORS decisions and content coding (ingress/respond.h, cors.h, encode.h). */
#include "roost_test.h"

#include "cors.h"
#include "encode.h"
#include "problem.h"
#include "respond.h"

#include <stdlib.h>
#include <zlib.h>

#define S_(s) (s), sizeof(s) - 1

static void
problem_body_has_every_member(void **state)
{
    bson_t *fields = roost_test_doc("{\"0\": {\"field\": \"name\", \"message\": \"is required\"}}");
    size_t len;
    char *body = problem_body(400, "validation_failed", "the request has invalid fields", fields, "r1", &len);
    assert_string_equal(body, "{\"type\":\"urn:roost:problem:validation_failed\",\"title\":\"Bad Request\","
                              "\"status\":400,\"detail\":\"the request has invalid fields\","
                              "\"code\":\"validation_failed\",\"errors\":[{\"field\":\"name\","
                              "\"message\":\"is required\"}],\"request_id\":\"r1\"}");
    bson_free(body);
    body = problem_classic_body("user not found", NULL, &len);
    assert_string_equal(body, "{\"result\":false,\"errors\":[\"user not found\"]}");
    bson_free(body);
    body = problem_classic_body("ignored", fields, &len);
    assert_string_equal(body, "{\"result\":false,\"errors\":[\"is required\"]}");
    bson_free(body);
    bson_destroy(fields);
}

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

static void
cors_allow_list(void **state)
{
    cors_config_t c;
    const char *bad = NULL;
    assert_true(cors_parse("https://app.example, http://localhost:5173", &c, &bad));
    assert_true(c.enabled);
    assert_true(cors_origin_allowed(&c, S_("https://app.example")));
    assert_true(cors_origin_allowed(&c, S_("HTTPS://APP.EXAMPLE")));
    assert_true(cors_origin_allowed(&c, S_("http://localhost:5173")));
    assert_false(cors_origin_allowed(&c, S_("https://evil.example")));
    assert_false(cors_origin_allowed(&c, S_("https://app.example.evil")));
    assert_false(cors_origin_allowed(&c, S_("null")));
    cors_free(&c);
    assert_true(cors_parse("*", &c, &bad));
    assert_true(c.any && cors_origin_allowed(&c, S_("https://any.example")));
    cors_free(&c);
    assert_true(cors_parse("", &c, &bad));
    assert_false(c.enabled);
    assert_false(cors_origin_allowed(&c, S_("https://app.example")));
    assert_false(cors_parse("https://app.example/path", &c, &bad));
    assert_false(cors_parse("https://ok.example, app.example", &c, &bad));
    assert_string_equal(bad, "app.example");
    assert_true(cors_headers_allowed(S_("authorization, content-type")));
    assert_true(cors_headers_allowed(S_("If-Match,X-Request-Id")));
    assert_false(cors_headers_allowed(S_("authorization, x-evil")));
}

static void
encode_round_trips(void **state)
{
    size_t n = 50000, out_len;
    char *body = malloc(n), *out;
    for (size_t i = 0; i < n; i++)
        body[i] = "{\"id\":1,\"name\":\"Sunny flat\"},"[i % 30];
    assert_true(encode_body(HTTP_ENCODING_GZIP, body, n, &out, &out_len));
    assert_true(out_len < n / 10);
    char *back = malloc(n);
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)out;
    z.avail_in = (uInt)out_len;
    z.next_out = (Bytef *)back;
    z.avail_out = (uInt)n;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, n);
    assert_memory_equal(back, body, n);
    inflateEnd(&z);
    free(out);
    assert_true(encode_body(HTTP_ENCODING_BR, body, n, &out, &out_len));
    assert_true(out_len < n / 10);
    free(out);
    assert_false(encode_body(HTTP_ENCODING_GZIP, "x", 1, &out, &out_len)); /* would grow: sent as is */
    assert_null(out);
    free(back);
    free(body);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(problem_body_has_every_member),
        cmocka_unit_test(request_ids_from_clients_are_sane),
        cmocka_unit_test(link_keeps_other_parameters_whole),
        cmocka_unit_test(cors_allow_list),
        cmocka_unit_test(encode_round_trips),
    };
    return cmocka_run_group_tests_name("/ingress/respond", tests, NULL, NULL);
}

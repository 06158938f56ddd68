/* Protocol v1 envelopes: what is built parses back, and every malformed
 * request is refused with a message instead of being half-understood. */
#include "roost_test.h"

#include "envelope.h"

static void
build_and_parse(const char *json, envelope_request_t *req, bson_t *storage, bool expect_ok)
{
    bson_t *doc = roost_test_doc(json);
    bson_error_t error;
    bson_copy_to(doc, storage);
    bson_destroy(doc);
    bool ok = envelope_request_parse(bson_get_data(storage), storage->len, req, &error);
    if (ok != expect_ok)
        print_error("%s: expected %s, got %s (%s)\n", json, expect_ok ? "ok" : "refusal", ok ? "ok" : "refusal",
                    ok ? "" : error.message);
    assert_int_equal(ok, expect_ok);
}

static void
envelope_request_roundtrip(void **state)
{
    bson_t params = BSON_INITIALIZER, body = BSON_INITIALIZER, env;
    envelope_request_t req;
    bson_error_t error;
    bson_iter_t it;
    BSON_APPEND_UTF8(&params, "id", "42");
    BSON_APPEND_INT32(&body, "price", 10);
    int64_t expect[] = {3, 5};
    envelope_request_parts_t parts = {.op = "users.get",
                                      .rid = "abc",
                                      .auth_sub = 7,
                                      .params = &params,
                                      .body = &body,
                                      .has_expect = true,
                                      .nexpect = 2,
                                      .expect = expect};
    envelope_request_build(&env, &parts);
    assert_true(envelope_request_parse(bson_get_data(&env), env.len, &req, &error));
    assert_string_equal(req.op, "users.get");
    assert_string_equal(req.rid, "abc");
    assert_int_equal(req.auth_sub, 7);
    assert_true(req.has_expect);
    assert_int_equal(req.nexpect, 2);
    assert_int_equal(req.expect[0], 3);
    assert_int_equal(req.expect[1], 5);
    assert_true(bson_iter_init_find(&it, &req.params, "id"));
    assert_string_equal(bson_iter_utf8(&it, NULL), "42");
    assert_true(bson_iter_init_find(&it, &req.body, "price"));
    assert_int_equal(bson_iter_as_int64(&it), 10);
    assert_true(bson_empty(&req.query));
    bson_destroy(&env);
    bson_destroy(&params);
    bson_destroy(&body);
}

/* Protocol 1.0's if_match (the HTTP value) is read into the same
 * expectation as 1.1's expect_version, strong comparison included. */
static void
envelope_reads_protocol_1_0_if_match(void **state)
{
    static const struct {
        const char *json;
        bool has_expect;
        size_t n;
        int64_t first;
    } cases[] = {
        {"{\"v\": 1, \"op\": \"x\", \"if_match\": \"\\\"3\\\"\"}", true, 1, 3},
        {"{\"v\": 1, \"op\": \"x\", \"if_match\": \"W/\\\"3\\\"\"}", true, 0, 0},
        {"{\"v\": 1, \"op\": \"x\", \"if_match\": \"\\\"03\\\", \\\"4\\\"\"}", true, 1, 4},
        {"{\"v\": 1, \"op\": \"x\", \"if_match\": \"*\"}", false, 0, 0},
        {"{\"v\": 1, \"minor\": 1, \"op\": \"x\", \"expect_version\": []}", true, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        envelope_request_t req;
        bson_t storage;
        build_and_parse(cases[i].json, &req, &storage, true);
        assert_int_equal(req.has_expect, cases[i].has_expect);
        assert_int_equal(req.nexpect, cases[i].n);
        if (cases[i].n > 0)
            assert_int_equal(req.expect[0], cases[i].first);
        bson_destroy(&storage);
    }
}

static void
envelope_missing_rid_is_generated(void **state)
{
    envelope_request_t req;
    bson_t storage;
    build_and_parse("{\"v\": 1, \"op\": \"sys.ping\"}", &req, &storage, true);
    assert_int_equal(strlen(req.rid), 32);
    for (size_t i = 0; i < 32; i++)
        assert_non_null(strchr("0123456789abcdef", req.rid[i]));
    assert_int_equal(req.auth_sub, 0);
    bson_destroy(&storage);
}

static void
envelope_refuses_malformed_requests(void **state)
{
    static const char *const bad[] = {
        "{\"op\": \"sys.ping\"}",               /* no v */
        "{\"v\": 2, \"op\": \"sys.ping\"}",     /* unknown version */
        "{\"v\": \"1\", \"op\": \"sys.ping\"}", /* v of the wrong type */
        "{\"v\": 1}",                           /* no op */
        "{\"v\": 1, \"op\": 5}",                /* op not a string */
        "{\"v\": 1, \"op\": \"\"}",             /* empty op */
        "{\"v\": 1, \"op\": \"x\", \"rid\": "
        "\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
        "{\"v\": 1, \"op\": \"x\", \"auth\": {\"sub\": -1}}",     /* negative subject */
        "{\"v\": 1, \"op\": \"x\", \"auth\": {\"sub\": \"1\"}}",  /* subject as a string */
        "{\"v\": 1, \"op\": \"x\", \"auth\": 3}",                 /* auth not a document */
        "{\"v\": 1, \"op\": \"x\", \"params\": [1]}",             /* params an array */
        "{\"v\": 1, \"op\": \"x\", \"body\": \"text\"}",          /* body a string */
        "{\"v\": 1, \"op\": \"x\", \"if_match\": 3}",             /* if_match not a string */
        "{\"v\": 1, \"op\": \"x\", \"if_match\": \"3\"}",         /* if_match not an entity tag */
        "{\"v\": 1, \"op\": \"x\", \"extra\": true}",             /* unknown field */
        "{\"v\": 1, \"minor\": 2, \"op\": \"x\"}",                /* a newer minor version */
        "{\"v\": 1, \"op\": \"x\", \"expect_version\": 3}",       /* not an array */
        "{\"v\": 1, \"op\": \"x\", \"expect_version\": [0]}",     /* not a version */
        "{\"v\": 1, \"op\": \"x\", \"expect_version\": [\"3\"]}", /* a version as a string */
        "{\"v\": 1, \"op\": \"x\", \"expect_version\": [3], \"if_match\": \"\\\"3\\\"\"}", /* two preconditions */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        envelope_request_t req;
        bson_t storage;
        build_and_parse(bad[i], &req, &storage, false);
        bson_destroy(&storage);
    }
}

static void
envelope_refuses_bytes_that_are_not_bson(void **state)
{
    static const uint8_t garbage[] = {0x05, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03};
    envelope_request_t req;
    bson_error_t error;
    assert_false(envelope_request_parse(garbage, sizeof(garbage), &req, &error));
    assert_false(envelope_request_parse(garbage, 2, &req, &error));
}

static void
envelope_reply_roundtrip(void **state)
{
    bson_t body = BSON_INITIALIZER, fields = BSON_INITIALIZER, item, reply;
    envelope_reply_t parsed;
    bson_error_t error;
    bson_iter_t it;

    BSON_APPEND_INT64(&body, "id", 5);
    envelope_reply_ok(&reply, "r1", 201, &body);
    ASSERT_STATUS(&reply, 201);
    assert_true(envelope_reply_parse(bson_get_data(&reply), reply.len, &parsed, &error));
    assert_int_equal(parsed.status, 201);
    assert_string_equal(parsed.rid, "r1");
    assert_false(parsed.has_error);
    assert_true(bson_iter_init_find(&it, &parsed.body, "id"));
    bson_destroy(&reply);

    BSON_APPEND_DOCUMENT_BEGIN(&fields, "0", &item);
    BSON_APPEND_UTF8(&item, "field", "username");
    BSON_APPEND_UTF8(&item, "message", "is required");
    bson_append_document_end(&fields, &item);
    envelope_reply_error(&reply, "r2", 400, "validation_failed", "bad", &fields);
    ASSERT_STATUS(&reply, 400);
    assert_true(envelope_reply_parse(bson_get_data(&reply), reply.len, &parsed, &error));
    assert_true(parsed.has_error);
    assert_string_equal(parsed.code, "validation_failed");
    assert_string_equal(parsed.message, "bad");
    ASSERT_ERROR_FIELD(&parsed.fields, "username");
    bson_destroy(&reply);
    bson_destroy(&body);
    bson_destroy(&fields);
}

static void
envelope_reply_needs_an_http_status(void **state)
{
    static const char *const bad[] = {"{\"v\": 1}", "{\"status\": 99}", "{\"status\": 600}", "{\"status\": \"200\"}",
                                      "{\"status\": 200, \"body\": 3}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bson_t *doc = roost_test_doc(bad[i]);
        envelope_reply_t parsed;
        bson_error_t error;
        assert_false(envelope_reply_parse(bson_get_data(doc), doc->len, &parsed, &error));
        bson_destroy(doc);
    }
}

static void
envelope_carries_token_client_and_limits(void **state)
{
    bson_t env, reply;
    envelope_request_t req;
    envelope_reply_t parsed;
    bson_error_t error;
    envelope_request_parts_t parts = {
        .op = "users.me", .rid = "r9", .auth_sub = 4, .auth_token = "a.b.c", .client_addr = "2001:db8::1"};
    envelope_request_build(&env, &parts);
    assert_true(envelope_request_parse(bson_get_data(&env), env.len, &req, &error));
    assert_int_equal(req.auth_sub, 4);
    assert_string_equal(req.auth_token, "a.b.c");
    assert_string_equal(req.client_addr, "2001:db8::1");
    bson_destroy(&env);

    static const char *const bad[] = {"{\"v\": 1, \"op\": \"a.b\", \"auth\": {\"token\": 5}}",
                                      "{\"v\": 1, \"op\": \"a.b\", \"auth\": {\"token\": \"\"}}",
                                      "{\"v\": 1, \"op\": \"a.b\", \"client\": {\"addr\": 5}}",
                                      "{\"v\": 1, \"op\": \"a.b\", \"client\": 5}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bson_t *doc = roost_test_doc(bad[i]);
        assert_false(envelope_request_parse(bson_get_data(doc), doc->len, &req, &error));
        bson_destroy(doc);
    }

    envelope_rate_limit_t limit = {"login-username", 10, 300, 0, 42};
    envelope_reply_error(&reply, "r9", 429, "too_many_failed_logins", "wait", NULL);
    envelope_reply_add_retry_after(&reply, 42);
    envelope_reply_add_rate_limit(&reply, &limit);
    assert_true(envelope_reply_parse(bson_get_data(&reply), reply.len, &parsed, &error));
    assert_int_equal(parsed.retry_after, 42);
    assert_true(parsed.has_rate_limit);
    assert_string_equal(parsed.rate_limit.policy, "login-username");
    assert_int_equal(parsed.rate_limit.quota, 10);
    assert_int_equal(parsed.rate_limit.window, 300);
    assert_int_equal(parsed.rate_limit.remaining, 0);
    assert_int_equal(parsed.rate_limit.reset, 42);
    bson_destroy(&reply);
    envelope_reply_ok(&reply, "r9", 200, NULL);
    assert_true(envelope_reply_parse(bson_get_data(&reply), reply.len, &parsed, &error));
    assert_int_equal(parsed.retry_after, -1);
    assert_false(parsed.has_rate_limit);
    bson_destroy(&reply);
}

/* The one reading of a reply's error object: a missing code is the
 * service's fault ("internal"), a missing message empty, fields a view. */
static void
envelope_error_object_defaults(void **state)
{
    const char *code, *message;
    bson_t fields = BSON_INITIALIZER;
    bson_t *err = roost_test_doc("{\"message\": \"boom\"}");
    envelope_error_read(err, &code, &message, &fields);
    assert_string_equal(code, "internal");
    assert_string_equal(message, "boom");
    assert_true(bson_empty(&fields));
    bson_destroy(err);
    err = roost_test_doc("{\"code\": \"taken\", \"fields\": [{\"field\": \"a\", \"message\": \"b\"}]}");
    envelope_error_read(err, &code, &message, &fields);
    assert_string_equal(code, "taken");
    assert_string_equal(message, "");
    assert_int_equal(bson_count_keys(&fields), 1);
    bson_destroy(err);
}

/* Fresh request ids: 32 lowercase hex digits, never the same twice, across
 * the refills of the per-thread random pool. */
static void
new_rids_are_hex_and_distinct(void **state)
{
    enum { N = 200 };
    static char seen[N][33];
    for (int i = 0; i < N; i++) {
        envelope_new_rid(seen[i]);
        assert_int_equal(strlen(seen[i]), 32);
        assert_int_equal(strspn(seen[i], "0123456789abcdef"), 32);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[i], seen[j]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(envelope_request_roundtrip),
        cmocka_unit_test(envelope_missing_rid_is_generated),
        cmocka_unit_test(envelope_reads_protocol_1_0_if_match),
        cmocka_unit_test(envelope_refuses_malformed_requests),
        cmocka_unit_test(envelope_refuses_bytes_that_are_not_bson),
        cmocka_unit_test(envelope_reply_roundtrip),
        cmocka_unit_test(envelope_reply_needs_an_http_status),
        cmocka_unit_test(envelope_carries_token_client_and_limits),
        cmocka_unit_test(envelope_error_object_defaults),
        cmocka_unit_test(new_rids_are_hex_and_distinct),
    };
    return cmocka_run_group_tests_name("/envelope", tests, NULL, NULL);
}

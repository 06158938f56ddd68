/* The checks before a handler (workers/runtime/answer.c), for every
 * caller: the envelope, the op, the token, who may call, repeated keys;
 * and an op that needs no database answered without one. */
#include "roost_test.h"

#include "runtime/answer.h"
#include "runtime/services.h"
#include "token.h"

#include <sodium.h>
#include <stdlib.h>
#include <time.h>

/* The answer to a request built from `parts` (with `body_json` as its body, if any). */
static int64_t
answer(const envelope_request_parts_t *parts, const char *body_json, bson_t *reply)
{
    bson_t env, *body = body_json != NULL ? roost_test_doc(body_json) : NULL;
    envelope_request_parts_t p = *parts;
    if (body != NULL)
        p.body = body;
    envelope_request_build(&env, &p);
    worker_answer(bson_get_data(&env), env.len, reply);
    bson_destroy(&env);
    if (body != NULL)
        bson_destroy(body);
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, reply, "status"));
    return bson_iter_as_int64(&it);
}

static bool
says(const bson_t *reply, const char *words)
{
    char *json = bson_as_relaxed_extended_json(reply, NULL);
    bool found = strstr(json, words) != NULL;
    if (!found)
        print_error("want \"%s\" in %s\n", words, json);
    bson_free(json);
    return found;
}

static void
the_envelope_and_the_op_come_first(void **state)
{
    bson_t reply;
    worker_answer((const uint8_t *)"not bson", 8, &reply);
    assert_true(says(&reply, "\"status\" : 400") && says(&reply, "bad_envelope"));
    bson_destroy(&reply);
    envelope_request_parts_t nosuch = {.op = "things.nosuch", .rid = "r1"};
    assert_int_equal(answer(&nosuch, NULL, &reply), 404);
    assert_true(says(&reply, "unknown op 'things.nosuch'") && says(&reply, "\"rid\" : \"r1\""));
    bson_destroy(&reply);
    /* An op that needs no database is answered by a worker without one. */
    envelope_request_parts_t ping = {.op = "sys.ping", .rid = "r2"};
    assert_int_equal(answer(&ping, NULL, &reply), 200);
    assert_true(says(&reply, "\"pong\" : true"));
    bson_destroy(&reply);
}

static void
who_may_call_is_checked_before_the_op(void **state)
{
    bson_t reply;
    envelope_request_parts_t me = {.op = "users.me", .rid = "r3"};
    assert_int_equal(answer(&me, NULL, &reply), 401);
    assert_true(says(&reply, "needs an authenticated user"));
    bson_destroy(&reply);
    envelope_request_parts_t forged = {.op = "users.me", .rid = "r4", .auth_token = "not.a.token"};
    assert_int_equal(answer(&forged, NULL, &reply), 401);
    assert_true(says(&reply, "invalid_token"));
    bson_destroy(&reply);
    /* A token and an auth.sub naming different users. */
    char *token = token_issue(token_config(), 5, 0, (int64_t)time(NULL));
    assert_non_null(token);
    envelope_request_parts_t both = {.op = "users.me", .rid = "r5", .auth_token = token, .auth_sub = 6};
    assert_int_equal(answer(&both, NULL, &reply), 400);
    assert_true(says(&reply, "name different users"));
    bson_destroy(&reply);
    free(token);
}

static void
a_key_given_twice_is_refused_for_every_op(void **state)
{
    bson_t reply;
    envelope_request_parts_t ping = {.op = "sys.ping", .rid = "r6"};
    assert_int_equal(answer(&ping, "{\"a\": {\"b\": 1, \"b\": 2}}", &reply), 400);
    assert_true(says(&reply, "validation_failed") && says(&reply, "a.b"));
    bson_destroy(&reply);
}

int
main(void)
{
    setenv("ROOST_ENV", "dev", 1);
    setenv("ROOST_LOG_LEVEL", "error", 1);
    unsetenv("ROOST_SERVICES");
    if (sodium_init() < 0 || !services_select())
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_envelope_and_the_op_come_first),
        cmocka_unit_test(who_may_call_is_checked_before_the_op),
        cmocka_unit_test(a_key_given_twice_is_refused_for_every_op),
    };
    return cmocka_run_group_tests_name("/runtime/answer", tests, NULL, NULL);
}

/* The ingress's fixed-window write limits and their header values (ingress/ratelimit.h). */
#include "roost_test.h"

#include "ratelimit.h"

static void
quota_then_refusal_then_a_new_window(void **state)
{
    ratelimit_t *l = ratelimit_new("user", 3, 60, 64);
    envelope_rate_limit_t s;
    for (int i = 0; i < 3; i++) {
        assert_true(ratelimit_take(l, "u:1", 120 + i, &s));
        assert_int_equal(s.remaining, 2 - i);
    }
    assert_false(ratelimit_take(l, "u:1", 130, &s));
    assert_int_equal(s.remaining, 0);
    assert_int_equal(s.reset, 50); /* the window [120, 180) ends in 50 s */
    assert_int_equal(s.quota, 3);
    assert_string_equal(s.policy, "user");
    /* Another key has its own count. */
    assert_true(ratelimit_take(l, "u:2", 130, &s));
    assert_int_equal(s.remaining, 2);
    /* The next window starts again from the quota. */
    assert_true(ratelimit_take(l, "u:1", 180, &s));
    assert_int_equal(s.remaining, 2);
    assert_int_equal(s.reset, 60);
    ratelimit_free(l);
}

static void
a_full_table_lets_new_keys_pass_uncounted(void **state)
{
    ratelimit_t *l = ratelimit_new("address", 1, 60, 64);
    envelope_rate_limit_t s;
    char key[32];
    for (int i = 0; i < 64; i++) {
        snprintf(key, sizeof(key), "a:10.0.0.%d", i);
        assert_true(ratelimit_take(l, key, 0, &s));
    }
    /* Every slot is live: a 65th key passes, and its count is not kept. */
    assert_true(ratelimit_take(l, "a:192.0.2.1", 0, &s));
    assert_true(ratelimit_take(l, "a:192.0.2.1", 0, &s));
    /* A key already counted is still refused. */
    assert_false(ratelimit_take(l, "a:10.0.0.5", 0, &s));
    /* Once the window is over, the stale slots are reused. */
    assert_true(ratelimit_take(l, "a:192.0.2.1", 60, &s));
    assert_false(ratelimit_take(l, "a:192.0.2.1", 61, &s));
    ratelimit_free(l);
}

static void
header_values_follow_the_draft(void **state)
{
    envelope_rate_limit_t st[2] = {{"user", 1200, 60, 1187, 41}, {"address", 6000, 60, 12, 41}};
    char policy[128], limit[64];
    assert_true(ratelimit_header_values(st, 2, policy, sizeof(policy), limit, sizeof(limit)));
    assert_string_equal(policy, "\"user\";q=1200;w=60, \"address\";q=6000;w=60");
    assert_string_equal(limit, "\"address\";r=12;t=41"); /* the policy closest to its quota */
    assert_false(ratelimit_header_values(st, 2, policy, 10, limit, sizeof(limit)));
    assert_false(ratelimit_header_values(st, 0, policy, sizeof(policy), limit, sizeof(limit)));
}

static void
client_keys_and_trusted_proxies(void **state)
{
    char key[ENVELOPE_ADDR_MAX + 1];
    assert_true(ratelimit_client_key("192.0.2.7", key));
    assert_string_equal(key, "192.0.2.7");
    assert_true(ratelimit_client_key("::ffff:192.0.2.7", key));
    assert_string_equal(key, "192.0.2.7");
    assert_true(ratelimit_client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", key));
    assert_string_equal(key, "2001:db8:1:2::/64");
    assert_true(ratelimit_client_key("2001:db8:1:2::1", key));
    assert_string_equal(key, "2001:db8:1:2::/64"); /* the same /64: one client */
    assert_false(ratelimit_client_key("not an address", key));
    assert_false(ratelimit_client_key("192.0.2.7, 10.0.0.1", key));

    assert_true(ratelimit_in_cidrs("10.1.2.3", "10.0.0.0/8"));
    assert_false(ratelimit_in_cidrs("11.1.2.3", "10.0.0.0/8"));
    assert_true(ratelimit_in_cidrs("::ffff:10.1.2.3", "192.168.0.0/16,10.0.0.0/8"));
    assert_true(ratelimit_in_cidrs("127.0.0.1", "127.0.0.1"));
    assert_false(ratelimit_in_cidrs("127.0.0.2", "127.0.0.1"));
    assert_true(ratelimit_in_cidrs("fd00::5", "fd00::/8"));
    assert_false(ratelimit_in_cidrs("fe00::5", "fd00::/8"));
    assert_true(ratelimit_in_cidrs("1.2.3.4", "0.0.0.0/0"));
    assert_false(ratelimit_in_cidrs("1.2.3.4", "10.0.0.0/x,junk,/8"));
    assert_false(ratelimit_in_cidrs("1.2.3.4", NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quota_then_refusal_then_a_new_window),
        cmocka_unit_test(a_full_table_lets_new_keys_pass_uncounted),
        cmocka_unit_test(header_values_follow_the_draft),
        cmocka_unit_test(client_keys_and_trusted_proxies),
    };
    return cmocka_run_group_tests_name("/ingress/ratelimit", tests, NULL, NULL);
}

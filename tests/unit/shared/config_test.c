/* The settings every program reads (shared/config.c): defaults, the
 * environment's values, and the shared ones stated once. */
#include "roost_test.h"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void
values_come_from_the_environment(void **state)
{
    unsetenv("ROOST_TEST_VALUE");
    assert_string_equal(cfg_str("ROOST_TEST_VALUE", "fallback"), "fallback");
    setenv("ROOST_TEST_VALUE", "", 1); /* empty counts as unset */
    assert_string_equal(cfg_str("ROOST_TEST_VALUE", "fallback"), "fallback");
    assert_int_equal(cfg_int("ROOST_TEST_VALUE", 7, 1, 10), 7);
    setenv("ROOST_TEST_VALUE", "9", 1);
    assert_string_equal(cfg_str("ROOST_TEST_VALUE", "fallback"), "9");
    assert_int_equal(cfg_int("ROOST_TEST_VALUE", 7, 1, 10), 9);
    unsetenv("ROOST_TEST_VALUE");
}

static void
shared_settings_have_their_defaults(void **state)
{
    unsetenv("ROOST_REQUEST_TIMEOUT_MS");
    unsetenv("ROOST_MAX_BODY_BYTES");
    unsetenv("ROOST_METRICS_PORT");
    unsetenv("ROOST_MAX_MESSAGE_BYTES");
    assert_int_equal(cfg_request_timeout_ms(), CFG_DEFAULT_TIMEOUT_MS);
    assert_int_equal(cfg_max_body_bytes(), 1 << 20);
    assert_int_equal(cfg_metrics_port(), 0);
    assert_int_equal(cfg_max_message_bytes(), CFG_DEFAULT_MAX_MESSAGE_BYTES);
    setenv("ROOST_REQUEST_TIMEOUT_MS", "250", 1);
    setenv("ROOST_MAX_BODY_BYTES", "4096", 1);
    setenv("ROOST_METRICS_PORT", "9100", 1);
    assert_int_equal(cfg_request_timeout_ms(), 250);
    assert_int_equal(cfg_max_body_bytes(), 4096);
    assert_int_equal(cfg_metrics_port(), 9100);
    unsetenv("ROOST_REQUEST_TIMEOUT_MS");
    unsetenv("ROOST_MAX_BODY_BYTES");
    unsetenv("ROOST_METRICS_PORT");
}

/* A value out of its range is a configuration error: the program says so and exits 2. */
static void
a_bad_value_stops_the_program(void **state)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("ROOST_REQUEST_TIMEOUT_MS", "99", 1); /* below 100 */
        freopen("/dev/null", "w", stderr);
        cfg_request_timeout_ms();
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_come_from_the_environment),
        cmocka_unit_test(shared_settings_have_their_defaults),
        cmocka_unit_test(a_bad_value_stops_the_program),
    };
    return cmocka_run_group_tests_name("/shared/config", tests, NULL, NULL);
}

/* The metrics registry (shared/metrics.c): series found again by their
 * label values, bounded, and updates that tolerate a missing series. */
#include "roost_test.h"

#include "metrics.h"

#include <bson/bson.h>
#include <stdio.h>
#include <string.h>

static void
a_family_holds_a_bounded_number_of_series(void **state)
{
    metrics_family_t *c = metrics_counter("t_many_total", "Many.", "n");
    char value[16];
    for (int i = 0; i < METRICS_MAX_SERIES; i++) {
        snprintf(value, sizeof(value), "%d", i);
        assert_non_null(metrics_series(c, (const char *const[]){value}));
    }
    assert_null(metrics_series(c, (const char *const[]){"one more"}));
    metrics_add(NULL, 1); /* a no-op, not a crash */
    metrics_observe(NULL, 1);
    assert_non_null(metrics_series(c, (const char *const[]){"7"})); /* existing ones are still found */
}

/* A gauge holds what was set last; a counter and a histogram add up. */
static void
series_keep_their_values(void **state)
{
    metrics_series_t *g = metrics_series(metrics_gauge("t_level", "Level.", NULL), NULL);
    metrics_series_t *c = metrics_series(metrics_counter("t_adds_total", "Adds.", NULL), NULL);
    assert_non_null(g);
    assert_non_null(c);
    metrics_set(g, 3);
    metrics_set(g, 1.5);
    metrics_add(c, 2);
    metrics_add(c, 0.5);
    size_t len;
    char *text = metrics_render(&len);
    assert_non_null(strstr(text, "t_level 1.5\n"));
    assert_non_null(strstr(text, "t_adds_total 2.5\n"));
    bson_free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_family_holds_a_bounded_number_of_series),
        cmocka_unit_test(series_keep_their_values),
    };
    return cmocka_run_group_tests_name("/shared/metrics", tests, NULL, NULL);
}

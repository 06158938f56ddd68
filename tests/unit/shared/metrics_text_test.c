/* The Prometheus text exposition (shared/metrics_text.c): every kind of
 * family, label escaping, and the process metrics. */
#include "roost_test.h"

#include "metrics.h"

#include <bson/bson.h>
#include <stdlib.h>
#include <string.h>

static char *
rendered(void)
{
    size_t len;
    char *text = metrics_render(&len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static void
contains(const char *text, const char *line)
{
    if (strstr(text, line) == NULL) {
        print_error("missing %s in:\n%s\n", line, text);
        fail();
    }
}

static double
seven(void)
{
    return 7;
}

static void
counters_gauges_and_histograms_render(void **state)
{
    metrics_family_t *c = metrics_counter("t_requests_total", "Requests.", "route,status");
    metrics_series_t *a = metrics_series(c, (const char *const[]){"/u/{id}", "200"});
    metrics_add(a, 1);
    metrics_add(metrics_series(c, (const char *const[]){"/u/{id}", "200"}), 2); /* the same series */
    metrics_add(metrics_series(c, (const char *const[]){"/u/{id}", "404"}), 1);
    metrics_set(metrics_series(metrics_gauge("t_depth", "Depth.", NULL), NULL), 2.5);
    metrics_gauge_fn("t_fn", "From a function.", seven);
    static const double bounds[] = {0.1, 1};
    metrics_series_t *h =
        metrics_series(metrics_histogram("t_seconds", "Durations.", "op", bounds, 2), (const char *const[]){"a.b"});
    metrics_observe(h, 0.05);
    metrics_observe(h, 0.1); /* le is inclusive */
    metrics_observe(h, 0.5);
    metrics_observe(h, 3);
    char *text = rendered();
    contains(text, "# HELP t_requests_total Requests.\n# TYPE t_requests_total counter\n");
    contains(text, "t_requests_total{route=\"/u/{id}\",status=\"200\"} 3\n");
    contains(text, "t_requests_total{route=\"/u/{id}\",status=\"404\"} 1\n");
    contains(text, "# TYPE t_depth gauge\nt_depth 2.5\n");
    contains(text, "t_fn 7\n");
    contains(text, "# TYPE t_seconds histogram\n");
    contains(text, "t_seconds_bucket{op=\"a.b\",le=\"0.1\"} 2\n");
    contains(text, "t_seconds_bucket{op=\"a.b\",le=\"1\"} 3\n");
    contains(text, "t_seconds_bucket{op=\"a.b\",le=\"+Inf\"} 4\n");
    contains(text, "t_seconds_sum{op=\"a.b\"} 3.6499999999999999\n");
    contains(text, "t_seconds_count{op=\"a.b\"} 4\n");
    contains(text, "# TYPE process_cpu_seconds_total counter\n");
    contains(text, "process_open_fds ");
    bson_free(text);
}

static void
label_values_are_escaped(void **state)
{
    metrics_family_t *c = metrics_counter("t_escaped_total", "Escapes.", "v");
    metrics_add(metrics_series(c, (const char *const[]){"a\"b\\c\nd"}), 1);
    char *text = rendered();
    contains(text, "t_escaped_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
    bson_free(text);
}

/* The constant label of a process comes first on each of Roost's own series. */
static void
the_constant_label_leads(void **state)
{
    metrics_const_label("service", "users");
    metrics_add(metrics_series(metrics_counter("roost_t_const_total", "Const.", "op"), (const char *const[]){"x"}), 1);
    char *text = rendered();
    contains(text, "roost_t_const_total{service=\"users\",op=\"x\"} 1\n");
    bson_free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counters_gauges_and_histograms_render),
        cmocka_unit_test(label_values_are_escaped),
        cmocka_unit_test(the_constant_label_leads),
    };
    return cmocka_run_group_tests_name("/shared/metrics_text", tests, NULL, NULL);
}

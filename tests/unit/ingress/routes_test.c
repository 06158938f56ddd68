/* The routing table: every row matches its own path, parameters are
 * captured, and wrong paths and methods are told apart (404 / 405). */
#include "roost_test.h"

#include "routes.h"

static route_result_t
match(const char *method, const char *path, route_match_t *m)
{
    return routes_match(method, strlen(method), path, strlen(path), m);
}

/* Builds a concrete path from a pattern, "42" for each {param}. */
static void
concrete(const char *pattern, char *out)
{
    while (*pattern) {
        if (*pattern == '{') {
            out += sprintf(out, "42");
            pattern = strchr(pattern, '}') + 1;
        } else {
            *out++ = *pattern++;
        }
    }
    *out = '\0';
}

static void
each_row(const route_t *r, void *arg)
{
    char path[256];
    route_match_t m;
    concrete(r->pattern, path);
    /* A bulk twin is reached from its row, by an array body: its row matches
     * the path, and names it as its twin. */
    const route_t *want = r;
    if (r->flags & ROUTE_BULK) {
        if (match(r->method, path, &m) != ROUTE_FOUND || routes_bulk(m.route) != r) {
            print_error("%s %s is a bulk row that its own path's row does not lead to\n", r->method, path);
            (*(int *)arg)++;
        }
        want = m.route;
    }
    if (match(r->method, path, &m) != ROUTE_FOUND || m.route != want) {
        print_error("%s %s does not match its own row\n", r->method, path);
        (*(int *)arg)++;
    }
    if (r->op == NULL || r->op[0] == '\0') {
        print_error("%s %s has no op\n", r->method, r->pattern);
        (*(int *)arg)++;
    }
}

static void
routes_every_row_matches_itself(void **state)
{
    int failures = 0;
    routes_each(each_row, &failures);
    assert_int_equal(failures, 0);
}

static void
routes_capture_parameters(void **state)
{
    route_match_t m;
    assert_int_equal(match("GET", "/api/v1/users/42", &m), ROUTE_FOUND);
    assert_string_equal(m.route->op, "users.get");
    assert_int_equal(m.nparams, 1);
    assert_memory_equal(m.params[0].name, "id", 2);
    assert_int_equal(m.params[0].value_len, 2);
    assert_memory_equal(m.params[0].value, "42", 2);

    assert_int_equal(match("PATCH", "/api/v1/properties/7/rooms/3", &m), ROUTE_FOUND);
    assert_string_equal(m.route->op, "properties.rooms.update");
    assert_int_equal(m.nparams, 2);
    assert_memory_equal(m.params[1].name, "room_id", 7);
    assert_memory_equal(m.params[1].value, "3", 1);
}

static void
routes_fixed_rows_win_over_parameters(void **state)
{
    route_match_t m;
    assert_int_equal(match("GET", "/api/v1/users/me", &m), ROUTE_FOUND);
    assert_string_equal(m.route->op, "users.me");
    assert_int_equal(match("POST", "/api/v1/users", &m), ROUTE_FOUND);
    assert_string_equal(m.route->op, "users.create");
    assert_int_equal(m.route->body, ROUTE_BODY_JSON);
    assert_int_equal(match("POST", "/listings", &m), ROUTE_FOUND);
    assert_int_equal(m.route->body, ROUTE_BODY_FORM);
    assert_true(m.route->flags & ROUTE_CLASSIC);
}

static void
routes_root_is_the_browse_page(void **state)
{
    route_match_t m;
    assert_int_equal(match("GET", "/", &m), ROUTE_FOUND);
    assert_string_equal(m.route->op, "page.browse");
    assert_true(m.route->flags & ROUTE_LOCAL);
}

static void
routes_head_is_get(void **state)
{
    route_match_t m;
    assert_int_equal(match("HEAD", "/api/v1/users/5", &m), ROUTE_FOUND);
    assert_string_equal(m.route->op, "users.get");
}

static void
routes_wrong_method_lists_the_allowed(void **state)
{
    route_match_t m;
    assert_int_equal(match("DELETE", "/api/v1/users", &m), ROUTE_BAD_METHOD);
    assert_non_null(strstr(m.allow, "GET"));
    assert_non_null(strstr(m.allow, "POST"));
    assert_null(strstr(m.allow, "DELETE"));
    assert_int_equal(match("PUT", "/listings", &m), ROUTE_BAD_METHOD);
    assert_true(m.path_flags & ROUTE_CLASSIC);
}

static void
routes_unknown_paths_are_not_found(void **state)
{
    static const char *const paths[] = {"",
                                        "/index.html",
                                        "/api/v1/user",
                                        "/api/v1/users/",
                                        "/api/v1/users/42/extra",
                                        "/api/v1/users//x",
                                        "/api/v1/properties//rooms",
                                        "/API/v1/users"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        route_match_t m;
        if (match("GET", paths[i], &m) != ROUTE_NOT_FOUND) {
            print_error("'%s' should not match\n", paths[i]);
            fail();
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes_every_row_matches_itself),
        cmocka_unit_test(routes_capture_parameters),
        cmocka_unit_test(routes_fixed_rows_win_over_parameters),
        cmocka_unit_test(routes_root_is_the_browse_page),
        cmocka_unit_test(routes_head_is_get),
        cmocka_unit_test(routes_wrong_method_lists_the_allowed),
        cmocka_unit_test(routes_unknown_paths_are_not_found),
    };
    return cmocka_run_group_tests_name("/routes", tests, NULL, NULL);
}

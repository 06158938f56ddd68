/*
 * The contract test: openapi.json (the REST contract), the ingress's
 * routing table and the workers' op tables must describe the same API.
 * These tests read the spec compiled into the ingress and fail on any route
 * missing from it, any operation it has that the table lacks, a different
 * operationId (the nng op; x-roost-bulk-op for a route's array-body twin),
 * a routed op that no worker serves, a security
 * requirement that does not match the op's auth in its op table (the one
 * place that says it), a worker op that is neither routed nor one of the
 * documented internal ops, and a path parameter that is not declared.
 */
#include "roost_test.h"

#include "routes.h"
#include "runtime/services.h"

#include <ctype.h>

extern const char roost_openapi_json[];
extern const size_t roost_openapi_json_len;

static bson_t *spec;

static int
load_spec(void **state)
{
    bson_error_t error;
    spec = bson_new_from_json((const uint8_t *)roost_openapi_json, (ssize_t)roost_openapi_json_len, &error);
    if (spec == NULL) {
        print_error("openapi.json does not parse: %s\n", error.message);
        return -1;
    }
    return 0;
}

static int
free_spec(void **state)
{
    bson_destroy(spec);
    return 0;
}

/* The operation object of `method` `path`, as an iterator; false if none. */
static bool
find_operation(const char *path, const char *method, bson_iter_t *op)
{
    bson_iter_t paths, item;
    char lower[16];
    size_t i = 0;
    for (; method[i] && i + 1 < sizeof(lower); i++)
        lower[i] = (char)tolower((unsigned char)method[i]);
    lower[i] = '\0';
    return bson_iter_init_find(&paths, spec, "paths") && bson_iter_recurse(&paths, &item) &&
           bson_iter_find(&item, path) && bson_iter_recurse(&item, op) && bson_iter_find(op, lower) &&
           BSON_ITER_HOLDS_DOCUMENT(op);
}

/* Whether `op` declares path parameter `name`, directly or through a $ref
 * to #/components/parameters/<key>. */
static bool
declares_path_param(bson_iter_t *op, const char *name)
{
    bson_iter_t fields, params, p;
    if (!bson_iter_recurse(op, &fields) || !bson_iter_find(&fields, "parameters") ||
        !bson_iter_recurse(&fields, &params))
        return false;
    while (bson_iter_next(&params)) {
        bson_iter_t resolved;
        if (!bson_iter_recurse(&params, &p))
            continue;
        if (bson_iter_find(&p, "$ref")) {
            const char *ref = bson_iter_utf8(&p, NULL);
            const char *prefix = "#/components/parameters/";
            char dotted[256];
            if (strncmp(ref, prefix, strlen(prefix)) != 0)
                continue;
            snprintf(dotted, sizeof(dotted), "components.parameters.%s", ref + strlen(prefix));
            if (!bson_iter_init(&resolved, spec) || !bson_iter_find_descendant(&resolved, dotted, &resolved) ||
                !bson_iter_recurse(&resolved, &p))
                continue;
        } else if (!bson_iter_recurse(&params, &p)) {
            continue;
        }
        bool in_path = false, named = false;
        while (bson_iter_next(&p)) {
            if (strcmp(bson_iter_key(&p), "in") == 0)
                in_path = BSON_ITER_HOLDS_UTF8(&p) && strcmp(bson_iter_utf8(&p, NULL), "path") == 0;
            if (strcmp(bson_iter_key(&p), "name") == 0)
                named = BSON_ITER_HOLDS_UTF8(&p) && strcmp(bson_iter_utf8(&p, NULL), name) == 0;
        }
        if (in_path && named)
            return true;
    }
    return false;
}

/* The worker op table row of `name`, or NULL. */
static const svc_op_t *
find_op(const char *name)
{
    for (size_t s = 0; svc_services[s] != NULL; s++)
        for (const svc_op_t *o = svc_services[s]->ops; o->op != NULL; o++)
            if (strcmp(o->op, name) == 0)
                return o;
    return NULL;
}

static void
check_route(const route_t *r, void *arg)
{
    int *failures = arg;
    bson_iter_t op, field;
    if (!find_operation(r->pattern, r->method, &op)) {
        print_error("%s %s is routed but not in openapi.json\n", r->method, r->pattern);
        (*failures)++;
        return;
    }
    bson_iter_t fields;
    bson_iter_recurse(&op, &fields);
    field = fields;
    /* A bulk twin (an array body) is the same operation: x-roost-bulk-op names its op. */
    const char *key = (r->flags & ROUTE_BULK) ? "x-roost-bulk-op" : "operationId";
    if (!bson_iter_find(&field, key) || strcmp(bson_iter_utf8(&field, NULL), r->op) != 0) {
        print_error("%s %s: %s should be its op, %s\n", r->method, r->pattern, key, r->op);
        (*failures)++;
    }
    field = fields;
    bool secured = bson_iter_find(&field, "security");
    const svc_op_t *op_row = (r->flags & ROUTE_LOCAL) ? NULL : find_op(r->op);
    bool required = op_row != NULL && op_row->auth == SVC_AUTH_REQUIRED;
    if (!(r->flags & ROUTE_LOCAL) && op_row == NULL) {
        print_error("%s %s: no worker serves its op %s\n", r->method, r->pattern, r->op);
        (*failures)++;
    } else if (secured != required) {
        print_error("%s %s: security %s in the spec but the op %s %s a user\n", r->method, r->pattern,
                    secured ? "declared" : "missing", r->op, required ? "requires" : "does not require");
        (*failures)++;
    }
    for (const char *p = strchr(r->pattern, '{'); p != NULL; p = strchr(p + 1, '{')) {
        char name[64];
        size_t len = (size_t)(strchr(p, '}') - p - 1);
        snprintf(name, sizeof(name), "%.*s", (int)len, p + 1);
        if (!declares_path_param(&op, name)) {
            print_error("%s %s: path parameter {%s} is not declared\n", r->method, r->pattern, name);
            (*failures)++;
        }
    }
}

static void
openapi_every_route_is_documented(void **state)
{
    int failures = 0;
    routes_each(check_route, &failures);
    assert_int_equal(failures, 0);
}

typedef struct {
    const char *path, *method;
    bool found;
} wanted_t;

static void
find_route(const route_t *r, void *arg)
{
    wanted_t *w = arg;
    if (strcmp(r->pattern, w->path) == 0 && strcasecmp(r->method, w->method) == 0)
        w->found = true;
}

static void
openapi_every_operation_is_routed(void **state)
{
    static const char *const methods[] = {"get", "put", "post", "delete", "patch", "head", "options", "trace"};
    bson_iter_t paths, path, item;
    int failures = 0, operations = 0;
    assert_true(bson_iter_init_find(&paths, spec, "paths") && bson_iter_recurse(&paths, &path));
    while (bson_iter_next(&path)) {
        assert_true(bson_iter_recurse(&path, &item));
        while (bson_iter_next(&item)) {
            bool is_method = false;
            for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
                is_method = is_method || strcmp(bson_iter_key(&item), methods[m]) == 0;
            if (!is_method)
                continue;
            operations++;
            wanted_t w = {bson_iter_key(&path), bson_iter_key(&item), false};
            routes_each(find_route, &w);
            if (!w.found) {
                print_error("openapi.json has %s %s, which no route serves\n", w.method, w.path);
                failures++;
            }
        }
    }
    assert_true(operations > 0);
    assert_int_equal(failures, 0);
}

typedef struct {
    const char *op;
    bool found;
} routed_t;

static void
find_routed_op(const route_t *r, void *arg)
{
    routed_t *w = arg;
    if (strcmp(r->op, w->op) == 0)
        w->found = true;
}

/* Ops only services and internal callers use (docs/protocol.md says so). */
static const char *const internal_ops[] = {"users.by_place",
                                           "properties.ids",
                                           "properties.tick",
                                           "properties.media.piece",
                                           "properties.media.read",
                                           "listings.sync_property",
                                           NULL};

static void
contract_every_worker_op_is_routed_or_internal(void **state)
{
    int failures = 0;
    for (size_t s = 0; svc_services[s] != NULL; s++)
        for (const svc_op_t *o = svc_services[s]->ops; o->op != NULL; o++) {
            routed_t w = {o->op, false};
            routes_each(find_routed_op, &w);
            for (const char *const *i = internal_ops; *i != NULL && !w.found; i++)
                w.found = strcmp(*i, o->op) == 0;
            if (!w.found) {
                print_error("the worker op %s is neither routed nor a documented internal op\n", o->op);
                failures++;
            }
        }
    assert_int_equal(failures, 0);
}

static void
openapi_is_version_3_1(void **state)
{
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, spec, "openapi"));
    assert_true(strncmp(bson_iter_utf8(&it, NULL), "3.1", 3) == 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(openapi_is_version_3_1),
        cmocka_unit_test(openapi_every_route_is_documented),
        cmocka_unit_test(openapi_every_operation_is_routed),
        cmocka_unit_test(contract_every_worker_op_is_routed_or_internal),
    };
    return cmocka_run_group_tests_name("/openapi", tests, load_spec, free_spec);
}

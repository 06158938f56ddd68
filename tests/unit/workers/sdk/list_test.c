/* The list recipes (workers/sdk/list.c) over a store that lives in memory:
 * the linker sends the store's svc_count and svc_find_each here
 * (-Wl,--wrap, tests/CMakeLists.txt), so the page, the total, the OData
 * window and the errors are checked without a database. */
#include "roost_test.h"

#include "sdk/list.h"

#include <stdlib.h>

/* The fake collection: `ndocs` documents {_id: i, price: 10 * i}, in order. */
static struct {
    int ndocs;
    bool count_fails, find_fails, time_limit;
    bson_t last_filter, last_opts, last_count_filter;
    int finds, counts;
} store;

bool __wrap_svc_count(mongoc_collection_t *coll, const bson_t *filter, const bson_t *opts, int64_t *n,
                      bson_error_t *error);
bool __wrap_svc_find_each(mongoc_collection_t *coll, const bson_t *filter, const bson_t *opts, svc_each_fn fn,
                          void *arg, bson_error_t *error);

bool
__wrap_svc_count(mongoc_collection_t *coll, const bson_t *filter, const bson_t *opts, int64_t *n, bson_error_t *error)
{
    store.counts++;
    bson_destroy(&store.last_count_filter);
    bson_copy_to(filter, &store.last_count_filter);
    if (store.count_fails) {
        bson_set_error(error, MONGOC_ERROR_SERVER, store.time_limit ? 50 : 1, "count failed");
        *n = -1;
        return false;
    }
    *n = store.ndocs;
    return true;
}

bool
__wrap_svc_find_each(mongoc_collection_t *coll, const bson_t *filter, const bson_t *opts, svc_each_fn fn, void *arg,
                     bson_error_t *error)
{
    bson_iter_t it;
    int64_t skip = 0, limit = 0;
    store.finds++;
    bson_destroy(&store.last_filter);
    bson_destroy(&store.last_opts);
    bson_copy_to(filter, &store.last_filter);
    if (opts != NULL)
        bson_copy_to(opts, &store.last_opts);
    else
        bson_init(&store.last_opts);
    if (store.find_fails) {
        bson_set_error(error, MONGOC_ERROR_SERVER, store.time_limit ? 50 : 1, "operation exceeded time limit");
        return false;
    }
    if (opts != NULL && bson_iter_init_find(&it, opts, "skip"))
        skip = bson_iter_as_int64(&it);
    if (opts != NULL && bson_iter_init_find(&it, opts, "limit"))
        limit = bson_iter_as_int64(&it);
    for (int64_t i = skip; i < store.ndocs && (limit == 0 || i < skip + limit); i++) {
        bson_t *doc = BCON_NEW("_id", BCON_INT64(i + 1), "price", BCON_INT64(10 * (i + 1)), "secret", BCON_INT32(1));
        bool more = fn(doc, arg);
        bson_destroy(doc);
        if (!more)
            break;
    }
    return true;
}

static void
render(const bson_t *doc, bson_t *out)
{
    static const char *const fields[] = {"price", NULL};
    svc_render_fields(doc, fields, out);
}

static const odata_field_t fields[] = {
    {"id", "_id", ODATA_INT, ODATA_ALL},
    {"price", "price", ODATA_INT, ODATA_ALL},
};
static const odata_resource_t res = {fields, 2, "id", 2, 5, 100};

static void
reset(int ndocs)
{
    bson_destroy(&store.last_filter);
    bson_destroy(&store.last_opts);
    bson_destroy(&store.last_count_filter);
    memset(&store, 0, sizeof(store));
    bson_init(&store.last_filter);
    bson_init(&store.last_opts);
    bson_init(&store.last_count_filter);
    store.ndocs = ndocs;
}

static char *
body_of(svc_call_t *call, int status)
{
    ASSERT_STATUS(&call->reply, status);
    char *s = bson_as_relaxed_extended_json(&call->reply, NULL);
    bson_destroy(&call->reply);
    call->replied = false;
    return s;
}

/* A classic page: the total of `counted`, the page's documents, in order. */
static void
a_classic_page_and_its_total(void **state)
{
    envelope_request_t req = {.rid = "r"};
    svc_call_t call = {.req = &req};
    bson_t *filter = BCON_NEW("price", "{", "$gt", BCON_INT32(0), "}"), *counted = BCON_NEW("_id", BCON_INT32(1));
    reset(25);
    svc_list_page(&call, NULL, counted, filter, "price", -1, 3, 10, render);
    char *got = body_of(&call, 200);
    assert_non_null(strstr(got, "\"items\" : [ { \"id\" : 21, \"price\" : 210 }, { \"id\" : 22"));
    assert_non_null(strstr(got, "\"page\" : 3, \"per_page\" : 10, \"total\" : 25"));
    bson_free(got);
    char *opts = bson_as_relaxed_extended_json(&store.last_opts, NULL);
    assert_string_equal(opts, "{ \"sort\" : { \"price\" : -1, \"_id\" : -1 }, \"skip\" : 20, \"limit\" : 10 }");
    bson_free(opts);
    assert_true(bson_equal(&store.last_count_filter, counted));
    assert_true(bson_equal(&store.last_filter, filter));

    reset(25); /* without a filter of its own to count, the total counts the page's */
    svc_list_page(&call, NULL, NULL, filter, "price", 1, 1, 10, render);
    assert_true(bson_equal(&store.last_count_filter, filter));
    bson_free(body_of(&call, 200));

    reset(25);
    store.count_fails = true;
    svc_list_page(&call, NULL, NULL, filter, "price", 1, 1, 10, render);
    bson_free(body_of(&call, 500));
    assert_int_equal(store.finds, 0);
    bson_destroy(filter);
    bson_destroy(counted);
}

/* The OData window: $top documents from $skip, one more looked for to
 * tell a next page, the total only with $count, every read bounded in time. */
static void
an_odata_window(void **state)
{
    bson_t *query = roost_test_doc("{\"$top\": \"3\", \"$skip\": \"2\", \"$count\": \"true\"}");
    field_errors_t e;
    odata_query_t q;
    field_errors_init(&e);
    assert_true(odata_query_parse(&res, query, NULL, &q, &e));
    bson_t docs = BSON_INITIALIZER, filter = BSON_INITIALIZER;
    int64_t total;
    bool more;
    bson_error_t error;
    reset(10);
    assert_true(svc_odata_read(NULL, &q, &filter, &docs, &total, &more, &error));
    assert_int_equal(total, 10);
    assert_true(more);
    assert_int_equal(bson_count_keys(&docs), 3);
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, &store.last_opts, "limit"));
    assert_int_equal(bson_iter_as_int64(&it), 4);
    assert_true(bson_iter_init_find(&it, &store.last_opts, "maxTimeMS"));
    bson_reinit(&docs);
    reset(5); /* documents 3..5 are the last: no next page */
    assert_true(svc_odata_read(NULL, &q, &filter, &docs, &total, &more, &error));
    assert_false(more);
    assert_int_equal(bson_count_keys(&docs), 3);
    bson_reinit(&docs);
    reset(5);
    store.find_fails = store.time_limit = true;
    assert_false(svc_odata_read(NULL, &q, &filter, &docs, &total, NULL, &error));
    assert_true(svc_is_time_limit(&error));
    odata_query_destroy(&q);
    field_errors_destroy(&e);
    bson_destroy(&docs);
    bson_destroy(&filter);
    bson_destroy(query);
}

/* The OData list op: the window rendered and cut by $select; legacy
 * parameters beside $options refused; a read past its time a 400. */
static void
the_odata_list_op(void **state)
{
    envelope_request_t req = {.rid = "r"};
    svc_call_t call = {.req = &req};
    bson_t *base = BCON_NEW("deleted_at", "{", "$exists", BCON_BOOL(false), "}");
    bson_t *q = roost_test_doc("{\"$top\": \"2\", \"$select\": \"price\", \"$count\": \"true\"}");
    bson_copy_to(q, &req.query);
    reset(7);
    svc_odata_list(&call, &res, NULL, base, NULL, render);
    char *got = body_of(&call, 200);
    assert_non_null(strstr(got, "\"items\" : [ { \"id\" : 1, \"price\" : 10 }, { \"id\" : 2, \"price\" : 20 } ]"));
    assert_non_null(strstr(got, "\"skip\" : 0, \"top\" : 2, \"total\" : 7"));
    assert_null(strstr(got, "secret"));
    bson_free(got);
    assert_true(bson_has_field(&store.last_filter, "deleted_at"));
    bson_destroy(&req.query);
    bson_destroy(q);

    q = roost_test_doc("{\"$top\": \"2\", \"page\": \"1\"}");
    bson_copy_to(q, &req.query);
    reset(7);
    svc_odata_list(&call, &res, NULL, base, NULL, render);
    got = body_of(&call, 400);
    assert_non_null(strstr(got, "cannot be combined with the OData options"));
    bson_free(got);
    assert_int_equal(store.finds + store.counts, 0);
    bson_destroy(&req.query);
    bson_destroy(q);

    q = roost_test_doc("{\"$top\": \"2\"}");
    bson_copy_to(q, &req.query);
    reset(7);
    store.find_fails = store.time_limit = true;
    svc_odata_list(&call, &res, NULL, base, NULL, render);
    got = body_of(&call, 400);
    assert_non_null(strstr(got, "query_too_costly"));
    bson_free(got);
    bson_destroy(&req.query);
    bson_destroy(q);
    bson_destroy(base);
}

int
main(void)
{
    setenv("ROOST_LOG_LEVEL", "error", 1);
    bson_init(&store.last_filter);
    bson_init(&store.last_opts);
    bson_init(&store.last_count_filter);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_classic_page_and_its_total),
        cmocka_unit_test(an_odata_window),
        cmocka_unit_test(the_odata_list_op),
    };
    int failed = cmocka_run_group_tests_name("/sdk/list", tests, NULL, NULL);
    reset(0);
    bson_destroy(&store.last_filter);
    bson_destroy(&store.last_opts);
    bson_destroy(&store.last_count_filter);
    return failed;
}

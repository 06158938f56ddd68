/* A list op answered with the OData system query options (odata_list.h). */
#include "odata_list.h"
#include "config.h"

#include <string.h>

int64_t
svc_query_max_time_ms(void)
{
    return cfg_int("ROOST_QUERY_MAX_TIME_MS", 2000, 10, 600000);
}

bool
svc_is_time_limit(const bson_error_t *error)
{
    return error->code == 50 || strstr(error->message, "MaxTimeMSExpired") != NULL ||
           strstr(error->message, "exceeded time limit") != NULL;
}

void
svc_fail_read(svc_call_t *call, const bson_error_t *error)
{
    if (svc_is_time_limit(error))
        svc_fail(call, 400, "query_too_costly",
                 "the database gave up on this query after %lld ms: add a condition on an indexed field "
                 "(docs/query.md lists them)",
                 (long long)svc_query_max_time_ms());
    else
        svc_fail_db(call, error);
}

void
svc_odata_list(svc_call_t *call, const odata_resource_t *res, mongoc_collection_t *collection, const bson_t *base,
               const bson_t *default_sort, svc_render_fn render)
{
    const bson_t *query = &call->req->query;
    field_errors_t errors;
    odata_query_t q;
    bson_error_t error;
    bson_t filter = BSON_INITIALIZER;

    field_errors_init(&errors);
    /* One style per request: a page of the legacy parameters and an
     * OData window cannot both apply. */
    odata_refuse_plain(query,
                       "cannot be combined with the OData options ($filter, $select, $orderby, $top, $skip, $count): "
                       "use one style per request",
                       &errors);
    bool ok = odata_query_parse(res, query, default_sort, &q, &errors) && errors.count == 0;
    if (!ok) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    bson_concat(&filter, base);
    bson_concat(&filter, &q.filter);
    int64_t total = -1;
    if (q.count) {
        bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(svc_query_max_time_ms()));
        total = mongoc_collection_count_documents(collection, &filter, opts, NULL, NULL, &error);
        bson_destroy(opts);
        if (total < 0) {
            svc_fail_read(call, &error);
            goto done;
        }
    }
    bson_t body = BSON_INITIALIZER, items;
    BSON_APPEND_ARRAY_BEGIN(&body, "items", &items);
    uint32_t n = 0;
    if (q.top > 0) {
        bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(svc_query_max_time_ms()), "skip", BCON_INT64(q.skip), "limit",
                                BCON_INT64(q.top));
        BSON_APPEND_DOCUMENT(opts, "sort", &q.sort);
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(collection, &filter, opts, NULL);
        const bson_t *doc;
        while (mongoc_cursor_next(cursor, &doc)) {
            char key[16];
            bson_t rendered, out;
            render(doc, &rendered);
            odata_select(res, &q, &rendered, &out);
            snprintf(key, sizeof(key), "%u", n++);
            BSON_APPEND_DOCUMENT(&items, key, &out);
            bson_destroy(&out);
            bson_destroy(&rendered);
        }
        ok = !mongoc_cursor_error(cursor, &error);
        mongoc_cursor_destroy(cursor);
        bson_destroy(opts);
    }
    bson_append_array_end(&body, &items);
    BSON_APPEND_INT64(&body, "skip", q.skip);
    BSON_APPEND_INT64(&body, "top", q.top);
    if (total >= 0)
        BSON_APPEND_INT64(&body, "total", total);
    if (!ok)
        svc_fail_read(call, &error);
    else
        svc_reply(call, 200, &body);
    bson_destroy(&body);
done:
    odata_query_destroy(&q);
    field_errors_destroy(&errors);
    bson_destroy(&filter);
}

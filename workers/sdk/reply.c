/* Replies: the envelope a handler answers with, and its failure shapes. */
#include "service.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

void
svc_reply(svc_call_t *call, int status, const bson_t *body)
{
    if (call->replied)
        bson_destroy(&call->reply);
    envelope_reply_ok(&call->reply, call->req->rid, status, body);
    call->replied = true;
}

void
svc_fail(svc_call_t *call, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = bson_strdupv_printf(fmt, ap); /* whole: a message is never cut */
    va_end(ap);
    if (call->replied)
        bson_destroy(&call->reply);
    envelope_reply_error(&call->reply, call->req->rid, status, code, message, NULL);
    call->replied = true;
    bson_free(message);
}

void
svc_fail_fields(svc_call_t *call, const field_errors_t *errors)
{
    if (call->replied)
        bson_destroy(&call->reply);
    envelope_reply_error(&call->reply, call->req->rid, 400, "validation_failed", "the request has invalid fields",
                         &errors->list);
    call->replied = true;
}

void
svc_retry_after(svc_call_t *call, int64_t seconds)
{
    if (call->replied)
        envelope_reply_add_retry_after(&call->reply, seconds);
}

void
svc_rate_limit(svc_call_t *call, const envelope_rate_limit_t *state)
{
    if (call->replied)
        envelope_reply_add_rate_limit(&call->reply, state);
}

void
svc_fail_db(svc_call_t *call, const bson_error_t *error)
{
    if (error->domain == MONGOC_ERROR_SERVER_SELECTION || error->domain == MONGOC_ERROR_STREAM) {
        log_warn("rid=%s op=%s database unavailable: %s", call->req->rid, call->req->op, error->message);
        svc_fail(call, 503, "database_unavailable", "the database cannot be reached; retry later");
        svc_retry_after(call, 1);
        return;
    }
    log_error("rid=%s op=%s database error %u.%u: %s", call->req->rid, call->req->op, error->domain, error->code,
              error->message);
    svc_fail(call, 500, "internal", "the database failed this request");
}

void
svc_render_fields(const bson_t *doc, const char *const *fields, bson_t *out)
{
    bson_iter_t it;
    bson_init(out);
    if (bson_iter_init_find(&it, doc, "_id"))
        BSON_APPEND_INT64(out, "id", bson_iter_as_int64(&it));
    for (; *fields != NULL; fields++)
        if (bson_iter_init_find(&it, doc, *fields))
            bson_append_iter(out, *fields, -1, &it);
}

/* What svc_reply_page renders into. */
typedef struct {
    bson_t *items;
    svc_render_fn render;
    uint32_t n;
} svc_page_items_t;

static bool
svc_page_item(const bson_t *doc, void *arg)
{
    svc_page_items_t *p = arg;
    char key[16];
    bson_t out;
    snprintf(key, sizeof(key), "%u", p->n++);
    p->render(doc, &out);
    BSON_APPEND_DOCUMENT(p->items, key, &out);
    bson_destroy(&out);
    return true;
}

void
svc_reply_page(svc_call_t *call, mongoc_collection_t *coll, const bson_t *filter, const bson_t *opts,
               svc_render_fn render, const svc_page_t *page)
{
    bson_t body = BSON_INITIALIZER, items;
    bson_error_t error;
    BSON_APPEND_ARRAY_BEGIN(&body, page->items_key, &items);
    svc_page_items_t p = {.items = &items, .render = render};
    bool ok = svc_find_each(coll, filter, opts, svc_page_item, &p, &error);
    bson_append_array_end(&body, &items);
    if (page->total >= 0) {
        BSON_APPEND_INT64(&body, "page", page->page);
        BSON_APPEND_INT64(&body, "per_page", page->per_page);
        BSON_APPEND_INT64(&body, "total", page->total);
    }
    if (!ok)
        svc_fail_db(call, &error);
    else
        svc_reply(call, 200, &body);
    bson_destroy(&body);
}

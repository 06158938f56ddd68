/* Replies: the envelope a handler answers with, and its failure shapes. */
#include "service.h"
#include "list.h"
#include "config.h"
#include "query/validate.h"
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
svc_call_quiet(const svc_call_t *call, svc_call_t *quiet)
{
    *quiet = *call;
    bson_init(&quiet->reply);
    quiet->replied = false;
}

void
svc_call_quiet_end(svc_call_t *quiet)
{
    bson_destroy(&quiet->reply);
}

int
svc_replied_status(const svc_call_t *call)
{
    bson_iter_t it;
    if (!call->replied || !bson_iter_init_find(&it, &call->reply, "status"))
        return 0;
    return (int)bson_iter_as_int64(&it);
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

int64_t
svc_page_budget(void)
{
    return cfg_max_reply_bytes();
}

void
svc_fail_too_large(svc_call_t *call, int64_t bytes)
{
    /* A write whose answer is too large was still done: say so, so that
     * nobody retries it with a new request id. */
    bson_iter_t it;
    bool done = call->replied && bson_iter_init_find(&it, &call->reply, "status") && BSON_ITER_HOLDS_INT(&it) &&
                bson_iter_as_int64(&it) / 100 == 2;
    log_error("rid=%s op=%s a reply of %lld bytes or more is past the %lld a reply may carry "
              "(ROOST_MAX_MESSAGE_BYTES less a sixteenth)%s",
              call->req->rid, call->req->op, (long long)bytes, (long long)cfg_max_reply_bytes(),
              done ? "; the request itself was done" : "");
    svc_fail(call, 500, "reply_too_large",
             "%sthe answer (%lld bytes or more) is larger than a reply may carry (%lld bytes)",
             done ? "the request was carried out, but " : "", (long long)bytes, (long long)cfg_max_reply_bytes());
}

/* Room for a list's fields besides its items (page, per_page, total, ...). */
#define SVC_PAGE_OTHER_FIELDS 256

void
svc_page_items_init(svc_page_items_t *p, bson_t *items)
{
    *p = (svc_page_items_t){.items = items, .budget = svc_page_budget() - SVC_PAGE_OTHER_FIELDS};
}

bool
svc_page_add(svc_page_items_t *p, const bson_t *item)
{
    char key[16];
    int key_len = snprintf(key, sizeof(key), "%u", p->n);
    int64_t size = (int64_t)item->len + key_len + 2; /* type byte, key, NUL */
    if (size > p->budget) {
        p->refused = size;
        return false;
    }
    p->budget -= size;
    p->n++;
    BSON_APPEND_DOCUMENT(p->items, key, item);
    return true;
}

int64_t
svc_page_bytes(const svc_page_items_t *p)
{
    return svc_page_budget() - SVC_PAGE_OTHER_FIELDS - p->budget + p->refused;
}

/* What svc_reply_page renders into: a standalone array, so that a page cut
 * short can keep only its first items. */
typedef struct {
    svc_page_items_t page;
    svc_render_fn render;
} svc_page_render_t;

static bool
svc_page_item(const bson_t *doc, void *arg)
{
    svc_page_render_t *r = arg;
    bson_t out;
    r->render(doc, &out);
    bool added = svc_page_add(&r->page, &out);
    bson_destroy(&out);
    return added;
}

int64_t
svc_page_fit(svc_page_t *page, int64_t fit)
{
    int64_t before = (page->page - 1) * page->per_page, size = fit;
    /* A page number past VALIDATE_PAGE_MAX would be a Link the list refuses. */
    while (size > 0 && (before % size != 0 || before / size + 1 > VALIDATE_PAGE_MAX))
        size--;
    if (size == 0)
        return 0;
    page->page = before / size + 1;
    page->per_page = size;
    return size;
}

void
svc_reply_page(svc_call_t *call, mongoc_collection_t *coll, const bson_t *filter, const bson_t *opts,
               svc_render_fn render, const svc_page_t *page)
{
    bson_t body = BSON_INITIALIZER, items = BSON_INITIALIZER, out;
    bson_error_t error;
    bson_iter_t it;
    svc_page_t fit = *page;
    svc_page_render_t r = {.render = render};
    svc_page_items_init(&r.page, &items);
    const svc_page_items_t *p = &r.page;
    bool read = page->pipeline != NULL ? svc_aggregate_each(coll, page->pipeline, opts, svc_page_item, &r, &error)
                                       : svc_find_each(coll, filter, opts, svc_page_item, &r, &error);
    if (!read) {
        svc_fail_read(call, &error); /* a read past maxTimeMS is the client's 400, not a failure */
        goto done;
    }
    int64_t keep = p->n;
    if (p->refused > 0) {
        if (p->n == 0 || page->total < 0 || (keep = svc_page_fit(&fit, p->n)) == 0) {
            svc_fail_too_large(call, svc_page_bytes(p));
            goto done;
        }
        log_info("rid=%s op=%s page %lld of %lld items answered as page %lld of %lld: the items pass what a "
                 "reply may carry",
                 call->req->rid, call->req->op, (long long)page->page, (long long)page->per_page, (long long)fit.page,
                 (long long)fit.per_page);
    }
    if (keep == p->n) {
        BSON_APPEND_ARRAY(&body, page->items_key, &items);
    } else {
        BSON_APPEND_ARRAY_BEGIN(&body, page->items_key, &out);
        bson_iter_init(&it, &items);
        for (int64_t i = 0; i < keep && bson_iter_next(&it); i++)
            bson_append_iter(&out, bson_iter_key(&it), -1, &it);
        bson_append_array_end(&body, &out);
    }
    if (page->total >= 0) {
        BSON_APPEND_INT64(&body, "page", fit.page);
        BSON_APPEND_INT64(&body, "per_page", fit.per_page);
        BSON_APPEND_INT64(&body, "total", fit.total);
    }
    svc_reply(call, 200, &body);
done:
    bson_destroy(&items);
    bson_destroy(&body);
}

/* Replies: every answer a handler gives, success, failure or a page of documents. */
#ifndef ROOST_SDK_REPLY_H
#define ROOST_SDK_REPLY_H

#include "service.h"

void svc_reply(svc_call_t *call, int status, const bson_t *body);
void svc_fail(svc_call_t *call, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 400 validation_failed with every collected field error. */
void svc_fail_fields(svc_call_t *call, const field_errors_t *errors);
/* After a svc_fail: adds when to try again, in seconds (Retry-After). */
void svc_retry_after(svc_call_t *call, int64_t seconds);
/* Adds the state of the rate limit that applied (RateLimit headers). */
void svc_rate_limit(svc_call_t *call, const envelope_rate_limit_t *state);
/* 503 (Retry-After 1) when the database cannot be reached, 500 otherwise; logs the cause. */
void svc_fail_db(svc_call_t *call, const bson_error_t *error);

/* Renders a stored document into its public shape (out uninitialised on entry). */
typedef void (*svc_render_fn)(const bson_t *doc, bson_t *out);

/* The usual public shape: "id" from _id, then each of the NULL-terminated
 * `fields` the document has, in that order. */
void svc_render_fields(const bson_t *doc, const char *const *fields, bson_t *out);

/* What a list reply holds besides its items. */
typedef struct {
    const char *items_key;         /* "items", or the classic contract's "users" / "listings" */
    int64_t page, per_page, total; /* appended after the items when total >= 0 */
    const bson_t *pipeline;        /* read by this aggregation rather than find(filter, opts) */
} svc_page_t;

/*
 * Replies 200 with every document of `coll` that `filter` matches (find
 * `opts`: the page's sort, skip and limit) rendered under page->items_key,
 * or the database's error. A page whose items would pass what a reply may
 * carry (cfg_max_reply_bytes) is answered smaller: svc_page_fit's page and
 * per_page, from which the ingress's Link gives the rest. A page without
 * paging fields (total < 0) cannot say so, and is 500 reply_too_large.
 */
void svc_reply_page(svc_call_t *call, mongoc_collection_t *coll, const bson_t *filter, const bson_t *opts,
                    svc_render_fn render, const svc_page_t *page);

/*
 * When only the first `fit` (>= 1) items of `page` fit in a reply: makes
 * page->per_page the largest count <= fit that divides the items before
 * the page, and page->page the page of that size starting at the same
 * item, so that the pages after it, of the new size, follow on without a
 * gap or an overlap. Returns the new per_page; 0 (page unchanged) when
 * every such page would be past VALIDATE_PAGE_MAX.
 */
int64_t svc_page_fit(svc_page_t *page, int64_t fit);

/* The bytes of a page's items before it is cut (cfg_max_reply_bytes). */
int64_t svc_page_budget(void);

/* A page's items as they are added, within svc_page_budget (less room for
 * the list's other fields). */
typedef struct {
    bson_t *items;   /* the array they go to, under keys "0", "1", ... */
    uint32_t n;      /* how many went in */
    int64_t budget;  /* bytes the items may still take */
    int64_t refused; /* the size of the first item that did not fit; 0: all did */
} svc_page_items_t;

void svc_page_items_init(svc_page_items_t *p, bson_t *items);
/* Appends `item` as the next one when it fits; false, nothing appended,
 * when it does not (p->refused is then its size). */
bool svc_page_add(svc_page_items_t *p, const bson_t *item);
/* The bytes the page would have taken up to its first refused item. */
int64_t svc_page_bytes(const svc_page_items_t *p);

/* A copy of `call` whose replies go nowhere: for work after the reply is
 * decided (a best-effort sync) whose failures must not become the client's
 * answer. End it with svc_call_quiet_end. */
void svc_call_quiet(const svc_call_t *call, svc_call_t *quiet);
void svc_call_quiet_end(svc_call_t *quiet);

/* The status the call has replied so far; 0 when it has not. */
int svc_replied_status(const svc_call_t *call);

/* 500 reply_too_large, logged: one item is past what a reply may carry. */
void svc_fail_too_large(svc_call_t *call, int64_t bytes);

#endif

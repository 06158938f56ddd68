/* Bulk creates (bulk.h). */
#include "bulk.h"
#include "reply.h"

#include <stdio.h>
#include <sodium.h>
#include <string.h>

/* Copies the item's answer out of its reply envelope into `result`. */
static void
bulk_result(const bson_t *reply, bson_t *result)
{
    bson_iter_t it;
    int status = bson_iter_init_find(&it, reply, "status") ? (int)bson_iter_as_int64(&it) : 500;
    BSON_APPEND_INT32(result, "status", status);
    if (bson_iter_init_find(&it, reply, "body") && BSON_ITER_HOLDS_DOCUMENT(&it))
        bson_append_iter(result, "body", -1, &it);
    if (bson_iter_init_find(&it, reply, "error") && BSON_ITER_HOLDS_DOCUMENT(&it))
        bson_append_iter(result, "error", -1, &it);
}

/*
 * The rid of item `i` of the bulk whose rid is `rid`: a digest of the
 * whole rid (BLAKE2b, 16 bytes, in hex) and ".<i>". Never a cut of the
 * client's id: two bulks whose ids share a prefix are two requests; and
 * never the id itself with a suffix, which a single create may use as its
 * own ("<rid>.0").
 */
static void
bulk_item_rid(const char *rid, uint32_t i, char out[ENVELOPE_RID_MAX + 1])
{
    unsigned char digest[16];
    char hex[2 * sizeof(digest) + 1];
    crypto_generichash(digest, sizeof(digest), (const unsigned char *)rid, strlen(rid), NULL, 0);
    sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
    snprintf(out, ENVELOPE_RID_MAX + 1, "%s.%u", hex, i);
}

void
svc_create_many(svc_call_t *call, const char *op, svc_handler_fn create)
{
    const envelope_request_t *req = call->req;
    field_errors_t errors;
    bson_iter_t it, items;
    uint32_t count = 0;

    field_errors_init(&errors);
    if (!bson_iter_init_find(&it, &req->body, "items") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &items)) {
        field_errors_add(&errors, "items", "is required: an array of 1 to %d objects", SVC_BULK_MAX);
    } else {
        bson_iter_t probe = items;
        while (bson_iter_next(&probe)) {
            if (!BSON_ITER_HOLDS_DOCUMENT(&probe))
                field_errors_add(&errors, "items", "item %u is not an object", count);
            count++;
        }
        if (count == 0 || count > SVC_BULK_MAX)
            field_errors_add(&errors, "items", "holds %u items: a bulk create takes 1 to %d", count, SVC_BULK_MAX);
    }
    bson_iter_t others;
    bson_iter_init(&others, &req->body);
    while (bson_iter_next(&others))
        if (strcmp(bson_iter_key(&others), "items") != 0)
            field_errors_add(&errors, bson_iter_key(&others), "unknown field: a bulk create's body is {items: [...]}");
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        field_errors_destroy(&errors);
        return;
    }
    field_errors_destroy(&errors);

    bson_t body = BSON_INITIALIZER, results;
    BSON_APPEND_ARRAY_BEGIN(&body, "items", &results);
    uint32_t i = 0;
    while (bson_iter_next(&items)) {
        uint32_t len;
        const uint8_t *data;
        bson_iter_document(&items, &len, &data);
        /* The item as a create request of its own: its body, and a rid
         * derived from the whole of the bulk's (bulk_item_rid). */
        envelope_request_t item = *req;
        bson_init_static(&item.body, data, len);
        snprintf(item.op, sizeof(item.op), "%s", op);
        bulk_item_rid(req->rid, i, item.rid);
        svc_call_t sub = {.req = &item, .mongo = call->mongo, .has_token = call->has_token, .token = call->token};
        char fingerprint[33];
        svc_request_fingerprint(&sub, fingerprint);
        snprintf(sub.key, sizeof(sub.key), "%s:%s", item.rid, fingerprint);
        create(&sub);
        if (!sub.replied)
            svc_fail(&sub, 500, "internal", "op '%s' gave no reply", op);
        char key[16];
        bson_t result;
        snprintf(key, sizeof(key), "%u", i++);
        BSON_APPEND_DOCUMENT_BEGIN(&results, key, &result);
        bulk_result(&sub.reply, &result);
        bson_append_document_end(&results, &result);
        bson_destroy(&sub.reply);
    }
    bson_append_array_end(&body, &results);
    svc_reply(call, 207, &body);
    bson_destroy(&body);
}

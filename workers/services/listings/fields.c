/* Field rules of the listings service: pure functions, unit-tested. */
#include "listings.h"

#include <string.h>

static bool
listings_type_ok(const bson_iter_t *it, const char **out)
{
    if (!BSON_ITER_HOLDS_UTF8(it))
        return false;
    const char *s = bson_iter_utf8(it, NULL);
    if (strcmp(s, "rent") != 0 && strcmp(s, "sale") != 0)
        return false;
    *out = s;
    return true;
}

bool
listings_check_classic(const bson_t *body, field_errors_t *e, listings_new_t *out)
{
    static const char *const fields[] = {"user_id", "listing_type", "price", NULL};
    uint32_t before = e->count;
    bson_iter_t it;

    memset(out, 0, sizeof(*out));
    validate_known_fields(body, fields, e);
    if (!bson_iter_init_find(&it, body, "user_id"))
        field_errors_add(e, "user_id", "user_id is required");
    else if (!validate_as_int(&it, &out->user_id) || out->user_id <= 0)
        field_errors_add(e, "user_id", "invalid user_id");
    if (!bson_iter_init_find(&it, body, "listing_type"))
        field_errors_add(e, "listing_type", "listing_type is required");
    else if (!listings_type_ok(&it, &out->listing_type))
        field_errors_add(e, "listing_type", "invalid listing_type. Supported values: 'rent', 'sale'");
    if (!bson_iter_init_find(&it, body, "price"))
        field_errors_add(e, "price", "price is required");
    else if (!validate_as_int(&it, &out->price))
        field_errors_add(e, "price", "invalid price. Must be an integer");
    else if (out->price < 1)
        field_errors_add(e, "price", "price must be greater than 0");
    else if (out->price > LISTINGS_PRICE_MAX)
        field_errors_add(e, "price", "price must be at most %lld", LISTINGS_PRICE_MAX);
    return e->count == before;
}

bool
listings_check_main(const bson_t *body, bool patch, field_errors_t *e, listings_new_t *out)
{
    static const char *const fields[] = {"listing_type", "price", "property_id", NULL};
    uint32_t before = e->count;
    bson_iter_t it;

    memset(out, 0, sizeof(*out));
    validate_known_fields(body, fields, e);
    if (!bson_iter_init_find(&it, body, "listing_type")) {
        if (!patch)
            field_errors_add(e, "listing_type", "is required");
    } else if (!listings_type_ok(&it, &out->listing_type)) {
        field_errors_add(e, "listing_type", "must be \"rent\" or \"sale\"");
    }
    if (!bson_iter_init_find(&it, body, "price")) {
        if (!patch)
            field_errors_add(e, "price", "is required");
    } else if (!BSON_ITER_HOLDS_INT(&it)) {
        field_errors_add(e, "price", "must be an integer");
    } else if ((out->price = bson_iter_as_int64(&it)) < 1 || out->price > LISTINGS_PRICE_MAX) {
        field_errors_add(e, "price", "must be between 1 and %lld", LISTINGS_PRICE_MAX);
    }
    if (bson_iter_init_find(&it, body, "property_id")) {
        if (patch && BSON_ITER_HOLDS_NULL(&it))
            out->property_id = -1;
        else if (!BSON_ITER_HOLDS_INT(&it) || (out->property_id = bson_iter_as_int64(&it)) <= 0)
            field_errors_add(e, "property_id",
                             patch ? "must be a positive integer property id, or null"
                                   : "must be a positive integer property id");
    }
    return e->count == before;
}

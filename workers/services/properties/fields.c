/* Field rules of the properties service: pure functions, unit-tested. */
#include "properties.h"
#include "query/geo.h"
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const properties_types[] = {"apartment",  "house", "studio", "villa", "land",
                                        "commercial", "cabin", "room",   NULL};
const char *const properties_room_kinds[] = {"bedroom", "kitchen", "bathroom", "living",  "dining", "office",
                                             "garage",  "storage", "balcony",  "laundry", "other",  NULL};

static const char *const properties_fields[] = {"name",    "description", "type",     "city",
                                                "address", "rooms",       "location", NULL};
static const char *const properties_room_fields[] = {"name", "kind", "area_m2", "characteristics", NULL};

static bool
properties_in(const char *s, const char *const *set)
{
    for (; *set != NULL; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

/* "a, b, c": the members of a documented set, for an error message; bson_free it. */
static char *
properties_list_names(const char *const *set)
{
    bson_string_t *out = bson_string_new(NULL);
    for (; *set != NULL; set++)
        bson_string_append_printf(out, "%s%s", out->len ? ", " : "", *set);
    return bson_string_free(out, false);
}

/* A text field that may be required, or null in a patch only if `nullable`. */
static void
properties_text(const bson_t *doc, const char *key, const char *field, bool required, bool nullable, size_t min,
                size_t max, field_errors_t *e, const char **out)
{
    bson_iter_t it;
    *out = NULL;
    if (!bson_iter_init_find(&it, doc, key)) {
        if (required)
            field_errors_add(e, field, "is required");
        return;
    }
    if (BSON_ITER_HOLDS_NULL(&it)) {
        if (!nullable)
            field_errors_add(e, field, "cannot be null");
        return;
    }
    validate_text(&it, e, field, min, max, out);
}

/* One coordinate of a location, in [-limit, limit]. */
static void
properties_coordinate(const bson_t *loc, const char *key, double limit, field_errors_t *e)
{
    bson_iter_t it;
    char field[16];
    snprintf(field, sizeof(field), "location.%s", key);
    if (!bson_iter_init_find(&it, loc, key))
        field_errors_add(e, field, "is required: a location has both lat and lon");
    else if (!BSON_ITER_HOLDS_NUMBER(&it) || !(fabs(bson_iter_as_double(&it)) <= limit))
        field_errors_add(e, field, "must be a number from %g to %g (WGS84 degrees)", -limit, limit);
}

bool
properties_check_location(const bson_t *body, field_errors_t *e)
{
    uint32_t before = e->count;
    bson_iter_t it;
    bson_t loc;
    if (!bson_iter_init_find(&it, body, "location") || BSON_ITER_HOLDS_NULL(&it))
        return true;
    if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !properties_view(&it, &loc)) {
        field_errors_add(e, "location", "must be an object {\"lat\": …, \"lon\": …} or null");
        return false;
    }
    bson_iter_init(&it, &loc);
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (strcmp(key, "lat") != 0 && strcmp(key, "lon") != 0) {
            char *name = text_excerpt(key, 64);
            field_errors_add(e, "location", "unknown field '%s': a location is {\"lat\", \"lon\"}", name);
            free(name);
        }
    }
    properties_coordinate(&loc, "lat", 90, e);
    properties_coordinate(&loc, "lon", 180, e);
    return e->count == before;
}

void
properties_append_location(bson_t *doc, const bson_t *body)
{
    bson_iter_t it;
    bson_t loc;
    if (bson_iter_init_find(&it, body, "location") && properties_view(&it, &loc))
        geo_point_store(doc, "location", &loc);
}

bool
properties_check_fields(const bson_t *body, bool required, field_errors_t *e)
{
    uint32_t before = e->count;
    const char *s;

    properties_text(body, "name", "name", required, false, 1, 200, e, &s);
    properties_text(body, "description", "description", false, true, 0, 5000, e, &s);
    properties_text(body, "city", "city", required, false, 1, 100, e, &s);
    properties_text(body, "address", "address", required, false, 1, 300, e, &s);
    properties_text(body, "type", "type", required, false, 1, 32, e, &s);
    if (s != NULL && !properties_in(s, properties_types)) {
        char *names = properties_list_names(properties_types);
        field_errors_add(e, "type", "must be one of %s", names);
        bson_free(names);
    }
    properties_check_location(body, e);
    return e->count == before;
}

static bool
properties_check_characteristics(const bson_iter_t *it, const char *field, bool patch, field_errors_t *e)
{
    bson_iter_t c;
    uint32_t n = 0;
    if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &c)) {
        field_errors_add(e, field, "must be an object of scalar values");
        return false;
    }
    while (bson_iter_next(&c)) {
        const char *key = bson_iter_key(&c);
        if (++n > PROPERTIES_MAX_CHARACTERISTICS) {
            field_errors_add(e, field, "may hold at most %d characteristics", PROPERTIES_MAX_CHARACTERISTICS);
            return false;
        }
        char *sub = bson_strdup_printf("%s.%s", field, key);
        long key_chars = text_chars(key, strlen(key));
        if (key[0] == '$' || strchr(key, '.') != NULL || key_chars < 1 || key_chars > 64) {
            field_errors_add(
                e, sub, "a characteristic's name must have 1 to 64 characters, not start with '$' nor contain '.'");
            bson_free(sub);
            continue;
        }
        const char *text;
        switch (bson_iter_type(&c)) {
        case BSON_TYPE_UTF8:
            validate_text(&c, e, sub, 0, 200, &text);
            break;
        case BSON_TYPE_INT32:
        case BSON_TYPE_INT64:
        case BSON_TYPE_DOUBLE:
        case BSON_TYPE_BOOL:
            break;
        case BSON_TYPE_NULL:
            if (!patch)
                field_errors_add(e, sub, "must be a string, number or boolean");
            break;
        default:
            field_errors_add(e, sub, "must be a string, number or boolean");
        }
        bson_free(sub);
    }
    return true;
}

bool
properties_check_room(const bson_t *room, bool required, const char *prefix, field_errors_t *e)
{
    uint32_t before = e->count;
    bson_iter_t it;
    const char *s;
    char *field = NULL;

    /* The path of one of the room's fields, e.g. "rooms[2].kind"; freed at the next use. */
#define ROOM_FIELD(name) (bson_free(field), field = bson_strdup_printf("%s%s%s", prefix, prefix[0] ? "." : "", name))
    /* Unknown keys are reported under their full path. */
    bson_iter_init(&it, room);
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        char *name = text_excerpt(key, 64);
        if (key[0] == '$')
            field_errors_add(e, ROOM_FIELD(key), "operator key '%s' is not accepted", name);
        else if (!properties_in(key, properties_room_fields))
            field_errors_add(e, ROOM_FIELD(key), "unknown field '%s'", name);
        free(name);
    }

    properties_text(room, "name", ROOM_FIELD("name"), required, false, 1, 100, e, &s);
    properties_text(room, "kind", ROOM_FIELD("kind"), required, false, 1, 32, e, &s);
    if (s != NULL && !properties_in(s, properties_room_kinds)) {
        char *names = properties_list_names(properties_room_kinds);
        field_errors_add(e, ROOM_FIELD("kind"), "must be one of %s", names);
        bson_free(names);
    }
    if (!bson_iter_init_find(&it, room, "area_m2")) {
        if (required)
            field_errors_add(e, ROOM_FIELD("area_m2"), "is required");
    } else if (!BSON_ITER_HOLDS_NUMBER(&it)) {
        field_errors_add(e, ROOM_FIELD("area_m2"), "must be a number");
    } else {
        double a = bson_iter_as_double(&it);
        if (!(a > 0 && a <= 100000))
            field_errors_add(e, ROOM_FIELD("area_m2"), "must be greater than 0 and at most 100000");
    }
    if (bson_iter_init_find(&it, room, "characteristics"))
        properties_check_characteristics(&it, ROOM_FIELD("characteristics"), !required, e);
#undef ROOM_FIELD
    bson_free(field);
    return e->count == before;
}

bool
properties_validate_new(const bson_t *body, field_errors_t *e)
{
    uint32_t before = e->count;
    bson_iter_t it, rooms;

    validate_known_fields(body, properties_fields, e);
    properties_check_fields(body, true, e);
    if (bson_iter_init_find(&it, body, "rooms")) {
        if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &rooms)) {
            field_errors_add(e, "rooms", "must be an array of rooms");
        } else {
            uint32_t i = 0;
            while (bson_iter_next(&rooms)) {
                char prefix[32];
                snprintf(prefix, sizeof(prefix), "rooms[%u]", i);
                if (++i > PROPERTIES_MAX_ROOMS) {
                    field_errors_add(e, "rooms", "may hold at most %d rooms", PROPERTIES_MAX_ROOMS);
                    break;
                }
                bson_t room;
                uint32_t len;
                const uint8_t *data;
                if (!BSON_ITER_HOLDS_DOCUMENT(&rooms)) {
                    field_errors_add(e, prefix, "must be an object");
                    continue;
                }
                bson_iter_document(&rooms, &len, &data);
                bson_init_static(&room, data, len);
                properties_check_room(&room, true, prefix, e);
            }
        }
    }
    return e->count == before;
}

/* Field rules of the properties service: pure functions, unit-tested. */
#include "properties.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const props_types[] = {"apartment", "house", "studio", "villa", "land",
                                   "commercial", "cabin", "room",  NULL};
const char *const props_room_kinds[] = {"bedroom", "kitchen", "bathroom", "living",  "dining", "office",
                                        "garage",  "storage", "balcony",  "laundry", "other",  NULL};

static const char *const props_fields[] = {"name", "description", "type", "city", "address", "rooms", NULL};
static const char *const props_room_fields[] = {"name", "kind", "area_m2", "characteristics", NULL};

static bool
props_in(const char *s, const char *const *set)
{
    for (; *set != NULL; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

/* "a, b, c": the members of a documented set, for an error message; bson_free it. */
static char *
props_list_names(const char *const *set)
{
    bson_string_t *out = bson_string_new(NULL);
    for (; *set != NULL; set++)
        bson_string_append_printf(out, "%s%s", out->len ? ", " : "", *set);
    return bson_string_free(out, false);
}

/* A text field that may be required, or null in a patch only if `nullable`. */
static void
props_text(const bson_t *doc, const char *key, const char *field, bool required, bool nullable, size_t min,
           size_t max, ferr_t *e, const char **out)
{
    bson_iter_t it;
    *out = NULL;
    if (!bson_iter_init_find(&it, doc, key)) {
        if (required)
            ferr_add(e, field, "is required");
        return;
    }
    if (BSON_ITER_HOLDS_NULL(&it)) {
        if (!nullable)
            ferr_add(e, field, "cannot be null");
        return;
    }
    v_text(&it, e, field, min, max, out);
}

bool
props_check_fields(const bson_t *body, bool required, ferr_t *e)
{
    uint32_t before = e->count;
    const char *s;

    props_text(body, "name", "name", required, false, 1, 200, e, &s);
    props_text(body, "description", "description", false, true, 0, 5000, e, &s);
    props_text(body, "city", "city", required, false, 1, 100, e, &s);
    props_text(body, "address", "address", required, false, 1, 300, e, &s);
    props_text(body, "type", "type", required, false, 1, 32, e, &s);
    if (s != NULL && !props_in(s, props_types)) {
        char *names = props_list_names(props_types);
        ferr_add(e, "type", "must be one of %s", names);
        bson_free(names);
    }
    return e->count == before;
}

static bool
props_check_characteristics(const bson_iter_t *it, const char *field, bool patch, ferr_t *e)
{
    bson_iter_t c;
    uint32_t n = 0;
    if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &c)) {
        ferr_add(e, field, "must be an object of scalar values");
        return false;
    }
    while (bson_iter_next(&c)) {
        const char *key = bson_iter_key(&c);
        if (++n > PROPS_MAX_CHARACTERISTICS) {
            ferr_add(e, field, "may hold at most %d characteristics", PROPS_MAX_CHARACTERISTICS);
            return false;
        }
        char *sub = bson_strdup_printf("%s.%s", field, key);
        long key_chars = text_chars(key, strlen(key));
        if (key[0] == '$' || strchr(key, '.') != NULL || key_chars < 1 || key_chars > 64) {
            ferr_add(e, sub, "a characteristic's name must have 1 to 64 characters, not start with '$' nor contain '.'");
            bson_free(sub);
            continue;
        }
        const char *text;
        switch (bson_iter_type(&c)) {
        case BSON_TYPE_UTF8:
            v_text(&c, e, sub, 0, 200, &text);
            break;
        case BSON_TYPE_INT32:
        case BSON_TYPE_INT64:
        case BSON_TYPE_DOUBLE:
        case BSON_TYPE_BOOL:
            break;
        case BSON_TYPE_NULL:
            if (!patch)
                ferr_add(e, sub, "must be a string, number or boolean");
            break;
        default:
            ferr_add(e, sub, "must be a string, number or boolean");
        }
        bson_free(sub);
    }
    return true;
}

bool
props_check_room(const bson_t *room, bool required, const char *prefix, ferr_t *e)
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
            ferr_add(e, ROOM_FIELD(key), "operator key '%s' is not accepted", name);
        else if (!props_in(key, props_room_fields))
            ferr_add(e, ROOM_FIELD(key), "unknown field '%s'", name);
        free(name);
    }

    props_text(room, "name", ROOM_FIELD("name"), required, false, 1, 100, e, &s);
    props_text(room, "kind", ROOM_FIELD("kind"), required, false, 1, 32, e, &s);
    if (s != NULL && !props_in(s, props_room_kinds)) {
        char *names = props_list_names(props_room_kinds);
        ferr_add(e, ROOM_FIELD("kind"), "must be one of %s", names);
        bson_free(names);
    }
    if (!bson_iter_init_find(&it, room, "area_m2")) {
        if (required)
            ferr_add(e, ROOM_FIELD("area_m2"), "is required");
    } else if (!BSON_ITER_HOLDS_NUMBER(&it)) {
        ferr_add(e, ROOM_FIELD("area_m2"), "must be a number");
    } else {
        double a = bson_iter_as_double(&it);
        if (!(a > 0 && a <= 100000))
            ferr_add(e, ROOM_FIELD("area_m2"), "must be greater than 0 and at most 100000");
    }
    if (bson_iter_init_find(&it, room, "characteristics"))
        props_check_characteristics(&it, ROOM_FIELD("characteristics"), !required, e);
#undef ROOM_FIELD
    bson_free(field);
    return e->count == before;
}

bool
props_validate_new(const bson_t *body, ferr_t *e)
{
    uint32_t before = e->count;
    bson_iter_t it, rooms;

    v_known_fields(body, props_fields, e);
    props_check_fields(body, true, e);
    if (bson_iter_init_find(&it, body, "rooms")) {
        if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &rooms)) {
            ferr_add(e, "rooms", "must be an array of rooms");
        } else {
            uint32_t i = 0;
            while (bson_iter_next(&rooms)) {
                char prefix[32];
                snprintf(prefix, sizeof(prefix), "rooms[%u]", i);
                if (++i > PROPS_MAX_ROOMS) {
                    ferr_add(e, "rooms", "may hold at most %d rooms", PROPS_MAX_ROOMS);
                    break;
                }
                bson_t room;
                uint32_t len;
                const uint8_t *data;
                if (!BSON_ITER_HOLDS_DOCUMENT(&rooms)) {
                    ferr_add(e, prefix, "must be an object");
                    continue;
                }
                bson_iter_document(&rooms, &len, &data);
                bson_init_static(&room, data, len);
                props_check_room(&room, true, prefix, e);
            }
        }
    }
    return e->count == before;
}

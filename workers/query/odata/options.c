/* The system query options $filter, $select, $orderby, $top, $skip,
 * $count and $search read from a request's query into an odata_query_t. */
#include "query/odata/internal.h"
#include "query/words.h"
#include "text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const unsupported[] = {
    "$expand",  "$search", "$format", "$apply", /* $search: where search_path */
    "$compute", "$index",  "$levels", "$schemaversion", "$skiptoken", "$deltatoken", "$id", NULL};

bool
odata_requested(const bson_t *query)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, query))
        return false;
    while (bson_iter_next(&it))
        if (bson_iter_key(&it)[0] == '$')
            return true;
    return false;
}

/* An option's value as text (the ingress passes strings; a direct caller
 * may pass a number or a boolean). */
static const char *
option_text(const bson_iter_t *it, char *buf, size_t len)
{
    if (BSON_ITER_HOLDS_UTF8(it))
        return bson_iter_utf8(it, NULL);
    if (BSON_ITER_HOLDS_INT(it)) {
        snprintf(buf, len, "%lld", (long long)bson_iter_as_int64(it));
        return buf;
    }
    if (BSON_ITER_HOLDS_BOOL(it))
        return bson_iter_bool(it) ? "true" : "false";
    return NULL;
}

static bool
option_int(const char *text, int64_t max, int64_t *out)
{
    char *end;
    if (text == NULL || *text == '\0' || !odata_is_digit(*text))
        return false;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > max)
        return false;
    *out = v;
    return true;
}

/* The first comma of s outside parentheses and 'quotes' (a geo.distance
 * item holds both), or NULL. */
static const char *
item_end(const char *s)
{
    int depth = 0;
    bool quoted = false;
    for (; *s; s++) {
        if (*s == '\'')
            quoted = !quoted;
        else if (!quoted && *s == '(')
            depth++;
        else if (!quoted && *s == ')')
            depth--;
        else if (!quoted && depth <= 0 && *s == ',')
            return s;
    }
    return NULL;
}

/* The next comma-separated item of *s, trimmed, whole (free() it); NULL
 * at the end. A trailing comma gives an empty item. */
static char *
next_item(const char **s)
{
    while (**s == ' ')
        (*s)++;
    if (**s == '\0')
        return NULL;
    const char *comma = item_end(*s);
    size_t n = comma ? (size_t)(comma - *s) : strlen(*s);
    size_t trimmed = n;
    while (trimmed > 0 && (*s)[trimmed - 1] == ' ')
        trimmed--;
    char *item = malloc(trimmed + 1);
    memcpy(item, *s, trimmed);
    item[trimmed] = '\0';
    *s += n + (comma != NULL);
    if (comma != NULL && **s == '\0')
        item[0] = '\0'; /* a trailing comma: an empty item */
    return item;
}

/* Adds the error `message` about client text `quoted` (cut by characters,
 * never inside one: text_excerpt) to `option`'s errors. */
static void
option_error(field_errors_t *errors, const char *option, const char *before, const char *quoted, const char *after)
{
    char *q = text_excerpt(quoted, 40);
    field_errors_add(errors, option, "%s'%s'%s", before, q, after);
    free(q);
}

static void
select_parse(const odata_resource_t *res, const char *text, odata_query_t *q, field_errors_t *errors)
{
    const char *s = text;
    char *item;
    if (*text == '\0') {
        field_errors_add(errors, "$select", "is empty: expected field names separated by commas");
        return;
    }
    for (; (item = next_item(&s)) != NULL; free(item)) {
        if (strcmp(item, "*") == 0) {
            q->select_count = 0;
            break;
        }
        odata_node_t probe = {.text = item};
        odata_error_t err = {0};
        const odata_field_t *f = item[0] ? odata_find_field(res, item, ODATA_SELECT) : NULL;
        if (f == NULL) {
            if (item[0] == '\0')
                field_errors_add(errors, "$select", "has an empty item: expected field names separated by commas");
            else {
                odata_unknown_field(res, &probe, ODATA_SELECT, &err);
                field_errors_add(errors, "$select", "%s", err.message);
            }
            break;
        }
        bool seen = false;
        for (size_t i = 0; i < q->select_count; i++)
            seen = seen || q->select[i] == f;
        if (!seen && q->select_count < ODATA_MAX_SELECT)
            q->select[q->select_count++] = f;
    }
    free(item);
}

/* One item of $orderby, "FIELD [asc|desc]", into q->sort; false (error
 * added) when it is none. */
static bool
orderby_item(const odata_resource_t *res, char *item, odata_query_t *q, int *dir, field_errors_t *errors)
{
    char *save = NULL, *name = strtok_r(item, " ", &save), *word = strtok_r(NULL, " ", &save),
         *extra = strtok_r(NULL, " ", &save);
    *dir = 1;
    if (name == NULL || extra != NULL) {
        option_error(errors, "$orderby", "", name != NULL ? item : "",
                     ": expected a field, optionally followed by "
                     "asc or desc");
        return false;
    }
    if (word != NULL && strcmp(word, "desc") == 0)
        *dir = -1;
    else if (word != NULL && strcmp(word, "asc") != 0) {
        char *n = text_excerpt(name, 40), *w = text_excerpt(word, 12);
        field_errors_add(errors, "$orderby", "'%s' is followed by '%s': expected asc or desc", n, w);
        free(n);
        free(w);
        return false;
    }
    odata_node_t probe = {.text = name};
    odata_error_t err = {0};
    const odata_field_t *f = odata_find_field(res, name, ODATA_ORDER);
    if (f == NULL) {
        odata_unknown_field(res, &probe, ODATA_ORDER, &err);
        field_errors_add(errors, "$orderby", "%s", err.message);
        return false;
    }
    if (bson_has_field(&q->sort, f->path)) {
        field_errors_add(errors, "$orderby", "orders by %s twice", f->name);
        return false;
    }
    BSON_APPEND_INT32(&q->sort, f->path, *dir);
    return true;
}

static void
orderby_parse(const odata_resource_t *res, const char *text, odata_query_t *q, field_errors_t *errors)
{
    const char *s = text;
    char *item;
    int keys = 0, last_dir = 1, dir;
    bool ok = true;
    if (*text == '\0') {
        field_errors_add(errors, "$orderby", "is empty: expected fields, each optionally followed by asc or desc");
        return;
    }
    for (; ok && (item = next_item(&s)) != NULL; free(item)) {
        if (strncmp(item, "geo.distance(", 13) == 0) { /* nearest first, alone */
            size_t n = strlen(item);
            if (n > 4 && strcmp(item + n - 4, " asc") == 0)
                item[n - 4] = '\0';
            if (keys > 0 || *s != '\0' || (n > 5 && strcmp(item + n - 5, " desc") == 0)) {
                field_errors_add(errors, "$orderby", "geo.distance orders alone, nearest first (asc)");
                ok = false;
            } else {
                ok = odata_orderby_geo(res, item, q, errors);
            }
            keys++;
            continue;
        }
        ok = orderby_item(res, item, q, &dir, errors);
        if (ok && ++keys > 4) {
            field_errors_add(errors, "$orderby", "orders by more than 4 fields");
            ok = false;
        }
        last_dir = dir;
    }
    if (ok && !q->by_distance && !bson_has_field(&q->sort, "_id")) /* a total order: pages neither overlap nor skip */
        BSON_APPEND_INT32(&q->sort, "_id", last_dir);
}

/* $filter: parsed, type-checked, and split where the resource joins
 * another's fields (out->joined). */
static void
filter_parse(const odata_resource_t *res, const char *text, odata_query_t *out, field_errors_t *errors)
{
    odata_error_t err;
    size_t max = res->filter_max > 0 ? res->filter_max : ODATA_MAX_LENGTH;
    odata_node_t *root = odata_parse_max(text, strlen(text), max, &err), *local = NULL, *joined = NULL;
    bool ok = root != NULL;
    bool has_joined = false;
    for (size_t i = 0; i < res->count; i++)
        has_joined = has_joined || (res->fields[i].use & ODATA_JOINED);
    if (ok && has_joined) {
        /* Type-check the whole first, then split it. */
        bson_t whole = BSON_INITIALIZER;
        ok = odata_compile(res, root, &whole, &err);
        bson_destroy(&whole);
        if (ok)
            ok = odata_partition(res, root, &local, &joined, &err);
        else
            odata_free(root);
        root = NULL;
        if (ok && local != NULL)
            ok = odata_compile(res, local, &out->filter, &err);
        if (ok && joined != NULL)
            out->joined = odata_print(res, joined);
    } else if (ok) {
        ok = odata_compile(res, root, &out->filter, &err);
    }
    if (!ok) {
        if (err.pos > 0)
            field_errors_add(errors, "$filter", "at character %zu: %s", err.pos, err.message);
        else
            field_errors_add(errors, "$filter", "%s", err.message);
    }
    odata_free(root);
    odata_free(local);
    odata_free(joined);
}

bool
odata_query_parse(const odata_resource_t *res, const bson_t *query, const bson_t *default_sort, odata_query_t *out,
                  field_errors_t *errors)
{
    bson_iter_t it;
    uint32_t before = errors->count;
    char buf[32];
    bool ordered = false, searched = false;
    memset(out, 0, sizeof(*out));
    bson_init(&out->filter);
    bson_init(&out->sort);
    out->top = res->top_default;
    bson_iter_init(&it, query);
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (key[0] != '$')
            continue;
        const char *text = option_text(&it, buf, sizeof(buf));
        if (text == NULL) {
            field_errors_add(errors, key, "must be a string");
            continue;
        }
        if (strcmp(key, "$filter") == 0) {
            filter_parse(res, text, out, errors);
        } else if (strcmp(key, "$select") == 0) {
            select_parse(res, text, out, errors);
        } else if (strcmp(key, "$orderby") == 0) {
            orderby_parse(res, text, out, errors);
            ordered = true;
        } else if (strcmp(key, "$top") == 0) {
            if (!option_int(text, res->top_max, &out->top))
                field_errors_add(errors, "$top", "must be an integer from 0 to %lld", (long long)res->top_max);
        } else if (strcmp(key, "$skip") == 0) {
            if (!option_int(text, res->skip_max, &out->skip))
                field_errors_add(errors, "$skip", "must be an integer from 0 to %lld", (long long)res->skip_max);
        } else if (strcmp(key, "$search") == 0 && res->search_path != NULL) {
            searched = words_odata_search(text, res->search_path, errors, &out->filter);
        } else if (strcmp(key, "$count") == 0) {
            if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0)
                field_errors_add(errors, "$count", "must be true or false");
            out->count = strcmp(text, "true") == 0;
        } else {
            bool known = false;
            for (const char *const *u = unsupported; *u; u++)
                known = known || strcmp(*u, key) == 0;
            char *name = text_excerpt(key, 64);
            if (known)
                field_errors_add(errors, name, "is an OData option Roost does not support (docs/query.md)");
            else
                field_errors_add(errors, name,
                                 "unknown option: the options are $filter, $select, $orderby, $top, $skip%s",
                                 res->search_path != NULL ? ", $count and $search" : " and $count");
            free(name);
        }
    }
    if (searched && out->by_distance) /* MongoDB refuses $text beside $geoNear */
        field_errors_add(errors, "$orderby",
                         "geo.distance cannot order a $search: order by relevance (the default) or a field, and "
                         "narrow with geo.distance in $filter");
    if (!ordered && searched) { /* best matches first, as q= */
        BCON_APPEND(&out->sort, WORDS_SCORE_FIELD, "{", "$meta", BCON_UTF8("textScore"), "}", "_id", BCON_INT32(1));
    } else if (!ordered) {
        bson_iter_t d;
        int last_dir = 1;
        bool has_id = false;
        if (default_sort != NULL && bson_iter_init(&d, default_sort))
            while (bson_iter_next(&d)) {
                last_dir = (int)bson_iter_as_int64(&d);
                has_id = has_id || strcmp(bson_iter_key(&d), "_id") == 0;
                BSON_APPEND_INT32(&out->sort, bson_iter_key(&d), last_dir);
            }
        if (!has_id)
            BSON_APPEND_INT32(&out->sort, "_id", last_dir);
    }
    return errors->count == before;
}

void
odata_refuse_plain(const bson_t *query, const char *message, field_errors_t *errors)
{
    bson_iter_t it;
    if (bson_iter_init(&it, query))
        while (bson_iter_next(&it))
            if (bson_iter_key(&it)[0] != '$') {
                char *name = text_excerpt(bson_iter_key(&it), 64);
                field_errors_add(errors, name, "%s", message);
                free(name);
            }
}

void
odata_query_destroy(odata_query_t *q)
{
    bson_destroy(&q->filter);
    bson_destroy(&q->sort);
    bson_free(q->joined);
}

void
odata_select(const odata_resource_t *res, const odata_query_t *q, const bson_t *doc, bson_t *out)
{
    bson_iter_t it;
    bson_init(out);
    bson_iter_init(&it, doc);
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        /* The id, and a $search's score (no field: what the search adds), always. */
        bool keep = q->select_count == 0 || strcmp(key, res->id_name) == 0 ||
                    (res->search_path != NULL && strcmp(key, WORDS_SCORE_FIELD) == 0) ||
                    (q->by_distance && strcmp(key, "distance_m") == 0);
        for (size_t i = 0; i < q->select_count && !keep; i++) {
            const odata_field_t *f = q->select[i];
            keep = strcmp(f->rendered != NULL ? f->rendered : f->name, key) == 0;
        }
        if (keep)
            bson_append_iter(out, key, -1, &it);
    }
}

/* The $filter compiler: a type-checked tree into a MongoDB filter whose
 * operators all come from here; client text becomes only literal values. */
#include "query/odata/internal.h"
#include "text.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A key literal ('12') as the number it is: leading zeros do not count
 * ('012' is '12'), and one past any int64 id compares as the number it is
 * (a double: greater than every id), so every string of digits is a key. */
static bool
append_key(bson_t *out, const char *key, const odata_field_t *f, const odata_node_t *v, odata_error_t *err)
{
    size_t n = strlen(v->text);
    if (n == 0 || strspn(v->text, "0123456789") != n)
        return odata_cfail(err, v, "%s is a key: a string of digits, as '12'", f->name);
    const char *digits = v->text + strspn(v->text, "0");
    errno = 0;
    long long id = strtoll(digits, NULL, 10);
    if (errno == 0)
        return BSON_APPEND_INT64(out, key, id);
    return BSON_APPEND_DOUBLE(out, key, strtod(digits, NULL));
}

/* Appends the literal `v` as field `f`'s value under `key`, checked. */
static bool
append_value(bson_t *out, const char *key, const odata_field_t *f, const odata_node_t *v, bool ordering,
             odata_error_t *err)
{
    if (v->kind != ODATA_LIT)
        return odata_cfail(err, v, "%s is compared with a literal only (a number, 'text', a date, null)", f->name);
    if (v->lit == ODATA_LIT_NULL) {
        if (ordering)
            return odata_cfail(err, v, "null can only be compared with eq or ne");
        return BSON_APPEND_NULL(out, key);
    }
    bool ok = false;
    switch (f->type) {
    case ODATA_GEO:
        return odata_cfail(err, v,
                           "%s is a point: compare it with null, or use geo.distance(%s, geography'POINT(LON LAT)') "
                           "or geo.intersects(%s, geography'POLYGON((…))')",
                           f->name, f->name, f->name);
    case ODATA_INT:
    case ODATA_NUMBER:
        if (v->lit == ODATA_LIT_INT)
            ok = BSON_APPEND_INT64(out, key, v->i);
        else if (v->lit == ODATA_LIT_DOUBLE)
            ok = BSON_APPEND_DOUBLE(out, key, v->d);
        break;
    case ODATA_STRING:
        if (v->lit == ODATA_LIT_STRING) {
            if (f->values != NULL && !ordering) {
                bool known = false;
                for (const char *const *s = f->values; *s; s++)
                    known = known || strcmp(*s, v->text) == 0;
                if (!known) {
                    char list[160];
                    size_t at = 0;
                    for (const char *const *s = f->values; *s && at < sizeof(list); s++)
                        at += (size_t)snprintf(list + at, sizeof(list) - at, "%s'%s'", at ? ", " : "", *s);
                    return odata_cfail(err, v, "%s is one of %s", f->name, list);
                }
            }
            ok = BSON_APPEND_UTF8(out, key, v->text);
        }
        break;
    case ODATA_TIME:
        if (v->lit == ODATA_LIT_INT || v->lit == ODATA_LIT_DATE || v->lit == ODATA_LIT_DATETIME)
            ok = BSON_APPEND_INT64(out, key, v->i);
        break;
    case ODATA_KEY:
        if (v->lit == ODATA_LIT_STRING)
            return append_key(out, key, f, v, err);
        break;
    }
    if (!ok)
        return odata_cfail(err, v, "%s is %s, and %s is %s", f->name, odata_field_type_name(f),
                           v->lit == ODATA_LIT_STRING ? "the value" : "the value", odata_lit_type_name(v));
    return true;
}

/* A field operand: a name, or tolower/toupper of one (*fold set). */
static const odata_field_t *
field_operand(const odata_resource_t *res, const odata_node_t *n, int *fold, odata_error_t *err)
{
    *fold = 0;
    if (n->kind == ODATA_CALL && (strcmp(n->text, "tolower") == 0 || strcmp(n->text, "toupper") == 0)) {
        if (n->n != 1) {
            odata_cfail(err, n, "%s takes one argument", n->text);
            return NULL;
        }
        *fold = n->text[2] == 'l' ? 1 : 2;
        n = n->a[0];
        if (n->kind != ODATA_NAME) {
            odata_cfail(err, n, "tolower and toupper take a field");
            return NULL;
        }
    }
    if (n->kind != ODATA_NAME)
        return NULL;
    const odata_field_t *f = odata_find_field(res, n->text, ODATA_FILTER);
    if (f == NULL) {
        odata_unknown_field(res, n, ODATA_FILTER, err);
        return NULL;
    }
    if (*fold && f->constant != NULL) {
        odata_cfail(err, n, "%s is compared with eq, ne or in only", f->name);
        return NULL;
    }
    if (*fold && f->type != ODATA_STRING) {
        odata_cfail(err, n, "%s is %s: tolower and toupper take a string field", f->name, odata_field_type_name(f));
        return NULL;
    }
    return f;
}

/* `text` with every regular-expression metacharacter escaped. */
static void
regex_escape(bson_string_t *out, const char *text)
{
    for (const char *c = text; *c; c++) {
        if (strchr("\\^$.|?*+()[]{}", *c) != NULL)
            bson_string_append_c(out, '\\');
        bson_string_append_c(out, *c);
    }
}

/* Whether `text` is already in the case `fold` asks (1 lower, 2 upper), in ASCII. */
static bool
folded(const char *text, int fold)
{
    for (const char *c = text; *c; c++)
        if ((fold == 1 && isupper((unsigned char)*c)) || (fold == 2 && islower((unsigned char)*c)))
            return false;
    return true;
}

/* A condition every entity meets (a field's constant value matched). */
static void
append_always(bson_t *out)
{
    bson_t cond;
    BSON_APPEND_DOCUMENT_BEGIN(out, "_id", &cond);
    BSON_APPEND_BOOL(&cond, "$exists", true);
    bson_append_document_end(out, &cond);
}

static void
append_never(bson_t *out)
{
    bson_t cond, in;
    BSON_APPEND_DOCUMENT_BEGIN(out, "_id", &cond);
    BSON_APPEND_ARRAY_BEGIN(&cond, "$in", &in);
    bson_append_array_end(&cond, &in);
    bson_append_document_end(out, &cond);
}

/* {path: {$regex: prefix + escaped + suffix, $options: i?}} (negated with $not). */
static void
append_regex(bson_t *out, const odata_field_t *f, const char *prefix, const char *text, const char *suffix, int fold,
             bool negate)
{
    bson_string_t *re = bson_string_new(prefix);
    regex_escape(re, text);
    bson_string_append(re, suffix);
    bson_t cond, inner;
    BSON_APPEND_DOCUMENT_BEGIN(out, f->path, &cond);
    if (negate) {
        BSON_APPEND_DOCUMENT_BEGIN(&cond, "$not", &inner);
        BSON_APPEND_UTF8(&inner, "$regex", re->str);
        BSON_APPEND_UTF8(&inner, "$options", fold ? "i" : "");
        bson_append_document_end(&cond, &inner);
    } else {
        BSON_APPEND_UTF8(&cond, "$regex", re->str);
        BSON_APPEND_UTF8(&cond, "$options", fold ? "i" : "");
    }
    bson_append_document_end(out, &cond);
    bson_string_free(re, true);
}

static bool compile_bool(const odata_resource_t *res, const odata_node_t *n, bson_t *out, odata_error_t *err);

static bool
compile_cmp(const odata_resource_t *res, const odata_node_t *n, bson_t *out, odata_error_t *err)
{
    static const char *const mongo_ops[] = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"};
    static const odata_op_t mirrored[] = {ODATA_EQ, ODATA_NE, ODATA_LT, ODATA_LE, ODATA_GT, ODATA_GE};
    const odata_node_t *left = n->a[0], *right = n->a[1];
    odata_op_t op = n->op;
    int fold;
    if (left->kind == ODATA_LIT && right->kind != ODATA_LIT) { /* 5 lt price is price gt 5 */
        const odata_node_t *t = left;
        left = right;
        right = t;
        op = mirrored[op];
    }
    if (odata_is_geo_call(left, "geo.distance"))
        return odata_compile_geo_distance(res, left, op, right, out, err);
    if (odata_is_geo_call(left, "geo.intersects")) { /* geo.intersects(…) eq true */
        if ((op != ODATA_EQ && op != ODATA_NE) || right->kind != ODATA_LIT || right->lit != ODATA_LIT_BOOL)
            return odata_cfail(err, n, "geo.intersects is a condition: use it alone, or compare it with eq true");
        if (right->i == (op == ODATA_EQ))
            return odata_compile_geo_intersects(res, left, out, err);
        bson_t list, item;
        BSON_APPEND_ARRAY_BEGIN(out, "$nor", &list);
        BSON_APPEND_DOCUMENT_BEGIN(&list, "0", &item);
        bool ok = odata_compile_geo_intersects(res, left, &item, err);
        bson_append_document_end(&list, &item);
        bson_append_array_end(out, &list);
        return ok;
    }
    const odata_field_t *f = field_operand(res, left, &fold, err);
    if (f == NULL) {
        if (err->message[0] == '\0')
            odata_cfail(err, left, "a comparison needs a field on one side and a literal on the other");
        return false;
    }
    if (right->kind != ODATA_LIT)
        return odata_cfail(err, right,
                           "%s is compared with a literal only (a number, 'text', a date, null), not with a "
                           "field or an expression",
                           f->name);
    if (fold) {
        if (op != ODATA_EQ && op != ODATA_NE)
            return odata_cfail(err, n, "tolower and toupper are compared with eq or ne only");
        if (right->lit != ODATA_LIT_STRING)
            return odata_cfail(err, right, "%s(%s) is a string, and the value is %s", left->text, f->name,
                               odata_lit_type_name(right));
        if (!folded(right->text, fold)) { /* tolower(x) eq 'Paris' never holds */
            if (op == ODATA_EQ)
                append_never(out);
            return true;
        }
        append_regex(out, f, "^", right->text, "$", fold, op == ODATA_NE);
        return true;
    }
    if (f->constant != NULL) { /* the same for every entity: decided here */
        bson_t probe = BSON_INITIALIZER;
        bool ok = append_value(&probe, "v", f, right, op != ODATA_EQ && op != ODATA_NE, err);
        bson_destroy(&probe);
        if (!ok)
            return false;
        if (op != ODATA_EQ && op != ODATA_NE)
            return odata_cfail(err, n, "%s is compared with eq or ne only", f->name);
        bool same = right->lit == ODATA_LIT_STRING && strcmp(right->text, f->constant) == 0;
        if (same == (op == ODATA_EQ))
            append_always(out);
        else
            append_never(out);
        return true;
    }
    bson_t cond;
    BSON_APPEND_DOCUMENT_BEGIN(out, f->path, &cond);
    bool ok = append_value(&cond, mongo_ops[op], f, right, op != ODATA_EQ && op != ODATA_NE, err);
    bson_append_document_end(out, &cond);
    return ok;
}

static bool
compile_in(const odata_resource_t *res, const odata_node_t *n, bson_t *out, odata_error_t *err)
{
    int fold;
    const odata_field_t *f = field_operand(res, n->a[0], &fold, err);
    if (f == NULL) {
        if (err->message[0] == '\0')
            odata_cfail(err, n->a[0], "in takes a field on its left");
        return false;
    }
    if (fold)
        return odata_cfail(err, n->a[0], "in takes a plain field, not tolower or toupper");
    if (f->constant != NULL) {
        bool hit = false;
        for (size_t i = 1; i < n->n; i++) {
            bson_t probe = BSON_INITIALIZER;
            bool ok = append_value(&probe, "v", f, n->a[i], false, err);
            bson_destroy(&probe);
            if (!ok)
                return false;
            hit = hit || (n->a[i]->lit == ODATA_LIT_STRING && strcmp(n->a[i]->text, f->constant) == 0);
        }
        if (hit)
            append_always(out);
        else
            append_never(out);
        return true;
    }
    bson_t cond, list;
    bool ok = true;
    BSON_APPEND_DOCUMENT_BEGIN(out, f->path, &cond);
    BSON_APPEND_ARRAY_BEGIN(&cond, "$in", &list);
    for (size_t i = 1; i < n->n && ok; i++) {
        char key[24];
        snprintf(key, sizeof(key), "%zu", i - 1);
        ok = append_value(&list, key, f, n->a[i], false, err);
    }
    bson_append_array_end(&cond, &list);
    bson_append_document_end(out, &cond);
    return ok;
}

static bool
compile_call(const odata_resource_t *res, const odata_node_t *n, bson_t *out, odata_error_t *err)
{
    bool contains = strcmp(n->text, "contains") == 0, starts = strcmp(n->text, "startswith") == 0,
         ends = strcmp(n->text, "endswith") == 0;
    if (odata_is_geo_call(n, "geo.intersects"))
        return odata_compile_geo_intersects(res, n, out, err);
    if (!contains && !starts && !ends) {
        if (odata_is_geo_call(n, "geo.distance"))
            return odata_cfail(err, n,
                               "geo.distance gives metres, not a condition: compare it, as in "
                               "geo.distance(location, geography'POINT(2.35 48.85)') lt 2000");
        if (strcmp(n->text, "tolower") == 0 || strcmp(n->text, "toupper") == 0)
            return odata_cfail(err, n, "%s gives a string, not a condition: compare it, as in %s(city) eq 'paris'",
                               n->text, n->text);
        char *quoted = text_excerpt(n->text, 64);
        odata_cfail(err, n,
                    "unknown function '%s': the functions are contains, startswith, endswith, tolower, toupper, "
                    "geo.distance and geo.intersects",
                    quoted);
        free(quoted);
        return false;
    }
    if (n->n != 2)
        return odata_cfail(err, n, "%s takes two arguments: a string field and a 'string'", n->text);
    int fold;
    const odata_field_t *f = field_operand(res, n->a[0], &fold, err);
    if (f == NULL) {
        if (err->message[0] == '\0')
            odata_cfail(err, n->a[0], "the first argument of %s is a string field", n->text);
        return false;
    }
    if (f->type != ODATA_STRING)
        return odata_cfail(err, n->a[0], "%s is %s: %s takes a string field", f->name, odata_field_type_name(f),
                           n->text);
    if (f->constant != NULL)
        return odata_cfail(err, n->a[0], "%s is compared with eq, ne or in only", f->name);
    const odata_node_t *v = n->a[1];
    if (v->kind != ODATA_LIT || v->lit != ODATA_LIT_STRING)
        return odata_cfail(err, v, "the second argument of %s is a 'string'", n->text);
    if (fold && !folded(v->text, fold)) {
        append_never(out);
        return true;
    }
    append_regex(out, f, starts ? "^" : "", v->text, ends ? "$" : "", fold, false);
    return true;
}

/* Appends {$and|$or: [each operand]} for an and/or subtree, flattened. */
static bool
compile_junction(const odata_resource_t *res, const odata_node_t *n, bson_t *list, uint32_t *count, odata_error_t *err)
{
    for (size_t i = 0; i < n->n; i++) {
        const odata_node_t *x = n->a[i];
        if (x->kind == n->kind) {
            if (!compile_junction(res, x, list, count, err))
                return false;
            continue;
        }
        char key[16];
        bson_t item;
        snprintf(key, sizeof(key), "%u", (*count)++);
        BSON_APPEND_DOCUMENT_BEGIN(list, key, &item);
        bool ok = compile_bool(res, x, &item, err);
        bson_append_document_end(list, &item);
        if (!ok)
            return false;
    }
    return true;
}

/* Appends the conditions of the boolean expression `n` to `out`. */
static bool
compile_bool(const odata_resource_t *res, const odata_node_t *n, bson_t *out, odata_error_t *err)
{
    switch (n->kind) {
    case ODATA_OR:
    case ODATA_AND: {
        bson_t list;
        uint32_t count = 0;
        BSON_APPEND_ARRAY_BEGIN(out, n->kind == ODATA_OR ? "$or" : "$and", &list);
        bool ok = compile_junction(res, n, &list, &count, err);
        bson_append_array_end(out, &list);
        return ok;
    }
    case ODATA_NOT: {
        bson_t list, item;
        BSON_APPEND_ARRAY_BEGIN(out, "$nor", &list);
        BSON_APPEND_DOCUMENT_BEGIN(&list, "0", &item);
        bool ok = compile_bool(res, n->a[0], &item, err);
        bson_append_document_end(&list, &item);
        bson_append_array_end(out, &list);
        return ok;
    }
    case ODATA_CMP:
        return compile_cmp(res, n, out, err);
    case ODATA_IN:
        return compile_in(res, n, out, err);
    case ODATA_CALL:
        return compile_call(res, n, out, err);
    case ODATA_LIT:
        if (n->lit == ODATA_LIT_BOOL) {
            if (!n->i)
                append_never(out);
            return true;
        }
        return odata_cfail(err, n, "%s is not a condition", odata_lit_type_name(n));
    case ODATA_NAME:
        if (odata_find_field(res, n->text, ODATA_FILTER) == NULL)
            return odata_unknown_field(res, n, ODATA_FILTER, err);
        return odata_cfail(err, n, "%s is not a condition by itself: compare it, as in %s eq …", n->text, n->text);
    }
    return odata_cfail(err, n, "not a condition");
}

bool
odata_compile(const odata_resource_t *res, const odata_node_t *node, bson_t *out, odata_error_t *err)
{
    bson_t list, item;
    memset(err, 0, sizeof(*err));
    BSON_APPEND_ARRAY_BEGIN(out, "$and", &list);
    BSON_APPEND_DOCUMENT_BEGIN(&list, "0", &item);
    bool ok = compile_bool(res, node, &item, err);
    bson_append_document_end(&list, &item);
    bson_append_array_end(out, &list);
    return ok;
}

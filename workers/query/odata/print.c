/* A $filter tree as text: the canonical S-expression of the tests and the
 * cross-check, and OData text again (joined fields by their path). */
#include "query/odata/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
sexpr_lit(bson_string_t *out, const odata_node_t *n)
{
    switch (n->lit) {
    case ODATA_LIT_NULL:
        bson_string_append(out, "null");
        break;
    case ODATA_LIT_BOOL:
        bson_string_append(out, n->i ? "true" : "false");
        break;
    case ODATA_LIT_INT:
        bson_string_append_printf(out, "%lld", (long long)n->i);
        break;
    case ODATA_LIT_DOUBLE:
        bson_string_append_printf(out, "%.17g", n->d);
        break;
    case ODATA_LIT_STRING:
    case ODATA_LIT_GEOGRAPHY:
        if (n->lit == ODATA_LIT_GEOGRAPHY)
            bson_string_append(out, "geography");
        bson_string_append_c(out, '\'');
        for (const char *c = n->text; *c; c++) {
            if (*c == '\'')
                bson_string_append_c(out, '\'');
            bson_string_append_c(out, *c);
        }
        bson_string_append_c(out, '\'');
        break;
    case ODATA_LIT_DATE:
    case ODATA_LIT_DATETIME: {
        time_t t = (time_t)(n->i >= 0 ? n->i / 1000000 : (n->i - 999999) / 1000000);
        int64_t us = n->i - (int64_t)t * 1000000;
        struct tm tm;
        char buf[40];
        gmtime_r(&t, &tm);
        if (n->lit == ODATA_LIT_DATE) {
            strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
            bson_string_append_printf(out, "date:%s", buf);
        } else {
            strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
            bson_string_append_printf(out, "datetime:%s.%06lldZ", buf, (long long)us);
        }
        break;
    }
    }
}

static void
sexpr(bson_string_t *out, const odata_node_t *n)
{
    static const char *const kinds[] = {"or", "and", "not"};
    switch (n->kind) {
    case ODATA_OR:
    case ODATA_AND: {
        /* Flattened: (and a b c) for a and b and c, however grouped. */
        bson_string_append_printf(out, "(%s", kinds[n->kind]);
        const odata_node_t *stack[ODATA_MAX_TERMS * 4 + 8];
        size_t top = 0;
        stack[top++] = n;
        /* Walk the same-kind subtree left to right. */
        const odata_node_t *order[ODATA_MAX_TERMS * 4 + 8];
        size_t count = 0;
        while (top > 0) {
            const odata_node_t *x = stack[--top];
            if (x->kind == n->kind) {
                for (size_t i = x->n; i > 0; i--)
                    if (top < sizeof(stack) / sizeof(stack[0]))
                        stack[top++] = x->a[i - 1];
            } else if (count < sizeof(order) / sizeof(order[0])) {
                order[count++] = x;
            }
        }
        for (size_t i = 0; i < count; i++) {
            bson_string_append_c(out, ' ');
            sexpr(out, order[i]);
        }
        bson_string_append_c(out, ')');
        break;
    }
    case ODATA_NOT:
        bson_string_append(out, "(not ");
        sexpr(out, n->a[0]);
        bson_string_append_c(out, ')');
        break;
    case ODATA_CMP:
        bson_string_append_printf(out, "(%s ", odata_cmp_names[n->op]);
        sexpr(out, n->a[0]);
        bson_string_append_c(out, ' ');
        sexpr(out, n->a[1]);
        bson_string_append_c(out, ')');
        break;
    case ODATA_IN:
        bson_string_append(out, "(in ");
        sexpr(out, n->a[0]);
        bson_string_append(out, " (");
        for (size_t i = 1; i < n->n; i++) {
            if (i > 1)
                bson_string_append_c(out, ' ');
            sexpr(out, n->a[i]);
        }
        bson_string_append(out, "))");
        break;
    case ODATA_CALL:
        bson_string_append_printf(out, "(%s", n->text);
        for (size_t i = 0; i < n->n; i++) {
            bson_string_append_c(out, ' ');
            sexpr(out, n->a[i]);
        }
        bson_string_append_c(out, ')');
        break;
    case ODATA_NAME:
        bson_string_append(out, n->text);
        break;
    case ODATA_LIT:
        sexpr_lit(out, n);
        break;
    }
}

char *
odata_sexpr(const odata_node_t *node)
{
    bson_string_t *out = bson_string_new(NULL);
    sexpr(out, node);
    return bson_string_free(out, false);
}

static void print_node(bson_string_t *out, const odata_resource_t *res, const odata_node_t *n);

static void
print_junction(bson_string_t *out, const odata_resource_t *res, const odata_node_t *n, odata_kind_t kind)
{
    for (size_t i = 0; i < n->n; i++) {
        if (i > 0)
            bson_string_append(out, kind == ODATA_OR ? " or " : " and ");
        if (n->a[i]->kind == kind)
            print_junction(out, res, n->a[i], kind);
        else
            print_node(out, res, n->a[i]);
    }
}

/* A decimal as OData text in its shortest form that reads back as the same
 * double (0.3, not 0.29999999999999999), still a decimal ("5.0", not "5"):
 * limits judge what the client wrote, and a re-printed filter is no longer
 * than it need be. */
static void
print_double(bson_string_t *out, double d)
{
    char buf[40];
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, sizeof(buf), "%.*g", digits, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    bson_string_append(out, buf);
    if (strpbrk(buf, ".eE") == NULL)
        bson_string_append(out, ".0");
}

static void
print_node(bson_string_t *out, const odata_resource_t *res, const odata_node_t *n)
{
    switch (n->kind) {
    case ODATA_OR:
    case ODATA_AND:
        /* One pair of parentheses for a whole chain of the same junction:
         * however long, it nests one level (ODATA_MAX_DEPTH). */
        bson_string_append_c(out, '(');
        print_junction(out, res, n, n->kind);
        bson_string_append_c(out, ')');
        break;
    case ODATA_NOT:
        bson_string_append(out, "not (");
        print_node(out, res, n->a[0]);
        bson_string_append_c(out, ')');
        break;
    case ODATA_CMP:
        print_node(out, res, n->a[0]);
        bson_string_append_printf(out, " %s ", odata_cmp_names[n->op]);
        print_node(out, res, n->a[1]);
        break;
    case ODATA_IN:
        print_node(out, res, n->a[0]);
        bson_string_append(out, " in (");
        for (size_t i = 1; i < n->n; i++) {
            if (i > 1)
                bson_string_append(out, ", ");
            print_node(out, res, n->a[i]);
        }
        bson_string_append_c(out, ')');
        break;
    case ODATA_CALL:
        bson_string_append_printf(out, "%s(", n->text);
        for (size_t i = 0; i < n->n; i++) {
            if (i > 0)
                bson_string_append(out, ", ");
            print_node(out, res, n->a[i]);
        }
        bson_string_append_c(out, ')');
        break;
    case ODATA_NAME: {
        const odata_field_t *f = odata_find_field(res, n->text, ODATA_FILTER);
        bson_string_append(out, f != NULL && (f->use & ODATA_JOINED) ? f->path : n->text);
        break;
    }
    case ODATA_LIT:
        if (n->lit == ODATA_LIT_DATE || n->lit == ODATA_LIT_DATETIME) {
            /* The canonical form without its "date:" / "datetime:" tag is OData's. */
            bson_string_t *tmp = bson_string_new(NULL);
            sexpr_lit(tmp, n);
            bson_string_append(out, strchr(tmp->str, ':') + 1);
            bson_string_free(tmp, true);
        } else if (n->lit == ODATA_LIT_DOUBLE) {
            print_double(out, n->d);
        } else {
            sexpr_lit(out, n);
        }
        break;
    }
}

char *
odata_print(const odata_resource_t *res, const odata_node_t *node)
{
    bson_string_t *out = bson_string_new(NULL);
    print_node(out, res, node);
    return bson_string_free(out, false);
}

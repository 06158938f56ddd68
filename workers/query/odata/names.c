/* A resource's vocabulary: looking a field up by name and use, and naming
 * fields and types in error messages. */
#include "query/odata/internal.h"
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool
odata_cfail(odata_error_t *err, const odata_node_t *at, const char *fmt, ...)
{
    err->pos = at != NULL ? at->pos : 0;
    va_list ap;
    va_start(ap, fmt);
    odata_message(err, fmt, ap);
    va_end(ap);
    return false;
}

const odata_field_t *
odata_find_field(const odata_resource_t *res, const char *name, unsigned use)
{
    for (size_t i = 0; i < res->count; i++)
        if (strcmp(res->fields[i].name, name) == 0 && (res->fields[i].use & use))
            return &res->fields[i];
    return NULL;
}

/* "price, listing_type, …": the fields usable for `use`, for a message. */
static void
field_names(const odata_resource_t *res, unsigned use, char *out, size_t len)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < res->count && at < len; i++)
        if (res->fields[i].use & use)
            at += (size_t)snprintf(out + at, len - at, "%s%s", at ? ", " : "", res->fields[i].name);
}

bool
odata_unknown_field(const odata_resource_t *res, const odata_node_t *n, unsigned use, odata_error_t *err)
{
    char names[160];
    field_names(res, use, names, sizeof(names));
    char *quoted = text_excerpt(n->text, 64);
    bool r = odata_cfail(err, n, "'%s' is not a field that can be %s here; the fields are: %s", quoted,
                         use == ODATA_ORDER    ? "ordered by"
                         : use == ODATA_SELECT ? "selected"
                                               : "filtered on",
                         names);
    free(quoted);
    return r;
}

const char *
odata_lit_type_name(const odata_node_t *n)
{
    static const char *const names[] = {"null",     "a boolean", "an integer",  "a decimal number",
                                        "a string", "a date",    "a date-time", "a geography"};
    return names[n->lit];
}

const char *
odata_field_type_name(const odata_field_t *f)
{
    static const char *const names[] = {"an integer", "a number", "a string", "a time", "a key ('12')", "a point"};
    return names[f->type];
}

/* The joined resource's part of a $filter (RESO's Property is a listing
 * joined with its property): split off the top-level and, refused when a
 * condition mixes both sides. */
#include "query/odata/internal.h"

#include <string.h>

/* Which sides' fields `n` names: local (bit 1), joined (bit 2). */
static unsigned
node_sides(const odata_resource_t *res, const odata_node_t *n, const char **joined_name)
{
    unsigned sides = 0;
    if (n->kind == ODATA_NAME) {
        const odata_field_t *f = odata_find_field(res, n->text, ODATA_FILTER);
        if (f != NULL && (f->use & ODATA_JOINED)) {
            *joined_name = f->name;
            return 2;
        }
        return f != NULL ? 1 : 0;
    }
    for (size_t i = 0; i < n->n; i++)
        sides |= node_sides(res, n->a[i], joined_name);
    return sides;
}

/* Moves the top-level and-operands of `n` into `local` and `joined` (and
 * trees, NULL when empty); refuses an operand that mixes both sides. */
bool
odata_partition(const odata_resource_t *res, odata_node_t *n, odata_node_t **local, odata_node_t **joined,
                odata_error_t *err)
{
    if (n->kind == ODATA_AND) {
        bool ok =
            odata_partition(res, n->a[0], local, joined, err) && odata_partition(res, n->a[1], local, joined, err);
        n->a[0] = n->a[1] = NULL;
        n->n = 0;
        odata_free(n);
        return ok;
    }
    const char *name = "";
    unsigned sides = node_sides(res, n, &name);
    if (sides == 3) {
        odata_free(n);
        return odata_cfail(err, NULL,
                           "%s names a field of the property (%s) and one of the listing under or, not or a function: "
                           "combine such conditions with and only",
                           "a condition", name);
    }
    odata_node_t **into = sides == 2 ? joined : local;
    if (*into == NULL) {
        *into = n;
    } else {
        odata_node_t *both = bson_malloc0(sizeof(*both));
        both->kind = ODATA_AND;
        both->pos = (*into)->pos;
        odata_node_add(both, *into);
        odata_node_add(both, n);
        *into = both;
    }
    return true;
}

/*
 * odata_sexpr [listings|properties]: reads one $filter expression per line
 * on stdin and prints, per line, "ok <canonical S-expression>" (odata.h)
 * or "error <position> <message>"; with a resource, the type-checked
 * MongoDB filter follows ("ok <sexpr>\t<filter as JSON>"), or the
 * compiler's error. For the cross-check with an independent OData parser
 * (tests/integration/test_odata_parser.py).
 */
#include "services/listings/listings.h"
#include "query/odata.h"
#include "services/properties/properties.h"

#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
    const odata_resource_t *res = NULL;
    if (argc == 2 && strcmp(argv[1], "listings") == 0)
        res = &listings_odata;
    else if (argc == 2 && strcmp(argv[1], "properties") == 0)
        res = &properties_odata;
    else if (argc != 1) {
        fprintf(stderr, "usage: odata_sexpr [listings|properties] < expressions\n");
        return 2;
    }
    char line[8192];
    while (fgets(line, sizeof(line), stdin) != NULL) {
        size_t len = strcspn(line, "\n");
        line[len] = '\0';
        odata_error_t err;
        odata_node_t *root = odata_parse(line, len, &err);
        if (root == NULL) {
            printf("error %zu %s\n", err.pos, err.message);
            continue;
        }
        char *s = odata_sexpr(root);
        if (res == NULL) {
            printf("ok %s\n", s);
        } else {
            bson_t filter = BSON_INITIALIZER;
            if (odata_compile(res, root, &filter, &err)) {
                char *json = bson_as_relaxed_extended_json(&filter, NULL);
                printf("ok %s\t%s\n", s, json);
                bson_free(json);
            } else {
                printf("error %zu %s\n", err.pos, err.message);
            }
            bson_destroy(&filter);
        }
        bson_free(s);
        odata_free(root);
        fflush(stdout);
    }
    return 0;
}

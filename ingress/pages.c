/* The ingress's own answers: pages, the OpenAPI document, liveness (pages.h). */
#include "pages.h"
#include "metrics.h"
#include "config.h"
#include "log.h"
#include "filter.h"
#include "respond.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read once at start; NULL when the web assets are missing. */
static struct {
    h2o_iovec_t browse, docs;
} pages;

/* Reads `dir`/`name` whole; {NULL, 0} (and a warning) when it cannot. */
static h2o_iovec_t
pages_read(const char *dir, const char *name)
{
    char path[1024];
    h2o_iovec_t page = {NULL, 0};
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f != NULL && fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size > 0 && size < (1 << 20) && fseek(f, 0, SEEK_SET) == 0) {
            page.base = malloc((size_t)size);
            if (page.base != NULL && fread(page.base, 1, (size_t)size, f) == (size_t)size) {
                page.len = (size_t)size;
            } else {
                free(page.base);
                page.base = NULL;
            }
        }
    }
    if (f != NULL)
        fclose(f);
    if (page.base == NULL)
        log_warn("cannot read %s: its page answers 503 until it exists (run make setup)", path);
    return page;
}

/*
 * `rel` beside the program's own directory: <bin>/../share/roost/<name>,
 * where an install puts the pages and the build tree links them (CMake),
 * so that no path of the machine that built Roost is written into it.
 */
static const char *
pages_default_dir(const char *name)
{
    char exe[1024], *dir = NULL;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL)
            *slash = '\0';
        dir = h2o_concat(NULL, h2o_iovec_init(exe, strlen(exe)), h2o_iovec_init(H2O_STRLIT("/../share/roost/")),
                         h2o_iovec_init(name, strlen(name)))
                  .base;
    }
    return dir != NULL ? dir : name;
}

/*
 * The browse page with the map's tile URL (ROOST_MAP_TILES_URL, e.g.
 * https://tile.openstreetmap.org/{z}/{x}/{y}.png) in its data-tiles
 * attribute, HTML-escaped; unset, the map draws its markers over a plain
 * background and asks no other host for anything.
 */
static h2o_iovec_t
pages_with_tiles(h2o_iovec_t page)
{
    static const char mark[] = "data-tiles=\"\"";
    const char *url = cfg_str("ROOST_MAP_TILES_URL", "");
    char *at = page.base != NULL ? memmem(page.base, page.len, mark, sizeof(mark) - 1) : NULL;
    if (at == NULL || url[0] == '\0')
        return page;
    bson_string_t *out = bson_string_new(NULL);
    bson_string_append_printf(out, "%.*sdata-tiles=\"", (int)(at - page.base), page.base);
    for (const char *c = url; *c; c++) {
        if (*c == '&')
            bson_string_append(out, "&amp;");
        else if (*c == '"')
            bson_string_append(out, "&quot;");
        else if (*c == '<')
            bson_string_append(out, "&lt;");
        else
            bson_string_append_c(out, *c);
    }
    size_t after = (size_t)(at - page.base) + sizeof(mark) - 2; /* from the closing quote */
    bson_string_append_printf(out, "%.*s", (int)(page.len - after), page.base + after);
    free(page.base);
    size_t len = out->len;
    char *text = bson_string_free(out, false);
    page.base = malloc(len);
    memcpy(page.base, text, len);
    page.len = len;
    bson_free(text);
    return page;
}

void
pages_register(h2o_hostconf_t *host)
{
    const char *web = cfg_str("ROOST_WEB_DIR", pages_default_dir("web"));
    const char *swagger = cfg_str("ROOST_SWAGGER_DIR", pages_default_dir("swagger-ui"));
    const char *leaflet = cfg_str("ROOST_LEAFLET_DIR", pages_default_dir("leaflet"));
    char dir[1024];
    pages.browse = pages_with_tiles(pages_read(web, "index.html"));
    pages.docs = pages_read(web, "docs.html");
    snprintf(dir, sizeof(dir), "%s/static", web);
    h2o_pathconf_t *assets = h2o_config_register_path(host, "/static", 0);
    h2o_file_register(assets, h2o_strdup(NULL, dir, SIZE_MAX).base, NULL, NULL, 0);
    filter_register(assets);
    h2o_pathconf_t *swagger_ui = h2o_config_register_path(host, "/docs/assets", 0);
    h2o_file_register(swagger_ui, swagger, NULL, NULL, 0);
    filter_register(swagger_ui);
    if (access(swagger, R_OK) != 0)
        log_warn("%s is missing: /docs has no Swagger UI until it exists (run make setup)", swagger);
    h2o_pathconf_t *map = h2o_config_register_path(host, "/map/assets", 0);
    h2o_file_register(map, leaflet, NULL, NULL, 0);
    filter_register(map);
    if (access(leaflet, R_OK) != 0)
        log_warn("%s is missing: the browse page has no map until it exists (run make setup)", leaflet);
}

extern const char roost_openapi_json[];
extern const char roost_reso_metadata[];
extern const size_t roost_reso_metadata_len;
extern const size_t roost_openapi_json_len;

void
pages_answer(h2o_req_t *req, const char *rid, const route_t *route)
{
    if (strcmp(route->op, "metrics") == 0) {
        size_t len;
        char *text = metrics_render(&len);
        if (text == NULL)
            respond_error(req, false, rid, 503, "overloaded", "out of memory", NULL);
        else
            respond_body(req, 200, METRICS_CONTENT_TYPE, rid, text, len);
        bson_free(text);
    } else if (strcmp(route->op, "reso.metadata") == 0) {
        respond_odata_version(req);
        respond_body(req, 200, "application/xml", rid, roost_reso_metadata, roost_reso_metadata_len);
    } else if (strcmp(route->op, "reso.service") == 0) {
        /* The service document (OData JSON 4.01 §5): the one entity set. */
        static const char doc[] = "{\"@odata.context\":\"$metadata\",\"value\":[{\"name\":\"Property\","
                                  "\"kind\":\"EntitySet\",\"url\":\"Property\"},{\"name\":\"Media\","
                                  "\"kind\":\"EntitySet\",\"url\":\"Media\"}]}";
        respond_odata_version(req);
        respond_body(req, 200, "application/json", rid, doc, sizeof(doc) - 1);
    } else if (strcmp(route->op, "openapi") == 0) {
        respond_body(req, 200, "application/json", rid, roost_openapi_json, roost_openapi_json_len);
    } else if (strncmp(route->op, "page.", 5) == 0) {
        h2o_iovec_t page = strcmp(route->op, "page.docs") == 0 ? pages.docs : pages.browse;
        if (page.base == NULL)
            respond_error(req, false, rid, 503, "pages_missing",
                          "the web pages are not installed: run make setup (ROOST_WEB_DIR, ROOST_SWAGGER_DIR)", NULL);
        else
            respond_body(req, 200, "text/html; charset=utf-8", rid, page.base, page.len);
    } else {
        static const char ok[] = "{\"status\":\"ok\"}";
        respond_body(req, 200, "application/json", rid, ok, sizeof(ok) - 1);
    }
}

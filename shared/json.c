/* Checked JSON -> BSON and BSON -> JSON conversion. */
#include "json.h"

#include <string.h>

/* Nesting depth of a JSON text, counted outside strings. */
static int
json_depth(const char *data, size_t len)
{
    int depth = 0, max = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

bool
json_to_bson(const char *data, size_t len, bson_t *out, bson_error_t *error)
{
    size_t i = 0;

    if (!bson_utf8_validate(data, len, false)) {
        bson_set_error(error, 1, 400, "body is not valid UTF-8");
        return false;
    }
    while (i < len && strchr(" \t\r\n", data[i]) != NULL)
        i++;
    if (i == len) {
        bson_set_error(error, 1, 400, "body is empty; a JSON object is required");
        return false;
    }
    if (data[i] != '{') {
        bson_set_error(error, 1, 400, "body must be a JSON object");
        return false;
    }
    if (json_depth(data, len) > JSON_MAX_DEPTH) {
        bson_set_error(error, 1, 400, "body nests deeper than %d levels", JSON_MAX_DEPTH);
        return false;
    }
    bson_error_t perr;
    if (!bson_init_from_json(out, data, (ssize_t)len, &perr)) {
        bson_set_error(error, 1, 400, "body is not valid JSON: %s", perr.message);
        return false;
    }
    return true;
}

char *
json_from_bson(const bson_t *doc, size_t *len)
{
    return bson_as_relaxed_extended_json(doc, len);
}

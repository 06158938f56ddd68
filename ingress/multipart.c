/* multipart/form-data, as far as a photo upload needs it (multipart.h). */
#include "multipart.h"

#include <string.h>
#include <strings.h>

#define MULTIPART_BOUNDARY_MAX 70 /* RFC 2046 §5.1.1 */

/* The boundary parameter of a Content-Type value, quoted or not. */
static bool
multipart_boundary(const char *v, size_t len, char *out)
{
    const char *end = v + len;
    static const char name[] = "boundary=";
    for (const char *p = v; p + sizeof(name) - 1 <= end; p++) {
        if (strncasecmp(p, name, sizeof(name) - 1) != 0 || (p > v && p[-1] != ';' && p[-1] != ' ' && p[-1] != '\t'))
            continue;
        const char *b = p + sizeof(name) - 1, *e;
        if (b < end && *b == '"') {
            b++;
            e = memchr(b, '"', (size_t)(end - b));
            if (e == NULL)
                return false;
        } else {
            e = b;
            while (e < end && *e != ';' && *e != ' ' && *e != '\t')
                e++;
        }
        size_t n = (size_t)(e - b);
        if (n == 0 || n > MULTIPART_BOUNDARY_MAX)
            return false;
        memcpy(out, b, n);
        out[n] = '\0';
        return true;
    }
    return false;
}

/* The first occurrence of `needle` in [hay, hay + len), or NULL. */
static const char *
multipart_find(const char *hay, size_t len, const char *needle, size_t n)
{
    const char *end = hay + len;
    while (len >= n) {
        const char *p = memchr(hay, needle[0], len - n + 1);
        if (p == NULL)
            return NULL;
        if (memcmp(p, needle, n) == 0)
            return p;
        hay = p + 1;
        len = (size_t)(end - hay);
    }
    return NULL;
}

/* A header's value in a part's header block, or NULL. */
static const char *
multipart_header(const char *h, size_t len, const char *name, size_t *value_len)
{
    size_t n = strlen(name);
    const char *end = h + len;
    for (const char *line = h; line < end;) {
        const char *eol = multipart_find(line, (size_t)(end - line), "\r\n", 2);
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - line) > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            *value_len = (size_t)(eol - v);
            return v;
        }
        line = eol + 2;
    }
    return NULL;
}

/* The value of parameter `param` (`name="x"`) in a Content-Disposition, or NULL. */
static const char *
multipart_param(const char *v, size_t len, const char *param, size_t *out_len)
{
    size_t n = strlen(param);
    const char *end = v + len;
    for (const char *p = v; p + n + 2 <= end; p++) {
        if ((p == v || p[-1] == ';' || p[-1] == ' ') && strncasecmp(p, param, n) == 0 && p[n] == '=') {
            const char *b = p + n + 1, *e;
            if (*b == '"') {
                b++;
                e = memchr(b, '"', (size_t)(end - b));
                if (e == NULL)
                    return NULL;
            } else {
                e = b;
                while (e < end && *e != ';')
                    e++;
            }
            *out_len = (size_t)(e - b);
            return b;
        }
    }
    return NULL;
}

bool
multipart_photo(const char *content_type, size_t content_type_len, const char *body, size_t len, multipart_photo_t *out,
                const char **why)
{
    char boundary[MULTIPART_BOUNDARY_MAX + 1], delim[MULTIPART_BOUNDARY_MAX + 5];
    memset(out, 0, sizeof(*out));
    if (!multipart_boundary(content_type, content_type_len, boundary)) {
        *why = "multipart/form-data needs a boundary parameter of 1 to 70 characters";
        return false;
    }
    /* Every delimiter but the first is preceded by CRLF (RFC 2046 §5.1.1). */
    size_t dn = (size_t)(stpcpy(stpcpy(delim, "\r\n--"), boundary) - delim);
    const char *end = body + len, *p;
    if (len >= dn - 2 && memcmp(body, delim + 2, dn - 2) == 0)
        p = body + dn - 2;
    else if ((p = multipart_find(body, len, delim, dn)) != NULL)
        p += dn; /* a preamble before the first part */
    else {
        *why = "the body has no part: its boundary is not in it";
        return false;
    }
    bool file_seen = false;
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            break; /* the close delimiter */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            *why = "a part's boundary line does not end with CRLF";
            return false;
        }
        p += 2;
        const char *head_end = multipart_find(p, (size_t)(end - p), "\r\n\r\n", 4);
        const char *blank_first = end - p >= 2 && p[0] == '\r' && p[1] == '\n' ? p : NULL;
        const char *content = blank_first != NULL ? p + 2 : head_end != NULL ? head_end + 4 : NULL;
        if (content == NULL) {
            *why = "a part's headers do not end with a blank line";
            return false;
        }
        size_t head_len = blank_first != NULL ? 0 : (size_t)(head_end - p);
        const char *next = multipart_find(content, (size_t)(end - content), delim, dn);
        if (next == NULL) {
            *why = "the body ends before its closing boundary: was it cut off?";
            return false;
        }
        size_t dl, nl = 0, fl = 0, tl = 0;
        const char *disp = multipart_header(p, head_len, "Content-Disposition", &dl);
        const char *name = disp != NULL ? multipart_param(disp, dl, "name", &nl) : NULL;
        const char *filename = disp != NULL ? multipart_param(disp, dl, "filename", &fl) : NULL;
        if (filename != NULL || (name != NULL && nl == 4 && memcmp(name, "file", 4) == 0)) {
            if (file_seen) {
                *why = "send one file part per request";
                return false;
            }
            file_seen = true;
            out->file = content;
            out->file_len = (size_t)(next - content);
            out->file_type = multipart_header(p, head_len, "Content-Type", &tl);
            out->file_type_len = tl;
        } else if (name != NULL && nl == 7 && memcmp(name, "caption", 7) == 0) {
            out->caption = content;
            out->caption_len = (size_t)(next - content);
        } else {
            *why = "a part is neither the file nor the caption (form-data names \"file\" and \"caption\")";
            return false;
        }
        p = next + dn;
    }
    if (!file_seen) {
        *why = "the form has no file part (a part with a filename, or named \"file\")";
        return false;
    }
    return true;
}

/*
 * A photo sent as multipart/form-data (RFC 7578), as an HTML form or
 * `curl -F file=@photo.jpg -F caption=...` sends it: one file part (the
 * part with a filename, or named "file") and an optional "caption" part.
 * The parts are found in place, without a copy: a photo may be 20 MiB.
 * Pure code, unit-tested.
 */
#ifndef ROOST_MULTIPART_H
#define ROOST_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *file; /* the file part's bytes, inside the body */
    size_t file_len;
    const char *file_type; /* its Content-Type value (NULL when the part has none) */
    size_t file_type_len;
    const char *caption; /* the caption part's bytes, or NULL */
    size_t caption_len;
} multipart_photo_t;

/*
 * Finds the parts of `body` sent with `content_type` (its boundary
 * parameter). False with `why` (static words a client can act on) when the
 * body is not such a form: no boundary, a part without its headers' end,
 * no closing boundary, no file part, or more than one, or a part other
 * than the file and the caption.
 */
bool multipart_photo(const char *content_type, size_t content_type_len, const char *body, size_t len,
                     multipart_photo_t *out, const char **why);

#endif

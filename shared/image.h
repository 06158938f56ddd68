/*
 * Photos, checked before they are kept and cleaned before they are served,
 * on libvips (Debian's libvips-dev: one library that reads JPEG, PNG and
 * WebP, reads a header without decoding the pixels, applies the EXIF
 * orientation and writes without metadata; chosen over libjpeg + libpng +
 * libwebp, which would be three APIs and our own rotation code).
 *
 * What a photo must be (issue 24): bytes whose own signature is one of the
 * three types, the type it was declared as; at most `max_pixels` by its
 * header, checked before anything is decoded (a decompression bomb is
 * refused there); and bytes that decode in full. What is served is the
 * picture upright, with no EXIF, XMP or ICC comments: a phone photo's GPS
 * position of someone's home must not leak.
 *
 * Every function is safe from any thread once image_init has run.
 */
#ifndef ROOST_IMAGE_H
#define ROOST_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { IMAGE_UNKNOWN = 0, IMAGE_JPEG, IMAGE_PNG, IMAGE_WEBP } image_type_t;

typedef enum {
    IMAGE_OK = 0,
    IMAGE_NOT_IMAGE,     /* no known signature, or the bytes do not decode */
    IMAGE_TYPE_MISMATCH, /* a known type, not the declared one (HTTP 415) */
    IMAGE_TOO_LARGE,     /* more pixels than allowed, by the header */
} image_status_t;

/* Starts libvips for this process (once; later calls do nothing). */
bool image_init(const char *argv0);
void image_shutdown(void);

/* "image/jpeg", "image/png", "image/webp" (parameters after ';' ignored)
 * → the type; anything else → IMAGE_UNKNOWN. */
image_type_t image_type_of_mime(const char *content_type);
const char *image_mime(image_type_t type);

/* The type by the bytes' own signature (the first 12 bytes). */
image_type_t image_sniff(const uint8_t *buf, size_t len);

/*
 * The header check: the bytes are of the declared type, and width × height
 * ≤ max_pixels, read from the header alone. `why` (may be NULL) says what
 * is wrong, in words a client can act on.
 */
image_status_t image_probe(const uint8_t *buf, size_t len, image_type_t declared, uint64_t max_pixels, int *width,
                           int *height, char *why, size_t why_size);

/*
 * The picture as served: decoded in full, turned upright by its EXIF
 * orientation, every metadata block dropped, written again in its own
 * type. `*out` is freed with image_free. The width and height are the
 * upright picture's.
 */
image_status_t image_clean(const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len, int *width, int *height,
                           char *why, size_t why_size);

/* A copy `width` pixels wide (never wider than the original), as JPEG or
 * WebP (`as`), without metadata. */
bool image_resize(const uint8_t *buf, size_t len, int width, image_type_t as, uint8_t **out, size_t *out_len);

/* A picture of a house made here, for seeded properties (roostctl seed
 * --photos): sky, ground, walls, roof, door and windows, their colours and
 * places drawn from `seed` (the same seed, the same picture), as a JPEG
 * `width` × `height` (64 × 48 to 4096 × 4096). */
bool image_generate(int width, int height, uint64_t seed, uint8_t **out, size_t *out_len);

void image_free(void *p);

#endif

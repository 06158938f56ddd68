/*
 * Content codings for whole response bodies (RFC 9110 §8.4.1): gzip with
 * zlib and br with libbrotli. Debian's h2o 2.2.5 is built without brotli,
 * and every body the ingress renders is already whole in memory, so it is
 * compressed here in one call rather than by h2o's streaming filter.
 */
#ifndef ROOST_ENCODE_H
#define ROOST_ENCODE_H

#include "http.h"

#include <stdbool.h>
#include <stddef.h>

/* Bodies smaller than this are sent as they are: the coding's own header
 * and the CPU would cost more than the bytes saved. */
#define ENCODE_MIN_BYTES 1024

/* Quality settings, chosen for CPU per request (README "Performance"):
 * brotli 4 and gzip 5 keep a 45 KB page under a millisecond. */
#define ENCODE_BROTLI_QUALITY 4
#define ENCODE_GZIP_LEVEL 5

/*
 * Compresses `in` with `encoding` (gzip or br) into a new buffer the
 * caller frees with free(). Returns false, leaving *out NULL, when the
 * coding failed or would not make the body smaller; send it as it is then.
 */
bool encode_body(http_encoding_t encoding, const char *in, size_t len, char **out, size_t *out_len);

/* "gzip" or "br": the Content-Encoding value of a coding. */
const char *encode_name(http_encoding_t encoding);

#endif

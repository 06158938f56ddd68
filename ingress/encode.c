/* Whole-body gzip (zlib) and br (libbrotli) for the ingress (encode.h). */
#include "encode.h"

#include <brotli/encode.h>
#include <stdlib.h>
#include <zlib.h>

static bool
encode_gzip(const char *in, size_t len, char **out, size_t *out_len)
{
    z_stream z = {0};
    /* windowBits 15 + 16: a gzip wrapper (RFC 1952), not a zlib one. */
    if (deflateInit2(&z, ENCODE_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    size_t cap = deflateBound(&z, (uLong)len);
    char *buf = malloc(cap);
    bool ok = false;
    if (buf != NULL) {
        z.next_in = (Bytef *)in;
        z.avail_in = (uInt)len;
        z.next_out = (Bytef *)buf;
        z.avail_out = (uInt)cap;
        ok = deflate(&z, Z_FINISH) == Z_STREAM_END;
    }
    if (ok) {
        *out = buf;
        *out_len = z.total_out;
    } else {
        free(buf);
    }
    deflateEnd(&z);
    return ok;
}

static bool
encode_brotli(const char *in, size_t len, char **out, size_t *out_len)
{
    size_t cap = BrotliEncoderMaxCompressedSize(len);
    char *buf = cap > 0 ? malloc(cap) : NULL;
    if (buf == NULL)
        return false;
    size_t n = cap;
    if (!BrotliEncoderCompress(ENCODE_BROTLI_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, len, (const uint8_t *)in,
                               &n, (uint8_t *)buf)) {
        free(buf);
        return false;
    }
    *out = buf;
    *out_len = n;
    return true;
}

bool
encode_body(http_encoding_t encoding, const char *in, size_t len, char **out, size_t *out_len)
{
    bool ok = false;
    *out = NULL;
    if (encoding == HTTP_ENCODING_GZIP)
        ok = encode_gzip(in, len, out, out_len);
    else if (encoding == HTTP_ENCODING_BR)
        ok = encode_brotli(in, len, out, out_len);
    if (ok && *out_len >= len) {
        free(*out);
        *out = NULL;
        ok = false;
    }
    return ok;
}

const char *
encode_name(http_encoding_t encoding)
{
    return encoding == HTTP_ENCODING_BR ? "br" : encoding == HTTP_ENCODING_GZIP ? "gzip" : "identity";
}

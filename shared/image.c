/* Photos checked and cleaned with libvips (image.h). */
#include "image.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <vips/vips.h>
#include <webp/mux.h>

static pthread_once_t started = PTHREAD_ONCE_INIT;
static bool start_ok;
static const char *start_argv0;

/* libvips warns on stderr about what its callers are told anyway (a
 * truncated body: "error in tile 0 x 120"); the status says it here. */
static void
quiet(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
    (void)domain, (void)level, (void)message, (void)data;
}

static void
start(void)
{
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, quiet, NULL);
    start_ok = VIPS_INIT(start_argv0 != NULL ? start_argv0 : "roost") == 0;
    /* A worker reads one photo at a time per request: no cache of
     * operations between requests, which would hold their pixels. */
    vips_cache_set_max(0);
    /* One thread a picture: a worker's requests run side by side already,
     * and libvips' default (a thread per CPU, per picture) let 20 uploads
     * at once take every core from the other requests. */
    vips_concurrency_set(1);
}

bool
image_init(const char *argv0)
{
    start_argv0 = argv0;
    pthread_once(&started, start);
    return start_ok;
}

void
image_shutdown(void)
{
    if (start_ok)
        vips_shutdown();
}

void
image_free(void *p)
{
    g_free(p);
}

static const struct {
    image_type_t type;
    const char *mime;
} mimes[] = {{IMAGE_JPEG, "image/jpeg"}, {IMAGE_PNG, "image/png"}, {IMAGE_WEBP, "image/webp"}};

image_type_t
image_type_of_mime(const char *content_type)
{
    if (content_type == NULL)
        return IMAGE_UNKNOWN;
    size_t n = strcspn(content_type, ";");
    while (n > 0 && content_type[n - 1] == ' ')
        n--;
    for (size_t i = 0; i < sizeof(mimes) / sizeof(mimes[0]); i++)
        if (strlen(mimes[i].mime) == n && strncasecmp(content_type, mimes[i].mime, n) == 0)
            return mimes[i].type;
    return IMAGE_UNKNOWN;
}

const char *
image_mime(image_type_t type)
{
    for (size_t i = 0; i < sizeof(mimes) / sizeof(mimes[0]); i++)
        if (mimes[i].type == type)
            return mimes[i].mime;
    return "application/octet-stream";
}

image_type_t
image_sniff(const uint8_t *buf, size_t len)
{
    if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF)
        return IMAGE_JPEG;
    if (len >= 8 && memcmp(buf, "\x89PNG\r\n\x1a\n", 8) == 0)
        return IMAGE_PNG;
    if (len >= 12 && memcmp(buf, "RIFF", 4) == 0 && memcmp(buf + 8, "WEBP", 4) == 0)
        return IMAGE_WEBP;
    return IMAGE_UNKNOWN;
}

static image_status_t
fail(image_status_t status, char *why, size_t why_size, const char *fmt, ...)
{
    if (why != NULL && why_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    vips_error_clear();
    return status;
}

/* The loader for bytes of a known type only: never one of libvips's other
 * formats (SVG, PDF, …), whatever the bytes say. */
static VipsImage *
load(const uint8_t *buf, size_t len, VipsAccess access)
{
    if (image_sniff(buf, len) == IMAGE_UNKNOWN)
        return NULL;
    return vips_image_new_from_buffer(buf, len, "", "access", access, "fail_on", VIPS_FAIL_ON_ERROR, NULL);
}

image_status_t
image_probe(const uint8_t *buf, size_t len, image_type_t declared, uint64_t max_pixels, int *width, int *height,
            char *why, size_t why_size)
{
    image_type_t actual = image_sniff(buf, len);
    if (actual == IMAGE_UNKNOWN)
        return fail(IMAGE_NOT_IMAGE, why, why_size, "the body is not a JPEG, PNG or WebP image");
    if (actual != declared)
        return fail(IMAGE_TYPE_MISMATCH, why, why_size, "the body is %s, not %s", image_mime(actual),
                    image_mime(declared));
    /* Sequential access reads the header now and the pixels only when asked. */
    VipsImage *img = load(buf, len, VIPS_ACCESS_SEQUENTIAL);
    if (img == NULL)
        return fail(IMAGE_NOT_IMAGE, why, why_size, "the %s image's header cannot be read", image_mime(actual));
    int w = vips_image_get_width(img), h = vips_image_get_height(img);
    g_object_unref(img);
    if (width != NULL)
        *width = w;
    if (height != NULL)
        *height = h;
    if ((uint64_t)w * (uint64_t)h > max_pixels)
        return fail(IMAGE_TOO_LARGE, why, why_size, "the image is %d × %d pixels, more than %llu", w, h,
                    (unsigned long long)max_pixels);
    return IMAGE_OK;
}

/* Collects the names of an image's metadata fields (vips_image_map). */
static void *
field_name(VipsImage *img, const char *name, GValue *value, void *arg)
{
    (void)img, (void)value;
    GPtrArray *names = arg;
    g_ptr_array_add(names, g_strdup(name));
    return NULL;
}

/*
 * `img` without one metadata field: "strip" alone is not enough, as
 * libvips 8.14's WebP writer still adds the EXIF and XMP chunks it finds
 * on the image. What a saver could write from is gone; the pixels are
 * shared, not copied. The core fields (width, bands, ...) are not
 * metadata and vips_image_remove leaves them.
 */
static VipsImage *
without_metadata(VipsImage *img)
{
    VipsImage *bare = NULL;
    if (vips_copy(img, &bare, NULL) != 0)
        return NULL;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    vips_image_map(bare, field_name, names);
    for (guint i = 0; i < names->len; i++)
        vips_image_remove(bare, g_ptr_array_index(names, i));
    g_ptr_array_free(names, TRUE);
    return bare;
}

/*
 * A WebP without its EXIF, XMP and ICC chunks, by libwebpmux: libvips
 * 8.14 writes an EXIF chunk of its own (resolution, orientation) even
 * with nothing to say and "strip" set. *buf (g_malloc'd) is replaced.
 */
static bool
webp_without_metadata(void **buf, size_t *len)
{
    WebPData in = {*buf, *len}, out = {NULL, 0};
    WebPMux *mux = WebPMuxCreate(&in, 1);
    if (mux == NULL)
        return false;
    static const char *const chunks[] = {"EXIF", "XMP ", "ICCP"};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
        WebPMuxDeleteChunk(mux, chunks[i]); /* WEBP_MUX_NOT_FOUND: nothing to remove */
    bool ok = WebPMuxAssemble(mux, &out) == WEBP_MUX_OK;
    WebPMuxDelete(mux);
    if (!ok)
        return false;
    void *copy = g_malloc(out.size);
    memcpy(copy, out.bytes, out.size);
    g_free(*buf);
    *buf = copy;
    *len = out.size;
    WebPDataClear(&out);
    return true;
}

/* Writes img as `type`, without metadata: 8 bits a sample (a 16-bit PNG
 * is for printing, not for a listing, and takes twice the time and bytes). */
static bool
save(VipsImage *img, image_type_t type, uint8_t **out, size_t *out_len)
{
    void *buf = NULL;
    size_t len = 0;
    int rc = -1;
    /* A photo with a colour profile (a phone's Display P3, a camera's Adobe
     * RGB, a CMYK JPEG) is turned into sRGB first: its profile goes with
     * the rest of the metadata, and its colours must not shift. */
    VipsImage *srgb = NULL;
    if (vips_image_get_typeof(img, VIPS_META_ICC_NAME) != 0 &&
        vips_icc_transform(img, &srgb, "srgb", "embedded", TRUE, "intent", VIPS_INTENT_PERCEPTUAL, NULL) != 0) {
        vips_error_clear(); /* a profile libvips cannot read: the pixels as they are */
        srgb = NULL;
    }
    VipsImage *bare = without_metadata(srgb != NULL ? srgb : img), *eight = NULL;
    if (srgb != NULL)
        g_object_unref(srgb);
    if (bare == NULL) {
        vips_error_clear();
        return false;
    }
    VipsInterpretation in = vips_image_get_interpretation(bare);
    if (in == VIPS_INTERPRETATION_RGB16 || in == VIPS_INTERPRETATION_GREY16) {
        if (vips_colourspace(bare, &eight,
                             in == VIPS_INTERPRETATION_RGB16 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W,
                             NULL) != 0) {
            g_object_unref(bare);
            vips_error_clear();
            return false;
        }
        g_object_unref(bare);
        bare = eight;
    }
    if (type == IMAGE_JPEG)
        rc = vips_jpegsave_buffer(bare, &buf, &len, "Q", 85, "strip", TRUE, NULL);
    else if (type == IMAGE_PNG) /* level 3 of zlib's 9: most of 6's size, far less of its time */
        rc = vips_pngsave_buffer(bare, &buf, &len, "strip", TRUE, "compression", 3, NULL);
    else if (type == IMAGE_WEBP)
        rc = vips_webpsave_buffer(bare, &buf, &len, "Q", 80, "strip", TRUE, NULL);
    g_object_unref(bare);
    if (rc != 0) {
        vips_error_clear();
        return false;
    }
    if (type == IMAGE_WEBP && !webp_without_metadata(&buf, &len)) {
        g_free(buf);
        return false;
    }
    *out = buf;
    *out_len = len;
    return true;
}

image_status_t
image_clean(const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len, int *width, int *height, char *why,
            size_t why_size)
{
    image_type_t type = image_sniff(buf, len);
    VipsImage *img = load(buf, len, VIPS_ACCESS_RANDOM);
    if (img == NULL)
        return fail(IMAGE_NOT_IMAGE, why, why_size, "the body is not a JPEG, PNG or WebP image");
    VipsImage *upright = NULL;
    bool ok = vips_autorot(img, &upright, NULL) == 0;
    g_object_unref(img);
    /* Writing decodes every pixel: a truncated or corrupt body fails here. */
    ok = ok && save(upright, type, out, out_len);
    if (ok && width != NULL)
        *width = vips_image_get_width(upright);
    if (ok && height != NULL)
        *height = vips_image_get_height(upright);
    if (upright != NULL)
        g_object_unref(upright);
    if (!ok)
        return fail(IMAGE_NOT_IMAGE, why, why_size, "the %s image does not decode", image_mime(type));
    return IMAGE_OK;
}

bool
image_resize(const uint8_t *buf, size_t len, int width, image_type_t as, uint8_t **out, size_t *out_len)
{
    if (width <= 0 || (as != IMAGE_JPEG && as != IMAGE_WEBP))
        return false;
    VipsImage *small = NULL;
    /* The thumbnail loader shrinks while it decodes (JPEG's own scaling),
     * turns the picture upright, and never makes it wider than it was. */
    if (image_sniff(buf, len) == IMAGE_UNKNOWN ||
        vips_thumbnail_buffer((void *)buf, len, &small, width, "height", VIPS_MAX_COORD, "size", VIPS_SIZE_DOWN,
                              NULL) != 0) {
        vips_error_clear();
        return false;
    }
    bool ok = save(small, as, out, out_len);
    g_object_unref(small);
    return ok;
}

/* Fills rows [top, bottom) of `img` with `ink`, centred on `cx`, each row
 * wider than the last until `half_base` either side after `rise` rows: a roof. */
static void
draw_rows(VipsImage *img, double *ink, int top, int bottom, int cx, int half_base, int rise)
{
    for (int y = top; y < bottom; y++) {
        int half = rise > 0 ? half_base * (y - top + 1) / rise : half_base;
        vips_draw_rect(img, ink, 3, cx - half, y, 2 * half, 1, "fill", TRUE, NULL);
    }
}

bool
image_generate(int width, int height, uint64_t seed, uint8_t **out, size_t *out_len)
{
    if (width < 64 || height < 48 || width > 4096 || height > 4096)
        return false;
    VipsImage *black = NULL, *img = NULL;
    if (vips_black(&black, width, height, "bands", 3, NULL) != 0) {
        vips_error_clear();
        return false;
    }
    /* A writable copy in memory: the draw operations change it in place. */
    img = vips_image_copy_memory(black);
    g_object_unref(black);
    if (img == NULL) {
        vips_error_clear();
        return false;
    }
    uint64_t r = seed * 0x9E3779B97F4A7C15ull + 1;
#define NEXT(n) ((int)((r = r * 6364136223846793005ull + 1442695040888963407ull) >> 33) % (n))
    double sky[3] = {90 + NEXT(80), 140 + NEXT(80), 200 + NEXT(55)};
    double ground[3] = {60 + NEXT(60), 120 + NEXT(60), 40 + NEXT(40)};
    double wall[3] = {150 + NEXT(100), 120 + NEXT(100), 90 + NEXT(100)};
    double roof[3] = {100 + NEXT(80), 30 + NEXT(50), 20 + NEXT(40)};
    double glass[3] = {180, 210, 235}, door[3] = {70 + NEXT(40), 40 + NEXT(30), 20 + NEXT(20)};
    int horizon = height * (55 + NEXT(15)) / 100;
    vips_draw_rect(img, sky, 3, 0, 0, width, horizon, "fill", TRUE, NULL);
    vips_draw_rect(img, ground, 3, 0, horizon, width, height - horizon, "fill", TRUE, NULL);
    int hw = width * (35 + NEXT(25)) / 100, hh = height * (25 + NEXT(15)) / 100;
    int hx = NEXT(width - hw), hy = horizon - hh + height / 20;
    vips_draw_rect(img, wall, 3, hx, hy, hw, hh, "fill", TRUE, NULL);
    draw_rows(img, roof, hy - hh / 2, hy, hx + hw / 2, hw / 2 + width / 40, hh / 2);
    int dw = hw / 7, dh = hh / 2;
    vips_draw_rect(img, door, 3, hx + hw / 2 - dw / 2, hy + hh - dh, dw, dh, "fill", TRUE, NULL);
    for (int k = 0; k < 2; k++)
        vips_draw_rect(img, glass, 3, hx + hw / 8 + k * (hw * 5 / 8), hy + hh / 5, hw / 5, hh / 4, "fill", TRUE, NULL);
#undef NEXT
    bool ok = save(img, IMAGE_JPEG, out, out_len);
    g_object_unref(img);
    return ok;
}

/* Unit tests of shared/image.c: photos made here with libvips itself —
 * a phone's JPEG lying on its side with a GPS position, a PNG, a WebP, a
 * truncated one, and bytes of one type declared as another. */
#include "roost_test.h"

#include <string.h>
#include <vips/vips.h>

#include "image.h"

/* A 64 × 48 picture, its left half white, as `type`, with XMP but for a PNG; a JPEG
 * also carries EXIF: orientation 6 (stored on its side) and a GPS
 * latitude; a WebP, EXIF with the GPS latitude. */
static uint8_t *
make(image_type_t type, size_t *len)
{
    VipsImage *pic;
    static const char xmp[] = "<x:xmpmeta xmlns:x='adobe:ns:meta/'>secret GPS</x:xmpmeta>";
    assert_int_equal(vips_black(&pic, 64, 48, "bands", 3, NULL), 0);
    assert_int_equal(vips_draw_rect1(pic, 255, 0, 0, 32, 48, "fill", TRUE, NULL), 0);
    if (type != IMAGE_PNG) /* a PNG's header check below cuts it where XMP would go */
        vips_image_set_blob_copy(pic, "xmp-data", xmp, sizeof(xmp) - 1);
    void *buf = NULL;
    if (type == IMAGE_JPEG) {
        vips_image_set_int(pic, "orientation", 6);
        vips_image_set_string(pic, "exif-ifd3-GPSLatitude", "48/1 51/1 30/1");
        vips_image_set_string(pic, "exif-ifd3-GPSLatitudeRef", "N");
        assert_int_equal(vips_jpegsave_buffer(pic, &buf, len, NULL), 0);
    } else if (type == IMAGE_WEBP) {
        vips_image_set_string(pic, "exif-ifd3-GPSLatitude", "48/1 51/1 30/1");
        vips_image_set_string(pic, "exif-ifd3-GPSLatitudeRef", "N");
        assert_int_equal(vips_webpsave_buffer(pic, &buf, len, NULL), 0);
    } else if (type == IMAGE_PNG) {
        assert_int_equal(vips_pngsave_buffer(pic, &buf, len, NULL), 0);
    } else {
        assert_int_equal(vips_webpsave_buffer(pic, &buf, len, NULL), 0);
    }
    g_object_unref(pic);
    return buf;
}

static void
test_types_by_name_and_by_signature(void **state)
{
    (void)state;
    assert_int_equal(image_type_of_mime("image/jpeg"), IMAGE_JPEG);
    assert_int_equal(image_type_of_mime("Image/PNG; charset=binary"), IMAGE_PNG);
    assert_int_equal(image_type_of_mime("image/webp"), IMAGE_WEBP);
    assert_int_equal(image_type_of_mime("image/gif"), IMAGE_UNKNOWN);
    assert_int_equal(image_type_of_mime("image/svg+xml"), IMAGE_UNKNOWN);
    assert_int_equal(image_type_of_mime(NULL), IMAGE_UNKNOWN);
    assert_string_equal(image_mime(IMAGE_WEBP), "image/webp");
    for (image_type_t t = IMAGE_JPEG; t <= IMAGE_WEBP; t++) {
        size_t len;
        uint8_t *buf = make(t, &len);
        assert_int_equal(image_sniff(buf, len), t);
        assert_int_equal(image_sniff(buf, 2), IMAGE_UNKNOWN); /* too short to tell */
        image_free(buf);
    }
    assert_int_equal(image_sniff((const uint8_t *)"<svg xmlns=", 11), IMAGE_UNKNOWN);
}

static void
test_the_header_check(void **state)
{
    (void)state;
    size_t len;
    uint8_t *png = make(IMAGE_PNG, &len);
    int w = 0, h = 0;
    char why[160];
    assert_int_equal(image_probe(png, len, IMAGE_PNG, 50000000, &w, &h, why, sizeof(why)), IMAGE_OK);
    assert_int_equal(w, 64);
    assert_int_equal(h, 48);
    /* Declared as another type: 415, naming both. */
    assert_int_equal(image_probe(png, len, IMAGE_JPEG, 50000000, NULL, NULL, why, sizeof(why)), IMAGE_TYPE_MISMATCH);
    assert_non_null(strstr(why, "image/png"));
    assert_non_null(strstr(why, "image/jpeg"));
    /* More pixels than allowed, told by the header alone: a body cut
     * after its header still says so, as a bomb would before decoding. */
    assert_int_equal(image_probe(png, len, IMAGE_PNG, 3071, NULL, NULL, why, sizeof(why)), IMAGE_TOO_LARGE);
    assert_int_equal(image_probe(png, 64, IMAGE_PNG, 3071, NULL, NULL, why, sizeof(why)), IMAGE_TOO_LARGE);
    assert_int_equal(image_probe(png, len, IMAGE_PNG, 3072, NULL, NULL, why, sizeof(why)), IMAGE_OK);
    assert_int_equal(image_probe((const uint8_t *)"hello", 5, IMAGE_PNG, 10, NULL, NULL, why, sizeof(why)),
                     IMAGE_NOT_IMAGE);
    image_free(png);
}

static void
test_clean_turns_upright_and_drops_the_gps(void **state)
{
    (void)state;
    size_t len;
    uint8_t *jpeg = make(IMAGE_JPEG, &len);
    assert_non_null(memmem(jpeg, len, "Exif", 4)); /* what a phone sends */
    uint8_t *out = NULL;
    size_t out_len = 0;
    int w = 0, h = 0;
    char why[160];
    assert_int_equal(image_clean(jpeg, len, &out, &out_len, &w, &h, why, sizeof(why)), IMAGE_OK);
    /* Orientation 6: stored 64 × 48 on its side, shown 48 × 64. */
    assert_int_equal(w, 48);
    assert_int_equal(h, 64);
    assert_int_equal(image_sniff(out, out_len), IMAGE_JPEG);
    assert_null(memmem(out, out_len, "Exif", 4));
    VipsImage *served = vips_image_new_from_buffer(out, out_len, "", NULL);
    assert_non_null(served);
    assert_int_equal(vips_image_get_typeof(served, "exif-data"), 0);
    assert_int_equal(vips_image_get_width(served), 48);
    g_object_unref(served);
    image_free(out);
    image_free(jpeg);
    /* Cut short: the header reads, the pixels do not. Noise, so that the
     * pixels are most of the bytes. */
    VipsImage *noise;
    void *big = NULL;
    assert_int_equal(vips_gaussnoise(&noise, 256, 256, NULL), 0);
    assert_int_equal(vips_jpegsave_buffer(noise, &big, &len, NULL), 0);
    g_object_unref(noise);
    assert_int_equal(image_probe(big, len / 2, IMAGE_JPEG, 50000000, NULL, NULL, NULL, 0), IMAGE_OK);
    assert_int_equal(image_clean(big, len / 2, &out, &out_len, NULL, NULL, why, sizeof(why)), IMAGE_NOT_IMAGE);
    assert_int_equal(image_clean(big, len, &out, &out_len, NULL, NULL, why, sizeof(why)), IMAGE_OK);
    image_free(out);
    image_free(big);
    for (image_type_t t = IMAGE_PNG; t <= IMAGE_WEBP; t++) {
        uint8_t *in = make(t, &len);
        assert_true(t == IMAGE_PNG || memmem(in, len, "secret GPS", 10) != NULL);
        assert_int_equal(image_clean(in, len, &out, &out_len, &w, &h, NULL, 0), IMAGE_OK);
        assert_int_equal(image_sniff(out, out_len), t); /* kept in its own type */
        assert_int_equal(w, 64);
        /* No metadata block of any kind: EXIF, XMP (WebP's EXIF and XMP chunks too). */
        assert_null(memmem(out, out_len, "secret GPS", 10));
        assert_null(memmem(out, out_len, "Exif", 4));
        assert_null(memmem(out, out_len, "EXIF", 4));
        assert_null(memmem(out, out_len, "XMP ", 4));
        VipsImage *back = vips_image_new_from_buffer(out, out_len, "", NULL);
        assert_non_null(back);
        assert_int_equal(vips_image_get_typeof(back, "exif-data"), 0);
        assert_int_equal(vips_image_get_typeof(back, "xmp-data"), 0);
        g_object_unref(back);
        image_free(out);
        image_free(in);
    }
}

static void
test_resize(void **state)
{
    (void)state;
    size_t len;
    uint8_t *png = make(IMAGE_PNG, &len);
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_true(image_resize(png, len, 32, IMAGE_WEBP, &out, &out_len));
    assert_int_equal(image_sniff(out, out_len), IMAGE_WEBP);
    assert_null(memmem(out, out_len, "EXIF", 4)); /* a copy carries no metadata either */
    assert_null(memmem(out, out_len, "secret GPS", 10));
    VipsImage *small = vips_image_new_from_buffer(out, out_len, "", NULL);
    assert_int_equal(vips_image_get_width(small), 32);
    assert_int_equal(vips_image_get_height(small), 24);
    g_object_unref(small);
    image_free(out);
    /* Never wider than the original. */
    assert_true(image_resize(png, len, 1280, IMAGE_JPEG, &out, &out_len));
    small = vips_image_new_from_buffer(out, out_len, "", NULL);
    assert_int_equal(vips_image_get_width(small), 64);
    g_object_unref(small);
    image_free(out);
    assert_false(image_resize(png, len, 32, IMAGE_PNG, &out, &out_len)); /* served as JPEG or WebP only */
    assert_false(image_resize((const uint8_t *)"hello", 5, 32, IMAGE_JPEG, &out, &out_len));
    image_free(png);
}

static void
generated_pictures_are_jpegs_made_again_alike(void **state)
{
    uint8_t *a = NULL, *b = NULL, *c = NULL;
    size_t na = 0, nb = 0, nc = 0;
    int w = 0, h = 0;
    assert_true(image_generate(640, 427, 7, &a, &na));
    assert_true(image_generate(640, 427, 7, &b, &nb));
    assert_true(image_generate(640, 427, 8, &c, &nc));
    assert_int_equal(image_probe(a, na, IMAGE_JPEG, 50000000, &w, &h, NULL, 0), IMAGE_OK);
    assert_int_equal(w, 640);
    assert_int_equal(h, 427);
    assert_true(na == nb && memcmp(a, b, na) == 0); /* the same seed, the same picture */
    assert_false(na == nc && memcmp(a, c, na) == 0);
    assert_false(image_generate(10, 10, 1, &c, &nc)); /* too small to draw */
    image_free(a);
    image_free(b);
    image_free(c);
}

int
main(int argc, char **argv)
{
    (void)argc;
    assert_true(image_init(argv[0]));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generated_pictures_are_jpegs_made_again_alike),
        cmocka_unit_test(test_types_by_name_and_by_signature),
        cmocka_unit_test(test_the_header_check),
        cmocka_unit_test(test_clean_turns_upright_and_drops_the_gps),
        cmocka_unit_test(test_resize),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    image_shutdown();
    return failed;
}

/* A photo's multipart/form-data body (ingress/multipart.h), by RFC 7578 and RFC 2046 §5.1. */
#include "roost_test.h"

#include "multipart.h"

#define S(x) (x), strlen(x)
#define FORM "multipart/form-data; boundary=XyZ"

static void
finds_the_file_and_the_caption(void **state)
{
    const char body[] = "--XyZ\r\n"
                        "Content-Disposition: form-data; name=\"caption\"\r\n\r\n"
                        "Vue mer\r\n"
                        "--XyZ\r\n"
                        "Content-Disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\n"
                        "Content-Type: image/jpeg\r\n\r\n"
                        "\xff\xd8\r\n--not-it\r\n\xff\xd9\r\n"
                        "--XyZ--\r\n";
    multipart_photo_t p;
    const char *why = NULL;
    assert_true(multipart_photo(S(FORM), body, sizeof(body) - 1, &p, &why));
    assert_int_equal(p.file_len, 16);
    assert_memory_equal(p.file, "\xff\xd8\r\n--not-it\r\n\xff\xd9", 16);
    assert_int_equal(p.file_type_len, strlen("image/jpeg"));
    assert_memory_equal(p.file_type, "image/jpeg", p.file_type_len);
    assert_int_equal(p.caption_len, 7);
    assert_memory_equal(p.caption, "Vue mer", 7);
}

static void
takes_a_quoted_boundary_a_preamble_and_a_part_named_file(void **state)
{
    const char body[] = "ignored preamble\r\n"
                        "--a b\r\n"
                        "Content-Disposition: form-data; name=file\r\n\r\n"
                        "BYTES\r\n"
                        "--a b--";
    multipart_photo_t p;
    const char *why = NULL;
    assert_true(multipart_photo(S("multipart/form-data; boundary=\"a b\""), body, sizeof(body) - 1, &p, &why));
    assert_int_equal(p.file_len, 5);
    assert_memory_equal(p.file, "BYTES", 5);
    assert_null(p.file_type); /* the caller refuses a file part without a type */
    assert_null(p.caption);
}

static void
refuses_what_is_not_one_photo(void **state)
{
    multipart_photo_t p;
    const char *why = NULL;
    const char one[] = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nA\r\n";
    const char *bad[][2] = {
        {"multipart/form-data", "--XyZ\r\n\r\nA\r\n--XyZ--"},                                    /* no boundary */
        {FORM, "no boundary in here"},                                                           /* no part */
        {FORM, one},                                                                             /* cut off */
        {FORM, "--XyZ\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nx\r\n--XyZ--"}, /* no file */
        {FORM, "--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--XyZ--"},   /* unknown */
        {FORM, "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\nno blank line\r\n--XyZ--"},
        {FORM, "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nA\r\n"
               "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nB\r\n--XyZ--"}, /* two files */
        {"multipart/form-data; boundary=" /* 71 characters: past RFC 2046's 70 */
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "x"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        assert_false(multipart_photo(S(bad[i][0]), S(bad[i][1]), &p, &why));
        assert_non_null(why);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_the_file_and_the_caption),
        cmocka_unit_test(takes_a_quoted_boundary_a_preamble_and_a_part_named_file),
        cmocka_unit_test(refuses_what_is_not_one_photo),
    };
    return cmocka_run_group_tests_name("/ingress/multipart", tests, NULL, NULL);
}

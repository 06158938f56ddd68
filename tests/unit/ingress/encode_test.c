/* Content coding (ingress/encode.c): gzip and br bodies that decode to what was sent. */
#include "roost_test.h"

#include "encode.h"

#include <stdlib.h>
#include <zlib.h>

static void
encode_round_trips(void **state)
{
    size_t n = 50000, out_len;
    char *body = malloc(n), *out;
    for (size_t i = 0; i < n; i++)
        body[i] = "{\"id\":1,\"name\":\"Sunny flat\"},"[i % 30];
    assert_true(encode_body(HTTP_ENCODING_GZIP, body, n, &out, &out_len));
    assert_true(out_len < n / 10);
    char *back = malloc(n);
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)out;
    z.avail_in = (uInt)out_len;
    z.next_out = (Bytef *)back;
    z.avail_out = (uInt)n;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, n);
    assert_memory_equal(back, body, n);
    inflateEnd(&z);
    free(out);
    assert_true(encode_body(HTTP_ENCODING_BR, body, n, &out, &out_len));
    assert_true(out_len < n / 10);
    free(out);
    assert_false(encode_body(HTTP_ENCODING_GZIP, "x", 1, &out, &out_len)); /* would grow: sent as is */
    assert_null(out);
    free(back);
    free(body);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_round_trips),
    };
    return cmocka_run_group_tests_name("/ingress/encode", tests, NULL, NULL);
}

/* The SP wire format (shared/sp.c), byte for byte as nng sends it. */
#include "roost_test.h"

#include "sp.h"

#include <string.h>

static void
handshakes_name_the_protocol(void **state)
{
    uint8_t h[SP_HANDSHAKE_LEN];
    sp_handshake(h, SP_PROTO_REQ);
    assert_memory_equal(h, ((uint8_t[]){0, 'S', 'P', 0, 0x00, 0x30, 0, 0}), SP_HANDSHAKE_LEN);
    assert_true(sp_handshake_is(h, SP_PROTO_REQ));
    assert_false(sp_handshake_is(h, SP_PROTO_REP)); /* a REQ talking to a REQ is refused */
    h[6] = 1;                                       /* the reserved bytes must be zero */
    assert_false(sp_handshake_is(h, SP_PROTO_REQ));
    sp_handshake(h, SP_PROTO_REP);
    assert_int_equal(h[5], 0x31);
}

static void
frames_are_length_prefixed_big_endian(void **state)
{
    uint8_t buf[16] = {0};
    sp_frame_header(buf, 5);
    assert_memory_equal(buf, ((uint8_t[]){0, 0, 0, 0, 0, 0, 0, 5}), 8);
    assert_int_equal(sp_frame_size(buf, 0, 100), 0);  /* nothing yet */
    assert_int_equal(sp_frame_size(buf, 7, 100), 0);  /* half a header */
    assert_int_equal(sp_frame_size(buf, 12, 100), 0); /* 4 of 5 bytes */
    assert_int_equal(sp_frame_size(buf, 13, 100), 13);
    assert_int_equal(sp_frame_size(buf, 16, 100), 13); /* the next frame's bytes are not this one's */
    assert_int_equal(sp_frame_size(buf, 13, 4), -1);   /* larger than allowed: refused before it is read */
    sp_frame_header(buf, UINT64_C(0x0102030405060708));
    assert_memory_equal(buf, ((uint8_t[]){1, 2, 3, 4, 5, 6, 7, 8}), 8);
    assert_int_equal(sp_frame_size(buf, 8, UINT64_MAX), 0);
    sp_frame_header(buf, UINT64_MAX); /* a length that would overflow a signed size */
    assert_int_equal(sp_frame_size(buf, 8, (uint64_t)1 << 40), -1);
}

static void
request_ids_have_the_high_bit(void **state)
{
    uint8_t id[4];
    uint32_t got = 0;
    sp_request_id(id, 7);
    assert_memory_equal(id, ((uint8_t[]){0x80, 0, 0, 7}), 4);
    assert_true(sp_reply_id(id, 4, &got));
    assert_int_equal(got, 7);
    sp_request_id(id, 0xffffffffu); /* only 31 bits are the id */
    assert_true(sp_reply_id(id, 4, &got));
    assert_int_equal(got, 0x7fffffff);
    assert_false(sp_reply_id(id, 3, &got));
    assert_false(sp_reply_id((uint8_t[]){0x00, 0, 0, 7}, 4, &got)); /* a hop, not an id */
}

static void
a_backtrace_ends_at_the_request_id(void **state)
{
    uint8_t msg[40] = {0};
    sp_request_id(msg, 9);
    assert_int_equal(sp_backtrace_len(msg, 10), 4); /* direct: the id alone */
    memset(msg, 0, sizeof(msg));
    msg[3] = 1; /* one device's pipe id, then the id */
    sp_request_id(msg + 4, 9);
    assert_int_equal(sp_backtrace_len(msg, 8), 8);
    assert_int_equal(sp_backtrace_len(msg, 7), 0); /* cut inside the id */
    memset(msg, 0, sizeof(msg));
    assert_int_equal(sp_backtrace_len(msg, sizeof(msg)), 0); /* no id within the hop limit */
    assert_int_equal(sp_backtrace_len(msg, 0), 0);
}

static void
urls_split_into_host_and_port(void **state)
{
    bool tls = true;
    char host[64], port[8];
    assert_true(sp_url_parse("tcp://127.0.0.1:7300", &tls, host, sizeof(host), port, sizeof(port)));
    assert_false(tls);
    assert_string_equal(host, "127.0.0.1");
    assert_string_equal(port, "7300");
    assert_true(sp_url_parse("tls+tcp://users-workers.roost.svc:7300", &tls, host, sizeof(host), port, sizeof(port)));
    assert_true(tls);
    assert_string_equal(host, "users-workers.roost.svc");
    assert_true(sp_url_parse("tcp://[::1]:7300", &tls, host, sizeof(host), port, sizeof(port)));
    assert_string_equal(host, "::1");
    assert_true(sp_url_parse("tcp://*:7300", &tls, host, sizeof(host), port, sizeof(port)));
    assert_string_equal(host, "*");
    assert_true(sp_url_parse("tcp://:7300", &tls, host, sizeof(host), port, sizeof(port)));
    assert_string_equal(host, "");
    const char *bad[] = {"ipc:///tmp/x",    "tcp://host",     "tcp://host:", "tcp://host:7x",
                         "tcp://[::1]7300", "tcp://::1:7300", "http://a:1",  "tcp://a:123456789"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(sp_url_parse(bad[i], &tls, host, sizeof(host), port, sizeof(port)));
    char small[4];
    assert_false(sp_url_parse("tcp://abcd:1", &tls, small, sizeof(small), port, sizeof(port))); /* does not fit */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handshakes_name_the_protocol),  cmocka_unit_test(frames_are_length_prefixed_big_endian),
        cmocka_unit_test(request_ids_have_the_high_bit), cmocka_unit_test(a_backtrace_ends_at_the_request_id),
        cmocka_unit_test(urls_split_into_host_and_port),
    };
    return cmocka_run_group_tests_name("/shared/sp", tests, NULL, NULL);
}

/* Where sockets listen and dial (shared/transport.c): a comma list of
 * URLs, what is no list of URLs, and TLS URLs without their files. */
#include "roost_test.h"

#include "transport.h"

#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdlib.h>

static void
a_list_of_urls_is_dialed_whole(void **state)
{
    nng_socket rep, req;
    bson_error_t error;
    assert_int_equal(nng_rep0_open(&rep), 0);
    assert_int_equal(nng_req0_open(&req), 0);
    transport_defaults(rep);
    transport_defaults(req);
    /* Two listeners on loopback ports the system picks are a list of two. */
    assert_int_equal(transport_attach_all(rep, "tcp://127.0.0.1:0", true, &error), 0);
    /* Dialing is non-blocking: a list of two URLs nobody listens on is accepted. */
    assert_int_equal(transport_attach_all(req, "tcp://127.0.0.1:9,tcp://127.0.0.1:10", false, &error), 0);
    size_t max;
    assert_int_equal(nng_getopt_size(req, NNG_OPT_RECVMAXSZ, &max), 0);
    assert_true(max > 0);
    nng_close(req);
    nng_close(rep);
}

static void
what_is_no_list_of_urls_is_refused(void **state)
{
    nng_socket req;
    bson_error_t error;
    assert_int_equal(nng_req0_open(&req), 0);
    assert_int_equal(transport_attach_all(req, "", false, &error), -1);
    assert_non_null(strstr(error.message, "no URL to dial"));
    assert_int_equal(transport_attach_all(req, "tcp://127.0.0.1:9,,tcp://127.0.0.1:10", false, &error), -1);
    assert_non_null(strstr(error.message, "is not a URL or a comma list of URLs"));
    assert_int_not_equal(transport_attach_all(req, "nosuch://x", false, &error), 0);
    assert_non_null(strstr(error.message, "cannot dial nosuch://x"));
    /* TLS needs its files: without them the URL is refused, saying why. */
    unsetenv("ROOST_TLS_CA_FILE");
    unsetenv("ROOST_TLS_CERT_KEY_FILE");
    unsetenv("ROOST_TLS_CERT_FILE");
    unsetenv("ROOST_TLS_KEY_FILE");
    assert_int_equal(transport_attach_all(req, "tls+tcp://127.0.0.1:9", false, &error), NNG_EINVAL);
    assert_non_null(strstr(error.message, "ROOST_TLS"));
    nng_close(req);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_list_of_urls_is_dialed_whole),
        cmocka_unit_test(what_is_no_list_of_urls_is_refused),
    };
    return cmocka_run_group_tests_name("/shared/transport", tests, NULL, NULL);
}

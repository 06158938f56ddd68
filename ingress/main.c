/*
 * roost-ingress: the HTTP edge, start-up only. Several h2o event-loop
 * threads (server.c) accept on one port; every request goes through one
 * pipeline (request.c), which answers it itself (pages.c) or turns it into
 * a protocol envelope sent to a worker of the op's service, directly from
 * the loop (spine.c) or through the pool's brokers over nng (call.c); the
 * reply becomes the HTTP response on the request's own loop (reply.c), in
 * the shapes of respond.c and problem.c.
 */
#include "call.h"
#include "config.h"
#include "cors.h"
#include "log.h"
#include "media_cache.h"
#include "observe.h"
#include "pages.h"
#include "request.h"
#include "filter.h"
#include "respond.h"
#include "server.h"
#include "spine.h"
#include "token.h"

#include <h2o.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <signal.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
    static h2o_globalconf_t config;
    sigset_t stop;
    int sig;

    /* The loops run until the process ends, dialing workers over TLS while
     * it exits: OpenSSL must not tear its global state down under them at
     * exit (its default atexit handler does, and a handshake then crashed). */
    OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_LOAD_SSL_STRINGS, NULL);
    log_init("ingress");
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    const char *host = cfg_str("ROOST_HTTP_HOST", "127.0.0.1");
    int port = (int)cfg_int("ROOST_HTTP_PORT", 8080, 1, 65535);
    int timeout_ms = cfg_request_timeout_ms();
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = (int)cfg_int("ROOST_HTTP_THREADS", ncpu > 0 ? ncpu : 1, 1, 256);
    token_config(); /* refuses to start without a secret outside development */
    cors_config();  /* refuses to start with an allow-list it cannot read */
    if (!spine_configure(timeout_ms) || !call_open_pools(timeout_ms))
        return 1;
    observe_init();

    h2o_config_init(&config);
    /* h2o refuses a body past the larger of the two limits before reading
     * it (its 413 is given Roost's shape by the error filter); request.c
     * holds each route to its own. A form around a photo takes a little
     * more than the photo. */
    int64_t max_body = cfg_max_body_bytes(), max_media = cfg_max_media_bytes();
    int64_t max_form = max_media + REQUEST_FORM_SLACK_BYTES;
    config.max_request_entity_size = (size_t)(max_form > max_body ? max_form : max_body);
    request_configure(max_body, max_media);
    media_cache_configure();
    /* Debian's h2o 2.2.5 reads a whole body before its handler runs (upload.h):
     * a body past ROOST_UPLOAD_MEMORY_BYTES is buffered in an unlinked
     * temporary file of TMPDIR, not in the heap. */
    h2o_socket_buffer_mmap_settings.threshold =
        (size_t)cfg_int("ROOST_UPLOAD_MEMORY_BYTES", 1 << 20, 64 << 10, 1 << 30);
    snprintf(h2o_socket_buffer_mmap_settings.fn_template, sizeof(h2o_socket_buffer_mmap_settings.fn_template),
             "%s/roost-body.XXXXXX", cfg_str("TMPDIR", "/tmp"));
    h2o_hostconf_t *hostconf = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    filter_register(&hostconf->fallback_path); /* errors before a path is chosen */
    pages_register(hostconf);
    h2o_pathconf_t *path = h2o_config_register_path(hostconf, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = request_handle;
    filter_register(path);

    if (!server_start(&config, host, port, threads, call_on_replies, spine_loop_start))
        return 1;
    log_info("listening on http://%s:%d with %d loops, %zu pool(s) reached through brokers", host, port, threads,
             call_pool_count());

    sigwait(&stop, &sig);
    /* Gracefully: accept no new connection, let every response close its
     * connection, answer the calls in flight (each bounded by its
     * deadline), then leave. */
    log_info("stopping on signal %d: finishing %d call(s) in flight", sig, call_in_flight());
    respond_drain();
    server_stop_accepting();
    for (int waited = 0; waited < timeout_ms + 1000 && call_in_flight() > 0; waited += 10)
        usleep(10 * 1000);
    usleep(100 * 1000); /* the loops write out the last responses */
    call_close_pools();
    return 0;
}

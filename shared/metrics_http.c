/* /metrics served from a thread of its own (libmicrohttpd), for the
 * processes without an HTTP server: brokers and workers (metrics_http.h). */
#include "metrics_http.h"
#include "config.h"
#include "log.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static struct MHD_Daemon *metrics_daemon;

static enum MHD_Result
metrics_answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
               const char *upload, size_t *upload_len, void **state)
{
    (void)cls, (void)version, (void)upload, (void)upload_len, (void)state;
    struct MHD_Response *res;
    enum MHD_Result rv;
    if (strcmp(url, "/metrics") != 0) {
        static const char missing[] = "not found: metrics are at /metrics\n";
        res = MHD_create_response_from_buffer(sizeof(missing) - 1, (void *)missing, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(res, "Content-Type", "text/plain; charset=utf-8");
        rv = MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, res);
    } else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char wrong[] = "method not allowed: use GET\n";
        res = MHD_create_response_from_buffer(sizeof(wrong) - 1, (void *)wrong, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(res, "Allow", "GET, HEAD");
        MHD_add_response_header(res, "Content-Type", "text/plain; charset=utf-8");
        rv = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, res);
    } else {
        size_t len;
        char *text = metrics_render(&len);
        res = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(res, "Content-Type", METRICS_CONTENT_TYPE);
        rv = MHD_queue_response(conn, MHD_HTTP_OK, res);
    }
    MHD_destroy_response(res);
    return rv;
}

bool
metrics_serve(void)
{
    int port = cfg_metrics_port();
    if (port == 0)
        return true;
    const char *host = cfg_str("ROOST_METRICS_HOST", "127.0.0.1");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        log_error("ROOST_METRICS_HOST=%s is not an IPv4 address", host);
        return false;
    }
    /* The reason a port cannot be served, which libmicrohttpd does not give. */
    int probe = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (probe >= 0) {
        setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(probe, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
            log_error("cannot serve metrics on %s:%d: %s", host, port, strerror(errno));
            close(probe);
            return false;
        }
        close(probe);
    }
    /* Scrapers are few: a connection idle for 5 s is closed, and at most 16
     * (4 per address) are served at once, so that no client can take the
     * file descriptors the process needs for nng and MongoDB. */
    metrics_daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, (uint16_t)port, NULL, NULL, metrics_answer,
                         NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_TIMEOUT,
                         (unsigned int)5, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)16,
                         MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)4, MHD_OPTION_END);
    if (metrics_daemon == NULL) {
        log_error("cannot serve metrics on %s:%d", host, port);
        return false;
    }
    log_info("metrics on http://%s:%d/metrics", host, port);
    return true;
}

void
metrics_serve_stop(void)
{
    if (metrics_daemon != NULL)
        MHD_stop_daemon(metrics_daemon);
    metrics_daemon = NULL;
}

/* The ingress's h2o event loops (server.h). */
#include "server.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* One event loop; h2o_context_t first so that req->conn->ctx finds it. */
typedef struct {
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
    h2o_multithread_receiver_t replies; /* completed calls, posted by nng threads */
    h2o_multithread_receiver_cb on_replies;
    void (*on_start)(h2o_context_t *ctx);
    h2o_globalconf_t *config;
    const char *host;
    int port;
    bool listening;
    int fd; /* the listening socket */
    pthread_t tid;
    pthread_barrier_t *ready; /* passed once the loop listens, or cannot */
} server_loop_t;

h2o_multithread_receiver_t *
server_replies_of(h2o_req_t *req)
{
    return &((server_loop_t *)req->conn->ctx)->replies;
}

static atomic_bool server_stopping;

static void
server_on_accept(h2o_socket_t *listener, const char *err)
{
    server_loop_t *loop = listener->data;
    h2o_socket_t *sock;
    if (atomic_load(&server_stopping)) {
        h2o_socket_read_stop(listener); /* shut down: it would stay readable */
        return;
    }
    if (err != NULL)
        return;
    if ((sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(&loop->accept, sock);
}

static int
server_listen_fd(const char *host, int port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd, on = 1;
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        log_error("ROOST_HTTP_HOST=%s is not an IPv4 address", host);
        return -1;
    }
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, SOMAXCONN) != 0) {
        log_error("cannot listen on %s:%d: %s", host, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void *
server_loop_run(void *arg)
{
    server_loop_t *loop = arg;

    h2o_context_init(&loop->ctx, h2o_evloop_create(), loop->config);
    loop->accept.ctx = &loop->ctx;
    loop->accept.hosts = loop->config->hosts;
    h2o_multithread_register_receiver(loop->ctx.queue, &loop->replies, loop->on_replies);
    loop->on_start(&loop->ctx);
    int fd = loop->fd = server_listen_fd(loop->host, loop->port);
    if (fd >= 0) {
        h2o_socket_t *sock = h2o_evloop_socket_create(loop->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        sock->data = loop;
        h2o_socket_read_start(sock, server_on_accept);
        loop->listening = true;
    }
    pthread_barrier_wait(loop->ready);
    if (!loop->listening)
        return NULL;
    while (h2o_evloop_run(loop->ctx.loop, INT32_MAX) == 0)
        ;
    return NULL;
}

static server_loop_t *server_loops;
static int server_nloops;

void
server_stop_accepting(void)
{
    atomic_store(&server_stopping, true);
    for (int i = 0; i < server_nloops; i++)
        if (server_loops[i].fd >= 0)
            shutdown(server_loops[i].fd, SHUT_RDWR);
}

bool
server_start(h2o_globalconf_t *config, const char *host, int port, int threads, h2o_multithread_receiver_cb on_replies,
             void (*on_start)(h2o_context_t *ctx))
{
    server_loop_t *loops = server_loops = calloc((size_t)threads, sizeof(*loops));
    server_nloops = threads;
    static pthread_barrier_t ready; /* every loop listens (or failed to) before we say so */
    pthread_barrier_init(&ready, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        loops[i] = (server_loop_t){.on_replies = on_replies,
                                   .on_start = on_start,
                                   .config = config,
                                   .host = host,
                                   .port = port,
                                   .fd = -1,
                                   .ready = &ready};
        pthread_create(&loops[i].tid, NULL, server_loop_run, &loops[i]);
    }
    pthread_barrier_wait(&ready);
    for (int i = 0; i < threads; i++)
        if (!loops[i].listening)
            return false;
    return true;
}

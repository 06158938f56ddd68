/*
 * The worker's direct SP listener (direct.h): an epoll I/O thread, a queue
 * of whole request messages, and handler threads that answer them and
 * write the replies themselves.
 */
#include "runtime/direct.h"
#include "runtime/answer.h"
#include "runtime/direct_conn.h"
#include "clock.h"
#include "config.h"
#include "envelope.h"
#include "log.h"
#include "sp.h"
#include "tls.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct direct_job {
    direct_conn_t *conn;
    uint8_t *msg;
    size_t len, backtrace;
    int64_t read_ms; /* when it was read: past the deadline, it is not run */
    struct direct_job *next;
} direct_job_t;

static struct {
    bool started;
    SSL_CTX *tls; /* NULL: plain TCP */
    int epfd, listen_fd, wake_fd;
    uint64_t max_message;
    int deadline_ms; /* ROOST_REQUEST_TIMEOUT_MS */
    pthread_t io;
    pthread_t *handlers;
    int nhandlers;
    pthread_mutex_t lock; /* the queue, `pending`, `done` */
    pthread_cond_t work, idle;
    direct_job_t *head, *tail;
    int pending; /* requests read and not yet answered */
    bool done;   /* handlers leave once the queue is empty */
    atomic_int busy;
    atomic_bool stop_reading, finishing;
    int64_t finish_by_ms;
    int64_t accept_paused_until_ms; /* out of descriptors: the listener rests until then; 0: it listens */
    direct_conn_t *conns;           /* the I/O thread's */
} direct = {.epfd = -1, .listen_fd = -1, .wake_fd = -1};

static void
direct_accept(void)
{
    int fd;
    while ((fd = accept4(direct.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        direct_conn_t *c = direct_conn_new(fd, direct.epfd, &direct.stop_reading, direct.tls);
        if (c != NULL) {
            c->next = direct.conns;
            direct.conns = c;
        }
    }
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        /* The connection stays in the backlog and the listener readable:
         * watching it now would wake this thread at once, again and again.
         * It rests a moment while the connections held end. */
        static int64_t said_ms;
        if (clock_monotonic_ms() - said_ms > 5000) { /* once in a while, not ten times a second */
            said_ms = clock_monotonic_ms();
            log_warn("direct listener: cannot accept a connection (%s); trying again every 100 ms", strerror(errno));
        }
        epoll_ctl(direct.epfd, EPOLL_CTL_DEL, direct.listen_fd, NULL);
        direct.accept_paused_until_ms = clock_monotonic_ms() + 100;
    }
}

/* The listener watched again once its rest is over (direct_accept). */
static void
direct_accept_resume(void)
{
    if (direct.accept_paused_until_ms == 0 || clock_monotonic_ms() < direct.accept_paused_until_ms)
        return;
    direct.accept_paused_until_ms = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &direct.listen_fd};
    if (direct.listen_fd >= 0)
        epoll_ctl(direct.epfd, EPOLL_CTL_ADD, direct.listen_fd, &ev);
}

/* The I/O thread lets a connection go. */
static void
direct_forget(direct_conn_t *c)
{
    for (direct_conn_t **p = &direct.conns; *p != NULL; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    direct_conn_close(c);
}

/* Queues the whole messages at the start of the connection's input;
 * false when the peer broke the protocol (it is then dropped). */
static bool
direct_take_messages(direct_conn_t *c)
{
    size_t at = 0;
    direct_job_t *first = NULL, *last = NULL;
    int64_t now = clock_monotonic_ms();
    int count = 0;
    bool ok = true;
    if (!c->greeted && c->in_len >= SP_HANDSHAKE_LEN) {
        if (!(c->greeted = sp_handshake_is(c->in, SP_PROTO_REQ)))
            return false;
        at = SP_HANDSHAKE_LEN;
    }
    while (c->greeted) {
        int64_t size = sp_frame_size(c->in + at, c->in_len - at, direct.max_message);
        if (size <= 0) {
            ok = size == 0;
            break;
        }
        const uint8_t *msg = c->in + at + SP_FRAME_HEADER_LEN;
        size_t len = (size_t)size - SP_FRAME_HEADER_LEN, backtrace = sp_backtrace_len(msg, len);
        at += (size_t)size;
        if (backtrace == 0)
            continue; /* no request id to answer to: dropped, as nng's REP does */
        direct_job_t *job = malloc(sizeof(*job));
        uint8_t *copy = malloc(len);
        if (job == NULL || copy == NULL) {
            free(job);
            free(copy);
            continue; /* its client gets 504 at its deadline */
        }
        memcpy(copy, msg, len);
        *job = (direct_job_t){.conn = c, .msg = copy, .len = len, .backtrace = backtrace, .read_ms = now};
        direct_conn_ref(c);
        *(last != NULL ? &last->next : &first) = job;
        last = job;
        count++;
    }
    memmove(c->in, c->in + at, c->in_len - at);
    c->in_len -= at;
    if (count > 0) {
        pthread_mutex_lock(&direct.lock);
        *(direct.tail != NULL ? &direct.tail->next : &direct.head) = first;
        direct.tail = last;
        direct.pending += count;
        /* One wake-up per request: a broadcast would wake every idle
         * handler to fight over the lock for a few requests. */
        for (int i = 0; i < count; i++)
            pthread_cond_signal(&direct.work);
        pthread_mutex_unlock(&direct.lock);
    }
    return ok;
}

/* On a stop: the listener goes, and no connection is read any more. */
static void
direct_quiesce(void)
{
    if (direct.listen_fd >= 0) {
        epoll_ctl(direct.epfd, EPOLL_CTL_DEL, direct.listen_fd, NULL);
        close(direct.listen_fd);
        direct.listen_fd = -1;
    }
    for (direct_conn_t *c = direct.conns; c != NULL; c = c->next)
        direct_conn_rewatch(c);
}

/* While stopping: each connection with nothing left to answer says so
 * (direct_conn_half_close_if_idle). True, once finishing, when every
 * connection is closed by its peer (or the time is up). */
static bool
direct_wound_down(bool finishing)
{
    for (direct_conn_t *c = direct.conns; c != NULL; c = c->next)
        direct_conn_half_close_if_idle(c);
    return finishing && (direct.conns == NULL || clock_monotonic_ms() >= direct.finish_by_ms);
}

static void *
direct_io(void *arg)
{
    struct epoll_event evs[64];
    for (;;) {
        bool stopping = atomic_load(&direct.stop_reading);
        if (stopping && direct_wound_down(atomic_load(&direct.finishing)))
            break;
        int n = epoll_wait(direct.epfd, evs, 64, stopping ? 10 : direct.accept_paused_until_ms != 0 ? 100 : -1);
        if (!stopping)
            direct_accept_resume();
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &direct.wake_fd) {
                uint64_t v;
                if (read(direct.wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                    log_warn("direct listener: cannot read its wake-up: %s", strerror(errno));
                direct_quiesce();
            } else if (evs[i].data.ptr == &direct.listen_fd) {
                direct_accept();
            } else {
                direct_conn_t *c = evs[i].data.ptr;
                if (evs[i].events & EPOLLOUT)
                    direct_conn_flush(c);
                bool in = (evs[i].events & EPOLLIN) != 0;
                if ((evs[i].events & (EPOLLHUP | EPOLLERR)) || (in && c->half_closed && !direct_conn_discard(c)) ||
                    (in && !c->half_closed && !atomic_load(&direct.stop_reading) &&
                     (!direct_conn_read(c) || !direct_take_messages(c))))
                    direct_forget(c);
            }
        }
    }
    while (direct.conns != NULL)
        direct_forget(direct.conns);
    return NULL;
}

static void *
direct_handle(void *arg)
{
    answer_hold_client(true);
    pthread_mutex_lock(&direct.lock);
    for (;;) {
        while (direct.head == NULL && !direct.done)
            pthread_cond_wait(&direct.work, &direct.lock);
        direct_job_t *job = direct.head;
        if (job == NULL)
            break;
        if ((direct.head = job->next) == NULL)
            direct.tail = NULL;
        pthread_mutex_unlock(&direct.lock);

        atomic_fetch_add(&direct.busy, 1);
        bson_t reply;
        const uint8_t *request = job->msg + job->backtrace;
        size_t request_len = job->len - job->backtrace;
        if (clock_monotonic_ms() - job->read_ms >= direct.deadline_ms) {
            /* Its client had its 504 already: running it now would only
             * lengthen the queue of a worker that is behind (a write the
             * client retries, it runs then, once). */
            char rid[ENVELOPE_RID_MAX + 1];
            envelope_peek_rid(request, request_len, rid);
            envelope_reply_error(&reply, rid, 504, "timeout", "the request waited past its deadline in the worker",
                                 NULL);
        } else {
            worker_answer(request, request_len, &reply);
        }
        uint8_t header[SP_FRAME_HEADER_LEN];
        sp_frame_header(header, job->backtrace + reply.len);
        struct iovec iov[3] = {
            {header, sizeof(header)}, {job->msg, job->backtrace}, {(void *)bson_get_data(&reply), reply.len}};
        direct_conn_write(job->conn, iov, 3);
        bson_destroy(&reply);
        atomic_fetch_sub(&direct.busy, 1);
        direct_conn_unref(job->conn);
        free(job->msg);
        free(job);

        pthread_mutex_lock(&direct.lock);
        if (--direct.pending == 0)
            pthread_cond_broadcast(&direct.idle);
    }
    pthread_mutex_unlock(&direct.lock);
    answer_hold_client(false);
    return NULL;
}

static int
direct_listen(const char *url)
{
    bool tls;
    char host[256], port[16];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    if (!sp_url_parse(url, &tls, host, sizeof(host), port, sizeof(port))) {
        log_error("ROOST_SERVE_URL=%s is not tcp://host:port or tls+tcp://host:port", url);
        return -1;
    }
    bson_error_t error;
    if (tls && (direct.tls = tls_context(true, NULL, &error)) == NULL) {
        log_error("ROOST_SERVE_URL=%s: %s", url, error.message);
        return -1;
    }
    int rv = getaddrinfo(host[0] == '\0' || strcmp(host, "*") == 0 ? NULL : host, port, &hints, &res);
    if (rv != 0) {
        log_error("ROOST_SERVE_URL=%s: %s", url, gai_strerror(rv));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), on = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        log_error("ROOST_SERVE_URL=%s: cannot listen: %s", url, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

bool
direct_start(const char *url, int handlers)
{
    direct.max_message = (uint64_t)cfg_max_message_bytes();
    direct.deadline_ms = cfg_request_timeout_ms();
    if ((direct.listen_fd = direct_listen(url)) < 0)
        return false;
    direct.epfd = epoll_create1(EPOLL_CLOEXEC);
    direct.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event listen_ev = {.events = EPOLLIN, .data.ptr = &direct.listen_fd};
    struct epoll_event wake_ev = {.events = EPOLLIN, .data.ptr = &direct.wake_fd};
    direct.handlers = calloc((size_t)handlers, sizeof(*direct.handlers));
    if (direct.epfd < 0 || direct.wake_fd < 0 || direct.handlers == NULL ||
        epoll_ctl(direct.epfd, EPOLL_CTL_ADD, direct.listen_fd, &listen_ev) != 0 ||
        epoll_ctl(direct.epfd, EPOLL_CTL_ADD, direct.wake_fd, &wake_ev) != 0) {
        log_error("direct listener: %s", strerror(errno));
        return false;
    }
    pthread_mutex_init(&direct.lock, NULL);
    pthread_cond_init(&direct.work, NULL);
    pthread_cond_init(&direct.idle, NULL);
    direct.nhandlers = handlers;
    for (int i = 0; i < handlers; i++)
        pthread_create(&direct.handlers[i], NULL, direct_handle, NULL);
    pthread_create(&direct.io, NULL, direct_io, NULL);
    direct.started = true;
    log_info("serving the ingress directly on %s with %d handlers", url, handlers);
    return true;
}

static void
direct_wake(void)
{
    uint64_t one = 1;
    if (write(direct.wake_fd, &one, sizeof(one)) < 0)
        log_warn("direct listener: cannot wake its I/O thread: %s", strerror(errno));
}

void
direct_stop_reading(void)
{
    if (!direct.started)
        return;
    atomic_store(&direct.stop_reading, true);
    direct_wake();
}

void
direct_finish(int deadline_ms)
{
    if (!direct.started)
        return;
    direct_stop_reading();
    struct timespec until = clock_realtime_after_ms(deadline_ms);
    pthread_mutex_lock(&direct.lock);
    /* `idle` is signalled when the last request held is answered */
    while (direct.pending > 0 && pthread_cond_timedwait(&direct.idle, &direct.lock, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&direct.lock);
    direct.finish_by_ms = clock_monotonic_ms() + 1000;
    atomic_store(&direct.finishing, true);
    direct_wake();
    pthread_join(direct.io, NULL);
    pthread_mutex_lock(&direct.lock);
    direct.done = true;
    pthread_cond_broadcast(&direct.work);
    pthread_mutex_unlock(&direct.lock);
    for (int i = 0; i < direct.nhandlers; i++)
        pthread_join(direct.handlers[i], NULL);
    free(direct.handlers);
    close(direct.epfd);
    close(direct.wake_fd);
    SSL_CTX_free(direct.tls);
    direct.tls = NULL;
    direct.started = false;
}

int
direct_busy(void)
{
    return atomic_load(&direct.busy);
}

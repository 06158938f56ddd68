/* One connection of the worker's direct listener (direct_conn.h). */
#include "runtime/direct_conn.h"
#include "log.h"
#include "sp.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define DIRECT_READ_CHUNK 65536

void
direct_conn_ref(direct_conn_t *c)
{
    atomic_fetch_add(&c->refs, 1);
}

void
direct_conn_unref(direct_conn_t *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    close(c->fd);
    SSL_free(c->ssl); /* and its BIOs */
    pthread_mutex_destroy(&c->wlock);
    free(c->in);
    free(c->out);
    free(c->record);
    free(c);
}

/* Under wlock: what epoll watches, reading or not, writing when bytes wait. */
static void
direct_conn_watch(direct_conn_t *c)
{
    uint32_t want = (!atomic_load(c->stop_reading) || c->half_closed ? EPOLLIN : 0) | (c->out_len > 0 ? EPOLLOUT : 0);
    if (want == c->events || c->closed)
        return;
    struct epoll_event ev = {.events = want, .data.ptr = c};
    epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = want;
}

void
direct_conn_rewatch(direct_conn_t *c)
{
    pthread_mutex_lock(&c->wlock);
    direct_conn_watch(c);
    pthread_mutex_unlock(&c->wlock);
}

static bool
direct_grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    uint8_t *p = realloc(*buf, n);
    if (p == NULL)
        return false;
    *buf = p;
    *cap = n;
    return true;
}

/* Under wlock: a connection that cannot be written is shut; the I/O thread
 * sees the hang-up and lets it go. */
static void
direct_conn_fail(direct_conn_t *c)
{
    c->closed = true;
    shutdown(c->fd, SHUT_RDWR);
}

/* Under wlock: the bytes go to the socket at once when nothing waits
 * before them, the rest after what waits (the I/O thread flushes it). */
static void
direct_conn_raw(direct_conn_t *c, const struct iovec *iov, int n)
{
    ssize_t sent = 0;
    if (!c->closed && c->out_len == 0) {
        struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
        while ((sent = sendmsg(c->fd, &m, MSG_NOSIGNAL)) < 0 && errno == EINTR)
            ;
        if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            direct_conn_fail(c);
        sent = sent < 0 ? 0 : sent;
    }
    for (int i = 0; i < n && !c->closed; i++) {
        size_t skip = (size_t)sent < iov[i].iov_len ? (size_t)sent : iov[i].iov_len;
        sent -= (ssize_t)skip;
        size_t rest = iov[i].iov_len - skip;
        if (rest == 0)
            continue;
        if (!direct_grow(&c->out, &c->out_cap, c->out_len + rest)) {
            direct_conn_fail(c);
            break;
        }
        memcpy(c->out + c->out_len, (uint8_t *)iov[i].iov_base + skip, rest);
        c->out_len += rest;
    }
}

/* Under wlock: what TLS produced (records, handshake messages) goes out. */
static void
direct_conn_drain_tls(direct_conn_t *c)
{
    char *bytes;
    long len = BIO_get_mem_data(c->wbio, &bytes);
    if (len > 0)
        direct_conn_raw(c, &(struct iovec){.iov_base = bytes, .iov_len = (size_t)len}, 1);
    (void)BIO_reset(c->wbio);
}

void
direct_conn_write(direct_conn_t *c, const struct iovec *iov, int n)
{
    pthread_mutex_lock(&c->wlock);
    if (c->closed) {
        pthread_mutex_unlock(&c->wlock);
        return;
    }
    if (c->ssl == NULL) {
        direct_conn_raw(c, iov, n);
    } else {
        /* One TLS record per reply, not one per piece: each record costs
         * its own encryption, MAC and header (bench/tls.py). */
        size_t len = 0;
        for (int i = 0; i < n; i++)
            len += iov[i].iov_len;
        ERR_clear_error();
        if (!direct_grow(&c->record, &c->record_cap, len)) {
            direct_conn_fail(c);
        } else {
            for (int i = 0, at = 0; i < n; at += (int)iov[i].iov_len, i++)
                memcpy(c->record + at, iov[i].iov_base, iov[i].iov_len);
            if (len > 0 && SSL_write(c->ssl, c->record, (int)len) <= 0)
                direct_conn_fail(c); /* a memory BIO takes everything: this is a broken session */
        }
        direct_conn_drain_tls(c);
    }
    direct_conn_watch(c);
    pthread_mutex_unlock(&c->wlock);
}

void
direct_conn_flush(direct_conn_t *c)
{
    pthread_mutex_lock(&c->wlock);
    if (!c->closed && c->out_len > 0) {
        ssize_t sent = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            direct_conn_fail(c);
        else if (sent > 0) {
            memmove(c->out, c->out + sent, c->out_len - (size_t)sent);
            c->out_len -= (size_t)sent;
        }
    }
    direct_conn_watch(c);
    pthread_mutex_unlock(&c->wlock);
}

/* Under wlock: decrypts what came into `in`; false when the session broke. */
static bool
direct_conn_decrypt(direct_conn_t *c, const uint8_t *raw, size_t len)
{
    if (BIO_write(c->rbio, raw, (int)len) != (int)len)
        return false;
    /* OpenSSL's error queue is per thread: what another connection's
     * failure left there would make SSL_get_error report this one broken. */
    ERR_clear_error();
    for (;;) {
        if (!direct_grow(&c->in, &c->in_cap, c->in_len + DIRECT_READ_CHUNK))
            return false;
        int got = SSL_read(c->ssl, c->in + c->in_len, (int)(c->in_cap - c->in_len));
        if (got > 0) {
            c->in_len += (size_t)got;
            continue;
        }
        int why = SSL_get_error(c->ssl, got);
        bool ok = why == SSL_ERROR_WANT_READ; /* all read: wait for more */
        if (ok && c->hello_due && SSL_is_init_finished(c->ssl)) {
            uint8_t hello[SP_HANDSHAKE_LEN];
            sp_handshake(hello, SP_PROTO_REP);
            ok = SSL_write(c->ssl, hello, sizeof(hello)) > 0;
            c->hello_due = false;
        }
        direct_conn_drain_tls(c); /* the handshake's answers, alerts, the SP handshake */
        if (!ok && why != SSL_ERROR_ZERO_RETURN) {
            char text[256];
            ERR_error_string_n(ERR_get_error(), text, sizeof(text));
            log_warn("direct listener: a TLS peer was refused or broke its session: %s", text);
            ERR_clear_error();
        }
        return ok;
    }
}

bool
direct_conn_read(direct_conn_t *c)
{
    uint8_t raw[16384];
    bool tls = c->ssl != NULL;
    if (!tls && !direct_grow(&c->in, &c->in_cap, c->in_len + DIRECT_READ_CHUNK))
        return false;
    uint8_t *into = tls ? raw : c->in + c->in_len;
    ssize_t got = recv(c->fd, into, tls ? sizeof(raw) : c->in_cap - c->in_len, 0);
    if (got < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (got == 0)
        return false;
    if (!tls) {
        c->in_len += (size_t)got;
        return true;
    }
    pthread_mutex_lock(&c->wlock);
    bool ok = direct_conn_decrypt(c, raw, (size_t)got);
    direct_conn_watch(c);
    pthread_mutex_unlock(&c->wlock);
    return ok;
}

bool
direct_conn_half_close_if_idle(direct_conn_t *c)
{
    pthread_mutex_lock(&c->wlock);
    if (!c->half_closed && !c->closed && c->out_len == 0 && atomic_load(&c->refs) == 1) {
        if (c->ssl != NULL && SSL_is_init_finished(c->ssl)) {
            ERR_clear_error();
            SSL_shutdown(c->ssl); /* close_notify, into the memory BIO */
            direct_conn_drain_tls(c);
        }
        if (c->out_len == 0) {
            shutdown(c->fd, SHUT_WR);
            c->half_closed = true;
        }
    }
    direct_conn_watch(c);
    bool done = c->half_closed || c->closed;
    pthread_mutex_unlock(&c->wlock);
    return done;
}

bool
direct_conn_discard(direct_conn_t *c)
{
    uint8_t scratch[4096];
    ssize_t got = recv(c->fd, scratch, sizeof(scratch), 0);
    return got > 0 || (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
}

void
direct_conn_close(direct_conn_t *c)
{
    pthread_mutex_lock(&c->wlock);
    c->closed = true;
    epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    pthread_mutex_unlock(&c->wlock);
    direct_conn_unref(c);
}

direct_conn_t *
direct_conn_new(int fd, int epfd, const atomic_bool *stop_reading, SSL_CTX *tls)
{
    direct_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL || (tls != NULL && ((c->ssl = SSL_new(tls)) == NULL || (c->rbio = BIO_new(BIO_s_mem())) == NULL ||
                                      (c->wbio = BIO_new(BIO_s_mem())) == NULL))) {
        if (c != NULL) {
            BIO_free(c->rbio);
            BIO_free(c->wbio);
            SSL_free(c->ssl);
        }
        free(c);
        close(fd);
        return NULL;
    }
    if (c->ssl != NULL) {
        SSL_set_bio(c->ssl, c->rbio, c->wbio); /* the session owns them now */
        SSL_set_accept_state(c->ssl);
    }
    sp_socket_options(fd);
    c->fd = fd;
    c->epfd = epfd;
    c->stop_reading = stop_reading;
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->wlock, NULL);
    c->events = EPOLLIN;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        direct_conn_unref(c);
        return NULL;
    }
    c->hello_due = c->ssl != NULL;
    if (c->ssl == NULL) {
        uint8_t hello[SP_HANDSHAKE_LEN];
        sp_handshake(hello, SP_PROTO_REP);
        direct_conn_write(c, &(struct iovec){.iov_base = hello, .iov_len = sizeof(hello)}, 1);
    }
    return c;
}

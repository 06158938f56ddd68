/*
 * One ingress connection of the worker's direct listener (direct.c): its
 * reads, on the I/O thread only, and its writes, from any thread under the
 * connection's lock, in plain TCP or mutual TLS (OpenSSL over memory BIOs,
 * so that the lock, not the socket, orders what TLS does).
 */
#ifndef ROOST_RUNTIME_DIRECT_CONN_H
#define ROOST_RUNTIME_DIRECT_CONN_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Freed when the last reference goes: the I/O thread's, and one per
 * request of it still being answered. */
typedef struct direct_conn {
    int fd, epfd;
    const atomic_bool *stop_reading; /* the listener's: read no more */
    atomic_int refs;
    pthread_mutex_t wlock;
    SSL *ssl; /* NULL for plain TCP; under wlock */
    BIO *rbio, *wbio;
    uint8_t *out; /* bytes the socket did not take yet, under wlock */
    size_t out_len, out_cap;
    uint8_t *record; /* TLS: a reply's pieces gathered into one record, under wlock */
    size_t record_cap;
    bool closed;      /* under wlock: replies are dropped */
    bool hello_due;   /* TLS: the SP handshake goes once the TLS one is done */
    bool half_closed; /* stopping: it said all it will (FIN sent), and waits for the peer's; under wlock */
    uint32_t events;  /* registered with epoll, under wlock */
    uint8_t *in;      /* the I/O thread's alone from here: plaintext read */
    size_t in_len, in_cap;
    bool greeted; /* the peer's REQ handshake came */
    struct direct_conn *next;
} direct_conn_t;

/* A connection on accepted `fd`, watched by `epfd` for reading; TLS when
 * `tls` is not NULL. It sends the REP handshake. NULL when out of memory
 * (the fd is closed then). */
direct_conn_t *direct_conn_new(int fd, int epfd, const atomic_bool *stop_reading, SSL_CTX *tls);

void direct_conn_ref(direct_conn_t *c);
void direct_conn_unref(direct_conn_t *c);

/* Writes the `n` pieces in order, at once when the socket takes them, else
 * after what waits; dropped when the connection is gone. */
void direct_conn_write(direct_conn_t *c, const struct iovec *iov, int n);

/* The I/O thread, when the socket can take more of what waits. */
void direct_conn_flush(direct_conn_t *c);

/* The I/O thread, when the socket has bytes: the plaintext goes to `in`.
 * False when the connection ended or broke. */
bool direct_conn_read(direct_conn_t *c);

/* Re-registers what epoll watches (after a stop of reading). */
void direct_conn_rewatch(direct_conn_t *c);

/* While the worker stops: once the connection has no request left to
 * answer and its replies are out, it sends its end of the stream (TLS
 * close_notify, then FIN), so the ingress learns at once that nothing more
 * will be answered here and sends what was not elsewhere; the connection
 * then waits for the peer to close (reading and dropping what comes), so
 * that closing it with unread bytes never resets replies still in flight.
 * True once it has done so. */
bool direct_conn_half_close_if_idle(direct_conn_t *c);

/* A half-closed connection's input, dropped; false at the peer's end. */
bool direct_conn_discard(direct_conn_t *c);

/* The I/O thread lets a connection go: no more writes. */
void direct_conn_close(direct_conn_t *c);

#endif

/*
 * Where every Roost socket listens and dials, in one place, so that TLS
 * applies to all of them alike. A URL may be plain TCP ("tcp://host:port",
 * the `make run` default, on loopback) or TLS ("tls+tcp://host:port", nng's
 * TLS transport over mbedTLS). For TLS both ends authenticate (mutual TLS):
 *
 *   ROOST_TLS_CA_FILE        PEM: the CA(s) a peer's certificate must chain to
 *   ROOST_TLS_CERT_KEY_FILE  PEM: this process's certificate and private key
 *   or ROOST_TLS_CERT_FILE + ROOST_TLS_KEY_FILE: the two in separate files
 *                            (a kubernetes.io/tls Secret's tls.crt, tls.key)
 *   ROOST_TLS_SERVER_NAME    optional: the name a dialer checks in the
 *                            listener's certificate (default: the URL's
 *                            host, always checked)
 *
 * A listener refuses a peer without a certificate signed by the CA; a
 * dialer refuses a listener likewise. The trust model is docs/protocol.md's.
 */
#ifndef ROOST_TRANSPORT_H
#define ROOST_TRANSPORT_H

#include <bson/bson.h>
#include <nng/nng.h>
#include <stdbool.h>

/* Listens on / dials one URL (not a list). Returns an nng error, 0 on
 * success; a TLS URL without the files above is NNG_EINVAL, and `error`
 * (which may be NULL) says why. Dialing is non-blocking: it retries in
 * the background. */
int transport_listen(nng_socket sock, const char *url, bson_error_t *error);
int transport_dial(nng_socket sock, const char *url, bson_error_t *error);

/* Listens on (or dials) every URL of a comma list: a pool may have several
 * brokers ("tcp://a:7100,tcp://b:7100"). An nng error, 0 on success, -1
 * for a list that is no list of URLs; `error` says why. */
int transport_attach_all(nng_socket sock, const char *urls, bool listen, bson_error_t *error);

/* The options every Roost socket that dials or listens has: reconnect
 * after 50 ms, backing off to 1 s, and refuse a message larger than
 * ROOST_MAX_MESSAGE_BYTES unread (config.h). */
void transport_defaults(nng_socket sock);

#endif

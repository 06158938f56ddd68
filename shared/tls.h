/*
 * OpenSSL contexts for the SP hops that Roost speaks without nng (the
 * ingress's direct client, the worker's direct listener), configured from
 * the same environment as nng's TLS (transport.h): ROOST_TLS_CA_FILE,
 * ROOST_TLS_CERT_KEY_FILE or ROOST_TLS_CERT_FILE + ROOST_TLS_KEY_FILE, and
 * ROOST_TLS_SERVER_NAME. Both ends authenticate: a peer without a
 * certificate the CA signed is refused; a client also checks the server's
 * name (ROOST_TLS_SERVER_NAME, else the host it dialed).
 */
#ifndef ROOST_TLS_H
#define ROOST_TLS_H

#include <bson/bson.h>
#include <openssl/ssl.h>
#include <stdbool.h>

/* A context for a listener (`server`) or for dialing `host` (the name to
 * check unless ROOST_TLS_SERVER_NAME is set). NULL with `error` set when
 * a file is missing or unreadable. */
SSL_CTX *tls_context(bool server, const char *host, bson_error_t *error);

#endif

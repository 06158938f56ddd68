/* OpenSSL contexts for the direct SP hops (tls.h). */
#include "tls.h"
#include "config.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

static bool
tls_failed(bson_error_t *error, const char *what, const char *path)
{
    char why[256];
    ERR_error_string_n(ERR_get_error(), why, sizeof(why));
    bson_set_error(error, 1, 1, "%s%s%s: %s", what, path != NULL ? "=" : "", path != NULL ? path : "", why);
    return false;
}

/* The CA, this process's certificate and key, and peer verification. */
static bool
tls_load(SSL_CTX *ctx, bson_error_t *error)
{
    const char *ca = cfg_str("ROOST_TLS_CA_FILE", NULL), *both = cfg_str("ROOST_TLS_CERT_KEY_FILE", NULL);
    const char *cert = both != NULL ? both : cfg_str("ROOST_TLS_CERT_FILE", NULL);
    const char *key = both != NULL ? both : cfg_str("ROOST_TLS_KEY_FILE", NULL);
    if (ca == NULL || cert == NULL || key == NULL) {
        bson_set_error(error, 1, 1,
                       "a TLS URL needs ROOST_TLS_CA_FILE and ROOST_TLS_CERT_KEY_FILE (or ROOST_TLS_CERT_FILE and "
                       "ROOST_TLS_KEY_FILE), PEM files");
        return false;
    }
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
        return tls_failed(error, "ROOST_TLS_CA_FILE", ca);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        return tls_failed(error, both != NULL ? "ROOST_TLS_CERT_KEY_FILE" : "ROOST_TLS_CERT_FILE", cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
        return tls_failed(error, both != NULL ? "ROOST_TLS_CERT_KEY_FILE" : "ROOST_TLS_KEY_FILE", key);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return true;
}

SSL_CTX *
tls_context(bool server, const char *host, bson_error_t *error)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == NULL) {
        tls_failed(error, "cannot make a TLS context", NULL);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    bool ok = tls_load(ctx, error);
    if (ok && !server) {
        const char *name = cfg_str("ROOST_TLS_SERVER_NAME", host);
        unsigned char ip[16];
        bool numeric = name == host && (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1);
        if ((numeric ? X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(ctx), name)
                     : X509_VERIFY_PARAM_set1_host(SSL_CTX_get0_param(ctx), name, 0)) != 1)
            ok = tls_failed(error, "the server name to check", name);
    }
    if (!ok) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

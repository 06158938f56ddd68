/* Listening and dialing, plain or mutual TLS (transport.h). */
#include "transport.h"
#include "config.h"

#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRANSPORT_TLS_PREFIX "tls+tcp"

static bool
transport_is_tls(const char *url)
{
    return strncmp(url, TRANSPORT_TLS_PREFIX, strlen(TRANSPORT_TLS_PREFIX)) == 0;
}

/* The whole of a small text file (a PEM), NUL-terminated; NULL when unreadable. */
static char *
transport_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    long len;
    if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && len < (1 << 20) &&
        fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)len + 1)) != NULL) {
        if (fread(text, 1, (size_t)len, f) != (size_t)len) {
            free(text);
            text = NULL;
        } else {
            text[len] = '\0';
        }
    }
    if (f != NULL)
        fclose(f);
    return text;
}

/*
 * The name a dialer checks in the listener's certificate: ROOST_TLS_SERVER_NAME,
 * else the URL's host. nng checks the URL's host only with its own default
 * configuration, which a configuration set through NNG_OPT_TLS_CONFIG
 * replaces; without a name, any certificate of the CA would pass for any
 * broker.
 */
static const char *
transport_server_name(const char *url, char out[256])
{
    const char *name = cfg_str("ROOST_TLS_SERVER_NAME", NULL);
    if (name != NULL)
        return name;
    const char *host = strstr(url, "://");
    host = host != NULL ? host + 3 : url;
    size_t len;
    if (*host == '[') { /* [v6]:port */
        host++;
        len = strcspn(host, "]");
    } else {
        const char *colon = strrchr(host, ':');
        len = colon != NULL ? (size_t)(colon - host) : strlen(host);
    }
    if (len >= 256)
        len = 255;
    memcpy(out, host, len);
    out[len] = '\0';
    return out;
}

/* A TLS configuration for one end, from the environment; NULL and `error` set when it cannot be made. */
static nng_tls_config *
transport_tls_config(bool server, const char *url, bson_error_t *error)
{
    const char *ca = cfg_str("ROOST_TLS_CA_FILE", NULL), *cert = cfg_str("ROOST_TLS_CERT_KEY_FILE", NULL);
    const char *cert_only = cfg_str("ROOST_TLS_CERT_FILE", NULL), *key_only = cfg_str("ROOST_TLS_KEY_FILE", NULL);
    nng_tls_config *cfg = NULL;
    char name[256];
    int rv;
    if (ca == NULL || (cert == NULL && (cert_only == NULL || key_only == NULL))) {
        bson_set_error(error, 1, NNG_EINVAL,
                       "%s is a TLS URL: set ROOST_TLS_CA_FILE and ROOST_TLS_CERT_KEY_FILE (or ROOST_TLS_CERT_FILE "
                       "and ROOST_TLS_KEY_FILE), PEM files",
                       url);
        return NULL;
    }
    char *pem_cert = NULL, *pem_key = NULL;
    if (cert == NULL &&
        ((pem_cert = transport_read_file(cert_only)) == NULL || (pem_key = transport_read_file(key_only)) == NULL)) {
        bson_set_error(error, 1, NNG_EINVAL, "cannot read %s", pem_cert == NULL ? cert_only : key_only);
        free(pem_cert);
        return NULL;
    }
    if ((rv = nng_tls_config_alloc(&cfg, server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT)) != 0 ||
        (rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0) {
        bson_set_error(error, 1, (uint32_t)rv, "TLS for %s: %s", url, nng_strerror(rv));
    } else if ((rv = nng_tls_config_ca_file(cfg, ca)) != 0) {
        bson_set_error(error, 1, (uint32_t)rv, "ROOST_TLS_CA_FILE=%s: %s", ca, nng_strerror(rv));
    } else if (cert != NULL && (rv = nng_tls_config_cert_key_file(cfg, cert, NULL)) != 0) {
        bson_set_error(error, 1, (uint32_t)rv, "ROOST_TLS_CERT_KEY_FILE=%s: %s", cert, nng_strerror(rv));
    } else if (cert == NULL && (rv = nng_tls_config_own_cert(cfg, pem_cert, pem_key, NULL)) != 0) {
        bson_set_error(error, 1, (uint32_t)rv, "ROOST_TLS_CERT_FILE / ROOST_TLS_KEY_FILE: %s", nng_strerror(rv));
    } else if (!server && (rv = nng_tls_config_server_name(cfg, transport_server_name(url, name))) != 0) {
        bson_set_error(error, 1, (uint32_t)rv, "the server name to check for %s: %s", url, nng_strerror(rv));
    } else {
        free(pem_cert);
        free(pem_key);
        return cfg;
    }
    free(pem_cert);
    free(pem_key);
    if (cfg != NULL)
        nng_tls_config_free(cfg);
    return NULL;
}

/* Listens (listen) or dials on one URL; the TLS configuration, when the
 * URL asks for TLS, is set on the listener or dialer before it starts. */
static int
transport_open(nng_socket sock, const char *url, bool listen, bson_error_t *error)
{
    bson_error_t ignored;
    nng_tls_config *cfg = NULL;
    nng_listener l;
    nng_dialer d;
    int rv;
    error = error != NULL ? error : &ignored;
    if (transport_is_tls(url) && (cfg = transport_tls_config(listen, url, error)) == NULL)
        return NNG_EINVAL;
    if (listen) {
        if ((rv = nng_listener_create(&l, sock, url)) == 0 &&
            (cfg == NULL || (rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg)) == 0))
            rv = nng_listener_start(l, 0);
    } else {
        if ((rv = nng_dialer_create(&d, sock, url)) == 0 &&
            (cfg == NULL || (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) == 0))
            rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
    }
    if (cfg != NULL)
        nng_tls_config_free(cfg); /* the listener or dialer holds its own reference */
    if (rv != 0)
        bson_set_error(error, 1, (uint32_t)rv, "cannot %s %s: %s", listen ? "listen on" : "dial", url,
                       nng_strerror(rv));
    return rv;
}

int
transport_listen(nng_socket sock, const char *url, bson_error_t *error)
{
    return transport_open(sock, url, true, error);
}

int
transport_dial(nng_socket sock, const char *url, bson_error_t *error)
{
    return transport_open(sock, url, false, error);
}

int
transport_attach_all(nng_socket sock, const char *urls, bool listen, bson_error_t *error)
{
    if (*urls == '\0') {
        bson_set_error(error, 1, 0, "no URL to %s", listen ? "listen on" : "dial");
        return -1;
    }
    for (const char *u = urls; *u != '\0';) {
        size_t len = strcspn(u, ",");
        char one[512];
        if (len == 0 || len >= sizeof(one)) {
            bson_set_error(error, 1, 0, "'%s' is not a URL or a comma list of URLs", urls);
            return -1;
        }
        memcpy(one, u, len);
        one[len] = '\0';
        int rv = transport_open(sock, one, listen, error);
        if (rv != 0)
            return rv;
        u += len + (u[len] == ',');
    }
    return 0;
}

void
transport_defaults(nng_socket sock)
{
    nng_setopt_ms(sock, NNG_OPT_RECONNMINT, 50);
    nng_setopt_ms(sock, NNG_OPT_RECONNMAXT, 1000);
    nng_setopt_size(sock, NNG_OPT_RECVMAXSZ, (size_t)cfg_max_message_bytes());
}

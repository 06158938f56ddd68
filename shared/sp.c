/* The SP wire format (sp.h): handshake, length-prefixed frames, REQ ids. */
#include "sp.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

static void
sp_put_be(uint8_t *out, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)(v & 0xff);
}

static uint64_t
sp_get_be(const uint8_t *in, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | in[i];
    return v;
}

void
sp_handshake(uint8_t out[SP_HANDSHAKE_LEN], uint16_t proto)
{
    const uint8_t head[SP_HANDSHAKE_LEN] = {0x00, 'S', 'P', 0x00, (uint8_t)(proto >> 8), (uint8_t)proto, 0, 0};
    memcpy(out, head, SP_HANDSHAKE_LEN);
}

bool
sp_handshake_is(const uint8_t in[SP_HANDSHAKE_LEN], uint16_t proto)
{
    uint8_t want[SP_HANDSHAKE_LEN];
    sp_handshake(want, proto);
    return memcmp(in, want, SP_HANDSHAKE_LEN) == 0;
}

void
sp_frame_header(uint8_t out[SP_FRAME_HEADER_LEN], uint64_t len)
{
    sp_put_be(out, len, SP_FRAME_HEADER_LEN);
}

int64_t
sp_frame_size(const uint8_t *buf, size_t avail, uint64_t max)
{
    if (avail < SP_FRAME_HEADER_LEN)
        return 0;
    uint64_t len = sp_get_be(buf, SP_FRAME_HEADER_LEN);
    if (len > max)
        return -1;
    return avail - SP_FRAME_HEADER_LEN < len ? 0 : (int64_t)(len + SP_FRAME_HEADER_LEN);
}

void
sp_request_id(uint8_t out[4], uint32_t n)
{
    sp_put_be(out, (n & 0x7fffffffu) | 0x80000000u, 4);
}

bool
sp_reply_id(const uint8_t *msg, size_t len, uint32_t *id)
{
    if (len < 4 || (msg[0] & 0x80) == 0)
        return false;
    *id = (uint32_t)sp_get_be(msg, 4) & 0x7fffffffu;
    return true;
}

size_t
sp_backtrace_len(const uint8_t *msg, size_t len)
{
    for (size_t hop = 0; hop < SP_BACKTRACE_MAX_HOPS && 4 * hop + 4 <= len; hop++)
        if (msg[4 * hop] & 0x80)
            return 4 * hop + 4;
    return 0;
}

bool
sp_url_parse(const char *url, bool *tls, char *host, size_t host_size, char *port, size_t port_size)
{
    const char *rest;
    if (strncmp(url, "tcp://", 6) == 0) {
        *tls = false;
        rest = url + 6;
    } else if (strncmp(url, "tls+tcp://", 10) == 0) {
        *tls = true;
        rest = url + 10;
    } else {
        return false;
    }
    const char *colon, *h = rest, *h_end;
    if (*rest == '[') {
        h = rest + 1;
        if ((h_end = strchr(h, ']')) == NULL || h_end[1] != ':')
            return false;
        colon = h_end + 1;
    } else {
        if ((colon = strchr(rest, ':')) == NULL || strchr(colon + 1, ':') != NULL ||
            memchr(rest, ']', (size_t)(colon - rest)) != NULL)
            return false;
        h_end = colon;
    }
    size_t hl = (size_t)(h_end - h), pl = strlen(colon + 1);
    if (hl >= host_size || pl == 0 || pl >= port_size || strspn(colon + 1, "0123456789") != pl)
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, pl + 1);
    return true;
}

void
sp_socket_options(int fd)
{
    int on = 1, idle = 1, interval = 1, count = 2;
    unsigned user_timeout_ms = 3000;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
}

/*
 * The scalability protocols' wire format, as nng speaks it over TCP
 * (nng's sp-tcp mapping and REQ/REP RFCs), for the ends of the HTTP hot
 * path that speak it without nng: the ingress's loop client and the
 * worker's direct server. Functions over bytes, and the options both ends
 * give their sockets.
 *
 * A connection opens with an 8-byte header each way: 0x00 'S' 'P' 0x00,
 * the sender's protocol number (16 bits, big-endian) and two zero bytes.
 * Every message after it is a 64-bit big-endian length and that many
 * bytes. A REQ message starts with its backtrace: 32-bit big-endian words,
 * the last (the request id) with its high bit set, more before it only
 * when a device forwarded it; the reply carries the same backtrace back.
 */
#ifndef ROOST_SP_H
#define ROOST_SP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SP_PROTO_REQ 0x30 /* nng's req0 */
#define SP_PROTO_REP 0x31 /* nng's rep0 */
#define SP_HANDSHAKE_LEN 8
#define SP_FRAME_HEADER_LEN 8
#define SP_BACKTRACE_MAX_HOPS 8 /* nng's default TTL */

/* The 8 bytes a peer speaking `proto` sends first. */
void sp_handshake(uint8_t out[SP_HANDSHAKE_LEN], uint16_t proto);

/* Whether `in` is the opening of a peer speaking `proto`. */
bool sp_handshake_is(const uint8_t in[SP_HANDSHAKE_LEN], uint16_t proto);

/* The length header of a message of `len` bytes. */
void sp_frame_header(uint8_t out[SP_FRAME_HEADER_LEN], uint64_t len);

/*
 * How many bytes the message at the start of `buf` (`avail` bytes read so
 * far) occupies with its header: 0 while it is incomplete, -1 when its
 * declared length passes `max` (the peer is to be dropped unread).
 */
int64_t sp_frame_size(const uint8_t *buf, size_t avail, uint64_t max);

/* A request id as it goes on the wire: `n`'s low 31 bits, high bit set. */
void sp_request_id(uint8_t out[4], uint32_t n);

/* The request id (its 31 bits) a reply starts with; false when `len` is
 * too short or the first word is not a request id. */
bool sp_reply_id(const uint8_t *msg, size_t len, uint32_t *id);

/* The length of the backtrace a request starts with (4 to 4 × the hop
 * limit), 0 when it has none that ends within the message and the limit. */
size_t sp_backtrace_len(const uint8_t *msg, size_t len);

/*
 * Splits "tcp://host:port" or "tls+tcp://host:port" (host a name, an IPv4
 * address or a bracketed IPv6 one; "*" or empty for every address) into
 * its parts. False when `url` is none of these or a part does not fit.
 */
bool sp_url_parse(const char *url, bool *tls, char *host, size_t host_size, char *port, size_t port_size);

/*
 * The options both ends set on a connected SP socket: no Nagle delay (a
 * request is one write), and a peer that vanishes without a FIN (its node
 * gone) is given up after about 3 s of silence, keepalive probes included,
 * well inside a request's deadline, so its requests are re-sent in time.
 */
void sp_socket_options(int fd);

#endif

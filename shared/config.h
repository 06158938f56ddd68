/* Configuration of every Roost program comes from the environment. */
#ifndef ROOST_CONFIG_H
#define ROOST_CONFIG_H

#include <stdint.h>

/* The value of `name`, or `fallback` when it is unset or empty. */
const char *cfg_str(const char *name, const char *fallback);

/*
 * The integer value of `name`, or `fallback` when unset. A value that is
 * not an integer in [min, max] is a configuration error: the program
 * reports it and exits, since running with a half-understood setting is
 * worse than not starting.
 */
int64_t cfg_int(const char *name, int64_t fallback, int64_t min, int64_t max);

/*
 * The largest nng message any Roost socket accepts, in bytes
 * (ROOST_MAX_MESSAGE_BYTES, default 16 MiB): set as NNG_OPT_RECVMAXSZ on
 * every socket, so a peer that sends more is dropped before its message is
 * buffered. It must exceed ROOST_MAX_BODY_BYTES with room for the envelope.
 */
#define CFG_DEFAULT_MAX_MESSAGE_BYTES (16 << 20)
int64_t cfg_max_message_bytes(void);

/*
 * The most a reply may hold, in bytes: the message limit less a sixteenth
 * of it for the envelope and the hops' headers (1 MiB of 16). A page of a
 * list stops short of it (sdk/reply.h); any other reply past it is
 * answered 500 reply_too_large instead, so no peer ever drops a worker's
 * connection over a reply it cannot take.
 */
int64_t cfg_max_reply_bytes(void);

/* The deadline of one request, in ms (ROOST_REQUEST_TIMEOUT_MS: 100 to
 * 600000, default CFG_DEFAULT_TIMEOUT_MS): past it the client gets 504. */
int cfg_request_timeout_ms(void);

/* The largest request body, in bytes (ROOST_MAX_BODY_BYTES: 1 KiB to
 * 64 MiB, default 1 MiB): larger gets 413. */
int64_t cfg_max_body_bytes(void);

/* Photos (issue 24). The largest photo a client may upload, in bytes
 * (ROOST_MAX_MEDIA_BYTES: 1 KiB to 256 MiB, default 20 MiB), and how many
 * one property may have (ROOST_MAX_MEDIA_PER_PROPERTY: 1 to 1000, default
 * 50). An upload travels in pieces of CFG_MEDIA_PIECE_BYTES from the
 * ingress (a worker takes up to CFG_MEDIA_PIECE_MAX from any caller), and
 * a download in reads of CFG_MEDIA_READ_BYTES: no message holds a photo.
 * Pieces of an upload that never finished are removed after
 * ROOST_MEDIA_UPLOAD_TIMEOUT_S (1 to 86400, default 900). */
int64_t cfg_max_media_bytes(void);
int cfg_max_media_per_property(void);
int64_t cfg_media_upload_timeout_s(void);
#define CFG_MEDIA_PIECE_BYTES (256 << 10)
#define CFG_MEDIA_PIECE_MAX (1 << 20)
#define CFG_MEDIA_READ_BYTES (4 << 20)

/* The port this process serves its Prometheus metrics on
 * (ROOST_METRICS_PORT), 0 when off. */
int cfg_metrics_port(void);

/* Defaults shared by every program, so the pieces find each other. */
#define CFG_DEFAULT_POOL_URL "tcp://127.0.0.1:7100"
#define CFG_DEFAULT_WORKER_URL "tcp://127.0.0.1:7101"
#define CFG_DEFAULT_MONGODB_URI "mongodb://127.0.0.1:27017"
#define CFG_DEFAULT_DB_PREFIX "roost_"
#define CFG_DEFAULT_TIMEOUT_MS 10000

#endif

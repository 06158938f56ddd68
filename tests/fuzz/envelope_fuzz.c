/* Fuzz: what any direct nng client can send — a request envelope as the
 * worker parses it (shared/envelope.c) with the repeated-key check of its
 * parts, the rid the broker peeks at, and a reply as the ingress and the
 * client library parse it. */
#include "doc.h"
#include "envelope.h"
#include "fuzz.h"

#include <stdio.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char rid[ENVELOPE_RID_MAX + 1];
    envelope_peek_rid(data, size, rid);
    envelope_request_t req;
    bson_error_t error;
    if (envelope_request_parse(data, size, &req, &error)) {
        const bson_t *parts[] = {&req.params, &req.query, &req.body};
        for (size_t i = 0; i < 3; i++) {
            char *path = NULL;
            const char *what;
            if (!doc_check(parts[i], DOC_UNIQUE_KEYS, NULL, &path, &what))
                free(path);
        }
        /* What was read builds an envelope that reads back. */
        envelope_request_parts_t p = {.op = req.op,
                                      .rid = req.rid,
                                      .auth_sub = req.auth_sub,
                                      .auth_token = req.auth_token,
                                      .client_addr = req.client_addr[0] ? req.client_addr : NULL,
                                      .params = &req.params,
                                      .query = &req.query,
                                      .body = &req.body,
                                      .has_expect = req.has_expect,
                                      .nexpect = req.nexpect,
                                      .expect = req.expect};
        bson_t built;
        envelope_request_build(&built, &p);
        envelope_request_t again;
        if (!envelope_request_parse(bson_get_data(&built), built.len, &again, &error)) {
            fprintf(stderr, "a rebuilt envelope does not parse: %s\n", error.message);
            abort();
        }
        bson_destroy(&built);
    }
    envelope_reply_t reply;
    envelope_reply_parse(data, size, &reply, &error);
    return 0;
}

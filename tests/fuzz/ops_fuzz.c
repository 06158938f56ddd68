/*
 * Fuzz: every op of every service, given arbitrary BSON, through the
 * worker's whole answer (workers/runtime/answer.c): envelope, op table,
 * token, repeated keys, then the op's validation and, for input that
 * passes it, the handler against a real database (ROOST_MONGODB_URI;
 * `make fuzz` starts roost-embedded-db in a temp dir for it).
 *
 * The first byte picks the op; the rest, when it is a BSON document, gives
 * the envelope's other fields (params, query, body, auth, expect_version
 * ...), so the fuzzer explores what each op accepts. The rest as raw
 * bytes also goes through as the whole message.
 */
#include "fuzz.h"
#include "log.h"
#include "runtime/answer.h"
#include "runtime/database.h"
#include "runtime/services.h"

static const char *ops_table[256];
static size_t ops_count;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("ROOST_ENV", "dev", 1);
    setenv("ROOST_LOG_LEVEL", "error", 0);
    setenv("ROOST_DB_PREFIX", "fuzz_", 0);
    setenv("ROOST_MONGODB_URI", "mongodb://127.0.0.1:27017/?serverSelectionTimeoutMS=300", 0);
    log_init("fuzz");
    services_select();
    if (!database_open(4))
        abort();
    for (size_t s = 0; svc_services[s] != NULL; s++)
        for (const svc_op_t *o = svc_services[s]->ops; o->op != NULL && ops_count < 256; o++)
            ops_table[ops_count++] = o->op;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bson_t reply;
    if (size == 0)
        return 0;
    const char *op = ops_table[data[0] % ops_count];
    bson_t rest, env = BSON_INITIALIZER;
    BSON_APPEND_INT32(&env, "v", 1);
    BSON_APPEND_UTF8(&env, "op", op);
    if (bson_init_static(&rest, data + 1, size - 1)) {
        bson_iter_t it;
        if (bson_iter_init(&it, &rest))
            while (bson_iter_next(&it))
                if (strcmp(bson_iter_key(&it), "v") != 0 && strcmp(bson_iter_key(&it), "op") != 0)
                    bson_append_iter(&env, NULL, 0, &it);
    }
    worker_answer(bson_get_data(&env), env.len, &reply);
    bson_destroy(&reply);
    bson_destroy(&env);
    worker_answer(data + 1, size - 1, &reply);
    bson_destroy(&reply);
    return 0;
}

/*
 * The "sys" service, the runtime's own: operational ops that touch no
 * service data, so they live beside the services table, not in services/.
 * sys.ping measures the nng path alone; sys.health (readiness) also asks
 * the database, and whether every service this worker serves has the
 * migrations it needs.
 */
#include "runtime/schema.h"
#include "runtime/services.h"

#include <unistd.h>

static void
sys_ping(svc_call_t *call)
{
    bson_t body = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&body, "pong", true);
    BSON_APPEND_INT32(&body, "worker_pid", (int32_t)getpid());
    svc_reply(call, 200, &body);
    bson_destroy(&body);
}

static void
sys_health(svc_call_t *call)
{
    bson_t *cmd = BCON_NEW("ping", BCON_INT32(1));
    bson_error_t error;
    char why[384];
    if (!mongoc_client_command_simple(call->mongo, "admin", cmd, NULL, NULL, &error)) {
        svc_fail(call, 503, "database_unavailable", "database ping failed: %s", error.message);
    } else if (!schema_ready(call->mongo, why, sizeof(why), &error)) {
        svc_fail(call, 503, "database_unavailable", "could not read the migrations: %s", error.message);
    } else if (why[0] != '\0') {
        svc_fail(call, 503, "migration_required", "%s", why);
    } else {
        bson_t body = BSON_INITIALIZER;
        BSON_APPEND_UTF8(&body, "database", "ok");
        BSON_APPEND_INT32(&body, "worker_pid", (int32_t)getpid());
        svc_reply(call, 200, &body);
        bson_destroy(&body);
    }
    bson_destroy(cmd);
}

static const svc_op_t sys_ops[] = {
    {"sys.ping", sys_ping, SVC_AUTH_NONE, SVC_NO_DATABASE},
    {"sys.health", sys_health},
    {NULL, NULL},
};

const svc_service_t sys_service = {.name = "sys", .ops = sys_ops};

/*
 * The services this binary has (services.c, one row each) and which of
 * them this process serves (ROOST_SERVICES).
 */
#ifndef ROOST_RUNTIME_SERVICES_H
#define ROOST_RUNTIME_SERVICES_H

#include "sdk/service.h"

/* Every service, NULL-terminated; "sys" (the runtime's own ops) first. */
extern const svc_service_t *const svc_services[];

/* The runtime's own ops (sys.c): ping and readiness. */
extern const svc_service_t sys_service;

/* Reads ROOST_SERVICES (a comma list such as "users,places"; unset: every
 * service) into the set this process serves; "sys" is always served, so
 * every pool answers pings and health checks. False (after logging why)
 * when it names an unknown service. */
bool services_select(void);

/* The op named `op` among the services this process serves, and the index
 * of its service in svc_services; NULL when none serves it. */
const svc_op_t *services_find_op(const char *op, size_t *service_index);

#endif

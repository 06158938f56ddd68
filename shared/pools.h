/*
 * Where each service's worker pool is. A service's pool URL is
 * ROOST_POOL_URL_<SERVICE> (e.g. ROOST_POOL_URL_USERS), falling back to
 * ROOST_POOL_URL, so one pool may serve everything or each service may
 * have its own, with no change but the environment. The ingress may
 * instead reach a service's workers directly (ingress/spine.h).
 */
#ifndef ROOST_POOLS_H
#define ROOST_POOLS_H

#include <stddef.h>

/* The service of an op: "users" for "users.get". Writes at most size-1 chars. */
void pools_service_of(const char *op, char *out, size_t size);

/* The pool URL that serves `service`. The string lives as long as the process. */
const char *pools_url(const char *service);

/* The workers a service's requests go to directly, from the ingress
 * (ROOST_WORKERS_URL_<SERVICE>, else ROOST_WORKERS_URL): a comma list of
 * tcp:// URLs, "" when the service is reached through its brokers. */
const char *pools_workers_url(const char *service);

#endif

/*
 * Bulk creates: one op that runs a resource's create op on each item of
 * body.items (properties.create_many, listings.create_many; HTTP: a JSON
 * array POSTed where one object creates one).
 *
 * Reply: 207 {items: [result, ...]}, one result per item, in order: {status:
 * 201, body: the created object} or {status: 4xx, error: {code, message,
 * fields}} — the item's own answer, as its create op gives it. Valid items
 * are stored, invalid ones change nothing. Each item is idempotent on its
 * own: item i of request rid R is created as request "R.i" would be (the
 * same key scheme as a single create), so a retried bulk request with the
 * same rid creates nothing twice and answers each item as the first time.
 * 400 validation_failed (field "items") when body.items is not an array of
 * 1 to SVC_BULK_MAX objects.
 */
#ifndef ROOST_SDK_BULK_H
#define ROOST_SDK_BULK_H

#include "service.h"

#define SVC_BULK_MAX 100

/* Answers `call` by running `create` (a create op's handler, named `op`)
 * on each item. */
void svc_create_many(svc_call_t *call, const char *op, svc_handler_fn create);

#endif

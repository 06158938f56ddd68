/* The migration records of a service's database: reading them, what they
 * say (applied, at which version), and the checksum that pins a version. */
#include "migrate/internal.h"
#include "migrate/database.h"
#include "clock.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Wall-clock ms (BSON dates, leases shared between hosts). */
int64_t
migrate_now_ms(void)
{
    return clock_realtime_us() / 1000;
}

int
migrate_count(const svc_migration_t *migrations)
{
    int n = 0;
    while (migrations != NULL && migrations[n].version != 0)
        n++;
    return n;
}

void
migrate_checksum(const svc_migration_t *m, char out[80])
{
    crypto_hash_sha256_state st;
    unsigned char hash[crypto_hash_sha256_BYTES];
    char line[512];
    crypto_hash_sha256_init(&st);
    int n = snprintf(line, sizeof(line), "%d\n%s\n", m->version, m->name);
    crypto_hash_sha256_update(&st, (const unsigned char *)line, (size_t)n);
    for (size_t i = 0; i < m->index_count; i++) {
        const svc_index_t *ix = &m->indexes[i];
        n = snprintf(line, sizeof(line), "index %s %s %s%s\n", ix->collection, ix->name, ix->keys,
                     ix->unique ? " unique" : "");
        crypto_hash_sha256_update(&st, (const unsigned char *)line, (size_t)n);
    }
    if (m->definition != NULL)
        crypto_hash_sha256_update(&st, (const unsigned char *)m->definition, strlen(m->definition));
    crypto_hash_sha256_final(&st, hash);
    memcpy(out, "sha256:", 7);
    sodium_bin2hex(out + 7, 80 - 7, hash, sizeof(hash));
}

void
migrate_copy_str(const bson_t *doc, const char *key, char *out, size_t len)
{
    bson_iter_t it;
    out[0] = '\0';
    if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
        snprintf(out, len, "%s", bson_iter_utf8(&it, NULL));
}

/* Reads every record of `service` into `rec` (by version, 1..MIGRATE_MAX);
 * *highest is the highest version recorded. */
bool
migrate_load(mongoc_client_t *mongo, const char *service, migrate_record_t *rec, int *highest, bson_error_t *error)
{
    mongoc_collection_t *coll = svc_collection(mongo, service, "migrations");
    /* The versions a record can be, by _id: an index walk, not a scan
     * (workers run this every few seconds; test_scale.py watches the
     * profiler for scans). */
    bson_t *filter = BCON_NEW("_id", "{", "$gte", BCON_INT32(1), "$lte", BCON_INT32(MIGRATE_MAX), "}");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    const bson_t *doc;
    bson_iter_t it;
    *highest = 0;
    for (int v = 0; v <= MIGRATE_MAX; v++)
        rec[v].present = false;
    while (mongoc_cursor_next(cursor, &doc)) {
        if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_NUMBER(&it))
            continue;
        int64_t v = bson_iter_as_int64(&it);
        if (v < 1 || v > MIGRATE_MAX)
            continue;
        migrate_record_t *r = &rec[v];
        r->present = true;
        bson_copy_to(doc, &r->doc);
        migrate_copy_str(doc, "state", r->state, sizeof(r->state));
        migrate_copy_str(doc, "direction", r->direction, sizeof(r->direction));
        migrate_copy_str(doc, "checksum", r->checksum, sizeof(r->checksum));
        if (v > *highest)
            *highest = (int)v;
    }
    bool ok = !mongoc_cursor_error(cursor, error);
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    bson_destroy(filter);
    if (!ok)
        for (int v = 0; v <= MIGRATE_MAX; v++)
            if (rec[v].present)
                bson_destroy(&rec[v].doc);
    return ok;
}

void
migrate_free(migrate_record_t *rec)
{
    for (int v = 0; v <= MIGRATE_MAX; v++)
        if (rec[v].present)
            bson_destroy(&rec[v].doc);
}

bool
migrate_applied(const migrate_record_t *r)
{
    return r->present && strcmp(r->state, "applied") == 0;
}

/* The highest version with every version up to it applied. */
int
migrate_at(const migrate_record_t *rec)
{
    int v = 0;
    while (v < MIGRATE_MAX && migrate_applied(&rec[v + 1]))
        v++;
    return v;
}

void
migrate_date(const bson_t *doc, const char *key, char *out, size_t len)
{
    bson_iter_t it;
    out[0] = '\0';
    if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_DATE_TIME(&it)) {
        time_t t = (time_t)(bson_iter_date_time(&it) / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
}

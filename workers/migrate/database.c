/* A service's own database by name, its indexes, and what its errors mean (database.h). */
#include "migrate/database.h"
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The name of `service`'s database: the one place ROOST_DB_PREFIX applies. */
static void
svc_database_name(const char *service, char *db, size_t size)
{
    snprintf(db, size, "%s%s", cfg_str("ROOST_DB_PREFIX", CFG_DEFAULT_DB_PREFIX), service);
}

mongoc_collection_t *
svc_collection(mongoc_client_t *mongo, const char *service, const char *name)
{
    char db[128];
    svc_database_name(service, db, sizeof(db));
    return mongoc_client_get_collection(mongo, db, name);
}

mongoc_database_t *
svc_database(mongoc_client_t *mongo, const char *service)
{
    char db[128];
    svc_database_name(service, db, sizeof(db));
    return mongoc_client_get_database(mongo, db);
}

bool
svc_is_duplicate(const bson_error_t *error)
{
    /* MongoDB's duplicate-key codes; FerretDB's SQLite backend reports a
     * unique violation on update as code 1 with SQLite's own words. Never a
     * looser match: "invalid key: \"x\" (duplicate keys are not allowed)"
     * is a refused document, not a unique index at work, and taking it for
     * one once sent a property create down the "repeat" path. */
    return error->code == 11000 || error->code == 11001 || error->code == 12582 ||
           strstr(error->message, "E11000 duplicate key error") != NULL ||
           strstr(error->message, "UNIQUE constraint failed") != NULL;
}

/*
 * Creates one index on `service`.`collection` if it is missing, one index
 * per command: FerretDB 1.24 dropped the connection when a createIndexes
 * listing several indexes found them all present already, and other stores
 * may do the same.
 */
static bool
svc_ensure_index(mongoc_client_t *mongo, const char *service, const char *collection, const bson_t *keys,
                 const bson_t *options, const char *name, bool unique, bson_error_t *error)
{
    mongoc_collection_t *coll = svc_collection(mongo, service, collection);
    bson_t cmd = BSON_INITIALIZER, indexes, index;
    BSON_APPEND_UTF8(&cmd, "createIndexes", collection);
    BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
    BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &index);
    BSON_APPEND_DOCUMENT(&index, "key", keys);
    BSON_APPEND_UTF8(&index, "name", name);
    bson_concat(&index, options);
    if (unique)
        BSON_APPEND_BOOL(&index, "unique", true);
    bson_append_document_end(&indexes, &index);
    bson_append_array_end(&cmd, &indexes);
    bool ok = mongoc_collection_write_command_with_opts(coll, &cmd, NULL, NULL, error);
    bson_destroy(&cmd);
    mongoc_collection_destroy(coll);
    return ok;
}

bool
svc_ensure_indexes(mongoc_client_t *mongo, const char *service, const svc_index_t *indexes, size_t count,
                   bson_error_t *error)
{
    for (size_t i = 0; i < count; i++) {
        bson_t keys = BSON_INITIALIZER, options = BSON_INITIALIZER, weights = BSON_INITIALIZER;
        for (const char *k = indexes[i].keys; *k != '\0';) {
            int dir = *k == '-' ? -1 : 1;
            k += *k == '-';
            size_t len = strcspn(k, ","), name = strcspn(k, ":,");
            if (name < len) { /* "location:2dsphere", "name:text:10": a kind of index (and a weight) */
                const char *kind = k + name + 1;
                size_t kind_len = strcspn(kind, ":,");
                bson_append_utf8(&keys, k, (int)name, kind, (int)kind_len);
                if (kind[kind_len] == ':')
                    bson_append_int32(&weights, k, (int)name, atoi(kind + kind_len + 1));
            } else {
                bson_append_int32(&keys, k, (int)len, dir);
            }
            k += len + (k[len] == ',');
        }
        if (!bson_empty(&weights)) { /* Roost folds its own words: no stemming, no stop words */
            BSON_APPEND_DOCUMENT(&options, "weights", &weights);
            BSON_APPEND_UTF8(&options, "default_language", "none");
        }
        bool ok = svc_ensure_index(mongo, service, indexes[i].collection, &keys, &options, indexes[i].name,
                                   indexes[i].unique, error);
        bson_destroy(&keys);
        bson_destroy(&options);
        bson_destroy(&weights);
        if (!ok)
            return false;
    }
    return true;
}

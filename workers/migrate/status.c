/* `roostctl migrate status`: the operator's table of a service's versions. */
#include "migrate/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
migrate_status(mongoc_client_t *mongo, const char *service, const svc_migration_t *migrations, FILE *out,
               bson_error_t *error)
{
    int n = migrate_count(migrations), highest;
    migrate_record_t *rec = calloc(MIGRATE_MAX + 1, sizeof(*rec));
    if (!migrate_load(mongo, service, rec, &highest, error)) {
        free(rec);
        return 2;
    }
    int at = migrate_at(rec), pending = 0, troubled = 0, changed = 0;
    int last = highest > n ? highest : n;
    for (int v = 1; v <= n; v++) {
        char checksum[80];
        migrate_checksum(&migrations[v - 1], checksum);
        if (!rec[v].present)
            pending++;
        else if (!migrate_applied(&rec[v]))
            troubled++;
        else if (strcmp(rec[v].checksum, checksum) != 0)
            changed++;
    }
    fprintf(out, "%s: at version %d of %d", service, at, n);
    if (pending == 0 && troubled == 0 && changed == 0)
        fprintf(out, ", up to date\n");
    else if (pending + troubled > 0)
        fprintf(out, "; run `roostctl migrate up %s`%s\n", service, troubled > 0 ? " (it resumes what stopped)" : "");
    else /* applied, but not as this binary defines it: workers serve, `up` refuses */
        fprintf(out, "; a version was CHANGED after it was applied: put its code back and make the change a new "
                     "version\n");
    for (int v = 1; v <= last; v++) {
        const svc_migration_t *m = v <= n ? &migrations[v - 1] : NULL;
        migrate_record_t *r = &rec[v];
        char name[64];
        if (m != NULL)
            snprintf(name, sizeof(name), "%s", m->name);
        else if (r->present)
            migrate_copy_str(&r->doc, "name", name, sizeof(name));
        else
            continue;
        fprintf(out, "  %3d  %-24s ", v, name);
        if (!r->present) {
            fprintf(out, "pending\n");
            continue;
        }
        char when[32], checksum[80] = "", by[128], message[512];
        migrate_copy_str(&r->doc, "by", by, sizeof(by));
        if (m != NULL)
            migrate_checksum(m, checksum);
        if (migrate_applied(r)) {
            migrate_date(&r->doc, "applied_at", when, sizeof(when));
            fprintf(out, "applied %s  %.19s", when, r->checksum);
            if (m == NULL)
                fprintf(out, "  (unknown to this roostctl)");
            else if (strcmp(r->checksum, checksum) != 0)
                fprintf(out, "  CHANGED since: this roostctl's is %.19s", checksum);
            fprintf(out, "\n");
            continue;
        }
        migrate_date(&r->doc, "started_at", when, sizeof(when));
        migrate_copy_str(&r->doc, "error", message, sizeof(message));
        bson_iter_t it;
        char progress[256] = "";
        if (bson_iter_init_find(&it, &r->doc, "progress") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
            uint32_t len;
            const uint8_t *data;
            bson_t p;
            bson_iter_document(&it, &len, &data);
            if (bson_init_static(&p, data, len) && !bson_empty(&p)) {
                char *json = bson_as_relaxed_extended_json(&p, NULL);
                snprintf(progress, sizeof(progress), ", progress %s", json);
                bson_free(json);
            }
        }
        if (strcmp(r->state, "failed") == 0)
            fprintf(out, "FAILED (%s, started %s by %s%s): %s\n", r->direction, when, by, progress, message);
        else
            fprintf(out, "%s since %s by %s%s (or stopped: a re-run resumes it)\n", r->state, when, by, progress);
    }
    migrate_free(rec);
    free(rec);
    return pending == 0 && troubled == 0 && changed == 0 ? 0 : 1;
}

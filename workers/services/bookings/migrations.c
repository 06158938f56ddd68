/* The versions of the bookings database, oldest first (migrate/migration.h). */
#include "bookings.h"

static const svc_index_t bookings_indexes[] = {
    {"bookings", "rid_unique", "rid", true},
    {"bookings", "guest_created", "guest_id,-created_at", false},
    {"bookings", "property_created", "property_id,-created_at", false},
    {"nights", "property_day", "property_id,day", false},
    {"nights", "booking_id", "booking_id", false},
};

/* The versions of the bookings database (migrate/migration.h); `roostctl migrate up bookings` applies them. */
const svc_migration_t bookings_migrations[] = {
    SVC_MIGRATION_INDEXES(1, "indexes", bookings_indexes),
    {0},
};

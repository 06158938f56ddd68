/* `roostctl migrate`: see migrate.c. */
#ifndef ROOST_TOOLS_MIGRATE_H
#define ROOST_TOOLS_MIGRATE_H

/* argv[0] is "migrate". Returns the exit status. */
int roostctl_migrate(int argc, char **argv);

#endif

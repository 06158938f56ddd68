/* `roostctl migrate`: see migrations.c. */
#ifndef ROOST_TOOLS_MIGRATIONS_H
#define ROOST_TOOLS_MIGRATIONS_H

/* argv[0] is "migrate". Returns the exit status. */
int roostctl_migrate(int argc, char **argv);

#endif

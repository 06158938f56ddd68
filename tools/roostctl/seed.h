/* roostctl seed: synthetic places, users, properties and listings, made
 * through the services' own ops over nng. */
#ifndef ROOST_SEED_H
#define ROOST_SEED_H

/* argv[0] is "seed"; returns the exit status. */
int roostctl_seed(int argc, char **argv);

#endif

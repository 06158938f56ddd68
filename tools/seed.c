/* roostctl seed (to be written). */
#include "seed.h"

#include <stdio.h>

int
roostctl_seed(int argc, char **argv)
{
    fprintf(stderr, "roostctl seed: not written yet\n");
    return 2;
}

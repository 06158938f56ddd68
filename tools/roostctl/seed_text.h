/* The words of seeded homes (roostctl seed): names, streets and
 * descriptions drawn from small phrase lists, so that keyword search
 * (q=, docs/search.md) finds something on a fresh make run. */
#ifndef ROOST_SEED_TEXT_H
#define ROOST_SEED_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Each picks by `r`, a random draw of the caller's own generator. */
const char *seed_adjective(uint64_t r);
const char *seed_street(uint64_t r);
/* Three different features of a home, joined into one sentence. */
void seed_description(uint64_t r, char *out, size_t size);

#endif

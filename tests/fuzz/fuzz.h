/*
 * What every fuzz harness shares. Each harness is one file defining
 * LLVMFuzzerTestOneInput; `make fuzz` links it with libFuzzer under ASan +
 * UBSan (clang), and `make test` links it with replay.c, which runs every
 * committed seed and regression input through it once, so a crash found
 * once stays fixed.
 */
#ifndef ROOST_FUZZ_H
#define ROOST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional: run once before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A NUL-terminated copy of the input, for parsers of C strings; free() it. */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s != NULL) {
        memcpy(s, data, size);
        s[size] = '\0';
    }
    return s;
}

#endif

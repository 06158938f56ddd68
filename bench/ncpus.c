/*
 * bench only: an LD_PRELOAD shim that tells a process the machine has
 * BENCH_FAKE_NPROCS CPUs, for the row "as on a 16-CPU node" (bench/spine.py).
 * nng 1.5.2 sizes its task-thread pool from sysconf(_SC_NPROCESSORS_ONLN),
 * with no run-time setting, so a pod with a 1-CPU limit on a 32-CPU node
 * starts threads as for 32. Never linked into Roost.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/sysinfo.h>
#include <unistd.h>

static long
fake_nprocs(void)
{
    const char *v = getenv("BENCH_FAKE_NPROCS");
    return v != NULL ? atol(v) : 0;
}

long
sysconf(int name)
{
    static long (*real)(int);
    long n = fake_nprocs();
    if (n > 0 && (name == _SC_NPROCESSORS_ONLN || name == _SC_NPROCESSORS_CONF))
        return n;
    if (real == NULL)
        real = (long (*)(int))dlsym(RTLD_NEXT, "sysconf");
    return real(name);
}

int
get_nprocs(void)
{
    static int (*real)(void);
    long n = fake_nprocs();
    if (n > 0)
        return (int)n;
    if (real == NULL)
        real = (int (*)(void))dlsym(RTLD_NEXT, "get_nprocs");
    return real();
}

int
get_nprocs_conf(void)
{
    static int (*real)(void);
    long n = fake_nprocs();
    if (n > 0)
        return (int)n;
    if (real == NULL)
        real = (int (*)(void))dlsym(RTLD_NEXT, "get_nprocs_conf");
    return real();
}

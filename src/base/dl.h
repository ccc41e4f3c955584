/* Private to base's dl_*.c files: opening a shared library on first use and filling a table of
 * its functions, so a role that never calls the library never maps it. */
#ifndef ODIN_BASE_DL_H
#define ODIN_BASE_DL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* One function to resolve: its name and where to store its address (a function pointer's
 * address cast to void **, as POSIX' dlsym page stores one). */
typedef struct {
    const char *name;
    void **slot;
} odin_dl_sym;

/* dlopen(soname) and dlsym of every entry. 0, or -1 with a message naming the library (and the
 * first missing symbol) in err, which holds cap bytes; the library is then closed again. */
int odin_dl_load(const char *soname, const odin_dl_sym *syms, size_t n, char *err, size_t cap);

/* A library opened on first use, once for the process. Defined statically with ODIN_DL_LIB;
 * `state` and `error` are written once under `mu`, then only read. */
typedef struct {
    const char *soname;
    const odin_dl_sym *syms;
    size_t n;
    const char *fail_log; /* logged once (at error) with the reason when loading fails, or NULL */
    pthread_mutex_t mu;
    atomic_int state; /* 0 not tried, 1 loaded, -1 failed */
    char error[256];  /* why it failed */
} odin_dl_lib;

#define ODIN_DL_LIB(so, table, log)                                                                \
    {                                                                                              \
        .soname = (so), .syms = (table), .n = sizeof(table) / sizeof((table)[0]),                  \
        .fail_log = (log), .mu = PTHREAD_MUTEX_INITIALIZER                                         \
    }

/* Loads lib on the first call from any thread; true when its functions are usable, else
 * lib->error says why (the same answer every later call). */
bool odin_dl_ensure(odin_dl_lib *lib);

#endif

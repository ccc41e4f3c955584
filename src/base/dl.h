/* Private to base's dl_*.c files: opening a shared library on first use and filling a table of
 * its functions, so a role that never calls the library never maps it. */
#ifndef ODIN_BASE_DL_H
#define ODIN_BASE_DL_H

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

#endif

/* Opens a shared library and resolves a table of its functions (see dl.h). */
#include "base/dl.h"

#include <dlfcn.h>
#include <stdio.h>

int odin_dl_load(const char *soname, const odin_dl_sym *syms, size_t n, char *err, size_t cap)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *why = dlerror();
        snprintf(err, cap, "%s could not be loaded: %s", soname, why != NULL ? why : "unknown");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        *syms[i].slot = dlsym(h, syms[i].name);
        if (*syms[i].slot == NULL) {
            snprintf(err, cap, "%s has no symbol %s", soname, syms[i].name);
            dlclose(h);
            return -1;
        }
    }
    return 0;
}

/* Opens a shared library and resolves a table of its functions (see dl.h). */
#include "base/dl.h"

#include "base/base.h"

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

bool odin_dl_ensure(odin_dl_lib *lib)
{
    int st = atomic_load_explicit(&lib->state, memory_order_acquire);
    if (st != 0) {
        return st > 0;
    }
    pthread_mutex_lock(&lib->mu);
    st = atomic_load_explicit(&lib->state, memory_order_relaxed);
    if (st == 0) {
        st = odin_dl_load(lib->soname, lib->syms, lib->n, lib->error, sizeof lib->error) == 0 ? 1
                                                                                              : -1;
        if (st < 0 && lib->fail_log != NULL) {
            odin_log(ODIN_LOG_ERROR, "base", lib->fail_log, "err", lib->error, NULL);
        }
        atomic_store_explicit(&lib->state, st, memory_order_release);
    }
    pthread_mutex_unlock(&lib->mu);
    return st > 0;
}

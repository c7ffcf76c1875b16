/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define VIRT_DL_NO_REDIRECT
#include "virt-dl.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "macro.h"
#include "util.h"

struct virt_dl virt_dl;

int virt_dl_open(const char *soname, struct virt_dl *ret, char **reterr) {
        struct virt_dl t = {};
        void *h;

        /* never closed: libvirt keeps threads and atexit state once initialised */
        h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                const char *e = dlerror();
                return error_set(reterr, -ELIBACC, "libvirt client library not installed: apt install libvirt0 (%s)",
                                 e ? e : soname);
        }
#define VIRT_DL_SYM(name)                                                                          \
        t.name = (__typeof__(t.name)) dlsym(h, #name);                                             \
        if (!t.name) {                                                                             \
                dlclose(h);                                                                        \
                return error_set(reterr, -ELIBBAD, "%s has no %s: libvirt client library too old", \
                                 soname, #name);                                                   \
        }
        VIRT_DL_FUNCTIONS(VIRT_DL_SYM)
#undef VIRT_DL_SYM
        *ret = t;
        return 0;
}

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_result;
static char *load_error;

static void load(void) {
        load_result = virt_dl_open(VIRT_DL_SONAME, &virt_dl, &load_error);
}

int virt_dl_load(char **reterr) {
        (void) pthread_once(&load_once, load);
        if (load_result < 0)
                return error_set(reterr, load_result, "%s", strna(load_error));
        return 0;
}

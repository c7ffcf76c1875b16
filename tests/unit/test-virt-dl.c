/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt loaded on demand (src/lib/virt-dl.c, issue 8): a missing library is a clear
 * "apt install libvirt0" error, a library without libvirt's functions is refused, the real
 * libvirt.so.0 fills every pointer, and the CLI itself does not link libvirt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIRT_DL_NO_REDIRECT /* t.NAME below are fields (virt.c uses the redirect) */
#include "virt-dl.h"

static void test_missing(void **state) {
        struct virt_dl t;
        char *err = NULL;

        memset(&t, 0x5a, sizeof(t));
        assert_int_equal(virt_dl_open("libhostdev-test-no-such-library.so.0", &t, &err), -ELIBACC);
        assert_non_null(err);
        assert_non_null(strstr(err, "libvirt client library not installed: apt install libvirt0"));
        /* untouched on failure */
        for (size_t i = 0; i < sizeof(t); i++)
                assert_int_equal(((unsigned char *) &t)[i], 0x5a);
        free(err);
}

static void test_wrong_library(void **state) {
        struct virt_dl t = {};
        char *err = NULL;

        /* libc is loadable but has none of libvirt's functions */
        assert_int_equal(virt_dl_open("libc.so.6", &t, &err), -ELIBBAD);
        assert_non_null(err);
        assert_non_null(strstr(err, "virConnectClose"));
        assert_null(t.virConnectOpen);
        free(err);
}

static void test_real(void **state) {
        struct virt_dl t = {};
        char *err = NULL;

        assert_int_equal(virt_dl_open(VIRT_DL_SONAME, &t, &err), 0);
        assert_null(err);
#define CHECK(name) assert_non_null(t.name);
        VIRT_DL_FUNCTIONS(CHECK)
#undef CHECK
        /* the table is libvirt's own functions */
        void *h = dlopen(VIRT_DL_SONAME, RTLD_NOW | RTLD_NOLOAD);
        assert_non_null(h);
        assert_ptr_equal((void *) t.virConnectOpen, dlsym(h, "virConnectOpen"));
        dlclose(h); /* drops only this reference */

        /* the global loader: the same, twice */
        assert_int_equal(virt_dl_load(&err), 0);
        assert_int_equal(virt_dl_load(&err), 0);
        assert_null(err);
        assert_ptr_equal((void *) virt_dl.virInitialize, (void *) t.virInitialize);
        assert_int_equal(virt_dl.virInitialize(), 0); /* callable: it is libvirt */
}

static void test_not_linked(void **state) {
        /* before any load, this process (linked like the CLI) has no libvirt: its functions are
         * not resolvable globally and libvirt.so.0 is not among the loaded objects */
        assert_null(dlopen(VIRT_DL_SONAME, RTLD_NOW | RTLD_NOLOAD));
        assert_null(dlsym(RTLD_DEFAULT, "virConnectOpen"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_not_linked), /* first: nothing loaded yet */
                cmocka_unit_test(test_missing),
                cmocka_unit_test(test_wrong_library),
                cmocka_unit_test(test_real),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "error.h"
#include "util.h"

static void test_strbuf(void **state) {
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
        strbuf_append(&sb, "a");
        strbuf_appendf(&sb, "<%d>", 42);
        strbuf_append_xml_escaped(&sb, "&'\"<>");
        _cleanup_free_ char *s = strbuf_steal(&sb);
        assert_string_equal(s, "a<42>&amp;&apos;&quot;&lt;&gt;");
        _cleanup_free_ char *e = strbuf_steal(&sb);
        assert_string_equal(e, "");
}

static void test_safe_atou(void **state) {
        unsigned v;
        assert_int_equal(safe_atou("007", 10, &v), 0);
        assert_int_equal(v, 7);
        assert_int_equal(safe_atou("0x1f", 16, &v), 0);
        assert_int_equal(v, 31);
        assert_int_equal(safe_atou("12\n", 10, &v), 0);
        assert_int_equal(v, 12);
        assert_int_equal(safe_atou("", 10, &v), -EINVAL);
        assert_int_equal(safe_atou("-1", 10, &v), -EINVAL);
        assert_int_equal(safe_atou("1x", 10, &v), -EINVAL);
        assert_int_equal(safe_atou("99999999999", 10, &v), -ERANGE);
}

static void test_path_join(void **state) {
        _cleanup_free_ char *a = path_join("/sys/", "/bus", "usb", NULL);
        assert_string_equal(a, "/sys/bus/usb");
}

static void test_files(void **state) {
        char dir[] = "/tmp/hostdev-test-XXXXXX";
        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *p = path_join(dir, "a/b/c", NULL);
        assert_int_equal(mkdir_p(p, 0700), 0);
        _cleanup_free_ char *f = path_join(p, "attr", NULL);
        assert_int_equal(write_file_atomic(f, "0x46f4\n", 7, 0600), 0);
        _cleanup_free_ char *s = NULL;
        assert_int_equal(read_one_line_file(f, &s), 0);
        assert_string_equal(s, "0x46f4");
        _cleanup_free_ char *missing = path_join(p, "nope", NULL);
        char *t = NULL;
        assert_int_equal(read_one_line_file(missing, &t), -ENOENT);
        assert_null(t);
        t = (char *) "untouched";
        assert_int_equal(read_full_file_optional(missing, 1024, &t), 0);
        assert_null(t);
        assert_int_equal(read_full_file_optional(f, 1024, &t), 1);
        assert_string_equal(t, "0x46f4\n");
        free(t);
        char *u = (char *) "untouched";
        assert_int_equal(read_full_file_optional(f, 3, &u), -EFBIG);
        assert_string_equal(u, "untouched");
        assert_int_equal(read_full_file_optional(p, 1024, &u), -EISDIR);
        assert_string_equal(u, "untouched");
        _cleanup_free_ char *cmd = strdup_printf("rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

static void test_error(void **state) {
        _cleanup_free_ char *m = NULL;
        assert_int_equal(error_set(&m, EINVAL, "x.xml:%d: bad", 3), -EINVAL);
        assert_int_equal(error_set(&m, ENOENT, "second"), -ENOENT);
        assert_string_equal(m, "x.xml:3: bad");
        assert_int_equal(error_prefix(&m, -EINVAL, "outer"), -EINVAL);
        assert_string_equal(m, "outer: x.xml:3: bad");
        assert_int_equal(error_set(NULL, -EIO, "ignored"), -EIO);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_strbuf),
                cmocka_unit_test(test_safe_atou),
                cmocka_unit_test(test_path_join),
                cmocka_unit_test(test_files),
                cmocka_unit_test(test_error),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

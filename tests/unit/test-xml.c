/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The XML model: every fixture in tests/data/xml (NAME.xml -> NAME.out.xml or NAME.err), the
 * idempotence of the formatter, and the parsed model of the older input forms. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hostdev-xml.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct hostdev_file *, hostdev_file_free);

static char *xml_dir(void) {
        const char *d = getenv("HOSTDEV_TEST_DATA");
        if (!d) {
                fail_msg("HOSTDEV_TEST_DATA is not set (run through meson test)");
                return NULL;
        }
        return path_join(d, "xml", NULL);
}

static char *read_fixture(const char *dir, const char *name, size_t *ret_size) {
        _cleanup_free_ char *p = path_join(dir, name, NULL);
        char *buf = NULL;
        size_t size = 0;
        assert_non_null(p);
        int r = read_full_file(p, 64u * 1024 * 1024, &buf, &size);
        if (r < 0)
                fail_msg("cannot read %s: %s", p, strerror(-r));
        if (ret_size)
                *ret_size = size;
        return buf;
}

static bool file_exists(const char *dir, const char *name) {
        _cleanup_free_ char *p = path_join(dir, name, NULL);
        return p && access(p, F_OK) == 0;
}

static int parse_string(const char *s, const char *name, struct hostdev_file **ret, char **reterr) {
        return hostdev_file_parse_buffer(s, strlen(s), name, ret, reterr);
}

static char *format_file(const struct hostdev_file *f) {
        char *out = NULL;
        assert_int_equal(hostdev_file_format(f, &out), 0);
        assert_non_null(out);
        return out;
}

/* format(parse(s)) */
static char *roundtrip(const char *s, size_t len, const char *name) {
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = NULL;
        _cleanup_free_ char *err = NULL;
        int r = hostdev_file_parse_buffer(s, len, name, &f, &err);
        if (r < 0)
                fail_msg("%s: parse failed (%d): %s", name, r, strna(err));
        assert_null(err);
        return format_file(f);
}

static void test_fixtures(void **state) {
        _cleanup_free_ char *dir = xml_dir();
        _cleanup_closedir_ DIR *d = NULL;
        unsigned n_valid = 0, n_invalid = 0, n_files = 0;
        struct dirent *de;

        assert_non_null(dir);
        d = opendir(dir);
        if (!d)
                fail_msg("cannot open %s: %s", dir, strerror(errno));
        while ((de = readdir(d))) {
                const char *n = de->d_name;
                size_t l = strlen(n);
                if (n[0] == '.')
                        continue;
                n_files++;
                if (l < 5 || !streq(n + l - 4, ".xml") || (l > 8 && streq(n + l - 8, ".out.xml")))
                        continue;
                _cleanup_free_ char *base = strndup(n, l - 4);
                _cleanup_free_ char *errname = strdup_printf("%s.err", base);
                _cleanup_free_ char *outname = strdup_printf("%s.out.xml", base);
                size_t size = 0;
                _cleanup_free_ char *in = read_fixture(dir, n, &size);
                assert_non_null(base);
                assert_non_null(errname);
                assert_non_null(outname);

                if (file_exists(dir, errname)) {
                        _cleanup_free_ char *want = read_fixture(dir, errname, NULL);
                        _cleanup_(hostdev_file_freep) struct hostdev_file *f = NULL;
                        _cleanup_free_ char *err = NULL;
                        int r = hostdev_file_parse_buffer(in, size, n, &f, &err);
                        if (r >= 0)
                                fail_msg("%s: parsed, but %s expects an error: %s", n, errname, want);
                        assert_null(f);
                        if (!err)
                                fail_msg("%s: error %d without a message", n, r);
                        if (!strstr(err, want))
                                fail_msg("%s: error\n  got:  %s\n  want: %s", n, err, want);
                        /* every message names FILE:LINE */
                        _cleanup_free_ char *prefix = strdup_printf("%s:", n);
                        assert_true(strncmp(err, prefix, strlen(prefix)) == 0);
                        assert_true(isdigit((unsigned char) err[strlen(prefix)]));
                        n_invalid++;
                } else {
                        if (!file_exists(dir, outname))
                                fail_msg("%s has neither %s nor %s", n, outname, errname);
                        size_t osize = 0;
                        _cleanup_free_ char *want = read_fixture(dir, outname, &osize);
                        _cleanup_free_ char *got = roundtrip(in, size, n);
                        if (!streq(got, want))
                                fail_msg("%s: output differs from %s\n--- got:\n%s--- want:\n%s", n, outname, got, want);
                        /* idempotence: validate(validate(x)) == validate(x) */
                        _cleanup_free_ char *again = roundtrip(want, osize, outname);
                        if (!streq(again, want))
                                fail_msg("%s is not a fixed point\n--- got:\n%s--- want:\n%s", outname, again, want);
                        n_valid++;
                }
        }
        print_message("xml fixtures: %u valid, %u invalid, %u files\n", n_valid, n_invalid, n_files);
        assert_true(n_files >= 60);
        assert_true(n_valid >= 30);
        assert_true(n_invalid >= 30);
}

static void test_design_scsi_model(void **state) {
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = NULL;
        _cleanup_free_ char *err = NULL;
        assert_int_equal(parse_string("<hostdev mode='capability' type='scsi'>\n"
                                      "  <source name='sg3'/>\n  <target address='2:0:3:1'/>\n</hostdev>",
                                      "t.xml", &f, &err),
                         0);
        assert_int_equal(f->n_defs, 1);
        const struct hostdev_def *d = f->defs[0];
        assert_int_equal(d->mode, HOSTDEV_MODE_SUBSYSTEM);
        assert_int_equal(d->type, HOSTDEV_TYPE_SCSI);
        assert_int_equal(d->form, HOSTDEV_FORM_DESIGN);
        assert_string_equal(d->source.scsi.sg_name, "sg3");
        assert_string_equal(d->source.scsi.adapter, "scsi_host2");
        assert_int_equal(d->source.scsi.bus, 0);
        assert_int_equal(d->source.scsi.target, 3);
        assert_int_equal(d->source.scsi.unit, 1);
        assert_true(d->source.scsi.has_address);
        assert_int_equal(d->line, 1);
}

static void test_patch_model(void **state) {
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = NULL;
        _cleanup_free_ char *err = NULL;
        assert_int_equal(parse_string("<devices>\n<hostdev type='usb' vendor='0204' product='6025'/>\n"
                                      "<hostdev type='usb' bus='001' device='010'/>\n</devices>",
                                      "t.xml", &f, &err),
                         0);
        assert_int_equal(f->n_defs, 2);
        assert_null(f->domain_name);
        const struct usb_source *u = &f->defs[0]->source.usb;
        assert_int_equal(f->defs[0]->form, HOSTDEV_FORM_PATCH);
        assert_true(u->has_vendor && u->has_product);
        assert_int_equal(u->vendor, 0x0204);
        assert_int_equal(u->product, 0x6025);
        assert_int_equal(f->defs[0]->line, 2);
        u = &f->defs[1]->source.usb;
        assert_true(u->has_bus && u->has_device);
        assert_int_equal(u->bus, 1);
        assert_int_equal(u->device, 10); /* decimal, not octal 8 */
        assert_int_equal(f->defs[1]->line, 3);
}

static void test_extensions_model(void **state) {
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = NULL;
        _cleanup_free_ char *err = NULL, *sel = NULL;
        assert_int_equal(parse_string("<domain><name>vm1</name><devices>"
                                      "<hostdev mode='subsystem' type='usb'><source>"
                                      "<vendor id='0x46f4'/><product id='0x0001'/><serial>S&amp;1</serial>"
                                      "<address bus='3' port='1.2.3'/><remote host='h'/></source></hostdev>"
                                      "</devices></domain>",
                                      "t.xml", &f, &err),
                         0);
        assert_string_equal(f->domain_name, "vm1");
        assert_int_equal(f->n_defs, 1);
        const struct usb_source *u = &f->defs[0]->source.usb;
        assert_string_equal(u->serial, "S&1");
        assert_string_equal(u->port, "1.2.3");
        assert_int_equal(u->bus, 3);
        assert_false(u->has_device);
        assert_string_equal(u->remote_host, "h");
        assert_int_equal(u->remote_port, 3240);
        assert_int_equal(hostdev_def_format_source(f->defs[0], &sel), 0);
        assert_string_equal(sel, "<source><vendor id='0x46f4'/><product id='0x0001'/>"
                                 "<address bus='3' port='1.2.3'/><serial>S&amp;1</serial>"
                                 "<remote host='h' port='3240'/></source>");
}

static void test_format_source_pci_interface(void **state) {
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = NULL;
        _cleanup_free_ char *err = NULL, *sel = NULL;
        assert_int_equal(parse_string("<interface type='hostdev'><source><address type='pci' domain='0' bus='0x3' slot='0x10' function='2'/></source>"
                                      "<mac address='52:54:00:AA:bb:cc'/></interface>",
                                      "t.xml", &f, &err),
                         0);
        const struct hostdev_def *d = f->defs[0];
        assert_int_equal(d->origin, HOSTDEV_ORIGIN_INTERFACE);
        assert_int_equal(d->type, HOSTDEV_TYPE_PCI);
        assert_non_null(d->iface);
        assert_string_equal(d->iface->mac, "52:54:00:aa:bb:cc");
        assert_int_equal(d->source.pci.addr.bus, 3);
        assert_int_equal(d->source.pci.addr.slot, 0x10);
        assert_int_equal(d->source.pci.addr.function, 2);
        assert_int_equal(hostdev_def_format_source(d, &sel), 0);
        assert_string_equal(sel, "<source><address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x2'/></source>");
}

static void test_type_to_string(void **state) {
        assert_string_equal(hostdev_type_to_string(HOSTDEV_TYPE_USB), "usb");
        assert_string_equal(hostdev_type_to_string(HOSTDEV_TYPE_PCI), "pci");
        assert_string_equal(hostdev_type_to_string(HOSTDEV_TYPE_SCSI), "scsi");
        assert_string_equal(hostdev_type_to_string(HOSTDEV_TYPE_SCSI_HOST), "scsi_host");
        assert_string_equal(hostdev_type_to_string(HOSTDEV_TYPE_MDEV), "mdev");
        assert_string_equal(hostdev_type_to_string(HOSTDEV_TYPE_CAP_STORAGE), "storage");
        assert_string_equal(hostdev_type_to_string(HOSTDEV_TYPE_CAP_MISC), "misc");
        assert_string_equal(hostdev_type_to_string(HOSTDEV_TYPE_CAP_NET), "net");
}

static void test_limits(void **state) {
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = NULL;
        _cleanup_free_ char *err = NULL, *err2 = NULL, *big = NULL;
        size_t n = 16u * 1024 * 1024 + 1;

        /* larger than 16 MiB: refused before parsing */
        big = malloc(n);
        assert_non_null(big);
        memset(big, ' ', n);
        memcpy(big, "<devices>", 9);
        memcpy(big + n - 10, "</devices>", 10);
        assert_int_equal(hostdev_file_parse_buffer(big, n, "big.xml", &f, &err), -EFBIG);
        assert_null(f);
        assert_non_null(strstr(err, "big.xml"));
        assert_non_null(strstr(err, "16 MiB"));

        /* a NUL inside the buffer is not well-formed XML */
        assert_true(hostdev_file_parse_buffer("<hostdev\0>", 10, "nul.xml", &f, &err2) < 0);
        assert_null(f);
        assert_non_null(err2);
        assert_true(strncmp(err2, "nul.xml:1:", 10) == 0);
}

static void test_parse_path(void **state) {
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = NULL;
        _cleanup_free_ char *err = NULL, *dir = xml_dir(), *p = NULL, *err2 = NULL;
        assert_true(hostdev_file_parse_path("/nonexistent/hostdev.xml", &f, &err) < 0);
        assert_null(f);
        assert_non_null(strstr(err, "/nonexistent/hostdev.xml"));
        p = path_join(dir, "err-id-leading-zero.xml", NULL);
        assert_int_equal(hostdev_file_parse_path(p, &f, &err2), -EINVAL);
        /* the message names the path as given */
        assert_true(strncmp(err2, p, strlen(p)) == 0);
        assert_non_null(strstr(err2, ":3: "));
}

/* libxml2 never prints: its errors (even context-less encoding/I/O ones) become our messages. */
static void test_libxml_silent(void **state) {
        static const char *const inputs[] = {
                "<?xml version='1.0' encoding='SHIFT_JIS'?>\n<hostdev a='\x98\x3d\x27\x30'/>",
                "<?xml version='1.0' encoding='bogus'?><hostdev/>",
                "<hostdev><source></hostdev>",
                "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><hostdev>&e;</hostdev>",
                "<hostdev>&undefined;</hostdev>",
                "\xff\xfe<\x00",
        };
        FILE *tmp = tmpfile();
        int saved = dup(STDERR_FILENO);
        long size;
        assert_non_null(tmp);
        assert_true(saved >= 0);
        fflush(stderr);
        assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
        for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
                struct hostdev_file *f = NULL;
                char *err = NULL;
                int r = hostdev_file_parse_buffer(inputs[i], strlen(inputs[i]), "s.xml", &f, &err);
                bool ok = r < 0 && !f && err && strncmp(err, "s.xml:", 6) == 0;
                free(err);
                hostdev_file_free(f);
                if (!ok) {
                        dup2(saved, STDERR_FILENO);
                        fail_msg("input %zu: want a clean s.xml:LINE: error (r=%d)", i, r);
                }
        }
        fflush(stderr);
        assert_true(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);
        assert_int_equal(fseek(tmp, 0, SEEK_END), 0);
        size = ftell(tmp);
        if (size != 0) {
                char buf[512] = "";
                rewind(tmp);
                size_t n = fread(buf, 1, sizeof(buf) - 1, tmp);
                buf[n] = 0;
                fail_msg("libxml2 wrote %ld bytes to stderr: %s", size, buf);
        }
        fclose(tmp);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fixtures),
                cmocka_unit_test(test_design_scsi_model),
                cmocka_unit_test(test_patch_model),
                cmocka_unit_test(test_extensions_model),
                cmocka_unit_test(test_format_source_pci_interface),
                cmocka_unit_test(test_type_to_string),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_parse_path),
                cmocka_unit_test(test_libxml_silent),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* USB/IP: the protocol codec on generated replies (valid and malformed), vhci status parsing,
 * export/unexport writes on a fixture tree, and import-by-serial against a fake usbipd (TCP on
 * 127.0.0.1) plus a fake vhci_hcd (a thread acting out attach/detach on a fixture tree). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "hostdev-def.h"
#include "inventory.h"
#include "registry.h"
#include "usbip.h"
#include "util.h"

/* ---- generating replies ---------------------------------------------------------------- */
static void put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) (v >> 8);
        p[1] = (uint8_t) v;
}
static void put32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) (v >> 24);
        p[1] = (uint8_t) (v >> 16);
        p[2] = (uint8_t) (v >> 8);
        p[3] = (uint8_t) v;
}

struct gen_dev {
        const char *busid;
        uint32_t busnum, devnum, speed;
        uint16_t vendor, product;
        uint8_t nif;
};

static size_t gen_device(uint8_t *p, const struct gen_dev *g) {
        memset(p, 0, USBIP_DEVICE_SIZE);
        snprintf((char *) p, USBIP_PATH_SIZE, "/sys/devices/pci0000:00/0000:00:04.0/usb1/%s", g->busid);
        snprintf((char *) p + 256, USBIP_BUSID_SIZE, "%s", g->busid);
        put32(p + 288, g->busnum);
        put32(p + 292, g->devnum);
        put32(p + 296, g->speed);
        put16(p + 300, g->vendor);
        put16(p + 302, g->product);
        put16(p + 304, 0x0100);
        p[309] = 1;
        p[310] = 1;
        p[311] = g->nif;
        return USBIP_DEVICE_SIZE;
}

static size_t gen_devlist(uint8_t *buf, const struct gen_dev *devs, size_t n) {
        size_t off = 0;
        put16(buf, USBIP_VERSION);
        put16(buf + 2, USBIP_OP_REP_DEVLIST);
        put32(buf + 4, 0);
        put32(buf + 8, (uint32_t) n);
        off = 12;
        for (size_t i = 0; i < n; i++) {
                off += gen_device(buf + off, &devs[i]);
                for (unsigned k = 0; k < devs[i].nif; k++) {
                        buf[off] = 3; /* HID */
                        buf[off + 1] = 0;
                        buf[off + 2] = 0;
                        buf[off + 3] = 0;
                        off += 4;
                }
        }
        return off;
}

static const struct gen_dev two_dongles[] = {
        { "1-1", 1, 2, 3, 0x46f4, 0x0001, 1 },
        { "1-2", 1, 3, 3, 0x46f4, 0x0001, 2 },
};

/* ---- codec --------------------------------------------------------------------------------- */
static void test_encode(void **state) {
        uint8_t buf[USBIP_IMPORT_REQ_SIZE];
        usbip_encode_op_common(USBIP_OP_REQ_DEVLIST, 0, buf);
        assert_memory_equal(buf, "\x01\x11\x80\x05\x00\x00\x00\x00", 8);
        assert_int_equal(usbip_encode_import_request("1-1.2", buf), 0);
        assert_memory_equal(buf, "\x01\x11\x80\x03\x00\x00\x00\x00" "1-1.2\0\0", 15);
        for (size_t i = 8 + 5; i < sizeof buf; i++)
                assert_int_equal(buf[i], 0);
        assert_int_equal(usbip_encode_import_request("../../x", buf), -EINVAL);
        assert_int_equal(usbip_encode_import_request("1-1.2.3.4.5.6.7.8", buf), -EINVAL);
        assert_int_equal(usbip_encode_import_request("", buf), -EINVAL);
}

static void test_busid(void **state) {
        assert_true(usbip_busid_valid("1-1"));
        assert_true(usbip_busid_valid("3-1.4.2"));
        assert_true(usbip_busid_valid("255-255"));
        assert_false(usbip_busid_valid("1"));
        assert_false(usbip_busid_valid("0-1"));
        assert_false(usbip_busid_valid("1-0"));
        assert_false(usbip_busid_valid("01-1"));
        assert_false(usbip_busid_valid("1-1."));
        assert_false(usbip_busid_valid("1-1:1.0"));
        assert_false(usbip_busid_valid("256-1"));
        assert_false(usbip_busid_valid("1.1-1"));
        assert_false(usbip_busid_valid(NULL));
}

static void test_devlist(void **state) {
        uint8_t buf[4096];
        size_t len = gen_devlist(buf, two_dongles, 2);
        struct usbip_devlist *l = NULL;

        assert_int_equal(len, 12 + 312 + 4 + 312 + 8);
        assert_int_equal(usbip_decode_devlist(buf, len, &l), 0);
        assert_int_equal(l->n_devs, 2);
        assert_string_equal(l->devs[0].busid, "1-1");
        assert_string_equal(l->devs[1].busid, "1-2");
        assert_int_equal(l->devs[1].devnum, 3);
        assert_int_equal(l->devs[1].speed, 3);
        assert_int_equal(l->devs[0].vendor, 0x46f4);
        assert_int_equal(l->devs[0].product, 0x0001);
        assert_int_equal(l->devs[1].num_interfaces, 2);
        assert_int_equal(l->devs[1].interfaces[1].iface_class, 3);
        assert_string_equal(l->devs[0].path, "/sys/devices/pci0000:00/0000:00:04.0/usb1/1-1");
        usbip_devlist_free(l);

        /* empty list */
        len = gen_devlist(buf, NULL, 0);
        assert_int_equal(usbip_decode_devlist(buf, len, &l), 0);
        assert_int_equal(l->n_devs, 0);
        usbip_devlist_free(l);
}

static void test_devlist_malformed(void **state) {
        uint8_t buf[4096], bad[4096];
        size_t len = gen_devlist(buf, two_dongles, 2);
        struct usbip_devlist *l = (void *) 0x1;

        /* every truncation is rejected (never read past the end) */
        for (size_t k = 0; k < len; k++) {
                uint8_t *cut = malloc(k ? k : 1);
                memcpy(cut, buf, k);
                assert_int_equal(usbip_decode_devlist(cut, k, &l), -EBADMSG);
                free(cut);
        }
        assert_ptr_equal(l, (void *) 0x1); /* untouched on failure */
        /* trailing garbage */
        memcpy(bad, buf, len);
        bad[len] = 0;
        assert_int_equal(usbip_decode_devlist(bad, len + 1, &l), -EBADMSG);
        /* wrong version, wrong code, failure status */
        memcpy(bad, buf, len);
        put16(bad, 0x0106);
        assert_int_equal(usbip_decode_devlist(bad, len, &l), -EBADMSG);
        memcpy(bad, buf, len);
        put16(bad + 2, USBIP_OP_REP_IMPORT);
        assert_int_equal(usbip_decode_devlist(bad, len, &l), -EBADMSG);
        memcpy(bad, buf, len);
        put32(bad + 4, USBIP_ST_ERROR);
        assert_int_equal(usbip_decode_devlist(bad, len, &l), -EPROTO);
        /* a device count beyond what follows, and beyond the bound */
        memcpy(bad, buf, len);
        put32(bad + 8, 3);
        assert_int_equal(usbip_decode_devlist(bad, len, &l), -EBADMSG);
        memcpy(bad, buf, len);
        put32(bad + 8, 0xffffffff);
        assert_int_equal(usbip_decode_devlist(bad, len, &l), -EBADMSG);
        /* busid without its NUL, path without its NUL, bad busid text */
        memcpy(bad, buf, len);
        memset(bad + 12 + 256, 'A', 32);
        assert_int_equal(usbip_decode_devlist(bad, len, &l), -EBADMSG);
        memcpy(bad, buf, len);
        memset(bad + 12, 'A', 256);
        assert_int_equal(usbip_decode_devlist(bad, len, &l), -EBADMSG);
        memcpy(bad, buf, len);
        memcpy(bad + 12 + 256, "../x", 5);
        assert_int_equal(usbip_decode_devlist(bad, len, &l), -EBADMSG);
        /* interface count beyond the data, and beyond the bound */
        memcpy(bad, buf, len);
        bad[12 + 311] = 200;
        assert_int_equal(usbip_decode_devlist(bad, len, &l), -EBADMSG);
        /* the same busid twice */
        struct gen_dev dup[2] = { two_dongles[0], two_dongles[0] };
        len = gen_devlist(bad, dup, 2);
        assert_int_equal(usbip_decode_devlist(bad, len, &l), -EBADMSG);
        /* devnum 0, speed out of range */
        struct gen_dev z = two_dongles[0];
        z.devnum = 0;
        len = gen_devlist(bad, &z, 1);
        assert_int_equal(usbip_decode_devlist(bad, len, &l), -EBADMSG);
        z = two_dongles[0];
        z.speed = 99;
        len = gen_devlist(bad, &z, 1);
        assert_int_equal(usbip_decode_devlist(bad, len, &l), -EBADMSG);
        assert_int_equal(usbip_decode_devlist(NULL, 0, &l), -EBADMSG);
        assert_ptr_equal(l, (void *) 0x1);
}

static void test_import_reply(void **state) {
        uint8_t buf[USBIP_IMPORT_REP_SIZE + 4];
        struct usbip_device d;

        put16(buf, USBIP_VERSION);
        put16(buf + 2, USBIP_OP_REP_IMPORT);
        put32(buf + 4, 0);
        gen_device(buf + 8, &two_dongles[1]);
        assert_int_equal(usbip_decode_import_reply(buf, USBIP_IMPORT_REP_SIZE, &d), 0);
        assert_string_equal(d.busid, "1-2");
        assert_int_equal(d.busnum, 1);
        assert_int_equal(d.devnum, 3);
        assert_null(d.interfaces);
        /* truncated, too long */
        assert_int_equal(usbip_decode_import_reply(buf, USBIP_IMPORT_REP_SIZE - 1, &d), -EBADMSG);
        assert_int_equal(usbip_decode_import_reply(buf, USBIP_IMPORT_REP_SIZE + 1, &d), -EBADMSG);
        assert_int_equal(usbip_decode_import_reply(buf, 7, &d), -EBADMSG);
        /* refused: the status, no device needed */
        put32(buf + 4, USBIP_ST_DEV_BUSY);
        assert_int_equal(usbip_decode_import_reply(buf, 8, &d), USBIP_ST_DEV_BUSY);
        assert_string_equal(usbip_status_to_string(USBIP_ST_DEV_BUSY), "device busy (imported by another host)");
        put32(buf + 4, 0x80000000u);
        assert_int_equal(usbip_decode_import_reply(buf, 8, &d), -EBADMSG);
        /* a devlist reply is not an import reply */
        put16(buf + 2, USBIP_OP_REP_DEVLIST);
        put32(buf + 4, 0);
        assert_int_equal(usbip_decode_import_reply(buf, USBIP_IMPORT_REP_SIZE, &d), -EBADMSG);
}

/* As vhci_hcd (6.1) prints it: one controller, 2 hs + 2 ss ports, one attached; the socket
 * column is a hashed kernel pointer (%16p). */
static const char vhci_status[] =
        "hub port sta spd dev      sockfd local_busid\n"
        "hs  0000 006 003 00010002 00000000c3a9f1e2 3-1\n"
        "hs  0001 004 000 00000000 0000000000000000 0-0\n"
        "ss  0002 004 000 00000000 0000000000000000 0-0\n"
        "ss  0003 004 000 00000000 0000000000000000 0-0\n";

static void test_vhci_status(void **state) {
        _cleanup_free_ struct vhci_port *p = NULL;
        size_t n = 0;

        assert_int_equal(vhci_parse_status(vhci_status, &p, &n), 0);
        assert_int_equal(n, 4);
        assert_false(p[0].ss);
        assert_int_equal(p[0].status, 6);
        assert_int_equal(p[0].devid, 0x10002);
        assert_string_equal(p[0].local_busid, "3-1");
        assert_int_equal(p[1].status, 4);
        assert_true(p[3].ss);
        assert_int_equal(p[3].port, 3);

        struct vhci_port *q = NULL;
        assert_int_equal(vhci_parse_status("hs  0000 006\n", &q, &n), -EBADMSG);
        assert_int_equal(vhci_parse_status("xx  0000 004 000 00000000 000000 0-0\n", &q, &n), -EBADMSG);
        assert_int_equal(vhci_parse_status("hs  0000 004 000 00000000 000000 0-0 extra\n", &q, &n), -EBADMSG);
        assert_null(q);
}

/* ---- fixture tree -------------------------------------------------------------------------- */
static char *tmpdir;

static void mkfile(const char *rel, const char *content) {
        _cleanup_free_ char *p = path_join(tmpdir, rel, NULL);
        _cleanup_free_ char *d = strdup(p);
        *strrchr(d, '/') = 0;
        assert_int_equal(mkdir_p(d, 0755), 0);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static char *readrel(const char *rel) {
        _cleanup_free_ char *p = path_join(tmpdir, rel, NULL);
        char *s = NULL;
        if (read_full_file(p, 4096, &s, NULL) < 0)
                return NULL;
        return s;
}

static int setup_tree(void **state) {
        char t[] = "/tmp/test-usbip-XXXXXX";
        assert_non_null(mkdtemp(t));
        tmpdir = strdup(t);
        _cleanup_free_ char *sys = path_join(tmpdir, "sys", NULL), *st = path_join(tmpdir, "state", NULL);
        setenv("HOSTDEV_SYSFS_ROOT", sys, 1);
        setenv("HOSTDEV_STATE_DIR", st, 1);
        return 0;
}

static int teardown_tree(void **state) {
        _cleanup_free_ char *cmd = strdup_printf("rm -rf '%s'", tmpdir);
        assert_int_equal(system(cmd), 0);
        free(tmpdir);
        tmpdir = NULL;
        return 0;
}

static void test_export_writes(void **state) {
        struct nodedev d = { .name = (char *) "usb_1_1", .cap = NODEDEV_CAP_USB_DEVICE, .driver = (char *) "usb" };
        _cleanup_free_ char *path = path_join(tmpdir, "sys/devices/pci0000:00/0000:00:04.0/usb1/1-1", NULL);
        _cleanup_free_ char *err = NULL, *m = NULL, *u = NULL, *b = NULL, *p = NULL;
        d.sysfs_path = path;

        /* no usbip-host driver: a clear message */
        mkfile("sys/bus/usb/drivers/usb/unbind", "");
        assert_int_equal(usbip_export_device(&d, &err), -ENOENT);
        assert_non_null(strstr(err, "modprobe usbip-host"));
        free(err);
        err = NULL;

        mkfile("sys/bus/usb/drivers/usbip-host/match_busid", "");
        mkfile("sys/bus/usb/drivers/usbip-host/bind", "");
        mkfile("sys/bus/usb/drivers/usbip-host/unbind", "");
        mkfile("sys/bus/usb/drivers_probe", "");
        assert_int_equal(usbip_export_device(&d, &err), 0);
        m = readrel("sys/bus/usb/drivers/usbip-host/match_busid");
        u = readrel("sys/bus/usb/drivers/usb/unbind");
        b = readrel("sys/bus/usb/drivers/usbip-host/bind");
        assert_string_equal(m, "add 1-1");
        assert_string_equal(u, "1-1");
        assert_string_equal(b, "1-1");

        /* unexport: unbind from usbip-host, del from match_busid, reprobe */
        mkfile("sys/bus/usb/drivers/usbip-host/match_busid", "");
        d.driver = (char *) "usbip-host";
        assert_int_equal(usbip_unexport_device(&d, &err), 0);
        free(m);
        free(u);
        m = readrel("sys/bus/usb/drivers/usbip-host/match_busid");
        u = readrel("sys/bus/usb/drivers/usbip-host/unbind");
        p = readrel("sys/bus/usb/drivers_probe");
        assert_string_equal(m, "del 1-1");
        assert_string_equal(u, "1-1");
        assert_string_equal(p, "1-1");

        /* hubs are not exported */
        d.driver = (char *) "hub";
        d.u.usb.is_hub = true;
        assert_int_equal(usbip_export_device(&d, &err), -EINVAL);
}

/* ---- fake usbipd + fake vhci_hcd --------------------------------------------------------------- */
struct fake_remote {
        const char *busid, *serial;
        uint32_t devnum;
        bool busy;
};
static const struct fake_remote remotes[] = {
        { "1-1", "DONGLE-A", 2, false },
        { "1-2", "DONGLE-B", 3, false },
        { "1-3", "DONGLE-C", 4, true },
};
static int listen_fd = -1;
static unsigned listen_port;
static volatile bool stop_threads;
static unsigned n_imports;

static void *usbipd_thread(void *arg) {
        for (;;) {
                int fd = accept(listen_fd, NULL, NULL);
                uint8_t req[USBIP_IMPORT_REQ_SIZE], rep[4096];
                if (fd < 0)
                        return NULL;
                if (recv(fd, req, 8, MSG_WAITALL) != 8) {
                        close(fd);
                        continue;
                }
                if (req[2] == 0x80 && req[3] == 0x05) {
                        struct gen_dev g[3];
                        for (size_t i = 0; i < 3; i++)
                                g[i] = (struct gen_dev){ remotes[i].busid, 1, remotes[i].devnum, 3, 0x46f4, 1, 1 };
                        size_t len = gen_devlist(rep, g, 3);
                        assert_int_equal(send(fd, rep, len, MSG_NOSIGNAL), (ssize_t) len);
                } else if (req[2] == 0x80 && req[3] == 0x03 && recv(fd, req + 8, 32, MSG_WAITALL) == 32) {
                        const struct fake_remote *r = NULL;
                        for (size_t i = 0; i < 3; i++)
                                if (streq((char *) req + 8, remotes[i].busid))
                                        r = &remotes[i];
                        put16(rep, USBIP_VERSION);
                        put16(rep + 2, USBIP_OP_REP_IMPORT);
                        put32(rep + 4, !r ? USBIP_ST_NODEV : r->busy ? USBIP_ST_DEV_BUSY : 0);
                        size_t len = 8;
                        if (r && !r->busy) {
                                struct gen_dev g = { r->busid, 1, r->devnum, 3, 0x46f4, 1, 1 };
                                len += gen_device(rep + 8, &g);
                                n_imports++;
                        }
                        assert_int_equal(send(fd, rep, len, MSG_NOSIGNAL), (ssize_t) len);
                }
                close(fd);
        }
}

static void write_status(const bool used[4], const uint32_t devid[4]) {
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
        strbuf_append(&sb, "hub port sta spd dev      sockfd local_busid\n");
        for (unsigned i = 0; i < 4; i++) {
                if (used[i])
                        strbuf_appendf(&sb, "%s  %04u 006 003 %08x 00000000deadbeef 3-%u\n", i < 2 ? "hs" : "ss", i,
                                       devid[i], i + 1);
                else
                        strbuf_appendf(&sb, "%s  %04u 004 000 00000000 0000000000000000 0-0\n", i < 2 ? "hs" : "ss", i);
        }
        _cleanup_free_ char *p = path_join(tmpdir, "sys/devices/platform/vhci_hcd.0/status", NULL);
        assert_int_equal(write_file_atomic(p, sb.buf, sb.len, 0644), 0);
}

static bool vhci_used[4];
static uint32_t vhci_devid[4];
static unsigned n_detaches;

/* Acts out attach ("PORT FD DEVID SPEED") and detach ("PORT") like vhci_hcd. */
static void *vhci_thread(void *arg) {
        while (!stop_threads) {
                _cleanup_free_ char *a = readrel("sys/devices/platform/vhci_hcd.0/attach");
                _cleanup_free_ char *d = readrel("sys/devices/platform/vhci_hcd.0/detach");
                unsigned port, devid, speed;
                int fd;
                if (a && sscanf(a, "%u %d %u %u", &port, &fd, &devid, &speed) == 4 && port < 4) {
                        mkfile("sys/devices/platform/vhci_hcd.0/attach", "");
                        vhci_used[port] = true;
                        vhci_devid[port] = devid;
                        char dir[64], v[128];
                        snprintf(dir, sizeof dir, "sys/bus/usb/devices/3-%u/", port + 1);
                        for (size_t i = 0; i < 3; i++)
                                if (remotes[i].devnum == (devid & 0xffff)) {
                                        snprintf(v, sizeof v, "%sserial", dir);
                                        mkfile(v, remotes[i].serial);
                                }
                        snprintf(v, sizeof v, "%sidProduct", dir);
                        mkfile(v, "0001\n");
                        snprintf(v, sizeof v, "%sidVendor", dir);
                        mkfile(v, "46f4\n");
                        write_status(vhci_used, vhci_devid);
                }
                if (d && sscanf(d, "%u", &port) == 1 && port < 4) {
                        mkfile("sys/devices/platform/vhci_hcd.0/detach", "");
                        vhci_used[port] = false;
                        char cmd[512];
                        snprintf(cmd, sizeof cmd, "rm -rf '%s/sys/bus/usb/devices/3-%u'", tmpdir, port + 1);
                        assert_int_equal(system(cmd), 0);
                        write_status(vhci_used, vhci_devid);
                        n_detaches++;
                }
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        return NULL;
}

static void test_import_by_serial(void **state) {
        pthread_t t1, t2;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof sa;
        struct usb_source s = { .has_vendor = true, .has_product = true, .vendor = 0x46f4, .product = 1,
                                .remote_host = (char *) "127.0.0.1" };
        char *err = NULL;

        listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(listen_fd >= 0);
        assert_int_equal(bind(listen_fd, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(listen(listen_fd, 8), 0);
        assert_int_equal(getsockname(listen_fd, (struct sockaddr *) &sa, &sl), 0);
        listen_port = ntohs(sa.sin_port);
        s.remote_port = listen_port;
        mkfile("sys/devices/platform/vhci_hcd.0/attach", "");
        mkfile("sys/devices/platform/vhci_hcd.0/detach", "");
        write_status(vhci_used, vhci_devid);
        assert_int_equal(pthread_create(&t1, NULL, usbipd_thread, NULL), 0);
        assert_int_equal(pthread_create(&t2, NULL, vhci_thread, NULL), 0);

        /* devlist */
        struct usbip_devlist *l = NULL;
        assert_int_equal(usbip_remote_devlist("127.0.0.1", listen_port, &l, &err), 0);
        assert_int_equal(l->n_devs, 3);
        usbip_devlist_free(l);

        /* ids alone select three: refused, never guessed */
        assert_int_equal(usbip_import_source(&s, &err), -ENOTUNIQ);
        assert_non_null(strstr(err, "1-1"));
        assert_non_null(strstr(err, "1-3"));
        free(err);
        err = NULL;
        assert_int_equal(n_imports, 0);

        /* by serial: 1-1 is imported, is DONGLE-A, detached; 1-2 is DONGLE-B and stays */
        s.serial = (char *) "DONGLE-B";
        assert_int_equal(usbip_import_source(&s, &err), 1);
        assert_null(err);
        assert_int_equal(n_imports, 2);
        for (int i = 0; i < 200 && n_detaches < 1; i++) {
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        assert_int_equal(n_detaches, 1); /* the wrong one went back */
        /* DONGLE-B is on whichever port was free then (port 0 again when the detach was quick) */
        assert_true(vhci_used[0] != vhci_used[1]);
        unsigned port = vhci_used[0] ? 0 : 1;
        _cleanup_free_ char *rel = strdup_printf("state/usbip/port%u", port);
        _cleanup_free_ char *local = strdup_printf("3-%u", port + 1);
        _cleanup_free_ char *rec = readrel(rel);
        assert_non_null(rec);
        _cleanup_free_ char *want = strdup_printf("127.0.0.1 %u 1-2 %s\n", listen_port, local);
        assert_string_equal(rec, want);

        /* the local vhci device is known as that import */
        struct usbip_import im;
        assert_int_equal(usbip_import_find_local(local, &im), 0);
        assert_string_equal(im.busid, "1-2");
        assert_int_equal(im.tcp_port, listen_port);
        usbip_import_done(&im);
        assert_int_equal(usbip_import_find_local(port ? "3-1" : "3-2", &im), -ENOENT);

        /* the resolver's view: that local device stands for the remote <source>, nothing else does */
        {
                _cleanup_free_ char *sp = path_join(tmpdir, "sys/devices/platform/vhci_hcd.0/usb3", local, NULL);
                struct nodedev ld = { .name = (char *) "usb_3_x", .cap = NODEDEV_CAP_USB_DEVICE, .sysfs_path = sp };
                ld.u.usb.hcd_driver = (char *) "vhci_hcd";
                ld.u.usb.vendor_id = 0x46f4;
                ld.u.usb.product_id = 1;
                ld.u.usb.serial = (char *) "DONGLE-B";
                assert_true(usbip_device_is_import(&ld, NULL, 0));
                assert_true(usbip_device_is_import(&ld, "127.0.0.1", listen_port));
                assert_false(usbip_device_is_import(&ld, "127.0.0.2", listen_port));
                assert_true(usbip_import_matches(&s, &ld));
                struct usb_source other = s;
                other.remote_host = (char *) "192.0.2.99";
                assert_false(usbip_import_matches(&other, &ld)); /* another dongle host */
                other = s;
                other.serial = (char *) "DONGLE-A";
                assert_false(usbip_import_matches(&other, &ld));
                other = s;
                other.has_bus = true;
                other.bus = 1;
                other.port = (char *) "2";
                assert_true(usbip_import_matches(&other, &ld)); /* port path = the remote bus id */
                other.port = (char *) "1";
                assert_false(usbip_import_matches(&other, &ld));
                _cleanup_free_ char *desc = usbip_describe_device(&ld, NULL);
                _cleanup_free_ char *wd = strdup_printf("imported from 127.0.0.1:%u bus id 1-2", listen_port);
                assert_string_equal(desc, wd);
                ld.u.usb.hcd_driver = (char *) "xhci_hcd"; /* a local dongle with the same serial */
                assert_false(usbip_import_matches(&s, &ld));
                assert_false(usbip_device_is_import(&ld, NULL, 0));
                assert_null(usbip_describe_device(&ld, NULL));
        }

        /* again: the existing import is kept, nothing new imported */
        assert_int_equal(usbip_import_source(&s, &err), 0);
        assert_int_equal(n_imports, 2);

        /* DONGLE-C is held by another importer: refused with usbipd's reason */
        s.serial = (char *) "DONGLE-C";
        assert_int_equal(usbip_import_source(&s, &err), -EBUSY);
        assert_non_null(strstr(err, "in use by another importer"));
        assert_non_null(strstr(err, "1-3: device busy"));
        free(err);
        err = NULL;

        /* no such serial */
        s.serial = (char *) "DONGLE-Z";
        s.has_bus = true;
        s.bus = 1;
        s.port = (char *) "1";
        assert_int_equal(usbip_import_source(&s, &err), -ENODEV);
        free(err);
        err = NULL;

        /* release of a claim on another device: nothing happens */
        struct claim cl = { .type = HOSTDEV_TYPE_USB };
        cl.usb.port = (char *) "1-4";
        cl.usb.serial = (char *) "DONGLE-B";
        assert_int_equal(usbip_release_claim(&cl, &err), 0);
        assert_true(vhci_used[port]);
        /* release of the claim (its port + serial as at claim time): detached, record gone */
        cl.usb.port = local;
        assert_int_equal(usbip_release_claim(&cl, &err), 0);
        for (int i = 0; i < 200 && vhci_used[port]; i++) {
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        assert_false(vhci_used[port]);
        _cleanup_free_ char *gone = readrel(rel);
        assert_null(gone);

        /* nobody listening: a clear error, no hang */
        assert_int_equal(usbip_remote_devlist("127.0.0.1", 1, &l, &err), -ECONNREFUSED);
        assert_non_null(strstr(err, "cannot connect to usbipd on 127.0.0.1 port 1"));
        free(err);

        stop_threads = true;
        shutdown(listen_fd, SHUT_RDWR);
        close(listen_fd);
        pthread_join(t2, NULL);
        pthread_join(t1, NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_encode),
                cmocka_unit_test(test_busid),
                cmocka_unit_test(test_devlist),
                cmocka_unit_test(test_devlist_malformed),
                cmocka_unit_test(test_import_reply),
                cmocka_unit_test(test_vhci_status),
                cmocka_unit_test_setup_teardown(test_export_writes, setup_tree, teardown_tree),
                cmocka_unit_test_setup_teardown(test_import_by_serial, setup_tree, teardown_tree),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The re-attach loop: uevent parsing, claim matching, and the whole loop against scripted
 * fake QMP servers (tests/unit/qmp-fake.h) on real unix sockets, with a copy of the mini
 * sysfs fixture (tests/data/sys/mini: dongles DONGLE-A at 1-1 dev 2, DONGLE-B at 1-2 dev 3,
 * DONGLE-C at 1-3.1 dev 5, DONGLE-D at 1-3.2 dev 6 bound to usbip-host). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include "inventory.h"
#include "qmp-fake.h"
#include "registry.h"
#include "uevent.h"
#include "util.h"
#include "watch.h"

#define USB1 "/devices/pci0000:00/0000:00:04.0/usb1"
#define GREETING "send {\"QMP\":{\"version\":{\"qemu\":{\"micro\":0,\"minor\":2,\"major\":7},\"package\":\"\"},\"capabilities\":[]}}"
#define HANDSHAKE GREETING, "expect qmp_capabilities", "reply {\"return\":{}}"

static char *tmpdir;   /* per test run */
static char *sysroot;  /* tmpdir/sys: copy of the mini fixture */
static char *logbuf;   /* everything the loop logged */

static void log_cb(void *userdata, enum watch_log_level level, const char *line) {
        char *n = strdup_printf("%s%s\n", logbuf ? logbuf : "", line);
        free(logbuf);
        logbuf = n;
}

static int setup(void **state) {
        char t[] = "/tmp/test-watch-XXXXXX";
        const char *data = getenv("HOSTDEV_TEST_DATA");
        if (!data || !mkdtemp(t))
                return -1;
        tmpdir = strdup(t);
        sysroot = path_join(tmpdir, "sys", NULL);
        _cleanup_free_ char *cmd = strdup_printf("cp -a '%s/sys/mini' '%s'", data, sysroot);
        if (system(cmd) != 0)
                return -1;
        setenv("HOSTDEV_SYSFS_ROOT", sysroot, 1);
        _cleanup_free_ char *st = path_join(tmpdir, "state", NULL);
        setenv("HOSTDEV_STATE_DIR", st, 1);
        return 0;
}

static int teardown(void **state) {
        _cleanup_free_ char *cmd = strdup_printf("rm -rf '%s'", tmpdir);
        (void) !system(cmd);
        free(tmpdir);
        free(sysroot);
        free(logbuf);
        logbuf = NULL;
        return 0;
}

/* Write a sysfs attribute of the fixture copy (simulating what the kernel shows after a replug). */
static void set_attr(const char *dev, const char *attr, const char *value) {
        _cleanup_free_ char *p = path_join(sysroot, "devices/pci0000:00/0000:00:04.0/usb1", dev, attr, NULL);
        assert_int_equal(write_string_file(p, value), 0);
}

/* Which files of a fixture device's directory get opened from now on (inotify IN_OPEN): what
 * the loop reads of the device. opens_list() gives their names in order, comma-separated. */
static int opens_watch(const char *dev) {
        _cleanup_free_ char *p = path_join(sysroot, "devices/pci0000:00/0000:00:04.0/usb1", dev, NULL);
        int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        assert_true(fd >= 0);
        assert_true(inotify_add_watch(fd, p, IN_OPEN) >= 0);
        return fd;
}

static void opens_list(int fd, char *out, size_t size) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n;

        out[0] = 0;
        while ((n = read(fd, buf, sizeof buf)) > 0)
                for (char *p = buf; p < buf + n; p += sizeof(struct inotify_event) + ((struct inotify_event *) p)->len) {
                        const struct inotify_event *e = (const struct inotify_event *) p;
                        size_t l = strlen(out);
                        (void) snprintf(out + l, size - l, "%s%s", l ? "," : "", e->len ? e->name : ".");
                }
        assert_int_equal(errno, EAGAIN);
        safe_close(fd);
}

/* A kernel-style uevent. with_type: TYPE= as the kernel sends it, so the loop takes the ids from
 * the uevent and reads only the serial and links; without it, the loop reads the device in full.
 * driver: DRIVER= (a "bind" names the driver bound), or NULL. */
static struct usb_uevent *mkev_driver(const char *action, const char *devpath_tail, unsigned devnum, bool with_type,
                                      const char *driver) {
        struct usb_uevent *ev = NULL;
        char buf[1024];
        int n = snprintf(buf, sizeof buf,
                         "%s@" USB1 "/%s|ACTION=%s|DEVPATH=" USB1 "/%s|SUBSYSTEM=usb|DEVTYPE=usb_device|"
                         "BUSNUM=1|DEVNUM=%u|PRODUCT=46f4/1/100%s%s%s",
                         action, devpath_tail, action, devpath_tail, devnum, with_type ? "|TYPE=0/0/0" : "",
                         driver ? "|DRIVER=" : "", strempty(driver));
        assert_true(n > 0 && (size_t) n < sizeof buf);
        for (int i = 0; i < n; i++)
                if (buf[i] == '|')
                        buf[i] = 0;
        assert_int_equal(usb_uevent_parse(buf, (size_t) n, &ev), 0);
        return ev;
}

static struct usb_uevent *mkev_type(const char *action, const char *devpath_tail, unsigned devnum, bool with_type) {
        return mkev_driver(action, devpath_tail, devnum, with_type, NULL);
}

static struct usb_uevent *mkev(const char *action, const char *devpath_tail, unsigned devnum) {
        return mkev_type(action, devpath_tail, devnum, true);
}

static void inject(struct watch *w, const char *action, const char *sysname, unsigned devnum) {
        _cleanup_(usb_uevent_freep) struct usb_uevent *ev = mkev(action, sysname, devnum);
        assert_int_equal(watch_inject_uevent(w, ev), 0);
}

/* the same without TYPE= (an injected or older event): the loop reads the device in full */
static void inject_full_read(struct watch *w, const char *action, const char *sysname, unsigned devnum) {
        _cleanup_(usb_uevent_freep) struct usb_uevent *ev = mkev_type(action, sysname, devnum, false);
        assert_null(ev->devname);
        assert_false(ev->has_type);
        assert_int_equal(watch_inject_uevent(w, ev), 0);
}

/* Run the loop until pred() or timeout. */
typedef bool (*pred_t)(struct watch *w, void *userdata);
static bool pump_until(struct watch *w, pred_t pred, void *userdata, unsigned timeout_ms) {
        uint64_t end = now_usec() + (uint64_t) timeout_ms * 1000;
        for (;;) {
                assert_int_equal(watch_process(w), 0);
                if (pred && pred(w, userdata))
                        return true;
                uint64_t now = now_usec();
                if (now >= end)
                        return false;
                int t = watch_get_timeout_ms(w);
                int left = (int) ((end - now) / 1000) + 1;
                if (t < 0 || t > left)
                        t = left;
                if (t > 20)
                        t = 20;
                struct pollfd p = { .fd = watch_get_fd(w), .events = POLLIN };
                (void) poll(&p, 1, t);
        }
}

struct want {
        const char *domain, *id, *state;
        unsigned devnum;
};
static bool claim_is(struct watch *w, void *userdata) {
        const struct want *x = userdata;
        unsigned bus = 0, devnum = 0;
        const char *s = watch_claim_state(w, x->domain, x->id, &bus, &devnum);
        return s && streq(s, x->state) && (x->devnum == 0 || devnum == x->devnum);
}
static void wait_claim(struct watch *w, const char *domain, const char *id, const char *state, unsigned devnum) {
        struct want x = { domain, id, state, devnum };
        if (!pump_until(w, claim_is, &x, 5000)) {
                unsigned b = 0, d = 0;
                const char *s = watch_claim_state(w, domain, id, &b, &d);
                fail_msg("%s/%s: want %s dev %u, is %s dev %u; log:\n%s", domain, id, state, devnum, strna(s), d,
                         strna(logbuf));
        }
}

/* A listening QMP socket; after the loop connects, accept and play script on it. */
struct fake_vm {
        char *path;
        int lfd;
        struct qmp_fake f;
        bool started;
};

static void fake_vm_listen(struct fake_vm *v, const char *name) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        v->path = strdup_printf("%s/%s.qmp", tmpdir, name);
        strcpy(sa.sun_path, v->path);
        v->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(v->lfd >= 0);
        assert_int_equal(bind(v->lfd, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(listen(v->lfd, 4), 0);
}

static bool acceptable(struct watch *w, void *userdata) {
        struct fake_vm *v = userdata;
        struct pollfd p = { .fd = v->lfd, .events = POLLIN };
        return poll(&p, 1, 0) > 0;
}

static void fake_vm_accept(struct watch *w, struct fake_vm *v, const char *const *script) {
        char **lines = NULL;
        assert_true(pump_until(w, acceptable, v, 5000));
        int fd = accept4(v->lfd, NULL, NULL, SOCK_CLOEXEC);
        assert_true(fd >= 0);
        for (const char *const *l = script; *l; l++)
                assert_int_equal(strv_extend(&lines, *l), 0);
        memset(&v->f, 0, sizeof v->f);
        v->f.fd = fd;
        v->f.lines = lines;
        assert_int_equal(pthread_create(&v->f.thread, NULL, fake_run, &v->f), 0);
        v->started = true;
}

static void fake_vm_finish(struct fake_vm *v) {
        if (v->started) {
                _cleanup_free_ char *err = qmp_fake_finish(&v->f);
                if (err)
                        fail_msg("fake QMP %s: %s; log:\n%s", v->path, err, strna(logbuf));
        }
        safe_close(v->lfd);
        unlink(v->path);
        free(v->path);
}

static struct watch *new_watch(void) {
        struct watch *w = NULL;
        _cleanup_free_ char *err = NULL;
        struct watch_options o = {
                .no_udev = true, .no_registry = true, .reconcile_ms = 600000, .log = log_cb,
        };
        assert_int_equal(watch_new(&w, &o, &err), 0);
        return w;
}

static void add_claim(struct watch *w, const char *domain, const char *id, const char *serial,
                      const char *port, unsigned select) {
        struct watch_claim c = {
                .domain = (char *) domain, .qdev_id = (char *) id, .vendor = 0x46f4, .product = 0x0001,
                .serial = (char *) serial, .port = (char *) port, .select = select,
        };
        _cleanup_free_ char *err = NULL;
        assert_int_equal(watch_add_claim(w, &c, &err), 0);
}

/* A VM that claims a dongle by serial starts: its QMP socket, the claim, the domain; the loop
 * connects, plays script, and the claim gets to state. */
static void start_serial_vm(struct watch *w, struct fake_vm *vm, const char *name, const char *serial,
                            const char *const *script, const char *state, unsigned devnum) {
        fake_vm_listen(vm, name);
        add_claim(w, name, "hostdev0", serial, NULL, USB_SELECT_IDS | USB_SELECT_SERIAL);
        assert_int_equal(watch_add_domain(w, name, vm->path, NULL), 0);
        fake_vm_accept(w, vm, script);
        wait_claim(w, name, "hostdev0", state, devnum);
}

/* ---- parsing ------------------------------------------------------------------------------ */
static void test_uevent_parse(void **state) {
        static const char buf[] = "add@" USB1 "/1-4.1\0ACTION=add\0DEVPATH=" USB1 "/1-4.1\0SUBSYSTEM=usb\0"
                                  "DEVNAME=bus/usb/001/017\0DEVTYPE=usb_device\0PRODUCT=46f4/1/100\0"
                                  "TYPE=0/0/0\0BUSNUM=001\0DEVNUM=017\0SEQNUM=2345\0";
        _cleanup_(usb_uevent_freep) struct usb_uevent *ev = NULL;
        assert_int_equal(usb_uevent_parse(buf, sizeof buf - 1, &ev), 0);
        assert_int_equal(ev->action, UEVENT_ADD);
        assert_string_equal(ev->sysname, "1-4.1");
        assert_string_equal(ev->devname, "bus/usb/001/017");
        assert_int_equal(ev->bus, 1);
        assert_int_equal(ev->devnum, 17);
        assert_true(ev->has_ids);
        assert_int_equal(ev->vendor, 0x46f4);
        assert_int_equal(ev->product, 0x0001);
        assert_int_equal(ev->seqnum, 2345);
        assert_true(ev->has_type);
        assert_int_equal(ev->dev_class, 0);
        assert_true(usb_uevent_is_usb_device(ev));
        _cleanup_free_ char *node = usb_node_name_from_sysname(ev->sysname);
        assert_string_equal(node, "usb_1_4_1");

        /* interfaces, root hubs, other subsystems are not ours */
        static const char iface[] = "ACTION=add\0DEVPATH=" USB1 "/1-4.1/1-4.1:1.0\0SUBSYSTEM=usb\0DEVTYPE=usb_interface";
        _cleanup_(usb_uevent_freep) struct usb_uevent *e2 = NULL;
        assert_int_equal(usb_uevent_parse(iface, sizeof iface - 1, &e2), 0);
        assert_false(usb_uevent_is_usb_device(e2));
        static const char hub[] = "ACTION=add\0DEVPATH=" USB1 "\0SUBSYSTEM=usb\0DEVTYPE=usb_device";
        _cleanup_(usb_uevent_freep) struct usb_uevent *e3 = NULL;
        assert_int_equal(usb_uevent_parse(hub, sizeof hub - 1, &e3), 0);
        assert_false(usb_uevent_is_usb_device(e3));
        /* a bind names its driver (the loop's device list takes it from there) */
        static const char bind[] = "ACTION=bind\0DEVPATH=" USB1 "/1-4.1\0SUBSYSTEM=usb\0DEVTYPE=usb_device\0DRIVER=usbip-host";
        _cleanup_(usb_uevent_freep) struct usb_uevent *e4 = NULL;
        assert_int_equal(usb_uevent_parse(bind, sizeof bind - 1, &e4), 0);
        assert_int_equal(e4->action, UEVENT_BIND);
        assert_string_equal(e4->driver, "usbip-host");
        assert_true(usb_uevent_is_usb_device(e4));
        assert_null(ev->driver);

        /* malformed: no ACTION, bad numbers, no '=', relative path, truncated in the middle */
        struct usb_uevent *bad = NULL;
        static const char b1[] = "DEVPATH=/devices/x\0SUBSYSTEM=usb";
        assert_int_equal(usb_uevent_parse(b1, sizeof b1 - 1, &bad), -EINVAL);
        static const char b2[] = "ACTION=add\0DEVPATH=/devices/x\0DEVNUM=300";
        assert_int_equal(usb_uevent_parse(b2, sizeof b2 - 1, &bad), -EINVAL);
        static const char b3[] = "ACTION=add\0DEVPATH=/devices/x\0garbage";
        assert_int_equal(usb_uevent_parse(b3, sizeof b3 - 1, &bad), -EINVAL);
        static const char b4[] = "ACTION=add\0DEVPATH=devices/x";
        assert_int_equal(usb_uevent_parse(b4, sizeof b4 - 1, &bad), -EINVAL);
        static const char b5[] = "ACTION=add\0DEVPATH=/devices/x\0PRODUCT=46f4";
        assert_int_equal(usb_uevent_parse(b5, sizeof b5 - 1, &bad), -EINVAL);
        static const char bt1[] = "ACTION=add\0DEVPATH=/devices/x\0TYPE=9/0";
        assert_int_equal(usb_uevent_parse(bt1, sizeof bt1 - 1, &bad), -EINVAL);
        static const char bt2[] = "ACTION=add\0DEVPATH=/devices/x\0TYPE=9/0/256";
        assert_int_equal(usb_uevent_parse(bt2, sizeof bt2 - 1, &bad), -EINVAL);
        static const char hubtype[] = "ACTION=add\0DEVPATH=/devices/x\0TYPE=9/0/1";
        _cleanup_(usb_uevent_freep) struct usb_uevent *e5 = NULL;
        assert_int_equal(usb_uevent_parse(hubtype, sizeof hubtype - 1, &e5), 0);
        assert_int_equal(e5->dev_class, 9);
        assert_int_equal(e5->dev_protocol, 1);
        assert_int_equal(usb_uevent_parse(buf, 12, &bad), -EINVAL);
        assert_null(bad);
        /* not NUL-terminated at the end: still bounded by len */
        static const char b6[] = "ACTION=remove\0DEVPATH=/devices/y/1-2";
        _cleanup_(usb_uevent_freep) struct usb_uevent *e6 = NULL;
        assert_int_equal(usb_uevent_parse(b6, sizeof b6 - 1, &e6), 0);
        assert_int_equal(e6->action, UEVENT_REMOVE);
        assert_string_equal(e6->sysname, "1-2");
}

/* ---- matching ----------------------------------------------------------------------------- */
static struct nodedev mkdev(unsigned bus, unsigned devnum, const char *port, const char *peer, const char *serial) {
        struct nodedev d = { .cap = NODEDEV_CAP_USB_DEVICE };
        d.u.usb.bus = bus;
        d.u.usb.devnum = devnum;
        d.u.usb.port = (char *) port;
        d.u.usb.peer_port = (char *) peer;
        d.u.usb.serial = (char *) serial;
        d.u.usb.vendor_id = 0x46f4;
        d.u.usb.product_id = 0x0001;
        return d;
}

static void test_claim_matches(void **state) {
        struct watch_claim by_serial = { .vendor = 0x46f4, .product = 1, .serial = "DONGLE-H", .port = "1-4",
                                         .select = USB_SELECT_IDS | USB_SELECT_SERIAL };
        struct watch_claim by_port = { .vendor = 0x46f4, .product = 1, .port = "2-4", .select = USB_SELECT_PORT };
        struct nodedev h_on_4 = mkdev(1, 9, "4", "2-4", "DONGLE-H");
        struct nodedev h_on_3 = mkdev(1, 10, "3", "2-3", "DONGLE-H");
        struct nodedev x_on_4 = mkdev(1, 11, "4", "2-4", "DONGLE-X");

        /* by serial: from any port, never another serial */
        assert_true(watch_claim_matches(&by_serial, &h_on_4));
        assert_true(watch_claim_matches(&by_serial, &h_on_3));
        assert_false(watch_claim_matches(&by_serial, &x_on_4));
        /* by port: the USB2 name of the claimed USB3 port, and the port itself */
        assert_true(watch_claim_matches(&by_port, &x_on_4));
        struct nodedev on_2_4 = mkdev(2, 3, "4", "1-4", NULL);
        assert_true(watch_claim_matches(&by_port, &on_2_4));
        assert_false(watch_claim_matches(&by_port, &h_on_3));
        /* other ids, usbip-exported, hubs: never */
        struct nodedev other = mkdev(1, 9, "4", "2-4", "DONGLE-H");
        other.u.usb.product_id = 2;
        assert_false(watch_claim_matches(&by_serial, &other));
        struct nodedev exported = mkdev(1, 9, "4", "2-4", "DONGLE-H");
        exported.u.usb.usbip_exported = true;
        assert_false(watch_claim_matches(&by_serial, &exported));
        struct nodedev hub = mkdev(1, 9, "4", "2-4", "DONGLE-H");
        hub.u.usb.is_hub = true;
        assert_false(watch_claim_matches(&by_serial, &hub));
        struct nodedev pci = { .cap = NODEDEV_CAP_PCI };
        assert_false(watch_claim_matches(&by_serial, &pci));
        /* ids only, recorded serial: that serial */
        struct watch_claim ids = { .vendor = 0x46f4, .product = 1, .serial = "DONGLE-H", .select = USB_SELECT_IDS };
        assert_true(watch_claim_matches(&ids, &h_on_3));
        assert_false(watch_claim_matches(&ids, &x_on_4));
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* A dongle on a running VM: attached at start (reconcile), then a quick replug where the add
 * arrives before DEVICE_DELETED: the add waits for the old qdev id, then goes in. */
static void test_quick_replug(void **state) {
        _cleanup_(watch_freep) struct watch *w = new_watch();
        struct fake_vm vm = { 0 };
        static const char *const script[] = {
                HANDSHAKE,
                "expect qom-list {\"path\":\"/machine/peripheral\"}",
                "reply {\"return\":[{\"name\":\"type\",\"type\":\"string\"}]}",
                /* reconcile: DONGLE-B is on the host (1-2, dev 3) but not in the VM */
                "expect device_add {\"driver\":\"usb-host\",\"id\":\"hostdev0\",\"hostdevice\":\"/dev/bus/usb/001/003\","
                "\"bus\":\"usb.0\",\"port\":\"3\",\"bootindex\":2}",
                "reply {\"return\":{}}",
                /* the test unplugs it */
                "expect device_del {\"id\":\"hostdev0\"}",
                "reply {\"return\":{}}",
                "sleep 300",
                "send {\"event\":\"DEVICE_DELETED\",\"data\":{\"device\":\"hostdev0\",\"path\":\"/machine/peripheral/hostdev0\"},\"timestamp\":{\"seconds\":1,\"microseconds\":2}}",
                /* in the guest where it was (port 3 of usb.0), with its bootindex */
                "expect device_add {\"driver\":\"usb-host\",\"id\":\"hostdev0\",\"hostdevice\":\"/dev/bus/usb/001/009\","
                "\"bus\":\"usb.0\",\"port\":\"3\",\"bootindex\":2}",
                "reply {\"return\":{}}",
                "eof",
                NULL,
        };
        struct watch_stats st;

        fake_vm_listen(&vm, "vm-b");
        struct watch_claim c = {
                .domain = (char *) "vm-b", .qdev_id = (char *) "hostdev0", .vendor = 0x46f4, .product = 0x0001,
                .serial = (char *) "DONGLE-B", .port = (char *) "1-2", .select = USB_SELECT_IDS | USB_SELECT_SERIAL,
                .qemu_props = (char *) "{\"bootindex\":2,\"bus\":\"usb.0\",\"port\":\"3\",\"id\":\"not-this\"}",
        };
        assert_int_equal(watch_add_claim(w, &c, NULL), 0);
        assert_int_equal(watch_add_domain(w, "vm-b", vm.path, NULL), 0);
        fake_vm_accept(w, &vm, script);
        wait_claim(w, "vm-b", "hostdev0", "present", 3);
        assert_non_null(strstr(logbuf, "attached usb_1_2 (46f4:0001 serial DONGLE-B) to vm-b"));

        /* replug: remove (dev 3) and add (dev 9) back to back */
        inject(w, "remove", "1-2", 3);
        wait_claim(w, "vm-b", "hostdev0", "deleting", 0);
        set_attr("1-2", "devnum", "9");
        int opens = opens_watch("1-2");
        inject(w, "add", "1-2", 9);
        assert_true(watch_claim_queued(w, "vm-b", "hostdev0"));
        /* what the loop read of the device at its "add": the serial only (the ids, bus and
         * devnum come from the uevent) */
        char opened[256];
        opens_list(opens, opened, sizeof opened);
        assert_string_equal(opened, "serial");
        opens = opens_watch("1-2"); /* (inotify merges a repeated event it still holds) */
        /* the old qdev is still there: no device_add until DEVICE_DELETED */
        assert_false(pump_until(w, claim_is, &(struct want){ "vm-b", "hostdev0", "adding", 0 }, 150));
        watch_get_stats(w, &st);
        assert_int_equal(st.adds_sent, 1);
        assert_int_equal(st.queued_adds, 1);
        wait_claim(w, "vm-b", "hostdev0", "present", 9);
        assert_non_null(strstr(logbuf, "re-attached usb_1_2 (46f4:0001 serial DONGLE-B) to vm-b in "));
        /* and nothing after: not after device_add, while QEMU opens the node (a read of a
         * string attribute takes the device's lock, which QEMU's open() waits for) */
        opens_list(opens, opened, sizeof opened);
        assert_string_equal(opened, "");
        watch_get_stats(w, &st);
        assert_int_equal(st.adds_sent, 2);
        assert_int_equal(st.adds_ok, 2);
        assert_int_equal(st.dels_sent, 1);
        assert_int_equal(st.deleted_events, 1);
        w = watch_free(w);
        fake_vm_finish(&vm);
}

/* Two VMs with one dongle each. At start vm-b's QEMU holds a stale host address (reconcile
 * replaces it). Then DONGLE-B moves to another port (1-3.1): it goes back to vm-b only. */
static void test_two_vms_other_port(void **state) {
        _cleanup_(watch_freep) struct watch *w = new_watch();
        struct fake_vm a = { 0 }, b = { 0 };
        static const char *const script_a[] = {
                HANDSHAKE,
                "expect qom-list {\"path\":\"/machine/peripheral\"}",
                "reply {\"return\":[{\"name\":\"hostdev0\",\"type\":\"child<usb-host>\"}]}",
                "expect qom-get {\"path\":\"/machine/peripheral/hostdev0\",\"property\":\"hostbus\"}",
                "reply {\"return\":1}",
                "expect qom-get {\"path\":\"/machine/peripheral/hostdev0\",\"property\":\"hostaddr\"}",
                "reply {\"return\":2}",
                "expect qom-get {\"path\":\"/machine/peripheral/hostdev0\",\"property\":\"hostdevice\"}",
                "reply {\"return\":\"\"}",
                "eof",
                NULL,
        };
        static const char *const script_b[] = {
                HANDSHAKE,
                "expect qom-list {\"path\":\"/machine/peripheral\"}",
                "reply {\"return\":[{\"name\":\"ua-key\",\"type\":\"child<usb-host>\"}]}",
                "expect qom-get {\"path\":\"/machine/peripheral/ua-key\",\"property\":\"hostbus\"}",
                "reply {\"return\":1}",
                "expect qom-get {\"path\":\"/machine/peripheral/ua-key\",\"property\":\"hostaddr\"}",
                "reply {\"return\":7}",
                "expect qom-get {\"path\":\"/machine/peripheral/ua-key\",\"property\":\"hostdevice\"}",
                "reply {\"return\":\"\"}",
                /* 1:7 is stale: DONGLE-B is 1:3 now */
                "expect device_del {\"id\":\"ua-key\"}",
                "reply {\"return\":{}}",
                "send {\"event\":\"DEVICE_DELETED\",\"data\":{\"device\":\"ua-key\",\"path\":\"/machine/peripheral/ua-key\"},\"timestamp\":{\"seconds\":1,\"microseconds\":2}}",
                "expect device_add {\"driver\":\"usb-host\",\"id\":\"ua-key\",\"hostdevice\":\"/dev/bus/usb/001/003\"}",
                "reply {\"return\":{}}",
                /* unplugged from 1-2 */
                "expect device_del {\"id\":\"ua-key\"}",
                "reply {\"return\":{}}",
                "send {\"event\":\"DEVICE_DELETED\",\"data\":{\"device\":\"ua-key\",\"path\":\"/machine/peripheral/ua-key\"},\"timestamp\":{\"seconds\":2,\"microseconds\":2}}",
                /* plugged into 1-3.1 */
                "expect device_add {\"driver\":\"usb-host\",\"id\":\"ua-key\",\"hostdevice\":\"/dev/bus/usb/001/011\"}",
                "reply {\"return\":{}}",
                "eof",
                NULL,
        };
        struct watch_stats st;
        unsigned bus, devnum;

        fake_vm_listen(&a, "vm-a");
        fake_vm_listen(&b, "vm-b");
        add_claim(w, "vm-a", "hostdev0", "DONGLE-A", "1-1", USB_SELECT_IDS | USB_SELECT_SERIAL);
        add_claim(w, "vm-b", "ua-key", "DONGLE-B", "1-2", USB_SELECT_IDS | USB_SELECT_SERIAL);
        assert_int_equal(watch_add_domain(w, "vm-a", a.path, NULL), 0);
        assert_int_equal(watch_add_domain(w, "vm-b", b.path, NULL), 0);
        fake_vm_accept(w, &a, script_a);
        fake_vm_accept(w, &b, script_b);
        wait_claim(w, "vm-a", "hostdev0", "present", 2);
        wait_claim(w, "vm-b", "ua-key", "present", 3);

        /* DONGLE-B leaves 1-2 ... */
        inject(w, "remove", "1-2", 3);
        wait_claim(w, "vm-b", "ua-key", "absent", 0);
        /* ... and shows up on 1-3.1 (where DONGLE-C was) with a new device number */
        set_attr("1-3/1-3.1", "serial", "DONGLE-B");
        set_attr("1-3/1-3.1", "devnum", "11");
        inject_full_read(w, "add", "1-3/1-3.1", 11);
        wait_claim(w, "vm-b", "ua-key", "present", 11);
        /* vm-a kept its own dongle and got no command */
        assert_string_equal(watch_claim_state(w, "vm-a", "hostdev0", &bus, &devnum), "present");
        assert_int_equal(devnum, 2);
        watch_get_stats(w, &st);
        assert_int_equal(st.adds_sent, 2);
        assert_int_equal(st.dels_sent, 2);
        assert_int_equal(a.f.n_commands, 5);
        /* a repeated add of what vm-a already holds changes nothing */
        inject(w, "add", "1-1", 2); /* vm-a already holds 1:2: nothing to do */
        assert_false(pump_until(w, NULL, NULL, 100));
        watch_get_stats(w, &st);
        assert_int_equal(st.adds_sent, 2);

        /* a third identical dongle while both VMs hold theirs: no claim could take it, so its
         * serial is not read. (The kernel holds a new device's lock through the host driver's
         * probe, and a serial read waits for it: here the serial is a FIFO, whose open() would
         * block the loop for good; SIGALRM ends the test if it does.) */
        _cleanup_free_ char *serial = path_join(sysroot, "devices/pci0000:00/0000:00:04.0/usb1/1-2/serial", NULL);
        assert_int_equal(unlink(serial), 0);
        assert_int_equal(mkfifo(serial, 0644), 0);
        set_attr("1-2", "devnum", "12");
        alarm(10);
        inject(w, "add", "1-2", 12);
        assert_false(pump_until(w, NULL, NULL, 100));
        alarm(0);
        assert_non_null(strstr(logbuf, "usb_1_2 (46f4:0001, serial not read: no claim could take it)"));
        /* the probe is over: its serial is DONGLE-X. A VM that claims DONGLE-X starts: its
         * reconcile takes the device list kept since, and reads the serial left unread */
        assert_int_equal(unlink(serial), 0);
        FILE *f = fopen(serial, "we");
        assert_non_null(f);
        assert_true(fputs("DONGLE-X\n", f) >= 0);
        assert_int_equal(fclose(f), 0);
        static const char *const script_c[] = {
                HANDSHAKE,
                "expect qom-list {\"path\":\"/machine/peripheral\"}",
                "reply {\"return\":[]}",
                "expect device_add {\"driver\":\"usb-host\",\"id\":\"hostdev0\",\"hostdevice\":\"/dev/bus/usb/001/012\"}",
                "reply {\"return\":{}}",
                "eof",
                NULL,
        };
        struct fake_vm c = { 0 };
        start_serial_vm(w, &c, "vm-c", "DONGLE-X", script_c, "present", 12);
        /* its "bind" changes nothing */
        inject(w, "bind", "1-2", 12);
        assert_false(pump_until(w, NULL, NULL, 100));
        watch_get_stats(w, &st);
        assert_int_equal(st.adds_sent, 3);
        assert_int_equal(a.f.n_commands, 5);
        w = watch_free(w);
        fake_vm_finish(&a);
        fake_vm_finish(&b);
        fake_vm_finish(&c);
}

/* A dongle whose VM is not running stays untouched; identical claims of two VMs (ids only)
 * never pick one by themselves. */
static void test_vm_off_and_ambiguous(void **state) {
        _cleanup_(watch_freep) struct watch *w = new_watch();
        _cleanup_free_ char *nosock = strdup_printf("%s/none.qmp", tmpdir);
        struct watch_stats st;

        /* vm-c has a claim but is not running (no domain) */
        add_claim(w, "vm-c", "hostdev0", "DONGLE-C", "1-3.1", USB_SELECT_IDS | USB_SELECT_SERIAL);
        inject(w, "add", "1-3/1-3.1", 5);
        assert_false(watch_claim_queued(w, "vm-c", "hostdev0"));
        assert_string_equal(watch_claim_state(w, "vm-c", "hostdev0", NULL, NULL), "unknown");

        /* vm-x and vm-y both claimed "a 46f4:0001" with nothing else recorded */
        add_claim(w, "vm-x", "hostdev0", NULL, NULL, USB_SELECT_IDS);
        add_claim(w, "vm-y", "hostdev0", NULL, NULL, USB_SELECT_IDS);
        assert_int_equal(watch_add_domain(w, "vm-x", nosock, NULL), 0);
        assert_int_equal(watch_add_domain(w, "vm-y", nosock, NULL), 0);
        inject(w, "add", "1-1", 2);
        assert_false(watch_claim_queued(w, "vm-x", "hostdev0"));
        assert_false(watch_claim_queued(w, "vm-y", "hostdev0"));
        assert_non_null(strstr(logbuf, "matches claims of several domains"));

        /* a usbip-exported dongle is never taken, even when its serial is claimed */
        add_claim(w, "vm-x", "hostdev1", "DONGLE-D", NULL, USB_SELECT_IDS | USB_SELECT_SERIAL);
        inject(w, "add", "1-3/1-3.2", 6);
        assert_false(watch_claim_queued(w, "vm-x", "hostdev1"));

        /* a serial claim of a VM whose QMP is not reachable yet: queued until it connects */
        add_claim(w, "vm-x", "hostdev2", "DONGLE-B", NULL, USB_SELECT_IDS | USB_SELECT_SERIAL);
        inject(w, "add", "1-2", 3);
        assert_true(watch_claim_queued(w, "vm-x", "hostdev2"));
        /* and dropped again if it goes away before that */
        inject(w, "remove", "1-2", 3);
        assert_false(watch_claim_queued(w, "vm-x", "hostdev2"));
        watch_get_stats(w, &st);
        assert_int_equal(st.adds_sent, 0);
        assert_int_equal(watch_n_connected(w), 0);
}

/* A "bind" changes only the device's driver in the device list the loop keeps, and takes it
 * from the uevent's DRIVER= (its driver link is not read). A dongle bound to usbip-host
 * (exported to another host) is never taken, even by a claim of its serial: here that of a VM
 * that starts after the bind, whose reconcile takes that list. The fixture's driver link stays
 * "usb": what decides is the uevent. */
static void test_bind_driver(void **state) {
        _cleanup_(watch_freep) struct watch *w = new_watch();
        static const char *const script[] = {
                HANDSHAKE,
                "expect qom-list {\"path\":\"/machine/peripheral\"}",
                "reply {\"return\":[]}",
                "eof",
                NULL,
        };
        struct fake_vm vm = { 0 }, first = { 0 };
        struct watch_stats st;

        /* a first VM, whose dongle is not there: its reconcile makes the loop list the devices */
        start_serial_vm(w, &first, "vm-y", "DONGLE-Y", script, "absent", 0);

        inject(w, "add", "1-2", 3);
        _cleanup_(usb_uevent_freep) struct usb_uevent *bind = mkev_driver("bind", "1-2", 3, true, "usbip-host");
        assert_int_equal(watch_inject_uevent(w, bind), 0);
        start_serial_vm(w, &vm, "vm-x", "DONGLE-B", script, "absent", 0);
        assert_false(pump_until(w, NULL, NULL, 200));
        watch_get_stats(w, &st);
        assert_int_equal(st.adds_sent, 0);
        assert_false(watch_claim_queued(w, "vm-x", "hostdev0"));
        w = watch_free(w);
        fake_vm_finish(&vm);
        fake_vm_finish(&first);
}

/* A QEMU that never answers must not stall the loop: the other VM is served meanwhile. */
static void test_stuck_peer(void **state) {
        struct watch *w = NULL;
        _cleanup_free_ char *err = NULL;
        struct watch_options o = { .no_udev = true, .no_registry = true, .reconcile_ms = 600000,
                                   .qmp_timeout_ms = 400, .log = log_cb };
        struct fake_vm a = { 0 }, b = { 0 };
        static const char *const script_a[] = { "sleep 1500", "close", NULL }; /* silent */
        static const char *const script_b[] = {
                HANDSHAKE,
                "expect qom-list {\"path\":\"/machine/peripheral\"}",
                "reply {\"return\":[]}",
                "expect device_add {\"driver\":\"usb-host\",\"id\":\"hostdev0\",\"hostdevice\":\"/dev/bus/usb/001/003\"}",
                "reply {\"return\":{}}",
                "eof",
                NULL,
        };
        assert_int_equal(watch_new(&w, &o, &err), 0);
        fake_vm_listen(&a, "vm-a");
        fake_vm_listen(&b, "vm-b");
        add_claim(w, "vm-a", "hostdev0", "DONGLE-A", NULL, USB_SELECT_IDS | USB_SELECT_SERIAL);
        add_claim(w, "vm-b", "hostdev0", "DONGLE-B", NULL, USB_SELECT_IDS | USB_SELECT_SERIAL);
        assert_int_equal(watch_add_domain(w, "vm-a", a.path, NULL), 0);
        assert_int_equal(watch_add_domain(w, "vm-b", b.path, NULL), 0);
        fake_vm_accept(w, &a, script_a);
        fake_vm_accept(w, &b, script_b);
        uint64_t t0 = now_usec();
        wait_claim(w, "vm-b", "hostdev0", "present", 3);
        assert_true(now_usec() - t0 < 1000000);
        assert_string_equal(watch_claim_state(w, "vm-a", "hostdev0", NULL, NULL), "unknown");
        watch_free(w);
        fake_vm_finish(&a);
        fake_vm_finish(&b);
}


/* ---- with the registry ------------------------------------------------------------------- */
static void reg_add(struct registry *reg, const char *domain, pid_t pid, const char *qmp, const char *key,
                    const char *serial, const char *port, unsigned bus, unsigned devnum, const char *node,
                    const char *qemu_id, enum claim_state st) {
        _cleanup_free_ char *err = NULL;
        struct domain_record rec = { .name = (char *) domain, .qmp_socket = (char *) qmp };
        assert_int_equal(domain_record_set_process(&rec, pid), 0);
        assert_int_equal(registry_domain_set(reg, &rec, &err), 0);
        struct claim c = {
                .type = HOSTDEV_TYPE_USB, .key = (char *) key, .node = (char *) node,
                .usb = { .vendor = 0x46f4, .product = 1, .serial = (char *) serial, .port = (char *) port,
                         .select = USB_SELECT_IDS | USB_SELECT_SERIAL, .bus = bus, .devnum = devnum },
                .qemu_id = (char *) qemu_id, .state = st,
        };
        assert_int_equal(registry_claim(reg, domain, &c, NULL, &err), 1);
        assert_int_equal(registry_set_state(reg, key, st, &err), 0);
}

static void reg_expect(const char *key, const char *state, unsigned devnum) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_free_ char *err = NULL;
        assert_int_equal(registry_open(&reg, &err), 0);
        const struct claim *c = registry_find_by_key(reg, key);
        if (!c)
                fail_msg("registry has no claim %s", key);
        if (!streq(claim_state_to_string(c->state), state) || c->usb.devnum != devnum)
                fail_msg("registry %s: want %s dev %u, is %s dev %u", key, state, devnum,
                         claim_state_to_string(c->state), c->usb.devnum);
}

static bool has_claim(struct watch *w, void *userdata) {
        return watch_claim_state(w, "vm-b", userdata, NULL, NULL) != NULL;
}

/* The daemon's view: domains and claims come from the registry (running domain = live pid +
 * QMP socket), what the loop does is written back, new claims are picked up (inotify), and
 * a domain whose process is gone is left alone. */
static void test_registry(void **state) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_free_ char *err = NULL;
        struct watch *w = NULL;
        struct fake_vm b = { 0 };
        static const char *const script[] = {
                HANDSHAKE,
                "expect qom-list {\"path\":\"/machine/peripheral\"}",
                "reply {\"return\":[{\"name\":\"hostdev0\",\"type\":\"child<usb-host>\"}]}",
                "expect qom-get {\"property\":\"hostbus\"}",
                "reply {\"return\":1}",
                "expect qom-get {\"property\":\"hostaddr\"}",
                "reply {\"return\":3}",
                "expect qom-get {\"property\":\"hostdevice\"}",
                "reply {\"return\":\"\"}",
                /* unplug */
                "expect device_del {\"id\":\"hostdev0\"}",
                "reply {\"return\":{}}",
                "send {\"event\":\"DEVICE_DELETED\",\"data\":{\"device\":\"hostdev0\"},\"timestamp\":{\"seconds\":1,\"microseconds\":2}}",
                /* replug */
                "expect device_add {\"driver\":\"usb-host\",\"id\":\"hostdev0\",\"hostdevice\":\"/dev/bus/usb/001/009\"}",
                "reply {\"return\":{}}",
                /* a new claim in the registry (DONGLE-A, optional, not yet in the VM): reconcile */
                "expect qom-list {\"path\":\"/machine/peripheral\"}",
                "reply {\"return\":[{\"name\":\"hostdev0\",\"type\":\"child<usb-host>\"}]}",
                "expect qom-get {\"property\":\"hostbus\"}",
                "reply {\"return\":1}",
                "expect qom-get {\"property\":\"hostaddr\"}",
                "reply {\"return\":9}",
                "expect qom-get {\"property\":\"hostdevice\"}",
                "reply {\"return\":\"\"}",
                "expect device_add {\"driver\":\"usb-host\",\"id\":\"hostdev1\",\"hostdevice\":\"/dev/bus/usb/001/002\"}",
                "reply {\"return\":{}}",
                "eof",
                NULL,
        };
        struct watch_options o = { .no_udev = true, .reconcile_ms = 600000, .log = log_cb };
        pid_t dead;

        fake_vm_listen(&b, "vm-b");
        assert_int_equal(registry_open(&reg, &err), 0);
        reg_add(reg, "vm-b", getpid(), b.path, "usb:46f4:0001:serial:DONGLE-B", "DONGLE-B", "1-2", 1, 3,
                "usb_1_2", "hostdev0", CLAIM_STATE_ATTACHED);
        /* vm-c: its process is gone */
        dead = fork();
        if (dead == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                pause();
                _exit(0);
        }
        assert_true(dead > 0);
        reg_add(reg, "vm-c", dead, "/nonexistent.qmp", "usb:46f4:0001:serial:DONGLE-C", "DONGLE-C", "1-3.1",
                0, 0, NULL, "hostdev0", CLAIM_STATE_UNPLUGGED);
        kill(dead, SIGKILL);
        assert_int_equal(waitpid(dead, NULL, 0), dead);

        assert_int_equal(watch_new(&w, &o, &err), 0);
        fake_vm_accept(w, &b, script);
        wait_claim(w, "vm-b", "hostdev0", "present", 3);
        /* vm-c is not running: not followed, its dongle is untouched */
        assert_null(watch_claim_state(w, "vm-c", "hostdev0", NULL, NULL));
        inject(w, "add", "1-3/1-3.1", 5);

        inject(w, "remove", "1-2", 3);
        wait_claim(w, "vm-b", "hostdev0", "absent", 0);
        reg_expect("usb:46f4:0001:serial:DONGLE-B", "unplugged", 0);
        set_attr("1-2", "devnum", "9");
        inject(w, "add", "1-2", 9);
        wait_claim(w, "vm-b", "hostdev0", "present", 9);
        reg_expect("usb:46f4:0001:serial:DONGLE-B", "attached", 9);

        /* attach-device/run adds a claim while the loop runs */
        /* (recorded on port 1-4: a claim by serial follows its dongle, and the registry then
         * says where it is now, 1-1) */
        reg_add(reg, "vm-b", getpid(), b.path, "usb:46f4:0001:serial:DONGLE-A", "DONGLE-A", "1-4", 0, 0, NULL,
                "hostdev1", CLAIM_STATE_UNPLUGGED);
        assert_true(pump_until(w, has_claim, "hostdev1", 5000));
        wait_claim(w, "vm-b", "hostdev1", "present", 2);
        reg_expect("usb:46f4:0001:serial:DONGLE-A", "attached", 2);
        {
                _cleanup_(registry_freep) struct registry *r3 = NULL;
                assert_int_equal(registry_open(&r3, &err), 0);
                const struct claim *ca = registry_find_by_key(r3, "usb:46f4:0001:serial:DONGLE-A");
                assert_non_null(ca);
                assert_string_equal(ca->usb.port, "1-1");
        }
        /* vm-c's claim: dropped by the registry's gc (its process is dead) or left as it was */
        {
                _cleanup_(registry_freep) struct registry *r2 = NULL;
                assert_int_equal(registry_open(&r2, &err), 0);
                const struct claim *c = registry_find_by_key(r2, "usb:46f4:0001:serial:DONGLE-C");
                if (c) {
                        assert_int_equal(c->state, CLAIM_STATE_UNPLUGGED);
                        assert_int_equal(c->usb.devnum, 0);
                }
        }

        watch_free(w);
        fake_vm_finish(&b);
}

/* A domain served by its own single-domain loop (hostdev run) is left to it by the daemon. */
static void test_served_elsewhere(void **state) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_free_ char *err = NULL, *marker = NULL, *pidtext = NULL;
        struct watch *w = NULL;
        struct watch_options o = { .no_udev = true, .reconcile_ms = 600000, .log = log_cb };
        pid_t runner;

        assert_int_equal(registry_open(&reg, &err), 0);
        reg_add(reg, "vm-r", getpid(), "/nonexistent.qmp", "usb:46f4:0001:serial:DONGLE-A", "DONGLE-A", "1-1",
                1, 2, "usb_1_1", "hostdev0", CLAIM_STATE_ATTACHED);
        runner = fork();
        if (runner == 0) {
                /* never outlive the test, never hold its output open */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                int null = open("/dev/null", O_RDWR);
                dup2(null, 1);
                dup2(null, 2);
                pause();
                _exit(0);
        }
        assert_true(runner > 0);
        marker = strdup_printf("%s/watch.vm-r.pid", getenv("HOSTDEV_STATE_DIR"));
        pidtext = strdup_printf("%d\n", (int) runner);
        assert_int_equal(write_file_atomic(marker, pidtext, strlen(pidtext), 0600), 0);

        assert_int_equal(watch_new(&w, &o, &err), 0);
        assert_null(watch_claim_state(w, "vm-r", "hostdev0", NULL, NULL));
        w = watch_free(w);

        /* the runner is gone: the daemon takes the domain over */
        kill(runner, SIGKILL);
        assert_int_equal(waitpid(runner, NULL, 0), runner);
        assert_int_equal(watch_new(&w, &o, &err), 0);
        assert_non_null(watch_claim_state(w, "vm-r", "hostdev0", NULL, NULL));
        w = watch_free(w);

        /* a single-domain loop writes its own marker and removes it when done */
        o.domain = "vm-r";
        assert_int_equal(watch_new(&w, &o, &err), 0);
        _cleanup_free_ char *mine = NULL;
        assert_int_equal(read_one_line_file(marker, &mine), 0);
        assert_int_equal(atoi(mine), (int) getpid());
        w = watch_free(w);
        assert_int_equal(access(marker, F_OK), -1);
}

int main(void) {
        /* qmp-fake.h helpers this test does not need (it accepts real sockets itself) */
        (void) qmp_fake_start;
        (void) qmp_fake_start_lines;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_uevent_parse),
                cmocka_unit_test(test_claim_matches),
                cmocka_unit_test_setup_teardown(test_quick_replug, setup, teardown),
                cmocka_unit_test_setup_teardown(test_two_vms_other_port, setup, teardown),
                cmocka_unit_test_setup_teardown(test_vm_off_and_ambiguous, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bind_driver, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stuck_peer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
                cmocka_unit_test_setup_teardown(test_served_elsewhere, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

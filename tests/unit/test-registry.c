/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The claims registry: atomic save, corrupted file, stale-domain gc, same-domain no-op,
 * other-domain refusal, shareable, IOMMU group rule, journal recovery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "error.h"
#include "json-util.h"
#include "registry.h"
#include "util.h"

static char statedir[256];

static int setup(void **state) {
        snprintf(statedir, sizeof statedir, "/tmp/hostdev-reg-XXXXXX");
        if (!mkdtemp(statedir))
                return -1;
        /* a subdirectory that does not exist yet: registry_open creates it 0700 */
        strncat(statedir, "/state", sizeof statedir - strlen(statedir) - 1);
        setenv("HOSTDEV_STATE_DIR", statedir, 1);
        setenv("TZ", "UTC", 1);
        tzset();
        return 0;
}

static int teardown(void **state) {
        char *cmd = strdup_printf("rm -rf '%.*s'", (int) (strlen(statedir) - strlen("/state")), statedir);
        int r = system(cmd);
        free(cmd);
        return r == 0 ? 0 : -1;
}

static struct claim *usb_claim(const char *node, const char *serial, unsigned devnum) {
        struct claim *c = calloc(1, sizeof(*c));
        assert_non_null(c);
        c->type = HOSTDEV_TYPE_USB;
        c->key = strdup_printf("usb:46f4:0001:serial:%s", serial);
        c->node = strdup(node);
        c->usb.vendor = 0x46f4;
        c->usb.product = 0x0001;
        c->usb.serial = strdup(serial);
        c->usb.port = strdup("2-1");
        c->usb.select = USB_SELECT_IDS | USB_SELECT_SERIAL;
        c->usb.bus = 2;
        c->usb.devnum = devnum;
        c->selector_xml = strdup_printf("<source><vendor id='0x46f4'/><product id='0x0001'/><serial>%s</serial></source>", serial);
        c->since = 1795614002; /* 2026-11-25 13:40:02 UTC */
        c->pci.iommu_group = -1;
        return c;
}

static struct claim *pci_claim(unsigned slot, unsigned fn, int group) {
        struct claim *c = calloc(1, sizeof(*c));
        assert_non_null(c);
        c->type = HOSTDEV_TYPE_PCI;
        c->key = strdup_printf("pci:0000:03:%02x.%x", slot, fn);
        c->node = strdup_printf("pci_0000_03_%02x_%x", slot, fn);
        c->pci.addr = (struct pci_addr){ .domain = 0, .bus = 3, .slot = slot, .function = fn };
        c->pci.iommu_group = group;
        c->pci.orig_driver = strdup("e1000e");
        c->since = 1795614002;
        return c;
}

static void test_claim_refuse_noop(void **state) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_(claim_freep) struct claim *a = usb_claim("usb_2_1", "DONGLE-A", 5);
        _cleanup_free_ char *err = NULL;
        struct stat st;

        assert_int_equal(registry_open(&reg, &err), 0);
        assert_int_equal(stat(statedir, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);

        assert_int_equal(registry_claim(reg, "vm-a", a, NULL, &err), 1);
        assert_null(err);
        _cleanup_free_ char *file = path_join(statedir, "registry.json", NULL);
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);

        /* the same domain again: no-op */
        assert_int_equal(registry_claim(reg, "vm-a", a, NULL, &err), 0);
        assert_int_equal(registry_n_claims(reg), 1);

        /* another domain: refused, and the message names the holder and since when */
        assert_int_equal(registry_claim(reg, "vm-b", a, NULL, &err), -EBUSY);
        assert_string_equal(err, "device usb_2_1 (46f4:0001 serial DONGLE-A) is in use by domain vm-a since "
                                 "2026-11-25 13:40:02");
        free(TAKE_PTR(err));

        /* a different key but the same current node is the same device */
        free(a->key);
        a->key = strdup("usb:port:2-1");
        assert_int_equal(registry_claim(reg, "vm-c", a, NULL, &err), -EBUSY);
        assert_non_null(strstr(err, "in use by domain vm-a"));
        free(TAKE_PTR(err));

        /* a second handle (another process) sees the claim */
        _cleanup_(registry_freep) struct registry *reg2 = NULL;
        assert_int_equal(registry_open(&reg2, &err), 0);
        const struct claim *c = registry_find_by_node(reg2, "usb_2_1");
        assert_non_null(c);
        assert_string_equal(c->domain, "vm-a");
        assert_string_equal(c->usb.serial, "DONGLE-A");
        assert_int_equal(c->usb.devnum, 5);
        assert_int_equal(c->state, CLAIM_STATE_CLAIMED);
        assert_int_equal(c->since, 1795614002);
        assert_non_null(registry_find_by_key(reg2, "usb:46f4:0001:serial:DONGLE-A"));
        assert_null(registry_find_by_node(reg2, "usb_2_2"));

        /* state and location updates persist */
        assert_int_equal(registry_set_state(reg2, "usb:46f4:0001:serial:DONGLE-A", CLAIM_STATE_UNPLUGGED, &err), 0);
        assert_int_equal(registry_set_location(reg2, "usb:46f4:0001:serial:DONGLE-A", NULL, 0, 0, "ua-dongle", &err), 0);
        assert_int_equal(registry_reload(reg, &err), 0);
        c = registry_find_by_key(reg, "usb:46f4:0001:serial:DONGLE-A");
        assert_non_null(c);
        assert_int_equal(c->state, CLAIM_STATE_UNPLUGGED);
        assert_null(c->node);
        assert_string_equal(c->qemu_id, "ua-dongle");
        assert_int_equal(registry_set_state(reg2, "usb:nope", CLAIM_STATE_ATTACHED, &err), -ENOENT);
        free(TAKE_PTR(err));

        /* release gives the claims back to the caller */
        struct claim **rel = NULL;
        size_t n = 0;
        assert_int_equal(registry_release_domain(reg, "vm-a", &rel, &n, &err), 1);
        assert_int_equal(n, 1);
        assert_string_equal(rel[0]->key, "usb:46f4:0001:serial:DONGLE-A");
        assert_int_equal(registry_giveback(rel[0], &err), 0); /* USB: nothing to give back */
        claim_free(rel[0]);
        free(rel);
        assert_int_equal(registry_reload(reg2, &err), 0);
        assert_int_equal(registry_n_claims(reg2), 0);
        assert_null(err);
}

static void test_shareable(void **state) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_(claim_freep) struct claim *a = usb_claim("usb_2_1", "DONGLE-A", 5);
        _cleanup_free_ char *err = NULL;

        assert_int_equal(registry_open(&reg, &err), 0);
        a->shareable = true;
        assert_int_equal(registry_claim(reg, "vm-a", a, NULL, &err), 1);
        assert_int_equal(registry_claim(reg, "vm-b", a, NULL, &err), 1);
        assert_int_equal(registry_n_claims(reg), 2);
        a->shareable = false;
        assert_int_equal(registry_claim(reg, "vm-c", a, NULL, &err), -EBUSY);
        assert_non_null(strstr(err, "add <shareable/> to share it"));
        assert_int_equal(registry_release_domain(reg, "vm-a", NULL, NULL, NULL), 1);
        assert_int_equal(registry_release_domain(reg, "vm-b", NULL, NULL, NULL), 1);
        assert_int_equal(registry_n_claims(reg), 0);
}

static void test_iommu_group(void **state) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_(claim_freep) struct claim *f0 = pci_claim(0, 0, 7), *f1 = pci_claim(0, 1, 7), *other = pci_claim(1, 0, 8);
        _cleanup_free_ char *err = NULL;

        assert_int_equal(registry_open(&reg, &err), 0);
        assert_int_equal(registry_claim(reg, "vm-a", f0, NULL, &err), 1);
        /* same group, same domain: fine */
        assert_int_equal(registry_claim(reg, "vm-a", f1, NULL, &err), 1);
        assert_int_equal(registry_release_claim(reg, "vm-a", f1->key, NULL, &err), 0);
        /* same group, other domain: refused with the group named */
        assert_int_equal(registry_claim(reg, "vm-b", f1, NULL, &err), -EBUSY);
        assert_string_equal(err, "device pci_0000_03_00_1 (0000:03:00.1) shares IOMMU group 7 with "
                                 "pci_0000_03_00_0 (0000:03:00.0), in use by domain vm-a");
        free(TAKE_PTR(err));
        /* another group: fine */
        assert_int_equal(registry_claim(reg, "vm-b", other, NULL, &err), 1);
        assert_int_equal(registry_release_claim(reg, "vm-b", f0->key, NULL, &err), -ENOENT);
        free(TAKE_PTR(err));

        /* the persisted PCI record round-trips */
        assert_int_equal(registry_reload(reg, &err), 0);
        const struct claim *c = registry_find_by_key(reg, "pci:0000:03:00.0");
        assert_non_null(c);
        assert_int_equal(c->pci.iommu_group, 7);
        assert_string_equal(c->pci.orig_driver, "e1000e");
        assert_int_equal(c->pci.addr.bus, 3);
        _cleanup_free_ char *d = claim_describe(c);
        assert_string_equal(d, "pci_0000_03_00_0 (0000:03:00.0)");
}

/* fork a child that exits at once: its pid is dead afterwards */
static pid_t dead_pid(void) {
        pid_t p = fork();
        assert_true(p >= 0);
        if (p == 0)
                _exit(0);
        assert_int_equal(waitpid(p, NULL, 0), p);
        return p;
}

static void test_stale_gc(void **state) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_(claim_freep) struct claim *a = usb_claim("usb_2_1", "DONGLE-A", 5), *b = usb_claim("usb_2_2", "DONGLE-B", 6);
        _cleanup_free_ char *err = NULL;
        struct domain_record live = { .name = (char *) "vm-live" }, dead = { .name = (char *) "vm-dead" },
                             nopid = { .name = (char *) "vm-libvirt", .uri = (char *) "qemu:///system" };

        assert_int_equal(registry_open(&reg, &err), 0);
        assert_int_equal(domain_record_set_process(&live, getpid()), 0);
        assert_true(live.starttime > 0);
        dead.pid = dead_pid();
        dead.starttime = 12345;
        assert_int_equal(registry_domain_set(reg, &live, &err), 0);
        assert_int_equal(registry_domain_set(reg, &dead, &err), 0);
        assert_int_equal(registry_domain_set(reg, &nopid, &err), 0);
        assert_true(registry_domain_alive(reg, "vm-live"));
        assert_false(registry_domain_alive(reg, "vm-dead"));
        assert_true(registry_domain_alive(reg, "vm-libvirt"));
        assert_true(registry_domain_alive(reg, "vm-unknown"));

        /* a wrong start time (pid reused) is dead too */
        struct domain_record reused = { .name = (char *) "vm-reused", .pid = getpid(), .starttime = live.starttime + 1 };
        assert_int_equal(registry_domain_set(reg, &reused, &err), 0);
        assert_false(registry_domain_alive(reg, "vm-reused"));

        assert_int_equal(registry_lock(reg, &err), 0);
        assert_int_equal(registry_lock(reg, &err), -EBUSY); /* not recursive */
        free(TAKE_PTR(err));
        /* claims made under a held lock are written only by registry_save */
        struct claim *x = usb_claim("usb_2_9", "DONGLE-X", 9);
        x->shareable = true;
        assert_int_equal(registry_claim(reg, "vm-live", x, NULL, &err), 1);
        claim_free(x);
        registry_unlock(reg);
        assert_int_equal(registry_save(reg, &err), -ENOLCK);
        free(TAKE_PTR(err));
        assert_int_equal(registry_reload(reg, &err), 0);
        assert_null(registry_find_by_node(reg, "usb_2_9"));

        /* a claim by the dead domain cannot be made through the API (gc runs first):
         * claim a for vm-live, then copy it for vm-dead in the file by hand */
        assert_int_equal(registry_lock(reg, &err), 0);
        assert_int_equal(registry_claim(reg, "vm-live", a, NULL, &err), 1);
        assert_int_equal(registry_save(reg, &err), 0);
        registry_unlock(reg);
        {
                _cleanup_free_ char *path = path_join(statedir, "registry.json", NULL), *text = NULL;
                assert_int_equal(read_full_file(path, 1 << 20, &text, NULL), 0);
                _cleanup_json_ json_object *root = json_tokener_parse(text);
                assert_non_null(root);
                json_object *claims = NULL;
                assert_true(json_object_object_get_ex(root, "claims", &claims));
                json_object *copy = NULL;
                assert_int_equal(json_object_deep_copy(json_object_array_get_idx(claims, 0), &copy, NULL), 0);
                json_object_object_add(copy, "domain", json_object_new_string("vm-dead"));
                json_object_object_add(copy, "key", json_object_new_string("usb:46f4:0001:serial:DONGLE-B"));
                json_object_object_add(copy, "node", json_object_new_string("usb_2_2"));
                json_object_array_add(claims, copy);
                const char *s = json_object_to_json_string(root);
                assert_int_equal(write_file_atomic(path, s, strlen(s), 0600), 0);
        }
        /* the claim above already collected the dead records; record vm-dead again */
        assert_null(registry_domain_find(reg, "vm-dead"));
        assert_int_equal(registry_domain_set(reg, &dead, &err), 0);
        assert_int_equal(registry_domain_set(reg, &reused, &err), 0);
        assert_int_equal(registry_reload(reg, &err), 0);
        assert_int_equal(registry_n_claims(reg), 2);
        assert_string_equal(registry_find_by_node(reg, "usb_2_2")->domain, "vm-dead");

        /* gc drops the dead domain's claim (and the pid-reused one has none) */
        assert_int_equal(registry_gc(reg, &err), 1);
        assert_null(err);
        assert_int_equal(registry_n_claims(reg), 1);
        assert_null(registry_domain_find(reg, "vm-dead"));
        assert_null(registry_domain_find(reg, "vm-reused"));
        assert_non_null(registry_domain_find(reg, "vm-libvirt"));
        struct claim **dropped = NULL;
        size_t n = 0;
        assert_int_equal(registry_take_dropped(reg, &dropped, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(dropped[0]->domain, "vm-dead");
        assert_string_equal(dropped[0]->key, "usb:46f4:0001:serial:DONGLE-B");
        claim_free(dropped[0]);
        free(dropped);

        /* now another domain may claim B */
        assert_int_equal(registry_claim(reg, "vm-other", b, NULL, &err), 1);
        assert_int_equal(registry_release_domain(reg, "vm-live", NULL, NULL, &err), 1);
        assert_int_equal(registry_release_domain(reg, "vm-other", NULL, NULL, &err), 1);
        assert_null(err);
}

static void test_corrupt(void **state) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_(claim_freep) struct claim *a = usb_claim("usb_2_1", "DONGLE-A", 5);
        _cleanup_free_ char *err = NULL, *path = NULL, *tmp = NULL;

        assert_int_equal(mkdir_p(statedir, 0700), 0);
        path = path_join(statedir, "registry.json", NULL);
        assert_int_equal(write_file_atomic(path, "{\"version\": 1, \"claims\": [ {\"dom", 32, 0600), 0);
        /* a leftover temp file of a crashed writer is ignored */
        tmp = strdup_printf("%s.tmp.99999", path);
        assert_int_equal(write_file_atomic(tmp, "garbage", 7, 0600), 0);

        assert_int_equal(registry_open(&reg, &err), 0);
        assert_null(err);
        assert_int_equal(registry_n_claims(reg), 0);
        assert_int_equal(access(tmp, F_OK), -1); /* removed under the lock */
        char *const *msgs = registry_recovery_messages(reg);
        assert_non_null(msgs);
        assert_non_null(strstr(msgs[0], "was unreadable (malformed JSON); moved aside to"));
        /* the bad file was moved aside, a fresh one written */
        _cleanup_closedir_ DIR *d = opendir(statedir);
        struct dirent *de;
        bool aside = false;
        while ((de = readdir(d)))
                if (startswith(de->d_name, "registry.json.corrupt-"))
                        aside = true;
        assert_true(aside);
        _cleanup_free_ char *text = NULL;
        assert_int_equal(read_full_file(path, 1 << 20, &text, NULL), 0);
        _cleanup_json_ json_object *root = json_tokener_parse(text);
        assert_non_null(root);

        /* wrong types inside valid JSON are corrupt too */
        const char *bad = "{\"version\": 1, \"claims\": [ {\"domain\": 7, \"type\": \"usb\", \"key\": \"k\", \"state\": \"claimed\"} ]}";
        assert_int_equal(write_file_atomic(path, bad, strlen(bad), 0600), 0);
        assert_int_equal(registry_reload(reg, &err), 0);
        assert_int_equal(registry_n_claims(reg), 0);
        assert_non_null(registry_recovery_messages(reg));

        /* and the registry works afterwards */
        assert_int_equal(registry_claim(reg, "vm-a", a, NULL, &err), 1);
        assert_int_equal(registry_reload(reg, &err), 0);
        assert_int_equal(registry_n_claims(reg), 1);
        assert_null(registry_recovery_messages(reg));
        assert_int_equal(registry_release_domain(reg, "vm-a", NULL, NULL, &err), 1);
}

/* A child begins an operation and dies; the next open recovers it. */
static void journal_child(const char *op, const char *key, const char *step) {
        pid_t p = fork();
        assert_true(p >= 0);
        if (p == 0) {
                struct registry *r = NULL;
                unsigned long long id;
                if (registry_open(&r, NULL) < 0 || registry_journal_begin(r, op, "vm-a", key, "started", &id, NULL) < 0 ||
                    registry_journal_step(r, id, step, NULL) < 0)
                        _exit(1);
                _exit(0); /* no journal_end: "crash" */
        }
        int st;
        assert_int_equal(waitpid(p, &st, 0), p);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_journal_recovery(void **state) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_(claim_freep) struct claim *a = usb_claim("usb_2_1", "DONGLE-A", 5), *b = usb_claim("usb_2_2", "DONGLE-B", 6);
        _cleanup_free_ char *err = NULL;
        unsigned long long id;

        assert_int_equal(registry_open(&reg, &err), 0);
        assert_int_equal(registry_claim(reg, "vm-a", a, NULL, &err), 1);
        assert_int_equal(registry_claim(reg, "vm-a", b, NULL, &err), 1);
        assert_int_equal(registry_set_state(reg, a->key, CLAIM_STATE_PREPARED, &err), 0);

        /* our own unfinished operation is not recovered (we are alive) */
        assert_int_equal(registry_journal_begin(reg, "attach", "vm-a", a->key, "claimed", &id, &err), 0);
        assert_int_equal(registry_reload(reg, &err), 0);
        assert_int_equal(registry_n_journal(reg), 1);
        assert_string_equal(registry_journal_at(reg, 0)->op, "attach");
        assert_int_equal(registry_journal_end(reg, id, &err), 0);
        assert_int_equal(registry_n_journal(reg), 0);

        /* an attach interrupted by a crash is rolled back to "claimed" (domain alive: no record) */
        journal_child("attach", a->key, "device_add sent");
        assert_int_equal(registry_reload(reg, &err), 0);
        assert_int_equal(registry_n_journal(reg), 0);
        char *const *msgs = registry_recovery_messages(reg);
        assert_non_null(msgs);
        assert_string_equal(msgs[0], "interrupted attach of usb:46f4:0001:serial:DONGLE-A for domain vm-a "
                                     "(device_add sent) rolled back: claim kept as claimed");
        assert_int_equal(registry_find_by_key(reg, a->key)->state, CLAIM_STATE_CLAIMED);

        /* a whole-domain attach: what reached the guest stays attached */
        assert_int_equal(registry_set_state(reg, a->key, CLAIM_STATE_PREPARED, &err), 0);
        assert_int_equal(registry_set_state(reg, b->key, CLAIM_STATE_ATTACHED, &err), 0);
        journal_child("attach", NULL, "device_add sent");
        assert_int_equal(registry_reload(reg, &err), 0);
        msgs = registry_recovery_messages(reg);
        assert_non_null(msgs);
        assert_string_equal(msgs[0], "interrupted attach of all devices for domain vm-a (device_add sent) rolled back: "
                                     "claim kept as claimed");
        assert_int_equal(registry_find_by_key(reg, a->key)->state, CLAIM_STATE_CLAIMED);
        assert_int_equal(registry_find_by_key(reg, b->key)->state, CLAIM_STATE_ATTACHED);

        /* a release interrupted by a crash is finished: the claim goes, for giving back */
        journal_child("release", b->key, "reattach started");
        assert_int_equal(registry_reload(reg, &err), 0);
        msgs = registry_recovery_messages(reg);
        assert_non_null(msgs);
        assert_string_equal(msgs[0], "interrupted release of usb:46f4:0001:serial:DONGLE-B for domain vm-a "
                                     "(reattach started) finished: 1 claim(s) released");
        assert_null(registry_find_by_key(reg, b->key));
        struct claim **dropped = NULL;
        size_t n = 0;
        assert_int_equal(registry_take_dropped(reg, &dropped, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(dropped[0]->key, b->key);
        claim_free(dropped[0]);
        free(dropped);
        /* the recovery was saved: a fresh handle finds nothing left to recover */
        _cleanup_(registry_freep) struct registry *reg2 = NULL;
        assert_int_equal(registry_open(&reg2, &err), 0);
        assert_null(registry_recovery_messages(reg2));
        assert_int_equal(registry_n_claims(reg2), 1);

        /* the domain died too: an interrupted attach drops its claims, for giving back */
        struct domain_record dead = { .name = (char *) "vm-a", .pid = dead_pid(), .starttime = 1 };
        assert_int_equal(registry_domain_set(reg, &dead, &err), 0);
        journal_child("attach", a->key, "prepared");
        assert_int_equal(registry_reload(reg, &err), 0);
        msgs = registry_recovery_messages(reg);
        assert_non_null(msgs);
        assert_string_equal(msgs[0], "interrupted attach of usb:46f4:0001:serial:DONGLE-A for domain vm-a (prepared) "
                                     "rolled back: claim dropped (domain gone)");
        assert_int_equal(registry_n_claims(reg), 0);
        assert_int_equal(registry_take_dropped(reg, &dropped, &n), 0);
        assert_int_equal(n, 1);
        claim_free(dropped[0]);
        free(dropped);
        assert_null(err);
}

/* All-or-nothing: claims of a whole file under one lock; a refusal abandons them all. */
static void test_all_or_nothing(void **state) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_(claim_freep) struct claim *a = usb_claim("usb_2_1", "DONGLE-A", 5), *b = usb_claim("usb_2_2", "DONGLE-B", 6);
        _cleanup_free_ char *err = NULL;

        assert_int_equal(registry_open(&reg, &err), 0);
        assert_int_equal(registry_claim(reg, "vm-b", b, NULL, &err), 1);
        assert_int_equal(registry_lock(reg, &err), 0);
        assert_int_equal(registry_claim(reg, "vm-a", a, NULL, &err), 1);
        assert_int_equal(registry_claim(reg, "vm-a", b, NULL, &err), -EBUSY);
        registry_unlock(reg);
        assert_int_equal(registry_reload(reg, &err), 0);
        assert_null(registry_find_by_key(reg, a->key));
        assert_int_equal(registry_n_claims(reg), 1);
        assert_int_equal(registry_release_domain(reg, "vm-b", NULL, NULL, &err), 1);
}

static void test_process_starttime(void **state) {
        unsigned long long a, b;
        assert_int_equal(process_starttime(getpid(), &a), 0);
        assert_int_equal(process_starttime(getpid(), &b), 0);
        assert_true(a == b && a > 0);
        assert_int_equal(process_starttime(dead_pid(), &a), -ESRCH);
        assert_int_equal(process_starttime(0, &a), -ESRCH);

        /* a fake proc root: comm with spaces and parentheses */
        char dir[] = "/tmp/hostdev-proc-XXXXXX";
        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *pd = path_join(dir, "4242", NULL), *stat = path_join(dir, "4242", "stat", NULL);
        assert_int_equal(mkdir_p(pd, 0755), 0);
        const char *line = "4242 (qemu (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 987654 1000 10\n";
        assert_int_equal(write_file_atomic(stat, line, strlen(line), 0644), 0);
        setenv("HOSTDEV_PROC_ROOT", dir, 1);
        assert_int_equal(process_starttime(4242, &a), 0);
        assert_int_equal(a, 987654);
        unsetenv("HOSTDEV_PROC_ROOT");
        _cleanup_free_ char *cmd = strdup_printf("rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}


/* Detached snapshots: the fuzz corpus file loads, formats, and round-trips byte for byte. */
static void test_parse_format(void **state) {
        const char *src = getenv("HOSTDEV_SRCDIR");
        _cleanup_free_ char *path = NULL, *text = NULL, *out = NULL, *out2 = NULL;
        _cleanup_(registry_freep) struct registry *reg = NULL, *again = NULL;
        assert_non_null(src);
        path = path_join(src, "fuzz/corpus/registry/claims.json", NULL);
        assert_int_equal(read_full_file(path, 1 << 20, &text, NULL), 0);
        assert_int_equal(registry_parse_text(text, &reg), 0);
        assert_int_equal(registry_n_claims(reg), 4);
        assert_int_equal(registry_n_journal(reg), 1);
        const struct claim *c = registry_find_by_key(reg, "usb:port:1-4.2");
        assert_non_null(c);
        assert_null(c->node);
        assert_int_equal(c->state, CLAIM_STATE_UNPLUGGED);
        assert_int_equal(c->usb.select, USB_SELECT_PORT);
        c = registry_find_by_node(reg, "pci_0000_03_00_0");
        assert_non_null(c);
        assert_true(c->pci.managed && c->pci.detached);
        assert_int_equal(c->pci.iommu_group, 7);
        const struct domain_record *d = registry_domain_find(reg, "vm-b");
        assert_non_null(d);
        assert_string_equal(d->uri, "qemu:///system");
        assert_string_equal(registry_journal_at(reg, 0)->step, "device_add sent");
        /* detached: no mutation */
        assert_int_equal(registry_set_state(reg, "net:eth1", CLAIM_STATE_ATTACHED, NULL), -EACCES);

        assert_int_equal(registry_format_text(reg, &out), 0);
        assert_int_equal(registry_parse_text(out, &again), 0);
        assert_int_equal(registry_format_text(again, &out2), 0);
        assert_string_equal(out, out2);

        struct registry *bad = NULL;
        assert_int_equal(registry_parse_text("{\"version\": 2}", &bad), -EPROTONOSUPPORT);
        assert_int_equal(registry_parse_text("[]", &bad), -EBADMSG);
        assert_int_equal(registry_parse_text("{\"version\": 1, \"claims\": [ {\"domain\": \"x\", \"type\": \"usb\", "
                                             "\"key\": \"k\", \"state\": \"claimed\"} ]}", &bad), -EBADMSG);
        assert_int_equal(registry_parse_text("{\"version\": 1, \"claims\": [ {\"domain\": \"x\", \"type\": \"net\", "
                                             "\"key\": \"k\", \"state\": \"gone\"} ]}", &bad), -EBADMSG);
        assert_null(bad);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_claim_refuse_noop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_shareable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_iommu_group, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stale_gc, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
                cmocka_unit_test_setup_teardown(test_journal_recovery, setup, teardown),
                cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
                cmocka_unit_test(test_process_starttime),
                cmocka_unit_test(test_parse_format),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Capabilities mode without touching the host: storage/misc nodes created under a temporary
 * --root from nodes in a fixture dev root (HOSTDEV_DEV_ROOT), give back through the claim, and
 * the argument checks of --netns. (The network move itself is tested in network namespaces by
 * tests/cli/test-caps-net.sh.) Needs root for mknod. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "caps.h"
#include "error.h"
#include "hostdev-xml.h"
#include "registry.h"
#include "resolve.h"
#include "util.h"

static char tmpdir[256];
static char devdir[300], rootdir[300];

static void mknode(const char *rel, mode_t type, unsigned ma, unsigned mi) {
        _cleanup_free_ char *p = path_join(devdir, rel, NULL), *dir = NULL;
        dir = strdup(p);
        *strrchr(dir, '/') = 0;
        assert_int_equal(mkdir_p(dir, 0755), 0);
        if (mknod(p, type | 0640, makedev(ma, mi)) < 0)
                fail_msg("mknod %s: %s (test-caps needs root)", p, strerror(errno));
        assert_int_equal(chown(p, 0, 6), 0);
}

static int setup(void **state) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/hostdev-caps-XXXXXX");
        if (!mkdtemp(tmpdir))
                return -1;
        snprintf(devdir, sizeof devdir, "%s/dev", tmpdir);
        snprintf(rootdir, sizeof rootdir, "%s/ctr", tmpdir);
        setenv("HOSTDEV_DEV_ROOT", devdir, 1);
        if (mkdir(rootdir, 0755) < 0)
                return -1;
        mknode("sdf1", S_IFBLK, 8, 81);
        mknode("input/event3", S_IFCHR, 13, 67);
        return 0;
}

static int teardown(void **state) {
        _cleanup_free_ char *cmd = strdup_printf("rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

/* The first message set wins (error.h): clear it before each call whose message is checked. */
static char **reset(char **e) {
        free(*e);
        *e = NULL;
        return e;
}

static struct hostdev_file *parse(const char *xml) {
        struct hostdev_file *f = NULL;
        _cleanup_free_ char *err = NULL;
        if (hostdev_file_parse_buffer(xml, strlen(xml), "test.xml", &f, &err) < 0)
                fail_msg("parse failed: %s", strna(err));
        return f;
}

static const char storage_xml[] = "<hostdev mode='capabilities' type='storage'><source><block>/dev/sdf1</block>"
                                  "</source></hostdev>";
static const char misc_xml[] = "<hostdev mode='capabilities' type='misc'><source><char>/dev/input/event3</char>"
                               "</source></hostdev>";

static void assert_node(const char *rel, mode_t type, unsigned ma, unsigned mi) {
        _cleanup_free_ char *p = path_join(rootdir, rel, NULL);
        struct stat st;
        assert_int_equal(lstat(p, &st), 0);
        assert_int_equal(st.st_mode & S_IFMT, type);
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(major(st.st_rdev), ma);
        assert_int_equal(minor(st.st_rdev), mi);
        assert_int_equal(st.st_uid, 0);
        assert_int_equal(st.st_gid, 6);
}

static bool exists(const char *rel) {
        _cleanup_free_ char *p = path_join(rootdir, rel, NULL);
        struct stat st;
        return lstat(p, &st) == 0;
}

static void test_nodes(void **state) {
        struct hostdev_file *fs = parse(storage_xml), *fm = parse(misc_xml);
        _cleanup_free_ char *err = NULL;

        assert_int_equal(caps_prepare(fs->defs[0], NULL, rootdir, reset(&err)), 1);
        assert_node("dev/sdf1", S_IFBLK, 8, 81);
        assert_int_equal(caps_prepare(fm->defs[0], NULL, rootdir, reset(&err)), 1);
        assert_node("dev/input/event3", S_IFCHR, 13, 67);
        /* again: already there with the same device number */
        assert_int_equal(caps_prepare(fs->defs[0], NULL, rootdir, reset(&err)), 0);

        /* give back through claims, as release does */
        struct claim *c = NULL;
        assert_int_equal(resolve_make_claim(fs->defs[0], NULL, &c), 0);
        assert_string_equal(c->key, "storage:/dev/sdf1");
        c->caps_target = strdup(rootdir);
        assert_int_equal(registry_giveback(c, reset(&err)), 0);
        assert_false(exists("dev/sdf1"));
        assert_int_equal(registry_giveback(c, reset(&err)), 0); /* idempotent */
        claim_free(c);
        assert_int_equal(resolve_make_claim(fm->defs[0], NULL, &c), 0);
        c->caps_target = strdup(rootdir);
        assert_int_equal(caps_giveback(c, reset(&err)), 0);
        assert_false(exists("dev/input/event3"));
        /* without a recorded target there is nothing to undo */
        free(c->caps_target);
        c->caps_target = NULL;
        assert_int_equal(caps_giveback(c, reset(&err)), 0);
        claim_free(c);
        hostdev_file_free(fs);
        hostdev_file_free(fm);
}

static void test_node_errors(void **state) {
        struct hostdev_file *fs = parse(storage_xml), *fm = parse(misc_xml);
        _cleanup_free_ char *err = NULL, *p = NULL;

        /* the option is required */
        assert_int_equal(caps_prepare(fs->defs[0], NULL, NULL, reset(&err)), -EINVAL);
        assert_non_null(strstr(err, "needs --root DIR"));
        /* a block path that is a char node on the host */
        free(fs->defs[0]->source.caps.block);
        fs->defs[0]->source.caps.block = strdup("/dev/input/event3");
        assert_int_equal(caps_prepare(fs->defs[0], NULL, rootdir, reset(&err)), -ENOTBLK);
        assert_non_null(strstr(err, "is not a block device"));
        /* escaping the root */
        free(fs->defs[0]->source.caps.block);
        fs->defs[0]->source.caps.block = strdup("/dev/../etc/sdf1");
        assert_int_equal(caps_prepare(fs->defs[0], NULL, rootdir, reset(&err)), -EINVAL);
        assert_non_null(strstr(err, "without '..'"));
        /* not there on the host */
        free(fs->defs[0]->source.caps.block);
        fs->defs[0]->source.caps.block = strdup("/dev/sdz");
        assert_int_equal(caps_prepare(fs->defs[0], NULL, rootdir, reset(&err)), -ENOENT);
        /* a different node already in the container at that path is not replaced */
        p = path_join(rootdir, "dev/input", NULL);
        assert_int_equal(mkdir_p(p, 0755), 0);
        free(p);
        p = path_join(rootdir, "dev/input/event3", NULL);
        assert_int_equal(mknod(p, S_IFCHR | 0600, makedev(1, 3)), 0);
        assert_int_equal(caps_prepare(fm->defs[0], NULL, rootdir, reset(&err)), -EEXIST);
        assert_non_null(strstr(err, "is not character device 13:67"));
        /* and removal leaves non-nodes alone */
        assert_int_equal(unlink(p), 0);
        int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(caps_node_remove("/dev/input/event3", rootdir, reset(&err)), -EINVAL);
        assert_true(exists("dev/input/event3"));
        hostdev_file_free(fs);
        hostdev_file_free(fm);
}

static void test_netns_args(void **state) {
        struct hostdev_file *f = parse("<hostdev mode='capabilities' type='net'><source><interface>hd-nosuch0</interface>"
                                       "</source><ip address='10.99.0.2' prefix='24'/></hostdev>");
        _cleanup_free_ char *err = NULL;
        int fd = -1;

        assert_int_equal(caps_prepare(f->defs[0], NULL, NULL, reset(&err)), -EINVAL);
        assert_non_null(strstr(err, "needs --netns PATH|PID"));
        assert_int_equal(caps_netns_open("", &fd, reset(&err)), -EINVAL);
        assert_int_equal(caps_netns_open("0", &fd, reset(&err)), -EINVAL);
        assert_int_equal(caps_netns_open("/nonexistent/netns", &fd, reset(&err)), -ENOENT);
        assert_non_null(strstr(err, "cannot open network namespace /nonexistent/netns"));
        /* a namespace file of another type */
        assert_int_equal(caps_netns_open("/proc/self/ns/mnt", &fd, reset(&err)), -EINVAL);
        assert_non_null(strstr(err, "is not a network namespace"));
        /* our own pid is a valid netns, and moving into our own namespace is refused */
        _cleanup_free_ char *self = strdup_printf("%d", (int) getpid());
        assert_int_equal(caps_netns_open(self, &fd, reset(&err)), 0);
        close(fd);
        assert_int_equal(caps_net_move_in(f->defs[0], self, reset(&err)), -EINVAL);
        assert_non_null(strstr(err, "hostdev's own network namespace"));
        hostdev_file_free(f);

        /* classful defaults for an <ip> without prefix */
        uint8_t a[4] = { 10, 0, 0, 1 }, b[4] = { 172, 16, 0, 1 }, c[4] = { 192, 168, 1, 1 };
        assert_int_equal(caps_default_prefix(AF_INET, a), 8);
        assert_int_equal(caps_default_prefix(AF_INET, b), 16);
        assert_int_equal(caps_default_prefix(AF_INET, c), 24);
        assert_int_equal(caps_default_prefix(AF_INET6, a), 64);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_nodes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_node_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_netns_args, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SCSI and vhost-scsi host-side checks (see scsi-host.h). */
#include "scsi-host.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "util.h"

#define CAP_SYS_RAWIO_BIT 17

static bool is_dir(const char *p) {
        struct stat st;
        return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Entries of dir (not starting with '.') that start with prefix, joined with ", ". */
static char *list_entries(const char *dir, const char *prefix) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct strbuf sb = STRBUF_INIT;
        struct dirent *de;
        if (!d)
                return NULL;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || (prefix && !startswith(de->d_name, prefix)))
                        continue;
                if (sb.len)
                        strbuf_append(&sb, ", ");
                strbuf_append(&sb, de->d_name);
        }
        return strbuf_steal(&sb);
}

int vhost_scsi_check_target(const char *wwpn, char **reterr) {
        _cleanup_free_ char *target = path_join(sysfs_root(), "kernel/config/target", NULL);
        _cleanup_free_ char *fabric = path_join(sysfs_root(), "kernel/config/target/vhost", NULL);
        _cleanup_free_ char *dir = NULL, *tpgs = NULL, *node = path_join(dev_root(), "vhost-scsi", NULL);
        struct stat st;

        if (!target || !fabric || !node)
                return -ENOMEM;
        if (isempty(wwpn))
                return error_set(reterr, -EINVAL, "vhost-scsi needs a wwpn");
        if (strchr(wwpn, '/') || streq(wwpn, ".") || streq(wwpn, ".."))
                return error_set(reterr, -EINVAL, "invalid vhost-scsi wwpn '%s'", wwpn);
        if (!is_dir(target))
                return error_set(reterr, -ENOENT,
                                 "vhost-scsi target %s: the kernel's target configfs is not there (%s): mount configfs "
                                 "and load target_core_mod and vhost_scsi",
                                 wwpn, target);
        if (!is_dir(fabric))
                return error_set(reterr, -ENOENT,
                                 "vhost-scsi target %s: no vhost fabric in the target configfs (%s): load vhost_scsi "
                                 "and create the target (targetcli /vhost create %s)",
                                 wwpn, fabric, wwpn);
        dir = path_join(fabric, wwpn, NULL);
        if (!dir)
                return -ENOMEM;
        if (!is_dir(dir)) {
                _cleanup_free_ char *have = list_entries(fabric, NULL);
                return error_set(reterr, -ENOENT,
                                 "no vhost-scsi target %s in %s (configured: %s); create it with targetcli /vhost create %s",
                                 wwpn, fabric, isempty(have) ? "none" : have, wwpn);
        }
        tpgs = list_entries(dir, "tpgt_");
        if (isempty(tpgs))
                return error_set(reterr, -ENOENT, "vhost-scsi target %s has no target portal group (no tpgt_N in %s)",
                                 wwpn, dir);
        if (stat(node, &st) < 0 || !S_ISCHR(st.st_mode))
                return error_set(reterr, -ENODEV, "vhost-scsi target %s exists but %s is not there: load vhost_scsi",
                                 wwpn, node);
        return 0;
}

/* The SCSI device's sysfs directory (for an sg node: its "device" link). */
static char *scsi_dev_dir(const struct nodedev *dev) {
        if (dev->cap == NODEDEV_CAP_SCSI)
                return strdup(dev->sysfs_path);
        if (dev->cap == NODEDEV_CAP_SCSI_GENERIC)
                return path_join(dev->sysfs_path, "device", NULL);
        return NULL;
}

int scsi_unpriv_sgio_path(const struct nodedev *dev, char **ret) {
        _cleanup_free_ char *dir = scsi_dev_dir(dev), *bdir = NULL, *blk = NULL, *p = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        if (!dir)
                return -ENOENT;
        bdir = path_join(dir, "block", NULL);
        if (!bdir)
                return -ENOMEM;
        d = opendir(bdir);
        if (!d)
                return -ENOENT;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.') {
                        blk = strdup(de->d_name);
                        break;
                }
        if (!blk)
                return -ENOENT;
        p = path_join(bdir, blk, "queue/unpriv_sgio", NULL);
        if (!p)
                return -ENOMEM;
        if (access(p, F_OK) < 0)
                return -ENOENT;
        *ret = TAKE_PTR(p);
        return 0;
}

/* Does pid's effective capability set hold bit? */
static int pid_has_cap(pid_t pid, unsigned bit, bool *ret) {
        _cleanup_free_ char *path = strdup_printf("%s/%d/status", proc_root(), (int) pid), *text = NULL;
        const char *l;
        uint64_t caps;
        int r;
        if (!path)
                return -ENOMEM;
        r = read_full_file(path, 1 << 16, &text, NULL);
        if (r < 0)
                return r;
        l = strstr(text, "\nCapEff:");
        if (!l || sscanf(l + 8, "%" SCNx64, &caps) != 1)
                return -EBADMSG;
        *ret = (caps >> bit) & 1;
        return 0;
}

int scsi_hostdev_prepare(const struct hostdev_def *def, const struct nodedev *dev, pid_t qemu_pid,
                         char **reterr) {
        int r;

        if (def->type != HOSTDEV_TYPE_SCSI || def->source.scsi.protocol == SCSI_PROTOCOL_ISCSI || !dev)
                return 0;
        if (def->sgio != SCSI_SGIO_DEFAULT) {
                _cleanup_free_ char *p = NULL;
                r = scsi_unpriv_sgio_path(dev, &p);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 && def->sgio == SCSI_SGIO_UNFILTERED)
                        return error_set(reterr, -EOPNOTSUPP,
                                         "line %u: sgio='unfiltered': %s has no block queue with unpriv_sgio "
                                         "(this kernel does not support unprivileged SG_IO filtering control)",
                                         def->line, dev->name);
                if (r >= 0) {
                        r = write_string_file(p, def->sgio == SCSI_SGIO_UNFILTERED ? "1" : "0");
                        if (r < 0)
                                return error_set(reterr, r, "line %u: cannot write %s: %s", def->line, p, strerror(-r));
                }
        }
        if (def->rawio == TRISTATE_YES && qemu_pid > 0) {
                bool has = false;
                r = pid_has_cap(qemu_pid, CAP_SYS_RAWIO_BIT, &has);
                if (r < 0)
                        return error_set(reterr, r, "line %u: rawio='yes': cannot read the capabilities of pid %d: %s",
                                         def->line, (int) qemu_pid, strerror(-r));
                if (!has)
                        return error_set(reterr, -EPERM,
                                         "line %u: rawio='yes': the QEMU process (pid %d) lacks CAP_SYS_RAWIO",
                                         def->line, (int) qemu_pid);
        }
        return 0;
}

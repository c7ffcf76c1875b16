/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SCSI hosts, targets, devices (/sys/bus/scsi/devices), their sg nodes
 * (/sys/class/scsi_generic) and block devices (/sys/class/block, "storage"). */
#include <ctype.h>

#include "inventory-private.h"
#include "util.h"

int parse_scsi_hbtl(const char *s, unsigned *h, unsigned *b, unsigned *t, unsigned long long *l) {
        unsigned hh, bb, tt;
        unsigned long long ll;
        int n = 0;
        if (!s || !isdigit((unsigned char) *s))
                return -EINVAL;
        for (const char *p = s; *p; p++)
                if (!isdigit((unsigned char) *p) && *p != ':')
                        return -EINVAL;
        if (sscanf(s, "%u:%u:%u:%llu%n", &hh, &bb, &tt, &ll, &n) != 4 || s[n] != 0)
                return -EINVAL;
        *h = hh, *b = bb, *t = tt, *l = ll;
        return 0;
}

/* libvirt's udevGetSCSIType mapping. */
const char *scsi_type_to_string(unsigned t) {
        switch (t) {
        case 0x00: return "disk";
        case 0x01: return "tape";
        case 0x03: return "processor";
        case 0x04: return "worm";
        case 0x05: return "cdrom";
        case 0x06: return "scanner";
        case 0x07: return "mod";
        case 0x08: return "changer";
        case 0x0c: return "raid";
        case 0x0d: return "enclosure";
        default: return NULL;
        }
}

/* First entry of path/sub/ (e.g. scsi_generic/sg0, block/sda), or NULL. */
static char *first_entry(const char *path, const char *sub) {
        _cleanup_free_ char *dir = path_join(path, sub, NULL);
        _cleanup_closedir_ DIR *dh = dir ? opendir(dir) : NULL;
        struct dirent *de;
        if (!dh)
                return NULL;
        while ((de = readdir(dh)))
                if (de->d_name[0] != '.')
                        return strdup(de->d_name);
        return NULL;
}

int scsi_read(struct scan *s, const char *path, struct nodedev **ret) {
        _cleanup_free_ char *sysname = path_basename_dup(path);
        _cleanup_(nodedev_freep) struct nodedev *d = NULL;
        const char *p;
        unsigned v;

        if (!sysname)
                return -ENOMEM;
        if ((p = startswith(sysname, "host"))) {
                if (safe_atou(p, 10, &v) < 0 || !isdigit((unsigned char) *p)) {
                        scan_warn(s, "%s: unexpected SCSI host name", scan_rel(s, path));
                        return -EINVAL;
                }
                d = nodedev_new(path, "scsi", NODEDEV_CAP_SCSI_HOST);
                if (!d)
                        return -ENOMEM;
                d->u.scsi_host = v;
                d->name = strdup_printf("scsi_host%u", v);
        } else if ((p = startswith(sysname, "target"))) {
                unsigned h, b, t;
                int n = 0;
                if (sscanf(p, "%u:%u:%u%n", &h, &b, &t, &n) != 3 || p[n] || !isdigit((unsigned char) *p)) {
                        scan_warn(s, "%s: unexpected SCSI target name", scan_rel(s, path));
                        return -EINVAL;
                }
                d = nodedev_new(path, "scsi", NODEDEV_CAP_SCSI_TARGET);
                if (!d)
                        return -ENOMEM;
                d->u.scsi.host = h, d->u.scsi.bus = b, d->u.scsi.target = t;
                d->name = nodedev_make_name("scsi", sysname, NULL);
        } else {
                struct scsi_info *si;
                d = nodedev_new(path, "scsi", NODEDEV_CAP_SCSI);
                if (!d)
                        return -ENOMEM;
                si = &d->u.scsi;
                if (parse_scsi_hbtl(sysname, &si->host, &si->bus, &si->target, &si->lun) < 0) {
                        /* not a SCSI device (e.g. a bus/scsi/devices entry we do not know) */
                        return -EINVAL;
                }
                d->name = nodedev_make_name("scsi", sysname, NULL);
                if (attr_uint(s, path, "type", 10, true, &v) >= 0) {
                        const char *ts = scsi_type_to_string(v);
                        if (ts)
                                si->type = strdup(ts);
                        else
                                scan_warn(s, "%s/type: unknown SCSI type %u", scan_rel(s, path), v);
                }
                (void) attr_string(s, path, "vendor", false, &si->vendor);
                (void) attr_string(s, path, "model", false, &si->model);
                si->sg_name = first_entry(path, "scsi_generic");
                si->block_name = first_entry(path, "block");
                (void) attr_link_basename(s, path, "driver", false, &d->driver);
        }
        if (!d->name)
                return -ENOMEM;
        *ret = TAKE_PTR(d);
        return 0;
}

int scsi_generic_read(struct scan *s, const char *path, struct nodedev **ret) {
        _cleanup_free_ char *sysname = path_basename_dup(path);
        _cleanup_(nodedev_freep) struct nodedev *d = NULL;
        if (!sysname)
                return -ENOMEM;
        d = nodedev_new(path, "scsi_generic", NODEDEV_CAP_SCSI_GENERIC);
        if (!d)
                return -ENOMEM;
        d->name = nodedev_make_name("scsi_generic", sysname, NULL);
        d->u.sg = strdup_printf("%s/%s", dev_root(), sysname);
        d->devnode = d->u.sg ? strdup(d->u.sg) : NULL;
        if (!d->name || !d->devnode)
                return -ENOMEM;
        *ret = TAKE_PTR(d);
        return 0;
}

/* Which bus the disk hangs off, from its ancestors' directory names. */
static const char *storage_bus(const char *path) {
        if (strstr(path, "/usb"))
                return "usb";
        if (strstr(path, "/host") && strstr(path, "/target"))
                return "scsi";
        if (strstr(path, "/virtio"))
                return "virtio";
        if (strstr(path, "/nvme"))
                return "nvme";
        return NULL;
}

int storage_read(struct scan *s, const char *path, struct nodedev **ret) {
        _cleanup_free_ char *sysname = path_basename_dup(path);
        _cleanup_(nodedev_freep) struct nodedev *d = NULL;
        struct storage_info *st;
        unsigned long long sectors = 0;
        unsigned v;

        if (!sysname)
                return -ENOMEM;
        d = nodedev_new(path, "block", NODEDEV_CAP_STORAGE);
        if (!d)
                return -ENOMEM;
        st = &d->u.storage;
        st->block = strdup_printf("%s/%s", dev_root(), sysname);
        d->devnode = st->block ? strdup(st->block) : NULL;
        if (!d->devnode)
                return -ENOMEM;
        const char *bus = storage_bus(path + s->root_len);
        if (bus && !(st->bus = strdup(bus)))
                return -ENOMEM;
        /* serial: virtio-blk and nvme have one here; SCSI disks only in VPD pages */
        if (attr_string(s, path, "serial", false, &st->serial) < 0)
                (void) attr_string(s, path, "device/serial", false, &st->serial);
        if (st->serial && !*st->serial) {
                free(st->serial);
                st->serial = NULL;
        }
        (void) attr_string(s, path, "device/vendor", false, &st->vendor);
        (void) attr_string(s, path, "device/model", false, &st->model);
        _cleanup_free_ char *sz = NULL;
        if (attr_string(s, path, "size", true, &sz) >= 0) {
                if (safe_atoull(sz, 10, &sectors) < 0)
                        scan_warn(s, "%s/size: invalid number '%s'", scan_rel(s, path), sz);
                else
                        st->size = sectors * 512ULL;
        }
        if (attr_uint(s, path, "queue/logical_block_size", 10, false, &v) >= 0)
                st->logical_block_size = v;
        if (attr_uint(s, path, "removable", 10, false, &v) >= 0)
                st->removable = v != 0;
        unsigned stype;
        const char *dt = "disk";
        if (attr_uint(s, path, "device/type", 10, false, &stype) >= 0 && stype == 5)
                dt = "cdrom";
        st->drive_type = strdup(dt);
        d->name = nodedev_make_name("block", sysname, st->serial);
        if (!d->name || !st->drive_type)
                return -ENOMEM;
        *ret = TAKE_PTR(d);
        return 0;
}

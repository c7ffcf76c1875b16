/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mediated devices: types offered by a parent (mdev_supported_types/) and instances
 * (/sys/bus/mdev/devices/UUID). */
#include "inventory-private.h"
#include "util.h"

int pci_read_mdev_types(struct scan *s, const char *path, struct pci_device_info *pci) {
        _cleanup_free_ char *dir = path_join(path, "mdev_supported_types", NULL);
        _cleanup_closedir_ DIR *dh = NULL;
        struct dirent *de;
        if (!dir)
                return -ENOMEM;
        dh = opendir(dir);
        if (!dh)
                return 0;
        while ((de = readdir(dh))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *tdir = path_join(dir, de->d_name, NULL);
                if (!tdir)
                        return -ENOMEM;
                struct mdev_type_info *nt = realloc(pci->mdev_types, (pci->n_mdev_types + 1) * sizeof(*nt));
                if (!nt)
                        return -ENOMEM;
                pci->mdev_types = nt;
                struct mdev_type_info *t = &nt[pci->n_mdev_types];
                *t = (struct mdev_type_info){ .id = strdup(de->d_name) };
                if (!t->id)
                        return -ENOMEM;
                pci->n_mdev_types++;
                (void) attr_string(s, tdir, "name", false, &t->name);
                (void) attr_string(s, tdir, "device_api", true, &t->device_api);
                (void) attr_uint(s, tdir, "available_instances", 10, true, &t->available_instances);
        }
        return 0;
}

int mdev_read(struct scan *s, const char *path, struct nodedev **ret) {
        _cleanup_free_ char *uuid = path_basename_dup(path);
        _cleanup_(nodedev_freep) struct nodedev *d = NULL;
        if (!uuid)
                return -ENOMEM;
        d = nodedev_new(path, "mdev", NODEDEV_CAP_MDEV);
        if (!d)
                return -ENOMEM;
        d->name = nodedev_make_name("mdev", uuid, NULL);
        if (!d->name)
                return -ENOMEM;
        d->u.mdev.uuid = TAKE_PTR(uuid);
        (void) attr_link_basename(s, path, "mdev_type", true, &d->u.mdev.type);
        (void) attr_link_basename(s, path, "driver", false, &d->driver);
        _cleanup_free_ char *grp = NULL;
        int g;
        if (attr_link_basename(s, path, "iommu_group", false, &grp) >= 0 && safe_atoi(grp, &g) >= 0)
                d->u.mdev.iommu_group = g;
        *ret = TAKE_PTR(d);
        return 0;
}

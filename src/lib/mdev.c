/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mediated devices: types offered by a parent (mdev_supported_types/) and instances
 * (/sys/bus/mdev/devices/UUID). */
#include <sys/stat.h>

#include "error.h"
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

/* ---- checks before passthrough (scsi agent, issue 7) ------------------------------------- */

int mdev_check_instance(const struct nodedev *dev, enum mdev_model model, char **reterr) {
        _cleanup_free_ char *link = NULL, *tdir = NULL, *api = NULL, *api_path = NULL;
        const char *want = model == MDEV_MODEL_VFIO_CCW ? "vfio-ccw" : model == MDEV_MODEL_VFIO_AP ? "vfio-ap" : "vfio-pci";
        struct stat st;
        int r;

        if (!dev || dev->cap != NODEDEV_CAP_MDEV)
                return error_set(reterr, -EINVAL, "not a mediated device");
        link = path_join(dev->sysfs_path, "mdev_type", NULL);
        if (!link)
                return -ENOMEM;
        r = readlink_malloc(link, &tdir);
        if (r < 0)
                return error_set(reterr, -ENOENT, "mediated device %s has no mdev_type (%s)", dev->u.mdev.uuid,
                                 link);
        /* the link resolves only when the parent still offers that type */
        if (stat(link, &st) < 0 || !S_ISDIR(st.st_mode))
                return error_set(reterr, -ENOENT, "the parent %s of mediated device %s has no mdev type %s",
                                 strna(dev->parent), dev->u.mdev.uuid, strna(dev->u.mdev.type));
        api_path = path_join(link, "device_api", NULL);
        if (!api_path)
                return -ENOMEM;
        if (read_one_line_file(api_path, &api) >= 0 && !streq(api, want))
                return error_set(reterr, -EINVAL,
                                 "mediated device %s is of type %s with device API %s, not %s (model='%s')",
                                 dev->u.mdev.uuid, strna(dev->u.mdev.type), api, want, want);
        return 0;
}

char *mdev_missing_message(const struct inventory *inv, const char *uuid) {
        struct strbuf sb = STRBUF_INIT;
        bool any = false;

        strbuf_appendf(&sb, "no mediated device %s", strna(uuid));
        for (size_t i = 0; i < inv->n_devs; i++) {
                const struct nodedev *d = inv->devs[i];
                if (d->cap != NODEDEV_CAP_MDEV)
                        continue;
                strbuf_append(&sb, any ? ", " : " (instances on this host: ");
                strbuf_appendf(&sb, "%s of type %s", d->u.mdev.uuid, strna(d->u.mdev.type));
                any = true;
        }
        strbuf_append(&sb, any ? ")" : " (this host has no mediated device instances)");
        for (size_t i = 0; i < inv->n_devs; i++) {
                const struct nodedev *d = inv->devs[i];
                if (d->cap != NODEDEV_CAP_PCI || d->u.pci.n_mdev_types == 0)
                        continue;
                strbuf_appendf(&sb, "\n  %s can create one: echo %s > %s/mdev_supported_types/TYPE/create (types:",
                               d->name, strna(uuid), d->sysfs_path);
                for (size_t t = 0; t < d->u.pci.n_mdev_types; t++)
                        strbuf_appendf(&sb, " %s [%u available]", d->u.pci.mdev_types[t].id,
                                       d->u.pci.mdev_types[t].available_instances);
                strbuf_append(&sb, ")");
        }
        return strbuf_steal(&sb);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCI functions from /sys/bus/pci/devices. */
#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "inventory-private.h"
#include "util.h"

/* "0000:00:03.0" (domain may be longer than 4 digits on some hosts; must fit 16 bits here). */
int parse_pci_addr(const char *s, struct pci_addr *ret) {
        unsigned d, b, sl, f;
        int n = 0;
        if (!s)
                return -EINVAL;
        for (const char *p = s; *p; p++)
                if (!isxdigit((unsigned char) *p) && *p != ':' && *p != '.')
                        return -EINVAL;
        if (sscanf(s, "%x:%x:%x.%x%n", &d, &b, &sl, &f, &n) != 4 || s[n] != 0)
                return -EINVAL;
        if (d > 0xffff || b > 0xff || sl > 0x1f || f > 7)
                return -ERANGE;
        *ret = (struct pci_addr){ .domain = d, .bus = b, .slot = sl, .function = f };
        return 0;
}

/* sysfs: "8.0 GT/s PCIe", "2.5 GT/s", "16.0 GT/s PCIe", "Unknown" -> libvirt's "8", "2.5", "16". */
int parse_link_speed(const char *v, char **ret) {
        static const char *const known[] = { "2.5", "5", "8", "16", "32", "64" };
        char buf[16];
        size_t i = 0;
        if (!v)
                return -EINVAL;
        while (i < sizeof buf - 1 && (isdigit((unsigned char) v[i]) || v[i] == '.'))
                buf[i] = v[i], i++;
        buf[i] = 0;
        if (i == 0 || (v[i] && v[i] != ' '))
                return -EINVAL;
        /* strip a trailing ".0" */
        size_t l = strlen(buf);
        if (l > 2 && streq(buf + l - 2, ".0"))
                buf[l - 2] = 0;
        for (size_t k = 0; k < ELEMENTSOF(known); k++)
                if (streq(buf, known[k])) {
                        char *s = strdup(buf);
                        if (!s)
                                return -ENOMEM;
                        *ret = s;
                        return 0;
                }
        return -EINVAL;
}

static const char *const link_speeds[] = { NULL, "2.5", "5", "8", "16", "32", "64" };

/* The PCI Express capability from config space, as libvirt reads it: returns 1 if found
 * (filling type, link cap and status), 0 if the device has none, -EIO if config space could
 * not be read far enough (unprivileged readers see only 64 bytes). */
int pci_config_find_pcie(const uint8_t *cfg, size_t len, unsigned *ret_type, uint32_t *ret_lnkcap,
                         uint16_t *ret_lnksta) {
        if (len < 64)
                return -EIO;
        uint16_t status = cfg[0x06] | cfg[0x07] << 8;
        if (!(status & 0x10)) /* no capability list */
                return -EIO;
        unsigned pos = cfg[0x34] & ~3u;
        for (unsigned n = 0; n < 48 && pos >= 0x40; n++) {
                if (pos + 0x14 > len)
                        return -EIO;
                if (cfg[pos] == 0x10) {
                        uint16_t flags = cfg[pos + 2] | cfg[pos + 3] << 8;
                        *ret_type = (flags >> 4) & 0xf;
                        *ret_lnkcap = (uint32_t) cfg[pos + 0x0c] | (uint32_t) cfg[pos + 0x0d] << 8 |
                                      (uint32_t) cfg[pos + 0x0e] << 16 | (uint32_t) cfg[pos + 0x0f] << 24;
                        *ret_lnksta = cfg[pos + 0x12] | cfg[pos + 0x13] << 8;
                        return 1;
                }
                pos = cfg[pos + 1] & ~3u;
        }
        return 0;
}

static void set_speed(char **dst, unsigned code) {
        free(*dst);
        *dst = code > 0 && code < ELEMENTSOF(link_speeds) ? strdup(link_speeds[code]) : NULL;
}

/* PCIe-ness and link from 'config' when there is one (libvirt's way); returns false if the
 * tree has no config file (fixtures), so the sysfs link attributes are used instead. */
static bool pci_read_config(struct scan *s, const char *path, struct pci_device_info *pci) {
        _cleanup_free_ char *p = path_join(path, "config", NULL);
        _cleanup_close_ int fd = -1;
        uint8_t cfg[256];
        struct stat st;
        ssize_t n;
        if (!p)
                return false;
        /* the directory the attribute readers keep open: one path component to walk */
        fd = s && s->dfd_path && streq(s->dfd_path, path)
                     ? openat(s->dfd, "config", O_RDONLY | O_CLOEXEC | O_NOCTTY)
                     : open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return false;
        n = pread(fd, cfg, sizeof cfg, 0);
        if (n < 0) {
                scan_warn(s, "%s: cannot read: %s", scan_rel(s, p), strerror(errno));
                return false;
        }
        unsigned type = 0;
        uint32_t lnkcap = 0;
        uint16_t lnksta = 0;
        int r = pci_config_find_pcie(cfg, (size_t) n, &type, &lnkcap, &lnksta);
        if (r < 0) {
                /* the size tells: 4096 bytes of extended config space is PCI Express */
                if (fstat(fd, &st) < 0)
                        return false;
                pci->is_pcie = st.st_size != 256;
                pci->has_link = false;
        } else {
                pci->is_pcie = r > 0;
                pci->has_link = r > 0 && type != 9 && type != 10;
        }
        free(pci->link_max_speed), pci->link_max_speed = NULL;
        free(pci->link_cur_speed), pci->link_cur_speed = NULL;
        pci->link_max_width = pci->link_cur_width = pci->link_port = -1;
        if (pci->has_link) {
                pci->link_port = (int) (lnkcap >> 24);
                set_speed(&pci->link_max_speed, lnkcap & 0xf);
                pci->link_max_width = (int) ((lnkcap >> 4) & 0x3f);
                set_speed(&pci->link_cur_speed, lnksta & 0xf);
                pci->link_cur_width = (int) ((lnksta >> 4) & 0x3f);
        }
        return true;
}

static void read_link_attr(struct scan *s, const char *path, const char *attr, char **ret) {
        _cleanup_free_ char *v = NULL;
        if (attr_string(s, path, attr, false, &v) < 0)
                return;
        if (streq(v, "Unknown") || startswith(v, "Unknown"))
                return;
        if (parse_link_speed(v, ret) < 0)
                scan_warn(s, "%s/%s: unexpected link speed '%s'", scan_rel(s, path), attr, v);
}

static int cmp_str(const void *a, const void *b) {
        return strverscmp(*(char *const *) a, *(char *const *) b);
}

static int pci_read_vfs(struct scan *s, const char *path, struct pci_device_info *pci) {
        _cleanup_closedir_ DIR *dh = opendir(path);
        struct dirent *de;
        int r;
        if (!dh)
                return 0;
        while ((de = readdir(dh))) {
                if (!startswith(de->d_name, "virtfn"))
                        continue;
                char *b = NULL;
                if (attr_link_basename(s, path, de->d_name, true, &b) < 0)
                        continue;
                r = strv_push(&pci->virtfn_addrs, b);
                if (r < 0)
                        return r;
        }
        /* virtfn10 after virtfn9: the addresses themselves sort right */
        if (pci->virtfn_addrs)
                qsort(pci->virtfn_addrs, strv_length(pci->virtfn_addrs), sizeof(char *), cmp_str);
        return 0;
}

enum { UEVENT_ID = 1, UEVENT_SUBSYS = 2, UEVENT_CLASS = 4 };

/* "VVVV:DDDD" (uevent's PCI_ID / PCI_SUBSYS_ID), upper or lower case hex */
static bool parse_id_pair(const char *v, uint16_t *a, uint16_t *b) {
        if (strlen(v) != 9 || v[4] != ':')
                return false;
        for (int i = 0; i < 9; i++)
                if (i != 4 && !isxdigit((unsigned char) v[i]))
                        return false;
        *a = (uint16_t) strtoul(v, NULL, 16);
        *b = (uint16_t) strtoul(v + 5, NULL, 16);
        return true;
}

/* Ids and class from uevent; returns which of UEVENT_* were found well-formed. */
static unsigned pci_read_uevent(struct scan *s, const char *path, struct pci_device_info *pci) {
        _cleanup_free_ char *text = NULL;
        unsigned got = 0;
        if (attr_read_lines(s, path, "uevent", &text) < 0)
                return 0;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                const char *v;
                uint16_t a, b;
                if ((v = startswith(line, "PCI_ID=")) && parse_id_pair(v, &a, &b)) {
                        pci->vendor_id = a;
                        pci->product_id = b;
                        got |= UEVENT_ID;
                } else if ((v = startswith(line, "PCI_SUBSYS_ID=")) && parse_id_pair(v, &a, &b)) {
                        pci->subsys_vendor_id = a;
                        pci->subsys_product_id = b;
                        got |= UEVENT_SUBSYS;
                } else if ((v = startswith(line, "PCI_CLASS="))) {
                        unsigned c;
                        if (*v && strlen(v) <= 6 && safe_atou(v, 16, &c) >= 0) {
                                pci->class = c;
                                got |= UEVENT_CLASS;
                        }
                }
        }
        return got;
}

int pci_read(struct scan *s, const char *path, struct nodedev **ret) {
        _cleanup_free_ char *sysname = path_basename_dup(path);
        _cleanup_(nodedev_freep) struct nodedev *d = NULL;
        struct pci_device_info *pci;
        unsigned v;
        int r;

        if (!sysname)
                return -ENOMEM;
        d = nodedev_new(path, "pci", NODEDEV_CAP_PCI);
        if (!d)
                return -ENOMEM;
        pci = &d->u.pci;
        r = parse_pci_addr(sysname, &pci->addr);
        if (r < 0) {
                scan_warn(s, "%s: not a PCI address", scan_rel(s, path));
                return r;
        }
        d->name = strdup_printf("pci_%04x_%02x_%02x_%x", pci->addr.domain, pci->addr.bus,
                                pci->addr.slot, pci->addr.function);
        if (!d->name)
                return -ENOMEM;
        /* The kernel's uevent carries the ids and class of the vendor, device, subsystem_* and
         * class attributes (all from struct pci_dev): one file instead of five, which is most
         * of a big scan. Any of them missing or malformed there: the attributes. */
        unsigned ue = pci_read_uevent(s, path, pci);
        if (!(ue & UEVENT_ID)) {
                (void) attr_hex16(s, path, "vendor", true, &pci->vendor_id);
                (void) attr_hex16(s, path, "device", true, &pci->product_id);
        }
        if (!(ue & UEVENT_SUBSYS)) {
                (void) attr_hex16(s, path, "subsystem_vendor", false, &pci->subsys_vendor_id);
                (void) attr_hex16(s, path, "subsystem_device", false, &pci->subsys_product_id);
        }
        if (!(ue & UEVENT_CLASS) && attr_uint(s, path, "class", 16, true, &v) >= 0) {
                if (v > 0xffffff)
                        scan_warn(s, "%s/class: out of range", scan_rel(s, path));
                else
                        pci->class = v;
        }
        pci->is_bridge = (pci->class >> 8) == 0x0604 || (pci->class >> 8) == 0x0607;
        (void) attr_link_basename(s, path, "driver", false, &d->driver);

        _cleanup_free_ char *grp = NULL;
        if (attr_link_basename(s, path, "iommu_group", false, &grp) >= 0) {
                int g;
                if (safe_atoi(grp, &g) >= 0 && g >= 0)
                        pci->iommu_group = g;
                else
                        scan_warn(s, "%s/iommu_group: unexpected group '%s'", scan_rel(s, path), grp);
        }
        int numa;
        if (attr_int(s, path, "numa_node", false, &numa) >= 0)
                pci->numa_node = numa < 0 ? -1 : numa;

        if (s->flags & INVENTORY_SCAN_SUMMARY) { /* what `hostdev list` shows: no more */
                pci->link_port = pci->link_max_width = pci->link_cur_width = -1;
                *ret = TAKE_PTR(d);
                return 0;
        }

        pci->link_port = -1;
        if (!pci_read_config(s, path, pci)) {
                /* no config space (fixture trees): the kernel's link attributes */
                read_link_attr(s, path, "max_link_speed", &pci->link_max_speed);
                read_link_attr(s, path, "current_link_speed", &pci->link_cur_speed);
                if (attr_uint(s, path, "max_link_width", 10, false, &v) >= 0 && v <= 32)
                        pci->link_max_width = (int) v;
                if (attr_uint(s, path, "current_link_width", 10, false, &v) >= 0 && v <= 32)
                        pci->link_cur_width = (int) v;
                pci->is_pcie = pci->link_max_speed || pci->link_cur_speed;
                pci->has_link = pci->is_pcie;
        }

        (void) attr_link_basename(s, path, "physfn", false, &pci->physfn_addr);
        /* only SR-IOV physical functions have virtfnN links */
        if (!pci->physfn_addr && /* a virtual function is no physical function */
            attr_uint(s, path, "sriov_totalvfs", 10, false, &v) >= 0 && v <= 0xffff) {
                pci->sriov_totalvfs = (int) v;
                r = pci_read_vfs(s, path, pci);
                if (r < 0)
                        return r;
        }

        _cleanup_free_ char *reset = path_join(path, "reset", NULL);
        int dfd = s->dfd_path && streq(s->dfd_path, path) ? s->dfd : AT_FDCWD;
        pci->has_reset = reset && faccessat(dfd, dfd == AT_FDCWD ? reset : "reset", F_OK, 0) == 0;
        (void) attr_string(s, path, "reset_method", false, &pci->reset_method);

        r = pci_read_mdev_types(s, path, pci);
        if (r < 0)
                return r;

        char key[64];
        snprintf(key, sizeof key, "pci:v%08Xd%08X", pci->vendor_id, pci->product_id);
        hwdb_names(s, key, &pci->vendor_name, &pci->product_name);

        *ret = TAKE_PTR(d);
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Node device XML in libvirt's form (virNodeDeviceDefFormat, libvirt 9.0), plus <serial> and
 * <port> inside a usb_device capability. */
#include "inventory.h"
#include "util.h"

static void elem(struct strbuf *b, const char *indent, const char *name, const char *text) {
        if (!text)
                return;
        strbuf_appendf(b, "%s<%s>", indent, name);
        strbuf_append_xml_escaped(b, text);
        strbuf_appendf(b, "</%s>\n", name);
}

static void id_elem(struct strbuf *b, const char *name, unsigned id, const char *text) {
        strbuf_appendf(b, "    <%s id='0x%04x'", name, id);
        if (text) {
                strbuf_append(b, ">");
                strbuf_append_xml_escaped(b, text);
                strbuf_appendf(b, "</%s>\n", name);
        } else
                strbuf_append(b, "/>\n");
}

static void pci_address(struct strbuf *b, const char *indent, const struct pci_addr *a) {
        strbuf_appendf(b, "%s<address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n",
                       indent, a->domain, a->bus, a->slot, a->function);
}

static void format_pci(struct strbuf *b, const struct inventory *inv, const struct nodedev *d) {
        const struct pci_device_info *p = &d->u.pci;
        struct pci_addr a;

        strbuf_appendf(b, "    <class>0x%06x</class>\n", p->class);
        strbuf_appendf(b, "    <domain>%u</domain>\n", p->addr.domain);
        strbuf_appendf(b, "    <bus>%u</bus>\n", p->addr.bus);
        strbuf_appendf(b, "    <slot>%u</slot>\n", p->addr.slot);
        strbuf_appendf(b, "    <function>%u</function>\n", p->addr.function);
        id_elem(b, "product", p->product_id, p->product_name);
        id_elem(b, "vendor", p->vendor_id, p->vendor_name);
        if (p->physfn_addr) {
                strbuf_append(b, "    <capability type='phys_function'>\n");
                /* parse the PF address back */
                unsigned dd, bb, ss, ff;
                if (sscanf(p->physfn_addr, "%x:%x:%x.%x", &dd, &bb, &ss, &ff) == 4) {
                        a = (struct pci_addr){ dd, bb, ss, ff };
                        pci_address(b, "      ", &a);
                }
                strbuf_append(b, "    </capability>\n");
        }
        if (p->sriov_totalvfs > 0 || p->virtfn_addrs) {
                strbuf_append(b, "    <capability type='virt_functions'");
                if (p->sriov_totalvfs > 0)
                        strbuf_appendf(b, " maxCount='%d'", p->sriov_totalvfs);
                if (!p->virtfn_addrs)
                        strbuf_append(b, "/>\n");
                else {
                        strbuf_append(b, ">\n");
                        for (char **v = p->virtfn_addrs; *v; v++) {
                                unsigned dd, bb, ss, ff;
                                if (sscanf(*v, "%x:%x:%x.%x", &dd, &bb, &ss, &ff) != 4)
                                        continue;
                                a = (struct pci_addr){ dd, bb, ss, ff };
                                pci_address(b, "      ", &a);
                        }
                        strbuf_append(b, "    </capability>\n");
                }
        }
        if (p->n_mdev_types > 0) {
                strbuf_append(b, "    <capability type='mdev_types'>\n");
                for (size_t i = 0; i < p->n_mdev_types; i++) {
                        const struct mdev_type_info *t = &p->mdev_types[i];
                        strbuf_append(b, "      <type id='");
                        strbuf_append_xml_escaped(b, t->id);
                        strbuf_append(b, "'>\n");
                        elem(b, "        ", "name", t->name);
                        elem(b, "        ", "deviceAPI", t->device_api);
                        strbuf_appendf(b, "        <availableInstances>%u</availableInstances>\n",
                                       t->available_instances);
                        strbuf_append(b, "      </type>\n");
                }
                strbuf_append(b, "    </capability>\n");
        }
        if (p->iommu_group >= 0) {
                strbuf_appendf(b, "    <iommuGroup number='%d'>\n", p->iommu_group);
                for (size_t i = 0; inv && i < inv->n_devs; i++) {
                        const struct nodedev *o = inv->devs[i];
                        if (o->cap == NODEDEV_CAP_PCI && o->u.pci.iommu_group == p->iommu_group)
                                pci_address(b, "      ", &o->u.pci.addr);
                }
                if (!inv)
                        pci_address(b, "      ", &p->addr);
                strbuf_append(b, "    </iommuGroup>\n");
        }
        if (p->numa_node >= 0)
                strbuf_appendf(b, "    <numa node='%d'/>\n", p->numa_node);
        /* virPCIEDeviceInfoFormat: <pci-express/> for PCIe without a link */
        if (p->is_pcie && !p->has_link)
                strbuf_append(b, "    <pci-express/>\n");
        else if (p->is_pcie) {
                strbuf_append(b, "    <pci-express>\n");
                strbuf_append(b, "      <link validity='cap'");
                if (p->link_port >= 0)
                        strbuf_appendf(b, " port='%d'", p->link_port);
                if (p->link_max_speed)
                        strbuf_appendf(b, " speed='%s'", p->link_max_speed);
                strbuf_appendf(b, " width='%d'/>\n", p->link_max_width >= 0 ? p->link_max_width : 0);
                strbuf_append(b, "      <link validity='sta'");
                if (p->link_cur_speed)
                        strbuf_appendf(b, " speed='%s'", p->link_cur_speed);
                strbuf_appendf(b, " width='%d'/>\n", p->link_cur_width >= 0 ? p->link_cur_width : 0);
                strbuf_append(b, "    </pci-express>\n");
        }
}

int nodedev_format_xml(const struct inventory *inv, const struct nodedev *d, char **ret) {
        _cleanup_strbuf_ struct strbuf b = STRBUF_INIT;
        const char *cap = d->cap == NODEDEV_CAP_SYSTEM ? "system" : nodedev_cap_to_string(d->cap);

        strbuf_append(&b, "<device>\n");
        elem(&b, "  ", "name", d->name);
        if (d->cap != NODEDEV_CAP_SYSTEM)
                elem(&b, "  ", "path", d->sysfs_path);
        if (d->devnode) {
                strbuf_append(&b, "  <devnode type='dev'>");
                strbuf_append_xml_escaped(&b, d->devnode);
                strbuf_append(&b, "</devnode>\n");
        }
        elem(&b, "  ", "parent", d->parent);
        if (d->driver) {
                strbuf_append(&b, "  <driver>\n");
                elem(&b, "    ", "name", d->driver);
                strbuf_append(&b, "  </driver>\n");
        }
        if (d->cap == NODEDEV_CAP_SYSTEM) {
                const struct system_info *y = &d->u.system;
                strbuf_append(&b, "  <capability type='system'>\n");
                elem(&b, "    ", "product", y->product);
                strbuf_append(&b, "    <hardware>\n");
                elem(&b, "      ", "vendor", y->hw_vendor);
                elem(&b, "      ", "version", y->hw_version);
                elem(&b, "      ", "serial", y->hw_serial);
                elem(&b, "      ", "uuid", y->hw_uuid ? y->hw_uuid : "00000000-0000-0000-0000-000000000000");
                strbuf_append(&b, "    </hardware>\n    <firmware>\n");
                elem(&b, "      ", "vendor", y->fw_vendor);
                elem(&b, "      ", "version", y->fw_version);
                elem(&b, "      ", "release_date", y->fw_date);
                strbuf_append(&b, "    </firmware>\n  </capability>\n</device>\n");
                goto done;
        }
        strbuf_appendf(&b, "  <capability type='%s'>\n", strempty(cap));
        switch (d->cap) {
        case NODEDEV_CAP_PCI:
                format_pci(&b, inv, d);
                break;
        case NODEDEV_CAP_USB_DEVICE: {
                const struct usb_device_info *u = &d->u.usb;
                strbuf_appendf(&b, "    <bus>%u</bus>\n", u->bus);
                strbuf_appendf(&b, "    <device>%u</device>\n", u->devnum);
                id_elem(&b, "product", u->product_id, u->product_name ? u->product_name : u->product_string);
                id_elem(&b, "vendor", u->vendor_id, u->vendor_name ? u->vendor_name : u->manufacturer);
                elem(&b, "    ", "serial", u->serial);
                elem(&b, "    ", "port", u->port);
                break;
        }
        case NODEDEV_CAP_USB_INTERFACE: {
                const struct usb_interface_info *i = &d->u.usb_if;
                strbuf_appendf(&b, "    <number>%u</number>\n", i->number);
                strbuf_appendf(&b, "    <class>%u</class>\n", i->iface_class);
                strbuf_appendf(&b, "    <subclass>%u</subclass>\n", i->iface_subclass);
                strbuf_appendf(&b, "    <protocol>%u</protocol>\n", i->iface_protocol);
                break;
        }
        case NODEDEV_CAP_NET: {
                const struct net_info *n = &d->u.net;
                elem(&b, "    ", "interface", n->ifname);
                elem(&b, "    ", "address", n->mac);
                if (n->link_state) {
                        strbuf_append(&b, "    <link");
                        if (n->speed > 0)
                                strbuf_appendf(&b, " speed='%u'", n->speed);
                        strbuf_append(&b, " state='");
                        strbuf_append_xml_escaped(&b, n->link_state);
                        strbuf_append(&b, "'/>\n");
                }
                strbuf_append(&b, "    <capability type='80203'/>\n");
                break;
        }
        case NODEDEV_CAP_SCSI_HOST:
                strbuf_appendf(&b, "    <host>%u</host>\n", d->u.scsi_host);
                break;
        case NODEDEV_CAP_SCSI_TARGET:
                strbuf_appendf(&b, "    <target>target%u:%u:%u</target>\n", d->u.scsi.host, d->u.scsi.bus,
                               d->u.scsi.target);
                break;
        case NODEDEV_CAP_SCSI: {
                const struct scsi_info *si = &d->u.scsi;
                strbuf_appendf(&b, "    <host>%u</host>\n", si->host);
                strbuf_appendf(&b, "    <bus>%u</bus>\n", si->bus);
                strbuf_appendf(&b, "    <target>%u</target>\n", si->target);
                strbuf_appendf(&b, "    <lun>%llu</lun>\n", si->lun);
                elem(&b, "    ", "type", si->type);
                break;
        }
        case NODEDEV_CAP_STORAGE: {
                const struct storage_info *st = &d->u.storage;
                elem(&b, "    ", "block", st->block);
                elem(&b, "    ", "bus", st->bus);
                elem(&b, "    ", "drive_type", st->drive_type);
                elem(&b, "    ", "model", st->model);
                elem(&b, "    ", "vendor", st->vendor);
                elem(&b, "    ", "serial", st->serial);
                if (st->removable)
                        strbuf_append(&b, "    <capability type='removable'>\n"
                                          "      <media_available>1</media_available>\n"
                                          "    </capability>\n");
                else
                        strbuf_appendf(&b, "    <size>%llu</size>\n", st->size);
                if (st->logical_block_size) {
                        strbuf_appendf(&b, "    <logical_block_size>%u</logical_block_size>\n",
                                       st->logical_block_size);
                        strbuf_appendf(&b, "    <num_blocks>%llu</num_blocks>\n",
                                       st->size / st->logical_block_size);
                }
                break;
        }
        case NODEDEV_CAP_SCSI_GENERIC:
                elem(&b, "    ", "char", d->u.sg);
                break;
        case NODEDEV_CAP_MDEV:
                if (d->u.mdev.type) {
                        strbuf_append(&b, "    <type id='");
                        strbuf_append_xml_escaped(&b, d->u.mdev.type);
                        strbuf_append(&b, "'/>\n");
                }
                elem(&b, "    ", "uuid", d->u.mdev.uuid);
                if (d->u.mdev.iommu_group >= 0)
                        strbuf_appendf(&b, "    <iommuGroup number='%d'/>\n", d->u.mdev.iommu_group);
                break;
        default:
                break;
        }
        strbuf_append(&b, "  </capability>\n</device>\n");
done:;
        char *s = strbuf_steal(&b);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Build the hand-made fixture sysfs tree tests/data/sys/mini (reproducibly).

It mirrors the real kernel layout (devices/pci0000:00/..., bus/*/devices symlinks, class/*
symlinks, relative links everywhere) for a QEMU-like guest:

  00:00.0 host bridge            iommu group 0
  00:01.0 PCIe root port         group 1, link 8 GT/s x16
    01:00.0 igb PF (SR-IOV)      group 2, net eth0, virtfn0 -> 01:10.0
    01:10.0 igbvf VF             group 3, physfn -> 01:00.0
  00:02.0 e1000                  group 4, net eth1 (down)
  00:03.0 PCI-PCI bridge         group 5
    02:01.0 e1000 behind it      group 5, net eth2
  00:04.0 xhci                   group 6
    usb1 (USB 2.0 root hub, ports 1-4, peers usb2-portN)
      1-1   dongle 46f4:0001 serial DONGLE-A, devnum 2
      1-2   dongle 46f4:0001 serial DONGLE-B, devnum 3
      1-3   hub 0409:55aa, devnum 4
        1-3.1 dongle serial DONGLE-C, devnum 5
        1-3.2 dongle serial DONGLE-D, devnum 6, bound to usbip-host
    usb2 (USB 3.0 root hub)
  00:05.0 virtio-scsi            group 7: host0/target0:0:0/0:0:0:0 (disk, sda, sg0)
  00:06.0 GPU with mdev types    group 8, mdev instance 8f1c.... (group 9)
  virtual: lo
"""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "mini") if len(sys.argv) < 2 else sys.argv[1]


def w(path, value):
    p = os.path.join(OUT, path)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(value + "\n")


def d(path):
    os.makedirs(os.path.join(OUT, path), exist_ok=True)


def ln(path, target):
    """Relative symlink OUT/path -> OUT/target."""
    p = os.path.join(OUT, path)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    t = os.path.relpath(os.path.join(OUT, target), os.path.dirname(p))
    if os.path.lexists(p):
        os.unlink(p)
    os.symlink(t, p)


PCI = "devices/pci0000:00"


def pci(path, vendor, device, cls, group, driver=None, sv="0x1af4", sd="0x1100", link=None,
        numa="-1"):
    addr = os.path.basename(path)
    w(f"{path}/vendor", vendor)
    w(f"{path}/device", device)
    w(f"{path}/subsystem_vendor", sv)
    w(f"{path}/subsystem_device", sd)
    w(f"{path}/class", cls)
    w(f"{path}/numa_node", numa)
    w(f"{path}/reset_method", "flr bus")
    w(f"{path}/reset", "")
    w(f"{path}/uevent", f"PCI_SLOT_NAME={addr}")
    ln(f"{path}/subsystem", "bus/pci")
    d(f"kernel/iommu_groups/{group}/devices")
    ln(f"{path}/iommu_group", f"kernel/iommu_groups/{group}")
    ln(f"kernel/iommu_groups/{group}/devices/{addr}", path)
    ln(f"bus/pci/devices/{addr}", path)
    if driver:
        d(f"bus/pci/drivers/{driver}")
        ln(f"{path}/driver", f"bus/pci/drivers/{driver}")
        ln(f"bus/pci/drivers/{driver}/{addr}", path)
    if link:
        w(f"{path}/max_link_speed", link[0])
        w(f"{path}/max_link_width", link[1])
        w(f"{path}/current_link_speed", link[2])
        w(f"{path}/current_link_width", link[3])


def config(path, size, vendor, device, cls, pcie_type=None, lnkcap=0, lnksta=0):
    """A config space file: header, and optionally a PCI Express capability at 0x40."""
    import struct
    cfg = bytearray(size)
    struct.pack_into("<HH", cfg, 0, int(vendor, 16), int(device, 16))
    c = int(cls, 16)
    cfg[0x09], cfg[0x0a], cfg[0x0b] = c & 0xff, (c >> 8) & 0xff, (c >> 16) & 0xff
    if pcie_type is not None:
        struct.pack_into("<H", cfg, 0x06, 0x0010)  # status: capability list
        cfg[0x34] = 0x40
        cfg[0x40], cfg[0x41] = 0x10, 0x00          # PCI Express, last capability
        struct.pack_into("<H", cfg, 0x42, 0x0002 | (pcie_type << 4))
        struct.pack_into("<I", cfg, 0x4c, lnkcap)
        struct.pack_into("<H", cfg, 0x52, lnksta)
    p = os.path.join(OUT, path, "config")
    with open(p, "wb") as f:
        f.write(bytes(cfg))


def net(path, ifname, mac, state, speed):
    p = f"{path}/net/{ifname}"
    w(f"{p}/address", mac)
    w(f"{p}/operstate", state)
    w(f"{p}/speed", speed)
    w(f"{p}/mtu", "1500")
    w(f"{p}/ifindex", "2")
    if not path.startswith("devices/virtual"):
        ln(f"{p}/device", path)
    ln(f"class/net/{ifname}", p)


def usb_dev(path, busnum, devnum, vid, pid, serial=None, manufacturer=None, product=None,
            speed="480", cls="00", version=" 2.00", driver="usb", port=None):
    name = os.path.basename(path)
    w(f"{path}/busnum", str(busnum))
    w(f"{path}/devnum", str(devnum))
    w(f"{path}/idVendor", vid)
    w(f"{path}/idProduct", pid)
    if serial is not None:
        w(f"{path}/serial", serial)
    if manufacturer:
        w(f"{path}/manufacturer", manufacturer)
    if product:
        w(f"{path}/product", product)
    w(f"{path}/speed", speed)
    w(f"{path}/bDeviceClass", cls)
    w(f"{path}/bDeviceSubClass", "00")
    w(f"{path}/bDeviceProtocol", "00" if cls != "09" else "01")
    w(f"{path}/version", version)
    w(f"{path}/bNumInterfaces", " 1")
    w(f"{path}/uevent", f"DEVTYPE=usb_device\nBUSNUM={busnum:03d}\nDEVNUM={devnum:03d}")
    ln(f"{path}/subsystem", "bus/usb")
    ln(f"bus/usb/devices/{name}", path)
    d(f"bus/usb/drivers/{driver}")
    ln(f"{path}/driver", f"bus/usb/drivers/{driver}")
    if port:
        ln(f"{path}/port", port)


def usb_if(path, cls, sub, proto, driver):
    name = os.path.basename(path)
    w(f"{path}/bInterfaceNumber", "00")
    w(f"{path}/bInterfaceClass", cls)
    w(f"{path}/bInterfaceSubClass", sub)
    w(f"{path}/bInterfaceProtocol", proto)
    w(f"{path}/bAlternateSetting", " 0")
    ln(f"bus/usb/devices/{name}", path)
    ln(f"{path}/subsystem", "bus/usb")
    if driver:
        d(f"bus/usb/drivers/{driver}")
        ln(f"{path}/driver", f"bus/usb/drivers/{driver}")


def main():
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    for b in ("pci", "usb", "scsi", "mdev"):
        d(f"bus/{b}/devices")
    for c in ("net", "block", "scsi_generic", "scsi_host"):
        d(f"class/{c}")

    pci(f"{PCI}/0000:00:00.0", "0x8086", "0x29c0", "0x060000", 0, sv="0x1af4")
    rp = f"{PCI}/0000:00:01.0"
    pci(rp, "0x1b36", "0x000c", "0x060400", 1, driver="pcieport",
        link=("16.0 GT/s PCIe", "16", "8.0 GT/s PCIe", "16"))
    # config space: root port with a link (port 1, cap 16 GT/s x16, sta 8 GT/s x16)
    config(rp, 4096, "0x1b36", "0x000c", "0x060400", pcie_type=4,
           lnkcap=(1 << 24) | (16 << 4) | 4, lnksta=(16 << 4) | 3)
    # host bridge: extended config space but no capability list -> PCIe without link
    config(f"{PCI}/0000:00:00.0", 4096, "0x8086", "0x29c0", "0x060000")
    pf = f"{rp}/0000:01:00.0"
    pci(pf, "0x8086", "0x10c9", "0x020000", 2, driver="igb", sv="0x8086", sd="0xa03c",
        link=("2.5 GT/s PCIe", "4", "2.5 GT/s PCIe", "1"), numa="0")
    w(f"{pf}/sriov_totalvfs", "7")
    w(f"{pf}/sriov_numvfs", "1")
    vf = f"{rp}/0000:01:10.0"
    pci(vf, "0x8086", "0x10ca", "0x020000", 3, driver="igbvf", sv="0x8086", sd="0xa03c",
        numa="0")
    ln(f"{pf}/virtfn0", vf)
    ln(f"{vf}/physfn", pf)
    net(pf, "eth0", "52:54:00:12:34:56", "up", "1000")

    e1 = f"{PCI}/0000:00:02.0"
    pci(e1, "0x8086", "0x100e", "0x020000", 4, driver="e1000")
    net(e1, "eth1", "52:54:00:ab:cd:ef", "down", "-1")

    br = f"{PCI}/0000:00:03.0"
    pci(br, "0x1b36", "0x0001", "0x060400", 5)
    config(br, 256, "0x1b36", "0x0001", "0x060400")  # conventional PCI
    e2 = f"{br}/0000:02:01.0"
    pci(e2, "0x8086", "0x100e", "0x020000", 5, driver="e1000")
    net(e2, "eth2", "52:54:00:00:00:02", "up", "1000")

    # --- USB -------------------------------------------------------------------------------
    xhci = f"{PCI}/0000:00:04.0"
    pci(xhci, "0x1b36", "0x000d", "0x0c0330", 6, driver="xhci_hcd")
    u1 = f"{xhci}/usb1"
    u2 = f"{xhci}/usb2"
    usb_dev(u1, 1, 1, "1d6b", "0002", serial="0000:00:04.0", manufacturer="Linux xhci-hcd",
            product="xHCI Host Controller", cls="09")
    usb_if(f"{u1}/1-0:1.0", "09", "00", "00", "hub")
    usb_dev(u2, 2, 1, "1d6b", "0003", serial="0000:00:04.0", manufacturer="Linux xhci-hcd",
            product="xHCI Host Controller", cls="09", speed="5000", version=" 3.00")
    usb_if(f"{u2}/2-0:1.0", "09", "00", "00", "hub")
    for n in range(1, 5):
        p1 = f"{u1}/1-0:1.0/usb1-port{n}"
        p2 = f"{u2}/2-0:1.0/usb2-port{n}"
        w(f"{p1}/connect_type", "hotplug")
        w(f"{p2}/connect_type", "hotplug")
        ln(f"{p1}/peer", p2)
        ln(f"{p2}/peer", p1)

    def dongle(path, devnum, serial, port, driver="usb", ifdriver="usb-storage"):
        usb_dev(path, 1, devnum, "46f4", "0001", serial=serial, manufacturer="QEMU",
                product="QEMU USB HARDDRIVE", port=port, driver=driver)
        usb_if(f"{path}/{os.path.basename(path)}:1.0", "08", "06", "50", ifdriver)

    dongle(f"{u1}/1-1", 2, "DONGLE-A", f"{u1}/1-0:1.0/usb1-port1")
    dongle(f"{u1}/1-2", 3, "DONGLE-B", f"{u1}/1-0:1.0/usb1-port2")
    hub = f"{u1}/1-3"
    usb_dev(hub, 1, 4, "0409", "55aa", manufacturer=None, product=None, cls="09",
            port=f"{u1}/1-0:1.0/usb1-port3")
    usb_if(f"{hub}/1-3:1.0", "09", "00", "00", "hub")
    for n in range(1, 5):
        w(f"{hub}/1-3:1.0/1-3-port{n}/connect_type", "hotplug")
    dongle(f"{hub}/1-3.1", 5, "DONGLE-C", f"{hub}/1-3:1.0/1-3-port1")
    dongle(f"{hub}/1-3.2", 6, "DONGLE-D", f"{hub}/1-3:1.0/1-3-port2", driver="usbip-host",
           ifdriver=None)

    # --- SCSI ------------------------------------------------------------------------------
    vs = f"{PCI}/0000:00:05.0"
    pci(vs, "0x1af4", "0x1048", "0x010000", 7, driver="virtio-pci")
    h = f"{vs}/virtio3/host0"
    w(f"{h}/uevent", "DEVTYPE=scsi_host")
    w(f"{h}/scsi_host/host0/unique_id", "0")
    w(f"{h}/scsi_host/host0/proc_name", "virtio_scsi")
    ln("class/scsi_host/host0", f"{h}/scsi_host/host0")
    ln("bus/scsi/devices/host0", h)
    t = f"{h}/target0:0:0"
    w(f"{t}/uevent", "DEVTYPE=scsi_target")
    ln("bus/scsi/devices/target0:0:0", t)
    s = f"{t}/0:0:0:0"
    w(f"{s}/type", "0")
    w(f"{s}/vendor", "QEMU    ")
    w(f"{s}/model", "QEMU HARDDISK   ")
    w(f"{s}/rev", "2.5+")
    d("bus/scsi/drivers/sd")
    ln(f"{s}/driver", "bus/scsi/drivers/sd")
    ln("bus/scsi/devices/0:0:0:0", s)
    w(f"{s}/scsi_generic/sg0/dev", "21:0")
    ln("class/scsi_generic/sg0", f"{s}/scsi_generic/sg0")
    b = f"{s}/block/sda"
    w(f"{b}/size", "2097152")
    w(f"{b}/removable", "0")
    w(f"{b}/dev", "8:0")
    w(f"{b}/queue/logical_block_size", "512")
    ln(f"{b}/device", s)
    ln("class/block/sda", b)
    w(f"{b}/sda1/partition", "1")
    w(f"{b}/sda1/size", "2095104")
    ln("class/block/sda1", f"{b}/sda1")

    # --- mdev --------------------------------------------------------------------------------
    gpu = f"{PCI}/0000:00:06.0"
    pci(gpu, "0x10de", "0x13f2", "0x030000", 8, driver="nvidia", sv="0x10de", sd="0x115e")
    ty = f"{gpu}/mdev_supported_types/nvidia-11"
    w(f"{ty}/name", "GRID M60-0B")
    w(f"{ty}/device_api", "vfio-pci")
    w(f"{ty}/available_instances", "15")
    uuid = "8f1c4a2e-0c2b-4a5e-9d3f-6a7b8c9d0e1f"
    m = f"{gpu}/{uuid}"
    ln(f"{m}/mdev_type", ty)
    d("kernel/iommu_groups/9/devices")
    ln(f"{m}/iommu_group", "kernel/iommu_groups/9")
    d("bus/mdev/drivers/vfio_mdev")
    ln(f"{m}/driver", "bus/mdev/drivers/vfio_mdev")
    ln(f"bus/mdev/devices/{uuid}", m)

    # --- virtual -----------------------------------------------------------------------------
    net("devices/virtual", "lo", "00:00:00:00:00:00", "unknown", "-1")
    # git keeps no empty directories: mark them so a checkout has every link target
    for root, dirs, files in os.walk(OUT):
        if not dirs and not files:
            open(os.path.join(root, ".keep"), "w").close()
    print(f"fixture written to {OUT}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Generate a large synthetic sysfs tree for the inventory benchmark.

    gen-tree.py DIR [--scale K] [--pci-only]    (K = 1..8, default 1)

creates DIR/sys (for HOSTDEV_SYSFS_ROOT, and for lspci as -O sysfs.path=DIR/sys/bus/pci),
DIR/dongles.xml (64 <hostdev> selecting dongles by serial), DIR/ports.xml (64 by port) and
DIR/counts (what was made). At scale 1:

  PCI: 256 IOMMU groups, each one SR-IOV physical function (8086:1572, sriov_totalvfs 15)
       and its 15 virtual functions (8086:154c): 4096 functions; PF/VF links both ways.
  USB: 16 buses (one xHCI controller each, 16 more PCI functions), each a root hub ->
       4 hubs -> 16 hubs -> 64 dongles 46f4:0001 with unique serials: 1024 dongles behind
       hub chains of depth 2 (plus 336 hubs incl. root hubs).
  net: 512 interfaces, one on each of the first 512 VFs.

--pci-only: the SR-IOV functions alone (4096 x K), no USB, no net: the tree on which
`hostdev list --json` and `lspci -D -nn` list the same devices.
Scale K multiplies every count by K. The layout follows the kernel's (bus/, class/, kernel/
iommu_groups, devices/pciDDDD:00/...), with a 64-byte config space for lspci.
"""
import os
import struct
import sys

GROUP_FUNCS = 16  # 1 PF + 15 VFs


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith('-'):
        sys.exit(__doc__)
    root = os.path.abspath(args[0])
    scale = 1
    pci_only = '--pci-only' in args
    args = [a for a in args if a != '--pci-only']
    if len(args) == 3 and args[1] == '--scale':
        scale = int(args[2])
    elif len(args) != 1:
        sys.exit(__doc__)
    if not 1 <= scale <= 8:
        sys.exit('gen-tree.py: scale must be 1..8')
    S = os.path.join(root, 'sys')
    if os.path.exists(S):
        sys.exit('gen-tree.py: %s exists' % S)

    def mk(p):
        os.makedirs(p, exist_ok=True)

    def w(p, text):
        with open(p, 'w') as f:
            f.write(text)

    def ln(target, link):
        os.symlink(os.path.relpath(target, os.path.dirname(link)), link)

    for d in ('bus/pci/devices', 'bus/pci/drivers/ixgbe', 'bus/pci/drivers/iavf',
              'bus/pci/drivers/vfio-pci', 'bus/pci/drivers/xhci_hcd', 'bus/usb/devices',
              'bus/usb/drivers/usb', 'bus/usb/drivers/hub', 'kernel/iommu_groups', 'class/net'):
        mk(os.path.join(S, d))

    npci = 0

    def pcidev(addr, ven, dev, cls, group, drv):
        nonlocal npci
        dom = addr[:4]
        d = os.path.join(S, 'devices', 'pci%s:00' % dom, addr)
        mk(d)
        w(d + '/vendor', '0x%04x\n' % ven)
        w(d + '/device', '0x%04x\n' % dev)
        w(d + '/subsystem_vendor', '0x%04x\n' % ven)
        w(d + '/subsystem_device', '0x0000\n')
        w(d + '/class', '0x%06x\n' % cls)
        w(d + '/revision', '0x01\n')
        w(d + '/numa_node', '-1\n')
        w(d + '/irq', '0\n')
        w(d + '/enable', '1\n')
        w(d + '/driver_override', '(null)\n')
        w(d + '/resource', '0x0000000000000000 0x0000000000000000 0x0000000000000000\n' * 7)
        cfg = struct.pack('<HHHHBBBBBBBB', ven, dev, 0x0006, 0x0010, 1,
                          cls & 0xff, (cls >> 8) & 0xff, (cls >> 16) & 0xff, 0, 0, 0, 0)
        cfg += b'\0' * (0x2c - len(cfg)) + struct.pack('<HH', ven, 0) + b'\0' * 16
        with open(d + '/config', 'wb') as f:
            f.write(cfg)
        w(d + '/uevent', 'DRIVER=%s\nPCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:0000\n'
          'PCI_SLOT_NAME=%s\nMODALIAS=pci:v%08Xd%08Xsv%08Xsd00000000bc%02Xsc%02Xi%02X\n'
          % (drv, cls, ven, dev, ven, addr, ven, dev, ven, cls >> 16, (cls >> 8) & 0xff, cls & 0xff))
        ln(os.path.join(S, 'bus/pci'), d + '/subsystem')
        ln(d, os.path.join(S, 'bus/pci/devices', addr))
        g = os.path.join(S, 'kernel/iommu_groups', str(group))
        mk(g + '/devices')
        ln(g, d + '/iommu_group')
        ln(d, os.path.join(g, 'devices', addr))
        ln(os.path.join(S, 'bus/pci/drivers', drv), d + '/driver')
        ln(d, os.path.join(S, 'bus/pci/drivers', drv, addr))
        npci += 1
        return d

    # SR-IOV: group g -> domain g // 128, bus (g % 128) + 1; PF at 00.0, VFs 00.1 .. 01.7
    ngroups = 256 * scale
    nnet = 0 if pci_only else 512 * scale
    nvf = 0
    vf_dirs = []
    for g in range(ngroups):
        dom, bus = g // 128, g % 128 + 1
        addrs = ['%04x:%02x:%02x.%x' % (dom, bus, i // 8, i % 8) for i in range(GROUP_FUNCS)]
        pf = pcidev(addrs[0], 0x8086, 0x1572, 0x020000, g, 'ixgbe')
        w(pf + '/sriov_totalvfs', '%d\n' % (GROUP_FUNCS - 1))
        w(pf + '/sriov_numvfs', '%d\n' % (GROUP_FUNCS - 1))
        for i, a in enumerate(addrs[1:]):
            vf = pcidev(a, 0x8086, 0x154c, 0x020000, g, 'iavf')
            ln(pf, vf + '/physfn')
            ln(vf, pf + '/virtfn%d' % i)
            vf_dirs.append(vf)
            nvf += 1

    # net: one interface on each of the first nnet VFs
    for i in range(nnet):
        name = 'ens%d' % i
        d = os.path.join(vf_dirs[i], 'net', name)
        mk(d)
        w(d + '/address', '52:54:%02x:%02x:%02x:%02x\n' % (i >> 24 & 0xff, i >> 16 & 0xff,
                                                         i >> 8 & 0xff, i & 0xff))
        w(d + '/operstate', 'up\n')
        w(d + '/mtu', '1500\n')
        w(d + '/ifindex', '%d\n' % (i + 2))
        w(d + '/uevent', 'INTERFACE=%s\nIFINDEX=%d\n' % (name, i + 2))
        ln(d, os.path.join(S, 'class/net', name))

    # USB: a controller per bus in domain 0xff00+, bus 0
    nusb_bus = 0 if pci_only else 16 * scale
    ndongle = 0
    nhub = 0
    dongles = []  # (serial, bus, port)

    def usbdev(d, bus, devnum, ven, prod, cls, speed, drv, product=None, serial=None):
        mk(d)
        w(d + '/busnum', '%d\n' % bus)
        w(d + '/devnum', '%d\n' % devnum)
        w(d + '/idVendor', '%04x\n' % ven)
        w(d + '/idProduct', '%04x\n' % prod)
        w(d + '/bDeviceClass', '%02x\n' % cls)
        w(d + '/bDeviceSubClass', '00\n')
        w(d + '/bDeviceProtocol', '00\n')
        w(d + '/bNumInterfaces', ' 1\n')
        w(d + '/bConfigurationValue', '1\n')
        w(d + '/speed', '%s\n' % speed)
        w(d + '/version', ' 2.00\n')
        if product:
            w(d + '/product', product + '\n')
        if serial:
            w(d + '/serial', serial + '\n')
        w(d + '/uevent', 'DEVTYPE=usb_device\nBUSNUM=%03d\nDEVNUM=%03d\nPRODUCT=%x/%x/100\n'
          % (bus, devnum, ven, prod))
        ln(os.path.join(S, 'bus/usb'), d + '/subsystem')
        ln(os.path.join(S, 'bus/usb/drivers', drv), d + '/driver')
        ln(d, os.path.join(S, 'bus/usb/devices', os.path.basename(d)))

    def usbif(dev, name, cls, drv, nports=0, port_prefix=None):
        i = os.path.join(dev, name)
        mk(i)
        w(i + '/bInterfaceNumber', '00\n')
        w(i + '/bInterfaceClass', '%02x\n' % cls)
        w(i + '/bInterfaceSubClass', '00\n')
        w(i + '/bInterfaceProtocol', '00\n')
        w(i + '/uevent', 'DEVTYPE=usb_interface\n')
        ln(os.path.join(S, 'bus/usb'), i + '/subsystem')
        if drv:
            ln(os.path.join(S, 'bus/usb/drivers', drv), i + '/driver')
        ln(i, os.path.join(S, 'bus/usb/devices', name))
        for n in range(1, nports + 1):
            mk(os.path.join(i, '%s-port%d' % (port_prefix, n)))
        return i

    def hub(d, bus, devnum, port_prefix, portdir, root=False):
        nonlocal nhub
        usbdev(d, bus, devnum, 0x1d6b if root else 0x05e3, 0x0002 if root else 0x0610, 9, 480,
               'usb', 'xHCI Host Controller' if root else 'USB2.0 Hub')
        name = os.path.basename(d)
        ifn = usbif(d, ('%d-0' % bus if root else name) + ':1.0', 9, 'hub', 4, port_prefix)
        if portdir:
            ln(portdir, d + '/port')
        nhub += 1
        return ifn

    for b in range(1, nusb_bus + 1):
        hc = pcidev('%04x:00:%02x.%x' % (0xff00 + (b - 1) // 256, (b - 1) // 8 % 32, (b - 1) % 8),
                    0x8086, 0x1e31, 0x0c0330, 100000 + b, 'xhci_hcd')
        rh = os.path.join(hc, 'usb%d' % b)
        devnum = 1
        rif = hub(rh, b, devnum, 'usb%d' % b, None, root=True)
        for p1 in range(1, 5):
            n1 = '%d-%d' % (b, p1)
            d1 = os.path.join(rh, n1)
            devnum += 1
            if1 = hub(d1, b, devnum, n1, os.path.join(rif, 'usb%d-port%d' % (b, p1)))
            for p2 in range(1, 5):
                n2 = '%s.%d' % (n1, p2)
                d2 = os.path.join(d1, n2)
                devnum += 1
                if2 = hub(d2, b, devnum, n2, os.path.join(if1, '%s-port%d' % (n1, p2)))
                for p3 in range(1, 5):
                    n3 = '%s.%d' % (n2, p3)
                    d3 = os.path.join(d2, n3)
                    devnum += 1
                    serial = 'DNG%05d' % ndongle
                    usbdev(d3, b, devnum, 0x46f4, 0x0001, 0, 12, 'usb', 'Sentinel HL', serial)
                    usbif(d3, n3 + ':1.0', 3, None)
                    ln(os.path.join(if2, '%s-port%d' % (n2, p3)), d3 + '/port')
                    dongles.append((serial, b, n3.split('-', 1)[1]))
                    ndongle += 1

    # 64 dongles spread over the whole tree, by serial and by port
    pick = [] if not dongles else [dongles[(i * len(dongles)) // 64 + (i % 7)] for i in range(64)]
    with open(os.path.join(root, 'dongles.xml'), 'w') as f:
        f.write('<devices>\n')
        for s, _, _ in pick:
            f.write("  <hostdev mode='subsystem' type='usb'><source><vendor id='0x46f4'/>"
                    "<product id='0x0001'/><serial>%s</serial></source></hostdev>\n" % s)
        f.write('</devices>\n')
    with open(os.path.join(root, 'ports.xml'), 'w') as f:
        f.write('<devices>\n')
        for _, b, port in pick:
            f.write("  <hostdev mode='subsystem' type='usb'><source>"
                    "<address bus='%d' port='%s'/></source></hostdev>\n" % (b, port))
        f.write('</devices>\n')
    with open(os.path.join(root, 'counts'), 'w') as f:
        f.write('scale=%d\npci=%d\npci_vf=%d\niommu_groups=%d\nusb_dongles=%d\nusb_hubs=%d\n'
                'net=%d\nusb_devices=%d\ntotal=%d\n'
                % (scale, npci, nvf, ngroups, ndongle, nhub, nnet, ndongle + nhub,
                   npci + ndongle + nhub + nnet))


if __name__ == '__main__':
    main()

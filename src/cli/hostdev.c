/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hostdev: the command-line tool. One file per verb; this file is the dispatch table. */
#include <stdarg.h>

#include "cli.h"
#include "config.h"

static const struct verb verbs[] = {
        { "list", verb_list, "[--cap CAP[,CAP]] [--tree] [--json]",
          "list host devices and the domain holding each",
          "  --cap CAP[,CAP]  only devices with these libvirt nodedev capabilities: usb_device,\n"
          "                   usb, pci, net, scsi_host, scsi_target, scsi, storage,\n"
          "                   scsi_generic, mdev\n"
          "  --tree           show the parent/child tree from 'computer'\n"
          "  --json           machine-readable output (see hostdev(1))\n",
          "hostdev list --cap usb_device" },
        { "dumpxml", verb_dumpxml, "NAME",
          "print a device's libvirt node-device XML (plus <serial>/<port> for USB)", NULL,
          "hostdev dumpxml usb_1_4_1" },
        { "validate", verb_validate, "FILE",
          "check a <hostdev>, <devices> or <domain> file; print it in libvirt's form", NULL,
          "hostdev validate dongle.xml" },
        { "resolve", verb_resolve, "FILE [--json]",
          "show which host device each <hostdev> selects and who holds it",
          "  --json           machine-readable output\n",
          "hostdev resolve vm-a.xml" },
        { "qemu-args", verb_qemu_args, "FILE [--name DOMAIN]",
          "print QEMU arguments for the devices, one per line (only looks: claims nothing)",
          "  --name DOMAIN    domain name (default: the file's <name>)\n"
          "  Resolves the devices and prints -device/-blockdev in QEMU's JSON syntax; it does not\n"
          "  claim them or prepare the host: use 'run' or 'attach-device' for that.\n",
          "hostdev qemu-args --name vm-a dongle.xml" },
        { "attach-device", verb_attach_device,
          "DOMAIN FILE --qmp SOCKET | --connect URI [--config] [--netns PATH|PID] [--root DIR]",
          "claim, prepare and hotplug devices into a running VM",
          "  --qmp SOCKET     the VM's QMP socket\n"
          "  --connect URI    the domain is a libvirt domain on this connection\n"
          "                   (qemu:///system, qemu+ssh://host/system); libvirt gets a plain\n"
          "                   <hostdev> naming the selected device (excludes --qmp/--netns/--root)\n"
          "  --config         with --connect: also keep the selectors in the domain's <metadata>\n"
          "  --netns PATH|PID container network namespace (capabilities net): the interface\n"
          "                   moves there with its <ip> addresses and <route>s\n"
          "  --root DIR       container root (capabilities storage/misc): the node is created there\n"
          "  --qmp is not needed when FILE has only capabilities-mode devices.\n",
          "hostdev attach-device vm-a dongle.xml --qmp /run/vm-a.qmp" },
        { "detach-device", verb_detach_device,
          "DOMAIN FILE [--qmp SOCKET | --connect URI [--config]] [--netns PATH|PID] [--root DIR]",
          "unplug devices from a VM, give them back and release their claims",
          "  --qmp SOCKET     the VM's QMP socket (default: the one recorded at attach)\n"
          "  --connect URI    the domain is a libvirt domain on this connection\n"
          "  --config         with --connect: also keep the selectors in the domain's <metadata>\n"
          "  --netns PATH|PID accepted; the namespace recorded at attach is used\n"
          "  --root DIR       accepted; the root recorded at attach is used\n",
          "hostdev detach-device vm-a dongle.xml" },
        { "run", verb_run,
          "[--name DOMAIN] [--no-watch] FILE -- QEMU-COMMAND...",
          "claim devices, run QEMU with them, re-attach replugged dongles, release at exit",
          "  --name DOMAIN    domain name (default: the file's <name>)\n"
          "  --no-watch       do not re-attach replugged USB devices while QEMU runs\n",
          "hostdev run --name vm-a dongle.xml -- qemu-system-x86_64 -m 1G disk.img" },
        { "nodedev-detach", verb_nodedev_detach, "NAME [--driver vfio-pci] [--force]",
          "unbind a PCI device from its host driver and bind it to vfio-pci",
          "  --driver DRIVER  stub driver: vfio-pci (default) or pci-stub\n"
          "  --force          detach even if the host appears to use the device\n",
          "hostdev nodedev-detach pci_0000_00_03_0" },
        { "nodedev-reattach", verb_nodedev_reattach, "NAME",
          "give a PCI device back to its original host driver", NULL,
          "hostdev nodedev-reattach pci_0000_00_03_0" },
        { "nodedev-reset", verb_nodedev_reset, "NAME",
          "reset a PCI device with the method the kernel offers", NULL,
          "hostdev nodedev-reset pci_0000_00_03_0" },
        { "status", verb_status, "[--json] [--connect URI]",
          "show every claim: device, identity, domain, since, state",
          "  --json           machine-readable output\n"
          "  --connect URI    first import what the libvirt domains on this connection\n"
          "                   hold, then show only their claims\n",
          "hostdev status --json" },
        { "release", verb_release, "DOMAIN [--connect URI]",
          "drop a domain's claims and give its devices back",
          "  --connect URI    the domain is a libvirt domain on this connection: detach\n"
          "                   its claimed devices from it first\n",
          "hostdev release vm-a" },
        { "watch", verb_watch, "[--connect URI] [--domain DOMAIN] [--udev-events] [--verbose]",
          "the daemon: re-attach replugged dongles to their VMs, reconcile claims",
          "  --connect URI    follow the libvirt domains on this connection instead of\n"
          "                   QMP-attached ones\n"
          "  --domain DOMAIN  only follow this domain's claims\n"
          "  --udev-events    act on a new device after udevd's rules ran, not as the\n"
          "                   kernel reports it (for a QEMU that is not root and gets\n"
          "                   access to the device node from a udev rule)\n"
          "  --verbose        also log each uevent and decision\n",
          "hostdev watch" },
        { "export", verb_export, "FILE",
          "serve the selected USB devices over USB/IP (usbip-host + usbipd)", NULL,
          "hostdev export dongles.xml" },
        { "unexport", verb_unexport, "FILE",
          "stop serving devices over USB/IP and give them back to their driver", NULL,
          "hostdev unexport dongles.xml" },
};

const struct verb *verb_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        return &verbs[i];
        return NULL;
}

void verb_help(const struct verb *v, FILE *f) {
        fprintf(f, "usage: hostdev %s %s\n\n%s\n", v->name, v->usage, v->summary);
        if (v->help)
                fprintf(f, "\noptions:\n%s", v->help);
        if (v->example)
                fprintf(f, "\nexample:\n  %s\n", v->example);
}

bool verb_wants_help(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--"))
                        return false;
                if (streq(argv[i], "--help") || streq(argv[i], "-h"))
                        return true;
        }
        return false;
}

static void vlog(const char *level, const char *fmt, va_list ap) {
        char *s = NULL;
        if (vasprintf(&s, fmt, ap) < 0)
                return;
        fprintf(stderr, "hostdev: %s%s\n", level, s);
        free(s);
}

void log_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog("error: ", fmt, ap);
        va_end(ap);
}

void log_warning(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog("warning: ", fmt, ap);
        va_end(ap);
}

void log_info(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog("", fmt, ap);
        va_end(ap);
}

int report_error(int r, const char *msg, const char *what) {
        if (msg)
                log_error("%s", msg);
        else if (r == -ENOMEM)
                log_error("%s: out of memory", what);
        else
                log_error("%s: %s", what, strerror(r < 0 ? -r : r));
        return r;
}

static void usage(FILE *f) {
        fprintf(f, "usage: hostdev [--version] [--help] COMMAND [ARGS...]\n\n"
                   "Pass host devices (USB, PCI, SCSI, network) through to QEMU/KVM guests,\n"
                   "using libvirt's <hostdev> model.\n\ncommands:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(f, "  %-17s %s\n", verbs[i].name, verbs[i].summary);
        fprintf(f, "\nRun 'hostdev COMMAND --help' for a command's options and an example.\n"
                   "See hostdev(1) and hostdev-xml(5).\n");
}

int main(int argc, char **argv) {
        const struct verb *v;

        if (argc < 2) {
                usage(stderr);
                return EXIT_USAGE;
        }
        if (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
                if (argc > 2 && (v = verb_find(argv[2]))) {
                        verb_help(v, stdout);
                        return EXIT_OK;
                }
                usage(stdout);
                return EXIT_OK;
        }
        if (streq(argv[1], "--version") || streq(argv[1], "-V")) {
                printf("hostdev %s\n", HOSTDEV_VERSION);
                return EXIT_OK;
        }
        v = verb_find(argv[1]);
        if (!v) {
                log_error("unknown command '%s'; run 'hostdev --help' for the list", argv[1]);
                return EXIT_USAGE;
        }
        if (verb_wants_help(argc - 1, argv + 1)) {
                verb_help(v, stdout);
                return EXIT_OK;
        }
        optind = 0; /* reset getopt for the verb */
        return v->func(argc - 1, argv + 1);
}

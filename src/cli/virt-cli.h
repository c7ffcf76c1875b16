/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The --connect URI (libvirt domain) forms of the domain verbs; the work is in src/lib/virt.c.
 * Hooks: attach.c, detach, status.c, release.c and watch.c call virt_cli_uri() first and hand
 * over when it finds --connect. */

#include <stdbool.h>

/* The value of --connect URI / --connect=URI in argv (before "--"), or NULL. */
const char *virt_cli_uri(int argc, char **argv);

/* attach-device / detach-device DOMAIN FILE --connect URI [--config] */
int virt_cli_attach_detach(int argc, char **argv, bool attach);
/* watch --connect URI [--domain DOMAIN] [--verbose] */
int virt_cli_watch(int argc, char **argv);
/* status --connect: import what libvirt holds into the registry first (best effort). */
void virt_cli_sync(const char *uri);
/* release DOMAIN --connect URI: detach the domain's claimed devices from libvirt first.
 * Returns < 0 when a device could not be detached (its claim must stay). */
int virt_cli_release(const char *uri, const char *domain);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The public API (include/hostdev/hostdev.h): thin wrappers over the internal modules. */
#include "config.h"
#include "hostdev/hostdev.h"
#include "macro.h"

_public_ const char *hostdev_version(void) {
        return HOSTDEV_VERSION;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the uevent parser (src/lib/uevent.c): arbitrary bytes as a raw uevent
 * buffer must give an event or -EINVAL, never a crash, leak or out-of-bounds read. The same
 * bytes, with spaces as separators, go through the watch loop's injection line format. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uevent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct usb_uevent *ev = NULL;
        char *copy;

        if (usb_uevent_parse((const char *) data, size, &ev) == 0) {
                (void) usb_uevent_is_usb_device(ev);
                free(usb_node_name_from_sysname(ev->sysname));
                (void) uevent_action_to_string(ev->action);
                usb_uevent_free(ev);
        }
        /* the injection format: spaces become NULs */
        copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        for (size_t i = 0; i < size; i++)
                if (copy[i] == ' ')
                        copy[i] = 0;
        ev = NULL;
        if (usb_uevent_parse(copy, size, &ev) == 0)
                usb_uevent_free(ev);
        free(copy);
        return 0;
}

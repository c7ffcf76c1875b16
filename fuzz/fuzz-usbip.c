/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the USB/IP reply decoders and the vhci_hcd status parser: arbitrary
 * bytes must give a decoded reply or a clean error — never a crash, an out-of-bounds read, a
 * leak or a hang. The first byte picks the decoder. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "usbip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1 || size > USBIP_MAX_DEVLIST_SIZE)
                return 0;
        const uint8_t *p = data + 1;
        size_t n = size - 1;
        /* an exact-size copy, so any read past the end is caught */
        uint8_t *buf = malloc(n ? n : 1);
        if (!buf)
                return 0;
        memcpy(buf, p, n);

        switch (data[0] % 4) {
        case 0: {
                struct usbip_devlist *l = NULL;
                if (usbip_decode_devlist(buf, n, &l) == 0) {
                        for (size_t i = 0; i < l->n_devs; i++)
                                if (!usbip_busid_valid(l->devs[i].busid) || strlen(l->devs[i].path) >= USBIP_PATH_SIZE)
                                        abort();
                        usbip_devlist_free(l);
                }
                break;
        }
        case 1: {
                struct usbip_device d;
                int r = usbip_decode_import_reply(buf, n, &d);
                if (r == 0 && !usbip_busid_valid(d.busid))
                        abort();
                break;
        }
        case 2: {
                char *s = malloc(n + 1);
                struct vhci_port *ports = NULL;
                size_t np = 0;
                if (s) {
                        memcpy(s, buf, n);
                        s[n] = 0;
                        if (vhci_parse_status(s, &ports, &np) == 0)
                                free(ports);
                        free(s);
                }
                break;
        }
        case 3: {
                char *s = malloc(n + 1);
                uint8_t req[USBIP_IMPORT_REQ_SIZE];
                if (s) {
                        memcpy(s, buf, n);
                        s[n] = 0;
                        if (usbip_encode_import_request(s, req) == 0 && !usbip_busid_valid(s))
                                abort();
                        free(s);
                }
                break;
        }
        }
        free(buf);
        return 0;
}

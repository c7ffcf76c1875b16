/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the QMP line parser: arbitrary bytes, fed in chunks whose sizes come
 * from the input itself, must give messages or clean errors — never a crash, leak or hang. */
#include <stddef.h>
#include <stdint.h>

#include "qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct qmp_parser *p = NULL;
        size_t chunk, off = 1;

        if (size < 1)
                return 0;
        /* first byte: chunk size (1..256); a small message limit so EMSGSIZE is reached too */
        chunk = (size_t) data[0] + 1;
        if (qmp_parser_new(data[0] & 1 ? 4096 : 0, &p) < 0)
                return 0;
        while (off < size) {
                size_t k = size - off < chunk ? size - off : chunk;
                if (qmp_parser_feed(p, data + off, k) < 0)
                        break;
                off += k;
                for (;;) {
                        struct qmp_msg *m = NULL;
                        char *err = NULL;
                        int r = qmp_parser_next(p, &m, &err);
                        if (r > 0) {
                                /* touch what a caller would look at */
                                (void) qmp_msg_type_to_string(m->type);
                                if (m->type == QMP_MSG_EVENT)
                                        (void) qmp_match_device_deleted(m, (void *) "hostdev0");
                                qmp_msg_free(m);
                        }
                        free(err);
                        if (r == 0)
                                break;
                }
        }
        (void) qmp_parser_pending(p);
        qmp_parser_free(p);
        return 0;
}
